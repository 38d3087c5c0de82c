// SPDX-License-Identifier: MIT
// The collector: the phase machine (phase.hpp), roots and pins, weak slots, finalisers, the
// census of the dead, and the public collection calls. Marking is mark.cpp's, the sweep sweep.cpp's.
//
// A collection, phase by phase (docs/design.md §5):
//   roots       begin_collection(): per-collection state reset; the host reports roots
//               (collect_root, collect_stack, the root callback in root_callback)
//   marking     registered root ranges and realloc()'s pins, then the mark stack and the
//               grey groups until nothing reachable is unmarked
//   finalising  weak slots whose target is unmarked read null; then for each dead head, area by
//               area in the order the areas were added and in address order within each: the
//               finaliser, then the weak-freed callback
//   sweeping    registrations that lived in dead objects are unlinked; the dead are counted,
//               reported (on_free) and booked free; then the sweep (sweep.cpp) frees them in the
//               tables and clears the marks, at once (HeapConfig::lazy_sweep off) or lazily, by
//               allocation and sweep_step(), before the next collection; empty grown areas go back
//   notifying   counters, on_collect_end, the after-sweep weak callback (may allocate)
#include <cstring>

#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

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
    marking_ = phase == Phase::incremental;  // the barrier records stores only between steps
    refresh_fast_path();
}

// The last collection's lazy sweep, if unfinished, is finished first: marking needs every mark
// clear. Its time counts in this collection's pause.
void HeapImpl::begin_collection(bool ignore_roots) {
    stop_world();  // (threads: every other attached thread parked or stopped until finish_collection)
    gc.started_ns = now_ns();
    finish_sweep();
    if (shared()) release_thread_caches();  // (after the sweep: blocks_freed needs none pending)
    enter(Phase::roots);
    gc.ignore_roots = ignore_roots;
    gc.depth = 0;
    gc.overflows = 0;
    settle_allocated();
    if (cb.hooks().on_collect_start != nullptr) cb.hooks().on_collect_start(cb.hooks().user);
}

// Registered ranges are read when marking begins, so a range registered at any point of the
// roots phase counts. Pins are roots even for sweep_all(): a realloc() in progress owns them.
void HeapImpl::mark_pinned_and_registered() {
    for (PinNode* p = gc.pins; p != nullptr; p = p->below) {
        void* const object = const_cast<void*>(p->object);
        mark_root_words(&object, 1);
    }
    if (shared()) mark_kept_thread_caches();  // (as pins: a take in progress owns them)
    if (gc.ignore_roots) return;
    for (RootRange* r = gc.roots; r != nullptr; r = r->next) mark_root_words(r->words, r->n_words);
}

// A slot is cleared only when it names an object (its first byte, or any byte of it with
// interior pointers) that the mark did not reach. Anything else it may hold (null, a tagged
// integer that happens to fall inside a pool, a pointer outside the heap) is left alone.
void HeapImpl::clear_dead_weak_slots() {
    for (WeakSlot* s = gc.weak_slots; s != nullptr; s = s->next) {
        ObjectRef obj = areas.object_at(reveal_pointer(*s->slot), interior());
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
                if (built::kFinalisers && t.has_finaliser(block)) {
                    t.clear_finaliser(block);
                    ++stats.finalisers_run;
                    if (t.has_destructor(block)) {
                        run_destructor(*a, block);
                    } else if (cb.finaliser().fn != nullptr) {
                        cb.finaliser().fn(cb.finaliser().user, object);
                    }
                }
                if (built::kWeakReferences && t.is_head(block) && t.is_weak(block)) {
                    t.clear_weak(block);
                    ++stats.weak_notified;
                    if (cb.weak().freed != nullptr) cb.weak().freed(cb.weak().user, object);
                }
            }
        }
    }
}

// A kDestructor object's own finaliser: the DestructorFn in its last word, read and zeroed
// before the call (zero: the host had not written one yet).
void HeapImpl::run_destructor(Area& area, std::size_t head) {
    void* object = area.ptr_of(head);
    auto* last = reinterpret_cast<DestructorFn*>(area.ptr_of(area.tables.object_end(head))) - 1;
    DestructorFn destroy = *last;
    *last = nullptr;
    if (destroy != nullptr) destroy(object);
}

