// SPDX-License-Identifier: MIT
// The interactive HTML report as written (tests/browser runs it in a browser): one page with its
// data, script and style inline, nothing fetched from anywhere, tag names that cannot break out
// of their <script> element, spans that decode back to the profile's, and the summary's figures.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "profiler_support.hpp"
#include "report.hpp"
#include "uheap/profiler.hpp"

namespace uheap {
namespace {

using Json = nlohmann::json;

constexpr const char* kDataOpen = "<script type=\"application/json\" id=\"report-data\">";

/// A real profile with a snapshot series: three tags (one named `tag1_name`), garbage, five
/// collections with a snapshot after each, and a final snapshot with objects not yet judged.
report::Profile series_profile(const std::string& tag1_name = "int") {
    testing::TestHeap heap(64 * 1024);
    ProfilerConfig config;
    config.snapshot_every = 1;
    Profiler prof(config);
    prof.set_tag_name(1, tag1_name);
    prof.set_tag_name(2, "str");
    prof.attach(*heap);
    std::size_t rooted = 0;
    for (int round = 0; round < 5; ++round) {
        for (std::size_t i = 0; i < 12; ++i) {
            void* p = heap->alloc((1 + i % 4) * kBlockBytes, i % 5 == 0 ? kNoScan : 0u, static_cast<std::uint16_t>(1 + i % 3));
            if (i % 4 == 0 && rooted < testing::TestHeap::kRoots) heap.roots[rooted++] = p;
        }
        heap->collect();
    }
    heap->alloc(3 * kBlockBytes, 0, 2);  // allocated since the last collection
    prof.take_snapshot();
    report::Profile p;
    std::string error;
    EXPECT_TRUE(report::load_profile(prof.json(), &p, &error)) << error;
    return p;
}

std::string page_of(const report::Profile& p, const report::HtmlOptions& options = {}) {
    std::ostringstream out;
    report::write_html_report(out, p, options);
    return out.str();
}

/// The text of the inline data element, parsed.
Json data_of(const std::string& page) {
    std::size_t from = page.find(kDataOpen);
    EXPECT_NE(from, std::string::npos);
    from += std::string(kDataOpen).size();
    std::size_t to = page.find("</script>", from);
    EXPECT_NE(to, std::string::npos);
    return Json::parse(page.substr(from, to - from));
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(HtmlReport, OnePageWithItsDataScriptAndStyleInline) {
    report::Profile p = series_profile();
    report::HtmlOptions options;
    options.title = "run.json";
    std::string page = page_of(p, options);
    EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
    EXPECT_NE(page.find("<title>run.json - uheap report</title>"), std::string::npos);
    // Every marker of the template was replaced.
    for (const char* marker : {"@TITLE@", "/*@STYLE@*/", "@DATA@", "/*@SCRIPT@*/"}) {
        EXPECT_EQ(page.find(marker), std::string::npos) << marker;
    }
    // The script and the style are in the page (a line of each), and the elements they fill.
    EXPECT_NE(page.find("window.uheapReport = {"), std::string::npos);
    EXPECT_NE(page.find("#tooltip {"), std::string::npos);
    for (const char* id : {"summary", "timeline", "heapmap", "snapshot-slider", "snapshot-label", "tooltip", "tags-table",
                           "leaks-table", "alarms-table", "oom-table", "sites-table"}) {
        EXPECT_NE(page.find("id=\"" + std::string(id) + "\""), std::string::npos) << id;
    }
    // Two script elements: the data and the script.
    EXPECT_EQ(count(page, "<script"), 2u);
    EXPECT_EQ(count(page, "</script>"), 2u);
    EXPECT_EQ(page.find("</html>"), page.size() - std::string("</html>\n").size());

    Json data = data_of(page);
    EXPECT_EQ(data["format"], "uheap-report-data");
    EXPECT_EQ(data["title"], "run.json");
    EXPECT_EQ(data["collections"], p.collections);
    EXPECT_EQ(data["block_bytes"], p.block_bytes);
    EXPECT_EQ(data["tag_names"]["1"], "int");
    EXPECT_EQ(data["tags"]["rows"].size(), p.tags.size());
    EXPECT_EQ(data["timeline"]["collection"].size(), p.timeline.size());
    // The slider's positions: the series, then the final snapshot.
    ASSERT_EQ(p.snapshots.size(), 5u);
    ASSERT_EQ(data["snapshots"].size(), 6u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(data["snapshots"][i]["collection"], p.snapshots[i].collection);
        EXPECT_EQ(data["snapshots"][i]["final"], false);
    }
    EXPECT_EQ(data["snapshots"][5]["final"], true);
    EXPECT_EQ(data["snapshots"][5]["collection"], p.snapshot.collection);
    EXPECT_EQ(data["call_sites"]["sites"].size(), 0u);
}

// No network: no URL in a src or href, no CSS import or url() but data:, and a policy that
// refuses any load the page might attempt anyway.
TEST(HtmlReport, NothingComesFromTheNetwork) {
    std::string page = page_of(series_profile());
    const std::regex external(R"((src|href)\s*=\s*["']?\s*(https?:)?//)", std::regex::icase);
    EXPECT_FALSE(std::regex_search(page, external));
    EXPECT_EQ(page.find("@import"), std::string::npos);
    const std::regex css_url(R"(url\(\s*["']?(?!data:|#))", std::regex::icase);
    EXPECT_FALSE(std::regex_search(page, css_url));
    EXPECT_NE(page.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
}

// A tag name can hold anything: it must neither end the data's <script> element nor open a
// comment in it, and it must come back unchanged from the data.
TEST(HtmlReport, TagNamesCannotEndTheScriptElement) {
    const std::string evil = "</script><script>alert(1)</script><!-- \"quoted\" \\ & \x01";
    report::Profile p = series_profile(evil);
    report::HtmlOptions options;
    options.title = "<b>title</b>";
    std::string page = page_of(p, options);
    EXPECT_EQ(count(page, "</script>"), 2u);
    EXPECT_EQ(count(page, "<script"), 2u);
    EXPECT_EQ(page.find("<!-- \""), std::string::npos);
    EXPECT_NE(page.find("<title>&lt;b&gt;title&lt;/b&gt; - uheap report</title>"), std::string::npos);
    Json data = data_of(page);
    EXPECT_EQ(data["tag_names"]["1"], evil);
    EXPECT_EQ(data["title"], "<b>title</b>");
}

// The compact spans (a free run: minus its length; an object: n_blocks, flags, tag, age) decode
// back to every span of every snapshot.
TEST(HtmlReport, SpansDecodeBackToTheProfile) {
    report::Profile p = series_profile();
    Json data = data_of(page_of(p));
    ASSERT_EQ(data["span_stride"], 4);
    std::vector<const HeapSnapshot*> all;
    for (const HeapSnapshot& s : p.snapshots) all.push_back(&s);
    all.push_back(&p.snapshot);
    ASSERT_EQ(data["snapshots"].size(), all.size());
    bool saw_young = false, saw_free = false;
    for (std::size_t si = 0; si < all.size(); ++si) {
        const Json& areas = data["snapshots"][si]["areas"];
        ASSERT_EQ(areas.size(), all[si]->areas.size());
        for (std::size_t a = 0; a < areas.size(); ++a) {
            const SnapshotArea& want = all[si]->areas[a];
            EXPECT_EQ(areas[a]["pool_blocks"], want.pool_blocks);
            const Json& flat = areas[a]["spans"];
            std::size_t i = 0, block = 0, k = 0;
            for (; i < flat.size(); ++k) {
                ASSERT_LT(k, want.spans.size());
                const SnapshotSpan& s = want.spans[k];
                EXPECT_EQ(s.first_block, block);
                long long head = flat[i].get<long long>();
                if (head < 0) {
                    EXPECT_FALSE(s.object);
                    EXPECT_EQ(static_cast<std::size_t>(-head), s.n_blocks);
                    saw_free = true;
                    i += 1;
                } else {
                    EXPECT_TRUE(s.object);
                    EXPECT_EQ(static_cast<std::size_t>(head), s.n_blocks);
                    EXPECT_EQ(flat[i + 1], s.flags);
                    EXPECT_EQ(flat[i + 2], s.tag);
                    EXPECT_EQ(flat[i + 3], s.age);
                    saw_young = saw_young || s.age == 0;
                    i += 4;
                }
                block += s.n_blocks;
            }
            EXPECT_EQ(k, want.spans.size());
            EXPECT_EQ(block, want.pool_blocks);
        }
    }
    EXPECT_TRUE(saw_young);
    EXPECT_TRUE(saw_free);
}

// The header's figures are the text summary's, formatted by the same function.
TEST(HtmlReport, SummaryFiguresAreTheTextSummarys) {
    report::Profile p = series_profile();
    Json s = data_of(page_of(p))["summary"];
    std::ostringstream text;
    report::write_summary(text, p);
    const std::string summary = text.str();
    const std::string heap_line = "heap now: " + s["text"]["used"].get<std::string>() + " used of " +
                                  s["text"]["total"].get<std::string>() + " (" +
                                  s["text"]["used_percent"].get<std::string>() + "%)";
    EXPECT_NE(summary.find(heap_line), std::string::npos) << heap_line << "\n" << summary;
    EXPECT_NE(summary.find("fragmentation " + s["text"]["fragmentation"].get<std::string>()), std::string::npos);
    const std::string pauses = "p50 " + s["text"]["pause_p50"].get<std::string>() + ", p99 " +
                               s["text"]["pause_p99"].get<std::string>() + ", max " +
                               s["text"]["pause_max"].get<std::string>() + ", mean " +
                               s["text"]["pause_mean"].get<std::string>();
    EXPECT_NE(summary.find(pauses), std::string::npos) << pauses << "\n" << summary;
    const report::PauseRanks r = report::pause_ranks(p);
    EXPECT_EQ(s["pause_ns"]["p50"], r.p50);
    EXPECT_EQ(s["pause_ns"]["max"], r.max);
    EXPECT_EQ(s["total_bytes"], p.total_bytes);
    EXPECT_EQ(s["used_bytes"], p.used_bytes);
    // The tags in the summary's order: the summary's first row is the table's first row.
    const report::RankedTags ranked = report::rank_tags(p);
    ASSERT_FALSE(ranked.tags.empty());
    EXPECT_EQ(data_of(page_of(p))["tags"]["rows"][0][0], ranked.tags[0].tag);
}

// A profile with no snapshot and no collection still gives a page (the script says so).
TEST(HtmlReport, EmptyProfileStillGivesAPage) {
    testing::TestHeap heap(16 * 1024);
    Profiler prof;
    prof.attach(*heap);
    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(prof.json(), &p, &error)) << error;
    Json data = data_of(page_of(p));
    EXPECT_EQ(data["snapshots"].size(), 0u);
    EXPECT_EQ(data["timeline"]["collection"].size(), 0u);
    EXPECT_FALSE(data["summary"].contains("pause_ns"));
}

}  // namespace
}  // namespace uheap
