// SPDX-License-Identifier: MIT
// uheap-scheme: command line, heap creation, the script runner and the REPL.
//
//   uheap-scheme [--heap SIZE] [--gc=incremental|stw] [--gc-stress[=WORDS]] [--gc-pacing P,S]
//                [--stats] [--cpu-clock] [--profile FILE] [--profile-stream FILE] [--profile-sites N] [script.scm] [args...]
//
// The heap is a uheap::OwnedHeap of SIZE bytes (256K by default, like a microcontroller). main()
// records its frame as the stack base, so every collection scans the C stack conservatively.
// By default it collects incrementally (HeapConfig::incremental, paced by set_pacing()): every
// store of a pointer into a heap object goes through store() / barrier() (value.hpp).
// With --profile FILE, SIGUSR1 asks for a snapshot: FILE.1, FILE.2, ... written at the next safe
// point (write_snapshot() below).
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "uheap/profiler.hpp"
#include "value.hpp"

namespace scheme {
namespace {

/// The profiler's name for each object type (its allocation tag).
const char* type_name(Type type) {
    switch (type) {
        case Type::pair: return "pair";
        case Type::string: return "string";
        case Type::symbol: return "symbol";
        case Type::vector: return "vector";
        case Type::table: return "hash-table";
        case Type::closure: return "closure";
        case Type::primitive: return "primitive";
        case Type::frame: return "frame";
        case Type::error: return "error";
        case Type::file: return "file";
        case Type::weakref: return "weakref";
    }
    return "other";
}

/// "256K", "8M", "1G" or plain bytes; 0 if malformed.
std::size_t parse_size(const char* text) {
    char* end = nullptr;
    unsigned long long n = std::strtoull(text, &end, 10);
    if (end == text) return 0;
    switch (std::toupper(static_cast<unsigned char>(*end))) {
    case 'K': n <<= 10; ++end; break;
    case 'M': n <<= 20; ++end; break;
    case 'G': n <<= 30; ++end; break;
    default: break;
    }
    if (std::toupper(static_cast<unsigned char>(*end)) == 'B') ++end;
    return *end == '\0' ? static_cast<std::size_t>(n) : 0;
}

// The collector's defaults. Pacing (Lua's pause and step multiplier): a cycle starts when use has
// doubled since the last one, and each block allocated during it pays 16 words of marking, so
// marking finishes long before the heap doubles again. Stress mode: a cycle starts as soon as
// anything is allocated, and every allocation first does a step of 16 words.
constexpr unsigned kPausePercent = 200;
constexpr std::size_t kStepWordsPerBlock = 16;
constexpr unsigned kStressPausePercent = 101;
constexpr std::size_t kStressStepWordsPerBlock = 1;
constexpr std::size_t kStressStepWords = 16;

#ifdef UHEAP_INTERP_NO_BARRIER
constexpr bool kBarriers = false;  // built to measure the barrier's cost: stop-the-world only
#else
constexpr bool kBarriers = true;
#endif

/// The heap's clock too (set_clock), so collect_idle()'s deadline and the pause times agree.
std::uint64_t monotonic_ns(void* = nullptr) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now().time_since_epoch()).count());
}

/// --cpu-clock: this thread's CPU time, so pauses measured on a busy machine leave out the time
/// other processes had the CPU.
std::uint64_t thread_cpu_ns(void* = nullptr) {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}
std::uint64_t (*now_ns)(void*) = &monotonic_ns;

/// "P,S" of --gc-pacing; false if malformed.
bool parse_pacing(const char* text, unsigned* pause_percent, std::size_t* step_words) {
    char* end = nullptr;
    unsigned long p = std::strtoul(text, &end, 10);
    if (end == text || *end != ',') return false;
    const char* s = end + 1;
    unsigned long long w = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0' || p > 0xffff) return false;
    *pause_percent = static_cast<unsigned>(p);
    *step_words = static_cast<std::size_t>(w);
    return true;
}

