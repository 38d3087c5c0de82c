// SPDX-License-Identifier: MIT
// Profiler lifecycle (attach, detach, reset), configuration, and the read-side queries.
#include <algorithm>
#include <fstream>
#include <map>

#include "profiler_state.hpp"

namespace uheap {

using profiling::ObjectRecord;

Profiler::Profiler(const ProfilerConfig& config) : state_(new State) {
    state_->owner = this;
    state_->config = config;
    state_->restart_sampling();
}

Profiler::~Profiler() {
    detach();
    end_stream();
}

void Profiler::attach(Heap& heap) {
    detach();
    state_->heap = &heap;
    state_->clear_statistics();
    heap.set_event_hooks(state_->hooks());
}

void Profiler::detach() {
    if (state_->heap == nullptr) return;
    state_->heap->set_event_hooks(EventHooks{});
    state_->heap = nullptr;
}

bool Profiler::attached() const { return state_->heap != nullptr; }
Heap* Profiler::heap() const { return state_->heap; }

void Profiler::reset() { state_->clear_statistics(); }

void Profiler::set_config(const ProfilerConfig& config) {
    state_->config = config;
    state_->restart_sampling();
}
const ProfilerConfig& Profiler::config() const { return state_->config; }

// Starts from zero, then adopts whatever the heap already holds, so a profiler attached late
// still sees every live object (as tag 0, born at the current collection).
void Profiler::State::clear_statistics() {
    objects.clear();
    tag_table.clear();
    tag_seen.clear();
    timeline.clear();
    histogram_count.fill(0);
    histogram_bytes.fill(0);
    alarm_log.clear();
    oom_log.clear();
    snapshot = HeapSnapshot{};
    snapshots.clear();
    snapshot_interval = 0;
    call_sites.clear();
    site_ids.clear();
    sites_dropped = 0;
    restart_sampling();
    low_alarm_armed = true;
    untracked_events = 0;
    out_of_memory_events = 0;
    move_pending = false;
    epoch = heap != nullptr ? heap->counters().collections : 0;
    if (heap != nullptr) objects.add_areas(area_pools());
    attached_ns = heap != nullptr ? heap->now_ns() : 0;
    last_collection_ns = 0;
    if (heap != nullptr) record_existing_objects();
}

void Profiler::State::record_existing_objects() {
    heap->walk(
        [](void* user, const HeapSpan& span) {
            if (span.object == nullptr) return;
            auto& self = *static_cast<State*>(user);
            std::size_t n_bytes = span.n_blocks * kBlockBytes;
            self.objects.put(self.objects.slot(reinterpret_cast<std::uintptr_t>(span.object)),
                             ObjectRecord{static_cast<std::uint32_t>(self.epoch), static_cast<std::uint32_t>(span.n_blocks), 0, 0});
            TagStats& t = self.tag_of(0);
            t.live_objects += 1;
            t.live_bytes += n_bytes;
            if (t.live_bytes > t.peak_live_bytes) t.peak_live_bytes = t.live_bytes;
        },
        this);
}

std::vector<AreaPool> Profiler::State::area_pools() const {
    std::vector<AreaPool> pools;
    if (heap == nullptr) return pools;
    std::size_t n = heap->area_count();
    for (std::size_t i = 0; i < n; ++i) pools.push_back(heap->area_pool(i));
    return pools;
}

bool profiling::locate(const std::vector<AreaPool>& pools, std::uintptr_t address, std::size_t* area,
                       std::size_t* offset) {
    for (std::size_t i = 0; i < pools.size(); ++i) {
        auto begin = reinterpret_cast<std::uintptr_t>(pools[i].begin);
        if (address - begin < pools[i].n_blocks * kBlockBytes) {
            *area = i;
            *offset = address - begin;
            return true;
        }
    }
    return false;
}

void Profiler::set_tag_name(std::uint16_t tag, const std::string& name) {
    if (name.empty()) {
        state_->names.erase(tag);
    } else {
        state_->names[tag] = name;
    }
    state_->stream_tag_name(tag, name);
}

const std::string& Profiler::tag_name(std::uint16_t tag) const {
    static const std::string kNone;
    auto it = state_->names.find(tag);
    return it == state_->names.end() ? kNone : it->second;
}

void Profiler::set_large_alloc_alarm(std::size_t min_blocks, AlarmFn fn) {
    state_->large_alarm_blocks = fn ? min_blocks : 0;
    state_->large_alarm_fn = std::move(fn);
}

void Profiler::set_low_free_run_alarm(std::size_t below_blocks, AlarmFn fn, bool check_on_out_of_memory) {
    state_->low_alarm_blocks = fn ? below_blocks : 0;
    state_->low_alarm_fn = std::move(fn);
    state_->low_alarm_on_oom = check_on_out_of_memory;
    state_->low_alarm_armed = true;
}

std::vector<TagStats> Profiler::tags() const {
    std::vector<TagStats> out;
    const State& s = *state_;
    for (std::size_t tag = 0; tag < s.tag_table.size(); ++tag) {
        const TagStats& t = s.tag_table[tag];
        // A tag touched only by a realloc move's transient record has nothing to report.
        bool empty = t.live_objects == 0 && t.allocations == 0 && t.peak_live_bytes == 0 && t.reallocs == 0;
        if (s.tag_seen[tag] && (!empty || s.names.count(t.tag) != 0)) out.push_back(t);
    }
    // Named tags never allocated still appear, so a report lists the host's whole vocabulary.
    for (const auto& [tag, name] : s.names) {
        if (tag < s.tag_table.size() && s.tag_seen[tag]) continue;  // listed above
        TagStats t;
        t.tag = tag;
        out.push_back(t);
    }
    std::sort(out.begin(), out.end(), [](const TagStats& a, const TagStats& b) { return a.tag < b.tag; });
    return out;
}

TagStats Profiler::tag_stats(std::uint16_t tag) const {
    const State& s = *state_;
    if (tag < s.tag_table.size() && s.tag_seen[tag]) return s.tag_table[tag];
    TagStats t;
    t.tag = tag;
    return t;
}

const std::vector<TimelineSample>& Profiler::timeline() const { return state_->timeline; }

std::vector<SizeBucket> Profiler::histogram() const {
    const State& s = *state_;
    std::size_t used = 0;
    for (std::size_t i = 0; i < State::kBuckets; ++i) {
        if (s.histogram_count[i] != 0) used = i + 1;
    }
    std::vector<SizeBucket> out(used);
    for (std::size_t i = 0; i < used; ++i) {
        out[i].min_blocks = std::size_t{1} << i;
        out[i].max_blocks = (std::size_t{1} << i) * 2 - 1;
        out[i].count = s.histogram_count[i];
        out[i].bytes = s.histogram_bytes[i];
    }
    return out;
}

// A tag grows if the live bytes the collections found rose over the window: more at its end
// than at its start, in at least half of its steps (a sawtooth that only ends higher does not
// count). O(window x tags).
std::vector<GrowingTag> Profiler::growing_tags() const {
    const State& s = *state_;
    std::vector<GrowingTag> out;
    std::size_t k = s.growth_window_samples();
    if (k < 2) return out;
    const TimelineSample* window = s.timeline.data() + (s.timeline.size() - k);
    std::map<std::uint16_t, std::vector<std::uint64_t>> series;
    for (std::size_t i = 0; i < k; ++i) {
        for (const TagBytes& tb : window[i].live_by_tag) {
            std::vector<std::uint64_t>& v = series[tb.tag];
            v.resize(k, 0);
            v[i] = tb.bytes;
        }
    }
    for (const auto& [tag, bytes] : series) {
        GrowingTag g;
        g.tag = tag;
        g.first_bytes = bytes.front();
        g.last_bytes = bytes.back();
        g.collections = k;
        for (std::size_t i = 1; i < k; ++i) g.rises += bytes[i] > bytes[i - 1] ? 1 : 0;
        if (g.last_bytes > g.first_bytes && 2 * g.rises >= k - 1) out.push_back(g);
    }
    std::sort(out.begin(), out.end(), [](const GrowingTag& a, const GrowingTag& b) {
        std::uint64_t ga = a.last_bytes - a.first_bytes;
        std::uint64_t gb = b.last_bytes - b.first_bytes;
        return ga != gb ? ga > gb : a.tag < b.tag;
    });
    return out;
}

// Objects that make their tag grow: old enough to have survived leak_min_age collections, young
// enough to be born after the window's first collection. Sorting only the candidates keeps this
// O(objects + suspects log suspects).
std::vector<LeakSuspect> Profiler::leak_suspects() const {
    const State& s = *state_;
    std::vector<GrowingTag> growing = growing_tags();
    std::vector<LeakSuspect> out;
    if (growing.empty()) return out;
    std::map<std::uint16_t, std::size_t> rank;  // 0: grew most
    for (std::size_t i = 0; i < growing.size(); ++i) rank[growing[i].tag] = i;
    std::size_t k = s.growth_window_samples();
    const std::uint64_t window_start = s.timeline[s.timeline.size() - k].collection;
    struct Candidate {
        std::uintptr_t address;
        ObjectRecord r;
    };
    std::vector<Candidate> candidates;
    s.objects.for_each([&](std::uintptr_t address, const ObjectRecord& r) {
        bool born_in_window = static_cast<std::uint32_t>(static_cast<std::uint32_t>(s.epoch) - r.birth) <= s.epoch - window_start;
        if (rank.count(r.tag) != 0 && s.age_of(r) >= s.config.leak_min_age && born_in_window) candidates.push_back({address, r});
    });
    auto before = [&](const Candidate& a, const Candidate& b) {
        if (rank[a.r.tag] != rank[b.r.tag]) return rank[a.r.tag] < rank[b.r.tag];
        if (a.r.n_blocks != b.r.n_blocks) return a.r.n_blocks > b.r.n_blocks;
        if (s.age_of(a.r) != s.age_of(b.r)) return s.age_of(a.r) > s.age_of(b.r);
        return a.address < b.address;
    };
    std::size_t n = std::min(candidates.size(), s.config.leak_limit);
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n), candidates.end(), before);
    std::vector<AreaPool> pools = s.area_pools();
    for (std::size_t i = 0; i < n; ++i) {
        LeakSuspect suspect;
        profiling::locate(pools, candidates[i].address, &suspect.area, &suspect.offset);
        suspect.block = suspect.offset / kBlockBytes;
        suspect.tag = candidates[i].r.tag;
        suspect.bytes = std::size_t{candidates[i].r.n_blocks} * kBlockBytes;
        suspect.age = s.age_of(candidates[i].r);
        out.push_back(suspect);
    }
    return out;
}

