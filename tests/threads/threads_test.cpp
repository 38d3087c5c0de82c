// SPDX-License-Identifier: MIT
// One heap shared by threads (threads.hpp, ports/posix): every thread's roots found, nothing
// lost, lock depth per thread, blocked threads not holding up a collection, threads that have not
// attached refused. Pointers to live objects are kept only in the threads' locals (and so in
// their registers and stacks): the collector finds them there or the objects die. Freed blocks
// are poisoned, so an object freed while reachable fails its stamp check.
//
// UHEAP_THREAD_OPS sets the allocations per thread of the stress tests (default 250 000: four
// threads make the 10^6).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "uheap/posix_threads.hpp"

namespace {

using uheap::Heap;
using uheap::Status;
using uheap::posix::Attached;
using uheap::posix::Threads;

struct Node {
    Node* next;
    std::uint64_t stamp;
    std::uint64_t owner;
};

/// A Node's size on the heap: one block on 64-bit targets, two of 16 bytes on 32-bit ones.
constexpr std::size_t kNodeBytes = (sizeof(Node) + uheap::kBlockBytes - 1) / uheap::kBlockBytes * uheap::kBlockBytes;

std::uint64_t stamp_of(unsigned owner, std::uint64_t index) { return (std::uint64_t{owner} << 40) ^ (index * 0x9E3779B97F4A7C15u >> 24); }

std::size_t ops_per_thread() {
    const char* env = std::getenv("UHEAP_THREAD_OPS");
    return env != nullptr ? std::strtoull(env, nullptr, 10) : 250000;
}

/// Whether freed blocks are poisoned. Poisoning catches an object freed while reachable at
/// once, but it closes the threads' allocation caches (every allocation then takes the lock);
/// without it, the caches run, and a lost object shows as a changed stamp once reused.
enum class Poison { on, off };

/// A heap over a region of its own.
struct SharedHeap {
    explicit SharedHeap(std::size_t bytes, Threads::Stop stop = Threads::Stop::cooperative, Poison poison = Poison::on)
        : region(new unsigned char[bytes]), threads(stop) {
        uheap::HeapConfig config;
        config.poison_freed = poison == Poison::on;
        Status status = Status::ok;
        heap = Heap::create(region.get(), bytes, config, &status);
        EXPECT_EQ(status, Status::ok);
        EXPECT_EQ(threads.enable(*heap), Status::ok);
    }
    std::unique_ptr<unsigned char[]> region;
    Threads threads;
    Heap* heap = nullptr;
};

/// Runs `join` parked, so the other threads' collections need not wait for this one.
void join_parked(Heap& heap, std::vector<std::thread>& workers) {
    heap.blocking(
        [](void* arg) {
            for (std::thread& t : *static_cast<std::vector<std::thread>*>(arg)) t.join();
        },
        &workers);
}

// Builds lists of nodes held only by `head` (a local), checks every stamp before dropping one,
// and collects now and then; `lost` counts nodes whose stamp or owner changed under it.
// Odd threads pass their record to alloc() (Heap::alloc(ThreadRecord&, ...)), even ones do not.
__attribute__((noinline)) void churn_lists(Heap& heap, uheap::ThreadRecord* record, unsigned id, std::size_t ops, bool safe_points,
                                           std::atomic<std::uint64_t>& lost, std::atomic<std::uint64_t>& checked) {
    Node* head = nullptr;
    std::uint64_t length = 0;
    std::uint64_t rng = 0x2545F4914F6CDD1Du * (id + 1);
    auto check = [&] {
        std::uint64_t index = length;
        for (Node* p = head; p != nullptr; p = p->next) {
            --index;
            if (p->stamp != stamp_of(id, index) || p->owner != id) {
                ++lost;
                break;
            }
        }
        checked += length;
    };
    for (std::size_t i = 0; i < ops; ++i) {
        if (safe_points) heap.safe_point();
        auto* n = static_cast<Node*>(id % 2 == 1 ? heap.alloc(*record, sizeof(Node)) : heap.alloc(sizeof(Node)));
        if (n == nullptr) {  // full of the other threads' lists: start again
            check();
            head = nullptr;
            length = 0;
            continue;
        }
        n->next = head;
        n->stamp = stamp_of(id, length);
        n->owner = id;
        head = n;
        ++length;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if (length >= 64 && rng % 512 == 0) {
            check();
            head = nullptr;
            length = 0;
        }
        if (rng % 20011 == 0) heap.collect();
    }
    check();
}

void stress(Threads::Stop stop, bool safe_points, Poison poison = Poison::on) {
    SharedHeap shared(512 * 1024, stop, poison);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    ASSERT_EQ(main_thread.status(), Status::ok);
    const std::size_t ops = ops_per_thread();
    std::atomic<std::uint64_t> lost{0};
    std::atomic<std::uint64_t> checked{0};
    std::vector<std::thread> workers;
    for (unsigned id = 0; id < 4; ++id) {
        workers.emplace_back([&, id] {
            Attached me(shared.threads, heap);
            ASSERT_EQ(me.status(), Status::ok);
            churn_lists(heap, me.record(), id, ops, safe_points, lost, checked);
        });
    }
    join_parked(heap, workers);
    EXPECT_EQ(lost.load(), 0u);
    EXPECT_GT(checked.load(), ops);
    uheap::Counters c = heap.counters();
    EXPECT_GE(c.allocations, 4 * ops / 2);
    EXPECT_LE(c.allocations, 4 * ops);
    EXPECT_GT(c.collections, 10u);
    EXPECT_TRUE(heap.verify().ok()) << heap.verify().detail;
}

// The crash: a worker collecting under the host's lock used to scan from its own stack
// up to the main thread's stack base. Now each thread's own base is in its record.
TEST(Threads, AWorkerCollectsWhileTheMainThreadHoldsObjects) {
    SharedHeap shared(256 * 1024);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    ASSERT_EQ(main_thread.status(), Status::ok);
    auto* volatile kept = static_cast<Node*>(heap.alloc(sizeof(Node)));
    ASSERT_NE(kept, nullptr);
    kept->stamp = 42;
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
        Attached me(shared.threads, heap);
        ASSERT_EQ(me.status(), Status::ok);
        for (int i = 0; i < 50; ++i) {
            heap.alloc(sizeof(Node));  // garbage
            EXPECT_EQ(heap.collect(), Status::ok);
        }
    });
    join_parked(heap, workers);
    EXPECT_EQ(heap.size_of(kept), kNodeBytes);
    EXPECT_EQ(kept->stamp, 42u);
    EXPECT_GE(heap.counters().collections, 50u);
    EXPECT_GE(heap.counters().objects_collected, 40u);
}

