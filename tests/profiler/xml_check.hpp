// SPDX-License-Identifier: MIT
// XML well-formedness for the SVG tests: pugixml parses the document, and the few rules its
// non-validating parser lets through are checked on the tree it builds. Queries are XPath.
#pragma once

#include <cstddef>
#include <set>
#include <string>

#include <pugixml.hpp>

namespace uheap::testing {

/// A parsed document. `ok` says whether it is well-formed XML, `error` what is wrong and where.
/// Character and entity references are kept as written, in text and attribute values alike.
struct XmlCheck {
    bool ok = false;
    std::string error;
    pugi::xml_document doc;

    pugi::xml_node root() const { return doc.document_element(); }
    /// The nodes an XPath 1.0 expression selects.
    pugi::xpath_node_set select(const std::string& xpath) const { return doc.select_nodes(xpath.c_str()); }
    /// Elements named `name`.
    std::size_t count(const std::string& name) const { return select("//" + name).size(); }
    /// Elements named `name` whose attribute `key` contains the word `value` (like a CSS class).
    std::size_t count_with(const std::string& name, const std::string& key, const std::string& value) const {
        return select("//" + name + "[contains(concat(' ', normalize-space(@" + key + "), ' '), ' " + value + " ')]")
            .size();
    }
};

/// Why `text` (character data or an attribute value, as written) is not allowed in XML, or "":
/// every '&' must start a predefined entity or a character reference, and control characters
/// other than tab, newline and carriage return are not XML 1.0 characters.
inline std::string xml_text_problem(const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return "control character " + std::to_string(c);
        if (c != '&') continue;
        std::size_t semi = text.find(';', i);
        std::string ref = text.substr(i + 1, semi == std::string::npos ? std::string::npos : semi - i - 1);
        bool decimal = ref.size() > 1 && ref[0] == '#' && ref.find_first_not_of("0123456789", 1) == std::string::npos;
        bool hex = ref.size() > 2 && ref[0] == '#' && ref[1] == 'x' &&
                   ref.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
        bool named = ref == "amp" || ref == "lt" || ref == "gt" || ref == "quot" || ref == "apos";
        if (semi == std::string::npos || !(decimal || hex || named)) return "bad reference &" + ref.substr(0, 12);
    }
    return "";
}

// pugixml rejects broken nesting and tag or attribute syntax, but as a fast non-validating parser
// it accepts (1.13, tried) two root elements, text outside the root, duplicate attributes,
// unknown entities, '<' in attribute values and control characters; those are checked on the
// tree. parse_fragment keeps text outside the root so it can be seen; escapes stay unexpanded so
// the references can be checked.
inline XmlCheck check_xml(const std::string& text) {
    XmlCheck x;
    auto fail = [&x](const std::string& why) {
        x.ok = false;
        x.error = why;
    };
    unsigned options = (pugi::parse_default | pugi::parse_fragment) & ~pugi::parse_escapes;
    pugi::xml_parse_result parsed = x.doc.load_buffer(text.data(), text.size(), options);
    if (!parsed) {
        fail(std::string(parsed.description()) + " at byte " + std::to_string(parsed.offset));
        return x;
    }
    std::size_t roots = 0;
    for (pugi::xml_node node : x.doc.children()) {
        roots += node.type() == pugi::node_element;
        if (node.type() == pugi::node_pcdata &&
            std::string(node.value()).find_first_not_of(" \t\r\n") != std::string::npos) {
            fail("text outside the root element");
            return x;
        }
    }
    if (roots != 1) {
        fail(roots == 0 ? "no root element" : std::to_string(roots) + " root elements");
        return x;
    }
    for (pugi::xpath_node element : x.select("//*")) {
        std::set<std::string> names;
        for (pugi::xml_attribute a : element.node().attributes()) {
            std::string where = "attribute " + std::string(a.name()) + " of <" + element.node().name() + ">";
            if (!names.insert(a.name()).second) {
                fail("duplicate " + where);
                return x;
            }
            std::string problem = xml_text_problem(a.value());
            if (problem.empty() && std::string(a.value()).find('<') != std::string::npos) problem = "'<'";
            if (!problem.empty()) {
                fail(problem + " in " + where);
                return x;
            }
        }
    }
    for (pugi::xpath_node node : x.select("//text()")) {
        std::string problem = node.node().type() == pugi::node_pcdata ? xml_text_problem(node.node().value()) : "";
        if (!problem.empty()) {
            fail(problem + " in the text of <" + std::string(node.node().parent().name()) + ">");
            return x;
        }
    }
    x.ok = true;
    return x;
}

}  // namespace uheap::testing
