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
#include <vector>

#include "uheap/heap.hpp"

namespace uheap {

// ---- make<T>: objects whose destructor is their finaliser ------------------------------------
//
// A make<T> object of a type with a non-trivial destructor is allocated with kDestructor: its last
// word holds a thunk that runs ~T(), and the collector calls that thunk when the object dies, in
// place of the heap's finaliser callback. So make<T> objects and the host's own finaliser objects
// live side by side in one heap, each finalised its own way. Such objects take two blocks or more.

/// Allocates and constructs a T on `heap` with `extra_flags` (e.g. kNoScan for pointer-free T).
/// Returns null if the heap cannot allocate (see Heap::alloc). Such objects cannot be resized
/// (realloc() refuses a kDestructor object: invalid_argument). In a library built without
/// UHEAP_FEATURE_FINALISERS, a T with a destructor is refused: null, last_status() unsupported.
template <class T, class... Args>
T* make_with_flags(Heap& heap, unsigned extra_flags, Args&&... args) {
    static_assert(alignof(T) <= kBlockBytes, "T is more aligned than a block");
    constexpr bool kNeedsDestructor = !std::is_trivially_destructible<T>::value;
    std::size_t n_bytes = sizeof(T);
    unsigned flags = extra_flags & ~unsigned(kDestructor);
    if constexpr (kNeedsDestructor) {
        // Room for the thunk after the object (the core puts it in the last word of the last block).
        n_bytes += sizeof(DestructorFn);
        flags = (flags & ~unsigned(kFinaliser)) | kDestructor;
    }
    void* memory = heap.alloc(n_bytes, flags);
    if (memory == nullptr) return nullptr;
    T* object = ::new (memory) T(std::forward<Args>(args)...);
    if constexpr (kNeedsDestructor) {
        // Written once T is whole: a collection before this (T's constructor allocating) runs nothing.
        std::size_t whole = heap.size_of(memory);
        auto* slot = reinterpret_cast<DestructorFn*>(static_cast<char*>(memory) + whole) - 1;
        *slot = [](void* p) { static_cast<T*>(p)->~T(); };
    }
    return object;
}

/// Allocates and constructs a T on `heap`; ~T() runs when a collection finds it dead.
template <class T, class... Args>
T* make(Heap& heap, Args&&... args) {
    return make_with_flags<T>(heap, 0u, std::forward<Args>(args)...);
}

/// Destroys a T that make<T> made (runs ~T() now, once) and frees it: free() alone releases the
/// memory without the destructor. Returns free()'s status; if free() refuses (locked, during
/// marking, weakly_referenced, pinned), the T is destroyed all the same and no collection runs
/// ~T() again.
template <class T>
Status destroy(Heap& heap, T* object) {
    if (object == nullptr) return Status::ok;
    if constexpr (!std::is_trivially_destructible<T>::value) {
        if ((heap.flags_of(object) & kDestructor) != 0) {
            auto* slot = reinterpret_cast<DestructorFn*>(reinterpret_cast<char*>(object) + heap.size_of(object)) - 1;
            DestructorFn run = *slot;
            *slot = nullptr;
            if (run != nullptr) run(object);
        }
    }
    return heap.free(object);
}

// ---- Root<T> and Weak<T>: registered slots that hold object starts ----------------------------
//
// A T* need not point at the start of its object: a pointer to a non-primary base class, or to a
// member, points inside it, and the heap's rule is that only a pointer to an object's first byte
// retains it. So both handles keep the object's start (Heap::object_start) in the registered
// slot, and the offset from there to the T* beside it; get() adds the two back together.

namespace detail {

/// What a Root<T> or Weak<T> holds: the start of the object (the registered word) and the offset
/// from there to the T* the host gave. A weak handle keeps the start disguised (hide_pointer()),
/// so that no conservative scan of wherever the handle lives (the C stack, a root range, a
/// scanned object) mistakes it for a reference.
template <class T, bool kHidden>
class HeldObject {
public:
    void set(Heap& heap, T* ptr) {
        void* start = ptr != nullptr ? heap.object_start(ptr) : nullptr;
        // A pointer outside the heap is held as it is (offset 0): it retains nothing anyway.
        if (start == nullptr) start = const_cast<void*>(static_cast<const void*>(ptr));
        offset_ = static_cast<const char*>(static_cast<const void*>(ptr)) - static_cast<const char*>(start);
        word_ = kHidden ? hide_pointer(start) : start;
    }
    T* get() const {
        void* start = kHidden ? reveal_pointer(word_) : word_;
        return start != nullptr ? reinterpret_cast<T*>(static_cast<char*>(start) + offset_) : nullptr;
    }
    void** slot() { return &word_; }

private:
    void* word_ = nullptr;
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
    detail::HeldObject<T, false> held_;
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
    detail::HeldObject<T, true> held_;
    WeakSlot node_;
};

// ---- RootSpan and RootedVector: registered ranges that cannot be forgotten ---------------------
//
// A raw RootRange must be unregistered before its memory goes, or the next collection reads
// freed memory. These register in the constructor and unregister in the destructor, with the
// same lifetime rules as Root<T>: create them on the heap's thread, destroy them before the heap.

/// A span of pointer-sized words (a VM stack, an array of values) that is a root for as long as
/// the RootSpan exists. The words are scanned conservatively at every collection; reset() points
/// it elsewhere at any time outside a collection (a VM stack that grew). Registration is O(1)
/// and allocates nothing. Movable (the new RootSpan registers the same words), not copyable.
class RootSpan {
public:
    /// Registers `n_words` words at `words` (none by default).
    explicit RootSpan(Heap& heap, void* const* words = nullptr, std::size_t n_words = 0) : heap_(&heap) {
        reset(words, n_words);
        heap_->add_root_range(&node_);
    }
    /// Registers `n` values at `values`: pointers, or pointer-sized words of a tagged VM.
    template <class T>
    RootSpan(Heap& heap, const T* values, std::size_t n) : RootSpan(heap) {
        reset(values, n);
    }
    /// A second registration of `other`'s words (`other` stays registered until destroyed).
    RootSpan(RootSpan&& other) noexcept : RootSpan(*other.heap_, other.node_.words, other.node_.n_words) {}
    RootSpan(const RootSpan&) = delete;
    RootSpan& operator=(const RootSpan&) = delete;
    RootSpan& operator=(RootSpan&&) = delete;
    ~RootSpan() { heap_->remove_root_range(&node_); }  ///< unregisters it

