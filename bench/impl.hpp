// SPDX-License-Identifier: MIT
// The implementation adapters every workload is written against: uheap, Boehm GC, glibc malloc.
//
// One adapter = one way to get memory. Each offers the same small surface, so a workload is a
// function template over the adapter and the same code runs against every implementation:
//
//   Impl(heap_bytes, options)    a heap of `heap_bytes` (the same budget for every collector)
//   alloc(n)                     zeroed, scanned object (null when the budget is exhausted)
//   alloc_atomic(n)              pointer-free object, never scanned, not zeroed (uheap kNoScan |
//                                kUninitialised, GC_MALLOC_ATOMIC)
//   realloc(p, n)                resize, may move
//   release(p)                   explicit free; a no-op for collectors (dropping the pointer is enough)
//   collect()                    one full collection; a no-op for malloc
//   set_auto_collect(on)         lets setup code fill a heap without triggering collections
//   add_roots(words, n)          registers a host-owned array of pointers as roots, as a real host
//   remove_roots(handle)         would (uheap RootRange, GC_add_roots); malloc needs none
//   free_bytes()                 free bytes inside the budget (reported at out-of-memory)
//
// Roots: all collectors also scan the C stack (uheap: set_stack_base() with main()'s frame;
// Boehm: GC_INIT() in main()), so short-lived pointers in locals stay alive the same way.
#pragma once

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "uheap/cxx.hpp"
#include "uheap/heap.hpp"

#ifndef UHEAP_BENCH_HAVE_BOEHM
#define UHEAP_BENCH_HAVE_BOEHM 0
#endif
#if UHEAP_BENCH_HAVE_BOEHM
#include <gc.h>
#endif

namespace bench {

/// Base of the C stack (main()'s frame), recorded before any benchmark runs.
extern const void* g_stack_base;

inline constexpr bool kHaveBoehm = UHEAP_BENCH_HAVE_BOEHM != 0;

struct ImplOptions {
    /// uheap only: entries of the mark stack (HeapConfig::mark_stack_entries).
    std::size_t mark_stack_entries = 0;  // 0: sized from the region (Heap::default_mark_stack_entries)
    bool eager_sweep = false;  ///< uheap only: HeapConfig::lazy_sweep off (also UHEAP_BENCH_SWEEP=eager)
    bool incremental = false;  ///< uheap only: HeapConfig::incremental
};

/// Zeroes 64 KB of stack below the caller, so stale pointers left there by an earlier benchmark
/// do not keep its data alive (both collectors scan the stack conservatively).
__attribute__((noinline)) inline void scrub_stack() {
    volatile unsigned char scratch[64 * 1024];
    for (auto& b : scratch) b = 0;
}

/// Opaque handle of a registered root array.
using RootHandle = void*;

// ---- uheap --------------------------------------------------------------------------------------

/// Removes `node` from a singly linked list of root records and deletes it (both collectors'
/// adapters keep their registered root ranges that way).
template <class Node>
void unlink_and_delete(Node*& first, Node* node) {
    for (Node** link = &first; *link != nullptr; link = &(*link)->next) {
        if (*link == node) {
            *link = node->next;
            break;
        }
    }
    delete node;
}

class UheapImpl {
public:
    static constexpr const char* kName = "uheap";
    static constexpr bool kCollects = true;
    static constexpr bool kExplicitFree = false;

    /// The region is `heap_bytes` plus whatever a mark stack larger than the default needs, so
    /// the block pool is the same size whatever the stack. The region is touched up front
    /// (like the pre-expanded Boehm heap, its pages are resident before timing starts).
    explicit UheapImpl(std::size_t heap_bytes, const ImplOptions& options = {}) {
        std::size_t extra = 0;
        std::size_t default_entries = uheap::Heap::default_mark_stack_entries(heap_bytes);
        if (options.mark_stack_entries > default_entries) {
            extra = (options.mark_stack_entries - default_entries) * 2 * sizeof(void*);
        }
        region_bytes_ = heap_bytes + extra;
        region_.reset(new unsigned char[region_bytes_]);
        std::memset(region_.get(), 0, region_bytes_);
        uheap::HeapConfig config;
        config.mark_stack_entries = options.mark_stack_entries;
        // UHEAP_BENCH_SWEEP=eager: the sweep inside the collection, to compare with the lazy default.
        const char* sweep = std::getenv("UHEAP_BENCH_SWEEP");
        config.lazy_sweep = !options.eager_sweep && (sweep == nullptr || std::strcmp(sweep, "eager") != 0);
        config.incremental = options.incremental;
        heap_ = uheap::Heap::create(region_.get(), region_bytes_, config, &status_);
        if (heap_ != nullptr) heap_->set_stack_base(g_stack_base);
        scrub_stack();
    }
    UheapImpl(const UheapImpl&) = delete;
    UheapImpl& operator=(const UheapImpl&) = delete;
    ~UheapImpl() {
        while (roots_ != nullptr) remove_roots(roots_);
    }

