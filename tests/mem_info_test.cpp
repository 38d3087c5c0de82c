// SPDX-License-Identifier: MIT
// Statistics (src/mem_info.cpp): info() against a hand-built heap, info_fast(), the O(1)
// counters, and MicroPython's exact dump_info / dump_alloc_table text.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "heap_impl.hpp"
#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::capture_text;
using uheap_test::TestHeap;

/// A heap with known contents: objects of 1, 1, 2, 5, 1, 2, 7 blocks and a filler, then frees
/// leaving free runs of 1, 5 and 3 blocks.
struct KnownHeap {
    KnownHeap() : heap(32 * 1024) {
        heap->set_auto_collect(false);
        total_blocks = heap->info().total / kBlockBytes;
        a1 = heap->alloc(blocks(1));
        a2 = heap->alloc(blocks(1));
        b1 = heap->alloc(blocks(2));
        c = heap->alloc(blocks(5));
        a3 = heap->alloc(blocks(1));
        b2 = heap->alloc(blocks(2));
        d = heap->alloc(blocks(7));
        filler_blocks = total_blocks - 19 - 3;
        filler = heap->alloc(blocks(filler_blocks));
        EXPECT_EQ(heap->free(c), Status::ok);
        EXPECT_EQ(heap->free(a2), Status::ok);
    }
    TestHeap heap;
    std::size_t total_blocks = 0;
    std::size_t filler_blocks = 0;
    void *a1, *a2, *b1, *c, *a3, *b2, *d, *filler;
};

TEST(MemInfo, InfoMatchesAHandBuiltHeap) {
    KnownHeap k;
    ASSERT_GT(k.filler_blocks, 7u);
    uheap::Info i = k.heap->info();
    EXPECT_EQ(i.total, blocks(k.total_blocks));
    EXPECT_EQ(i.used, blocks(1 + 2 + 1 + 2 + 7 + k.filler_blocks));
    EXPECT_EQ(i.free, blocks(1 + 5 + 3));
    EXPECT_EQ(i.used + i.free, i.total);  // I6
    EXPECT_EQ(i.max_free, 5u);
    EXPECT_EQ(i.num_1block, 2u);
    EXPECT_EQ(i.num_2block, 2u);
    EXPECT_EQ(i.max_block, k.filler_blocks);
    EXPECT_EQ(i.objects, 6u);
    EXPECT_EQ(i.free_runs, 3u);
    EXPECT_EQ(i.areas, 1u);
    EXPECT_EQ(i.metadata_bytes, k.heap.region_bytes() - i.total);
    EXPECT_EQ(i.fragmentation_permille, 1000u - 5u * 1000u / 9u);
}

TEST(MemInfo, MaxBlockAndCountsAcrossWordBoundaries) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    // Objects straddling 64-block words, and a finaliser head (tail bit set) right after a tail.
    TestHeap heap(64 * 1024);
    heap->set_auto_collect(false);
    std::vector<std::size_t> sizes{60, 1, 2, 3, 70, 1, 1, 2, 64, 2, 1};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        ASSERT_NE(heap->alloc(blocks(sizes[i]), i % 2 ? uheap::kFinaliser : 0u), nullptr);
    }
    uheap::Info i = heap->info();
    EXPECT_EQ(i.num_1block, 4u);
    EXPECT_EQ(i.num_2block, 3u);
    EXPECT_EQ(i.max_block, 70u);
    EXPECT_EQ(i.objects, sizes.size());
    EXPECT_EQ(i.free_runs, 1u);
    EXPECT_EQ(i.max_free, i.free / kBlockBytes);
    EXPECT_EQ(i.fragmentation_permille, 0u);
}

TEST(MemInfo, EmptyAndFullHeaps) {
    TestHeap heap(16 * 1024);
    uheap::Info empty = heap->info();
    EXPECT_EQ(empty.used, 0u);
    EXPECT_EQ(empty.max_block, 0u);
    EXPECT_EQ(empty.objects, 0u);
    EXPECT_EQ(empty.free_runs, 1u);
    EXPECT_EQ(empty.max_free * kBlockBytes, empty.total);
    void* all = heap->alloc(empty.total);
    ASSERT_NE(all, nullptr);
    uheap::Info full = heap->info();
    EXPECT_EQ(full.free, 0u);
    EXPECT_EQ(full.max_free, 0u);
    EXPECT_EQ(full.free_runs, 0u);
    EXPECT_EQ(full.max_block, empty.total / kBlockBytes);
    EXPECT_EQ(full.fragmentation_permille, 0u);
}

