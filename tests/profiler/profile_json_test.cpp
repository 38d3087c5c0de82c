// SPDX-License-Identifier: MIT
// Reading a profile back from the profiler's JSON: real profiles load field for field, and bad
// input is refused with a message that says what is wrong and where.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
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

/// A small real profile: two tags (one named), garbage, four collections, an alarm, a snapshot,
/// and tag 2 growing by one object per collection (a leak suspect).
/// `prof` outlives the heap (it is detached here), so its snapshot stays readable.
std::string sample_json(Profiler& prof) {
    testing::TestHeap heap(16 * 1024);
    prof.set_tag_name(2, "str");
    prof.set_large_alloc_alarm(3, [](const AlarmEvent&) {});
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 1);
    heap.roots[1] = heap->alloc(3 * kBlockBytes, kNoScan, 2);
    heap->alloc(kBlockBytes, 0, 2);
    for (int i = 0; i < 4; ++i) {
        heap.roots[2 + i] = heap->alloc(2 * kBlockBytes, 0, 2);
        heap->collect();
    }
    heap->alloc(kBlockBytes, 0, 1);  // garbage no collection has judged
    prof.take_snapshot();
    std::string text = prof.json();
    prof.detach();
    return text;
}

/// load_profile()'s error for `text`, or "loaded" when it accepts it.
std::string load_error(const std::string& text) {
    report::Profile p;
    std::string error;
    return report::load_profile(text, &p, &error) ? "loaded" : error;
}

TEST(ProfileJson, LoadsAProfileBack) {
    Profiler prof;
    std::string text = sample_json(prof);
    const HeapSnapshot& original = prof.snapshot();

    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(text, &p, &error)) << error;
    EXPECT_EQ(p.block_bytes, kBlockBytes);
    EXPECT_EQ(p.collections, 4u);
    EXPECT_TRUE(p.has_heap);
    EXPECT_EQ(p.objects, 7u);
    ASSERT_EQ(p.tags.size(), 2u);
    EXPECT_EQ(p.tags[1].tag, 2);
    EXPECT_EQ(p.tags[1].swept, 1u);
    EXPECT_EQ(p.label(2), "str");
    EXPECT_EQ(p.label(1), "tag 1");
    ASSERT_EQ(p.timeline.size(), 4u);
    EXPECT_EQ(p.timeline[3].collection, 4u);
    EXPECT_EQ(p.timeline[0].objects_freed, 1u);
    ASSERT_EQ(p.timeline[3].live_by_tag.size(), 2u);
    EXPECT_EQ(p.timeline[3].live_by_tag[1].bytes, (3 + 4 * 2) * kBlockBytes);
    EXPECT_EQ(p.timeline[3].bytes_allocated, prof.timeline()[3].bytes_allocated);
    EXPECT_EQ(p.timeline[3].time_ns, prof.timeline()[3].time_ns);
    ASSERT_EQ(p.growing_tags.size(), 1u);
    EXPECT_EQ(p.growing_tags[0].tag, 2);
    EXPECT_EQ(p.growing_tags[0].rises, 3u);
    ASSERT_EQ(p.leak_suspects.size(), 1u);  // born after the window's first collection, aged 3
    EXPECT_EQ(p.leak_suspects[0].tag, 2);
    EXPECT_EQ(p.leak_suspects[0].age, 3u);
    ASSERT_EQ(p.alarms.size(), 1u);
    EXPECT_EQ(p.alarms[0].kind, AlarmKind::large_alloc);
    EXPECT_EQ(p.alarms[0].n_blocks, 3u);
    ASSERT_TRUE(p.snapshot.taken);
    ASSERT_EQ(p.snapshot.areas.size(), 1u);
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

// The golden files are the profiler's output byte for byte (metadata_bytes masked as '#').
TEST(ProfileJson, LoadsTheGoldenProfiles) {
    for (const char* name : {"empty.json", "scripted.json"}) {
        std::ifstream file(std::string(UHEAP_PROFILER_GOLDEN_DIR) + "/" + name, std::ios::binary);
        ASSERT_TRUE(file) << name;
        std::stringstream text;
        text << file.rdbuf();
        std::string json = std::regex_replace(text.str(), std::regex("\"metadata_bytes\": #"), "\"metadata_bytes\": 0");
        EXPECT_EQ(load_error(json), "loaded") << name;
    }
}

