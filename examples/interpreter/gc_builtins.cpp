// SPDX-License-Identifier: MIT
// Built-ins that expose the heap to programs, after MicroPython's gc and micropython modules:
// gc-collect, gc-mem-free, gc-mem-alloc, gc-threshold, gc-enable/disable, heap-lock/unlock,
// mem-info, plus the allocation counters, heap-verify and weak references.
#include "value.hpp"

namespace scheme {
namespace {

using Args = Value*;

void print_to_file(void* user, const char* text, std::size_t len) { std::fwrite(text, 1, len, static_cast<std::FILE*>(user)); }

Value size_value(std::uint64_t n) { return fixnum(static_cast<std::intptr_t>(n)); }

// Why two collections when an incremental cycle is running: collect() then finishes that cycle,
// and what the program allocated during it was born marked, so its garbage survives; a program
// that asks for a collection expects everything unreachable now to go (weak-cache.scm tests it).
Value gc_collect(Args, std::size_t) {
    std::uint64_t freed = 0;
    for (int pass = vm.heap->is_marking() ? 0 : 1; pass < 2; ++pass) {
        uheap::Status status = vm.heap->collect();
        if (status != uheap::Status::ok) fail("RuntimeError", "gc-collect: %s", uheap::status_name(status));
        freed += vm.heap->counters().last_collect_freed;
    }
    return size_value(freed);
}

/// (gc-threshold) reads the threshold in bytes (-1 when off); (gc-threshold n) sets it, -1 = off.
Value gc_threshold(Args a, std::size_t n) {
    if (n == 0) {
        std::size_t bytes = vm.heap->threshold();
        return bytes == 0 ? fixnum(-1) : size_value(bytes);
    }
    if (!is_fixnum(a[0])) type_error("integer expected", a[0]);
    std::intptr_t bytes = fixnum_value(a[0]);
    vm.heap->set_threshold(bytes < 0 ? 0 : static_cast<std::size_t>(bytes));
    return kUnspecified;
}

/// MicroPython's micropython.mem_info([verbose]): a stack line (here: the VM stack, in words),
/// the two-line summary, and with an argument the block map with our letters.
Value mem_info(Args a, std::size_t n) {
    std::printf("stack: %zu out of %zu\n", vm.sp, kStackCapacity);
    std::fflush(stdout);
    vm.heap->dump_info(print_to_file, stdout);
    if (n > 0 && truthy(a[0])) vm.heap->dump_alloc_table(print_to_file, stdout, object_letter, nullptr);
    return kUnspecified;
}

/// (gc-stats): (allocations bytes-allocated), cumulative; programs subtract two readings.
Value gc_stats(Args, std::size_t) {
    uheap::Counters c = vm.heap->counters();
    Value bytes = size_value(c.bytes_allocated);
    Value count = size_value(c.allocations);
    Value tail = cons(bytes, kNil);
    return cons(count, tail);
}

Value heap_counters(Args, std::size_t) {
    uheap::Counters c = vm.heap->counters();
    const std::pair<const char*, std::uint64_t> fields[] = {
        {"allocations", c.allocations},     {"bytes-allocated", c.bytes_allocated},
        {"collections", c.collections},     {"objects-collected", c.objects_collected},
        {"used-bytes", c.used_bytes},       {"peak-used-bytes", c.peak_used_bytes},
        {"out-of-memory", c.out_of_memory}, {"finalisers-run", c.finalisers_run}};
    std::size_t base = vm.sp;
    for (const auto& field : fields) {
        Value name = intern(field.first);
        push(cons(name, size_value(field.second)));
    }
    return list_from_stack(base);
}

Value heap_verify(Args, std::size_t) {
    uheap::VerifyReport report = vm.heap->verify();
    if (report.ok()) return kTrue;
    char text[160];
    std::snprintf(text, sizeof text, "%s: %s (area %zu, block %zu)", uheap::invariant_name(report.broken),
                  report.detail, report.area, report.block);
    return make_string(text);
}

Value weak_ref(Args a, std::size_t) {
    if (!has_type(a[0], Type::weakref)) type_error("weak reference expected", a[0]);
    Value target = weakref_get(a[0]);
    return target != 0 ? target : kFalse;
}

const PrimitiveSpec kGcPrimitives[] = {
    {"gc-collect", gc_collect, 0, 0},
    {"gc-mem-free", [](Args, std::size_t) { return size_value(vm.heap->info().free); }, 0, 0},
    {"gc-mem-alloc", [](Args, std::size_t) { return size_value(vm.heap->info().used); }, 0, 0},
    {"gc-threshold", gc_threshold, 0, 1},
    {"gc-enable", [](Args, std::size_t) { vm.heap->set_auto_collect(true); return kUnspecified; }, 0, 0},
    {"gc-disable", [](Args, std::size_t) { vm.heap->set_auto_collect(false); return kUnspecified; }, 0, 0},
    {"gc-isenabled", [](Args, std::size_t) { return boolean(vm.heap->auto_collect()); }, 0, 0},
    {"heap-lock", [](Args, std::size_t) { vm.heap->lock(); return size_value(vm.heap->lock_depth()); }, 0, 0},
    {"heap-unlock", [](Args, std::size_t) { vm.heap->unlock(); return size_value(vm.heap->lock_depth()); }, 0, 0},
    {"heap-locked", [](Args, std::size_t) { return size_value(vm.heap->lock_depth()); }, 0, 0},
    {"mem-info", mem_info, 0, 1},
    {"gc-stats", gc_stats, 0, 0},
    {"heap-counters", heap_counters, 0, 0},
    {"heap-verify", heap_verify, 0, 0},
    {"make-weak", [](Args a, std::size_t) { return make_weakref(a[0]); }, 1, 1},
    {"weak-ref", weak_ref, 1, 1},
    {"weak-alive?", [](Args a, std::size_t) { return boolean(weak_ref(a, 1) != kFalse); }, 1, 1},
};

}  // namespace

// The legend (also in README.md): L pair, S string, Y symbol, V vector, D hash table, C closure,
// P primitive, F environment frame, E error, O output port, W weak reference, h anything else.
char object_letter(void*, const void* object) {
    switch (type_of(value_of(object))) {
    case Type::pair: return 'L';
    case Type::string: return 'S';
    case Type::symbol: return 'Y';
    case Type::vector: return 'V';
    case Type::table: return 'D';
    case Type::closure: return 'C';
    case Type::primitive: return 'P';
    case Type::frame: return 'F';
    case Type::error: return 'E';
    case Type::file: return 'O';
    case Type::weakref: return 'W';
    }
    return 'h';
}

void print_heap_stats(std::FILE* out) {
    uheap::Counters c = vm.heap->counters();
    std::fprintf(out,
                 "heap: allocations %llu (%llu bytes), collections %llu (%llu objects freed), peak used %zu bytes,\n"
                 "      out of memory %llu, finalisers run %llu, mark stack overflows %llu, max pause %llu us\n",
                 (unsigned long long)c.allocations, (unsigned long long)c.bytes_allocated,
                 (unsigned long long)c.collections, (unsigned long long)c.objects_collected, c.peak_used_bytes,
                 (unsigned long long)c.out_of_memory, (unsigned long long)c.finalisers_run,
                 (unsigned long long)c.mark_stack_overflows, (unsigned long long)(c.max_pause_ns / 1000));
    const char* mode = !vm.incremental ? "stop-the-world" : vm.stress_step_words != 0 ? "incremental, stress" : "incremental";
    std::fprintf(out, "gc: %s, total pause %.3f ms", mode, static_cast<double>(c.total_pause_ns) / 1e6);
    if (vm.pauses != nullptr && vm.pauses->count() > 0) {  // every stop: collections and incremental steps
        std::fprintf(out, ", %llu pauses: p50 %.1f us, p99 %.1f us, max %.1f us",
                     (unsigned long long)vm.pauses->count(), static_cast<double>(vm.pauses->percentile_ns(0.5)) / 1e3,
                     static_cast<double>(vm.pauses->percentile_ns(0.99)) / 1e3,
                     static_cast<double>(vm.pauses->max_ns()) / 1e3);
    }
    std::fputc('\n', out);
}

void init_gc_builtins() { define_primitives(kGcPrimitives, sizeof kGcPrimitives / sizeof kGcPrimitives[0]); }

}  // namespace scheme
