// SPDX-License-Identifier: MIT
// The uheap-report executable end to end: --help, rejected options, the output directory, and
// the messages a user gets when the profile cannot be read or a picture cannot be written.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "profiler_support.hpp"
#include "uheap/profiler.hpp"
#include "xml_check.hpp"

namespace uheap {
namespace {

namespace fs = std::filesystem;

struct Outcome {
    int status = -1;  ///< the exit status, -1 if the process did not exit normally
    std::string out;
    std::string err;
};

std::string read_text(const fs::path& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

/// A shell word that stands for `text` exactly.
std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// A fresh directory for the running test (ctest runs the tests in parallel processes).
fs::path test_dir() {
    fs::path dir = fs::path(UHEAP_REPORT_TEST_DIR) / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

/// Runs uheap-report with `args`, its output captured in files of `dir`.
Outcome run_report(const fs::path& dir, const std::vector<std::string>& args) {
    std::string command = quoted(UHEAP_REPORT_EXE);
    for (const std::string& a : args) command += " " + quoted(a);
    command += " >" + quoted((dir / "stdout").string()) + " 2>" + quoted((dir / "stderr").string());
    int status = std::system(command.c_str());
    Outcome run;
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = read_text(dir / "stdout");
    run.err = read_text(dir / "stderr");
    return run;
}

/// Writes a small real profile (with a snapshot) to `dir`/profile.json.
std::string write_profile(const fs::path& dir) {
    testing::TestHeap heap(16 * 1024);
    Profiler prof;
    prof.set_tag_name(1, "int");
    prof.attach(*heap);
    for (std::size_t i = 0; i < 8; ++i) heap.roots[i] = heap->alloc((1 + i % 3) * kBlockBytes, 0, 1 + i % 2);
    heap->alloc(kBlockBytes, 0, 2);
    heap->collect();
    std::string path = (dir / "profile.json").string();
    EXPECT_TRUE(prof.save_json(path)) << path;
    prof.detach();
    return path;
}

// Two allocation sites the report must tell apart by name: out of line, so each has a frame.
[[gnu::noinline]] void* allocate_leaf_nodes(Heap& heap, std::size_t n) {
    void* last = nullptr;
    for (std::size_t i = 0; i < n; ++i) last = heap.alloc(kBlockBytes, 0, 1);
    return last;
}
[[gnu::noinline]] void* allocate_big_tables(Heap& heap, std::size_t n) {
    void* last = nullptr;
    for (std::size_t i = 0; i < n; ++i) last = heap.alloc(4 * kBlockBytes, 0, 1);
    return last;
}
/// Roots `first`..`last` get tables: one call line, so one stack.
[[gnu::noinline]] void root_big_tables(testing::TestHeap& heap, int first, int last, std::size_t per_root) {
    for (int i = first; i <= last; ++i) heap.roots[i] = allocate_big_tables(*heap, per_root);
}

// Sampled allocations come back as the functions that made them (addr2line through this test's
// own debug information), ranked per tag; the diff between two snapshots names the site that
// grew. Every allocation is sampled here, so the counts are exact.
TEST(ReportCli, CallSitesAreNamedRankedAndDiffed) {
    fs::path dir = test_dir();
    testing::TestHeap heap(64 * 1024);
    ProfilerConfig config;
    config.site_sample_every = 1;
    Profiler prof(config);
    prof.set_tag_name(1, "node");
    prof.attach(*heap);
    heap.roots[0] = allocate_leaf_nodes(*heap, 30);
    root_big_tables(heap, 1, 5, 1);
    ASSERT_TRUE(prof.save_json((dir / "before.json").string()));
    root_big_tables(heap, 6, 15, 1);
    ASSERT_TRUE(prof.save_json((dir / "after.json").string()));
    prof.detach();
    // Stacks differ inside the heap too (the fast path's take, or a search), so a site of the
    // program may be several stacks here; the report merges them by name.
    std::uint64_t samples = 0, bytes = 0;
    for (const CallSite& site : prof.call_sites()) {
        samples += site.samples;
        bytes += site.sampled_bytes;
        EXPECT_EQ(site.tag, 1);
    }
    EXPECT_EQ(samples, 45u);
    EXPECT_EQ(bytes, (30u + 15u * 4) * kBlockBytes);

    Outcome run = run_report(dir, {(dir / "after.json").string(), "--out", dir.string()});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_NE(run.out.find("top allocation sites (1 in 1 allocations sampled"), std::string::npos) << run.out;
    std::size_t tables = run.out.find("allocate_big_tables");
    std::size_t leaves = run.out.find("allocate_leaf_nodes");
    ASSERT_NE(tables, std::string::npos) << run.out;
    ASSERT_NE(leaves, std::string::npos) << run.out;
    EXPECT_LT(leaves, tables) << "30 samples rank above 15";
    // The two calls of root_big_tables() are two sites three frames deep.
    EXPECT_NE(run.out.find("node: 45 allocations (est.) from 3 sites"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("30 sampled live  uheap::allocate_leaf_nodes (report_cli_test.cpp:"), std::string::npos)
        << "short names: no arguments, no anonymous namespace";
    EXPECT_EQ(run.out.find("uheap::Heap::alloc"), std::string::npos) << "the heap's own frames are skipped";
    EXPECT_NE(run.out.find("report_cli_test.cpp:"), std::string::npos) << "file and line";

    run = run_report(dir, {(dir / "after.json").string(), "--diff", (dir / "before.json").string()});
    ASSERT_EQ(run.status, 0) << run.err;
    std::size_t by_site = run.out.find("sampled live objects by call site");
    ASSERT_NE(by_site, std::string::npos) << run.out;
    std::size_t grew = run.out.find("allocate_big_tables", by_site);
    ASSERT_NE(grew, std::string::npos) << run.out;
    EXPECT_LT(grew, run.out.find("allocate_leaf_nodes", by_site)) << "the site that grew comes first";
    std::size_t line_start = run.out.rfind('\n', grew) + 1;
    std::string row = run.out.substr(line_start, run.out.find('\n', grew) - line_start);
    EXPECT_NE(row.find(" +10"), std::string::npos) << row;  // objects
    EXPECT_EQ(run.out.find("allocate_leaf_nodes", by_site) < grew, false);
}

TEST(ReportCli, HelpExitsZeroAndListsTheOptions) {
    fs::path dir = test_dir();
    for (const char* help : {"--help", "-h"}) {
        Outcome run = run_report(dir, {help});
        EXPECT_EQ(run.status, 0) << run.err;
        EXPECT_EQ(run.err, "");
        for (const char* option : {"PROFILE.json", "--out", "--color-by", "--columns", "--max-cells", "--cell-px",
                                   "--top", "--help", "[1 - 4096]=128", "{tag,kind}=tag"}) {
            EXPECT_NE(run.out.find(option), std::string::npos) << option << " not in:\n" << run.out;
        }
    }
}

TEST(ReportCli, BadOptionsExitNonZeroAndSayWhatIsWrong) {
    fs::path dir = test_dir();
    std::string profile = write_profile(dir);
    struct Case {
        std::vector<std::string> args;
        std::string message;  ///< what stderr must say
    };
    const std::vector<Case> cases = {
        {{"--columns", "abc"}, "--columns: Value abc not in range 1 to 4096"},
        {{"--columns", "0"}, "--columns: Value 0 not in range 1 to 4096"},
        {{"--columns", "7864"}, "--columns: Value 7864 not in range 1 to 4096"},
        {{"--cell-px", "100"}, "--cell-px: Value 100 not in range 1 to 64"},
        {{"--max-cells", "-5"}, "--max-cells: Value -5 not in range 1 to 1048576"},
        {{"--top", "1e3"}, "--top: Value 1e3 not in range 1 to 65536"},
        {{"--columns", "4096", "--cell-px", "12"},
         "--columns: 4096 x --cell-px 12 = 49152 px: the heap map may be at most 16384 px wide"},
        {{"--columns", "16", "--max-cells", "1048576"},
         "--max-cells: 1048576 in rows of --columns 16 cells of --cell-px 6 = up to 393216 px: the heap map may be "
         "at most 65536 px tall"},
        {{"--color-by", "size"}, "--color-by: size not in {tag,kind}"},
        {{"--out", ""}, "--out: must not be empty"},
        {{"--out"}, "--out: 1 required DIR missing"},
        {{"--frobnicate"}, "The following argument was not expected: --frobnicate"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args = {profile};
        args.insert(args.end(), c.args.begin(), c.args.end());
        Outcome run = run_report(dir, args);
        EXPECT_EQ(run.status, 2) << c.message;
        EXPECT_EQ(run.out, "") << c.message;
        EXPECT_EQ(run.err, "uheap-report: " + c.message + "\nRun uheap-report --help for the options.\n");
    }
    Outcome run = run_report(dir, {});
    EXPECT_EQ(run.status, 2);
    EXPECT_NE(run.err.find("PROFILE.json is required"), std::string::npos) << run.err;
}

TEST(ReportCli, OutIntoANewNestedDirectory) {
    fs::path dir = test_dir();
    std::string profile = write_profile(dir);
    fs::path out = dir / "a" / "b" / "c";
    Outcome run = run_report(dir, {profile, "--out", out.string(), "--color-by", "kind", "--columns", "32"});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(run.err, "");
    EXPECT_NE(run.out.find("wrote " + (out / "heap-map.svg").string() + " and " + (out / "timeline.svg").string()),
              std::string::npos)
        << run.out;
    testing::XmlCheck timeline = testing::check_xml(read_text(out / "timeline.svg"));
    EXPECT_TRUE(timeline.ok) << timeline.error;
    // The options reached the picture: 32 cells of 6 px per row (plus margins and legend), by kind.
    testing::XmlCheck map = testing::check_xml(read_text(out / "heap-map.svg"));
    ASSERT_TRUE(map.ok) << map.error;
    EXPECT_STREQ(map.root().attribute("width").value(), std::to_string(16 + 32 * 6 + 16 + 24 + 260).c_str());
    EXPECT_EQ(map.select("//text[.='Legend (colour by kind)']").size(), 1u);
}

TEST(ReportCli, UnreadableProfileNamesTheFileAndTheReason) {
    fs::path dir = test_dir();
    std::string missing = (dir / "missing.json").string();
    Outcome run = run_report(dir, {missing});
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.err, "uheap-report: cannot read " + missing + ": No such file or directory\n");

    std::string other = (dir / "other.json").string();
    std::ofstream(other) << "{\"format\": \"uheap-profile\", \"version\": 1, \"block_bytes\": \"32\"}";
    run = run_report(dir, {other});
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.err,
              "uheap-report: " + other + ": block_bytes: expected a non-negative integer, found \"32\"\n");
}

TEST(ReportCli, UnwritableOutputNamesTheFileAndTheReason) {
    fs::path dir = test_dir();
    std::string profile = write_profile(dir);
    // A directory where a picture should go: fopen fails even for root.
    fs::create_directories(dir / "out" / "timeline.svg");
    Outcome run = run_report(dir, {profile, "--out", (dir / "out").string()});
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.err, "uheap-report: cannot write " + (dir / "out" / "timeline.svg").string() + ": Is a directory\n");
    EXPECT_EQ(run.out, "");
    // A regular file in the way of the output directory.
    std::ofstream(dir / "file") << "x";
    run = run_report(dir, {profile, "--out", (dir / "file" / "sub").string()});
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.err, "uheap-report: cannot create directory " + (dir / "file" / "sub").string() +
                           ": Not a directory\n");
}

}  // namespace
}  // namespace uheap

