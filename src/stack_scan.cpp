// SPDX-License-Identifier: MIT
// Conservative scanning of the calling thread's registers and C stack.
//
// Callee-saved registers may hold the only pointer to an object, so they are spilled into this
// frame first, then every word from the innermost frame up to the base the host recorded is
// treated as a possible pointer. The spill is one short instruction sequence per architecture
// (as MicroPython's ports' gchelper): it stores exactly the general-purpose callee-saved
// registers, and so, on a hard-float Cortex-M, touches no FP register (__builtin_unwind_init
// saves d8-d15 too, which gives the collecting thread an FP context). Elsewhere the portable
// spill: __builtin_unwind_init forces the compiler to save every callee-saved register, and
// setjmp stores them again in a buffer on the stack.
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
    constexpr std::size_t kBatchWords = kMicrocontroller ? 8 : 32;
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

// One of the spills below is compiled, whole: the general-purpose callee-saved registers of the
// ABI stored into `words`.
#if defined(__x86_64__) && !defined(_WIN64)
struct RegisterSpill {
    std::uintptr_t words[6];  // rbx, rbp, r12-r15 (System V)
};
__attribute__((always_inline)) inline void spill_registers(RegisterSpill& s) {
    __asm__ volatile(
        "movq %%rbx, 0(%0)\n\tmovq %%rbp, 8(%0)\n\tmovq %%r12, 16(%0)\n\t"
        "movq %%r13, 24(%0)\n\tmovq %%r14, 32(%0)\n\tmovq %%r15, 40(%0)"
        :
        : "r"(s.words)
        : "memory");
}
#elif defined(__arm__) && defined(__thumb2__)
struct RegisterSpill {
    std::uintptr_t words[8];  // r4-r11 (AAPCS; Cortex-M3/M4/M7/M33)
};
__attribute__((always_inline)) inline void spill_registers(RegisterSpill& s) {
    __asm__ volatile("stmia %0, {r4-r11}" : : "r"(s.words) : "memory");
}
#elif defined(__arm__) && defined(__thumb__)
struct RegisterSpill {
    std::uintptr_t words[8];  // r4-r11 (AAPCS; Cortex-M0/M0+/M23: r8-r11 reach memory through a low register)
};
__attribute__((always_inline)) inline void spill_registers(RegisterSpill& s) {
    std::uintptr_t scratch;
    __asm__ volatile(
        "str r4, [%1, #0]\n\tstr r5, [%1, #4]\n\tstr r6, [%1, #8]\n\tstr r7, [%1, #12]\n\t"
        "mov %0, r8\n\tstr %0, [%1, #16]\n\tmov %0, r9\n\tstr %0, [%1, #20]\n\t"
        "mov %0, r10\n\tstr %0, [%1, #24]\n\tmov %0, r11\n\tstr %0, [%1, #28]"
        : "=&l"(scratch)
        : "l"(s.words)
        : "memory");
}
#else
struct RegisterSpill {
    std::jmp_buf buffer;
};
__attribute__((always_inline)) inline void spill_registers(RegisterSpill& s) {
    __builtin_unwind_init();  // (in the caller's frame: always inlined)
    setjmp(s.buffer);
}
#endif

__attribute__((noinline)) void spill_registers_and_scan(HeapImpl& heap, const void* stack_base) {
    RegisterSpill registers;
    spill_registers(registers);
    const void* innermost = __builtin_frame_address(0);
    // The spill lives in this frame, below the registers its prologue saved; scan from
    // whichever is lower so both are included.
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

// The host's dead frames lie just below its own: clear_stack() zeroes n_bytes from the stack
// pointer down. Where it can, it has no frame of its own (naked: the bytes start right below the
// return address), so no slot it leaves unwritten keeps a dead frame's word; a frame's padding
// kept 1 of 1000 dead nodes alive in the guide's sample (g++ -O2 against a debug library).
#if defined(__x86_64__) && !defined(_WIN64)
__attribute__((naked, noinline)) void clear_stack(std::size_t /* n_bytes: rdi or r0 */) {
    __asm__(
        "mov %rdi, %rcx\n\t"   // count
        "mov %rsp, %rdi\n\t"
        "sub %rcx, %rdi\n\t"   // from rsp - n_bytes up to rsp (the return address stays)
        "xor %eax, %eax\n\t"
        "rep stosb\n\t"        // (the ABI leaves the direction flag clear)
        "ret");
}
#elif defined(__arm__) && defined(__thumb__)
__attribute__((naked, noinline)) void clear_stack(std::size_t /* n_bytes: rdi or r0 */) {
    __asm__(
        ".syntax unified\n\t"  // (GCC hands inline asm to a Thumb-1 assembler in divided syntax)
        "mov r1, sp\n\t"
        "lsrs r0, r0, #2\n\t"
        "lsls r0, r0, #2\n\t"  // whole words: no unaligned store on a Cortex-M0
        "subs r0, r1, r0\n\t"  // from sp - n_bytes up to sp
        "movs r2, #0\n"
        "1:\n\t"
        "cmp r0, r1\n\t"
        "bhs 2f\n\t"
        "str r2, [r0]\n\t"
        "adds r0, r0, #4\n\t"
        "b 1b\n"
        "2:\n\t"
        "bx lr");
}
#else
// alloca places the zeroed bytes just below this frame. Not instrumented by AddressSanitizer:
// its alloca would get redzones the memset leaves alone.
__attribute__((no_sanitize("address"), noinline)) void clear_stack(std::size_t n_bytes) {
    void* below = __builtin_alloca(n_bytes);
    std::memset(below, 0, n_bytes);
    __asm__ __volatile__("" : : "r"(below) : "memory");  // the stores must happen
}
#endif

void Heap::set_stack_base(const void* stack_base) {
    detail::HeapImpl& self = detail::HeapImpl::of(*this);
    if (!built::kStackScan) {
        self.status = Status::unsupported;
        return;
    }
    self.gc.stack_base = stack_base;
}

void Heap::collect_stack() {
    detail::HeapImpl& self = detail::HeapImpl::of(*this);
    if (!built::kStackScan) {
        self.status = Status::unsupported;
        return;
    }
    if (!self.admitted(detail::Op::report_roots)) return;
    // Without a stack base there is no stack to scan: said, not silently skipped.
    self.status = self.gc.stack_base == nullptr ? Status::no_roots : Status::ok;
    if (self.gc.stack_base == nullptr || self.gc.ignore_roots) return;
    detail::spill_registers_and_scan(self, self.gc.stack_base);
}

}  // namespace uheap