TEST(ProfileJson, MalformedJsonSaysWhereAndWhat) {
    const char* bad[] = {"", "{", "[1,]", "{\"a\" 1}", "[1 2]", "\"unterminated", "tru", "{\"a\":1} x", "[\"\x01\"]",
                         "[01]", "{1: 2}", "\"\\q\"", "[\"\xff\"]", "{\"a\": 1, // comment\n}"};
    for (const char* text : bad) {
        std::string error = load_error(text);
        EXPECT_NE(error.find("parse error at line 1, column "), std::string::npos) << text << ": " << error;
        EXPECT_EQ(error.find("json.exception"), std::string::npos) << error;
    }
    std::string error = load_error("{\"format\": \"uheap-profile\",\n \"version\" 1}");
    EXPECT_NE(error.find("parse error at line 2, column 12: syntax error while parsing object separator"),
              std::string::npos)
        << error;
    // Deep nesting is parsed without recursion: no stack overflow, just not a profile.
    EXPECT_EQ(load_error(std::string(100000, '[') + std::string(100000, ']')),
              "not a uheap-profile document: the top level is an array, not an object");
}

// A version 2 profile (no snapshot series, no call sites) still loads, its spans without sites.
TEST(ProfileJson, ReadsVersionTwo) {
    Profiler prof;
    Json doc = Json::parse(sample_json(prof));
    doc["version"] = 2;
    doc.erase("snapshots");
    doc.erase("call_sites");
    doc["snapshot"].erase("time_ns");
    for (Json& span : doc["snapshot"]["areas"][0]["spans"]) span.erase(6);
    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(doc.dump(), &p, &error)) << error;
    EXPECT_TRUE(p.snapshots.empty());
    EXPECT_EQ(p.site_sample_every, 0u);
    EXPECT_GE(p.snapshot.areas[0].spans[0].age, 0);
    EXPECT_EQ(p.snapshot.areas[0].spans[0].site, -1);
}

// A profile written before version 2 (no per-tag timeline, no ages, no growth) still loads.
TEST(ProfileJson, ReadsVersionOne) {
    Profiler prof;
    Json doc = Json::parse(sample_json(prof));
    doc["version"] = 1;
    doc.erase("growing_tags");
    doc["snapshot"].erase("after_collection");
    doc["snapshot"].erase("ns_since_collection");
    doc["snapshot"].erase("time_ns");
    doc.erase("snapshots");
    doc.erase("call_sites");
    for (Json& t : doc["timeline"]) {
        t.erase("time_ns");
        t.erase("bytes_allocated");
        t.erase("live_by_tag");
    }
    for (Json& span : doc["snapshot"]["areas"][0]["spans"]) {
        span.erase(6);
        span.erase(5);
    }
    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(doc.dump(), &p, &error)) << error;
    EXPECT_TRUE(p.growing_tags.empty());
    EXPECT_TRUE(p.timeline[0].live_by_tag.empty());
    EXPECT_EQ(p.snapshot.areas[0].spans[0].age, -1);
}

TEST(ProfileJson, RefusesOtherDocuments) {
    EXPECT_EQ(load_error("[]"), "not a uheap-profile document: the top level is an array, not an object");
    EXPECT_EQ(load_error("{\"version\": 1}"), "not a uheap-profile document: it has no \"format\" field");
    EXPECT_EQ(load_error("{\"format\": \"something\", \"version\": 1}"),
              "not a uheap-profile document: \"format\" is \"something\", expected \"uheap-profile\"");
    EXPECT_EQ(load_error("{\"format\": \"uheap-profile\", \"version\": 4}"),
              "unsupported uheap-profile version 4 (this uheap-report reads versions 1 to 3)");
    EXPECT_EQ(load_error("{\"format\": \"uheap-profile\"}"), "version: missing");
}

