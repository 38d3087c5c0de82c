// SPDX-License-Identifier: MIT
// The ThreadHooks of a shared heap on POSIX threads: std::mutex and std::condition_variable_any,
// a thread_local list of the calling thread's records (one per Threads object it attached
// through), and on Linux the stop by signal (Boehm GC's scheme): the collector signals each
// attached thread that is not parked; the handler spills the registers into its own frame,
// publishes the innermost address, acknowledges on a semaphore and waits on a futex (a system
// call, safe in a handler: one signal, where Boehm sends a second to resume); the collector waits
// for every acknowledgement, scans, then wakes them and waits for the acknowledgements again (so
// no thread is still in the handler when the next stop begins).
// (ThreadSanitizer defers a signal that arrives while a thread is blocked in pthread_mutex_lock
// until the lock is taken, and the collector holds it: under TSan a thread waiting for the heap
// never acknowledges. tests/threads skips the signal test there; see docs/embedding.md.)
#include "uheap/posix_threads.hpp"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <thread>

namespace uheap::posix {
namespace {

/// One attachment of this thread: its record and what the signal stop needs.
struct alignas(64) PerThread {  // (its record is written by every allocation: a line of its own)
    const Threads* owner = nullptr;
    ThreadRecord record{};
    pthread_t id{};
    bool stopped = false;           ///< signalled by the current stop (the stopper's, under its lock)
    std::atomic<int> resume{0};     ///< 1: the stop is over (a futex word)
    PerThread* next = nullptr;
};

thread_local PerThread* tls_attached = nullptr;

PerThread* find(const Threads* owner) {
    for (PerThread* p = tls_attached; p != nullptr; p = p->next) {
        if (p->owner == owner) return p;
    }
    return nullptr;
}

// One signal stop at a time in the process (the handler finds its record through g_stopper).
std::mutex g_stop_mutex;
std::atomic<const Threads*> g_stopper{nullptr};
sem_t g_ack;
int g_suspend_signal = 0;
std::once_flag g_installed;

void wait_for_acks(int n) {
    for (; n > 0; --n) {
        while (sem_wait(&g_ack) != 0 && errno == EINTR) {
        }
    }
}

// Runs on the stopped thread's own stack, below its interrupted frames (and below the context
// the kernel saved, registers included).
__attribute__((noinline)) void suspend_handler(int) {
    const int saved_errno = errno;
    PerThread* me = find(g_stopper.load(std::memory_order_acquire));
    if (me != nullptr) {
        std::jmp_buf registers;
        __builtin_unwind_init();
        setjmp(registers);
        const void* top = __builtin_frame_address(0);
        if (static_cast<const void*>(&registers) < top) top = &registers;
        me->record.stack_top = top;
        sem_post(&g_ack);
        while (me->resume.load(std::memory_order_acquire) == 0) {
            syscall(SYS_futex, reinterpret_cast<int*>(&me->resume), FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
        }
        me->resume.store(0, std::memory_order_relaxed);
        sem_post(&g_ack);
    }
    errno = saved_errno;
}

void install_handler(int suspend_signal) {
    g_suspend_signal = suspend_signal;
    sem_init(&g_ack, 0, 0);
    struct sigaction action {};
    sigfillset(&action.sa_mask);  // no other signal runs on top of the handler
    action.sa_flags = SA_RESTART;
    action.sa_handler = suspend_handler;
    sigaction(suspend_signal, &action, nullptr);
}

}  // namespace

Threads::Threads(Stop stop, int suspend_signal)
#ifdef __linux__
    : stop_(stop), suspend_signal_(suspend_signal != 0 ? suspend_signal : SIGPWR)
#else
    : stop_(stop), suspend_signal_(suspend_signal)
#endif
{
}

Threads::~Threads() = default;

Status Threads::enable(Heap& heap) {
    ThreadHooks& h = set_.hooks;
    h.lock = lock_hook;
    h.unlock = unlock_hook;
    h.wait = wait_hook;
    h.notify_all = notify_hook;
    h.current = current_hook;
    h.user = this;
    if (stop_ == Stop::signals) {
#ifdef __linux__
        std::call_once(g_installed, install_handler, suspend_signal_);
        if (g_suspend_signal != suspend_signal_) return Status::invalid_argument;
        h.stop_others = stop_hook;
        h.resume_others = resume_hook;
#else
        return Status::unsupported;
#endif
    }
    return heap.enable_threads(&set_);
}

// The stack's highest address, from the system: for the main thread glibc reads it from the
// process's mappings, for others it is what pthread_create gave.
Status Threads::attach(Heap& heap) {
    if (find(this) != nullptr) return Status::already_registered;
    pthread_attr_t attr;
    void* low = nullptr;
    std::size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return Status::unsupported;
    pthread_attr_getstack(&attr, &low, &size);
    pthread_attr_destroy(&attr);
    auto* p = new PerThread;
    p->owner = this;
    p->id = pthread_self();
    p->record.host = p;
    p->next = tls_attached;
    tls_attached = p;
    Status s = heap.attach_thread(&p->record, static_cast<char*>(low) + size);
    if (s != Status::ok) {
        tls_attached = p->next;
        delete p;
    }
    return s;
}

void Threads::detach(Heap& heap) {
    PerThread* p = find(this);
    if (p == nullptr) return;
    heap.detach_thread();  // first: no stop signals it any more
    for (PerThread** link = &tls_attached; *link != nullptr; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            break;
        }
    }
    delete p;
}

// Spins a little before sleeping: the heap holds its lock for a refill or a parking thread's
// handover, a few microseconds, and a sleep and wake-up costs more than that (with a cache
// refill every few hundred allocations, two threads slept 150 times per million allocations).
void Threads::lock_hook(void* self) {
    std::mutex& m = static_cast<Threads*>(self)->mutex_;
    for (int i = 0; i < 200; ++i) {
        if (m.try_lock()) return;
        std::this_thread::yield();
    }
    m.lock();
}
void Threads::unlock_hook(void* self) { static_cast<Threads*>(self)->mutex_.unlock(); }
// Spins (yielding) for a short while before it sleeps: the heap waits here for a thread to
// park at the start of a collection, and a parked thread for the collection's end, both
// usually tens of microseconds, less than a sleep and wake-up costs here. (The hook may return
// spuriously; the heap re-checks its condition.)
void Threads::wait_hook(void* self) {
    auto* t = static_cast<Threads*>(self);
    const unsigned seen = t->notified_.load(std::memory_order_relaxed);
    t->mutex_.unlock();
    for (int i = 0; i < 2000 && t->notified_.load(std::memory_order_relaxed) == seen; ++i) std::this_thread::yield();
    t->mutex_.lock();
    if (t->notified_.load(std::memory_order_relaxed) == seen) t->changed_.wait(t->mutex_);
}
void Threads::notify_hook(void* self) {
    auto* t = static_cast<Threads*>(self);
    t->notified_.fetch_add(1, std::memory_order_relaxed);  // (under the mutex)
    t->changed_.notify_all();
}
ThreadRecord* Threads::current_hook(void* self) {
    PerThread* p = find(static_cast<Threads*>(self));
    return p != nullptr ? &p->record : nullptr;
}

// With the heap's lock held by the collector: every attached thread but it that is not parked.
void Threads::stop_hook(ThreadSet& set, void* self) {
    g_stop_mutex.lock();
    g_stopper.store(static_cast<Threads*>(self), std::memory_order_release);
    int signalled = 0;
    for (ThreadRecord* r = set.first; r != nullptr; r = r->next) {
        if (r == set.collector || r->parked) continue;
        auto* p = static_cast<PerThread*>(r->host);
        p->stopped = pthread_kill(p->id, g_suspend_signal) == 0;
        signalled += p->stopped ? 1 : 0;
    }
    wait_for_acks(signalled);
}

void Threads::resume_hook(ThreadSet& set, void*) {
    int resumed = 0;
    for (ThreadRecord* r = set.first; r != nullptr; r = r->next) {
        auto* p = static_cast<PerThread*>(r->host);
        if (r == set.collector || !p->stopped) continue;
        p->stopped = false;
        p->resume.store(1, std::memory_order_release);
        syscall(SYS_futex, reinterpret_cast<int*>(&p->resume), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
        ++resumed;
    }
    wait_for_acks(resumed);
    g_stopper.store(nullptr, std::memory_order_release);
    g_stop_mutex.unlock();
}

}  // namespace uheap::posix