TEST(MemInfo, InfoFastAgreesWithInfo) {
    KnownHeap k;
    uheap::Info slow = k.heap->info();
    uheap::Info fast = k.heap->info_fast();
    EXPECT_EQ(fast.total, slow.total);
    EXPECT_EQ(fast.used, slow.used);
    EXPECT_EQ(fast.free, slow.free);
    EXPECT_EQ(fast.max_free, 0u);
    EXPECT_EQ(fast.num_1block, 0u);
    EXPECT_EQ(fast.num_2block, 0u);
    EXPECT_EQ(fast.max_block, 0u);
}

// used_bytes, peak_used_bytes and bytes_allocated are derived, not counted per allocation
// (allocator.cpp, book_used): the derivations must agree with what happened, across frees,
// realloc growth in place (not an allocation), moves (an allocation) and collections.
TEST(MemInfo, DerivedCountersFollowFreesReallocsAndCollections) {
    TestHeap heap(32 * 1024);
    heap->set_auto_collect(false);
    uheap_test::RootArray roots(*heap, 2);
    void* a = heap->alloc(blocks(2));
    void* b = roots[0] = heap->alloc(blocks(1));
    ASSERT_EQ(heap->realloc(b, blocks(4)), b);  // grows in place: 3 blocks used, not allocated
    uheap::Counters k = heap->counters();
    EXPECT_EQ(k.bytes_allocated, blocks(3));
    EXPECT_EQ(k.used_bytes, blocks(6));
    EXPECT_EQ(k.peak_used_bytes, blocks(6));
    ASSERT_EQ(heap->free(a), Status::ok);
    void* c = roots[1] = heap->alloc(blocks(1));  // into a's hole
    k = heap->counters();
    EXPECT_EQ(k.used_bytes, blocks(5));
    EXPECT_EQ(k.peak_used_bytes, blocks(6));  // reached before the free
    EXPECT_EQ(k.bytes_allocated, blocks(4));
    void* moved = heap->realloc(c, blocks(3));  // the hole is 2 blocks: moves, a 3-block allocation
    ASSERT_NE(moved, nullptr);
    ASSERT_NE(moved, c);
    roots[1] = moved;
    k = heap->counters();
    EXPECT_EQ(k.bytes_allocated, blocks(7));
    EXPECT_EQ(k.used_bytes, blocks(7));
    EXPECT_EQ(k.peak_used_bytes, blocks(8));  // old and new copy, just before the old one went
    ASSERT_EQ(heap->collect(), Status::ok);  // the debt is settled into bytes_allocated
    EXPECT_EQ(heap->counters().bytes_allocated, blocks(7));
    EXPECT_EQ(heap->counters().used_bytes, blocks(7));
    EXPECT_EQ(heap->counters().used_bytes, heap->info().used);
    ASSERT_NE(heap->alloc(blocks(2)), nullptr);
    EXPECT_EQ(heap->counters().bytes_allocated, blocks(9));
    EXPECT_EQ(heap->counters().peak_used_bytes, blocks(9));  // now, with nothing released since
}

TEST(MemInfo, CountersAreConsistent) {
    TestHeap heap(32 * 1024);
    uheap_test::NoRoots no_roots(*heap);
    heap->set_auto_collect(false);
    void* a = heap->alloc(blocks(3));
    void* b = heap->alloc(kBlockBytes + 1);
    void* c = heap->alloc(blocks(1));
    uheap::Counters k = heap->counters();
    EXPECT_EQ(k.allocations, 3u);
    EXPECT_EQ(k.bytes_allocated, blocks(6));
    EXPECT_EQ(k.used_bytes, blocks(6));
    EXPECT_EQ(k.peak_used_bytes, blocks(6));
    EXPECT_EQ(k.frees, 0u);
    heap->free(a);
    heap->free(b);
    k = heap->counters();
    EXPECT_EQ(k.frees, 2u);
    EXPECT_EQ(k.used_bytes, blocks(1));
    EXPECT_EQ(k.used_bytes, heap->info().used);
    EXPECT_EQ(k.peak_used_bytes, blocks(6));  // the peak stays
    EXPECT_EQ(heap->alloc(heap->info().total), nullptr);
    EXPECT_EQ(heap->counters().out_of_memory, 1u);
    ASSERT_EQ(heap->collect(), Status::ok);
    k = heap->counters();
    EXPECT_EQ(k.collections, 1u);
    EXPECT_EQ(k.objects_collected, 1u);
    EXPECT_EQ(k.last_collect_freed, 1u);
    EXPECT_EQ(k.used_bytes, 0u);
    EXPECT_EQ(k.frees, 2u);  // collections are counted apart from frees
    EXPECT_GE(k.total_pause_ns, k.last_pause_ns);
    EXPECT_GE(k.max_pause_ns, k.last_pause_ns);
    (void)c;
}

