// SPDX-License-Identifier: MIT
// uheap-report: reads a profiler JSON, writes heap-map.svg and timeline.svg, prints a summary,
// and with --html FILE writes the interactive HTML report too.
// Exit status: 0 done (or --help), 1 the profile cannot be read or the pictures cannot be written,
// 2 bad command line.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "report.hpp"

namespace {

namespace fs = std::filesystem;

// The heap map's grid is columns x cell-px wide and about max-cells / columns rows of cell-px tall.
// A picture beyond these sizes is slow to open and useless to read, so options asking for one are
// taken as a mistake.
constexpr std::size_t kMaxGridWidthPx = 16384;
constexpr std::size_t kMaxGridHeightPx = 65536;

struct Options {
    std::string input;
    std::string out_dir = ".";
    std::string color_by = "tag";
    std::string x_axis = "collection";
    std::string html;  ///< empty: no HTML report
    std::size_t top_n = 8;
    std::string diff_against;  ///< --diff OLD.json: compare instead of drawing
    uheap::report::HeapMapOptions map;
};

// Each option checks its own range; the picture's size depends on three of them together, so it
// is checked once all are parsed (CLI11 reports the error like its own).
void check_map_size(const Options& o) {
    std::size_t width = o.map.columns * o.map.cell_px;
    if (width > kMaxGridWidthPx) {
        throw CLI::ValidationError("--columns", std::to_string(o.map.columns) + " x --cell-px " +
                                                    std::to_string(o.map.cell_px) + " = " + std::to_string(width) +
                                                    " px: the heap map may be at most " +
                                                    std::to_string(kMaxGridWidthPx) + " px wide");
    }
    std::size_t rows = (o.map.max_cells + o.map.columns - 1) / o.map.columns;
    std::size_t height = rows * o.map.cell_px;
    if (height > kMaxGridHeightPx) {
        throw CLI::ValidationError("--max-cells",
                                   std::to_string(o.map.max_cells) + " in rows of --columns " +
                                       std::to_string(o.map.columns) + " cells of --cell-px " +
                                       std::to_string(o.map.cell_px) + " = up to " + std::to_string(height) +
                                       " px: the heap map may be at most " + std::to_string(kMaxGridHeightPx) +
                                       " px tall");
    }
}

/// Reads a whole file. On failure `*error` is the system's reason (errno text).
bool read_file(const std::string& path, std::string* text, std::string* error) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        *error = std::strerror(errno);
        return false;
    }
    char buffer[1 << 16];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text->append(buffer, n);
    bool ok = std::ferror(file) == 0;
    if (!ok) *error = std::strerror(errno);
    std::fclose(file);
    return ok;
}

/// Writes a whole file. stdio rather than an ofstream, because stdio leaves the reason in errno;
/// an error at fclose (a full disk shows up there) counts too.
bool write_file(const fs::path& path, const std::string& text, std::string* error) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) {
        *error = std::strerror(errno);
        return false;
    }
    bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
    if (!ok) *error = std::strerror(errno);
    if (std::fclose(file) != 0 && ok) {
        *error = std::strerror(errno);
        ok = false;
    }
    return ok;
}

/// Reads and parses one profile and names its call sites; false (with the message printed) if
/// it cannot be read.
bool load(const std::string& path, uheap::report::Profile* profile) {
    std::string text, error;
    if (!read_file(path, &text, &error)) {
        std::cerr << "uheap-report: cannot read " << path << ": " << error << '\n';
        return false;
    }
    if (!uheap::report::load_profile(text, profile, &error)) {
        std::cerr << "uheap-report: " << path << ": " << error << '\n';
        return false;
    }
    if (!profile->call_sites.empty()) uheap::report::symbolise_call_sites(profile);
    return true;
}

