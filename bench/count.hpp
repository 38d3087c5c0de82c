// SPDX-License-Identifier: MIT
// Counted regions: the work bench/icount measures in instructions under callgrind.
//
// A workload brackets the operations it is about (the allocations, the collection, the calls)
// with count_begin() / count_end("what", ops). Under callgrind, count_begin() zeroes the counts
// and count_end() dumps them labelled "what", so set-up, checks and Google Benchmark's own loop
// are never counted; bench/icount sums the dumps per label and divides by the operations the
// workload reports in the counter "ops:<what>". Outside valgrind both are a few no-op
// instructions (valgrind's client-request sequence), so timed runs are unaffected.
//
// For a profile of the whole program (callgrind_annotate by function and line), build with
// -DUHEAP_BENCH_NO_COUNT_REGIONS: the dumps split a profile into parts, and callgrind attributes
// a part's self cost to main().
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#if __has_include(<valgrind/callgrind.h>) && !defined(UHEAP_BENCH_NO_COUNT_REGIONS)
#include <valgrind/callgrind.h>
#define UHEAP_BENCH_ZERO_COUNTS() CALLGRIND_ZERO_STATS
#define UHEAP_BENCH_DUMP_COUNTS(what) CALLGRIND_DUMP_STATS_AT(what)
#else
#define UHEAP_BENCH_ZERO_COUNTS() ((void)0)
#define UHEAP_BENCH_DUMP_COUNTS(what) ((void)(what))
#endif

namespace bench {

inline void count_begin() { UHEAP_BENCH_ZERO_COUNTS(); }

inline void count_end(const char* what) { UHEAP_BENCH_DUMP_COUNTS(what); }

/// Reports how many operations the regions labelled `what` performed in the whole run.
inline void report_ops(benchmark::State& state, const char* what, std::uint64_t ops) {
    state.counters[std::string("ops:") + what] = static_cast<double>(ops);
}

}  // namespace bench
