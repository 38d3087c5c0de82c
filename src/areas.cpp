// SPDX-License-Identifier: MIT
// The areas: carving a region into control data, block tables, mark stack and block pool, and
// the set of areas a heap owns.
//
//   region (any alignment)
//   ├─ padding to 16 bytes
//   ├─ prefix          first area only: HeapImpl (unless the host gave control memory), then the
//   │                  mark stack (MarkRange[capacity], unless the host gave its memory)
//   ├─ Area            this area's descriptor (first area: in the control memory if given)
//   ├─ head table      ⌈n/W⌉ words   (W = bits per machine word)
//   ├─ tail table      ⌈n/W⌉ words
//   ├─ mark table      ⌈n/W⌉ words
//   ├─ flag table      ⌈n/W⌉ words
//   ├─ free space      dirty bits and summaries of the free-space tree (~0.2 bit per block)
//   ├─ grey bitmap     one bit per kGreyBlocks blocks (mark-stack overflow)
//   ├─ padding to kBlockBytes
//   └─ pool            n blocks of kBlockBytes
//
// Every step of the carving is checked by subtraction against the bytes left (`Carver`), never
// by adding and comparing, so no size the host passes can wrap an address past the region's end.
//
// Sizing: each block costs kBlockBytes of pool plus ~4.35 bits of metadata; an estimate from
// that is settled exactly by fits() (blocks_for_area).
#include <cstring>
#include <new>

#include "heap_impl.hpp"
#include "uheap/uheap.h"

