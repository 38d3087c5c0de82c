// SPDX-License-Identifier: MIT
/// @file
/// The Heap: a fixed-block pool over caller memory with a conservative mark-and-sweep collector.
///
/// A Heap lives inside the first region the host hands to create(): its control data, block
/// tables and mark stack are carved from that region, so the library never calls an allocator.
/// A host that keeps such state in static memory (MicroPython does) may give the control data
/// and the mark stack memory of their own (HeapConfig), and the region is all tables and pool.
/// A Heap is single-threaded until enable_threads() (threads.hpp): then every operation takes
/// the host's lock and a collection stops and scans every attached thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uheap/config.hpp"
#include "uheap/events.hpp"
#include "uheap/export.h"
#include "uheap/mem_info.hpp"
#include "uheap/threads.hpp"

/// Everything uheap declares for C++ hosts: the Heap, its configuration, reports and hooks, the
/// C++ conveniences (cxx.hpp) and the profiler (profiler.hpp).
namespace uheap {

/// What an operation did. Operations that return a pointer return null on failure and leave the
/// reason in Heap::last_status().
enum class Status : std::uint8_t {
    ok = 0,            ///< success
    null_region,       ///< create()/add_area(): the region pointer is null
    region_too_small,  ///< create()/add_area(): no room for control data, tables and one block
    size_overflow,     ///< region end wraps the address space, or a byte count overflows when rounded
    invalid_argument,  ///< an argument the call cannot use: host mark-stack memory that holds no entry, control memory smaller than control_bytes(), a null registration node
    foreign_pointer,   ///< the pointer is not inside any area of this heap
    not_object_start,  ///< inside a pool but not the first byte of an object
    already_free,      ///< the block is free: a double free, or a pointer to freed memory
    locked,            ///< refused: lock() is held, or a collection / finaliser is running
    collecting,        ///< refused: a collection is running (collect from a finaliser, nested start)
    not_collecting,    ///< collect_root()/collect_end() without collect_start()
    out_of_memory,     ///< no run of blocks large enough, after collecting and growing
    too_large,         ///< the request exceeds every area and growth cannot help (no grow
                       ///< callback, or half the address space or more)
    corrupted,         ///< reserved: no longer returned (the free space is kept out of the pool,
                       ///< where a host cannot forge it); the value stays so others keep theirs
    weakly_referenced, ///< free() of an object flagged weak (MicroPython forbids it), or a
                       ///< realloc() that would move one; nothing freed or moved
    pinned,            ///< free()/realloc() of an object a realloc() is moving right now
    overlap,           ///< add_area(): the region overlaps an area or the heap's control data
    already_registered,///< add_root_range()/add_weak_slot() of a node that is already linked
    no_roots,          ///< collect()/collect_step(): the heap knows no root at all (no stack base,
                       ///< no root range, no root callback, no pin), so everything would be
                       ///< freed; nothing was collected (sweep_all() frees everything on purpose)
    unsupported,       ///< the call needs a feature this library was built without (config.hpp,
                       ///< features()); nothing was done
    not_attached,      ///< a heap shared by threads (enable_threads()) called from a thread that
                       ///< has not attached: its stack would be no root; nothing was done
};

/// Static, human-readable name of a status ("ok", "already_free", ...).
UHEAP_API const char* status_name(Status status);

/// The version of the library linked, "MAJOR.MINOR.PATCH" (static text). The headers compiled
/// against give theirs in uheap/version.h (UHEAP_VERSION_STRING).
UHEAP_API const char* version();

/// The features built into the library linked, as Feature bits (config.hpp). Equal to
/// kBuiltFeatures when the host was compiled with the library's UHEAP_FEATURE_* values.
UHEAP_API unsigned features();

/// Flags for alloc(). Combine with |.
enum AllocFlag : unsigned {
    kFinaliser = 1u,  ///< call the finaliser callback once when the object dies (MicroPython's value)
    kNoScan = 2u,     ///< contents are never read by the collector (pointer-free data)
    kWeak = 4u,       ///< weakly referenced: report its death to the weak callback (see set_weak)
    /// The object's last word holds a DestructorFn that a collection calls when the object dies,
    /// in place of the finaliser callback (make<T> uses it, so ~T() and a host finaliser work
    /// side by side). Such an object takes at least two blocks (the flag lives on its first
    /// tail). The word is zero until the host writes it; zero runs nothing. Not with realloc().
    kDestructor = 8u,
    /// With kNoScan: the memory need not be zeroed (as malloc() and Boehm's GC_MALLOC_ATOMIC do
    /// not), for a buffer the host fills itself; objects of three blocks or more are handed out
    /// as they are (smaller ones are zeroed anyway, which costs less than the test).
    /// The collector never reads it, so stale words in it retain nothing. Ignored otherwise: an
    /// object the collector scans (a one-block one is always scanned) is always zeroed, and so is
    /// a kDestructor object (its last word must start zero).
    kUninitialised = 16u,
};

/// What a kDestructor object keeps in its last word: called once, with the object's start, when
/// a collection finds it dead (in the finalisers' order and phase).
using DestructorFn = void (*)(void* object);

/// The mask hide_pointer() applies: the top bit (so a hidden heap pointer is never a pointer into
/// the same object, nor on 64-bit targets any user-space address) and the low bit (so it is never
/// block-aligned, never an object start).
inline constexpr std::uintptr_t kHiddenPointerMask = (~std::uintptr_t(0) >> 1 ^ ~std::uintptr_t(0)) | 1u;

/// A pointer disguised so that conservative scanning cannot see it: what weak slots hold (a weak
/// reference on the C stack or in a root range would otherwise keep its object alive). Null stays
/// zero, so zeroed memory is a null weak reference. Bijective except that the odd value
/// kHiddenPointerMask (never an object) reads back as null.
inline void* hide_pointer(const void* ptr) {
    auto p = reinterpret_cast<std::uintptr_t>(ptr);
    return reinterpret_cast<void*>(p == 0 ? 0 : p ^ kHiddenPointerMask);
}
/// The pointer hide_pointer() disguised (null for zero).
inline void* reveal_pointer(const void* hidden) {
    auto h = reinterpret_cast<std::uintptr_t>(hidden);
    return reinterpret_cast<void*>(h == 0 ? 0 : h ^ kHiddenPointerMask);
}

/// HeapConfig::poison_freed's default: on in debug builds of the code that makes the config,
/// when the library has it (UHEAP_FEATURE_POISON).
#ifdef NDEBUG
inline constexpr bool kPoisonFreedByDefault = false;
#else
inline constexpr bool kPoisonFreedByDefault = built::kPoison;
#endif

/// Options fixed when the heap is created.
struct HeapConfig {
    /// Entries of the explicit mark stack (two words each), carved from the first region.
    /// 0 (the default): sized from the region, default_mark_stack_entries(), four times that with
    /// `incremental` (a cycle's first step and the write barrier push without tracing, so the
    /// stack holds every root; 0.1 % of the region). Any value >= 1 is correct; a small stack
    /// costs only time (an overflow rescans the marked objects of a few blocks, never the heap).
    std::size_t mark_stack_entries = 0;
    /// The host's own memory for the mark stack (MicroPython's ports pass the static stack its
    /// state already has), instead of carving one from the region: `mark_stack_bytes` bytes at
    /// `mark_stack`, any alignment, used only during collections, never freed by the heap.
    /// Then mark_stack_entries is ignored; the memory must hold at least one entry.
    void* mark_stack = nullptr;
    std::size_t mark_stack_bytes = 0;  ///< size of the memory at `mark_stack`; ignored when it is null
    /// The host's own memory for the heap's control data and the first area's descriptor
    /// (Heap::control_bytes() bytes, any alignment), instead of the start of the region: the
    /// Heap then lives there, and the region holds only tables and pool (the MicroPython port
    /// passes static memory, where py/gc.c keeps its own state). It must outlive the heap and
    /// not overlap the region (overlap); too small is invalid_argument.
    void* control = nullptr;
    std::size_t control_bytes = 0;  ///< size of the memory at `control`; ignored when it is null
    /// Accept pointers into the middle of an object as references (C++ hosts holding member
    /// pointers). Off: MicroPython's rule, only a pointer to an object's first byte retains it.
    /// (Options that need a feature the library was built without make create() fail with
    /// unsupported: interior_pointers, incremental, poison_freed; config.hpp.)
    bool interior_pointers = false;
    /// Debug aid (Lua's "stress" mode): collect before every allocation.
    bool collect_on_every_alloc = false;
    /// Sweep lazily (the default): a collection ends once the dead are found, finalised and
    /// counted, and their blocks are freed in the tables later, in address order, as allocation
    /// reaches them or the host calls sweep_step() (the next collection finishes what is left).
    /// What the host sees is the same either way (docs/design.md, "Lazy sweeping"). Off: the
    /// collection sweeps the whole heap before it returns, as it always does in a build without
    /// UHEAP_FEATURE_LAZY_SWEEP.
    bool lazy_sweep = true;
    /// Incremental marking (docs/design.md, "Incremental collection"): a collection runs as
    /// collect_step() calls of bounded work with the host's code running in between, and the
    /// host promises to call write_barrier() on every store of a pointer into a heap object.
    /// Automatic collections then start a cycle and allocation does steps as it goes (pacing).
    /// Off (the default): a collection marks everything in one stop; no barrier is needed.
    bool incremental = false;
    /// Freed blocks are made inaccessible to the host: filled with a pattern, and reported to
    /// AddressSanitizer (when the process runs under it) and Valgrind's memcheck (when the
    /// library was built with its headers and runs under it), so a host that uses an object the
    /// collector freed (a forgotten root) is stopped at the faulting line. On by default in
    /// debug builds of the host (NDEBUG not defined); costs a fill per freed block.
    bool poison_freed = kPoisonFreedByDefault;
};

/// A root range the host registers for as long as it holds it: `n_words` words at `words` are
/// scanned conservatively at every collection. The node is owned by the host and linked by the
/// heap (no allocation); unregister it before it goes out of scope. The host may change `words`
/// and `n_words` at any time outside a collection (a VM stack growing and shrinking): each
/// collection reads them afresh.
struct RootRange {
    void* const* words = nullptr;  ///< first word of the range
    std::size_t n_words = 0;       ///< words in the range (0: nothing scanned)
    RootRange* prev = nullptr;  ///< maintained by the heap
    RootRange* next = nullptr;  ///< maintained by the heap
};

/// A weak slot: `*slot` holds a pointer disguised by hide_pointer() (write it with hide_pointer(),
/// read it with reveal_pointer()), so that no conservative scan sees it wherever the word lives:
/// on the C stack, in a root range, in a scanned object. A collection that finds the object it
/// names unreachable sets `*slot` to zero (null) before any finaliser runs. Values that do not
/// name an object are left as they are. Host-owned node, linked by the heap. The node may itself live inside a heap
/// object (e.g. a kNoScan | kFinaliser weak-reference object) if that object's finaliser
/// unregisters it: slots are cleared before finalisers run, and the memory goes at the sweep.
struct WeakSlot {
    void** slot = nullptr;     ///< the word a collection clears when the object it names dies
    WeakSlot* prev = nullptr;  ///< maintained by the heap
    WeakSlot* next = nullptr;  ///< maintained by the heap
};

/// Called once per dead object with the finaliser flag, before anything is freed: area by area
/// in the order the areas were added, in address order within each. May free; alloc, collect,
/// collect_root and collect_end are refused inside it (docs/design.md §4 has the whole table).
using FinaliserFn = void (*)(void* user, void* object);
/// Called once per dead object with the weak flag, before the sweep. Dead objects are visited in
/// the finalisers' order; for each, its finaliser (if flagged) runs first, then this callback.
using WeakFreedFn = void (*)(void* user, void* object);
/// Called at the very end of a collection, after the sweep, when allocation is allowed again;
/// an allocation here that does not fit fails (out_of_memory) instead of collecting again.
using WeakSweepFn = void (*)(void* user);
/// Called by collect() between collect_start() and collect_end(); reports roots with collect_root().
using RootFn = void (*)(void* user);
/// Replaces collect() for automatic collections (out of memory, threshold); must itself call
/// collect_start(), report roots, and call collect_end(). MicroPython's gc_collect() is one.
using CollectFn = void (*)(void* user);
/// Asked for a new area when an allocation fails after a collection. Returns true and fills
/// `*region` / `*region_bytes` (at least `min_region_bytes`) to grant one.
using GrowFn = bool (*)(void* user, std::size_t min_region_bytes, void** region, std::size_t* region_bytes);
/// Receives a grown area back once a sweep finds it empty.
using ReleaseFn = void (*)(void* user, void* region, std::size_t region_bytes);
/// Monotonic nanoseconds, for pause times. The default uses the platform clock where there is one.
using ClockFn = std::uint64_t (*)(void* user);

/// Overwrites `n_bytes` of the calling thread's stack below the caller's frame with zeros (on
/// x86-64 and Cortex-M from the stack pointer down, leaving no slot of its own unwritten).
/// Conservative stack scanning sees stale words that dead frames left behind; a host calls this
/// at quiet points (after start-up, between REPL lines) so old pointers cannot retain garbage.
UHEAP_API void clear_stack(std::size_t n_bytes);

/// A garbage-collected heap over memory the host hands in. Made only by create(), which places
/// it inside the region (or in HeapConfig::control); there is no destroy: once the host stops
/// using the heap, its memory is the host's again. Not copyable; not thread-safe.
class UHEAP_API Heap {
public:
    // ---- creation ------------------------------------------------------------------------

