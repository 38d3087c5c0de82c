// SPDX-License-Identifier: MIT
// Registration of the workloads: one name scheme, one instantiation per implementation, and
// a global order by ascending heap size (Boehm's heap only grows; see bench_main.cpp).
//
// Names: <workload>/<impl>/heap:<size>[/<param>:<value>...] with impl in {uheap, boehm, malloc},
// so `--benchmark_filter='^churn/'` selects one workload across implementations and
// `--benchmark_filter='heap:64K'` the smallest size everywhere.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <functional>
#include <string>
#include <utility>

#include "count.hpp"
#include "impl.hpp"

namespace bench {

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * 1024;
inline constexpr std::size_t kSmallHeap = 64 * kKiB;    // microcontroller-like
inline constexpr std::size_t kMediumHeap = 16 * kMiB;
inline constexpr std::size_t kLargeHeap = 256 * kMiB;

/// "64K", "16M", "256M".
inline std::string size_label(std::size_t bytes) {
    if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "M";
    return std::to_string(bytes / kKiB) + "K";
}

using Tune = std::function<void(benchmark::internal::Benchmark*)>;

/// Queues one benchmark; bench_main.cpp registers the queue sorted by heap size.
void enqueue(std::size_t heap_bytes, std::string name, std::function<void(benchmark::State&)> fn, Tune tune);

template <class Impl>
struct ImplTag {
    using type = Impl;
};

/// Which implementations a workload runs against.
enum class Peers { collectors, collectors_and_malloc };

/// Registers `body` (a generic lambda `(auto tag, benchmark::State&)`, `tag` an ImplTag) once
/// per implementation as "<workload>/<impl>/heap:<size><params>".
template <class Body>
void add_workload(const std::string& workload, std::size_t heap_bytes, const std::string& params, Peers peers,
                  Body body, Tune tune = {}) {
    auto add = [&](auto tag) {
        using Impl = typename decltype(tag)::type;
        std::string name = workload + "/" + Impl::kName + "/heap:" + size_label(heap_bytes) + params;
        enqueue(heap_bytes, std::move(name), [body](benchmark::State& state) { body(ImplTag<Impl>{}, state); },
                tune);
    };
    add(ImplTag<UheapImpl>{});
#if UHEAP_BENCH_HAVE_BOEHM
    add(ImplTag<BoehmImpl>{});
#endif
    if (peers == Peers::collectors_and_malloc) add(ImplTag<MallocImpl>{});
}

// One registration function per workload file.
void register_gcbench();
void register_churn();
void register_frag_alloc();
void register_collect_pause();
void register_wide_graph();
void register_no_scan();
void register_mem_info();
void register_realloc_growth();
void register_pauses();

}  // namespace bench
