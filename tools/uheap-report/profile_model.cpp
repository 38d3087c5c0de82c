// SPDX-License-Identifier: MIT
// Reading a profiler JSON document back into a report::Profile.
#include <string>

#include "json_reader.hpp"
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

void read_tags(JsonValue tags, Profile* p) {
    for (JsonValue t : tags) {
        TagStats s;
        s.tag = static_cast<std::uint16_t>(t["tag"].uint());
        s.live_objects = t["live_objects"].uint();
        s.live_bytes = t["live_bytes"].uint();
        s.peak_live_bytes = t["peak_live_bytes"].uint();
        s.allocations = t["allocations"].uint();
        s.bytes_allocated = t["bytes_allocated"].uint();
        s.reallocs = t["reallocs"].uint();
        s.frees = t["frees"].uint();
        s.swept = t["swept"].uint();
        if (t["name"].type() == JsonType::string) p->tag_names[s.tag] = t["name"].string();
        p->tags.push_back(s);
    }
}

void read_timeline(JsonValue timeline, Profile* p) {
    for (JsonValue t : timeline) {
        TimelineSample s;
        s.collection = t["collection"].uint();
        s.used_bytes = t["used_bytes"].uint();
        s.free_bytes = t["free_bytes"].uint();
        s.largest_free_bytes = t["largest_free_bytes"].uint();
        s.fragmentation = t["fragmentation"].number();
        s.objects_freed = t["objects_freed"].uint();
        s.bytes_freed = t["bytes_freed"].uint();
        s.live_objects = t["live_objects"].uint();
        s.pause_ns = t["pause_ns"].uint();
        p->timeline.push_back(s);
    }
}

void read_rest(JsonValue root, Profile* p) {
    for (JsonValue b : root["histogram"]) {
        SizeBucket s;
        s.min_blocks = b["min_blocks"].uint();
        s.max_blocks = b["max_blocks"].uint();
        s.count = b["count"].uint();
        s.bytes = b["bytes"].uint();
        p->histogram.push_back(s);
    }
    for (JsonValue l : root["leak_suspects"]) {
        LeakSuspect s;
        s.area = l["area"].uint();
        s.offset = l["offset"].uint();
        s.block = l["block"].uint();
        s.tag = static_cast<std::uint16_t>(l["tag"].uint());
        s.bytes = l["bytes"].uint();
        s.age = l["age"].uint();
        p->leak_suspects.push_back(s);
    }
    for (JsonValue a : root["alarms"]) {
        AlarmEvent e;
        e.kind = a["kind"].string() == "large_alloc" ? AlarmKind::large_alloc : AlarmKind::low_free_run;
        e.collection = a["collection"].uint();
        e.n_blocks = a["n_blocks"].uint();
        e.threshold_blocks = a["threshold_blocks"].uint();
        e.tag = static_cast<std::uint16_t>(a["tag"].uint());
        e.on_out_of_memory = a["on_out_of_memory"].boolean();
        p->alarms.push_back(e);
    }
}

// Spans are [first_block, n_blocks, "object"|"free", flags, tag|null].
void read_snapshot(JsonValue snap, Profile* p) {
    if (snap.type() != JsonType::object) return;
    p->snapshot.taken = true;
    p->snapshot.collection = snap["collection"].uint();
    for (JsonValue a : snap["areas"]) {
        SnapshotArea area;
        area.pool_blocks = a["pool_blocks"].uint();
        area.spans.reserve(a["spans"].size());
        for (JsonValue s : a["spans"]) {
            SnapshotSpan span;
            auto it = s.begin();
            JsonValue fields[5];
            for (int i = 0; i < 5 && it != s.end(); ++i, ++it) fields[i] = *it;
            span.first_block = fields[0].uint();
            span.n_blocks = fields[1].uint();
            span.object = fields[2].string() == "object";
            span.flags = static_cast<unsigned>(fields[3].uint());
            span.tag = fields[4].type() == JsonType::number ? static_cast<std::int32_t>(fields[4].uint()) : -1;
            area.spans.push_back(span);
        }
        p->snapshot.areas.push_back(std::move(area));
    }
}

}  // namespace

bool load_profile(const std::string& json_text, Profile* out, std::string* error) {
    JsonDocument doc;
    if (!doc.parse(json_text, error)) return false;
    JsonValue root = doc.root();
    if (root["format"].string() != "uheap-profile" || root["version"].uint() != 1) {
        if (error != nullptr) *error = "not a uheap-profile version 1 document";
        return false;
    }
    Profile p;
    p.block_bytes = root["block_bytes"].uint();
    p.collections = root["collections"].uint();
    JsonValue heap = root["heap"];
    if (heap.type() == JsonType::object) {
        p.has_heap = true;
        p.total_bytes = heap["total_bytes"].uint();
        p.used_bytes = heap["used_bytes"].uint();
        p.largest_free_bytes = heap["largest_free_bytes"].uint();
        p.objects = heap["objects"].uint();
        p.fragmentation = heap["fragmentation"].number();
    }
    p.leak_min_age = root["profiler"]["leak_min_age"].uint();
    read_tags(root["tags"], &p);
    read_timeline(root["timeline"], &p);
    read_rest(root, &p);
    read_snapshot(root["snapshot"], &p);
    if (p.block_bytes == 0) {
        if (error != nullptr) *error = "block_bytes missing";
        return false;
    }
    *out = std::move(p);
    return true;
}

}  // namespace uheap::report
