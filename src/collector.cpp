// SPDX-License-Identifier: MIT
// The collector: the phase machine (phase.hpp), roots and pins, weak slots, finalisers, the
// sweep, and the public collection calls. Marking itself is mark.cpp's.
//
// A collection, phase by phase (docs/design.md §5):
//   roots       begin_collection(): per-collection state reset; the host reports roots
//               (collect_root, collect_stack, the root callback in root_callback)
//   marking     registered root ranges and realloc()'s pins, then the mark stack and the
//               grey groups until nothing reachable is unmarked
//   finalising  weak slots whose target is unmarked read null; then for each dead head, area by
//               area in the order the areas were added and in address order within each: the
//               finaliser, then the weak-freed callback
//   sweeping    word-at-a-time to the high-water mark: free dead objects, clear marks, mark their
//               free-space summaries stale, recompute the high-water mark (registrations that
//               lived in dead objects are unlinked first); hand back empty grown areas
//   notifying   counters, on_collect_end, the after-sweep weak callback (may allocate)
#include <cstring>

#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

/// One past the last used block of an area (0 if it is empty), searching down from `from`.
std::size_t last_used_block_end(const BlockTables& t, std::size_t from) {
    for (std::size_t w = words_for_blocks(from); w-- > 0;) {
        Word used = t.head[w] | t.tail[w];
        if (used != 0) return w * kWordBits + highest_bit(used) + 1;
    }
    return 0;
}

/// Unlinks every node of the list for which `doomed(node)` holds.
template <class Node, class Pred>
void unlink_nodes_if(Node*& first, Pred doomed) {
    for (Node* n = first; n != nullptr;) {
        Node* next = n->next;
        if (doomed(static_cast<const void*>(n))) unlink(first, n);
        n = next;
    }
}

// Rewrites the list so nodes that were in [old_begin, old_end) are found at their copies from
// new_begin on. The copies were made by memcpy, so their links still name old addresses: each
// link is translated as it is followed, and prev links are rebuilt on the way.
template <class Node>
void relocate_nodes(Node*& first, std::uintptr_t old_begin, std::uintptr_t old_end, std::uintptr_t new_begin) {
    auto moved = [&](Node* n) {
        auto address = reinterpret_cast<std::uintptr_t>(n);
        return address - old_begin < old_end - old_begin ? reinterpret_cast<Node*>(address - old_begin + new_begin) : n;
    };
    Node* prev = nullptr;
    for (Node** link = &first; *link != nullptr; link = &(*link)->next) {
        Node* n = moved(*link);
        *link = n;
        n->prev = prev;
        prev = n;
    }
}

}  // namespace

bool HeapImpl::is_pinned(const void* object) const {
    for (const PinNode* p = gc.pins; p != nullptr; p = p->below) {
        if (p->object == object) return true;
    }
    return false;
}

void HeapImpl::enter(Phase phase) {
    gc.phase = phase;
    refresh_fast_path();
}

void HeapImpl::begin_collection(bool ignore_roots) {
    enter(Phase::roots);
    gc.ignore_roots = ignore_roots;
    gc.started_ns = now_ns();
    gc.depth = 0;
    gc.overflows = 0;
    settle_allocated();
    if (cb.hooks.on_collect_start != nullptr) cb.hooks.on_collect_start(cb.hooks.user);
}

// Registered ranges are read when marking begins, so a range registered at any point of the
// roots phase counts. Pins are roots even for sweep_all(): a realloc() in progress owns them.
void HeapImpl::mark_pinned_and_registered() {
    for (PinNode* p = gc.pins; p != nullptr; p = p->below) {
        void* const object = const_cast<void*>(p->object);
        mark_root_words(&object, 1);
    }
    if (gc.ignore_roots) return;
    for (RootRange* r = gc.roots; r != nullptr; r = r->next) mark_root_words(r->words, r->n_words);
}

// A slot is cleared only when it names an object (its first byte, or any byte of it with
// interior pointers) that the mark did not reach. Anything else it may hold (null, a tagged
// integer that happens to fall inside a pool, a pointer outside the heap) is left alone.
void HeapImpl::clear_dead_weak_slots() {
    for (WeakSlot* s = gc.weak_slots; s != nullptr; s = s->next) {
        ObjectRef obj = areas.object_at(*s->slot, config.interior_pointers);
        if (obj && !obj.area->tables.is_marked(obj.block)) *s->slot = nullptr;
    }
}