TEST(MemInfo, PauseTimesComeFromTheHostClock) {
    TestHeap heap(16 * 1024);
    uheap_test::NoRoots no_roots(*heap);
    std::uint64_t now = 1000;
    heap->set_clock([](void* user) { return *static_cast<std::uint64_t*>(user) += 250; }, &now);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->counters().last_pause_ns, 250u);
    EXPECT_EQ(heap->counters().total_pause_ns, 250u);
}

TEST(MemInfo, DumpInfoExactText) {
    KnownHeap k;
    uheap::Info i = k.heap->info();
    std::string text;
    k.heap->dump_info(&capture_text, &text);
    char expected[256];
    std::snprintf(expected, sizeof expected,
                  "GC: total: %u, used: %u, free: %u\n No. of 1-blocks: %u, 2-blocks: %u, max blk sz: %u, max free sz: %u\n",
                  unsigned(i.total), unsigned(i.used), unsigned(i.free), unsigned(i.num_1block),
                  unsigned(i.num_2block), unsigned(i.max_block), unsigned(i.max_free));
    EXPECT_EQ(text, expected);
    EXPECT_NE(text.find(", 2-blocks: 2, max blk sz: "), std::string::npos);
    EXPECT_NE(text.find(", max free sz: 5\n"), std::string::npos);
}

/// MicroPython's block-map algorithm, written independently over one character per block.
std::string expected_table(std::uintptr_t pool, const std::string& map) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "GC memory layout; from %" PRIxPTR ":", pool);
    std::string out = buf;
    const std::size_t n = map.size();
    for (std::size_t b = 0; b < n; ++b) {
        if (b % 64 == 0) {
            std::size_t e = b;
            while (e < n && map[e] == '.') ++e;
            if (e - b >= 128) {
                std::snprintf(buf, sizeof buf, "\n       (%u lines all free)", unsigned((e - b) / 64));
                out += buf;
                b = e & ~std::size_t(63);
                if (b >= n) break;
            }
            std::snprintf(buf, sizeof buf, "\n%08x: ", unsigned(b * kBlockBytes));
            out += buf;
        }
        out += map[b];
    }
    return out + "\n";
}

char letter_from_first_byte(void*, const void* object) {
    char c = *static_cast<const char*>(object);
    return c != 0 ? c : 'h';
}

TEST(MemInfo, DumpAllocTableExactFormat) {
    TestHeap heap(64 * 1024);
    heap->set_auto_collect(false);
    const std::size_t n = heap->info().total / kBlockBytes;
    ASSERT_GT(n, 6u * 64);
    std::string map(n, '.');
    auto place = [&](std::size_t n_blocks, char letter) {
        auto* p = static_cast<char*>(heap->alloc(blocks(n_blocks)));
        EXPECT_NE(p, nullptr);
        *p = letter;
        return p;
    };
    char* first = place(1, 'L');
    const auto pool = reinterpret_cast<std::uintptr_t>(first);  // the first object sits at block 0
    place(3, 'T');
    char* gap = place(2, 0);
    place(1, 'D');
    // A big object up to near the end, then a last object; freeing the big one leaves many free
    // lines to collapse, and a partially free line before the last object.
    char* big = place(n - 7 - 1 - 65, 0);
    place(1, 'S');
    char* tail_gap = place(65 - 1, 0);  // fills up to n - 1
    place(1, 'F');                      // the very last block
    ASSERT_EQ(heap->info().free, 0u);
    heap->free(gap);
    heap->free(big);
    heap->free(tail_gap);
    map[0] = 'L';
    map[1] = 'T';
    map[2] = map[3] = '=';
    map[6] = 'D';
    map[n - 66] = 'S';
    map[n - 1] = 'F';
    std::string text;
    heap->dump_alloc_table(&capture_text, &text, &letter_from_first_byte, nullptr);
    EXPECT_EQ(text, expected_table(pool, map));
    EXPECT_EQ(text.rfind("GC memory layout; from ", 0), 0u);
    EXPECT_NE(text.find("\n00000000: LT==..D...."), std::string::npos);
    EXPECT_NE(text.find(" lines all free)"), std::string::npos);
    // Without a letter function every head is 'h'.
    std::string plain;
    heap->dump_alloc_table(&capture_text, &plain);
    for (char& ch : map) {
        if (ch != '.' && ch != '=') ch = 'h';
    }
    EXPECT_EQ(plain, expected_table(pool, map));
}

