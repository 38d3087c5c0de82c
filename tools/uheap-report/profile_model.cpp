// SPDX-License-Identifier: MIT
// Reading a profiler JSON document back into a report::Profile. nlohmann-json parses the text;
// this file checks that every field the report uses is there, of the right type and in range.
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "report.hpp"

namespace uheap::report {

std::string Profile::label(std::int32_t tag) const {
    if (tag < 0) return "untagged";
    auto it = tag_names.find(static_cast<std::uint16_t>(tag));
    if (it != tag_names.end()) return it->second;
    return "tag " + std::to_string(tag);
}

std::string xml_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default:
                // Control characters are not allowed in XML 1.0 text.
                if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;
        }
    }
    return out;
}

namespace {

using Json = nlohmann::json;

/// A document that is valid JSON but not a usable profile; load_profile() returns its message.
class FormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// How a value reads in an error message: scalars as written (long strings cut), containers by kind.
std::string describe(const Json& value) {
    if (value.is_object()) return "an object";
    if (value.is_array()) return "an array";
    std::string text = value.dump();
    return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

/// One value of the document and where it sits, so that every error names the field
/// ("tags[2].live_bytes: expected a non-negative integer, found \"x\""). Children point at their
/// parent, which outlives them on the stack; the path is spelled out only for an error, so the
/// million spans of a big snapshot cost no strings.
class Field {
public:
    explicit Field(const Json& value) : value_(value) {}

    const Json& json() const { return value_; }
    bool is_null() const { return value_.is_null(); }

    /// The member `key` of an object, which must be present.
    Field member(const char* key) const {
        expect(value_.is_object(), "an object");
        auto it = value_.find(key);
        if (it == value_.end()) throw FormatError(child_path(key, 0) + ": missing");
        return Field(*it, this, key, 0);
    }
    /// The number of elements of an array.
    std::size_t size() const {
        expect(value_.is_array(), "an array");
        return value_.size();
    }
    Field element(std::size_t index) const { return Field(value_[index], this, nullptr, index); }

    /// A non-negative integer that fits T.
    template <typename T>
    T uint() const {
        expect(value_.is_number_unsigned(), "a non-negative integer");
        auto v = value_.get<std::uint64_t>();
        if (v > std::numeric_limits<T>::max()) {
            fail(std::to_string(v) + " is out of range (at most " + std::to_string(std::numeric_limits<T>::max()) +
                 ")");
        }
        return static_cast<T>(v);
    }
    double number() const {
        expect(value_.is_number(), "a number");
        return value_.get<double>();
    }
    bool boolean() const {
        expect(value_.is_boolean(), "true or false");
        return value_.get<bool>();
    }
    const std::string& string() const {
        expect(value_.is_string(), "a string");
        return value_.get_ref<const std::string&>();
    }

    [[noreturn]] void fail(const std::string& what) const { throw FormatError(path() + ": " + what); }
    void expect(bool ok, const char* what) const {
        if (!ok) fail(std::string("expected ") + what + ", found " + describe(value_));
    }

private:
    Field(const Json& value, const Field* parent, const char* key, std::size_t index)
        : value_(value), parent_(parent), key_(key), index_(index) {}

    // "tags[2].live_bytes": members joined by dots, elements by their index; the root is unnamed.
    std::string name() const { return parent_ == nullptr ? std::string() : parent_->child_path(key_, index_); }
    std::string child_path(const char* key, std::size_t index) const {
        std::string base = name();
        if (key == nullptr) return base + "[" + std::to_string(index) + "]";
        return base.empty() ? key : base + "." + key;
    }
    std::string path() const {
        std::string p = name();
        return p.empty() ? "the top level" : p;
    }

    const Json& value_;
    const Field* parent_ = nullptr;
    const char* key_ = nullptr;
    std::size_t index_ = 0;
};

// The format and version come first, with their own messages: a user who passes the wrong file
// should hear that, not that some field deep inside is missing.
std::uint64_t check_format(const Field& root) {
    const Json& doc = root.json();
    if (!doc.is_object()) {
        throw FormatError("not a uheap-profile document: the top level is " + describe(doc) + ", not an object");
    }
    auto format = doc.find("format");
    if (format == doc.end()) throw FormatError("not a uheap-profile document: it has no \"format\" field");
    if (*format != "uheap-profile") {
        throw FormatError("not a uheap-profile document: \"format\" is " + describe(*format) +
                          ", expected \"uheap-profile\"");
    }
    auto version = root.member("version").uint<std::uint64_t>();
    if (version < 1 || version > 3) {
        throw FormatError("unsupported uheap-profile version " + std::to_string(version) +
                          " (this uheap-report reads versions 1 to 3)");
    }
    return version;
}

void read_heap(const Field& heap, Profile* p) {
    if (heap.is_null()) return;
    p->has_heap = true;
    p->total_bytes = heap.member("total_bytes").uint<std::size_t>();
    p->used_bytes = heap.member("used_bytes").uint<std::size_t>();
    p->largest_free_bytes = heap.member("largest_free_bytes").uint<std::size_t>();
    p->objects = heap.member("objects").uint<std::size_t>();
    p->fragmentation = heap.member("fragmentation").number();
}

void read_tags(const Field& tags, Profile* p) {
    for (std::size_t i = 0; i < tags.size(); ++i) {
        Field t = tags.element(i);
        TagStats s;
        s.tag = t.member("tag").uint<std::uint16_t>();
        s.live_objects = t.member("live_objects").uint<std::uint64_t>();
        s.live_bytes = t.member("live_bytes").uint<std::uint64_t>();
        s.peak_live_bytes = t.member("peak_live_bytes").uint<std::uint64_t>();
        s.allocations = t.member("allocations").uint<std::uint64_t>();
        s.bytes_allocated = t.member("bytes_allocated").uint<std::uint64_t>();
        s.reallocs = t.member("reallocs").uint<std::uint64_t>();
        s.frees = t.member("frees").uint<std::uint64_t>();
        s.swept = t.member("swept").uint<std::uint64_t>();
        Field name = t.member("name");
        if (!name.is_null()) p->tag_names[s.tag] = name.string();
        p->tags.push_back(s);
    }
}

void read_histogram(const Field& histogram, Profile* p) {
    for (std::size_t i = 0; i < histogram.size(); ++i) {
        Field b = histogram.element(i);
        SizeBucket s;
        s.min_blocks = b.member("min_blocks").uint<std::size_t>();
        s.max_blocks = b.member("max_blocks").uint<std::size_t>();
        s.count = b.member("count").uint<std::uint64_t>();
        s.bytes = b.member("bytes").uint<std::uint64_t>();
        p->histogram.push_back(s);
    }
}

// [[tag, bytes], ...]
std::vector<TagBytes> read_tag_bytes(const Field& list) {
    std::vector<TagBytes> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        Field pair = list.element(i);
        if (pair.size() != 2) pair.fail("expected [tag, bytes], found " + std::to_string(pair.size()) + " elements");
        out.push_back(TagBytes{pair.element(0).uint<std::uint16_t>(), pair.element(1).uint<std::uint64_t>()});
    }
    return out;
}

void read_timeline(const Field& timeline, std::uint64_t version, Profile* p) {
    for (std::size_t i = 0; i < timeline.size(); ++i) {
        Field t = timeline.element(i);
        TimelineSample s;
        s.collection = t.member("collection").uint<std::uint64_t>();
        s.used_bytes = t.member("used_bytes").uint<std::size_t>();
        s.free_bytes = t.member("free_bytes").uint<std::size_t>();
        s.largest_free_bytes = t.member("largest_free_bytes").uint<std::size_t>();
        s.fragmentation = t.member("fragmentation").number();
        s.objects_freed = t.member("objects_freed").uint<std::size_t>();
        s.bytes_freed = t.member("bytes_freed").uint<std::size_t>();
        s.live_objects = t.member("live_objects").uint<std::size_t>();
        s.pause_ns = t.member("pause_ns").uint<std::uint64_t>();
        if (version >= 2) {
            s.time_ns = t.member("time_ns").uint<std::uint64_t>();
            s.bytes_allocated = t.member("bytes_allocated").uint<std::uint64_t>();
            s.live_by_tag = read_tag_bytes(t.member("live_by_tag"));
        }
        p->timeline.push_back(std::move(s));
    }
}

void read_leaks_and_alarms(const Field& leaks, const Field& alarms, Profile* p) {
    for (std::size_t i = 0; i < leaks.size(); ++i) {
        Field l = leaks.element(i);
        LeakSuspect s;
        s.area = l.member("area").uint<std::size_t>();
        s.offset = l.member("offset").uint<std::size_t>();
        s.block = l.member("block").uint<std::size_t>();
        s.tag = l.member("tag").uint<std::uint16_t>();
        s.bytes = l.member("bytes").uint<std::size_t>();
        s.age = l.member("age").uint<std::uint64_t>();
        p->leak_suspects.push_back(s);
    }
    for (std::size_t i = 0; i < alarms.size(); ++i) {
        Field a = alarms.element(i);
        AlarmEvent e;
        Field kind = a.member("kind");
        if (kind.string() == "large_alloc") {
            e.kind = AlarmKind::large_alloc;
        } else if (kind.string() == "low_free_run") {
            e.kind = AlarmKind::low_free_run;
        } else {
            kind.fail("expected \"large_alloc\" or \"low_free_run\", found " + describe(kind.json()));
        }
        e.collection = a.member("collection").uint<std::uint64_t>();
        e.n_blocks = a.member("n_blocks").uint<std::size_t>();
        e.threshold_blocks = a.member("threshold_blocks").uint<std::size_t>();
        e.tag = a.member("tag").uint<std::uint16_t>();
        e.on_out_of_memory = a.member("on_out_of_memory").boolean();
        p->alarms.push_back(e);
    }
}

void read_out_of_memory(const Field& list, Profile* p) {
    for (std::size_t i = 0; i < list.size(); ++i) {
        Field e = list.element(i);
        p->out_of_memory.push_back(OutOfMemoryEvent{e.member("collection").uint<std::uint64_t>(), e.member("n_bytes").uint<std::size_t>()});
    }
}

void read_growing_tags(const Field& list, Profile* p) {
    for (std::size_t i = 0; i < list.size(); ++i) {
        Field g = list.element(i);
        GrowingTag t;
        t.tag = g.member("tag").uint<std::uint16_t>();
        t.first_bytes = g.member("first_bytes").uint<std::uint64_t>();
        t.last_bytes = g.member("last_bytes").uint<std::uint64_t>();
        t.collections = g.member("collections").uint<std::uint64_t>();
        t.rises = g.member("rises").uint<std::uint64_t>();
        p->growing_tags.push_back(t);
    }
}

// Spans are [first_block, n_blocks, "object"|"free", flags, tag|null, age|null, site|null]
// (version 1: no age, version 2: no site) and must tile the pool in address order: the heap map
// indexes its block table by them.
SnapshotArea read_area(const Field& a, std::uint64_t version) {
    SnapshotArea area;
    area.pool_blocks = a.member("pool_blocks").uint<std::size_t>();
    Field spans = a.member("spans");
    area.spans.reserve(spans.size());
    std::size_t next_block = 0;
    for (std::size_t i = 0; i < spans.size(); ++i) {
        Field s = spans.element(i);
        const std::size_t fields = version >= 3 ? 7 : version == 2 ? 6 : 5;
        if (s.size() != fields) {
            s.fail(std::string("expected [first_block, n_blocks, kind, flags, tag") + (fields >= 6 ? ", age" : "") +
                   (fields == 7 ? ", site" : "") + "], found " + std::to_string(s.size()) + " elements");
        }
        SnapshotSpan span;
        span.first_block = s.element(0).uint<std::size_t>();
        span.n_blocks = s.element(1).uint<std::size_t>();
        if (span.first_block != next_block) {
            s.element(0).fail("the span starts at block " + std::to_string(span.first_block) + ", expected " +
                              std::to_string(next_block) + " (spans must tile the pool in address order)");
        }
        if (span.n_blocks > area.pool_blocks - next_block) {
            s.element(1).fail(std::to_string(span.n_blocks) + " blocks run past the end of the pool (" +
                              std::to_string(area.pool_blocks) + " blocks)");
        }
        next_block += span.n_blocks;
        Field kind = s.element(2);
        span.object = kind.string() == "object";
        if (!span.object && kind.string() != "free") {
            kind.fail("expected \"object\" or \"free\", found " + describe(kind.json()));
        }
        span.flags = s.element(3).uint<unsigned>();
        Field tag = s.element(4);
        span.tag = tag.is_null() ? -1 : tag.uint<std::uint16_t>();
        if (fields >= 6) {
            Field age = s.element(5);
            span.age = age.is_null() ? -1 : static_cast<std::int64_t>(age.uint<std::uint32_t>());
        }
        if (fields == 7) {
            Field site = s.element(6);
            span.site = site.is_null() ? -1 : static_cast<std::int32_t>(site.uint<std::uint32_t>());
        }
        area.spans.push_back(span);
    }
    if (next_block != area.pool_blocks) {
        spans.fail("cover " + std::to_string(next_block) + " blocks of a pool of " + std::to_string(area.pool_blocks));
    }
    return area;
}

HeapSnapshot read_snapshot(const Field& snap, std::uint64_t version) {
    HeapSnapshot out;
    if (snap.is_null()) return out;
    out.taken = true;
    out.collection = snap.member("collection").uint<std::uint64_t>();
    if (version >= 2) {
        out.after_collection = snap.member("after_collection").boolean();
        out.ns_since_collection = snap.member("ns_since_collection").uint<std::uint64_t>();
    }
    if (version >= 3) out.time_ns = snap.member("time_ns").uint<std::uint64_t>();
    Field areas = snap.member("areas");
    for (std::size_t i = 0; i < areas.size(); ++i) out.areas.push_back(read_area(areas.element(i), version));
    return out;
}

// Version 3: the snapshot series, and the sampled call sites with the modules that hold their
// addresses. Addresses are strings ("0x55d0c2a41f3e"): JSON numbers lose bits above 2^53 in
// most readers, browsers among them.
std::uintptr_t read_address(const Field& f) {
    const std::string& text = f.string();
    char* end = nullptr;
    unsigned long long v = text.rfind("0x", 0) == 0 ? std::strtoull(text.c_str() + 2, &end, 16) : 0;
    if (text.size() < 3 || end == nullptr || *end != '\0') f.fail("expected an address \"0x...\", found " + describe(f.json()));
    return static_cast<std::uintptr_t>(v);
}

void read_call_sites(const Field& sites, Profile* p) {
    p->site_sample_every = sites.member("sample_every").uint<std::uint64_t>();
    Field modules = sites.member("modules");
    for (std::size_t i = 0; i < modules.size(); ++i) {
        Field m = modules.element(i);
        LoadedModule module;
        module.path = m.member("path").string();
        module.base = read_address(m.member("base"));
        module.end = read_address(m.member("end"));
        p->modules.push_back(module);
    }
    Field list = sites.member("sites");
    for (std::size_t i = 0; i < list.size(); ++i) {
        Field s = list.element(i);
        CallSite site;
        site.id = s.member("id").uint<std::uint32_t>();
        if (site.id != i) s.member("id").fail("expected " + std::to_string(i) + " (sites are listed by id)");
        site.tag = s.member("tag").uint<std::uint16_t>();
        site.samples = s.member("samples").uint<std::uint64_t>();
        site.sampled_bytes = s.member("sampled_bytes").uint<std::uint64_t>();
        Field frames = s.member("frames");
        for (std::size_t k = 0; k < frames.size(); ++k) site.frames.push_back(read_address(frames.element(k)));
        p->call_sites.push_back(std::move(site));
    }
}

/// nlohmann-json's messages start with an id ("[json.exception.parse_error.101] parse error at
/// line 1, column 2: ..."); the rest says where and what, which is what a user needs.
std::string parse_error_text(const Json::exception& e) {
    std::string text = e.what();
    std::size_t id_end = text.find("] ");
    return text.rfind('[', 0) == 0 && id_end != std::string::npos ? text.substr(id_end + 2) : text;
}

/// Whether `text` is a stream ("uheap-profile-stream"): its first line says so.
bool is_stream(const std::string& text) {
    return text.substr(0, text.find('\n')).find("\"uheap-profile-stream\"") != std::string::npos;
}

// One record of a stream into the document being built (document_from_stream()).
void add_stream_record(const Json& record, std::size_t line_no, Json* doc_out, Json* sites_out, std::map<std::uint16_t, std::string>* names_out) {
    Json& doc = *doc_out;
    Json& sites = *sites_out;
    std::map<std::uint16_t, std::string>& names = *names_out;
    if (line_no == 1) {
        doc["block_bytes"] = record.value("block_bytes", Json());
        doc["profiler"] = record.value("profiler", Json());
        sites["sample_every"] = record.value("sample_every", Json());
        sites["modules"] = record.value("modules", Json::array());
        for (const Json& n : record.value("tag_names", Json::array())) names[n.at(0).get<std::uint16_t>()] = n.at(1).get<std::string>();
    } else if (record.contains("collection")) {
        doc["timeline"].push_back(record.at("collection"));
        doc["collections"] = record.at("collection").value("collection", Json(0u));
        for (const char* table : {"heap", "tags", "histogram", "growing_tags"}) doc[table] = record.value(table, Json());
        for (const Json& site : record.value("new_call_sites", Json::array())) sites["sites"].push_back(site);
    } else if (record.contains("series_snapshot")) {  // the latest snapshot of either kind is the snapshot
        doc["snapshots"].push_back(record.at("series_snapshot"));
        doc["snapshot"] = record.at("series_snapshot");
    } else if (record.contains("snapshot")) {
        doc["snapshot"] = record.at("snapshot");
    } else if (record.contains("out_of_memory")) {
        doc["out_of_memory"].push_back(record.at("out_of_memory"));
    } else if (record.contains("alarm")) {
        doc["alarms"].push_back(record.at("alarm"));
    } else if (record.contains("tag_name")) {
        names[record.at("tag_name").at(0).get<std::uint16_t>()] = record.at("tag_name").at(1).get<std::string>();
    }
}

// A stream (Profiler::stream_to()) becomes the profile document it stands for: the header's
// settings, every collection's sample, the last collection's tables, every snapshot in the
// series and the last one as the snapshot, the events in order. The last line may be cut short
// by a crash: it is dropped. Any other bad line is an error naming its line number.
Json document_from_stream(const std::string& text) {
    Json doc = {{"format", "uheap-profile"}, {"version", 3u}, {"collections", 0u}, {"heap", nullptr},
                {"tags", Json::array()}, {"histogram", Json::array()}, {"timeline", Json::array()},
                {"growing_tags", Json::array()}, {"leak_suspects", Json::array()}, {"alarms", Json::array()},
                {"out_of_memory", Json::array()}, {"snapshots", Json::array()}, {"snapshot", nullptr}};
    Json sites = {{"sample_every", 0u}, {"modules", Json::array()}, {"sites", Json::array()}};
    std::map<std::uint16_t, std::string> names;
    std::size_t line_no = 0;
    for (std::size_t begin = 0; begin < text.size();) {
        std::size_t end = text.find('\n', begin);
        const bool last = end == std::string::npos || text.find_first_not_of(" \t\r\n", end) == std::string::npos;
        std::string line = text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
        begin = end == std::string::npos ? text.size() : end + 1;
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        Json record = Json::parse(line, nullptr, false);
        if (record.is_discarded() || !record.is_object()) {
            if (last && line_no > 1) break;  // cut short by a crash
            throw FormatError("stream line " + std::to_string(line_no) + ": not a JSON object");
        }
        try {
            add_stream_record(record, line_no, &doc, &sites, &names);
        } catch (const Json::exception& e) {
            throw FormatError("stream line " + std::to_string(line_no) + ": " + parse_error_text(e));
        }
    }
    doc["call_sites"] = sites;
    // Names set after a collection's record reach the tag table here.
    for (Json& t : doc["tags"]) {
        if (!t.is_object() || !t.contains("tag") || !t["tag"].is_number_unsigned()) continue;
        auto it = names.find(t["tag"].get<std::uint16_t>());
        if (it != names.end()) t["name"] = it->second;
    }
    return doc;
}


}  // namespace

