// SPDX-License-Identifier: MIT
/// @file
/// The memory profiler: per-tag tables, a per-collection timeline, a size histogram, leak
/// suspects, alarms, and JSON/CSV export with a heap snapshot. A separate component (target
/// uheap::profiler) built on the public EventHooks; unlike the core it allocates (STL, malloc).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "uheap/export.h"
#include "uheap/heap.hpp"

namespace uheap {

/// Knobs fixed when the profiler is made (all can also be changed later with set_config()).
struct ProfilerConfig {
    /// An object is a leak suspect once it has survived this many collections.
    std::uint64_t leak_min_age = 3;
    /// How many leak suspects (largest first) reports and leak_suspects() list.
    std::size_t leak_limit = 10;
    /// Keep at most this many timeline samples (the oldest are dropped first); 0 = all.
    std::size_t timeline_limit = 0;
    /// Keep at most this many fired alarms in the alarm log (the first ones are kept); 0 = none.
    std::size_t alarm_log_limit = 256;
    /// Leak suspects come from tags whose live bytes after each collection grew over this many
    /// of the last collections (growing_tags()); objects that live as long as the program sit in
    /// tags that do not grow, and stay off the list.
    std::size_t growth_window = 8;
    /// Take a heap snapshot after every this many collections and keep it in snapshots(), so a
    /// report can show the heap map at any moment of the run; 0 = off. Each costs a heap walk.
    std::size_t snapshot_every = 0;
    /// Keep at most this many of those snapshots: when full, every other one is dropped and the
    /// interval doubles, so they stay evenly spread over the whole run.
    std::size_t snapshot_limit = 32;
    /// Record the call stack of every Nth allocation (its call site, in call_sites()); 0 = off.
    /// 1 records every allocation: exact, and costly (a stack walk each).
    std::size_t site_sample_every = 0;
    /// Return addresses kept per sampled stack (at most 64), from the allocating call outwards.
    /// The heap's and the profiler's own frames come first (two to five of them, with inlining);
    /// the report tool skips them by name.
    std::size_t site_frames = 12;
};

/// What the profiler knows about one tag (the small number a host passes to Heap::alloc()).
struct TagStats {
    std::uint16_t tag = 0;              ///< the tag these figures are for
    std::uint64_t live_objects = 0;     ///< objects of this tag alive now
    std::uint64_t live_bytes = 0;       ///< their whole-block bytes
    std::uint64_t peak_live_bytes = 0;  ///< most live_bytes ever seen
    std::uint64_t allocations = 0;      ///< objects allocated, cumulative (realloc moves excluded)
    std::uint64_t bytes_allocated = 0;  ///< bytes of those, plus growth by realloc(), cumulative
    std::uint64_t reallocs = 0;         ///< realloc() calls that resized an object of this tag
    std::uint64_t frees = 0;            ///< objects released by free() / realloc(p, 0)
    std::uint64_t swept = 0;            ///< objects released by collections
};

/// A tag's live bytes at one moment.
struct TagBytes {
    std::uint16_t tag = 0;    ///< the tag
    std::uint64_t bytes = 0;  ///< its live bytes (whole blocks)
};

/// One sample of the timeline, taken when a collection finishes (from CollectionStats).
struct TimelineSample {
    std::uint64_t collection = 0;        ///< the heap's collection index (1 = its first)
    std::size_t used_bytes = 0;          ///< after the sweep
    std::size_t free_bytes = 0;          ///< after the sweep
    std::size_t largest_free_bytes = 0;  ///< the longest free run, in bytes
    double fragmentation = 0.0;          ///< 1 - largest_free / free (0 when nothing is free)
    std::size_t objects_freed = 0;       ///< objects the sweep freed
    std::size_t bytes_freed = 0;         ///< their whole-block bytes
    std::size_t live_objects = 0;        ///< objects that survived
    std::uint64_t pause_ns = 0;          ///< collect_start() to the end of the sweep
    std::uint64_t time_ns = 0;           ///< when it ended, from attach(), on the heap's clock (Heap::now_ns())
    std::uint64_t bytes_allocated = 0;   ///< bytes allocated since attach(), as of this collection
    /// Every tag's live bytes after this collection (tags with none left out), in tag order:
    /// what the collection found reachable, for per-tag curves and leak growth.
    std::vector<TagBytes> live_by_tag;
};

/// Allocations whose size in blocks lies in [min_blocks, max_blocks] (a power-of-two bucket).
struct SizeBucket {
    std::size_t min_blocks = 0;  ///< a power of two
    std::size_t max_blocks = 0;  ///< 2 * min_blocks - 1
    std::uint64_t count = 0;     ///< allocations seen of a size in the bucket, cumulative (realloc moves excluded)
    std::uint64_t bytes = 0;     ///< their whole-block bytes when allocated
};

/// A tag whose live bytes after each collection grew over the growth window (growing_tags()).
struct GrowingTag {
    std::uint16_t tag = 0;             ///< the tag
    std::uint64_t first_bytes = 0;     ///< its live bytes after the window's first collection
    std::uint64_t last_bytes = 0;      ///< after the last one
    std::uint64_t collections = 0;     ///< collections in the window (2 or more)
    std::uint64_t rises = 0;           ///< steps of the window in which it grew
};

/// An object of a growing tag that has survived at least ProfilerConfig::leak_min_age
/// collections and was born inside the growth window.
struct LeakSuspect {
    std::size_t area = 0;     ///< index of the area holding it
    std::size_t offset = 0;   ///< bytes from the start of that area's pool (not an address)
    std::size_t block = 0;    ///< offset / kBlockBytes
    std::uint16_t tag = 0;    ///< its tag (0 for objects already on the heap at attach())
    std::size_t bytes = 0;    ///< whole-block size
    std::uint64_t age = 0;    ///< collections survived since it was allocated (or first seen)
};

/// Which alarm fired.
enum class AlarmKind : std::uint8_t {
    large_alloc,    ///< an allocation of at least the threshold in blocks
    low_free_run,   ///< the largest free run fell below the threshold in blocks
};

/// What an alarm callback receives.
struct AlarmEvent {
    AlarmKind kind = AlarmKind::large_alloc;  ///< which alarm fired
    std::uint64_t collection = 0;        ///< collections completed when it fired
    std::size_t n_blocks = 0;            ///< large_alloc: the object's size; low_free_run: the largest free run
    std::size_t threshold_blocks = 0;    ///< the configured threshold
    std::uint16_t tag = 0;               ///< large_alloc: the object's tag
    bool on_out_of_memory = false;       ///< low_free_run: seen at an out-of-memory, not a collection end
};

/// An allocation that returned null for lack of space (EventHooks::on_out_of_memory).
struct OutOfMemoryEvent {
    std::uint64_t collection = 0;  ///< collections completed when it happened
    std::size_t n_bytes = 0;       ///< the size asked for
};

/// Called when an alarm fires. It runs inside a heap operation: it may read the heap (info,
/// counters, size_of) but must not allocate, free or collect on it.
using AlarmFn = std::function<void(const AlarmEvent&)>;

/// One span of a heap snapshot: an object or a maximal free run (see Heap::walk()).
struct SnapshotSpan {
    std::size_t first_block = 0;  ///< block number inside the area
    std::size_t n_blocks = 0;     ///< length of the object or of the free run, in blocks
    bool object = false;   ///< false: a free run
    unsigned flags = 0;    ///< AllocFlag bits of the object
    std::int32_t tag = -1; ///< the object's tag if the profiler saw it allocated, else -1
    /// Collections the object has survived: 0 means it was allocated since the last one, so no
    /// collection has judged it yet (it may be garbage); -1 for a free run or an object the
    /// profiler never saw allocated.
    std::int64_t age = -1;
    /// The call site (CallSite::id) recorded for the object if its allocation was sampled
    /// (ProfilerConfig::site_sample_every), else -1.
    std::int32_t site = -1;
};

/// One area of a snapshot: its pool size and every span, in address order.
struct SnapshotArea {
    std::size_t pool_blocks = 0;      ///< blocks in the area's pool
    std::vector<SnapshotSpan> spans;  ///< every object and free run, in address order
};

/// How take_snapshot() takes its picture.
enum class SnapshotMode : std::uint8_t {
    now,              ///< the heap as it is: objects allocated since the last collection are unjudged (age 0)
    after_collection  ///< collect() first, so every object shown was reachable (what leak hunting wants)
};

/// The heap's block map at one moment, taken with Profiler::take_snapshot().
struct HeapSnapshot {
    bool taken = false;             ///< false: no take_snapshot() since the last attach() or reset()
    bool after_collection = false;  ///< taken right after a collection (SnapshotMode::after_collection)
    std::uint64_t collection = 0;   ///< collections completed when it was taken
    /// Nanoseconds from the end of the last collection to the snapshot (0 if none since attach()).
    std::uint64_t ns_since_collection = 0;
    /// When it was taken: nanoseconds on the heap's clock since the profiler attached.
    std::uint64_t time_ns = 0;
    std::vector<SnapshotArea> areas;  ///< one per area of the heap, in Heap::area_pool() order
};

/// Where sampled allocations came from: one distinct call stack with one tag.
struct CallSite {
    std::uint32_t id = 0;                ///< its index in Profiler::call_sites()
    std::uint16_t tag = 0;               ///< the tag of the allocations
    std::vector<std::uintptr_t> frames;  ///< return addresses, innermost (the allocating call) first
    std::uint64_t samples = 0;           ///< sampled allocations from here
    std::uint64_t sampled_bytes = 0;     ///< their whole-block bytes
};

/// A loaded executable or shared library, so a report can turn addresses into source lines
/// (the address minus `base` is what addr2line takes for a position-independent binary).
struct LoadedModule {
    std::string path;         ///< the file it was loaded from
    std::uintptr_t base = 0;  ///< the address it was loaded at
    std::uintptr_t end = 0;   ///< one past its last mapped byte
};

/// Tables exported by write_csv().
enum class CsvTable : std::uint8_t {
    tags,       ///< Profiler::tags(), with each tag's name
    timeline,   ///< Profiler::timeline()
    histogram,  ///< Profiler::histogram()
    leaks,      ///< Profiler::leak_suspects(), with each tag's name
    alarms      ///< Profiler::alarm_log()
};

/// Observes one heap through its EventHooks and keeps the statistics above.
///
/// Not thread-safe (like the Heap). While attached, the profiler owns the heap's EventHooks: a
/// host that wants its own hooks as well must chain them itself. Detach (or destroy the profiler)
/// before the heap's memory is released.
class UHEAP_PROFILER_API Profiler {
public:
    /// A profiler with `config`, attached to no heap.
    explicit Profiler(const ProfilerConfig& config = {});
    ~Profiler();  ///< detaches
    Profiler(const Profiler&) = delete;
    Profiler& operator=(const Profiler&) = delete;