namespace uheap::detail {
namespace {

constexpr std::size_t kRegionAlign = 16;

/// Bytes the four tables of an n-block area take.
std::size_t table_bytes(std::size_t n_blocks) { return 4 * words_for_blocks(n_blocks) * sizeof(Word); }

/// Words of an area's grey bitmap (one bit per kGreyBlocks blocks).
std::size_t grey_words_for(std::size_t n_blocks) { return words_for_blocks((n_blocks + kGreyBlocks - 1) / kGreyBlocks); }

/// Bytes of everything an n-block area keeps beside its pool: the four tables, the free-space
/// tree and the grey bitmap, all Word-aligned, in that order.
std::size_t metadata_bytes(std::size_t n_blocks) {
    return table_bytes(n_blocks) + free_space_bytes(words_for_blocks(n_blocks)) + grey_words_for(n_blocks) * sizeof(Word);
}

/// Walks a region from its start, handing out aligned pieces; fails instead of wrapping.
class Carver {
public:
    Carver(std::uintptr_t begin, std::uintptr_t end) : at_(begin), end_(end) {}
    /// Moves to the next multiple of `alignment` (a power of two); false if that passes the end.
    bool align(std::size_t alignment) {
        std::size_t pad = padding_to(at_, alignment);
        if (pad > end_ - at_) return false;
        at_ += pad;
        return true;
    }
    /// Takes `n_bytes` at `alignment`; false (nothing taken) if they do not fit.
    bool take(std::size_t n_bytes, std::size_t alignment, std::uintptr_t* where) {
        if (!align(alignment) || n_bytes > end_ - at_) return false;
        *where = at_;
        at_ += n_bytes;
        return true;
    }
    std::uintptr_t at() const { return at_; }
    std::size_t left() const { return end_ - at_; }

private:
    std::uintptr_t at_;
    std::uintptr_t end_;
};

/// True iff the metadata of n blocks at the carver's position, then the aligned pool, fit.
bool fits(Carver c, std::size_t n_blocks) {
    std::uintptr_t ignored;
    return c.take(metadata_bytes(n_blocks), alignof(Word), &ignored) && c.align(kBlockBytes) &&
           c.left() / kBlockBytes >= n_blocks;
}

/// Blocks an area gets from the bytes after its descriptor: an estimate from the cost per block
/// (kBlockBytes of pool, 4 bits of tables, ~0.35 bit of tree and grey bits), settled exactly by
/// fits() in a few steps either way.
std::size_t blocks_for_area(Carver after_descriptor) {
    std::size_t slack = kBlockBytes + 16 * sizeof(Word);
    std::size_t per_8_blocks = 8 * kBlockBytes + 5;
    std::size_t left = after_descriptor.left();
    std::size_t usable = left > slack ? left - slack : 0;
    std::size_t n_blocks = usable / per_8_blocks * 8 + usable % per_8_blocks * 8 / per_8_blocks;
    if (n_blocks > kMaxAreaBlocks) n_blocks = kMaxAreaBlocks;
    while (n_blocks > 0 && !fits(after_descriptor, n_blocks)) --n_blocks;
    while (n_blocks < kMaxAreaBlocks && fits(after_descriptor, n_blocks + 1)) ++n_blocks;
    return n_blocks;
}

}  // namespace

// Validates everything before writing anything, so a failed call leaves the region untouched.
// `descriptor`: where the Area goes if not in the region (the host's control memory).
Area* HeapImpl::lay_out_area(void* region, std::size_t region_bytes, std::size_t prefix_bytes,
                             void** prefix, void* descriptor, Status* status) {
    if (region == nullptr) {
        *status = Status::null_region;
        return nullptr;
    }
    auto begin = reinterpret_cast<std::uintptr_t>(region);
    if (region_bytes > UINTPTR_MAX - begin) {
        *status = Status::size_overflow;
        return nullptr;
    }
    Carver carver(begin, begin + region_bytes);
    std::uintptr_t prefix_at = 0;
    std::uintptr_t area_at = 0;
    std::size_t n_blocks = 0;
    if (descriptor != nullptr) area_at = reinterpret_cast<std::uintptr_t>(descriptor);
    if (carver.take(prefix_bytes, kRegionAlign, &prefix_at) &&
        (descriptor != nullptr || carver.take(sizeof(Area), alignof(Area), &area_at)) && carver.align(alignof(Word))) {
        n_blocks = blocks_for_area(carver);
    }
    if (n_blocks == 0) {
        *status = Status::region_too_small;
        return nullptr;
    }

    // From here on the region is ours to write (and a previous heap's poisoning of it is undone:
    // only a library with poisoning ever poisons).
    if (built::kPoison) unpoison_blocks(region, region_bytes);
    std::uintptr_t tables_at = 0;
    carver.take(metadata_bytes(n_blocks), alignof(Word), &tables_at);
    carver.align(kBlockBytes);
    if (prefix != nullptr) *prefix = reinterpret_cast<void*>(prefix_at);
    Area* area = ::new (reinterpret_cast<void*>(area_at)) Area();
    std::size_t n_words = words_for_blocks(n_blocks);
    Word* tables = reinterpret_cast<Word*>(tables_at);
    std::memset(tables, 0, metadata_bytes(n_blocks));
    area->tables.head = tables;
    area->tables.tail = tables + n_words;
    area->tables.mark = tables + 2 * n_words;
    area->tables.flag = tables + 3 * n_words;
    area->tables.n_blocks = n_blocks;
    area->tables.n_words = n_words;
    area->pool = reinterpret_cast<unsigned char*>(carver.at());
    area->pool_bytes = n_blocks * kBlockBytes;
    area->region = region;
    area->region_bytes = region_bytes;
    unsigned char* after_tables = reinterpret_cast<unsigned char*>(tables_at) + table_bytes(n_blocks);
    area->grey = reinterpret_cast<Word*>(after_tables + free_space_bytes(n_words));
    area->grey_words = grey_words_for(n_blocks);
    free_space_init(area->space, after_tables, area->tables);
    *status = Status::ok;
    return area;
}

void AreaSet::append(Area* area) {
    Area** link = &first;
    while (*link != nullptr) link = &(*link)->next;
    *link = area;
    ++count;
    metadata_bytes += area->region_bytes - area->pool_bytes;
    if (area->tables.n_blocks > max_blocks) max_blocks = area->tables.n_blocks;
}

// Unlinks *link (never the first area, whose descriptor sits beside the heap itself).
void AreaSet::remove(Area** link) {
    Area* area = *link;
    *link = area->next;
    --count;
    metadata_bytes -= area->region_bytes - area->pool_bytes;
    max_blocks = 0;
    for (const Area* a = first; a != nullptr; a = a->next) {
        if (a->tables.n_blocks > max_blocks) max_blocks = a->tables.n_blocks;
    }
}

bool AreaSet::overlaps(std::uintptr_t begin, std::uintptr_t end) const {
    if (ranges_overlap(begin, end, control_begin, control_end)) return true;
    for (const Area* a = first; a != nullptr; a = a->next) {
        if (a->region_overlaps(begin, end)) return true;
    }
    return false;
}

}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;
using detail::MarkRange;

