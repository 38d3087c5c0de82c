// SPDX-License-Identifier: MIT
// The minimal JSON reader: a recursive-descent parser (depth-limited) and the value accessors.
#include "json_reader.hpp"

#include <cstdlib>
#include <cstring>

namespace uheap::report {

namespace {
constexpr int kMaxDepth = 200;
}

class JsonDocument::Parser {
public:
    Parser(const std::string& text, JsonDocument& doc) : p_(text.data()), begin_(text.data()), end_(p_ + text.size()), doc_(doc) {}

    bool run(std::string* error) {
        skip_space();
        bool ok = value(0);
        if (ok) {
            skip_space();
            if (p_ != end_) ok = fail("trailing characters after the document");
        }
        if (!ok && error != nullptr) *error = error_ + " at byte " + std::to_string(p_ - begin_);
        return ok;
    }

private:
    bool fail(const char* message) {
        if (error_.empty()) error_ = message;
        return false;
    }
    void skip_space() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    bool literal(const char* word) {
        std::size_t n = std::strlen(word);
        if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail("invalid literal");
        p_ += n;
        return true;
    }

    // Values are appended in document order; a container's children follow it directly, and each
    // child's `next` is patched once its own subtree is complete.
    bool value(int depth) {
        if (depth > kMaxDepth) return fail("nesting too deep");
        if (p_ == end_) return fail("unexpected end of input");
        auto index = static_cast<std::uint32_t>(doc_.nodes_.size());
        doc_.nodes_.emplace_back();
        switch (*p_) {
            case '{': return container(index, depth, '}', true);
            case '[': return container(index, depth, ']', false);
            case '"': {
                std::uint32_t offset = 0, length = 0;
                if (!string(&offset, &length)) return false;
                doc_.nodes_[index].type = JsonType::string;
                doc_.nodes_[index].text = {offset, length};
                return true;
            }
            case 't': doc_.nodes_[index].type = JsonType::boolean; doc_.nodes_[index].boolean = true; return literal("true");
            case 'f': doc_.nodes_[index].type = JsonType::boolean; doc_.nodes_[index].boolean = false; return literal("false");
            case 'n': return literal("null");
            default: return number(index);
        }
    }

    bool container(std::uint32_t index, int depth, char close, bool is_object) {
        doc_.nodes_[index].type = is_object ? JsonType::object : JsonType::array;
        ++p_;
        skip_space();
        if (p_ != end_ && *p_ == close) {
            ++p_;
            return true;
        }
        std::uint32_t previous = 0;
        std::uint32_t count = 0;
        for (;;) {
            std::uint32_t key_offset = 0, key_length = 0;
            if (is_object) {
                if (p_ == end_ || *p_ != '"') return fail("expected a member name");
                if (!string(&key_offset, &key_length)) return false;
                skip_space();
                if (p_ == end_ || *p_ != ':') return fail("expected ':'");
                ++p_;
                skip_space();
            }
            auto child = static_cast<std::uint32_t>(doc_.nodes_.size());
            if (!value(depth + 1)) return false;
            doc_.nodes_[child].key_offset = key_offset;
            doc_.nodes_[child].key_length = key_length;
            if (count > 0) doc_.nodes_[previous].next = child;
            previous = child;
            ++count;
            skip_space();
            if (p_ == end_) return fail("unterminated container");
            if (*p_ == ',') {
                ++p_;
                skip_space();
                continue;
            }
            if (*p_ != close) return fail(is_object ? "expected ',' or '}'" : "expected ',' or ']'");
            ++p_;
            doc_.nodes_[index].count = count;
            return true;
        }
    }

    bool number(std::uint32_t index) {
        const char* start = p_;
        if (p_ != end_ && *p_ == '-') ++p_;
        if (p_ == end_ || *p_ < '0' || *p_ > '9') return fail("invalid value");
        while (p_ != end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '.' || *p_ == 'e' || *p_ == 'E' ||
                              *p_ == '+' || *p_ == '-')) {
            ++p_;
        }
        std::string digits(start, p_);
        char* parsed_end = nullptr;
        double v = std::strtod(digits.c_str(), &parsed_end);
        if (parsed_end != digits.c_str() + digits.size()) return fail("invalid number");
        doc_.nodes_[index].type = JsonType::number;
        doc_.nodes_[index].number = v;
        return true;
    }