    /// Lays a heap over `region_bytes` bytes at `region` (any alignment).
    /// Returns the heap, which lives inside the region (or in HeapConfig::control), or null with
    /// `*status` set. Fails iff region is null (null_region), its end or the control memory's
    /// overflows (size_overflow), the host's mark-stack memory holds no entry or its control
    /// memory is smaller than control_bytes() (invalid_argument), the control memory overlaps
    /// the region (overlap), or the region cannot hold the control data (unless the host gave
    /// its own), the tables, the mark stack (unless the host gave one) and one block
    /// (region_too_small).
    /// On failure nothing is written.
    /// Complexity: O(region_bytes / kBlockBytes / 64) to clear the tables.
    static Heap* create(void* region, std::size_t region_bytes, const HeapConfig& config = {},
                        Status* status = nullptr);

    /// Adds another area over `region`; allocation uses areas in the order they were added.
    /// Fails iff create() would (except invalid_argument); nothing is written then. Refused
    /// (collecting) during a collection.
    Status add_area(void* region, std::size_t region_bytes);

    /// Bytes of control memory (HeapConfig::control) a heap needs, at any alignment. A
    /// compile-time bound for static storage: UHEAP_CONTROL_BYTES (uheap.h).
    static std::size_t control_bytes();

    /// Mark-stack entries a heap over `region_bytes` gets when the config does not say: one per
    /// 64 KiB of region (0.025 % of it), at least 16, at most 16384; with HeapConfig::incremental,
    /// one per 16 KiB (at most 16384).
    static std::size_t default_mark_stack_entries(std::size_t region_bytes, bool incremental = false);