    // ---- attaching ----------------------------------------------------------------------

    /// Installs the profiler's EventHooks on `heap` (detaching from any previous heap first) and
    /// starts from empty statistics (tag names and alarms are kept). Objects already on the heap
    /// are recorded as tag 0, born now. O(blocks / 64 + objects).
    void attach(Heap& heap);
    /// Restores an empty EventHooks{} on the heap; the statistics stay readable. No-op if detached.
    void detach();
    bool attached() const;  ///< true while attached to a heap
    Heap* heap() const;  ///< the heap attached to, or null

    /// Forgets every statistic (tag names and alarms are kept). Objects on an attached heap are
    /// re-recorded as in attach().
    void reset();
    /// Replaces the configuration. It applies from the next event or query; nothing recorded is
    /// dropped now.
    void set_config(const ProfilerConfig& config);
    const ProfilerConfig& config() const;  ///< the configuration in force

    // ---- tags and alarms ----------------------------------------------------------------

    /// Names a tag in reports ("list", "str"...). Empty name: forget it.
    void set_tag_name(std::uint16_t tag, const std::string& name);
    /// The name of `tag`, or "" if none was set.
    const std::string& tag_name(std::uint16_t tag) const;

    /// Calls `fn` for every allocation of at least `min_blocks` blocks (0 or an empty fn: off).
    void set_large_alloc_alarm(std::size_t min_blocks, AlarmFn fn);
    /// Calls `fn` when the largest free run is seen below `below_blocks` blocks: at a collection
    /// end, and at an out-of-memory if `check_on_out_of_memory`. Edge-triggered: it fires once,
    /// then re-arms when a collection sees the run back at or above the threshold. 0: off.
    void set_low_free_run_alarm(std::size_t below_blocks, AlarmFn fn, bool check_on_out_of_memory = true);

