// SPDX-License-Identifier: MIT
// Locale-independent number and string formatting shared by the JSON and CSV exporters.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>

namespace uheap::profiling {

/// Writes an unsigned integer in decimal, whatever locale the stream carries.
inline void put_uint(std::ostream& out, std::uint64_t value) {
    char buffer[24];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.write(buffer, result.ptr - buffer);
}

/// Writes a value in [0, 1] (a ratio) with exactly four decimals ("0.4375"), locale-free.
inline void put_ratio(std::ostream& out, double value) {
    if (!(value > 0.0)) value = 0.0;
    if (value > 1.0) value = 1.0;
    auto scaled = static_cast<std::uint64_t>(std::llround(value * 10000.0));
    put_uint(out, scaled / 10000);
    out.put('.');
    char digits[4];
    for (int i = 3; i >= 0; --i) {
        digits[i] = static_cast<char>('0' + scaled % 10);
        scaled /= 10;
    }
    out.write(digits, 4);
}

/// Writes `text` as a JSON string literal, escaping quotes, backslashes and control characters.
inline void put_json_string(std::ostream& out, const std::string& text) {
    static const char kHex[] = "0123456789abcdef";
    out.put('"');
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.put('\\');
            out.put(c);
        } else if (u < 0x20) {
            out << "\\u00" << kHex[u >> 4] << kHex[u & 15];
        } else {
            out.put(c);
        }
    }
    out.put('"');
}

/// Writes `text` as one CSV field (RFC 4180: quoted only if it holds a comma, quote or newline).
inline void put_csv_field(std::ostream& out, const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) {
        out << text;
        return;
    }
    out.put('"');
    for (char c : text) {
        if (c == '"') out.put('"');
        out.put(c);
    }
    out.put('"');
}

}  // namespace uheap::profiling