    /// Ends the heap: every area's region is made accessible again to AddressSanitizer and
    /// Valgrind (undoing HeapConfig::poison_freed), so the host may reuse the memory. No
    /// finaliser runs; the heap must not be used afterwards. A host with poisoning on retires a
    /// heap before reusing its regions for anything else (a region on the stack: before the
    /// function returns). Refused (collecting) during a collection. O(areas + region bytes / 8)
    /// under a sanitizer, O(areas) otherwise.
    Status retire();

    /// Smallest region that yields an area able to hold one object of `n_bytes` (for grow
    /// callbacks). SIZE_MAX (no region can) if that size is not representable.
    static std::size_t region_bytes_for(std::size_t n_bytes);

    // ---- objects -------------------------------------------------------------------------

    /// Returns a zeroed, kBlockBytes-aligned object of at least `n_bytes`, or null.
    /// Null without error for n_bytes == 0. Fails iff the heap is locked or collecting (locked),
    /// n_bytes exceeds every area with no grow callback or is half the address space or more
    /// (too_large, decided without collecting), or no run fits after one collection (if automatic collection is on) and one growth
    /// attempt (out_of_memory; no_roots if that collection was refused because the heap knows no
    /// root at all, see collect()). May collect. `tag` is passed to EventHooks::on_alloc only.
    /// Placement: address-ordered first fit. Complexity: O(1) from the current run; otherwise a
    /// few word reads from a size hint, at worst O(log blocks) through the free-space tree; plus
    /// zeroing.
    void* alloc(std::size_t n_bytes, unsigned flags = 0, std::uint16_t tag = 0);