    /// Empty string when the heap was created, else why not.
    std::string error() const {
        return heap_ != nullptr ? std::string() : std::string("uheap create: ") + uheap::status_name(status_);
    }
    void* alloc(std::size_t n) { return heap_->alloc(n); }
    // Not zeroed, as GC_MALLOC_ATOMIC and malloc() do not zero (a one-block object still is).
    void* alloc_atomic(std::size_t n) { return heap_->alloc(n, uheap::kNoScan | uheap::kUninitialised); }
    void* realloc(void* p, std::size_t n) { return heap_->realloc(p, n); }
    void release(void*) {}
    void collect() { heap_->collect(); }
    void set_auto_collect(bool on) { heap_->set_auto_collect(on); }
    std::size_t free_bytes() const { return heap_->info_fast().free; }
    std::uint64_t mark_stack_overflows() const { return heap_->counters().mark_stack_overflows; }
    uheap::Heap& heap() { return *heap_; }

    RootHandle add_roots(void* const* words, std::size_t n) {
        auto* node = new Node;
        node->range.words = words;
        node->range.n_words = n;
        node->next = roots_;
        roots_ = node;
        heap_->add_root_range(&node->range);
        return node;
    }
    void remove_roots(RootHandle handle) {
        auto* node = static_cast<Node*>(handle);
        heap_->remove_root_range(&node->range);
        unlink_and_delete(roots_, node);
    }

private:
    struct Node {
        uheap::RootRange range;
        Node* next = nullptr;
    };
    std::unique_ptr<unsigned char[]> region_;
    std::size_t region_bytes_ = 0;
    uheap::Heap* heap_ = nullptr;
    uheap::Status status_ = uheap::Status::ok;
    Node* roots_ = nullptr;
};

// ---- Boehm GC -----------------------------------------------------------------------------------

#if UHEAP_BENCH_HAVE_BOEHM
/// Boehm's heap is process-global and never shrinks. The constructor sets the budget
/// (GC_set_max_heap_size) and expands the heap to it at once, so Boehm, like uheap, owns the
/// whole budget from the start; a collection then drops whatever earlier benchmarks left.
/// Benchmarks are registered in ascending heap size, so the heap is never larger than the
/// budget, except below Boehm's minimum heap (over_budget() reports it).
class BoehmImpl {
public:
    static constexpr const char* kName = "boehm";
    static constexpr bool kCollects = true;
    static constexpr bool kExplicitFree = false;

    explicit BoehmImpl(std::size_t heap_bytes, const ImplOptions& = {}) : budget_(heap_bytes) {
        GC_set_max_heap_size(heap_bytes);
        std::size_t have = GC_get_heap_size();
        if (have < heap_bytes) GC_expand_hp(heap_bytes - have);
        scrub_stack();
        GC_gcollect();
    }
    BoehmImpl(const BoehmImpl&) = delete;
    BoehmImpl& operator=(const BoehmImpl&) = delete;
    ~BoehmImpl() {
        while (roots_ != nullptr) remove_roots(roots_);
        if (disabled_) GC_enable();
    }

    std::string error() const { return std::string(); }
    bool over_budget() const { return GC_get_heap_size() > budget_; }
    void* alloc(std::size_t n) { return GC_MALLOC(n); }
    void* alloc_atomic(std::size_t n) { return GC_MALLOC_ATOMIC(n); }
    void* realloc(void* p, std::size_t n) { return GC_REALLOC(p, n); }
    void release(void*) {}
    void collect() { GC_gcollect(); }
    void set_auto_collect(bool on) {
        if (on && disabled_) GC_enable();
        if (!on && !disabled_) GC_disable();
        disabled_ = !on;
    }
    std::size_t free_bytes() const { return GC_get_free_bytes(); }

