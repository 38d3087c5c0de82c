// SPDX-License-Identifier: MIT
// The C API: each function forwards to the Heap member (or free function) of the same name. No
// behaviour lives here beyond passing C types for C++ ones (the walk and event-hook trampolines).
#include "uheap/uheap.h"

#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include "uheap/heap.hpp"
#include "uheap/version.h"

namespace {

uheap::Heap* cxx(uheap_t* heap) { return reinterpret_cast<uheap::Heap*>(heap); }
const uheap::Heap* cxx(const uheap_t* heap) { return reinterpret_cast<const uheap::Heap*>(heap); }
uheap_status_t c_status(uheap::Status s) { return static_cast<uheap_status_t>(s); }

// ---- the C structs are the C++ ones --------------------------------------------------------
//
// Where uheap.h mirrors a C++ struct, the two are proven identical at build time: the same
// number of fields (a field added on one side only fails the build), each field at the same
// offset with the same size, passed the same way (abi_same below), and the same size and
// alignment overall. The registration nodes are then handed to the heap as they are (the heap
// links the host's node), and the reports are copied byte for byte.

// Counts the fields of an aggregate: the most initialisers T{...} accepts.
struct AnyField {
    template <class T>
    operator T() const;  // never defined: only used unevaluated
};
template <class T, class Indices, class = void>
struct BracesFrom : std::false_type {};
template <class T, std::size_t... I>
struct BracesFrom<T, std::index_sequence<I...>, std::void_t<decltype(T{(static_cast<void>(I), AnyField{})...})>>
    : std::true_type {};
template <class T, std::size_t N = 0>
constexpr std::size_t field_count() {
    if constexpr (BracesFrom<T, std::make_index_sequence<N + 1>>::value) {
        return field_count<T, N + 1>();
    } else {
        return N;
    }
}

// C struct C mirrors C++ struct X (declared by UHEAP_MIRROR_STRUCT).
template <class C, class X>
struct Mirror : std::false_type {};

template <class C, class X>
constexpr bool abi_same();

// Function types whose results and parameters pair up under abi_same.
template <class C, class X>
struct FnSame : std::false_type {};
template <class R, class... A, class S, class... B>
struct FnSame<R(A...), S(B...)> {
    static constexpr bool check() {
        if constexpr (sizeof...(A) != sizeof...(B)) {
            return false;
        } else {
            return abi_same<R, S>() && (abi_same<A, B>() && ...);
        }
    }
    static constexpr bool value = check();
};

// What a C pointer points at and what the C++ pointer or reference refers to: the same type,
// mirrored structs, or function types that pair up; same constness.
template <class C, class X>
constexpr bool pointee_same() {
    if constexpr (std::is_const_v<C> != std::is_const_v<X>) {
        return false;
    } else {
        using Cb = std::remove_cv_t<C>;
        using Xb = std::remove_cv_t<X>;
        return std::is_same_v<Cb, Xb> || Mirror<Cb, Xb>::value || FnSame<Cb, Xb>::value;
    }
}

// A C type C and a C++ type X that hold and pass the same bits: the same type, an enum and its
// underlying type, pointers to the same or mirrored things, a C pointer for a C++ reference.
template <class C, class X>
constexpr bool abi_same() {
    if constexpr (std::is_same_v<C, X>) {
        return true;
    } else if constexpr (std::is_enum_v<X> && !std::is_enum_v<C>) {
        return std::is_same_v<C, std::underlying_type_t<X>>;
    } else if constexpr (std::is_pointer_v<C> && std::is_pointer_v<X>) {
        return pointee_same<std::remove_pointer_t<C>, std::remove_pointer_t<X>>();
    } else if constexpr (std::is_pointer_v<C> && std::is_reference_v<X>) {
        return pointee_same<std::remove_pointer_t<C>, std::remove_reference_t<X>>();
    } else if constexpr (Mirror<C, X>::value) {  // a struct field that is itself a mirror
        return true;
    } else if constexpr (std::is_array_v<C> && std::is_array_v<X>) {  // arrays of the same length and kind
        return std::extent_v<C> == std::extent_v<X> && abi_same<std::remove_extent_t<C>, std::remove_extent_t<X>>();
    } else {
        return false;
    }
}

// Declares that C mirrors X, with n fields each; the fields follow, one UHEAP_MIRROR_FIELD each.
#define UHEAP_MIRROR_STRUCT(C, X, n)                                                                     \
    template <>                                                                                          \
    struct Mirror<C, X> : std::true_type {};                                                             \
    static_assert(field_count<C>() == (n) && field_count<X>() == (n),                                    \
                  #C " and " #X " have " #n " fields each: a new field needs its twin and a check here"); \
    static_assert(sizeof(C) == sizeof(X) && alignof(C) == alignof(X), #C " and " #X ": same size");      \
    static_assert(std::is_standard_layout_v<C> && std::is_standard_layout_v<X> &&                        \
                      std::is_trivially_copyable_v<C> && std::is_trivially_copyable_v<X>,                \
                  #C " and " #X ": plain data")
#define UHEAP_MIRROR_FIELD(C, X, c_field, x_field)                                                     \
    static_assert(offsetof(C, c_field) == offsetof(X, x_field) &&                                      \
                      sizeof(std::declval<C&>().c_field) == sizeof(std::declval<X&>().x_field) &&      \
                      abi_same<decltype(C::c_field), decltype(X::x_field)>(),                          \
                  #C "." #c_field " is " #X "::" #x_field)
#define UHEAP_SAME_FIELD(C, X, field) UHEAP_MIRROR_FIELD(C, X, field, field)

UHEAP_MIRROR_STRUCT(uheap_root_range_t, uheap::RootRange, 4);
UHEAP_SAME_FIELD(uheap_root_range_t, uheap::RootRange, words);
UHEAP_SAME_FIELD(uheap_root_range_t, uheap::RootRange, n_words);
UHEAP_SAME_FIELD(uheap_root_range_t, uheap::RootRange, prev);
UHEAP_SAME_FIELD(uheap_root_range_t, uheap::RootRange, next);

static_assert(UHEAP_THREAD_CACHE_SIZES == uheap::kThreadCacheSizes, "uheap.h's count of cache sizes is threads.hpp's");
UHEAP_MIRROR_STRUCT(uheap_thread_cache_t, uheap::ThreadCache, 2);
UHEAP_SAME_FIELD(uheap_thread_cache_t, uheap::ThreadCache, next);
UHEAP_SAME_FIELD(uheap_thread_cache_t, uheap::ThreadCache, end);
UHEAP_MIRROR_STRUCT(uheap_thread_record_t, uheap::ThreadRecord, 9 + UHEAP_THREAD_CACHE_SIZES + 2);  // (each cache counts as a field)
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, stack_base);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, host);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, stack_top);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, lock_depth);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, in_heap);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, parked);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, prev);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, next);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, popping);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, caches);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, handed_out);
UHEAP_SAME_FIELD(uheap_thread_record_t, uheap::ThreadRecord, refills);

