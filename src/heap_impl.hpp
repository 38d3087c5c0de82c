// SPDX-License-Identifier: MIT
// The heap's internal state, split by owner: the areas, the collector, the policy, the host's
// callbacks and the counters. Each part is written only by the files named beside it; the others
// read it or ask. This header is the map of who owns what.
//
//   AreaSet    areas.cpp      where memory is; the one pointer classification
//   (per area) allocator.cpp  block tables of objects, used blocks, high water; the free space
//                             (free_space.cpp) is derived from the tables
//   Collector  collector.cpp  the phase, roots, pins, weak slots, finalisers, the census of the dead
//              incremental.cpp  collect_step, the barrier's slow halves, pacing, idle time
//              mark.cpp       the mark stack, grey groups for its overflow
//              sweep.cpp      the sweep, eager or lazy (Area::sweep_from), and the first fit that
//                             sweeps before it hands blocks out
//   Policy     policy.cpp     locks, threshold, automatic collection, growth, out-of-memory retry
#pragma once

#include <cstddef>
#include <cstdint>

#include "block_table.hpp"
#include "free_space.hpp"
#include "phase.hpp"
#include "uheap/heap.hpp"

namespace uheap::detail {

using uheap::blocks_for_bytes;

/// Fragmentation as MicroPython users read it: the share of free memory outside the largest free
/// run, in thousandths. In size_t, since a 64-bit division is a libgcc call on 32-bit targets:
/// exact up to SIZE_MAX / 1000 free blocks (64 MiB of 16-byte blocks on 32-bit), both counts
/// scaled down together past that, so it never overflows.
inline unsigned fragmentation_permille(std::size_t largest_free_blocks, std::size_t free_blocks) {
    if (free_blocks == 0) return 0;
    std::size_t scale = free_blocks / (SIZE_MAX / 1000) + 1;
    return static_cast<unsigned>(1000 - largest_free_blocks / scale * 1000 / (free_blocks / scale));
}

/// Blocks one grey bit covers: a mark-stack overflow defers an object by setting the grey bit of
/// its head's group, and the marker rescans the marked heads of grey groups after the stack
/// drains (Area::grey). 1/8 bit per block.
inline constexpr std::size_t kGreyBlocks = 8;

/// True iff [a_begin, a_end) and [b_begin, b_end) share a byte.
inline bool ranges_overlap(std::uintptr_t a_begin, std::uintptr_t a_end, std::uintptr_t b_begin, std::uintptr_t b_end) {
    return a_begin < b_end && b_begin < a_end;
}

/// Bytes from `at` to the next multiple of `alignment` (a power of two): where an aligned object
/// starts inside memory the host hands in at any alignment.
inline std::size_t padding_to(std::uintptr_t at, std::size_t alignment) { return (alignment - at % alignment) % alignment; }

/// One region handed in by the host. Lives at the start of that region.
struct Area {
    static constexpr std::uint32_t kSwept = UINT32_MAX;
    Area* next = nullptr;
    unsigned char* pool = nullptr;   ///< first block, aligned to kBlockBytes
    std::size_t pool_bytes = 0;      ///< n_blocks * kBlockBytes
    BlockTables tables;
    FreeSpace space;                 ///< the free-space tree and the current run (free_space.hpp)
    /// Mark-stack overflow: bit g set = group [g * kGreyBlocks, (g + 1) * kGreyBlocks) may hold
    /// marked heads whose contents were not scanned yet. Clear outside a collection.
    Word* grey = nullptr;
    std::size_t grey_words = 0;
    bool any_grey = false;
    bool grown = false;              ///< came from the grow callback (handed back when empty)
    /// realloc()'s last object in this area and where it ends (resized_end 0: none). Growing a
    /// buffer by appends asks for the same object's length on every call, and reading it from
    /// the tables costs O(length / 64). Kept only while nothing but realloc() can change that
    /// object: freeing any object of the area and sweeping forget it (allocation only takes free
    /// blocks, so it never changes a live object's end). 32-bit block numbers (kMaxAreaBlocks),
    /// beside the two flags, so the descriptor does not grow on 64-bit targets.
    std::uint32_t resized_head = 0;
    std::uint32_t resized_end = 0;
    /// The lazy sweep (I8): blocks below sweep_from are swept; from there up to the high-water
    /// mark, an unmarked head is a dead object the sweep has yet to free (its finaliser has run,
    /// its blocks are already booked free) and a marked one is live. kSwept: nothing to sweep.
    /// A multiple of kWordBits, and no dead object runs on across it.
    std::uint32_t sweep_from = kSwept;
    std::size_t high_water = 0;      ///< I7: blocks [high_water, n_blocks) are free
    std::size_t used_blocks = 0;     ///< blocks in heads and tails
    void* region = nullptr;          ///< what the host handed in (also for release)
    std::size_t region_bytes = 0;

