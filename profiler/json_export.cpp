// SPDX-License-Identifier: MIT
// The profile as JSON ("uheap-profile" version 3), written by hand; docs/profiling.md is the schema.
#include <algorithm>
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

void write_tag(std::ostream& o, const TagStats& t, const std::string& name) {
    o << '{';
    Fields(o)
        .num("tag", t.tag)
        .name("name", name)
        .num("live_objects", t.live_objects)
        .num("live_bytes", t.live_bytes)
        .num("peak_live_bytes", t.peak_live_bytes)
        .num("allocations", t.allocations)
        .num("bytes_allocated", t.bytes_allocated)
        .num("reallocs", t.reallocs)
        .num("frees", t.frees)
        .num("swept", t.swept);
    o << '}';
}

void write_sample(std::ostream& o, const TimelineSample& t) {
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
}

void write_growing(std::ostream& o, const GrowingTag& g, const std::string& name) {
    o << '{';
    Fields(o)
        .num("tag", g.tag)
        .name("name", name)
        .num("first_bytes", g.first_bytes)
        .num("last_bytes", g.last_bytes)
        .num("collections", g.collections)
        .num("rises", g.rises);
    o << '}';
}

void write_alarm(std::ostream& o, const AlarmEvent& a) {
    o << '{';
    Fields(o)
        .str("kind", alarm_kind_name(a.kind))
        .num("collection", a.collection)
        .num("n_blocks", a.n_blocks)
        .num("threshold_blocks", a.threshold_blocks)
        .num("tag", a.tag)
        .boolean("on_out_of_memory", a.on_out_of_memory);
    o << '}';
}

void write_out_of_memory(std::ostream& o, const OutOfMemoryEvent& e) {
    o << '{';
    Fields(o).num("collection", e.collection).num("n_bytes", e.n_bytes);
    o << '}';
}

void write_histogram_row(std::ostream& o, const SizeBucket& b) {
    o << '{';
    Fields(o).num("min_blocks", b.min_blocks).num("max_blocks", b.max_blocks).num("count", b.count).num("bytes", b.bytes);
    o << '}';
}

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

