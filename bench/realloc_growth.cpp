// SPDX-License-Identifier: MIT
// realloc_growth: build a byte string (1 MB on the 16 MB heap, 16 KB on the 64 KB heap) by
// appending 16 B at a time, three ways: realloc on every append (mode:realloc), doubling the
// capacity (mode:double), or preallocating the final size (mode:prealloc). The string is a
// pointer-free object. Shows in-place growth and the advice "preallocate / join instead of
// concatenating".
#include "registry.hpp"

namespace bench {
namespace {

enum class Mode { realloc_each, doubling, prealloc };

constexpr std::size_t kPiece = 16;

/// The 16 bytes appended at offset `at`: derived from the offset, so any byte can be checked.
void piece_at(std::size_t at, unsigned char* out) {
    for (std::size_t i = 0; i < kPiece; ++i) out[i] = static_cast<unsigned char>((at / kPiece) * 31 + i);
}

template <class Impl>
void run_realloc_growth(benchmark::State& state, std::size_t heap_bytes, std::size_t target, Mode mode) {
    Impl impl(heap_bytes);
    if (!impl_ready(state, impl)) return;
    bool ok = true;
    bool out_of_memory = false;
    count_begin();
    for (auto _ : state) {
        unsigned char* s = nullptr;
        std::size_t capacity = 0;
        if (mode == Mode::prealloc) {
            s = static_cast<unsigned char*>(impl.alloc_atomic(target));
            capacity = target;
        }
        for (std::size_t len = 0; len < target && (s != nullptr || capacity == 0); len += kPiece) {
            if (len + kPiece > capacity) {
                capacity = mode == Mode::doubling ? (capacity == 0 ? 64 : 2 * capacity) : len + kPiece;
                // realloc(nullptr) allocates a scanned object; start pointer-free as in prealloc.
                s = static_cast<unsigned char*>(s == nullptr ? impl.alloc_atomic(capacity) : impl.realloc(s, capacity));
                if (s == nullptr) break;
            }
            piece_at(len, s + len);
        }
        if (s == nullptr) {
            out_of_memory = true;
            break;
        }
        // Check the string: every 4 KB and the end.
        unsigned char expect[kPiece];
        for (std::size_t at = 0; at < target; at += 4096) {
            piece_at(at, expect);
            ok = ok && std::memcmp(s + at, expect, kPiece) == 0;
        }
        piece_at(target - kPiece, expect);
        ok = ok && std::memcmp(s + target - kPiece, expect, kPiece) == 0;
        impl.release(s);
        if (!ok) break;
    }
    count_end("append");
    if (out_of_memory) return check_failed(state, "out of memory");
    if (!ok) return check_failed(state, "live data lost: the string is corrupt");
    state.SetBytesProcessed(static_cast<std::int64_t>(target) * state.iterations());
    report_ops(state, "append", target / kPiece * state.iterations());
}

}  // namespace

void register_realloc_growth() {
    struct Size {
        std::size_t heap, target;
    };
    for (Size size : {Size{kSmallHeap, 16 * kKiB}, Size{kMediumHeap, 1 * kMiB}}) {
        for (Mode mode : {Mode::realloc_each, Mode::doubling, Mode::prealloc}) {
            const char* name = mode == Mode::realloc_each ? "/mode:realloc" : mode == Mode::doubling ? "/mode:double" : "/mode:prealloc";
            add_workload("realloc_growth", size.heap, name, Peers::collectors_and_malloc,
                         [size, mode](auto tag, benchmark::State& s) {
                             run_realloc_growth<typename decltype(tag)::type>(s, size.heap, size.target, mode);
                         },
                         [](benchmark::internal::Benchmark* b) { b->Unit(benchmark::kMicrosecond); });
        }
    }
}

}  // namespace bench
