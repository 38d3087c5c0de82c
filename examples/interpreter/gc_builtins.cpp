// SPDX-License-Identifier: MIT
// Built-ins that expose the heap to programs, after MicroPython's gc and micropython modules:
// gc-collect, gc-mem-free, gc-mem-alloc, gc-threshold, gc-enable/disable, heap-lock/unlock,
// mem-info, plus the allocation counters, heap-verify and weak references; and for incremental
// collection gc-marking?, gc-step, heap-check-reachable and the --gc-stress check.
#include <cstdlib>
#include <utility>
#include <vector>

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

// Why a precise walk of the interpreter's objects: a store that skipped its write barrier loses an
// object only when a cycle is at a particular point, and the program notices only if the freed
// memory is reused and read later. Walking everything the interpreter can reach from its
// registered roots, by object layout, finds such an object as soon as the collection that freed it
// has ended (it reads as free: size_of() is 0, also while a lazy sweep has yet to free it).
// Objects that only C++ locals hold are not walked (the conservative stack scan keeps those).
// Only reads the heap (size_of), so it may run in EventHooks::on_collect_end; its own memory is
// host-side (std::vector).
bool find_lost_object(Value* lost, Value* holder_of_lost) {
    // Objects seen: one bit per block of each area's pool (one area: the interpreter never grows
    // its heap), reused from call to call. Values outside every pool are not objects of the heap.
    static std::vector<uheap::AreaPool> pools;
    static std::vector<std::vector<std::uint64_t>> seen;
    static std::vector<std::pair<Value, Value>> todo;  // (object, the object that refers to it; 0 = a root)
    pools.resize(vm.heap->area_count());
    seen.resize(pools.size());
    for (std::size_t a = 0; a < pools.size(); ++a) {
        pools[a] = vm.heap->area_pool(a);
        seen[a].assign((pools[a].n_blocks + 63) / 64, 0);
    }
    todo.clear();
    auto first_visit = [&](Value v) {
        for (std::size_t a = 0; a < pools.size(); ++a) {
            auto begin = reinterpret_cast<Value>(pools[a].begin);
            if (v < begin || v >= begin + pools[a].n_blocks * uheap::kBlockBytes) continue;
            std::size_t block = (v - begin) / uheap::kBlockBytes;
            std::uint64_t bit = std::uint64_t(1) << (block % 64);
            if ((seen[a][block / 64] & bit) != 0) return false;
            seen[a][block / 64] |= bit;
            return true;
        }
        return true;  // not in the heap: reported as lost below (size_of is 0)
    };
    auto visit = [&](Value v, Value holder) {
        if (is_object(v) && first_visit(v)) todo.emplace_back(v, holder);
    };
    for (std::size_t i = 0; i < sizeof(Roots) / sizeof(Value); ++i) visit(reinterpret_cast<const Value*>(&vm.roots)[i], 0);
    for (std::size_t i = 0; i < vm.sp; ++i) visit(vm.stack[i], 0);
    while (!todo.empty()) {
        auto [v, holder] = todo.back();
        todo.pop_back();
        if (vm.heap->size_of(reinterpret_cast<void*>(v)) == 0) {
            *lost = v;
            *holder_of_lost = holder;
            return true;
        }
        switch (type_of(v)) {
        case Type::pair: visit(car(v), v); visit(cdr(v), v); break;
        case Type::symbol: visit(as<Symbol>(v)->name, v); visit(as<Symbol>(v)->global, v); break;
        case Type::vector:
            for (std::size_t i = 0; i < as<Vector>(v)->length; ++i) visit(as<Vector>(v)->items()[i], v);
            break;
        case Type::table: visit(as<Table>(v)->buckets, v); break;
        case Type::closure:
            visit(as<Closure>(v)->names, v);
            visit(as<Closure>(v)->body, v);
            visit(as<Closure>(v)->env, v);
            break;
        case Type::frame:
            visit(as<Frame>(v)->parent, v);
            visit(as<Frame>(v)->names, v);
            for (std::size_t i = 0; i < aux_of(v); ++i) visit(as<Frame>(v)->vals()[i], v);
            break;
        case Type::error:
            visit(as<Error>(v)->kind, v);
            visit(as<Error>(v)->message, v);
            visit(as<Error>(v)->irritants, v);
            break;
        case Type::file: visit(as<File>(v)->path, v); break;
        case Type::weakref: visit(weakref_get(v), v); break;  // 0 once its target died
        case Type::string:
        case Type::primitive: break;
        }
    }
    return false;
}

