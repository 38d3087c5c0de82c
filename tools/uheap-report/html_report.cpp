// SPDX-License-Identifier: MIT
// The interactive HTML report: the page template, script and style (tools/uheap-report/html/,
// embedded at build time as html_assets.cpp) around the profile's data as inline JSON. The page
// draws everything itself; this file only chooses what data it gets and how compactly.
#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "html_assets.hpp"
#include "report.hpp"
#include "svg_util.hpp"

namespace uheap::report {

namespace {

/// A JSON string. '<' becomes \u003c so that neither "</script>" nor "<!--" can end or confuse
/// the <script> element the data sits in; control characters are escaped as JSON requires.
/// Other bytes pass through: the profile's strings were valid UTF-8 when nlohmann-json read them.
void put_string(std::ostream& out, const std::string& text) {
    out << '"';
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out << "\\\""; break;
            case '\\': out << "\\\\"; break;
            case '\n': out << "\\n"; break;
            case '\r': out << "\\r"; break;
            case '\t': out << "\\t"; break;
            case '<': out << "\\u003c"; break;
            default:
                if (u < 0x20) {
                    char esc[8];
                    std::snprintf(esc, sizeof esc, "\\u%04x", u);
                    out << esc;
                } else {
                    out << c;
                }
        }
    }
    out << '"';
}

/// Ratios with four decimals, as in the profile.
void put_ratio(std::ostream& out, double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4f", v);
    out << text;
}

/// "0x7f3a...": as in the profile, since JavaScript numbers lose bits above 2^53.
void put_address(std::ostream& out, std::uintptr_t address) {
    char text[2 + 2 * sizeof(std::uintptr_t) + 1];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(address));
    out << '"' << text << '"';
}

/// A column of the timeline: one number per sample, as a flat array.
template <typename Get>
void put_column(std::ostream& out, const char* name, const std::vector<TimelineSample>& samples, Get get) {
    out << "\"" << name << "\":[";
    for (std::size_t i = 0; i < samples.size(); ++i) {
        if (i != 0) out << ',';
        get(out, samples[i]);
    }
    out << ']';
}

// The summary figures twice: raw numbers (the browser test compares them with the profile) and
// the text summary's own formatting (summary_figures()), so the page's header says what the
// terminal said.
void write_summary_data(std::ostream& out, const Profile& p) {
    const SummaryFigures f = summary_figures(p);
    out << "\"summary\":{\"has_heap\":" << (p.has_heap ? "true" : "false") << ",\"total_bytes\":" << p.total_bytes
        << ",\"used_bytes\":" << p.used_bytes << ",\"objects\":" << p.objects
        << ",\"largest_free_bytes\":" << p.largest_free_bytes << ",\"fragmentation\":";
    put_ratio(out, p.fragmentation);
    out << ",\"collections\":" << p.collections << ",\"samples\":" << p.timeline.size()
        << ",\"leak_min_age\":" << p.leak_min_age;
    if (!p.timeline.empty()) {
        const PauseRanks r = pause_ranks(p);
        out << ",\"pause_ns\":{\"p50\":" << r.p50 << ",\"p99\":" << r.p99 << ",\"max\":" << r.max << ",\"mean\":" << r.mean
            << '}';
    }
    out << ",\"text\":{";
    const std::pair<const char*, const std::string*> texts[] = {
        {"used", &f.used},           {"total", &f.total},         {"used_percent", &f.used_percent},
        {"largest_free", &f.largest_free}, {"fragmentation", &f.fragmentation}, {"pause_p50", &f.pause_p50},
        {"pause_p99", &f.pause_p99}, {"pause_max", &f.pause_max}, {"pause_mean", &f.pause_mean}};
    bool first = true;
    for (const auto& [key, value] : texts) {
        out << (first ? "" : ",") << '"' << key << "\":";
        put_string(out, *value);
        first = false;
    }
    out << "}}";
}