// (Declared before the hooks, whose stop_others takes one.)
template <>
struct Mirror<uheap_thread_set_t, uheap::ThreadSet> : std::true_type {};

UHEAP_MIRROR_STRUCT(uheap_thread_hooks_t, uheap::ThreadHooks, 8);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, lock);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, unlock);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, wait);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, notify_all);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, current);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, stop_others);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, resume_others);
UHEAP_SAME_FIELD(uheap_thread_hooks_t, uheap::ThreadHooks, user);

static_assert(field_count<uheap_thread_set_t>() == 7 && field_count<uheap::ThreadSet>() == 7, "a new field needs its twin");
static_assert(sizeof(uheap_thread_set_t) == sizeof(uheap::ThreadSet) && alignof(uheap_thread_set_t) == alignof(uheap::ThreadSet) &&
                  std::is_standard_layout_v<uheap::ThreadSet> && std::is_trivially_copyable_v<uheap::ThreadSet>,
              "uheap_thread_set_t and uheap::ThreadSet: same plain data");
UHEAP_SAME_FIELD(uheap_thread_set_t, uheap::ThreadSet, hooks);
UHEAP_SAME_FIELD(uheap_thread_set_t, uheap::ThreadSet, first);
UHEAP_SAME_FIELD(uheap_thread_set_t, uheap::ThreadSet, attached);
UHEAP_SAME_FIELD(uheap_thread_set_t, uheap::ThreadSet, parked);
UHEAP_SAME_FIELD(uheap_thread_set_t, uheap::ThreadSet, collector);
UHEAP_SAME_FIELD(uheap_thread_set_t, uheap::ThreadSet, stopping);
UHEAP_SAME_FIELD(uheap_thread_set_t, uheap::ThreadSet, caches_open);

