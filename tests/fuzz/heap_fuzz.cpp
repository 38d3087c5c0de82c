// SPDX-License-Identifier: MIT
// libFuzzer harness: the input bytes drive a sequence of operations over one heap with several
// areas, checked after every step against a shadow model.
//
// The model is exact about what the heap promises and lenient where it promises nothing:
//   * roots are only what the harness reports (registered RootRanges over harness arrays,
//     collect_root() calls, the object a realloc() is moving); the C stack is never scanned, so
//     the set of objects a collection MUST keep (M) is the closure of those words over the
//     pointers the model wrote. Conservative scanning may keep more: a dead object surviving is
//     never an error, except after sweep_all().
//   * every object the model holds must be allocated with its size, flags and contents (link
//     words + a per-object pattern whose bytes all have the top bit set, so they never look
//     like heap pointers) after every operation; verify() must be ok.
//   * finalisers run once, only for objects outside M, and every object that dies with the
//     finaliser flag gets one, in the heap's order (area by area, address order); weak callbacks
//     likewise; weak slots are cleared exactly when the object they name dies.
//   * a kDestructor object's last word is its DestructorFn (the harness's, or zero): it runs in
//     place of the host finaliser, under the same rules, and never for a plain object; zero runs
//     nothing (the object dies all the same).
//   * refused operations return their documented status and change nothing.
// Collections are observed through EventHooks (on_collect_start / on_collect_end), so automatic
// collections inside alloc()/realloc() are modelled like explicit ones.
//
// Built with -fsanitize=fuzzer it is a libFuzzer target; without it (UHEAP_FUZZ_REPLAY) a main()
// replays files or directories given on the command line, or the committed seed corpus.
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <vector>

#include "uheap/heap.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define UHEAP_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UHEAP_FUZZ_ASAN 1
#endif
#endif
#ifdef UHEAP_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define FUZZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FUZZ_POISON(p, n) ((void)(p), (void)(n))
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

// The model observes collections through the event hooks and checks finalisers, weak references
// and growth: a build may leave out anything else (the lean build), not these.
static_assert(uheap::built::kEventHooks && uheap::built::kFinalisers && uheap::built::kWeakReferences && uheap::built::kGrowth,
              "the fuzz model needs event hooks, finalisers, weak references and growth");

