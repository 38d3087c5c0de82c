/* SPDX-License-Identifier: MIT */
/* System calls for a bare-metal newlib program (arm-none-eabi-gcc --specs=nosys.specs) run under
 * qemu-arm's Linux user mode, so the 32-bit Thumb code built for a Cortex-M runs on the build
 * machine (tests/embedded/qemu-c-api, tools/size-table).
 *
 * Why not semihosting (--specs=rdimon.specs): newlib's rdimon for ARMv6-M / ARMv7-M traps with
 * `bkpt 0xab`, which qemu-arm treats as semihosting only for an M-profile CPU, and qemu-arm 7.2
 * (Debian 12) aborts at load time for every M-profile -cpu: it gives M-profile guests a 2 GiB
 * address space, then sets up the Linux commpage at 0xffff0000 above it ("page_set_flags:
 * Assertion `end - 1 <= GUEST_ADDR_MAX' failed", from probe_guest_base; upstream QEMU skips the
 * commpage for M-profile CPUs since commit d713cf4d6c71). An A-profile or
 * ARMv6 CPU executes the same Thumb instructions, but there `bkpt` is a breakpoint (SIGTRAP). So
 * the program talks to qemu the way a Linux program does: `svc #0` with the call number in r7.
 *
 * What it provides: newlib's stack pointer (crt0 loads `__stack`, else 0x80000, which is not
 * mapped under qemu), a heap for newlib's malloc (stdio buffers), write to stdout / stderr, exit.
 * Everything else newlib may ask for answers as a character device that cannot be read. */
#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>

/* The stack crt0 switches to: 64 KiB of .data, not .bss, which crt0 clears while it runs on it. */
__asm__(".section .data.qemu_user_stack,\"aw\",%progbits\n"
        ".balign 8\n"
        ".space 65536\n"
        ".global __stack\n"
        "__stack:\n"
        ".previous\n");

/* Linux EABI system call: number in r7 (the Thumb frame pointer, saved here), arguments in r0-r2.
 * Thumb-1 instructions only, so the Cortex-M0+ build uses it as it is. */
__attribute__((naked, noinline)) static long linux_syscall(long a, long b, long c, long number) {
    (void)a, (void)b, (void)c, (void)number;
    __asm__ volatile("push {r7}\n\t"
                     "mov r7, r3\n\t"
                     "svc #0\n\t"
                     "pop {r7}\n\t"
                     "bx lr\n");
}

enum { kLinuxExitGroup = 248, kLinuxWrite = 4 };

__attribute__((noreturn)) void _exit(int status) {
    for (;;) linux_syscall(status, 0, 0, kLinuxExitGroup);
}

int _write(int fd, const char *text, int n_bytes) {
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    long written = linux_syscall(fd, (long)text, n_bytes, kLinuxWrite);
    if (written < 0) {
        errno = (int)-written;
        return -1;
    }
    return (int)written;
}

/* newlib's malloc (stdio buffers): 64 KiB of .bss. */
static union {
    long long align;
    unsigned char bytes[64 * 1024];
} heap_memory;
static size_t heap_used;

void *_sbrk(ptrdiff_t increment) {
    if (increment < 0 ? (size_t)-increment > heap_used : (size_t)increment > sizeof heap_memory.bytes - heap_used) {
        errno = ENOMEM;
        return (void *)-1;
    }
    void *previous = heap_memory.bytes + heap_used;
    heap_used += (size_t)increment;
    return previous;
}

int _read(int fd, char *buffer, int n_bytes) {
    (void)fd;
    (void)buffer;
    (void)n_bytes;
    return 0;
}
int _close(int fd) {
    (void)fd;
    return 0;
}
int _lseek(int fd, int offset, int whence) {
    (void)fd;
    (void)offset;
    (void)whence;
    errno = ESPIPE;
    return -1;
}
/* A terminal: stdout is line-buffered, so what a failing program printed is not lost. */
int _isatty(int fd) {
    (void)fd;
    return 1;
}
int _fstat(int fd, struct stat *status) {
    (void)fd;
    status->st_mode = S_IFCHR;
    return 0;
}
int _getpid(void) { return 1; }
/* abort() raises SIGABRT: exit as a shell reports a signal death. */
int _kill(int pid, int signal) {
    (void)pid;
    _exit(128 + signal);
}