// The census of the dead, once the finalisers ran (they may free objects): each area's dead
// objects are counted and their blocks booked free now, so counters() and info_fast() are exact
// at once, and an observer hears of each (on_free, reason swept) at the collection that found it
// dead. The blocks themselves are freed by the sweep (sweep.cpp), at once or lazily. Every area
// that holds anything has its sweep pending after this: live objects' marks need clearing too.
void HeapImpl::count_dead() {
    std::size_t dead_objects = 0;
    std::size_t dead_blocks = 0;
    for (Area* a = areas.first; a != nullptr; a = a->next) {
        a->resized_end = 0;  // the sweep may free it
        const BlockTables& t = a->tables;
        std::size_t n_words = words_for_blocks(a->high_water);
        std::size_t area_dead_blocks = 0;
        bool carry = false;
        for (std::size_t w = 0; w < n_words; ++w) {
            Word dead = t.head[w] & ~t.mark[w];
            if (dead == 0 && !carry) continue;
            if (cb.hooks().on_free != nullptr || poisoning()) report_dead(*a, w, dead);
            DeadBlocks d = dead_blocks_in(dead, t.tails_in(w), carry);
            carry = d.runs_on;
            dead_objects += count_ones(dead);
            area_dead_blocks += count_ones(d.blocks);
        }
        book_released(*a, area_dead_blocks);
        dead_blocks += area_dead_blocks;
        if (n_words != 0) {
            a->sweep_from = 0;
            free_space_sweep_reached(a->space, 0);  // I8: nothing is carved where the sweep has yet to pass
        }
    }
    gc.freed_bytes = dead_blocks * kBlockBytes;
    stats.objects_collected += dead_objects;
    stats.last_collect_freed = dead_objects;
}

// Whether a collection could find anything live: without a stack base, a root range, a root
// callback or a pin, every object would die, which is never what a host that forgot to say where
// its roots are wants (sweep_all() says so on purpose). Three-step hosts report their own.
bool HeapImpl::has_root_source() const {
    return cb.root != nullptr || has_stacks() || gc.roots != nullptr || gc.pins != nullptr;
}

// Only when an observer listens or freed blocks are poisoned: each dead object of word `w`, with
// its size, is reported (on_free, reason swept) and then poisoned.
void HeapImpl::report_dead(Area& area, std::size_t w, Word dead) {
    while (dead != 0) {
        std::size_t head = w * kWordBits + count_trailing_zeros(dead);
        dead &= dead - 1;
        std::size_t n_bytes = (area.tables.object_end(head) - head) * kBlockBytes;
        if (cb.hooks().on_free != nullptr) cb.hooks().on_free(cb.hooks().user, area.ptr_of(head), n_bytes, FreeReason::swept);
        if (poisoning()) poison_blocks(area.ptr_of(head), n_bytes);
    }
}

// Registrations must never lead the heap into memory it handed back: nodes that lived in freed
// blocks are unlinked (explicit free, shrink: the range; sweep: every node in a dead object), and
// nodes in a moved object follow it. Weak slots naming the freed range read null as well. O(registered nodes), and nothing when none are registered.
void HeapImpl::unlink_registrations_in(std::uintptr_t begin, std::uintptr_t end) {
    auto inside = [&](const void* node) { return reinterpret_cast<std::uintptr_t>(node) - begin < end - begin; };
    unlink_nodes_if(gc.roots, inside);
    if constexpr (built::kWeakReferences) {
        unlink_nodes_if(gc.weak_slots, inside);
        redirect_weak_slots(begin, end, 0);  // and the slots that name the range read null
    }
}

// Before the sweep: once it frees the dead objects, a node inside one is a pointer into free
// memory the host may reuse.
void HeapImpl::unlink_registrations_in_dead_objects() {
    auto in_dead_object = [&](const void* node) {
        ObjectRef obj = areas.object_at<true>(reinterpret_cast<std::uintptr_t>(node));
        return obj && !obj.area->tables.is_marked(obj.block);
    };
    unlink_nodes_if(gc.roots, in_dead_object);
    if constexpr (built::kWeakReferences) unlink_nodes_if(gc.weak_slots, in_dead_object);
}

// Weak slots must never name memory the heap handed back: those naming a byte of [begin, end)
// follow it to `new_begin` (a realloc() move: the address is all a weak reference knows of its
// object), or, with new_begin 0 (a free or a shrink), read null at once, as after a collection,
// rather than naming whatever is allocated there next. O(weak slots), nothing when none are.
void HeapImpl::redirect_weak_slots(std::uintptr_t begin, std::uintptr_t end, std::uintptr_t new_begin) {
    for (WeakSlot* s = gc.weak_slots; s != nullptr; s = s->next) {
        auto named = reinterpret_cast<std::uintptr_t>(reveal_pointer(*s->slot));
        if (named - begin >= end - begin) continue;
        *s->slot = new_begin == 0 ? nullptr : hide_pointer(reinterpret_cast<void*>(new_begin + (named - begin)));
    }
}