// Loads the profile, draws both pictures into the output directory (created if needed), writes
// the HTML report if asked (its directory created too) and prints the summary; with --diff,
// prints what changed since the other profile instead. Every failure names the file and the
// reason.
int run(const Options& o) {
    std::string error;
    uheap::report::Profile profile;
    if (!load(o.input, &profile)) return 1;
    if (!o.diff_against.empty()) {
        uheap::report::Profile before;
        if (!load(o.diff_against, &before)) return 1;
        uheap::report::write_diff(std::cout, before, profile, o.top_n);
        return 0;
    }
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (ec) {
        std::cerr << "uheap-report: cannot create directory " << o.out_dir << ": " << ec.message() << '\n';
        return 1;
    }
    std::ostringstream map_svg, timeline_svg;
    uheap::report::write_heap_map_svg(map_svg, profile, o.map);
    uheap::report::TimelineOptions timeline;
    timeline.x_axis = o.x_axis == "time"        ? uheap::report::XAxis::time
                      : o.x_axis == "allocated" ? uheap::report::XAxis::allocated
                                                : uheap::report::XAxis::collection;
    uheap::report::write_timeline_svg(timeline_svg, profile, timeline);
    const fs::path map_path = fs::path(o.out_dir) / "heap-map.svg";
    const fs::path timeline_path = fs::path(o.out_dir) / "timeline.svg";
    auto write = [&error](const fs::path& path, const std::ostringstream& svg) {
        if (write_file(path, svg.str(), &error)) return true;
        std::cerr << "uheap-report: cannot write " << path.string() << ": " << error << '\n';
        return false;
    };
    if (!write(map_path, map_svg) || !write(timeline_path, timeline_svg)) return 1;
    if (!o.html.empty()) {
        const fs::path html_path(o.html);
        if (html_path.has_parent_path()) {
            fs::create_directories(html_path.parent_path(), ec);
            if (ec) {
                std::cerr << "uheap-report: cannot create directory " << html_path.parent_path().string() << ": "
                          << ec.message() << '\n';
                return 1;
            }
        }
        uheap::report::HtmlOptions html;
        html.map = o.map;
        html.title = fs::path(o.input).filename().string();
        std::ostringstream page;
        uheap::report::write_html_report(page, profile, html);
        if (!write(html_path, page)) return 1;
    }
    uheap::report::write_summary(std::cout, profile, o.top_n);
    std::cout << "wrote " << map_path.string() << " and " << timeline_path.string() << '\n';
    if (!o.html.empty()) std::cout << "wrote " << o.html << " (the interactive report: open it in a browser)\n";
    return 0;
}

}  // namespace

// CLI11 parses and checks the command line and writes --help; a bad command line gets a message
// naming the option and the allowed values, and exit status 2.
int main(int argc, char** argv) {
    Options o;
    CLI::App app("Draws DIR/heap-map.svg and DIR/timeline.svg from a uheap profile (Profiler::save_json) "
                 "and prints a summary: heap totals, top tags, fragmentation trend, pauses, leak suspects, "
                 "alarms. With --html FILE, also the interactive report: one self-contained HTML file.",
                 "uheap-report");
    app.option_defaults()->always_capture_default();
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
        return "uheap-report: " + std::string(e.what()) + "\nRun uheap-report --help for the options.\n";
    });
    const CLI::Validator not_empty([](std::string& value) { return value.empty() ? "must not be empty" : ""; }, "");
    app.add_option("PROFILE.json", o.input, "The profiler's JSON output")->required();
    app.add_option("--out", o.out_dir, "Directory for the pictures (created if missing)")
        ->type_name("DIR")
        ->check(not_empty);
    app.add_option("--html", o.html, "Also write the interactive report (timeline with zoom, heap map of every "
                                     "snapshot, tables) to this self-contained HTML file (its directory is created "
                                     "if missing; the path is not relative to --out)")
        ->type_name("FILE")
        ->check(not_empty);
    app.add_option("--color-by", o.color_by, "Heap map colours: by tag, or by kind (free, head, tail, no-scan, "
                                             "finaliser)")
        ->check(CLI::IsMember({"tag", "kind"}));
    app.add_option("--x-axis", o.x_axis, "Timeline x axis: collection index, time (the heap's clock), or bytes "
                                         "allocated (a version 1 profile: collection only)")
        ->check(CLI::IsMember({"collection", "time", "allocated"}));
    app.add_option("--columns", o.map.columns, "Heap map cells per row")
        ->type_name("N")
        ->check(CLI::Range(1, 4096));
    app.add_option("--max-cells", o.map.max_cells, "Above this many blocks, one cell stands for 2, 4, 8... blocks")
        ->type_name("N")
        ->check(CLI::Range(1, 1 << 20));
    app.add_option("--cell-px", o.map.cell_px, "Heap map cell size in pixels")
        ->type_name("N")
        ->check(CLI::Range(1, 64));
    app.add_option("--diff", o.diff_against, "Print what grew since this earlier profile's snapshot (per tag and per "
                                             "call site) instead of drawing")
        ->type_name("OLD.json")
        ->check(not_empty);
    app.add_option("--top", o.top_n, "Tags listed in the summary")
        ->type_name("N")
        ->check(CLI::Range(1, 65536));
    app.footer("The heap map grid (--columns x --cell-px wide, about --max-cells / --columns rows of --cell-px "
               "tall) may be at most " + std::to_string(kMaxGridWidthPx) + " px wide and " +
               std::to_string(kMaxGridHeightPx) + " px tall.\nExit status: 0 done, 1 the profile cannot be "
               "read or a picture cannot be written, 2 bad command line.");
    try {
        app.parse(argc, argv);
        check_map_size(o);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    o.map.color_by = o.color_by == "kind" ? uheap::report::ColorBy::kind : uheap::report::ColorBy::tag;
    try {
        return run(o);
    } catch (const std::exception& e) {
        // A profile that is valid but too big to draw in memory ends here (std::bad_alloc).
        std::cerr << "uheap-report: " << o.input << ": " << e.what() << '\n';
        return 1;
    }
}
