// SPDX-License-Identifier: MIT
// Layout (src/layout.cpp): create() and add_area() on bad regions fail with the right status and
// write nothing; any alignment works; the tables cost at most 4 bits per block.
#include <gtest/gtest.h>

#include <algorithm>

#include <vector>

#include "heap_impl.hpp"
#include "test_support.hpp"
#include "uheap/uheap.h"

namespace {

using uheap::Heap;
using uheap::HeapConfig;
using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::TestHeap;

constexpr unsigned char kPattern = 0xa5;

bool intact(const std::vector<unsigned char>& buffer) {
    for (unsigned char b : buffer) {
        if (b != kPattern) return false;
    }
    return true;
}

// A rooted linked list of `n` two-word nodes survives a collection whole: the heap works
// wherever its control data and mark stack live.
void expect_keeps_a_rooted_list(Heap& heap, unsigned n) {
    uheap_test::RootArray roots(heap, 1);
    void* list = nullptr;
    for (unsigned i = 0; i < n; ++i) {
        auto* node = static_cast<void**>(heap.alloc(2 * sizeof(void*)));
        ASSERT_NE(node, nullptr);
        node[0] = list;
        list = node;
    }
    roots[0] = list;
    ASSERT_EQ(heap.collect(), Status::ok);
    EXPECT_EQ(heap.info().objects, n);
    EXPECT_VERIFIED(heap);
}

TEST(Layout, NullRegion) {
    Status status = Status::ok;
    EXPECT_EQ(Heap::create(nullptr, 1 << 20, {}, &status), nullptr);
    EXPECT_EQ(status, Status::null_region);
    EXPECT_EQ(Heap::create(nullptr, 1 << 20), nullptr);  // status pointer optional
}

TEST(Layout, TinyRegionsAreTooSmallAndUntouched) {
    std::vector<unsigned char> buffer(4096, kPattern);
    for (std::size_t bytes : {std::size_t(0), std::size_t(1), std::size_t(16), sizeof(void*) * 8, std::size_t(200)}) {
        Status status = Status::ok;
        EXPECT_EQ(Heap::create(buffer.data() + 1, bytes, {}, &status), nullptr) << bytes;
        EXPECT_EQ(status, Status::region_too_small) << bytes;
    }
    EXPECT_TRUE(intact(buffer));
}

TEST(Layout, SmallestWorkingRegionHoldsOneBlock) {
    // One buffer throughout: how many bytes suffice depends on the region's alignment.
    std::vector<unsigned char> buffer(64 * 1024, kPattern);
    std::size_t lo = 0, hi = buffer.size();  // create fails at lo, works at hi
    while (hi - lo > 1) {
        std::size_t mid = (lo + hi) / 2;
        std::fill(buffer.begin(), buffer.end(), kPattern);
        Status status;
        Heap* made = Heap::create(buffer.data(), mid, {}, &status);
        (made != nullptr ? hi : lo) = mid;
        if (made != nullptr) made->retire();  // the buffer is filled again: the host's once more
    }
    std::fill(buffer.begin(), buffer.end(), kPattern);
    Status status;
    EXPECT_EQ(Heap::create(buffer.data(), lo, {}, &status), nullptr);
    EXPECT_EQ(status, Status::region_too_small);
    EXPECT_TRUE(intact(buffer));
    Heap* heap = Heap::create(buffer.data(), hi, {}, &status);
    ASSERT_NE(heap, nullptr);
    EXPECT_EQ(status, Status::ok);
    EXPECT_GE(heap->info().total, kBlockBytes);
    void* p = heap->alloc(kBlockBytes);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(heap->contains(p));
    EXPECT_VERIFIED(*heap);
}

TEST(Layout, SizeOverflow) {
    Status status = Status::ok;
    auto* near_top = reinterpret_cast<void*>(UINTPTR_MAX - 4095);  // never dereferenced
    EXPECT_EQ(Heap::create(near_top, 8192, {}, &status), nullptr);
    EXPECT_EQ(status, Status::size_overflow);
    std::vector<unsigned char> buffer(256, kPattern);
    EXPECT_EQ(Heap::create(buffer.data(), SIZE_MAX, {}, &status), nullptr);
    EXPECT_EQ(status, Status::size_overflow);
    HeapConfig huge_stack;
    huge_stack.mark_stack_entries = SIZE_MAX / 4;
    EXPECT_EQ(Heap::create(buffer.data(), buffer.size(), huge_stack, &status), nullptr);
    EXPECT_EQ(status, Status::size_overflow);
    EXPECT_TRUE(intact(buffer));
}

// 0 entries: the stack is sized from the region (under 1 % of it, 16 to 4096 entries).
TEST(Layout, ZeroMarkStackEntriesMeansSizedFromTheRegion) {
    EXPECT_EQ(Heap::default_mark_stack_entries(8 * 1024), 16u);
    EXPECT_EQ(Heap::default_mark_stack_entries(1 << 20), 16u);
    EXPECT_EQ(Heap::default_mark_stack_entries(1 << 24), 256u);
    EXPECT_EQ(Heap::default_mark_stack_entries(std::size_t(1) << 30), 16384u);
    EXPECT_EQ(Heap::default_mark_stack_entries(1 << 24, true), 1024u) << "incremental: four times the stack";
    EXPECT_EQ(Heap::default_mark_stack_entries(std::size_t(1) << 30, true), 16384u);
    for (std::size_t region : {std::size_t(16 * 1024), std::size_t(1) << 20}) {
        std::vector<unsigned char> buffer(region, kPattern);
        HeapConfig config;
        config.mark_stack_entries = 0;
        Status status = Status::ok;
        Heap* heap = Heap::create(buffer.data(), buffer.size(), config, &status);
        ASSERT_NE(heap, nullptr);
        EXPECT_EQ(static_cast<uheap::detail::HeapImpl*>(heap)->gc.capacity, Heap::default_mark_stack_entries(region));
        EXPECT_VERIFIED(*heap);
    }
    if (!uheap::built::kIncremental) return;
    std::vector<unsigned char> buffer(std::size_t(4) << 20, kPattern);
    HeapConfig config;
    config.incremental = true;
    Status status = Status::ok;
    Heap* heap = Heap::create(buffer.data(), buffer.size(), config, &status);
    ASSERT_NE(heap, nullptr);
    EXPECT_EQ(static_cast<uheap::detail::HeapImpl*>(heap)->gc.capacity, 256u);
    EXPECT_VERIFIED(*heap);
}

// MicroPython keeps its mark stack in static state; a port passes that memory and the region
// keeps every byte for the pool.
TEST(Layout, TheHostsMarkStackLeavesTheRegionToThePool) {
    std::vector<unsigned char> a(16 * 1024, kPattern), b(16 * 1024, kPattern);
    unsigned char host_stack[64 * sizeof(void*) + 3];
    HeapConfig own;
    own.mark_stack = host_stack + 3;  // any alignment
    own.mark_stack_bytes = 64 * sizeof(void*);
    Heap* with_host_stack = Heap::create(a.data(), a.size(), own, nullptr);
    Heap* with_carved_stack = Heap::create(b.data(), b.size(), {}, nullptr);
    ASSERT_NE(with_host_stack, nullptr);
    ASSERT_NE(with_carved_stack, nullptr);
    EXPECT_GT(with_host_stack->info().total, with_carved_stack->info().total);
    EXPECT_GE(static_cast<uheap::detail::HeapImpl*>(with_host_stack)->gc.capacity, 64 * sizeof(void*) / (2 * sizeof(void*)) - 1);
    // It collects correctly with that stack.
    expect_keeps_a_rooted_list(*with_host_stack, 200);
    HeapConfig empty;
    empty.mark_stack = host_stack;
    empty.mark_stack_bytes = sizeof(void*);  // less than one entry (two words)
    Status status = Status::ok;
    std::vector<unsigned char> c(16 * 1024, kPattern);
    EXPECT_EQ(Heap::create(c.data(), c.size(), empty, &status), nullptr);
    EXPECT_EQ(status, Status::invalid_argument);
    EXPECT_TRUE(intact(c));
}

// With control memory and a mark stack of the host's (static state, as MicroPython keeps), the
// region holds nothing but tables and pool: the heap lives in the control memory, and the pool
// is as large as the region allows after the tables alone.
TEST(Layout, TheHostsControlMemoryLeavesTheRegionToTablesAndPool) {
    EXPECT_LE(Heap::control_bytes(), std::size_t(UHEAP_CONTROL_BYTES));
    std::vector<unsigned char> control(Heap::control_bytes() + 5, kPattern);
    std::vector<unsigned char> a(16 * 1024, kPattern), b(16 * 1024, kPattern);
    unsigned char host_stack[64 * sizeof(void*)];
    HeapConfig own;
    own.mark_stack = host_stack;
    own.mark_stack_bytes = sizeof host_stack;
    own.control = control.data() + 5;  // any alignment
    own.control_bytes = Heap::control_bytes();
    HeapConfig stack_only = own;
    stack_only.control = nullptr;
    stack_only.control_bytes = 0;
    Status status = Status::invalid_argument;
    Heap* in_control = Heap::create(a.data(), a.size(), own, &status);
    ASSERT_NE(in_control, nullptr);
    EXPECT_EQ(status, Status::ok);
    Heap* in_region = Heap::create(b.data(), b.size(), stack_only, nullptr);
    ASSERT_NE(in_region, nullptr);
    auto* at = reinterpret_cast<unsigned char*>(in_control);
    EXPECT_TRUE(at >= control.data() && at < control.data() + control.size());
    const auto& area = *static_cast<uheap::detail::HeapImpl*>(in_control)->areas.first;
    EXPECT_TRUE(reinterpret_cast<const unsigned char*>(&area) > at && reinterpret_cast<const unsigned char*>(&area) < control.data() + control.size());
    // The region's first bytes are the head table (after alignment to a word).
    EXPECT_LT(reinterpret_cast<unsigned char*>(area.tables.head) - a.data(), std::ptrdiff_t(sizeof(void*)));
    std::size_t saved = sizeof(uheap::detail::HeapImpl) + sizeof(uheap::detail::Area);
    // Every byte of the control data becomes pool, less the tables of the extra blocks.
    EXPECT_GE(in_control->info().total, in_region->info().total + saved * 9 / 10 / kBlockBytes * kBlockBytes);
    EXPECT_EQ(in_control->info().metadata_bytes + in_control->info().total, a.size());
    // A heap there works like any other, and add_area refuses the control memory itself.
    expect_keeps_a_rooted_list(*in_control, 100);
    EXPECT_EQ(in_control->add_area(control.data(), control.size()), Status::overlap);
}

TEST(Layout, BadControlMemoryIsRefusedAndNothingIsWritten) {
    std::vector<unsigned char> control(Heap::control_bytes(), kPattern);
    std::vector<unsigned char> region(16 * 1024, kPattern);
    HeapConfig small;
    small.control = control.data();
    small.control_bytes = Heap::control_bytes() - 16;  // short of the worst-case alignment
    Status status = Status::ok;
    EXPECT_EQ(Heap::create(region.data(), region.size(), small, &status), nullptr);
    EXPECT_EQ(status, Status::invalid_argument);
    HeapConfig inside;  // control memory inside the region it is to describe
    inside.control = region.data() + 1024;
    inside.control_bytes = Heap::control_bytes();
    EXPECT_EQ(Heap::create(region.data(), region.size(), inside, &status), nullptr);
    EXPECT_EQ(status, Status::overlap);
    HeapConfig wraps;
    wraps.control = control.data();
    wraps.control_bytes = SIZE_MAX;
    EXPECT_EQ(Heap::create(region.data(), region.size(), wraps, &status), nullptr);
    EXPECT_EQ(status, Status::size_overflow);
    EXPECT_TRUE(intact(control));
    EXPECT_TRUE(intact(region));
}

TEST(Layout, MarkStackThatDoesNotFitIsTooSmall) {
    std::vector<unsigned char> buffer(16 * 1024, kPattern);
    HeapConfig config;
    config.mark_stack_entries = 4096;  // 64 KiB of stack in a 16 KiB region
    Status status = Status::ok;
    EXPECT_EQ(Heap::create(buffer.data(), buffer.size(), config, &status), nullptr);
    EXPECT_EQ(status, Status::region_too_small);
    EXPECT_TRUE(intact(buffer));
}

TEST(Layout, AnyAlignmentWorks) {
    for (std::size_t misalign = 0; misalign < 64; ++misalign) {
        SCOPED_TRACE(misalign);
        TestHeap heap(8 * 1024 + misalign * 3, {}, misalign);
        ASSERT_NE(heap.get(), nullptr);
        EXPECT_EQ(heap.status(), Status::ok);
        std::vector<void*> objects;
        heap->set_auto_collect(false);
        while (void* p = heap->alloc(blocks(1))) {
            ASSERT_TRUE(uheap_test::block_aligned(p));
            ASSERT_GE(static_cast<unsigned char*>(p), heap.region());
            ASSERT_LE(static_cast<unsigned char*>(p) + kBlockBytes, heap.region() + heap.region_bytes());
            objects.push_back(p);
        }
        EXPECT_EQ(objects.size() * kBlockBytes, heap->info().total);
        EXPECT_EQ(heap->info().metadata_bytes + heap->info().total, heap.region_bytes());
        EXPECT_VERIFIED(*heap);
    }
}

// The budget: four one-bit tables, the free-space tree and the grey bitmap together at most 4.5
// bits per block (plus the fixed control data, mark stack and padding).
TEST(Layout, MetadataIsAtMostFourAndAHalfBitsPerBlock) {
    for (std::size_t region : {std::size_t(16384), std::size_t(100000), std::size_t(1) << 20, std::size_t(1) << 24}) {
        TestHeap heap(region);
        ASSERT_NE(heap.get(), nullptr);
        const auto& area = *static_cast<uheap::detail::HeapImpl&>(*heap).areas.first;
        const auto& t = area.tables;
        std::size_t table_bits = 4 * t.n_words * sizeof(uheap::detail::Word) * 8;
        std::size_t other_bits = 8 * (uheap::detail::free_space_bytes(t.n_words) + area.grey_words * sizeof(uheap::detail::Word));
        // Four one-bit tables; only the rounding of the last word can add more.
        EXPECT_LE(table_bits, 4 * (t.n_blocks + uheap::detail::kWordBits - 1)) << region;
        EXPECT_EQ(t.n_blocks * kBlockBytes, heap->info().total);
        if (t.n_blocks >= 4096) {  // rounding of the last words adds a little on small heaps
            EXPECT_LE(double(table_bits + other_bits) / double(t.n_blocks), 4.5) << region;
        }
        // The pool takes all but a bounded overhead: control data, mark stack, metadata, padding.
        const auto& gc = static_cast<uheap::detail::HeapImpl&>(*heap).gc;
        std::size_t fixed = sizeof(uheap::detail::HeapImpl) + sizeof(uheap::detail::Area) +
                            gc.capacity * sizeof(uheap::detail::MarkRange) + 2 * kBlockBytes + 64;
        EXPECT_LE(heap->info().metadata_bytes, fixed + (table_bits + other_bits) / 8 + 4 * sizeof(uheap::detail::Word) + kBlockBytes)
            << region;
    }
}

TEST(Layout, AddAreaFailuresWriteNothing) {
    TestHeap heap(16 * 1024);
    std::string before = uheap_test::snapshot(*heap);
    EXPECT_EQ(heap->add_area(nullptr, 4096), Status::null_region);
    EXPECT_EQ(heap->last_status(), Status::null_region);
    std::vector<unsigned char> buffer(64, kPattern);
    EXPECT_EQ(heap->add_area(buffer.data(), buffer.size()), Status::region_too_small);
    EXPECT_EQ(heap->add_area(reinterpret_cast<void*>(UINTPTR_MAX - 4095), 8192), Status::size_overflow);
    EXPECT_TRUE(intact(buffer));
    EXPECT_EQ(uheap_test::snapshot(*heap), before);
    EXPECT_VERIFIED(*heap);
}

TEST(Layout, RegionBytesForFitsTheObject) {
    // Grow callbacks hand out exactly region_bytes_for(n) bytes at whatever alignment they have.
    for (std::size_t n_bytes : {std::size_t(1), kBlockBytes, 5 * kBlockBytes + 1, std::size_t(10000),
                                std::size_t(100000) + 3}) {
        for (std::size_t misalign = 0; misalign < 16; ++misalign) {
            SCOPED_TRACE(::testing::Message() << n_bytes << " misalign " << misalign);
            TestHeap heap(16 * 1024);
            ASSERT_NE(heap.get(), nullptr);
            heap->set_auto_collect(false);
            while (heap->alloc(blocks(1)) != nullptr) {
            }
            std::size_t region_bytes = Heap::region_bytes_for(n_bytes);
            std::vector<unsigned char> area(region_bytes + misalign);
            ASSERT_EQ(heap->add_area(area.data() + misalign, region_bytes), Status::ok);
            void* p = heap->alloc(n_bytes);
            ASSERT_NE(p, nullptr);
            EXPECT_GE(static_cast<unsigned char*>(p), area.data());
            EXPECT_VERIFIED(*heap);
        }
    }
}

}  // namespace