void HeapImpl::relocate_registrations(std::uintptr_t old_begin, std::uintptr_t old_end, std::uintptr_t new_begin) {
    relocate_nodes(gc.roots, old_begin, old_end, new_begin);
    if constexpr (built::kWeakReferences) {
        relocate_nodes(gc.weak_slots, old_begin, old_end, new_begin);
        redirect_weak_slots(old_begin, old_end, new_begin);  // and the slots that name the object follow it
    }
}

void HeapImpl::release_empty_areas() {
    Area** link = &areas.first->next;  // the first area, beside the heap itself: never released
    while (*link != nullptr) {
        Area* area = *link;
        if (!area->grown || area->used_blocks != 0 || cb.growth().release == nullptr) {
            link = &area->next;
            continue;
        }
        areas.remove(link);
        ++stats.areas_released;
        void* region = area->region;
        std::size_t region_bytes = area->region_bytes;
        unpoison_region(region, region_bytes);  // the host's memory again, all of it
        cb.growth().release(cb.growth().user, region, region_bytes);  // `area` lived in that region: not used after
    }
}

// One stop the host waited for (a whole collection, or one incremental step): counted, and
// reported to on_pause.
void HeapImpl::record_pause(PauseKind kind, std::uint64_t ns) {
    stats.last_pause_ns = ns;
    stats.total_pause_ns += ns;
    if (ns > stats.max_pause_ns) stats.max_pause_ns = ns;
    if (cb.hooks().on_pause != nullptr) cb.hooks().on_pause(cb.hooks().user, kind, ns);
}

void HeapImpl::notify_collection_end() {
    std::uint64_t pause = now_ns() - gc.started_ns;  // since this collection, or this step, began
    Counters& c = stats;
    c.collections += 1;
    c.mark_stack_overflows += gc.overflows;
    if constexpr (built::kIncremental) pace();
    record_pause(gc.cycle == Collector::Cycle::none     ? PauseKind::collection
                 : gc.cycle == Collector::Cycle::forced ? PauseKind::forced_final
                                                        : PauseKind::final_step,
                 pause);
    if (cb.hooks().on_collect_end != nullptr) {
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
        cb.hooks().on_collect_end(cb.hooks().user, s);
    }
    status = Status::ok;
    // Allocation is allowed again here (MicroPython's order); starting a collection is not.
    if (cb.weak().after_sweep != nullptr) cb.weak().after_sweep(cb.weak().user);
}

// The rest of a collection once the roots are reported: one phase after another.
void HeapImpl::finish_collection() {
    enter(Phase::marking);
    mark_pinned_and_registered();
    scan_grey();
    enter(Phase::finalising);
    if constexpr (built::kWeakReferences) clear_dead_weak_slots();
    if constexpr (built::kFinalisers || built::kWeakReferences) finalise_dead();
    enter(Phase::sweeping);
    unlink_registrations_in_dead_objects();
    count_dead();
    if (!lazy()) finish_sweep();
    if constexpr (built::kGrowth) release_empty_areas();
    enter(Phase::notifying);
    notify_collection_end();
    gc.cycle = Collector::Cycle::none;
    enter(Phase::idle);
    resume_world();
}

}  // namespace uheap::detail

namespace uheap {

using detail::HeapImpl;
using detail::Op;
using detail::Phase;

Status Heap::collect_start() {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!self.admitted(Op::start)) return self.status;
    if (self.cycling()) return self.status = Status::collecting;  // a cycle is running
    self.begin_collection(false);
    return self.status = Status::ok;
}

void Heap::collect_root(void* const* words, std::size_t n_words) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!self.admitted(Op::report_roots) || self.gc.ignore_roots) return;
    self.mark_root_words(words, n_words);
    self.status = Status::ok;  // (a refusal above left its own status)
}

Status Heap::collect_end() {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!self.admitted(Op::end)) return self.status;
    self.finish_collection();
    return Status::ok;
}

Status Heap::collect() {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!self.admitted(Op::start)) return self.status;
    if (self.cycling()) {  // the running cycle, finished now, is the collection
        self.gc.started_ns = self.now_ns();
        self.finish_cycle();
        return self.status = Status::ok;
    }
    if (!self.has_root_source()) return self.status = Status::no_roots;
    self.begin_collection(false);
    if (self.cb.root != nullptr) {
        self.enter(Phase::root_callback);
        self.cb.root(self.cb.root_user);
        self.enter(Phase::roots);
    }
    if (built::kStackScan && self.has_stacks()) collect_stack();
    self.finish_collection();
    return Status::ok;
}

Status Heap::sweep_all() {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!self.admitted(Op::start)) return self.status;
    if (self.cycling()) {  // ends the running cycle first: its finalisers run there
        self.gc.started_ns = self.now_ns();
        self.finish_cycle();
    }
    self.begin_collection(true);
    self.finish_collection();
    return Status::ok;
}

}  // namespace uheap
