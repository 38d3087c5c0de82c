// SPDX-License-Identifier: MIT
// Regression tests for issue 9 (the phase-machine issue): one TEST per bug, named after its item.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <random>
#include <vector>

#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::all_zero;
using uheap_test::blocks;
using uheap_test::RootArray;
using uheap_test::TestHeap;

constexpr std::size_t kRegion = 64 * 1024;

// Statuses compared by name, so a failure reads "out_of_memory" rather than a byte value.
#define EXPECT_STATUS(actual, expected) EXPECT_STREQ(uheap::status_name(actual), uheap::status_name(expected))
#define ASSERT_STATUS(actual, expected) ASSERT_STREQ(uheap::status_name(actual), uheap::status_name(expected))

void fill(void* p, std::size_t n, unsigned char byte) { std::memset(p, byte, n); }

bool filled_with(const void* p, std::size_t n, unsigned char byte) {
    auto* bytes = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        if (bytes[i] != byte) return false;
    }
    return true;
}

bool overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
    auto a0 = reinterpret_cast<std::uintptr_t>(a);
    auto b0 = reinterpret_cast<std::uintptr_t>(b);
    return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

std::size_t total_blocks(const uheap::Heap& heap) { return heap.info().total / kBlockBytes; }

// ---- item 1: re-entrant end of a collection ---------------------------------------------------

struct ReentryProbe {
    uheap::Heap* heap = nullptr;
    void* trigger = nullptr;  // the dead object whose callback tries to end the collection
    void* kept = nullptr;     // a rooted object that must survive untouched
    Status end_status = Status::ok;
    int trigger_calls = 0;
    int kept_finalised = 0;
};

void reentry_finaliser(void* user, void* object) {
    auto* p = static_cast<ReentryProbe*>(user);
    if (object == p->kept) {
        ++p->kept_finalised;
        return;
    }
    if (object != p->trigger) return;
    ++p->trigger_calls;
    p->end_status = p->heap->collect_end();
}

void reentry_weak_freed(void* user, void* object) {
    auto* p = static_cast<ReentryProbe*>(user);
    if (object != p->trigger) return;
    ++p->trigger_calls;
    p->end_status = p->heap->collect_end();
}

void count_kept_finaliser(void* user, void* object) {
    auto* p = static_cast<ReentryProbe*>(user);
    if (object == p->kept) ++p->kept_finalised;
}

// Issue 9 item 1: collect_end() from a finaliser must be refused (collecting) and change nothing;
// a host relies on rooted objects surviving whatever its finalisers call.
TEST(Regression, Item1_CollectEndFromFinaliserIsRefused) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    RootArray roots(*heap, 1);
    ReentryProbe probe;
    probe.heap = heap.get();
    heap->set_finaliser(&reentry_finaliser, &probe);
    void* dead = heap->alloc(blocks(2), uheap::kFinaliser);
    void* kept = heap->alloc(blocks(3), uheap::kFinaliser);
    ASSERT_NE(dead, nullptr);
    ASSERT_NE(kept, nullptr);
    fill(kept, blocks(3), 0x5a);
    roots[0] = kept;
    probe.trigger = dead;
    probe.kept = kept;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_STATUS(probe.end_status, Status::collecting);
    EXPECT_EQ(probe.trigger_calls, 1);
    EXPECT_EQ(probe.kept_finalised, 0);
    EXPECT_EQ(heap->size_of(kept), blocks(3));
    EXPECT_TRUE(filled_with(kept, blocks(3), 0x5a));
    EXPECT_EQ(heap->size_of(dead), 0u);
    EXPECT_FALSE(heap->is_collecting());
    EXPECT_STATUS(heap->collect(), Status::ok);  // a later collection: nothing finalised again
    EXPECT_EQ(probe.trigger_calls, 1);
    EXPECT_EQ(probe.kept_finalised, 0);
    EXPECT_EQ(heap->size_of(kept), blocks(3));
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 1: collect_end() from the weak-freed callback must be refused the same way;
// a host's weak-reference bookkeeping must not be able to end a collection halfway.
TEST(Regression, Item1_CollectEndFromWeakFreedCallbackIsRefused) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    RootArray roots(*heap, 1);
    ReentryProbe probe;
    probe.heap = heap.get();
    heap->set_finaliser(&count_kept_finaliser, &probe);
    heap->set_weak_callbacks(&reentry_weak_freed, nullptr, &probe);
    void* dead = heap->alloc(blocks(2), uheap::kWeak);
    void* kept = heap->alloc(blocks(3), uheap::kFinaliser);
    ASSERT_NE(dead, nullptr);
    ASSERT_NE(kept, nullptr);
    fill(kept, blocks(3), 0x5a);
    roots[0] = kept;
    probe.trigger = dead;
    probe.kept = kept;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_STATUS(probe.end_status, Status::collecting);
    EXPECT_EQ(probe.trigger_calls, 1);
    EXPECT_EQ(probe.kept_finalised, 0);
    EXPECT_EQ(heap->size_of(kept), blocks(3));
    EXPECT_TRUE(filled_with(kept, blocks(3), 0x5a));
    EXPECT_EQ(heap->size_of(dead), 0u);
    EXPECT_EQ(heap->counters().weak_notified, 1u);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(probe.trigger_calls, 1);
    EXPECT_EQ(probe.kept_finalised, 0);
    EXPECT_EQ(heap->size_of(kept), blocks(3));
    EXPECT_VERIFIED(*heap);
}

struct RootCallbackProbe {
    uheap::Heap* heap = nullptr;
    void* reported = nullptr;  // reported with collect_root() after the attempted collect_end()
    void* ranged = nullptr;
    Status end_status = Status::ok;
    int calls = 0;
    int survivors_finalised = 0;
    int garbage_finalised = 0;
};

// Issue 9 item 1: collect_end() from the root callback that collect() runs must be refused;
// roots the callback reports after that, and registered ranges, must still retain.
TEST(Regression, Item1_CollectEndFromRootCallbackIsRefused) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    RootArray roots(*heap, 1);
    RootCallbackProbe probe;
    probe.heap = heap.get();
    heap->set_root_callback(
        [](void* user) {
            auto* p = static_cast<RootCallbackProbe*>(user);
            ++p->calls;
            p->end_status = p->heap->collect_end();
            p->heap->collect_root(&p->reported, 1);  // still reporting roots: must count
        },
        &probe);
    heap->set_finaliser(
        [](void* user, void* object) {
            auto* p = static_cast<RootCallbackProbe*>(user);
            if (object == p->reported || object == p->ranged) {
                ++p->survivors_finalised;
            } else {
                ++p->garbage_finalised;
            }
        },
        &probe);
    void* garbage = heap->alloc(blocks(1), uheap::kFinaliser);
    probe.ranged = heap->alloc(blocks(2), uheap::kFinaliser);
    probe.reported = heap->alloc(blocks(2), uheap::kFinaliser);
    ASSERT_NE(garbage, nullptr);
    ASSERT_NE(probe.ranged, nullptr);
    ASSERT_NE(probe.reported, nullptr);
    fill(probe.ranged, blocks(2), 0x21);
    fill(probe.reported, blocks(2), 0x22);
    roots[0] = probe.ranged;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(probe.calls, 1);
    EXPECT_STATUS(probe.end_status, Status::collecting);
    EXPECT_EQ(heap->size_of(probe.ranged), blocks(2));
    EXPECT_EQ(heap->size_of(probe.reported), blocks(2));
    EXPECT_TRUE(filled_with(probe.ranged, blocks(2), 0x21));
    EXPECT_TRUE(filled_with(probe.reported, blocks(2), 0x22));
    EXPECT_EQ(probe.survivors_finalised, 0);
    EXPECT_EQ(probe.garbage_finalised, 1);
    EXPECT_EQ(heap->size_of(garbage), 0u);
    EXPECT_FALSE(heap->is_collecting());
    EXPECT_VERIFIED(*heap);
}

