// SPDX-License-Identifier: MIT
// Seeded random operation sequences against a shadow model: alloc / free / realloc / roots /
// links / collect / lock, with verify() (I1..I7) after every step and every object's size, flags
// and contents checked against the model. Set UHEAP_TEST_SEED to replay one seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::describe;

constexpr std::size_t kRootSlots = 48;
constexpr std::size_t kLinks = 2;  // words 0..1 of every object hold links (a block has >= 2 words)

/// What the model knows about one live object.
struct Shadow {
    std::size_t n_blocks;
    unsigned flags;       // as flags_of() must report them
    std::uint32_t id;     // seeds the content pattern
    void* links[kLinks];  // words 0..1
};

/// Content byte i of object `id`: top bit set so no word of it can look like a heap pointer.
unsigned char pattern(std::uint32_t id, std::size_t i) { return static_cast<unsigned char>(0x80 | ((id * 7 + i) & 0x7f)); }

struct Finalised {
    uheap::Heap* heap = nullptr;
    bool free_in_finaliser = false;  // finalisers free their own object and try what is refused
    std::vector<void*> finalised;
    std::vector<void*> weak_freed;
    std::vector<std::string> wrong;  // what a finaliser saw that it should not have
    std::set<void*> destructor_objects;  // live kDestructor objects: never the host finaliser's
    std::size_t destroyed = 0;           // DestructorFn calls
};

/// The DestructorFn of the kDestructor objects: logged as finalised, in the finalisers' order.
Finalised* g_destroy_log = nullptr;
void on_destroy(void* object) {
    g_destroy_log->finalised.push_back(object);
    ++g_destroy_log->destroyed;
    if (g_destroy_log->destructor_objects.count(object) == 0) g_destroy_log->wrong.push_back("destructor of a plain object");
}

void on_finalise(void* user, void* object) {
    auto* log = static_cast<Finalised*>(user);
    log->finalised.push_back(object);
    if (log->destructor_objects.count(object) != 0) log->wrong.push_back("host finaliser got a kDestructor object");
    if (!log->free_in_finaliser) return;
    uheap::Heap& h = *log->heap;
    if (h.alloc(kBlockBytes) != nullptr || h.last_status() != Status::locked) log->wrong.push_back("alloc admitted");
    if (h.collect_end() != Status::collecting) log->wrong.push_back("collect_end admitted");
    if (h.collect() != Status::collecting) log->wrong.push_back("collect admitted");
    void* const self[1] = {object};
    h.collect_root(self, 1);
    if (h.last_status() != Status::collecting) log->wrong.push_back("collect_root admitted");
    Status freed = h.free(object);
    bool weak = (h.flags_of(object) & uheap::kWeak) != 0;
    if (freed != (weak ? Status::weakly_referenced : Status::ok)) log->wrong.push_back(uheap::status_name(freed));
}

/// Regions a grow callback hands out, kept by the test.
struct Growth {
    std::vector<std::unique_ptr<unsigned char[]>> regions;
    std::size_t granted = 0;
    std::size_t released = 0;
};

bool grow(void* user, std::size_t min_bytes, void** region, std::size_t* region_bytes) {
    auto* g = static_cast<Growth*>(user);
    if (g->granted - g->released >= 2 || min_bytes > 256 * 1024) return false;
    g->regions.emplace_back(new unsigned char[min_bytes]);
    ++g->granted;
    *region = g->regions.back().get();
    *region_bytes = min_bytes;
    return true;
}

void release(void* user, void*, std::size_t) { ++static_cast<Growth*>(user)->released; }