bool load_profile(const std::string& json_text, Profile* out, std::string* error) {
    try {
        const Json doc = is_stream(json_text) ? document_from_stream(json_text) : Json::parse(json_text);
        Field root(doc);
        const std::uint64_t version = check_format(root);
        Profile p;
        p.version = version;
        p.block_bytes = root.member("block_bytes").uint<std::size_t>();
        if (p.block_bytes == 0) root.member("block_bytes").fail("must be at least 1");
        p.collections = root.member("collections").uint<std::uint64_t>();
        read_heap(root.member("heap"), &p);
        p.leak_min_age = root.member("profiler").member("leak_min_age").uint<std::uint64_t>();
        read_tags(root.member("tags"), &p);
        read_histogram(root.member("histogram"), &p);
        read_timeline(root.member("timeline"), version, &p);
        if (version >= 2) read_growing_tags(root.member("growing_tags"), &p);
        read_leaks_and_alarms(root.member("leak_suspects"), root.member("alarms"), &p);
        if (version >= 2) read_out_of_memory(root.member("out_of_memory"), &p);
        p.snapshot = read_snapshot(root.member("snapshot"), version);
        if (version >= 3) {
            Field series = root.member("snapshots");
            for (std::size_t i = 0; i < series.size(); ++i) p.snapshots.push_back(read_snapshot(series.element(i), version));
            read_call_sites(root.member("call_sites"), &p);
        }
        *out = std::move(p);
        return true;
    } catch (const Json::parse_error& e) {
        if (error != nullptr) *error = parse_error_text(e);
    } catch (const FormatError& e) {
        if (error != nullptr) *error = e.what();
    }
    return false;
}

}  // namespace uheap::report
