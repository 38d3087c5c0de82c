// SPDX-License-Identifier: MIT
// The callee-saved registers of the calling thread, stored where a conservative scan reads them:
// the own-stack scan (stack_scan.cpp) and a thread parking for another's collection (threads.cpp).
// The spill is one short instruction sequence per architecture (as MicroPython's ports'
// gchelper): it stores exactly the general-purpose callee-saved registers, and so, on a
// hard-float Cortex-M, touches no FP register (__builtin_unwind_init saves d8-d15 too, which
// gives the collecting thread an FP context). Elsewhere the portable spill: __builtin_unwind_init
// makes the calling frame save every callee-saved register in its prologue, and setjmp stores
// the current ones in a buffer on that frame. Always inlined into the frame that stays live
// while the stack is scanned, but for the setjmp itself, a call of its own: GCC never inlines a
// function that calls setjmp (i386, AArch64 and RISC-V builds failed to compile; the setjmp
// call may clobber a register first, the i386 PIC base in ebx, whose value the prologue saved).
#pragma once

#include <csetjmp>
#include <cstdint>

namespace uheap::detail {

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
__attribute__((noinline)) inline void setjmp_into(RegisterSpill& s) { setjmp(s.buffer); }
__attribute__((always_inline)) inline void spill_registers(RegisterSpill& s) {
    __builtin_unwind_init();  // (in the caller's frame: always inlined)
    setjmp_into(s);
}
#endif

}  // namespace uheap::detail
