// SPDX-License-Identifier: MIT
/// @file
/// One heap shared by several threads: the host's lock, the registry of attached threads, and
/// how a collection finds every thread's roots (docs/embedding.md, "Threads").
///
/// A heap is single-threaded until Heap::enable_threads() hands it a ThreadSet. From then on
/// every operation takes the host's lock (ThreadHooks) but small allocations, which come from
/// the calling thread's caches (ThreadCache), a thread's lock() depth is its own (as
/// MicroPython's per-thread gc_lock_depth), and a collection first stops every other attached
/// thread, in one of two ways the host chooses:
///
///   cooperative  each attached thread calls Heap::safe_point() now and then (its interpreter
///                loop, its allocation path), and runs blocking calls through Heap::blocking();
///                there, and while it waits for the heap's lock, it is *parked*: its registers
///                and stack are published and it touches no heap memory. The collector waits,
///                releasing the lock, until every other attached thread is parked. Portable: an
///                RTOS host needs only a mutex and a condition variable.
///   by signal    ThreadHooks::stop_others stops the threads that are not parked (on Linux,
///                ports/posix sends each a signal whose handler publishes its registers and stack
///                and waits), and resume_others lets them go. No safe points needed.
///
/// Then the collector scans its own stack and every other attached thread's published one.
#pragma once

#include <cstddef>

namespace uheap {

class Heap;
struct ThreadSet;

/// Object sizes, in blocks (1 to this), that a thread's allocations take from its own cache.
inline constexpr unsigned kThreadCacheSizes = 4;

/// One of a thread's allocation caches: objects of one size, laid end to end in [next, end),
/// each already an object of the heap (committed under the lock). Heap::alloc() hands them out
/// in order without the lock, zeroing each; the next collection releases what is left.
struct ThreadCache {
    unsigned char* next = nullptr;  ///< the next object to hand out (written by its thread alone)
    unsigned char* end = nullptr;   ///< past the last
};

/// One attached thread: host-owned memory (a thread_local object, a field of the host's thread
/// state) that stays in place while the thread is attached. The host sets `stack_base` and, if
/// it likes, `host`; the heap maintains the rest.
struct ThreadRecord {
    const void* stack_base = nullptr;  ///< the highest address of the thread's stack (attach_thread())
    void* host = nullptr;              ///< the host's own per-thread data (ports/posix keeps its thread id here)
    // ---- maintained by the heap (and by a stop_others implementation) ----
    /// Innermost address of the published stack: registers spilled below every live frame.
    /// Scanned from here to stack_base while the thread is parked or stopped.
    const void* stack_top = nullptr;
    unsigned lock_depth = 0;           ///< Heap::lock() calls of this thread not yet undone
    unsigned in_heap = 0;              ///< heap calls of this thread under way (a finaliser's free() nests)
    bool parked = false;               ///< published, and touches no heap memory until the stop ends
    /// Taking an object from a cache right now (read by a signal stop: that cache is kept).
    bool popping = false;
    ThreadRecord* prev = nullptr;
    ThreadRecord* next = nullptr;
    ThreadCache caches[kThreadCacheSizes]{};  ///< caches[n - 1]: objects of n blocks
    std::size_t handed_out = 0;        ///< objects the caches handed out, not yet in Counters::allocations
    unsigned refills = 0;              ///< refills since the last collection (each batch doubles, to a limit)
};

/// What a shared heap needs from the host's threads library. lock, unlock, wait, notify_all and
/// current are required; stop_others and resume_others are both set or both null.
struct ThreadHooks {
    void (*lock)(void* user) = nullptr;        ///< the heap's mutex (need not be recursive: the heap nests itself)
    void (*unlock)(void* user) = nullptr;
    /// A condition variable on that mutex: called with it held, releases it, sleeps until
    /// notify_all (or spuriously), takes it again and returns.
    void (*wait)(void* user) = nullptr;
    void (*notify_all)(void* user) = nullptr;
    /// The calling thread's record (the one it attached), or null if it has not attached.
    ThreadRecord* (*current)(void* user) = nullptr;
    /// Stops every attached thread but the caller that is not parked, and returns once each has
    /// set its stack_top (called with the lock held). Null: cooperative stops.
    void (*stop_others)(ThreadSet& set, void* user) = nullptr;
    /// Lets the threads stop_others stopped go on (called with the lock held).
    void (*resume_others)(ThreadSet& set, void* user) = nullptr;
    void* user = nullptr;
};

/// A heap's threads: host-owned memory that outlives the heap's use of it. The host fills
/// `hooks` before enable_threads(); the rest is the heap's (read it only under the lock).
struct ThreadSet {
    ThreadHooks hooks{};
    // ---- maintained by the heap ----
    ThreadRecord* first = nullptr;     ///< the attached threads
    std::size_t attached = 0;
    std::size_t parked = 0;            ///< attached threads parked (at a safe point, in blocking(), waiting to enter)
    ThreadRecord* collector = nullptr; ///< the thread whose collection stopped the others
    /// A collection wants the other threads stopped: written under the lock, and read by
    /// safe_point() without it, both as relaxed atomics (a plain bool, so C mirrors the struct).
    bool stopping = false;
    /// Threads may take objects from their caches: no collection is stopping them, and the
    /// allocation fast path's conditions hold (no on_alloc hook, no poisoning, no collection on
    /// every allocation). Written under the lock, read by Heap::alloc() without it, as `stopping`.
    bool caches_open = false;
};

}  // namespace uheap