    std::uintptr_t pool_begin() const { return reinterpret_cast<std::uintptr_t>(pool); }  ///< for range checks
    bool contains(std::uintptr_t address) const { return address - pool_begin() < pool_bytes; }
    /// A lazy sweep has yet to pass part of the area. Never, to anything that looks, in a build
    /// without lazy sweeping: the collection sweeps before it returns (finish_sweep() alone sees
    /// its sweep pending, and reads sweep_from itself).
    bool sweep_pending() const { return built::kLazySweep && sweep_from != kSwept; }
    /// A head the lazy sweep has yet to free: dead since the last collection (I8).
    bool is_dead_unswept(std::size_t head) const { return built::kLazySweep && head >= sweep_from && !tables.is_marked(head); }
    void* ptr_of(std::size_t block) const { return pool + block * kBlockBytes; }
    std::size_t block_of(std::uintptr_t address) const { return (address - pool_begin()) / kBlockBytes; }
    /// True iff [begin, end) overlaps the region this area was laid over.
    bool region_overlaps(std::uintptr_t begin, std::uintptr_t end) const {
        auto mine = reinterpret_cast<std::uintptr_t>(region);
        return ranges_overlap(begin, end, mine, mine + region_bytes);
    }
};

/// Where an object lives: its area and head block.
struct ObjectRef {
    Area* area = nullptr;
    std::size_t block = 0;
    explicit operator bool() const { return area != nullptr; }
};

/// The areas of a heap, in the order they were added (allocation tries them in that order).
struct AreaSet {
    Area* first = nullptr;
    std::size_t count = 0;
    std::size_t metadata_bytes = 0;   ///< bytes of all regions not in pools
    std::size_t max_blocks = 0;       ///< blocks of the largest area
    /// The host's control memory (HeapConfig::control), if the heap lives there: no area may
    /// overlap it. Empty when the heap lives at the start of the first region.
    std::uintptr_t control_begin = 0;
    std::uintptr_t control_end = 0;

    Area* containing(std::uintptr_t address) const {
        for (Area* a = first; a != nullptr; a = a->next) {
            if (a->contains(address)) return a;
        }
        return nullptr;
    }

    /// The one pointer classification, used by free, size_of, realloc, marking, weak slots and
    /// (through Heap) the C API and the port. With kAnyByte a pointer anywhere inside an object
    /// names it (interior pointers); without, only its first byte does (MicroPython's rule).
    /// Returns the object, or an empty ObjectRef with the reason in `*why` (when asked: the mark
    /// loop does not ask, and the reason then costs nothing).
    template <bool kAnyByte>
    ObjectRef object_at(std::uintptr_t address, Status* why = nullptr) const {
        Area* area = containing(address);
        if (area == nullptr) {
            if (why != nullptr) *why = Status::foreign_pointer;
            return {};
        }
        std::uintptr_t offset = address - area->pool_begin();
        std::size_t block = offset / kBlockBytes;
        const BlockTables& t = area->tables;
        if constexpr (kAnyByte) {
            block = t.head_containing(block);
            if (block >= t.n_blocks) {
                if (why != nullptr) *why = Status::already_free;
                return {};
            }
        } else if (offset % kBlockBytes != 0 || !t.is_head(block)) {
            if (why != nullptr) *why = offset % kBlockBytes == 0 && t.is_free(block) ? Status::already_free : Status::not_object_start;
            return {};
        }
        if (why != nullptr) *why = Status::ok;
        return ObjectRef{area, block};
    }
    ObjectRef object_at(const void* ptr, bool any_byte, Status* why = nullptr) const {
        auto address = reinterpret_cast<std::uintptr_t>(ptr);
        return any_byte ? object_at<true>(address, why) : object_at<false>(address, why);
    }

