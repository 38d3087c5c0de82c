// SPDX-License-Identifier: MIT
// The text summary uheap-report prints: totals, top tags, fragmentation trend, pauses, leaks, alarms.
#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string>

#include "report.hpp"
#include "svg_util.hpp"

namespace uheap::report {

namespace {

std::string fixed(double v, int decimals) {
    char text[48];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

std::string pad(const std::string& s, std::size_t width, bool right = false) {
    if (s.size() >= width) return s;
    return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

void write_tags(std::ostream& out, const Profile& p, std::size_t top_n) {
    std::vector<TagStats> tags = p.tags;
    std::stable_sort(tags.begin(), tags.end(), [](const TagStats& a, const TagStats& b) { return a.live_bytes > b.live_bytes; });
    out << "top tags by live bytes:\n"
        << "  " << pad("tag", 20) << pad("live objs", 11, true) << pad("live bytes", 12, true)
        << pad("peak bytes", 12, true) << pad("allocs", 10, true) << pad("allocated", 12, true) << '\n';
    for (std::size_t i = 0; i < tags.size() && i < top_n; ++i) {
        const TagStats& t = tags[i];
        out << "  " << pad(p.label(t.tag), 20) << pad(std::to_string(t.live_objects), 11, true)
            << pad(human_bytes(double(t.live_bytes)), 12, true) << pad(human_bytes(double(t.peak_live_bytes)), 12, true)
            << pad(std::to_string(t.allocations), 10, true) << pad(human_bytes(double(t.bytes_allocated)), 12, true)
            << '\n';
    }
}

// The trend compares the first and last quarter of the run, which says more than two endpoints.
void write_trend(std::ostream& out, const Profile& p) {
    const auto& t = p.timeline;
    if (t.empty()) {
        out << "fragmentation trend: no collections recorded\n";
        return;
    }
    std::size_t quarter = std::max<std::size_t>(1, t.size() / 4);
    double early = 0, late = 0;
    for (std::size_t i = 0; i < quarter; ++i) early += t[i].fragmentation;
    for (std::size_t i = t.size() - quarter; i < t.size(); ++i) late += t[i].fragmentation;
    early /= double(quarter);
    late /= double(quarter);
    auto worst = std::max_element(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.fragmentation < b.fragmentation; });
    const char* direction = late > early + 0.05 ? "rising" : late < early - 0.05 ? "falling" : "flat";
    out << "fragmentation trend: " << direction << " (first quarter mean " << fixed(early, 3) << ", last quarter mean "
        << fixed(late, 3) << ", worst " << fixed(worst->fragmentation, 3) << " at collection " << worst->collection
        << ")\n";
    auto smallest = std::min_element(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.largest_free_bytes < b.largest_free_bytes; });
    out << "largest free run: " << human_bytes(double(t.back().largest_free_bytes)) << " at the end, smallest "
        << human_bytes(double(smallest->largest_free_bytes)) << " at collection " << smallest->collection << '\n';
    std::uint64_t max_pause = 0, total = 0;
    for (const auto& s : t) {
        max_pause = std::max(max_pause, s.pause_ns);
        total += s.pause_ns;
    }
    out << "pauses: " << t.size() << " collections, mean " << fixed(double(total) / double(t.size()) / 1000.0, 1)
        << " us, max " << fixed(double(max_pause) / 1000.0, 1) << " us\n";
}

void write_leaks(std::ostream& out, const Profile& p) {
    out << "leak suspects (alive for >= " << p.leak_min_age << " collections, largest first): "
        << p.leak_suspects.size() << '\n';
    for (const LeakSuspect& l : p.leak_suspects) {
        char where[64];
        std::snprintf(where, sizeof where, "area %zu +0x%zx (block %zu)", l.area, l.offset, l.block);
        out << "  " << pad(where, 34) << pad(p.label(l.tag), 16) << pad(human_bytes(double(l.bytes)), 10, true)
            << "  age " << l.age << '\n';
    }
}

}  // namespace

void write_summary(std::ostream& out, const Profile& p, std::size_t top_n) {
    out << "uheap profile: block " << p.block_bytes << " B, " << p.collections << " collections\n";
    if (p.has_heap) {
        double pct = p.total_bytes ? 100.0 * double(p.used_bytes) / double(p.total_bytes) : 0.0;
        out << "heap now: " << human_bytes(double(p.used_bytes)) << " used of " << human_bytes(double(p.total_bytes))
            << " (" << fixed(pct, 1) << "%), " << p.objects << " objects, largest free run "
            << human_bytes(double(p.largest_free_bytes)) << ", fragmentation " << fixed(p.fragmentation, 3) << '\n';
    }
    write_tags(out, p, top_n);
    write_trend(out, p);
    write_leaks(out, p);
    std::size_t large = 0, low = 0;
    for (const AlarmEvent& a : p.alarms) (a.kind == AlarmKind::large_alloc ? large : low) += 1;
    out << "alarms: " << large << " large allocation, " << low << " low free run\n";
}

}  // namespace uheap::report
