// SPDX-License-Identifier: MIT
// The profiler's side table: one ObjectRecord slot per block of every area.
#include "object_table.hpp"

namespace uheap::profiling {

void ObjectTable::clear() {
    ranges_.clear();
    size_ = 0;
}

// Areas are only ever added to a heap, and keep their index: the first ranges stay as they are.
void ObjectTable::add_areas(const std::vector<AreaPool>& pools) {
    for (std::size_t i = ranges_.size(); i < pools.size(); ++i) {
        Range r;
        r.begin = reinterpret_cast<std::uintptr_t>(pools[i].begin);
        r.bytes = pools[i].n_blocks * kBlockBytes;
        r.slots.assign(pools[i].n_blocks, ObjectRecord{});
        ranges_.push_back(std::move(r));
    }
}

}  // namespace uheap::profiling