    RootHandle add_roots(void* const* words, std::size_t n) {
        auto* node = new Node{const_cast<void**>(words), n, roots_};
        roots_ = node;
        GC_add_roots(node->words, node->words + n);
        return node;
    }
    void remove_roots(RootHandle handle) {
        auto* node = static_cast<Node*>(handle);
        GC_remove_roots(node->words, node->words + node->n);
        unlink_and_delete(roots_, node);
    }

private:
    struct Node {
        void** words;
        std::size_t n;
        Node* next;
    };
    std::size_t budget_;
    bool disabled_ = false;
    Node* roots_ = nullptr;
};
#endif

// ---- glibc malloc -------------------------------------------------------------------------------

/// malloc/free with the same budget: the bytes malloc reports usable (plus one chunk header)
/// are counted, and an allocation past the budget fails like an out-of-memory collector.
class MallocImpl {
public:
    static constexpr const char* kName = "malloc";
    static constexpr bool kCollects = false;
    static constexpr bool kExplicitFree = true;

    explicit MallocImpl(std::size_t heap_bytes, const ImplOptions& = {}) : budget_(heap_bytes) {}
    MallocImpl(const MallocImpl&) = delete;
    MallocImpl& operator=(const MallocImpl&) = delete;

    std::string error() const { return std::string(); }
    void* alloc(std::size_t n) { return book(std::calloc(1, n)); }
    void* alloc_atomic(std::size_t n) { return book(std::malloc(n)); }
    void* realloc(void* p, std::size_t n) {
        std::size_t old = p != nullptr ? footprint(p) : 0;
        void* q = std::realloc(p, n);
        if (q == nullptr) return nullptr;
        used_ = used_ - old + footprint(q);
        return q;
    }
    void release(void* p) {
        if (p == nullptr) return;
        used_ -= footprint(p);
        std::free(p);
    }
    void collect() {}
    void set_auto_collect(bool) {}
    std::size_t free_bytes() const { return used_ < budget_ ? budget_ - used_ : 0; }
    RootHandle add_roots(void* const*, std::size_t) { return nullptr; }
    void remove_roots(RootHandle) {}

private:
    static std::size_t footprint(void* p) { return malloc_usable_size(p) + sizeof(std::size_t); }
    void* book(void* p) {
        if (p == nullptr) return nullptr;
        std::size_t n = footprint(p);
        if (used_ + n > budget_) {
            std::free(p);
            return nullptr;
        }
        used_ += n;
        return p;
    }
    std::size_t budget_;
    std::size_t used_ = 0;
};

// ---- helpers shared by the workloads ------------------------------------------------------------

/// Registers `n` words at `words` as roots for the lifetime of the scope.
template <class Impl>
class ScopedRoots {
public:
    ScopedRoots(Impl& impl, void* const* words, std::size_t n) : impl_(impl), handle_(impl.add_roots(words, n)) {}
    ~ScopedRoots() { impl_.remove_roots(handle_); }
    ScopedRoots(const ScopedRoots&) = delete;
    ScopedRoots& operator=(const ScopedRoots&) = delete;

private:
    Impl& impl_;
    RootHandle handle_;
};

/// splitmix64: small, fast, and the same sequence for every implementation.
struct Rng {
    std::uint64_t state;
    explicit Rng(std::uint64_t seed) : state(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, n).
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

inline std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

/// Builds the Impl for `heap_bytes`; on failure skips the benchmark and returns false.
template <class Impl>
bool impl_ready(benchmark::State& state, const Impl& impl) {
    std::string why = impl.error();
    if (why.empty()) return true;
    state.SkipWithError(why.c_str());
    return false;
}

/// Stops the benchmark with a message when a live-data check fails.
inline void check_failed(benchmark::State& state, const std::string& what) {
    static std::string message;  // SkipWithError keeps the pointer until the report is printed
    message = what;
    state.SkipWithError(message.c_str());
}

}  // namespace bench