class RandomOps {
public:
    RandomOps(std::uint32_t seed, std::size_t steps) : seed_(seed), steps_(steps), rng_(seed) {
        uheap::HeapConfig config;
        switch (seed % 4) {
            case 1: config.mark_stack_entries = seed > 8 ? 1 : 2; break;
            case 3: config.collect_on_every_alloc = true; break;
            default: break;
        }
        config.lazy_sweep = seed % 3 != 2;  // both sweeps; the lazy one stays pending across steps
        // Seeds above 8: several areas and growth, frees from finalisers, and (64-bit) interior
        // pointers with links into the middle of objects, with chunking, spilling and deferral.
        const bool several = seed > 8;
        interior_ = several && sizeof(void*) == 8 && uheap::built::kInteriorPointers;  // 32-bit content words could look like pointers
        config.interior_pointers = interior_;
        std::size_t region = several ? (sizeof(void*) == 8 ? 384 : 256) * kBlockBytes : 48 * 1024 + seed % 7 * 1000;
        if (several && config.mark_stack_entries == 0) config.mark_stack_entries = 256;  // the pool the sizes were chosen for
        heap_ = std::make_unique<uheap_test::TestHeap>(region, config, seed % 16);
        if (seed % 4 == 2) h().set_threshold(blocks(40));
        if (several) {
            second_area_.assign(192 * kBlockBytes + seed * 100, 0);
            EXPECT_EQ(h().add_area(second_area_.data(), second_area_.size()), Status::ok);
            if (uheap::built::kGrowth) h().set_grow_callback(grow, release, &growth_);
            log_.free_in_finaliser = true;
        }
        log_.heap = &h();
        g_destroy_log = &log_;
        roots_ = std::make_unique<uheap_test::RootArray>(h(), kRootSlots);
        // (A build without finalisers or weak references refuses these, and ignores those flags:
        // random_flags() leaves them out of the model.)
        h().set_finaliser(on_finalise, &log_);
        h().set_weak_callbacks([](void* u, void* o) { static_cast<Finalised*>(u)->weak_freed.push_back(o); }, nullptr,
                               &log_);
    }

    void run() {
        for (step_ = 0; step_ < steps_; ++step_) {
            SCOPED_TRACE(::testing::Message() << "seed " << seed_ << " step " << step_ << " (replay with UHEAP_TEST_SEED="
                                              << seed_ << ")");
            one_step();
            if (::testing::Test::HasFatalFailure()) return;
            uheap::VerifyReport r = h().verify();
            ASSERT_TRUE(r.ok()) << describe(r) << " after op " << last_op_;
            check_summary();
            if (::testing::Test::HasFailure()) return;
            if (step_ % 64 == 0) check_all_contents();
            if (::testing::Test::HasFailure()) return;
        }
        check_all_contents();
        if (seed_ > 8) {  // the paths these seeds exist for were taken
            uheap::Counters c = h().counters();
            if (uheap::built::kFinalisers) {
                EXPECT_GT(c.finalisers_run, 0u);
            }
            EXPECT_GE(h().area_count(), 2u);
            if (seed_ % 4 == 1) {
                EXPECT_GT(c.mark_stack_overflows, 0u);  // a 1-entry stack spilled
            }
            if (seed_ % 2 == 0 && uheap::built::kGrowth) {
                EXPECT_GT(growth_.granted, 0u);  // and the areas grew
            }
        }
        // Tear down: sweep_all finalises every remaining finaliser object.
        log_.finalised.clear();
        std::size_t expected_finalisers = 0;
        for (auto& [p, s] : model_) expected_finalisers += (s.flags & (uheap::kFinaliser | uheap::kDestructor)) != 0;
        ASSERT_EQ(h().sweep_all(), Status::ok);
        EXPECT_EQ(log_.finalised.size(), expected_finalisers);
        if (uheap::built::kFinalisers) {
            EXPECT_GT(log_.destroyed, 0u);  // the kDestructor path was taken
        }
        EXPECT_EQ(h().info().objects, 0u);
        EXPECT_VERIFIED(h());
    }

private:
    uheap::Heap& h() { return **heap_; }

