// SPDX-License-Identifier: MIT
// The language's primitive procedures: numbers, pairs and lists, strings, vectors, hash tables,
// higher-order helpers, output ports, and errors. A primitive receives its arguments as a pointer
// into the VM stack, so they stay rooted while it allocates.
#include <cstring>
#include <string>

#include "value.hpp"

namespace scheme {
namespace {

using Args = Value*;

// ---- argument checks -----------------------------------------------------------------------

std::intptr_t int_arg(Value v) {
    if (!is_fixnum(v)) type_error("integer expected", v);
    return fixnum_value(v);
}

Value make_int(long long n) {
    if (n > (INTPTR_MAX >> 1) || n < (INTPTR_MIN >> 1)) fail("OverflowError", "integer overflow");
    return fixnum(static_cast<std::intptr_t>(n));
}

Value pair_arg(Value v) {
    if (!is_pair(v)) type_error("pair expected", v);
    return v;
}

String* string_arg(Value v) {
    if (!is_string(v)) type_error("string expected", v);
    return as<String>(v);
}

Vector* vector_arg(Value v) {
    if (!has_type(v, Type::vector)) type_error("vector expected", v);
    return as<Vector>(v);
}

Value table_arg(Value v) {
    if (!has_type(v, Type::table)) type_error("hash table expected", v);
    return v;
}

std::size_t index_arg(Value v, std::size_t length) {
    std::intptr_t i = int_arg(v);
    if (i < 0 || static_cast<std::size_t>(i) >= length) fail("IndexError", "index %ld out of range", static_cast<long>(i));
    return static_cast<std::size_t>(i);
}

std::FILE* port_arg(Args a, std::size_t n, std::size_t i) {
    if (n <= i) return stdout;
    if (!has_type(a[i], Type::file)) type_error("output port expected", a[i]);
    std::FILE* fp = as<File>(a[i])->fp;
    if (fp == nullptr) fail("ValueError", "port is closed");
    return fp;
}

bool eqv(Value a, Value b) { return a == b; }  // fixnums and immediates are unboxed: eqv? is eq?

// ---- numbers ----------------------------------------------------------------------------------

Value add(Args a, std::size_t n) {
    long long sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (__builtin_add_overflow(sum, int_arg(a[i]), &sum)) fail("OverflowError", "integer overflow");
    }
    return make_int(sum);
}

Value subtract(Args a, std::size_t n) {
    long long result = int_arg(a[0]);
    if (n == 1) return make_int(-result);
    for (std::size_t i = 1; i < n; ++i) result -= int_arg(a[i]);
    return make_int(result);
}

Value multiply(Args a, std::size_t n) {
    long long product = 1;
    for (std::size_t i = 0; i < n; ++i) {
        if (__builtin_mul_overflow(product, int_arg(a[i]), &product)) fail("OverflowError", "integer overflow");
    }
    return make_int(product);
}

std::intptr_t divisor(Value v) {
    std::intptr_t d = int_arg(v);
    if (d == 0) fail("ZeroDivisionError", "division by zero");
    return d;
}

/// The numeric comparisons share one loop; `op` is the relation between neighbours.
template <class Op>
Value compare(Args a, std::size_t n, Op op) {
    for (std::size_t i = 0; i + 1 < n; ++i) {
        if (!op(int_arg(a[i]), int_arg(a[i + 1]))) return kFalse;
    }
    if (n == 1) int_arg(a[0]);
    return kTrue;
}

Value expt(Args a, std::size_t) {
    long long base = int_arg(a[0]);
    std::intptr_t power = int_arg(a[1]);
    if (power < 0) fail("ValueError", "negative exponent");
    long long result = 1;
    while (power-- > 0) {
        if (__builtin_mul_overflow(result, base, &result)) fail("OverflowError", "integer overflow");
    }
    return make_int(result);
}

// ---- lists -------------------------------------------------------------------------------------

Value list(Args a, std::size_t n) {
    Value result = kNil;
    for (std::size_t i = n; i > 0; --i) result = cons(a[i - 1], result);
    return result;
}

Value length(Args a, std::size_t) {
    std::size_t n = list_length(a[0]);
    if (n == SIZE_MAX) type_error("proper list expected", a[0]);
    return fixnum(static_cast<std::intptr_t>(n));
}

// Why the copies go through the VM stack: each cons may collect, and the stack keeps the
// elements copied so far (and the lists, which are arguments) rooted.
Value append(Args a, std::size_t n) {
    if (n == 0) return kNil;
    std::size_t base = vm.sp;
    for (std::size_t i = 0; i + 1 < n; ++i) {
        for (Value l = a[i]; l != kNil; l = cdr(l)) push(car(pair_arg(l)));
    }
    return list_from_stack(base, a[n - 1]);
}

Value reverse(Args a, std::size_t) {
    Value result = kNil;
    for (Value l = a[0]; l != kNil; l = cdr(l)) result = cons(car(pair_arg(l)), result);
    return result;
}

Value list_tail(Args a, std::size_t) {
    Value l = a[0];
    for (std::intptr_t k = int_arg(a[1]); k > 0; --k) l = cdr(pair_arg(l));
    return l;
}

template <bool kEqual>
Value member(Args a, std::size_t) {
    for (Value l = a[1]; is_pair(l); l = cdr(l)) {
        if (kEqual ? equal_values(a[0], car(l)) : eqv(a[0], car(l))) return l;
    }
    return kFalse;
}

template <bool kEqual>
Value assoc(Args a, std::size_t) {
    for (Value l = a[1]; is_pair(l); l = cdr(l)) {
        Value entry = car(l);
        if (is_pair(entry) && (kEqual ? equal_values(a[0], car(entry)) : eqv(a[0], car(entry)))) return entry;
    }
    return kFalse;
}

// ---- higher order --------------------------------------------------------------------------------

Value apply(Args a, std::size_t n) {
    std::size_t base = vm.sp;
    for (std::size_t i = 1; i + 1 < n; ++i) push(a[i]);
    for (Value l = a[n - 1]; l != kNil; l = cdr(l)) push(car(pair_arg(l)));
    Value r = apply_procedure(a[0], &vm.stack[base], vm.sp - base);
    pop_to(base);
    return r;
}

/// map and for-each over one or more lists, stopping at the shortest. Results go on the VM stack.
template <bool kCollect>
Value map_lists(Args a, std::size_t n) {
    std::size_t base = vm.sp;
    Value cursors[8];
    if (n - 1 > 8) fail("TypeError", "map: too many lists");
    for (std::size_t i = 1; i < n; ++i) cursors[i - 1] = a[i];  // the lists stay rooted in a[]
    for (;;) {
        Value call_args[8];
        for (std::size_t i = 0; i + 1 < n; ++i) {
            if (!is_pair(cursors[i])) return kCollect ? list_from_stack(base) : (pop_to(base), kUnspecified);
            call_args[i] = car(cursors[i]);
            cursors[i] = cdr(cursors[i]);
        }
        Value r = apply_procedure(a[0], call_args, n - 1);
        if (kCollect) push(r);
    }
}

Value filter(Args a, std::size_t) {
    std::size_t base = vm.sp;
    for (Value l = a[1]; is_pair(l); l = cdr(l)) {
        Value item = car(l);
        if (truthy(apply_procedure(a[0], &item, 1))) push(item);
    }
    return list_from_stack(base);
}

Value fold(Args a, std::size_t) {  // (fold f init list): (f element accumulator), left to right
    Value call_args[2] = {0, a[1]};
    for (Value l = a[2]; is_pair(l); l = cdr(l)) {
        call_args[0] = car(l);
        call_args[1] = apply_procedure(a[0], call_args, 2);
    }
    return call_args[1];
}

// Why insertion sort on the VM stack: the elements stay rooted while `less` runs (it may allocate),
// and the programs sort small lists.
Value sort(Args a, std::size_t) {
    std::size_t base = vm.sp;
    for (Value l = a[0]; is_pair(l); l = cdr(l)) {
        push(car(l));
        for (std::size_t i = vm.sp - 1; i > base; --i) {
            Value pair[2] = {vm.stack[i], vm.stack[i - 1]};
            if (!truthy(apply_procedure(a[1], pair, 2))) break;
            vm.stack[i] = pair[1];
            vm.stack[i - 1] = pair[0];
        }
    }
    return list_from_stack(base);
}

Value iota(Args a, std::size_t) {
    Value result = kNil;
    for (std::intptr_t i = int_arg(a[0]); i > 0; --i) result = cons(fixnum(i - 1), result);
    return result;
}

// ---- strings -------------------------------------------------------------------------------------

Value string_append(Args a, std::size_t n) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) total += string_arg(a[i])->length;
    Value result = value_of(allocate(Type::string, sizeof(String) + total + 1, uheap::kNoScan));
    as<String>(result)->length = total;
    char* out = as<String>(result)->chars();
    for (std::size_t i = 0; i < n; ++i) {
        std::memcpy(out, as<String>(a[i])->chars(), as<String>(a[i])->length);
        out += as<String>(a[i])->length;
    }
    return result;
}

