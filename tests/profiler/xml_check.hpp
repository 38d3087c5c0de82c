// SPDX-License-Identifier: MIT
// A tiny XML well-formedness checker for the SVG tests: tags balance, attributes are quoted and
// unique, entities are known, one root element. It also lists the elements it saw.
#pragma once

#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace uheap::testing {

struct XmlElement {
    std::string name;
    std::map<std::string, std::string> attributes;
    std::string text;  ///< character data directly inside (entities left encoded)
};

struct XmlCheck {
    bool ok = false;
    std::string error;
    std::vector<XmlElement> elements;  ///< in document order

    std::size_t count(const std::string& name) const {
        std::size_t n = 0;
        for (const auto& e : elements) n += e.name == name;
        return n;
    }
    /// Elements named `name` whose attribute `key` contains the word `value`.
    std::size_t count_with(const std::string& name, const std::string& key, const std::string& value) const {
        std::size_t n = 0;
        for (const auto& e : elements) {
            if (e.name != name) continue;
            auto it = e.attributes.find(key);
            if (it == e.attributes.end()) continue;
            std::string padded = " " + it->second + " ";
            n += padded.find(" " + value + " ") != std::string::npos;
        }
        return n;
    }
};

// Why hand-written: the checker must not trust anything the SVG writer does, and the tests may
// not depend on a third-party XML library. It covers the subset of XML an SVG writer can emit.
inline XmlCheck check_xml(const std::string& doc) {
    XmlCheck result;
    std::vector<std::size_t> open;  // indices into result.elements
    std::size_t i = 0, n = doc.size();
    bool seen_root = false;
    auto fail = [&](const std::string& why) {
        result.ok = false;
        result.error = why + " at byte " + std::to_string(i);
        return result;
    };
    auto is_name_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.';
    };
    auto check_entities = [&](const std::string& text) {
        for (std::size_t p = text.find('&'); p != std::string::npos; p = text.find('&', p + 1)) {
            std::size_t semi = text.find(';', p);
            if (semi == std::string::npos) return false;
            std::string ent = text.substr(p + 1, semi - p - 1);
            bool known = ent == "amp" || ent == "lt" || ent == "gt" || ent == "quot" || ent == "apos" ||
                         (ent.size() > 1 && ent[0] == '#');
            if (!known) return false;
        }
        return text.find('<') == std::string::npos;
    };
    while (i < n) {
        if (doc[i] != '<') {
            std::size_t next = doc.find('<', i);
            std::string text = doc.substr(i, next == std::string::npos ? std::string::npos : next - i);
            bool blank = text.find_first_not_of(" \t\r\n") == std::string::npos;
            if (!blank && open.empty()) return fail("text outside the root element");
            if (!check_entities(text)) return fail("bad entity or '<' in text");
            if (!open.empty()) result.elements[open.back()].text += text;
            i = next == std::string::npos ? n : next;
            continue;
        }
        if (doc.compare(i, 5, "<?xml") == 0) {
            if (i != 0) return fail("XML declaration not at the start");
            std::size_t end = doc.find("?>", i);
            if (end == std::string::npos) return fail("unterminated declaration");
            i = end + 2;
            continue;
        }
        if (doc.compare(i, 4, "<!--") == 0) {
            std::size_t end = doc.find("-->", i);
            if (end == std::string::npos) return fail("unterminated comment");
            i = end + 3;
            continue;
        }
        if (doc.compare(i, 2, "</") == 0) {
            std::size_t start = i + 2, p = start;
            while (p < n && is_name_char(doc[p])) ++p;
            std::string name = doc.substr(start, p - start);
            while (p < n && std::isspace(static_cast<unsigned char>(doc[p]))) ++p;
            if (p >= n || doc[p] != '>') return fail("bad end tag");
            if (open.empty() || result.elements[open.back()].name != name) return fail("mismatched </" + name + ">");
            open.pop_back();
            i = p + 1;
            continue;
        }
        // Start tag.
        std::size_t p = i + 1;
        std::size_t start = p;
        while (p < n && is_name_char(doc[p])) ++p;
        if (p == start) return fail("empty element name");
        if (open.empty() && seen_root) return fail("second root element");
        XmlElement element;
        element.name = doc.substr(start, p - start);
        bool self_closing = false;
        for (;;) {
            while (p < n && std::isspace(static_cast<unsigned char>(doc[p]))) ++p;
            if (p >= n) return fail("unterminated start tag");
            if (doc[p] == '>') {
                ++p;
                break;
            }
            if (doc.compare(p, 2, "/>") == 0) {
                p += 2;
                self_closing = true;
                break;
            }
            std::size_t key_start = p;
            while (p < n && is_name_char(doc[p])) ++p;
            if (p == key_start) return fail("bad attribute name");
            std::string key = doc.substr(key_start, p - key_start);
            if (p >= n || doc[p] != '=') return fail("attribute without '='");
            ++p;
            if (p >= n || (doc[p] != '"' && doc[p] != '\'')) return fail("unquoted attribute");
            char quote = doc[p++];
            std::size_t value_end = doc.find(quote, p);
            if (value_end == std::string::npos) return fail("unterminated attribute value");
            std::string value = doc.substr(p, value_end - p);
            if (!check_entities(value)) return fail("bad entity in attribute");
            if (!element.attributes.emplace(key, value).second) return fail("duplicate attribute " + key);
            p = value_end + 1;
        }
        seen_root = true;
        result.elements.push_back(element);
        if (!self_closing) open.push_back(result.elements.size() - 1);
        i = p;
    }
    if (!open.empty()) return fail("unclosed <" + result.elements[open.back()].name + ">");
    if (!seen_root) return fail("no root element");
    result.ok = true;
    return result;
}

}  // namespace uheap::testing
