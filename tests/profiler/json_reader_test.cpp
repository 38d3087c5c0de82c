// SPDX-License-Identifier: MIT
// uheap-report's minimal JSON reader, and reading a profile back from the profiler's JSON.
#include <gtest/gtest.h>

#include <string>

#include "json_reader.hpp"
#include "profiler_support.hpp"
#include "report.hpp"
#include "uheap/profiler.hpp"

namespace uheap {
namespace {

using report::JsonDocument;
using report::JsonType;
using report::JsonValue;

TEST(JsonReader, ParsesScalarsContainersAndEscapes) {
    JsonDocument doc;
    std::string error;
    ASSERT_TRUE(doc.parse(R"( {"a": 1, "b": [true, false, null, -2.5e2, "x\"y\\z\n\u00e9\ud83d\ude00"], "c": {}, "d": []} )",
                          &error))
        << error;
    JsonValue root = doc.root();
    EXPECT_EQ(root.type(), JsonType::object);
    EXPECT_EQ(root.size(), 4u);
    EXPECT_EQ(root["a"].uint(), 1u);
    JsonValue b = root["b"];
    ASSERT_EQ(b.size(), 5u);
    auto it = b.begin();
    EXPECT_TRUE((*it).boolean());
    ++it;
    EXPECT_EQ((*it).type(), JsonType::boolean);
    EXPECT_FALSE((*it).boolean());
    ++it;
    EXPECT_TRUE((*it).is_null());
    ++it;
    EXPECT_DOUBLE_EQ((*it).number(), -250.0);
    ++it;
    EXPECT_EQ((*it).string(), "x\"y\\z\n\xc3\xa9\xf0\x9f\x98\x80");
    ++it;
    EXPECT_FALSE(it != b.end());
    EXPECT_EQ(root["c"].type(), JsonType::object);
    EXPECT_EQ(root["c"].size(), 0u);
    EXPECT_EQ(root["d"].size(), 0u);
    EXPECT_TRUE(root["missing"].is_null());
    EXPECT_EQ(root["missing"]["deeper"].uint(7), 7u);
}

TEST(JsonReader, RejectsMalformedInput) {
    const char* bad[] = {"", "{", "[1,]", "{\"a\" 1}", "[1 2]", "\"unterminated", "tru", "{\"a\":1} x", "[\"\x01\"]",
                         "[01x]", "{1: 2}", "\"\\q\""};
    for (const char* text : bad) {
        JsonDocument doc;
        std::string error;
        EXPECT_FALSE(doc.parse(text, &error)) << text;
        EXPECT_FALSE(error.empty()) << text;
    }
    std::string deep(1000, '[');
    JsonDocument doc;
    std::string error;
    EXPECT_FALSE(doc.parse(deep + std::string(1000, ']'), &error));
}

TEST(JsonReader, LoadsAProfileBack) {
    testing::TestHeap heap(16 * 1024);
    Profiler prof;
    prof.set_tag_name(2, "str");
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 1);
    heap.roots[1] = heap->alloc(3 * kBlockBytes, kNoScan, 2);
    heap->alloc(kBlockBytes, 0, 2);
    for (int i = 0; i < 4; ++i) heap->collect();
    prof.take_snapshot();

    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(prof.json(), &p, &error)) << error;
    EXPECT_EQ(p.block_bytes, kBlockBytes);
    EXPECT_EQ(p.collections, 4u);
    ASSERT_EQ(p.tags.size(), 2u);
    EXPECT_EQ(p.tags[1].tag, 2);
    EXPECT_EQ(p.tags[1].swept, 1u);
    EXPECT_EQ(p.label(2), "str");
    EXPECT_EQ(p.label(1), "tag 1");
    ASSERT_EQ(p.timeline.size(), 4u);
    EXPECT_EQ(p.timeline[3].collection, 4u);
    EXPECT_EQ(p.timeline[0].objects_freed, 1u);
    ASSERT_EQ(p.leak_suspects.size(), 2u);
    EXPECT_EQ(p.leak_suspects[0].tag, 2);
    EXPECT_EQ(p.leak_suspects[0].age, 4u);
    ASSERT_TRUE(p.snapshot.taken);
    ASSERT_EQ(p.snapshot.areas.size(), 1u);
    const HeapSnapshot& original = prof.snapshot();
    ASSERT_EQ(p.snapshot.areas[0].spans.size(), original.areas[0].spans.size());
    for (std::size_t i = 0; i < original.areas[0].spans.size(); ++i) {
        const SnapshotSpan& a = original.areas[0].spans[i];
        const SnapshotSpan& b = p.snapshot.areas[0].spans[i];
        EXPECT_EQ(a.first_block, b.first_block);
        EXPECT_EQ(a.n_blocks, b.n_blocks);
        EXPECT_EQ(a.object, b.object);
        EXPECT_EQ(a.flags, b.flags);
        EXPECT_EQ(a.tag, b.tag);
    }
}

TEST(JsonReader, RefusesOtherDocuments) {
    report::Profile p;
    std::string error;
    EXPECT_FALSE(report::load_profile("{\"format\": \"something\", \"version\": 1}", &p, &error));
    EXPECT_FALSE(report::load_profile("[]", &p, &error));
    EXPECT_FALSE(report::load_profile("{", &p, &error));
}

}  // namespace
}  // namespace uheap
