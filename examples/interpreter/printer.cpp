// SPDX-License-Identifier: MIT
// The printer (display and write) and structural equality. Neither allocates on the heap, so
// neither can trigger a collection: they may hold plain pointers into objects while they walk
// them. Both end on any data a program can build: nesting as deep as memory allows (a loop of
// (list x)), and data that contains itself (set-car!, set-cdr!, vector-set!).
#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "value.hpp"

namespace scheme {
namespace {

void print_string(std::FILE* out, Value s, bool write) {
    auto* str = as<String>(s);
    if (!write) {
        std::fwrite(str->chars(), 1, str->length, out);
        return;
    }
    std::fputc('"', out);
    for (std::size_t i = 0; i < str->length; ++i) {
        char c = str->chars()[i];
        if (c == '"' || c == '\\') {
            std::fputc('\\', out);
            std::fputc(c, out);
        } else if (c == '\n') {
            std::fputs("\\n", out);
        } else if (c == '\t') {
            std::fputs("\\t", out);
        } else {
            std::fputc(c, out);
        }
    }
    std::fputc('"', out);
}

/// Levels of nesting the printer shows (a list's or vector's elements are one level below it):
/// what lies deeper prints as "...". The printer recurses once per level, so this also bounds
/// the C stack it takes (below, a check of the stack itself backs it up).
constexpr std::size_t kMaxPrintDepth = 1000;

/// One print_value() call's state: the output, and the pairs, vectors and errors being printed
/// (outermost first), to recognise a value printed inside itself.
struct Printer {
    std::FILE* out = nullptr;
    std::size_t depth = 0;
    Value enclosing[kMaxPrintDepth];
};

void print(Printer& p, Value v, bool write);

// Why count first: a cdr chain may lead back to one of its own pairs (set-cdr!), and printing it
// element by element would never end. Floyd's tortoise and hare finds such a cycle without memory
// of its own; then the pairs up to the first repeat are counted, so each element prints once.
// Returns the number of different pairs in the chain, or SIZE_MAX if the chain ends.
std::size_t pairs_before_repeat(Value list) {
    Value slow = list;
    Value fast = list;
    do {
        if (!is_pair(fast) || !is_pair(cdr(fast))) return SIZE_MAX;
        fast = cdr(cdr(fast));
        slow = cdr(slow);
    } while (fast != slow);
    // The cycle starts where a walk from the head meets a walk from the meeting point.
    std::size_t before_cycle = 0;
    for (slow = list; slow != fast; slow = cdr(slow), fast = cdr(fast)) ++before_cycle;
    std::size_t in_cycle = 1;
    for (fast = cdr(slow); fast != slow; fast = cdr(fast)) ++in_cycle;
    return before_cycle + in_cycle;
}

// Why iterate along the cdr: long lists must not recurse once per element (only nesting recurses).
// A chain that comes back to a pair already printed ends with " . ..." (the rest repeats).
void print_list(Printer& p, Value v, bool write) {
    std::size_t pairs = pairs_before_repeat(v);
    std::fputc('(', p.out);
    print(p, car(v), write);
    std::size_t printed = 1;
    for (v = cdr(v); is_pair(v) && printed < pairs; v = cdr(v), ++printed) {
        std::fputc(' ', p.out);
        print(p, car(v), write);
    }
    if (is_pair(v)) {
        std::fputs(" . ...", p.out);
    } else if (v != kNil) {
        std::fputs(" . ", p.out);
        print(p, v, write);
    }
    std::fputc(')', p.out);
}

/// The values that hold other values: the printer follows these (and guards against cycles).
bool holds_values(Type type) { return type == Type::pair || type == Type::vector || type == Type::error; }

void print_holder(Printer& p, Value v, bool write) {
    switch (type_of(v)) {
    case Type::pair: print_list(p, v, write); break;
    case Type::vector: {
        auto* vec = as<Vector>(v);
        std::fputs("#(", p.out);
        for (std::size_t i = 0; i < vec->length; ++i) {
            if (i > 0) std::fputc(' ', p.out);
            print(p, vec->items()[i], write);
        }
        std::fputc(')', p.out);
        break;
    }
    case Type::error: {
        auto* e = as<Error>(v);
        print(p, e->kind, false);
        std::fputs(": ", p.out);
        print(p, e->message, false);
        std::size_t pairs = pairs_before_repeat(e->irritants);
        Value i = e->irritants;
        for (std::size_t printed = 0; is_pair(i) && printed < pairs; i = cdr(i), ++printed) {
            std::fputc(' ', p.out);
            print(p, car(i), true);
        }
        if (is_pair(i)) std::fputs(" ...", p.out);
        break;
    }
    default: break;
    }
}

void print_leaf(std::FILE* out, Value v, bool write) {
    switch (type_of(v)) {
    case Type::string: print_string(out, v, write); break;
    case Type::symbol: print_string(out, as<Symbol>(v)->name, false); break;
    case Type::table:
        std::fprintf(out, "#<%shash-table %zu>", as<Table>(v)->weak_values ? "weak-" : "", as<Table>(v)->count);
        break;
    case Type::closure: std::fputs("#<procedure>", out); break;
    case Type::primitive: std::fprintf(out, "#<primitive %s>", as<Primitive>(v)->name); break;
    case Type::frame: std::fputs("#<environment>", out); break;
    case Type::file:
        std::fputs("#<output-port ", out);
        print_string(out, as<File>(v)->path, true);
        std::fputs(as<File>(v)->fp != nullptr ? ">" : " closed>", out);
        break;
    case Type::weakref: std::fputs(weakref_get(v) != 0 ? "#<weak-ref>" : "#<weak-ref dead>", out); break;
    default: break;
    }
}

// Why the printer also looks at the C stack: kMaxPrintDepth levels take a few hundred kilobytes of
// it, several times more under sanitizers, and the printer may be called with the evaluator at its
// recursion limit, which leaves only a quarter of the stack free (a small stack's quarter may be too
// little). Past seven eighths of the stack it stops going deeper, as it does at kMaxPrintDepth.
bool stack_nearly_full() {
    char here;
    auto used = reinterpret_cast<std::uintptr_t>(vm.stack_base) - reinterpret_cast<std::uintptr_t>(&here);
    return vm.stack_base != nullptr && used > vm.stack_limit_bytes / 6 * 7;  // the limit is 3/4 of the stack
}

// Why the checks before a pair, vector or error: one printed inside itself would print forever,
// so it prints as "..."; and so does one nested deeper than kMaxPrintDepth (or than the C stack
// allows), which keeps the recursion bounded whatever the data.
void print(Printer& p, Value v, bool write) {
    if (is_fixnum(v)) {
        std::fprintf(p.out, "%ld", static_cast<long>(fixnum_value(v)));
    } else if (!is_object(v)) {
        const char* name = v == kNil ? "()" : v == kTrue ? "#t" : v == kFalse ? "#f" : v == kEof ? "#<eof>"
                           : v == kUnbound ? "#<unbound>" : "";
        std::fputs(name, p.out);
    } else if (!holds_values(type_of(v))) {
        print_leaf(p.out, v, write);
    } else if (p.depth == kMaxPrintDepth || std::find(p.enclosing, p.enclosing + p.depth, v) != p.enclosing + p.depth ||
               stack_nearly_full()) {
        std::fputs("...", p.out);
    } else {
        p.enclosing[p.depth++] = v;
        print_holder(p, v, write);
        --p.depth;
    }
}

/// How many pairs and vectors equal? compares before it also records which ones it found equal
/// (see equal_values): more than ordinary data needs, and little extra work on cyclic data.
constexpr std::size_t kEqualUnrecordedSteps = 100000;

/// What two values are, compared without looking inside pairs and vectors: `open` means two pairs,
/// or two vectors of one length, whose contents decide.
enum class Shallow { equal, different, open };

Shallow compare_shallow(Value a, Value b) {
    if (a == b) return Shallow::equal;
    if (!is_object(a) || !is_object(b) || type_of(a) != type_of(b)) return Shallow::different;
    switch (type_of(a)) {
    case Type::string: {
        auto* x = as<String>(a);
        auto* y = as<String>(b);
        bool same = x->length == y->length && std::memcmp(x->chars(), y->chars(), x->length) == 0;
        return same ? Shallow::equal : Shallow::different;
    }
    case Type::vector: return as<Vector>(a)->length == as<Vector>(b)->length ? Shallow::open : Shallow::different;
    case Type::pair: return Shallow::open;
    default: return Shallow::different;
    }
}

/// Classes of objects taken as equal: a union-find over object addresses (host memory).
struct Classes {
    std::unordered_map<Value, Value> parent;  ///< an object absent from it is its class's root