struct ResurrectProbe {
    uheap::Heap* heap = nullptr;
    int finalised = 0;
    int weak_freed = 0;
    Status finaliser_root_status = Status::ok;
    Status finaliser_stack_status = Status::ok;
    Status weak_root_status = Status::ok;
    Status weak_stack_status = Status::ok;
};

// Issue 9 item 1: collect_root()/collect_stack() from a finaliser or weak-freed callback are
// ignored (collecting); a finalised object cannot resurrect itself and is freed by that sweep.
TEST(Regression, Item1_CollectRootFromFinaliserDoesNotResurrect) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureWeakReferences | uheap::kFeatureStackScan);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    ResurrectProbe probe;
    probe.heap = heap.get();
    heap->set_finaliser(
        [](void* user, void* object) {
            auto* p = static_cast<ResurrectProbe*>(user);
            ++p->finalised;
            void* self = object;
            p->heap->free(nullptr);  // last_status() = ok before each call
            p->heap->collect_root(&self, 1);
            p->finaliser_root_status = p->heap->last_status();
            p->heap->free(nullptr);
            p->heap->collect_stack();
            p->finaliser_stack_status = p->heap->last_status();
        },
        &probe);
    heap->set_weak_callbacks(
        [](void* user, void* object) {
            auto* p = static_cast<ResurrectProbe*>(user);
            ++p->weak_freed;
            void* self = object;
            p->heap->free(nullptr);
            p->heap->collect_root(&self, 1);
            p->weak_root_status = p->heap->last_status();
            p->heap->free(nullptr);
            p->heap->collect_stack();
            p->weak_stack_status = p->heap->last_status();
        },
        nullptr, &probe);
    void* finalisable = heap->alloc(blocks(2), uheap::kFinaliser);
    void* weak = heap->alloc(blocks(2), uheap::kWeak);
    ASSERT_NE(finalisable, nullptr);
    ASSERT_NE(weak, nullptr);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(probe.finalised, 1);
    EXPECT_EQ(probe.weak_freed, 1);
    EXPECT_STATUS(probe.finaliser_root_status, Status::collecting);
    EXPECT_STATUS(probe.finaliser_stack_status, Status::collecting);
    EXPECT_STATUS(probe.weak_root_status, Status::collecting);
    EXPECT_STATUS(probe.weak_stack_status, Status::collecting);
    EXPECT_EQ(heap->size_of(finalisable), 0u);
    EXPECT_EQ(heap->size_of(weak), 0u);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(probe.finalised, 1);
    EXPECT_EQ(probe.weak_freed, 1);
    EXPECT_VERIFIED(*heap);
}

// ---- item 2: realloc() moving an object that a finaliser frees --------------------------------

struct PinProbe {
    uheap::Heap* heap = nullptr;
    void* original = nullptr;
    Status free_status = Status::ok;
    int calls = 0;
};

// Issue 9 item 2: a finaliser run by the collection a moving realloc() triggers must not free
// the object being moved (pinned); the host relies on realloc returning its old contents.
TEST(Regression, Item2_FinaliserCannotFreeTheObjectReallocIsMoving) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(8 * 1024);
    ASSERT_NE(heap.get(), nullptr);
    RootArray roots(*heap, total_blocks(*heap) + 1);
    PinProbe probe;
    probe.heap = heap.get();
    heap->set_finaliser(
        [](void* user, void*) {
            auto* p = static_cast<PinProbe*>(user);
            ++p->calls;
            p->free_status = p->heap->free(p->original);
        },
        &probe);
    heap->set_auto_collect(false);
    void* p = heap->alloc(blocks(2));
    void* neighbour = heap->alloc(blocks(1));                // stops growth in place
    void* dead = heap->alloc(blocks(4), uheap::kFinaliser);  // garbage; its finaliser frees p
    ASSERT_NE(p, nullptr);
    ASSERT_NE(neighbour, nullptr);
    ASSERT_NE(dead, nullptr);
    fill(p, blocks(2), 0x3c);
    roots[0] = p;
    roots[1] = neighbour;
    std::size_t n = 2;
    while (void* q = heap->alloc(blocks(1))) roots[n++] = q;
    ASSERT_EQ(heap->info().free, 0u);
    probe.original = p;
    heap->set_auto_collect(true);
    std::uint64_t collections = heap->counters().collections;
    void* moved = heap->realloc(p, blocks(4));
    EXPECT_EQ(heap->counters().collections, collections + 1);  // the move's allocation collected
    EXPECT_EQ(probe.calls, 1);
    EXPECT_STATUS(probe.free_status, Status::pinned);
    ASSERT_NE(moved, nullptr);
    EXPECT_STATUS(heap->last_status(), Status::ok);
    EXPECT_NE(moved, p);
    std::size_t size = heap->size_of(moved);
    EXPECT_GE(size, blocks(4));
    EXPECT_TRUE(filled_with(moved, blocks(2), 0x3c));
    EXPECT_TRUE(all_zero(static_cast<unsigned char*>(moved) + blocks(2), size - blocks(2)));
    roots[0] = moved;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(moved), size);
    EXPECT_TRUE(filled_with(moved, blocks(2), 0x3c));
    EXPECT_VERIFIED(*heap);
}

struct NestedRealloc {
    uheap::Heap* heap = nullptr;
    void* inner = nullptr;
    void* inner_result = nullptr;
    Status inner_status = Status::corrupted;
    bool done = false;
};

// Issue 9 item 2: a realloc() nested in the after-sweep weak callback (allocation is allowed
// there) while an outer realloc() is moving must not unpin the outer original.
TEST(Regression, Item2_NestedReallocFromAfterSweepCallbackKeepsOuterPinned) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    uheap::HeapConfig config;
    config.collect_on_every_alloc = true;  // every allocation, the nested one included, collects
    TestHeap heap(16 * 1024, config);
    ASSERT_NE(heap.get(), nullptr);
    RootArray roots(*heap, 4);
    void* outer = heap->alloc(blocks(2));
    roots[0] = outer;
    void* outer_neighbour = heap->alloc(blocks(1));
    roots[1] = outer_neighbour;
    void* inner = heap->alloc(blocks(2));
    roots[2] = inner;
    void* inner_neighbour = heap->alloc(blocks(1));
    roots[3] = inner_neighbour;
    ASSERT_TRUE(outer && outer_neighbour && inner && inner_neighbour);
    fill(outer, blocks(2), 0x11);
    fill(inner, blocks(2), 0x22);
    NestedRealloc nested;
    nested.heap = heap.get();
    nested.inner = inner;
    heap->set_weak_callbacks(
        nullptr,
        [](void* user) {
            auto* n = static_cast<NestedRealloc*>(user);
            if (n->done) return;
            n->done = true;
            n->inner_result = n->heap->realloc(n->inner, blocks(4));
            n->inner_status = n->heap->last_status();
        },
        &nested);
    roots[0] = nullptr;  // from here the outer original is held only by the realloc() call
    void* result = heap->realloc(outer, blocks(4));
    Status outer_status = heap->last_status();
    ASSERT_TRUE(nested.done);
    ASSERT_NE(result, nullptr);
    EXPECT_STATUS(outer_status, Status::ok);
    ASSERT_NE(nested.inner_result, nullptr);
    EXPECT_STATUS(nested.inner_status, Status::ok);
    std::size_t result_size = heap->size_of(result);
    std::size_t inner_size = heap->size_of(nested.inner_result);
    EXPECT_GE(result_size, blocks(4));
    EXPECT_GE(inner_size, blocks(4));
    EXPECT_TRUE(filled_with(result, blocks(2), 0x11));
    EXPECT_TRUE(filled_with(nested.inner_result, blocks(2), 0x22));
    EXPECT_FALSE(overlaps(result, result_size, nested.inner_result, inner_size));
    EXPECT_EQ(heap->size_of(outer), 0u);  // the move freed the outer original
    roots[0] = result;
    roots[2] = nested.inner_result;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(result), result_size);
    EXPECT_EQ(heap->size_of(nested.inner_result), inner_size);
    EXPECT_TRUE(filled_with(result, blocks(2), 0x11));
    EXPECT_TRUE(filled_with(nested.inner_result, blocks(2), 0x22));
    EXPECT_VERIFIED(*heap);
}