    bool hex4(unsigned* out) {
        if (end_ - p_ < 4) return fail("short \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            char c = *p_++;
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
            else return fail("bad hex digit in \\u escape");
        }
        *out = v;
        return true;
    }

    void put_utf8(unsigned cp) {
        std::string& s = doc_.strings_;
        if (cp < 0x80) {
            s.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    // Decodes a string literal into the shared string pool.
    bool string(std::uint32_t* offset, std::uint32_t* length) {
        ++p_;  // opening quote
        std::string& s = doc_.strings_;
        *offset = static_cast<std::uint32_t>(s.size());
        for (;;) {
            if (p_ == end_) return fail("unterminated string");
            char c = *p_++;
            if (c == '"') break;
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
            if (c != '\\') {
                s.push_back(c);
                continue;
            }
            if (p_ == end_) return fail("unterminated escape");
            char e = *p_++;
            switch (e) {
                case '"': case '\\': case '/': s.push_back(e); break;
                case 'b': s.push_back('\b'); break;
                case 'f': s.push_back('\f'); break;
                case 'n': s.push_back('\n'); break;
                case 'r': s.push_back('\r'); break;
                case 't': s.push_back('\t'); break;
                case 'u': {
                    unsigned cp = 0;
                    if (!hex4(&cp)) return false;
                    if (cp >= 0xD800 && cp < 0xDC00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
                        p_ += 2;
                        unsigned low = 0;
                        if (!hex4(&low)) return false;
                        if (low < 0xDC00 || low > 0xDFFF) return fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    put_utf8(cp);
                    break;
                }
                default: return fail("unknown escape");
            }
        }
        *length = static_cast<std::uint32_t>(s.size() - *offset);
        return true;
    }

    const char* p_;
    const char* begin_;
    const char* end_;
    JsonDocument& doc_;
    std::string error_;
};

bool JsonDocument::parse(const std::string& text, std::string* error) {
    nodes_.clear();
    strings_.clear();
    Parser parser(text, *this);
    if (parser.run(error)) return true;
    nodes_.clear();
    strings_.clear();
    return false;
}

JsonType JsonValue::type() const { return doc_ == nullptr ? JsonType::null : doc_->nodes_[index_].type; }

double JsonValue::number(double fallback) const {
    return type() == JsonType::number ? doc_->nodes_[index_].number : fallback;
}

std::uint64_t JsonValue::uint(std::uint64_t fallback) const {
    if (type() != JsonType::number) return fallback;
    double v = doc_->nodes_[index_].number;
    return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

bool JsonValue::boolean() const { return type() == JsonType::boolean && doc_->nodes_[index_].boolean; }

std::string JsonValue::string() const {
    if (type() != JsonType::string) return std::string();
    const auto& t = doc_->nodes_[index_].text;
    return doc_->strings_.substr(t.offset, t.length);
}

std::size_t JsonValue::size() const {
    JsonType t = type();
    return t == JsonType::array || t == JsonType::object ? doc_->nodes_[index_].count : 0;
}

JsonValue JsonValue::operator[](const char* key) const {
    if (type() != JsonType::object) return JsonValue();
    std::size_t key_length = std::strlen(key);
    for (Iterator it = begin(); it != end(); ++it) {
        JsonValue member = *it;
        const auto& node = doc_->nodes_[member.index_];
        if (node.key_length == key_length && doc_->strings_.compare(node.key_offset, key_length, key) == 0) {
            return member;
        }
    }
    return JsonValue();
}

JsonValue::Iterator& JsonValue::Iterator::operator++() {
    index_ = doc_->nodes_[index_].next;
    return *this;
}

JsonValue::Iterator JsonValue::begin() const {
    if (size() == 0) return end();
    return Iterator(doc_, index_ + 1);
}

// Child lists end with next == 0, which no child can have as an index (0 is the root).
JsonValue::Iterator JsonValue::end() const { return Iterator(doc_, 0); }

}  // namespace uheap::report