namespace uheap {
namespace {

// --html FILE: the page beside the pictures, its directory created; the summary is unchanged
// and a line says where the page went.
TEST(ReportCli, HtmlWritesTheInteractiveReport) {
    fs::path dir = test_dir();
    std::string profile = write_profile(dir);
    fs::path html = dir / "pages" / "new" / "report.html";
    Outcome run = run_report(dir, {profile, "--out", (dir / "svg").string(), "--html", html.string()});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(run.err, "");
    EXPECT_NE(run.out.find("wrote " + (dir / "svg" / "heap-map.svg").string() + " and "), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("wrote " + html.string() + " (the interactive report"), std::string::npos) << run.out;
    std::string page = read_text(html);
    EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(page.find("<title>profile.json - uheap report</title>"), std::string::npos);
    EXPECT_NE(page.find("\"tag_names\":{\"1\":\"int\"}"), std::string::npos);
    EXPECT_NE(page.find("\"map\":{\"columns\":128,"), std::string::npos);
    EXPECT_TRUE(fs::exists(dir / "svg" / "timeline.svg"));
    // The heap-map options reach the page too.
    run = run_report(dir, {profile, "--out", (dir / "svg").string(), "--html", html.string(), "--columns", "32",
                           "--color-by", "kind"});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_NE(read_text(html).find("\"map\":{\"columns\":32,\"max_cells\":16384,\"cell_px\":6,\"color_by\":\"kind\"}"),
              std::string::npos);
    // Without --html, no page.
    fs::path other = dir / "plain";
    run = run_report(dir, {profile, "--out", other.string()});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(run.out.find("interactive report"), std::string::npos);
    EXPECT_FALSE(fs::exists(other / "report.html"));
}

TEST(ReportCli, HtmlRefusesAnEmptyPathAndReportsAnUnwritableOne) {
    fs::path dir = test_dir();
    std::string profile = write_profile(dir);
    Outcome run = run_report(dir, {"--help"});
    EXPECT_NE(run.out.find("--html FILE"), std::string::npos) << run.out;
    run = run_report(dir, {profile, "--out", dir.string(), "--html", ""});
    EXPECT_EQ(run.status, 2);
    EXPECT_EQ(run.err, "uheap-report: --html: must not be empty\nRun uheap-report --help for the options.\n");
    fs::create_directories(dir / "report.html");
    run = run_report(dir, {profile, "--out", dir.string(), "--html", (dir / "report.html").string()});
    EXPECT_EQ(run.status, 1);
    EXPECT_EQ(run.err, "uheap-report: cannot write " + (dir / "report.html").string() + ": Is a directory\n");
    EXPECT_EQ(run.out, "");
}

}  // namespace
}  // namespace uheap