Value substring(Args a, std::size_t n) {
    String* s = string_arg(a[0]);
    std::intptr_t start = int_arg(a[1]);
    std::intptr_t end = n > 2 ? int_arg(a[2]) : static_cast<std::intptr_t>(s->length);
    if (start < 0 || end < start || static_cast<std::size_t>(end) > s->length) fail("IndexError", "substring out of range");
    std::string copy(s->chars() + start, static_cast<std::size_t>(end - start));  // the source may not move, but be plain
    return make_string(copy.data(), copy.size());
}

Value string_join(Args a, std::size_t n) {  // (string-join list [separator])
    String* sep = n > 1 ? string_arg(a[1]) : nullptr;
    std::size_t total = 0;
    std::size_t count = 0;
    for (Value l = a[0]; is_pair(l); l = cdr(l), ++count) total += string_arg(car(l))->length;
    if (sep != nullptr && count > 1) total += sep->length * (count - 1);
    Value result = value_of(allocate(Type::string, sizeof(String) + total + 1, uheap::kNoScan));
    as<String>(result)->length = total;
    char* out = as<String>(result)->chars();
    for (Value l = a[0]; is_pair(l); l = cdr(l)) {
        if (sep != nullptr && l != a[0]) out = static_cast<char*>(std::memcpy(out, sep->chars(), sep->length)) + sep->length;
        auto* s = as<String>(car(l));
        out = static_cast<char*>(std::memcpy(out, s->chars(), s->length)) + s->length;
    }
    return result;
}

