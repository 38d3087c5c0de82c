// SPDX-License-Identifier: MIT
// The Heap's control surface: callbacks, root and weak registrations, status names and the version.
#include "heap_impl.hpp"
#include "uheap/version.h"

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
        case Status::no_roots: return "no_roots";
        case Status::unsupported: return "unsupported";
        case Status::not_attached: return "not_attached";
    }
    return "unknown";
}

const char* version() { return UHEAP_VERSION_STRING; }

unsigned features() { return kBuiltFeatures; }

}  // namespace uheap

namespace uheap {

using detail::HeapImpl;

void Heap::set_root_callback(RootFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    self.cb.root = fn;
    self.cb.root_user = user;
}

// The setters of a feature the build left out refuse (last_status() unsupported) and keep
// nothing: the heap could never call what they would store.
void Heap::set_finaliser(FinaliserFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!built::kFinalisers) {
        self.status = Status::unsupported;
        return;
    }
    self.cb.set_finaliser({fn, user});
}

FinaliserFn Heap::finaliser() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return shared.refused() ? nullptr : HeapImpl::of(*this).cb.finaliser().fn;
}

void Heap::set_weak_callbacks(WeakFreedFn freed, WeakSweepFn after_sweep, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!built::kWeakReferences) {
        self.status = Status::unsupported;
        return;
    }
    self.cb.set_weak({freed, after_sweep, user});
}

void Heap::set_collect_callback(CollectFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    self.cb.collect = fn;
    self.cb.collect_user = user;
}

void Heap::set_grow_callback(GrowFn grow, ReleaseFn release, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!built::kGrowth) {
        self.status = Status::unsupported;
        return;
    }
    self.cb.set_growth({grow, release, user});
}

std::uint64_t Heap::now_ns() const { return HeapImpl::of(*this).now_ns(); }

void Heap::set_clock(ClockFn fn, void* user) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    self.cb.clock = fn;
    self.cb.clock_user = user;
}

void Heap::set_event_hooks(const EventHooks& hooks) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!built::kEventHooks) {
        self.status = Status::unsupported;
        return;
    }
    self.cb.set_hooks(hooks);
    self.refresh_fast_path();  // an on_alloc hook sends every allocation to allocate_observed()
}
EventHooks Heap::event_hooks() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return shared.refused() ? EventHooks{} : HeapImpl::of(*this).cb.hooks();
}

Status Heap::add_root_range(RootRange* range) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    return self.status = detail::link_front(self.gc.roots, range);
}
void Heap::remove_root_range(RootRange* range) {
    detail::SharedSection shared(HeapImpl::of(*this));
    if (!shared.refused()) detail::unlink(HeapImpl::of(*this).gc.roots, range);
}
Status Heap::add_weak_slot(WeakSlot* slot) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!built::kWeakReferences) return self.status = Status::unsupported;
    return self.status = detail::link_front(self.gc.weak_slots, slot);
}
void Heap::remove_weak_slot(WeakSlot* slot) {
    detail::SharedSection shared(HeapImpl::of(*this));
    if (!shared.refused()) detail::unlink(HeapImpl::of(*this).gc.weak_slots, slot);
}

Status Heap::last_status() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    shared.refused();
    return HeapImpl::of(*this).status;
}

bool Heap::contains(const void* ptr) const {
    detail::SharedSection shared(HeapImpl::of(*this));
    if (shared.refused()) return false;
    return HeapImpl::of(*this).areas.containing(reinterpret_cast<std::uintptr_t>(ptr)) != nullptr;
}

Counters Heap::counters() const {
    detail::SharedSection shared(HeapImpl::of(*this));
    return shared.refused() ? Counters{} : HeapImpl::of(*this).derived_counters();
}

}  // namespace uheap
