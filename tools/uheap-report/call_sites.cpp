// SPDX-License-Identifier: MIT
// Call sites: sampled return addresses turned into "function (file:line)" through addr2line,
// the heap's and the profiler's own frames skipped, and the top sites of each tag.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <unistd.h>

#include "report.hpp"
#include "svg_util.hpp"

namespace uheap::report {

namespace {

/// "ns::f" for "ns::(anonymous namespace)::f(int, char*) const": the arguments and anonymous
/// namespaces say little in a one-line site and make it three times as long.
std::string short_function(std::string name) {
    const std::string anonymous = "(anonymous namespace)::";
    for (std::size_t at; (at = name.find(anonymous)) != std::string::npos;) name.erase(at, anonymous.size());
    int depth = 0;  // of <...> and {...}: template arguments and "{lambda(int)#1}" hold parentheses
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '<' || name[i] == '{') ++depth;
        if ((name[i] == '>' || name[i] == '}') && depth > 0) --depth;
        if (name.compare(i, 10, "operator()") == 0) i += 9;  // the call operator's own parentheses
        if (name[i] == '(' && depth == 0 && i > 0) return name.substr(0, i);
    }
    return name;
}

/// 'text' for a POSIX shell: single quotes, with any single quote closed, escaped and reopened.
std::string shell_quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// addr2line's answers for `offsets` in the module at `path`: one "function (file:line)" each,
/// or an empty string for an address it cannot name. All empty if addr2line cannot run.
std::vector<std::string> addr2line(const std::string& path, const std::vector<std::uintptr_t>& offsets) {
    std::vector<std::string> names(offsets.size());
    char list[] = "/tmp/uheap-report-XXXXXX";
    int fd = mkstemp(list);
    if (fd < 0) return names;
    {
        std::ofstream out(list);
        for (std::uintptr_t o : offsets) out << "0x" << std::hex << o << '\n';
    }
    close(fd);
    std::string command = "addr2line -f -C -e " + shell_quoted(path) + " < " + list + " 2>/dev/null";
    if (std::FILE* pipe = popen(command.c_str(), "r")) {
        char line[4096];
        for (std::size_t i = 0; i < offsets.size(); ++i) {
            if (std::fgets(line, sizeof line, pipe) == nullptr) break;
            std::string function = line;
            if (std::fgets(line, sizeof line, pipe) == nullptr) break;
            std::string where = line;
            while (!function.empty() && function.back() == '\n') function.pop_back();
            while (!where.empty() && where.back() == '\n') where.pop_back();
            if (function == "??") continue;
            function = short_function(function);
            std::size_t slash = where.rfind('/');
            if (slash != std::string::npos) where = where.substr(slash + 1);
            std::size_t paren = where.find(" (discriminator");
            if (paren != std::string::npos) where = where.substr(0, paren);
            names[i] = where.rfind("??", 0) == 0 ? function : function + " (" + where + ")";
        }
        pclose(pipe);
    }
    std::remove(list);
    return names;
}

/// Functions of uheap itself: the heap's entry points and internals, the C++ helpers that
/// allocate (make<T>), the C API, and the profiler's hooks. Only these: a host's own code may
/// live in namespace uheap too.
bool is_library_frame(const std::string& name) {
    static const char* const kPrefixes[] = {"uheap::Heap::", "uheap::detail::", "uheap::Profiler::", "uheap::make",
                                            "uheap_"};
    for (const char* prefix : kPrefixes) {
        if (name.rfind(prefix, 0) == 0) return true;
    }
    // make<T>() and make_with_flags<T>() are templates: "T* uheap::make<T>(...)".
    return name.find(" uheap::make<") != std::string::npos || name.find(" uheap::make_with_flags<") != std::string::npos;
}

}  // namespace