// ---- item 3: free-run records forged by host writes into freed memory --------------------------

/// Every live object of a test, rooted, filled with its own byte; checks nothing the heap hands
/// out overlaps them and that their bytes never change.
class Tracker {
public:
    explicit Tracker(uheap::Heap& heap) : heap_(&heap), roots_(heap, total_blocks(heap) + 1) {}

    struct Live {
        unsigned char* p;
        std::size_t n;
        unsigned char byte;
    };

    std::vector<Live>& live() { return live_; }

    /// Takes ownership of a fresh object: checks it overlaps nothing live, fills and roots it.
    bool adopt(void* p, std::size_t keep_bytes = 0, unsigned char keep_byte = 0) {
        std::size_t n = heap_->size_of(p);
        EXPECT_NE(n, 0u);
        for (const Live& l : live_) {
            if (overlaps(p, n, l.p, l.n)) {
                ADD_FAILURE() << "the heap handed out " << p << " (" << n << " bytes) over a live object at "
                              << static_cast<void*>(l.p) << " (" << l.n << " bytes)";
                return false;
            }
        }
        if (keep_bytes != 0) {
            EXPECT_TRUE(filled_with(p, keep_bytes, keep_byte)) << "realloc lost contents";
        }
        unsigned char byte = next_byte();
        fill(p, n, byte);
        live_.push_back(Live{static_cast<unsigned char*>(p), n, byte});
        roots_[live_.size() - 1] = p;
        return true;
    }

    /// alloc() that must not say out_of_memory while the tables hold a long enough free run.
    void* alloc(std::size_t n_bytes) {
        void* p = heap_->alloc(n_bytes);
        if (p == nullptr) {
            Status s = heap_->last_status();
            if (s == Status::out_of_memory) {
                EXPECT_LT(heap_->info().max_free * kBlockBytes, n_bytes)
                    << "out_of_memory while the tables hold a free run long enough";
            } else {
                EXPECT_STATUS(s, Status::corrupted);
            }
            return nullptr;
        }
        return adopt(p) ? p : nullptr;
    }

    /// free(); corrupted is allowed (the heap found a forged record and rebuilt its index).
    void free_at(std::size_t i) {
        Status s = heap_->free(live_[i].p);
        EXPECT_TRUE(s == Status::ok || s == Status::corrupted) << uheap::status_name(s);
        EXPECT_EQ(heap_->size_of(live_[i].p), 0u);
        forget(i);
    }

    void realloc_at(std::size_t i, std::size_t n_bytes) {
        Live old = live_[i];
        void* q = heap_->realloc(old.p, n_bytes);
        if (q == nullptr) {
            Status s = heap_->last_status();
            EXPECT_TRUE(s == Status::out_of_memory || s == Status::corrupted) << uheap::status_name(s);
            if (s == Status::out_of_memory) {
                EXPECT_LT(heap_->info().max_free * kBlockBytes, n_bytes)
                    << "realloc out_of_memory while the tables hold a free run long enough";
            }
            return;
        }
        forget(i);
        adopt(q, std::min(old.n, n_bytes), old.byte);
    }

    /// Every live object still allocated, same size, bytes unchanged; and verify() ok, unless
    /// forged records may still sit in free runs the heap has not looked at yet.
    void check(const char* step, bool verify = true) {
        SCOPED_TRACE(step);
        for (const Live& l : live_) {
            EXPECT_EQ(heap_->size_of(l.p), l.n) << static_cast<void*>(l.p);
            EXPECT_TRUE(filled_with(l.p, l.n, l.byte))
                << "live object at " << static_cast<void*>(l.p) << " was overwritten";
        }
        if (verify) EXPECT_VERIFIED(*heap_);
    }

    /// Allocates one-block objects until no free block is left: every free run, forged or not,
    /// is handed out (so the index has been checked throughout), each only once.
    void take_every_free_block() {
        for (int attempt = 0; attempt < 64 && heap_->info().free != 0 && !::testing::Test::HasFailure(); ++attempt) {
            while (heap_->info().free != 0 && alloc(blocks(1)) != nullptr) check("take every free block", false);
        }
        EXPECT_EQ(heap_->info().free, 0u);
    }

    /// Random alloc / free / realloc / collect, checking after each.
    void exercise(std::mt19937& rng, int n_ops, bool verify = true) {
        for (int op = 0; op < n_ops && !::testing::Test::HasFailure(); ++op) {
            switch (rng() % 8) {
                case 0:
                case 1:
                case 2:
                    alloc(blocks(1 + rng() % 4) - rng() % 3);
                    check("alloc", verify);
                    break;
                case 3:
                case 4:
                    if (!live_.empty()) free_at(rng() % live_.size());
                    check("free", verify);
                    break;
                case 5:
                case 6:
                    if (!live_.empty()) realloc_at(rng() % live_.size(), blocks(1 + rng() % 6));
                    check("realloc", verify);
                    break;
                default:
                    EXPECT_STATUS(heap_->collect(), Status::ok);
                    check("collect", verify);
                    break;
            }
        }
    }

    /// Index of the live object starting at block `b` of area 0.
    std::size_t at_block(std::size_t b) const {
        auto* pool = static_cast<const unsigned char*>(heap_->area_pool(0).begin);
        for (std::size_t i = 0; i < live_.size(); ++i) {
            if (live_[i].p == pool + b * kBlockBytes) return i;
        }
        return SIZE_MAX;
    }

private:
    void forget(std::size_t i) {
        std::size_t last = live_.size() - 1;
        live_[i] = live_[last];
        roots_[i] = roots_[last];
        roots_[last] = nullptr;
        live_.pop_back();
    }
    unsigned char next_byte() {
        byte_ = static_cast<unsigned char>(byte_ == 0x7e ? 0x21 : byte_ + 1);  // never pointer-like
        return byte_;
    }

    uheap::Heap* heap_;
    RootArray roots_;
    std::vector<Live> live_;
    unsigned char byte_ = 0x20;
};

/// Writes 32 bits at word `field` of block `b` of area 0, as a host writing into freed memory would.
void forge_field(uheap::Heap& heap, std::size_t b, int field, std::uint32_t v) {
    auto* pool = const_cast<unsigned char*>(static_cast<const unsigned char*>(heap.area_pool(0).begin));
    std::memcpy(pool + b * kBlockBytes + 4 * field, &v, 4);
}

constexpr int kNext = 0;
constexpr int kBlocks = 2;
constexpr int kStart = 3;

/// Fills a heap (auto-collect off) with one-block objects laid out from block 0.
void fill_with_one_block_objects(uheap::Heap& heap, Tracker& t) {
    heap.set_auto_collect(false);
    while (void* p = heap.alloc(blocks(1))) t.adopt(p);
    ASSERT_EQ(heap.info().free, 0u);
}

void free_blocks(Tracker& t, std::size_t first, std::size_t end) {
    for (std::size_t b = first; b < end; ++b) {
        std::size_t i = t.at_block(b);
        ASSERT_NE(i, SIZE_MAX) << "no object at block " << b;
        t.free_at(i);
    }
}

