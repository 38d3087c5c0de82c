// SPDX-License-Identifier: MIT
// Conservative scanning of the calling thread's registers and C stack.
//
// Callee-saved registers may hold the only pointer to an object, so they are spilled into this
// frame first (__builtin_unwind_init forces the compiler to save them all; setjmp stores them
// again in a buffer on the stack for good measure). Then every word from the innermost frame up
// to the base the host recorded is treated as a possible pointer.
#include <csetjmp>
#include <cstdint>
#include <cstring>

#include "heap_impl.hpp"

// Under AddressSanitizer with use-after-return detection, locals live in "fake stack" frames
// outside the real stack, and the real stack holds pointers to them: those frames are scanned too.
#if defined(__SANITIZE_ADDRESS__)
#define UHEAP_ASAN_FAKE_STACK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UHEAP_ASAN_FAKE_STACK 1
#endif
#endif
#ifdef UHEAP_ASAN_FAKE_STACK
extern "C" void* __asan_get_current_fake_stack();
extern "C" void* __asan_addr_is_in_fake_stack(void* fake_stack, void* address, void** begin, void** end);
#endif

namespace uheap::detail {
namespace {

// The stack holds other frames' padding and sanitizer redzones; reading them is the point, so
// AddressSanitizer must not instrument these loads. The words are copied a batch at a time into
// this frame (below the scanned range) and marked from there, so the marking loop's set-up is
// paid once per batch, not once per word.
__attribute__((no_sanitize("address"), noinline)) void scan_words_unchecked(HeapImpl& heap, std::uintptr_t begin,
                                                                             std::uintptr_t end) {
    constexpr std::size_t kBatchWords = 32;
    void* batch[kBatchWords];
    std::size_t n = 0;
    begin &= ~static_cast<std::uintptr_t>(sizeof(void*) - 1);
    for (std::uintptr_t at = begin; at + sizeof(void*) <= end; at += sizeof(void*)) {
        batch[n++] = *reinterpret_cast<void* const volatile*>(at);
        if (n == kBatchWords) {
            declare_defined(batch, sizeof batch);
            heap.mark_root_words(batch, n);
            n = 0;
        }
    }
    declare_defined(batch, n * sizeof(void*));
    if (n > 0) heap.mark_root_words(batch, n);
}

__attribute__((no_sanitize("address"), noinline)) void scan_stack_words(HeapImpl& heap, const void* lo,
                                                                         const void* hi) {
    auto begin = reinterpret_cast<std::uintptr_t>(lo);
    auto end = reinterpret_cast<std::uintptr_t>(hi);
    scan_words_unchecked(heap, begin, end);
#ifdef UHEAP_ASAN_FAKE_STACK
    if (void* fake_stack = __asan_get_current_fake_stack()) {
        begin &= ~static_cast<std::uintptr_t>(sizeof(void*) - 1);
        for (std::uintptr_t at = begin; at + sizeof(void*) <= end; at += sizeof(void*)) {
            void* word = *reinterpret_cast<void* const volatile*>(at);
            void* frame_begin = nullptr;
            void* frame_end = nullptr;
            if (__asan_addr_is_in_fake_stack(fake_stack, word, &frame_begin, &frame_end) != nullptr) {
                scan_words_unchecked(heap, reinterpret_cast<std::uintptr_t>(frame_begin),
                                     reinterpret_cast<std::uintptr_t>(frame_end));
            }
        }
    }
#endif
}

__attribute__((noinline)) void spill_registers_and_scan(HeapImpl& heap, const void* stack_base) {
    __builtin_unwind_init();
    std::jmp_buf registers;
    setjmp(registers);
    const void* innermost = __builtin_frame_address(0);
    // The jmp_buf lives in this frame; scan from whichever is lower so it is included.
    if (static_cast<const void*>(&registers) < innermost) innermost = &registers;
    if (innermost < stack_base) {
        scan_stack_words(heap, innermost, stack_base);
    } else {
        scan_stack_words(heap, stack_base, innermost);  // a stack that grows upwards
    }
}

}  // namespace
}  // namespace uheap::detail

namespace uheap {

// alloca places the zeroed bytes just below this frame, where the host's dead frames were.
// Not instrumented by AddressSanitizer: its alloca would get redzones the memset leaves alone.
__attribute__((no_sanitize("address"), noinline)) void clear_stack(std::size_t n_bytes) {
    void* below = __builtin_alloca(n_bytes);
    std::memset(below, 0, n_bytes);
    __asm__ __volatile__("" : : "r"(below) : "memory");  // the stores must happen
}

void Heap::set_stack_base(const void* stack_base) { detail::HeapImpl::of(*this).gc.stack_base = stack_base; }

void Heap::collect_stack() {
    detail::HeapImpl& self = detail::HeapImpl::of(*this);
    if (!self.admitted(detail::Op::report_roots)) return;
    // Without a stack base there is no stack to scan: said, not silently skipped.
    self.status = self.gc.stack_base == nullptr ? Status::no_roots : Status::ok;
    if (self.gc.stack_base == nullptr || self.gc.ignore_roots) return;
    detail::spill_registers_and_scan(self, self.gc.stack_base);
}

}  // namespace uheap
