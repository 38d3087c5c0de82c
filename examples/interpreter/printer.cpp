// SPDX-License-Identifier: MIT
// The printer (display and write) and structural equality. Neither allocates, so neither can
// trigger a collection: they may hold plain pointers into objects while they walk them.
#include <cstring>

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

// Why iterate along the cdr: long lists must not recurse once per element (only nesting recurses).
void print_list(std::FILE* out, Value v, bool write) {
    std::fputc('(', out);
    print_value(out, car(v), write);
    for (v = cdr(v); is_pair(v); v = cdr(v)) {
        std::fputc(' ', out);
        print_value(out, car(v), write);
    }
    if (v != kNil) {
        std::fputs(" . ", out);
        print_value(out, v, write);
    }
    std::fputc(')', out);
}

void print_object(std::FILE* out, Value v, bool write) {
    switch (type_of(v)) {
    case Type::pair: print_list(out, v, write); break;
    case Type::string: print_string(out, v, write); break;
    case Type::symbol: print_string(out, as<Symbol>(v)->name, false); break;
    case Type::vector: {
        auto* vec = as<Vector>(v);
        std::fputs("#(", out);
        for (std::size_t i = 0; i < vec->length; ++i) {
            if (i > 0) std::fputc(' ', out);
            print_value(out, vec->items()[i], write);
        }
        std::fputc(')', out);
        break;
    }
    case Type::table:
        std::fprintf(out, "#<%shash-table %zu>", as<Table>(v)->weak_values ? "weak-" : "", as<Table>(v)->count);
        break;
    case Type::closure: std::fputs("#<procedure>", out); break;
    case Type::primitive: std::fprintf(out, "#<primitive %s>", as<Primitive>(v)->name); break;
    case Type::frame: std::fputs("#<environment>", out); break;
    case Type::error: {
        auto* e = as<Error>(v);
        print_value(out, e->kind, false);
        std::fputs(": ", out);
        print_value(out, e->message, false);
        for (Value i = e->irritants; is_pair(i); i = cdr(i)) {
            std::fputc(' ', out);
            print_value(out, car(i), true);
        }
        break;
    }
    case Type::file:
        std::fputs("#<output-port ", out);
        print_string(out, as<File>(v)->path, true);
        std::fputs(as<File>(v)->fp != nullptr ? ">" : " closed>", out);
        break;
    case Type::weakref: std::fputs(weakref_get(v) != 0 ? "#<weak-ref>" : "#<weak-ref dead>", out); break;
    }
}

}  // namespace

void print_value(std::FILE* out, Value v, bool write) {
    if (is_fixnum(v)) {
        std::fprintf(out, "%ld", static_cast<long>(fixnum_value(v)));
    } else if (is_object(v)) {
        print_object(out, v, write);
    } else {
        const char* name = v == kNil ? "()" : v == kTrue ? "#t" : v == kFalse ? "#f" : v == kEof ? "#<eof>"
                           : v == kUnbound ? "#<unbound>" : "";
        std::fputs(name, out);
    }
}

bool equal_values(Value a, Value b) {
    for (;;) {
        if (a == b) return true;
        if (!is_object(a) || !is_object(b) || type_of(a) != type_of(b)) return false;
        switch (type_of(a)) {
        case Type::string: {
            auto* x = as<String>(a);
            auto* y = as<String>(b);
            return x->length == y->length && std::memcmp(x->chars(), y->chars(), x->length) == 0;
        }
        case Type::vector: {
            auto* x = as<Vector>(a);
            auto* y = as<Vector>(b);
            if (x->length != y->length) return false;
            for (std::size_t i = 0; i < x->length; ++i) {
                if (!equal_values(x->items()[i], y->items()[i])) return false;
            }
            return true;
        }
        case Type::pair:
            if (!equal_values(car(a), car(b))) return false;
            a = cdr(a);
            b = cdr(b);
            continue;
        default: return false;
        }
    }
}

}  // namespace scheme