// Each flag is cleared before its callback runs, and the word is re-read after every callback,
// because a finaliser may free objects (its own included) anywhere in the heap.
void HeapImpl::finalise_dead() {
    for (Area* a = areas.first; a != nullptr; a = a->next) {
        BlockTables& t = a->tables;
        std::size_t n_words = words_for_blocks(a->high_water);
        for (std::size_t w = 0; w < n_words; ++w) {
            for (;;) {
                Word dead = t.head[w] & ~t.mark[w];
                Word pending = dead & (t.tail[w] | t.flag[w]);  // on a head: finaliser | weak
                if (pending == 0) break;
                std::size_t block = w * kWordBits + count_trailing_zeros(pending);
                void* object = a->ptr_of(block);
                if (t.has_finaliser(block)) {
                    t.clear_finaliser(block);
                    ++stats.finalisers_run;
                    if (cb.finaliser != nullptr) cb.finaliser(cb.finaliser_user, object);
                }
                if (t.is_head(block) && t.is_weak(block)) {
                    t.clear_weak(block);
                    ++stats.weak_notified;
                    if (cb.weak_freed != nullptr) cb.weak_freed(cb.weak_user, object);
                }
            }
        }
    }
}

// Finds every block of every dead object in one word of the tables at once. Seeds sit just after
// each dead head (D << 1), plus bit 0 when a dead object runs on from the previous word. Adding
// the seeds to the tail-only bits Q carries through exactly the tail run that starts at a seed,
// flipping it to zero; (Q + seeds) ^ Q, masked by Q, is those tails. A run of Q has one head
// before it, so it meets at most one seed, and a carry leaving a run lands on a head or free
// block, which is not in Q, so it stops there. A carry out of the top bit continues the last
// dead object into the next word.
struct DeadBlocks {
    Word blocks;     ///< dead heads and their tails
    bool runs_on;    ///< the last dead object continues into the next word
};

static DeadBlocks dead_blocks_in(Word dead_heads, Word tails, bool continued) {
    Word seeds = (dead_heads << 1) | (continued ? 1 : 0);
    Word sum = 0;
    bool carry = __builtin_add_overflow(tails, seeds, &sum);
    bool head_at_top = (dead_heads >> (kWordBits - 1)) != 0;
    return DeadBlocks{dead_heads | ((sum ^ tails) & tails), carry || head_at_top};
}

void HeapImpl::sweep() {
    std::size_t freed_objects = 0;
    std::size_t freed_blocks = 0;
    for (Area* a = areas.first; a != nullptr; a = a->next) {
        a->resized_end = 0;  // the sweep may free it
        BlockTables& t = a->tables;
        std::size_t n_words = words_for_blocks(a->high_water);
        std::size_t area_freed_blocks = 0;
        std::size_t lowest_freed = kNoRun;
        bool carry = false;
        for (std::size_t w = 0; w < n_words; ++w) {
            Word dead = t.head[w] & ~t.mark[w];
            t.mark[w] = 0;
            if (dead == 0 && !carry) continue;
            if (cb.hooks.on_free != nullptr) report_swept(*a, w, dead);
            DeadBlocks freed = dead_blocks_in(dead, t.tails_in(w), carry);
            carry = freed.runs_on;
            t.head[w] &= ~dead;
            t.tail[w] &= ~freed.blocks;
            t.flag[w] &= ~freed.blocks;
            freed_objects += count_ones(dead);
            area_freed_blocks += count_ones(freed.blocks);
            free_space_changed(a->space, w * kWordBits, (w + 1) * kWordBits);  // one bit, no pool write
            if (lowest_freed == kNoRun) lowest_freed = w * kWordBits + count_trailing_zeros(freed.blocks | (Word(1) << (kWordBits - 1)));
        }
        book_released(*a, area_freed_blocks);
        freed_blocks += area_freed_blocks;
        a->high_water = last_used_block_end(t, a->high_water);
        if (area_freed_blocks != 0) free_space_swept(a->space, t, lowest_freed);
    }
    gc.freed_bytes = freed_blocks * kBlockBytes;
    stats.objects_collected += freed_objects;
    stats.last_collect_freed = freed_objects;
}

// Only when an observer listens: each dead object of word `w`, with its size, before it goes.
void HeapImpl::report_swept(Area& area, std::size_t w, Word dead) {
    while (dead != 0) {
        std::size_t head = w * kWordBits + count_trailing_zeros(dead);
        dead &= dead - 1;
        std::size_t n_bytes = (area.tables.object_end(head) - head) * kBlockBytes;
        cb.hooks.on_free(cb.hooks.user, area.ptr_of(head), n_bytes, FreeReason::swept);
    }
}