// Issue 9 item 3a: a free run's record enlarged (and the start tag at the forged end fixed up)
// so it covers live objects; allocation must never hand those out (hosts write into freed memory).
TEST(Regression, Item3a_EnlargedFreeRunRecordNeverCoversLiveObjects) {
    TestHeap heap(16 * 1024, uheap_test::unpoisoned());
    ASSERT_NE(heap.get(), nullptr);
    Tracker t(*heap);
    fill_with_one_block_objects(*heap, t);
    ASSERT_NO_FATAL_FAILURE(free_blocks(t, 10, 11));  // run [10, 11)
    ASSERT_NO_FATAL_FAILURE(free_blocks(t, 20, 23));  // run [20, 23)
    t.check("setup");
    // The first version kept {next, prev, n_blocks, start} records in free runs; these are the
    // words it used. Since the free space moved out of the pool they are plain free memory, and
    // forging them must change nothing.
    forge_field(*heap, 10, kBlocks, 13);  // claims [10, 23), over the live objects 11..19
    forge_field(*heap, 22, kStart, 10);
    t.take_every_free_block();  // the four really free blocks, nothing else
    t.check("every free block taken");
    heap->set_auto_collect(true);
    std::mt19937 rng(31);
    t.exercise(rng, 200);
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 3b: the start tag of the free block just before a live object forged; freeing
// that object and allocating again must not hand out live memory.
TEST(Regression, Item3b_ForgedStartTagBeforeALiveObject) {
    const std::uint32_t forged_tags[] = {10u, 5u, 0u, 21u, 22u, 23u, 0xfffffff0u, 0xffffffffu, 0x12345678u};
    for (std::uint32_t forged : forged_tags) {
        SCOPED_TRACE(forged);
        TestHeap heap(16 * 1024, uheap_test::unpoisoned());
        ASSERT_NE(heap.get(), nullptr);
        Tracker t(*heap);
        fill_with_one_block_objects(*heap, t);
        ASSERT_NO_FATAL_FAILURE(free_blocks(t, 5, 7));    // run [5, 7)
        ASSERT_NO_FATAL_FAILURE(free_blocks(t, 10, 11));  // run [10, 11)
        ASSERT_NO_FATAL_FAILURE(free_blocks(t, 20, 23));  // run [20, 23); block 23 is live
        t.check("setup");
        forge_field(*heap, 22, kStart, forged);
        std::size_t live_after = t.at_block(23);
        ASSERT_NE(live_after, SIZE_MAX);
        t.free_at(live_after);  // its left neighbour's start tag is forged
        t.check("free next to the forged tag", false);
        for (int attempt = 0; attempt < 4 && heap->info().max_free >= 4; ++attempt) {
            t.alloc(blocks(4));
            t.check("alloc the merged run", false);
        }
        EXPECT_LT(heap->info().max_free, 4u);
        t.take_every_free_block();
        t.check("every free block taken");
        heap->set_auto_collect(true);
        std::mt19937 rng(forged);
        t.exercise(rng, 100);
        EXPECT_VERIFIED(*heap);
        if (::testing::Test::HasFailure()) return;
    }
}

// Issue 9 item 3c: one forged `next` link orphans a run from its list; allocation must still
// find it (or report corrupted), never out_of_memory while the run is free in the tables.
TEST(Regression, Item3c_OrphanedFreeRunIsNotLost) {
    const std::size_t starts[3] = {10, 20, 30};
    // Each run in turn skips its successor; whichever run heads the list, two of the three
    // forgeries orphan a run the list walk can no longer reach.
    for (std::size_t skipper : starts) {
        SCOPED_TRACE(skipper);
        TestHeap heap(16 * 1024, uheap_test::unpoisoned());
        ASSERT_NE(heap.get(), nullptr);
        Tracker t(*heap);
        fill_with_one_block_objects(*heap, t);
        for (std::size_t s : starts) {
            ASSERT_NO_FATAL_FAILURE(free_blocks(t, s, s + 3));  // three 3-block runs, one class
        }
        t.check("setup");
        // Where the first version linked the runs of a class (see Item3a): a forged link there
        // must hide nothing now.
        std::uint32_t orphan = static_cast<std::uint32_t>(skipper == 30 ? 10 : skipper + 10);
        forge_field(*heap, skipper, kNext, static_cast<std::uint32_t>(orphan == 30 ? 10 : orphan + 10));
        for (int attempt = 0; attempt < 6 && heap->info().max_free >= 3; ++attempt) {
            void* p = heap->alloc(blocks(3));
            if (p == nullptr) {
                EXPECT_STATUS(heap->last_status(), Status::corrupted) << "with a 3-block run still free";
            } else {
                t.adopt(p);
            }
            t.check("alloc after forging", false);
        }
        EXPECT_EQ(heap->info().free, 0u);  // all three runs handed out, the orphan included
        t.check("every free block taken");
        heap->set_auto_collect(true);
        std::mt19937 rng(7);
        t.exercise(rng, 100);
        EXPECT_VERIFIED(*heap);
        if (::testing::Test::HasFailure()) return;
    }
}

struct FreeRun {
    unsigned char* begin;
    std::size_t n_bytes;
};

std::vector<FreeRun> free_runs_of(const uheap::Heap& heap) {
    struct Ctx {
        const uheap::Heap* heap;
        std::vector<FreeRun> runs;
    } ctx{&heap, {}};
    heap.walk(
        [](void* user, const uheap::HeapSpan& span) {
            auto* c = static_cast<Ctx*>(user);
            if (span.object != nullptr) return;
            auto* pool = static_cast<unsigned char*>(const_cast<void*>(c->heap->area_pool(span.area).begin));
            c->runs.push_back(FreeRun{pool + span.first_block * kBlockBytes, span.n_blocks * kBlockBytes});
        },
        &ctx);
    return ctx.runs;
}

void scribble(const std::vector<FreeRun>& runs, std::mt19937& rng) {
    for (const FreeRun& r : runs) {
        for (std::size_t i = 0; i < r.n_bytes; ++i) r.begin[i] = static_cast<unsigned char>(rng());
    }
}

// Issue 9 item 3d: random bytes over every free block (the listed runs and the current run);
// the heap must keep handing out only free memory and keep every invariant.
TEST(Regression, Item3d_RandomBytesOverEveryFreeBlock) {
    TestHeap heap(32 * 1024, uheap_test::unpoisoned());
    ASSERT_NE(heap.get(), nullptr);
    heap->set_auto_collect(false);
    Tracker t(*heap);
    std::mt19937 rng(5);
    for (int i = 0; i < 300; ++i) {
        if (t.alloc(blocks(1 + rng() % 4)) == nullptr) break;
    }
    for (std::size_t i = 0; i < t.live().size(); i += 2) t.free_at(i);
    t.check("setup");
    std::vector<FreeRun> runs = free_runs_of(*heap);
    ASSERT_GT(runs.size(), 10u);
    scribble(runs, rng);
    t.check("after scribbling", false);
    heap->set_auto_collect(true);
    t.exercise(rng, 300, false);  // records the heap has not met yet may still be scribbled
    t.take_every_free_block();
    t.check("every free block taken");
    t.exercise(rng, 100);
    EXPECT_VERIFIED(*heap);
}

/// An array of `n` pointers to children of three pointers each to one-block leaves.
void** build_wide(uheap::Heap& heap, std::size_t n, std::vector<void*>& garbage) {
    auto** array = static_cast<void**>(heap.alloc(n * sizeof(void*)));
    if (array == nullptr) return nullptr;
    for (std::size_t i = 0; i < n; ++i) {
        auto** child = static_cast<void**>(heap.alloc(3 * sizeof(void*)));
        if (child == nullptr) return nullptr;
        array[i] = child;
        for (int j = 0; j < 3; ++j) {
            void* leaf = heap.alloc(blocks(1));
            if (leaf == nullptr) return nullptr;
            fill(leaf, blocks(1), 0x33);
            child[j] = leaf;
        }
        if (i % 4 == 0) garbage.push_back(heap.alloc(blocks(1 + i % 3)));  // holes once freed
    }
    return array;
}

bool wide_intact(const uheap::Heap& heap, void** array, std::size_t n) {
    if (heap.size_of(array) < n * sizeof(void*)) return false;
    for (std::size_t i = 0; i < n; ++i) {
        auto** child = static_cast<void**>(array[i]);
        if (heap.size_of(child) < 3 * sizeof(void*)) return false;
        for (int j = 0; j < 3; ++j) {
            if (heap.size_of(child[j]) != blocks(1) || !filled_with(child[j], blocks(1), 0x33)) return false;
        }
    }
    return true;
}

// Issue 9 item 3e: with a tiny mark stack the collector spills into free blocks; a host writing
// into freed memory between two collect_root() calls must not break marking.
TEST(Regression, Item3e_ScribbleFreeBlocksBetweenRootsWithSpilledMarkStack) {
    uheap::HeapConfig config = uheap_test::unpoisoned();
    config.mark_stack_entries = 2;
    TestHeap heap(256 * 1024, config);
    ASSERT_NE(heap.get(), nullptr);
    heap->set_auto_collect(false);
    std::vector<void*> garbage;
    constexpr std::size_t kWide = 300;
    void** first = build_wide(*heap, kWide, garbage);
    void** second = build_wide(*heap, kWide, garbage);
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    for (void* g : garbage) {
        ASSERT_STATUS(heap->free(g), Status::ok);
    }
    std::vector<FreeRun> runs = free_runs_of(*heap);
    ASSERT_GT(runs.size(), 10u);
    std::mt19937 rng(13);
    ASSERT_STATUS(heap->collect_start(), Status::ok);
    void* root_words[2] = {first, second};
    heap->collect_root(&root_words[0], 1);
    scribble(runs, rng);
    heap->collect_root(&root_words[1], 1);
    scribble(runs, rng);
    EXPECT_STATUS(heap->collect_end(), Status::ok);
    EXPECT_FALSE(heap->is_collecting());
    EXPECT_GT(heap->counters().mark_stack_overflows, 0u);
    EXPECT_TRUE(wide_intact(*heap, first, kWide));
    EXPECT_TRUE(wide_intact(*heap, second, kWide));
    EXPECT_EQ(heap->info().objects, 2 * (1 + 4 * kWide));
    EXPECT_VERIFIED(*heap);
}

// ---- item 4: create() / add_area() writing outside the region ----------------------------------

constexpr std::size_t kGuard = 64 * 1024;
constexpr unsigned char kGuardByte = 0xa5;

std::size_t first_changed(const std::vector<unsigned char>& buffer) {
    for (std::size_t i = 0; i < buffer.size(); ++i) {
        if (buffer[i] != kGuardByte) return i;
    }
    return SIZE_MAX;
}

// Issue 9 item 4: a huge mark_stack_entries whose prefix size wraps must fail cleanly; a host
// relies on "on failure nothing is written", inside the region or around it.
TEST(Regression, Item4_HugeMarkStackNeverWritesOutsideTheRegion) {
    constexpr std::size_t kRegionBytes = 16 * 1024;
    constexpr std::size_t kEntryBytes = 2 * sizeof(void*);
    std::vector<std::size_t> entries = {SIZE_MAX / 16, SIZE_MAX / sizeof(void*) / 2, SIZE_MAX / 8, SIZE_MAX / 4,
                                        SIZE_MAX / 2, SIZE_MAX, SIZE_MAX - 1};
    // Values whose prefix (control data + entries) lands just short of wrapping to the region.
    for (std::size_t back : {0u, 1u, 2u, 8u, 40u, 64u, 100u, 1000u, 2000u}) {
        entries.push_back(SIZE_MAX / kEntryBytes - back);
    }
    std::vector<unsigned char> buffer(kGuard + kRegionBytes + kGuard);
    for (std::size_t n : entries) {
        SCOPED_TRACE(n);
        std::fill(buffer.begin(), buffer.end(), kGuardByte);
        uheap::HeapConfig config;
        config.mark_stack_entries = n;
        Status status = Status::ok;
        uheap::Heap* heap = uheap::Heap::create(buffer.data() + kGuard, kRegionBytes, config, &status);
        EXPECT_EQ(heap, nullptr);
        EXPECT_TRUE(status == Status::size_overflow || status == Status::region_too_small)
            << uheap::status_name(status);
        std::size_t changed = first_changed(buffer);
        EXPECT_EQ(changed, SIZE_MAX) << "byte " << changed << " of the buffer written (region at " << kGuard << ")";
    }
}

// Issue 9 item 4: create()/add_area() with a region_bytes that wraps the address space fail
// cleanly (size_overflow) and write nothing.
TEST(Regression, Item4_WrappingRegionBytesWriteNothing) {
    std::vector<unsigned char> buffer(kGuard + 16 * 1024 + kGuard, kGuardByte);
    unsigned char* region = buffer.data() + kGuard;
    auto begin = reinterpret_cast<std::uintptr_t>(region);
    const std::size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, static_cast<std::size_t>(UINTPTR_MAX - begin) + 2,
                                 static_cast<std::size_t>(UINTPTR_MAX - begin) + 1 + 4096, SIZE_MAX / 2 + begin};
    TestHeap heap(kRegion);
    ASSERT_NE(heap.get(), nullptr);
    for (std::size_t n : sizes) {
        if (n - 1 <= static_cast<std::size_t>(UINTPTR_MAX - begin)) continue;  // does not wrap here
        SCOPED_TRACE(n);
        Status status = Status::ok;
        EXPECT_EQ(uheap::Heap::create(region, n, {}, &status), nullptr);
        EXPECT_STATUS(status, Status::size_overflow);
        EXPECT_EQ(first_changed(buffer), SIZE_MAX);
        EXPECT_STATUS(heap->add_area(region, n), Status::size_overflow);
        EXPECT_EQ(first_changed(buffer), SIZE_MAX);
        EXPECT_EQ(heap->area_count(), 1u);
    }
    EXPECT_VERIFIED(*heap);
}

