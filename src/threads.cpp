// SPDX-License-Identifier: MIT
// A heap shared by threads (threads.hpp): the host's lock around each operation, the registry
// of attached threads, parking, and stopping the world for a collection.
//
// All of the ThreadSet but `stopping` is read and written under the host's lock. A thread is
// *parked* while it waits inside the heap for another thread's collection (entering an
// operation, at a safe point, attaching) or runs a blocking call (blocking()); before it parks
// it spills its registers into its own frame and publishes the innermost address (stack_top),
// and the frame stays live until it unparks. A collection (begin_collection() to the end of
// finish_collection()) sets `stopping`, then waits, the lock released, until every other
// attached thread is parked, or has the host's stop_others stop them. Between the two, no other
// thread runs heap code, and none can un-park: that needs the lock and `stopping` clear.
//
// Invariants (checked by the tests in tests/threads_test.cpp):
//   T1  set.parked is the number of attached records with parked set;
//   T2  while `stopping` and the collector holds the lock, every other attached thread is
//       parked or stopped, with stack_top between its registers and its live frames;
//   T3  a record is linked into set.first iff it is attached (attached counts them).
#include "heap_impl.hpp"
#include "register_spill.hpp"

namespace uheap::detail {
namespace {

ThreadRecord* current_thread(const ThreadSet& set) { return set.hooks.current(set.hooks.user); }

bool is_attached(const ThreadSet& set, const ThreadRecord* record) {
    return record != nullptr && (set.first == record || (record->prev != nullptr && record->prev->next == record));
}

// Waits, parked, while another thread's collection runs. Called with the lock held; `me` may be
// null for a thread that never attached (the collector does not wait for it; it only waits).
// Out of line: the registers it parks with are spilled into its own frame, which stays live
// while it waits (the caller's frames, above, hold everything else); only a thread that parks
// pays for the spill.
__attribute__((noinline)) void park_while_stopped(ThreadSet& set, ThreadRecord* me) {
    if (!__atomic_load_n(&set.stopping, __ATOMIC_RELAXED) || set.collector == me) return;
    RegisterSpill registers;
    spill_registers(registers);
    const void* top = __builtin_frame_address(0);
    if (static_cast<const void*>(&registers) < top) top = &registers;
    while (__atomic_load_n(&set.stopping, __ATOMIC_RELAXED) && set.collector != me) {
        if (me != nullptr) {
            me->stack_top = top;
            me->parked = true;
            ++set.parked;
        }
        set.hooks.notify_all(set.hooks.user);  // a collector may be waiting for this one
        set.hooks.wait(set.hooks.user);
        if (me != nullptr) {
            me->parked = false;
            --set.parked;
        }
    }
}

}  // namespace

// The lock for one operation. A thread blocked in lock() while another collects is stopped by
// stop_others, or (cooperative) parks as soon as it has the lock, before it touches the heap.
ThreadRecord* HeapImpl::enter_shared() {
    ThreadSet& set = *threads;
    ThreadRecord* me = current_thread(set);
    if (me == nullptr) return nullptr;          // not attached: refused (SharedSection)
    if (me->in_heap++ > 0) return me;           // nested (a finaliser's free()): the lock is this thread's
    set.hooks.lock(set.hooks.user);
    park_while_stopped(set, me);
    return me;
}

void HeapImpl::leave_shared(ThreadRecord* me) {
    if (--me->in_heap > 0) return;
    threads->hooks.unlock(threads->hooks.user);
}

// Called with the lock held, by begin_collection().
void HeapImpl::stop_world() {
    if (!shared()) return;
    ThreadSet& set = *threads;
    ThreadRecord* me = current_thread(set);
    set.collector = me;
    __atomic_store_n(&set.stopping, true, __ATOMIC_RELAXED);
    __atomic_store_n(&set.caches_open, false, __ATOMIC_RELAXED);  // (a thread taking from its cache comes to park)
    if (set.hooks.stop_others != nullptr) {
        set.hooks.stop_others(set, set.hooks.user);
        return;
    }
    // (Recounted after every wake-up: a thread may attach or detach meanwhile.)
    while (set.parked < set.attached - (is_attached(set, me) ? 1 : 0)) set.hooks.wait(set.hooks.user);
}

// Called with the lock held, at the end of finish_collection().
void HeapImpl::resume_world() {
    if (!shared()) return;
    ThreadSet& set = *threads;
    if (set.hooks.resume_others != nullptr) set.hooks.resume_others(set, set.hooks.user);
    set.collector = nullptr;
    __atomic_store_n(&set.stopping, false, __ATOMIC_RELAXED);
    refresh_fast_path();  // (reopens the caches)
    set.hooks.notify_all(set.hooks.user);
}

unsigned HeapImpl::shared_locks() const {
    const ThreadRecord* me = current_thread(*threads);
    return me != nullptr ? me->lock_depth : policy.locks;
}

unsigned& HeapImpl::caller_lock_depth() {
    ThreadRecord* me = shared() ? current_thread(*threads) : nullptr;
    return me != nullptr ? me->lock_depth : policy.locks;
}

}  // namespace uheap::detail

