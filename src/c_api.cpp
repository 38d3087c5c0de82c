// SPDX-License-Identifier: MIT
// The C API: each function forwards to the Heap member of the same name. No behaviour lives here.
#include "uheap/uheap.h"

#include "uheap/heap.hpp"
#include "uheap/version.h"

namespace {

uheap::Heap* cxx(uheap_t* heap) { return reinterpret_cast<uheap::Heap*>(heap); }
const uheap::Heap* cxx(const uheap_t* heap) { return reinterpret_cast<const uheap::Heap*>(heap); }
uheap_status_t c_status(uheap::Status s) { return static_cast<uheap_status_t>(s); }

void copy_info(const uheap::Info& from, uheap_info_t* to) {
    to->total = from.total;
    to->used = from.used;
    to->free = from.free;
    to->max_free = from.max_free;
    to->num_1block = from.num_1block;
    to->num_2block = from.num_2block;
    to->max_block = from.max_block;
    to->objects = from.objects;
    to->free_runs = from.free_runs;
    to->areas = from.areas;
    to->metadata_bytes = from.metadata_bytes;
    to->fragmentation_permille = from.fragmentation_permille;
}

}  // namespace

static_assert(static_cast<int>(uheap::Status::weakly_referenced) == UHEAP_WEAKLY_REFERENCED &&
                  static_cast<int>(uheap::Status::already_registered) == UHEAP_ALREADY_REGISTERED,
              "status values match");
static_assert(uheap::kFinaliser == UHEAP_FINALISER && uheap::kNoScan == UHEAP_NO_SCAN && uheap::kWeak == UHEAP_WEAK,
              "flag values match");

