// SPDX-License-Identifier: MIT
// uheap_bench's main(): records the stack base, starts Boehm GC, registers every workload in
// ascending heap size, and runs Google Benchmark.
//
// Why ascending: Boehm's heap is process-global and cannot shrink, and GC_set_max_heap_size only
// stops growth. Running the sizes from small to large in one process means each Boehm benchmark
// sees a heap no larger than its budget (except below Boehm's own minimum heap, which the
// benchmark labels). bench/compare relies on this order and runs one process.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "registry.hpp"

namespace bench {

const void* g_stack_base = nullptr;

namespace {

struct Entry {
    std::size_t heap_bytes;
    std::string name;
    std::function<void(benchmark::State&)> fn;
    Tune tune;
};

std::vector<Entry>& queue() {
    static std::vector<Entry> entries;
    return entries;
}

#if UHEAP_BENCH_HAVE_BOEHM
void ignore_boehm_warning(char*, GC_word) {}  // "out of memory" warnings are expected in frag_alloc
#endif

/// Takes --fixed_iterations=N out of argv: every benchmark then runs exactly N iterations
/// instead of as many as its minimum time needs, so a run under callgrind (bench/icount) does
/// the same work every time. 0 when absent.
long take_fixed_iterations(int& argc, char** argv) {
    static const char kFlag[] = "--fixed_iterations=";
    long n = 0;
    int out = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], kFlag, sizeof kFlag - 1) == 0) {
            n = std::strtol(argv[i] + sizeof kFlag - 1, nullptr, 10);
            if (n <= 0) {
                std::fprintf(stderr, "uheap_bench: --fixed_iterations needs a positive count\n");
                std::exit(2);
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    argc = out;
    return n;
}

}  // namespace

void enqueue(std::size_t heap_bytes, std::string name, std::function<void(benchmark::State&)> fn, Tune tune) {
    queue().push_back(Entry{heap_bytes, std::move(name), std::move(fn), std::move(tune)});
}

}  // namespace bench

int main(int argc, char** argv) {
    // Every benchmark runs in frames below this one, so both collectors scan the same stack.
    bench::g_stack_base = __builtin_frame_address(0);
    const long fixed_iterations = bench::take_fixed_iterations(argc, argv);
#if UHEAP_BENCH_HAVE_BOEHM
    GC_INIT();
    GC_set_warn_proc(bench::ignore_boehm_warning);
    benchmark::AddCustomContext("boehm_gc", std::to_string(GC_VERSION_MAJOR) + "." +
                                                std::to_string(GC_VERSION_MINOR) + "." +
                                                std::to_string(GC_VERSION_MICRO));
    benchmark::AddCustomContext("boehm_min_heap_bytes", std::to_string(GC_get_heap_size()));
#else
    std::fprintf(stderr, "uheap_bench: Boehm GC is missing (built without libgc-dev): "
                         "running uheap and malloc only\n");
    benchmark::AddCustomContext("boehm_gc", "missing");
#endif
    benchmark::AddCustomContext("uheap_block_bytes", std::to_string(uheap::kBlockBytes));

    bench::register_gcbench();
    bench::register_churn();
    bench::register_frag_alloc();
    bench::register_collect_pause();
    bench::register_wide_graph();
    bench::register_no_scan();
    bench::register_mem_info();
    bench::register_realloc_growth();
    bench::register_pauses();

    auto& entries = bench::queue();
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.heap_bytes < b.heap_bytes; });
    for (auto& e : entries) {
        auto* b = benchmark::RegisterBenchmark(e.name.c_str(), e.fn);
        if (e.tune) e.tune(b);
        if (fixed_iterations > 0) b->Iterations(fixed_iterations);
    }

    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
