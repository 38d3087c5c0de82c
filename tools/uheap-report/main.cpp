// SPDX-License-Identifier: MIT
// uheap-report: reads a profiler JSON, writes heap-map.svg and timeline.svg, prints a summary.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "report.hpp"

namespace {

const char kUsage[] =
    "usage: uheap-report PROFILE.json [--out DIR] [--color-by tag|kind] [--columns N] [--max-cells N]\n"
    "                    [--cell-px N] [--top N]\n"
    "Writes DIR/heap-map.svg and DIR/timeline.svg (DIR defaults to .) and prints a summary.\n";

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream file(path, std::ios::binary);
    file << text;
    return static_cast<bool>(file);
}

}  // namespace

int main(int argc, char** argv) {
    std::string input;
    std::string out_dir = ".";
    std::size_t top_n = 8;
    uheap::report::HeapMapOptions map_options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        bool has_value = i + 1 < argc;
        if (arg == "--out" && has_value) {
            out_dir = argv[++i];
        } else if (arg == "--color-by" && has_value) {
            std::string v = argv[++i];
            if (v != "tag" && v != "kind") {
                std::cerr << kUsage;
                return 2;
            }
            map_options.color_by = v == "tag" ? uheap::report::ColorBy::tag : uheap::report::ColorBy::kind;
        } else if (arg == "--columns" && has_value) {
            map_options.columns = std::strtoul(argv[++i], nullptr, 10);
        } else if (arg == "--max-cells" && has_value) {
            map_options.max_cells = std::strtoul(argv[++i], nullptr, 10);
        } else if (arg == "--cell-px" && has_value) {
            map_options.cell_px = std::strtoul(argv[++i], nullptr, 10);
        } else if (arg == "--top" && has_value) {
            top_n = std::strtoul(argv[++i], nullptr, 10);
        } else if (arg == "-h" || arg == "--help") {
            std::cout << kUsage;
            return 0;
        } else if (input.empty() && arg[0] != '-') {
            input = arg;
        } else {
            std::cerr << kUsage;
            return 2;
        }
    }
    if (input.empty()) {
        std::cerr << kUsage;
        return 2;
    }
    std::ifstream file(input, std::ios::binary);
    if (!file) {
        std::cerr << "uheap-report: cannot read " << input << '\n';
        return 1;
    }
    std::stringstream text;
    text << file.rdbuf();
    uheap::report::Profile profile;
    std::string error;
    if (!uheap::report::load_profile(text.str(), &profile, &error)) {
        std::cerr << "uheap-report: " << input << ": " << error << '\n';
        return 1;
    }
    std::ostringstream map_svg, timeline_svg;
    uheap::report::write_heap_map_svg(map_svg, profile, map_options);
    uheap::report::write_timeline_svg(timeline_svg, profile);
    std::string map_path = out_dir + "/heap-map.svg";
    std::string timeline_path = out_dir + "/timeline.svg";
    if (!write_file(map_path, map_svg.str()) || !write_file(timeline_path, timeline_svg.str())) {
        std::cerr << "uheap-report: cannot write into " << out_dir << '\n';
        return 1;
    }
    uheap::report::write_summary(std::cout, profile, top_n);
    std::cout << "wrote " << map_path << " and " << timeline_path << '\n';
    return 0;
}