    /// Frees the object starting at `ptr` now, without running its finaliser (or destructor). Null is a no-op (ok).
    /// Ignored while lock()ed (locked), allowed during a collection (finalisers may free) except
    /// while marking or sweeping (collecting). Fails, changing nothing, for foreign_pointer,
    /// not_object_start, already_free, an object flagged weak (weakly_referenced), and one a
    /// realloc() is moving (pinned). Registrations inside the object are unlinked, and weak slots
    /// naming any byte of it read null at once (never the next object there). Nothing is
    /// written into the freed blocks, unless HeapConfig::poison_freed. Complexity: O(1), plus O(registered nodes) when any are
    /// registered.
    Status free(void* ptr);

    /// Resizes the object at `ptr`, MicroPython's gc_realloc: null ptr allocates; 0 bytes frees
    /// and returns null; the same block count returns ptr; shrinking is in place; growing is in
    /// place when enough free blocks follow (the new bytes zeroed); otherwise the object moves
    /// only if `allow_move` (contents and flags kept; root ranges and weak slots registered inside
    /// it move with it, and weak slots naming it name the copy). Weak slots naming a byte a
    /// shrink cuts off read null. On failure returns null and the original is intact. Fails like alloc(),
    /// and with weakly_referenced for a move of an object flagged weak (its address is its
    /// identity), pinned for an object an outer realloc() is moving. May collect when it moves:
    /// the original is pinned through that collection (a root that free() refuses).
    void* realloc(void* ptr, std::size_t n_bytes, bool allow_move = true);