/// The heap's figures now as one object, or null.
void write_heap_object(std::ostream& out, const Heap* heap) {
    if (heap == nullptr) {
        out << "null";
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
    out << "}";
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

void write_call_site(std::ostream& out, const CallSite& c) {
    out << '{';
    Fields(out).num("id", c.id).num("tag", c.tag).num("samples", c.samples).num("sampled_bytes", c.sampled_bytes);
    out << ", \"frames\": [";
    for (std::size_t k = 0; k < c.frames.size(); ++k) {
        if (k != 0) out << ", ";
        put_address(out, c.frames[k]);
    }
    out << "]}";
}

void write_module(std::ostream& out, const LoadedModule& m) {
    out << "{\"path\": ";
    put_json_string(out, m.path);
    out << ", \"base\": ";
    put_address(out, m.base);
    out << ", \"end\": ";
    put_address(out, m.end);
    out << '}';
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
        out << (i == 0 ? "\n    " : ",\n    ");
        write_module(out, modules[i]);
    }
    out << (modules.empty() ? "], \"sites\": [" : "\n  ], \"sites\": [");
    for (std::size_t i = 0; i < sites.size(); ++i) {
        out << (i == 0 ? "\n    " : ",\n    ");
        write_call_site(out, sites[i]);
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
    out << "  \"heap\": ";
    write_heap_object(out, s.heap);
    out << ",\n";
    out << "  \"profiler\": {";
    Fields(out)
        .num("tracked_objects", s.objects.size())
        .num("untracked_events", s.untracked_events)
        .num("out_of_memory_events", s.out_of_memory_events)
        .num("leak_min_age", s.config.leak_min_age)
        .num("leak_limit", s.config.leak_limit)
        .num("growth_window", s.config.growth_window);
    out << "},\n";
    write_array(out, "tags", tags(), [&](std::ostream& o, const TagStats& t) { write_tag(o, t, tag_name(t.tag)); });
    write_array(out, "histogram", histogram(), write_histogram_row);
    write_array(out, "timeline", s.timeline, write_sample);
    write_array(out, "growing_tags", growing_tags(), [&](std::ostream& o, const GrowingTag& g) { write_growing(o, g, tag_name(g.tag)); });
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
    write_array(out, "alarms", s.alarm_log, write_alarm);
    write_array(out, "out_of_memory", s.oom_log, write_out_of_memory);
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

// ---- the stream (format "uheap-profile-stream"): one record per line ----------------------

namespace uheap {

// The header says what the later lines need: the block size, the settings the report reads,
// the tag names so far, the sampling rate and the modules loaded now (for call sites).
bool Profiler::stream_to(const std::string& path) {
    State& s = *state_;
    end_stream();
    s.stream = std::fopen(path.c_str(), "wb");
    if (s.stream == nullptr) return false;
    s.streamed_sites = 0;
    std::ostringstream line;
    line << "{\"format\": \"uheap-profile-stream\", \"version\": 3, \"block_bytes\": ";
    put_uint(line, kBlockBytes);
    line << ", \"profiler\": {";
    Fields(line).num("leak_min_age", s.config.leak_min_age).num("leak_limit", s.config.leak_limit).num("growth_window", s.config.growth_window);
    line << "}, \"sample_every\": ";
    put_uint(line, s.config.site_sample_every);
    line << ", \"tag_names\": [";
    bool first = true;
    for (const auto& [tag, name] : s.names) {
        line << (first ? "[" : ", [");
        first = false;
        put_uint(line, tag);
        line << ", ";
        put_json_string(line, name);
        line << ']';
    }
    line << "], \"modules\": [";
    std::vector<LoadedModule> modules = s.config.site_sample_every != 0 ? loaded_modules() : std::vector<LoadedModule>{};
    for (std::size_t i = 0; i < modules.size(); ++i) {
        if (i != 0) line << ", ";
        write_module(line, modules[i]);
    }
    line << "]}\n";
    return s.emit(line.str());
}

void Profiler::end_stream() {
    State& s = *state_;
    if (s.stream == nullptr) return;
    std::fclose(s.stream);
    s.stream = nullptr;
}

bool Profiler::streaming() const { return state_->stream != nullptr; }

// Written and flushed at once: what reached the file survives the process. A write error
// (a full disk) ends the stream rather than leaving a line half written at every event.
bool Profiler::State::emit(const std::string& line) {
    if (stream == nullptr) return false;
    bool ok = std::fwrite(line.data(), 1, line.size(), stream) == line.size() && std::fflush(stream) == 0;
    if (!ok) {
        std::fclose(stream);
        stream = nullptr;
    }
    return ok;
}

// After each collection: its timeline sample, the tag table, the histogram and the growing tags
// as they are now, the heap's figures, and the call sites first seen since the last record.
void Profiler::State::stream_collection() {
    if (stream == nullptr) return;
    std::ostringstream line;
    line << "{\"collection\": ";
    write_sample(line, timeline.back());
    line << ", \"heap\": ";
    write_heap_object(line, heap);
    line << ", \"tags\": [";
    std::vector<TagStats> all = owner->tags();
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (i != 0) line << ", ";
        write_tag(line, all[i], owner->tag_name(all[i].tag));
    }
    line << "], \"histogram\": [";
    std::vector<SizeBucket> buckets = owner->histogram();
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        if (i != 0) line << ", ";
        write_histogram_row(line, buckets[i]);
    }
    line << "], \"growing_tags\": [";
    std::vector<GrowingTag> growing = owner->growing_tags();
    for (std::size_t i = 0; i < growing.size(); ++i) {
        if (i != 0) line << ", ";
        write_growing(line, growing[i], owner->tag_name(growing[i].tag));
    }
    line << "], \"new_call_sites\": [";
    for (std::size_t i = streamed_sites; i < call_sites.size(); ++i) {
        if (i != streamed_sites) line << ", ";
        write_call_site(line, call_sites[i]);
    }
    streamed_sites = call_sites.size();
    line << "]}\n";
    emit(line.str());
}

void Profiler::State::stream_snapshot(const HeapSnapshot& snap, bool series) {
    if (stream == nullptr) return;
    std::ostringstream line;
    line << (series ? "{\"series_snapshot\": " : "{\"snapshot\": ");
    write_snapshot(line, snap);
    line << "}\n";
    std::string text = line.str();
    text.erase(std::remove(text.begin(), text.end() - 1, '\n'), text.end() - 1);  // one line
    emit(text);
}

void Profiler::State::stream_out_of_memory(const OutOfMemoryEvent& event) {
    if (stream == nullptr) return;
    std::ostringstream line;
    line << "{\"out_of_memory\": ";
    write_out_of_memory(line, event);
    line << "}\n";
    emit(line.str());
}

void Profiler::State::stream_alarm(const AlarmEvent& event) {
    if (stream == nullptr) return;
    std::ostringstream line;
    line << "{\"alarm\": ";
    write_alarm(line, event);
    line << "}\n";
    emit(line.str());
}

void Profiler::State::stream_tag_name(std::uint16_t tag, const std::string& name) {
    if (stream == nullptr) return;
    std::ostringstream line;
    line << "{\"tag_name\": [";
    put_uint(line, tag);
    line << ", ";
    put_json_string(line, name);
    line << "]}\n";
    emit(line.str());
}

}  // namespace uheap