// ---- item 5: Root<T> / Weak<T> of a base-class pointer ------------------------------------------

struct BaseA {
    long a[3];
};
struct BaseB {
    long b[5];
};
struct Derived : BaseA, BaseB {
    long d;
};

Derived* make_derived(uheap::Heap& heap, long seed) {
    Derived* d = uheap::make<Derived>(heap);
    if (d == nullptr) return nullptr;
    for (int i = 0; i < 3; ++i) d->a[i] = seed + i;
    for (int i = 0; i < 5; ++i) d->b[i] = seed + 10 + i;
    d->d = seed + 20;
    return d;
}

bool derived_intact(const Derived* d, long seed) {
    for (int i = 0; i < 3; ++i) {
        if (d->a[i] != seed + i) return false;
    }
    for (int i = 0; i < 5; ++i) {
        if (d->b[i] != seed + 10 + i) return false;
    }
    return d->d == seed + 20;
}

// Issue 9 item 5: a Root<B> holding a D through its non-primary base B (an interior pointer)
// must keep the D alive without interior_pointers; hosts root objects by any base class.
TEST(Regression, Item5_RootOfNonPrimaryBaseKeepsObjectAlive) {
    TestHeap heap(kRegion);
    Derived* d = make_derived(*heap, 100);
    ASSERT_NE(d, nullptr);
    BaseB* as_b = d;
    ASSERT_NE(static_cast<void*>(as_b), static_cast<void*>(d));  // really an interior pointer
    uheap::Root<BaseB> root(*heap, d);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_NE(heap->size_of(d), 0u);
    EXPECT_EQ(root.get(), as_b);
    EXPECT_TRUE(derived_intact(d, 100));
    // Assigning another base pointer retains the new object and releases the old one.
    Derived* other = make_derived(*heap, 200);
    ASSERT_NE(other, nullptr);
    root = other;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(root.get(), static_cast<BaseB*>(other));
    EXPECT_NE(heap->size_of(other), 0u);
    EXPECT_TRUE(derived_intact(other, 200));
    EXPECT_EQ(heap->size_of(d), 0u);
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 5: a Weak<B> to a D through its non-primary base reads the B* while the object
// lives and null once it has been collected (never a dangling pointer).
TEST(Regression, Item5_WeakOfNonPrimaryBaseClearsWhenCollected) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    Derived* d = make_derived(*heap, 300);
    ASSERT_NE(d, nullptr);
    uheap::Weak<BaseB> weak(*heap, d);
    {
        uheap::Root<Derived> strong(*heap, d);
        EXPECT_STATUS(heap->collect(), Status::ok);
        EXPECT_EQ(weak.get(), static_cast<BaseB*>(d));
        EXPECT_TRUE(weak);
        EXPECT_TRUE(derived_intact(d, 300));
    }
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(d), 0u);
    EXPECT_EQ(weak.get(), nullptr);
    EXPECT_FALSE(weak);
    EXPECT_VERIFIED(*heap);
}

