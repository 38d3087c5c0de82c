// SPDX-License-Identifier: MIT
// Carving a region into control data, block tables, mark stack and block pool.
//
//   region (any alignment)
//   ├─ padding to 16 bytes
//   ├─ prefix          first area only: HeapImpl, then the mark stack (MarkRange[capacity])
//   ├─ Area            this area's descriptor and free-run index
//   ├─ head table      ⌈n/W⌉ words   (W = bits per machine word)
//   ├─ tail table      ⌈n/W⌉ words
//   ├─ mark table      ⌈n/W⌉ words
//   ├─ flag table      ⌈n/W⌉ words
//   ├─ padding to kBlockBytes
//   └─ pool            n blocks of kBlockBytes
//
// Sizing: each block costs kBlockBytes of pool plus 4 bits of tables, so with A bytes left after
// the descriptors, n = (A - kBlockBytes - 4·word) · 8 / (8·kBlockBytes + 4) is at most a few
// blocks too many once the tables are rounded to whole words; fits() settles it exactly.
#include <cstring>
#include <new>

#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

constexpr std::size_t kRegionAlign = 16;

std::uintptr_t align_up(std::uintptr_t value, std::size_t alignment) {
    return (value + alignment - 1) & ~static_cast<std::uintptr_t>(alignment - 1);
}

/// Bytes the four tables of an n-block area take.
std::size_t table_bytes(std::size_t n_blocks) { return 4 * words_for_blocks(n_blocks) * sizeof(Word); }

/// True iff tables for n blocks starting at `tables_begin`, then the aligned pool, end by `end`.
bool fits(std::uintptr_t tables_begin, std::uintptr_t end, std::size_t n_blocks) {
    std::uintptr_t pool = align_up(tables_begin + table_bytes(n_blocks), kBlockBytes);
    return pool <= end && (end - pool) / kBlockBytes >= n_blocks;
}

}  // namespace

// Validates everything before writing anything, so a failed call leaves the region untouched.
Area* HeapImpl::lay_out_area(void* region, std::size_t region_bytes, std::size_t prefix_bytes,
                             void** prefix, Status* status) {
    if (region == nullptr) {
        *status = Status::null_region;
        return nullptr;
    }
    auto begin = reinterpret_cast<std::uintptr_t>(region);
    if (region_bytes > UINTPTR_MAX - begin) {
        *status = Status::size_overflow;
        return nullptr;
    }
    std::uintptr_t end = begin + region_bytes;
    std::uintptr_t prefix_at = align_up(begin, kRegionAlign);
    std::uintptr_t area_at = align_up(prefix_at + prefix_bytes, alignof(Area));
    std::uintptr_t tables_at = align_up(area_at + sizeof(Area), alignof(Word));
    if (prefix_at < begin || tables_at < area_at || tables_at > end) {
        *status = Status::region_too_small;
        return nullptr;
    }
    std::size_t available = end - tables_at;
    std::size_t slack = kBlockBytes + 4 * sizeof(Word);
    std::size_t per_8_blocks = 8 * kBlockBytes + 4;  // 8 blocks and their 32 table bits
    std::size_t usable = available > slack ? available - slack : 0;
    std::size_t n_blocks = usable / per_8_blocks * 8 + usable % per_8_blocks * 8 / per_8_blocks;
    while (n_blocks > 0 && !fits(tables_at, end, n_blocks)) --n_blocks;
    if (n_blocks > kMaxAreaBlocks) n_blocks = kMaxAreaBlocks;
    if (n_blocks == 0) {
        *status = Status::region_too_small;
        return nullptr;
    }

    // From here on the region is ours to write.
    if (prefix != nullptr) *prefix = reinterpret_cast<void*>(prefix_at);
    Area* area = ::new (reinterpret_cast<void*>(area_at)) Area();
    std::size_t n_words = words_for_blocks(n_blocks);
    Word* tables = reinterpret_cast<Word*>(tables_at);
    std::memset(tables, 0, table_bytes(n_blocks));
    area->tables.head = tables;
    area->tables.tail = tables + n_words;
    area->tables.mark = tables + 2 * n_words;
    area->tables.flag = tables + 3 * n_words;
    area->tables.n_blocks = n_blocks;
    area->tables.n_words = n_words;
    area->pool = reinterpret_cast<unsigned char*>(align_up(tables_at + table_bytes(n_blocks), kBlockBytes));
    area->pool_begin = reinterpret_cast<std::uintptr_t>(area->pool);
    area->pool_bytes = n_blocks * kBlockBytes;
    area->region = region;
    area->region_bytes = region_bytes;
    index_clear(area->indexed());
    index_append(area->indexed(), 0, n_blocks);
    *status = Status::ok;
    return area;
}