TEST(Threads, FourThreadsLoseNothingStoppedAtSafePoints) { stress(Threads::Stop::cooperative, true); }
TEST(Threads, FourThreadsLoseNothingAllocatingFromTheirCaches) { stress(Threads::Stop::cooperative, true, Poison::off); }

#ifdef __linux__
#if defined(__SANITIZE_THREAD__)
#define UHEAP_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UHEAP_UNDER_TSAN 1
#endif
#endif
TEST(Threads, FourThreadsLoseNothingStoppedBySignals) {
#ifdef UHEAP_UNDER_TSAN
    // TSan holds back a signal sent to a thread blocked in pthread_mutex_lock until the lock is
    // taken, and the collector holds it: the stop would wait forever (ports/posix).
    GTEST_SKIP() << "signal stops cannot run under ThreadSanitizer";
#endif
    stress(Threads::Stop::signals, false);
}

// A signal may stop a thread anywhere, inside a take from its cache too (threads.hpp, popping).
TEST(Threads, FourThreadsLoseNothingAllocatingFromTheirCachesStoppedBySignals) {
#ifdef UHEAP_UNDER_TSAN
    GTEST_SKIP() << "signal stops cannot run under ThreadSanitizer";
#endif
    stress(Threads::Stop::signals, false, Poison::off);
}
#endif

