// SPDX-License-Identifier: MIT
// wide_graph: an array of 100 000 pointers (one heap object), each to a chain of 1 (chain:1) or
// 1-4 (chain:1to4) objects, and one linked list of 100 000 nodes; time one full collection.
// uheap runs with a 64-entry mark stack (stack:64) and with one that never overflows
// (stack:65536); counter mark_stack_overflows shows which path ran.
#include <type_traits>
#include <vector>

#include "registry.hpp"

namespace bench {
namespace {

constexpr std::size_t kWidth = 100000;
constexpr std::size_t kListLength = 100000;

struct Link {
    Link* next;
    std::uint64_t stamp;
};

template <class Impl>
void run_wide_graph(benchmark::State& state, std::size_t heap_bytes, std::size_t max_chain,
                    std::size_t mark_stack_entries) {
    ImplOptions options;
    options.mark_stack_entries = mark_stack_entries;
    Impl impl(heap_bytes, options);
    if (!impl_ready(state, impl)) return;
    void* roots[2] = {nullptr, nullptr};  // the wide array, the list head
    ScopedRoots<Impl> rooted(impl, roots, 2);
    auto** wide = static_cast<Link**>(impl.alloc(kWidth * sizeof(Link*)));
    if (wide == nullptr) return check_failed(state, "out of memory (array)");
    roots[0] = wide;
    Rng rng(99);
    std::size_t expected = 0;
    for (std::size_t i = 0; i < kWidth; ++i) {
        std::size_t n = 1 + rng.below(max_chain);
        for (std::size_t k = 0; k < n; ++k) {
            auto* l = static_cast<Link*>(impl.alloc(sizeof(Link)));
            if (l == nullptr) return check_failed(state, "out of memory (chains)");
            l->stamp = i;
            l->next = wide[i];
            wide[i] = l;
            ++expected;
        }
    }
    for (std::size_t i = 0; i < kListLength; ++i) {
        auto* l = static_cast<Link*>(impl.alloc(sizeof(Link)));
        if (l == nullptr) return check_failed(state, "out of memory (list)");
        l->stamp = kWidth + i;
        l->next = static_cast<Link*>(roots[1]);
        roots[1] = l;
    }
    impl.collect();
    std::uint64_t overflows_before = 0;
    if constexpr (std::is_same_v<Impl, UheapImpl>) overflows_before = impl.mark_stack_overflows();
    count_begin();
    for (auto _ : state) impl.collect();
    count_end("collection");

    // Every chain and the whole list must have survived.
    std::size_t seen = 0;
    for (std::size_t i = 0; i < kWidth; ++i) {
        for (const Link* l = wide[i]; l != nullptr; l = l->next) seen += l->stamp == i;
    }
    std::size_t list = 0;
    for (const Link* l = static_cast<const Link*>(roots[1]); l != nullptr; l = l->next) {
        list += l->stamp == kWidth + kListLength - 1 - list;
    }
    if (seen != expected || list != kListLength) return check_failed(state, "live data lost: a chain or the list is short");
    state.SetItemsProcessed(static_cast<std::int64_t>(expected + kListLength + 1) * state.iterations());
    report_ops(state, "collection", state.iterations());
    state.counters["objects"] = static_cast<double>(expected + kListLength + 1);
    if constexpr (std::is_same_v<Impl, UheapImpl>) {
        state.counters["mark_stack_overflows"] = benchmark::Counter(
            static_cast<double>(impl.mark_stack_overflows() - overflows_before), benchmark::Counter::kAvgIterations);
    }
}

}  // namespace

void register_wide_graph() {
    const std::size_t heap = 32 * kMiB;
    for (std::size_t chain : {1, 4}) {
        std::string params = chain == 1 ? "/chain:1" : "/chain:1to4";
        auto tune = [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMicrosecond); };
        // uheap twice (64-entry and never-overflowing stack); Boehm once, its stack grows itself.
        for (std::size_t entries : {std::size_t(64), std::size_t(65536)}) {
            enqueue(heap, "wide_graph/uheap/heap:" + size_label(heap) + params + "/stack:" + std::to_string(entries),
                    [=](benchmark::State& s) { run_wide_graph<UheapImpl>(s, heap, chain, entries); }, tune);
        }
#if UHEAP_BENCH_HAVE_BOEHM
        enqueue(heap, "wide_graph/boehm/heap:" + size_label(heap) + params,
                [=](benchmark::State& s) { run_wide_graph<BoehmImpl>(s, heap, chain, 0); }, tune);
#endif
    }
}

}  // namespace bench