    /// Scans `n_words` words at `words` from the next collection on.
    void reset(void* const* words, std::size_t n_words) {
        node_.words = words;
        node_.n_words = words != nullptr ? n_words : 0;
    }
    /// Scans `n` pointer-sized values at `values` from the next collection on.
    template <class T>
    void reset(const T* values, std::size_t n) {
        static_assert(sizeof(T) == sizeof(void*), "a root span holds pointer-sized words");
        reset(reinterpret_cast<void* const*>(values), n);
    }
    void* const* words() const { return node_.words; }  ///< the first word scanned
    std::size_t size() const { return node_.n_words; }  ///< the words scanned

private:
    Heap* heap_;
    RootRange node_;
};

/// A growable array of pointer-sized values (T* or a VM's tagged word) whose elements are all
/// roots: a std::vector whose storage stays registered as it moves and resizes. The operations
/// that can move the storage re-register it before they return; no collection can run in between
/// (the vector's own allocation is not the heap's). Not copyable; movable.
template <class T>
class RootedVector {
    static_assert(sizeof(T) == sizeof(void*), "a rooted vector holds pointer-sized values");

public:
    /// An empty vector, registered on `heap`.
    explicit RootedVector(Heap& heap) : span_(heap) {}
    /// Takes `other`'s elements; `other` is left empty and registered.
    RootedVector(RootedVector&& other) noexcept : span_(std::move(other.span_)), values_(std::move(other.values_)) {
        sync();
        other.sync();  // its span must not keep naming the storage this one now owns
    }
    RootedVector(const RootedVector&) = delete;
    RootedVector& operator=(const RootedVector&) = delete;

    void push_back(T value) { values_.push_back(value); sync(); }          ///< appends; a root at once
    void pop_back() { values_.pop_back(); sync(); }                        ///< drops the last element
    void resize(std::size_t n, T value = T()) { values_.resize(n, value); sync(); }  ///< as std::vector
    void reserve(std::size_t n) { values_.reserve(n); sync(); }            ///< as std::vector
    void clear() { values_.clear(); sync(); }                              ///< drops every element
    T& operator[](std::size_t i) { return values_[i]; }                    ///< element `i` (a root)
    const T& operator[](std::size_t i) const { return values_[i]; }        ///< element `i`
    T& back() { return values_.back(); }                                   ///< the last element
    std::size_t size() const { return values_.size(); }                    ///< elements (all roots)
    bool empty() const { return values_.empty(); }                         ///< size() == 0
    T* data() { return values_.data(); }                                   ///< the registered storage
    T* begin() { return values_.data(); }                                  ///< for range-for
    T* end() { return values_.data() + values_.size(); }                   ///< for range-for

private:
    void sync() { span_.reset(values_.data(), values_.size()); }
    RootSpan span_;
    std::vector<T> values_;
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
    OwnedHeap(const OwnedHeap&) = delete;
    OwnedHeap& operator=(const OwnedHeap&) = delete;

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
