// SPDX-License-Identifier: MIT
// The profiler's EventHooks: what each heap event changes in the tables, timeline and alarms.
#include <algorithm>
#include <cstdint>

#include "profiler_state.hpp"

namespace uheap {

using profiling::bucket_of;
using profiling::ObjectRecord;

namespace {

Profiler::State& state_of(void* user) { return *static_cast<Profiler::State*>(user); }

std::uintptr_t address_of(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr); }

void note_peak(TagStats& t) {
    if (t.live_bytes > t.peak_live_bytes) t.peak_live_bytes = t.live_bytes;
}

}  // namespace

// The hooks are plain functions taking the State as `user`: the heap calls them with one
// indirect call each, and the State outlives every hook because detach() runs in ~Profiler.
EventHooks Profiler::State::hooks() {
    EventHooks h;
    h.user = this;
    h.on_alloc = [](void* user, void* ptr, std::size_t n_bytes, unsigned, std::uint16_t tag) {
        state_of(user).allocated(ptr, n_bytes, tag);
    };
    h.on_free = [](void* user, void* ptr, std::size_t n_bytes, FreeReason reason) {
        state_of(user).freed(ptr, n_bytes, reason);
    };
    h.on_realloc = [](void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
        state_of(user).reallocated(old_ptr, new_ptr, old_bytes, new_bytes);
    };
    h.on_collect_end = [](void* user, const CollectionStats& stats) { state_of(user).collection_ended(stats); };
    h.on_out_of_memory = [](void* user, std::size_t n_bytes) { state_of(user).out_of_memory(n_bytes); };
    return h;
}

TagStats& Profiler::State::first_use_of(std::uint16_t tag) {
    if (tag >= tag_table.size()) {
        tag_table.resize(static_cast<std::size_t>(tag) + 1);
        tag_seen.resize(static_cast<std::size_t>(tag) + 1, 0);
    }
    tag_seen[tag] = 1;
    tag_table[tag].tag = tag;
    return tag_table[tag];
}

// The object at `ptr` lies outside every area the table covers: the heap has grown since, and
// the table grows with it.
ObjectRecord* Profiler::State::slot_after_growth(void* ptr) {
    if (heap == nullptr) return nullptr;
    objects.add_areas(area_pools());
    return objects.slot(address_of(ptr));
}

void Profiler::State::fire(const AlarmEvent& event, const AlarmFn& fn) {
    if (alarm_log.size() < config.alarm_log_limit) alarm_log.push_back(event);
    stream_alarm(event);
    if (fn) fn(event);
}

// Every allocation comes here, so the common one (a known tag other than 0, in a covered area,
// not sampled, below the alarm) is done in a leaf that saves no register; anything else goes
// to allocated_in_full(). Counts and tables are the same either way.
void Profiler::State::allocated(void* ptr, std::size_t n_bytes, std::uint16_t tag) {
    ObjectRecord* slot = objects.slot(address_of(ptr));
    const std::size_t n_blocks = n_bytes / kBlockBytes;
    if (slot == nullptr || until_sample <= 1 || tag == 0 || tag >= tag_seen.size() || tag_seen[tag] == 0 ||
        (large_alarm_blocks != 0 && n_blocks >= large_alarm_blocks)) {
        allocated_in_full(ptr, n_bytes, tag);
        return;
    }
    --until_sample;
    objects.put(slot, ObjectRecord{static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(n_blocks), tag, 0});
    count_allocation(tag_table[tag], n_bytes);
}

void Profiler::State::allocated_in_full(void* ptr, std::size_t n_bytes, std::uint16_t tag) {
    ObjectRecord* slot = slot_of(ptr);
    if (slot == nullptr) {  // cannot happen: the heap allocates only from its areas
        ++untracked_events;
        return;
    }
    std::uint16_t site = 0;
    if (--until_sample == 0) site = sample_call_site(n_bytes, tag);
    objects.put(slot, ObjectRecord{static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(n_bytes / kBlockBytes), tag, site});
    TagStats& t = tag_of(tag);
    if (tag == 0) {
        last_zero_alloc = address_of(ptr);
        zero_peak_before = t.peak_live_bytes;
    }
    count_allocation(t, n_bytes);
    std::size_t n_blocks = n_bytes / kBlockBytes;
    if (large_alarm_blocks != 0 && n_blocks >= large_alarm_blocks) fire_large_alloc(n_blocks, tag);
}

// Out of allocated(), which runs on every allocation: its frame stays small.
void Profiler::State::fire_large_alloc(std::size_t n_blocks, std::uint16_t tag) {
    AlarmEvent event;
    event.kind = AlarmKind::large_alloc;
    event.collection = epoch;
    event.n_blocks = n_blocks;
    event.threshold_blocks = large_alarm_blocks;
    event.tag = tag;
    fire(event, large_alarm_fn);
}

void Profiler::State::freed(void* ptr, std::size_t n_bytes, FreeReason reason) {
    ObjectRecord* slot = slot_of(ptr);
    if (slot == nullptr || slot->site == ObjectRecord::kEmpty) {
        ++untracked_events;
        return;
    }
    ObjectRecord record = *slot;
    objects.take(slot);
    TagStats& t = tag_of(record.tag);
    t.live_objects -= 1;
    t.live_bytes -= n_bytes;
    switch (reason) {
        case FreeReason::explicit_free: t.frees += 1; break;
        case FreeReason::swept: t.swept += 1; break;
        case FreeReason::moved:
            move_pending = true;
            moved = record;
            break;
    }
}

