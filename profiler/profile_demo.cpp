// SPDX-License-Identifier: MIT
// uheap_profile_demo: a scripted workload (several tags, churn, a leak, fragmentation) profiled
// into a JSON file for uheap-report. Usage: uheap_profile_demo OUT.json [--heap-kb N] [--rounds N]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "uheap/profiler.hpp"
#include "uheap/uheap.hpp"

namespace {

// The "types" of a pretend interpreter, used as allocation tags.
enum Tag : std::uint16_t { kInt = 1, kStr, kTuple, kList, kDict, kBytes, kFile, kCacheEntry };

constexpr std::size_t kRootSlots = 1024;

/// A deterministic generator, so every run draws the same picture.
struct XorShift {
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    std::uint64_t next() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

/// The pretend interpreter: a heap, a root table (its "VM stack"), and a growing list.
struct Demo {
    uheap::Heap* heap = nullptr;
    void* roots[kRootSlots] = {};
    uheap::RootRange root_range;
    XorShift rng;
    std::size_t files_closed = 0;

    void* alloc(std::size_t n_bytes, Tag tag, unsigned flags = 0) { return heap->alloc(n_bytes, flags, tag); }

    // A list is a header word (length) followed by element pointers; it grows with realloc,
    // which moves it when the blocks after it are taken.
    void** list_append(void** list, void* item) {
        std::size_t length = list == nullptr ? 0 : reinterpret_cast<std::uintptr_t>(list[0]);
        std::size_t n_bytes = (length + 2) * sizeof(void*);
        if (list == nullptr) {
            list = static_cast<void**>(alloc(n_bytes, kList));
        } else if (heap->size_of(list) < n_bytes) {
            list = static_cast<void**>(heap->realloc(list, n_bytes * 2));
        }
        if (list == nullptr) return nullptr;
        list[length + 1] = item;
        list[0] = reinterpret_cast<void*>(length + 1);
        return list;
    }
};

/// Long-lived module state: dicts holding strings, rooted for the whole run.
void build_modules(Demo& d) {
    for (std::size_t m = 0; m < 24; ++m) {
        auto** dict = static_cast<void**>(d.alloc(16 * sizeof(void*), kDict));
        for (std::size_t k = 0; k < 15; ++k) dict[k] = d.alloc(24 + d.rng.below(64), kStr, uheap::kNoScan);
        d.roots[m] = dict;
    }
}

/// Short-lived temporaries: most die young, a sliding window of them is kept on the "stack".
/// Every round also leaks one cache entry into a list that is never cleared.
void churn(Demo& d, std::size_t rounds, std::size_t window_base) {
    constexpr std::size_t kWindow = 256;
    for (std::size_t i = 0; i < rounds; ++i) {
        std::size_t slot = window_base + i % kWindow;
        switch (d.rng.below(4)) {
            case 0: d.roots[slot] = d.alloc(16, kInt); break;
            case 1: d.roots[slot] = d.alloc(8 + d.rng.below(120), kStr, uheap::kNoScan); break;
            case 2: {
                auto** tuple = static_cast<void**>(d.alloc(4 * sizeof(void*), kTuple));
                // Rooted before the next allocation, which may collect: held only in a local,
                // the tuple was freed there and written after (AddressSanitizer's report, once
                // freed blocks were poisoned).
                d.roots[slot] = tuple;
                if (tuple != nullptr) tuple[0] = d.alloc(16, kInt);
                break;
            }
            default: d.alloc(32 + d.rng.below(200), kStr, uheap::kNoScan); break;  // garbage at once
        }
        if (i % 16 == 0) {
            void* entry = d.alloc(128 + d.rng.below(128), kCacheEntry);
            auto** cache = d.list_append(static_cast<void**>(d.roots[100]), entry);
            if (cache != nullptr) d.roots[100] = cache;
        }
        if (i % 64 == 0) d.alloc(64, kFile, uheap::kFinaliser);  // an unclosed file: finalised when swept
    }
}

/// Interleaves big buffers with small survivors, then drops the buffers: the free space ends
/// up in holes between the survivors, and a big request no longer fits.
void fragment(Demo& d, std::size_t slots_base, std::size_t pairs) {
    for (std::size_t i = 0; i < pairs; ++i) {
        d.roots[slots_base + 2 * i] = d.alloc(512 + d.rng.below(1024), kBytes, uheap::kNoScan);
        d.roots[slots_base + 2 * i + 1] = d.alloc(32, kTuple);
    }
    d.heap->collect();
    for (std::size_t i = 0; i < pairs; ++i) d.roots[slots_base + 2 * i] = nullptr;  // buffers die
    d.heap->collect();
    // A request bigger than any hole: the alarm fires, then the heap collects and fails.
    d.alloc(d.heap->info().total / 3, kBytes, uheap::kNoScan);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OUT.json [--heap-kb N] [--rounds N]\n", argv[0]);
        return 2;
    }
    std::string out_path = argv[1];
    std::size_t heap_kb = 256;
    std::size_t rounds = 4000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--heap-kb") == 0) heap_kb = std::strtoul(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::strtoul(argv[i + 1], nullptr, 10);
    }

    uheap::OwnedHeap owned(heap_kb * 1024);
    if (!owned) {
        std::fprintf(stderr, "cannot create a %zu KB heap: %s\n", heap_kb, uheap::status_name(owned.status()));
        return 1;
    }
    Demo d;
    d.heap = owned.get();
    d.root_range.words = d.roots;
    d.root_range.n_words = kRootSlots;
    d.heap->add_root_range(&d.root_range);
    d.heap->set_finaliser([](void* user, void*) { ++static_cast<Demo*>(user)->files_closed; }, &d);
    d.heap->set_threshold(d.heap->info().total / 8);

    // A heap snapshot after every other collection (about a dozen over the run), so the HTML
    // report's slider can show the map as the cache leaks and the fragmentation phase comes and goes.
    uheap::ProfilerConfig config;
    config.snapshot_every = 2;
    uheap::Profiler profiler(config);
    const char* names[] = {"", "int", "str", "tuple", "list", "dict", "bytes", "file", "cache_entry"};
    for (std::uint16_t tag = kInt; tag <= kCacheEntry; ++tag) profiler.set_tag_name(tag, names[tag]);
    std::size_t large_alarms = 0;
    std::size_t low_alarms = 0;
    profiler.set_large_alloc_alarm(40, [&](const uheap::AlarmEvent&) { ++large_alarms; });
    profiler.set_low_free_run_alarm(512, [&](const uheap::AlarmEvent&) { ++low_alarms; });
    profiler.attach(*d.heap);

    build_modules(d);
    churn(d, rounds, 200);
    fragment(d, 600, 120);
    churn(d, rounds / 2, 200);
    d.heap->collect();

    std::filesystem::path path(out_path);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    if (!profiler.save_json(out_path)) {
        std::fprintf(stderr, "cannot write %s\n", out_path.c_str());
        return 1;
    }
    uheap::Counters c = d.heap->counters();
    std::printf("wrote %s: %llu collections, %llu allocations, %zu objects tracked, %zu alarms "
                "(%zu large, %zu low free run), %zu files finalised\n",
                out_path.c_str(), static_cast<unsigned long long>(c.collections),
                static_cast<unsigned long long>(c.allocations), profiler.tracked_objects(),
                profiler.alarm_log().size(), large_alarms, low_alarms, d.files_closed);
    profiler.detach();
    d.heap->remove_root_range(&d.root_range);
    return d.heap->verify().ok() ? 0 : 1;
}