// ---- item 6: arithmetic near SIZE_MAX -----------------------------------------------------------

// Issue 9 item 6: region_bytes_for() saturates at SIZE_MAX instead of wrapping to a small number;
// grow callbacks size their regions with it.
TEST(Regression, Item6_RegionBytesForNeverWraps) {
    EXPECT_EQ(uheap::Heap::region_bytes_for(SIZE_MAX), SIZE_MAX);
    EXPECT_EQ(uheap::Heap::region_bytes_for(SIZE_MAX - kBlockBytes), SIZE_MAX);
    EXPECT_EQ(uheap::Heap::region_bytes_for(SIZE_MAX - 1), SIZE_MAX);
    const std::size_t sizes[] = {0, 1, kBlockBytes, 1000, 1u << 20, SIZE_MAX / 64, SIZE_MAX / 4, SIZE_MAX / 2,
                                 SIZE_MAX / 2 + 1, SIZE_MAX - 1000, SIZE_MAX - kBlockBytes, SIZE_MAX};
    for (std::size_t n : sizes) EXPECT_GE(uheap::Heap::region_bytes_for(n), n) << n;
    // Still exact for ordinary sizes: such a region really holds the object.
    std::vector<unsigned char> second(uheap::Heap::region_bytes_for(1000));
    TestHeap heap(16 * 1024);
    ASSERT_STATUS(heap->add_area(second.data(), second.size()), Status::ok);
    EXPECT_VERIFIED(*heap);
}

struct AskRecorder {
    std::vector<std::size_t> asked;
    static bool grow(void* user, std::size_t min_bytes, void**, std::size_t*) {
        static_cast<AskRecorder*>(user)->asked.push_back(min_bytes);
        return false;
    }
};

// Issue 9 item 6: huge requests with a grow callback fail as too_large, and the callback is never
// asked for a region smaller than the request (a wrapped size would be granted and misused).
TEST(Regression, Item6_HugeAllocNeverAsksForAWrappedRegion) {
    UHEAP_TEST_NEEDS(uheap::kFeatureGrowth);
    TestHeap heap(16 * 1024);
    AskRecorder recorder;
    heap->set_grow_callback(&AskRecorder::grow, nullptr, &recorder);
    const std::size_t requests[] = {SIZE_MAX - 5, SIZE_MAX / 2};
    for (std::size_t n : requests) {
        SCOPED_TRACE(n);
        recorder.asked.clear();
        EXPECT_EQ(heap->alloc(n), nullptr);
        EXPECT_STATUS(heap->last_status(), Status::too_large);
        for (std::size_t asked : recorder.asked) EXPECT_GE(asked, n);
    }
    EXPECT_VERIFIED(*heap);
}

// Issue 9 items 6 and 8c: set_threshold(SIZE_MAX) saturates; threshold() must not read back 0
// ("off") after a host asked for the largest threshold.
TEST(Regression, Item6_ThresholdSaturates) {
    TestHeap heap(kRegion);
    heap->set_threshold(SIZE_MAX);
    EXPECT_NE(heap->threshold(), 0u);
    EXPECT_GE(heap->threshold(), SIZE_MAX / 2);
    heap->set_threshold(SIZE_MAX - kBlockBytes + 2);
    EXPECT_GE(heap->threshold(), SIZE_MAX / 2);
    // A saturated threshold never triggers a collection.
    std::uint64_t collections = heap->counters().collections;
    for (int i = 0; i < 100; ++i) ASSERT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, collections);
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 6: info().fragmentation_permille stays in [0, 1000] on heaps with more than 4 MB
// free (max_free * kBlockBytes * 1000 overflowed on 32-bit) and is 0 for a single free run.
TEST(Regression, Item6_FragmentationOnALargeHeap) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    uheap::OwnedHeap heap(12 * 1024 * 1024);
    ASSERT_TRUE(heap);
    uheap::Info info = heap->info();
    ASSERT_GT(info.free, std::size_t(4) * 1024 * 1024);
    EXPECT_EQ(info.free_runs, 1u);
    EXPECT_EQ(info.fragmentation_permille, 0u) << uheap_test::describe(info);
    heap->set_auto_collect(false);
    void* small = heap->alloc(blocks(1));
    void* big = heap->alloc(5 * 1024 * 1024);
    void* fence = heap->alloc(blocks(1));
    ASSERT_TRUE(small && big && fence);
    ASSERT_STATUS(heap->free(big), Status::ok);
    info = heap->info();
    EXPECT_EQ(info.free_runs, 2u);
    EXPECT_LE(info.fragmentation_permille, 1000u) << uheap_test::describe(info);
    EXPECT_GT(info.fragmentation_permille, 0u) << uheap_test::describe(info);
    // Expected value, computed without overflow: 1000 - max_free / free in thousandths.
    unsigned long long expected =
        1000ull - static_cast<unsigned long long>(info.max_free) * kBlockBytes * 1000ull / info.free;
    EXPECT_NEAR(static_cast<double>(info.fragmentation_permille), static_cast<double>(expected), 1.0);
    EXPECT_VERIFIED(*heap);
}

// ---- item 7: moves and frees that forget registrations ------------------------------------------

// Issue 9 item 7a: realloc() must not move an object flagged weak (MicroPython forbids it): the
// host's weak table holds its address.
TEST(Regression, Item7a_ReallocRefusesToMoveAWeakObject) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    RootArray roots(*heap, 4);
    void* by_flag = heap->alloc(blocks(2), uheap::kWeak);
    roots[0] = heap->alloc(blocks(1));  // stops growth in place
    void* by_call = heap->alloc(blocks(2));
    roots[1] = heap->alloc(blocks(1));
    ASSERT_TRUE(by_flag && by_call && roots[0] && roots[1]);
    ASSERT_STATUS(heap->set_weak(by_call), Status::ok);
    roots[2] = by_flag;
    roots[3] = by_call;
    for (void* p : {by_flag, by_call}) {
        fill(p, blocks(2), 0x44);
        EXPECT_EQ(heap->realloc(p, blocks(5)), nullptr);
        EXPECT_STATUS(heap->last_status(), Status::weakly_referenced);
        EXPECT_EQ(heap->size_of(p), blocks(2));
        EXPECT_TRUE(filled_with(p, blocks(2), 0x44));
        EXPECT_NE(heap->flags_of(p) & uheap::kWeak, 0u);
    }
    EXPECT_EQ(heap->info().objects, 4u);  // nothing was allocated for a move
    EXPECT_VERIFIED(*heap);
}

/// A host node (root range or weak slot) living inside a heap object.
struct NodeHolder {
    uheap::RootRange range;
    uheap::WeakSlot weak;
    void* words[2];
    void* weak_target;
};