// In place, the object just changes size. After a move, on_alloc has already recorded the new
// copy as a fresh tag-0 allocation; that is undone and the copy inherits the original's tag and
// birth, so a moved object keeps its identity (and its age for leak detection).
void Profiler::State::reallocated(void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
    ObjectRecord* record = slot_of(new_ptr);
    if (record == nullptr || record->site == ObjectRecord::kEmpty) {
        ++untracked_events;  // an object attach() never saw: only if the host reused the hooks
        return;
    }
    if (old_ptr != new_ptr) {
        if (!move_pending) return;  // the original was unknown: keep the copy as tag 0
        move_pending = false;
        TagStats& fresh = tag_of(record->tag);
        fresh.live_objects -= 1;
        fresh.live_bytes -= new_bytes;
        fresh.allocations -= 1;
        fresh.bytes_allocated -= new_bytes;
        if (record->tag == 0 && address_of(new_ptr) == last_zero_alloc) {
            fresh.peak_live_bytes = std::max(zero_peak_before, fresh.live_bytes);
        }
        std::size_t bucket = bucket_of(new_bytes / kBlockBytes);
        histogram_count[bucket] -= 1;
        histogram_bytes[bucket] -= new_bytes;
        *record = moved;  // its tag, birth and call site
        TagStats& t = tag_of(record->tag);
        t.live_objects += 1;
        t.live_bytes += old_bytes;  // on_free(moved) took the old size away; the delta follows
    }
    TagStats& t = tag_of(record->tag);
    t.reallocs += 1;
    t.live_bytes = t.live_bytes - old_bytes + new_bytes;
    if (new_bytes > old_bytes) t.bytes_allocated += new_bytes - old_bytes;
    note_peak(t);
    record->n_blocks = static_cast<std::uint32_t>(new_bytes / kBlockBytes);
}

void Profiler::State::collection_ended(const CollectionStats& stats) {
    epoch = stats.index;
    TimelineSample s;
    s.collection = stats.index;
    s.used_bytes = stats.used_bytes;
    s.free_bytes = stats.free_bytes;
    s.largest_free_bytes = stats.largest_free_bytes;
    s.fragmentation = stats.free_bytes == 0
                          ? 0.0
                          : 1.0 - static_cast<double>(stats.largest_free_bytes) / static_cast<double>(stats.free_bytes);
    s.objects_freed = stats.objects_freed;
    s.bytes_freed = stats.bytes_freed;
    s.live_objects = stats.objects_live;
    s.pause_ns = stats.pause_ns;
    last_collection_ns = ns_now();
    s.time_ns = last_collection_ns;
    // The dead were reported (on_free, swept) before the collection ends: every tag's live
    // bytes are now what the collection found reachable.
    for (const TagStats& t : tag_table) {
        s.bytes_allocated += t.bytes_allocated;
        if (t.live_bytes != 0) s.live_by_tag.push_back(TagBytes{t.tag, t.live_bytes});
    }
    timeline.push_back(std::move(s));
    if (config.timeline_limit != 0 && timeline.size() > config.timeline_limit) {
        // Drop a batch, not one, so a long run costs O(1) amortised per collection.
        std::size_t drop = timeline.size() - config.timeline_limit / 2;
        if (config.timeline_limit < 2) drop = timeline.size() - config.timeline_limit;
        timeline.erase(timeline.begin(), timeline.begin() + static_cast<std::ptrdiff_t>(drop));
    }
    if (config.snapshot_every != 0) keep_series_snapshot();
    stream_collection();
    if (low_alarm_blocks == 0) return;
    std::size_t largest_blocks = stats.largest_free_bytes / kBlockBytes;
    if (largest_blocks >= low_alarm_blocks) {
        low_alarm_armed = true;
    } else if (low_alarm_armed) {
        fire_low_free_run(largest_blocks, false);
    }
}

// The low-free-run alarm fires once when the largest run drops below the threshold, and re-arms
// when a collection finds it back above.
void Profiler::State::fire_low_free_run(std::size_t largest_blocks, bool on_out_of_memory) {
    low_alarm_armed = false;
    AlarmEvent event;
    event.kind = AlarmKind::low_free_run;
    event.collection = epoch;
    event.n_blocks = largest_blocks;
    event.threshold_blocks = low_alarm_blocks;
    event.on_out_of_memory = on_out_of_memory;
    fire(event, low_alarm_fn);
}

void Profiler::State::out_of_memory(std::size_t n_bytes) {
    ++out_of_memory_events;
    if (oom_log.size() < config.alarm_log_limit) oom_log.push_back(OutOfMemoryEvent{epoch, n_bytes});
    stream_out_of_memory(OutOfMemoryEvent{epoch, n_bytes});
    if (low_alarm_blocks == 0 || !low_alarm_on_oom || !low_alarm_armed || heap == nullptr) return;
    std::size_t largest_blocks = heap->info().max_free;
    if (largest_blocks < low_alarm_blocks) fire_low_free_run(largest_blocks, true);
}

}  // namespace uheap
