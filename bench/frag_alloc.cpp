// SPDX-License-Identifier: MIT
// frag_alloc: fill ~75 % of the heap with random 16-63 B objects, drop every other one, collect;
// then allocate objects of 1, 2, 4, 16 or 64 blocks (32 B each) into the holes until out of
// memory. Each allocation is timed on its own with the cycle counter (overhead subtracted):
// counters p50_ns / p99_ns / max_ns, fit_bytes (bytes that fit before out-of-memory) and
// free_at_oom_bytes (free bytes the implementation still had when it gave up).
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <vector>

#include "registry.hpp"

namespace bench {
namespace {

constexpr std::size_t kBlock = 32;  // the unit of the request sizes (uheap's 64-bit block)

struct Stamped {
    std::uint64_t stamp;
};

/// Cycle counter for timing single allocations (a clock_gettime pair costs ~20 ns and ticks in
/// coarse steps here). Converted to ns with a factor calibrated once against steady_clock.
#if defined(__x86_64__) || defined(__i386__)
inline std::uint64_t ticks() { return __rdtsc(); }
#else
inline std::uint64_t ticks() { return now_ns(); }
#endif

double ns_per_tick() {
    static const double factor = [] {
        std::uint64_t t0 = now_ns(), c0 = ticks();
        while (now_ns() - t0 < 20'000'000) {
        }
        std::uint64_t t1 = now_ns(), c1 = ticks();
        return static_cast<double>(t1 - t0) / static_cast<double>(c1 - c0);
    }();
    return factor;
}

/// Median cost of an empty pair of counter reads, in ticks, subtracted from every sample.
std::uint64_t tick_overhead() {
    static const std::uint64_t overhead = [] {
        std::vector<std::uint64_t> v(10001);
        for (auto& x : v) {
            std::uint64_t t0 = ticks();
            x = ticks() - t0;
        }
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    }();
    return overhead;
}

std::uint64_t percentile(std::vector<std::uint64_t>& v, double p) {
    if (v.empty()) return 0;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
    return v[i];
}

template <class Impl>
void run_frag_alloc(benchmark::State& state, std::size_t heap_bytes, std::size_t n_blocks) {
    const std::size_t request = n_blocks * kBlock;
    const std::uint64_t overhead = tick_overhead();
    const double to_ns = ns_per_tick();
    std::vector<std::uint64_t> samples;
    double fit_bytes = 0, free_at_oom = 0, fill_objects = 0;
    std::uint64_t counted_allocations = 0;
    bool ok = true;
    for (auto _ : state) {
        state.PauseTiming();
        {
            Impl impl(heap_bytes);
            if (!impl_ready(state, impl)) return;
            // Fill: the same random sizes for every implementation (mean 39.5 B, ~56 B with
            // rounding), until ~75 % of the heap is in use.
            Rng rng(7);
            std::vector<void*> fill(heap_bytes * 3 / 4 / 56, nullptr);
            ScopedRoots<Impl> fill_roots(impl, fill.data(), fill.size());
            std::size_t n_fill = 0;
            for (; n_fill < fill.size(); ++n_fill) {
                auto* o = static_cast<Stamped*>(impl.alloc(16 + rng.below(48)));
                if (o == nullptr) break;
                o->stamp = n_fill;
                fill[n_fill] = o;
            }
            for (std::size_t i = 1; i < n_fill; i += 2) {
                impl.release(fill[i]);
                fill[i] = nullptr;
            }
            impl.collect();
            fill_objects = static_cast<double>(n_fill);

            std::vector<void*> kept(heap_bytes / request + 1, nullptr);
            ScopedRoots<Impl> kept_roots(impl, kept.data(), kept.size());
            samples.clear();
            samples.reserve(kept.size());
            std::size_t n_kept = 0;
            // Counted: the allocations that fit into the holes. The first one that does not
            // is retried with collection allowed (what an allocation would have done), outside
            // the count: that out-of-memory collection is the same for every request size and
            // would otherwise dominate the figure on small heaps.
            impl.set_auto_collect(false);
            bool counting = true;
            state.ResumeTiming();
            count_begin();
            for (; n_kept < kept.size(); ++n_kept) {
                std::uint64_t t0 = ticks();
                void* p = impl.alloc(request);
                std::uint64_t t1 = ticks();
                if (p == nullptr && counting) {
                    count_end("allocation");
                    counting = false;
                    counted_allocations += n_kept;
                    impl.set_auto_collect(true);
                    t0 = ticks();
                    p = impl.alloc(request);
                    t1 = ticks();
                }
                if (p == nullptr) break;
                samples.push_back(t1 - t0 > overhead ? t1 - t0 - overhead : 0);
                static_cast<Stamped*>(p)->stamp = ~std::uint64_t(n_kept);
                kept[n_kept] = p;
            }
            if (counting) {
                count_end("allocation");
                counted_allocations += n_kept;
            }
            state.PauseTiming();
            impl.set_auto_collect(true);
            fit_bytes = static_cast<double>(n_kept * request);
            free_at_oom = static_cast<double>(impl.free_bytes());
            // Live-data check: every surviving fill object and every new object intact.
            for (std::size_t i = 0; i < n_fill; i += 2) {
                ok = ok && static_cast<Stamped*>(fill[i])->stamp == i;
            }
            for (std::size_t i = 0; i < n_kept; ++i) ok = ok && static_cast<Stamped*>(kept[i])->stamp == ~std::uint64_t(i);
            if constexpr (Impl::kExplicitFree) {
                for (void* p : fill) impl.release(p);
                for (void* p : kept) impl.release(p);
            }
        }
        state.ResumeTiming();
        if (!ok) break;
    }
    if (!ok) return check_failed(state, "live data lost: an object has the wrong stamp");
    if (samples.empty()) return check_failed(state, "nothing fitted");
    state.SetItemsProcessed(static_cast<std::int64_t>(samples.size()) * state.iterations());
    report_ops(state, "allocation", counted_allocations);
    state.counters["p50_ns"] = static_cast<double>(percentile(samples, 0.50)) * to_ns;
    state.counters["p99_ns"] = static_cast<double>(percentile(samples, 0.99)) * to_ns;
    state.counters["max_ns"] = static_cast<double>(*std::max_element(samples.begin(), samples.end())) * to_ns;
    state.counters["fit_bytes"] = fit_bytes;
    state.counters["fit_objects"] = static_cast<double>(samples.size());
    state.counters["free_at_oom_bytes"] = free_at_oom;
    state.counters["fill_objects"] = fill_objects;
}

}  // namespace

void register_frag_alloc() {
    for (std::size_t heap : {kSmallHeap, kMediumHeap}) {
        for (std::size_t blocks : {1, 2, 4, 16, 64}) {
            add_workload("frag_alloc", heap, "/blocks:" + std::to_string(blocks), Peers::collectors_and_malloc,
                         [heap, blocks](auto tag, benchmark::State& s) {
                             run_frag_alloc<typename decltype(tag)::type>(s, heap, blocks);
                         },
                         [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMicrosecond); });
        }
    }
}

}  // namespace bench
