// SPDX-License-Identifier: MIT
// The SVG timeline: panels sharing one x axis (collection, time or bytes allocated): heap bytes
// and fragmentation; live bytes per tag, stacked; the largest free run on a log scale; pauses.
// Out-of-memory events and alarms are marked across every panel.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <ostream>
#include <string>

#include "report.hpp"
#include "svg_util.hpp"

namespace uheap::report {

namespace {

constexpr int kWidth = 900;
constexpr int kLeft = 80;
constexpr int kRight = 150;  ///< room for the per-tag legend
constexpr int kPlotW = kWidth - kLeft - kRight;
constexpr int kGap = 50;
constexpr int kFirstPanelY = 60;

/// Maps a sample's x value (its collection, time or bytes allocated) onto the panels.
struct XScale {
    XAxis axis = XAxis::collection;
    double first = 0;
    double last = 0;
    double value(const TimelineSample& s) const {
        switch (axis) {
            case XAxis::time: return double(s.time_ns) / 1e6;  // ms
            case XAxis::allocated: return double(s.bytes_allocated);
            case XAxis::collection: break;
        }
        return double(s.collection);
    }
    double at(double v) const {
        if (last <= first) return kLeft + kPlotW / 2.0;
        return kLeft + (v - first) / (last - first) * kPlotW;
    }
    double of(const TimelineSample& s) const { return at(value(s)); }
};

/// A panel: frame, horizontal grid lines labelled on the left, and its title.
void write_panel(std::ostream& out, int y, int h, const std::string& title, const std::vector<std::pair<double, std::string>>& grid) {
    out << "<rect x=\"" << kLeft << "\" y=\"" << y << "\" width=\"" << kPlotW << "\" height=\"" << h << "\" class=\"frame\"/>\n";
    out << "<text x=\"" << kLeft << "\" y=\"" << y - 8 << "\" class=\"panel-title\">" << xml_escape(title) << "</text>\n";
    for (const auto& [fraction, label] : grid) {
        double py = y + h - fraction * h;
        out << "<line x1=\"" << kLeft << "\" y1=\"" << coord(py) << "\" x2=\"" << kLeft + kPlotW << "\" y2=\"" << coord(py)
            << "\" class=\"grid\"/>";
        out << "<text x=\"" << kLeft - 6 << "\" y=\"" << coord(py + 4) << "\" class=\"ylabel\">" << xml_escape(label) << "</text>\n";
    }
}

/// Grid lines every `step` up to `max`, labelled by `label`.
std::vector<std::pair<double, std::string>> linear_grid(double max, double step, const std::function<std::string(double)>& label) {
    std::vector<std::pair<double, std::string>> grid;
    for (double v = 0; v <= max * 1.0001; v += step) grid.emplace_back(v / max, label(v));
    return grid;
}

/// One series as a polyline; `fraction(s)` is the sample's height in the panel, 0..1.
void write_series(std::ostream& out, const Profile& p, const XScale& xs, int y, int h, const char* css_class,
                  const std::function<double(const TimelineSample&)>& fraction) {
    out << "<polyline class=\"" << css_class << "\" points=\"";
    bool first = true;
    for (const TimelineSample& s : p.timeline) {
        double f = std::clamp(fraction(s), 0.0, 1.0);
        out << (first ? "" : " ") << coord(xs.of(s)) << ',' << coord(y + h - f * h);
        first = false;
    }
    out << "\"/>\n";
}

void write_x_axis(std::ostream& out, const XScale& xs, int y) {
    double span = xs.last - xs.first;
    double step = xs.axis == XAxis::allocated ? nice_byte_step(span, 6) : nice_step(span, 8);
    if (xs.axis == XAxis::collection) step = std::max(1.0, step);
    auto label = [&](double v) { return xs.axis == XAxis::allocated ? human_bytes(v) : axis_number(v); };
    if (span > 0 && step > 0) {
        for (double v = std::ceil(xs.first / step) * step; v <= xs.last + 1e-9; v += step) {
            out << "<text x=\"" << coord(xs.at(v)) << "\" y=\"" << y + 16 << "\" class=\"xlabel\">" << xml_escape(label(v)) << "</text>\n";
        }
    } else {
        out << "<text x=\"" << coord(xs.at(xs.first)) << "\" y=\"" << y + 16 << "\" class=\"xlabel\">" << xml_escape(label(xs.first))
            << "</text>\n";
    }
    const char* name = xs.axis == XAxis::time ? "time (ms, the heap's clock)" : xs.axis == XAxis::allocated ? "bytes allocated" : "collection";
    out << "<text x=\"" << kLeft + kPlotW / 2 << "\" y=\"" << y + 36 << "\" class=\"xlabel\">" << name << "</text>\n";
}

/// Where an event of collection index `c` sits on the x axis: the first sample at or after it.
double x_of_collection(const Profile& p, const XScale& xs, std::uint64_t c) {
    for (const TimelineSample& s : p.timeline) {
        if (s.collection >= c) return xs.of(s);
    }
    return xs.of(p.timeline.back());
}

/// Out-of-memory events (red) and alarms (orange), one vertical line each across the panels,
/// with a title a browser shows on hover.
void write_markers(std::ostream& out, const Profile& p, const XScale& xs, int top, int bottom) {
    out << "<g id=\"markers\">\n";
    for (const OutOfMemoryEvent& e : p.out_of_memory) {
        double x = x_of_collection(p, xs, e.collection);
        out << "<line x1=\"" << coord(x) << "\" y1=\"" << top << "\" x2=\"" << coord(x) << "\" y2=\"" << bottom
            << "\" class=\"oom\"><title>out of memory after collection " << e.collection << ": " << e.n_bytes
            << " bytes asked</title></line>\n";
    }
    for (const AlarmEvent& a : p.alarms) {
        double x = x_of_collection(p, xs, a.collection);
        out << "<line x1=\"" << coord(x) << "\" y1=\"" << top << "\" x2=\"" << coord(x) << "\" y2=\"" << bottom
            << "\" class=\"alarm\"><title>" << (a.kind == AlarmKind::large_alloc ? "large allocation" : "low free run")
            << " alarm after collection " << a.collection << ": " << a.n_blocks << " blocks</title></line>\n";
    }
    out << "</g>\n";
}

void write_legend(std::ostream& out) {
    struct Entry {
        const char* css;
        const char* label;
    };
    const Entry entries[] = {{"used", "used"},         {"free", "free"},       {"frag", "fragmentation (right axis)"},
                             {"largest", "largest free run"}, {"pause", "pause"}, {"oom", "out of memory"},
                             {"alarm", "alarm"}};
    out << "<g id=\"legend\" class=\"legend\">\n";
    int x = kLeft;
    for (const Entry& e : entries) {
        out << "<line x1=\"" << x << "\" y1=\"30\" x2=\"" << x + 22 << "\" y2=\"30\" class=\"" << e.css << "\"/>";
        out << "<text x=\"" << x + 28 << "\" y=\"34\">" << e.label << "</text>\n";
        x += 36 + static_cast<int>(std::char_traits<char>::length(e.label)) * 6;
    }
    out << "</g>\n";
}

// Live bytes per tag after each collection, stacked: the tags with the most bytes at their peak
// get a colour each, the rest one band "other tags". (Profiles of version 1 have no per-tag
// samples: the panel says so.)
int write_tag_panel(std::ostream& out, const Profile& p, const XScale& xs, int y) {
    constexpr int kH = 160;
    constexpr std::size_t kBands = 6;
    const char* const colors[kBands + 1] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1", "#bab0ac"};
    std::map<std::uint16_t, std::uint64_t> peak;
    double max_total = 1;
    for (const TimelineSample& s : p.timeline) {
        std::uint64_t total = 0;
        for (const TagBytes& tb : s.live_by_tag) {
            peak[tb.tag] = std::max(peak[tb.tag], tb.bytes);
            total += tb.bytes;
        }
        max_total = std::max(max_total, double(total));
    }
    std::vector<std::pair<std::uint16_t, std::uint64_t>> ranked(peak.begin(), peak.end());
    std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<std::uint16_t> bands;
    for (std::size_t i = 0; i < ranked.size() && i < kBands; ++i) bands.push_back(ranked[i].first);
    const bool other = ranked.size() > kBands;
    double step = nice_byte_step(max_total, 4);
    double max = std::ceil(max_total / step) * step;
    write_panel(out, y, kH, "live bytes per tag after each collection", linear_grid(max, step, [](double v) { return human_bytes(v); }));
    if (peak.empty()) {
        out << "<text x=\"" << kLeft + 10 << "\" y=\"" << y + kH / 2 << "\" class=\"note\">no per-tag samples (a version 1 profile)</text>\n";
        return kH;
    }
    // Each band is the area between the running sums below and above it.
    std::vector<double> below(p.timeline.size(), 0.0);
    out << "<g id=\"tags\">\n";
    for (std::size_t b = 0; b < bands.size() + (other ? 1 : 0); ++b) {
        std::vector<double> above = below;
        for (std::size_t i = 0; i < p.timeline.size(); ++i) {
            for (const TagBytes& tb : p.timeline[i].live_by_tag) {
                bool mine = b < bands.size() ? tb.tag == bands[b] : std::find(bands.begin(), bands.end(), tb.tag) == bands.end();
                if (mine) above[i] += double(tb.bytes);
            }
        }
        std::string label = b < bands.size() ? p.label(bands[b]) : "other tags";
        out << "<polygon class=\"band\" fill=\"" << colors[b] << "\" points=\"";
        for (std::size_t i = 0; i < p.timeline.size(); ++i) {
            out << (i == 0 ? "" : " ") << coord(xs.of(p.timeline[i])) << ',' << coord(y + kH - above[i] / max * kH);
        }
        for (std::size_t i = p.timeline.size(); i-- > 0;) out << ' ' << coord(xs.of(p.timeline[i])) << ',' << coord(y + kH - below[i] / max * kH);
        out << "\"><title>" << xml_escape(label) << "</title></polygon>\n";
        int ly = y + 12 + static_cast<int>(b) * 16;
        out << "<rect x=\"" << kLeft + kPlotW + 10 << "\" y=\"" << ly - 9 << "\" width=\"10\" height=\"10\" fill=\"" << colors[b] << "\"/>";
        out << "<text x=\"" << kLeft + kPlotW + 26 << "\" y=\"" << ly << "\">" << xml_escape(label) << "</text>\n";
        below = above;
    }
    out << "</g>\n";
    return kH;
}

// The largest free run on a log scale from half a block (the floor: no free block at all) to the
// heap, so that one block of a 250 KB heap is a point above the floor, not a zero.
int write_largest_panel(std::ostream& out, const Profile& p, const XScale& xs, int y, double max_bytes) {
    constexpr int kH = 110;
    const double block = double(std::max<std::size_t>(p.block_bytes, 1));
    const double lo = block / 2;
    double hi = std::max(max_bytes, block * 2);
    const double decades = std::log2(hi / lo);
    std::vector<std::pair<double, std::string>> grid;
    for (double v = block; v <= hi * 1.0001; v *= 16) grid.emplace_back(std::log2(v / lo) / decades, human_bytes(v));
    auto smallest = std::min_element(p.timeline.begin(), p.timeline.end(),
                                     [](const auto& a, const auto& b) { return a.largest_free_bytes < b.largest_free_bytes; });
    write_panel(out, y, kH,
                "largest free run (log scale); smallest " + human_bytes(double(smallest->largest_free_bytes)) + " after collection " +
                    std::to_string(smallest->collection),
                grid);
    write_series(out, p, xs, y, kH, "largest", [&](const TimelineSample& s) {
        return s.largest_free_bytes == 0 ? 0.0 : std::log2(std::max(double(s.largest_free_bytes), lo) / lo) / decades;
    });
    return kH;
}

int write_pause_panel(std::ostream& out, const Profile& p, const XScale& xs, int y) {
    constexpr int kH = 110;
    std::uint64_t max_pause = 0;
    for (const TimelineSample& s : p.timeline) max_pause = std::max(max_pause, s.pause_ns);
    double max_us = std::max(double(max_pause) / 1000.0, 0.001);
    double step = nice_step(max_us, 4);
    max_us = std::ceil(max_us / step) * step;
    write_panel(out, y, kH,
                "pause (µs): " + pause_percentiles(p),
                linear_grid(max_us, step, [](double v) { return axis_number(v); }));
    write_series(out, p, xs, y, kH, "pause", [&](const TimelineSample& s) { return double(s.pause_ns) / 1000.0 / max_us; });
    return kH;
}

}  // namespace

void write_timeline_svg(std::ostream& out, const Profile& p, const TimelineOptions& options) {
    constexpr int kBytesH = 200;
    const int height = kFirstPanelY + kBytesH + 160 + 110 + 110 + 4 * kGap + 10;
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\""
        << height << "\" viewBox=\"0 0 " << kWidth << ' ' << height << "\">\n"
        << "<style>\ntext{font-family:Helvetica,Arial,sans-serif;font-size:12px;fill:#222}\n"
        << ".title{font-size:15px;font-weight:bold}\n.panel-title{font-weight:bold}\n.note{fill:#555}\n"
        << ".ylabel{text-anchor:end}\n.rlabel{text-anchor:start}\n.xlabel{text-anchor:middle}\n"
        << ".frame{fill:none;stroke:#999}\n.grid{stroke:#e4e4e4}\n"
        << "polyline,.legend line{fill:none;stroke-width:2}\n.band{fill-opacity:.85;stroke:#fff;stroke-width:.5}\n"
        << ".used{stroke:#4e79a7}\n.free{stroke:#59a14f}\n.largest{stroke:#f28e2b}\n"
        << ".frag{stroke:#e15759;stroke-dasharray:5 3;stroke-width:1.5}\n.pause{stroke:#b07aa1}\n"
        << ".oom{stroke:#d62728;stroke-width:2;stroke-opacity:.8}\n.alarm{stroke:#ff9f1c;stroke-width:1;stroke-dasharray:2 2}\n"
        << "</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    out << "<text x=\"" << kLeft << "\" y=\"18\" class=\"title\">uheap timeline: " << p.timeline.size() << " collections, "
        << p.out_of_memory.size() << " out of memory, " << p.alarms.size() << " alarms</text>\n";
    write_legend(out);
    if (p.timeline.empty()) {
        out << "<text x=\"" << kLeft << "\" y=\"" << kFirstPanelY + 40 << "\">No collection was recorded.</text>\n</svg>\n";
        return;
    }
    // A profile without times or allocation counts (version 1) falls back to collections.
    XAxis axis = options.x_axis;
    if (axis != XAxis::collection && p.version < 2) axis = XAxis::collection;
    XScale xs{axis, 0, 0};
    xs.first = xs.value(p.timeline.front());
    xs.last = xs.value(p.timeline.back());
    double max_bytes = 1;
    for (const TimelineSample& s : p.timeline) max_bytes = std::max(max_bytes, double(s.used_bytes + s.free_bytes));
    double byte_step = nice_byte_step(max_bytes, 5);
    double max = std::ceil(max_bytes / byte_step) * byte_step;

    int y = kFirstPanelY;
    write_panel(out, y, kBytesH, "heap bytes after each collection", linear_grid(max, byte_step, [](double v) { return human_bytes(v); }));
    for (int i = 0; i <= 4; ++i) {  // the fragmentation axis, 0..1, on the right
        double py = y + kBytesH - i / 4.0 * kBytesH;
        out << "<text x=\"" << kLeft + kPlotW + 6 << "\" y=\"" << coord(py + 4) << "\" class=\"rlabel\">" << axis_number(i / 4.0) << "</text>\n";
    }
    write_series(out, p, xs, y, kBytesH, "used", [&](const TimelineSample& s) { return double(s.used_bytes) / max; });
    write_series(out, p, xs, y, kBytesH, "free", [&](const TimelineSample& s) { return double(s.free_bytes) / max; });
    write_series(out, p, xs, y, kBytesH, "frag", [](const TimelineSample& s) { return s.fragmentation; });
    y += kBytesH + kGap;
    y += write_tag_panel(out, p, xs, y) + kGap;
    y += write_largest_panel(out, p, xs, y, max_bytes) + kGap;
    int pause_h = write_pause_panel(out, p, xs, y);
    write_markers(out, p, xs, kFirstPanelY, y + pause_h);
    write_x_axis(out, xs, y + pause_h);
    out << "</svg>\n";
}

}  // namespace uheap::report
