// SPDX-License-Identifier: MIT
// A minimal JSON reader for uheap-report: the whole document parsed into one flat node array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace uheap::report {

enum class JsonType : std::uint8_t { null, boolean, number, string, array, object };

class JsonDocument;

/// A read-only view of one value inside a JsonDocument (valid while the document lives).
/// Accessors never fail: a missing key or a wrong type yields a null value, 0, or "".
class JsonValue {
public:
    JsonValue() = default;
    JsonType type() const;
    bool is_null() const { return type() == JsonType::null; }
    double number(double fallback = 0.0) const;
    std::uint64_t uint(std::uint64_t fallback = 0) const;  ///< numbers >= 0, truncated
    bool boolean() const;
    std::string string() const;
    std::size_t size() const;                  ///< elements of an array, members of an object
    JsonValue operator[](const char* key) const;  ///< an object member (linear search)

    /// Iterates the elements of an array (or the member values of an object).
    class Iterator {
    public:
        Iterator(const JsonDocument* doc, std::uint32_t index) : doc_(doc), index_(index) {}
        JsonValue operator*() const { return JsonValue(doc_, index_); }
        Iterator& operator++();
        bool operator!=(const Iterator& other) const { return index_ != other.index_; }

    private:
        const JsonDocument* doc_;
        std::uint32_t index_;
    };
    Iterator begin() const;
    Iterator end() const;

private:
    friend class JsonDocument;
    JsonValue(const JsonDocument* doc, std::uint32_t index) : doc_(doc), index_(index) {}
    const JsonDocument* doc_ = nullptr;
    std::uint32_t index_ = 0;
};

/// Parses RFC 8259 JSON (UTF-8; \u escapes decoded, surrogate pairs included). Nodes are stored
/// in document order in one vector, so a profile with a million spans stays a few hundred bytes
/// per span at most.
class JsonDocument {
public:
    /// Parses `text`. Returns false with a message (and the byte offset) in `*error` on bad input.
    bool parse(const std::string& text, std::string* error);
    JsonValue root() const { return nodes_.empty() ? JsonValue() : JsonValue(this, 0); }

private:
    friend class JsonValue;
    struct Node {
        JsonType type = JsonType::null;
        std::uint32_t count = 0;         ///< children of an array or object
        std::uint32_t next = 0;          ///< next sibling (0: none); the first child is index + 1
        std::uint32_t key_offset = 0;    ///< member name in strings_, for object members
        std::uint32_t key_length = 0;
        union {
            double number;
            struct {
                std::uint32_t offset;
                std::uint32_t length;
            } text;                      ///< a string's decoded bytes in strings_
            bool boolean;
        };
        Node() : number(0.0) {}
    };
    class Parser;

    std::vector<Node> nodes_;
    std::string strings_;
};

}  // namespace uheap::report
