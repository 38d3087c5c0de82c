// SPDX-License-Identifier: MIT
// The Heap's control surface: locks, automatic collection, thresholds, callbacks, root and weak
// registrations, and status names.
#include "heap_impl.hpp"

namespace uheap {

using detail::HeapImpl;

const char* status_name(Status status) {
    switch (status) {
        case Status::ok: return "ok";
        case Status::null_region: return "null_region";
        case Status::region_too_small: return "region_too_small";
        case Status::size_overflow: return "size_overflow";
        case Status::invalid_argument: return "invalid_argument";
        case Status::foreign_pointer: return "foreign_pointer";
        case Status::not_object_start: return "not_object_start";
        case Status::already_free: return "already_free";
        case Status::locked: return "locked";
        case Status::collecting: return "collecting";
        case Status::not_collecting: return "not_collecting";
        case Status::out_of_memory: return "out_of_memory";
        case Status::too_large: return "too_large";
        case Status::corrupted: return "corrupted";
        case Status::weakly_referenced: return "weakly_referenced";
        case Status::pinned: return "pinned";
        case Status::overlap: return "overlap";
        case Status::already_registered: return "already_registered";
    }
    return "unknown";
}

}  // namespace uheap

namespace uheap::detail {

void HeapImpl::refresh_fast_path() {
    if (locks > 0 || collecting || (auto_collect_enabled && config.collect_on_every_alloc)) {
        fast_path_limit = 0;
    } else if (auto_collect_enabled && threshold_blocks != 0) {
        fast_path_limit = threshold_blocks;
    } else {
        fast_path_limit = SIZE_MAX;
    }
}

}  // namespace uheap::detail

namespace uheap {

void Heap::lock() {
    HeapImpl& self = HeapImpl::of(*this);
    ++self.locks;
    self.refresh_fast_path();
}

void Heap::unlock() {
    HeapImpl& self = HeapImpl::of(*this);
    if (self.locks > 0) --self.locks;
    self.refresh_fast_path();
}

bool Heap::is_locked() const {
    const HeapImpl& self = HeapImpl::of(*this);
    return self.locks > 0 || self.collecting;
}

unsigned Heap::lock_depth() const { return HeapImpl::of(*this).locks; }
bool Heap::is_collecting() const { return HeapImpl::of(*this).collecting; }

void Heap::set_auto_collect(bool enabled) {
    HeapImpl& self = HeapImpl::of(*this);
    self.auto_collect_enabled = enabled;
    self.refresh_fast_path();
}
bool Heap::auto_collect() const { return HeapImpl::of(*this).auto_collect_enabled; }

void Heap::set_threshold(std::size_t n_bytes) {
    HeapImpl& self = HeapImpl::of(*this);
    self.threshold_blocks = n_bytes / kBlockBytes + (n_bytes % kBlockBytes != 0);
    self.refresh_fast_path();
}
std::size_t Heap::threshold() const { return HeapImpl::of(*this).threshold_blocks * kBlockBytes; }
std::size_t Heap::allocated_since_collect() const { return HeapImpl::of(*this).blocks_since_collect * kBlockBytes; }

void Heap::set_root_callback(RootFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    self.root_fn = fn;
    self.root_user = user;
}

void Heap::set_finaliser(FinaliserFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    self.finaliser_fn = fn;
    self.finaliser_user = user;
}

FinaliserFn Heap::finaliser() const { return HeapImpl::of(*this).finaliser_fn; }

void Heap::set_weak_callbacks(WeakFreedFn freed, WeakSweepFn after_sweep, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    self.weak_freed_fn = freed;
    self.weak_sweep_fn = after_sweep;
    self.weak_user = user;
}

void Heap::set_collect_callback(CollectFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    self.collect_fn = fn;
    self.collect_user = user;
}

void Heap::set_grow_callback(GrowFn grow, ReleaseFn release, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    self.grow_fn = grow;
    self.release_fn = release;
    self.grow_user = user;
}

void Heap::set_clock(ClockFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    self.clock_fn = fn;
    self.clock_user = user;
}

void Heap::set_event_hooks(const EventHooks& hooks) { HeapImpl::of(*this).hooks = hooks; }
EventHooks Heap::event_hooks() const { return HeapImpl::of(*this).hooks; }

namespace {

// Root ranges and weak slots are intrusive doubly linked lists of host-owned nodes: O(1) either
// way and no allocation. Both node types carry prev/next, so one pair of helpers serves both.
template <class Node>
void link_front(Node*& first, Node* node) {
    node->prev = nullptr;
    node->next = first;
    if (first != nullptr) first->prev = node;
    first = node;
}

// Unlinking a node that is not in the list (prev and next null, not first) does nothing.
template <class Node>
void unlink(Node*& first, Node* node) {
    if (node->prev != nullptr) {
        node->prev->next = node->next;
    } else if (first == node) {
        first = node->next;
    }
    if (node->next != nullptr) node->next->prev = node->prev;
    node->prev = node->next = nullptr;
}

}  // namespace

Status Heap::add_root_range(RootRange* range) {
    link_front(HeapImpl::of(*this).roots, range);
    return Status::ok;
}
void Heap::remove_root_range(RootRange* range) { unlink(HeapImpl::of(*this).roots, range); }
Status Heap::add_weak_slot(WeakSlot* slot) {
    link_front(HeapImpl::of(*this).weak_slots, slot);
    return Status::ok;
}
void Heap::remove_weak_slot(WeakSlot* slot) { unlink(HeapImpl::of(*this).weak_slots, slot); }

Status Heap::last_status() const { return HeapImpl::of(*this).status; }

bool Heap::contains(const void* ptr) const {
    return HeapImpl::of(*this).area_containing(reinterpret_cast<std::uintptr_t>(ptr)) != nullptr;
}

Counters Heap::counters() const { return HeapImpl::of(*this).stats; }

}  // namespace uheap