UHEAP_MIRROR_STRUCT(uheap_weak_slot_t, uheap::WeakSlot, 3);
UHEAP_SAME_FIELD(uheap_weak_slot_t, uheap::WeakSlot, slot);
UHEAP_SAME_FIELD(uheap_weak_slot_t, uheap::WeakSlot, prev);
UHEAP_SAME_FIELD(uheap_weak_slot_t, uheap::WeakSlot, next);

UHEAP_MIRROR_STRUCT(uheap_info_t, uheap::Info, 12);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, total);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, used);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, free);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, max_free);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, num_1block);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, num_2block);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, max_block);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, objects);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, free_runs);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, areas);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, metadata_bytes);
UHEAP_SAME_FIELD(uheap_info_t, uheap::Info, fragmentation_permille);

UHEAP_MIRROR_STRUCT(uheap_counters_t, uheap::Counters, 18);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, allocations);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, frees);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, bytes_allocated);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, collections);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, objects_collected);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, last_collect_freed);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, last_pause_ns);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, max_pause_ns);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, total_pause_ns);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, used_bytes);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, peak_used_bytes);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, out_of_memory);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, mark_stack_overflows);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, finalisers_run);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, weak_notified);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, index_repairs);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, areas_grown);
UHEAP_SAME_FIELD(uheap_counters_t, uheap::Counters, areas_released);

UHEAP_MIRROR_STRUCT(uheap_span_t, uheap::HeapSpan, 5);
UHEAP_SAME_FIELD(uheap_span_t, uheap::HeapSpan, area);
UHEAP_SAME_FIELD(uheap_span_t, uheap::HeapSpan, first_block);
UHEAP_SAME_FIELD(uheap_span_t, uheap::HeapSpan, n_blocks);
UHEAP_SAME_FIELD(uheap_span_t, uheap::HeapSpan, object);
UHEAP_SAME_FIELD(uheap_span_t, uheap::HeapSpan, flags);

UHEAP_MIRROR_STRUCT(uheap_area_pool_t, uheap::AreaPool, 2);
UHEAP_SAME_FIELD(uheap_area_pool_t, uheap::AreaPool, begin);
UHEAP_SAME_FIELD(uheap_area_pool_t, uheap::AreaPool, n_blocks);

UHEAP_MIRROR_STRUCT(uheap_collection_stats_t, uheap::CollectionStats, 10);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, index);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, objects_freed);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, bytes_freed);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, objects_live);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, used_bytes);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, free_bytes);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, largest_free_bytes);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, free_runs);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, mark_stack_overflows);
UHEAP_SAME_FIELD(uheap_collection_stats_t, uheap::CollectionStats, pause_ns);

// The hooks' C function types take a uint8_t for FreeReason / PauseKind (their underlying type)
// and a pointer for the C++ reference to CollectionStats: the same bits in the same places. Even
// so the heap never calls a C hook through its C++ pointer type (undefined behaviour, which
// clang's -fsanitize=function reports from clang 17 on, C callees included): each C hook is
// called by a trampoline of the exact C++ type (below), which passes the exact C types.
UHEAP_MIRROR_STRUCT(uheap_event_hooks_t, uheap::EventHooks, 8);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, user);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, on_alloc);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, on_free);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, on_realloc);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, on_collect_start);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, on_collect_end);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, on_out_of_memory);
UHEAP_SAME_FIELD(uheap_event_hooks_t, uheap::EventHooks, on_pause);

// Not mirrors, converted field by field: the report's invariant is an unsigned in C (a byte in
// C++), and the config inverts lazy_sweep and makes poison_freed a three-way choice. The field
// counts still catch a field added on one side.
static_assert(field_count<uheap_verify_report_t>() == 4 && field_count<uheap::VerifyReport>() == 4,
              "uheap_verify_report_t and uheap::VerifyReport: a new field needs its twin and a copy in uheap_verify()");
static_assert(field_count<uheap_config_t>() == 10 && field_count<uheap::HeapConfig>() == 10,
              "uheap_config_t and uheap::HeapConfig: a new field needs its twin and a line in uheap_create()");