namespace uheap {

using detail::HeapImpl;
using detail::SharedSection;

Status Heap::enable_threads(ThreadSet* set) {
    HeapImpl& self = HeapImpl::of(*this);
    if (!built::kThreads || self.incremental()) return self.status = Status::unsupported;
    if (set == nullptr || set->hooks.lock == nullptr || set->hooks.unlock == nullptr || set->hooks.wait == nullptr ||
        set->hooks.notify_all == nullptr || set->hooks.current == nullptr ||
        (set->hooks.stop_others == nullptr) != (set->hooks.resume_others == nullptr)) {
        return self.status = Status::invalid_argument;
    }
    if (self.threads != nullptr) return self.status = Status::already_registered;
    if (self.gc.phase != detail::Phase::idle) return self.status = Status::collecting;
    set->first = nullptr;
    set->attached = set->parked = 0;
    set->collector = nullptr;
    __atomic_store_n(&set->stopping, false, __ATOMIC_RELAXED);
    self.threads = set;  // from now on an allocation takes an object from its thread's cache, or the lock
    self.refresh_fast_path();  // (opens the caches)
    return self.status = Status::ok;
}

// If a collection is waiting, the thread parks as soon as it is linked, counted as attached.
Status Heap::attach_thread(ThreadRecord* record, const void* stack_base) {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.shared() || record == nullptr || stack_base == nullptr) return self.status = Status::invalid_argument;
    ThreadSet& set = *self.threads;
    if (detail::current_thread(set) != record) return self.status = Status::invalid_argument;
    set.hooks.lock(set.hooks.user);
    Status result = Status::ok;
    if (detail::is_attached(set, record)) {
        result = Status::already_registered;
    } else {
        record->stack_base = stack_base;
        record->stack_top = nullptr;  // (published when it parks or is stopped)
        record->lock_depth = record->in_heap = 0;
        record->parked = record->popping = false;
        for (ThreadCache& c : record->caches) c = ThreadCache{};
        record->handed_out = 0;
        record->refills = 0;
        record->prev = nullptr;
        record->next = set.first;
        if (set.first != nullptr) set.first->prev = record;
        set.first = record;
        ++set.attached;
        detail::park_while_stopped(set, record);
    }
    self.status = result;
    set.hooks.unlock(set.hooks.user);
    return result;
}

void Heap::detach_thread() {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.shared()) return;
    ThreadSet& set = *self.threads;
    ThreadRecord* me = detail::current_thread(set);
    if (me == nullptr) return;
    SharedSection shared(self);
    if (!detail::is_attached(set, me)) return;
    self.release_caches_of(*me);
    if (me->prev != nullptr) me->prev->next = me->next; else set.first = me->next;
    if (me->next != nullptr) me->next->prev = me->prev;
    me->prev = me->next = nullptr;
    --set.attached;
    me->lock_depth = 0;
    set.hooks.notify_all(set.hooks.user);  // a collector waiting for it waits for one fewer
}

void Heap::safe_point() {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.shared() || !__atomic_load_n(&self.threads->stopping, __ATOMIC_RELAXED)) return;
    SharedSection shared(self);  // entering parks until the collection ends
}

// Parked for the whole call: registers spilled in this frame, which stays live around fn.
__attribute__((noinline)) void Heap::blocking(void (*fn)(void* arg), void* arg) {
    HeapImpl& self = HeapImpl::of(*this);
    ThreadSet* set = self.shared() ? self.threads : nullptr;
    ThreadRecord* me = set != nullptr ? detail::current_thread(*set) : nullptr;
    if (me == nullptr || me->in_heap > 0) {  // no threads, not attached, or inside the heap (a callback): cannot park
        fn(arg);
        return;
    }
    detail::RegisterSpill registers;
    detail::spill_registers(registers);
    const void* top = __builtin_frame_address(0);
    if (static_cast<const void*>(&registers) < top) top = &registers;
    set->hooks.lock(set->hooks.user);
    me->stack_top = top;
    me->parked = true;
    ++set->parked;
    set->hooks.notify_all(set->hooks.user);
    set->hooks.unlock(set->hooks.user);
    fn(arg);
    set->hooks.lock(set->hooks.user);
    while (__atomic_load_n(&set->stopping, __ATOMIC_RELAXED) && set->collector != me) set->hooks.wait(set->hooks.user);
    me->parked = false;
    --set->parked;
    set->hooks.unlock(set->hooks.user);
}

}  // namespace uheap
