// SPDX-License-Identifier: MIT
// The policy: locks, the allocation threshold, automatic collection, growth, and what happens
// when memory runs out (collect once and retry, grow and retry, audit the free space, fail).
#include "heap_impl.hpp"

namespace uheap::detail {

// Every input of the allocation fast path's one comparison: locks, the phase, the stress mode,
// the threshold, an on_alloc hook. Called whenever one of them changes. (With threads, the fast
// path runs inside allocate_slow(), once it holds the lock, with the caller's own lock depth.)
// The fast path is closed during an incremental cycle (allocate_blocks() marks new objects) and
// with poisoning (allocate_blocks() unpoisons them). An on_alloc hook closes it too: Heap::alloc()
// then tries allocate_observed(), which takes the same run and calls the hook.
void HeapImpl::refresh_fast_path() {
    const bool observed = cb.hooks().on_alloc != nullptr;
    if (shared()) {  // (thread_cache.cpp; one flag for Heap::alloc() to read)
        const bool checked = (policy.auto_collect && config.collect_on_every_alloc) || poisoning();
        const bool open = !checked && !observed && !__atomic_load_n(&threads->stopping, __ATOMIC_RELAXED);
        __atomic_store_n(&threads->caches_open, open, __ATOMIC_RELAXED);
    }
    policy.fast_path_limit = observed ? 0 : unobserved_fast_path_limit();
}

std::size_t HeapImpl::unobserved_fast_path_limit() const {
    const bool every_allocation_checked = (policy.auto_collect && config.collect_on_every_alloc) || poisoning();
    if (policy.locks > 0 || gc.phase != Phase::idle || every_allocation_checked) return 0;
    if (policy.auto_collect && policy.threshold_blocks != 0) return policy.threshold_blocks;
    return SIZE_MAX;
}

// An automatic collection is the host's collect callback if it set one (MicroPython's
// gc_collect), otherwise a full collect(). A running incremental cycle is finished instead: it
// is the collection, and the host's callback could not start another (collect_start() refuses).
void HeapImpl::run_automatic_collection() {
    if (cycling()) {
        gc.started_ns = now_ns();
        gc.cycle = Collector::Cycle::forced;
        finish_cycle();
    } else if (cb.collect != nullptr) {
        cb.collect(cb.collect_user);
    } else {
        collect();
    }
}

// False when no area the heap has or could be given is large enough: the request fails at once
// (too_large), without collecting or calling the host. No region can take half the address space
// or more next to the heap and the program, so such requests are refused on every target.
bool HeapImpl::could_ever_fit(std::size_t n_blocks) const {
    if (n_blocks <= areas.max_blocks) return true;
    return cb.growth().grow != nullptr && n_blocks <= kMaxAreaBlocks && n_blocks <= (SIZE_MAX / 2) / kBlockBytes &&
           Heap::region_bytes_for(n_blocks * kBlockBytes) != SIZE_MAX;
}

// Asks the host for an area big enough for n blocks (MicroPython's split-heap-auto: the request
// roughly doubles the heap, and is never less than what the failed allocation needs).
bool HeapImpl::grow_for(std::size_t n_blocks) {
    if (cb.growth().grow == nullptr || detail::is_collecting(gc.phase) || !could_ever_fit(n_blocks)) return false;
    std::size_t need = Heap::region_bytes_for(n_blocks * kBlockBytes);
    std::size_t total_bytes = 0;
    for (const Area* a = areas.first; a != nullptr; a = a->next) total_bytes += a->pool_bytes;
    std::size_t want = total_bytes > need ? total_bytes : need;
    void* region = nullptr;
    std::size_t region_bytes = 0;
    if (!cb.growth().grow(cb.growth().user, want, &region, &region_bytes) || region == nullptr) return false;
    auto begin = reinterpret_cast<std::uintptr_t>(region);
    if (region_bytes > UINTPTR_MAX - begin || areas.overlaps(begin, begin + region_bytes)) return false;
    Status area_status;
    Area* area = lay_out_area(region, region_bytes, 0, nullptr, nullptr, &area_status);
    if (area == nullptr) return false;
    area->grown = true;
    adopt_area(area);
    ++stats.areas_grown;
    return true;
}

// The slow path of alloc(), in MicroPython's order: a threshold (or stress-mode) collection;
// one try; unless a collection already happened, collect and try again; then grow. Automatic
// collection happens only while idle: in the
// after-sweep callback (Phase::notifying) an allocation that does not fit fails instead of
// starting a collection whose callback could allocate again, without bound.
void* HeapImpl::allocate_by_policy(std::size_t n_bytes, std::size_t n_blocks, unsigned flags) {
    if (!could_ever_fit(n_blocks)) {
        ++stats.out_of_memory;
        status = Status::too_large;
        return nullptr;
    }
    // Pacing: during an incremental cycle allocation owes cycle_step_words words of marking
    // per block, paid in steps of at least kPacedStepWords (a step has a fixed cost: the clock,
    // the phase changes) once step_at_blocks is reached (the fast path is closed during a cycle).
    if (cycling() && policy.auto_collect && policy.blocks_since_collect + n_blocks >= policy.step_at_blocks) {
        gc.started_ns = now_ns();
        incremental_step(kPacedStepWords);
    }
    const bool cycle = cycling();
    bool collected = !policy.auto_collect || (gc.phase != Phase::idle && !cycle);
    if (!collected && !cycle && (config.collect_on_every_alloc ||
                                 (policy.threshold_blocks != 0 && policy.blocks_since_collect >= policy.threshold_blocks))) {
        if (incremental() && !config.collect_on_every_alloc) {
            if (has_root_source()) {  // (else collect_step() would refuse it: no_roots)
                start_cycle();  // the threshold starts a cycle; allocation carries it on
                incremental_step(kPacedStepWords);
            }
        } else {
            run_automatic_collection();
            collected = true;
        }
    }
    status = Status::ok;
    void* ptr = allocate_blocks(n_blocks, flags);
    if (ptr == nullptr && !collected) {
        const bool finished_a_cycle = cycling();
        run_automatic_collection();  // a running cycle is finished by it (collect())
        status = Status::ok;
        ptr = allocate_blocks(n_blocks, flags);
        // What the cycle's allocations left was born marked and survived it: a full collection
        // frees it, so an incremental heap fails no allocation a stop-the-world one would fit.
        if (ptr == nullptr && finished_a_cycle) {
            run_automatic_collection();
            status = Status::ok;
            ptr = allocate_blocks(n_blocks, flags);
        }
    }
    if (built::kGrowth && ptr == nullptr && grow_for(n_blocks)) ptr = allocate_blocks(n_blocks, flags);
    if (ptr == nullptr) {
        ++stats.out_of_memory;
        if (cb.hooks().on_out_of_memory != nullptr) cb.hooks().on_out_of_memory(cb.hooks().user, n_bytes);
        // The collection this allocation needed was refused: say why, not just "full".
        const bool refused = policy.auto_collect && cb.collect == nullptr && !has_root_source();
        status = refused ? Status::no_roots : Status::out_of_memory;
    }
    return ptr;
}

}  // namespace uheap::detail