// Every tag in the summary's order (rank_tags()): the first --top rows are the summary's table.
void write_tags_data(std::ostream& out, const Profile& p) {
    out << "\"tag_names\":{";
    bool first = true;
    for (const auto& [tag, name] : p.tag_names) {
        out << (first ? "" : ",") << '"' << tag << "\":";
        put_string(out, name);
        first = false;
    }
    const RankedTags ranked = rank_tags(p);
    out << "},\"tags\":{\"judged\":" << (ranked.judged ? "true" : "false")
        << ",\"fields\":[\"tag\",\"at_last_gc\",\"live_objects\",\"live_bytes\",\"peak_live_bytes\",\"allocations\","
           "\"bytes_allocated\",\"reallocs\",\"frees\",\"swept\"],\"rows\":[";
    for (std::size_t i = 0; i < ranked.tags.size(); ++i) {
        const TagStats& t = ranked.tags[i];
        out << (i == 0 ? "" : ",") << '[' << t.tag << ',';
        if (ranked.judged) {
            out << ranked.at_last_gc[i];
        } else {
            out << "null";
        }
        out << ',' << t.live_objects << ',' << t.live_bytes << ',' << t.peak_live_bytes << ',' << t.allocations << ','
            << t.bytes_allocated << ',' << t.reallocs << ',' << t.frees << ',' << t.swept << ']';
    }
    out << "]}";
}

// The timeline by column (a flat array per field), and each tag's live bytes as one array over
// all samples (0 where the sample leaves the tag out), which is what a stacked band needs.
void write_timeline_data(std::ostream& out, const Profile& p) {
    const auto& t = p.timeline;
    out << "\"timeline\":{";
    put_column(out, "collection", t, [](std::ostream& o, const TimelineSample& s) { o << s.collection; });
    out << ',';
    put_column(out, "time_ns", t, [](std::ostream& o, const TimelineSample& s) { o << s.time_ns; });
    out << ',';
    put_column(out, "bytes_allocated", t, [](std::ostream& o, const TimelineSample& s) { o << s.bytes_allocated; });
    out << ',';
    put_column(out, "used_bytes", t, [](std::ostream& o, const TimelineSample& s) { o << s.used_bytes; });
    out << ',';
    put_column(out, "free_bytes", t, [](std::ostream& o, const TimelineSample& s) { o << s.free_bytes; });
    out << ',';
    put_column(out, "largest_free_bytes", t, [](std::ostream& o, const TimelineSample& s) { o << s.largest_free_bytes; });
    out << ',';
    put_column(out, "fragmentation", t, [](std::ostream& o, const TimelineSample& s) { put_ratio(o, s.fragmentation); });
    out << ',';
    put_column(out, "pause_ns", t, [](std::ostream& o, const TimelineSample& s) { o << s.pause_ns; });
    out << ',';
    put_column(out, "objects_freed", t, [](std::ostream& o, const TimelineSample& s) { o << s.objects_freed; });
    out << ',';
    put_column(out, "bytes_freed", t, [](std::ostream& o, const TimelineSample& s) { o << s.bytes_freed; });
    out << ',';
    put_column(out, "live_objects", t, [](std::ostream& o, const TimelineSample& s) { o << s.live_objects; });
    std::map<std::uint16_t, std::vector<std::uint64_t>> by_tag;
    for (std::size_t i = 0; i < t.size(); ++i) {
        for (const TagBytes& tb : t[i].live_by_tag) {
            auto& column = by_tag[tb.tag];
            column.resize(t.size(), 0);
            column[i] = tb.bytes;
        }
    }
    out << ",\"live_by_tag\":[";
    bool first = true;
    for (const auto& [tag, bytes] : by_tag) {
        out << (first ? "" : ",") << '[' << tag << ",[";
        for (std::size_t i = 0; i < bytes.size(); ++i) out << (i == 0 ? "" : ",") << bytes[i];
        out << "]]";
        first = false;
    }
    out << "]}";
}

