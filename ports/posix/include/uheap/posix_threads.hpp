// SPDX-License-Identifier: MIT
/// @file
/// A shared heap on POSIX threads (outside the core library: it uses the C++ standard library's
/// mutex and condition variable, thread_local storage, and on Linux signals).
///
///     uheap::posix::Threads threads;              // cooperative stops (safe points)
///     threads.enable(*heap);                      // before other threads use the heap
///     uheap::posix::Attached main_thread(threads, *heap);
///     std::thread worker([&] { uheap::posix::Attached me(threads, *heap); ... heap->alloc(...) ... });
///
/// With Threads::Stop::signals (Linux), a collection stops the other attached threads with a
/// signal, as Boehm GC does: they need no safe points.
#pragma once

#include <condition_variable>
#include <atomic>
#include <mutex>

#include "uheap/heap.hpp"

namespace uheap::posix {

class Threads {
public:
    enum class Stop {
        cooperative,  ///< threads park at Heap::safe_point(), in Heap::blocking() and entering the heap
        signals,      ///< Linux: threads that are not parked are stopped by a signal (suspend_signal)
    };
    /// `suspend_signal` (Stop::signals only) must be a signal the host does not use; the
    /// default is Boehm GC's on Linux (SIGPWR). Every Threads object of a process uses the same.
    explicit Threads(Stop stop = Stop::cooperative, int suspend_signal = 0);
    ~Threads();
    Threads(const Threads&) = delete;
    Threads& operator=(const Threads&) = delete;

    /// heap.enable_threads() with these hooks. unsupported: Stop::signals off Linux.
    Status enable(Heap& heap);
    /// Attaches the calling thread, its stack bounds read from the system (pthread_getattr_np).
    Status attach(Heap& heap);
    /// Detaches the calling thread.
    void detach(Heap& heap);
    ThreadSet& set() { return set_; }

    // The hooks (public for the C-style function pointers; not for hosts to call).
    static void lock_hook(void* self);
    static void unlock_hook(void* self);
    static void wait_hook(void* self);
    static void notify_hook(void* self);
    static ThreadRecord* current_hook(void* self);
    static void stop_hook(ThreadSet& set, void* self);
    static void resume_hook(ThreadSet& set, void* self);

private:
    Stop stop_;
    int suspend_signal_;
    std::mutex mutex_;
    std::condition_variable_any changed_;
    std::atomic<unsigned> notified_{0};  ///< notify_all() calls: a waiter spins on it before it sleeps
    /// On a cache line of its own: every allocation reads it (caches_open, stopping, the
    /// current hook), and the mutex beside it is written by every refill.
    alignas(64) ThreadSet set_{};
};

/// Attaches the calling thread for the lifetime of the object (RAII).
class Attached {
public:
    Attached(Threads& threads, Heap& heap) : threads_(threads), heap_(heap), status_(threads.attach(heap)) {}
    ~Attached() {
        if (status_ == Status::ok) threads_.detach(heap_);
    }
    Attached(const Attached&) = delete;
    Attached& operator=(const Attached&) = delete;
    Status status() const { return status_; }
    /// The calling thread's record while attached (for Heap::alloc(ThreadRecord&, ...)), else null.
    ThreadRecord* record() const { return status_ == Status::ok ? Threads::current_hook(&threads_) : nullptr; }

private:
    Threads& threads_;
    Heap& heap_;
    Status status_;
};

}  // namespace uheap::posix
