// SPDX-License-Identifier: MIT
// Object construction on the uheap heap: allocation (out of memory becomes MemoryError), pairs,
// strings, symbols, vectors, errors, weak references, hash tables, and the finaliser.
#include <cstdarg>
#include <cstring>

#include "value.hpp"

namespace scheme {

Vm vm;

namespace {

constexpr std::size_t kInitialSymbolBuckets = 256;

std::uintptr_t hash_bytes(const char* bytes, std::size_t length) {
    std::uintptr_t h = 14695981039346656037ull & UINTPTR_MAX;  // FNV-1a
    for (std::size_t i = 0; i < length; ++i) h = (h ^ static_cast<unsigned char>(bytes[i])) * 1099511628211ull;
    return h & (UINTPTR_MAX >> 8);  // fits in a header's aux field
}

/// Hash of a hash-table key: strings and symbols by content (stable across runs and builds,
/// so iteration order is deterministic), everything else by its bits (addresses never move).
std::uintptr_t hash_key(Value key) {
    if (is_string(key)) return hash_bytes(as<String>(key)->chars(), as<String>(key)->length);
    if (is_symbol(key)) return aux_of(key);
    return (key >> 3) * 2654435761u;
}

bool same_key(Value a, Value b) {
    if (a == b) return true;
    return is_string(a) && is_string(b) && equal_values(a, b);
}

Value symbol_name_matches(Value bucket, const char* name, std::size_t length) {
    for (; bucket != kNil; bucket = cdr(bucket)) {
        auto* s = as<String>(as<Symbol>(car(bucket))->name);
        if (s->length == length && std::memcmp(s->chars(), name, length) == 0) return car(bucket);
    }
    return 0;
}

// Why rehash: the symbol table is an ordinary heap vector, so growing it is an allocation that may
// collect; the old table stays rooted until the new one replaces it.
void grow_symbol_table() {
    Value old = vm.roots.symbol_table;
    std::size_t n_old = as<Vector>(old)->length;
    Value fresh = make_vector(n_old * 2, kNil);
    for (std::size_t i = 0; i < n_old; ++i) {
        for (Value b = as<Vector>(old)->items()[i]; b != kNil;) {
            Value next = cdr(b);
            std::size_t slot = aux_of(car(b)) % (n_old * 2);
            store(b, as<Pair>(b)->cdr, as<Vector>(fresh)->items()[slot]);  // relink the same pair: no allocation
            store(fresh, as<Vector>(fresh)->items()[slot], b);
            b = next;
        }
    }
    vm.roots.symbol_table = fresh;
}

}  // namespace

// Why one entry point: every allocation of the interpreter goes through here, so running out of
// memory (or a locked heap) is turned into the language's MemoryError in exactly one place. The
// error objects are preallocated because raising must not allocate.
//
// Why the retry with collect(): during an incremental cycle, an allocation that does not fit has
// the heap finish the running cycle as its one collection, and whatever the program allocated
// during that cycle was born marked, so its garbage survives it. A full collection is what a
// program that runs out of memory is owed (the stop-the-world heap gives it one). When the heap's
// own collection was already a full one (no cycle was running), another would find nothing more:
// the pause hook (when installed) says which it was.
void* allocate(Type type, std::size_t n_bytes, unsigned flags, std::uintptr_t aux) {
    if (vm.stress_step_words != 0 && vm.heap->auto_collect() && !vm.heap->is_locked()) {
        vm.heap->collect_step(vm.stress_step_words);  // --gc-stress: a step before every allocation
    }
    void* memory = vm.heap->alloc(n_bytes, flags, static_cast<std::uint16_t>(type));
    if (memory == nullptr && vm.incremental && vm.heap->last_status() == uheap::Status::out_of_memory &&
        vm.heap->auto_collect() && (vm.pauses == nullptr || vm.pauses->last != uheap::PauseKind::collection) &&
        vm.heap->collect() == uheap::Status::ok) {
        memory = vm.heap->alloc(n_bytes, flags, static_cast<std::uint16_t>(type));
    }
    if (memory == nullptr) {
        raise(vm.heap->last_status() == uheap::Status::locked ? vm.roots.locked_error : vm.roots.memory_error);
    }
    *static_cast<std::uintptr_t*>(memory) = static_cast<std::uintptr_t>(type) | (aux << 8);
    return memory;
}

Value cons(Value a, Value d) {
    auto* p = static_cast<Pair*>(allocate(Type::pair, sizeof(Pair)));
    store(p, p->car, a);
    store(p, p->cdr, d);
    return value_of(p);
}

Value make_string(const char* bytes, std::size_t length) {
    auto* s = static_cast<String*>(allocate(Type::string, sizeof(String) + length + 1, uheap::kNoScan));
    s->length = length;
    if (length > 0) std::memcpy(s->chars(), bytes, length);
    return value_of(s);
}

Value make_string(const char* text) { return make_string(text, std::strlen(text)); }

// Why the name is copied before the symbol is made: both allocations may collect, and until the
// symbol is linked into the table only C++ locals (seen by the stack scan) hold them.
Value intern(const char* name, std::size_t length) {
    Value table = vm.roots.symbol_table;
    std::uintptr_t hash = hash_bytes(name, length);
    Value* bucket = &as<Vector>(table)->items()[hash % as<Vector>(table)->length];
    if (Value found = symbol_name_matches(*bucket, name, length)) return found;
    Value name_string = make_string(name, length);
    auto* sym = static_cast<Symbol*>(allocate(Type::symbol, sizeof(Symbol), 0, hash));
    store(sym, sym->name, name_string);
    sym->global = kUnbound;
    Value symbol = value_of(sym);
    Value link = cons(symbol, kNil);
    table = vm.roots.symbol_table;  // re-read: nothing above moves it, but stay obviously correct
    bucket = &as<Vector>(table)->items()[hash % as<Vector>(table)->length];
    store(link, as<Pair>(link)->cdr, *bucket);
    store(table, *bucket, link);
    if (++vm.symbol_count > 2 * as<Vector>(table)->length) grow_symbol_table();
    return symbol;
}

Value intern(const char* name) { return intern(name, std::strlen(name)); }

Value make_vector(std::size_t length, Value fill) {
    if (length > (SIZE_MAX - sizeof(Vector)) / sizeof(Value)) fail("MemoryError", "vector too large");
    auto* v = static_cast<Vector*>(allocate(Type::vector, sizeof(Vector) + length * sizeof(Value)));
    v->length = length;
    for (std::size_t i = 0; i < length; ++i) v->items()[i] = fill;
    barrier(v, fill);  // one value stored in every slot: one barrier marks it
    return value_of(v);
}

Value make_error(const char* kind, Value message, Value irritants) {
    Value kind_symbol = intern(kind);
    auto* e = static_cast<Error*>(allocate(Type::error, sizeof(Error)));
    store(e, e->kind, kind_symbol);
    store(e, e->message, message);
    store(e, e->irritants, irritants);
    return value_of(e);
}

// Why a WeakSlot per reference: the heap zeroes `hidden_target` in the same collection that finds
// the target unreachable, before any finaliser runs, so a program can never observe a half-dead
// object. The slot holds the pointer disguised (uheap::hide_pointer), as the heap requires: no
// conservative scan can mistake it for a reference, wherever a copy of the word ends up.
Value make_weakref(Value target) {
    auto* w = static_cast<WeakRef*>(allocate(Type::weakref, sizeof(WeakRef), uheap::kNoScan | uheap::kFinaliser));
    if (is_object(target)) {
        // No barrier: a WeakRef is kNoScan, and the hidden word must not retain anyway.
        w->hidden_target = uheap::hide_pointer(reinterpret_cast<const void*>(target));
    } else {
        w->immediate = target;
    }
    w->node.slot = &w->hidden_target;
    vm.heap->add_weak_slot(&w->node);
    return value_of(w);
}

// Why reveal here and nowhere else: every read of a weak reference goes through this one function,
// so the disguise never leaks into a Value. A caller that reads several weak values while it
// allocates must hold each one strongly (VM stack) before the next allocation (README.md).
Value weakref_get(Value weak) {
    auto* w = as<WeakRef>(weak);
    if (w->immediate != 0) return w->immediate;
    return reinterpret_cast<Value>(uheap::reveal_pointer(w->hidden_target));
}

Value list_from_stack(std::size_t base, Value tail) {
    Value list = tail;
    for (std::size_t i = vm.sp; i > base; --i) list = cons(vm.stack[i - 1], list);
    pop_to(base);
    return list;
}

std::size_t list_length(Value list) {
    std::size_t n = 0;
    for (; is_pair(list); list = cdr(list)) ++n;
    return list == kNil ? n : SIZE_MAX;
}

void raise(Value error) {
    vm.roots.raised = error;
    throw SchemeError{};
}

void fail(const char* kind, const char* format, ...) {
    char text[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    Value message = make_string(text);
    raise(make_error(kind, message, kNil));
}

void type_error(const char* expected, Value got) {
    Value message = make_string(expected);
    Value irritants = cons(got, kNil);
    raise(make_error("TypeError", message, irritants));
}

// Why: a conservative scan of the C stack only sees the live part, but the frames that later grow
// into the dead part keep whatever stale words their slots held. After an error unwinds a deep
// computation, zeroing the dead stack stops its stale pointers from keeping garbage alive (the
// same trick as Boehm GC's GC_clear_stack).
void clear_dead_stack() { uheap::clear_stack(32 * 1024); }

void init_vm(uheap::Heap* heap) {
    vm.heap = heap;
    vm.roots_node.words = reinterpret_cast<void* const*>(&vm.roots);
    vm.roots_node.n_words = sizeof(Roots) / sizeof(Value);
    heap->add_root_range(&vm.roots_node);
    vm.stack_node.words = reinterpret_cast<void* const*>(vm.stack);
    vm.stack_node.n_words = 0;
    heap->add_root_range(&vm.stack_node);
    heap->set_finaliser(&finalise_object, nullptr);

    // The symbol table must exist before intern(); build it by hand (make_vector does not intern).
    vm.roots.symbol_table = make_vector(kInitialSymbolBuckets, kNil);
    Value message = make_string("memory allocation failed");
    vm.roots.memory_error = make_error("MemoryError", message, kNil);
    message = make_string("memory allocation failed, heap is locked");
    vm.roots.locked_error = make_error("MemoryError", message, kNil);
}

// Why a single finaliser for the heap: it dispatches on the object's type, so output ports close
// their file and weak references unlink their slot. It runs during a collection, before anything
// is freed: it may read other dead objects (the port's path) but must not allocate.
void finalise_object(void*, void* object) {
    Value v = value_of(object);
    switch (type_of(v)) {
    case Type::file:
        if (as<File>(v)->fp != nullptr) {
            std::fprintf(stderr, "finaliser: closing forgotten file %s\n", as<String>(as<File>(v)->path)->chars());
            close_file(v);
        }
        break;
    case Type::weakref:
        vm.heap->remove_weak_slot(&as<WeakRef>(v)->node);
        break;
    default:
        break;
    }
}

void close_file(Value file) {
    auto* f = as<File>(file);
    if (f->fp == nullptr) return;
    std::fclose(f->fp);
    f->fp = nullptr;
    --vm.open_files;
}

// ---- hash tables -------------------------------------------------------------------------------

// Why a weak table remembers a collection count: its values die only in a collection, so one that
// last dropped its dead entries when the heap's count of collections was what it is now has none.
// Dropping them once per collection, at the table's next use, costs no more than that collection
// spent marking the table, and keeps a weak table bounded by what was alive at the last collection
// plus what was added since, however it is used (a cache may only ever be set and looked up).
static std::uintptr_t collections_now() {
    return static_cast<std::uintptr_t>(vm.heap->counters().collections) & (UINTPTR_MAX >> 8);  // fits in aux
}

Value make_table(bool weak_values) {
    Value buckets = make_vector(8, kNil);
    auto* t = static_cast<Table*>(allocate(Type::table, sizeof(Table), 0, collections_now()));
    store(t, t->buckets, buckets);
    t->weak_values = weak_values ? 1 : 0;
    return value_of(t);
}

// The slot that holds the key's bucket link: a bucket of the vector, or the cdr of the link
// before it (so the entry can be unlinked through it); null if the key is absent.
static Value* find_link(Value table, Value key) {
    auto* buckets = as<Vector>(as<Table>(table)->buckets);
    for (Value* link = &buckets->items()[hash_key(key) % buckets->length]; *link != kNil; link = &as<Pair>(*link)->cdr) {
        if (same_key(car(car(*link)), key)) return link;
    }
    return nullptr;
}

// Drops the entry whose bucket link is in `*link`; no allocation.
static void unlink_entry(Value table, Value* link) {
    store(link, *link, cdr(*link));  // `link` points into the holder (a bucket or a pair)
    --as<Table>(table)->count;
}

// Why a dead entry is dropped here: a weak cache may be used through hash-table-ref and
// hash-table-set! only, and an entry whose value was collected would otherwise keep its pairs and
// its WeakRef for as long as the table lives. To the program it is absent either way.
Value table_ref(Value table, Value key, Value missing) {
    Value* link = find_link(table, key);
    if (link == nullptr) return missing;
    Value entry = car(*link);
    if (!as<Table>(table)->weak_values) return cdr(entry);
    Value target = weakref_get(cdr(entry));
    if (target != 0) return target;
    unlink_entry(table, link);  // collected: as if never there, and now really gone
    return missing;
}

// Why resize by relinking: the bucket lists' pairs are reused, so only the new bucket vector is
// allocated, and a collection during that allocation sees the old table intact.
static void grow_table(Value table) {
    std::size_t n_old = as<Vector>(as<Table>(table)->buckets)->length;
    Value fresh = make_vector(n_old * 2, kNil);
    Value old = as<Table>(table)->buckets;
    for (std::size_t i = 0; i < n_old; ++i) {
        for (Value b = as<Vector>(old)->items()[i]; b != kNil;) {
            Value next = cdr(b);
            std::size_t slot = hash_key(car(car(b))) % (n_old * 2);
            store(b, as<Pair>(b)->cdr, as<Vector>(fresh)->items()[slot]);
            store(fresh, as<Vector>(fresh)->items()[slot], b);
            b = next;
        }
    }
    store(table, as<Table>(table)->buckets, fresh);
}

// Why a weak table is pruned here: an insertion is what makes a table grow, so dropping the entries
// that died in the collections since the last pruning (table_prune does it once per collection)
// keeps a weak cache bounded even when it is only ever set and looked up.
void table_set(Value table, Value key, Value value) {
    if (as<Table>(table)->weak_values) value = make_weakref(value);
    table_prune(table);  // after make_weakref, which may have collected
    if (Value* link = find_link(table, key)) {
        Value entry = car(*link);
        store(entry, as<Pair>(entry)->cdr, value);  // a dead entry of a weak table is revived
        return;
    }
    Value entry = cons(key, value);
    Value link = cons(entry, kNil);
    auto* t = as<Table>(table);
    auto* buckets = as<Vector>(t->buckets);
    Value* bucket = &buckets->items()[hash_key(key) % buckets->length];
    store(link, as<Pair>(link)->cdr, *bucket);
    store(t->buckets, *bucket, link);
    if (++t->count > 2 * buckets->length) grow_table(table);
}

bool table_delete(Value table, Value key) {
    Value* link = find_link(table, key);
    if (link == nullptr) return false;
    unlink_entry(table, link);
    return true;
}

std::size_t table_prune(Value table) {
    auto* t = as<Table>(table);
    if (!t->weak_values) return t->count;
    std::uintptr_t collections = collections_now();
    if (aux_of(table) == collections) return t->count;  // no entry died since the last pruning
    t->header = static_cast<std::uintptr_t>(Type::table) | (collections << 8);
    auto* buckets = as<Vector>(t->buckets);
    for (std::size_t i = 0; i < buckets->length; ++i) {
        Value* link = &buckets->items()[i];
        while (*link != kNil) {
            if (weakref_get(cdr(car(*link))) == 0) {
                unlink_entry(table, link);  // the value was collected: the entry disappears
            } else {
                link = &as<Pair>(*link)->cdr;
            }
        }
    }
    return t->count;
}

// Why everything is read before anything is allocated: a caller that builds a result from the
// entries (hash-table->alist, hash-table-keys) allocates once per entry, and any allocation may
// collect: a weak value read after it may be gone, its slot zeroed. So the dead entries are dropped
// and every live entry's key and value are pushed onto the VM stack (a root: from then on each value
// is held strongly) with no allocation in between, so none can die halfway.
std::size_t table_push_entries(Value table) {
    table_prune(table);
    auto* t = as<Table>(table);
    auto* buckets = as<Vector>(t->buckets);
    std::size_t n = 0;
    for (std::size_t i = 0; i < buckets->length; ++i) {
        for (Value b = buckets->items()[i]; b != kNil; b = cdr(b)) {
            Value entry = car(b);
            push(car(entry));  // push() allocates only to raise RecursionError: nothing returns after it
            push(t->weak_values ? weakref_get(cdr(entry)) : cdr(entry));
            ++n;
        }
    }
    return n;
}

}  // namespace scheme