void write_events_data(std::ostream& out, const Profile& p) {
    out << "\"growing_tags\":[";
    for (std::size_t i = 0; i < p.growing_tags.size(); ++i) {
        const GrowingTag& g = p.growing_tags[i];
        out << (i == 0 ? "" : ",") << "{\"tag\":" << g.tag << ",\"first_bytes\":" << g.first_bytes
            << ",\"last_bytes\":" << g.last_bytes << ",\"collections\":" << g.collections << ",\"rises\":" << g.rises << '}';
    }
    out << "],\"leak_suspects\":[";
    for (std::size_t i = 0; i < p.leak_suspects.size(); ++i) {
        const LeakSuspect& l = p.leak_suspects[i];
        out << (i == 0 ? "" : ",") << "{\"area\":" << l.area << ",\"offset\":" << l.offset << ",\"block\":" << l.block
            << ",\"tag\":" << l.tag << ",\"bytes\":" << l.bytes << ",\"age\":" << l.age << '}';
    }
    out << "],\"alarms\":[";
    for (std::size_t i = 0; i < p.alarms.size(); ++i) {
        const AlarmEvent& a = p.alarms[i];
        out << (i == 0 ? "" : ",") << "{\"kind\":\"" << (a.kind == AlarmKind::large_alloc ? "large_alloc" : "low_free_run")
            << "\",\"collection\":" << a.collection << ",\"n_blocks\":" << a.n_blocks
            << ",\"threshold_blocks\":" << a.threshold_blocks << ",\"tag\":" << a.tag
            << ",\"on_out_of_memory\":" << (a.on_out_of_memory ? "true" : "false") << '}';
    }
    out << "],\"out_of_memory\":[";
    for (std::size_t i = 0; i < p.out_of_memory.size(); ++i) {
        const OutOfMemoryEvent& e = p.out_of_memory[i];
        out << (i == 0 ? "" : ",") << "{\"collection\":" << e.collection << ",\"n_bytes\":" << e.n_bytes << '}';
    }
    out << ']';
}

// Spans are the bulk of the data (up to 32 snapshots of tens of thousands of spans), so each
// area's spans are one flat array of integers, and their first blocks are left out (spans tile
// the pool, so the page adds up the lengths): a free run is one number, minus its length in
// blocks; an object is `stride` numbers: n_blocks, flags, tag, age, and (stride 5) site, with
// -1 for an unknown tag, age or site.
void write_snapshot_data(std::ostream& out, const HeapSnapshot& s, bool final, int stride) {
    out << "{\"collection\":" << s.collection << ",\"time_ns\":" << s.time_ns
        << ",\"after_collection\":" << (s.after_collection ? "true" : "false")
        << ",\"ns_since_collection\":" << s.ns_since_collection << ",\"final\":" << (final ? "true" : "false")
        << ",\"areas\":[";
    for (std::size_t a = 0; a < s.areas.size(); ++a) {
        const SnapshotArea& area = s.areas[a];
        out << (a == 0 ? "" : ",") << "{\"index\":" << a << ",\"pool_blocks\":" << area.pool_blocks << ",\"spans\":[";
        for (std::size_t i = 0; i < area.spans.size(); ++i) {
            const SnapshotSpan& span = area.spans[i];
            if (i != 0) out << ',';
            if (!span.object) {
                out << '-' << span.n_blocks;
                continue;
            }
            out << span.n_blocks << ',' << span.flags << ',' << span.tag << ',' << span.age;
            if (stride == 5) out << ',' << span.site;
        }
        out << "]}";
    }
    out << "]}";
}

// The series first (oldest first), then the final snapshot: the slider's positions in order.
void write_snapshots_data(std::ostream& out, const Profile& p) {
    bool sites = !p.call_sites.empty();
    auto scan = [&](const HeapSnapshot& s) {
        for (const SnapshotArea& a : s.areas) {
            for (const SnapshotSpan& span : a.spans) sites = sites || span.site >= 0;
        }
    };
    for (const HeapSnapshot& s : p.snapshots) scan(s);
    scan(p.snapshot);
    const int stride = sites ? 5 : 4;
    out << "\"span_stride\":" << stride << ",\"snapshots\":[";
    bool first = true;
    for (const HeapSnapshot& s : p.snapshots) {
        if (!first) out << ",\n";
        write_snapshot_data(out, s, false, stride);
        first = false;
    }
    if (p.snapshot.taken) {
        if (!first) out << ",\n";
        write_snapshot_data(out, p.snapshot, true, stride);
    }
    out << ']';
}