Value number_to_string(Args a, std::size_t) {
    char text[32];
    std::snprintf(text, sizeof text, "%ld", static_cast<long>(int_arg(a[0])));
    return make_string(text);
}

Value string_to_number(Args a, std::size_t) {
    String* s = string_arg(a[0]);
    std::size_t pos = 0;
    std::string text(s->chars(), s->length);
    Value v;
    try {
        v = read_datum(text.data(), text.size(), &pos);
    } catch (...) {
        return kFalse;
    }
    return is_fixnum(v) ? v : kFalse;
}

Value string_compare(Args a, bool less) {
    String* x = string_arg(a[0]);
    String* y = string_arg(a[1]);
    int c = std::memcmp(x->chars(), y->chars(), x->length < y->length ? x->length : y->length);
    if (c == 0) c = x->length < y->length ? -1 : x->length > y->length ? 1 : 0;
    return boolean(less ? c < 0 : c == 0);
}

// ---- vectors ---------------------------------------------------------------------------------------

Value make_vector_prim(Args a, std::size_t n) {
    std::intptr_t length = int_arg(a[0]);
    if (length < 0) fail("ValueError", "negative length");
    return make_vector(static_cast<std::size_t>(length), n > 1 ? a[1] : kFalse);
}

Value vector_prim(Args a, std::size_t n) {
    Value v = make_vector(n, kFalse);
    for (std::size_t i = 0; i < n; ++i) store(v, as<Vector>(v)->items()[i], a[i]);
    return v;
}

