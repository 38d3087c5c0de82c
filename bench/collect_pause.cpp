// SPDX-License-Identifier: MIT
// collect_pause: a random live graph at 10 / 25 / 50 % of the heap, heap sizes 64 KB ... 256 MB;
// time one full collection. Before each timed collection, garbage (the same size mix) is
// allocated with automatic collection off until ~85 % of the heap is used, so the sweep has dead
// objects to free. Counters: ms_per_MB_heap, ms_per_MB_live.
//
// The graph is a random recursive tree (each node's parent is a random earlier node; children
// as first_child / next_sibling lists) plus one random cross edge per node, rooted at node 0.
#include <type_traits>
#include <vector>

#include "registry.hpp"

namespace bench {
namespace {

struct GraphNode {
    GraphNode* first_child;
    GraphNode* next_sibling;
    GraphNode* cross;
    std::uint64_t stamp;
};

/// 32, 64 or 96 B: whole 32-byte blocks, so every collector holds exactly the same bytes.
std::size_t node_bytes(Rng& rng) {
    static constexpr std::size_t kSizes[4] = {32, 32, 64, 96};
    return kSizes[rng.below(4)];
}

/// Nodes reachable through the tree edges with correct stamps, or 0 if a stamp is wrong.
std::size_t walk_tree(const GraphNode* root, std::size_t n_nodes) {
    std::vector<const GraphNode*> stack{root};
    std::size_t seen = 0;
    while (!stack.empty()) {
        const GraphNode* n = stack.back();
        stack.pop_back();
        if (n->stamp >= n_nodes) return 0;
        ++seen;
        for (const GraphNode* c = n->first_child; c != nullptr; c = c->next_sibling) stack.push_back(c);
    }
    return seen;
}

template <class Impl>
void run_collect_pause(benchmark::State& state, std::size_t heap_bytes, unsigned live_percent) {
    Impl impl(heap_bytes);
    if (!impl_ready(state, impl)) return;
    GraphNode* root[1] = {nullptr};
    ScopedRoots<Impl> rooted(impl, reinterpret_cast<void* const*>(root), 1);
    std::vector<GraphNode*> nodes;  // setup only: cleared before timing (not a root)
    Rng rng(1234 + live_percent);
    std::size_t live_bytes = 0;
    const std::size_t live_target = heap_bytes / 100 * live_percent;
    impl.set_auto_collect(false);
    while (live_bytes < live_target) {
        std::size_t n = node_bytes(rng);
        auto* node = static_cast<GraphNode*>(impl.alloc(n));
        if (node == nullptr) return check_failed(state, "out of memory building the live graph");
        node->stamp = nodes.size();
        if (nodes.empty()) {
            root[0] = node;
        } else {
            GraphNode* parent = nodes[rng.below(nodes.size())];
            node->next_sibling = parent->first_child;
            parent->first_child = node;
            node->cross = nodes[rng.below(nodes.size())];
        }
        nodes.push_back(node);
        live_bytes += n;
    }
    const std::size_t n_nodes = nodes.size();
    std::vector<GraphNode*>().swap(nodes);
    impl.set_auto_collect(true);
    impl.collect();

    const std::size_t garbage_target = heap_bytes / 100 * 85 - live_bytes;
    double pause_ns = 0;
    std::uint64_t garbage_allocations = 0;
    std::uint64_t overflows_before = 0;
    if constexpr (std::is_same_v<Impl, UheapImpl>) overflows_before = impl.mark_stack_overflows();
    for (auto _ : state) {
        state.PauseTiming();
        impl.set_auto_collect(false);
        count_begin();
        for (std::size_t g = 0; g < garbage_target; ++garbage_allocations) {
            std::size_t n = node_bytes(rng);
            if (impl.alloc(n) == nullptr) break;
            g += n;
        }
        count_end("garbage allocation");
        impl.set_auto_collect(true);
        state.ResumeTiming();
        std::uint64_t t0 = now_ns();
        count_begin();
        impl.collect();
        count_end("collection");
        pause_ns += static_cast<double>(now_ns() - t0);
    }
    std::size_t seen = walk_tree(root[0], n_nodes);
    if (seen != n_nodes) {
        return check_failed(state, "live data lost: reached " + std::to_string(seen) + " of " +
                                       std::to_string(n_nodes) + " nodes");
    }
    const double heap_mb = static_cast<double>(heap_bytes) / static_cast<double>(kMiB);
    const double live_mb = static_cast<double>(live_bytes) / static_cast<double>(kMiB);
    const double pause_ms = pause_ns / 1e6;
    state.SetItemsProcessed(static_cast<std::int64_t>(n_nodes) * state.iterations());
    report_ops(state, "garbage allocation", garbage_allocations);
    report_ops(state, "collection", state.iterations());
    state.counters["ms_per_MB_heap"] = benchmark::Counter(pause_ms / heap_mb, benchmark::Counter::kAvgIterations);
    state.counters["ms_per_MB_live"] = benchmark::Counter(pause_ms / live_mb, benchmark::Counter::kAvgIterations);
    state.counters["live_nodes"] = static_cast<double>(n_nodes);
    if constexpr (std::is_same_v<Impl, UheapImpl>) {
        state.counters["mark_stack_overflows"] = benchmark::Counter(
            static_cast<double>(impl.mark_stack_overflows() - overflows_before), benchmark::Counter::kAvgIterations);
    }
}

}  // namespace

void register_collect_pause() {
    for (std::size_t heap : {kSmallHeap, 1 * kMiB, 4 * kMiB, kMediumHeap, 64 * kMiB, kLargeHeap}) {
        for (unsigned live : {10u, 25u, 50u}) {
            add_workload("collect_pause", heap, "/live:" + std::to_string(live), Peers::collectors,
                         [heap, live](auto tag, benchmark::State& s) {
                             run_collect_pause<typename decltype(tag)::type>(s, heap, live);
                         },
                         [heap](benchmark::internal::Benchmark* b) {
                             b->Unit(benchmark::kMicrosecond);
                             // Each iteration refills the heap with garbage (untimed): bound the
                             // count on big heaps so a run stays short.
                             if (heap >= 64 * kMiB) b->Iterations(4);
                         });
        }
    }
}

}  // namespace bench
