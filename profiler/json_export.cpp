// SPDX-License-Identifier: MIT
// The profile as JSON ("uheap-profile" version 3), written by hand; docs/profiling.md is the schema.
#include <cstdio>
#include <ostream>
#include <sstream>

#include "profiler_state.hpp"
#include "text_format.hpp"

namespace uheap {

using profiling::put_json_string;
using profiling::put_ratio;
using profiling::put_uint;

namespace {

const char* alarm_kind_name(AlarmKind kind) {
    return kind == AlarmKind::large_alloc ? "large_alloc" : "low_free_run";
}

/// `"key": value` pairs on one line, with the commas in between.
class Fields {
public:
    explicit Fields(std::ostream& out) : out_(out) {}
    Fields& num(const char* key, std::uint64_t value) {
        key_(key);
        put_uint(out_, value);
        return *this;
    }
    Fields& ratio(const char* key, double value) {
        key_(key);
        put_ratio(out_, value);
        return *this;
    }
    Fields& str(const char* key, const char* value) {
        key_(key);
        put_json_string(out_, value);
        return *this;
    }
    Fields& boolean(const char* key, bool value) {
        key_(key);
        out_ << (value ? "true" : "false");
        return *this;
    }
    /// `"key": [[tag, bytes], ...]`.
    Fields& tag_bytes(const char* key, const std::vector<TagBytes>& values) {
        key_(key);
        out_ << '[';
        for (std::size_t i = 0; i < values.size(); ++i) {
            out_ << (i == 0 ? "[" : ", [");
            put_uint(out_, values[i].tag);
            out_ << ", ";
            put_uint(out_, values[i].bytes);
            out_ << ']';
        }
        out_ << ']';
        return *this;
    }
    Fields& name(const char* key, const std::string& value) {
        key_(key);
        if (value.empty()) {
            out_ << "null";
        } else {
            put_json_string(out_, value);
        }
        return *this;
    }

private:
    void key_(const char* key) {
        if (!first_) out_ << ", ";
        first_ = false;
        out_ << '"' << key << "\": ";
    }
    std::ostream& out_;
    bool first_ = true;
};

/// Writes `"key": [` rows `]`, one row per line; `row(out, item)` writes one JSON value.
template <class Items, class Row>
void write_array(std::ostream& out, const char* key, const Items& items, Row row, bool last = false) {
    out << "  \"" << key << "\": [";
    bool first = true;
    for (const auto& item : items) {
        out << (first ? "\n    " : ",\n    ");
        first = false;
        row(out, item);
    }
    out << (first ? "]" : "\n  ]") << (last ? "\n" : ",\n");
}

void write_heap(std::ostream& out, const Heap* heap) {
    out << "  \"heap\": ";
    if (heap == nullptr) {
        out << "null,\n";
        return;
    }
    Info info = heap->info();
    Counters c = heap->counters();
    out << "{";
    Fields(out)
        .num("total_bytes", info.total)
        .num("used_bytes", info.used)
        .num("free_bytes", info.free)
        .num("largest_free_bytes", info.max_free * kBlockBytes)
        .num("objects", info.objects)
        .num("free_runs", info.free_runs)
        .num("areas", info.areas)
        .num("metadata_bytes", info.metadata_bytes)
        .ratio("fragmentation", info.free == 0 ? 0.0 : 1.0 - double(info.max_free * kBlockBytes) / double(info.free))
        .num("peak_used_bytes", c.peak_used_bytes)
        .num("allocations", c.allocations)
        .num("frees", c.frees)
        .num("collections", c.collections)
        .num("objects_collected", c.objects_collected)
        .num("out_of_memory", c.out_of_memory)
        .num("max_pause_ns", c.max_pause_ns)
        .num("total_pause_ns", c.total_pause_ns);
    out << "},\n";
}

/// null for a negative (absent) tag, age or site.
void put_optional(std::ostream& out, std::int64_t value) {
    if (value < 0) {
        out << "null";
    } else {
        put_uint(out, static_cast<std::uint64_t>(value));
    }
}

/// One snapshot object (or null), its spans one per line, indented for the top level.
void write_snapshot(std::ostream& out, const HeapSnapshot& snap) {
    if (!snap.taken) {
        out << "null";
        return;
    }
    out << "{\"collection\": ";
    put_uint(out, snap.collection);
    out << ", \"after_collection\": " << (snap.after_collection ? "true" : "false") << ", \"ns_since_collection\": ";
    put_uint(out, snap.ns_since_collection);
    out << ", \"time_ns\": ";
    put_uint(out, snap.time_ns);
    out << ", \"areas\": [";
    for (std::size_t a = 0; a < snap.areas.size(); ++a) {
        const SnapshotArea& area = snap.areas[a];
        out << (a == 0 ? "\n    " : ",\n    ") << "{\"index\": ";
        put_uint(out, a);
        out << ", \"pool_blocks\": ";
        put_uint(out, area.pool_blocks);
        out << ", \"spans\": [";
        for (std::size_t i = 0; i < area.spans.size(); ++i) {
            const SnapshotSpan& s = area.spans[i];
            out << (i == 0 ? "\n      [" : ",\n      [");
            put_uint(out, s.first_block);
            out << ", ";
            put_uint(out, s.n_blocks);
            out << (s.object ? ", \"object\", " : ", \"free\", ");
            put_uint(out, s.flags);
            out << ", ";
            put_optional(out, s.tag);
            out << ", ";
            put_optional(out, s.age);
            out << ", ";
            put_optional(out, s.site);
            out << ']';
        }
        out << (area.spans.empty() ? "]}" : "\n    ]}");
    }
    out << (snap.areas.empty() ? "]}" : "\n  ]}");
}

/// "0x7f3a..." : JSON numbers lose bits above 2^53 in most readers.
void put_address(std::ostream& out, std::uintptr_t address) {
    char text[2 + 2 * sizeof(std::uintptr_t) + 1];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(address));
    out << '"' << text << '"';
}

/// The sampled call sites and, only when there are some, the modules their addresses lie in
/// (so a profile without sampling stays free of addresses, and deterministic).
void write_call_sites(std::ostream& out, std::uint64_t sample_every, const std::vector<CallSite>& sites) {
    out << "  \"call_sites\": {\"sample_every\": ";
    put_uint(out, sample_every);
    std::vector<LoadedModule> modules;
    if (!sites.empty()) modules = Profiler::loaded_modules();
    out << ", \"modules\": [";
    for (std::size_t i = 0; i < modules.size(); ++i) {
        out << (i == 0 ? "\n    {\"path\": " : ",\n    {\"path\": ");
        put_json_string(out, modules[i].path.c_str());
        out << ", \"base\": ";
        put_address(out, modules[i].base);
        out << ", \"end\": ";
        put_address(out, modules[i].end);
        out << '}';
    }
    out << (modules.empty() ? "], \"sites\": [" : "\n  ], \"sites\": [");
    for (std::size_t i = 0; i < sites.size(); ++i) {
        const CallSite& c = sites[i];
        out << (i == 0 ? "\n    {" : ",\n    {");
        Fields(out).num("id", c.id).num("tag", c.tag).num("samples", c.samples).num("sampled_bytes", c.sampled_bytes);
        out << ", \"frames\": [";
        for (std::size_t k = 0; k < c.frames.size(); ++k) {
            if (k != 0) out << ", ";
            put_address(out, c.frames[k]);
        }
        out << "]}";
    }
    out << (sites.empty() ? "]},\n" : "\n  ]},\n");
}

}  // namespace