    void one_step() {
        std::uint64_t collections = h().counters().collections;
        unsigned op = rng_() % 100;
        if (op < 35) {
            last_op_ = "alloc";
            do_alloc();
            return;  // alloc accounts for its own collection
        } else if (op < 45) {
            last_op_ = "free";
            do_free();
        } else if (op < 50) {
            last_op_ = "bad free";
            do_bad_free();
        } else if (op < 62) {
            last_op_ = "realloc";
            do_realloc();
            return;  // realloc accounts for its own collection
        } else if (op < 70) {
            last_op_ = "drop root";
            (*roots_)[rng_() % kRootSlots] = nullptr;
        } else if (op < 78) {
            last_op_ = "add root";
            if (void* p = any_object()) (*roots_)[rng_() % kRootSlots] = p;
        } else if (op < 92) {
            last_op_ = "link";
            do_link();
        } else if (op < 96) {
            last_op_ = "collect";
            apply_collection({}, [&] { ASSERT_EQ(h().collect(), Status::ok); });
            return;
        } else if (op < 98) {
            last_op_ = "sweep step";
            std::size_t left = h().sweep_step(rng_() % 300);
            if (left == 0) {
                ASSERT_EQ(h().sweep_step(0), 0u);
            }
        } else {
            last_op_ = "lock";
            do_locked();
        }
        ASSERT_EQ(h().counters().collections, collections) << last_op_ << " collected unexpectedly";
    }

    // ---- the operations ----

    std::size_t random_n_bytes() {
        std::size_t n_blocks = rng_() % (seed_ > 8 ? 4 : 10) == 0 ? 1 + rng_() % 40 : 1 + rng_() % 4;
        return n_blocks * kBlockBytes - rng_() % kBlockBytes;
    }

    unsigned random_flags() {
        unsigned f = 0;
        if (rng_() % 4 == 0) f |= uheap::kFinaliser;
        if (rng_() % 4 == 0) f |= uheap::kNoScan;
        if (rng_() % 16 == 0) f |= uheap::kWeak;
        if (rng_() % 8 == 0) f |= uheap::kDestructor;  // its own DestructorFn beside the host finaliser
        // The same draws in every build, so a seed means the same run; a build without
        // finalisers or weak references gets only the flags it keeps.
        if (!uheap::built::kFinalisers) f &= ~static_cast<unsigned>(uheap::kFinaliser | uheap::kDestructor);
        if (!uheap::built::kWeakReferences) f &= ~static_cast<unsigned>(uheap::kWeak);
        return f;
    }

    void do_alloc() {
        std::size_t n_bytes = random_n_bytes();
        unsigned flags = random_flags();
        std::size_t slot = rng_() % kRootSlots;
        void* p = nullptr;
        // The slot still holds its old value during any collection the allocation triggers.
        apply_collection({}, [&] { p = h().alloc(n_bytes, flags); });
        if (p == nullptr) {
            ASSERT_TRUE(h().last_status() == Status::out_of_memory) << uheap::status_name(h().last_status());
            return;
        }
        std::size_t n_blocks = (n_bytes + kBlockBytes - 1) / kBlockBytes;
        if ((flags & uheap::kDestructor) && n_blocks < 2) n_blocks = 2;  // the flag is on the first tail
        ASSERT_TRUE(uheap_test::all_zero(p, blocks(n_blocks)));
        ASSERT_EQ(model_.count(p), 0u);
        Shadow s{n_blocks, expected_flags(flags, n_blocks), next_id_++, {nullptr, nullptr}};
        if (flags & uheap::kDestructor) {
            reinterpret_cast<uheap::DestructorFn*>(static_cast<unsigned char*>(p) + blocks(n_blocks))[-1] = &on_destroy;
            log_.destructor_objects.insert(p);
        }
        fill(p, s, 0);
        model_[p] = s;
        (*roots_)[slot] = p;
    }

    void do_free() {
        void* p = any_object();
        if (p == nullptr) return;
        Status st = h().free(p);
        if (model_[p].flags & uheap::kWeak) {
            ASSERT_EQ(st, Status::weakly_referenced);
            return;
        }
        ASSERT_EQ(st, Status::ok);
        forget(p);
    }

    void do_bad_free() {
        void* p = any_object();
        if (p == nullptr) return;
        const Shadow& s = model_[p];
        std::string before = uheap_test::snapshot(h());
        auto* inside = static_cast<unsigned char*>(p) + 1 + rng_() % (blocks(s.n_blocks) - 1);
        ASSERT_EQ(h().free(inside), Status::not_object_start);
        // One block past the object: free, another head, or inside another object.
        auto* after = static_cast<unsigned char*>(p) + blocks(s.n_blocks);
        if (h().contains(after)) {
            Status st = h().free(after);
            if (model_.count(after) == 0) {
                bool inside_other = std::any_of(model_.begin(), model_.end(), [&](auto& kv) {
                    auto* q = static_cast<unsigned char*>(kv.first);
                    return after > q && after < q + blocks(kv.second.n_blocks);
                });
                ASSERT_EQ(st, inside_other ? Status::not_object_start : Status::already_free);
                ASSERT_EQ(uheap_test::snapshot(h()), before);
            } else if (st == Status::ok) {
                forget(after);
            }
        }
    }