Value vector_to_list(Args a, std::size_t) {
    Value result = kNil;
    for (std::size_t i = vector_arg(a[0])->length; i > 0; --i) result = cons(as<Vector>(a[0])->items()[i - 1], result);
    return result;
}

Value list_to_vector(Args a, std::size_t) {
    std::size_t n = list_length(a[0]);
    if (n == SIZE_MAX) type_error("proper list expected", a[0]);
    Value v = make_vector(n, kFalse);
    Value l = a[0];
    for (std::size_t i = 0; i < n; ++i, l = cdr(l)) store(v, as<Vector>(v)->items()[i], car(l));
    return v;
}

/// (vector-grow v n [fill]): a new vector of length n holding v's elements (v is unchanged).
Value vector_grow(Args a, std::size_t n) {
    std::size_t old_length = vector_arg(a[0])->length;
    std::intptr_t length = int_arg(a[1]);
    if (length < static_cast<std::intptr_t>(old_length)) fail("ValueError", "vector-grow: cannot shrink");
    Value v = make_vector(static_cast<std::size_t>(length), n > 2 ? a[2] : kFalse);
    std::memcpy(as<Vector>(v)->items(), as<Vector>(a[0])->items(), old_length * sizeof(Value));
    barrier_bulk(v);  // many pointers copied at once: the new vector is scanned again if marked
    return v;
}

// ---- hash tables -----------------------------------------------------------------------------------

// Why two passes: the result takes one or two allocations per entry, and any of them may collect.
// A weak value read after such a collection may be gone (its slot zeroed), so every entry is read
// first, onto the VM stack, where it is held strongly; only then is anything allocated. An entry's
// item replaces it on the stack: item i goes to slot i, at or below the key and value (slots 2i
// and 2i + 1) it is made from, and above nothing still to be read.
Value table_keys(Args a, bool with_values) {
    std::size_t base = vm.sp;
    std::size_t n = table_push_entries(table_arg(a[0]));
    for (std::size_t i = 0; i < n; ++i) {
        Value key = vm.stack[base + 2 * i];
        Value item = with_values ? cons(key, vm.stack[base + 2 * i + 1]) : key;
        vm.stack[base + i] = item;
    }
    pop_to(base + n);
    return list_from_stack(base);
}

// ---- output and errors ------------------------------------------------------------------------------

Value display(Args a, std::size_t n) {
    print_value(port_arg(a, n, 1), a[0], false);
    return kUnspecified;
}

Value write(Args a, std::size_t n) {
    print_value(port_arg(a, n, 1), a[0], true);
    return kUnspecified;
}

Value newline(Args a, std::size_t n) {
    std::fputc('\n', port_arg(a, n, 0));
    return kUnspecified;
}

Value file_to_string(Args a, std::size_t) {
    std::FILE* fp = std::fopen(string_arg(a[0])->chars(), "rb");
    if (fp == nullptr) return kFalse;
    std::string text;  // host-side scratch
    char chunk[4096];
    for (std::size_t got; (got = std::fread(chunk, 1, sizeof chunk, fp)) > 0;) text.append(chunk, got);
    std::fclose(fp);
    return make_string(text.data(), text.size());
}

Value error_prim(Args a, std::size_t n) {
    string_arg(a[0]);
    Value irritants = list(a + 1, n - 1);
    raise(make_error("Error", a[0], irritants));
}

Value error_field(Value e, int field) {
    if (!has_type(e, Type::error)) return field == 0 ? intern("raised") : field == 1 ? make_string("") : kNil;
    return field == 0 ? as<Error>(e)->kind : field == 1 ? as<Error>(e)->message : as<Error>(e)->irritants;
}

Value exit_prim(Args a, std::size_t n) { throw ExitRequest{n > 0 ? static_cast<int>(int_arg(a[0])) : 0}; }

#define PRED(expr) [](Args a, std::size_t) -> Value { Value v = a[0]; return boolean(expr); }

