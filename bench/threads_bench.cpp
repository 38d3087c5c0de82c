// SPDX-License-Identifier: MIT
// threads: small allocations from 1, 2 and 4 threads on one heap (issue 15), against Boehm GC
// with its thread support (GC_THREADS, GC_register_my_thread) on the same workload.
//
// Each thread builds lists of 100 nodes of 24 bytes, held only in a local, and drops each when
// it is full: allocation-bound, with collections when the 16 MB heap fills. Rows: uheap without
// threads enabled (the single-threaded baseline), uheap shared (enable_threads, cooperative
// stops, allocations from each thread's cache), one unshared heap per thread (what the machine
// allows when nothing is shared), Boehm GC. Wall time from the moment every worker has
// attached (thread creation here takes 0.3-3 ms), the minimum of --reps runs per row, rows
// interleaved; throughput in allocations per microsecond over all threads.
//
//   build/bench/uheap_threads_bench [--ops N] [--reps R] [--only-shared THREADS | --only-unshared 1]
#define GC_THREADS 1
#include <gc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "uheap/posix_threads.hpp"

namespace {

// 16 MB; UHEAP_BENCH_HEAP_MB changes it, for experiments (the published table uses 16 MB).
const std::size_t kHeapBytes = (std::getenv("UHEAP_BENCH_HEAP_MB") != nullptr ? std::strtoull(std::getenv("UHEAP_BENCH_HEAP_MB"), nullptr, 10) : 16) << 20;

struct Node {
    Node* next;
    std::uint64_t value;
    std::uint64_t pad;
};

template <class Alloc>
__attribute__((noinline)) std::uint64_t build_lists(Alloc alloc, std::size_t ops) {
    Node* head = nullptr;
    std::size_t length = 0;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < ops; ++i) {
        auto* n = static_cast<Node*>(alloc(sizeof(Node)));
        if (n == nullptr) std::abort();
        n->next = head;
        n->value = i;
        head = n;
        if (++length == 100) {
            for (Node* p = head; p != nullptr; p = p->next) sum += p->value;
            head = nullptr;
            length = 0;
        }
    }
    return sum;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Holds every worker at the start line until all have attached (or registered), so that the
/// time measured is allocation, not thread creation (0.3-3 ms here, against 5 ms of work).
class StartLine {
public:
    explicit StartLine(unsigned n) : waiting_(n) {}
    void arrive() {
        waiting_.fetch_sub(1);
        while (!go_.load()) std::this_thread::yield();
    }
    std::chrono::steady_clock::time_point release() {
        while (waiting_.load() != 0) std::this_thread::yield();
        auto t0 = std::chrono::steady_clock::now();
        go_.store(true);
        return t0;
    }

private:
    std::atomic<unsigned> waiting_;
    std::atomic<bool> go_{false};
};

/// uheap; `shared`: enable_threads() and every thread attached (cooperative stops);
/// `pass_record`: alloc(record, n), the thread's record passed (no current() call).
double run_uheap(unsigned n_threads, std::size_t ops, bool shared, bool pass_record = false) {
    std::unique_ptr<unsigned char[]> region(new unsigned char[kHeapBytes]);
    std::memset(region.get(), 0, kHeapBytes);
    uheap::Heap* heap = uheap::Heap::create(region.get(), kHeapBytes);
    uheap::posix::Threads threads;
    if (shared && threads.enable(*heap) != uheap::Status::ok) std::abort();
    auto alloc = [heap](std::size_t n) { return heap->alloc(n); };
    if (!shared) {
        auto t0 = std::chrono::steady_clock::now();
        int base = 0;
        heap->set_stack_base(&base + 1);
        build_lists(alloc, ops);
        return seconds_since(t0);
    }
    uheap::posix::Attached main_thread(threads, *heap);
    StartLine line(n_threads);
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < n_threads; ++t) {
        workers.emplace_back([&] {
            uheap::posix::Attached me(threads, *heap);
            uheap::ThreadRecord* record = me.record();
            line.arrive();  // (nothing allocates before the release: no collection waits for this)
            timespec cpu0{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
            if (pass_record) {
                build_lists([heap, record](std::size_t n) { return heap->alloc(*record, n); }, ops);
            } else {
                build_lists(alloc, ops);
            }
            if (std::getenv("UHEAP_BENCH_VERBOSE") != nullptr) {
                timespec cpu1{};
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
                std::fprintf(stderr, "  a thread: %.2f ms on the CPU\n", (cpu1.tv_sec - cpu0.tv_sec) * 1e3 + (cpu1.tv_nsec - cpu0.tv_nsec) / 1e6);
            }
        });
    }
    auto t0 = line.release();
    heap->blocking([](void* w) { for (auto& t : *static_cast<std::vector<std::thread>*>(w)) t.join(); }, &workers);
    double seconds = seconds_since(t0);
    if (std::getenv("UHEAP_BENCH_VERBOSE") != nullptr) {
        uheap::Counters c = heap->counters();
        std::fprintf(stderr, "  %u threads: %.2f ms, %llu collections, %.2f ms paused, %llu allocations\n", n_threads, seconds * 1e3,
                     (unsigned long long)c.collections, c.total_pause_ns / 1e6, (unsigned long long)c.allocations);
    }
    return seconds;
}

/// The machine's ceiling: each thread its own heap, threads not enabled, nothing shared; the
/// same memory as the shared heap, split between them (with a whole heap each, every heap
/// would collect half as often).
double run_uheap_per_thread(unsigned n_threads, std::size_t ops) {
    std::vector<std::unique_ptr<unsigned char[]>> regions;
    std::vector<uheap::Heap*> heaps;
    const std::size_t bytes = kHeapBytes / n_threads;
    for (unsigned t = 0; t < n_threads; ++t) {
        regions.emplace_back(new unsigned char[bytes]);
        std::memset(regions.back().get(), 0, bytes);
        heaps.push_back(uheap::Heap::create(regions.back().get(), bytes));
    }
    StartLine line(n_threads);
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < n_threads; ++t) {
        workers.emplace_back([&, t] {
            uheap::Heap* heap = heaps[t];
            int base = 0;
            heap->set_stack_base(&base + 1);
            line.arrive();
            build_lists([heap](std::size_t n) { return heap->alloc(n); }, ops);
        });
    }
    auto t0 = line.release();
    for (auto& t : workers) t.join();
    return seconds_since(t0);
}