/// --profile's snapshots on request: where they go and how many were written.
struct Snapshots {
    uheap::Profiler* profiler = nullptr;
    const char* path = nullptr;  ///< FILE of --profile; snapshot N is FILE.N
    unsigned written = 0;
};
Snapshots snapshots;

// Why the handler does nothing but set a flag: it can interrupt anything, an allocation, a
// collection, the profiler's bookkeeping, malloc; storing a volatile sig_atomic_t is all a handler
// may safely do. eval.cpp answers at its safe point by calling write_snapshot(), and so does
// main() before each top-level form (top_level_safe_point()).
void request_snapshot(int) { vm.snapshot_requested = 1; }

// Why the request is cleared before the snapshot is taken: a signal that arrives while it is being
// written asks for another one at the next safe point instead of being lost.
// Why SnapshotMode::now and not after_collection: collecting at a safe point would be safe for
// memory (what comes next, the body or the form, may allocate and so collect anyway, and every
// live Value is rooted there), but it would change the run: finalisers would close forgotten ports, weak references
// would clear, a collection would come where the program said (gc-disable) or holds (heap-lock),
// and a running incremental cycle would be finished at once, so what the program prints would
// depend on when the signal came.
void write_snapshot() {
    vm.snapshot_requested = 0;
    std::string path = std::string(snapshots.path) + "." + std::to_string(++snapshots.written);
    if (snapshots.profiler->save_json(path, uheap::SnapshotMode::now)) {
        std::fprintf(stderr, "uheap-scheme: wrote profile snapshot %s\n", path.c_str());
    } else {
        std::fprintf(stderr, "uheap-scheme: cannot write the profile snapshot to %s\n", path.c_str());
    }
}

// Why main() has a safe point of its own: eval.cpp's is the entry to a closure's body, which a
// line typed into the REPL such as (mem-info) never reaches. Between two top-level forms nothing
// of the program is half-done.
void top_level_safe_point() {
    if (vm.snapshot_requested != 0) write_snapshot();
}

// Why SA_RESTART: the REPL may be waiting in fgets() when the signal comes, and the read must go
// on waiting rather than fail with EINTR (the snapshot is then written before the next line's
// first form is evaluated).
bool install_snapshot_handler(uheap::Profiler* profiler, const char* path) {
    snapshots.profiler = profiler;
    snapshots.path = path;
    vm.write_snapshot = &write_snapshot;  // before the handler: eval.cpp calls it once the flag is set
    struct sigaction action {};
    action.sa_handler = &request_snapshot;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(SIGUSR1, &action, nullptr) == 0;
}

void report_error(std::FILE* out) {
    std::fflush(stdout);
    Value raised = vm.roots.raised;
    if (has_type(raised, Type::error)) {
        print_value(out, raised, false);
    } else {
        std::fputs("uncaught raise: ", out);
        print_value(out, raised, true);
    }
    std::fputc('\n', out);
    std::fflush(out);
    vm.roots.raised = 0;
    pop_to(0);
}

/// The whole file, or false if it cannot be read. Host-side text, not a language object.
bool read_file(const char* path, std::string* text) {
    std::FILE* fp = std::fopen(path, "rb");
    if (fp == nullptr) return false;
    char chunk[4096];
    for (std::size_t got; (got = std::fread(chunk, 1, sizeof chunk, fp)) > 0;) text->append(chunk, got);
    std::fclose(fp);
    return true;
}

int run_file(const char* path) {
    std::string text;
    if (!read_file(path, &text)) {
        std::fprintf(stderr, "uheap-scheme: cannot open %s\n", path);
        return 2;
    }
    std::size_t pos = 0;
    for (;;) {
        try {
            Value datum = read_datum(text.data(), text.size(), &pos);
            if (datum == kEof) return 0;
            vm.roots.current_datum = datum;
            top_level_safe_point();
            eval(datum, kNil);
        } catch (SchemeError&) {
            report_error(stderr);
            return 1;
        } catch (Incomplete&) {
            std::fprintf(stderr, "SyntaxError: unexpected end of file\n");
            return 1;
        }
        vm.roots.current_datum = 0;
        clear_dead_stack();
    }
}