const std::vector<AlarmEvent>& Profiler::alarm_log() const { return state_->alarm_log; }
const std::vector<OutOfMemoryEvent>& Profiler::out_of_memory_log() const { return state_->oom_log; }
std::uint64_t Profiler::collection_index() const { return state_->epoch; }
std::size_t Profiler::tracked_objects() const { return state_->objects.size(); }

void Profiler::take_snapshot(SnapshotMode mode) {
    State& s = *state_;
    if (s.heap == nullptr) return;
    if (mode == SnapshotMode::after_collection) s.heap->collect();
    s.snapshot = s.walk_snapshot(mode == SnapshotMode::after_collection);
    s.stream_snapshot(s.snapshot, false);
}

// Every object and free run of the heap as it is now, with what the profiler knows of each
// object. O(blocks / 64 + objects + free runs).
HeapSnapshot Profiler::State::walk_snapshot(bool right_after_collection) const {
    const State& s = *this;
    HeapSnapshot snap;
    snap.taken = true;
    snap.after_collection = right_after_collection;
    snap.collection = s.epoch;
    snap.time_ns = s.ns_now();
    snap.ns_since_collection = s.last_collection_ns == 0 ? 0 : snap.time_ns - s.last_collection_ns;
    std::vector<AreaPool> pools = s.area_pools();
    snap.areas.resize(pools.size());
    for (std::size_t i = 0; i < pools.size(); ++i) snap.areas[i].pool_blocks = pools[i].n_blocks;
    struct Walk {
        const State* state;
        HeapSnapshot* snap;
    } walk{&s, &snap};
    s.heap->walk(
        [](void* user, const HeapSpan& span) {
            auto& w = *static_cast<Walk*>(user);
            if (span.area >= w.snap->areas.size()) return;  // cannot happen: areas do not change during a walk
            SnapshotSpan out;
            out.first_block = span.first_block;
            out.n_blocks = span.n_blocks;
            out.object = span.object != nullptr;
            out.flags = span.flags;
            if (out.object) {
                const ObjectRecord* r = w.state->objects.find(reinterpret_cast<std::uintptr_t>(span.object));
                if (r != nullptr) {
                    out.tag = r->tag;
                    out.age = static_cast<std::int64_t>(w.state->age_of(*r));
                    out.site = static_cast<std::int32_t>(r->site) - 1;
                }
            }
            w.snap->areas[span.area].spans.push_back(out);
        },
        &walk);
    return snap;
}