// MicroPython's rule: gc_lock() depth is per thread.
TEST(Threads, LockDepthIsEachThreadsOwn) {
    SharedHeap shared(64 * 1024);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    heap.lock();
    EXPECT_EQ(heap.lock_depth(), 1u);
    EXPECT_EQ(heap.alloc(16), nullptr);
    EXPECT_EQ(heap.last_status(), Status::locked);
    bool worker_allocated = false;
    unsigned worker_depth = 99;
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
        Attached me(shared.threads, heap);
        worker_depth = heap.lock_depth();
        worker_allocated = heap.alloc(16) != nullptr;
    });
    join_parked(heap, workers);
    EXPECT_TRUE(worker_allocated);
    EXPECT_EQ(worker_depth, 0u);
    heap.unlock();
    EXPECT_NE(heap.alloc(16), nullptr);
}

// Cooperative stops: a thread blocked in blocking() is parked, so a collection goes ahead; the
// objects its frames hold survive it.
TEST(Threads, AThreadInABlockingCallDoesNotHoldUpACollection) {
    SharedHeap shared(64 * 1024);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    std::promise<void> collected;
    std::shared_future<void> done = collected.get_future().share();
    std::atomic<bool> blocked{false};
    bool survived = false;
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
        Attached me(shared.threads, heap);
        auto* volatile mine = static_cast<Node*>(heap.alloc(sizeof(Node)));
        mine->stamp = 7;
        struct Wait {
            std::atomic<bool>* blocked;
            std::shared_future<void>* done;
        } wait{&blocked, &done};
        heap.blocking(
            [](void* arg) {
                auto* w = static_cast<Wait*>(arg);
                w->blocked->store(true);
                w->done->wait();
            },
            &wait);
        survived = heap.size_of(mine) == kNodeBytes && mine->stamp == 7;
    });
    while (!blocked.load()) std::this_thread::yield();
    for (int i = 0; i < 8; ++i) heap.alloc(sizeof(Node));
    EXPECT_EQ(heap.collect(), Status::ok);  // would wait forever if the worker were not parked
    collected.set_value();
    join_parked(heap, workers);
    EXPECT_TRUE(survived);
}

// A thread spinning at safe points parks there for each collection another thread runs.
TEST(Threads, ASafePointParksForAnotherThreadsCollection) {
    SharedHeap shared(64 * 1024);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    std::atomic<bool> stop{false};
    std::atomic<bool> started{false};
    bool survived = false;
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
        Attached me(shared.threads, heap);
        auto* volatile mine = static_cast<Node*>(heap.alloc(sizeof(Node)));
        mine->stamp = 9;
        started.store(true);
        while (!stop.load()) heap.safe_point();
        survived = heap.size_of(mine) == kNodeBytes && mine->stamp == 9;
    });
    while (!started.load()) std::this_thread::yield();
    for (int i = 0; i < 20; ++i) {
        heap.alloc(sizeof(Node));
        EXPECT_EQ(heap.collect(), Status::ok);
    }
    stop.store(true);
    join_parked(heap, workers);
    EXPECT_TRUE(survived);
    EXPECT_GE(heap.counters().objects_collected, 10u);  // (a stale stack word may keep the odd one)
}

TEST(Threads, AThreadThatHasNotAttachedIsRefused) {
    SharedHeap shared(64 * 1024);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    void* got = reinterpret_cast<void*>(1);
    Status why = Status::ok;
    Status collect_status = Status::ok;
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
        got = heap.alloc(16);
        why = heap.last_status();
        collect_status = heap.collect();
    });
    join_parked(heap, workers);
    EXPECT_EQ(got, nullptr);
    EXPECT_EQ(why, Status::not_attached);
    EXPECT_EQ(collect_status, Status::not_attached);
    EXPECT_EQ(heap.counters().collections, 0u);
}