    /// Whole-block size of the object starting at `ptr`; 0 for null, foreign, interior or free
    /// pointers. Complexity: O(object blocks / 64).
    std::size_t size_of(const void* ptr) const;

    /// The first byte of the object that `ptr` points into (its start or any byte inside it),
    /// or null if `ptr` is not inside an object of this heap. O(1) for an object start,
    /// O(distance to the start / 64) otherwise. RAII handles use it to hold object starts.
    void* object_start(const void* ptr) const;

    /// The AllocFlag bits the object at `ptr` carries (0 if it is not an object start).
    /// kNoScan is only kept on objects of two blocks or more: a one-block object is always
    /// scanned (docs/design.md, "Four bits per block").
    unsigned flags_of(const void* ptr) const;

    /// Flags the object at `ptr` as weakly referenced (MicroPython's gc_weakref_mark): when it
    /// dies, the weak-freed callback receives it. Fails like free() for a non-object.
    Status set_weak(void* ptr);

    // ---- collection ----------------------------------------------------------------------

    /// A full collection: collect_start(), the root callback, the C stack (if set_stack_base()
    /// was called), collect_end(). Refused (collecting) while a collection runs, which includes
    /// every callback the collection makes. Refused (no_roots, nothing collected) when the heap
    /// knows no root at all: no stack base, no root range or Root<T>, no root callback, no pin;
    /// every object would die (a host that forgot set_stack_base()). sweep_all() frees
    /// everything on purpose; a host whose roots are all elsewhere registers an empty range. Objects freed: counters().last_collect_freed.
    /// During an incremental cycle it finishes that cycle instead (that is the collection):
    /// objects the cycle's allocations left were born marked and survive it, so a host that
    /// wants everything unreachable now freed calls collect() twice.
    Status collect();

    /// The three-step form for hosts that report roots themselves (MicroPython's ports).
    /// Registered root ranges are scanned when collect_end() begins marking.
    Status collect_start();
    /// Treats `n_words` words as possible pointers; each that points at an object's first byte
    /// (or anywhere inside, with interior_pointers) marks it and everything it reaches. Only
    /// between collect_start() and collect_end() (else not_collecting) and not from finalisers
    /// or weak callbacks (collecting); last_status() says which, and ok after a scan.
    void collect_root(void* const* words, std::size_t n_words);
    /// Scans this thread's callee-saved registers and C stack, from here to set_stack_base().
    /// last_status(): ok, no_roots without a stack base (nothing scanned), or as collect_root().
    void collect_stack();
    /// Finishes marking, runs finalisers, reports weak deaths, sweeps, then calls the weak-sweep
    /// callback. Fails (not_collecting) without a collection in progress, and (collecting) from
    /// inside the collection's own callbacks, the root callback included.
    Status collect_end();

    /// A collection with no roots: every finaliser runs and every object is freed.
    Status sweep_all();

    // ---- bounded pauses (HeapConfig::incremental, lazy sweeping, idle time) -----------------

