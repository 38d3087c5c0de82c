#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of heap_fuzz.cpp into tests/fuzz/corpus/ (one small file per theme).

The encoding mirrors heap_fuzz.cpp: three header bytes (region size, misalignment / interior
pointers / mark-stack size, extra areas and callbacks), then operations. An op byte below 64 is
an alloc; op code X >= 1 is the byte 64 + X - 1. Each op reads its own argument bytes; callbacks
(finalisers, weak callbacks, the weak-sweep callback, the grow callback) read theirs from the
same stream when they run, so a seed only approximately follows its script after a collection.
Bytes past the end read as 0 (an alloc of 0 bytes: a no-op). Run: python3 gen_corpus.py
"""
import os
import random

OPS = ["alloc", "alloc_holder", "free", "free_bad", "realloc", "realloc_bad", "store_link",
       "store_root", "root_range", "weak_cell", "holder_toggle", "set_weak", "collect",
       "collect_start", "collect_root", "collect_end", "sweep_all", "lock", "control",
       "add_area", "scribble", "query"]
CODE = {name: i for i, name in enumerate(OPS)}

# Header bits (byte 1 and 2).
STACK = {1: 0, 2: 1, 4: 2, 64: 3, 256: 4, 3: 5, 8: 6, 16: 7}  # mark_stack_entries -> index
INTERIOR = 16
GROW, STRESS, COLLECT_CB, ROOT_CB, BAD_CREATE = 0x04, 0x18, 0x20, 0x40, 0x80
# Alloc flag byte: bits 0-2 are the heap's flags; both of bits 3-4 add kDestructor (the harness
# writes its DestructorFn into the last word), and both of bits 5-6 then leave that word zero.
DESTRUCTOR, DESTRUCTOR_ZERO = 0x18, 0x60


def header(size=100, misalign=0, interior=False, stack=256, extra=(), flags=0):
    """size byte: region = 2048 + size * 250 bytes. extra: (size byte, misalign) per area."""
    h1 = misalign | (INTERIOR if interior else 0) | STACK[stack] << 5
    out = [size, h1, (len(extra) & 3) | flags]
    for s, m in extra:  # area = 1536 + s * 64 bytes
        out += [s, m]
    return out


def op(name, *args):
    c = CODE[name]
    return [0 if c == 0 else 64 + c - 1] + list(args)


def u16(v):
    return [v & 0xff, v >> 8]


# value(): kind byte, then its arguments
def v_null():
    return [0]


def v_obj(i):
    return [1] + u16(i)


def v_interior(i, off):
    return [4] + u16(i) + u16(off)


def v_stale(slot=0):
    return [5, slot]


def v_garbage(b=7):
    return [6, b]


# place(): where a new object goes. root(k, w) keeps it alive; link(i, w) stores it in object i.
def root(k, w):
    return [k | (w << 3)]


def link(i, w):
    return [4] + u16(i) + [w]


def nowhere():
    return [7]


def alloc(size_class=2, k=0, extra=(), flags=0, place=None):
    """size_class: 0 zero, 1 one byte, 2 k blocks, 3 k blocks + 1, 4 k blocks - 1,
    5 (1+e0%64) blocks - e1, 6 large (u16 extra), 7 huge, 8 4 KB multiples, 9 2-4 blocks."""
    return op("alloc", size_class, k, *extra, flags) + (place if place is not None else nowhere())


def small(n_blocks, flags=0, place=None):
    return alloc(2, n_blocks - 1, (), flags, place)


def holder(weak=False, index=0, extra_blocks=0, finaliser=False, n_words=16, double=0, place=None):
    d = (1 if weak else 0) | (index << 1) | (extra_blocks << 5) | (0x80 if finaliser else 0)
    args = [d] + ([double] if weak else [n_words - 1, double])
    return op("alloc_holder", *args) + (place if place is not None else nowhere())


def collect(callback_bytes=()):
    # the weak-sweep callback reads one byte (odd: run one nested op)
    return op("collect") + list(callback_bytes) + [0]


def collect3(*middle, callback_bytes=()):
    return op("collect_start") + [b for m in middle for b in m] + op("collect_end") + list(callback_bytes) + [0]


def seeds():
    s = {}
    base = header()
    # ---- allocation sizes and flags
    s["alloc_sizes"] = base + alloc(0) + alloc(1, place=root(0, 0)) + alloc(2, 3, place=root(0, 1)) + \
        alloc(3, 2, place=root(0, 2)) + alloc(4, 1, place=root(0, 3)) + alloc(5, 0, (40, 5), place=root(0, 4)) + \
        alloc(6, 0, u16(30000)) + alloc(7, 0, (3,)) + alloc(8, 0, (2,), place=root(1, 0)) + alloc(9, 0, (1,), place=root(1, 1))
    s["alloc_flags"] = base + sum((small(1 + f % 3, f, root(0, f)) for f in range(8)), []) + collect([0, 0, 0, 0]) + \
        op("sweep_all") + [0] * 8
    s["alloc_until_full"] = header(size=0, stack=2) + sum((small(8, 0, root(i % 2, i % 16)) for i in range(40)), []) + \
        alloc(6, 0, u16(60000))
    # ---- graphs, cycles and collection
    g = list(base)
    for i in range(8):
        g += small(1 + i % 3, 0, nowhere())
    for i in range(8):
        g += op("store_link", *u16(i), i % 4, *v_obj((i + 1) % 8))
    g += op("store_root", 0, *v_obj(0)) + collect() + op("store_root", 0, *v_null()) + collect() + collect()
    s["graph_cycle"] = g
    chain = header(stack=1)
    for i in range(30):
        chain += small(2, 0, link(i, 0) if i else root(0, 0))
    s["deep_chain_stack1"] = chain + collect() + collect3(op("collect_root", 0)) + collect()
    wide = header(stack=4, size=200)
    wide += small(12, 0, root(0, 0))
    for i in range(40):
        wide += small(1, 0, link(0, i))
    s["wide_spill_stack4"] = wide + collect() + op("store_root", 0, *v_null()) + collect()
    s["interior_pointers"] = header(interior=True) + small(4, 0, nowhere()) + small(2, 0, nowhere()) + \
        op("store_root", 0, *v_interior(0, 37)) + op("store_link", *u16(0), 0, *v_interior(1, 33)) + collect() + \
        op("store_root", 0, *v_null()) + collect()
    s["no_interior_pointers"] = base + small(4, 0, nowhere()) + op("store_root", 0, *v_interior(0, 40)) + collect()
    s["noscan_shrink"] = base + small(4, 2, root(0, 0)) + small(1, 0, nowhere()) + \
        op("store_link", *u16(0), 0, *v_obj(1)) + op("realloc", 0x3, *u16(0), 1, 7, 0) + collect()
    # ---- free
    s["free_valid_and_double"] = base + small(1, 0, root(0, 0)) + small(3, 0, root(0, 1)) + op("free", *u16(0)) + \
        op("free_bad", 0, 0) + op("free", *u16(0)) + op("free_bad", 0, 1) + small(1, 0, nowhere()) + op("free_bad", 0, 2)
    s["free_bad_pointers"] = base + small(3, 0, root(0, 0)) + op("free_bad", 1, *u16(0), *u16(17)) + \
        op("free_bad", 2) + op("free_bad", 3) + op("free_bad", 4, 9) + op("free_bad", 5, 0, *u16(77)) + \
        op("free_bad", 6) + op("query", 0, 5, 0, *u16(3)) + op("query", 1, *u16(0), *u16(40))
    s["free_weak_refused"] = base + small(2, 4, root(0, 0)) + op("free", *u16(0)) + op("set_weak", 0, *u16(0)) + \
        op("set_weak", 1, 2) + op("set_weak", 1, 6) + collect() + op("store_root", 0, *v_null()) + collect([0, 0])
    # ---- realloc
    r = base + small(2, 0, root(0, 0)) + small(1, 0, root(0, 1))
    r += op("realloc", 0x3, *u16(0), 0, 3)      # same size
    r += op("realloc", 0x3, *u16(0), 2, 1, 0)   # grow a little
    r += op("realloc", 0x2, *u16(0), 3, 50, 0)  # grow a lot, no move
    r += op("realloc", 0x3, *u16(0), 3, 50, 0)  # grow a lot, move
    r += op("realloc", 0x3, *u16(1), 1, 2, 0)   # shrink
    r += op("realloc", 0x3, *u16(1), 4)         # to 0
    r += op("realloc", 0x0, 9)                  # realloc(null)
    r += op("realloc_bad", 2, 1) + op("realloc_bad", 0, 3, 1) + op("realloc_bad", 1, *u16(0), *u16(5), 1)
    s["realloc_all"] = r
    s["realloc_weak"] = base + small(1, 4, root(0, 0)) + small(1, 0, root(0, 1)) + op("realloc", 0x3, *u16(0), 3, 60, 0) + \
        op("realloc", 0x3, *u16(0), 4) + op("realloc", 0x3, *u16(0), 1, 1, 0)
    s["realloc_collects"] = header(size=2, stack=2) + sum((small(6, 1, nowhere()) for _ in range(8)), []) + \
        small(4, 1, root(0, 0)) + op("realloc", 0x3, *u16(8), 3, 63, 0) + [2, 0, 0, 0]
    # ---- roots and weak slots
    rw = base + small(1, 0, nowhere()) + small(2, 0, nowhere()) + op("store_root", 2, *v_obj(0)) + \
        op("root_range", 2) + op("root_range", 6) + op("root_range", 0b1010) + op("root_range", 0x32) + collect() + \
        op("root_range", 0x0c) + op("root_range", 0x0d) + collect() + op("store_root", 0x83, *v_obj(0))
    s["root_ranges"] = rw
    wk = base + small(1, 0, root(0, 0)) + small(1, 0, nowhere()) + op("weak_cell", 0, *v_obj(0)) + \
        op("weak_cell", 1, *v_obj(1)) + op("weak_cell", 2, *v_garbage()) + op("weak_cell", 3, *v_stale()) + \
        op("weak_cell", 16) + op("weak_cell", 17) + op("weak_cell", 18) + op("weak_cell", 19) + op("weak_cell", 24) + \
        op("weak_cell", 25) + collect() + op("store_root", 0, *v_null()) + collect()
    s["weak_slots"] = wk
    s["holders"] = base + holder(False, 2, 1, False, 8, 1, root(0, 0)) + holder(True, 3, 0, True, double=1, place=root(0, 1)) + \
        small(1, 0, nowhere()) + op("store_root", 2, *v_obj(2)) + op("weak_cell", 3, *v_obj(2)) + collect() + \
        op("holder_toggle", 0) + op("holder_toggle", 0x10) + op("holder_toggle", 0x11) + \
        op("store_root", 0, *v_null()) + op("store_root", 1, *v_null()) + collect([0, 0]) + collect()
    s["holder_moves"] = base + holder(False, 1, 0, False, 4, 0, root(0, 0)) + op("realloc", 0x3, *u16(0), 3, 40, 0) + \
        collect() + op("free", *u16(0)) + collect()
    s["holder_freed_then_reused"] = base + holder(True, 0, 0, False, place=nowhere()) + op("weak_cell", 16) + \
        op("free", *u16(0)) + small(3, 0, root(0, 0)) + op("scribble", 1, 0, 0, 0, 0, 40, 0x41) + collect()
    # ---- finalisers and callbacks doing things (action byte after each finaliser)
    f = base + sum((small(1 + i % 2, 1, nowhere()) for i in range(6)), []) + small(2, 4, nowhere()) + small(1, 0, root(0, 0))
    f += op("collect", 1, 0, 2, 3, 1, 4, 5, 6, 7, 0, 9, 0, 0, 0)
    s["finaliser_actions"] = f
    f2 = base + sum((small(1, 1, nowhere()) for i in range(6)), []) + small(1, 0, root(0, 0))
    f2 += op("collect", 8, 0, 0, 10, 11, 0, 0, 12, 0, 13, 14, 3, 15, 2) + [0]
    s["finaliser_actions2"] = f2
    s["weak_callback_actions"] = base + small(1, 5, nowhere()) + small(2, 4, nowhere()) + small(1, 0, root(0, 0)) + \
        op("collect", 1, 0, 2, 3, 5) + [1] + small(1, 0, root(0, 2))
    s["weak_sweep_nested_ops"] = base + small(1, 1, nowhere()) + small(1, 0, root(0, 0)) + \
        op("collect", 0, 1) + small(2, 0, root(0, 3)) + op("collect", 1) + op("realloc", 0x3, *u16(0), 3, 30, 0)
    s["realloc_pinned_free"] = header(size=3, stack=2) + sum((small(7, 1, nowhere()) for _ in range(6)), []) + \
        small(3, 0, root(0, 0)) + op("realloc", 0x3, *u16(6), 3, 63, 0) + [16, 16, 16, 16, 16, 16, 0]
    # ---- kDestructor objects (indices are address order: allocation order in a fresh heap).
    # 0 dies (its DestructorFn frees it), 1 is kFinaliser | kDestructor and rooted (realloc: same
    # size, then grow and shrink refused), 2 a plain finaliser between them, 3 dies with its word
    # zero, 4 weak (DestructorFn, then the weak callback), 5 weak with its word zero, 6 freed,
    # 7 realloc'd to 0 (neither runs anything); 1 dies at the second collection, 8 at teardown.
    d = base + small(1, DESTRUCTOR, nowhere()) + small(2, DESTRUCTOR | 1, root(0, 0)) + small(1, 1, nowhere()) + \
        small(3, DESTRUCTOR | DESTRUCTOR_ZERO, nowhere()) + small(2, DESTRUCTOR | 4, nowhere()) + \
        small(2, DESTRUCTOR | DESTRUCTOR_ZERO | 4, nowhere()) + small(2, DESTRUCTOR, root(0, 1)) + \
        small(2, DESTRUCTOR, root(0, 2))
    d += op("realloc", 0x3, *u16(1), 0, 3) + op("realloc", 0x3, *u16(1), 2, 1, 0) + op("realloc", 0x3, *u16(1), 1, 0, 0)
    d += collect([2, 0, 0, 0, 0]) + op("free", *u16(1)) + op("realloc", 0x3, *u16(1), 4) + \
        op("store_root", 0, *v_null()) + collect([0]) + small(2, DESTRUCTOR, root(1, 0))
    s["destructors"] = d
    # ---- the three-step form
    t = base + small(2, 0, nowhere()) + small(2, 0, nowhere()) + small(1, 1, nowhere()) + op("store_root", 0x85, *v_obj(0))
    t += collect3(op("alloc", 3, 3, 0), op("collect_root", 1), op("collect_root", 2, *v_obj(1)),
                  op("collect_root", 0), op("collect"), op("collect_start"), op("sweep_all"), op("add_area", 0),
                  op("free", *u16(2)), op("query", 1, *u16(0), *u16(3)), op("realloc", 3, *u16(0)),
                  op("weak_cell", 0, *v_obj(1)), op("set_weak", 0, *u16(1)))
    t += op("collect_root", 0) + op("collect_end")
    s["three_step"] = t
    s["three_step_scribble"] = header(stack=1) + sum((small(2, 0, link(i, 1) if i else root(0, 0)) for i in range(20)), []) + \
        small(30, 0, nowhere()) + op("free", *u16(20)) + \
        collect3(op("collect_root", 1), op("scribble", 1, 0, 0, 0, 0, 64, 0xff), op("collect_root", 2, *v_obj(3)),
                 op("scribble", 3, 0, 0, 5, 0, 16, 0, *range(1, 17)), op("collect_root", 4))
    # ---- lock, control, areas, growth, scribbles, bad creates
    s["lock"] = base + small(1, 0, root(0, 0)) + op("lock", 0) + alloc(2, 0) + op("free", 0, 0) + \
        op("realloc", 3, 0, 0, 2, 1, 0) + op("free_bad", 2) + op("lock", 3) + op("lock", 1) + op("lock", 1) + op("lock", 3)
    s["control"] = base + op("control", 0 | 1 << 3) + sum((small(1, 0, nowhere()) for _ in range(6)), []) + \
        op("control", 0 | 3 << 3) + op("control", 1) + alloc(6, 0, u16(40000)) + op("control", 1 | 8) + \
        op("control", 2 | 8) + op("control", 3 | 8) + small(3, 0, nowhere()) + collect() + op("control", 5) + \
        op("control", 0)
    s["stress_mode"] = header(flags=STRESS | COLLECT_CB) + sum((small(1, 1, root(0, i) if i % 2 else nowhere())
                                                                for i in range(8)), [])
    s["areas"] = header(size=4, stack=16, extra=[(40, 3), (200, 7), (3, 1)]) + sum((small(5, 0, root(0, i)) for i in range(30)), []) + \
        op("add_area", 0, 100) + op("add_area", 2) + op("add_area", 3) + op("add_area", 4) + op("add_area", 1, 0) + \
        op("add_area", 5, 0, *u16(100), *u16(2000)) + alloc(6, 0, u16(9000), place=root(1, 0))
    s["grow_and_release"] = header(size=4, stack=8, flags=GROW) + sum((small(8, 0, root(0, i)) for i in range(10)), []) + \
        alloc(6, 0, u16(10000)) + [3, 10] + op("store_root", 0, *v_null()) + small(4, 0, root(1, 0)) + \
        alloc(8, 0, (3,), place=nowhere()) + [1, 1] + op("root_range", 0) + op("root_range", 1) + collect() + \
        op("sweep_all")
    s["grow_refused"] = header(size=0, stack=8, flags=GROW) + sum((small(16, 0, root(0, i)) for i in range(8)), []) + \
        alloc(6, 0, u16(20000)) + [0] + alloc(6, 0, u16(60000)) + [5, 0]
    s["scribble_free"] = base + sum((small(3, 0, root(0, i)) for i in range(6)), []) + op("free", *u16(1)) + \
        op("free", *u16(3)) + op("scribble", 0, 0, 0, 0, 0, 20, 0x77) + op("scribble", 1, *u16(1), 0, 0, 80, 0x13) + \
        op("scribble", 3, 0, 0, 0, 0, 12, 0, *range(40, 52)) + small(3, 0, root(1, 0)) + small(1, 0, root(1, 1)) + \
        collect() + small(3, 0, nowhere())
    s["bad_create"] = header(flags=BAD_CREATE) + small(1, 0, root(0, 0))
    s["tiny_heap"] = header(size=0, stack=256) + small(1, 0, root(0, 0))
    s["misaligned_region"] = header(misalign=13, stack=3, extra=[(10, 5)]) + sum((small(2, 1, nowhere()) for _ in range(12)), []) + \
        collect([0] * 12)
    # ---- lazy sweeping and incremental marking (heap_fuzz.cpp picks them from the size byte:
    # lazy unless size % 3 == 0, incremental when size // 3 % 3 == 1; then collect_start reads a
    # byte whose low bit asks for a step when no cycle runs, and a step reads its budget byte)
    lazy = header(size=100, stack=64)
    for i in range(30):
        lazy += small(1 + i % 4, 0, root(0, i % 16) if i % 3 == 0 else nowhere())
    lazy += collect() + op("free", *u16(2)) + small(3, 0, root(1, 0)) + op("control", 5 | 8 | 0x30) + \
        op("realloc", 3, 0, 0, 2, 1, 0) + small(1, 0, nowhere()) + collect() + op("query", 0)
    s["lazy_sweep"] = lazy
    inc = header(size=103, stack=64)
    for i in range(40):
        inc += small(1 + i % 3, 0, link(i, 1) if i else root(0, 0))
    inc += op("collect_start", 1, 1)  # start a cycle with a 5-word step
    for i in range(12):
        inc += small(1, 0, link(i * 3, 2)) + op("store_link", *u16(i * 3 + 1), 1, *v_obj(i)) + op("collect_start", 1)
    inc += op("store_root", 0, *v_null()) + op("collect_start", 255) + collect() + op("collect_start", 1, 2) + \
        op("sweep_all")
    s["incremental_cycle"] = inc
    # ---- a few random mixes (fixed seeds)
    rng = random.Random(1234)
    for n in range(4):
        data = header(size=rng.randrange(256), misalign=rng.randrange(16), interior=bool(n & 1),
                      stack=[1, 2, 4, 64][n], extra=[(rng.randrange(64), rng.randrange(16))], flags=GROW if n & 2 else 0)
        for _ in range(60):
            if rng.random() < 0.45:
                data += small(1 + rng.randrange(6), rng.randrange(8), root(rng.randrange(4), rng.randrange(16)) if rng.random() < 0.6 else nowhere())
            else:
                data += [64 + rng.randrange(21)] + [rng.randrange(256) for _ in range(rng.randrange(1, 6))]
        s["random_mix_%d" % n] = data
    return s


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    # Only its own files are (over)written: inputs added by hand (fixed crashes) stay.
    all_seeds = seeds()
    for name, data in sorted(all_seeds.items()):
        assert all(0 <= b < 256 for b in data), name
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(data))
    print("wrote %d seeds to %s" % (len(all_seeds), out))


if __name__ == "__main__":
    main()