namespace {

using uheap::Heap;
using uheap::Status;
using uheap::kBlockBytes;
using uheap::kBlockWords;
using uheap::kWordBytes;

constexpr std::size_t kRootArrays = 4;
constexpr std::size_t kRootWords = 16;
constexpr std::size_t kWeakCells = 8;
constexpr std::size_t kMaxLinks = 4;
constexpr std::size_t kGrowBuffers = 4;
constexpr std::size_t kGrowBufferBytes = 192 * 1024;
constexpr std::size_t kFreedRing = 16;
constexpr std::size_t kMaxExtraAreas = 6;
/// Words at the start of a holder object taken by its RootRange / WeakSlot node.
constexpr std::size_t kNodeWords = (sizeof(uheap::RootRange) + kWordBytes - 1) / kWordBytes;
static_assert(sizeof(uheap::WeakSlot) <= sizeof(uheap::RootRange), "a holder reserves room for either node");

// Operation codes. An op byte below kAllocBand is an alloc (the most useful op); any other byte
// b selects 1 + (b - kAllocBand) % (kOpCount - 1). tests/fuzz/gen_corpus.py mirrors these.
enum Op : unsigned {
    kOpAlloc = 0,
    kOpAllocHolder,
    kOpFree,
    kOpFreeBad,
    kOpRealloc,
    kOpReallocBad,
    kOpStoreLink,
    kOpStoreRoot,
    kOpRootRange,
    kOpWeakCell,
    kOpHolderToggle,
    kOpSetWeak,
    kOpCollect,
    kOpCollectStart,
    kOpCollectRoot,
    kOpCollectEnd,
    kOpSweepAll,
    kOpLock,
    kOpControl,
    kOpAddArea,
    kOpScribble,
    kOpQuery,
    kOpCount
};
constexpr unsigned kAllocBand = 64;

const char* const kOpNames[kOpCount] = {
    "alloc",        "alloc_holder", "free",          "free_bad",    "realloc",     "realloc_bad",
    "store_link",   "store_root",   "root_range",    "weak_cell",   "holder_toggle", "set_weak",
    "collect",      "collect_start", "collect_root", "collect_end", "sweep_all",   "lock",
    "control",      "add_area",     "scribble",      "query"};

// ---- failure reporting ------------------------------------------------------------------------

std::size_t g_op_index = 0;
bool g_trace = std::getenv("UHEAP_FUZZ_TRACE") != nullptr;  // one line per op on stderr
const char* g_op_name = "setup";
const char* g_context = "top level";
// Over every input run (the replay prints them): the kDestructor path is really taken.
std::size_t g_destructor_calls = 0;  // DestructorFn calls
std::size_t g_destructor_zero = 0;   // kDestructor objects that died with their word left zero

[[noreturn]] void die(int line, const char* fmt, ...) {
    std::fprintf(stderr, "uheap_fuzz: CHECK FAILED (heap_fuzz.cpp:%d) at op #%zu %s [%s]: ", line, g_op_index,
                 g_op_name, g_context);
    va_list args;
    va_start(args, fmt);
    std::vfprintf(stderr, fmt, args);
    va_end(args);
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
    std::abort();
}

#define CHECK(cond)                                  \
    do {                                             \
        if (!(cond)) die(__LINE__, "%s", #cond);     \
    } while (0)
#define CHECK_MSG(cond, ...)                         \
    do {                                             \
        if (!(cond)) die(__LINE__, __VA_ARGS__);     \
    } while (0)
#define CHECK_STATUS(actual, expected)                                                                  \
    do {                                                                                                \
        Status a_ = (actual);                                                                           \
        Status e_ = (expected);                                                                         \
        if (a_ != e_) die(__LINE__, "%s is %s, expected %s", #actual, uheap::status_name(a_), uheap::status_name(e_)); \
    } while (0)

// ---- input ------------------------------------------------------------------------------------

struct Input {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::size_t pos = 0;
    std::uint8_t u8() { return pos < size ? data[pos++] : 0; }
    std::size_t u16() {
        std::size_t low = u8();  // two statements: operands of | are unsequenced
        return low | static_cast<std::size_t>(u8()) << 8;
    }
    bool done() const { return pos >= size; }
};

// ---- memory the harness owns ------------------------------------------------------------------

/// A region allocated on its own (so ASan's redzones sit right at its edges), `misalign` bytes
/// past malloc's alignment.
struct Region {
    std::unique_ptr<unsigned char[]> storage;
    unsigned char* begin = nullptr;
    std::size_t bytes = 0;
    static Region make(std::size_t bytes, std::size_t misalign) {
        Region r;
        r.storage.reset(new unsigned char[bytes + misalign]);
        r.begin = r.storage.get() + misalign;
        r.bytes = bytes;
        std::memset(r.storage.get(), 0x5a, bytes + misalign);
        return r;
    }
};

struct GrowBuffer {
    std::unique_ptr<unsigned char[]> storage;
    unsigned char* region = nullptr;
    std::size_t bytes = 0;
    bool in_use = false;
};

// ---- the model --------------------------------------------------------------------------------

enum HolderKind : std::uint8_t { kNotHolder = 0, kRootHolder, kWeakHolder };

struct Obj {
    std::size_t nb = 0;  // blocks
    bool fin = false;    // finaliser flag still set (cleared when the finaliser runs)
    bool weak = false;
    bool noscan = false; // effective: only on 2+ blocks, lost for good when shrunk to 1
    bool dtor = false;   // kDestructor: 2+ blocks, its last word is its DestructorFn, never resized
    std::uintptr_t dtor_word = 0;  // that word: Fuzz::cb_destructor, or 0 (left zero, or run)
    std::uint32_t id = 0;
    std::uintptr_t links[kMaxLinks] = {};
    HolderKind holder = kNotHolder;
    std::uint8_t holder_index = 0;  // root array / weak cell its node names
    bool holder_registered = false;
    std::uint8_t holder_words = 0;  // a root holder's n_words (the node's memory dies with it)

    std::size_t bytes() const { return nb * kBlockBytes; }
    /// Words of links and pattern: all but a kDestructor object's last word.
    std::size_t content_words() const { return nb * kBlockWords - (dtor ? 1 : 0); }
    std::size_t n_links() const { return holder != kNotHolder ? 0 : std::min(kMaxLinks, content_words()); }
    std::size_t first_pattern_word() const { return holder != kNotHolder ? kNodeWords : n_links(); }
    /// A kDestructor object dead with its word zero: the heap finalises it without a call.
    bool silent() const { return dtor && dtor_word == 0; }
    unsigned flags() const {
        unsigned fin_flag = dtor ? uheap::kDestructor : uheap::kFinaliser;  // flags_of() says which runs
        return (fin ? fin_flag : 0u) | (weak ? uheap::kWeak : 0u) | (noscan && nb >= 2 ? uheap::kNoScan : 0u);
    }
};

/// Content word i of object `id`: every byte has its top bit set, so no pattern word can name a
/// heap object (or any user-space address).
std::uintptr_t pattern(std::uint32_t id, std::size_t i) {
    std::uint64_t x = static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(i) * 0xD1B54A32D192ED03ull;
    x = (x & 0x7f7f7f7f7f7f7f7full) | 0x8080808080808080ull;
    return static_cast<std::uintptr_t>(x);
}

std::size_t blocks_for(std::size_t n_bytes) { return n_bytes / kBlockBytes + (n_bytes % kBlockBytes != 0); }

/// What the model knows about the collection in progress.
struct Collection {
    bool active = false;
    bool sweep_all = false;
    bool roots_closed = false;  // M computed: no root is accepted from here on
    std::vector<std::uintptr_t> root_words;        // collect_root() words and realloc pins
    std::set<std::uintptr_t> range_words_at_start;  // registered ranges at collect_start()
    std::set<std::uintptr_t> must_live;  // M
    std::set<std::uintptr_t> finalised;
    std::set<std::uintptr_t> weak_notified;
    std::set<std::uintptr_t> freed_by_callbacks;
    std::pair<std::size_t, std::uintptr_t> last_called{0, 0};  // (area, address) of the last callback's object
    std::uintptr_t weak_value[kWeakCells] = {};
    std::uintptr_t weak_target[kWeakCells] = {};  // object the cell named at the start (0: none)
    bool weak_watched[kWeakCells] = {};
    bool weak_uncertain[kWeakCells] = {};
};

class Fuzz;
Fuzz* g_fuzz = nullptr;

class Fuzz {
public:
    explicit Fuzz(const std::uint8_t* data, std::size_t size) { in_.data = data, in_.size = size; }

    void run() {
        if (!setup()) return;
        for (g_op_index = 1; !in_.done() && g_op_index < 4000; ++g_op_index) {
            run_op(false);
            check_all();
        }
        teardown();
    }

private:
    // ================================================================ setup and teardown

    bool setup() {
        std::uint8_t h0 = in_.u8(), h1 = in_.u8(), h2 = in_.u8();
        static const std::size_t kStacks[8] = {1, 2, 4, 64, 256, 3, 8, 16};
        config_.mark_stack_entries = kStacks[h1 >> 5];
        config_.interior_pointers = (h1 & 16) != 0;
        config_.collect_on_every_alloc = (h2 & 0x18) == 0x18;
        config_.lazy_sweep = h0 % 3 != 0;  // no header bit is free: two region sizes in three sweep lazily
        config_.incremental = h0 / 3 % 3 == 1;  // and one in three collects in steps (kOpCollectStart)
        // A library built without a feature refuses its option (create() fails): the input's
        // choice is kept only where the build has it (the lean build, tests/fuzz/CMakeLists.txt).
        config_.interior_pointers = config_.interior_pointers && uheap::built::kInteriorPointers;
        config_.incremental = config_.incremental && uheap::built::kIncremental;
        // The harness writes into free blocks on purpose (op_scribble: a host's use after free);
        // poisoning exists to report exactly that, so it is off here (tests/safety_test.cpp).
        config_.poison_freed = false;
        std::size_t region_bytes = 2048 + static_cast<std::size_t>(h0) * 250;
        if (h2 & 0x80) bad_creates();
        regions_.push_back(Region::make(region_bytes, h1 & 15));
        Status st = Status::ok;
        heap_ = Heap::create(regions_[0].begin, region_bytes, config_, &st);
        if (heap_ == nullptr) {
            CHECK_STATUS(st, Status::region_too_small);
            return false;
        }
        CHECK_STATUS(st, Status::ok);
        g_op_name = "setup";
        uheap::EventHooks hooks;
        hooks.user = this;
        hooks.on_collect_start = &Fuzz::hook_collect_start;
        hooks.on_collect_end = &Fuzz::hook_collect_end;
        // One input in two observes its allocations, as a profiler does: they then go through
        // allocate_observed() rather than the fast path, and the hook checks each one.
        if (h2 & 0x01) hooks.on_alloc = &Fuzz::hook_alloc;
        heap_->set_event_hooks(hooks);
        heap_->set_finaliser(&Fuzz::cb_finaliser, this);
        heap_->set_weak_callbacks(&Fuzz::cb_weak_freed, &Fuzz::cb_weak_sweep, this);
        if (h2 & 0x04) heap_->set_grow_callback(&Fuzz::cb_grow, &Fuzz::cb_release, this);
        if (h2 & 0x20) heap_->set_collect_callback(&Fuzz::cb_collect, this);
        if (h2 & 0x40) heap_->set_root_callback(&Fuzz::cb_roots, this);
        for (std::size_t k = 0; k < kRootArrays; ++k) {
            root_nodes_[k].words = roots_[k];
            root_nodes_[k].n_words = kRootWords;
        }
        // The model's roots are its arrays, which ops unregister at will: an empty range stays
        // registered so that a collection with none of them runs (and frees everything) rather
        // than being refused as no_roots (tests/safety_test.cpp covers that refusal).
        CHECK_STATUS(heap_->add_root_range(&always_registered_), Status::ok);
        // Root arrays 0 and 1 start registered; the rest are registered by ops.
        for (std::size_t k = 0; k < 2; ++k) {
            CHECK_STATUS(heap_->add_root_range(&root_nodes_[k]), Status::ok);
            root_registered_[k] = true;
        }
        for (std::size_t i = 0; i < kWeakCells; ++i) weak_nodes_[i].slot = &weak_cells_[i];
        std::size_t extra = h2 & 3;
        for (std::size_t i = 0; i < extra; ++i) {
            std::size_t bytes = 1536 + static_cast<std::size_t>(in_.u8()) * 64;
            regions_.push_back(Region::make(bytes, in_.u8() & 15));
            Status added = heap_->add_area(regions_.back().begin, bytes);
            CHECK_MSG(added == Status::ok, "add_area(%zu bytes) at setup: %s", bytes, uheap::status_name(added));
        }
        collections_seen_base_ = heap_->counters().collections;
        if (g_trace) {
            uheap::Info info = heap_->info();
            std::fprintf(stderr, "heap: %zu areas, %zu blocks, mark stack %zu, interior %d\n", info.areas, info.total / kBlockBytes,
                         config_.mark_stack_entries, config_.interior_pointers);
        }
        check_all();
        return true;
    }

    void bad_creates() {
        g_op_name = "bad_create";
        Status st = Status::ok;
        uheap::HeapConfig cfg = config_;
        CHECK(Heap::create(nullptr, 4096, cfg, &st) == nullptr);
        CHECK_STATUS(st, Status::null_region);
        Region tiny = Region::make(64, 3);
        CHECK(Heap::create(tiny.begin, 64, cfg, &st) == nullptr);
        CHECK_STATUS(st, Status::region_too_small);
        for (std::size_t i = 0; i < 64; ++i) CHECK_MSG(tiny.begin[i] == 0x5a, "a failed create() wrote into the region");
        CHECK(Heap::create(reinterpret_cast<void*>(UINTPTR_MAX - 100), 4096, cfg, &st) == nullptr);
        CHECK_STATUS(st, Status::size_overflow);
        unsigned char too_small[sizeof(void*)];  // less than one entry (two words)
        cfg.mark_stack = too_small;
        cfg.mark_stack_bytes = sizeof too_small;
        CHECK(Heap::create(tiny.begin, 64, cfg, &st) == nullptr);
        CHECK_STATUS(st, Status::invalid_argument);
        cfg.mark_stack = nullptr;
        cfg.mark_stack_bytes = 0;
        cfg.mark_stack_entries = SIZE_MAX / 2;
        Region small = Region::make(4096, 0);
        CHECK(Heap::create(small.begin, 4096, cfg, &st) == nullptr);
        CHECK(st == Status::size_overflow || st == Status::region_too_small);
        for (std::size_t i = 0; i < 4096; ++i) CHECK_MSG(small.begin[i] == 0x5a, "a failed create() wrote into the region");
    }

    void teardown() {
        g_op_name = "teardown";
        if (heap_->is_collecting()) {
            CHECK(three_step_);
            CHECK_STATUS(heap_->collect_end(), Status::ok);
            three_step_ = false;
            check_all();
        }
        in_teardown_ = true;
        while (lock_depth_ > 0) {
            heap_->unlock();
            --lock_depth_;
        }
        pending_sweep_all_ = true;
        CHECK_STATUS(heap_->sweep_all(), Status::ok);
        pending_sweep_all_ = false;
        CHECK(objs_.empty());
        CHECK(heap_->info().objects == 0);
        uheap::VerifyReport r = heap_->verify();
        CHECK_MSG(r.ok() || (index_dirty_ && r.broken == uheap::Invariant::I5_free_index), "verify after sweep_all: %s: %s",
                  uheap::invariant_name(r.broken), r.detail);
        uheap::Counters c = heap_->counters();
        CHECK_MSG(c.areas_grown == c.areas_released, "sweep_all left %llu grown areas unreleased",
                  static_cast<unsigned long long>(c.areas_grown - c.areas_released));
        for (GrowBuffer& g : grow_) CHECK(!g.in_use);
        for (GrowBuffer& g : grow_) {
            if (g.storage) FUZZ_UNPOISON(g.storage.get(), kGrowBufferBytes);
        }
    }

    // ================================================================ model helpers

    Obj* find(std::uintptr_t p) {
        auto it = objs_.find(p);
        return it == objs_.end() ? nullptr : &it->second;
    }

    /// The object whose blocks contain `a`, or 0.
    std::uintptr_t containing(std::uintptr_t a) const {
        auto it = objs_.upper_bound(a);
        if (it == objs_.begin()) return 0;
        --it;
        return a < it->first + it->second.bytes() ? it->first : 0;
    }

    /// The object a word retains under the heap's rule, or 0.
    std::uintptr_t resolve(std::uintptr_t w) const {
        if (w == 0) return 0;
        if (config_.interior_pointers) return containing(w);
        return objs_.count(w) != 0 ? w : 0;
    }

    const std::vector<std::uintptr_t>& keys() {
        if (keys_dirty_) {
            keys_.clear();
            for (auto& kv : objs_) keys_.push_back(kv.first);
            keys_dirty_ = false;
        }
        return keys_;
    }

    std::uintptr_t pick_obj() {
        std::size_t r = in_.u16();
        const auto& k = keys();
        if (k.empty()) return 0;
        return k[r % k.size()];
    }

    bool is_pinned(std::uintptr_t p) const { return std::find(pinned_.begin(), pinned_.end(), p) != pinned_.end(); }

    void add_obj(std::uintptr_t p, const Obj& o) {
        CHECK(objs_.count(p) == 0);
        objs_[p] = o;
        keys_dirty_ = true;
    }

    void remove_obj(std::uintptr_t p) {
        // A weak holder freed before the collection clears its slots: the heap unlinks its node.
        const Obj& o = objs_.at(p);
        if (coll_.active && o.holder == kWeakHolder) coll_.weak_uncertain[o.holder_index] = true;
        std::uintptr_t end = p + o.bytes();
        objs_.erase(p);
        keys_dirty_ = true;
        freed_ring_[freed_next_++ % kFreedRing] = p;
        weak_cells_released(p, end);  // (after the erase: a node inside the object went with it)
    }

    /// free() and a shrink clear the registered weak cells naming a byte of what they release.
    void weak_cells_released(std::uintptr_t begin, std::uintptr_t end) {
        for (std::size_t i = 0; i < kWeakCells; ++i) {
            if (weak_model_[i] - begin >= end - begin || !weak_cell_watched(i)) continue;
            weak_model_[i] = 0;
            if (coll_.active) coll_.weak_uncertain[i] = true;
        }
    }

    /// A realloc() move carries the registered weak cells naming the object to the copy.
    void weak_cells_moved(std::uintptr_t old_begin, std::uintptr_t old_end, std::uintptr_t new_begin) {
        for (std::size_t i = 0; i < kWeakCells; ++i) {
            if (weak_model_[i] - old_begin >= old_end - old_begin || !weak_cell_watched(i)) continue;
            weak_model_[i] = new_begin + (weak_model_[i] - old_begin);
            if (coll_.active) coll_.weak_uncertain[i] = true;
        }
    }

    /// Writes links and pattern from `from_word` on; a kDestructor object's last word is left alone.
    void fill(std::uintptr_t p, const Obj& o, std::size_t from_word) {
        auto* w = reinterpret_cast<std::uintptr_t*>(p);
        for (std::size_t i = std::max(from_word, o.first_pattern_word()); i < o.content_words(); ++i) w[i] = pattern(o.id, i);
        for (std::size_t i = from_word; i < o.n_links(); ++i) w[i] = o.links[i];
    }

    void check_contents(std::uintptr_t p, const Obj& o, std::size_t n_words) {
        auto* w = reinterpret_cast<const std::uintptr_t*>(p);
        n_words = std::min(n_words, o.nb * kBlockWords);
        for (std::size_t i = 0; i < std::min(o.n_links(), n_words); ++i) {
            CHECK_MSG(w[i] == o.links[i], "object %p (id %u) link word %zu is %p, expected %p", reinterpret_cast<void*>(p), o.id,
                      i, reinterpret_cast<void*>(w[i]), reinterpret_cast<void*>(o.links[i]));
        }
        for (std::size_t i = o.first_pattern_word(); i < std::min(n_words, o.content_words()); ++i) {
            CHECK_MSG(w[i] == pattern(o.id, i), "object %p (id %u, %zu blocks) word %zu is %p: contents changed",
                      reinterpret_cast<void*>(p), o.id, o.nb, i, reinterpret_cast<void*>(w[i]));
        }
        if (o.dtor && n_words == o.nb * kBlockWords) {
            std::size_t last = n_words - 1;
            CHECK_MSG(w[last] == o.dtor_word, "kDestructor object %p (id %u) last word is %p, expected %p",
                      reinterpret_cast<void*>(p), o.id, reinterpret_cast<void*>(w[last]), reinterpret_cast<void*>(o.dtor_word));
        }
        if (o.holder == kRootHolder) {
            auto* node = reinterpret_cast<const uheap::RootRange*>(p);
            CHECK_MSG(node->words == roots_[o.holder_index] && node->n_words == o.holder_words,
                      "root node inside object %p lost its words pointer or count", reinterpret_cast<void*>(p));
        } else if (o.holder == kWeakHolder) {
            auto* node = reinterpret_cast<const uheap::WeakSlot*>(p);
            CHECK_MSG(node->slot == &weak_cells_[o.holder_index], "weak node inside object %p lost its slot pointer", reinterpret_cast<void*>(p));
        }
    }

    bool all_zero(std::uintptr_t p, std::size_t n) {
        auto* b = reinterpret_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n; ++i) {
            if (b[i] != 0) return false;
        }
        return true;
    }

    /// A new object's checks: in a pool, aligned, zeroed, overlapping nothing the model holds.
    void check_fresh(std::uintptr_t p, std::size_t nb, bool zeroed = true) {
        CHECK_MSG(p % kBlockBytes == 0, "object %p not block-aligned", reinterpret_cast<void*>(p));
        CHECK(heap_->contains(reinterpret_cast<void*>(p)));
        CHECK(heap_->contains(reinterpret_cast<void*>(p + nb * kBlockBytes - 1)));
        CHECK_MSG(containing(p) == 0, "new object %p lies inside live object %p", reinterpret_cast<void*>(p),
                  reinterpret_cast<void*>(containing(p)));
        auto next = objs_.lower_bound(p);
        CHECK_MSG(next == objs_.end() || next->first >= p + nb * kBlockBytes, "new object %p (%zu blocks) overlaps live object %p",
                  reinterpret_cast<void*>(p), nb, reinterpret_cast<void*>(next->first));
        CHECK_MSG(!zeroed || all_zero(p, nb * kBlockBytes), "new object %p (%zu blocks) is not zeroed", reinterpret_cast<void*>(p), nb);
        CHECK_MSG(heap_->size_of(reinterpret_cast<void*>(p)) == nb * kBlockBytes, "size_of(new %p) = %zu, expected %zu",
                  reinterpret_cast<void*>(p), heap_->size_of(reinterpret_cast<void*>(p)), nb * kBlockBytes);
    }

    /// Expected status of free()/set_weak()/size_of() for a pointer that is not a live object.
    Status classify_bad(std::uintptr_t a) {
        if (a == 0) return Status::ok;
        std::uintptr_t in = containing(a);
        if (in != 0) return in == a ? Status::ok : Status::not_object_start;
        if (!heap_->contains(reinterpret_cast<void*>(a))) return Status::foreign_pointer;
        return a % kBlockBytes != 0 ? Status::not_object_start : Status::already_free;
    }

    /// Everything observable about the heap without reading object memory.
    struct Snapshot {
        uheap::Info info;
        uheap::Counters counters;
    };
    Snapshot snapshot() const { return Snapshot{heap_->info(), heap_->counters()}; }
    void check_unchanged(const Snapshot& a, const char* what) {
        Snapshot b = snapshot();
        CHECK_MSG(a.info.used == b.info.used && a.info.free == b.info.free && a.info.objects == b.info.objects &&
                      a.info.free_runs == b.info.free_runs && a.info.max_free == b.info.max_free && a.info.areas == b.info.areas,
                  "%s changed the heap (used %zu -> %zu, objects %zu -> %zu)", what, a.info.used, b.info.used, a.info.objects,
                  b.info.objects);
        CHECK_MSG(a.counters.allocations == b.counters.allocations && a.counters.frees == b.counters.frees &&
                      a.counters.collections == b.counters.collections && a.counters.used_bytes == b.counters.used_bytes,
                  "%s changed the heap's counters", what);
    }

    /// A pointer-ish value chosen by the input for stores into objects, roots and weak cells.
    std::uintptr_t value() {
        std::uint8_t kind = in_.u8();
        switch (kind % 8) {
            case 0: return 0;
            case 1: case 2: case 3: return pick_obj();
            case 4: {
                std::uintptr_t p = pick_obj();
                if (p == 0) return 0;
                return p + 1 + in_.u16() % (find(p)->bytes() - 1);
            }
            case 5: return freed_ring_[in_.u8() % kFreedRing];
            case 6: return pattern(in_.u8(), 7);
            default: return reinterpret_cast<std::uintptr_t>(&cb_roots_[in_.u8() % kRootWords]);
        }
    }

    // ================================================================ collections (hooks)

    static Fuzz& of(void* user) { return *static_cast<Fuzz*>(user); }

    static void hook_collect_start(void* user) { of(user).collect_started(); }
    // Every allocation an observer hears of is a live object of exactly the whole-block size it
    // is told, at a block boundary (size_of() is one of the queries a hook may make).
    static void hook_alloc(void* user, void* ptr, std::size_t n_bytes, unsigned, std::uint16_t) {
        CHECK(ptr != nullptr && n_bytes % uheap::kBlockBytes == 0 && n_bytes != 0);
        CHECK(of(user).heap_->size_of(ptr) == n_bytes);
    }
    static void hook_collect_end(void* user, const uheap::CollectionStats&) { of(user).collect_ended(); }

    bool weak_cell_watched(std::size_t i) const {
        if (weak_registered_[i]) return true;
        for (auto& kv : objs_) {
            if (kv.second.holder == kWeakHolder && kv.second.holder_registered && kv.second.holder_index == i) return true;
        }
        return false;
    }

    void collect_started() {
        const char* saved = g_context;
        g_context = "on_collect_start";
        CHECK_MSG(!coll_.active, "a collection started inside another");
        coll_ = Collection{};
        coll_.active = true;
        coll_.sweep_all = pending_sweep_all_;
        if (!coll_.sweep_all) {
            coll_.range_words_at_start = range_words();
            for (std::uintptr_t p : pinned_) coll_.root_words.push_back(p);
        }
        for (std::size_t i = 0; i < kWeakCells; ++i) {
            coll_.weak_value[i] = reinterpret_cast<std::uintptr_t>(uheap::reveal_pointer(weak_cells_[i]));
            coll_.weak_target[i] = resolve(coll_.weak_value[i]);
            coll_.weak_watched[i] = weak_cell_watched(i);
        }
        g_context = saved;
    }

    /// The words of every registered root range, as they are now.
    std::set<std::uintptr_t> range_words() {
        std::set<std::uintptr_t> words;
        for (std::size_t k = 0; k < kRootArrays; ++k) {
            if (!root_registered_[k]) continue;
            for (std::size_t i = 0; i < root_nodes_[k].n_words; ++i) words.insert(reinterpret_cast<std::uintptr_t>(roots_[k][i]));
        }
        for (auto& kv : objs_) {
            const Obj& o = kv.second;
            if (o.holder != kRootHolder || !o.holder_registered) continue;
            for (std::size_t i = 0; i < o.holder_words; ++i) words.insert(reinterpret_cast<std::uintptr_t>(roots_[o.holder_index][i]));
        }
        return words;
    }

    /// Reports roots to the heap; the model records them while the heap accepts roots.
    void report_roots(void* const* words, std::size_t n) {
        // Between incremental steps the heap refuses reported roots (collecting): not roots then.
        const bool between_steps = heap_->is_marking();
        bool accepting = coll_.active && !coll_.roots_closed && !coll_.sweep_all && !between_steps;
        bool was_active = coll_.active;
        bool closed = coll_.roots_closed || between_steps;
        if (accepting) {
            for (std::size_t i = 0; i < n; ++i) coll_.root_words.push_back(reinterpret_cast<std::uintptr_t>(words[i]));
        }
        heap_->collect_root(words, n);
        if (!was_active) {
            CHECK_STATUS(heap_->last_status(), Status::not_collecting);
        } else if (closed) {
            CHECK_STATUS(heap_->last_status(), Status::collecting);
        }
    }

    /// Computes M, the objects the collection must keep, once the root phase is over.
    void close_roots() {
        if (!coll_.active || coll_.roots_closed) return;
        coll_.roots_closed = true;
        // heap.hpp says collect_start() scans the registered ranges; an implementation may read
        // them when marking instead. Only words present both times must retain anything.
        std::vector<std::uintptr_t> roots = coll_.root_words;
        if (!coll_.sweep_all) {
            std::set<std::uintptr_t> now = range_words();
            for (std::uintptr_t w : coll_.range_words_at_start) {
                if (now.count(w) != 0) roots.push_back(w);
            }
        }
        std::vector<std::uintptr_t> work;
        for (std::uintptr_t w : roots) {
            if (std::uintptr_t o = resolve(w)) work.push_back(o);
        }
        while (!work.empty()) {
            std::uintptr_t p = work.back();
            work.pop_back();
            if (!coll_.must_live.insert(p).second) continue;
            const Obj& o = objs_.at(p);
            if (o.flags() & uheap::kNoScan) continue;
            for (std::size_t i = 0; i < o.n_links(); ++i) {
                if (std::uintptr_t t = resolve(o.links[i])) work.push_back(t);
            }
        }
    }

    void collect_ended() {
        const char* saved = g_context;
        g_context = "on_collect_end";
        CHECK_MSG(coll_.active, "on_collect_end without on_collect_start");
        close_roots();
        std::set<std::uintptr_t> died;
        for (auto it = objs_.begin(); it != objs_.end();) {
            std::uintptr_t p = it->first;
            Obj& o = it->second;
            std::size_t size = heap_->size_of(reinterpret_cast<void*>(p));
            bool must = coll_.must_live.count(p) != 0;
            if (must || (size != 0 && !coll_.sweep_all)) {
                CHECK_MSG(size == o.bytes(), "%s object %p (id %u) has size_of %zu after the collection, expected %zu",
                          must ? "reachable" : "surviving", reinterpret_cast<void*>(p), o.id, size, o.bytes());
                CHECK_MSG(coll_.finalised.count(p) == 0, "object %p was finalised but survived", reinterpret_cast<void*>(p));
                CHECK_MSG(coll_.weak_notified.count(p) == 0, "object %p was reported weak-dead but survived", reinterpret_cast<void*>(p));
                ++it;
                continue;
            }
            CHECK_MSG(size == 0, "object %p (id %u) should be dead after sweep_all but has size %zu", reinterpret_cast<void*>(p), o.id, size);
            CHECK_MSG(!o.fin || o.silent(), "object %p (id %u) died without its finaliser", reinterpret_cast<void*>(p), o.id);
            if (o.silent() && coll_.finalised.count(p) == 0) ++g_destructor_zero;
            CHECK_MSG(!o.weak, "weak object %p (id %u) died without the weak callback", reinterpret_cast<void*>(p), o.id);
            died.insert(p);
            freed_ring_[freed_next_++ % kFreedRing] = p;
            it = objs_.erase(it);
            keys_dirty_ = true;
        }
        for (std::size_t i = 0; i < kWeakCells; ++i) {
            auto now = reinterpret_cast<std::uintptr_t>(uheap::reveal_pointer(weak_cells_[i]));
            std::uintptr_t was = coll_.weak_value[i];
            std::uintptr_t t = coll_.weak_target[i];
            // Between incremental steps any op may have registered or unregistered the cell's
            // node (a weak holder allocated or freed): what it was watched as at the start is moot.
            if (config_.incremental && weak_cell_watched(i) != coll_.weak_watched[i]) coll_.weak_uncertain[i] = true;
            if (coll_.weak_uncertain[i]) {
                // the harness changed the cell or its registration during the collection
            } else if (!coll_.weak_watched[i] || t == 0) {
                CHECK_MSG(now == was, "weak cell %zu changed from %p to %p (not watched or names no object)", i,
                          reinterpret_cast<void*>(was), reinterpret_cast<void*>(now));
            } else if (coll_.must_live.count(t) != 0 || objs_.count(t) != 0) {
                CHECK_MSG(now == was, "weak cell %zu naming live object %p was changed to %p", i, reinterpret_cast<void*>(t),
                          reinterpret_cast<void*>(now));
            } else if (died.count(t) != 0) {
                CHECK_MSG(now == 0, "weak cell %zu still names dead object %p", i, reinterpret_cast<void*>(t));
            }
            weak_model_[i] = now;
        }
        ++collections_seen_;
        coll_.active = false;
        three_step_ = false;
        g_context = saved;
    }

    // ================================================================ callbacks

    static void cb_finaliser(void* user, void* object) { of(user).finalised(reinterpret_cast<std::uintptr_t>(object), false); }
    static void cb_weak_freed(void* user, void* object) { of(user).weak_freed(reinterpret_cast<std::uintptr_t>(object)); }
    static void cb_weak_sweep(void* user) { of(user).weak_sweep(); }
    /// The DestructorFn op_alloc writes into a kDestructor object's last word (it has no user
    /// pointer: the harness running is g_fuzz).
    static void cb_destructor(void* object) {
        CHECK_MSG(g_fuzz != nullptr, "a DestructorFn ran outside any input");
        g_fuzz->finalised(reinterpret_cast<std::uintptr_t>(object), true);
    }
    static std::uintptr_t destructor_word() { return reinterpret_cast<std::uintptr_t>(&Fuzz::cb_destructor); }

    /// Finalisers (`destructor`: a DestructorFn) and weak callbacks come area by area, in address
    /// order within each; an object's weak callback follows its finaliser.
    void check_order(std::uintptr_t p, const char* what) {
        std::pair<std::size_t, std::uintptr_t> at{SIZE_MAX, p};
        for (std::size_t i = 0, n = heap_->area_count(); i < n; ++i) {
            uheap::AreaPool pool = heap_->area_pool(i);
            if (p - reinterpret_cast<std::uintptr_t>(pool.begin) < pool.n_blocks * kBlockBytes) at.first = i;
        }
        CHECK_MSG(at.first != SIZE_MAX, "%s for %p, which lies in no area", what, reinterpret_cast<void*>(p));
        CHECK_MSG(at >= coll_.last_called, "%s for %p (area %zu) out of order: after %p (area %zu)", what, reinterpret_cast<void*>(p),
                  at.first, reinterpret_cast<void*>(coll_.last_called.second), coll_.last_called.first);
        coll_.last_called = at;
    }

    void finalised(std::uintptr_t p, bool destructor) {
        const char* saved = g_context;
        const char* what = destructor ? "DestructorFn" : "finaliser";
        g_context = what;
        CHECK_MSG(coll_.active, "%s outside a collection", what);
        close_roots();
        Obj* o = find(p);
        CHECK_MSG(o != nullptr, "%s for %p, which is not a live object", what, reinterpret_cast<void*>(p));
        CHECK_MSG(coll_.must_live.count(p) == 0, "%s for reachable object %p (id %u)", what, reinterpret_cast<void*>(p), o->id);
        CHECK_MSG(o->fin && coll_.finalised.count(p) == 0, "%s for %p (id %u) ran twice or without the flag", what,
                  reinterpret_cast<void*>(p), o->id);
        check_order(p, what);
        if (destructor) {
            CHECK_MSG(o->dtor, "the DestructorFn ran for plain object %p (id %u)", reinterpret_cast<void*>(p), o->id);
            CHECK_MSG(o->dtor_word == destructor_word(), "a DestructorFn ran for %p (id %u), whose word the harness left zero",
                      reinterpret_cast<void*>(p), o->id);
            std::uintptr_t last = reinterpret_cast<const std::uintptr_t*>(p)[o->nb * kBlockWords - 1];
            CHECK_MSG(last == 0, "the DestructorFn of %p (id %u) was called before its word was zeroed (%p)", reinterpret_cast<void*>(p),
                      o->id, reinterpret_cast<void*>(last));
            o->dtor_word = 0;  // the collector zeroed it
            ++g_destructor_calls;
        } else {
            CHECK_MSG(!o->dtor, "the host finaliser received kDestructor object %p (id %u)", reinterpret_cast<void*>(p), o->id);
        }
        o->fin = false;
        coll_.finalised.insert(p);
        in_collection_action(p);
        g_context = saved;
    }

    void weak_freed(std::uintptr_t p) {
        const char* saved = g_context;
        g_context = "weak_freed";
        CHECK_MSG(coll_.active, "weak callback outside a collection");
        close_roots();
        Obj* o = find(p);
        CHECK_MSG(o != nullptr, "weak callback for %p, which is not a live object", reinterpret_cast<void*>(p));
        CHECK_MSG(coll_.must_live.count(p) == 0, "weak callback for reachable object %p", reinterpret_cast<void*>(p));
        CHECK_MSG(o->weak && coll_.weak_notified.count(p) == 0, "weak callback for %p twice or without the flag", reinterpret_cast<void*>(p));
        if (o->silent()) o->fin = false;  // finalised just now, with nothing to call
        CHECK_MSG(!o->fin, "weak callback for %p before its finaliser", reinterpret_cast<void*>(p));
        check_order(p, "weak callback");
        o->weak = false;
        coll_.weak_notified.insert(p);
        in_collection_action(p);
        g_context = saved;
    }

    void weak_sweep() {
        const char* saved = g_context;
        g_context = "weak_sweep";
        CHECK_MSG(!heap_->is_collecting(), "weak-sweep callback while still collecting");
        CHECK(!coll_.active);
        if (!in_teardown_ && depth_ < 1 && (in_.u8() & 1)) {
            ++depth_;
            run_op(true);
            check_all();
            --depth_;
        }
        g_context = saved;
    }

    /// Free from a callback or a nested op: the documented refusals, or the model forgets it.
    void free_checked(std::uintptr_t p, bool in_collection) {
        Obj* o = find(p);
        CHECK(o != nullptr);
        Status st = heap_->free(reinterpret_cast<void*>(p));
        if (lock_depth_ > 0) {
            CHECK_STATUS(st, Status::locked);
        } else if (is_pinned(p)) {
            CHECK_STATUS(st, Status::pinned);
        } else if (o->weak) {
            CHECK_STATUS(st, Status::weakly_referenced);
        } else {
            // corrupted: freed, but a forged free-run record next to it made the heap rebuild its
            // index; only a host scribble may forge one.
            if (!(st == Status::corrupted && index_dirty_)) CHECK_STATUS(st, Status::ok);
            if (in_collection) coll_.freed_by_callbacks.insert(p);
            remove_obj(p);
            return;
        }
        CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == o->bytes());
    }

    /// What a finaliser or weak callback does, driven by the input. Most of it must be refused.
    void in_collection_action(std::uintptr_t self) {
        if (in_teardown_ || depth_ >= 2) return;
        ++depth_;
        std::uint8_t a = in_.u8();
        switch (a % 17) {
            case 0: break;
            case 16:
                // The object a realloc() is moving right now: refused with `pinned`.
                if (!pinned_.empty() && find(pinned_.back()) != nullptr) free_checked(pinned_.back(), true);
                break;
            case 1:
                if (std::uintptr_t p = pick_obj()) free_checked(p, true);
                break;
            case 2:
                if (find(self) != nullptr) free_checked(self, true);
                break;
            case 3: {
                std::size_t n = 1 + in_.u8();
                CHECK(heap_->alloc(n, in_.u8() & 15) == nullptr);
                CHECK_STATUS(heap_->last_status(), Status::locked);
                break;
            }
            case 4: CHECK_STATUS(heap_->collect(), Status::collecting); break;
            case 5: CHECK_STATUS(heap_->collect_start(), Status::collecting); break;
            case 6: CHECK_STATUS(heap_->collect_end(), Status::collecting); break;
            case 7: report_roots(roots_[in_.u8() % kRootArrays], kRootWords); break;
            case 8: {
                std::uintptr_t p = pick_obj();
                if (p == 0) break;
                Obj before = *find(p);
                std::size_t n = 1 + in_.u16() % (8 * kBlockBytes);
                void* q = heap_->realloc(reinterpret_cast<void*>(p), n, in_.u8() & 1);
                const bool resizes_dtor = before.dtor && blocks_for(n) != before.nb;  // refused: invalid_argument
                if (q == nullptr) {
                    Status st = heap_->last_status();
                    CHECK_MSG(st == Status::locked || st == Status::collecting || st == Status::pinned ||
                                  (resizes_dtor && st == Status::invalid_argument),
                              "realloc inside a callback: %s", uheap::status_name(st));
                    CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == before.bytes());
                } else {
                    CHECK_MSG(reinterpret_cast<std::uintptr_t>(q) == p && blocks_for(n) <= before.nb,
                              "realloc inside a callback allocated (moved or grew %p)", reinterpret_cast<void*>(p));
                    CHECK_MSG(!resizes_dtor, "realloc inside a callback resized kDestructor object %p", reinterpret_cast<void*>(p));
                    resized_in_place(p, blocks_for(n));
                }
                break;
            }
            case 9:
                if (std::uintptr_t p = pick_obj()) {
                    Obj before = *find(p);
                    CHECK(heap_->realloc(reinterpret_cast<void*>(p), 0, true) == nullptr);
                    if (heap_->size_of(reinterpret_cast<void*>(p)) == 0) {
                        CHECK(!before.weak && !is_pinned(p) && lock_depth_ == 0);
                        coll_.freed_by_callbacks.insert(p);
                        remove_obj(p);
                    } else {
                        CHECK(before.weak || is_pinned(p) || lock_depth_ > 0);
                    }
                }
                break;
            case 10: CHECK_STATUS(heap_->sweep_all(), Status::collecting); break;
            case 11: {
                // Only on objects that survive: a dead object flagged now may be past the
                // finalise scan, which is unspecified.
                std::uintptr_t p = pick_obj();
                if (p == 0 || coll_.must_live.count(p) == 0 || is_pinned(p)) break;
                CHECK_STATUS(heap_->set_weak(reinterpret_cast<void*>(p)), Status::ok);
                find(p)->weak = true;
                break;
            }
            case 12: {
                heap_->lock();
                CHECK(heap_->alloc(kBlockBytes) == nullptr);
                CHECK_STATUS(heap_->last_status(), Status::locked);
                if (std::uintptr_t p = pick_obj()) {
                    CHECK_STATUS(heap_->free(reinterpret_cast<void*>(p)), Status::locked);
                    CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == find(p)->bytes());
                }
                heap_->unlock();
                break;
            }
            case 13: {
                Region r = Region::make(2048, 0);
                CHECK_STATUS(heap_->add_area(r.begin, r.bytes), Status::collecting);
                for (std::size_t i = 0; i < r.bytes; ++i) CHECK_MSG(r.begin[i] == 0x5a, "a refused add_area wrote into the region");
                break;
            }
            case 14: {
                std::size_t i = in_.u8() % kWeakCells;  // (weak slot registration)
                if (weak_registered_[i]) {
                    heap_->remove_weak_slot(&weak_nodes_[i]);
                    weak_registered_[i] = false;
                } else {
                    CHECK_STATUS(heap_->add_weak_slot(&weak_nodes_[i]), Status::ok);
                    weak_registered_[i] = true;
                }
                coll_.weak_uncertain[i] = true;
                break;
            }
            case 15: {
                std::size_t k = in_.u8() % kRootArrays;
                if (root_registered_[k]) {
                    heap_->remove_root_range(&root_nodes_[k]);
                    root_registered_[k] = false;
                } else {
                    CHECK_STATUS(heap_->add_root_range(&root_nodes_[k]), Status::ok);
                    root_registered_[k] = true;
                }
                break;
            }
        }
        --depth_;
    }

    static bool cb_grow(void* user, std::size_t min_bytes, void** region, std::size_t* region_bytes) {
        return of(user).grow(min_bytes, region, region_bytes);
    }
    static void cb_release(void* user, void* region, std::size_t region_bytes) { of(user).release(region, region_bytes); }

    bool grow(std::size_t min_bytes, void** region, std::size_t* region_bytes) {
        CHECK_MSG(!heap_->is_collecting(), "grow callback during a collection");
        std::uint8_t d = in_.u8();
        if (d % 4 == 0) return false;
        std::size_t misalign = d % 16;
        if (min_bytes > kGrowBufferBytes - misalign) return false;
        for (GrowBuffer& g : grow_) {
            if (g.in_use) continue;
            if (!g.storage) g.storage.reset(new unsigned char[kGrowBufferBytes]);
            FUZZ_UNPOISON(g.storage.get(), kGrowBufferBytes);
            std::size_t bytes = std::min(kGrowBufferBytes - misalign, min_bytes + static_cast<std::size_t>(in_.u8()) * 64);
            g.region = g.storage.get() + misalign;
            g.bytes = bytes;
            g.in_use = true;
            *region = g.region;
            *region_bytes = bytes;
            return true;
        }
        return false;
    }

    void release(void* region, std::size_t region_bytes) {
        const char* saved = g_context;
        g_context = "release";
        close_roots();
        auto r = static_cast<unsigned char*>(region);
        GrowBuffer* found = nullptr;
        for (GrowBuffer& g : grow_) {
            if (g.in_use && g.region == r) found = &g;
        }
        CHECK_MSG(found != nullptr, "release of a region the grow callback never granted (%p)", region);
        CHECK_MSG(found->bytes == region_bytes, "release with the wrong size");
        for (std::uintptr_t p : coll_.must_live) {
            if (objs_.count(p) == 0) continue;  // freed by a finaliser: its blocks are free
            CHECK_MSG(!(p >= reinterpret_cast<std::uintptr_t>(r) && p < reinterpret_cast<std::uintptr_t>(r) + region_bytes),
                      "released area holds reachable object %p", reinterpret_cast<void*>(p));
        }
        found->in_use = false;
        FUZZ_POISON(found->storage.get(), kGrowBufferBytes);  // the heap must never touch it again
        g_context = saved;
    }

    static void cb_collect(void* user) { of(user).automatic_collect(); }
    static void cb_roots(void* user) { of(user).root_callback(); }

    void automatic_collect() {
        const char* saved = g_context;
        g_context = "collect callback";
        CHECK_STATUS(heap_->collect_start(), Status::ok);
        report_roots(cb_roots_, kRootWords);
        CHECK_STATUS(heap_->collect_end(), Status::ok);
        g_context = saved;
    }

    void root_callback() {
        const char* saved = g_context;
        g_context = "root callback";
        CHECK(heap_->is_collecting());
        CHECK_STATUS(heap_->collect_start(), Status::collecting);
        CHECK_STATUS(heap_->collect(), Status::collecting);
        CHECK_STATUS(heap_->sweep_all(), Status::collecting);
        report_roots(cb_roots_, kRootWords);
        g_context = saved;
    }

    // ================================================================ the checks after every op

    void check_all() {
        uheap::VerifyReport r = heap_->verify();
        if (r.ok()) {
            if (!heap_->is_collecting()) index_dirty_ = false;  // (verify skips the index while collecting)
        } else {
            CHECK_MSG(index_dirty_ && r.broken == uheap::Invariant::I5_free_index, "verify: %s area %zu block %zu: %s",
                      uheap::invariant_name(r.broken), r.area, r.block, r.detail);
        }
        CHECK_MSG(heap_->counters().collections - collections_seen_base_ == collections_seen_,
                  "counters().collections disagrees with the collections the hooks reported");
        CHECK(heap_->is_collecting() == three_step_);
        CHECK(coll_.active == (three_step_ || heap_->is_marking()));
        CHECK(!heap_->is_marking() || config_.incremental);
        CHECK(heap_->lock_depth() == lock_depth_);
        uheap::Info info = heap_->info();
        std::size_t used = 0;
        for (auto& kv : objs_) used += kv.second.bytes();
        CHECK_MSG(info.objects == objs_.size(), "info().objects = %zu, model holds %zu", info.objects, objs_.size());
        CHECK_MSG(info.used == used, "info().used = %zu, model says %zu", info.used, used);
        CHECK(heap_->counters().used_bytes == used);
        for (auto& kv : objs_) {
            auto* p = reinterpret_cast<void*>(kv.first);
            const Obj& o = kv.second;
            std::size_t size = heap_->size_of(p);
            CHECK_MSG(size == o.bytes(), "size_of(%p) = %zu, expected %zu (id %u)", p, size, o.bytes(), o.id);
            CHECK_MSG(heap_->flags_of(p) == o.flags(), "flags_of(%p) = %u, expected %u", p, heap_->flags_of(p), o.flags());
            check_contents(kv.first, o, o.nb * kBlockWords);
        }
        for (std::size_t i = 0; i < kWeakCells; ++i) {
            CHECK_MSG(reinterpret_cast<std::uintptr_t>(uheap::reveal_pointer(weak_cells_[i])) == weak_model_[i], "weak cell %zu changed outside a collection", i);
        }
    }

    // ================================================================ the operations

    void run_op(bool nested) {
        std::uint8_t b = in_.u8();
        unsigned op = b < kAllocBand ? kOpAlloc : 1 + (b - kAllocBand) % (kOpCount - 1);
        const char* saved = g_op_name;
        g_op_name = kOpNames[op];
        if (!nested) saved = g_op_name;  // failures in the checks after it name it too
        if (g_trace) {
            uheap::Counters c = heap_->counters();
            std::fprintf(stderr, "op #%zu%s %s%s: objects %zu, collections %llu, finalisers %llu\n", g_op_index, nested ? " (nested)" : "",
                         kOpNames[op], three_step_ ? " [collecting]" : "", objs_.size(), static_cast<unsigned long long>(c.collections),
                         static_cast<unsigned long long>(c.finalisers_run));
        }
        if (three_step_) {
            op_during_collection(op);
        } else {
            op_normal(op, nested);
        }
        g_op_name = saved;
    }

    void op_normal(unsigned op, bool nested) {
        switch (op) {
            case kOpAlloc: op_alloc(); break;
            case kOpAllocHolder: op_alloc_holder(); break;
            case kOpFree: op_free(); break;
            case kOpFreeBad: op_free_bad(); break;
            case kOpRealloc: op_realloc(); break;
            case kOpReallocBad: op_realloc_bad(); break;
            case kOpStoreLink: op_store_link(); break;
            case kOpStoreRoot: op_store_root(); break;
            case kOpRootRange: op_root_range(); break;
            case kOpWeakCell: op_weak_cell(); break;
            case kOpHolderToggle: op_holder_toggle(); break;
            case kOpSetWeak: op_set_weak(nested); break;
            case kOpCollect: op_collect(nested); break;
            case kOpCollectStart:
                if (config_.incremental && (heap_->is_marking() || (in_.u8() & 1) != 0)) {
                    op_collect_step(nested);
                    break;
                }
                if (nested || lock_depth_ > 0) break;  // a three-step collection is top-level only
                CHECK_STATUS(heap_->collect_start(), Status::ok);
                three_step_ = true;
                break;
            case kOpCollectRoot: report_roots(roots_[in_.u8() % kRootArrays], kRootWords); break;
            case kOpCollectEnd:  // no three-step collection runs here; an incremental cycle may
                CHECK_STATUS(heap_->collect_end(), heap_->is_marking() ? Status::collecting : Status::not_collecting);
                break;
            case kOpSweepAll:
                if (nested || lock_depth_ > 0) break;  // would free an outer realloc's original
                pending_sweep_all_ = true;
                CHECK_STATUS(heap_->sweep_all(), Status::ok);
                pending_sweep_all_ = false;
                break;
            case kOpLock: op_lock(nested); break;
            case kOpControl: op_control(); break;
            case kOpAddArea: op_add_area(); break;
            case kOpScribble: op_scribble(); break;
            default: op_query(); break;
        }
    }

    /// Between collect_start() and collect_end() (the three-step form): roots, frees, scribbles
    /// and refused operations. Stores into objects are skipped (no write barrier is promised).
    void op_during_collection(unsigned op) {
        switch (op) {
            case kOpAlloc: case kOpAllocHolder: {
                std::size_t n = 1 + in_.u8() * 8;
                CHECK(heap_->alloc(n, in_.u8() & 15) == nullptr);
                CHECK_STATUS(heap_->last_status(), Status::locked);
                break;
            }
            case kOpFree:
                if (std::uintptr_t p = pick_obj()) free_checked(p, false);
                break;
            case kOpFreeBad: op_free_bad(); break;
            case kOpRealloc: {
                std::uintptr_t p = pick_obj();
                if (p == 0) break;
                std::size_t size = find(p)->bytes();
                CHECK(heap_->realloc(reinterpret_cast<void*>(p), size + kBlockBytes, true) == nullptr);
                CHECK_STATUS(heap_->last_status(), Status::locked);
                CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == size);
                break;
            }
            case kOpStoreRoot: op_store_root(); break;
            case kOpWeakCell: {
                std::size_t i = in_.u8() % kWeakCells;
                coll_.weak_uncertain[i] = true;
                weak_cells_[i] = uheap::hide_pointer(reinterpret_cast<void*>(value()));
                weak_model_[i] = reinterpret_cast<std::uintptr_t>(uheap::reveal_pointer(weak_cells_[i]));
                break;
            }
            case kOpSetWeak: {
                std::uintptr_t p = pick_obj();
                if (p == 0) break;
                // Flagged during the root phase: if it dies, the weak callback must report it.
                CHECK_STATUS(heap_->set_weak(reinterpret_cast<void*>(p)), Status::ok);
                find(p)->weak = true;
                break;
            }
            case kOpCollect: CHECK_STATUS(heap_->collect(), Status::collecting); break;
            case kOpCollectStart: CHECK_STATUS(heap_->collect_start(), Status::collecting); break;
            case kOpCollectRoot: {
                std::uint8_t which = in_.u8();
                if (which % 3 == 2) {
                    void* words[8];
                    for (void*& w : words) w = reinterpret_cast<void*>(value());
                    report_roots(words, 1 + which % 8);
                } else if (which % 3 == 1) {
                    report_roots(cb_roots_, kRootWords);
                } else {
                    report_roots(roots_[(which >> 2) % kRootArrays], kRootWords);
                }
                break;
            }
            case kOpCollectEnd:
                CHECK_STATUS(heap_->collect_end(), Status::ok);
                three_step_ = false;
                break;
            case kOpSweepAll: CHECK_STATUS(heap_->sweep_all(), Status::collecting); break;
            case kOpAddArea: {
                Region r = Region::make(4096, 0);
                CHECK_STATUS(heap_->add_area(r.begin, r.bytes), Status::collecting);
                for (std::size_t i = 0; i < r.bytes; ++i) CHECK_MSG(r.begin[i] == 0x5a, "a refused add_area wrote into the region");
                break;
            }
            case kOpScribble: op_scribble(); break;
            case kOpQuery: op_query(); break;
            default: break;
        }
    }

    std::size_t alloc_size() {
        std::uint8_t c = in_.u8();
        std::size_t k = 1 + in_.u8() % 8;
        switch (c % 10) {
            case 0: return 0;
            case 1: return 1;
            case 2: return k * kBlockBytes;
            case 3: return k * kBlockBytes + 1;
            case 4: return k * kBlockBytes - 1;
            case 5: {
                std::size_t n = (1 + in_.u8() % 64) * kBlockBytes;
                return n - in_.u8() % kBlockBytes;
            }
            case 6: return 1024 + in_.u16() * 2;  // up to ~130 KB: more than most areas
            case 7: return SIZE_MAX - in_.u8();  // overflows when rounded
            case 8: return 4096 * (1 + in_.u8() % 16);
            default: return (2 + in_.u8() % 3) * kBlockBytes;
        }
    }

    /// Stores `p` where the input says: a root word, a link of another object, or nowhere.
    void place(std::uintptr_t p) {
        std::uint8_t d = in_.u8();
        if (d % 8 < 4) {
            roots_[d % 4][(d >> 3) % kRootWords] = reinterpret_cast<void*>(p);
        } else if (d % 8 < 6) {
            std::uintptr_t into = pick_obj();
            store_link(into, in_.u8(), p);
        }
    }

    void op_alloc() {
        std::size_t n = alloc_size();
        std::uint8_t d = in_.u8();
        unsigned flags = d & 7;
        // One flag byte in four adds kDestructor (gen_corpus.py: DESTRUCTOR; its other seeds'
        // flags are 0..7); one such object in four keeps its word zero (DESTRUCTOR_ZERO).
        if ((d & 0x18) == 0x18) flags |= uheap::kDestructor;
        if ((d & 0x18) == 0x10) flags |= uheap::kUninitialised;  // one in four: not zeroed if no-scan
        const bool zero_word = (d & 0x60) == 0x60;
        void* q = heap_->alloc(n, flags);
        auto p = reinterpret_cast<std::uintptr_t>(q);
        Status st = heap_->last_status();
        if (n == 0) {
            CHECK(q == nullptr);
            CHECK_STATUS(st, Status::ok);
            return;
        }
        if (lock_depth_ > 0) {
            CHECK(q == nullptr);
            CHECK_STATUS(st, Status::locked);
            return;
        }
        if (n > SIZE_MAX - kBlockBytes) {
            CHECK(q == nullptr);
            CHECK_STATUS(st, Status::too_large);
            return;
        }
        if (q == nullptr) {
            CHECK_MSG(st == Status::out_of_memory || st == Status::too_large, "alloc(%zu) failed with %s", n, uheap::status_name(st));
            return;
        }
        std::size_t nb = blocks_for(n);
        if ((flags & uheap::kDestructor) && nb < 2) nb = 2;  // the flag lives on the first tail
        // kUninitialised may leave a no-scan object as it was (three blocks or more); all else is zeroed.
        check_fresh(p, nb, !((flags & uheap::kUninitialised) && (flags & uheap::kNoScan) && nb >= 3));
        Obj o;
        o.nb = nb;
        o.fin = flags & (uheap::kFinaliser | uheap::kDestructor);  // the heap's finaliser phase runs both
        o.weak = flags & uheap::kWeak;
        o.noscan = (flags & uheap::kNoScan) && nb >= 2;
        o.dtor = flags & uheap::kDestructor;
        o.id = next_id_++;
        CHECK_MSG(heap_->flags_of(q) == o.flags(), "flags_of(new) = %u, expected %u", heap_->flags_of(q), o.flags());
        if (o.dtor && !zero_word) {
            // As make<T> does: the object's own DestructorFn in its last word.
            reinterpret_cast<uheap::DestructorFn*>(p + o.bytes())[-1] = &Fuzz::cb_destructor;
            o.dtor_word = destructor_word();
        }
        fill(p, o, 0);
        add_obj(p, o);
        place(p);
    }

    void op_alloc_holder() {
        std::uint8_t d = in_.u8();
        HolderKind kind = d & 1 ? kWeakHolder : kRootHolder;
        std::uint8_t index = static_cast<std::uint8_t>((d >> 1) % (kind == kRootHolder ? kRootArrays : kWeakCells));
        std::size_t nb = std::max<std::size_t>(2, kNodeWords / kBlockWords + 1) + (d >> 5) % 3;
        unsigned flags = uheap::kNoScan | ((d & 0x80) ? uheap::kFinaliser : 0u);
        void* q = heap_->alloc(nb * kBlockBytes, flags);
        if (q == nullptr) {
            Status st = heap_->last_status();
            CHECK(st == Status::out_of_memory || st == Status::too_large || st == Status::locked);
            return;
        }
        auto p = reinterpret_cast<std::uintptr_t>(q);
        check_fresh(p, nb);
        Obj o;
        o.nb = nb;
        o.fin = flags & uheap::kFinaliser;
        o.noscan = true;
        o.id = next_id_++;
        o.holder = kind;
        o.holder_index = index;
        o.holder_registered = true;
        if (kind == kRootHolder) {
            auto* node = ::new (q) uheap::RootRange();
            node->words = roots_[index];
            node->n_words = 1 + in_.u8() % kRootWords;
            o.holder_words = static_cast<std::uint8_t>(node->n_words);
            CHECK_STATUS(heap_->add_root_range(node), Status::ok);
            if (in_.u8() & 1) CHECK_STATUS(heap_->add_root_range(node), Status::already_registered);
        } else {
            auto* node = ::new (q) uheap::WeakSlot();
            node->slot = &weak_cells_[index];
            CHECK_STATUS(heap_->add_weak_slot(node), Status::ok);
            if (in_.u8() & 1) CHECK_STATUS(heap_->add_weak_slot(node), Status::already_registered);
        }
        fill(p, o, 0);
        add_obj(p, o);
        place(p);
    }

    void op_holder_toggle() {
        std::vector<std::uintptr_t> holders;
        for (auto& kv : objs_) {
            if (kv.second.holder != kNotHolder) holders.push_back(kv.first);
        }
        std::uint8_t d = in_.u8();
        if (holders.empty()) return;
        std::uintptr_t p = holders[d % holders.size()];
        Obj& o = objs_.at(p);
        bool add = (d >> 4) & 1;
        if (o.holder == kRootHolder) {
            auto* node = reinterpret_cast<uheap::RootRange*>(p);
            if (add) {
                CHECK_STATUS(heap_->add_root_range(node), o.holder_registered ? Status::already_registered : Status::ok);
                o.holder_registered = true;
            } else {
                heap_->remove_root_range(node);
                o.holder_registered = false;
            }
        } else {
            auto* node = reinterpret_cast<uheap::WeakSlot*>(p);
            if (add) {
                CHECK_STATUS(heap_->add_weak_slot(node), o.holder_registered ? Status::already_registered : Status::ok);
                o.holder_registered = true;
            } else {
                heap_->remove_weak_slot(node);
                o.holder_registered = false;
            }
        }
    }

    void op_free() {
        std::uintptr_t p = pick_obj();
        if (p == 0) {
            CHECK_STATUS(heap_->free(nullptr), Status::ok);
            return;
        }
        Snapshot before = snapshot();
        free_checked(p, false);
        if (find(p) != nullptr) check_unchanged(before, "a refused free");
    }

    /// A pointer that is not a live object's start: double free, interior, misaligned, foreign.
    std::uintptr_t bad_pointer() {
        static int stack_probe;
        std::uint8_t k = in_.u8();
        switch (k % 7) {
            case 0: return freed_ring_[in_.u8() % kFreedRing];
            case 1: {
                std::uintptr_t p = pick_obj();
                return p == 0 ? 0 : p + 1 + in_.u16() % (find(p)->bytes() - 1);
            }
            case 2: return reinterpret_cast<std::uintptr_t>(&roots_[0][0]);
            case 3: return reinterpret_cast<std::uintptr_t>(&stack_probe);
            case 4: return reinterpret_cast<std::uintptr_t>(regions_[0].begin) + in_.u8();  // control data
            case 5: {
                // somewhere in a free run, maybe misaligned
                std::vector<std::pair<std::uintptr_t, std::size_t>> runs = free_runs();
                if (runs.empty()) return 0;
                auto& r = runs[in_.u8() % runs.size()];
                return r.first + in_.u16() % (r.second * kBlockBytes);
            }
            default: return 0;
        }
    }

    void op_free_bad() {
        std::uintptr_t a = bad_pointer();
        Status expected = classify_bad(a);
        if (expected == Status::ok && a != 0) {  // the pointer names a live object after all
            free_checked(a, false);
            return;
        }
        Snapshot before = snapshot();
        Status st = heap_->free(reinterpret_cast<void*>(a));
        if (a != 0 && lock_depth_ > 0) expected = Status::locked;
        CHECK_MSG(st == expected, "free(%p) returned %s, expected %s", reinterpret_cast<void*>(a), uheap::status_name(st),
                  uheap::status_name(expected));
        check_unchanged(before, "a bad free");
        CHECK(heap_->size_of(reinterpret_cast<void*>(a)) == 0);
    }

    /// Applies a successful in-place resize to the model: the object keeps its address.
    void resized_in_place(std::uintptr_t p, std::size_t new_nb) {
        Obj& o = objs_.at(p);
        std::size_t old_nb = o.nb;
        check_contents(p, o, std::min(old_nb, new_nb) * kBlockWords);
        if (new_nb < old_nb) weak_cells_released(p + new_nb * kBlockBytes, p + old_nb * kBlockBytes);
        if (new_nb > old_nb) {
            CHECK_MSG(all_zero(p + old_nb * kBlockBytes, (new_nb - old_nb) * kBlockBytes), "realloc growth not zeroed");
        }
        o.nb = new_nb;
        if (new_nb < 2) o.noscan = false;
        for (std::size_t i = o.n_links(); i < kMaxLinks; ++i) o.links[i] = 0;
        fill(p, o, std::min(old_nb, new_nb) * kBlockWords);
    }

    void op_realloc() {
        std::uint8_t d = in_.u8();
        bool allow_move = d & 1;
        std::uintptr_t p = (d & 0xe) == 0 ? 0 : pick_obj();
        if (p == 0) {
            // realloc(null, n) is alloc(n)
            std::size_t n = 1 + in_.u8() * 4;
            void* q = heap_->realloc(nullptr, n, allow_move);
            if (q == nullptr) {
                Status st = heap_->last_status();
                CHECK(st == Status::out_of_memory || st == Status::too_large || (lock_depth_ > 0 && st == Status::locked));
                return;
            }
            CHECK(lock_depth_ == 0);
            auto np = reinterpret_cast<std::uintptr_t>(q);
            check_fresh(np, blocks_for(n));
            Obj o;
            o.nb = blocks_for(n);
            o.id = next_id_++;
            fill(np, o, 0);
            add_obj(np, o);
            place(np);
            return;
        }
        Obj before = *find(p);
        std::uint8_t c = in_.u8();
        std::size_t min_nb = before.holder != kNotHolder ? std::max<std::size_t>(2, kNodeWords / kBlockWords + 1) : 1;
        std::size_t new_nb;
        std::size_t n;
        switch (c % 6) {
            case 0: new_nb = before.nb; break;
            case 1: new_nb = std::max(min_nb, before.nb - std::min(before.nb - 1, static_cast<std::size_t>(1 + in_.u8() % 8))); break;
            case 2: new_nb = before.nb + 1 + in_.u8() % 4; break;
            case 3: new_nb = before.nb + 1 + in_.u8() % 64; break;
            case 4: new_nb = 0; break;
            default: new_nb = before.nb + 1; break;
        }
        n = new_nb == 0 ? 0 : new_nb * kBlockBytes - in_.u8() % kBlockBytes;
        Snapshot snap = snapshot();
        // An object an outer realloc() is moving (this is a callback of its collection) cannot
        // change: every realloc of it, shrinking and freeing included, is refused.
        const bool was_pinned = is_pinned(p);
        pinned_.push_back(p);
        void* q = heap_->realloc(reinterpret_cast<void*>(p), n, allow_move);
        pinned_.pop_back();
        Status st = heap_->last_status();
        Obj* cur = find(p);
        CHECK_MSG(cur != nullptr, "the object being reallocated vanished from the model (freed while pinned?)");
        auto qp = reinterpret_cast<std::uintptr_t>(q);
        if (lock_depth_ > 0) {
            CHECK(q == nullptr);
            CHECK_STATUS(st, Status::locked);
            check_unchanged(snap, "a realloc while locked");
            return;
        }
        if (was_pinned && n != 0) {
            CHECK(q == nullptr);
            CHECK_STATUS(st, Status::pinned);
            CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == cur->bytes());
            return;
        }
        if (was_pinned && n == 0 && !cur->weak) {
            CHECK(q == nullptr);
            CHECK_STATUS(st, Status::pinned);
            CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == cur->bytes());
            return;
        }
        if (n == 0) {
            CHECK(q == nullptr);
            if (cur->weak) {
                CHECK_STATUS(st, Status::weakly_referenced);
                CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == cur->bytes());
            } else {
                if (!(st == Status::corrupted && index_dirty_)) CHECK_STATUS(st, Status::ok);
                CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == 0);
                remove_obj(p);
            }
            return;
        }
        if (cur->dtor && new_nb != cur->nb) {
            // Its DestructorFn is its last word: another length is refused, the object intact.
            CHECK_MSG(q == nullptr, "realloc resized kDestructor object %p from %zu to %zu blocks", reinterpret_cast<void*>(p),
                      cur->nb, new_nb);
            CHECK_STATUS(st, Status::invalid_argument);
            CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == cur->bytes());
            check_unchanged(snap, "a refused realloc of a kDestructor object");
            return;
        }
        if (q == nullptr) {
            CHECK_MSG(new_nb > cur->nb, "realloc to %zu blocks from %zu failed (%s): only growth can fail", new_nb, cur->nb,
                      uheap::status_name(st));
            CHECK_MSG(st == Status::out_of_memory || st == Status::too_large || st == Status::weakly_referenced,
                      "realloc failed with %s", uheap::status_name(st));
            CHECK(heap_->size_of(reinterpret_cast<void*>(p)) == cur->bytes());
            return;
        }
        if (!(st == Status::corrupted && index_dirty_)) CHECK_STATUS(st, Status::ok);
        if (qp == p) {
            resized_in_place(p, new_nb);
            return;
        }
        CHECK_MSG(new_nb > cur->nb, "a shrinking or same-size realloc moved the object");
        CHECK_MSG(allow_move, "realloc(allow_move=false) moved the object");
        CHECK_MSG(!cur->weak, "realloc moved a weak-flagged object");
        // Moved: contents copied, the rest zeroed, the original released.
        Obj moved = *cur;
        CHECK_MSG(heap_->size_of(reinterpret_cast<void*>(p)) == 0, "realloc moved %p but did not release it", reinterpret_cast<void*>(p));
        check_contents(qp, moved, moved.nb * kBlockWords);
        CHECK_MSG(all_zero(qp + moved.nb * kBlockBytes, (new_nb - moved.nb) * kBlockBytes), "realloc's moved copy not zeroed past the old size");
        weak_cells_moved(p, p + moved.bytes(), qp);
        remove_obj(p);
        CHECK_MSG(containing(qp) == 0, "realloc moved into a live object");
        auto next = objs_.lower_bound(qp);
        CHECK_MSG(next == objs_.end() || next->first >= qp + new_nb * kBlockBytes, "realloc's new copy overlaps a live object");
        std::size_t old_nb = moved.nb;
        moved.nb = new_nb;
        fill(qp, moved, old_nb * kBlockWords);
        add_obj(qp, moved);
        // The host updates its references (roots and links; weak cells keep the old value).
        for (auto& arr : roots_) {
            for (void*& w : arr) {
                if (reinterpret_cast<std::uintptr_t>(w) == p) w = q;
            }
        }
        for (auto& kv : objs_) {
            Obj& o = kv.second;
            for (std::size_t i = 0; i < o.n_links(); ++i) {
                if (o.links[i] == p) {
                    o.links[i] = qp;
                    reinterpret_cast<std::uintptr_t*>(kv.first)[i] = qp;
                }
            }
        }
    }

    void op_realloc_bad() {
        std::uintptr_t a = bad_pointer();
        if (a == 0) return;
        Status expected = classify_bad(a);
        if (expected == Status::ok) return;  // names a live object: not a bad pointer after all
        if (lock_depth_ > 0) expected = Status::locked;
        Snapshot before = snapshot();
        std::size_t n = kBlockBytes * (1 + in_.u8() % 4);
        CHECK(heap_->realloc(reinterpret_cast<void*>(a), n, true) == nullptr);
        CHECK_MSG(heap_->last_status() == expected, "realloc(%p) failed with %s, expected %s", reinterpret_cast<void*>(a),
                  uheap::status_name(heap_->last_status()), uheap::status_name(expected));
        check_unchanged(before, "a realloc of a bad pointer");
    }

    void store_link(std::uintptr_t i, std::uint8_t word, std::uintptr_t v) {
        if (i == 0) return;
        Obj& o = objs_.at(i);
        if (o.n_links() == 0) return;
        std::size_t w = word % o.n_links();
        o.links[w] = v;
        reinterpret_cast<std::uintptr_t*>(i)[w] = v;
        heap_->write_barrier(reinterpret_cast<void*>(i));  // the host's promise in incremental mode
    }

    void op_store_link() {
        std::uintptr_t i = pick_obj();
        std::uint8_t w = in_.u8();
        store_link(i, w, value());
    }

    void op_store_root() {
        std::uint8_t d = in_.u8();
        void* v = reinterpret_cast<void*>(value());
        if (d & 0x80) {
            cb_roots_[d % kRootWords] = v;
        } else {
            roots_[d % kRootArrays][(d >> 2) % kRootWords] = v;
        }
    }

    void op_root_range() {
        std::uint8_t d = in_.u8();
        std::size_t k = d % kRootArrays;
        switch ((d >> 2) % 4) {
            case 0:
                if (root_registered_[k]) {
                    heap_->remove_root_range(&root_nodes_[k]);
                    root_registered_[k] = false;
                } else {
                    CHECK_STATUS(heap_->add_root_range(&root_nodes_[k]), Status::ok);
                    root_registered_[k] = true;
                }
                break;
            case 1:
                CHECK_STATUS(heap_->add_root_range(&root_nodes_[k]), root_registered_[k] ? Status::already_registered : Status::ok);
                root_registered_[k] = true;
                break;
            case 2: root_nodes_[k].n_words = (d >> 4) % (kRootWords + 1); break;
            default:
                heap_->remove_root_range(&root_nodes_[k]);
                heap_->remove_root_range(&root_nodes_[k]);  // the second is a no-op
                root_registered_[k] = false;
                break;
        }
    }

    // One incremental step (heap.hpp: collect_step): it starts a cycle if none runs, and the hooks
    // tell the model when the cycle starts and ends.
    void op_collect_step(bool nested) {
        std::size_t budget = 1 + static_cast<std::size_t>(in_.u8()) * 4;
        Status expect = lock_depth_ > 0 ? Status::locked : nested ? Status::collecting : Status::ok;
        CHECK_STATUS(heap_->collect_step(budget), expect);
    }

    void op_weak_cell() {
        std::uint8_t d = in_.u8();
        std::size_t i = d % kWeakCells;
        if (coll_.active) coll_.weak_uncertain[i] = true;  // changed between incremental steps
        switch ((d >> 3) % 4) {
            case 0: case 1:
                weak_cells_[i] = uheap::hide_pointer(reinterpret_cast<void*>(value()));
                weak_model_[i] = reinterpret_cast<std::uintptr_t>(uheap::reveal_pointer(weak_cells_[i]));
                break;
            case 2:
                if (weak_registered_[i]) {
                    heap_->remove_weak_slot(&weak_nodes_[i]);
                    weak_registered_[i] = false;
                } else {
                    CHECK_STATUS(heap_->add_weak_slot(&weak_nodes_[i]), Status::ok);
                    weak_registered_[i] = true;
                }
                break;
            default:
                CHECK_STATUS(heap_->add_weak_slot(&weak_nodes_[i]), weak_registered_[i] ? Status::already_registered : Status::ok);
                weak_registered_[i] = true;
                break;
        }
    }

    void op_set_weak(bool nested) {
        std::uint8_t d = in_.u8();
        if (d & 1) {
            std::uintptr_t a = bad_pointer();
            Status expected = classify_bad(a);
            if (expected == Status::ok) return;
            if (a == 0) expected = Status::foreign_pointer;  // null is not an object
            Snapshot before = snapshot();
            Status st = heap_->set_weak(reinterpret_cast<void*>(a));
            CHECK_MSG(st == expected || (a == 0 && st != Status::ok) , "set_weak(%p) returned %s, expected %s", reinterpret_cast<void*>(a),
                      uheap::status_name(st), uheap::status_name(expected));
            check_unchanged(before, "a bad set_weak");
            return;
        }
        std::uintptr_t p = pick_obj();
        if (p == 0 || (nested && is_pinned(p))) return;
        CHECK_STATUS(heap_->set_weak(reinterpret_cast<void*>(p)), Status::ok);
        find(p)->weak = true;
    }

    void op_collect(bool nested) {
        Status st = heap_->collect();
        // From the after-sweep callback (nested) the collection may still count as running.
        if (nested && st == Status::collecting) return;
        CHECK_STATUS(st, Status::ok);
    }

    void op_lock(bool nested) {
        std::uint8_t d = in_.u8();
        switch (d % 4) {
            case 0:
                if (nested || lock_depth_ >= 3) break;
                heap_->lock();
                ++lock_depth_;
                break;
            case 1: case 2:
                if (nested && lock_depth_ == 0) break;
                heap_->unlock();  // an extra unlock is ignored
                if (lock_depth_ > 0) --lock_depth_;
                break;
            default: {
                // Scoped: everything refused inside, nothing changed.
                Snapshot before = snapshot();
                heap_->lock();
                CHECK(heap_->is_locked());
                CHECK(heap_->alloc(kBlockBytes, d >> 5) == nullptr);
                CHECK_STATUS(heap_->last_status(), Status::locked);
                if (std::uintptr_t p = pick_obj()) {
                    CHECK_STATUS(heap_->free(reinterpret_cast<void*>(p)), Status::locked);
                    CHECK(heap_->realloc(reinterpret_cast<void*>(p), find(p)->bytes() + kBlockBytes, true) == nullptr);
                    CHECK_STATUS(heap_->last_status(), Status::locked);
                }
                heap_->unlock();
                check_unchanged(before, "operations while locked");
                break;
            }
        }
        CHECK(heap_->is_locked() == (lock_depth_ > 0));
    }

    void op_control() {
        std::uint8_t d = in_.u8();
        switch (d % 6) {
            case 0: {
                static const std::size_t kThresholds[8] = {0, 1, kBlockBytes, 10 * kBlockBytes, 1000, 4096, 333, 0};
                std::size_t t = kThresholds[(d >> 3) % 8];
                heap_->set_threshold(t);
                CHECK(heap_->threshold() == blocks_for(t) * kBlockBytes);
                break;
            }
            case 1:
                heap_->set_auto_collect((d >> 3) & 1);
                CHECK(heap_->auto_collect() == (((d >> 3) & 1) != 0));
                break;
            case 2: heap_->set_collect_callback((d >> 3) & 1 ? &Fuzz::cb_collect : nullptr, this); break;
            case 3: heap_->set_root_callback((d >> 3) & 1 ? &Fuzz::cb_roots : nullptr, this); break;
            case 4:
                if ((d >> 3) & 1) {
                    heap_->set_grow_callback(&Fuzz::cb_grow, &Fuzz::cb_release, this);
                } else {
                    // Only switched off while no grown area is held: released areas go back here.
                    bool any = false;
                    for (GrowBuffer& g : grow_) any |= g.in_use;
                    if (!any) heap_->set_grow_callback(nullptr, nullptr, nullptr);
                }
                break;
            default:
                if ((d >> 3) & 1) {  // part of a lazy sweep, as a host's idle time would
                    std::size_t left = heap_->sweep_step(static_cast<std::size_t>(d >> 4) * 64);
                    CHECK(left == 0 || config_.lazy_sweep);
                    break;
                }
                // set_finaliser / set_weak_callbacks round trip
                CHECK(heap_->finaliser() == &Fuzz::cb_finaliser);
                heap_->set_finaliser(&Fuzz::cb_finaliser, this);
                break;
        }
    }

    void op_add_area() {
        std::uint8_t d = in_.u8();
        switch (d % 6) {
            case 0: case 1: {
                if (regions_.size() > kMaxExtraAreas) return;
                std::size_t bytes = 64 + static_cast<std::size_t>(in_.u8()) * 64;
                regions_.push_back(Region::make(bytes, d >> 4));
                Region& r = regions_.back();
                std::size_t areas = heap_->area_count();
                Status st = heap_->add_area(r.begin, bytes);
                if (st == Status::ok) {
                    CHECK(heap_->area_count() == areas + 1);
                } else {
                    CHECK_STATUS(st, Status::region_too_small);
                    for (std::size_t i = 0; i < bytes; ++i) CHECK_MSG(r.begin[i] == 0x5a, "a refused add_area wrote into the region");
                    regions_.pop_back();
                }
                break;
            }
            case 2: CHECK_STATUS(heap_->add_area(nullptr, 4096), Status::null_region); break;
            case 3: CHECK_STATUS(heap_->add_area(reinterpret_cast<void*>(UINTPTR_MAX - 200), 4096), Status::size_overflow); break;
            case 4: {
                Region r = Region::make(16 + d % 32, 0);
                CHECK_STATUS(heap_->add_area(r.begin, r.bytes), Status::region_too_small);
                for (std::size_t i = 0; i < r.bytes; ++i) CHECK_MSG(r.begin[i] == 0x5a, "a refused add_area wrote into the region");
                break;
            }
            default: {
                // A region overlapping one the heap already uses (its control data or a pool).
                const Region& r = regions_[in_.u8() % regions_.size()];
                std::size_t offset = in_.u16() % (r.bytes / 2);
                std::size_t bytes = 1024 + in_.u16() % 8192;
                Snapshot before = snapshot();
                CHECK_STATUS(heap_->add_area(r.begin + offset, bytes), Status::overlap);
                check_unchanged(before, "an overlapping add_area");
                break;
            }
        }
    }

    std::vector<std::pair<std::uintptr_t, std::size_t>> free_runs() {
        std::vector<std::pair<std::uintptr_t, std::size_t>> runs;
        std::vector<uheap::HeapSpan> spans;
        heap_->walk([](void* u, const uheap::HeapSpan& s) { static_cast<std::vector<uheap::HeapSpan>*>(u)->push_back(s); }, &spans);
        for (const uheap::HeapSpan& s : spans) {
            if (s.object != nullptr) continue;
            uheap::AreaPool pool = heap_->area_pool(s.area);
            CHECK(pool.begin != nullptr && s.first_block + s.n_blocks <= pool.n_blocks);
            runs.emplace_back(reinterpret_cast<std::uintptr_t>(pool.begin) + s.first_block * kBlockBytes, s.n_blocks);
        }
        return runs;
    }

    /// Host writes into free blocks (use after free). "payload" keeps to the middle of a run;
    /// "record" hits anything, including the free-run records, after which verify() may report
    /// I5 until the heap notices and rebuilds its index.
    void op_scribble() {
        std::uint8_t d = in_.u8();
        std::vector<std::pair<std::uintptr_t, std::size_t>> runs = free_runs();
        if (runs.empty()) return;
        auto run = runs[in_.u16() % runs.size()];
        std::uintptr_t begin = run.first;
        std::uintptr_t end = run.first + run.second * kBlockBytes;
        if (!(d & 1)) {
            if (run.second < 3) return;
            begin += kBlockBytes;
            end -= kBlockBytes;
        } else {
            index_dirty_ = true;
        }
        std::size_t span = end - begin;
        std::size_t at = in_.u16() % span;
        std::size_t len = std::min<std::size_t>(1 + in_.u8(), span - at);
        auto* bytes = reinterpret_cast<unsigned char*>(begin + at);
        std::uint8_t fill_byte = in_.u8();
        for (std::size_t i = 0; i < len; ++i) bytes[i] = (d & 2) ? in_.u8() : fill_byte;
    }

    void op_query() {
        std::uint8_t d = in_.u8();
        if (d & 1) {
            std::uintptr_t p = pick_obj();
            if (p == 0) return;
            const Obj& o = *find(p);
            std::uintptr_t inside = p + in_.u16() % o.bytes();
            CHECK(heap_->object_start(reinterpret_cast<void*>(inside)) == reinterpret_cast<void*>(p));
            CHECK(heap_->contains(reinterpret_cast<void*>(inside)));
            if (inside != p) {
                CHECK(heap_->size_of(reinterpret_cast<void*>(inside)) == 0);
                CHECK(heap_->flags_of(reinterpret_cast<void*>(inside)) == 0);
            }
            return;
        }
        std::uintptr_t a = bad_pointer();
        Status expected = classify_bad(a);
        if (expected == Status::ok) return;
        CHECK(heap_->size_of(reinterpret_cast<void*>(a)) == 0);
        CHECK(heap_->flags_of(reinterpret_cast<void*>(a)) == 0);
        void* start = heap_->object_start(reinterpret_cast<void*>(a));
        if (expected == Status::not_object_start && containing(a) != 0) {
            CHECK(start == reinterpret_cast<void*>(containing(a)));
        } else {
            CHECK_MSG(start == nullptr, "object_start(%p) = %p for a pointer into no object", reinterpret_cast<void*>(a), start);
        }
        if (expected == Status::foreign_pointer) CHECK(!heap_->contains(reinterpret_cast<void*>(a)));
    }

    // ================================================================ state

    Input in_;
    uheap::HeapConfig config_;
    Heap* heap_ = nullptr;
    std::vector<Region> regions_;
    std::map<std::uintptr_t, Obj> objs_;
    std::vector<std::uintptr_t> keys_;
    bool keys_dirty_ = true;
    std::uint32_t next_id_ = 1;

    void* roots_[kRootArrays][kRootWords] = {};
    uheap::RootRange root_nodes_[kRootArrays];
    bool root_registered_[kRootArrays] = {};
    void* cb_roots_[kRootWords] = {};
    void* weak_cells_[kWeakCells] = {};
    std::uintptr_t weak_model_[kWeakCells] = {};
    uheap::WeakSlot weak_nodes_[kWeakCells];
    uheap::RootRange always_registered_;  ///< empty: the heap always knows a root source
    bool weak_registered_[kWeakCells] = {};
    GrowBuffer grow_[kGrowBuffers];

    std::vector<std::uintptr_t> pinned_;
    std::uintptr_t freed_ring_[kFreedRing] = {};
    std::size_t freed_next_ = 0;
    Collection coll_;
    std::uint64_t collections_seen_ = 0;
    std::uint64_t collections_seen_base_ = 0;
    unsigned lock_depth_ = 0;
    unsigned depth_ = 0;
    bool three_step_ = false;
    bool pending_sweep_all_ = false;
    bool in_teardown_ = false;
    bool index_dirty_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    g_op_index = 0;
    g_op_name = "setup";
    g_context = "top level";
    auto fuzz = std::make_unique<Fuzz>(data, size);
    g_fuzz = fuzz.get();
    fuzz->run();
    g_fuzz = nullptr;
    return 0;
}