    void do_realloc() {
        void* p = any_object();
        if (p == nullptr) return;
        Shadow old = model_[p];
        bool allow_move = rng_() % 2 == 0;
        std::size_t n_bytes = rng_() % 20 == 0 ? 0 : random_n_bytes();
        std::size_t new_blocks = (n_bytes + kBlockBytes - 1) / kBlockBytes;
        void* q = nullptr;
        // The original is pinned through any collection the move triggers.
        apply_collection({p}, [&] { q = h().realloc(p, n_bytes, allow_move); });
        if (n_bytes == 0) {
            ASSERT_EQ(q, nullptr);
            if (old.flags & uheap::kWeak) {
                ASSERT_EQ(h().size_of(p), blocks(old.n_blocks));
            } else {
                ASSERT_EQ(h().size_of(p), 0u);
                forget(p);
            }
            return;
        }
        if ((old.flags & uheap::kDestructor) && new_blocks != old.n_blocks) {  // its last word would move
            ASSERT_EQ(q, nullptr);
            ASSERT_EQ(h().last_status(), Status::invalid_argument);
            check_object(p);
            return;
        }
        if (q == nullptr) {
            ASSERT_GT(new_blocks, old.n_blocks) << "only growth can fail";
            Status st = h().last_status();
            if (allow_move && (old.flags & uheap::kWeak)) {  // a weakly referenced object never moves
                ASSERT_TRUE(st == Status::weakly_referenced || st == Status::too_large) << uheap::status_name(st);
            } else if (allow_move) {
                ASSERT_TRUE(st == Status::out_of_memory || st == Status::too_large) << uheap::status_name(st);
            } else {
                ASSERT_EQ(st, Status::out_of_memory);
            }
            ASSERT_EQ(model_.count(p), 1u);  // intact: checked with its contents below
            check_object(p);
            return;
        }
        if (new_blocks <= old.n_blocks) {
            ASSERT_EQ(q, p) << "same size and shrink are in place";
        }
        if (!allow_move) {
            ASSERT_EQ(q, p);
        }
        Shadow s = old;
        s.n_blocks = new_blocks;
        s.flags = expected_flags(old.flags, new_blocks);
        std::size_t kept = std::min(old.n_blocks, new_blocks);
        if (q != p) {
            ASSERT_EQ(h().size_of(p), 0u) << "the old copy is released";
            model_.erase(p);
            for (std::size_t i = 0; i < kRootSlots; ++i) {
                if ((*roots_)[i] == p) (*roots_)[i] = q;  // the host updates its references
            }
        }
        // Contents kept, new bytes zeroed.
        auto* bytes = static_cast<unsigned char*>(q);
        for (std::size_t i = kLinks * sizeof(void*); i < content_end(s, kept); ++i) {
            ASSERT_EQ(bytes[i], pattern(s.id, i)) << "byte " << i;
        }
        ASSERT_EQ(std::memcmp(q, s.links, sizeof s.links), 0);
        if (new_blocks > old.n_blocks) {
            ASSERT_TRUE(uheap_test::all_zero(bytes + blocks(kept), blocks(new_blocks - kept)));
        }
        fill(q, s, blocks(kept));
        model_[q] = s;
    }

    void do_link() {
        void* from = any_object();
        if (from == nullptr) return;
        void* to = rng_() % 5 == 0 ? nullptr : any_object();
        if (interior_ && to != nullptr && rng_() % 2 == 0) {  // a pointer into the middle retains it too
            to = static_cast<unsigned char*>(to) + 1 + rng_() % (blocks(model_[to].n_blocks) - 1);
        }
        std::size_t word = rng_() % kLinks;
        model_[from].links[word] = to;
        static_cast<void**>(from)[word] = to;
    }

