// SPDX-License-Identifier: MIT
// The text summary uheap-report prints: totals, top tags, fragmentation trend, pauses, leaks, alarms.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
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

// The first top_n tags of rank_tags(), with what is allocated now beside what the last
// collection kept.
void write_tags(std::ostream& out, const Profile& p, std::size_t top_n) {
    const RankedTags ranked = rank_tags(p);
    const bool judged = ranked.judged;
    out << (judged ? "top tags by bytes live at the last collection:\n" : "top tags by live bytes:\n") << "  " << pad("tag", 20);
    if (judged) out << pad("at last GC", 12, true);
    out << pad("objs now", 10, true) << pad("bytes now", 12, true) << pad("peak bytes", 12, true) << pad("allocs", 10, true)
        << pad("allocated", 12, true) << '\n';
    for (std::size_t i = 0; i < ranked.tags.size() && i < top_n; ++i) {
        const TagStats& t = ranked.tags[i];
        out << "  " << pad(p.label(t.tag), 20);
        if (judged) out << pad(human_bytes(double(ranked.at_last_gc[i])), 12, true);
        out << pad(std::to_string(t.live_objects), 10, true) << pad(human_bytes(double(t.live_bytes)), 12, true)
            << pad(human_bytes(double(t.peak_live_bytes)), 12, true) << pad(std::to_string(t.allocations), 10, true)
            << pad(human_bytes(double(t.bytes_allocated)), 12, true) << '\n';
    }
    if (judged) out << "  (\"now\" includes objects allocated since the last collection, garbage or not)\n";
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
    out << "largest free run after a collection: " << human_bytes(double(t.back().largest_free_bytes))
        << " after the last (collection " << t.back().collection << "), smallest "
        << human_bytes(double(smallest->largest_free_bytes)) << " after collection " << smallest->collection << '\n';
    const SummaryFigures f = summary_figures(p);
    out << "pauses: " << t.size() << " collections, " << pause_percentiles(p) << ", mean " << f.pause_mean << '\n';
}

// What a snapshot taken between collections shows: the objects the last collection found
// reachable, and those allocated since, which no collection has judged (the map's pale cells).
void write_snapshot(std::ostream& out, const Profile& p) {
    const HeapSnapshot& s = p.snapshot;
    if (!s.taken) return;
    std::size_t survived = 0, survived_objects = 0, young = 0, young_objects = 0, unknown = 0, free = 0, largest = 0;
    for (const SnapshotArea& a : s.areas) {
        for (const SnapshotSpan& span : a.spans) {
            std::size_t bytes = span.n_blocks * p.block_bytes;
            if (!span.object) {
                free += bytes;
                largest = std::max(largest, bytes);
            } else if (span.age == 0) {
                young += bytes;
                ++young_objects;
            } else if (span.age > 0) {
                survived += bytes;
                ++survived_objects;
            } else {
                unknown += bytes;
            }
        }
    }
    out << "snapshot: " << (s.after_collection ? "right after collection " + std::to_string(s.collection)
                                               : "collection " + std::to_string(s.collection) + " + " + human_duration(s.ns_since_collection))
        << ": " << human_bytes(double(survived)) << " in " << survived_objects << " objects survived the last collection, "
        << human_bytes(double(young)) << " in " << young_objects << " objects allocated since (not yet judged)";
    if (unknown != 0) out << ", " << human_bytes(double(unknown)) << " never seen allocated";
    out << "; " << human_bytes(double(free)) << " free, largest free run " << human_bytes(double(largest)) << '\n';
}

void write_leaks(std::ostream& out, const Profile& p) {
    if (!p.growing_tags.empty() || !p.timeline.empty()) {
        out << "growing tags (live bytes after each of the last collections, rising): " << p.growing_tags.size() << '\n';
        for (const GrowingTag& g : p.growing_tags) {
            out << "  " << pad(p.label(g.tag), 20) << pad(human_bytes(double(g.first_bytes)), 10, true) << " -> "
                << pad(human_bytes(double(g.last_bytes)), 10, true) << "  rose in " << g.rises << " of " << g.collections - 1
                << " steps\n";
        }
    }
    out << "leak suspects (objects of growing tags, alive for >= " << p.leak_min_age << " collections): "
        << p.leak_suspects.size() << '\n';
    for (const LeakSuspect& l : p.leak_suspects) {
        char where[64];
        std::snprintf(where, sizeof where, "area %zu +0x%zx (block %zu)", l.area, l.offset, l.block);
        out << "  " << pad(where, 34) << pad(p.label(l.tag), 16) << pad(human_bytes(double(l.bytes)), 10, true)
            << "  age " << l.age << '\n';
    }
}

}  // namespace

