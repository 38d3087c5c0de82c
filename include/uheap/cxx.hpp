// SPDX-License-Identifier: MIT
/// @file
/// C++ conveniences on the public Heap API: typed make<T>, RAII root and weak handles, and a heap
/// that owns its region. Header-only; nothing here reaches into the heap's internals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "uheap/heap.hpp"

namespace uheap {

// ---- make<T>: objects whose destructor is their finaliser ------------------------------------
//
// A make<T> object of a type with a non-trivial destructor is allocated with kFinaliser and one
// extra word at the end of its last block holding a "destroy" thunk. cxx_finaliser() reads that
// word and runs ~T(). make<T> installs cxx_finaliser on a heap that has no finaliser yet; a host
// with its own finaliser calls run_cxx_finaliser(object) for the objects it made with make<T>.

/// The destructor call make<T> records in the last word of an object it made (run_cxx_finaliser()
/// calls it).
using DestroyThunk = void (*)(void* object);

/// Runs the destructor recorded by make<T> in the object's last word, once.
inline void run_cxx_finaliser(Heap& heap, void* object) {
    std::size_t n_bytes = heap.size_of(object);
    if (n_bytes < sizeof(DestroyThunk)) return;
    auto* slot = reinterpret_cast<DestroyThunk*>(static_cast<char*>(object) + n_bytes - sizeof(DestroyThunk));
    DestroyThunk destroy = *slot;
    *slot = nullptr;  // a second call (or a resurrected object) destroys nothing
    if (destroy != nullptr) destroy(object);
}

/// FinaliserFn for heaps whose finaliser objects all come from make<T>; `user` is the Heap.
inline void cxx_finaliser(void* user, void* object) {
    run_cxx_finaliser(*static_cast<Heap*>(user), object);
}

/// Allocates and constructs a T on `heap` with `extra_flags` (e.g. kNoScan for pointer-free T).
/// Returns null if the heap cannot allocate (see Heap::alloc). Do not realloc() such objects.
template <class T, class... Args>
T* make_with_flags(Heap& heap, unsigned extra_flags, Args&&... args) {
    static_assert(alignof(T) <= kBlockBytes, "T is more aligned than a block");
    constexpr bool kNeedsFinaliser = !std::is_trivially_destructible<T>::value;
    std::size_t n_bytes = sizeof(T);
    unsigned flags = extra_flags;
    if constexpr (kNeedsFinaliser) {
        // Room for the thunk after the object, rounded so the thunk is word-aligned.
        n_bytes = (n_bytes + sizeof(DestroyThunk) - 1) / sizeof(DestroyThunk) * sizeof(DestroyThunk) +
                  sizeof(DestroyThunk);
        flags |= kFinaliser;
        if (heap.finaliser() == nullptr) heap.set_finaliser(&cxx_finaliser, &heap);
    }
    void* memory = heap.alloc(n_bytes, flags);
    if (memory == nullptr) return nullptr;
    T* object = ::new (memory) T(std::forward<Args>(args)...);
    if constexpr (kNeedsFinaliser) {
        std::size_t whole = heap.size_of(memory);
        auto* slot = reinterpret_cast<DestroyThunk*>(static_cast<char*>(memory) + whole - sizeof(DestroyThunk));
        *slot = [](void* p) { static_cast<T*>(p)->~T(); };
    }
    return object;
}

/// Allocates and constructs a T on `heap`; ~T() runs as its finaliser when it is collected.
template <class T, class... Args>
T* make(Heap& heap, Args&&... args) {
    return make_with_flags<T>(heap, 0u, std::forward<Args>(args)...);
}

// ---- Root<T> and Weak<T>: registered slots that hold object starts ----------------------------
//
// A T* need not point at the start of its object: a pointer to a non-primary base class, or to a
// member, points inside it, and the heap's rule is that only a pointer to an object's first byte
// retains it. So both handles keep the object's start (Heap::object_start) in the registered
// slot, and the offset from there to the T* beside it; get() adds the two back together.

namespace detail {

/// What a Root<T> or Weak<T> holds: the start of the object (the registered word) and the offset
/// from there to the T* the host gave.
template <class T>
class HeldObject {
public:
    void set(Heap& heap, T* ptr) {
        void* start = ptr != nullptr ? heap.object_start(ptr) : nullptr;
        // A pointer outside the heap is held as it is (offset 0): it retains nothing anyway.
        start_ = start != nullptr ? start : const_cast<void*>(static_cast<const void*>(ptr));
        offset_ = static_cast<const char*>(static_cast<const void*>(ptr)) - static_cast<const char*>(start_);
    }
    T* get() const { return start_ != nullptr ? reinterpret_cast<T*>(static_cast<char*>(start_) + offset_) : nullptr; }
    void** slot() { return &start_; }

private:
    void* start_ = nullptr;
    std::ptrdiff_t offset_ = 0;
};

}  // namespace detail

/// Keeps `get()` alive across collections for as long as the Root exists. Registration is O(1)
/// and allocates nothing. Movable, not copyable (each slot is registered once).
template <class T>
class Root {
public:
    /// Registers a root slot on `heap` holding `ptr` (null, or any pointer into an object). O(1).
    explicit Root(Heap& heap, T* ptr = nullptr) : heap_(&heap) {
        held_.set(heap, ptr);
        attach();
    }
    /// A new slot, on `other`'s heap, holding what `other` holds; `other` keeps it too.
    Root(Root&& other) noexcept : heap_(other.heap_), held_(other.held_) { attach(); }
    /// Holds what `other` holds; `other` keeps it too.
    Root& operator=(Root&& other) noexcept {
        held_ = other.held_;
        return *this;
    }
    Root(const Root&) = delete;
    Root& operator=(const Root&) = delete;
    ~Root() { heap_->remove_root_range(&node_); }  ///< unregisters the slot