    // ---- what it recorded ---------------------------------------------------------------

    /// Every tag that has been seen or named, in tag order.
    std::vector<TagStats> tags() const;
    /// The statistics of one tag (all zero if never seen).
    TagStats tag_stats(std::uint16_t tag) const;
    /// One sample per collection, oldest first.
    const std::vector<TimelineSample>& timeline() const;
    /// Allocation sizes in power-of-two buckets of blocks, from 1 block up to the largest
    /// non-empty bucket (empty vector if nothing was allocated).
    std::vector<SizeBucket> histogram() const;
    /// Tags whose live bytes after each collection grew over the last config().growth_window
    /// collections of the timeline: more at the end than at the start, and rising in at least
    /// half of the steps. Largest growth first. O(window x tags).
    std::vector<GrowingTag> growing_tags() const;
    /// Objects of growing tags that have survived at least config().leak_min_age collections,
    /// born inside the growth window: the tag that grew most first, then largest, older first,
    /// lower address; at most config().leak_limit. Objects as old as the window (interned
    /// names, the program's tables) are left out: their tags do not grow. O(tracked objects).
    std::vector<LeakSuspect> leak_suspects() const;
    /// The alarms that fired, in order (at most config().alarm_log_limit).
    const std::vector<AlarmEvent>& alarm_log() const;
    /// The out-of-memory events, in order (at most config().alarm_log_limit; the first are kept).
    const std::vector<OutOfMemoryEvent>& out_of_memory_log() const;
    /// Collections the heap had completed at the last event the profiler saw.
    std::uint64_t collection_index() const;
    /// Objects the profiler tracks now (its view of the live set).
    std::size_t tracked_objects() const;

