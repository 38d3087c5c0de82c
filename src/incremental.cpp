// SPDX-License-Identifier: MIT
// Incremental marking (HeapConfig::incremental): a collection as collect_step() calls with the
// host running between them, the write barrier's slow halves, pacing and idle time. The phases a
// cycle passes through are the collector's (collector.cpp: finish_collection, notifying); the
// budgeted marking is mark.cpp's (mark_step). docs/design.md §4c.
//
//   collect_step ──► start_cycle: the roots shaded (marked and pushed, not traced)
//                ──► incremental_step: mark_step(budget) ──► phase incremental: the host runs,
//                    allocation born marked (allocate_blocks), write_barrier() records stores
//                ──► ... the step that finds nothing left: finish_cycle: roots again,
//                    finish_collection (grey groups, finalisers, census, notifying)
#include "heap_impl.hpp"

namespace uheap::detail {

// An incremental cycle's first step begins here: everything collect() does before marking, with
// the roots shaded (marked and pushed) instead of traced, so the step's budget bounds the tracing.
void HeapImpl::start_cycle() {
    begin_collection(false);
    gc.cycle = Collector::Cycle::stepped;
    gc.shade_only = true;
    if (cb.root != nullptr) {
        enter(Phase::root_callback);
        cb.root(cb.root_user);
        enter(Phase::roots);
    }
    if (built::kStackScan && has_stacks()) collect_stack();
    enter(Phase::marking);
    mark_pinned_and_registered();
    gc.shade_only = false;
}

// One step of a running cycle: marking up to the budget, then back to the host, or, when nothing
// is left to mark, the final phase in the same step.
void HeapImpl::incremental_step(std::size_t budget_words) {
    enter(Phase::marking);
    if (mark_step(budget_words == 0 ? 1 : budget_words)) {
        finish_cycle();
        return;
    }
    const std::size_t blocks_per_step = kPacedStepWords / policy.cycle_step_words != 0 ? kPacedStepWords / policy.cycle_step_words : 1;
    policy.step_at_blocks = policy.blocks_since_collect + blocks_per_step;  // the next paced step
    enter(Phase::incremental);
    record_pause(PauseKind::step, now_ns() - gc.started_ns);
}

// The final phase: the host ran since the roots were shaded, so they are reported again (the
// barrier covers stores into heap objects only), then marking ends with what the barrier
// recorded (grey groups) and goes on as collect()'s does.
void HeapImpl::finish_cycle() {
    enter(Phase::roots);
    if (cb.root != nullptr) {
        enter(Phase::root_callback);
        cb.root(cb.root_user);
        enter(Phase::roots);
    }
    if (built::kStackScan && has_stacks()) collect_stack();
    finish_collection();
}

// Pacing (set_pacing()): the next collection is due once use has grown to pause_percent % of
// what this one left; for a cycle, pace_cycle() may start it sooner and mark faster.
void HeapImpl::pace() {
    if (policy.pause_percent <= 100) return;
    const std::size_t used = used_blocks_now();
    std::size_t grow = used / 100 * (policy.pause_percent - 100u) + used % 100 * (policy.pause_percent - 100u) / 100;
    policy.cycle_step_words = policy.step_words_per_block != 0 ? policy.step_words_per_block : 1;
    if (incremental()) pace_cycle(used, &grow);
    policy.threshold_blocks = grow > kMinPacedBlocks ? grow : kMinPacedBlocks;
}

// A cycle must finish while the heap has room: the allocation that finds it full finishes the
// cycle in one stop (run_automatic_collection), the pause pacing is there to avoid. The marking
// to do is about the words of what survived (`used` blocks), plus a quarter and one step for what
// the estimate misses (the roots, objects that survive this time); allocation pays for it at
// step_words_per_block words per block. So the threshold is capped where the free space left
// can still pay for it at that rate ("as late as the heap allows" for a large pause_percent);
// and when even a cycle started at once could not (a heap mostly live), the cycle marks faster
// instead, as many words per block as the free space requires: its steps come more often, each
// still one kPacedStepWords step.
void HeapImpl::pace_cycle(std::size_t used, std::size_t* threshold) {
    std::size_t capacity = 0;
    for (const Area* a = areas.first; a != nullptr; a = a->next) capacity += a->tables.n_blocks;
    const std::size_t free = capacity > used ? capacity - used : 0;
    std::size_t work = used * kBlockWords;
    work += work / 4 + kPacedStepWords;
    const std::size_t rate = policy.cycle_step_words;
    const std::size_t room = work / rate + 1;  // blocks the cycle allocates at the configured rate
    if (room + kMinPacedBlocks <= free) {
        if (free - room < *threshold) *threshold = free - room;
        return;
    }
    *threshold = kMinPacedBlocks;
    const std::size_t left = free > 2 * kMinPacedBlocks ? free - kMinPacedBlocks : kMinPacedBlocks;
    policy.cycle_step_words = work / left + 1;
}

}  // namespace uheap::detail