// The series for a report's slider: one snapshot every `snapshot_interval` collections. When
// it is full, every other one goes and the interval doubles, so a run of any length keeps at
// most snapshot_limit snapshots spread evenly over all of it (amortised O(1) copies each).
void Profiler::State::keep_series_snapshot() {
    if (snapshot_interval == 0) snapshot_interval = config.snapshot_every;
    if (epoch % snapshot_interval != 0) return;
    snapshots.push_back(walk_snapshot(true));
    snapshots.back().time_ns = last_collection_ns;  // the collection's end: this hook's moment
    snapshots.back().ns_since_collection = 0;
    stream_snapshot(snapshots.back(), true);
    if (snapshots.size() <= std::max<std::size_t>(config.snapshot_limit, 1)) return;
    std::size_t kept = 0;
    snapshot_interval *= 2;
    for (std::size_t i = 0; i < snapshots.size(); ++i) {
        if (snapshots[i].collection % snapshot_interval == 0) snapshots[kept++] = std::move(snapshots[i]);
    }
    snapshots.resize(kept);
}

const HeapSnapshot& Profiler::snapshot() const { return state_->snapshot; }
const std::vector<HeapSnapshot>& Profiler::snapshots() const { return state_->snapshots; }
const std::vector<CallSite>& Profiler::call_sites() const { return state_->call_sites; }

bool Profiler::save_json(const std::string& path, SnapshotMode mode) {
    take_snapshot(mode);
    std::ofstream file(path, std::ios::binary);
    if (!file) return false;
    write_json(file);
    file.flush();
    return static_cast<bool>(file);
}

}  // namespace uheap