// Registrations must never lead the heap into memory it handed back: nodes that lived in freed
// blocks are unlinked (explicit free, shrink: the range; sweep: every node in a dead object), and
// nodes in a moved object follow it. O(registered nodes), and nothing when none are registered.
void HeapImpl::unlink_registrations_in(std::uintptr_t begin, std::uintptr_t end) {
    auto inside = [&](const void* node) { return reinterpret_cast<std::uintptr_t>(node) - begin < end - begin; };
    unlink_nodes_if(gc.roots, inside);
    unlink_nodes_if(gc.weak_slots, inside);
}

// Before the sweep: once it frees the dead objects, a node inside one is a pointer into free
// memory the host may reuse.
void HeapImpl::unlink_registrations_in_dead_objects() {
    auto in_dead_object = [&](const void* node) {
        ObjectRef obj = areas.object_at<true>(reinterpret_cast<std::uintptr_t>(node));
        return obj && !obj.area->tables.is_marked(obj.block);
    };
    unlink_nodes_if(gc.roots, in_dead_object);
    unlink_nodes_if(gc.weak_slots, in_dead_object);
}

void HeapImpl::relocate_registrations(std::uintptr_t old_begin, std::uintptr_t old_end, std::uintptr_t new_begin) {
    relocate_nodes(gc.roots, old_begin, old_end, new_begin);
    relocate_nodes(gc.weak_slots, old_begin, old_end, new_begin);
}

void HeapImpl::release_empty_areas() {
    Area** link = &areas.first->next;  // the first area, beside the heap itself: never released
    while (*link != nullptr) {
        Area* area = *link;
        if (!area->grown || area->used_blocks != 0 || cb.release == nullptr) {
            link = &area->next;
            continue;
        }
        areas.remove(link);
        ++stats.areas_released;
        void* region = area->region;
        std::size_t region_bytes = area->region_bytes;
        cb.release(cb.grow_user, region, region_bytes);  // `area` lived in that region: not used after
    }
}

void HeapImpl::notify_collection_end() {
    std::uint64_t pause = now_ns() - gc.started_ns;
    Counters& c = stats;
    c.collections += 1;
    c.last_pause_ns = pause;
    c.total_pause_ns += pause;
    if (pause > c.max_pause_ns) c.max_pause_ns = pause;
    c.mark_stack_overflows += gc.overflows;
    if (cb.hooks.on_collect_end != nullptr) {
        Info now = info();
        CollectionStats s;
        s.index = c.collections;
        s.objects_freed = c.last_collect_freed;
        s.bytes_freed = gc.freed_bytes;
        s.objects_live = now.objects;
        s.used_bytes = now.used;
        s.free_bytes = now.free;
        s.largest_free_bytes = now.max_free * kBlockBytes;
        s.free_runs = now.free_runs;
        s.mark_stack_overflows = gc.overflows;
        s.pause_ns = pause;
        cb.hooks.on_collect_end(cb.hooks.user, s);
    }
    status = Status::ok;
    // Allocation is allowed again here (MicroPython's order); starting a collection is not.
    if (cb.weak_sweep != nullptr) cb.weak_sweep(cb.weak_user);
}

// The rest of a collection once the roots are reported: one phase after another.
void HeapImpl::finish_collection() {
    enter(Phase::marking);
    mark_pinned_and_registered();
    scan_grey();
    enter(Phase::finalising);
    clear_dead_weak_slots();
    finalise_dead();
    enter(Phase::sweeping);
    unlink_registrations_in_dead_objects();
    sweep();
    release_empty_areas();
    enter(Phase::notifying);
    notify_collection_end();
    enter(Phase::idle);
}

}  // namespace uheap::detail

namespace uheap {

using detail::HeapImpl;
using detail::Op;
using detail::Phase;

Status Heap::collect_start() {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.admitted(Op::start)) return self.status;
    self.begin_collection(false);
    return self.status = Status::ok;
}

void Heap::collect_root(void* const* words, std::size_t n_words) {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.admitted(Op::report_roots) || self.gc.ignore_roots) return;
    self.mark_root_words(words, n_words);
}

Status Heap::collect_end() {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.admitted(Op::end)) return self.status;
    self.finish_collection();
    return Status::ok;
}

Status Heap::collect() {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.admitted(Op::start)) return self.status;
    self.begin_collection(false);
    if (self.cb.root != nullptr) {
        self.enter(Phase::root_callback);
        self.cb.root(self.cb.root_user);
        self.enter(Phase::roots);
    }
    if (self.gc.stack_base != nullptr) collect_stack();
    self.finish_collection();
    return Status::ok;
}

Status Heap::sweep_all() {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.admitted(Op::start)) return self.status;
    self.begin_collection(true);
    self.finish_collection();
    return Status::ok;
}

}  // namespace uheap