    void append(Area* area);
    void remove(Area** link);
    /// True iff [begin, end) overlaps a region of an area or the host's control memory: the
    /// places the heap itself lives.
    bool overlaps(std::uintptr_t begin, std::uintptr_t end) const;
};

/// One entry of the explicit mark stack: a range of words still to scan.
struct MarkRange {
    void* const* begin;
    void* const* end;
};

/// realloc() pins the object it moves: a pinned object is a root of every collection and cannot
/// be freed until the move is done. Nodes live in realloc's frame, innermost first.
struct PinNode {
    const void* object;
    PinNode* below;
};

/// Everything a collection owns (collector.cpp, mark.cpp).
struct Collector {
    Phase phase = Phase::idle;
    bool ignore_roots = false;           ///< sweep_all(): no root is scanned
    bool shade_only = false;             ///< roots are marked and pushed, not traced (a cycle's first step)
    /// This collection runs as collect_step() calls (stepped), and an allocation that found the
    /// heap full ended it at once (forced: PauseKind::forced_final).
    enum class Cycle : std::uint8_t { none, stepped, forced } cycle = Cycle::none;
    MarkRange* stack = nullptr;          ///< the host's memory, or carved from the first region
    std::size_t capacity = 0;
    std::size_t depth = 0;
    PinNode* pins = nullptr;
    RootRange* roots = nullptr;
    WeakSlot* weak_slots = nullptr;
    const void* stack_base = nullptr;
    std::uint64_t started_ns = 0;
    std::size_t overflows = 0;           ///< this collection
    std::size_t freed_bytes = 0;         ///< by the last sweep
};

/// The mark stack as a marking loop holds it: the depth in a local the compiler can keep in a
/// register (a store into a table word may alias gc.depth, which would force a reload after
/// every mark), written back to the Collector when the loop ends.
struct MarkStackView {
    MarkRange* stack;
    std::size_t depth;
    std::size_t capacity;
    explicit MarkStackView(const Collector& gc) : stack(gc.stack), depth(gc.depth), capacity(gc.capacity) {}
};

/// Words of marking one paced incremental step does (policy.cpp, collector.cpp).
inline constexpr std::size_t kPacedStepWords = 4096;
/// The least threshold pacing sets, in blocks.
inline constexpr std::size_t kMinPacedBlocks = 16;

/// When to collect and what to do when memory runs out (policy.cpp).
struct Policy {
    unsigned locks = 0;
    bool auto_collect = true;
    std::uint16_t pause_percent = 0;     ///< set_pacing(): 0 = off
    std::size_t step_words_per_block = 64;  ///< set_pacing(): marking an allocation pays for, per block
    /// What this cycle's allocation pays, per block: step_words_per_block, or more when the heap is
    /// too full for that rate to finish the cycle in the room left (pace_cycle()).
    std::size_t cycle_step_words = 64;
    /// During an incremental cycle: the blocks_since_collect at which allocation owes the next
    /// paced step (kPacedStepWords / cycle_step_words blocks after the last one).
    std::size_t step_at_blocks = 0;
    std::size_t threshold_blocks = 0;    ///< 0 = off
    std::size_t blocks_since_collect = 0;
    /// alloc() may skip its lock, phase, threshold and stress checks while blocks_since_collect is
    /// below this (0 forces every allocation through them). Recomputed by refresh_fast_path()
    /// whenever an input changes, so the fast path tests one number (Lua's "GC debt" idea).
    std::size_t fast_path_limit = 0;
};

/// A feature's part of the heap's state: held when the feature is built; when it is not, no
/// room at all (a base class, so an empty one takes none: C++17 has no [[no_unique_address]]),
/// reads give a constant empty value the compiler folds, and writes do nothing (the public
/// setters refuse first: unsupported).
template <bool kBuilt, class T>
struct FeaturePart {
    T part{};
    const T& get() const { return part; }
    void set(const T& value) { part = value; }
};
template <class T>
struct FeaturePart<false, T> {
    static constexpr T kNone{};
    const T& get() const { return kNone; }
    void set(const T&) {}
};

struct FinaliserCallback {
    FinaliserFn fn = nullptr;
    void* user = nullptr;
};
struct WeakCallbacks {
    WeakFreedFn freed = nullptr;
    WeakSweepFn after_sweep = nullptr;
    void* user = nullptr;
};
struct GrowCallbacks {
    GrowFn grow = nullptr;
    ReleaseFn release = nullptr;
    void* user = nullptr;
};

/// The host's callbacks; `user` pointers are passed back unchanged. Those of a feature the
/// build leaves out take no room (FeaturePart).
struct Callbacks : FeaturePart<built::kFinalisers, FinaliserCallback>,
                   FeaturePart<built::kWeakReferences, WeakCallbacks>,
                   FeaturePart<built::kGrowth, GrowCallbacks>,
                   FeaturePart<built::kEventHooks, EventHooks> {
    RootFn root = nullptr;               void* root_user = nullptr;
    CollectFn collect = nullptr;         void* collect_user = nullptr;
    ClockFn clock = nullptr;             void* clock_user = nullptr;

    const FinaliserCallback& finaliser() const { return FeaturePart<built::kFinalisers, FinaliserCallback>::get(); }
    const WeakCallbacks& weak() const { return FeaturePart<built::kWeakReferences, WeakCallbacks>::get(); }
    const GrowCallbacks& growth() const { return FeaturePart<built::kGrowth, GrowCallbacks>::get(); }
    const EventHooks& hooks() const { return FeaturePart<built::kEventHooks, EventHooks>::get(); }
    void set_finaliser(const FinaliserCallback& c) { FeaturePart<built::kFinalisers, FinaliserCallback>::set(c); }
    void set_weak(const WeakCallbacks& c) { FeaturePart<built::kWeakReferences, WeakCallbacks>::set(c); }
    void set_growth(const GrowCallbacks& c) { FeaturePart<built::kGrowth, GrowCallbacks>::set(c); }
    void set_hooks(const EventHooks& c) { FeaturePart<built::kEventHooks, EventHooks>::set(c); }
};

/// What of HeapConfig the heap consults after create() (the rest sizes and places memory).
/// poison.cpp: freed blocks made inaccessible (fill, ASan, Valgrind), and accessible again.
void poison_blocks(void* begin, std::size_t n_bytes);
/// Accessible, contents undefined: blocks about to be handed out, a region a new area is laid over.
void unpoison_blocks(void* begin, std::size_t n_bytes);
void unpoison_region(void* begin, std::size_t n_bytes);  ///< a region the host gets back
void declare_defined(void* begin, std::size_t n_bytes);  ///< words a conservative scan copied (Valgrind)

/// One byte: beside Heap's two, the first word of HeapImpl on 32-bit (which makes room for
/// HeapImpl::threads within the control budget).
struct Options {
    bool interior_pointers : 1;
    bool collect_on_every_alloc : 1;
    bool lazy_sweep : 1;
    bool incremental : 1;
    bool poison_freed : 1;
};

struct HeapImpl final : Heap {
    Options config;
    AreaSet areas;
    /// enable_threads(): the host's lock and the attached threads (threads.cpp). Here, not with
    /// the rest: on 32-bit it fills the padding before the Collector's 64-bit field.
    ThreadSet* threads = nullptr;
    Collector gc;
    Policy policy;
    Callbacks cb;
    Counters stats;