extern "C" {

size_t uheap_block_bytes(void) { return uheap::kBlockBytes; }
const char* uheap_status_name(uheap_status_t status) { return uheap::status_name(static_cast<uheap::Status>(status)); }
const char* uheap_version(void) { return uheap::version(); }
uint32_t uheap_version_number(void) { return UHEAP_VERSION_NUMBER; }

uheap_t* uheap_create(void* region, size_t region_bytes, const uheap_config_t* config, uheap_status_t* status) {
    uheap::HeapConfig cfg;
    if (config != nullptr) {
        cfg.mark_stack_entries = config->mark_stack_entries;
        cfg.interior_pointers = config->interior_pointers;
        cfg.collect_on_every_alloc = config->collect_on_every_alloc;
        cfg.lazy_sweep = !config->eager_sweep;
        cfg.incremental = config->incremental;
        cfg.mark_stack = config->mark_stack;
        cfg.mark_stack_bytes = config->mark_stack_bytes;
        cfg.control = config->control;
        cfg.control_bytes = config->control_bytes;
    }
    uheap::Status s;
    uheap::Heap* heap = uheap::Heap::create(region, region_bytes, cfg, &s);
    if (status != nullptr) *status = c_status(s);
    return reinterpret_cast<uheap_t*>(heap);
}

uheap_status_t uheap_add_area(uheap_t* heap, void* region, size_t region_bytes) {
    return c_status(cxx(heap)->add_area(region, region_bytes));
}
size_t uheap_region_bytes_for(size_t n_bytes) { return uheap::Heap::region_bytes_for(n_bytes); }
size_t uheap_blocks_for_bytes(size_t n_bytes) { return uheap::blocks_for_bytes(n_bytes); }
size_t uheap_control_bytes(void) { return uheap::Heap::control_bytes(); }

void* uheap_alloc(uheap_t* heap, size_t n_bytes, unsigned flags) { return cxx(heap)->alloc(n_bytes, flags); }
void* uheap_alloc_tagged(uheap_t* heap, size_t n_bytes, unsigned flags, uint16_t tag) {
    return cxx(heap)->alloc(n_bytes, flags, tag);
}
uheap_status_t uheap_free(uheap_t* heap, void* ptr) { return c_status(cxx(heap)->free(ptr)); }
void* uheap_realloc(uheap_t* heap, void* ptr, size_t n_bytes, bool allow_move) {
    return cxx(heap)->realloc(ptr, n_bytes, allow_move);
}
size_t uheap_size_of(const uheap_t* heap, const void* ptr) { return cxx(heap)->size_of(ptr); }
unsigned uheap_flags_of(const uheap_t* heap, const void* ptr) { return cxx(heap)->flags_of(ptr); }
uheap_status_t uheap_set_weak(uheap_t* heap, void* ptr) { return c_status(cxx(heap)->set_weak(ptr)); }
bool uheap_contains(const uheap_t* heap, const void* ptr) { return cxx(heap)->contains(ptr); }

uheap_status_t uheap_collect(uheap_t* heap) { return c_status(cxx(heap)->collect()); }
uheap_status_t uheap_collect_start(uheap_t* heap) { return c_status(cxx(heap)->collect_start()); }
void uheap_collect_root(uheap_t* heap, void* const* words, size_t n_words) { cxx(heap)->collect_root(words, n_words); }
void uheap_collect_stack(uheap_t* heap) { cxx(heap)->collect_stack(); }
uheap_status_t uheap_collect_end(uheap_t* heap) { return c_status(cxx(heap)->collect_end()); }
uheap_status_t uheap_sweep_all(uheap_t* heap) { return c_status(cxx(heap)->sweep_all()); }
size_t uheap_sweep_step(uheap_t* heap, size_t max_blocks) { return cxx(heap)->sweep_step(max_blocks); }
uheap_status_t uheap_collect_step(uheap_t* heap, size_t budget_words) { return c_status(cxx(heap)->collect_step(budget_words)); }
bool uheap_is_marking(const uheap_t* heap) { return cxx(heap)->is_marking(); }
void uheap_write_barrier(uheap_t* heap, const void* holder, const void* value) { cxx(heap)->write_barrier(holder, value); }
bool uheap_collect_idle(uheap_t* heap, uint64_t deadline_ns) { return cxx(heap)->collect_idle(deadline_ns); }
void uheap_set_pacing(uheap_t* heap, unsigned pause_percent, size_t step_words_per_block) {
    cxx(heap)->set_pacing(pause_percent, step_words_per_block);
}
void uheap_set_stack_base(uheap_t* heap, const void* stack_base) { cxx(heap)->set_stack_base(stack_base); }

void uheap_lock(uheap_t* heap) { cxx(heap)->lock(); }
void uheap_unlock(uheap_t* heap) { cxx(heap)->unlock(); }
bool uheap_is_locked(const uheap_t* heap) { return cxx(heap)->is_locked(); }
unsigned uheap_lock_depth(const uheap_t* heap) { return cxx(heap)->lock_depth(); }
bool uheap_is_collecting(const uheap_t* heap) { return cxx(heap)->is_collecting(); }
void uheap_set_auto_collect(uheap_t* heap, bool enabled) { cxx(heap)->set_auto_collect(enabled); }
bool uheap_auto_collect(const uheap_t* heap) { return cxx(heap)->auto_collect(); }
void uheap_set_threshold(uheap_t* heap, size_t n_bytes) { cxx(heap)->set_threshold(n_bytes); }
size_t uheap_threshold(const uheap_t* heap) { return cxx(heap)->threshold(); }
size_t uheap_allocated_since_collect(const uheap_t* heap) { return cxx(heap)->allocated_since_collect(); }

void uheap_set_root_callback(uheap_t* heap, uheap_root_fn fn, void* user) { cxx(heap)->set_root_callback(fn, user); }
void uheap_set_finaliser(uheap_t* heap, uheap_finaliser_fn fn, void* user) { cxx(heap)->set_finaliser(fn, user); }
void uheap_set_weak_callbacks(uheap_t* heap, uheap_weak_freed_fn freed, uheap_weak_sweep_fn after_sweep, void* user) {
    cxx(heap)->set_weak_callbacks(freed, after_sweep, user);
}
void uheap_set_collect_callback(uheap_t* heap, uheap_collect_fn fn, void* user) {
    cxx(heap)->set_collect_callback(fn, user);
}
void uheap_set_grow_callback(uheap_t* heap, uheap_grow_fn grow, uheap_release_fn release, void* user) {
    cxx(heap)->set_grow_callback(grow, release, user);
}
void uheap_set_clock(uheap_t* heap, uheap_clock_fn fn, void* user) { cxx(heap)->set_clock(fn, user); }

void uheap_info(const uheap_t* heap, uheap_info_t* info) { copy_info(cxx(heap)->info(), info); }
void uheap_info_fast(const uheap_t* heap, uheap_info_t* info) { copy_info(cxx(heap)->info_fast(), info); }

void uheap_counters(const uheap_t* heap, uheap_counters_t* out) {
    uheap::Counters c = cxx(heap)->counters();
    out->allocations = c.allocations;
    out->frees = c.frees;
    out->bytes_allocated = c.bytes_allocated;
    out->collections = c.collections;
    out->objects_collected = c.objects_collected;
    out->last_collect_freed = c.last_collect_freed;
    out->last_pause_ns = c.last_pause_ns;
    out->max_pause_ns = c.max_pause_ns;
    out->total_pause_ns = c.total_pause_ns;
    out->used_bytes = c.used_bytes;
    out->peak_used_bytes = c.peak_used_bytes;
    out->out_of_memory = c.out_of_memory;
    out->mark_stack_overflows = c.mark_stack_overflows;
    out->finalisers_run = c.finalisers_run;
    out->weak_notified = c.weak_notified;
    out->index_repairs = c.index_repairs;
    out->areas_grown = c.areas_grown;
    out->areas_released = c.areas_released;
}

void uheap_dump_info(const uheap_t* heap, uheap_print_fn print, void* print_user) {
    cxx(heap)->dump_info(print, print_user);
}
void uheap_dump_alloc_table(const uheap_t* heap, uheap_print_fn print, void* print_user, uheap_letter_fn letter,
                            void* letter_user) {
    cxx(heap)->dump_alloc_table(print, print_user, letter, letter_user);
}

uheap_verify_report_t uheap_verify(const uheap_t* heap) {
    uheap::VerifyReport r = cxx(heap)->verify();
    return uheap_verify_report_t{static_cast<unsigned>(r.broken), r.area, r.block, r.detail};
}
uheap_status_t uheap_last_status(const uheap_t* heap) { return c_status(cxx(heap)->last_status()); }

}  // extern "C"