TEST(Threads, EnablingIsRefusedWhereItCannotWork) {
    std::unique_ptr<unsigned char[]> region(new unsigned char[64 * 1024]);
    uheap::HeapConfig config;
    config.incremental = true;
    Heap* heap = Heap::create(region.get(), 64 * 1024, config);
    ASSERT_NE(heap, nullptr);
    Threads threads;
    EXPECT_EQ(threads.enable(*heap), Status::unsupported);  // the barrier is not shared yet
    Heap* plain = Heap::create(region.get(), 64 * 1024);
    ASSERT_NE(plain, nullptr);
    EXPECT_EQ(plain->enable_threads(nullptr), Status::invalid_argument);
    uheap::ThreadSet set;
    EXPECT_EQ(plain->enable_threads(&set), Status::invalid_argument);  // no hooks
    EXPECT_EQ(threads.enable(*plain), Status::ok);
    EXPECT_EQ(plain->enable_threads(&threads.set()), Status::already_registered);
}

// ---- the threads' allocation caches (src/thread_cache.cpp) ---------------------------------

/// The calling thread's record (the port's current hook).
uheap::ThreadRecord& my_record(Threads& threads) { return *threads.set().hooks.current(threads.set().hooks.user); }

std::size_t cached_objects(const uheap::ThreadRecord& r) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < uheap::kThreadCacheSizes; ++i) n += static_cast<std::size_t>(r.caches[i].end - r.caches[i].next) / ((i + 1) * uheap::kBlockBytes);
    return n;
}

// A worker's first small allocation fills its cache (counted as used, not as allocations); a
// collection, the worker parked, hands the rest back: afterwards only its one object is used.
TEST(Threads, ACollectionReleasesEveryThreadsCache) {
    SharedHeap shared(64 * 1024, Threads::Stop::cooperative, Poison::off);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    std::atomic<int> step{0};
    std::size_t cached_before = 0;
    std::size_t cached_after = 99;
    bool survived = false;
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
        Attached me(shared.threads, heap);
        auto* volatile mine = static_cast<Node*>(heap.alloc(sizeof(Node)));
        mine->stamp = 11;
        cached_before = cached_objects(my_record(shared.threads));
        heap.blocking([](void* s) {
            auto* st = static_cast<std::atomic<int>*>(s);
            st->store(1);
            while (st->load() != 2) std::this_thread::yield();
        }, &step);
        cached_after = cached_objects(my_record(shared.threads));
        survived = heap.size_of(mine) == kNodeBytes && mine->stamp == 11;
    });
    while (step.load() != 1) std::this_thread::yield();
    uheap::Counters before = heap.counters();
    EXPECT_EQ(before.allocations, 1u);                                   // handed out, not cached
    EXPECT_EQ(before.used_bytes, (1 + cached_before) * kNodeBytes);  // the cache is in use
    EXPECT_EQ(heap.collect(), Status::ok);
    uheap::Counters after = heap.counters();
    EXPECT_EQ(after.used_bytes, kNodeBytes);  // the worker's object alone
    EXPECT_EQ(after.allocations, 1u);
    EXPECT_TRUE(heap.verify().ok()) << heap.verify().detail;
    step.store(2);
    join_parked(heap, workers);
    EXPECT_GE(cached_before, 2u);
    EXPECT_EQ(cached_after, 0u);
    EXPECT_TRUE(survived);
}

// Counters::allocations counts what alloc() returned, whichever thread's cache it came from,
// before and after the collections that fold the threads' counts in.
TEST(Threads, AllocationsAreCountedExactlyAcrossCaches) {
    SharedHeap shared(256 * 1024, Threads::Stop::cooperative, Poison::off);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    constexpr std::size_t kEach = 3000;
    std::atomic<std::size_t> returned{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t) {
        workers.emplace_back([&, t] {
            Attached me(shared.threads, heap);
            for (std::size_t i = 0; i < kEach; ++i) {
                if (heap.alloc(1 + (i + t) % (4 * uheap::kBlockBytes)) != nullptr) ++returned;
                if (t == 0 && i % 1000 == 999) heap.collect();
            }
        });
    }
    join_parked(heap, workers);
    EXPECT_EQ(heap.counters().allocations, returned.load());
    EXPECT_EQ(heap.collect(), Status::ok);
    EXPECT_EQ(heap.counters().allocations, returned.load());
    EXPECT_TRUE(heap.verify().ok()) << heap.verify().detail;
}