    void do_locked() {
        std::string before = uheap_test::snapshot(h());
        h().lock();
        ASSERT_EQ(h().alloc(kBlockBytes), nullptr);
        ASSERT_EQ(h().last_status(), Status::locked);
        if (void* p = any_object()) {
            ASSERT_EQ(h().free(p), Status::locked);
            ASSERT_EQ(h().realloc(p, blocks(2)), nullptr);
        }
        h().unlock();
        ASSERT_EQ(uheap_test::snapshot(h()), before);
        ASSERT_FALSE(h().is_locked());
    }

    // ---- the model ----

    static unsigned expected_flags(unsigned flags, std::size_t n_blocks) {
        if (flags & uheap::kDestructor) flags &= ~static_cast<unsigned>(uheap::kFinaliser);  // flags_of() says which runs
        return n_blocks >= 2 ? flags : flags & ~static_cast<unsigned>(uheap::kNoScan);
    }

    /// Where the pattern ends in the first `n_blocks` blocks: a kDestructor object's last word is
    /// its DestructorFn.
    static std::size_t content_end(const Shadow& s, std::size_t n_blocks) {
        return blocks(n_blocks) - ((s.flags & uheap::kDestructor) && n_blocks == s.n_blocks ? sizeof(void*) : 0);
    }

    void fill(void* p, const Shadow& s, std::size_t from) {
        auto* bytes = static_cast<unsigned char*>(p);
        for (std::size_t i = std::max(from, kLinks * sizeof(void*)); i < content_end(s, s.n_blocks); ++i) bytes[i] = pattern(s.id, i);
        std::memcpy(p, s.links, sizeof s.links);
    }

    void forget(void* p) {
        model_.erase(p);
        log_.destructor_objects.erase(p);
    }

