// SPDX-License-Identifier: MIT
// Poisoning (HeapConfig::poison_freed): memory the heap does not hand out is made inaccessible to
// the host, so a host that keeps using an object the collector freed (a forgotten root) is
// stopped at the faulting line instead of reading whatever the next allocation put there.
//
// Three layers, each used when it is there:
//   the fill pattern       always: freed bytes read 0xdb..., never a valid pointer or a
//                          plausible small number, so a use-after-free fails loudly in any build;
//   AddressSanitizer       when the process runs under it (its interface is declared weak, so
//                          the library need not be built with ASan for a host that is);
//   Valgrind's memcheck    when the library was built with <valgrind/memcheck.h> (the client
//                          requests cost a few instructions, and do nothing outside Valgrind).
//
// Nothing of the heap itself reads a free block (the free space lives in the tables, outside the
// pool), so poisoning needs no unpoison/poison pair around the heap's own accesses: only around
// handing blocks out (allocation, growth in place) and taking them back (free, shrink, the census
// of the dead, a new or released area).
#include <cstring>

#include "heap_impl.hpp"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define UHEAP_HAVE_VALGRIND 1
#endif
#endif
#ifndef UHEAP_HAVE_VALGRIND
#define UHEAP_HAVE_VALGRIND 0
#endif

#if defined(__GNUC__) && defined(__ELF__)
// AddressSanitizer's manual poisoning interface, resolved only if its runtime is linked in.
extern "C" {
void __asan_poison_memory_region(void const volatile* addr, std::size_t size) __attribute__((weak));
void __asan_unpoison_memory_region(void const volatile* addr, std::size_t size) __attribute__((weak));
}
#define UHEAP_HAVE_ASAN_INTERFACE 1
#else
#define UHEAP_HAVE_ASAN_INTERFACE 0
#endif

namespace uheap::detail {
namespace {

constexpr unsigned char kPoisonByte = 0xdb;

void asan_poison(void* begin, std::size_t n_bytes) {
#if UHEAP_HAVE_ASAN_INTERFACE
    if (&__asan_poison_memory_region != nullptr) __asan_poison_memory_region(begin, n_bytes);
#else
    (void)begin, (void)n_bytes;
#endif
}

void asan_unpoison(void* begin, std::size_t n_bytes) {
#if UHEAP_HAVE_ASAN_INTERFACE
    if (&__asan_unpoison_memory_region != nullptr) __asan_unpoison_memory_region(begin, n_bytes);
#else
    (void)begin, (void)n_bytes;
#endif
}

void valgrind_no_access(void* begin, std::size_t n_bytes) {
#if UHEAP_HAVE_VALGRIND
    (void)VALGRIND_MAKE_MEM_NOACCESS(begin, n_bytes);
#else
    (void)begin, (void)n_bytes;
#endif
}

void valgrind_undefined(void* begin, std::size_t n_bytes) {
#if UHEAP_HAVE_VALGRIND
    (void)VALGRIND_MAKE_MEM_UNDEFINED(begin, n_bytes);
#else
    (void)begin, (void)n_bytes;
#endif
}

void valgrind_defined(void* begin, std::size_t n_bytes) {
#if UHEAP_HAVE_VALGRIND
    (void)VALGRIND_MAKE_MEM_DEFINED(begin, n_bytes);
#else
    (void)begin, (void)n_bytes;
#endif
}

}  // namespace

void poison_blocks(void* begin, std::size_t n_bytes) {
    valgrind_undefined(begin, n_bytes);  // a tool bridge may have told memcheck they are freed
    std::memset(begin, kPoisonByte, n_bytes);
    asan_poison(begin, n_bytes);
    valgrind_no_access(begin, n_bytes);
}

void unpoison_blocks(void* begin, std::size_t n_bytes) {
    asan_unpoison(begin, n_bytes);
    valgrind_undefined(begin, n_bytes);  // defined once allocation zeroes them
}

void unpoison_region(void* begin, std::size_t n_bytes) {
    asan_unpoison(begin, n_bytes);
    valgrind_defined(begin, n_bytes);
}

// Stack words a conservative scan copied: padding and dead slots are uninitialised to memcheck,
// and marking branches on every word, so without this each is an error report in the host's run.
void declare_defined(void* begin, std::size_t n_bytes) { valgrind_defined(begin, n_bytes); }


// A new area joins the heap: with poisoning on, its whole pool is free, so inaccessible.
void HeapImpl::adopt_area(Area* area) {
    areas.append(area);
    if (poisoning()) poison_blocks(area->pool, area->pool_bytes);
}

}  // namespace uheap::detail
