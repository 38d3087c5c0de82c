// SPDX-License-Identifier: MIT
// churn: a table of live slots; each allocation (random size 24-512 B, mostly small) replaces a
// random slot and is linked from another live object (that object's link field now points at
// it). Linking new objects from old ones keeps the reachable set bounded (links only point
// forward in time) while making the heap a graph, not a list of roots.
//
// Object layout: word 0 = link, word 1 = stamp (allocation number), word 2 = stamp of the link
// target. The final walk checks every reachable object's stamp against the one recorded where
// it is referenced, so an object freed while reachable is caught.
#include <unordered_set>
#include <vector>

#include "registry.hpp"

namespace bench {
namespace {

struct Obj {
    Obj* link;
    std::uint64_t stamp;
    std::uint64_t link_stamp;
};

constexpr std::uint32_t kNone = 0xffffffffu;

std::size_t random_size(Rng& rng) {
    if (rng.below(4) != 0) return 24 + rng.below(40);  // 3/4: 24-63 B
    return 64 + rng.below(449);                          // 1/4: 64-512 B
}

template <class Impl>
struct Churn {
    Impl& impl;
    std::vector<Obj*> slots;
    std::vector<std::uint64_t> stamps;      // expected stamp of each slot's object
    std::vector<std::uint32_t> referrer;    // slot whose object links to this slot's (malloc only)
    Rng rng{42};
    std::uint64_t next_stamp = 1;

    Churn(Impl& i, std::size_t n_slots) : impl(i), slots(n_slots, nullptr), stamps(n_slots, 0), referrer(n_slots, kNone) {}

    /// Replaces slot j with a new object linked from slot k's object. False when out of memory.
    bool replace(std::size_t j) {
        Obj* old = slots[j];
        if constexpr (Impl::kExplicitFree) {
            // Without a collector the workload itself must cut the one link that may point here.
            std::uint32_t r = referrer[j];
            if (r != kNone && slots[r] != nullptr && slots[r]->link == old) slots[r]->link = nullptr;
            referrer[j] = kNone;
            slots[j] = nullptr;
            impl.release(old);
        }
        auto* obj = static_cast<Obj*>(impl.alloc(random_size(rng)));
        if (obj == nullptr) return false;
        obj->stamp = next_stamp++;
        slots[j] = obj;
        stamps[j] = obj->stamp;
        std::size_t k = rng.below(slots.size());
        if (k != j && slots[k] != nullptr) {
            slots[k]->link = obj;
            slots[k]->link_stamp = obj->stamp;
            referrer[j] = static_cast<std::uint32_t>(k);
        }
        return true;
    }

    /// Reachable objects with correct stamps, or 0 if any stamp is wrong.
    std::size_t verify() const {
        std::unordered_set<const Obj*> seen;
        for (std::size_t j = 0; j < slots.size(); ++j) {
            const Obj* o = slots[j];
            if (o == nullptr || o->stamp != stamps[j]) return 0;
            while (o != nullptr && seen.insert(o).second) {
                const Obj* next = o->link;
                if (next != nullptr && next->stamp != o->link_stamp) return 0;
                o = next;
            }
        }
        return seen.size();
    }
};

template <class Impl>
void run_churn(benchmark::State& state, std::size_t heap_bytes, std::size_t batch) {
    // About a quarter of the heap in slots (mean footprint ~110 B), leaving room for the
    // dead-but-still-linked objects a collector keeps.
    const std::size_t n_slots = heap_bytes / 4 / 160;
    Impl impl(heap_bytes);
    if (!impl_ready(state, impl)) return;
    Churn<Impl> c(impl, n_slots);
    ScopedRoots<Impl> rooted(impl, reinterpret_cast<void* const*>(c.slots.data()), n_slots);
    for (std::size_t j = 0; j < n_slots; ++j) {
        if (!c.replace(j)) return check_failed(state, "out of memory while filling the table");
    }
    bool ok = true;
    count_begin();
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch && ok; ++i) ok = c.replace(c.rng.below(n_slots));
        if (!ok) break;
    }
    count_end("allocation");
    if (!ok) return check_failed(state, "out of memory");
    std::size_t live = c.verify();
    if (live == 0) return check_failed(state, "live data lost: a reachable object has the wrong stamp");
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
    report_ops(state, "allocation", state.iterations() * batch);
    state.counters["slots"] = static_cast<double>(n_slots);
    state.counters["reachable"] = static_cast<double>(live);
}

}  // namespace

void register_churn() {
    for (std::size_t heap : {kSmallHeap, kMediumHeap, kLargeHeap}) {
        std::size_t batch = heap == kSmallHeap ? (1u << 16) : (1u << 20);
        add_workload("churn", heap, "", Peers::collectors_and_malloc,
                     [heap, batch](auto tag, benchmark::State& s) {
                         run_churn<typename decltype(tag)::type>(s, heap, batch);
                     },
                     [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMillisecond); });
    }
}

}  // namespace bench