    /// Does about `budget_words` words of marking (at least one object's worth) and returns.
    /// With no cycle running, it first starts one: per-collection state, the root callback, the
    /// C stack (if set_stack_base() was called), registered ranges and pins are shaded (marked,
    /// not yet scanned). When nothing is left to mark, the same call runs the final phase: the
    /// roots again and every object write_barrier() recorded, then finalisers, weak callbacks
    /// and the census, as at the end of collect(); the cycle is then over and its sweep pending.
    /// Between steps the host runs: it may allocate (new objects are born marked), free, and
    /// store pointers, calling write_barrier() for each store into a heap object.
    /// Refused with invalid_argument unless HeapConfig::incremental, with collecting from a
    /// collection's callbacks or during a three-step collection, with locked while lock()ed, with
    /// no_roots when it would start a cycle in a heap that knows no root (as collect()).
    /// Complexity: O(budget_words + roots) per step; the final phase is O(roots + recorded).
    Status collect_step(std::size_t budget_words);

    /// True while an incremental cycle is between steps: write_barrier() records stores then.
    bool is_marking() const;

    /// The write barrier of incremental marking: call it after storing a pointer into the heap
    /// object at `holder` (its first byte, or any byte of it). One inline test when no cycle runs;
    /// during one, a holder already marked is marked for another scan (a backward barrier), so
    /// the store cannot hide an object from the collector. Stores into roots (stack, registered
    /// ranges) need no barrier: the final phase scans the roots again. Initialising stores into
    /// an object allocated during a cycle need it too: born marked, that object is not scanned.
    void write_barrier(const void* holder) {
        if (marking_) record_store(holder);
    }
    /// The same for one store whose value is known: `value` was stored into the object at
    /// `holder`. During a cycle, if the holder is marked, the value is marked (a forward barrier),
    /// so the holder is not scanned again: cheaper for hosts that store into large objects
    /// (arrays, tables, VM frames). Values that are not objects of this heap are ignored.
    void write_barrier(const void* holder, const void* value) {
        if (marking_) record_store(holder, value);
    }

    /// The host's idle time, until `deadline_ns` (the clock of set_clock()): finishes a pending
    /// lazy sweep, does incremental steps of a running cycle, and with HeapConfig::incremental
    /// starts a cycle that pacing says is due; stops at the deadline between bounded pieces.
    /// Returns true if work remains. Never runs a stop-the-world collection.
    bool collect_idle(std::uint64_t deadline_ns);

    /// When collections start and how hard allocation helps (Lua's pause and step multiplier).
    /// `pause_percent` > 100: after each collection, the threshold (set_threshold()) becomes
    /// what lets use grow to pause_percent % of what survived (200: a collection when the heap
    /// holds twice the live data); 0 turns pacing off (the threshold stays as set). With
    /// HeapConfig::incremental, reaching the threshold starts a cycle, and every allocation
    /// during one does a step of `step_words_per_block` words for each block it takes, so
    /// marking keeps ahead of allocation; and the threshold is never later than what leaves the
    /// cycle room to finish at that rate (the words of what survived over `step_words_per_block`,
    /// plus a quarter), so a large `pause_percent` (1000) means "as late as the heap allows".
    /// A heap too full for that rate even when a cycle starts at once marks faster in that cycle
    /// (more words per block, in more frequent steps of the same size).
    void set_pacing(unsigned pause_percent, std::size_t step_words_per_block = 64);

    /// Sweeps up to `max_blocks` blocks of a lazy sweep (0: none), in address order, and returns
    /// the blocks still to sweep (0: the sweep is done). For a host's idle time: what it sweeps
    /// here, allocation does not sweep later. Legal at any time; no host code runs.
    /// Complexity: O(max_blocks / 64 + areas).
    std::size_t sweep_step(std::size_t max_blocks);

    /// Records the base (highest address) of the calling thread's stack for collect_stack().
    /// (With threads, each attached thread's own base is in its ThreadRecord; this one is used
    /// by a thread that has not attached.)
    void set_stack_base(const void* stack_base);

    // ---- threads (threads.hpp; docs/embedding.md, "Threads") ----------------------------------

