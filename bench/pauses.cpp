// SPDX-License-Identifier: MIT
// pauses: how long a host waits, per collection mode, on 16 / 64 / 256 MB heaps at 25 % live
// (issue 14). One mutator for all three modes: a live set of pointer pages (64 slots each, in
// root ranges) whose slots hold 32 / 64 / 96 B nodes; the mutator allocates nodes and stores
// each into a random slot (the old one becomes garbage), three heap-fulls in all.
//
//   stw          HeapConfig::lazy_sweep off: a collection marks and sweeps in one stop
//   lazy         the default: the stop is marking; allocation sweeps as it goes
//   incremental  HeapConfig::incremental with set_pacing(200, 8): a cycle starts when use
//                doubles what survived, allocation pays 8 words of marking per block, stores
//                call write_barrier(page, node); the stops are steps and the final phase
//
// Counters: the heap's own stops (EventHooks::on_pause into a PauseHistogram): pause_p50_us,
// pause_p99_us, pause_max_ms, pauses, pause_total_ms; and what the host measured around each
// alloc() (sweeping and pacing included): alloc_p999_us, alloc_max_ms.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "registry.hpp"
#include "uheap/cxx.hpp"

namespace bench {
namespace {

enum class Mode { stw, lazy, incremental };
constexpr const char* kModeNames[] = {"stw", "lazy", "incremental"};
constexpr std::size_t kSlots = 64;

struct PauseNode {
    std::uint64_t stamp;
    std::uint64_t payload[3];
};

std::uint64_t clock_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

void run_pauses(benchmark::State& state, std::size_t heap_bytes, Mode mode) {
    ImplOptions options;
    options.eager_sweep = mode == Mode::stw;
    options.incremental = mode == Mode::incremental;
    UheapImpl impl(heap_bytes, options);
    if (!impl_ready(state, impl)) return;
    uheap::Heap& heap = impl.heap();
    uheap::PauseHistogram pauses;
    uheap::PauseHistogram alloc_waits;
    uheap::EventHooks hooks;
    hooks.user = &pauses;
    hooks.on_pause = &uheap::PauseHistogram::hook;
    if (std::getenv("UHEAP_BENCH_PAUSE_TRACE") != nullptr) {
        hooks.on_pause = [](void* user, uheap::PauseKind kind, std::uint64_t ns) {
            static_cast<uheap::PauseHistogram*>(user)->record(ns);
            if (ns > 200000) std::fprintf(stderr, "pause kind %d: %.3f ms\n", static_cast<int>(kind), static_cast<double>(ns) / 1e6);
        };
    }

    static constexpr std::size_t kSizes[4] = {32, 32, 64, 96};
    Rng rng(77);
    // Live: pages (512 B) and the nodes in their slots, a quarter of the heap.
    const std::size_t n_pages = heap_bytes / 4 / (kSlots * 64 + kSlots * sizeof(void*));
    std::vector<void**> pages(n_pages, nullptr);
    RootHandle rooted = impl.add_roots(reinterpret_cast<void* const*>(pages.data()), pages.size());
    impl.set_auto_collect(false);
    std::uint64_t stamp = 0;
    for (auto& page : pages) {
        page = static_cast<void**>(impl.alloc(kSlots * sizeof(void*)));
        if (page == nullptr) return check_failed(state, "out of memory building the live set");
        for (std::size_t s = 0; s < kSlots; ++s) {
            auto* node = static_cast<PauseNode*>(impl.alloc(kSizes[rng.below(4)]));
            if (node == nullptr) return check_failed(state, "out of memory building the live set");
            node->stamp = ++stamp;
            page[s] = node;
        }
    }
    impl.set_auto_collect(true);
    impl.collect();
    heap.sweep_step(SIZE_MAX);
    if (mode == Mode::incremental) {
        const char* pause = std::getenv("UHEAP_BENCH_PACING");  // "percent,words" to explore
        unsigned percent = 300;
        std::size_t words = 8;
        if (pause != nullptr) std::sscanf(pause, "%u,%zu", &percent, &words);
        heap.set_pacing(percent, words);
    }
    heap.set_event_hooks(hooks);

    // UHEAP_BENCH_HEAPFULLS=n: a longer run, so one collection more or less at the end weighs less.
    const char* fulls = std::getenv("UHEAP_BENCH_HEAPFULLS");
    const std::size_t to_allocate = (fulls != nullptr ? std::strtoull(fulls, nullptr, 10) : 3) * heap_bytes;
    const std::uint64_t collections_before = heap.counters().collections;
    for (auto _ : state) {
        for (std::size_t allocated = 0; allocated < to_allocate;) {
            std::size_t n = kSizes[rng.below(4)];
            std::uint64_t t0 = clock_ns();
            auto* node = static_cast<PauseNode*>(heap.alloc(n));
            alloc_waits.record(clock_ns() - t0);
            if (node == nullptr) return check_failed(state, std::string("out of memory in mode ") + kModeNames[int(mode)]);
            node->stamp = ++stamp;
            void** page = pages[rng.below(pages.size())];
            page[rng.below(kSlots)] = node;
            heap.write_barrier(page, node);
            allocated += n;
        }
    }
    heap.set_event_hooks(uheap::EventHooks{});
    // Every slot still holds a live node (nothing reachable was freed, in any mode).
    for (void** page : pages) {
        for (std::size_t s = 0; s < kSlots; ++s) {
            auto* node = static_cast<PauseNode*>(page[s]);
            if (heap.size_of(node) == 0 || node->stamp == 0 || node->stamp > stamp) return check_failed(state, "a live node was lost");
        }
    }
    impl.remove_roots(rooted);
    state.counters["pauses"] = static_cast<double>(pauses.count());
    state.counters["collections"] = static_cast<double>(heap.counters().collections - collections_before);
    state.counters["overflows"] = static_cast<double>(heap.counters().mark_stack_overflows);
    state.counters["pause_p50_us"] = static_cast<double>(pauses.percentile_ns(0.50)) / 1e3;
    state.counters["pause_p99_us"] = static_cast<double>(pauses.percentile_ns(0.99)) / 1e3;
    state.counters["pause_max_ms"] = static_cast<double>(pauses.max_ns()) / 1e6;
    state.counters["pause_total_ms"] = static_cast<double>(pauses.total_ns()) / 1e6;
    state.counters["alloc_p999_us"] = static_cast<double>(alloc_waits.percentile_ns(0.999)) / 1e3;
    state.counters["alloc_max_ms"] = static_cast<double>(alloc_waits.max_ns()) / 1e6;
}

}  // namespace

void register_pauses() {
    for (std::size_t heap : {kMediumHeap, 64 * kMiB, kLargeHeap}) {
        for (Mode mode : {Mode::stw, Mode::lazy, Mode::incremental}) {
            enqueue(heap, "pauses/uheap/heap:" + size_label(heap) + "/mode:" + kModeNames[static_cast<int>(mode)],
                    [heap, mode](benchmark::State& s) { run_pauses(s, heap, mode); },
                    [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMillisecond)->Iterations(1); });
        }
    }
}

}  // namespace bench