// Sites with their frames as addresses. A site object may also carry "names" (one per frame):
// the page shows those instead of the addresses. Nothing writes them yet; symbolising the
// frames (against `modules`) is the place to add them.
void write_call_sites_data(std::ostream& out, const Profile& p) {
    out << "\"call_sites\":{\"sample_every\":" << p.site_sample_every << ",\"modules\":[";
    for (std::size_t i = 0; i < p.modules.size(); ++i) {
        const LoadedModule& m = p.modules[i];
        out << (i == 0 ? "" : ",") << "{\"path\":";
        put_string(out, m.path);
        out << ",\"base\":";
        put_address(out, m.base);
        out << ",\"end\":";
        put_address(out, m.end);
        out << '}';
    }
    out << "],\"sites\":[";
    for (std::size_t i = 0; i < p.call_sites.size(); ++i) {
        const CallSite& c = p.call_sites[i];
        out << (i == 0 ? "" : ",") << "{\"id\":" << c.id << ",\"tag\":" << c.tag << ",\"samples\":" << c.samples
            << ",\"sampled_bytes\":" << c.sampled_bytes << ",\"frames\":[";
        for (std::size_t k = 0; k < c.frames.size(); ++k) {
            if (k != 0) out << ',';
            put_address(out, c.frames[k]);
        }
        out << ']';
        // The frames named by symbolise_call_sites() (uheap's own left out), which the page
        // shows in place of the addresses; not when none could be named (no module, no debug
        // information), where the addresses with their modules say more.
        const bool named = i < p.site_names.size() &&
                           std::any_of(p.site_names[i].begin(), p.site_names[i].end(),
                                       [](const std::string& name) { return name.rfind("0x", 0) != 0; });
        if (named) {
            out << ",\"names\":[";
            for (std::size_t k = 0; k < p.site_names[i].size(); ++k) {
                if (k != 0) out << ',';
                put_string(out, p.site_names[i][k]);
            }
            out << ']';
        }
        out << '}';
    }
    out << "]}";
}

/// Writes `page` up to `marker` and returns where the text after the marker starts; a template
/// without the marker is a build mistake, caught by the tests (the page then lacks that part).
std::size_t copy_until(std::ostream& out, const std::string& page, std::size_t from, const char* marker) {
    std::size_t at = page.find(marker, from);
    if (at == std::string::npos) return from;
    out.write(page.data() + from, static_cast<std::streamsize>(at - from));
    return at + std::char_traits<char>::length(marker);
}

}  // namespace

void write_report_data(std::ostream& out, const Profile& p, const HtmlOptions& options) {
    out << "{\"format\":\"uheap-report-data\",\"version\":1,\"profile_version\":" << p.version << ",\"title\":";
    put_string(out, options.title);
    out << ",\"block_bytes\":" << p.block_bytes << ",\"collections\":" << p.collections << ",\n";
    write_summary_data(out, p);
    out << ",\n";
    write_tags_data(out, p);
    out << ",\n";
    write_timeline_data(out, p);
    out << ",\n";
    write_events_data(out, p);
    out << ",\n\"map\":{\"columns\":" << std::max<std::size_t>(options.map.columns, 1)
        << ",\"max_cells\":" << std::max<std::size_t>(options.map.max_cells, 1)
        << ",\"cell_px\":" << std::max<std::size_t>(options.map.cell_px, 1) << ",\"color_by\":\""
        << (options.map.color_by == ColorBy::kind ? "kind" : "tag") << "\"},\n";
    write_call_sites_data(out, p);
    out << ",\n";
    write_snapshots_data(out, p);
    out << "}";
}

// The template has four markers: the title, the style, the data and the script, in that order;
// each is replaced as the page is written, so the data never sits in memory twice.
void write_html_report(std::ostream& out, const Profile& p, const HtmlOptions& options) {
    const std::string page = html_assets::report_template();
    std::size_t at = copy_until(out, page, 0, "@TITLE@");
    out << xml_escape(options.title);  // &, <, >, " are all HTML text needs
    at = copy_until(out, page, at, "/*@STYLE@*/");
    out << html_assets::report_style();
    at = copy_until(out, page, at, "@DATA@");
    write_report_data(out, p, options);
    at = copy_until(out, page, at, "/*@SCRIPT@*/");
    out << html_assets::report_script();
    out.write(page.data() + at, static_cast<std::streamsize>(page.size() - at));
}

}  // namespace uheap::report