// Every other signature uheap.h shares with heap.hpp is the same type.
static_assert(std::is_same_v<uheap_destructor_fn, uheap::DestructorFn> &&
                  std::is_same_v<uheap_print_fn, uheap::PrintFn> && std::is_same_v<uheap_letter_fn, uheap::LetterFn> &&
                  std::is_same_v<uheap_finaliser_fn, uheap::FinaliserFn> &&
                  std::is_same_v<uheap_weak_freed_fn, uheap::WeakFreedFn> &&
                  std::is_same_v<uheap_weak_sweep_fn, uheap::WeakSweepFn> &&
                  std::is_same_v<uheap_root_fn, uheap::RootFn> && std::is_same_v<uheap_collect_fn, uheap::CollectFn> &&
                  std::is_same_v<uheap_grow_fn, uheap::GrowFn> && std::is_same_v<uheap_release_fn, uheap::ReleaseFn> &&
                  std::is_same_v<uheap_clock_fn, uheap::ClockFn>,
              "callback types match");
static_assert(FnSame<std::remove_pointer_t<uheap_walk_fn>, std::remove_pointer_t<uheap::WalkFn>>::value,
              "uheap_walk_fn is uheap::WalkFn with a pointer for the reference");

// A mirrored report, copied byte for byte.
template <class C, class X>
void copy_out(const X& from, C* to) {
    static_assert(Mirror<C, X>::value, "only mirrored structs are copied whole");
    std::memcpy(static_cast<void*>(to), &from, sizeof(C));
}

// uheap_set_event_hooks(): the heap's hooks are these trampolines (only for the members the host
// set, so an unset hook still costs the heap one branch), with the host's uheap_event_hooks_t
// as their `user`; each calls the host's hook with the exact C types, at the time of the event.
const uheap_event_hooks_t* c_hooks(void* user) { return static_cast<const uheap_event_hooks_t*>(user); }
void c_on_alloc(void* user, void* ptr, std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    const uheap_event_hooks_t* h = c_hooks(user);
    if (h->on_alloc != nullptr) h->on_alloc(h->user, ptr, n_bytes, flags, tag);
}
void c_on_free(void* user, void* ptr, std::size_t n_bytes, uheap::FreeReason reason) {
    const uheap_event_hooks_t* h = c_hooks(user);
    if (h->on_free != nullptr) h->on_free(h->user, ptr, n_bytes, static_cast<std::uint8_t>(reason));
}
void c_on_realloc(void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
    const uheap_event_hooks_t* h = c_hooks(user);
    if (h->on_realloc != nullptr) h->on_realloc(h->user, old_ptr, new_ptr, old_bytes, new_bytes);
}
void c_on_collect_start(void* user) {
    const uheap_event_hooks_t* h = c_hooks(user);
    if (h->on_collect_start != nullptr) h->on_collect_start(h->user);
}
void c_on_collect_end(void* user, const uheap::CollectionStats& stats) {
    const uheap_event_hooks_t* h = c_hooks(user);
    if (h->on_collect_end == nullptr) return;
    uheap_collection_stats_t c_stats;
    copy_out(stats, &c_stats);
    h->on_collect_end(h->user, &c_stats);
}
void c_on_out_of_memory(void* user, std::size_t n_bytes) {
    const uheap_event_hooks_t* h = c_hooks(user);
    if (h->on_out_of_memory != nullptr) h->on_out_of_memory(h->user, n_bytes);
}
void c_on_pause(void* user, uheap::PauseKind kind, std::uint64_t ns) {
    const uheap_event_hooks_t* h = c_hooks(user);
    if (h->on_pause != nullptr) h->on_pause(h->user, static_cast<std::uint8_t>(kind), ns);
}
// The trampoline standing for a C hook, or null for an unset one.
template <class Trampoline, class CHook>
Trampoline if_set(CHook c_hook, Trampoline trampoline) {
    return c_hook != nullptr ? trampoline : nullptr;
}
// Whether the heap's hooks are trampolines set by uheap_set_event_hooks() (then `user` is the
// host's struct), rather than hooks a C++ caller set.
bool from_c(const uheap::EventHooks& h) {
    return h.on_alloc == &c_on_alloc || h.on_free == &c_on_free || h.on_realloc == &c_on_realloc ||
           h.on_collect_start == &c_on_collect_start || h.on_collect_end == &c_on_collect_end ||
           h.on_out_of_memory == &c_on_out_of_memory || h.on_pause == &c_on_pause;
}

// uheap_walk(): the C callback and its user, behind the C++ one.
struct CWalk {
    uheap_walk_fn fn;
    void* user;
};
void walk_to_c(void* user, const uheap::HeapSpan& span) {
    const CWalk* walk = static_cast<const CWalk*>(user);
    uheap_span_t c_span;
    copy_out(span, &c_span);
    walk->fn(walk->user, &c_span);
}

}  // namespace