    // The heap's options as the build allows them (config.hpp): each is a constant false in a
    // build without its feature, so the code behind it is never compiled in.
    bool interior() const { return built::kInteriorPointers && config.interior_pointers; }
    bool incremental() const { return built::kIncremental && config.incremental; }
    bool lazy() const { return built::kLazySweep && config.lazy_sweep; }
    bool poisoning() const { return built::kPoison && config.poison_freed; }
    /// An incremental cycle is running, between its steps (never, in a build without it).
    bool cycling() const { return built::kIncremental && gc.phase == Phase::incremental; }

    static HeapImpl& of(Heap& h) { return static_cast<HeapImpl&>(h); }
    static const HeapImpl& of(const Heap& h) { return static_cast<const HeapImpl&>(h); }
    /// For the readers that show every block (walk, dump_alloc_table): the heap with any
    /// lazy sweep finished, as an eager sweep would have left it. Finishing changes no object
    /// and runs no host code: no change a const caller could see. (verify() does not finish it:
    /// it checks the pending sweep as it stands, I8.)
    static const HeapImpl& swept(const Heap& h) {
        auto& self = const_cast<HeapImpl&>(of(h));
        self.finish_sweep();
        return self;
    }

    /// Answers whether `op` may run now (kAdmit), recording the refusal as the last status.
    bool admitted(Op op) {
        Status why = admit(op, gc.phase);
        if (why == Status::ok) return true;
        status = why;
        return false;
    }