namespace {
/// The heap's own state: HeapImpl, then the first area's descriptor.
constexpr std::size_t kHeapImplBytes = (sizeof(HeapImpl) + alignof(Area) - 1) / alignof(Area) * alignof(Area);
constexpr std::size_t kControlDataBytes = kHeapImplBytes + sizeof(Area);
constexpr std::size_t kControlAlign = 16;
static_assert(alignof(HeapImpl) <= kControlAlign && alignof(Area) <= kControlAlign, "control memory alignment");
}  // namespace

static_assert(kControlAlign - 1 + kControlDataBytes <= UHEAP_CONTROL_BYTES,
              "UHEAP_CONTROL_BYTES (uheap.h) must cover the control data on every target");
// The control data comes out of a small heap's region: every block-size step it grows by is a
// pool block lost at every region size. The budget is what the first version took (768 on
// 64-bit, 480 on 32-bit); today's sizes are HeapImpl 512 + Area 224 and 328 + 144 (the lazy
// sweep's and incremental marking's fields were paid for by keeping only the HeapConfig options
// the heap reads, and by Area::pool_begin() becoming an accessor). A new field finds padding or
// pays for itself elsewhere.
static_assert(kControlDataBytes <= (sizeof(void*) == 8 ? 768u : 480u), "control data over its budget (see above)");

std::size_t Heap::control_bytes() { return kControlAlign - 1 + kControlDataBytes; }

std::size_t Heap::default_mark_stack_entries(std::size_t region_bytes, bool incremental) {
    // Measured (collect_pause, a random graph built to overflow): past a few hundred entries a
    // bigger stack saves almost no work (16 MB: 256 and 1 024 entries differ by 0.5 %), while
    // every entry is 16 bytes of region the pool loses. An incremental cycle's first step shades
    // the roots (pushes without tracing) and so does the barrier: with 900 root pages in 16 MB,
    // a quarter of the stack overflowed ~2 000 times a cycle, 5 % of the collection's work
    // (pauses/16M, pacing 1000 / 64: 1 322.8 M instructions, 1 310.9 M with four times the stack).
    std::size_t entries = region_bytes / (incremental ? 16384 : 65536);
    return entries < 16 ? 16 : entries > 16384 ? 16384 : entries;
}