// The values of every enumeration and constant uheap.h repeats.
#define UHEAP_SAME_STATUS(c, x) static_assert(static_cast<int>(uheap::Status::x) == (c), #c " is uheap::Status::" #x)
UHEAP_SAME_STATUS(UHEAP_OK, ok);
UHEAP_SAME_STATUS(UHEAP_NULL_REGION, null_region);
UHEAP_SAME_STATUS(UHEAP_REGION_TOO_SMALL, region_too_small);
UHEAP_SAME_STATUS(UHEAP_SIZE_OVERFLOW, size_overflow);
UHEAP_SAME_STATUS(UHEAP_INVALID_ARGUMENT, invalid_argument);
UHEAP_SAME_STATUS(UHEAP_FOREIGN_POINTER, foreign_pointer);
UHEAP_SAME_STATUS(UHEAP_NOT_OBJECT_START, not_object_start);
UHEAP_SAME_STATUS(UHEAP_ALREADY_FREE, already_free);
UHEAP_SAME_STATUS(UHEAP_LOCKED, locked);
UHEAP_SAME_STATUS(UHEAP_COLLECTING, collecting);
UHEAP_SAME_STATUS(UHEAP_NOT_COLLECTING, not_collecting);
UHEAP_SAME_STATUS(UHEAP_OUT_OF_MEMORY, out_of_memory);
UHEAP_SAME_STATUS(UHEAP_TOO_LARGE, too_large);
UHEAP_SAME_STATUS(UHEAP_CORRUPTED, corrupted);
UHEAP_SAME_STATUS(UHEAP_WEAKLY_REFERENCED, weakly_referenced);
UHEAP_SAME_STATUS(UHEAP_PINNED, pinned);
UHEAP_SAME_STATUS(UHEAP_OVERLAP, overlap);
UHEAP_SAME_STATUS(UHEAP_ALREADY_REGISTERED, already_registered);
UHEAP_SAME_STATUS(UHEAP_NO_ROOTS, no_roots);
UHEAP_SAME_STATUS(UHEAP_UNSUPPORTED, unsupported);
UHEAP_SAME_STATUS(UHEAP_NOT_ATTACHED, not_attached);
static_assert(uheap::kFinaliser == UHEAP_FINALISER && uheap::kNoScan == UHEAP_NO_SCAN && uheap::kWeak == UHEAP_WEAK &&
                  uheap::kDestructor == UHEAP_DESTRUCTOR && uheap::kUninitialised == UHEAP_UNINITIALISED,
              "flag values match");
static_assert(uheap::kHiddenPointerMask == UHEAP_HIDDEN_POINTER_MASK, "uheap_hide_pointer() is uheap::hide_pointer()");
#define UHEAP_SAME_INVARIANT(c, x) \
    static_assert(static_cast<int>(uheap::Invariant::x) == (c), #c " is uheap::Invariant::" #x)
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_NONE, none);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I1_BLOCK_KIND, I1_block_kind);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I2_EXTENT, I2_extent);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I3_NO_MARKS, I3_no_marks);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I4_FLAGS_ON_HEADS, I4_flags_on_heads);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I5_FREE_INDEX, I5_free_index);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I6_ACCOUNTING, I6_accounting);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I7_HIGH_WATER, I7_high_water);
UHEAP_SAME_INVARIANT(UHEAP_INVARIANT_I8_LAZY_SWEEP, I8_lazy_sweep);
static_assert(static_cast<int>(uheap::FreeReason::explicit_free) == UHEAP_FREE_EXPLICIT_FREE &&
                  static_cast<int>(uheap::FreeReason::swept) == UHEAP_FREE_SWEPT &&
                  static_cast<int>(uheap::FreeReason::moved) == UHEAP_FREE_MOVED,
              "free reasons match");
static_assert(static_cast<int>(uheap::PauseKind::collection) == UHEAP_PAUSE_COLLECTION &&
                  static_cast<int>(uheap::PauseKind::step) == UHEAP_PAUSE_STEP &&
                  static_cast<int>(uheap::PauseKind::final_step) == UHEAP_PAUSE_FINAL_STEP &&
                  static_cast<int>(uheap::PauseKind::forced_final) == UHEAP_PAUSE_FORCED_FINAL,
              "pause kinds match");

