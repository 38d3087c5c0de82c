// SPDX-License-Identifier: MIT
// Call sites: the sampled allocation stacks, and the modules a report needs to symbolise them.
#include <algorithm>

#include "profiler_state.hpp"

// The two things a platform must give: the return addresses on the stack, and the loaded
// modules with their address ranges. glibc and the BSDs' libexecinfo have backtrace(); ELF
// systems have dl_iterate_phdr(). Elsewhere no stack is recorded and no module is listed (the
// report then shows no sites), and the rest of the profiler is unchanged.
#if __has_include(<execinfo.h>) && __has_include(<link.h>)
#include <execinfo.h>
#include <link.h>
#include <unistd.h>
#define UHEAP_PROFILER_HAS_STACKS 1
#else
#define UHEAP_PROFILER_HAS_STACKS 0
#endif

namespace uheap {

using profiling::ObjectRecord;

// A member of State, so that its name says it is the profiler's (uheap::Profiler::): the report
// tool skips the leading frames of uheap by name, and a sanitizer's backtrace() interceptor
// leaves this function's own frame in the stack.
#if UHEAP_PROFILER_HAS_STACKS
int Profiler::State::capture_stack(void** out, int max) { return backtrace(out, max); }
#else
int Profiler::State::capture_stack(void**, int) { return 0; }
#endif

// A sampled allocation: its return addresses, from the profiler's own caller outwards (the
// heap's frames and the profiler's hook are among the first; the report tool knows them by
// their names and skips them, since which of them are inlined depends on the build). Stacks
// are deduplicated per tag. A site table full at 0xFFFE sites drops further new stacks.
std::uint16_t Profiler::State::sample_call_site(std::size_t n_bytes, std::uint16_t tag) {
    restart_sampling();
    constexpr int kMaxFrames = 64;
    void* raw[kMaxFrames + 1];
    int wanted = static_cast<int>(std::min<std::size_t>(config.site_frames, kMaxFrames)) + 1;
    int n = capture_stack(raw, wanted);
    std::vector<std::uintptr_t> frames;
    for (int i = 1; i < n; ++i) frames.push_back(reinterpret_cast<std::uintptr_t>(raw[i]));  // [0]: this function
    auto key = std::make_pair(tag, std::move(frames));
    auto it = site_ids.find(key);
    if (it == site_ids.end()) {
        if (call_sites.size() >= ObjectRecord::kEmpty - 1) {
            ++sites_dropped;
            return 0;
        }
        CallSite site;
        site.id = static_cast<std::uint32_t>(call_sites.size());
        site.tag = tag;
        site.frames = key.second;
        call_sites.push_back(std::move(site));
        it = site_ids.emplace(std::move(key), call_sites.back().id).first;
    }
    CallSite& site = call_sites[it->second];
    site.samples += 1;
    site.sampled_bytes += n_bytes;
    return static_cast<std::uint16_t>(site.id + 1);
}

#if UHEAP_PROFILER_HAS_STACKS
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
#else
std::vector<LoadedModule> Profiler::loaded_modules() { return {}; }
#endif

}  // namespace uheap