void describe_lost(char* text, std::size_t size, Value lost, Value holder) {
    std::snprintf(text, size, "freed object %p is reachable, held by %p (type %d)", reinterpret_cast<void*>(lost),
                  reinterpret_cast<void*>(holder), holder != 0 ? static_cast<int>(type_of(holder)) : 0);
}

/// (heap-check-reachable): #t if every object reachable from the interpreter's roots is still
/// allocated, else a string naming the first one freed (a store without its write barrier).
Value heap_check_reachable(Args, std::size_t) {
    Value lost = 0;
    Value holder = 0;
    if (!find_lost_object(&lost, &holder)) return kTrue;
    char text[160];
    describe_lost(text, sizeof text, lost, holder);
    return make_string(text);
}

/// (gc-step words): one incremental step (starting a cycle if none runs); #f if the heap is not
/// incremental (or refused the step), #t otherwise.
Value gc_step(Args a, std::size_t) {
    if (!is_fixnum(a[0]) || fixnum_value(a[0]) < 0) type_error("non-negative integer expected", a[0]);
    return boolean(vm.heap->collect_step(static_cast<std::size_t>(fixnum_value(a[0]))) == uheap::Status::ok);
}

const PrimitiveSpec kGcPrimitives[] = {
    {"gc-collect", gc_collect, 0, 0},
    {"gc-mem-free", [](Args, std::size_t) { return size_value(vm.heap->info().free); }, 0, 0},
    {"gc-mem-alloc", [](Args, std::size_t) { return size_value(vm.heap->info().used); }, 0, 0},
    {"gc-threshold", gc_threshold, 0, 1},
    {"gc-enable", [](Args, std::size_t) { vm.heap->set_auto_collect(true); return kUnspecified; }, 0, 0},
    {"gc-disable", [](Args, std::size_t) { vm.heap->set_auto_collect(false); return kUnspecified; }, 0, 0},
    {"gc-marking?", [](Args, std::size_t) { return boolean(vm.heap->is_marking()); }, 0, 0},
    {"gc-step", gc_step, 1, 1},
    {"heap-check-reachable", heap_check_reachable, 0, 0},
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
    if (vm.pauses != nullptr && vm.pauses->all.count() > 0) {  // every stop: collections and incremental steps
        const uheap::PauseHistogram& all = vm.pauses->all;
        std::fprintf(out, ", %llu pauses: p50 %.1f us, p99 %.1f us, max %.1f us\n      by kind:",
                     (unsigned long long)all.count(), static_cast<double>(all.percentile_ns(0.5)) / 1e3,
                     static_cast<double>(all.percentile_ns(0.99)) / 1e3, static_cast<double>(all.max_ns()) / 1e3);
        const char* const kinds[3] = {"stop-the-world", "step", "final step"};
        for (unsigned k = 0; k < 3; ++k) {
            std::fprintf(out, "%s %s %llu (max %.1f us)", k == 0 ? "" : ",", kinds[k],
                         (unsigned long long)vm.pauses->count[k], static_cast<double>(vm.pauses->max_ns[k]) / 1e3);
        }
    }
    std::fputc('\n', out);
}

// Under --gc-stress: the walk after every collection, so a lost object stops the program at the
// end of the collection that freed it, before anything can reuse its memory.
void check_reachable(void*, const uheap::CollectionStats& stats) {
    Value lost = 0;
    Value holder = 0;
    if (!vm.check_reachable || !find_lost_object(&lost, &holder)) return;
    char text[160];
    describe_lost(text, sizeof text, lost, holder);
    std::fprintf(stderr, "gc-stress: after collection %llu: %s: a store without its write barrier?\n",
                 (unsigned long long)stats.index, text);
    std::abort();
}

void init_gc_builtins() { define_primitives(kGcPrimitives, sizeof kGcPrimitives / sizeof kGcPrimitives[0]); }

}  // namespace scheme