// Why the REPL unlocks the heap after an error: like MicroPython's REPL, a program that raised
// while holding heap-lock must not leave the interpreter unable to allocate.
void recover_at_top_level() {
    while (vm.heap->lock_depth() > 0) vm.heap->unlock();
    clear_dead_stack();
}

int repl() {
    bool interactive = isatty(0) != 0;
    std::string buffer;  // host-side: text typed so far that does not yet form a whole datum
    char line[4096];
    for (;;) {
        // Waiting for a line is idle time: up to a millisecond of a due or running cycle (or of a
        // pending lazy sweep) is done here instead of in the next line's allocations.
        if (vm.incremental) vm.heap->collect_idle(now_ns(nullptr) + 1000000);
        if (interactive) {
            std::fputs(buffer.empty() ? "> " : "... ", stdout);
            std::fflush(stdout);
        }
        if (std::fgets(line, sizeof line, stdin) == nullptr) break;
        buffer += line;
        std::size_t pos = 0;
        for (;;) {
            std::size_t start = pos;
            try {
                Value datum = read_datum(buffer.data(), buffer.size(), &pos);
                if (datum == kEof) {
                    buffer.clear();
                    break;
                }
                vm.roots.current_datum = datum;
                top_level_safe_point();
                Value result = eval(datum, kNil);
                vm.roots.current_datum = 0;
                if (result != kUnspecified) {
                    print_value(stdout, result, true);
                    std::fputc('\n', stdout);
                }
            } catch (Incomplete&) {
                buffer.erase(0, start);
                break;
            } catch (SchemeError&) {
                report_error(stdout);
                recover_at_top_level();
                buffer.clear();
                break;
            }
            clear_dead_stack();
        }
    }
    if (interactive) std::fputc('\n', stdout);
    return 0;
}

std::size_t stack_limit_bytes() {
    rlimit limit{};
    std::size_t bytes = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) bytes = limit.rlim_cur;
    if (bytes > (256u << 20)) bytes = 256u << 20;
    return bytes / 4 * 3;  // leave a quarter for primitives, the collector and the C library
}

int usage() {
    std::fprintf(stderr, "usage: uheap-scheme [--heap SIZE] [--gc=MODE] [--gc-stress[=WORDS]] [--gc-pacing P,S] [--stats]\n"
                         "                    [--cpu-clock] [--profile FILE] [--profile-stream FILE]\n"
                         "                    [--profile-sites N] [script.scm] [args...]\n"
                         "  --heap SIZE     heap size in bytes, K or M suffix (default 256K)\n"
                         "  --gc=incremental  collect in bounded steps between the program's work (the default)\n"
                         "  --gc=stw        stop-the-world: each collection marks everything at once\n"
                         "  --gc-stress[=WORDS]  incremental, with a marking step of WORDS words (default %zu)\n"
                         "                  before every allocation, a cycle always running, and a check after\n"
                         "                  every collection that nothing reachable was freed (finds missing\n"
                         "                  write barriers); with --gc=stw: a whole collection before every\n"
                         "                  allocation (finds values, such as weak ones, that a collection\n"
                         "                  can take between their reading and their use)\n"
                         "  --gc-pacing P,S  a collection (a cycle) starts when use reaches P %% of what survived\n"
                         "                  the last one; incremental: allocation marks S words per block\n"
                         "                  (default %u,%zu; stop-the-world: collect when full, unless given)\n"
                         "  --stats         print the heap counters and the pauses at exit (to stderr)\n"
                         "  --cpu-clock     time pauses in this thread's CPU time (for measuring on a busy machine)\n"
                         "  --profile FILE  record a memory profile by type; write it as JSON at exit\n"
                         "                  (render it with uheap-report FILE --out DIR); SIGUSR1 writes\n"
                         "                  FILE.1, FILE.2, ... mid-run (kill -USR1 PID)\n"
                         "  --profile-stream FILE  write the profile as it goes, a line per collection and\n"
                         "                  event, flushed, so a crash leaves it (uheap-report reads it)\n"
                         "  --profile-sites N  record the call stack of 1 in N allocations (--profile's\n"
                         "                  summary then names the top allocation sites of each type)\n",
                 kStressStepWords, kPausePercent, kStepWordsPerBlock);
    return 2;
}

}  // namespace
}  // namespace scheme