    // areas.cpp
    static Area* lay_out_area(void* region, std::size_t region_bytes, std::size_t prefix_bytes,
                              void** prefix, void* descriptor, Status* status);

    // allocator.cpp
    /// The object starting at `ptr`, for the public calls: a dead object the lazy sweep has yet to
    /// free is already free to them, as it would be after an eager sweep.
    Status find_object(const void* ptr, ObjectRef* out) const {
        Status why;
        *out = areas.object_at(ptr, false, &why);
        if (*out && out->area->is_dead_unswept(out->block)) {
            *out = ObjectRef{};
            return Status::already_free;
        }
        return why == Status::not_object_start ? in_dead_unswept(ptr) : why;
    }
    Status in_dead_unswept(const void* ptr) const;
    void* allocate_blocks(std::size_t n_blocks, unsigned flags);
    void* commit_object(Area& area, std::size_t start, std::size_t n_blocks, unsigned flags);
    // Out of line on purpose, whatever the compiler's inlining budget says: the allocation fast
    // path reaches them by tail calls and so saves no register (GCC once inlined
    // allocate_slow() into Heap::alloc(), which then saved three registers on every call).
    [[gnu::noinline]] void* commit_spanning_object(Area& area, std::size_t start, std::size_t n_blocks, unsigned flags);
    [[gnu::noinline]] void* allocate_searching(Area& area, std::size_t n_blocks, unsigned flags, std::size_t n_bytes,
                                               std::uint16_t tag);
    [[gnu::noinline]] void* allocate_slow(std::size_t n_bytes, unsigned flags, std::uint16_t tag);
    [[gnu::noinline]] void* allocate_observed(std::size_t n_bytes, unsigned flags, std::uint16_t tag);
    void book_used(Area& area, std::size_t end, std::size_t n_blocks);
    std::size_t used_blocks_now() const;
    void note_peak();
    void settle_allocated();
    Counters derived_counters() const;
    void book_released(Area& area, std::size_t n_blocks);
    void blocks_freed(Area& area, std::size_t begin, std::size_t end);
    void release_object(Area& area, std::size_t head, FreeReason reason);
    void shrink_in_place(Area& area, std::size_t new_end, std::size_t old_end);
    bool grow_in_place(Area& area, std::size_t old_end, std::size_t extra);
    void* move_object(void* ptr, Area& area, std::size_t head, std::size_t n_bytes, unsigned flags);

    // policy.cpp
    void refresh_fast_path();
    /// What fast_path_limit is without an on_alloc hook: an observed allocation (a profiler's)
    /// takes the fast path's run while allocated blocks stay below it (allocate_observed()).
    std::size_t unobserved_fast_path_limit() const;
    void* allocate_by_policy(std::size_t n_bytes, std::size_t n_blocks, unsigned flags);
    void run_automatic_collection();
    bool could_ever_fit(std::size_t n_blocks) const;
    bool grow_for(std::size_t n_blocks);

