// SPDX-License-Identifier: MIT
// Shared helpers for the core suites: heaps over test-owned regions, root arrays, text capture,
// and field-by-field descriptions of Info / Counters so "the heap is unchanged" is one EXPECT.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "uheap/uheap.hpp"

/// Skips the rest of the test in a build without every one of `features` (uheap::Feature bits),
/// so the minimal configuration (every feature off) runs the same suites (ctest -L minimal).
#define UHEAP_TEST_NEEDS(features)                                                                 \
    do {                                                                                           \
        if ((uheap::kBuiltFeatures & (features)) != (features)) {                                  \
            GTEST_SKIP() << "needs a feature this build leaves out (uheap::Feature bits " << (features) << ")"; \
        }                                                                                          \
    } while (0)

namespace uheap_test {

/// Base of main()'s frame (test_main.cpp): above every frame a test creates.
extern const void* g_stack_base;

/// A region owned by the test, 64-byte aligned plus `misalign` bytes, and the heap laid over it.
class TestHeap {
public:
    explicit TestHeap(std::size_t region_bytes, const uheap::HeapConfig& config = {}, std::size_t misalign = 0)
        : storage_(new unsigned char[region_bytes + 64 + misalign]), region_bytes_(region_bytes) {
        auto at = reinterpret_cast<std::uintptr_t>(storage_.get());
        region_ = reinterpret_cast<unsigned char*>((at + 63) / 64 * 64 + misalign);
        heap_ = uheap::Heap::create(region_, region_bytes, config, &status_);
    }
    TestHeap(const TestHeap&) = delete;
    TestHeap& operator=(const TestHeap&) = delete;
    uheap::Heap* get() const { return heap_; }
    uheap::Heap* operator->() const { return heap_; }
    uheap::Heap& operator*() const { return *heap_; }
    uheap::Status status() const { return status_; }
    unsigned char* region() const { return region_; }
    std::size_t region_bytes() const { return region_bytes_; }

private:
    std::unique_ptr<unsigned char[]> storage_;
    unsigned char* region_ = nullptr;
    std::size_t region_bytes_ = 0;
    uheap::Heap* heap_ = nullptr;
    uheap::Status status_ = uheap::Status::ok;
};

/// A host-owned array of root words registered with a heap for the array's lifetime.
class RootArray {
public:
    RootArray(uheap::Heap& heap, std::size_t n_words) : heap_(&heap), words_(n_words, nullptr) {
        node_.words = words_.data();
        node_.n_words = words_.size();
        heap_->add_root_range(&node_);
    }
    ~RootArray() { heap_->remove_root_range(&node_); }
    RootArray(const RootArray&) = delete;
    RootArray& operator=(const RootArray&) = delete;
    void*& operator[](std::size_t i) { return words_[i]; }
    std::size_t size() const { return words_.size(); }

private:
    uheap::Heap* heap_;
    std::vector<void*> words_;
    uheap::RootRange node_;
};

/// A config for tests that read or write memory the heap freed (a host's use after free, on
/// purpose): poisoning, on in debug builds, exists to report exactly that.
inline uheap::HeapConfig unpoisoned(uheap::HeapConfig config = {}) {
    config.poison_freed = false;
    return config;
}

/// Says "this test's heap has no roots": an empty registered range. A heap that knows no root
/// source at all refuses collect() (no_roots); with this, collect() frees everything unreachable.
class NoRoots : public RootArray {
public:
    explicit NoRoots(uheap::Heap& heap) : RootArray(heap, 0) {}
};

inline std::string describe(const uheap::Info& i) {
    std::ostringstream s;
    s << "total=" << i.total << " used=" << i.used << " free=" << i.free << " max_free=" << i.max_free
      << " 1blk=" << i.num_1block << " 2blk=" << i.num_2block << " max_block=" << i.max_block
      << " objects=" << i.objects << " free_runs=" << i.free_runs << " areas=" << i.areas
      << " metadata=" << i.metadata_bytes << " frag=" << i.fragmentation_permille;
    return s.str();
}

/// Every counter except the pause times (clock-dependent).
inline std::string describe(const uheap::Counters& c) {
    std::ostringstream s;
    s << "allocations=" << c.allocations << " frees=" << c.frees << " bytes_allocated=" << c.bytes_allocated
      << " collections=" << c.collections << " objects_collected=" << c.objects_collected
      << " last_collect_freed=" << c.last_collect_freed << " used_bytes=" << c.used_bytes
      << " peak=" << c.peak_used_bytes << " oom=" << c.out_of_memory
      << " overflows=" << c.mark_stack_overflows << " finalisers=" << c.finalisers_run
      << " weak=" << c.weak_notified << " repairs=" << c.index_repairs << " grown=" << c.areas_grown
      << " released=" << c.areas_released;
    return s.str();
}

inline std::string describe(const uheap::VerifyReport& r) {
    std::ostringstream s;
    s << uheap::invariant_name(r.broken) << " area " << r.area << " block " << r.block << ": " << r.detail;
    return s.str();
}

/// Everything a host can observe about a heap's state without reading object memory.
inline std::string snapshot(const uheap::Heap& heap) { return describe(heap.info()) + " | " + describe(heap.counters()); }

/// verify() must report no broken invariant.
#define EXPECT_VERIFIED(heap)                                                   \
    do {                                                                        \
        ::uheap::VerifyReport uheap_report_ = (heap).verify();                  \
        EXPECT_TRUE(uheap_report_.ok()) << ::uheap_test::describe(uheap_report_); \
    } while (0)
#define ASSERT_VERIFIED(heap)                                                   \
    do {                                                                        \
        ::uheap::VerifyReport uheap_report_ = (heap).verify();                  \
        ASSERT_TRUE(uheap_report_.ok()) << ::uheap_test::describe(uheap_report_); \
    } while (0)

/// PrintFn that appends to a std::string.
inline void capture_text(void* user, const char* text, std::size_t len) { static_cast<std::string*>(user)->append(text, len); }

/// True iff `n` bytes at `p` are all zero.
inline bool all_zero(const void* p, std::size_t n) {
    auto* bytes = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        if (bytes[i] != 0) return false;
    }
    return true;
}

/// True iff `p` is aligned to a block.
inline bool block_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % uheap::kBlockBytes == 0; }

inline std::size_t blocks(std::size_t n) { return n * uheap::kBlockBytes; }

}  // namespace uheap_test