    /// Walks the attached heap and keeps the result as the snapshot that write_json() embeds;
    /// with SnapshotMode::after_collection it collects first. No-op when detached.
    /// O(blocks / 64 + objects + free runs), plus the collection.
    void take_snapshot(SnapshotMode mode = SnapshotMode::now);
    /// The last take_snapshot() (HeapSnapshot::taken is false if none since attach() or reset()).
    const HeapSnapshot& snapshot() const;
    /// The snapshots taken every config().snapshot_every collections, oldest first (right after
    /// their collection: after_collection is true). Empty when that is 0.
    const std::vector<HeapSnapshot>& snapshots() const;
    /// Every call site recorded by sampling (config().site_sample_every), by id.
    const std::vector<CallSite>& call_sites() const;
    /// The modules mapped in this process now, for symbolising call sites (empty where the
    /// platform cannot list them).
    static std::vector<LoadedModule> loaded_modules();

    // ---- export (docs/profiling.md describes every field) ---------------------------------

    /// The whole profile as JSON (format "uheap-profile", version 1). Deterministic: no
    /// addresses, only offsets; the snapshot is the last take_snapshot() (null if none).
    void write_json(std::ostream& out) const;
    std::string json() const;  ///< write_json() into a string
    /// One table as CSV: a header line, then one row per entry.
    void write_csv(std::ostream& out, CsvTable table) const;
    std::string csv(CsvTable table) const;  ///< write_csv() into a string
    /// For a host's exit path: take_snapshot(mode), then write_json() to `path`. Returns false
    /// if the file cannot be written.
    bool save_json(const std::string& path, SnapshotMode mode = SnapshotMode::now);

    /// Writes the profile as the run goes, to `path` (truncated): one JSON record per line
    /// (format "uheap-profile-stream", docs/profiling.md), each written and flushed when it
    /// happens: a header, then per collection its timeline sample with the tag table, histogram
    /// and growing tags, every snapshot taken (the series and take_snapshot()), out-of-memory
    /// events, alarms and tag names. A run that crashes or aborts leaves its profile up to the
    /// last record; uheap-report reads the file like a profile. Leak suspects are not streamed
    /// (they need the whole object table: save_json() has them). Each collection costs a line of
    /// I/O inside its end hook. Returns false if the file cannot be opened; a write error ends
    /// the stream (streaming() turns false). Replaces any stream already open.
    bool stream_to(const std::string& path);
    /// Closes the stream (also done by the destructor). No-op when none is open.
    void end_stream();
    bool streaming() const;  ///< a stream is open and has not failed

    struct State;  ///< the implementation (profiler/profiler_state.hpp)

private:
    std::unique_ptr<State> state_;
};

}  // namespace uheap
