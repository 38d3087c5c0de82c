// SPDX-License-Identifier: MIT
// The profiler's internal state and the EventHooks that feed it; the map of profiler/*.cpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "object_table.hpp"
#include "uheap/profiler.hpp"

namespace uheap {

namespace profiling {

/// Index of the power-of-two bucket holding `n_blocks` (>= 1): floor(log2(n_blocks)).
inline std::size_t bucket_of(std::size_t n_blocks) {
    std::size_t bucket = 0;
    while (n_blocks > 1) {
        n_blocks >>= 1;
        ++bucket;
    }
    return bucket;
}

}  // namespace profiling

struct Profiler::State {
    static constexpr std::size_t kBuckets = 64;  ///< bucket i: sizes in [2^i, 2^(i+1)) blocks

    ProfilerConfig config;
    Heap* heap = nullptr;
    const Profiler* owner = nullptr;  ///< for the queries the stream's records repeat

    profiling::ObjectTable objects;
    std::vector<TagStats> tag_table;  ///< indexed by tag, grown on first use
    std::vector<std::uint8_t> tag_seen;  ///< tag_table[i] has been touched (1)
    std::map<std::uint16_t, std::string> names;
    std::vector<TimelineSample> timeline;
    std::array<std::uint64_t, kBuckets> histogram_count{};
    std::array<std::uint64_t, kBuckets> histogram_bytes{};
    std::vector<AlarmEvent> alarm_log;
    std::vector<OutOfMemoryEvent> oom_log;
    HeapSnapshot snapshot;
    std::vector<HeapSnapshot> snapshots;  ///< every snapshot_interval collections
    std::uint64_t snapshot_interval = 0;  ///< config.snapshot_every, doubled each time the series fills
    std::vector<CallSite> call_sites;     ///< by id

    std::size_t large_alarm_blocks = 0;
    AlarmFn large_alarm_fn;
    std::size_t low_alarm_blocks = 0;
    AlarmFn low_alarm_fn;
    bool low_alarm_on_oom = true;
    bool low_alarm_armed = true;

    std::uint64_t epoch = 0;  ///< collections completed, as of the last event
    /// The heap's clock (Heap::now_ns(), a test's fake one too) at attach(): TimelineSample::time_ns
    /// counts from here.
    std::uint64_t attached_ns = 0;
    std::uint64_t last_collection_ns = 0;  ///< when the last collection ended (0: none since attach)
    std::uint64_t ns_now() const { return heap != nullptr ? heap->now_ns() - attached_ns : 0; }
    std::uint64_t untracked_events = 0;  ///< frees / reallocs of objects never seen allocated
    std::uint64_t out_of_memory_events = 0;
    /// realloc() that moves reports on_alloc(new), on_free(old, moved), on_realloc(old, new):
    /// the old record waits here for on_realloc to hand its tag and birth to the new object.
    bool move_pending = false;
    profiling::ObjectRecord moved;
    /// The last tag-0 allocation and tag 0's peak before it, so undoing a move's transient
    /// tag-0 record also undoes the peak it may have raised.
    std::uintptr_t last_zero_alloc = 0;
    std::uint64_t zero_peak_before = 0;

    TagStats& tag_of(std::uint16_t tag) {
        if (tag < tag_seen.size() && tag_seen[tag] != 0) return tag_table[tag];
        return first_use_of(tag);
    }
    TagStats& first_use_of(std::uint16_t tag);
    /// Collections an object has survived (births are kept mod 2^32, ages are exact below that).
    std::uint64_t age_of(const profiling::ObjectRecord& r) const {
        return static_cast<std::uint32_t>(static_cast<std::uint32_t>(epoch) - r.birth);
    }
    /// Timeline samples in the growth window: the last config.growth_window (at least 2), or all.
    std::size_t growth_window_samples() const {
        return std::min(timeline.size(), std::max<std::size_t>(config.growth_window, 2));
    }
    void record_existing_objects();
    HeapSnapshot walk_snapshot(bool right_after_collection) const;
    void keep_series_snapshot();
    void clear_statistics();
    void fire(const AlarmEvent& event, const AlarmFn& fn);
    void fire_low_free_run(std::size_t largest_blocks, bool on_out_of_memory);
    [[gnu::noinline]] void fire_large_alloc(std::size_t n_blocks, std::uint16_t tag);

    // Call sites (call_sites.cpp).
    /// Allocations left until the next sampled one; counts down from config.site_sample_every
    /// (never reaching 0 when sampling is off).
    std::uint64_t until_sample = ~std::uint64_t{0};
    /// (tag, frames) -> call site id, so each distinct stack of each tag is one CallSite.
    std::map<std::pair<std::uint16_t, std::vector<std::uintptr_t>>, std::uint32_t> site_ids;
    std::uint64_t sites_dropped = 0;  ///< samples not recorded: the site table was full
    /// Records the caller's stack as a call site; its ObjectRecord::site value (id + 1, or 0).
    [[gnu::noinline]] std::uint16_t sample_call_site(std::size_t n_bytes, std::uint16_t tag);
    static int capture_stack(void** out, int max);  ///< backtrace(), or nothing where there is none
    void restart_sampling() { until_sample = config.site_sample_every != 0 ? config.site_sample_every : ~std::uint64_t{0}; }
    std::vector<AreaPool> area_pools() const;

    // Event handlers (profiler.cpp).
    void allocated(void* ptr, std::size_t n_bytes, std::uint16_t tag);
    [[gnu::noinline]] void allocated_in_full(void* ptr, std::size_t n_bytes, std::uint16_t tag);
    /// What one allocation adds to its tag's figures and to the size histogram (both paths).
    void count_allocation(TagStats& t, std::size_t n_bytes) {
        t.live_objects += 1;
        t.live_bytes += n_bytes;
        t.allocations += 1;
        t.bytes_allocated += n_bytes;
        if (t.live_bytes > t.peak_live_bytes) t.peak_live_bytes = t.live_bytes;
        std::size_t bucket = profiling::bucket_of(n_bytes / kBlockBytes);
        histogram_count[bucket] += 1;
        histogram_bytes[bucket] += n_bytes;
    }
    void freed(void* ptr, std::size_t n_bytes, FreeReason reason);
    profiling::ObjectRecord* slot_of(void* ptr) {
        profiling::ObjectRecord* slot = objects.slot(reinterpret_cast<std::uintptr_t>(ptr));
        return slot != nullptr ? slot : slot_after_growth(ptr);
    }
    profiling::ObjectRecord* slot_after_growth(void* ptr);
    void reallocated(void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes);
    void collection_ended(const CollectionStats& stats);
    void out_of_memory(std::size_t n_bytes);

    EventHooks hooks();

    // The stream (json_export.cpp): records written as events happen, when stream_to() is on.
    std::FILE* stream = nullptr;
    std::size_t streamed_sites = 0;  ///< call sites already in the stream
    bool emit(const std::string& line);
    void stream_collection();
    void stream_snapshot(const HeapSnapshot& snap, bool series);
    void stream_out_of_memory(const OutOfMemoryEvent& event);
    void stream_alarm(const AlarmEvent& event);
    void stream_tag_name(std::uint16_t tag, const std::string& name);
};

namespace profiling {

/// Where `address` lies among `pools`: its area index and byte offset; false if in none.
bool locate(const std::vector<AreaPool>& pools, std::uintptr_t address, std::size_t* area, std::size_t* offset);

}  // namespace profiling
}  // namespace uheap
