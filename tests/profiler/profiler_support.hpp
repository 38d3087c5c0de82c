// SPDX-License-Identifier: MIT
// Shared fixtures for the profiler suites: a heap at a fixed alignment with a fake clock and a
// root table, so every run lays out (and times) the heap identically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "uheap/heap.hpp"

namespace uheap::testing {

/// A heap over `region_bytes` of 64-byte-aligned memory, a 64-slot root table, and a clock that
/// advances 1000 ns per reading (so pause_ns is deterministic).
class TestHeap {
    struct AlignedDelete {
        void operator()(unsigned char* p) const { ::operator delete(p, std::align_val_t{64}); }
    };

public:
    explicit TestHeap(std::size_t region_bytes, bool auto_collect = true)
        : region_(static_cast<unsigned char*>(::operator new(region_bytes, std::align_val_t{64}))) {
        heap_ = Heap::create(region_.get(), region_bytes);
        heap_->set_clock([](void* user) { return *static_cast<std::uint64_t*>(user) += 1000; }, &clock_);
        heap_->set_auto_collect(auto_collect);
        range_.words = roots;
        range_.n_words = kRoots;
        heap_->add_root_range(&range_);
    }
    ~TestHeap() { heap_->remove_root_range(&range_); }
    TestHeap(const TestHeap&) = delete;
    TestHeap& operator=(const TestHeap&) = delete;

    /// The smallest 64-byte-aligned region whose pool holds exactly `n_blocks`, found by probing,
    /// so tests that compare block offsets do not depend on the size of the heap's control data.
    static std::size_t region_for_pool_blocks(std::size_t n_blocks) {
        constexpr std::size_t kSearch = 64 * 1024;
        std::size_t lowest = n_blocks * kBlockBytes;
        std::unique_ptr<unsigned char, AlignedDelete> scratch(
            static_cast<unsigned char*>(::operator new(lowest + kSearch, std::align_val_t{64})));
        for (std::size_t size = lowest; size <= lowest + kSearch; size += sizeof(void*)) {
            Heap* probe = Heap::create(scratch.get(), size);
            if (probe != nullptr && probe->info_fast().total == n_blocks * kBlockBytes) return size;
        }
        return 0;
    }

    Heap& operator*() { return *heap_; }
    Heap* operator->() { return heap_; }
    /// Byte offset of `ptr` from the first block of area 0.
    std::size_t offset_of(const void* ptr) const {
        return static_cast<std::size_t>(static_cast<const unsigned char*>(ptr) -
                                        static_cast<const unsigned char*>(heap_->area_pool(0).begin));
    }

    static constexpr std::size_t kRoots = 64;
    void* roots[kRoots] = {};

private:
    std::unique_ptr<unsigned char, AlignedDelete> region_;
    Heap* heap_ = nullptr;
    std::uint64_t clock_ = 0;
    RootRange range_;
};

}  // namespace uheap::testing
