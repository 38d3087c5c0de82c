// SPDX-License-Identifier: MIT
// Call sites: the sampled allocation stacks, and the modules a report needs to symbolise them.
#include <link.h>
#include <unistd.h>

#include <algorithm>

#include "profiler_state.hpp"

namespace uheap {

// Every loaded object with its lowest and highest mapped address, from the dynamic linker's
// list. The main program's name is empty there; /proc/self/exe names it.
std::vector<LoadedModule> Profiler::loaded_modules() {
    std::vector<LoadedModule> out;
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* user) -> int {
            auto& list = *static_cast<std::vector<LoadedModule>*>(user);
            LoadedModule m;
            m.path = info->dlpi_name != nullptr ? info->dlpi_name : "";
            m.base = static_cast<std::uintptr_t>(info->dlpi_addr);
            std::uintptr_t low = ~std::uintptr_t{0};
            std::uintptr_t high = 0;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const auto& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD) continue;
                low = std::min<std::uintptr_t>(low, m.base + ph.p_vaddr);
                high = std::max<std::uintptr_t>(high, m.base + ph.p_vaddr + ph.p_memsz);
            }
            if (high == 0) return 0;
            if (m.path.empty() && list.empty()) {
                char exe[4096];
                ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
                if (n > 0) m.path.assign(exe, static_cast<std::size_t>(n));
            }
            if (m.path.empty()) return 0;  // the vDSO, which has no file
            m.end = high;
            list.push_back(m);
            return 0;
        },
        &out);
    return out;
}

}  // namespace uheap