extern "C" {

size_t uheap_block_bytes(void) { return uheap::kBlockBytes; }
const char* uheap_status_name(uheap_status_t status) { return uheap::status_name(static_cast<uheap::Status>(status)); }
const char* uheap_invariant_name(uheap_invariant_t invariant) {
    return uheap::invariant_name(static_cast<uheap::Invariant>(invariant));
}
const char* uheap_version(void) { return uheap::version(); }
uint32_t uheap_version_number(void) { return UHEAP_VERSION_NUMBER; }
unsigned uheap_features(void) { return uheap::features(); }

uheap_t* uheap_create(void* region, size_t region_bytes, const uheap_config_t* config, uheap_status_t* status) {
    uheap::HeapConfig cfg;
    if (config != nullptr) {
        cfg.mark_stack_entries = config->mark_stack_entries;
        cfg.interior_pointers = config->interior_pointers;
        cfg.collect_on_every_alloc = config->collect_on_every_alloc;
        cfg.lazy_sweep = !config->eager_sweep;
        cfg.incremental = config->incremental;
        cfg.mark_stack = config->mark_stack;
        cfg.mark_stack_bytes = config->mark_stack_bytes;
        cfg.control = config->control;
        cfg.control_bytes = config->control_bytes;
        if (config->poison == UHEAP_POISON_ON) cfg.poison_freed = true;
        if (config->poison == UHEAP_POISON_OFF) cfg.poison_freed = false;
    }
    uheap::Status s;
    uheap::Heap* heap = uheap::Heap::create(region, region_bytes, cfg, &s);
    if (status != nullptr) *status = c_status(s);
    return reinterpret_cast<uheap_t*>(heap);
}

uheap_status_t uheap_add_area(uheap_t* heap, void* region, size_t region_bytes) {
    return c_status(cxx(heap)->add_area(region, region_bytes));
}
uheap_status_t uheap_retire(uheap_t* heap) { return c_status(cxx(heap)->retire()); }
size_t uheap_region_bytes_for(size_t n_bytes) { return uheap::Heap::region_bytes_for(n_bytes); }
size_t uheap_blocks_for_bytes(size_t n_bytes) { return uheap::blocks_for_bytes(n_bytes); }
size_t uheap_control_bytes(void) { return uheap::Heap::control_bytes(); }
size_t uheap_default_mark_stack_entries(size_t region_bytes) {
    return uheap::Heap::default_mark_stack_entries(region_bytes);
}

void* uheap_alloc(uheap_t* heap, size_t n_bytes, unsigned flags) { return cxx(heap)->alloc(n_bytes, flags); }
void* uheap_alloc_tagged(uheap_t* heap, size_t n_bytes, unsigned flags, uint16_t tag) {
    return cxx(heap)->alloc(n_bytes, flags, tag);
}
uheap_status_t uheap_free(uheap_t* heap, void* ptr) { return c_status(cxx(heap)->free(ptr)); }
void* uheap_realloc(uheap_t* heap, void* ptr, size_t n_bytes, bool allow_move) {
    return cxx(heap)->realloc(ptr, n_bytes, allow_move);
}
size_t uheap_size_of(const uheap_t* heap, const void* ptr) { return cxx(heap)->size_of(ptr); }
void* uheap_object_start(const uheap_t* heap, const void* ptr) { return cxx(heap)->object_start(ptr); }
unsigned uheap_flags_of(const uheap_t* heap, const void* ptr) { return cxx(heap)->flags_of(ptr); }
uheap_status_t uheap_set_weak(uheap_t* heap, void* ptr) { return c_status(cxx(heap)->set_weak(ptr)); }
bool uheap_contains(const uheap_t* heap, const void* ptr) { return cxx(heap)->contains(ptr); }

uheap_status_t uheap_collect(uheap_t* heap) { return c_status(cxx(heap)->collect()); }
uheap_status_t uheap_collect_start(uheap_t* heap) { return c_status(cxx(heap)->collect_start()); }
void uheap_collect_root(uheap_t* heap, void* const* words, size_t n_words) { cxx(heap)->collect_root(words, n_words); }
void uheap_collect_stack(uheap_t* heap) { cxx(heap)->collect_stack(); }
uheap_status_t uheap_collect_end(uheap_t* heap) { return c_status(cxx(heap)->collect_end()); }
uheap_status_t uheap_sweep_all(uheap_t* heap) { return c_status(cxx(heap)->sweep_all()); }
size_t uheap_sweep_step(uheap_t* heap, size_t max_blocks) { return cxx(heap)->sweep_step(max_blocks); }
uheap_status_t uheap_collect_step(uheap_t* heap, size_t budget_words) { return c_status(cxx(heap)->collect_step(budget_words)); }
bool uheap_is_marking(const uheap_t* heap) { return cxx(heap)->is_marking(); }
void uheap_write_barrier(uheap_t* heap, const void* holder, const void* value) { cxx(heap)->write_barrier(holder, value); }
void uheap_write_barrier_holder(uheap_t* heap, const void* holder) { cxx(heap)->write_barrier(holder); }
bool uheap_collect_idle(uheap_t* heap, uint64_t deadline_ns) { return cxx(heap)->collect_idle(deadline_ns); }
void uheap_set_pacing(uheap_t* heap, unsigned pause_percent, size_t step_words_per_block) {
    cxx(heap)->set_pacing(pause_percent, step_words_per_block);
}
void uheap_set_stack_base(uheap_t* heap, const void* stack_base) { cxx(heap)->set_stack_base(stack_base); }

uheap_status_t uheap_enable_threads(uheap_t* heap, uheap_thread_set_t* set) {
    return c_status(cxx(heap)->enable_threads(reinterpret_cast<uheap::ThreadSet*>(set)));
}
uheap_status_t uheap_attach_thread(uheap_t* heap, uheap_thread_record_t* record, const void* stack_base) {
    return c_status(cxx(heap)->attach_thread(reinterpret_cast<uheap::ThreadRecord*>(record), stack_base));
}
void uheap_detach_thread(uheap_t* heap) { cxx(heap)->detach_thread(); }
void uheap_safe_point(uheap_t* heap) { cxx(heap)->safe_point(); }
void uheap_blocking(uheap_t* heap, uheap_blocking_fn fn, void* arg) { cxx(heap)->blocking(fn, arg); }
void* uheap_alloc_as(uheap_t* heap, uheap_thread_record_t* caller, size_t n_bytes, unsigned flags) {
    return cxx(heap)->alloc(*reinterpret_cast<uheap::ThreadRecord*>(caller), n_bytes, flags);
}
void uheap_clear_stack(size_t n_bytes) { uheap::clear_stack(n_bytes); }

// The host's node is the node the heap links (layouts proven above), never a copy.
uheap_status_t uheap_add_root_range(uheap_t* heap, uheap_root_range_t* range) {
    return c_status(cxx(heap)->add_root_range(reinterpret_cast<uheap::RootRange*>(range)));
}
void uheap_remove_root_range(uheap_t* heap, uheap_root_range_t* range) {
    cxx(heap)->remove_root_range(reinterpret_cast<uheap::RootRange*>(range));
}
uheap_status_t uheap_add_weak_slot(uheap_t* heap, uheap_weak_slot_t* slot) {
    return c_status(cxx(heap)->add_weak_slot(reinterpret_cast<uheap::WeakSlot*>(slot)));
}
void uheap_remove_weak_slot(uheap_t* heap, uheap_weak_slot_t* slot) {
    cxx(heap)->remove_weak_slot(reinterpret_cast<uheap::WeakSlot*>(slot));
}

void uheap_lock(uheap_t* heap) { cxx(heap)->lock(); }
void uheap_unlock(uheap_t* heap) { cxx(heap)->unlock(); }
bool uheap_is_locked(const uheap_t* heap) { return cxx(heap)->is_locked(); }
unsigned uheap_lock_depth(const uheap_t* heap) { return cxx(heap)->lock_depth(); }
bool uheap_is_collecting(const uheap_t* heap) { return cxx(heap)->is_collecting(); }
void uheap_set_auto_collect(uheap_t* heap, bool enabled) { cxx(heap)->set_auto_collect(enabled); }
bool uheap_auto_collect(const uheap_t* heap) { return cxx(heap)->auto_collect(); }
void uheap_set_threshold(uheap_t* heap, size_t n_bytes) { cxx(heap)->set_threshold(n_bytes); }
size_t uheap_threshold(const uheap_t* heap) { return cxx(heap)->threshold(); }
size_t uheap_allocated_since_collect(const uheap_t* heap) { return cxx(heap)->allocated_since_collect(); }

void uheap_set_root_callback(uheap_t* heap, uheap_root_fn fn, void* user) { cxx(heap)->set_root_callback(fn, user); }
void uheap_set_finaliser(uheap_t* heap, uheap_finaliser_fn fn, void* user) { cxx(heap)->set_finaliser(fn, user); }
uheap_finaliser_fn uheap_finaliser(const uheap_t* heap) { return cxx(heap)->finaliser(); }
void uheap_set_weak_callbacks(uheap_t* heap, uheap_weak_freed_fn freed, uheap_weak_sweep_fn after_sweep, void* user) {
    cxx(heap)->set_weak_callbacks(freed, after_sweep, user);
}
void uheap_set_collect_callback(uheap_t* heap, uheap_collect_fn fn, void* user) {
    cxx(heap)->set_collect_callback(fn, user);
}
void uheap_set_grow_callback(uheap_t* heap, uheap_grow_fn grow, uheap_release_fn release, void* user) {
    cxx(heap)->set_grow_callback(grow, release, user);
}
void uheap_set_clock(uheap_t* heap, uheap_clock_fn fn, void* user) { cxx(heap)->set_clock(fn, user); }
uint64_t uheap_now_ns(const uheap_t* heap) { return cxx(heap)->now_ns(); }
void uheap_set_event_hooks(uheap_t* heap, const uheap_event_hooks_t* hooks) {
    uheap::EventHooks h;
    if (hooks != nullptr) {
        h.on_alloc = if_set(hooks->on_alloc, &c_on_alloc);
        h.on_free = if_set(hooks->on_free, &c_on_free);
        h.on_realloc = if_set(hooks->on_realloc, &c_on_realloc);
        h.on_collect_start = if_set(hooks->on_collect_start, &c_on_collect_start);
        h.on_collect_end = if_set(hooks->on_collect_end, &c_on_collect_end);
        h.on_out_of_memory = if_set(hooks->on_out_of_memory, &c_on_out_of_memory);
        h.on_pause = if_set(hooks->on_pause, &c_on_pause);
        if (from_c(h)) h.user = const_cast<uheap_event_hooks_t*>(hooks);  // no hook set: none kept
    }
    cxx(heap)->set_event_hooks(h);
}
void uheap_event_hooks(const uheap_t* heap, uheap_event_hooks_t* hooks) {
    uheap::EventHooks h = cxx(heap)->event_hooks();
    if (from_c(h)) {
        *hooks = *c_hooks(h.user);
        return;
    }
    // Set from C++: what C can call as it is; the hooks whose C++ types are not C's read NULL.
    std::memset(static_cast<void*>(hooks), 0, sizeof *hooks);
    hooks->user = h.user;
    hooks->on_alloc = h.on_alloc;
    hooks->on_realloc = h.on_realloc;
    hooks->on_collect_start = h.on_collect_start;
    hooks->on_out_of_memory = h.on_out_of_memory;
}

void uheap_info(const uheap_t* heap, uheap_info_t* info) { copy_out(cxx(heap)->info(), info); }
void uheap_info_fast(const uheap_t* heap, uheap_info_t* info) { copy_out(cxx(heap)->info_fast(), info); }
void uheap_counters(const uheap_t* heap, uheap_counters_t* counters) { copy_out(cxx(heap)->counters(), counters); }

void uheap_dump_info(const uheap_t* heap, uheap_print_fn print, void* print_user) {
    cxx(heap)->dump_info(print, print_user);
}
void uheap_dump_alloc_table(const uheap_t* heap, uheap_print_fn print, void* print_user, uheap_letter_fn letter,
                            void* letter_user) {
    cxx(heap)->dump_alloc_table(print, print_user, letter, letter_user);
}

void uheap_walk(const uheap_t* heap, uheap_walk_fn fn, void* user) {
    CWalk walk{fn, user};
    cxx(heap)->walk(&walk_to_c, &walk);
}
size_t uheap_area_count(const uheap_t* heap) { return cxx(heap)->area_count(); }
uheap_area_pool_t uheap_area_pool(const uheap_t* heap, size_t index) {
    uheap_area_pool_t pool;
    copy_out(cxx(heap)->area_pool(index), &pool);
    return pool;
}

uheap_verify_report_t uheap_verify(const uheap_t* heap) {
    uheap::VerifyReport r = cxx(heap)->verify();
    return uheap_verify_report_t{static_cast<unsigned>(r.broken), r.area, r.block, r.detail};
}
uheap_status_t uheap_last_status(const uheap_t* heap) { return c_status(cxx(heap)->last_status()); }

}  // extern "C"