Heap* Heap::create(void* region, std::size_t region_bytes, const HeapConfig& config, Status* status) {
    Status ignored;
    if (status == nullptr) status = &ignored;
    // Options that need a feature the build left out (config.hpp). A lazy sweep is not among
    // them: it changes when the sweep's work is done, never what a host sees, so a build without
    // it sweeps at once.
    if ((config.interior_pointers && !built::kInteriorPointers) || (config.incremental && !built::kIncremental) ||
        (config.poison_freed && !built::kPoison)) {
        *status = Status::unsupported;
        return nullptr;
    }
    // The mark stack: the host's memory (aligned inside it), or entries carved after the heap.
    MarkRange* host_stack = nullptr;
    std::size_t entries = config.mark_stack_entries != 0 ? config.mark_stack_entries : default_mark_stack_entries(region_bytes, config.incremental);
    if (config.mark_stack != nullptr) {
        auto at = reinterpret_cast<std::uintptr_t>(config.mark_stack);
        std::size_t pad = detail::padding_to(at, alignof(MarkRange));
        entries = config.mark_stack_bytes > pad ? (config.mark_stack_bytes - pad) / sizeof(MarkRange) : 0;
        if (entries == 0) {
            *status = Status::invalid_argument;
            return nullptr;
        }
        host_stack = reinterpret_cast<MarkRange*>(at + pad);
    }
    constexpr std::size_t heap_bytes = (sizeof(HeapImpl) + alignof(MarkRange) - 1) / alignof(MarkRange) * alignof(MarkRange);
    if (host_stack == nullptr && entries > (SIZE_MAX - heap_bytes) / sizeof(MarkRange)) {
        *status = Status::size_overflow;
        return nullptr;
    }
    // The heap's own state: the host's control memory (aligned inside it), or the region's start.
    unsigned char* control = nullptr;
    if (config.control != nullptr) {
        auto at = reinterpret_cast<std::uintptr_t>(config.control);
        if (config.control_bytes > UINTPTR_MAX - at) {
            *status = Status::size_overflow;
            return nullptr;
        }
        std::size_t pad = detail::padding_to(at, kControlAlign);
        if (config.control_bytes < pad || config.control_bytes - pad < kControlDataBytes) {
            *status = Status::invalid_argument;
            return nullptr;
        }
        auto region_at = reinterpret_cast<std::uintptr_t>(region);
        if (region != nullptr && region_bytes <= UINTPTR_MAX - region_at &&
            detail::ranges_overlap(at, at + config.control_bytes, region_at, region_at + region_bytes)) {
            *status = Status::overlap;
            return nullptr;
        }
        control = reinterpret_cast<unsigned char*>(at + pad);
    }
    std::size_t prefix_bytes = (control == nullptr ? heap_bytes : 0) + (host_stack == nullptr ? entries * sizeof(MarkRange) : 0);
    void* prefix = nullptr;
    Area* area = HeapImpl::lay_out_area(region, region_bytes, prefix_bytes, &prefix,
                                        control != nullptr ? control + kHeapImplBytes : nullptr, status);
    if (area == nullptr) return nullptr;
    HeapImpl* heap = ::new (control != nullptr ? control : prefix) HeapImpl();
    heap->config = detail::Options{config.interior_pointers, config.collect_on_every_alloc, config.lazy_sweep, config.incremental,
                                   config.poison_freed};
    if (control != nullptr) {
        heap->areas.control_begin = reinterpret_cast<std::uintptr_t>(config.control);
        heap->areas.control_end = heap->areas.control_begin + config.control_bytes;
    }
    unsigned char* carved_stack = static_cast<unsigned char*>(prefix) + (control == nullptr ? heap_bytes : 0);
    heap->gc.stack = host_stack != nullptr ? host_stack : reinterpret_cast<MarkRange*>(carved_stack);
    heap->gc.capacity = entries;
    heap->adopt_area(area);
    heap->refresh_fast_path();
    return heap;
}

Status Heap::add_area(void* region, std::size_t region_bytes) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!self.admitted(detail::Op::add_area)) return self.status;
    auto begin = reinterpret_cast<std::uintptr_t>(region);
    if (region != nullptr && region_bytes <= UINTPTR_MAX - begin && self.areas.overlaps(begin, begin + region_bytes)) {
        return self.status = Status::overlap;
    }
    Status laid_out;
    Area* area = HeapImpl::lay_out_area(region, region_bytes, 0, nullptr, nullptr, &laid_out);
    if (area != nullptr) self.adopt_area(area);
    return self.status = laid_out;
}

Status Heap::retire() {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!self.admitted(detail::Op::add_area)) return self.status;  // not while collecting
    // The first area's region may hold the heap itself: read every link before any region goes.
    for (Area* a = self.areas.first; a != nullptr;) {
        Area* next = a->next;
        detail::unpoison_region(a->region, a->region_bytes);
        a = next;
    }
    return Status::ok;
}

// The exact layout of an area of n + 1 blocks at the worst alignment of the region, every
// addition saturating (SIZE_MAX: no region could hold it). lay_out_area() settles its block
// count exactly (blocks_for_area), so this is enough.
std::size_t Heap::region_bytes_for(std::size_t n_bytes) {
    auto add = [](std::size_t a, std::size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; };
    std::size_t n_blocks = detail::blocks_for_bytes(n_bytes) + 1;
    if (n_blocks > detail::kMaxAreaBlocks || n_blocks > SIZE_MAX / kBlockBytes) return SIZE_MAX;
    std::size_t padding = (detail::kRegionAlign - 1) + alignof(Area) + alignof(detail::Word) + kBlockBytes;
    std::size_t bytes = add(padding + sizeof(Area), detail::metadata_bytes(n_blocks));
    return add(bytes, n_blocks * kBlockBytes);
}

}  // namespace uheap
