// SPDX-License-Identifier: MIT
// The SVG pictures: well-formed XML, a rect per cell, area labels, a legend, timeline polylines.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "profiler_support.hpp"
#include "report.hpp"
#include "uheap/profiler.hpp"
#include "xml_check.hpp"

namespace uheap {
namespace {

using testing::check_xml;
using testing::XmlCheck;

/// A profile from a real heap: a few tags, some garbage, three collections, a snapshot.
report::Profile sample_profile(std::size_t region_bytes) {
    testing::TestHeap heap(region_bytes);
    Profiler prof;
    prof.set_tag_name(1, "int & <friends>");
    prof.set_tag_name(2, "str");
    prof.attach(*heap);
    std::size_t rooted = 0;
    for (std::size_t i = 0; i < 40; ++i) {
        void* p = heap->alloc((1 + i % 5) * kBlockBytes, i % 3 == 0 ? kNoScan : (i % 7 == 0 ? kFinaliser : 0u),
                              static_cast<std::uint16_t>(1 + i % 4));
        if (i % 3 != 2) heap.roots[rooted++] = p;  // every third object is garbage
    }
    heap->collect();
    heap->collect();
    heap->alloc(kBlockBytes);  // untagged (tag 0) but known
    heap->collect();
    heap->alloc(2 * kBlockBytes, 0, 2);  // garbage no collection has judged yet
    prof.take_snapshot();
    report::Profile p;
    std::string error;
    EXPECT_TRUE(report::load_profile(prof.json(), &p, &error)) << error;
    return p;
}

std::string render_map(const report::Profile& p, const report::HeapMapOptions& options) {
    std::ostringstream out;
    report::write_heap_map_svg(out, p, options);
    return out.str();
}

std::size_t total_blocks(const report::Profile& p) {
    std::size_t n = 0;
    for (const auto& a : p.snapshot.areas) n += a.pool_blocks;
    return n;
}

TEST(Svg, HeapMapByTagIsWellFormedWithACellPerBlock) {
    report::Profile p = sample_profile(64 * 1024);
    std::string svg = render_map(p, {});
    XmlCheck x = check_xml(svg);
    ASSERT_TRUE(x.ok) << x.error;
    EXPECT_STREQ(x.root().name(), "svg");
    EXPECT_STREQ(x.root().attribute("xmlns").value(), "http://www.w3.org/2000/svg");
    std::size_t blocks = total_blocks(p);
    EXPECT_EQ(report::blocks_per_cell(blocks, 16384), 1u);
    // Every block is a rect inside an area group; the legend adds one swatch per class.
    EXPECT_EQ(x.select("//g[@class='area']/rect[@class and @width='6' and @height='6']").size(), blocks);
    EXPECT_EQ(x.count_with("g", "id", "legend"), 1u);
    EXPECT_EQ(x.count_with("g", "class", "area"), 1u);
    EXPECT_EQ(x.count_with("text", "class", "area-label"), 1u + 1u);  // area label + legend heading
    EXPECT_NE(svg.find("area 0: "), std::string::npos);
    EXPECT_NE(svg.find("int &amp; &lt;friends&gt; (tag 1)"), std::string::npos);
    EXPECT_NE(svg.find("str (tag 2)"), std::string::npos);
    EXPECT_NE(svg.find("1 cell = 1 block"), std::string::npos);
    EXPECT_GE(x.count_with("rect", "class", "free"), 2u);  // free cells and the legend swatch
}

TEST(Svg, HeapMapByKindNamesEveryKind) {
    report::Profile p = sample_profile(64 * 1024);
    report::HeapMapOptions options;
    options.color_by = report::ColorBy::kind;
    std::string svg = render_map(p, options);
    XmlCheck x = check_xml(svg);
    ASSERT_TRUE(x.ok) << x.error;
    for (const char* kind : {"free", "head", "tail", "noscan", "final"}) {
        EXPECT_GE(x.count_with("rect", "class", kind), 1u) << kind;
    }
    for (const char* label : {"object head", "object tail", "no-scan object", "object with finaliser"}) {
        EXPECT_NE(svg.find(label), std::string::npos) << label;
    }
}

TEST(Svg, BigHeapsAggregateCellsAndSayHow) {
    // A 64 MB heap's worth of blocks, synthetic: one area, a few spans.
    report::Profile p;
    p.block_bytes = 32;
    p.snapshot.taken = true;
    SnapshotArea area;
    area.pool_blocks = (64u << 20) / 32;
    area.spans.push_back({0, 1000, true, 0, 1});
    area.spans.push_back({1000, 50, false, 0, -1});
    area.spans.push_back({1050, 300000, true, kNoScan, 2});
    area.spans.push_back({301050, area.pool_blocks - 301050, false, 0, -1});
    p.snapshot.areas.push_back(area);
    p.snapshot.areas.push_back(area);  // and a second area
    report::HeapMapOptions options;
    std::size_t k = report::blocks_per_cell(2 * area.pool_blocks, options.max_cells);
    EXPECT_EQ(k, 256u);
    std::string svg = render_map(p, options);
    XmlCheck x = check_xml(svg);
    ASSERT_TRUE(x.ok) << x.error;
    std::size_t cells = x.count_with("g", "class", "area");
    EXPECT_EQ(cells, 2u);
    EXPECT_EQ(x.count_with("text", "class", "area-label"), 2u + 1u);
    EXPECT_EQ(x.select("//rect[@width='6']").size(), 2 * ((area.pool_blocks + k - 1) / k));
    EXPECT_NE(svg.find("1 cell = 256 blocks (8 KB)"), std::string::npos);
    EXPECT_NE(svg.find("opacity = fraction of the cell in use"), std::string::npos);
    EXPECT_NE(svg.find("fill-opacity"), std::string::npos);  // the cell holding blocks 999..1050 is partly free
}

TEST(Svg, HeapMapWithoutSnapshotIsAPlaceholder) {
    report::Profile p;
    p.block_bytes = 32;
    XmlCheck x = check_xml(render_map(p, {}));
    ASSERT_TRUE(x.ok) << x.error;
    EXPECT_EQ(x.count("text"), 1u);
}

TEST(Svg, TimelineHasPolylinesForEverySeriesAndAPausePanel) {
    report::Profile p = sample_profile(64 * 1024);
    std::ostringstream out;
    report::write_timeline_svg(out, p);
    std::string svg = out.str();
    XmlCheck x = check_xml(svg);
    ASSERT_TRUE(x.ok) << x.error;
    EXPECT_EQ(x.count("polyline"), 5u);
    for (const char* series : {"used", "free", "largest", "frag", "pause"}) {
        EXPECT_EQ(x.count_with("polyline", "class", series), 1u) << series;
    }
    for (pugi::xpath_node polyline : x.select("//polyline")) {
        std::string points = polyline.node().attribute("points").value();
        std::size_t n_points = 1;
        for (char c : points) n_points += c == ' ';
        EXPECT_EQ(n_points, p.timeline.size());
    }
    EXPECT_EQ(x.count_with("g", "id", "legend"), 1u);
    EXPECT_NE(svg.find("pause (µs): p50 "), std::string::npos);
    EXPECT_NE(svg.find("largest free run (log scale)"), std::string::npos);
    EXPECT_EQ(x.count_with("rect", "class", "frame"), 4u);  // bytes, tags, largest free run, pauses
    // Live bytes per tag, stacked: one band per tag of the sample (four tags, and tag 0).
    std::size_t tags = 0;
    for (const TagBytes& tb : p.timeline.back().live_by_tag) tags += tb.bytes != 0 ? 1 : 0;
    EXPECT_GE(x.count_with("polygon", "class", "band"), 4u);
    EXPECT_LE(x.count_with("polygon", "class", "band"), 7u);
    EXPECT_GE(tags, 4u);
}

// The complaint: a 64-byte largest free run drawn as 0 on a 250 KB axis, and
// out-of-memory events not marked. The run is on a log scale (a point well above the panel's
// floor), and each out-of-memory event and alarm is a marker line with a title.
TEST(Svg, TimelineMarksOutOfMemoryAndAlarmsAndShowsSmallFreeRuns) {
    testing::TestHeap heap(16 * 1024);
    Profiler prof;
    prof.set_low_free_run_alarm(8, [](const AlarmEvent&) {});
    prof.attach(*heap);
    // A chain of kept objects with one-block holes between them, until the heap is full: the
    // largest free run ends at one block, 32 bytes on a 16 KB heap.
    for (;;) {
        auto* kept = static_cast<void**>(heap->alloc(2 * kBlockBytes, 0, 1));
        if (kept == nullptr) break;
        kept[0] = heap.roots[0];
        heap.roots[0] = kept;
        heap->alloc(kBlockBytes, 0, 2);
    }
    heap->collect();
    EXPECT_EQ(heap->alloc(64 * kBlockBytes), nullptr);  // out of memory
    heap->collect();
    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(prof.json(), &p, &error)) << error;
    ASSERT_GE(p.out_of_memory.size(), 1u);
    std::ostringstream out;
    report::write_timeline_svg(out, p);
    std::string svg = out.str();
    XmlCheck x = check_xml(svg);
    ASSERT_TRUE(x.ok) << x.error;
    EXPECT_EQ(x.count_with("line", "class", "oom"), p.out_of_memory.size() + 1);  // and the legend's
    EXPECT_EQ(x.count_with("line", "class", "alarm"), p.alarms.size() + 1);
    EXPECT_NE(svg.find("out of memory after collection"), std::string::npos);
    // Every largest-free-run point sits above the bottom of its panel, however small the run.
    pugi::xpath_node largest = x.select("//polyline[@class='largest']")[0];
    std::string points = largest.node().attribute("points").value();
    std::vector<pugi::xpath_node> frames;
    for (pugi::xpath_node f : x.select("//rect[@class='frame']")) frames.push_back(f);
    ASSERT_EQ(frames.size(), 4u);
    double panel_bottom = frames[2].node().attribute("y").as_double() + frames[2].node().attribute("height").as_double();
    std::size_t pos = 0;
    while (pos < points.size()) {
        std::size_t comma = points.find(',', pos);
        std::size_t end = points.find(' ', comma);
        double py = std::stod(points.substr(comma + 1, end - comma - 1));
        EXPECT_LT(py, panel_bottom - 1.0) << points;
        pos = end == std::string::npos ? points.size() : end + 1;
    }
}

// The x axis can count time on the heap's clock or bytes allocated instead of collections.
TEST(Svg, TimelineXAxisCanBeTimeOrBytesAllocated) {
    report::Profile p = sample_profile(64 * 1024);
    for (auto [axis, name] : {std::pair{report::XAxis::collection, "collection"}, std::pair{report::XAxis::time, "time (ms"},
                              std::pair{report::XAxis::allocated, "bytes allocated"}}) {
        std::ostringstream out;
        report::TimelineOptions options;
        options.x_axis = axis;
        report::write_timeline_svg(out, p, options);
        XmlCheck x = check_xml(out.str());
        ASSERT_TRUE(x.ok) << x.error;
        EXPECT_NE(out.str().find(std::string("class=\"xlabel\">") + name), std::string::npos) << name;
    }
}

TEST(Svg, TimelineWithoutCollectionsIsStillWellFormed) {
    report::Profile p;
    p.block_bytes = 32;
    std::ostringstream out;
    report::write_timeline_svg(out, p);
    XmlCheck x = check_xml(out.str());
    ASSERT_TRUE(x.ok) << x.error;
    EXPECT_EQ(x.count("polyline"), 0u);
}

TEST(Svg, CheckerRejectsBrokenXml) {
    EXPECT_FALSE(check_xml("<svg><rect></svg>").ok);
    EXPECT_FALSE(check_xml("<svg a=\"1\" a=\"2\"/>").ok);
    EXPECT_FALSE(check_xml("<svg>&bogus;</svg>").ok);
    EXPECT_FALSE(check_xml("<svg/><svg/>").ok);
    EXPECT_FALSE(check_xml("<svg x=1/>").ok);
    EXPECT_FALSE(check_xml("<svg a='<'/>").ok);
    EXPECT_FALSE(check_xml("<svg>a < b</svg>").ok);
    EXPECT_FALSE(check_xml("<svg/>text").ok);
    EXPECT_FALSE(check_xml("<svg>&#xZZ;</svg>").ok);
    EXPECT_FALSE(check_xml("<svg>\x01</svg>").ok);
    EXPECT_FALSE(check_xml("<!-- no element -->").ok);
    EXPECT_EQ(check_xml("<svg a=\"1\" a=\"2\"/>").error, "duplicate attribute a of <svg>");
    EXPECT_EQ(check_xml("<svg>&bogus;</svg>").error, "bad reference &bogus in the text of <svg>");
    EXPECT_TRUE(check_xml("<?xml version=\"1.0\"?>\n<svg><!-- c --><g a='1'>t &amp; u</g></svg>\n").ok);
    EXPECT_TRUE(check_xml("<svg><t x='&#60;&#x3e;'>&lt;&gt;&quot;&apos;<![CDATA[a & b]]></t></svg>").ok);
}

TEST(Svg, SummaryNamesTopTagsTrendAndLeaks) {
    report::Profile p = sample_profile(64 * 1024);
    std::ostringstream out;
    report::write_summary(out, p);
    std::string text = out.str();
    EXPECT_NE(text.find("top tags by bytes live at the last collection"), std::string::npos) << text;
    EXPECT_NE(text.find("at last GC"), std::string::npos);
    EXPECT_NE(text.find("fragmentation trend"), std::string::npos);
    EXPECT_NE(text.find("growing tags"), std::string::npos);
    EXPECT_NE(text.find("leak suspects"), std::string::npos);
    EXPECT_NE(text.find("str"), std::string::npos);
    EXPECT_NE(text.find("pauses: 3 collections, p50 "), std::string::npos);
    // The snapshot's two kinds of object, in bytes: the one object allocated after the last
    // collection is not counted as a survivor.
    EXPECT_NE(text.find("objects survived the last collection, 64 B in 1 objects allocated since (not yet judged)"),
              std::string::npos)
        << text;
}

// Objects no collection has judged yet get a class of their own on the map, named in the
// legend, so that garbage allocated since the last collection is not drawn as live.
TEST(Svg, HeapMapShowsObjectsNoCollectionHasJudged) {
    report::Profile p = sample_profile(64 * 1024);
    std::string svg = render_map(p, {});
    XmlCheck x = check_xml(svg);
    ASSERT_TRUE(x.ok) << x.error;
    EXPECT_NE(svg.find("class=\"young\""), std::string::npos);
    EXPECT_NE(svg.find("not yet judged"), std::string::npos);
    EXPECT_NE(svg.find("% allocated since"), std::string::npos);
    EXPECT_NE(svg.find("collection 3 + "), std::string::npos);
}

}  // namespace
}  // namespace uheap