PauseRanks pause_ranks(const Profile& p) {
    std::vector<std::uint64_t> pauses;
    for (const TimelineSample& s : p.timeline) pauses.push_back(s.pause_ns);
    std::sort(pauses.begin(), pauses.end());
    auto rank = [&](double pct) { return pauses[static_cast<std::size_t>(std::ceil(pct / 100.0 * double(pauses.size()))) - 1]; };
    PauseRanks r;
    r.p50 = rank(50);
    r.p99 = rank(99);
    r.max = pauses.back();
    std::uint64_t total = 0;
    for (std::uint64_t ns : pauses) total += ns;
    r.mean = total / pauses.size();
    return r;
}

std::string pause_percentiles(const Profile& p) {
    const PauseRanks r = pause_ranks(p);
    return "p50 " + human_duration(r.p50) + ", p99 " + human_duration(r.p99) + ", max " + human_duration(r.max);
}

// Ranked by what the last collection found live ("at last GC", from the timeline; version 2
// profiles), not by what is allocated now, which includes garbage no collection has judged.
RankedTags rank_tags(const Profile& p) {
    RankedTags r;
    std::map<std::uint16_t, std::uint64_t> at_last_gc;
    r.judged = p.version >= 2 && !p.timeline.empty();
    if (r.judged) {
        for (const TagBytes& tb : p.timeline.back().live_by_tag) at_last_gc[tb.tag] = tb.bytes;
    }
    r.tags = p.tags;
    auto key = [&](const TagStats& t) { return r.judged ? at_last_gc[t.tag] : t.live_bytes; };
    std::stable_sort(r.tags.begin(), r.tags.end(), [&](const TagStats& a, const TagStats& b) { return key(a) > key(b); });
    for (const TagStats& t : r.tags) r.at_last_gc.push_back(r.judged ? at_last_gc[t.tag] : 0);
    return r;
}

// One place formats the headline figures, so the text summary and the HTML report's header
// cannot disagree.
SummaryFigures summary_figures(const Profile& p) {
    SummaryFigures f;
    f.used = human_bytes(double(p.used_bytes));
    f.total = human_bytes(double(p.total_bytes));
    f.used_percent = fixed(p.total_bytes ? 100.0 * double(p.used_bytes) / double(p.total_bytes) : 0.0, 1);
    f.largest_free = human_bytes(double(p.largest_free_bytes));
    f.fragmentation = fixed(p.fragmentation, 3);
    if (!p.timeline.empty()) {
        const PauseRanks r = pause_ranks(p);
        f.pause_p50 = human_duration(r.p50);
        f.pause_p99 = human_duration(r.p99);
        f.pause_max = human_duration(r.max);
        f.pause_mean = human_duration(r.mean);
    }
    return f;
}

void write_summary(std::ostream& out, const Profile& p, std::size_t top_n) {
    out << "uheap profile: block " << p.block_bytes << " B, " << p.collections << " collections\n";
    if (p.has_heap) {
        const SummaryFigures f = summary_figures(p);
        out << "heap now: " << f.used << " used of " << f.total << " (" << f.used_percent << "%), " << p.objects
            << " objects, largest free run " << f.largest_free << ", fragmentation " << f.fragmentation << '\n';
    }
    write_snapshot(out, p);
    write_tags(out, p, top_n);
    write_top_sites(out, p);
    write_trend(out, p);
    write_leaks(out, p);
    std::size_t large = 0, low = 0;
    for (const AlarmEvent& a : p.alarms) (a.kind == AlarmKind::large_alloc ? large : low) += 1;
    out << "alarms: " << large << " large allocation, " << low << " low free run\n";
    if (!p.out_of_memory.empty()) {
        const OutOfMemoryEvent& first = p.out_of_memory.front();
        out << "out of memory: " << p.out_of_memory.size() << (p.out_of_memory.size() == 1 ? " allocation" : " allocations")
            << " failed, the first at collection " << first.collection << " asking for " << human_bytes(double(first.n_bytes)) << '\n';
    }
}

}  // namespace uheap::report