#ifdef UHEAP_FUZZ_REPLAY
// Replays inputs without libFuzzer: every file named on the command line (directories are read
// whole, in name order), or the committed seed corpus when no argument is given.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

int replay_file(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        std::fprintf(stderr, "uheap_fuzz_replay: cannot read %s\n", path.string().c_str());
        return 1;
    }
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay %s (%zu bytes)\n", path.string().c_str(), bytes.size());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    return 0;
}

int replay(const std::filesystem::path& path, std::size_t* count) {
    if (!std::filesystem::is_directory(path)) {
        ++*count;
        return replay_file(path);
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    int failures = 0;
    for (const auto& file : files) {
        ++*count;
        failures += replay_file(file);
    }
    return failures;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::filesystem::path> inputs;
    for (int i = 1; i < argc; ++i) inputs.emplace_back(argv[i]);
    if (inputs.empty()) inputs.emplace_back(UHEAP_FUZZ_CORPUS_DIR);
    std::size_t count = 0;
    int failures = 0;
    for (const auto& input : inputs) failures += replay(input, &count);
    if (count == 0) {
        std::fprintf(stderr, "uheap_fuzz_replay: no inputs\n");
        return 1;
    }
    std::printf("uheap_fuzz_replay: %zu DestructorFn calls, %zu kDestructor objects died with a zero word\n", g_destructor_calls,
                g_destructor_zero);
    std::printf("uheap_fuzz_replay: %zu inputs replayed, every check passed\n", count);
    return failures == 0 ? 0 : 1;
}
#endif