    Value root(Value v) {
        for (auto it = parent.find(v); it != parent.end(); it = parent.find(v)) {
            auto up = parent.find(it->second);
            if (up != parent.end()) it->second = up->second;  // path halving
            v = it->second;
        }
        return v;
    }
    /// Puts a and b in one class; false if they were in one already.
    bool merge(Value a, Value b) {
        Value ra = root(a);
        Value rb = root(b);
        if (ra == rb) return false;
        parent[ra] = rb;
        return true;
    }
};

}  // namespace

void print_value(std::FILE* out, Value v, bool write) {
    Printer p;
    p.out = out;
    print(p, v, write);
}

// Why a work list, and after a while a union-find: equal? must not recurse on the C stack (a
// 300 000-deep nesting would overflow it), and must end on data that contains itself. The work
// list (host memory: nothing here allocates on the heap) holds the pairs of values still to
// compare. After kEqualUnrecordedSteps, each two objects compared are first merged into one class,
// and two objects already in one class are taken as equal without looking inside again: if they
// differ, the comparison that merged them finds it (Adams and Dybvig, "Efficient nondestructive
// equality checking for trees and graphs", 2008). Every comparison then merges two classes or
// stops, so cyclic data compares in time about linear in its size, and the answer is R7RS's: #f
// exactly when some path of car, cdr and vector-ref leads to two different atoms.
bool equal_values(Value a, Value b) {
    Shallow first = compare_shallow(a, b);
    if (first != Shallow::open) return first == Shallow::equal;  // atoms and strings: no work list
    std::vector<std::pair<Value, Value>> todo{{a, b}};
    Classes classes;
    // Compares two parts now if it can, or puts them on the work list; false if they differ.
    auto compare_part = [&todo](Value x, Value y) {
        Shallow s = compare_shallow(x, y);
        if (s == Shallow::open) todo.emplace_back(x, y);
        return s != Shallow::different;
    };
    for (std::size_t steps = 1; !todo.empty(); ++steps) {
        auto [x, y] = todo.back();
        todo.pop_back();
        if (steps > kEqualUnrecordedSteps && !classes.merge(x, y)) continue;
        // The last part pushed is compared first: the car, or a vector's first item (depth first).
        if (is_pair(x)) {
            if (!compare_part(cdr(x), cdr(y)) || !compare_part(car(x), car(y))) return false;
        } else {
            for (std::size_t i = as<Vector>(x)->length; i-- > 0;) {
                if (!compare_part(as<Vector>(x)->items()[i], as<Vector>(y)->items()[i])) return false;
            }
        }
    }
    return true;
}

}  // namespace scheme