TEST(MemInfo, DumpAllocTableOfAnEmptyHeapAndOfEveryArea) {
    TestHeap heap(64 * 1024);
    void* probe = heap->alloc(1);
    const auto pool = reinterpret_cast<std::uintptr_t>(probe);
    heap->free(probe);
    const std::size_t n = heap->info().total / kBlockBytes;
    std::string text;
    heap->dump_alloc_table(&capture_text, &text);
    EXPECT_EQ(text, expected_table(pool, std::string(n, '.')));
    // A second area gets its own header and offsets from its own pool.
    std::vector<unsigned char> second(8 * 1024);
    ASSERT_EQ(heap->add_area(second.data(), second.size()), Status::ok);
    heap->set_auto_collect(false);
    std::vector<void*> objects;
    while (void* p = heap->alloc(blocks(1))) objects.push_back(p);
    void* first_in_second = objects[n];
    for (std::size_t i = 0; i < objects.size(); ++i) {
        if (i != 0 && i != n) heap->free(objects[i]);
    }
    const std::size_t n2 = heap->info().total / kBlockBytes - n;
    std::string map1(n, '.'), map2(n2, '.');
    map1[0] = map2[0] = 'h';
    text.clear();
    heap->dump_alloc_table(&capture_text, &text);
    EXPECT_EQ(text, expected_table(pool, map1) + expected_table(reinterpret_cast<std::uintptr_t>(first_in_second), map2));
}

TEST(MemInfo, MarkedHeadsPrintAsMDuringACollection) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(16 * 1024);
    uheap_test::RootArray roots(*heap, 1);
    struct Probe {
        uheap::Heap* heap;
        std::string text;
    } probe{heap.get(), {}};
    void* live = heap->alloc(blocks(2));
    heap->alloc(blocks(1), uheap::kFinaliser);
    roots[0] = live;
    heap->set_finaliser(
        [](void* user, void*) {
            auto* p = static_cast<Probe*>(user);
            p->heap->dump_alloc_table(&capture_text, &p->text);
        },
        &probe);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_NE(probe.text.find(": m=h"), std::string::npos) << probe.text;
}

TEST(MemInfo, InvariantNames) {
    EXPECT_STREQ(uheap::invariant_name(uheap::Invariant::none), "none");
    EXPECT_STREQ(uheap::invariant_name(uheap::Invariant::I5_free_index), "I5_free_index");
    EXPECT_STREQ(uheap::invariant_name(uheap::Invariant::I7_high_water), "I7_high_water");
}

// Fragmentation in size_t arithmetic: exact where the counts are small, never overflowing where
// they are not (a 64-bit division would be a libgcc call on 32-bit targets).
TEST(MemInfo, FragmentationPermilleIsExactAndNeverOverflows) {
    using uheap::detail::fragmentation_permille;
    EXPECT_EQ(fragmentation_permille(0, 0), 0u);
    EXPECT_EQ(fragmentation_permille(10, 10), 0u);
    EXPECT_EQ(fragmentation_permille(1, 4), 750u);
    EXPECT_EQ(fragmentation_permille(333, 1000), 667u);
    constexpr std::size_t kHuge = SIZE_MAX / 4 * 3;
    EXPECT_EQ(fragmentation_permille(kHuge, kHuge), 0u);
    EXPECT_NEAR(static_cast<double>(fragmentation_permille(kHuge / 4, kHuge)), 750.0, 1.0);
    EXPECT_EQ(fragmentation_permille(0, kHuge), 1000u);
}

}  // namespace