const PrimitiveSpec kPrimitives[] = {
    {"+", add, 0, kVariadic},
    {"-", subtract, 1, kVariadic},
    {"*", multiply, 0, kVariadic},
    {"quotient", [](Args a, std::size_t) { return make_int(int_arg(a[0]) / divisor(a[1])); }, 2, 2},
    {"remainder", [](Args a, std::size_t) { return make_int(int_arg(a[0]) % divisor(a[1])); }, 2, 2},
    {"modulo", [](Args a, std::size_t) {
         std::intptr_t d = divisor(a[1]), m = int_arg(a[0]) % d;
         return make_int(m != 0 && (m < 0) != (d < 0) ? m + d : m); }, 2, 2},
    {"=", [](Args a, std::size_t n) { return compare(a, n, [](auto x, auto y) { return x == y; }); }, 1, kVariadic},
    {"<", [](Args a, std::size_t n) { return compare(a, n, [](auto x, auto y) { return x < y; }); }, 1, kVariadic},
    {">", [](Args a, std::size_t n) { return compare(a, n, [](auto x, auto y) { return x > y; }); }, 1, kVariadic},
    {"<=", [](Args a, std::size_t n) { return compare(a, n, [](auto x, auto y) { return x <= y; }); }, 1, kVariadic},
    {">=", [](Args a, std::size_t n) { return compare(a, n, [](auto x, auto y) { return x >= y; }); }, 1, kVariadic},
    {"abs", [](Args a, std::size_t) { std::intptr_t x = int_arg(a[0]); return make_int(x < 0 ? -x : x); }, 1, 1},
    {"min", [](Args a, std::size_t) { return int_arg(a[0]) < int_arg(a[1]) ? a[0] : a[1]; }, 2, 2},
    {"max", [](Args a, std::size_t) { return int_arg(a[0]) > int_arg(a[1]) ? a[0] : a[1]; }, 2, 2},
    {"expt", expt, 2, 2},
    {"zero?", [](Args a, std::size_t) { return boolean(int_arg(a[0]) == 0); }, 1, 1},
    {"even?", [](Args a, std::size_t) { return boolean(int_arg(a[0]) % 2 == 0); }, 1, 1},
    {"odd?", [](Args a, std::size_t) { return boolean(int_arg(a[0]) % 2 != 0); }, 1, 1},
    {"number?", PRED(is_fixnum(v)), 1, 1},
    {"integer?", PRED(is_fixnum(v)), 1, 1},
    {"cons", [](Args a, std::size_t) { return cons(a[0], a[1]); }, 2, 2},
    {"car", [](Args a, std::size_t) { return car(pair_arg(a[0])); }, 1, 1},
    {"cdr", [](Args a, std::size_t) { return cdr(pair_arg(a[0])); }, 1, 1},
    {"cadr", [](Args a, std::size_t) { return car(pair_arg(cdr(pair_arg(a[0])))); }, 1, 1},
    {"cddr", [](Args a, std::size_t) { return cdr(pair_arg(cdr(pair_arg(a[0])))); }, 1, 1},
    {"caddr", [](Args a, std::size_t) { return car(pair_arg(cdr(pair_arg(cdr(pair_arg(a[0])))))); }, 1, 1},
    {"cdar", [](Args a, std::size_t) { return cdr(pair_arg(car(pair_arg(a[0])))); }, 1, 1},
    {"caar", [](Args a, std::size_t) { return car(pair_arg(car(pair_arg(a[0])))); }, 1, 1},
    {"set-car!", [](Args a, std::size_t) { store(a[0], as<Pair>(pair_arg(a[0]))->car, a[1]); return kUnspecified; }, 2, 2},
    {"set-cdr!", [](Args a, std::size_t) { store(a[0], as<Pair>(pair_arg(a[0]))->cdr, a[1]); return kUnspecified; }, 2, 2},
    {"list", list, 0, kVariadic},
    {"length", length, 1, 1},
    {"append", append, 0, kVariadic},
    {"reverse", reverse, 1, 1},
    {"list-tail", list_tail, 2, 2},
    {"list-ref", [](Args a, std::size_t n) { return car(pair_arg(list_tail(a, n))); }, 2, 2},
    {"memq", member<false>, 2, 2},
    {"member", member<true>, 2, 2},
    {"assq", assoc<false>, 2, 2},
    {"assv", assoc<false>, 2, 2},
    {"assoc", assoc<true>, 2, 2},
    {"memv", member<false>, 2, 2},
    {"null?", PRED(v == kNil), 1, 1},
    {"pair?", PRED(is_pair(v)), 1, 1},
    {"list?", PRED(list_length(v) != SIZE_MAX), 1, 1},
    {"eq?", [](Args a, std::size_t) { return boolean(a[0] == a[1]); }, 2, 2},
    {"eqv?", [](Args a, std::size_t) { return boolean(eqv(a[0], a[1])); }, 2, 2},
    {"equal?", [](Args a, std::size_t) { return boolean(equal_values(a[0], a[1])); }, 2, 2},
    {"not", PRED(v == kFalse), 1, 1},
    {"boolean?", PRED(v == kTrue || v == kFalse), 1, 1},
    {"symbol?", PRED(is_symbol(v)), 1, 1},
    {"string?", PRED(is_string(v)), 1, 1},
    {"vector?", PRED(has_type(v, Type::vector)), 1, 1},
    {"procedure?", PRED(has_type(v, Type::closure) || has_type(v, Type::primitive)), 1, 1},
    {"hash-table?", PRED(has_type(v, Type::table)), 1, 1},
    {"apply", apply, 2, kVariadic},
    {"map", map_lists<true>, 2, 9},
    {"for-each", map_lists<false>, 2, 9},
    {"filter", filter, 2, 2},
    {"fold", fold, 3, 3},
    {"sort", sort, 2, 2},
    {"iota", iota, 1, 1},
    {"string-length", [](Args a, std::size_t) { return fixnum(static_cast<std::intptr_t>(string_arg(a[0])->length)); }, 1, 1},
    {"string-append", string_append, 0, kVariadic},
    {"substring", substring, 2, 3},
    {"string-join", string_join, 1, 2},
    {"string=?", [](Args a, std::size_t) { return string_compare(a, false); }, 2, 2},
    {"string<?", [](Args a, std::size_t) { return string_compare(a, true); }, 2, 2},
    {"number->string", number_to_string, 1, 1},
    {"string->number", string_to_number, 1, 1},
    {"symbol->string", [](Args a, std::size_t) {
         if (!is_symbol(a[0])) type_error("symbol expected", a[0]);
         return as<Symbol>(a[0])->name; }, 1, 1},
    {"string->symbol", [](Args a, std::size_t) {
         std::string name(string_arg(a[0])->chars(), as<String>(a[0])->length);
         return intern(name.data(), name.size()); }, 1, 1},
    {"make-vector", make_vector_prim, 1, 2},
    {"vector", vector_prim, 0, kVariadic},
    {"vector-length", [](Args a, std::size_t) { return fixnum(static_cast<std::intptr_t>(vector_arg(a[0])->length)); }, 1, 1},
    {"vector-ref", [](Args a, std::size_t) { return vector_arg(a[0])->items()[index_arg(a[1], as<Vector>(a[0])->length)]; }, 2, 2},
    {"vector-set!", [](Args a, std::size_t) {
         store(a[0], vector_arg(a[0])->items()[index_arg(a[1], as<Vector>(a[0])->length)], a[2]);
         return kUnspecified; }, 3, 3},
    {"vector-fill!", [](Args a, std::size_t) {
         for (std::size_t i = 0; i < vector_arg(a[0])->length; ++i) as<Vector>(a[0])->items()[i] = a[1];
         barrier(a[0], a[1]);  // one value in every slot: one barrier marks it
         return kUnspecified; }, 2, 2},
    {"vector->list", vector_to_list, 1, 1},
    {"list->vector", list_to_vector, 1, 1},
    {"vector-grow", vector_grow, 2, 3},
    {"make-hash-table", [](Args, std::size_t) { return make_table(false); }, 0, 0},
    {"make-weak-hash-table", [](Args, std::size_t) { return make_table(true); }, 0, 0},
    {"hash-table-set!", [](Args a, std::size_t) { table_set(table_arg(a[0]), a[1], a[2]); return kUnspecified; }, 3, 3},
    {"hash-table-ref", [](Args a, std::size_t n) { return table_ref(table_arg(a[0]), a[1], n > 2 ? a[2] : kFalse); }, 2, 3},
    {"hash-table-contains?", [](Args a, std::size_t) { return boolean(table_ref(table_arg(a[0]), a[1], 0) != 0); }, 2, 2},
    {"hash-table-delete!", [](Args a, std::size_t) { return boolean(table_delete(table_arg(a[0]), a[1])); }, 2, 2},
    {"hash-table-count", [](Args a, std::size_t) { return fixnum(static_cast<std::intptr_t>(table_prune(table_arg(a[0])))); }, 1, 1},
    // The entries the table holds right now, a weak table's dead ones not yet dropped included
    // (no pruning): what its memory grows with.
    {"hash-table-held", [](Args a, std::size_t) { return fixnum(static_cast<std::intptr_t>(as<Table>(table_arg(a[0]))->count)); }, 1, 1},
    {"hash-table-keys", [](Args a, std::size_t) { return table_keys(a, false); }, 1, 1},
    {"hash-table->alist", [](Args a, std::size_t) { return table_keys(a, true); }, 1, 1},
    {"display", display, 1, 2},
    {"write", write, 1, 2},
    {"newline", newline, 0, 1},
    {"open-output-file", [](Args a, std::size_t) { return open_output_file(a[0]); }, 1, 1},
    {"close-port", [](Args a, std::size_t) {
         if (!has_type(a[0], Type::file)) type_error("output port expected", a[0]);
         close_file(a[0]);
         return kUnspecified; }, 1, 1},
    {"port-open?", [](Args a, std::size_t) { return boolean(has_type(a[0], Type::file) && as<File>(a[0])->fp != nullptr); }, 1, 1},
    {"open-file-count", [](Args, std::size_t) { return fixnum(static_cast<std::intptr_t>(vm.open_files)); }, 0, 0},
    {"file->string", file_to_string, 1, 1},
    {"error", error_prim, 1, kVariadic},
    {"raise", [](Args a, std::size_t) -> Value { raise(a[0]); }, 1, 1},
    {"error-object?", PRED(has_type(v, Type::error)), 1, 1},
    {"error-kind", [](Args a, std::size_t) { return error_field(a[0], 0); }, 1, 1},
    {"error-object-message", [](Args a, std::size_t) { return error_field(a[0], 1); }, 1, 1},
    {"error-object-irritants", [](Args a, std::size_t) { return error_field(a[0], 2); }, 1, 1},
    {"memory-error?", PRED(has_type(v, Type::error) && as<Error>(v)->kind == intern("MemoryError")), 1, 1},
    {"command-line", [](Args, std::size_t) { return vm.roots.command_line; }, 0, 0},
    {"exit", exit_prim, 0, 1},
};

}  // namespace

// Why files are opened after the port object exists: if the allocation fails there is no open
// FILE* to leak; once the port exists, its finaliser owns closing it.
Value open_output_file(Value path) {
    string_arg(path);
    auto* f = static_cast<File*>(allocate(Type::file, sizeof(File), uheap::kFinaliser));
    store(f, f->path, path);
    f->fp = std::fopen(as<String>(path)->chars(), "w");
    if (f->fp == nullptr) fail("OSError", "cannot open %s for writing", as<String>(path)->chars());
    ++vm.open_files;
    return value_of(f);
}

void define_primitives(const PrimitiveSpec* specs, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        Value name = intern(specs[i].name);
        auto* p = static_cast<Primitive*>(allocate(Type::primitive, sizeof(Primitive)));
        p->fn = specs[i].fn;
        p->name = specs[i].name;
        p->arity = specs[i].min_args | (static_cast<std::uintptr_t>(specs[i].max_args) << 16);
        store(name, as<Symbol>(name)->global, value_of(p));
    }
}

void init_builtins() { define_primitives(kPrimitives, sizeof kPrimitives / sizeof kPrimitives[0]); }

}  // namespace scheme
