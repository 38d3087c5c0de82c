// SPDX-License-Identifier: MIT
// The SVG heap map: one cell per block (or per k blocks on big heaps), per area, with a legend.
#include <algorithm>
#include <map>
#include <ostream>
#include <vector>

#include "report.hpp"
#include "svg_util.hpp"

namespace uheap::report {

namespace {

constexpr int kMargin = 16;
constexpr int kLegendGap = 24;
constexpr int kLegendWidth = 260;
constexpr int kLineHeight = 16;
constexpr std::size_t kPaletteSize = 12;
const char* const kPalette[kPaletteSize] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                                            "#b07aa1", "#ff9da7", "#9c755f", "#17becf", "#bcbd22", "#1f77b4"};
const char* const kFreeColor = "#ececec";

/// A colour class of the map: its CSS class name, fill, and legend text.
struct ColorClass {
    std::string name;
    std::string fill;
    std::string label;
};

/// Per-block class ids of one area, plus which blocks are object heads.
struct BlockClasses {
    std::vector<std::uint16_t> id;
    std::vector<bool> head;
};

/// The classes of the map and how a span's blocks map onto them.
class Classifier {
public:
    Classifier(const Profile& profile, ColorBy color_by) : color_by_(color_by) {
        classes_.push_back({"free", kFreeColor, "free"});
        // Objects no collection has judged yet (allocated since the last one) get one class of
        // their own, so that garbage is not drawn as live (version 2 profiles).
        for (const SnapshotArea& a : profile.snapshot.areas) {
            for (const SnapshotSpan& s : a.spans) young_seen_ = young_seen_ || (s.object && s.age == 0);
        }
        if (young_seen_) {
            young_ = add("young", "#d4c8ea", "allocated since collection " + std::to_string(profile.snapshot.collection) +
                                                  " (not yet judged: live or garbage)");
        }
        if (color_by == ColorBy::kind) {
            classes_.push_back({"head", "#1f4e79", "object head"});
            classes_.push_back({"tail", "#6fa8dc", "object tail"});
            classes_.push_back({"noscan", "#6aa84f", "no-scan object"});
            classes_.push_back({"final", "#e69138", "object with finaliser"});
            return;
        }
        // Tags ranked by blocks in the snapshot: the biggest get the palette, the rest share one.
        std::map<std::int32_t, std::size_t> blocks;
        for (const SnapshotArea& a : profile.snapshot.areas) {
            for (const SnapshotSpan& s : a.spans) {
                if (s.object && s.age != 0) blocks[s.tag] += s.n_blocks;
            }
        }
        std::vector<std::pair<std::int32_t, std::size_t>> ranked(blocks.begin(), blocks.end());
        std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
        for (const auto& [tag, n] : ranked) {
            if (tag < 0) {
                tag_class_[tag] = add_shared("untagged", "#7f7f7f", "untagged object");
            } else if (palette_used_ < kPaletteSize) {
                std::string label = profile.label(tag) + " (tag " + std::to_string(tag) + ")";
                tag_class_[tag] = add("c" + std::to_string(classes_.size()), kPalette[palette_used_++], label);
            } else {
                tag_class_[tag] = add_shared("other", "#c49c94", "other tags");
            }
        }
    }

    const std::vector<ColorClass>& classes() const { return classes_; }

    std::uint16_t class_of(const SnapshotSpan& span, bool first_block) const {
        if (!span.object) return 0;
        if (young_seen_ && span.age == 0) return young_;
        if (color_by_ == ColorBy::kind) {
            if (span.flags & kFinaliser) return 4;
            if (span.flags & kNoScan) return 3;
            return first_block ? 1 : 2;
        }
        auto it = tag_class_.find(span.tag);
        return it == tag_class_.end() ? 0 : it->second;
    }

private:
    std::uint16_t add(const std::string& name, const char* fill, const std::string& label) {
        classes_.push_back({name, fill, label});
        return static_cast<std::uint16_t>(classes_.size() - 1);
    }
    std::uint16_t add_shared(const std::string& name, const char* fill, const std::string& label) {
        for (std::size_t i = 0; i < classes_.size(); ++i) {
            if (classes_[i].name == name) return static_cast<std::uint16_t>(i);
        }
        return add(name, fill, label);
    }