    // collector.cpp
    bool is_pinned(const void* object) const;
    void enter(Phase phase);
    void begin_collection(bool ignore_roots);
    void finish_collection();
    void mark_pinned_and_registered();
    void clear_dead_weak_slots();
    void finalise_dead();
    void run_destructor(Area& area, std::size_t head);
    bool has_root_source() const;
    void redirect_weak_slots(std::uintptr_t begin, std::uintptr_t end, std::uintptr_t new_begin);
    void adopt_area(Area* area);  ///< poison.cpp
    void count_dead();
    void report_dead(Area& area, std::size_t word, Word dead_heads);
    void unlink_registrations_in(std::uintptr_t begin, std::uintptr_t end);
    void unlink_registrations_in_dead_objects();
    void relocate_registrations(std::uintptr_t old_begin, std::uintptr_t old_end, std::uintptr_t new_begin);
    void release_empty_areas();
    void notify_collection_end();
    void record_pause(PauseKind kind, std::uint64_t ns);
    void start_cycle();
    void incremental_step(std::size_t budget_words);
    void finish_cycle();
    void pace();
    void pace_cycle(std::size_t used, std::size_t* threshold);

    // mark.cpp
    template <bool kInteriorPointers>
    void mark_word(std::uintptr_t word, MarkStackView& s);
    void mark_head(Area& area, std::size_t block, MarkStackView& s);
    void mark_root_words(void* const* words, std::size_t n_words);
    void drain_view(MarkStackView& s);
    void push_object(Area& area, std::size_t head, std::size_t end, MarkStackView& s);
    void scan_grey();
    /// The object at `head` (marked) is scanned again later: its grey group's bit is set.
    static void defer_to_grey(Area& area, std::size_t head) {
        std::size_t group = head / kGreyBlocks;
        area.grey[group / kWordBits] |= Word(1) << (group % kWordBits);
        area.any_grey = true;
    }
    static Word grey_heads(const Area& area, std::size_t group);
    Word push_grey_heads(Area& area, std::size_t group, Word pending, MarkStackView& s);
    void push_grey_group(Area& area, std::size_t group, MarkStackView& s);
    /// Where a pass over the grey bits stands (take_grey_group).
    struct GreyCursor {
        Area* area = nullptr;   ///< null: the pass has not begun, or reached the end
        std::size_t word = 0;   ///< next grey word of `area` to look at
        bool found = false;     ///< this pass found a grey group in `area`
    };
    bool take_grey_group(GreyCursor& at, Area** area, std::size_t* group);
    bool mark_step(std::size_t budget_words);

    // sweep.cpp
    std::size_t sweep_area(Area& area, std::size_t until);
    void finish_sweep();
    /// First fit in the swept part (I8), the eager sweep's own path; only when the fit lies
    /// further on does the sweep move, out of line.
    std::size_t take_blocks(Area& area, std::size_t n_blocks) {
        std::size_t start = free_space_take(area.space, area.tables, n_blocks);  // below space.limit: I8
        if (start != kNoRun || !area.sweep_pending()) return start;
        return take_blocks_sweeping(area, n_blocks);
    }
    std::size_t take_blocks_sweeping(Area& area, std::size_t n_blocks);
    void sweep_through(Area& area, std::size_t end) {
        if (area.sweep_pending() && end > area.sweep_from) sweep_area(area, end);
    }

    // platform.cpp
    std::uint64_t now_ns() const;

    // threads.cpp
    ThreadRecord* enter_shared();
    void leave_shared(ThreadRecord* me);
    void stop_world();
    void resume_world();
    /// lock() calls that refuse the calling thread's allocations: its own with threads, else the heap's.
    unsigned caller_locks() const { return !built::kThreads || threads == nullptr ? policy.locks : shared_locks(); }
    unsigned shared_locks() const;
    unsigned& caller_lock_depth();  ///< the counter lock() and unlock() move: the caller's own with threads
    /// A stack to scan: the heap's base, or attached threads.
    bool has_stacks() const { return gc.stack_base != nullptr || (built::kThreads && threads != nullptr && threads->attached > 0); }
    /// Threads are enabled (never, in a build without them).
    bool shared() const { return built::kThreads && threads != nullptr; }
    void scan_other_threads(const ThreadRecord* me);
    void set_status(Status s) { status = s; }

