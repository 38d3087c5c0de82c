// SPDX-License-Identifier: MIT
// The one platform service the core uses: a monotonic clock for pause times.
#include "heap_impl.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
#define UHEAP_HAVE_MONOTONIC_CLOCK 1
#else
#define UHEAP_HAVE_MONOTONIC_CLOCK 0
#endif

namespace uheap::detail {

// A host clock wins; otherwise POSIX CLOCK_MONOTONIC; on bare metal without one, pauses read 0.
std::uint64_t HeapImpl::now_ns() const {
    if (cb.clock != nullptr) return cb.clock(cb.clock_user);
#if UHEAP_HAVE_MONOTONIC_CLOCK
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
#else
    return 0;
#endif
}

}  // namespace uheap::detail