int main(int argc, char** argv) {
    using namespace scheme;
    std::size_t heap_bytes = 256u << 10;
    bool stats = false;
    const char* profile_path = nullptr;
    const char* stream_path = nullptr;  // --profile-stream
    unsigned long long sample_sites = 0;  // --profile-sites N
    bool incremental = kBarriers;
    std::size_t stress_words = 0;
    unsigned pause_percent = kPausePercent;
    std::size_t step_words_per_block = kStepWordsPerBlock;
    bool pacing_given = false;
    int arg = 1;
    for (; arg < argc && argv[arg][0] == '-' && argv[arg][1] != '\0'; ++arg) {
        if (std::strcmp(argv[arg], "--heap") == 0 && arg + 1 < argc) {
            heap_bytes = parse_size(argv[++arg]);
            if (heap_bytes == 0) return usage();
        } else if (std::strcmp(argv[arg], "--gc=incremental") == 0) {
            incremental = true;
        } else if (std::strcmp(argv[arg], "--gc=stw") == 0) {
            incremental = false;
        } else if (std::strcmp(argv[arg], "--gc-stress") == 0) {
            stress_words = kStressStepWords;
        } else if (std::strncmp(argv[arg], "--gc-stress=", 12) == 0) {
            char* end = nullptr;
            stress_words = std::strtoull(argv[arg] + 12, &end, 10);
            if (end == argv[arg] + 12 || *end != '\0' || stress_words == 0) return usage();
        } else if (std::strcmp(argv[arg], "--gc-pacing") == 0 && arg + 1 < argc) {
            if (!parse_pacing(argv[++arg], &pause_percent, &step_words_per_block)) return usage();
            pacing_given = true;
        } else if (std::strcmp(argv[arg], "--cpu-clock") == 0) {
            now_ns = &thread_cpu_ns;
        } else if (std::strcmp(argv[arg], "--stats") == 0) {
            stats = true;
        } else if (std::strcmp(argv[arg], "--profile") == 0 && arg + 1 < argc) {
            profile_path = argv[++arg];
        } else if (std::strcmp(argv[arg], "--profile-stream") == 0 && arg + 1 < argc) {
            stream_path = argv[++arg];
        } else if (std::strcmp(argv[arg], "--profile-sites") == 0 && arg + 1 < argc) {
            char* end = nullptr;
            sample_sites = std::strtoull(argv[++arg], &end, 10);
            if (end == argv[arg] || *end != '\0' || sample_sites == 0) return usage();
        } else {
            return usage();
        }
    }
    if (incremental && !kBarriers) {
        std::fprintf(stderr, "uheap-scheme: built with UHEAP_INTERP_NO_BARRIER: only --gc=stw\n");
        return 2;
    }
    if (stress_words != 0 && !pacing_given) {
        pause_percent = kStressPausePercent;
        step_words_per_block = kStressStepWordsPerBlock;
    }
    uheap::HeapConfig config;
    config.incremental = incremental;
    // --gc=stw --gc-stress: the heap collects before every allocation (WORDS does not apply).
    config.collect_on_every_alloc = stress_words != 0 && !incremental;
    uheap::OwnedHeap heap(heap_bytes, config);
    if (!heap) {
        std::fprintf(stderr, "uheap-scheme: cannot create a %zu-byte heap: %s\n", heap_bytes,
                     uheap::status_name(heap.status()));
        return 2;
    }
    heap->set_stack_base(__builtin_frame_address(0));
    heap->set_clock(now_ns, nullptr);
    // Stop-the-world keeps the heap's default policy (collect when an allocation does not fit)
    // unless --gc-pacing asks for collections by pacing (to compare the modes at equal pacing);
    // incremental starts cycles by pacing, so they run while there is still room to allocate.
    if (incremental || pacing_given) heap->set_pacing(pause_percent, step_words_per_block);
    vm.incremental = incremental;
    vm.stress_step_words = incremental ? stress_words : 0;
    const bool profiling = profile_path != nullptr || stream_path != nullptr;
    vm.check_reachable = stress_words != 0 && incremental && !profiling;
    // The hooks: every pause for --stats, and under --gc-stress (incremental) the reachability check
    // after every collection. The profiler owns the hooks when it is attached, so neither runs then.
    PauseStats pauses;
    if (!profiling) {
        uheap::EventHooks hooks;
        hooks.user = &pauses;
        hooks.on_pause = &PauseStats::hook;
        if (vm.check_reachable) hooks.on_collect_end = &check_reachable;
        heap->set_event_hooks(hooks);
        vm.pauses = &pauses;
    }
    // Declared after the heap so it detaches before the heap's region goes away.
    // The profile keeps a heap snapshot after every collection (thinned to 32 spread over the run)
    // for uheap-report's slider; call stacks only when asked for (a backtrace each).
    uheap::ProfilerConfig profile_config;
    profile_config.snapshot_every = 1;
    profile_config.site_sample_every = static_cast<std::size_t>(sample_sites);
    uheap::Profiler profiler(profile_config);
    if (stream_path != nullptr && !profiler.stream_to(stream_path)) {
        std::fprintf(stderr, "uheap-scheme: cannot write the profile stream to %s: %s\n", stream_path, std::strerror(errno));
        return 1;
    }
    if (profiling) {
        for (unsigned type = 1; type <= static_cast<unsigned>(Type::weakref); ++type) {
            profiler.set_tag_name(static_cast<std::uint16_t>(type), type_name(static_cast<Type>(type)));
        }
        profiler.attach(*heap);
    }
    if (profile_path != nullptr) {
        // Before the program runs, so a signal sent once it has started finds the handler. Without
        // it the profile at exit is still written: a warning, not a failure.
        if (!install_snapshot_handler(&profiler, profile_path)) {
            std::fprintf(stderr, "uheap-scheme: no snapshots on SIGUSR1: %s\n", std::strerror(errno));
        }
    }
    vm.stack_base = static_cast<const char*>(__builtin_frame_address(0));
    vm.stack_limit_bytes = stack_limit_bytes();

    int code = 0;
    try {
        init_vm(heap.get());
        init_eval();
        init_builtins();
        init_gc_builtins();
        std::size_t base = vm.sp;
        for (int i = arg; i < argc; ++i) push(make_string(argv[i]));
        vm.roots.command_line = list_from_stack(base);
    } catch (SchemeError&) {
        std::fprintf(stderr, "uheap-scheme: a %zu-byte heap is too small for the interpreter\n", heap_bytes);
        return 2;
    }
    // Start the program on a clean stack: stale words left by initialisation would otherwise
    // point at blocks that later hold the program's objects, and keep those alive.
    clear_dead_stack();
    try {
        code = arg < argc ? run_file(argv[arg]) : repl();
    } catch (ExitRequest& request) {
        code = request.code;
    }
    std::fflush(stdout);
    if (stats) print_heap_stats(stderr);
    if (profile_path != nullptr && !profiler.save_json(profile_path)) {
        std::fprintf(stderr, "uheap-scheme: cannot write the profile to %s\n", profile_path);
        code = code != 0 ? code : 1;
    }
    // Every object dies now: finalisers close the files the program forgot.
    vm.check_reachable = false;
    heap->sweep_all();
    heap->remove_root_range(&vm.stack_node);
    heap->remove_root_range(&vm.roots_node);
    return code;
}