    T* get() const { return held_.get(); }  ///< the pointer held, or null
    T* operator->() const { return get(); }  ///< get()
    std::add_lvalue_reference_t<T> operator*() const { return *get(); }  ///< *get(); not for T = void
    explicit operator bool() const { return get() != nullptr; }  ///< get() != nullptr
    /// Holds `ptr` instead (null, or any pointer into an object).
    Root& operator=(T* ptr) {
        held_.set(*heap_, ptr);
        return *this;
    }

private:
    void attach() {
        node_.words = held_.slot();
        node_.n_words = 1;
        heap_->add_root_range(&node_);
    }
    Heap* heap_;
    detail::HeldObject<T> held_;
    RootRange node_;
};

/// Refers to an object without keeping it alive; get() reads null once a collection has found
/// the object unreachable. Movable, not copyable.
template <class T>
class Weak {
public:
    /// Registers a weak slot on `heap` naming `ptr` (null, or any pointer into an object). O(1).
    explicit Weak(Heap& heap, T* ptr = nullptr) : heap_(&heap) {
        held_.set(heap, ptr);
        attach();
    }
    /// A new slot, on `other`'s heap, naming what `other` names; `other` keeps it too.
    Weak(Weak&& other) noexcept : heap_(other.heap_), held_(other.held_) { attach(); }
    /// Names what `other` names; `other` keeps it too.
    Weak& operator=(Weak&& other) noexcept {
        held_ = other.held_;
        return *this;
    }
    Weak(const Weak&) = delete;
    Weak& operator=(const Weak&) = delete;
    ~Weak() { heap_->remove_weak_slot(&node_); }  ///< unregisters the slot

