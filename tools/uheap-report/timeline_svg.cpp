// SPDX-License-Identifier: MIT
// The SVG timeline: heap occupancy and fragmentation per collection, pause times in a panel below.
#include <algorithm>
#include <functional>
#include <ostream>
#include <string>

#include "report.hpp"
#include "svg_util.hpp"

namespace uheap::report {

namespace {

constexpr int kWidth = 900;
constexpr int kLeft = 80;
constexpr int kRight = 70;
constexpr int kTopPanelY = 60;
constexpr int kTopPanelH = 250;
constexpr int kGap = 50;
constexpr int kBottomPanelY = kTopPanelY + kTopPanelH + kGap;
constexpr int kBottomPanelH = 130;
constexpr int kHeight = kBottomPanelY + kBottomPanelH + 50;
constexpr int kPlotW = kWidth - kLeft - kRight;

/// Maps collection indices onto the x axis of both panels.
struct XScale {
    double first = 0;
    double last = 0;
    double at(double collection) const {
        if (last <= first) return kLeft + kPlotW / 2.0;
        return kLeft + (collection - first) / (last - first) * kPlotW;
    }
};

/// A panel: frame, horizontal grid lines with labels on the left, and its title.
void write_panel(std::ostream& out, int y, int h, double max, double step, const std::string& title,
                 const std::function<std::string(double)>& label) {
    out << "<rect x=\"" << kLeft << "\" y=\"" << y << "\" width=\"" << kPlotW << "\" height=\"" << h
        << "\" class=\"frame\"/>\n";
    out << "<text x=\"" << kLeft << "\" y=\"" << y - 8 << "\" class=\"panel-title\">" << xml_escape(title)
        << "</text>\n";
    for (double v = 0; v <= max * 1.0001; v += step) {
        double py = y + h - v / max * h;
        out << "<line x1=\"" << kLeft << "\" y1=\"" << coord(py) << "\" x2=\"" << kLeft + kPlotW << "\" y2=\""
            << coord(py) << "\" class=\"grid\"/>";
        out << "<text x=\"" << kLeft - 6 << "\" y=\"" << coord(py + 4) << "\" class=\"ylabel\">"
            << xml_escape(label(v)) << "</text>\n";
    }
}

/// One series as a polyline; `value(i)` is sample i's value on a 0..max axis of the panel.
void write_series(std::ostream& out, const Profile& p, const XScale& xs, int y, int h, double max,
                  const char* css_class, const std::function<double(const TimelineSample&)>& value) {
    out << "<polyline class=\"" << css_class << "\" points=\"";
    bool first = true;
    for (const TimelineSample& s : p.timeline) {
        double v = std::min(value(s), max);
        out << (first ? "" : " ") << coord(xs.at(double(s.collection))) << ',' << coord(y + h - v / max * h);
        first = false;
    }
    out << "\"/>\n";
}

void write_x_axis(std::ostream& out, const XScale& xs, int y) {
    double span = xs.last - xs.first;
    double step = std::max(1.0, nice_step(span, 8));
    double start = std::ceil(xs.first / step) * step;
    for (double c = start; c <= xs.last + 1e-9; c += step) {
        out << "<text x=\"" << coord(xs.at(c)) << "\" y=\"" << y + 16 << "\" class=\"xlabel\">" << axis_number(c)
            << "</text>\n";
    }
    if (span <= 0) {
        out << "<text x=\"" << coord(xs.at(xs.first)) << "\" y=\"" << y + 16 << "\" class=\"xlabel\">"
            << axis_number(xs.first) << "</text>\n";
    }
    out << "<text x=\"" << kLeft + kPlotW / 2 << "\" y=\"" << y + 36 << "\" class=\"xlabel\">collection</text>\n";
}

void write_legend(std::ostream& out) {
    struct Entry {
        const char* css;
        const char* label;
    };
    const Entry entries[] = {{"used", "used"}, {"free", "free"}, {"largest", "largest free run"},
                             {"frag", "fragmentation (right axis)"}, {"pause", "pause (lower panel)"}};
    out << "<g id=\"legend\" class=\"legend\">\n";
    int x = kLeft;
    for (const Entry& e : entries) {
        out << "<line x1=\"" << x << "\" y1=\"30\" x2=\"" << x + 22 << "\" y2=\"30\" class=\"" << e.css << "\"/>";
        out << "<text x=\"" << x + 28 << "\" y=\"34\">" << e.label << "</text>\n";
        x += 40 + static_cast<int>(std::char_traits<char>::length(e.label)) * 7;
    }
    out << "</g>\n";
}

}  // namespace

// Two panels sharing the x axis (collection index): bytes on the left axis with fragmentation on
// a 0..1 right axis above, pause times in microseconds below.
void write_timeline_svg(std::ostream& out, const Profile& p) {
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth
        << "\" height=\"" << kHeight << "\" viewBox=\"0 0 " << kWidth << ' ' << kHeight << "\">\n"
        << "<style>\ntext{font-family:Helvetica,Arial,sans-serif;font-size:12px;fill:#222}\n"
        << ".title{font-size:15px;font-weight:bold}\n.panel-title{font-weight:bold}\n"
        << ".ylabel{text-anchor:end}\n.rlabel{text-anchor:start}\n.xlabel{text-anchor:middle}\n"
        << ".frame{fill:none;stroke:#999}\n.grid{stroke:#e4e4e4}\n"
        << "polyline,.legend line{fill:none;stroke-width:2}\n"
        << ".used{stroke:#4e79a7}\n.free{stroke:#59a14f}\n.largest{stroke:#f28e2b}\n"
        << ".frag{stroke:#e15759;stroke-dasharray:5 3;stroke-width:1.5}\n.pause{stroke:#b07aa1}\n"
        << "</style>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    out << "<text x=\"" << kLeft << "\" y=\"18\" class=\"title\">uheap timeline: " << p.timeline.size()
        << " collections</text>\n";
    write_legend(out);
    if (p.timeline.empty()) {
        out << "<text x=\"" << kLeft << "\" y=\"" << kTopPanelY + 40 << "\">No collection was recorded.</text>\n</svg>\n";
        return;
    }
    XScale xs{double(p.timeline.front().collection), double(p.timeline.back().collection)};
    double max_bytes = 1;
    std::uint64_t max_pause = 1;
    for (const TimelineSample& s : p.timeline) {
        max_bytes = std::max(max_bytes, double(s.used_bytes + s.free_bytes));
        max_pause = std::max(max_pause, s.pause_ns);
    }
    double byte_step = nice_byte_step(max_bytes, 5);
    max_bytes = std::ceil(max_bytes / byte_step) * byte_step;
    double max_us = double(max_pause) / 1000.0;
    double us_step = nice_step(max_us, 4);
    max_us = std::ceil(max_us / us_step) * us_step;

    write_panel(out, kTopPanelY, kTopPanelH, max_bytes, byte_step, "heap bytes after each collection",
                [](double v) { return human_bytes(v); });
    for (int i = 0; i <= 4; ++i) {  // the fragmentation axis, 0..1, on the right
        double py = kTopPanelY + kTopPanelH - i / 4.0 * kTopPanelH;
        out << "<text x=\"" << kLeft + kPlotW + 6 << "\" y=\"" << coord(py + 4) << "\" class=\"rlabel\">"
            << axis_number(i / 4.0) << "</text>\n";
    }
    write_series(out, p, xs, kTopPanelY, kTopPanelH, max_bytes, "used", [](const TimelineSample& s) { return double(s.used_bytes); });
    write_series(out, p, xs, kTopPanelY, kTopPanelH, max_bytes, "free", [](const TimelineSample& s) { return double(s.free_bytes); });
    write_series(out, p, xs, kTopPanelY, kTopPanelH, max_bytes, "largest",
                 [](const TimelineSample& s) { return double(s.largest_free_bytes); });
    write_series(out, p, xs, kTopPanelY, kTopPanelH, 1.0, "frag", [](const TimelineSample& s) { return s.fragmentation; });

    write_panel(out, kBottomPanelY, kBottomPanelH, max_us, us_step, "pause (µs)", [](double v) { return axis_number(v); });
    write_series(out, p, xs, kBottomPanelY, kBottomPanelH, max_us, "pause",
                 [](const TimelineSample& s) { return double(s.pause_ns) / 1000.0; });
    write_x_axis(out, xs, kBottomPanelY + kBottomPanelH);
    out << "</svg>\n";
}

}  // namespace uheap::report