/// Registers a node inside a heap object, frees that object (explicitly or by a sweep),
/// allocates over its memory, fills it with 0xff, and collects.
void node_inside_freed_object(bool root_range, bool by_sweep) {
    TestHeap heap(8 * 1024);
    ASSERT_NE(heap.get(), nullptr);
    heap->set_auto_collect(false);
    RootArray roots(*heap, total_blocks(*heap) + 1);
    void* target = heap->alloc(blocks(1));
    roots[0] = target;
    void* holder_memory = heap->alloc(sizeof(NodeHolder));
    ASSERT_TRUE(target && holder_memory);
    std::size_t holder_bytes = heap->size_of(holder_memory);
    auto* holder = ::new (holder_memory) NodeHolder{};
    holder->words[0] = target;
    holder->weak_target = uheap::hide_pointer(target);
    holder->range.words = holder->words;
    holder->range.n_words = 2;
    holder->weak.slot = &holder->weak_target;
    if (root_range) {
        ASSERT_STATUS(heap->add_root_range(&holder->range), Status::ok);
    } else {
        ASSERT_STATUS(heap->add_weak_slot(&holder->weak), Status::ok);
    }
    if (!by_sweep) roots[1] = holder_memory;
    std::size_t n = 2;
    while (void* p = heap->alloc(blocks(1))) roots[n++] = p;  // the heap is full
    if (by_sweep) {
        ASSERT_STATUS(heap->collect(), Status::ok);  // the holder is unreachable
    } else {
        roots[1] = nullptr;
        ASSERT_STATUS(heap->free(holder_memory), Status::ok);
    }
    ASSERT_EQ(heap->size_of(holder_memory), 0u);
    ASSERT_EQ(heap->info().free, holder_bytes);
    void* reuse = heap->alloc(holder_bytes);
    ASSERT_EQ(reuse, holder_memory);  // the only free space
    roots[1] = reuse;
    fill(reuse, holder_bytes, 0xff);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_TRUE(filled_with(reuse, holder_bytes, 0xff));
    EXPECT_EQ(heap->size_of(target), blocks(1));
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_TRUE(filled_with(reuse, holder_bytes, 0xff));
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 7b: free() of an object holding a registered WeakSlot unregisters it; the host
// relies on reused memory never being treated as a node.
TEST(Regression, Item7b_FreeUnregistersWeakSlotInsideTheObject) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    node_inside_freed_object(false, false);
}

// Issue 9 item 7b: free() of an object holding a registered RootRange unregisters it.
TEST(Regression, Item7b_FreeUnregistersRootRangeInsideTheObject) { node_inside_freed_object(true, false); }

// Issue 9 item 7b: a sweep freeing an object that holds a registered WeakSlot unregisters it.
TEST(Regression, Item7b_SweepUnregistersWeakSlotInsideTheObject) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    node_inside_freed_object(false, true);
}

// Issue 9 item 7b: a sweep freeing an object that holds a registered RootRange unregisters it.
TEST(Regression, Item7b_SweepUnregistersRootRangeInsideTheObject) { node_inside_freed_object(true, true); }

// Issue 9 item 7c: realloc() moving an object that holds a registered RootRange moves the
// registration with it; what the range roots stays alive and the old memory is reusable.
TEST(Regression, Item7c_ReallocMovesARootRangeNodeWithItsObject) {
    TestHeap heap(16 * 1024);
    ASSERT_NE(heap.get(), nullptr);
    heap->set_auto_collect(false);
    RootArray roots(*heap, total_blocks(*heap) + 1);
    void* x = heap->alloc(blocks(1));
    ASSERT_NE(x, nullptr);
    fill(x, blocks(1), 0x55);
    std::vector<void*> host_words = {x};  // the range's words live outside the heap
    void* holder = heap->alloc(blocks(2));
    void* neighbour = heap->alloc(blocks(1));  // stops growth in place
    ASSERT_TRUE(holder && neighbour);
    auto* node = ::new (holder) uheap::RootRange{host_words.data(), 1, nullptr, nullptr};
    ASSERT_STATUS(heap->add_root_range(node), Status::ok);
    roots[0] = holder;
    roots[1] = neighbour;
    ASSERT_STATUS(heap->collect(), Status::ok);
    ASSERT_EQ(heap->size_of(x), blocks(1));
    void* moved = heap->realloc(holder, blocks(4));
    ASSERT_NE(moved, nullptr);
    ASSERT_NE(moved, holder);
    roots[0] = moved;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(x), blocks(1));
    EXPECT_TRUE(filled_with(x, blocks(1), 0x55));
    // Reuse the old memory and scribble over it.
    std::size_t n = 2;
    void* reuse = nullptr;
    while (void* p = heap->alloc(blocks(2))) {
        roots[n++] = p;
        if (p == holder) reuse = p;
    }
    ASSERT_EQ(reuse, holder);
    fill(reuse, blocks(2), 0xff);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_TRUE(filled_with(reuse, blocks(2), 0xff));
    EXPECT_EQ(heap->size_of(x), blocks(1));
    // The registration is the node at its new address: removing it releases x.
    heap->remove_root_range(static_cast<uheap::RootRange*>(moved));
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(x), 0u);
    EXPECT_TRUE(filled_with(reuse, blocks(2), 0xff));
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 7d: add_area() over memory that overlaps an existing area returns overlap and
// writes nothing; a host adding the same buffer twice must not corrupt its heap.
TEST(Regression, Item7d_AddAreaOverlappingAnAreaIsRefused) {
    constexpr std::size_t kArea = 32 * 1024;
    std::vector<unsigned char> big(3 * kArea);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<unsigned char>(i * 7);
    unsigned char* first = big.data() + kArea;  // the heap's own region: the middle third
    uheap::Heap* heap = uheap::Heap::create(first, kArea, uheap_test::unpoisoned());  // compares whole buffers
    ASSERT_NE(heap, nullptr);
    std::vector<unsigned char> other(2 * kArea, 0x5c);
    ASSERT_STATUS(heap->add_area(other.data(), kArea), Status::ok);  // a second area: first half of `other`
    ASSERT_NO_FATAL_FAILURE(ASSERT_VERIFIED(*heap));
    struct Case {
        const char* what;
        unsigned char* region;
        std::size_t bytes;
    };
    const Case cases[] = {
        {"inside the first region", first + kArea / 4, kArea / 2},
        {"the first region again", first, kArea},
        {"overlapping the first region's start", first - kArea / 2, kArea},
        {"overlapping the first region's end", first + kArea / 2, kArea},
        {"containing the first region", big.data(), 3 * kArea},
        {"the second area again", other.data(), kArea},
        {"overlapping the second area's end", other.data() + kArea / 2, kArea},
    };
    // The heap's own control data (its last_status() among it) lies between `first` and the
    // first pool; every other byte of both buffers must stay as it was.
    auto control_begin = static_cast<std::size_t>(first - big.data());
    auto* first_pool = static_cast<const unsigned char*>(heap->area_pool(0).begin);
    auto control_end = static_cast<std::size_t>(first_pool - big.data());
    auto same_outside_control = [&](const std::vector<unsigned char>& before) {
        for (std::size_t i = 0; i < big.size(); ++i) {
            if ((i < control_begin || i >= control_end) && big[i] != before[i]) return false;
        }
        return true;
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        std::vector<unsigned char> big_before = big;
        std::vector<unsigned char> other_before = other;
        EXPECT_STATUS(heap->add_area(c.region, c.bytes), Status::overlap);
        EXPECT_TRUE(same_outside_control(big_before));
        EXPECT_TRUE(other == other_before);
        EXPECT_EQ(heap->area_count(), 2u);
    }
    EXPECT_VERIFIED(*heap);
    // A region next to the areas, touching but not overlapping, is fine.
    EXPECT_STATUS(heap->add_area(other.data() + kArea, kArea), Status::ok);
    EXPECT_EQ(heap->area_count(), 3u);
    EXPECT_VERIFIED(*heap);
}