    // thread_cache.cpp
    [[gnu::noinline]] void* allocate_shared(std::size_t n_bytes, unsigned flags, std::uint16_t tag);
    void* allocate_from_refill(ThreadRecord& me, std::size_t n_bytes, unsigned flags);
    void release_caches_of(ThreadRecord& r);
    void release_thread_caches();
    void mark_kept_thread_caches();
    std::size_t handed_out_by_caches() const;
};

/// The heap's lock around one public operation, when threads are enabled (one test otherwise).
/// Nested calls of the same thread (a finaliser's free()) pass through. A thread that has not
/// attached is refused: the operation returns at once, with Status::not_attached.
class SharedSection {
public:
    explicit SharedSection(HeapImpl& heap) : heap_(heap) {
        if (!built::kThreads || heap.threads == nullptr) return;
        me_ = heap.enter_shared();
        refused_ = me_ == nullptr;
    }
    explicit SharedSection(const HeapImpl& heap) : SharedSection(const_cast<HeapImpl&>(heap)) {}
    ~SharedSection() {
        if (built::kThreads && me_ != nullptr) heap_.leave_shared(me_);
    }
    SharedSection(const SharedSection&) = delete;
    SharedSection& operator=(const SharedSection&) = delete;
    /// The caller's own lock() depth (threads enabled and not refused).
    unsigned depth() const { return me_->lock_depth; }
    /// The caller's record (threads enabled and not refused).
    ThreadRecord& me() const { return *me_; }
    /// True (and the status set) if the caller may not use the heap.
    bool refused() const {
        if (built::kThreads && refused_) heap_.set_status(Status::not_attached);
        return built::kThreads && refused_;
    }

private:
    HeapImpl& heap_;
    ThreadRecord* me_ = nullptr;
    bool refused_ = false;
};

// Accounting shared by every way blocks become used (a new object, growth in place) or free (a
// freed object, a shrink, the sweep): the area's count, the high-water mark, the policy's debt.
// Nothing else is counted per allocation: counters() derives used_bytes from the areas' counts,
// bytes_allocated from the debt (settle_allocated), and the peak is noted before every release,
// since use only grows between releases.
inline void HeapImpl::book_used(Area& area, std::size_t end, std::size_t n_blocks) {
    area.used_blocks += n_blocks;
    if (end > area.high_water) area.high_water = end;
    policy.blocks_since_collect += n_blocks;
}

inline void HeapImpl::book_released(Area& area, std::size_t n_blocks) {
    note_peak();
    area.used_blocks -= n_blocks;
}

// Root ranges and weak slots are intrusive doubly linked lists of host-owned nodes: O(1) either
// way and no allocation. Both node types carry prev/next, so these helpers serve both.
template <class Node>
bool is_linked(const Node* first, const Node* node) {
    return node == first || (node->prev != nullptr && node->prev->next == node);
}

template <class Node>
Status link_front(Node*& first, Node* node) {
    if (node == nullptr) return Status::invalid_argument;
    // A node linked twice would close the list into a cycle that the next collection walks forever.
    if (is_linked(first, node)) return Status::already_registered;
    node->prev = nullptr;
    node->next = first;
    if (first != nullptr) first->prev = node;
    first = node;
    return Status::ok;
}

/// Unlinking a node that is not in the list does nothing.
template <class Node>
void unlink(Node*& first, Node* node) {
    if (node == nullptr || !is_linked(first, node)) return;
    if (node->prev != nullptr) {
        node->prev->next = node->next;
    } else {
        first = node->next;
    }
    if (node->next != nullptr) node->next->prev = node->prev;
    node->prev = node->next = nullptr;
}

}  // namespace uheap::detail