    T* get() const { return held_.get(); }  ///< the pointer named, or null once its object died
    explicit operator bool() const { return get() != nullptr; }  ///< get() != nullptr
    /// Names `ptr` instead (null, or any pointer into an object).
    Weak& operator=(T* ptr) {
        held_.set(*heap_, ptr);
        return *this;
    }

private:
    void attach() {
        node_.slot = held_.slot();
        heap_->add_weak_slot(&node_);
    }
    Heap* heap_;
    detail::HeldObject<T> held_;
    WeakSlot node_;
};

// ---- OwnedHeap: "just give me an 8 MB heap" ---------------------------------------------------

/// Allocates a region with new[] and lays a heap over it. This is the only place uheap's C++
/// layer allocates; the core library never does.
class OwnedHeap {
public:
    /// Allocates `region_bytes` with new (std::nothrow) and creates a heap over them with
    /// `config`. On failure get() is null and status() says why (null_region: new failed).
    explicit OwnedHeap(std::size_t region_bytes, const HeapConfig& config = {})
        : region_(new (std::nothrow) unsigned char[region_bytes]) {
        status_ = region_ ? Status::ok : Status::null_region;
        if (region_) heap_ = Heap::create(region_.get(), region_bytes, config, &status_);
    }
    Heap* get() const { return heap_; }                            ///< the heap, or null
    Heap* operator->() const { return heap_; }                     ///< get(); not null-checked
    Heap& operator*() const { return *heap_; }                     ///< *get(); not null-checked
    explicit operator bool() const { return heap_ != nullptr; }    ///< the heap was created
    Status status() const { return status_; }                      ///< how creating the heap went

private:
    std::unique_ptr<unsigned char[]> region_;
    Heap* heap_ = nullptr;
    Status status_;
};

/// Pauses by length, for p50 / p99 / max: fed by EventHooks::on_pause (set hooks.on_pause =
/// PauseHistogram::hook and hooks.user to the histogram), or by record() with any duration the
/// host measures. Eight buckets per power of two of nanoseconds (percentiles within 12.5 %),
/// the count, total and maximum exact. 4 KB, no allocation.
class PauseHistogram {
public:
    /// Counts one pause of `ns` nanoseconds.
    void record(std::uint64_t ns) {
        ++buckets_[bucket_of(ns)];
        ++count_;
        total_ns_ += ns;
        if (ns > max_ns_) max_ns_ = ns;
    }
    /// An EventHooks::on_pause that records into the PauseHistogram `user` points at.
    static void hook(void* user, PauseKind, std::uint64_t ns) { static_cast<PauseHistogram*>(user)->record(ns); }
    std::uint64_t count() const { return count_; }        ///< pauses recorded
    std::uint64_t total_ns() const { return total_ns_; }  ///< their sum
    std::uint64_t max_ns() const { return max_ns_; }      ///< the longest, exactly
    /// The smallest bucket bound at or below which `fraction` (0..1) of the pauses lie, never
    /// above max_ns(); 0 with no pauses.
    std::uint64_t percentile_ns(double fraction) const {
        if (count_ == 0) return 0;
        auto rank = static_cast<std::uint64_t>(fraction * static_cast<double>(count_));
        if (rank >= count_) rank = count_ - 1;
        std::uint64_t seen = 0;
        for (unsigned i = 0; i < kBuckets; ++i) {
            seen += buckets_[i];
            if (seen > rank) return upper_bound(i) < max_ns_ ? upper_bound(i) : max_ns_;
        }
        return max_ns_;
    }

private:
    static constexpr unsigned kSub = 8;  // buckets per power of two
    static constexpr unsigned kBuckets = 64 * kSub;
    static unsigned bucket_of(std::uint64_t ns) {
        if (ns < kSub) return static_cast<unsigned>(ns);
        unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(ns));  // 2^e <= ns, e >= 3
        return e * kSub + static_cast<unsigned>((ns >> (e - 3)) & (kSub - 1));
    }
    static std::uint64_t upper_bound(unsigned i) {
        if (i < kSub) return i;
        unsigned e = i / kSub;
        std::uint64_t sub = i % kSub;
        return ((kSub + sub + 1) << (e - 3)) - 1;
    }
    std::uint64_t buckets_[kBuckets] = {};
    std::uint64_t count_ = 0;
    std::uint64_t total_ns_ = 0;
    std::uint64_t max_ns_ = 0;
};

}  // namespace uheap