namespace uheap {

using detail::HeapImpl;
using detail::Op;
using detail::Phase;

Status Heap::collect_step(std::size_t budget_words) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!built::kIncremental) return self.status = Status::unsupported;
    if (!self.incremental()) return self.status = Status::invalid_argument;
    if (self.caller_locks() > 0) return self.status = Status::locked;
    if (!self.admitted(Op::start)) return self.status;
    if (self.cycling()) {
        self.gc.started_ns = self.now_ns();
    } else {
        if (!self.has_root_source()) return self.status = Status::no_roots;
        self.start_cycle();
    }
    self.incremental_step(budget_words);
    return self.status = Status::ok;
}

bool Heap::is_marking() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return !shared.refused() && HeapImpl::of(*this).cycling();
}

// The barrier's slow half: the holder, if marked, goes back to grey (its group is rescanned by a
// later step or the final phase). A holder not yet marked needs nothing: its contents are read
// when it is, new pointer included. Anything that is not an object of this heap is ignored.
void Heap::record_store(const void* holder) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::ObjectRef obj = self.areas.object_at<true>(reinterpret_cast<std::uintptr_t>(holder));
    if (obj && obj.area->tables.is_marked(obj.block)) self.defer_to_grey(*obj.area, obj.block);
}

// The value is looked at first: most stores during a cycle are of numbers, nil or objects
// already marked, and those need no lookup of the holder.
void Heap::record_store(const void* holder, const void* value) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::ObjectRef target = self.areas.object_at(value, self.interior());
    if (!target || target.area->tables.is_marked(target.block)) return;
    detail::ObjectRef obj = self.areas.object_at<true>(reinterpret_cast<std::uintptr_t>(holder));
    if (!obj || !obj.area->tables.is_marked(obj.block)) return;  // scanned later, value and all
    void* const word = const_cast<void*>(value);
    self.gc.shade_only = true;  // marked and pushed; the steps trace it
    self.mark_root_words(&word, 1);
    self.gc.shade_only = false;
}

void Heap::set_pacing(unsigned pause_percent, std::size_t step_words_per_block) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!built::kIncremental) {
        self.status = Status::unsupported;
        return;
    }
    self.policy.pause_percent = static_cast<std::uint16_t>(pause_percent < 0xffffu ? pause_percent : 0xffffu);
    self.policy.step_words_per_block = step_words_per_block;
    self.policy.cycle_step_words = step_words_per_block != 0 ? step_words_per_block : 1;
    if (self.policy.pause_percent > 100) self.pace();
    self.refresh_fast_path();
}

// Bounded pieces, the clock read between them: a piece is ~4 096 blocks swept or words marked,
// tens of microseconds, so the deadline is overrun by at most one piece.
bool Heap::collect_idle(std::uint64_t deadline_ns) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return false;
    constexpr std::size_t kPiece = 4096;
    auto cycle_due = [&] {
        return self.incremental() && self.policy.auto_collect && self.policy.threshold_blocks != 0 &&
               self.policy.blocks_since_collect >= self.policy.threshold_blocks;
    };
    auto work_left = [&] { return sweep_step(0) != 0 || is_marking() || cycle_due(); };
    if (self.caller_locks() > 0 || detail::is_collecting(self.gc.phase) || self.gc.phase == Phase::notifying) return work_left();
    while (self.now_ns() < deadline_ns) {
        if (sweep_step(0) != 0) {
            sweep_step(kPiece);
        } else if (is_marking() || cycle_due()) {
            collect_step(kPiece);
        } else {
            break;
        }
    }
    return work_left();
}

}  // namespace uheap
