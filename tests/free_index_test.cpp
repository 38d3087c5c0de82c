// SPDX-License-Identifier: MIT
// The free-run index (src/free_index.*): size classes, take / insert / remove / rebuild against
// the block tables (I5), and what happens when a host scribbles over a freed block's record.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "free_index.hpp"
#include "heap_impl.hpp"
#include "test_support.hpp"

namespace {

using namespace uheap::detail;
using uheap::kBlockBytes;
using uheap_test::TestHeap;

/// An area-like setup without a heap: tables, pool and index over `n_blocks` blocks.
struct Pool {
    explicit Pool(std::size_t n)
        : words(words_for_blocks(n)), table_storage(4 * words, 0), pool_storage(n * kBlockBytes / sizeof(Word) + 1, 0) {
        t.head = table_storage.data();
        t.tail = t.head + words;
        t.mark = t.head + 2 * words;
        t.flag = t.head + 3 * words;
        t.n_blocks = n;
        t.n_words = words;
        p = IndexedPool{&index, &t, reinterpret_cast<unsigned char*>(pool_storage.data())};
        index_clear(p);
    }
    void use(std::size_t start, std::size_t n) {
        set_bit(t.head, start);
        set_bits(t.tail, start + 1, start + n);
    }
    void unuse(std::size_t start, std::size_t n) {
        clear_bits(t.head, start, start + n);
        clear_bits(t.tail, start, start + n);
    }
    /// The maximal free runs the tables hold, start -> length.
    std::map<std::size_t, std::size_t> table_runs() const {
        std::map<std::size_t, std::size_t> runs;
        for (std::size_t b = 0; b < t.n_blocks;) {
            std::size_t n = t.free_run_length(b, t.n_blocks);
            if (n > 0) {
                runs[b] = n;
                b += n;
            } else {
                ++b;
            }
        }
        return runs;
    }
    /// The runs the index lists, walking every class list (each must be a proper cycle).
    std::map<std::size_t, std::size_t> indexed_runs() const {
        std::map<std::size_t, std::size_t> runs;
        for (unsigned c = 0; c < kClasses; ++c) {
            std::uint32_t first = index.first[c];
            bool bit = (index.nonempty[c / kWordBits] >> (c % kWordBits)) & 1;
            EXPECT_EQ(bit, first != kNoBlock) << "class " << c;
            std::uint32_t b = first;
            std::size_t guard = 0;
            while (b != kNoBlock && guard++ <= t.n_blocks) {
                FreeRunRecord r;
                std::memcpy(&r, p.pool + b * kBlockBytes, sizeof r);
                EXPECT_EQ(size_class(r.n_blocks), c) << "run " << b;
                EXPECT_TRUE(runs.emplace(b, r.n_blocks).second) << "run " << b << " listed twice";
                b = r.next;
                if (b == first) break;
            }
        }
        // The current run (the allocation fast path) is indexed through two fields, not a list.
        if (index.current_begin != index.current_end) {
            EXPECT_TRUE(runs.emplace(index.current_begin, index.current_end - index.current_begin).second);
        }
        return runs;
    }
    std::size_t words;
    std::vector<Word> table_storage;
    std::vector<Word> pool_storage;
    BlockTables t;
    FreeIndex index;
    IndexedPool p;
};

TEST(FreeIndex, SizeClassBoundaries) {
    // Exact classes for 1..16 blocks, then four classes per power of two.
    for (std::size_t n = 1; n <= kExactClasses; ++n) EXPECT_EQ(size_class(n), n - 1);
    EXPECT_EQ(size_class(17), 16u);
    EXPECT_EQ(size_class(19), 16u);
    EXPECT_EQ(size_class(20), 17u);
    EXPECT_EQ(size_class(23), 17u);
    EXPECT_EQ(size_class(24), 18u);
    EXPECT_EQ(size_class(31), 19u);
    EXPECT_EQ(size_class(32), 20u);
    EXPECT_EQ(size_class(39), 20u);
    EXPECT_EQ(size_class(40), 21u);
    EXPECT_EQ(size_class(64), 24u);
    EXPECT_LT(size_class(kMaxAreaBlocks), kClasses);
    EXPECT_EQ(size_class(0xffffffffu), kClasses - 1);
}

TEST(FreeIndex, SizeClassesAreMonotonicSoAnyLargerClassFits) {
    // index_take relies on this: every run in a class above size_class(n) holds n blocks.
    unsigned previous = 0;
    for (std::size_t n = 1; n < 200000; ++n) {
        unsigned c = size_class(n);
        ASSERT_GE(c, previous) << n;
        ASSERT_LE(c, previous + 1) << n;
        previous = c;
    }
}

TEST(FreeIndex, RebuildIndexesExactlyTheMaximalRuns) {
    Pool pool(5 * kWordBits + 3);
    pool.use(0, 2);
    pool.use(10, 1);
    pool.use(kWordBits - 1, 3);  // crosses a word boundary
    pool.use(3 * kWordBits, kWordBits + 5);
    std::size_t largest = index_rebuild(pool.p);
    auto runs = pool.table_runs();
    EXPECT_EQ(pool.indexed_runs(), runs);  // I5
    std::size_t expected_largest = 0;
    std::size_t free_blocks = 0;
    for (auto& [start, n] : runs) {
        expected_largest = std::max(expected_largest, n);
        free_blocks += n;
        EXPECT_TRUE(record_is_valid(pool.p, start)) << start;
    }
    EXPECT_EQ(largest, expected_largest);
    EXPECT_EQ(pool.index.free_blocks, free_blocks);
    EXPECT_EQ(pool.index.n_runs, runs.size());
}

TEST(FreeIndex, TakeInsertRemoveKeepTheIndexEqualToTheTables) {
    std::mt19937 rng(7);
    Pool pool(4 * kWordBits + 9);
    index_rebuild(pool.p);
    std::vector<std::pair<std::size_t, std::size_t>> live;
    for (int step = 0; step < 3000; ++step) {
        SCOPED_TRACE(step);
        unsigned op = rng() % 6;
        if (live.empty() || op < 3) {
            std::size_t n = 1 + rng() % (rng() % 5 == 0 ? 40 : 6);
            std::size_t start = 0;
            FitResult fit = index_take(pool.p, n, &start);
            ASSERT_NE(fit, FitResult::corrupted);
            auto runs = pool.table_runs();
            bool any_fits = std::any_of(runs.begin(), runs.end(), [&](auto& r) { return r.second >= n; });
            ASSERT_EQ(fit == FitResult::found, any_fits) << "n " << n;
            if (fit != FitResult::found) continue;
            ASSERT_EQ(pool.t.free_run_length(start, start + n), n);  // only free blocks are handed out
            pool.use(start, n);
            live.emplace_back(start, n);
        } else if (op < 5) {
            std::size_t i = rng() % live.size();
            auto [start, n] = live[i];
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
            // Free as the allocator does: index first (tables still show the blocks used), then
            // clear the tables. The merged run must be exactly the maximal run around them.
            std::size_t run_begin = 0, run_end = 0;
            ASSERT_TRUE(index_release(pool.p, start, n, &run_begin, &run_end));
            pool.unuse(start, n);
            ASSERT_EQ(pool.t.free_run_length(run_begin, pool.t.n_blocks), run_end - run_begin);
            ASSERT_TRUE(run_begin == 0 || !pool.t.is_free(run_begin - 1));
        } else {
            // Grow an object in place when the run after it allows (realloc's index_take_at).
            std::size_t i = rng() % live.size();
            auto& [start, n] = live[i];
            std::size_t end = start + n;
            std::size_t extra = 1 + rng() % 4;
            if (end >= pool.t.n_blocks || !pool.t.is_free(end)) continue;
            std::size_t available = pool.t.free_run_length(end, pool.t.n_blocks);
            FitResult fit = index_take_at(pool.p, end, extra);
            ASSERT_EQ(fit, available >= extra ? FitResult::found : FitResult::none);
            if (fit != FitResult::found) continue;
            set_bits(pool.t.tail, end, end + extra);
            n += extra;
        }
        ASSERT_EQ(pool.indexed_runs(), pool.table_runs());  // I5 after every step
    }
}

TEST(FreeIndex, RecordValidationRejectsEveryKindOfForgery) {
    Pool pool(2 * kWordBits);
    pool.use(0, 1);
    pool.use(5, 2);
    index_rebuild(pool.p);  // runs [1,5) and [7,n)
    ASSERT_TRUE(record_is_valid(pool.p, 1));
    ASSERT_TRUE(record_is_valid(pool.p, 7));
    EXPECT_FALSE(record_is_valid(pool.p, 0));   // a used block
    EXPECT_FALSE(record_is_valid(pool.p, 2));   // inside a run, not its start
    EXPECT_FALSE(record_is_valid(pool.p, 9999));
    auto forge = [&](std::size_t field_offset, std::uint32_t value) {
        Pool copy = pool;
        copy.p.pool = reinterpret_cast<unsigned char*>(copy.pool_storage.data());
        copy.p.tables = &copy.t;
        copy.t.head = copy.table_storage.data();
        copy.t.tail = copy.t.head + copy.words;
        copy.t.mark = copy.t.head + 2 * copy.words;
        copy.t.flag = copy.t.head + 3 * copy.words;
        copy.p.index = &copy.index;
        std::memcpy(copy.p.pool + 1 * kBlockBytes + field_offset, &value, sizeof value);
        return record_is_valid(copy.p, 1);
    };
    EXPECT_FALSE(forge(offsetof(FreeRunRecord, n_blocks), 3));     // too short
    EXPECT_FALSE(forge(offsetof(FreeRunRecord, n_blocks), 5));     // runs into a used block
    EXPECT_FALSE(forge(offsetof(FreeRunRecord, n_blocks), 0));
    EXPECT_FALSE(forge(offsetof(FreeRunRecord, start), 2));
    EXPECT_FALSE(forge(offsetof(FreeRunRecord, next), 5));         // link to a live head
    EXPECT_FALSE(forge(offsetof(FreeRunRecord, prev), 0xdeadbeefu));
}

// ---- corruption through the public API -------------------------------------------------------

/// Three separated freed runs of `n` blocks between live objects; returns the freed pointers.
struct Scribbled {
    explicit Scribbled(std::size_t n, std::size_t region = 64 * 1024) : heap(region) {
        heap->set_auto_collect(false);
        for (int i = 0; i < 4; ++i) {
            live.push_back(heap->alloc(uheap_test::blocks(1)));
            if (i < 3) freed.push_back(heap->alloc(uheap_test::blocks(n)));
        }
        for (void* f : freed) EXPECT_EQ(heap->free(f), uheap::Status::ok);
        for (void* l : live) std::memset(l, 0x11, kBlockBytes);
        EXPECT_VERIFIED(*heap);
    }
    /// Alloc `n`-block objects until null; none may overlap a live object, and each is zeroed.
    /// Returns true iff some allocation reported Status::corrupted.
    bool alloc_all(std::size_t n) {
        bool saw_corrupted = false;
        for (;;) {
            void* p = heap->alloc(uheap_test::blocks(n));
            saw_corrupted |= heap->last_status() == uheap::Status::corrupted;
            if (p == nullptr) break;
            for (void* l : live) {
                auto* lp = static_cast<unsigned char*>(l);
                auto* pp = static_cast<unsigned char*>(p);
                EXPECT_FALSE(pp < lp + kBlockBytes && lp < pp + uheap_test::blocks(n)) << "handed out a live block";
            }
            EXPECT_TRUE(uheap_test::all_zero(p, uheap_test::blocks(n)));
        }
        for (void* l : live) {
            EXPECT_EQ(heap->size_of(l), kBlockBytes);
            EXPECT_EQ(static_cast<unsigned char*>(l)[0], 0x11);
        }
        return saw_corrupted;
    }
    TestHeap heap;
    std::vector<void*> live;
    std::vector<void*> freed;
};

TEST(FreeIndexCorruption, ScribbledRecordIsDetectedRepairedAndNeverHandsOutALiveBlock) {
    for (std::size_t field = 0; field < 4; ++field) {
        SCOPED_TRACE(field);
        Scribbled s(2);
        // Point the scribbled field at the first live object: a forged link or length.
        auto* rec = static_cast<std::uint32_t*>(s.freed[2]);  // front of its class list
        std::size_t own_block = rec[3];                       // the record's `start` is its block
        std::size_t live_block = own_block - static_cast<std::size_t>(static_cast<unsigned char*>(s.freed[2]) -
                                                                      static_cast<unsigned char*>(s.live[0])) /
                                                 kBlockBytes;
        rec[field] = field == 2 ? 40u : static_cast<std::uint32_t>(live_block);
        std::uint64_t repairs = s.heap->counters().index_repairs;
        // Allocation reaches the scribbled run once the current run is used up.
        EXPECT_TRUE(s.alloc_all(2));
        EXPECT_EQ(s.heap->counters().index_repairs, repairs + 1);
        EXPECT_VERIFIED(*s.heap);  // I5 holds again after the rebuild
        EXPECT_LT(s.heap->info().free, uheap_test::blocks(2));  // every free run was found again
    }
}

TEST(FreeIndexCorruption, WholeBlockOfGarbageInAFreedObject) {
    Scribbled s(3);
    std::memset(s.freed[1], 0xff, uheap_test::blocks(3));  // use-after-free over a mid-list run
    std::memset(s.freed[0], 0x00, uheap_test::blocks(3));
    EXPECT_TRUE(s.alloc_all(3));
    EXPECT_GE(s.heap->counters().index_repairs, 1u);
    EXPECT_VERIFIED(*s.heap);
}

TEST(FreeIndexCorruption, FreeNextToAScribbledRunRepairsAndStillFrees) {
    Scribbled s(2);
    // The run's start tag lives in its last block; scribble it, then free the live object after.
    std::memset(static_cast<unsigned char*>(s.freed[0]) + kBlockBytes, 0xee, kBlockBytes);
    uheap::Status st = s.heap->free(s.live[1]);
    EXPECT_TRUE(st == uheap::Status::ok || st == uheap::Status::corrupted) << uheap::status_name(st);
    EXPECT_EQ(s.heap->size_of(s.live[1]), 0u);  // freed either way
    EXPECT_GE(s.heap->counters().index_repairs, 1u);
    EXPECT_VERIFIED(*s.heap);
    s.live.erase(s.live.begin() + 1);
    s.alloc_all(1);
    EXPECT_VERIFIED(*s.heap);
}

TEST(FreeIndexCorruption, CrossLinkedListsInALargeClassDoNotHang) {
    // Runs of 17 blocks and of 3 blocks; the 17-block run's `next` is forged to the 3-block run
    // (a valid run start in another class). Asking for 19 blocks (same class as 17, a fit is
    // not guaranteed there) walks that class: it must notice the foreign run, not loop forever.
    TestHeap heap(64 * 1024);
    heap->set_auto_collect(false);
    void* a = heap->alloc(uheap_test::blocks(1));
    void* big = heap->alloc(uheap_test::blocks(17));
    void* b = heap->alloc(uheap_test::blocks(1));
    void* small = heap->alloc(uheap_test::blocks(3));
    void* c = heap->alloc(uheap_test::blocks(1));
    // Use up the rest so no larger class can serve 19 blocks.
    std::vector<void*> rest;
    while (void* p = heap->alloc(uheap_test::blocks(1))) rest.push_back(p);
    ASSERT_EQ(heap->free(big), uheap::Status::ok);
    ASSERT_EQ(heap->free(small), uheap::Status::ok);
    ASSERT_VERIFIED(*heap);
    auto* rec = static_cast<std::uint32_t*>(big);
    std::size_t small_block = (static_cast<unsigned char*>(small) - static_cast<unsigned char*>(big)) /
                                  static_cast<std::ptrdiff_t>(kBlockBytes) +
                              rec[3];
    rec[0] = static_cast<std::uint32_t>(small_block);  // next -> the 3-block run
    EXPECT_EQ(heap->alloc(uheap_test::blocks(19)), nullptr);
    EXPECT_EQ(heap->last_status(), uheap::Status::out_of_memory);
    EXPECT_VERIFIED(*heap);
    EXPECT_EQ(heap->size_of(a), kBlockBytes);
    EXPECT_EQ(heap->size_of(b), kBlockBytes);
    EXPECT_EQ(heap->size_of(c), kBlockBytes);
}

}  // namespace