// Sections in a fixed order, one record per line: stable to diff, and the golden tests compare
// the text byte for byte.
void Profiler::write_json(std::ostream& out) const {
    const State& s = *state_;
    out << "{\n  \"format\": \"uheap-profile\",\n  \"version\": 3,\n  \"block_bytes\": ";
    put_uint(out, kBlockBytes);
    out << ",\n  \"collections\": ";
    put_uint(out, s.epoch);
    out << ",\n";
    write_heap(out, s.heap);
    out << "  \"profiler\": {";
    Fields(out)
        .num("tracked_objects", s.objects.size())
        .num("untracked_events", s.untracked_events)
        .num("out_of_memory_events", s.out_of_memory_events)
        .num("leak_min_age", s.config.leak_min_age)
        .num("leak_limit", s.config.leak_limit)
        .num("growth_window", s.config.growth_window);
    out << "},\n";
    write_array(out, "tags", tags(), [&](std::ostream& o, const TagStats& t) {
        o << '{';
        Fields(o)
            .num("tag", t.tag)
            .name("name", tag_name(t.tag))
            .num("live_objects", t.live_objects)
            .num("live_bytes", t.live_bytes)
            .num("peak_live_bytes", t.peak_live_bytes)
            .num("allocations", t.allocations)
            .num("bytes_allocated", t.bytes_allocated)
            .num("reallocs", t.reallocs)
            .num("frees", t.frees)
            .num("swept", t.swept);
        o << '}';
    });
    write_array(out, "histogram", histogram(), [](std::ostream& o, const SizeBucket& b) {
        o << '{';
        Fields(o).num("min_blocks", b.min_blocks).num("max_blocks", b.max_blocks).num("count", b.count).num("bytes", b.bytes);
        o << '}';
    });
    write_array(out, "timeline", s.timeline, [](std::ostream& o, const TimelineSample& t) {
        o << '{';
        Fields(o)
            .num("collection", t.collection)
            .num("used_bytes", t.used_bytes)
            .num("free_bytes", t.free_bytes)
            .num("largest_free_bytes", t.largest_free_bytes)
            .ratio("fragmentation", t.fragmentation)
            .num("objects_freed", t.objects_freed)
            .num("bytes_freed", t.bytes_freed)
            .num("live_objects", t.live_objects)
            .num("pause_ns", t.pause_ns)
            .num("time_ns", t.time_ns)
            .num("bytes_allocated", t.bytes_allocated)
            .tag_bytes("live_by_tag", t.live_by_tag);
        o << '}';
    });
    write_array(out, "growing_tags", growing_tags(), [&](std::ostream& o, const GrowingTag& g) {
        o << '{';
        Fields(o)
            .num("tag", g.tag)
            .name("name", tag_name(g.tag))
            .num("first_bytes", g.first_bytes)
            .num("last_bytes", g.last_bytes)
            .num("collections", g.collections)
            .num("rises", g.rises);
        o << '}';
    });
    write_array(out, "leak_suspects", leak_suspects(), [&](std::ostream& o, const LeakSuspect& l) {
        o << '{';
        Fields(o)
            .num("area", l.area)
            .num("offset", l.offset)
            .num("block", l.block)
            .num("tag", l.tag)
            .name("name", tag_name(l.tag))
            .num("bytes", l.bytes)
            .num("age", l.age);
        o << '}';
    });
    write_array(out, "alarms", s.alarm_log, [](std::ostream& o, const AlarmEvent& a) {
        o << '{';
        Fields(o)
            .str("kind", alarm_kind_name(a.kind))
            .num("collection", a.collection)
            .num("n_blocks", a.n_blocks)
            .num("threshold_blocks", a.threshold_blocks)
            .num("tag", a.tag)
            .boolean("on_out_of_memory", a.on_out_of_memory);
        o << '}';
    });
    write_array(out, "out_of_memory", s.oom_log, [](std::ostream& o, const OutOfMemoryEvent& e) {
        o << '{';
        Fields(o).num("collection", e.collection).num("n_bytes", e.n_bytes);
        o << '}';
    });
    write_call_sites(out, s.config.site_sample_every, s.call_sites);
    out << "  \"snapshots\": [";
    for (std::size_t i = 0; i < s.snapshots.size(); ++i) {
        out << (i == 0 ? "\n  " : ",\n  ");
        write_snapshot(out, s.snapshots[i]);
    }
    out << (s.snapshots.empty() ? "],\n" : "\n  ],\n");
    out << "  \"snapshot\": ";
    write_snapshot(out, s.snapshot);
    out << "\n}\n";
}

std::string Profiler::json() const {
    std::ostringstream out;
    write_json(out);
    return out.str();
}

}  // namespace uheap