    ColorBy color_by_;
    bool young_seen_ = false;
    std::uint16_t young_ = 0;
    std::vector<ColorClass> classes_;
    std::map<std::int32_t, std::uint16_t> tag_class_;
    std::size_t palette_used_ = 0;
};

BlockClasses classify_area(const SnapshotArea& area, const Classifier& classifier) {
    BlockClasses out;
    out.id.assign(area.pool_blocks, 0);
    out.head.assign(area.pool_blocks, false);
    for (const SnapshotSpan& s : area.spans) {
        std::size_t end = std::min(area.pool_blocks, s.first_block + s.n_blocks);
        for (std::size_t b = s.first_block; b < end; ++b) out.id[b] = classifier.class_of(s, b == s.first_block);
        if (s.object && s.first_block < area.pool_blocks) out.head[s.first_block] = true;
    }
    return out;
}

/// The colour of one cell of k blocks: the most common class (ties go to objects, then to the
/// lower class id) and the fraction of its blocks in use.
struct Cell {
    std::uint16_t id = 0;
    double used = 0.0;
    bool head = false;
};

Cell summarise(const BlockClasses& blocks, std::size_t first, std::size_t k, std::size_t n_classes,
               std::vector<std::size_t>& counts) {
    std::size_t end = std::min(blocks.id.size(), first + k);
    counts.assign(n_classes, 0);
    Cell cell;
    for (std::size_t b = first; b < end; ++b) {
        ++counts[blocks.id[b]];
        if (blocks.head[b]) cell.head = true;
    }
    std::size_t best = 0;
    for (std::size_t c = 1; c < n_classes; ++c) {
        if (counts[c] > counts[best] || (best == 0 && counts[c] == counts[0] && counts[c] > 0)) best = c;
    }
    cell.id = static_cast<std::uint16_t>(best);
    cell.used = end > first ? 1.0 - static_cast<double>(counts[0]) / static_cast<double>(end - first) : 0.0;
    return cell;
}

void write_style(std::ostream& out, const std::vector<ColorClass>& classes) {
    out << "<style>\n"
        << "text{font-family:Helvetica,Arial,sans-serif;font-size:12px;fill:#222}\n"
        << ".title{font-size:15px;font-weight:bold}\n.note{fill:#555}\n"
        << ".area-label{font-weight:bold}\n.tl{fill-opacity:.62}\n";
    for (const ColorClass& c : classes) out << "." << c.name << "{fill:" << c.fill << "}\n";
    out << "</style>\n";
}

std::vector<std::string> legend_notes(std::size_t k, std::size_t block_bytes, ColorBy color_by) {
    std::vector<std::string> notes;
    if (k == 1) {
        notes.push_back("1 cell = 1 block (" + std::to_string(block_bytes) + " B)");
        if (color_by == ColorBy::tag) notes.push_back("solid = object head, paler = tail");
    } else {
        notes.push_back("1 cell = " + std::to_string(k) + " blocks (" + human_bytes(double(k * block_bytes)) + ")");
        notes.push_back(color_by == ColorBy::tag ? "colour = most common tag in the cell"
                                                 : "colour = most common kind in the cell");
        notes.push_back("opacity = fraction of the cell in use");
    }
    return notes;
}

// Legend: a swatch and label per colour class, then what one cell stands for.
void write_legend(std::ostream& out, int x, int y, const std::vector<ColorClass>& classes,
                  const std::vector<std::string>& notes, const std::string& heading) {
    out << "<g id=\"legend\" class=\"legend\">\n";
    out << "<text x=\"" << x << "\" y=\"" << y << "\" class=\"area-label\">" << xml_escape(heading) << "</text>\n";
    y += kLineHeight;
    for (const ColorClass& c : classes) {
        out << "<rect x=\"" << x << "\" y=\"" << y - 10 << "\" width=\"12\" height=\"12\" class=\"" << c.name
            << "\" stroke=\"#888\" stroke-width=\"0.5\"/>";
        out << "<text x=\"" << x + 18 << "\" y=\"" << y << "\">" << xml_escape(c.label) << "</text>\n";
        y += kLineHeight;
    }
    y += kLineHeight / 2;
    for (const std::string& note : notes) {
        out << "<text x=\"" << x << "\" y=\"" << y << "\" class=\"note\">" << xml_escape(note) << "</text>\n";
        y += kLineHeight;
    }
    out << "</g>\n";
}

void write_placeholder(std::ostream& out) {
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"420\" height=\"60\" viewBox=\"0 0 420 60\">\n"
        << "<text x=\"16\" y=\"34\" font-family=\"sans-serif\" font-size=\"14\">"
        << "No heap snapshot in this profile (call Profiler::take_snapshot()).</text>\n</svg>\n";
}

}  // namespace

std::size_t blocks_per_cell(std::size_t total_blocks, std::size_t max_cells) {
    if (max_cells == 0) max_cells = 1;
    std::size_t k = 1;
    while ((total_blocks + k - 1) / k > max_cells) k *= 2;
    return k;
}