    void* any_object() {
        if (model_.empty()) return nullptr;
        auto it = model_.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(rng_() % model_.size()));
        return it->first;
    }

    /// Runs `op`; if it collected, applies the model's collection from the roots as they were
    /// (plus `pinned`) and checks finalisers and weak notifications.
    template <class Op>
    void apply_collection(std::vector<void*> pinned, Op op) {
        std::uint64_t before = h().counters().collections;
        std::set<void*> live = reachable(pinned);
        log_.finalised.clear();
        log_.weak_freed.clear();
        op();
        std::uint64_t ran = h().counters().collections - before;
        ASSERT_LE(ran, 1u);
        if (ran == 0) {
            ASSERT_TRUE(log_.finalised.empty());
            return;
        }
        std::vector<void*> dead_finalisers, dead_weak, dead_objects;
        // Finalisers run area by area in the order the areas were added, by address within each.
        std::vector<std::pair<std::size_t, void*>> order;
        for (auto& [p, sh] : model_) order.emplace_back(area_rank(p), p);
        std::sort(order.begin(), order.end());
        std::map<void*, std::size_t> rank_of;
        for (std::size_t i = 0; i < order.size(); ++i) rank_of[order[i].second] = i;
        auto by_rank = [&](void* a, void* b) { return rank_of[a] < rank_of[b]; };
        for (auto it = model_.begin(); it != model_.end();) {
            if (live.count(it->first) != 0) {
                ++it;
                continue;
            }
            if (it->second.flags & (uheap::kFinaliser | uheap::kDestructor)) dead_finalisers.push_back(it->first);
            if (it->second.flags & uheap::kWeak) dead_weak.push_back(it->first);
            dead_objects.push_back(it->first);
            it = model_.erase(it);
        }
        std::sort(dead_finalisers.begin(), dead_finalisers.end(), by_rank);
        std::sort(dead_weak.begin(), dead_weak.end(), by_rank);
        ASSERT_EQ(log_.finalised, dead_finalisers) << "finalisers: once each, area by area in address order";
        ASSERT_EQ(log_.weak_freed, dead_weak);
        ASSERT_TRUE(log_.wrong.empty()) << log_.wrong.front();
        for (void* p : dead_objects) log_.destructor_objects.erase(p);
    }

    std::size_t area_rank(void* p) {
        for (std::size_t i = 0; i < h().area_count(); ++i) {
            uheap::AreaPool pool = h().area_pool(i);
            auto* begin = static_cast<const unsigned char*>(pool.begin);
            if (p >= begin && p < begin + pool.n_blocks * kBlockBytes) return i;
        }
        return SIZE_MAX;
    }

    /// The model object `p` names: its start, or (interior pointers) any byte inside it.
    std::map<void*, Shadow>::iterator object_named_by(void* p) {
        auto it = model_.upper_bound(p);
        if (it == model_.begin()) return model_.end();
        --it;
        if (it->first == p) return it;
        auto* start = static_cast<unsigned char*>(it->first);
        bool inside = interior_ && p > it->first && p < start + blocks(it->second.n_blocks);
        return inside ? it : model_.end();
    }

    std::set<void*> reachable(const std::vector<void*>& pinned) {
        std::set<void*> live;
        std::vector<void*> work(pinned);
        for (std::size_t i = 0; i < kRootSlots; ++i) work.push_back((*roots_)[i]);
        while (!work.empty()) {
            void* named = work.back();
            work.pop_back();
            auto it = object_named_by(named);
            if (it == model_.end() || !live.insert(it->first).second) continue;
            if (it->second.flags & uheap::kNoScan) continue;  // (only kept on objects of 2+ blocks)
            for (void* link : it->second.links) work.push_back(link);
        }
        return live;
    }

    // info() finishes a lazy sweep, so it is read only every 16 steps: in between, the sweep
    // stays pending while allocations, frees and reallocs work around it, and the counters must
    // be exact without it.
    void check_summary() {
        std::size_t used = 0;
        for (auto& [p, s] : model_) used += s.n_blocks;
        ASSERT_EQ(h().counters().used_bytes, blocks(used));
        ASSERT_EQ(h().info_fast().used, blocks(used));
        if (step_ % 16 != 0) return;
        uheap::Info info = h().info();
        ASSERT_EQ(info.objects, model_.size());
        ASSERT_EQ(info.used, blocks(used));
    }

    void check_object(void* p) {
        const Shadow& s = model_.at(p);
        ASSERT_EQ(h().size_of(p), blocks(s.n_blocks)) << p;
        ASSERT_EQ(h().flags_of(p), s.flags) << p;
        ASSERT_EQ(std::memcmp(p, s.links, sizeof s.links), 0) << p;
        auto* bytes = static_cast<unsigned char*>(p);
        for (std::size_t i = kLinks * sizeof(void*); i < content_end(s, s.n_blocks); ++i) {
            ASSERT_EQ(bytes[i], pattern(s.id, i)) << p << " byte " << i;
        }
    }

    void check_all_contents() {
        for (auto& [p, s] : model_) {
            check_object(p);
            if (::testing::Test::HasFatalFailure()) return;
        }
    }

    std::uint32_t seed_;
    std::size_t steps_;
    std::size_t step_ = 0;
    std::mt19937 rng_;
    std::unique_ptr<uheap_test::TestHeap> heap_;
    std::unique_ptr<uheap_test::RootArray> roots_;
    std::map<void*, Shadow> model_;
    std::uint32_t next_id_ = 1;
    Finalised log_;
    Growth growth_;
    std::vector<unsigned char> second_area_;
    bool interior_ = false;
    const char* last_op_ = "";
};

/// Seeds to run: UHEAP_TEST_SEED (one seed) if set, else a fixed list.
std::vector<std::uint32_t> seeds() {
    if (const char* env = std::getenv("UHEAP_TEST_SEED")) return {static_cast<std::uint32_t>(std::strtoul(env, nullptr, 0))};
    return {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
}

class RandomOpsTest : public ::testing::TestWithParam<int> {};

// One test per seed slot so each is its own ctest entry (and they run in parallel).
TEST_P(RandomOpsTest, MatchesShadowModelWithVerifyAfterEveryStep) {
    std::vector<std::uint32_t> all = seeds();
    std::size_t slot = static_cast<std::size_t>(GetParam());
    if (slot >= all.size()) GTEST_SKIP() << "UHEAP_TEST_SEED given: only slot 0 runs";
    RandomOps ops(all[slot], 3500);
    ops.run();
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomOpsTest, ::testing::Range(0, 12));

}  // namespace