    /// Makes the heap shared by threads, once, before any thread but the creator uses it: from
    /// now on every operation takes `set->hooks.lock`, lock() depth is per thread, and each
    /// collection stops every other attached thread and scans its stack. `set` stays the
    /// host's and must outlive the heap's use. Fails with invalid_argument if a required hook is
    /// missing, already_registered if threads are enabled, collecting outside idle, and
    /// unsupported with HeapConfig::incremental (its barrier is not shared yet) or without
    /// stack scanning in the build. Small allocations then come from each thread's caches
    /// without the lock (ThreadCache); every other operation locks.
    Status enable_threads(ThreadSet* set);
    /// Attaches the calling thread, whose record `hooks.current()` must already return, with
    /// its stack's highest address. Until it detaches, its stack and registers are roots of every
    /// collection, and it must reach safe_point() regularly (cooperative stops) or be stoppable by
    /// stop_others. Fails with invalid_argument (no threads, null arguments, or current() is not
    /// `record`), already_registered if it is attached.
    Status attach_thread(ThreadRecord* record, const void* stack_base);
    /// Detaches the calling thread (before it exits); its stack is no root any more. Its lock()
    /// depth is dropped. No-op for a thread that is not attached.
    void detach_thread();
    /// A safe point: if another thread's collection is waiting for this one, it parks here until
    /// the collection ends. One relaxed load otherwise. No-op without threads.
    void safe_point();
    /// Runs `fn(arg)` with the calling thread parked, for a call that may block (I/O, a sleep, a
    /// lock of the host's): collections need not wait for it. `fn` must not touch heap memory nor
    /// call the heap; pointers it needs stay reachable from this frame. Returns when `fn` has
    /// returned and no collection is running. Without threads, just calls `fn(arg)`.
    void blocking(void (*fn)(void* arg), void* arg);
    /// alloc() for a thread that has its own record at hand (an interpreter's thread state):
    /// the same result, but a small allocation from the thread's cache skips the hooks'
    /// current() call. `caller` must be the calling thread's own record (checked in debug
    /// builds); anything else is alloc(n_bytes, flags, tag). Without threads, alloc().
    void* alloc(ThreadRecord& caller, std::size_t n_bytes, unsigned flags = 0, std::uint16_t tag = 0);

    /// Registers a host-owned range. O(1). Fails (already_registered, nothing changed) if the
    /// node is already linked into this heap's list. A node that lives inside a heap object is
    /// unlinked by the heap when that object is freed (explicitly or by a sweep) and moves with
    /// it when realloc() moves it.
    Status add_root_range(RootRange* range);
    void remove_root_range(RootRange* range);  ///< unregisters it (O(1)); unlinked nodes: no-op
    /// Registers a host-owned weak slot: as add_root_range().
    Status add_weak_slot(WeakSlot* slot);
    void remove_weak_slot(WeakSlot* slot);     ///< unregisters it (O(1)); unlinked nodes: no-op

    // ---- control -------------------------------------------------------------------------

    void lock();                    ///< nestable; while held alloc returns null and free is ignored
    void unlock();                  ///< undoes one lock(); extra unlocks are ignored
    bool is_locked() const;         ///< lock() held, or a collection running (MicroPython's rule)
    unsigned lock_depth() const;    ///< lock() calls not yet undone by unlock() (collections not counted)
    /// True from collect_start() until the sweep is done, when allocation is refused; false again
    /// while the collection's last callbacks run (on_collect_end, the weak-sweep callback).
    bool is_collecting() const;

    /// On (the default): an allocation may collect, at the threshold, in collect_on_every_alloc
    /// mode, and when it does not fit. Off: it never collects; one that does not fit fails unless
    /// the grow callback supplies an area.
    void set_auto_collect(bool enabled);
    bool auto_collect() const;      ///< whether allocation may collect (set_auto_collect())
    /// Collect before an allocation once `n_bytes` have been allocated since the last
    /// collection started (0 = off). Counted in whole blocks, rounded up: any n_bytes > 0 is at
    /// least one block. (MicroPython's gc.threshold() rounds down and treats 0 blocks as "before
    /// every allocation"; its port keeps that rule itself. Here, collect_on_every_alloc does that.)
    void set_threshold(std::size_t n_bytes);
    std::size_t threshold() const;             ///< the threshold in bytes (whole blocks), 0 = off
    std::size_t allocated_since_collect() const;  ///< bytes allocated since the last collection

    // ---- callbacks (each optional; `user` is passed back unchanged) --------------------------

