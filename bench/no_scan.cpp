// SPDX-License-Identifier: MIT
// no_scan: large pointer-free buffers (half the heap, 64 buffers of heap/128 bytes filled with
// byte data) plus a small live graph (a list of nodes); time one full collection with the buffers
// flagged pointer-free (flag:on = uheap kNoScan / GC_MALLOC_ATOMIC) or not (flag:off).
// The difference between the two is what the flag saves.
#include <vector>

#include "registry.hpp"

namespace bench {
namespace {

constexpr std::size_t kBuffers = 64;

struct Item {
    Item* next;
    std::uint64_t stamp;
};

template <class Impl>
void run_no_scan(benchmark::State& state, std::size_t heap_bytes, bool flag) {
    Impl impl(heap_bytes);
    if (!impl_ready(state, impl)) return;
    const std::size_t buffer_bytes = heap_bytes / 2 / kBuffers;
    const std::size_t n_items = heap_bytes / 1024;  // 64 items at 64 KB, 256 Ki at 256 MB
    std::vector<void*> roots(kBuffers + 1, nullptr);
    ScopedRoots<Impl> rooted(impl, roots.data(), roots.size());
    for (std::size_t i = 0; i < kBuffers; ++i) {
        void* b = flag ? impl.alloc_atomic(buffer_bytes) : impl.alloc(buffer_bytes);
        if (b == nullptr) return check_failed(state, "out of memory (buffers)");
        std::memset(b, static_cast<int>('a' + i % 26), buffer_bytes);  // text: never a pointer
        roots[i] = b;
    }
    for (std::size_t i = 0; i < n_items; ++i) {
        auto* item = static_cast<Item*>(impl.alloc(sizeof(Item)));
        if (item == nullptr) return check_failed(state, "out of memory (graph)");
        item->stamp = i;
        item->next = static_cast<Item*>(roots[kBuffers]);
        roots[kBuffers] = item;
    }
    impl.collect();
    count_begin();
    for (auto _ : state) impl.collect();
    count_end("collection");

    bool ok = true;
    for (std::size_t i = 0; i < kBuffers; ++i) {
        const auto* b = static_cast<const unsigned char*>(roots[i]);
        ok = ok && b[0] == 'a' + i % 26 && b[buffer_bytes - 1] == 'a' + i % 26;
    }
    std::size_t n = 0;
    for (const Item* it = static_cast<const Item*>(roots[kBuffers]); it != nullptr; it = it->next) {
        ok = ok && it->stamp == n_items - 1 - n;
        ++n;
    }
    if (!ok || n != n_items) return check_failed(state, "live data lost: a buffer or the list is corrupt");
    state.SetBytesProcessed(static_cast<std::int64_t>(kBuffers * buffer_bytes) * state.iterations());
    report_ops(state, "collection", state.iterations());
}

}  // namespace

void register_no_scan() {
    for (std::size_t heap : {kSmallHeap, kMediumHeap, kLargeHeap}) {
        for (bool flag : {true, false}) {
            add_workload("no_scan", heap, flag ? "/flag:on" : "/flag:off", Peers::collectors,
                         [heap, flag](auto tag, benchmark::State& s) {
                             run_no_scan<typename decltype(tag)::type>(s, heap, flag);
                         },
                         [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMicrosecond); });
        }
    }
}

}  // namespace bench
