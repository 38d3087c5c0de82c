// SPDX-License-Identifier: MIT
// Profiler lifecycle (attach, detach, reset), configuration, and the read-side queries.
#include <algorithm>
#include <fstream>

#include "profiler_state.hpp"

namespace uheap {

using profiling::ObjectRecord;

Profiler::Profiler(const ProfilerConfig& config) : state_(new State) { state_->config = config; }

Profiler::~Profiler() { detach(); }

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

void Profiler::set_config(const ProfilerConfig& config) { state_->config = config; }
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
    snapshot = HeapSnapshot{};
    low_alarm_armed = true;
    untracked_events = 0;
    out_of_memory_events = 0;
    move_pending = false;
    epoch = heap != nullptr ? heap->counters().collections : 0;
    if (heap != nullptr) record_existing_objects();
}

void Profiler::State::record_existing_objects() {
    heap->walk(
        [](void* user, const HeapSpan& span) {
            if (span.object == nullptr) return;
            auto& self = *static_cast<State*>(user);
            std::size_t n_bytes = span.n_blocks * kBlockBytes;
            self.objects.put(ObjectRecord{reinterpret_cast<std::uintptr_t>(span.object),
                                          static_cast<std::uint32_t>(span.n_blocks),
                                          static_cast<std::uint32_t>(self.epoch), 0});
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

// Old and big first: the objects most worth a look. Sorting only the candidates keeps this
// O(objects + suspects log suspects).
std::vector<LeakSuspect> Profiler::leak_suspects() const {
    const State& s = *state_;
    std::vector<ObjectRecord> old;
    s.objects.for_each([&](const ObjectRecord& r) {
        if (s.age_of(r) >= s.config.leak_min_age) old.push_back(r);
    });
    auto before = [&s](const ObjectRecord& a, const ObjectRecord& b) {
        if (a.n_blocks != b.n_blocks) return a.n_blocks > b.n_blocks;
        if (s.age_of(a) != s.age_of(b)) return s.age_of(a) > s.age_of(b);
        return a.address < b.address;
    };
    std::size_t n = std::min(old.size(), s.config.leak_limit);
    std::partial_sort(old.begin(), old.begin() + static_cast<std::ptrdiff_t>(n), old.end(), before);
    std::vector<AreaPool> pools = s.area_pools();
    std::vector<LeakSuspect> out;
    for (std::size_t i = 0; i < n; ++i) {
        LeakSuspect suspect;
        profiling::locate(pools, old[i].address, &suspect.area, &suspect.offset);
        suspect.block = suspect.offset / kBlockBytes;
        suspect.tag = old[i].tag;
        suspect.bytes = std::size_t{old[i].n_blocks} * kBlockBytes;
        suspect.age = s.age_of(old[i]);
        out.push_back(suspect);
    }
    return out;
}

const std::vector<AlarmEvent>& Profiler::alarm_log() const { return state_->alarm_log; }
std::uint64_t Profiler::collection_index() const { return state_->epoch; }
std::size_t Profiler::tracked_objects() const { return state_->objects.size(); }

void Profiler::take_snapshot() {
    State& s = *state_;
    if (s.heap == nullptr) return;
    HeapSnapshot snap;
    snap.taken = true;
    snap.collection = s.epoch;
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
                if (r != nullptr) out.tag = r->tag;
            }
            w.snap->areas[span.area].spans.push_back(out);
        },
        &walk);
    s.snapshot = std::move(snap);
}

const HeapSnapshot& Profiler::snapshot() const { return state_->snapshot; }

bool Profiler::save_json(const std::string& path) {
    take_snapshot();
    std::ofstream file(path, std::ios::binary);
    if (!file) return false;
    write_json(file);
    file.flush();
    return static_cast<bool>(file);
}

}  // namespace uheap