// Areas stack vertically, each a grid of `columns` cells per row under its label; the legend sits
// to the right. Everything is computed from the snapshot alone.
void write_heap_map_svg(std::ostream& out, const Profile& profile, const HeapMapOptions& options) {
    if (!profile.snapshot.taken || profile.snapshot.areas.empty()) {
        write_placeholder(out);
        return;
    }
    const std::size_t columns = std::max<std::size_t>(options.columns, 1);
    const int px = static_cast<int>(std::max<std::size_t>(options.cell_px, 1));
    std::size_t total_blocks = 0;
    for (const SnapshotArea& a : profile.snapshot.areas) total_blocks += a.pool_blocks;
    const std::size_t k = blocks_per_cell(total_blocks, options.max_cells);
    Classifier classifier(profile, options.color_by);
    const auto& classes = classifier.classes();

    const int grid_w = static_cast<int>(columns) * px;
    int grid_h = 0;
    for (const SnapshotArea& a : profile.snapshot.areas) {
        std::size_t rows = ((a.pool_blocks + k - 1) / k + columns - 1) / columns;
        grid_h += 2 * kLineHeight + static_cast<int>(rows) * px;
    }
    std::vector<std::string> notes = legend_notes(k, profile.block_bytes, options.color_by);
    int legend_h = static_cast<int>(classes.size() + notes.size() + 2) * kLineHeight;
    int width = kMargin * 2 + grid_w + kLegendGap + kLegendWidth;
    int height = kMargin * 2 + 2 * kLineHeight + std::max(grid_h, legend_h);

    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
        << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << ' ' << height << "\">\n";
    write_style(out, classes);
    out << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    std::string title = "uheap heap map: " + human_bytes(double(total_blocks * profile.block_bytes)) + " in " +
                        std::to_string(profile.snapshot.areas.size()) +
                        (profile.snapshot.areas.size() == 1 ? " area, " : " areas, ") + std::to_string(total_blocks) +
                        " blocks, " +
                        (profile.snapshot.after_collection
                             ? "right after collection " + std::to_string(profile.snapshot.collection)
                             : "collection " + std::to_string(profile.snapshot.collection) + " + " +
                                   human_duration(profile.snapshot.ns_since_collection));
    out << "<text x=\"" << kMargin << "\" y=\"" << kMargin + 12 << "\" class=\"title\">" << xml_escape(title)
        << "</text>\n";

    int y = kMargin + 2 * kLineHeight;
    std::vector<std::size_t> counts;
    for (std::size_t ai = 0; ai < profile.snapshot.areas.size(); ++ai) {
        const SnapshotArea& area = profile.snapshot.areas[ai];
        std::size_t used_blocks = 0;
        std::size_t young_blocks = 0;
        for (const SnapshotSpan& s : area.spans) {
            used_blocks += s.object ? s.n_blocks : 0;
            young_blocks += s.object && s.age == 0 ? s.n_blocks : 0;
        }
        out << "<g class=\"area\" id=\"area-" << ai << "\">\n";
        out << "<text x=\"" << kMargin << "\" y=\"" << y + 12 << "\" class=\"area-label\">area " << ai << ": "
            << area.pool_blocks << " blocks (" << human_bytes(double(area.pool_blocks * profile.block_bytes))
            << "), " << (area.pool_blocks ? used_blocks * 100 / area.pool_blocks : 0) << "% in use";
        if (young_blocks != 0) {
            out << ": " << (area.pool_blocks ? (used_blocks - young_blocks) * 100 / area.pool_blocks : 0)
                << "% survived the last collection, " << (area.pool_blocks ? young_blocks * 100 / area.pool_blocks : 0)
                << "% allocated since";
        }
        out << "</text>\n";
        y += kLineHeight + kLineHeight / 2;
        BlockClasses blocks = classify_area(area, classifier);
        std::size_t n_cells = (area.pool_blocks + k - 1) / k;
        for (std::size_t c = 0; c < n_cells; ++c) {
            Cell cell = summarise(blocks, c * k, k, classes.size(), counts);
            int x = kMargin + static_cast<int>(c % columns) * px;
            int cy = y + static_cast<int>(c / columns) * px;
            out << "<rect x=\"" << x << "\" y=\"" << cy << "\" width=\"" << px << "\" height=\"" << px << "\" class=\""
                << classes[cell.id].name;
            if (k == 1 && cell.id != 0 && !cell.head && options.color_by == ColorBy::tag) out << " tl";
            out << '"';
            if (k > 1 && cell.id != 0 && cell.used < 1.0) {
                out << " fill-opacity=\"" << coord(0.25 + 0.75 * cell.used) << '"';
            }
            out << "/>\n";
        }
        y += static_cast<int>((n_cells + columns - 1) / columns) * px + kLineHeight / 2;
        out << "</g>\n";
    }
    std::string heading = options.color_by == ColorBy::tag ? "Legend (colour by tag)" : "Legend (colour by kind)";
    write_legend(out, kMargin + grid_w + kLegendGap, kMargin + 2 * kLineHeight + 12, classes, notes, heading);
    out << "</svg>\n";
}

}  // namespace uheap::report