    /// The callback collect() calls to report roots (RootFn); null: none. The three-step form
    /// does not call it.
    void set_root_callback(RootFn fn, void* user);
    /// The callback run for each dead object flagged kFinaliser (FinaliserFn); null: such objects
    /// die without a call. Objects flagged kDestructor (make<T>'s) run their own DestructorFn
    /// instead, so make<T> and a host finaliser work side by side.
    void set_finaliser(FinaliserFn fn, void* user);
    FinaliserFn finaliser() const;  ///< the finaliser in force, or null
    /// `freed` receives each dead object flagged kWeak (WeakFreedFn); `after_sweep` runs at the
    /// end of every collection (WeakSweepFn). Either may be null.
    void set_weak_callbacks(WeakFreedFn freed, WeakSweepFn after_sweep, void* user);
    /// What automatic collections run instead of collect() (CollectFn); null: collect().
    void set_collect_callback(CollectFn fn, void* user);
    /// `grow` is asked for a new area when an allocation does not fit even after the automatic
    /// collection (GrowFn; never during a collection); null: the heap never grows. `release`
    /// receives a grown area back once a sweep finds it empty (ReleaseFn; never the first area
    /// nor one from add_area()); null: grown areas are kept.
    void set_grow_callback(GrowFn grow, ReleaseFn release, void* user);
    /// The clock pause times are read from (ClockFn); null: the platform's monotonic clock
    /// (POSIX CLOCK_MONOTONIC), or pauses of 0 on targets without one.
    void set_clock(ClockFn fn, void* user);
    /// That clock, now (nanoseconds; the profiler times its samples with it). No lock taken.
    std::uint64_t now_ns() const;
    void set_event_hooks(const EventHooks& hooks);  ///< copied; pass EventHooks{} to clear
    EventHooks event_hooks() const;                 ///< the hooks in force (to chain or restore them)

    // ---- statistics and checks -----------------------------------------------------------

    /// Exact statistics, computed word-at-a-time over the block tables. O(blocks / 64). A
    /// pending lazy sweep is read through, not run: dead objects it has yet to free count as free.
    Info info() const;
    /// total, used and free only (MicroPython's gc_info_fast); other fields zero. O(areas).
    Info info_fast() const;
    /// Running counters. O(areas): used and peak bytes are summed from the areas when asked.
    Counters counters() const;
    /// MicroPython's two-line summary ("GC: total: ..., used: ..., free: ...").
    void dump_info(PrintFn print, void* print_user) const;
    /// MicroPython's block map: one character per block, 64 per line, free lines collapsed.
    /// Finishes a pending lazy sweep first, so the map shows no dead object.
    /// `letter` picks the character of each head (null: 'h'; marked heads print 'm').
    void dump_alloc_table(PrintFn print, void* print_user, LetterFn letter = nullptr,
                          void* letter_user = nullptr) const;
    /// Calls `fn` for every object and every free run, area by area in address order.
    /// `fn` must not change the heap. Finishes a pending lazy sweep first (dead objects are not
    /// walked). O(blocks / 64 + objects + free runs).
    void walk(WalkFn fn, void* user) const;
    /// Number of areas the heap spans now. O(1).
    std::size_t area_count() const;
    /// Where the pool of area `index` lies, areas numbered in the order they were added (a
    /// released one drops out); an empty AreaPool if out of range. O(index).
    AreaPool area_pool(std::size_t index) const;
    /// Checks every invariant (I1..I8 in docs/design.md) and reports the first broken one. A
    /// pending lazy sweep is checked as it stands (I8), not finished.
    /// O(blocks + free runs).
    VerifyReport verify() const;

    /// Status of the most recent operation that can fail.
    Status last_status() const;

    /// True iff `ptr` lies inside a block pool of this heap.
    bool contains(const void* ptr) const;

    Heap(const Heap&) = delete;
    Heap& operator=(const Heap&) = delete;

protected:
    Heap() = default;
    ~Heap() = default;
    void record_store(const void* holder);  ///< write_barrier() while marking
    void record_store(const void* holder, const void* value);  ///< write_barrier(holder, value) while marking
    // The two bytes the inline write_barrier() and the implementation share; kept here (not in
    // the implementation's state) so the barrier's test is one load from the heap pointer.
    bool marking_ = false;                  ///< an incremental cycle is between steps
    Status status = Status::ok;             ///< last_status()
};

}  // namespace uheap
