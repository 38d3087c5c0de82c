// SPDX-License-Identifier: MIT
// mem_info: the cost of the heap's reports on a half-full, fragmented heap of 64 KB ... 256 MB.
//   call:info       uheap info(): exact, word-at-a-time over the tables (target: < 1 ms at 64 MB)
//   call:info_fast  uheap info_fast(); Boehm GC_get_heap_usage_safe() (totals, O(1))
//   call:counters   uheap counters(); Boehm GC_get_prof_stats() (running counters, must be O(1))
// Boehm has no exact report that walks its heap, so call:info runs on uheap only.
#include <vector>

#include "registry.hpp"

namespace bench {
namespace {

enum class Call { info, info_fast, counters };

const char* call_name(Call c) {
    switch (c) {
        case Call::info: return "info";
        case Call::info_fast: return "info_fast";
        case Call::counters: return "counters";
    }
    return "?";
}

/// Half the heap in 1-4 block objects, every third one dropped and collected.
template <class Impl>
std::size_t fill_fragmented(Impl& impl, std::vector<void*>& objects, std::size_t heap_bytes) {
    Rng rng(5);
    std::size_t bytes = 0, kept = 0;
    for (std::size_t i = 0; bytes < heap_bytes / 2 && i < objects.size(); ++i) {
        std::size_t n = 32 * (1 + rng.below(4));
        objects[i] = impl.alloc(n);
        if (objects[i] == nullptr) break;
        bytes += n;
        if (i % 3 == 2) {
            objects[i] = nullptr;
        } else {
            ++kept;
        }
    }
    impl.collect();
    return kept;
}

void run_uheap(benchmark::State& state, std::size_t heap_bytes, Call call) {
    UheapImpl impl(heap_bytes);
    if (!impl_ready(state, impl)) return;
    std::vector<void*> objects(heap_bytes / 2 / 32, nullptr);
    ScopedRoots<UheapImpl> rooted(impl, objects.data(), objects.size());
    std::size_t kept = fill_fragmented(impl, objects, heap_bytes);
    uheap::Heap& heap = impl.heap();
    count_begin();
    for (auto _ : state) {
        switch (call) {
            case Call::info: benchmark::DoNotOptimize(heap.info()); break;
            case Call::info_fast: benchmark::DoNotOptimize(heap.info_fast()); break;
            case Call::counters: benchmark::DoNotOptimize(heap.counters()); break;
        }
    }
    count_end("call");
    report_ops(state, "call", state.iterations());
    // Every kept object must still be allocated (conservative stack words may keep some dropped
    // ones too, so info().objects >= kept), and the exact scan must agree with the counters.
    uheap::Info info = heap.info();
    std::size_t alive = 0;
    for (void* p : objects) alive += p != nullptr && heap.size_of(p) != 0;
    if (alive != kept || info.objects < kept) {
        return check_failed(state, "live data lost: " + std::to_string(kept - alive) + " kept objects freed");
    }
    if (info.used != heap.counters().used_bytes) {
        return check_failed(state, "info().used " + std::to_string(info.used) + " != counters().used_bytes " +
                                       std::to_string(heap.counters().used_bytes));
    }
    state.counters["objects"] = static_cast<double>(info.objects);
    state.counters["free_runs"] = static_cast<double>(info.free_runs);
}

#if UHEAP_BENCH_HAVE_BOEHM
void run_boehm(benchmark::State& state, std::size_t heap_bytes, Call call) {
    BoehmImpl impl(heap_bytes);
    std::vector<void*> objects(heap_bytes / 2 / 32, nullptr);
    ScopedRoots<BoehmImpl> rooted(impl, objects.data(), objects.size());
    std::size_t kept = fill_fragmented(impl, objects, heap_bytes);
    count_begin();
    for (auto _ : state) {
        if (call == Call::counters) {
            GC_prof_stats_s stats;
            benchmark::DoNotOptimize(GC_get_prof_stats(&stats, sizeof stats));
            benchmark::DoNotOptimize(stats);
        } else {
            GC_word heap = 0, free = 0, unmapped = 0, since = 0, total = 0;
            GC_get_heap_usage_safe(&heap, &free, &unmapped, &since, &total);
            benchmark::DoNotOptimize(heap);
            benchmark::DoNotOptimize(free);
        }
    }
    count_end("call");
    report_ops(state, "call", state.iterations());
    std::size_t alive = 0;
    for (void* p : objects) alive += p != nullptr && GC_base(p) == p;
    if (alive != kept) return check_failed(state, "live data lost: an object is no longer allocated");
}
#endif

}  // namespace

void register_mem_info() {
    Tune tune;  // default unit: nanoseconds
    for (std::size_t heap : {kSmallHeap, 1 * kMiB, kMediumHeap, 64 * kMiB, kLargeHeap}) {
        for (Call call : {Call::info, Call::info_fast, Call::counters}) {
            std::string params = std::string("/call:") + call_name(call);
            enqueue(heap, "mem_info/uheap/heap:" + size_label(heap) + params,
                    [=](benchmark::State& s) { run_uheap(s, heap, call); }, tune);
#if UHEAP_BENCH_HAVE_BOEHM
            if (call != Call::info) {
                enqueue(heap, "mem_info/boehm/heap:" + size_label(heap) + params,
                        [=](benchmark::State& s) { run_boehm(s, heap, call); }, tune);
            }
#endif
        }
    }
}

}  // namespace bench