// Every check names the field by its path in the document and says what it expected.
TEST(ProfileJson, NamesTheFieldThatIsWrong) {
    Profiler prof;
    const Json good = Json::parse(sample_json(prof));
    struct Case {
        std::function<void(Json&)> damage;
        std::string error;
    };
    const std::size_t pool = good["snapshot"]["areas"][0]["pool_blocks"].get<std::size_t>();
    const std::vector<Case> cases = {
        {[](Json& j) { j.erase("profiler"); }, "profiler: missing"},
        {[](Json& j) { j["block_bytes"] = 0; }, "block_bytes: must be at least 1"},
        {[](Json& j) { j["heap"]["fragmentation"] = "high"; },
         "heap.fragmentation: expected a number, found \"high\""},
        {[](Json& j) { j["tags"] = Json::object(); }, "tags: expected an array, found an object"},
        {[](Json& j) { j["tags"][1].erase("live_bytes"); }, "tags[1].live_bytes: missing"},
        {[](Json& j) { j["tags"][0]["tag"] = 70000; }, "tags[0].tag: 70000 is out of range (at most 65535)"},
        {[](Json& j) { j["tags"][0]["name"] = 5; }, "tags[0].name: expected a string, found 5"},
        {[](Json& j) { j["timeline"][2]["pause_ns"] = "x"; },
         "timeline[2].pause_ns: expected a non-negative integer, found \"x\""},
        {[](Json& j) { j["histogram"][0]["count"] = 1.5; },
         "histogram[0].count: expected a non-negative integer, found 1.5"},
        {[](Json& j) { j["leak_suspects"][0]["age"] = -1; },
         "leak_suspects[0].age: expected a non-negative integer, found -1"},
        {[](Json& j) { j["alarms"][0]["kind"] = "loud"; },
         "alarms[0].kind: expected \"large_alloc\" or \"low_free_run\", found \"loud\""},
        {[](Json& j) { j["alarms"][0]["on_out_of_memory"] = nullptr; },
         "alarms[0].on_out_of_memory: expected true or false, found null"},
        {[](Json& j) { j["snapshot"]["areas"][0]["spans"][1].erase(4); },
         "snapshot.areas[0].spans[1]: expected [first_block, n_blocks, kind, flags, tag, age, site], found 6 elements"},
        {[](Json& j) { j["snapshot"]["areas"][0]["spans"][1][6] = "here"; },
         "snapshot.areas[0].spans[1][6]: expected a non-negative integer, found \"here\""},
        {[](Json& j) { j["snapshots"] = Json::object(); }, "snapshots: expected an array, found an object"},
        {[](Json& j) { j["call_sites"].erase("sample_every"); }, "call_sites.sample_every: missing"},
        {[](Json& j) { j["call_sites"]["sites"] = Json::array({{{"id", 0}, {"tag", 1}, {"samples", 1}, {"sampled_bytes", 32}, {"frames", {"12"}}}}); },
         "call_sites.sites[0].frames[0]: expected an address \"0x...\", found \"12\""},
        {[](Json& j) { j["snapshot"]["areas"][0]["spans"][1][5] = -2; },
         "snapshot.areas[0].spans[1][5]: expected a non-negative integer, found -2"},
        {[](Json& j) { j["timeline"][1]["live_by_tag"][0] = Json::array({1}); },
         "timeline[1].live_by_tag[0]: expected [tag, bytes], found 1 elements"},
        {[](Json& j) { j["growing_tags"][0].erase("rises"); }, "growing_tags[0].rises: missing"},
        {[](Json& j) { j["snapshot"].erase("after_collection"); }, "snapshot.after_collection: missing"},
        {[](Json& j) { j["snapshot"]["areas"][0]["spans"][1][2] = "hole"; },
         "snapshot.areas[0].spans[1][2]: expected \"object\" or \"free\", found \"hole\""},
        {[](Json& j) { j["snapshot"]["areas"][0]["spans"][1][4] = "str"; },
         "snapshot.areas[0].spans[1][4]: expected a non-negative integer, found \"str\""},
        {[](Json& j) { j["snapshot"]["areas"][0]["spans"][1][0] = 0; },
         "snapshot.areas[0].spans[1][0]: the span starts at block 0, expected 1 (spans must tile the pool in "
         "address order)"},
        {[pool](Json& j) { j["snapshot"]["areas"][0]["spans"][0][1] = pool + 1; },
         "snapshot.areas[0].spans[0][1]: " + std::to_string(pool + 1) + " blocks run past the end of the pool (" +
             std::to_string(pool) + " blocks)"},
        {[pool](Json& j) { j["snapshot"]["areas"][0]["pool_blocks"] = pool + 1; },
         "snapshot.areas[0].spans: cover " + std::to_string(pool) + " blocks of a pool of " +
             std::to_string(pool + 1)},
    };
    ASSERT_EQ(load_error(good.dump()), "loaded");
    ASSERT_EQ(good["snapshot"]["areas"][0]["spans"][0][1], 1) << "the first span is one block";
    for (const Case& c : cases) {
        Json damaged = good;
        c.damage(damaged);
        EXPECT_EQ(load_error(damaged.dump()), c.error);
    }
}

}  // namespace
}  // namespace uheap

