// SPDX-License-Identifier: MIT
// Profiler overhead: a GCBench-like tree workload and an alloc/free churn, each run with no
// profiler and with one attached (Arg 0 / 1). Numbers and the command are in docs/profiling.md.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "uheap/profiler.hpp"
#include "uheap/uheap.hpp"

namespace {

constexpr std::size_t kHeapBytes = 16u << 20;

struct TreeNode {
    TreeNode* left;
    TreeNode* right;
};

enum Tag : std::uint16_t { kNode = 1, kSmall, kMedium, kLarge };

/// A heap, a root table, and optionally a profiler on it.
struct Fixture {
    uheap::OwnedHeap owned{kHeapBytes};
    uheap::Heap& heap = *owned;
    void* roots[4096] = {};
    uheap::RootRange range;
    std::unique_ptr<uheap::Profiler> profiler;

    explicit Fixture(bool profiled) {
        range.words = roots;
        range.n_words = sizeof roots / sizeof roots[0];
        heap.add_root_range(&range);
        if (profiled) {
            profiler = std::make_unique<uheap::Profiler>();
            profiler->attach(heap);
        }
    }
    ~Fixture() {
        if (profiler) profiler->detach();
        heap.remove_root_range(&range);
    }
};

TreeNode* make_tree(uheap::Heap& heap, int depth) {
    auto* node = static_cast<TreeNode*>(heap.alloc(sizeof(TreeNode), 0, kNode));
    if (depth > 0 && node != nullptr) {
        node->left = make_tree(heap, depth - 1);
        node->right = make_tree(heap, depth - 1);
    }
    return node;
}

// GCBench in miniature: a long-lived tree stays rooted while short-lived trees of depth 14 are
// built and dropped; collections happen when the heap fills (no stack scanning: roots only).
void BM_TreesWorkload(benchmark::State& state) {
    Fixture f(state.range(0) != 0);
    f.roots[0] = make_tree(f.heap, 16);
    std::int64_t nodes = 0;
    for (auto _ : state) {
        f.roots[1] = make_tree(f.heap, 14);
        benchmark::DoNotOptimize(f.roots[1]);
        f.roots[1] = nullptr;
        nodes += (1 << 15) - 1;
    }
    state.SetItemsProcessed(nodes);
    state.counters["collections"] = static_cast<double>(f.heap.counters().collections);
}

// Mixed sizes in a ring of 4096 rooted slots: each step replaces one slot, explicitly freeing
// the old object every other time, so frees, sweeps and the occasional large object all occur.
void BM_ChurnWorkload(benchmark::State& state) {
    Fixture f(state.range(0) != 0);
    std::uint64_t rng = 0x9E3779B97F4A7C15ull;
    std::size_t slot = 0;
    for (auto _ : state) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::size_t pick = rng % 100;
        std::size_t n_bytes = pick < 70 ? 16 + rng % 48 : pick < 97 ? 64 + rng % 448 : 4096 + rng % 8192;
        auto tag = static_cast<std::uint16_t>(pick < 70 ? kSmall : pick < 97 ? kMedium : kLarge);
        slot = (slot + 1 + (rng >> 32) % 7) % 4096;
        if ((rng >> 40) & 1) f.heap.free(f.roots[slot]);
        f.roots[slot] = f.heap.alloc(n_bytes, 0, tag);
        benchmark::DoNotOptimize(f.roots[slot]);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["collections"] = static_cast<double>(f.heap.counters().collections);
}

}  // namespace

BENCHMARK(BM_TreesWorkload)->ArgName("profiled")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChurnWorkload)->ArgName("profiled")->Arg(0)->Arg(1);

BENCHMARK_MAIN();
