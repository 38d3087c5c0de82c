// SPDX-License-Identifier: MIT
// The reader: Scheme text to data on the heap (integers, strings, symbols, #t/#f, lists with
// dotted tails, #( vectors ), 'quote). List elements are collected on the VM stack, which is a
// root, and turned into a list once the closing parenthesis is seen.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "value.hpp"

namespace scheme {
namespace {

struct Reader {
    const char* text;
    std::size_t length;
    std::size_t pos;

    bool at_end() const { return pos >= length; }
    char peek() const { return text[pos]; }

    void skip_space() {
        while (!at_end()) {
            char c = peek();
            if (c == ';') {
                while (!at_end() && peek() != '\n') ++pos;
            } else if (std::isspace(static_cast<unsigned char>(c))) {
                ++pos;
            } else {
                return;
            }
        }
    }

    static bool is_delimiter(char c) {
        return std::isspace(static_cast<unsigned char>(c)) || c == '(' || c == ')' || c == '"' || c == ';' ||
               c == '\'';
    }

    Value read();
    Value read_list(char close);
    Value read_string();
    Value read_atom();
};

// Why the VM stack: each element is pushed as it is read, so a collection triggered while reading
// the next element (by interning a symbol, say) sees the ones already read.
Value Reader::read_list(char close) {
    std::size_t base = vm.sp;
    Value tail = kNil;
    for (;;) {
        skip_space();
        if (at_end()) throw Incomplete{};
        if (peek() == close) {
            ++pos;
            break;
        }
        if (peek() == ')' || peek() == ']') fail("SyntaxError", "unexpected '%c'", peek());
        if (peek() == '.' && pos + 1 < length && is_delimiter(text[pos + 1]) && vm.sp > base) {
            ++pos;
            tail = read();
            push(tail);  // keep it rooted while the list is built
            skip_space();
            if (at_end()) throw Incomplete{};
            if (peek() != close) fail("SyntaxError", "expected ')' after dotted tail");
            ++pos;
            pop_to(vm.sp - 1);
            break;
        }
        push(read());
    }
    return list_from_stack(base, tail);
}

Value Reader::read_string() {
    std::string bytes;  // host-side scratch, not a language object
    ++pos;              // opening quote
    for (;;) {
        if (at_end()) throw Incomplete{};
        char c = text[pos++];
        if (c == '"') break;
        if (c == '\\') {
            if (at_end()) throw Incomplete{};
            char e = text[pos++];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
        }
        bytes.push_back(c);
    }
    return make_string(bytes.data(), bytes.size());
}

Value Reader::read_atom() {
    std::size_t start = pos;
    while (!at_end() && !is_delimiter(peek())) ++pos;
    const char* atom = text + start;
    std::size_t n = pos - start;
    std::string token(atom, n);
    if (token == "#t" || token == "#true") return kTrue;
    if (token == "#f" || token == "#false") return kFalse;
    // An integer: optional sign, then digits only.
    std::size_t digits_from = (token[0] == '-' || token[0] == '+') ? 1 : 0;
    if (n > digits_from && token.find_first_not_of("0123456789", digits_from) == std::string::npos) {
        errno = 0;
        long long number = std::strtoll(token.c_str(), nullptr, 10);
        if (errno != 0 || number > (INTPTR_MAX >> 1) || number < (INTPTR_MIN >> 1)) {
            fail("SyntaxError", "integer out of range: %s", token.c_str());
        }
        return fixnum(static_cast<std::intptr_t>(number));
    }
    if (token[0] == '#') fail("SyntaxError", "unknown syntax: %s", token.c_str());
    return intern(atom, n);
}

Value Reader::read() {
    skip_space();
    if (at_end()) throw Incomplete{};
    char c = peek();
    if (c == '(' || c == '[') {
        ++pos;
        return read_list(c == '(' ? ')' : ']');
    }
    if (c == ')' || c == ']') {
        ++pos;
        fail("SyntaxError", "unexpected '%c'", c);
    }
    if (c == '"') return read_string();
    if (c == '\'') {
        ++pos;
        Value quoted = read();
        Value tail = cons(quoted, kNil);
        return cons(intern("quote"), tail);
    }
    if (c == '#' && pos + 1 < length && text[pos + 1] == '(') {
        pos += 2;
        Value items = read_list(')');
        std::size_t n = list_length(items);
        Value v = make_vector(n, kFalse);
        for (std::size_t i = 0; i < n; ++i, items = cdr(items)) store(v, as<Vector>(v)->items()[i], car(items));
        return v;
    }
    return read_atom();
}

}  // namespace

Value read_datum(const char* text, std::size_t length, std::size_t* pos) {
    Reader reader{text, length, *pos};
    reader.skip_space();
    if (reader.at_end()) {
        *pos = reader.pos;
        return kEof;
    }
    std::size_t sp = vm.sp;
    try {
        Value datum = reader.read();
        *pos = reader.pos;
        return datum;
    } catch (...) {
        pop_to(sp);
        throw;
    }
}

}  // namespace scheme