double run_boehm(unsigned n_threads, std::size_t ops) {
    GC_gcollect();
    auto alloc = [](std::size_t n) { return GC_MALLOC(n); };
    StartLine line(n_threads);
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < n_threads; ++t) {
        workers.emplace_back([&] {
            GC_stack_base sb;
            GC_get_stack_base(&sb);
            GC_register_my_thread(&sb);
            line.arrive();
            build_lists(alloc, ops);
            GC_unregister_my_thread();
        });
    }
    auto t0 = line.release();
    for (auto& t : workers) t.join();
    return seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t ops = 1000000;
    unsigned reps = 5;
    unsigned only_shared = 0;  // --only-shared N: just "uheap shared" with N threads, for a profiler
    bool only_unshared = false;  // --only-unshared 1: just "uheap, threads not enabled"
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--ops") == 0) ops = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--reps") == 0) reps = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
        if (std::strcmp(argv[i], "--only-shared") == 0) only_shared = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
        if (std::strcmp(argv[i], "--only-unshared") == 0) only_unshared = true;
    }
    if (only_unshared) {
        double best = 1e9;
        for (unsigned r = 0; r < reps; ++r) best = std::min(best, run_uheap(1, ops, false));
        std::printf("uheap, threads not enabled: %.1f ns per allocation\n", best * 1e9 / static_cast<double>(ops));
        return 0;
    }
    if (only_shared != 0) {
        double best = 1e9;
        for (unsigned r = 0; r < reps; ++r) best = std::min(best, run_uheap(only_shared, ops, true, std::getenv("UHEAP_BENCH_PASS_RECORD") != nullptr));
        std::printf("uheap shared, %u threads: %.1f ns per allocation per thread\n", only_shared, best * 1e9 / static_cast<double>(ops));
        return 0;
    }
    GC_INIT();
    GC_allow_register_threads();
    GC_set_max_heap_size(kHeapBytes);
    GC_expand_hp(kHeapBytes - GC_get_heap_size());
    struct Row {
        std::string name;
        unsigned threads;
        std::function<double()> run;
        double best = 1e9;
    };
    std::vector<Row> rows;
    rows.push_back({"uheap, threads not enabled", 1, [ops] { return run_uheap(1, ops, false); }});
    for (unsigned n : {1u, 2u, 4u}) rows.push_back({"uheap shared", n, [n, ops] { return run_uheap(n, ops, true); }});
    for (unsigned n : {1u, 2u, 4u}) {
        rows.push_back({"uheap shared, alloc(record, n)", n, [n, ops] { return run_uheap(n, ops, true, true); }});
    }
    for (unsigned n : {2u, 4u}) rows.push_back({"uheap, a heap per thread, 16 MB split (ceiling)", n, [n, ops] { return run_uheap_per_thread(n, ops); }});
    for (unsigned n : {1u, 2u, 4u}) rows.push_back({"Boehm GC", n, [n, ops] { return run_boehm(n, ops); }});
    for (unsigned r = 0; r < reps; ++r) {
        for (Row& row : rows) row.best = std::min(row.best, row.run());
    }
    std::printf("each thread: %zu allocations of %zu B; 16 MB heap; wall time, min of %u interleaved runs\n\n", ops, sizeof(Node), reps);
    std::printf("| implementation | threads | allocations / µs | ns per allocation per thread | vs its 1 thread |\n| --- | ---: | ---: | ---: | ---: |\n");
    double one = 0;
    double unshared = 0;
    for (Row& row : rows) {
        double rate = static_cast<double>(ops) * row.threads / row.best / 1e6;
        if (row.threads == 1) one = rate;
        if (unshared == 0) unshared = rate;
        const bool ceiling = row.name.rfind("uheap, a heap per thread", 0) == 0;  // (against the unshared heap's one thread)
        std::printf("| %s | %u | %.1f | %.1f | %.2f |\n", row.name.c_str(), row.threads, rate, row.best * 1e9 / static_cast<double>(ops),
                    rate / (ceiling ? unshared : one));
    }
    const double shared_one = static_cast<double>(ops) / rows[1].best / 1e6;
    const double passed_one = static_cast<double>(ops) / rows[4].best / 1e6;
    std::printf("\nuheap shared, one thread, per allocation: %.2f x the time without threads enabled (%.2f x with the record passed)\n",
                unshared / shared_one, unshared / passed_one);
    return 0;
}
