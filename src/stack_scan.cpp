// SPDX-License-Identifier: MIT
// Conservative scanning of the calling thread's registers and C stack, and of the stacks other
// attached threads published (threads.cpp).
//
// Callee-saved registers may hold the only pointer to an object, so they are spilled into this
// frame first (register_spill.hpp), then every word from the innermost frame up to the base the
// host recorded is treated as a possible pointer. A parked thread did the same before it parked:
// its stack from its published top up to its base holds its registers and every live frame.
#include <cstdint>
#include <cstring>

#include "heap_impl.hpp"
#include "register_spill.hpp"

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

// Every other attached thread is parked or stopped (stop_world()): its registers lie in its own
// frames, below the live ones, from its published top up to its base.
void HeapImpl::scan_other_threads(const ThreadRecord* me) {
    for (const ThreadRecord* t = threads->first; t != nullptr; t = t->next) {
        if (t == me || t->stack_top == nullptr) continue;
        if (t->stack_top < t->stack_base) {
            scan_stack_words(*this, t->stack_top, t->stack_base);
        } else {
            scan_stack_words(*this, t->stack_base, t->stack_top);  // a stack that grows upwards
        }
    }
}

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
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!built::kStackScan) {
        self.status = Status::unsupported;
        return;
    }
    self.gc.stack_base = stack_base;
}

void Heap::collect_stack() {
    detail::HeapImpl& self = detail::HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return;
    if (!built::kStackScan) {
        self.status = Status::unsupported;
        return;
    }
    if (!self.admitted(detail::Op::report_roots)) return;
    // With threads, an attached thread's own base is in its record; the others' stacks follow.
    const ThreadRecord* me = self.shared() ? self.threads->hooks.current(self.threads->hooks.user) : nullptr;
    const void* base = me != nullptr ? me->stack_base : self.gc.stack_base;
    // Without a stack base there is no stack to scan: said, not silently skipped.
    self.status = base == nullptr && !self.has_stacks() ? Status::no_roots : Status::ok;
    if (self.gc.ignore_roots) return;
    if (base != nullptr) detail::spill_registers_and_scan(self, base);
    if (self.shared()) self.scan_other_threads(me);
}

}  // namespace uheap
