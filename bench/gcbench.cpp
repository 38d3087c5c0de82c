// SPDX-License-Identifier: MIT
// gcbench: the Ellis/Kovac/Boehm GCBench shape. A stretch tree, a long-lived tree and array, then
// many short-lived trees built top-down (populate) and bottom-up (make_tree), nodes of two
// pointers and one word. Depths scale with the heap: the stretch tree is 1/2 of the heap
// (depth 18 at 32 MB, the reference figure of docs/performance.md).
#include <cmath>

#include "registry.hpp"

namespace bench {
namespace {

struct Node {
    Node* left;
    Node* right;
    std::intptr_t depth;  // checked by the walks: a node reused while live would read wrong
};

std::size_t tree_size(int depth) { return (std::size_t(1) << (depth + 1)) - 1; }

template <class Impl>
struct GcBench {
    Impl& impl;
    std::size_t allocations = 0;
    bool out_of_memory = false;

    Node* new_node(Node* l, Node* r, int depth) {
        auto* n = static_cast<Node*>(impl.alloc(sizeof(Node)));
        ++allocations;
        if (n == nullptr) {
            out_of_memory = true;
            return nullptr;
        }
        n->left = l;
        n->right = r;
        n->depth = depth;
        return n;
    }

    // Top-down: the node exists (and is reachable) before its children are allocated.
    void populate(int depth, Node* node) {
        if (depth <= 0 || node == nullptr) return;
        node->left = new_node(nullptr, nullptr, depth - 1);
        node->right = new_node(nullptr, nullptr, depth - 1);
        populate(depth - 1, node->left);
        populate(depth - 1, node->right);
    }

    // Bottom-up: the children are only on the stack while their parent is allocated.
    Node* make_tree(int depth) {
        if (depth <= 0) return new_node(nullptr, nullptr, 0);
        Node* l = make_tree(depth - 1);
        Node* r = make_tree(depth - 1);
        return new_node(l, r, depth);
    }

    void drop_tree(Node* node) {
        if constexpr (Impl::kExplicitFree) {
            if (node == nullptr) return;
            drop_tree(node->left);
            drop_tree(node->right);
            impl.release(node);
        }
    }
};

/// Nodes of a complete tree of `depth` whose depth fields are right, or 0 if any is wrong.
std::size_t checked_size(const Node* node, int depth) {
    if (node == nullptr || node->depth != depth) return 0;
    if (depth == 0) return node->left == nullptr && node->right == nullptr ? 1 : 0;
    std::size_t l = checked_size(node->left, depth - 1);
    std::size_t r = checked_size(node->right, depth - 1);
    return l != 0 && r != 0 ? 1 + l + r : 0;
}

/// Builds, checks and drops the stretch tree in a frame of its own, then scrubs the stack, so no
/// stale word keeps the (half-heap) tree alive afterwards, whatever the optimisation level.
template <class Impl>
__attribute__((noinline)) bool stretch_phase(GcBench<Impl>& b, int depth) {
    Node* tree = b.make_tree(depth);
    bool ok = checked_size(tree, depth) == tree_size(depth);
    b.drop_tree(tree);
    return ok;
}

template <class Impl>
void run_gcbench(benchmark::State& state, std::size_t heap_bytes) {
    // 2^(stretch+1) nodes of one 32-byte block = half the heap.
    const int stretch = static_cast<int>(std::log2(static_cast<double>(heap_bytes) / 32.0)) - 2;
    const int long_lived = stretch - 2;
    const int min_depth = 4;
    const int max_depth = stretch - 2;
    const std::size_t array_doubles = heap_bytes / 8 / sizeof(double);

    Impl impl(heap_bytes);
    if (!impl_ready(state, impl)) return;
    GcBench<Impl> b{impl};
    std::size_t short_lived_checked = 0;
    bool ok = true;
    count_begin();
    for (auto _ : state) {
        if (!stretch_phase(b, stretch)) ok = false;
        scrub_stack();

        Node* roots[2] = {nullptr, nullptr};  // the long-lived tree and array, registered roots
        ScopedRoots<Impl> rooted(impl, reinterpret_cast<void* const*>(roots), 2);
        roots[0] = b.new_node(nullptr, nullptr, long_lived);
        b.populate(long_lived, roots[0]);
        auto* array = static_cast<double*>(impl.alloc_atomic(array_doubles * sizeof(double)));
        roots[1] = reinterpret_cast<Node*>(array);
        if (array == nullptr) b.out_of_memory = true;
        if (array != nullptr) {
            for (std::size_t i = 0; i < array_doubles; ++i) array[i] = 1.0 / static_cast<double>(i + 1);
        }

        for (int d = min_depth; d <= max_depth; d += 2) {
            std::size_t iterations = 2 * tree_size(stretch) / tree_size(d);
            for (std::size_t i = 0; i < iterations; ++i) {
                Node* t = b.new_node(nullptr, nullptr, d);
                b.populate(d, t);
                if (i + 1 == iterations) short_lived_checked += checked_size(t, d) == tree_size(d);
                b.drop_tree(t);
            }
            for (std::size_t i = 0; i < iterations; ++i) {
                Node* t = b.make_tree(d);
                if (i + 1 == iterations) short_lived_checked += checked_size(t, d) == tree_size(d);
                b.drop_tree(t);
            }
        }
        // The live data must have survived every collection.
        if (checked_size(roots[0], long_lived) != tree_size(long_lived)) ok = false;
        if (array != nullptr && array[array_doubles / 2] != 1.0 / static_cast<double>(array_doubles / 2 + 1)) ok = false;
        b.drop_tree(roots[0]);
        impl.release(array);
        if (!ok || b.out_of_memory) break;
    }
    count_end("allocation");
    if (b.out_of_memory) return check_failed(state, "out of memory");
    if (!ok) return check_failed(state, "live data lost: a tree or the array is corrupt");
    std::size_t trees_expected = static_cast<std::size_t>(state.iterations()) * 2 *
                                 static_cast<std::size_t>((max_depth - min_depth) / 2 + 1);
    if (short_lived_checked != trees_expected) return check_failed(state, "a short-lived tree was corrupt");
    state.SetItemsProcessed(static_cast<std::int64_t>(b.allocations));
    report_ops(state, "allocation", b.allocations);
    state.counters["stretch_depth"] = stretch;
    state.counters["allocations"] = benchmark::Counter(static_cast<double>(b.allocations), benchmark::Counter::kAvgIterations);
}

}  // namespace

void register_gcbench() {
    for (std::size_t heap : {kSmallHeap, kMediumHeap, 32 * kMiB, kLargeHeap}) {
        add_workload("gcbench", heap, "", Peers::collectors_and_malloc,
                     [heap](auto tag, benchmark::State& s) { run_gcbench<typename decltype(tag)::type>(s, heap); },
                     [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMillisecond); });
    }
}

}  // namespace bench