// ---- item 8: loops ------------------------------------------------------------------------------

// Issue 9 item 8a: add_root_range() of a node already linked returns already_registered (it used
// to link the node to itself and hang every collection); remove then add again is fine.
TEST(Regression, Item8a_RootRangeRegisteredTwiceIsRefused) {
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    void* a_words[1] = {heap->alloc(blocks(1))};
    void* b_words[1] = {heap->alloc(blocks(1))};
    ASSERT_TRUE(a_words[0] && b_words[0]);
    uheap::RootRange a{a_words, 1, nullptr, nullptr};
    uheap::RootRange b{b_words, 1, nullptr, nullptr};
    EXPECT_STATUS(heap->add_root_range(&a), Status::ok);
    EXPECT_STATUS(heap->add_root_range(&a), Status::already_registered);  // the first node
    EXPECT_STATUS(heap->add_root_range(&b), Status::ok);
    EXPECT_STATUS(heap->add_root_range(&a), Status::already_registered);  // not the first any more
    EXPECT_STATUS(heap->add_root_range(&b), Status::already_registered);
    EXPECT_STATUS(heap->collect(), Status::ok);  // terminates
    EXPECT_EQ(heap->size_of(a_words[0]), blocks(1));
    EXPECT_EQ(heap->size_of(b_words[0]), blocks(1));
    heap->remove_root_range(&a);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(a_words[0]), 0u);
    EXPECT_EQ(heap->size_of(b_words[0]), blocks(1));
    a_words[0] = heap->alloc(blocks(1));
    EXPECT_STATUS(heap->add_root_range(&a), Status::ok);  // removed, then added again
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(a_words[0]), blocks(1));
    heap->remove_root_range(&a);
    heap->remove_root_range(&b);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 8a: add_weak_slot() of a node already linked returns already_registered, and
// collections terminate; remove then add again is fine.
TEST(Regression, Item8a_WeakSlotRegisteredTwiceIsRefused) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    RootArray roots(*heap, 1);
    void* a_target = heap->alloc(blocks(1));
    void* b_target = heap->alloc(blocks(1));
    ASSERT_TRUE(a_target && b_target);
    roots[0] = b_target;
    void* a_slot = uheap::hide_pointer(a_target);
    void* b_slot = uheap::hide_pointer(b_target);
    uheap::WeakSlot a{&a_slot, nullptr, nullptr};
    uheap::WeakSlot b{&b_slot, nullptr, nullptr};
    EXPECT_STATUS(heap->add_weak_slot(&a), Status::ok);
    EXPECT_STATUS(heap->add_weak_slot(&a), Status::already_registered);
    EXPECT_STATUS(heap->add_weak_slot(&b), Status::ok);
    EXPECT_STATUS(heap->add_weak_slot(&a), Status::already_registered);
    EXPECT_STATUS(heap->add_weak_slot(&b), Status::already_registered);
    EXPECT_STATUS(heap->collect(), Status::ok);  // terminates
    EXPECT_EQ(a_slot, nullptr);              // a's target died
    EXPECT_EQ(uheap::reveal_pointer(b_slot), b_target);
    heap->remove_weak_slot(&a);
    a_slot = uheap::hide_pointer(heap->alloc(blocks(1)));
    EXPECT_STATUS(heap->add_weak_slot(&a), Status::ok);  // removed, then added again
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(a_slot, nullptr);
    heap->remove_weak_slot(&a);
    heap->remove_weak_slot(&b);
    roots[0] = nullptr;
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_EQ(uheap::reveal_pointer(b_slot), b_target);  // unregistered: no longer cleared
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_VERIFIED(*heap);
}

struct SweepAllocProbe {
    uheap::Heap* heap = nullptr;
    int calls = 0;
    int max_depth = 0;
    int bad_results = 0;
    static int depth;
};
int SweepAllocProbe::depth = 0;

// Issue 9 item 8b: an after-sweep weak callback that allocates on a full heap must not recurse
// without bound (allocation fails, collects, runs the callback, allocates, ...).
TEST(Regression, Item8b_AllocatingAfterSweepCallbackOnAFullHeapIsBounded) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(8 * 1024);
    ASSERT_NE(heap.get(), nullptr);
    RootArray roots(*heap, total_blocks(*heap) + 1);
    heap->set_auto_collect(false);
    std::size_t n = 0;
    while (void* p = heap->alloc(blocks(1))) roots[n++] = p;
    ASSERT_EQ(heap->info().free, 0u);
    heap->set_auto_collect(true);
    SweepAllocProbe probe;
    probe.heap = heap.get();
    SweepAllocProbe::depth = 0;
    heap->set_weak_callbacks(
        nullptr,
        [](void* user) {
            auto* p = static_cast<SweepAllocProbe*>(user);
            ++p->calls;
            ++SweepAllocProbe::depth;
            if (SweepAllocProbe::depth > p->max_depth) p->max_depth = SweepAllocProbe::depth;
            if (SweepAllocProbe::depth <= 8) {  // the test's own guard against a stack overflow
                void* q = p->heap->alloc(blocks(1));
                if (q == nullptr && p->heap->last_status() != Status::out_of_memory) ++p->bad_results;
            }
            --SweepAllocProbe::depth;
        },
        &probe);
    EXPECT_STATUS(heap->collect(), Status::ok);
    EXPECT_GE(probe.calls, 1);
    EXPECT_LE(probe.calls, 2);
    EXPECT_LE(probe.max_depth, 2);
    EXPECT_EQ(probe.bad_results, 0);
    EXPECT_EQ(SweepAllocProbe::depth, 0);
    EXPECT_FALSE(heap->is_collecting());
    EXPECT_VERIFIED(*heap);
}

// Issue 9 item 8d: finalisers run in address order within an area and area by area in the order
// the areas were added, even when a later area lies at a lower address.
TEST(Regression, Item8d_FinalisersRunAreaByAreaInAdditionOrder) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    constexpr std::size_t kHalf = 32 * 1024;
    std::unique_ptr<unsigned char[]> buffer(new unsigned char[2 * kHalf]);
    uheap::Heap* heap = uheap::Heap::create(buffer.get() + kHalf, kHalf);  // area 0: upper half
    ASSERT_NE(heap, nullptr);
    ASSERT_STATUS(heap->add_area(buffer.get(), kHalf), Status::ok);  // area 1: lower half
    ASSERT_EQ(heap->area_count(), 2u);
    uheap_test::NoRoots no_roots(*heap);
    uheap::AreaPool pools[2] = {heap->area_pool(0), heap->area_pool(1)};
    ASSERT_LT(pools[1].begin, pools[0].begin);
    auto area_of = [&](const void* p) -> int {
        for (int i = 0; i < 2; ++i) {
            auto begin = reinterpret_cast<std::uintptr_t>(pools[i].begin);
            if (reinterpret_cast<std::uintptr_t>(p) - begin < pools[i].n_blocks * kBlockBytes) return i;
        }
        return -1;
    };
    heap->set_auto_collect(false);
    std::vector<void*> in_area[2];
    while (in_area[1].size() < 20) {
        void* p = heap->alloc(blocks(1 + in_area[0].size() % 2), uheap::kFinaliser);
        ASSERT_NE(p, nullptr);
        int a = area_of(p);
        ASSERT_GE(a, 0);
        in_area[a].push_back(p);
    }
    ASSERT_FALSE(in_area[0].empty());
    std::vector<void*> order;
    heap->set_finaliser([](void* user, void* object) { static_cast<std::vector<void*>*>(user)->push_back(object); },
                        &order);
    EXPECT_STATUS(heap->collect(), Status::ok);
    std::vector<void*> expected;
    for (auto& v : in_area) {
        std::sort(v.begin(), v.end());
        expected.insert(expected.end(), v.begin(), v.end());
    }
    EXPECT_EQ(order, expected);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_VERIFIED(*heap);
}

}  // namespace