// A cache's objects are zero when handed out, even where a dead object lay before, and a
// thread's lock() refuses its allocations though its cache is full.
TEST(Threads, CachedObjectsAreZeroAndLockStillRefuses) {
    SharedHeap shared(64 * 1024, Threads::Stop::cooperative, Poison::off);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 500; ++i) {
            auto* p = static_cast<unsigned char*>(heap.alloc(3 * uheap::kBlockBytes));
            ASSERT_NE(p, nullptr);
            for (std::size_t b = 0; b < 3 * uheap::kBlockBytes; ++b) ASSERT_EQ(p[b], 0) << "round " << round << " object " << i;
            std::memset(p, 0xA5, 3 * uheap::kBlockBytes);
        }
        heap.collect();
    }
    EXPECT_NE(heap.alloc(16), nullptr);  // (fills this thread's one-block cache)
    EXPECT_GT(cached_objects(my_record(shared.threads)), 0u);
    heap.lock();
    EXPECT_EQ(heap.alloc(16), nullptr);
    EXPECT_EQ(heap.last_status(), Status::locked);
    heap.unlock();
    EXPECT_NE(heap.alloc(16), nullptr);
}

// An on_alloc hook closes the caches: it sees every allocation, even from a thread whose cache
// was filled before the hook was set.
TEST(Threads, AnAllocationHookSeesEveryAllocation) {
    SharedHeap shared(64 * 1024, Threads::Stop::cooperative, Poison::off);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    EXPECT_NE(heap.alloc(16), nullptr);
    EXPECT_GT(cached_objects(my_record(shared.threads)), 0u);
    static std::atomic<int> seen{0};
    seen = 0;
    uheap::EventHooks hooks;
    hooks.on_alloc = [](void*, void*, std::size_t, unsigned, std::uint16_t) { ++seen; };
    heap.set_event_hooks(hooks);
    for (int i = 0; i < 10; ++i) EXPECT_NE(heap.alloc(16), nullptr);
    EXPECT_EQ(seen.load(), 10);
    heap.set_event_hooks(uheap::EventHooks{});
}

// C2: a signal can stop a thread between its read of its cache and its write back. Simulated:
// the worker marks itself inside a take (popping) and parks; the collection must keep its
// cache, and mark it, so that the objects it then takes are still objects.
TEST(Threads, AThreadStoppedInsideATakeKeepsItsCache) {
    SharedHeap shared(64 * 1024, Threads::Stop::cooperative, Poison::off);
    Heap& heap = *shared.heap;
    Attached main_thread(shared.threads, heap);
    std::atomic<int> step{0};
    std::size_t kept = 0;
    bool all_objects = true;
    std::vector<std::thread> workers;
    workers.emplace_back([&] {
        Attached me(shared.threads, heap);
        uheap::ThreadRecord& r = my_record(shared.threads);
        EXPECT_NE(heap.alloc(16), nullptr);
        r.popping = true;
        heap.blocking([](void* s) {
            auto* st = static_cast<std::atomic<int>*>(s);
            st->store(1);
            while (st->load() != 2) std::this_thread::yield();
        }, &step);
        r.popping = false;
        kept = cached_objects(r);
        for (std::size_t i = 0; i < kept; ++i) {
            void* p = heap.alloc(16);
            all_objects = all_objects && p != nullptr && heap.size_of(p) == uheap::kBlockBytes;
        }
    });
    while (step.load() != 1) std::this_thread::yield();
    for (int i = 0; i < 2000; ++i) heap.alloc(2 * uheap::kBlockBytes);  // garbage, and pressure
    EXPECT_EQ(heap.collect(), Status::ok);
    EXPECT_TRUE(heap.verify().ok()) << heap.verify().detail;
    step.store(2);
    join_parked(heap, workers);
    EXPECT_GE(kept, 2u);
    EXPECT_TRUE(all_objects);
    EXPECT_TRUE(heap.verify().ok()) << heap.verify().detail;
}

}  // namespace
