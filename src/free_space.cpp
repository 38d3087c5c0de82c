// SPDX-License-Identifier: MIT
// The free-space tree: summaries of the block tables, refreshed lazily, searched first fit.
#include "free_space.hpp"

namespace uheap::detail {
namespace {

std::size_t scan_from(FreeSpace& fs, const BlockTables& t, std::size_t from, std::size_t n, std::size_t hint_size,
                      std::size_t end_word);

/// Blocks a node of `level` spans (level 0: one table word). 64-bit: high levels exceed 2^32.
constexpr std::uint64_t span_of(unsigned level) {
    std::uint64_t span = kWordBits;
    for (unsigned l = 0; l < level; ++l) span *= kFanout;
    return span;
}

Summary& node(FreeSpace& fs, unsigned level, std::size_t index) { return fs.nodes[fs.level[level].node_at + index]; }
const Summary& node(const FreeSpace& fs, unsigned level, std::size_t index) { return fs.nodes[fs.level[level].node_at + index]; }

/// A child of a node of `level`: a word's summary (level 1) or a stored node.
Summary child(const FreeSpace& fs, const BlockTables& t, unsigned level, std::size_t c) {
    return level == 1 ? word_summary(t.free_in(c)) : node(fs, level - 1, c);
}

/// A node's summary from its children as they are now.
Summary summarise(const FreeSpace& fs, const BlockTables& t, unsigned level, std::size_t index) {
    std::size_t first = index * kFanout;
    std::size_t last = first + kFanout < fs.level[level - 1].count ? first + kFanout : fs.level[level - 1].count;
    const std::uint64_t child_span = span_of(level - 1);
    Summary s = child(fs, t, level, first);
    std::uint64_t span = child_span;
    for (std::size_t c = first + 1; c < last; ++c) {
        s = merge(s, span, child(fs, t, level, c), child_span);
        span += child_span;
    }
    return s;
}

/// Keeps the nodes over the current run marked dirty: the fast path carves from it unmarked.
void mark_current_run(FreeSpace& fs) {
    if (fs.current_begin != fs.current_end) free_space_changed(fs, fs.current_begin, fs.current_end);
}

bool is_dirty(const FreeSpace& fs, unsigned level, std::size_t index) {
    return (fs.dirty[fs.level[level].dirty_at + index / kWordBits] >> (index % kWordBits)) & 1;
}

void set_dirty(FreeSpace& fs, unsigned level, std::size_t index) {
    fs.dirty[fs.level[level].dirty_at + index / kWordBits] |= Word(1) << (index % kWordBits);
}

/// verify()'s recursion: the node's summary recomputed from the tables, comparing every stored
/// summary that is not stale on the way. Each node is visited once: O(n_words).
Summary fresh(const FreeSpace& fs, const BlockTables& t, unsigned level, std::size_t index, bool* stale, unsigned* bad_level,
              std::size_t* bad_node) {
    std::size_t first = index * kFanout;
    std::size_t last = first + kFanout < fs.level[level - 1].count ? first + kFanout : fs.level[level - 1].count;
    const std::uint64_t child_span = span_of(level - 1);
    bool any_stale = is_dirty(fs, level, index);
    Summary s;
    std::uint64_t span = 0;
    for (std::size_t c = first; c < last; ++c) {
        bool child_stale = false;
        Summary cs = level == 1 ? word_summary(t.free_in(c)) : fresh(fs, t, level - 1, c, &child_stale, bad_level, bad_node);
        any_stale = any_stale || child_stale;
        s = c == first ? cs : merge(s, span, cs, child_span);
        span += child_span;
    }
    const Summary& stored = node(fs, level, index);
    if (!any_stale && *bad_level == 0 &&
        (stored.start != s.start || stored.longest != s.longest || stored.end != s.end)) {
        *bad_level = level;
        *bad_node = index;
    }
    *stale = any_stale;
    return s;
}

}  // namespace

// The levels of an n_words tree: where each level's nodes and dirty bits start, and the totals.
// One walk serves free_space_bytes() (sizing the area) and free_space_init() (laying it out).
struct Levels {
    std::uint32_t count[kMaxLevels + 1] = {};
    std::uint32_t node_at[kMaxLevels + 1] = {};
    std::uint32_t dirty_at[kMaxLevels + 1] = {};
    unsigned levels = 0;
    std::size_t nodes = 0;
    std::size_t dirty_words = 0;
};

static Levels levels_for(std::size_t n_words) {
    Levels l;
    l.count[0] = static_cast<std::uint32_t>(n_words);
    do {
        ++l.levels;
        l.count[l.levels] = (l.count[l.levels - 1] + kFanout - 1) / kFanout;
        l.node_at[l.levels] = static_cast<std::uint32_t>(l.nodes);
        l.dirty_at[l.levels] = static_cast<std::uint32_t>(l.dirty_words);
        l.nodes += l.count[l.levels];
        l.dirty_words += words_for_blocks(l.count[l.levels]);
    } while (l.count[l.levels] > 1);
    return l;
}

// The memory: dirty bitmaps (Words), then the nodes, then the level table (both 32-bit).
std::size_t free_space_bytes(std::size_t n_words) {
    if (!built::kFreeIndex) return 0;
    Levels l = levels_for(n_words);
    std::size_t bytes = l.dirty_words * sizeof(Word) + l.nodes * sizeof(Summary) + (l.levels + 1) * sizeof(Level);
    return (bytes + sizeof(Word) - 1) / sizeof(Word) * sizeof(Word);  // what follows stays Word-aligned
}

void free_space_init(FreeSpace& fs, void* memory, const BlockTables& t) {
    static_assert(alignof(Summary) <= alignof(Word) && alignof(Level) == alignof(Summary), "free-space layout");
    fs = FreeSpace{};
    fs.limit = static_cast<std::uint32_t>(t.n_blocks);
    if (!built::kFreeIndex) return;  // no tree: the searches read the tables
    Levels l = levels_for(t.n_words);
    fs.levels = static_cast<std::uint8_t>(l.levels);
    fs.dirty = static_cast<Word*>(memory);
    fs.nodes = reinterpret_cast<Summary*>(fs.dirty + l.dirty_words);
    Level* level = reinterpret_cast<Level*>(fs.nodes + l.nodes);
    for (unsigned i = 0; i <= l.levels; ++i) level[i] = Level{l.count[i], l.node_at[i], l.dirty_at[i]};
    fs.level = level;
    for (std::size_t w = 0; w < l.dirty_words; ++w) fs.dirty[w] = 0;
    free_space_rebuild(fs, t);
}

void free_space_rebuild(FreeSpace& fs, const BlockTables& t) {
    if (!built::kFreeIndex) return;
    for (unsigned level = 1; level <= fs.levels; ++level) {
        for (std::size_t i = 0; i < fs.level[level].count; ++i) node(fs, level, i) = summarise(fs, t, level, i);
        for (std::size_t w = 0; w < words_for_blocks(fs.level[level].count); ++w) fs.dirty[fs.level[level].dirty_at + w] = 0;
    }
    fs.any_dirty = false;
    mark_current_run(fs);
}

// Level by level, so each stale node is recomputed once, after its stale children.
void free_space_refresh(FreeSpace& fs, const BlockTables& t) {
    if (!built::kFreeIndex || !fs.any_dirty) return;
    for (unsigned level = 1; level <= fs.levels; ++level) {
        Word* bits = fs.dirty + fs.level[level].dirty_at;
        for (std::size_t w = 0; w < words_for_blocks(fs.level[level].count); ++w) {
            while (bits[w] != 0) {
                std::size_t index = w * kWordBits + count_trailing_zeros(bits[w]);
                bits[w] &= bits[w] - 1;
                node(fs, level, index) = summarise(fs, t, level, index);
                if (level < fs.levels) set_dirty(fs, level + 1, index / kFanout);
            }
        }
    }
    fs.any_dirty = false;
    mark_current_run(fs);
}

std::size_t free_space_longest(FreeSpace& fs, const BlockTables& t) {
    if (!built::kFreeIndex) {  // no tree: the tables read word by word, O(n_words)
        LongestRun run;
        for (std::size_t w = 0; w < t.n_words; ++w) run.feed(t.free_in(w));
        return run.finish();
    }
    free_space_refresh(fs, t);
    return node(fs, fs.levels, 0).longest;
}

// Down from the root, in each node the first child where a run of n begins: either the run
// carried from the children before it reaches n with this child's start, or this child holds a
// run of n inside (then the lowest such run lies wholly inside it: were it to begin in this
// child's end run, that end run would itself be a run of n inside the child).
std::size_t free_space_find(FreeSpace& fs, const BlockTables& t, std::size_t n) {
    if (n == 0) return kNoRun;
    if (!built::kFreeIndex) return scan_from(fs, t, 0, n, 0, t.n_words);  // no tree: the tables, from the bottom
    if (free_space_longest(fs, t) < n) return kNoRun;
    std::size_t index = 0;
    std::uint64_t node_begin = 0;  // first block under node `index`: added up, never multiplied
                                   // (a 64-bit product is __aeabi_lmul on a Cortex-M0+)
    for (unsigned level = fs.levels; level >= 1; --level) {
        const std::size_t first = index * kFanout;
        const std::size_t last = first + kFanout < fs.level[level - 1].count ? first + kFanout : fs.level[level - 1].count;
        const std::uint64_t child_span = span_of(level - 1);
        std::uint64_t carry = 0;
        std::uint64_t carry_start = 0;
        bool descended = false;
        std::uint64_t c_begin = node_begin;
        for (std::size_t c = first; c < last; ++c, c_begin += child_span) {
            Summary s = child(fs, t, level, c);
            if (carry + s.start >= n) return static_cast<std::size_t>(carry > 0 ? carry_start : c_begin);
            if (s.longest >= n) {
                if (level == 1) return static_cast<std::size_t>(c_begin) + count_trailing_zeros(runs_at_least(t.free_in(c), n));
                index = c;
                node_begin = c_begin;
                descended = true;
                break;
            }
            if (s.start == child_span) {
                if (carry == 0) carry_start = c_begin;
                carry += child_span;
            } else {
                carry = s.end;
                carry_start = c_begin + child_span - s.end;
            }
        }
        UHEAP_ASSERT(descended);  // I5: the parent's summary said a run of n lies below it
        if (!descended) return kNoRun;
    }
    return kNoRun;
}

namespace {

constexpr std::size_t kScanGaveUp = SIZE_MAX - 1;
/// Words holding free blocks a search reads straight from the tables before it asks the tree.
/// The tree must first refresh every summary the allocations since its last use made stale
/// (~13 000 instructions a time in churn), so reading up to 64 words (~1 000) first is cheaper;
/// 16 words sent churn to the tree twice as often (391 instructions per allocation against 385),
/// 256 saves little more (383) and lengthens the worst allocation.
/// Without the tree a scan never gives up: it reads on to the fit or the end.
constexpr std::size_t kScanWords = built::kFreeIndex ? 64 : SIZE_MAX;

/// The hint for `size` may move up to `to`: no run that begins below `to` reaches that size.
/// (The hints of larger sizes could move too; keeping each to its own searches is one store,
/// where walking them all cost ~30 instructions a search in churn.)
void raise_hint(FreeSpace& fs, std::size_t size, std::size_t to) {
    if (fs.hint[size] < to) fs.hint[size] = static_cast<std::uint32_t>(to);
}

/// A free run now begins at `begin` (and may reach any length): every hint above it comes down.
void lower_hints(FreeSpace& fs, std::size_t begin) {
    for (std::size_t k = 1; k <= kHintSizes; ++k) {
        if (fs.hint[k] > begin) fs.hint[k] = static_cast<std::uint32_t>(begin);
    }
}

/// Where a free run containing block b (free) begins.
std::size_t run_begin_at(const BlockTables& t, std::size_t b) { return b > 0 && t.is_free(b - 1) ? t.free_run_begin(b) : b; }

// First fit read straight from the tables, from `from` on: in a fragmented heap the next hole
// that fits is usually a word or two away, and reading those words is cheaper than refreshing
// and descending the tree. Gives up (kScanGaveUp) after kScanWords words that hold a free block;
// fully used words are skipped at a few instructions each (and when the scan starts at a hint,
// they raise it for good). kNoRun: no run of n at or after `from` ends by word `end_word`.
std::size_t scan_from(FreeSpace& fs, const BlockTables& t, std::size_t from, std::size_t n, std::size_t hint_size,
                      std::size_t end_word) {
    const std::size_t first_word = word_index(from);
    std::size_t w = first_word;
    if (w >= end_word) return kNoRun;
    Word f = t.free_in(w) & bits_from(static_cast<unsigned>(from % kWordBits));
    // Fully used words at the start of the scan: skipped, and the hint moves past them once.
    while (f == 0) {
        if (++w >= end_word) {
            if (hint_size != 0) raise_hint(fs, hint_size, w * kWordBits < t.n_blocks ? w * kWordBits : t.n_blocks);
            return kNoRun;
        }
        f = t.free_in(w);
    }
    if (hint_size != 0 && w > first_word) raise_hint(fs, hint_size, w * kWordBits);
    std::size_t carry = 0;
    std::size_t carry_start = 0;
    for (std::size_t looked = 0;;) {
        if (f != 0 || carry != 0) {
            if (++looked > kScanWords) return kScanGaveUp;
            std::size_t start = f == ~Word(0) ? kWordBits : count_trailing_zeros(~f);
            if (carry + start >= n) return carry > 0 ? carry_start : w * kWordBits;
            if (n <= kWordBits) {
                Word inside = runs_at_least(f, n);
                if (inside != 0) return w * kWordBits + count_trailing_zeros(inside);
            }
            if (f == ~Word(0)) {
                if (carry == 0) carry_start = w * kWordBits;
                carry += kWordBits;
            } else {
                carry = kWordBits - 1 - highest_bit(~f);
                carry_start = (w + 1) * kWordBits - carry;
            }
        }
        if (++w >= end_word) return kNoRun;
        f = t.free_in(w);
    }
}

}  // namespace

// Where the first fit for n can begin: at or above the hint for its size, and at or above the
// current run when n reaches fit_floor (every run below that is shorter).
std::size_t free_space_search(FreeSpace& fs, const BlockTables& t, std::size_t n) {
    const std::size_t limit = fs.limit;  // (a multiple of kWordBits, or n_blocks)
    std::size_t hint_size = n < kHintSizes ? n : kHintSizes;
    std::size_t from = fs.hint[hint_size];
    bool from_hint = true;
    if (n >= fs.fit_floor && fs.current_begin > from) {
        from = fs.current_begin;
        from_hint = false;
    }
    std::size_t start = scan_from(fs, t, from, n, from_hint ? hint_size : 0, words_for_blocks(limit));
    if (built::kFreeIndex && start == kScanGaveUp) start = free_space_find(fs, t, n);
    if (start != kNoRun && start + n > limit) start = kNoRun;  // the lowest fit lies past the limit: none before it
    // First fit: every run that begins below it is shorter; with none, every run that begins
    // where one of n would still end by the limit.
    if (n <= kHintSizes) raise_hint(fs, n, start != kNoRun ? start : limit >= n ? limit - n + 1 : 0);
    return start;
}

// The current run is bounded: carving needs only its first blocks, and measuring a long run in
// the tables would cost O(run / 64) at every search.
std::size_t free_space_take_at(FreeSpace& fs, const BlockTables& t, std::size_t start, std::size_t n) {
    constexpr std::size_t kCurrentRunBlocks = 64 * kWordBits;
    std::size_t reach = start + n + kCurrentRunBlocks;
    std::size_t run = t.free_run_length(start, reach < fs.limit ? reach : fs.limit);
    UHEAP_ASSERT(run >= n);  // I5: the tree is derived from the tables; the caller swept the fit
    fs.current_begin = static_cast<std::uint32_t>(start + n);
    fs.current_end = static_cast<std::uint32_t>(start + run);
    fs.fit_floor = n;  // first fit for n: every run below `start` is shorter than n
    free_space_changed(fs, start, start + run);  // the blocks taken and the new current run
    return start;
}

std::size_t free_space_take(FreeSpace& fs, const BlockTables& t, std::size_t n) {
    std::size_t start = 0;
    if (free_space_take_current(fs, n, &start)) return start;  // (the current run ends by the limit)
    start = free_space_search(fs, t, n);
    return start == kNoRun ? kNoRun : free_space_take_at(fs, t, start, n);
}

std::size_t free_space_released(FreeSpace& fs, const BlockTables& t, std::size_t begin, std::size_t end) {
    free_space_changed(fs, begin, end);
    std::size_t run_begin = run_begin_at(t, begin);
    lower_hints(fs, run_begin);
    const bool empty = fs.current_begin == fs.current_end;
    if (!empty && end == fs.current_begin) {
        // Freed just below the current run (the common LIFO case): it joins it, and so does any
        // free run just below it, so no free block touches the current run from below.
        fs.current_begin = static_cast<std::uint32_t>(run_begin);
        free_space_changed(fs, run_begin, begin);  // now part of the current run
    } else if (begin < fs.current_begin) {
        fs.fit_floor = kNoRun;
    } else if (!empty && begin == fs.current_end) {
        fs.current_end = static_cast<std::uint32_t>(end < fs.limit ? end : fs.limit);  // (I8: not past a pending sweep)
    }
    return run_begin;
}

void free_space_taken(FreeSpace& fs, std::size_t begin, std::size_t end) {
    free_space_changed(fs, begin, end);
    if (end <= fs.current_begin || begin >= fs.current_end) return;
    if (begin <= fs.current_begin) {
        fs.current_begin = static_cast<std::uint32_t>(end < fs.current_end ? end : fs.current_end);
    } else {
        fs.current_end = static_cast<std::uint32_t>(begin);
    }
}

// Blocks freed at or above the current run's start cannot join a run wholly below it, so the
// current run stays first fit; only a lower one stops the fast path.
void free_space_swept(FreeSpace& fs, const BlockTables& t, std::size_t lowest_freed) {
    if (lowest_freed < fs.current_begin) fs.fit_floor = kNoRun;
    lower_hints(fs, run_begin_at(t, lowest_freed));
}

void free_space_sweep_reached(FreeSpace& fs, std::size_t limit) {
    fs.limit = static_cast<std::uint32_t>(limit);
    if (fs.current_end <= limit) return;
    fs.current_end = static_cast<std::uint32_t>(limit > fs.current_begin ? limit : fs.current_begin);
    if (fs.current_end == fs.current_begin) fs.fit_floor = kNoRun;  // no current run: the next search starts from the hints
}

bool free_space_matches(const FreeSpace& fs, const BlockTables& t, unsigned* level, std::size_t* node_index) {
    *level = 0;
    *node_index = 0;
    if (!built::kFreeIndex) return true;  // no tree to disagree with the tables
    unsigned bad_level = 0;
    std::size_t bad_node = 0;
    bool stale = false;
    fresh(fs, t, fs.levels, 0, &stale, &bad_level, &bad_node);
    *level = bad_level;
    *node_index = bad_node;
    return bad_level == 0;
}

}  // namespace uheap::detail