// Return addresses point after their call; one byte back is inside it, on the call's own line.
// Addresses are made relative to their module (what addr2line reads for a position-independent
// executable or a shared library; a fixed-address executable loads at base 0).
void symbolise_call_sites(Profile* p) {
    p->site_names.assign(p->call_sites.size(), {});
    struct Use {
        std::size_t site, frame;
    };
    std::map<std::size_t, std::pair<std::vector<std::uintptr_t>, std::vector<Use>>> by_module;
    for (std::size_t s = 0; s < p->call_sites.size(); ++s) {
        const CallSite& site = p->call_sites[s];
        p->site_names[s].assign(site.frames.size(), "");
        for (std::size_t f = 0; f < site.frames.size(); ++f) {
            std::uintptr_t a = site.frames[f];
            for (std::size_t m = 0; m < p->modules.size(); ++m) {
                if (a - p->modules[m].base <= p->modules[m].end - p->modules[m].base) {
                    by_module[m].first.push_back(a - p->modules[m].base - 1);
                    by_module[m].second.push_back(Use{s, f});
                    break;
                }
            }
        }
    }
    for (auto& [m, work] : by_module) {
        std::vector<std::string> names = addr2line(p->modules[m].path, work.first);
        for (std::size_t i = 0; i < names.size(); ++i) p->site_names[work.second[i].site][work.second[i].frame] = names[i];
    }
    // Unnamed frames read as their address; then the leading frames of uheap itself go.
    for (std::size_t s = 0; s < p->call_sites.size(); ++s) {
        std::vector<std::string>& names = p->site_names[s];
        for (std::size_t f = 0; f < names.size(); ++f) {
            if (names[f].empty()) names[f] = hex_address(p->call_sites[s].frames[f]);
        }
        std::size_t skip = 0;
        while (skip + 1 < names.size() && is_library_frame(names[skip])) ++skip;
        names.erase(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(skip));
    }
}

std::string hex_address(std::uintptr_t address) {
    char text[2 + 2 * sizeof(std::uintptr_t) + 1];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(address));
    return text;
}

std::string site_label(const Profile& p, std::size_t site, std::size_t depth) {
    if (site >= p.site_names.size() || p.site_names[site].empty()) {
        return site < p.call_sites.size() && !p.call_sites[site].frames.empty() ? hex_address(p.call_sites[site].frames[0]) : "?";
    }
    const std::vector<std::string>& names = p.site_names[site];
    std::string out = names[0];
    for (std::size_t i = 1; i < std::min(depth, names.size()); ++i) out += " <- " + names[i];
    return out;
}

// Per tag, its sites by samples; with the snapshot's sampled objects of each site alive. Stacks
// that differ only inside uheap (the fast path's take or a search) are one site of the program:
// they are merged by their names.
void write_top_sites(std::ostream& out, const Profile& p, std::size_t per_tag) {
    if (p.site_sample_every == 0) return;
    out << "top allocation sites (1 in " << p.site_sample_every << " allocations sampled; estimates scale by that):\n";
    if (p.call_sites.empty()) {
        out << "  (no allocation was sampled)\n";
        return;
    }
    struct Site {
        std::string label;
        std::uint64_t samples = 0, bytes = 0, live = 0;
    };
    std::map<std::uint16_t, std::map<std::string, Site>> by_tag;
    std::vector<Site*> of_id(p.call_sites.size());
    for (std::size_t i = 0; i < p.call_sites.size(); ++i) {
        const CallSite& c = p.call_sites[i];
        std::string label = site_label(p, i, 3);
        Site& s = by_tag[c.tag][label];
        s.label = label;
        s.samples += c.samples;
        s.bytes += c.sampled_bytes;
        of_id[i] = &s;
    }
    for (const SnapshotArea& a : p.snapshot.areas) {
        for (const SnapshotSpan& s : a.spans) {
            if (s.object && s.site >= 0 && static_cast<std::size_t>(s.site) < of_id.size()) of_id[static_cast<std::size_t>(s.site)]->live += 1;
        }
    }
    std::vector<std::pair<std::uint64_t, std::uint16_t>> tags;  // (samples, tag), most first
    for (const auto& [tag, sites] : by_tag) {
        std::uint64_t n = 0;
        for (const auto& [label, s] : sites) n += s.samples;
        tags.emplace_back(n, tag);
    }
    std::sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (const auto& [samples, tag] : tags) {
        std::vector<const Site*> sites;
        for (const auto& [label, s] : by_tag[tag]) sites.push_back(&s);
        std::stable_sort(sites.begin(), sites.end(), [](const Site* a, const Site* b) { return a->samples > b->samples; });
        out << "  " << p.label(tag) << ": " << samples * p.site_sample_every << " allocations (est.) from " << sites.size()
            << (sites.size() == 1 ? " site\n" : " sites\n");
        for (std::size_t k = 0; k < std::min(per_tag, sites.size()); ++k) {
            const Site& s = *sites[k];
            out << "    " << pad(std::to_string(s.samples * p.site_sample_every), 10, true) << " allocs "
                << pad(human_bytes(double(s.bytes * p.site_sample_every)), 10, true) << "  " << pad(std::to_string(s.live), 6, true)
                << " sampled live  " << s.label << '\n';
        }
    }
}

}  // namespace uheap::report