void HeapImpl::append_area(Area* area) {
    Area** link = &first_area;
    while (*link != nullptr) link = &(*link)->next;
    *link = area;
    ++n_areas;
    metadata_bytes += area->region_bytes - area->pool_bytes;
    if (area->tables.n_blocks > max_area_blocks) max_area_blocks = area->tables.n_blocks;
}

}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;
using detail::MarkRange;

Heap* Heap::create(void* region, std::size_t region_bytes, const HeapConfig& config, Status* status) {
    Status ignored;
    if (status == nullptr) status = &ignored;
    if (config.mark_stack_entries == 0) {
        *status = Status::invalid_argument;
        return nullptr;
    }
    if (config.mark_stack_entries > (SIZE_MAX - sizeof(HeapImpl)) / sizeof(MarkRange)) {
        *status = Status::size_overflow;
        return nullptr;
    }
    std::size_t heap_bytes = (sizeof(HeapImpl) + alignof(MarkRange) - 1) / alignof(MarkRange) * alignof(MarkRange);
    std::size_t prefix_bytes = heap_bytes + config.mark_stack_entries * sizeof(MarkRange);
    void* prefix = nullptr;
    Area* area = HeapImpl::lay_out_area(region, region_bytes, prefix_bytes, &prefix, status);
    if (area == nullptr) return nullptr;
    HeapImpl* heap = ::new (prefix) HeapImpl();
    heap->config = config;
    heap->mark_stack = reinterpret_cast<MarkRange*>(static_cast<unsigned char*>(prefix) + heap_bytes);
    heap->mark_capacity = config.mark_stack_entries;
    heap->append_area(area);
    heap->refresh_fast_path();
    return heap;
}

Status Heap::add_area(void* region, std::size_t region_bytes) {
    HeapImpl& self = HeapImpl::of(*this);
    if (self.collecting) return self.status = Status::collecting;
    Status status;
    Area* area = HeapImpl::lay_out_area(region, region_bytes, 0, nullptr, &status);
    if (area != nullptr) self.append_area(area);
    return self.status = status;
}

std::size_t Heap::region_bytes_for(std::size_t n_bytes) {
    std::size_t n_blocks = n_bytes / kBlockBytes + 1;
    std::size_t exact_layout = 2 * 16 + sizeof(Area) + sizeof(detail::Word) + detail::table_bytes(n_blocks) +
                               kBlockBytes + n_blocks * kBlockBytes;
    // lay_out_area() counts blocks with an estimate that keeps back kBlockBytes + 4 words of
    // slack and charges kBlockBytes + 1/2 byte per block, after up to kRegionAlign - 1 bytes of
    // alignment and the Area; at some alignments that needs a little more than the exact layout.
    std::size_t per_8_blocks = 8 * kBlockBytes + 4;
    std::size_t for_estimate = (detail::kRegionAlign - 1) + sizeof(Area) + sizeof(detail::Word) + kBlockBytes +
                               4 * sizeof(detail::Word) + (n_blocks * per_8_blocks + 7) / 8;
    return exact_layout > for_estimate ? exact_layout : for_estimate;
}

}  // namespace uheap