namespace uheap {

using detail::HeapImpl;

void Heap::lock() {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    ++self.caller_lock_depth();
    self.refresh_fast_path();
}

void Heap::unlock() {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    unsigned& depth = self.caller_lock_depth();
    if (depth > 0) --depth;
    self.refresh_fast_path();
}

bool Heap::is_locked() const {
    const HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return false;
    return self.caller_locks() > 0 || detail::is_collecting(self.gc.phase);
}

unsigned Heap::lock_depth() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return shared.refused() ? 0 : HeapImpl::of(*this).caller_locks();
}
bool Heap::is_collecting() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return !shared.refused() && detail::is_collecting(HeapImpl::of(*this).gc.phase);
}

void Heap::set_auto_collect(bool enabled) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    self.policy.auto_collect = enabled;
    self.refresh_fast_path();
}
bool Heap::auto_collect() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return !shared.refused() && HeapImpl::of(*this).policy.auto_collect;
}

// Saturates: a threshold too large to count in blocks is the largest one that can be.
void Heap::set_threshold(std::size_t n_bytes) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    std::size_t n_blocks = detail::blocks_for_bytes(n_bytes);
    self.policy.threshold_blocks = n_blocks < SIZE_MAX / kBlockBytes ? n_blocks : SIZE_MAX / kBlockBytes;
    self.refresh_fast_path();
}
std::size_t Heap::threshold() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return shared.refused() ? 0 : HeapImpl::of(*this).policy.threshold_blocks * kBlockBytes;
}
std::size_t Heap::allocated_since_collect() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    if (shared.refused()) return 0;
    std::size_t n_blocks = HeapImpl::of(*this).policy.blocks_since_collect;
    return n_blocks < SIZE_MAX / kBlockBytes ? n_blocks * kBlockBytes : SIZE_MAX;
}

}  // namespace uheap
