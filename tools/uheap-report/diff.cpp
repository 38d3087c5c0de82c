// SPDX-License-Identifier: MIT
// uheap-report --diff: what grew between two snapshots, per tag and per call site.
#include <algorithm>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>

#include "report.hpp"
#include "svg_util.hpp"

namespace uheap::report {

namespace {

struct Amount {
    std::int64_t bytes = 0;
    std::int64_t objects = 0;
};

struct Change {
    std::string what;
    Amount before, after;
    std::int64_t growth() const { return after.bytes - before.bytes; }
};

/// Live bytes and objects of the snapshot per key(span, label); spans the key maps to "" are
/// left out.
template <class Key>
std::map<std::string, Amount> tally(const Profile& p, Key key) {
    std::map<std::string, Amount> out;
    for (const SnapshotArea& a : p.snapshot.areas) {
        for (const SnapshotSpan& s : a.spans) {
            if (!s.object) continue;
            std::string k = key(s);
            if (k.empty()) continue;
            out[k].bytes += static_cast<std::int64_t>(s.n_blocks * p.block_bytes);
            out[k].objects += 1;
        }
    }
    return out;
}

/// Both tallies side by side, largest growth first (then largest shrink, by name).
std::vector<Change> changes(const std::map<std::string, Amount>& before, const std::map<std::string, Amount>& after) {
    std::map<std::string, Change> joined;
    for (const auto& [k, v] : before) joined[k].before = v;
    for (const auto& [k, v] : after) joined[k].after = v;
    std::vector<Change> out;
    for (auto& [k, c] : joined) {
        c.what = k;
        out.push_back(c);
    }
    std::stable_sort(out.begin(), out.end(), [](const Change& a, const Change& b) { return a.growth() > b.growth(); });
    return out;
}

std::string signed_bytes(std::int64_t bytes) {
    return (bytes > 0 ? "+" : bytes < 0 ? "-" : "") + human_bytes(double(bytes < 0 ? -bytes : bytes));
}

std::string signed_count(std::int64_t n) { return (n > 0 ? "+" : "") + std::to_string(n); }

void write_changes(std::ostream& out, const std::vector<Change>& list, std::size_t top_n) {
    out << "  " << pad("before", 10, true) << pad("after", 10, true) << pad("growth", 10, true) << pad("objects", 9, true)
        << "  what\n";
    for (std::size_t i = 0; i < std::min(top_n, list.size()); ++i) {
        const Change& c = list[i];
        out << "  " << pad(human_bytes(double(c.before.bytes)), 10, true) << pad(human_bytes(double(c.after.bytes)), 10, true)
            << pad(signed_bytes(c.growth()), 10, true) << pad(signed_count(c.after.objects - c.before.objects), 9, true) << "  "
            << c.what << '\n';
    }
}

std::string snapshot_moment(const Profile& p) {
    const HeapSnapshot& s = p.snapshot;
    return (s.after_collection ? "right after collection " : "at collection ") + std::to_string(s.collection) + " + " +
           human_duration(s.ns_since_collection);
}

}  // namespace

// Sites are matched across the two profiles by their named frames (the same code in two runs
// has different addresses under ASLR, the same names), so symbolise both first.
void write_diff(std::ostream& out, const Profile& before, const Profile& after, std::size_t top_n) {
    out << "snapshot diff: before " << snapshot_moment(before) << ", after " << snapshot_moment(after) << '\n';
    if (!before.snapshot.taken || !after.snapshot.taken) {
        out << "  (a profile without a snapshot has nothing to compare)\n";
        return;
    }
    auto by_tag = [](const Profile& p) {
        return tally(p, [&p](const SnapshotSpan& s) { return s.tag < 0 ? std::string("(never seen allocated)") : p.label(s.tag); });
    };
    out << "live bytes by tag, largest growth first:\n";
    write_changes(out, changes(by_tag(before), by_tag(after)), top_n);
    if (before.site_sample_every == 0 && after.site_sample_every == 0) return;
    auto by_site = [](const Profile& p) {
        return tally(p, [&p](const SnapshotSpan& s) {
            if (s.site < 0 || static_cast<std::size_t>(s.site) >= p.call_sites.size()) return std::string();
            return p.label(p.call_sites[static_cast<std::size_t>(s.site)].tag) + " at " + site_label(p, static_cast<std::size_t>(s.site), 3);
        });
    };
    out << "sampled live objects by call site (1 in " << std::max(before.site_sample_every, after.site_sample_every)
        << " allocations), largest growth first:\n";
    write_changes(out, changes(by_site(before), by_site(after)), top_n);
}

}  // namespace uheap::report