namespace uheap {
namespace {

std::string read_all(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

std::string temp_path(const char* name) {
    return ::testing::TempDir() + "uheap-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" + name;
}

/// A workload with every kind of record: collections, a snapshot series, a name set late, an
/// alarm, an out-of-memory event, an explicit snapshot.
void streamed_run(Profiler& prof, testing::TestHeap& heap, int collections) {
    prof.set_tag_name(1, "node");
    prof.set_large_alloc_alarm(8, [](const AlarmEvent&) {});
    prof.attach(*heap);
    for (int i = 0; i < collections; ++i) {
        heap.roots[i % 8] = heap->alloc((1 + i % 3) * kBlockBytes, 0, static_cast<std::uint16_t>(1 + i % 2));
        heap->alloc(kBlockBytes, 0, 2);
        if (i == 2) prof.set_tag_name(2, "leaf");
        if (i == 3) heap->alloc(8 * kBlockBytes, 0, 1);
        heap->collect();
    }
    EXPECT_EQ(heap->alloc(heap->info().free + kBlockBytes, 0, 1), nullptr);  // fits the pool, not its free space
}

// The stream read back is the profile save_json() writes, but for the leak suspects: the
// same timeline, tags, histogram, events and snapshots.
TEST(ProfileStream, ReadsBackAsTheProfile) {
    testing::TestHeap heap(16 * 1024);
    ProfilerConfig config;
    config.snapshot_every = 2;
    Profiler prof(config);
    const std::string path = temp_path("stream.jsonl");
    ASSERT_TRUE(prof.stream_to(path));
    streamed_run(prof, heap, 6);
    prof.take_snapshot();
    prof.end_stream();
    EXPECT_FALSE(prof.streaming());
    report::Profile whole, streamed;
    std::string error;
    ASSERT_TRUE(report::load_profile(prof.json(), &whole, &error)) << error;
    ASSERT_TRUE(report::load_profile(read_all(path), &streamed, &error)) << error;
    EXPECT_EQ(streamed.collections, 7u);  // six, and the one the failing allocation ran
    ASSERT_EQ(streamed.timeline.size(), whole.timeline.size());
    for (std::size_t i = 0; i < whole.timeline.size(); ++i) {
        EXPECT_EQ(streamed.timeline[i].used_bytes, whole.timeline[i].used_bytes);
        EXPECT_EQ(streamed.timeline[i].live_by_tag.size(), whole.timeline[i].live_by_tag.size());
    }
    ASSERT_EQ(streamed.tags.size(), whole.tags.size());
    for (std::size_t i = 0; i < whole.tags.size(); ++i) {
        EXPECT_EQ(streamed.tags[i].allocations, whole.tags[i].allocations) << "tag " << whole.tags[i].tag;
    }
    EXPECT_EQ(streamed.label(2), "leaf") << "a name set mid-run";
    EXPECT_EQ(streamed.alarms.size(), 1u);
    EXPECT_EQ(streamed.out_of_memory.size(), 1u);
    EXPECT_EQ(streamed.snapshots.size(), whole.snapshots.size());
    EXPECT_EQ(streamed.snapshots.size(), 3u);
    EXPECT_FALSE(streamed.snapshot.after_collection) << "the explicit snapshot came last";
    EXPECT_EQ(streamed.snapshot.areas[0].spans.size(), whole.snapshot.areas[0].spans.size());
    EXPECT_TRUE(streamed.leak_suspects.empty());
}

// What a stream is for: the process dies (here by SIGKILL, mid-run, as an out-of-memory abort
// or a crash would end it) and its profile up to the last collection is in the file, readable;
// a last line cut short by the death is dropped.
TEST(ProfileStream, SurvivesTheProcessDying) {
    const std::string path = temp_path("crash.jsonl");
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        testing::TestHeap heap(16 * 1024);
        ProfilerConfig config;
        config.snapshot_every = 1;
        Profiler prof(config);
        if (!prof.stream_to(path)) _exit(3);
        streamed_run(prof, heap, 5);
        raise(SIGKILL);
        _exit(4);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
    std::string text = read_all(path);
    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(text, &p, &error)) << error;
    EXPECT_EQ(p.timeline.size(), 6u);  // five, and the one the failing allocation ran
    EXPECT_EQ(p.snapshots.size(), 6u);
    EXPECT_EQ(p.out_of_memory.size(), 1u);
    EXPECT_TRUE(p.snapshot.taken) << "the last of the series stands for the snapshot";
    text += "{\"collection\": {\"collection\": 6, \"used_by";  // a record the death cut short
    ASSERT_TRUE(report::load_profile(text, &p, &error)) << error;
    EXPECT_EQ(p.timeline.size(), 6u);
    EXPECT_EQ(load_error("{\"format\": \"uheap-profile-stream\", \"version\": 3}\nnot json\n{}\n"),
              "stream line 2: not a JSON object");
}

}  // namespace
}  // namespace uheap
