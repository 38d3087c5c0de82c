// SPDX-License-Identifier: MIT
// The interpreter's object model: tagged values, the layout of every object on the uheap heap, and
// the interpreter state (roots, the VM value stack) shared by the other files.
//
// Values are one machine word:
//   ...xxxx1   fixnum (the integer is the word shifted right by one)
//   ...xx010   immediates: '(), #f, #t, unspecified, unbound, eof (tiny numbers, never in a pool)
//   ...00000   a pointer to the first byte of a heap object (objects are block-aligned)
// A conservative scanner treats any word equal to an object start as a reference; fixnums and
// immediates are never block-aligned, so they never retain anything by accident.
//
// Every object starts with a header word: its Type in the low byte, a per-type `aux` above it.
// Nothing here owns an object through C++: objects are reachable from the roots in Vm, from the
// VM stack, or from C++ locals that the collector finds by scanning the C stack.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "uheap/uheap.hpp"

namespace scheme {

using Value = std::uintptr_t;

inline constexpr Value kNil = 0x02;
inline constexpr Value kFalse = 0x0A;
inline constexpr Value kTrue = 0x12;
inline constexpr Value kUnspecified = 0x1A;
inline constexpr Value kUnbound = 0x22;  ///< a variable declared but not yet given a value
inline constexpr Value kEof = 0x2A;

enum class Type : std::uint8_t {
    pair = 1, string, symbol, vector, table, closure, primitive, frame, error, file, weakref
};

// ---- object layouts (each begins with `header`) -------------------------------------------

struct Pair { std::uintptr_t header; Value car, cdr; };
/// Pointer-free: allocated with kNoScan. `length` bytes follow, then a NUL.
struct String { std::uintptr_t header; std::size_t length; char* chars() { return reinterpret_cast<char*>(this + 1); } };
/// Interned; header aux = hash of the name. `global` is the top-level binding (kUnbound if none),
/// `special` the special-form id (0 = not a special form).
struct Symbol { std::uintptr_t header; Value name; Value global; std::uintptr_t special; };
struct Vector { std::uintptr_t header; std::size_t length; Value* items() { return reinterpret_cast<Value*>(this + 1); } };
/// Buckets are lists of (key . value) entries; in a weak table the value is a WeakRef, and header
/// aux = the heap's count of collections when the table last dropped its dead entries.
struct Table { std::uintptr_t header; std::size_t count; Value buckets; std::uintptr_t weak_values; };
/// header aux = required parameter count | kRestFlag. `names` lists the frame's variables:
/// the parameters (or let bindings) and then the body's internal defines.
struct Closure { std::uintptr_t header; Value names; Value body; Value env; };
using PrimitiveFn = Value (*)(Value* args, std::size_t n_args);
struct Primitive { std::uintptr_t header; PrimitiveFn fn; const char* name; std::uintptr_t arity; };
/// An environment frame: variable i of `names` has value vals()[i]. header aux = count.
/// An element of `names` is a symbol, or a (symbol init) binding list of a let form.
struct Frame { std::uintptr_t header; Value parent; Value names; Value* vals() { return reinterpret_cast<Value*>(this + 1); } };
/// A raised condition. kind is a symbol (Error, TypeError, MemoryError, ...).
struct Error { std::uintptr_t header; Value kind; Value message; Value irritants; };
/// An output port. Allocated with kFinaliser: the finaliser closes a file the program forgot.
struct File { std::uintptr_t header; std::FILE* fp; Value path; std::uintptr_t unused; };
/// A weak reference. `hidden_target` is registered as a uheap::WeakSlot: it holds the target
/// disguised by uheap::hide_pointer() (no scan sees it as a reference), and the heap sets it to
/// zero when the target dies; weakref_get() reveals it. Immediates are kept in `immediate`, plain
/// (a fixnum could look like a pool address, and they never die). Allocated kNoScan and kFinaliser
/// (to unlink the slot).
struct WeakRef { std::uintptr_t header; void* hidden_target; Value immediate; uheap::WeakSlot node; };
static_assert(sizeof(WeakRef) > uheap::kBlockBytes, "kNoScan is only kept on objects of two blocks or more");

inline constexpr std::uintptr_t kRestFlag = std::uintptr_t(1) << 20;

// ---- tests and accessors -------------------------------------------------------------------

inline bool is_fixnum(Value v) { return (v & 1) != 0; }
inline bool is_object(Value v) { return v != 0 && (v & 7) == 0; }
inline Value fixnum(std::intptr_t n) { return (static_cast<Value>(n) << 1) | 1; }
inline std::intptr_t fixnum_value(Value v) { return static_cast<std::intptr_t>(v) >> 1; }
inline Value boolean(bool b) { return b ? kTrue : kFalse; }
inline bool truthy(Value v) { return v != kFalse; }

inline Type type_of(Value v) { return static_cast<Type>(*reinterpret_cast<std::uintptr_t*>(v) & 0xff); }
inline std::uintptr_t aux_of(Value v) { return *reinterpret_cast<std::uintptr_t*>(v) >> 8; }
inline bool has_type(Value v, Type t) { return is_object(v) && type_of(v) == t; }
inline bool is_pair(Value v) { return has_type(v, Type::pair); }
inline bool is_symbol(Value v) { return has_type(v, Type::symbol); }
inline bool is_string(Value v) { return has_type(v, Type::string); }

template <class T> T* as(Value v) { return reinterpret_cast<T*>(v); }
inline Value value_of(const void* object) { return reinterpret_cast<Value>(object); }
inline Value car(Value v) { return as<Pair>(v)->car; }
inline Value cdr(Value v) { return as<Pair>(v)->cdr; }

// ---- interpreter state -----------------------------------------------------------------------

/// Thrown to unwind a language error; the error value itself waits in the rooted Vm::roots.raised
/// (an exception object lives where the collector cannot see it).
struct SchemeError {};
/// Thrown by (exit [code]) so main() can still close files and print statistics.
struct ExitRequest { int code; };

/// Every heap reference the interpreter keeps outside the heap and outside C++ locals. The whole
/// struct is one registered uheap::RootRange.
struct Roots {
    Value symbol_table = 0;   ///< Vector of buckets, each a list of symbols
    Value raised = 0;         ///< the error being unwound
    Value memory_error = 0;   ///< preallocated: raising it must not allocate
    Value locked_error = 0;   ///< preallocated MemoryError for a locked heap
    Value command_line = 0;
    Value current_datum = 0;  ///< the top-level form being evaluated
    Value emergency_frame = 0; ///< a guard handler's frame while the heap is locked (eval.cpp)
};

/// The VM value stack: procedure calls evaluate their operator and arguments onto it. It is a
/// registered root whose length follows the stack pointer, so popped slots retain nothing.
inline constexpr std::size_t kStackCapacity = 64 * 1024;

/// Every pause the collector made (EventHooks::on_pause), for --stats: all of them, and the count
/// and the longest of each kind (stop-the-world collection, incremental step, final step).
struct PauseStats {
    uheap::PauseHistogram all;
    std::uint64_t count[3] = {};
    std::uint64_t max_ns[3] = {};
    uheap::PauseKind last = uheap::PauseKind::step;  ///< the kind of the latest pause
    static void hook(void* user, uheap::PauseKind kind, std::uint64_t ns) {
        auto* self = static_cast<PauseStats*>(user);
        auto k = static_cast<unsigned>(kind) < 3 ? static_cast<unsigned>(kind) : 0u;
        self->last = kind;
        self->all.record(ns);
        ++self->count[k];
        if (ns > self->max_ns[k]) self->max_ns[k] = ns;
    }
};

struct Vm {
    uheap::Heap* heap = nullptr;
    /// --gc-stress: every allocation first does an incremental step of this many words (0: off),
    /// so a cycle is always running and a missing write barrier loses an object quickly.
    std::size_t stress_step_words = 0;
    bool incremental = false;  ///< the heap was created with HeapConfig::incremental (--gc=incremental)
    const PauseStats* pauses = nullptr;  ///< every pause, for --stats (null: not recorded)
    bool check_reachable = false;  ///< --gc-stress (incremental): check_reachable() after every collection
    Roots roots;
    std::size_t symbol_count = 0;
    Value stack[kStackCapacity];
    std::size_t sp = 0;
    uheap::RootRange roots_node;
    uheap::RootRange stack_node;
    const char* stack_base = nullptr;  ///< where main() started, for the recursion limit
    std::size_t stack_limit_bytes = 0;
    std::size_t open_files = 0;
    /// --profile: a snapshot was asked for (main.cpp's SIGUSR1 handler sets it, write_snapshot
    /// clears it). eval.cpp tests it at its safe point, the entry to a closure's body, and calls
    /// write_snapshot (main.cpp's, which owns the profiler); a signal handler can only set a flag
    /// like this one.
    volatile std::sig_atomic_t snapshot_requested = 0;
    void (*write_snapshot)() = nullptr;  ///< set by main() when it installs the handler
};

extern Vm vm;  // one interpreter per process

// ---- the write barrier -------------------------------------------------------------------------
//
// The rule (uheap's incremental collection, HeapConfig::incremental): after every store of a Value
// into a heap object, tell the heap which object was written and what was stored. Between the
// steps of a cycle, an object the collector has already scanned (or one born during the cycle,
// which is born marked and never scanned) must not be given a pointer the collector has not seen:
// the barrier marks the stored value when the holder is marked. It is needed for every such store,
// including the initialising stores into an object just allocated (born marked during a cycle) and
// the stores that unlink entries (the value may be reachable through nothing else). Stores into
// roots need none: Vm::roots, the VM stack (registered ranges) and C++ locals (the C stack) are
// scanned again by the cycle's final step. Stores of fixnums and immediates need none either (the
// barrier would ignore them), and neither do stores into kNoScan objects (strings, the weak
// `hidden_target` of a WeakRef). When no cycle runs the barrier is one load and test of a flag.
//
// UHEAP_INTERP_NO_BARRIER compiles the barrier out: only to measure what it costs (README.md).
// Such a build must not run --gc=incremental (main() refuses).

/// The write barrier for one store: `value` was just stored into the heap object that `holder`
/// points into (its first byte or any byte of it).
inline void barrier(const void* holder, Value value) {
#ifndef UHEAP_INTERP_NO_BARRIER
    vm.heap->write_barrier(holder, reinterpret_cast<const void*>(value));
#else
    (void)holder;
    (void)value;
#endif
}
inline void barrier(Value holder, Value value) { barrier(reinterpret_cast<const void*>(holder), value); }

/// The write barrier after a bulk copy of Values into the object at `holder` (memcpy): the holder
/// is scanned again if the collector has already scanned it.
inline void barrier_bulk(Value holder) {
#ifndef UHEAP_INTERP_NO_BARRIER
    vm.heap->write_barrier(reinterpret_cast<const void*>(holder));
#else
    (void)holder;
#endif
}

/// The one way the interpreter stores a Value into a heap object: `slot` lies inside the object
/// at `holder`. Every such store in the interpreter goes through here (or is followed by a
/// barrier() / barrier_bulk() call where a loop stores many).
inline void store(const void* holder, Value& slot, Value value) {
    slot = value;
    barrier(holder, value);
}
inline void store(Value holder, Value& slot, Value value) { store(reinterpret_cast<const void*>(holder), slot, value); }

inline void push(Value v);
inline void pop_to(std::size_t sp) {
    vm.sp = sp;
    vm.stack_node.n_words = sp;
}

// ---- objects.cpp: allocation and constructors --------------------------------------------------

void init_vm(uheap::Heap* heap);
void* allocate(Type type, std::size_t n_bytes, unsigned flags = 0, std::uintptr_t aux = 0);
Value cons(Value car, Value cdr);
Value make_string(const char* bytes, std::size_t length);
Value make_string(const char* text);
Value intern(const char* name, std::size_t length);
Value intern(const char* name);
Value make_vector(std::size_t length, Value fill);
Value make_error(const char* kind, Value message, Value irritants);
Value make_weakref(Value target);
Value weakref_get(Value weak);  ///< the target (revealed), or 0 once collected
Value list_from_stack(std::size_t base, Value tail = kNil);  ///< pops stack[base..sp) into a list
std::size_t list_length(Value list);  ///< SIZE_MAX for an improper list
[[noreturn]] void raise(Value error);
[[noreturn]] void fail(const char* kind, const char* format, ...) __attribute__((format(printf, 2, 3)));
[[noreturn]] void type_error(const char* expected, Value got);
void clear_dead_stack();

// Hash tables (objects.cpp).
Value make_table(bool weak_values);
Value table_ref(Value table, Value key, Value missing);
void table_set(Value table, Value key, Value value);
bool table_delete(Value table, Value key);
/// Drops the entries whose weak value died (at most once per collection: none dies between);
/// returns the count.
std::size_t table_prune(Value table);
/// Pushes key, value, key, value... of every live entry onto the VM stack, without allocating in
/// between (so each weak value is held strongly before anything can collect); returns the count.
std::size_t table_push_entries(Value table);

inline void push(Value v) {
    if (vm.sp == kStackCapacity) fail("RecursionError", "maximum recursion depth exceeded");
    vm.stack[vm.sp++] = v;
    vm.stack_node.n_words = vm.sp;
}

// ---- reader.cpp, printer.cpp --------------------------------------------------------------------

/// Thrown by the reader when the text ends inside a datum (the REPL then reads another line).
struct Incomplete {};
/// Reads one datum from text[*pos...]; returns kEof at the end of the text.
Value read_datum(const char* text, std::size_t length, std::size_t* pos);
void print_value(std::FILE* out, Value v, bool write);
bool equal_values(Value a, Value b);

// ---- eval.cpp ---------------------------------------------------------------------------------

enum Special : std::uintptr_t {
    kNotSpecial = 0, kQuote, kIf, kDefine, kSet, kLambda, kBegin, kLet, kLetStar, kLetrec, kCond,
    kAnd, kOr, kWhen, kUnless, kGuard, kWithOutputFile, kElse, kArrow, kSpecialCount
};
void init_eval();
Value eval(Value expr, Value env);
/// Calls a procedure from C++ (map, for-each, apply...). Not a tail call.
Value apply_procedure(Value fn, const Value* args, std::size_t n_args);

// ---- builtins.cpp, gc_builtins.cpp ----------------------------------------------------------------

struct PrimitiveSpec { const char* name; PrimitiveFn fn; unsigned min_args; unsigned max_args; };
inline constexpr unsigned kVariadic = 0xffff;
void define_primitives(const PrimitiveSpec* specs, std::size_t count);
void init_builtins();
void init_gc_builtins();
/// The character dump_alloc_table draws for an object head (legend in README.md).
char object_letter(void* user, const void* object);
void finalise_object(void* user, void* object);
Value open_output_file(Value path);  ///< builtins.cpp
void close_file(Value file);
void print_heap_stats(std::FILE* out);
/// EventHooks::on_collect_end for --gc-stress: aborts if an object reachable from the roots was freed.
void check_reachable(void* user, const uheap::CollectionStats& stats);

}  // namespace scheme
