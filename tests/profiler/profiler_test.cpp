// SPDX-License-Identifier: MIT
// The profiler's tables: per-tag counts, histogram, leak suspects, alarms, CSV, attach/detach.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <map>
#include <vector>

#include "profiler_support.hpp"
#include "report.hpp"
#include "uheap/profiler.hpp"

namespace uheap {
namespace {

using testing::TestHeap;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST(Profiler, PerTagLiveCumulativeAndPeak) {
    TestHeap heap(64 * 1024);
    Profiler prof;
    prof.attach(*heap);
    prof.set_tag_name(1, "int");
    prof.set_tag_name(9, "unused");
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 1);
    void* b = heap->alloc(kBlockBytes, 0, 1);
    heap->alloc(kBlockBytes, 0, 1);  // garbage
    heap.roots[1] = heap->alloc(3 * kBlockBytes, 0, 2);
    heap->alloc(3 * kBlockBytes, 0, 2);  // garbage
    heap->free(b);
    heap->collect();

    TagStats t1 = prof.tag_stats(1);
    EXPECT_EQ(t1.allocations, 3u);
    EXPECT_EQ(t1.bytes_allocated, 3 * kBlockBytes);
    EXPECT_EQ(t1.live_objects, 1u);
    EXPECT_EQ(t1.live_bytes, kBlockBytes);
    EXPECT_EQ(t1.peak_live_bytes, 3 * kBlockBytes);
    EXPECT_EQ(t1.frees, 1u);
    EXPECT_EQ(t1.swept, 1u);
    TagStats t2 = prof.tag_stats(2);
    EXPECT_EQ(t2.allocations, 2u);
    EXPECT_EQ(t2.live_objects, 1u);
    EXPECT_EQ(t2.live_bytes, 3 * kBlockBytes);
    EXPECT_EQ(t2.peak_live_bytes, 6 * kBlockBytes);
    EXPECT_EQ(t2.swept, 1u);

    std::vector<TagStats> tags = prof.tags();
    ASSERT_EQ(tags.size(), 3u);  // 1, 2, and the named but unused 9
    EXPECT_EQ(tags[0].tag, 1);
    EXPECT_EQ(tags[1].tag, 2);
    EXPECT_EQ(tags[2].tag, 9);
    EXPECT_EQ(tags[2].allocations, 0u);
    EXPECT_EQ(prof.tag_name(1), "int");
    EXPECT_EQ(prof.tag_name(3), "");
    EXPECT_EQ(prof.tracked_objects(), 2u);
}

TEST(Profiler, ReallocKeepsTagAndBirthAcrossMoves) {
    TestHeap heap(64 * 1024);
    Profiler prof;
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 5);
    heap->collect();
    heap->collect();
    heap.roots[1] = heap->alloc(kBlockBytes, 0, 6);  // blocks growth in place
    heap.roots[0] = heap->realloc(heap.roots[0], 8 * kBlockBytes);
    heap.roots[1] = heap->realloc(heap.roots[1], 2 * kBlockBytes);  // grows in place (free run follows)
    TagStats t5 = prof.tag_stats(5);
    EXPECT_EQ(t5.allocations, 1u);
    EXPECT_EQ(t5.reallocs, 1u);
    EXPECT_EQ(t5.live_objects, 1u);
    EXPECT_EQ(t5.live_bytes, 8 * kBlockBytes);
    EXPECT_EQ(t5.bytes_allocated, 8 * kBlockBytes);
    EXPECT_EQ(prof.tag_stats(0).allocations, 0u);
    EXPECT_EQ(prof.tag_stats(0).live_objects, 0u);
    TagStats t6 = prof.tag_stats(6);
    EXPECT_EQ(t6.live_bytes, 2 * kBlockBytes);
    EXPECT_EQ(t6.reallocs, 1u);
    std::vector<SizeBucket> h = prof.histogram();
    ASSERT_EQ(h.size(), 1u);  // the moved copy is not a new allocation
    EXPECT_EQ(h[0].count, 2u);

    // The moved object keeps its birth: the snapshot gives it the age of the original.
    prof.take_snapshot();
    const SnapshotSpan* moved = nullptr;
    for (const SnapshotSpan& s : prof.snapshot().areas[0].spans) {
        if (s.object && s.first_block == heap.offset_of(heap.roots[0]) / kBlockBytes) moved = &s;
    }
    ASSERT_NE(moved, nullptr);
    EXPECT_EQ(moved->tag, 5);
    EXPECT_EQ(moved->age, 2);
}

TEST(Profiler, HistogramUsesPowerOfTwoBlockBuckets) {
    TestHeap heap(64 * 1024);
    Profiler prof;
    prof.attach(*heap);
    for (std::size_t blocks : {1, 2, 3, 4, 5, 7, 8, 9, 16}) heap->alloc(blocks * kBlockBytes, 0, 1);
    std::vector<SizeBucket> h = prof.histogram();
    ASSERT_EQ(h.size(), 5u);
    std::size_t expected_count[] = {1, 2, 3, 2, 1};
    std::size_t expected_blocks[] = {1, 2 + 3, 4 + 5 + 7, 8 + 9, 16};
    for (std::size_t i = 0; i < h.size(); ++i) {
        EXPECT_EQ(h[i].min_blocks, std::size_t{1} << i);
        EXPECT_EQ(h[i].max_blocks, (std::size_t{2} << i) - 1);
        EXPECT_EQ(h[i].count, expected_count[i]) << "bucket " << i;
        EXPECT_EQ(h[i].bytes, expected_blocks[i] * kBlockBytes) << "bucket " << i;
    }
}

// The complaint: the ten suspects were always the interned symbols and the VM's tables,
// objects that live as long as the program. Suspects now come from tags whose live bytes after
// each collection grow; a tag allocated once and kept (1), and one that churns (3), are not.
TEST(Profiler, LeakSuspectsComeFromGrowingTagsNotLongLivedOnes) {
    TestHeap heap(64 * 1024);
    ProfilerConfig config;
    config.leak_min_age = 2;
    config.leak_limit = 4;
    config.growth_window = 6;
    Profiler prof(config);
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(16 * kBlockBytes, 0, 1);  // the program's tables: old and large
    heap.roots[1] = heap->alloc(12 * kBlockBytes, 0, 1);
    for (int cycle = 0; cycle < 8; ++cycle) {
        heap.roots[2 + cycle] = heap->alloc(2 * kBlockBytes, 0, 2);  // the leak: one more each cycle
        for (int i = 0; i < 5; ++i) heap->alloc(kBlockBytes, 0, 3);   // garbage
        heap->collect();
    }
    std::vector<GrowingTag> growing = prof.growing_tags();
    ASSERT_EQ(growing.size(), 1u);
    EXPECT_EQ(growing[0].tag, 2);
    EXPECT_EQ(growing[0].collections, 6u);
    EXPECT_EQ(growing[0].rises, 5u);
    EXPECT_EQ(growing[0].first_bytes, 3 * 2 * kBlockBytes);  // after collection 3, the window's first: 3 objects
    EXPECT_EQ(growing[0].last_bytes, 8 * 2 * kBlockBytes);
    std::vector<LeakSuspect> leaks = prof.leak_suspects();
    ASSERT_EQ(leaks.size(), 4u);
    for (const LeakSuspect& l : leaks) {
        EXPECT_EQ(l.tag, 2);
        EXPECT_GE(l.age, 2u);
        EXPECT_LE(l.age, 5u);  // born inside the window (after collection 3)
    }
    EXPECT_GE(leaks[0].age, leaks[1].age);  // same size: older first
    // The same objects, but a window that starts before tag 2 began: still only tag 2.
    config.growth_window = 100;
    prof.set_config(config);
    ASSERT_EQ(prof.growing_tags().size(), 1u);
    // A sawtooth that ends higher is not growth: rises in fewer than half the steps.
    heap.roots[20] = heap->alloc(kBlockBytes, 0, 4);
    heap->collect();
    for (int cycle = 0; cycle < 4; ++cycle) heap->collect();
    heap.roots[21] = heap->alloc(kBlockBytes, 0, 4);
    heap->collect();
    config.growth_window = 6;
    prof.set_config(config);
    for (const GrowingTag& g : prof.growing_tags()) EXPECT_NE(g.tag, 4);
}

// Each timeline sample carries the tags' live bytes after that collection, when it ended on the
// heap's clock, and the bytes allocated so far.
TEST(Profiler, TimelineSamplesCarryLiveBytesPerTagAndTime) {
    TestHeap heap(64 * 1024);
    Profiler prof;
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(3 * kBlockBytes, 0, 1);
    heap->alloc(5 * kBlockBytes, 0, 2);  // garbage
    heap->collect();
    heap.roots[1] = heap->alloc(2 * kBlockBytes, 0, 2);
    heap->collect();
    const std::vector<TimelineSample>& t = prof.timeline();
    ASSERT_EQ(t.size(), 2u);
    ASSERT_EQ(t[0].live_by_tag.size(), 1u);
    EXPECT_EQ(t[0].live_by_tag[0].tag, 1);
    EXPECT_EQ(t[0].live_by_tag[0].bytes, 3 * kBlockBytes);
    ASSERT_EQ(t[1].live_by_tag.size(), 2u);
    EXPECT_EQ(t[1].live_by_tag[1].tag, 2);
    EXPECT_EQ(t[1].live_by_tag[1].bytes, 2 * kBlockBytes);
    EXPECT_EQ(t[0].bytes_allocated, 8 * kBlockBytes);
    EXPECT_EQ(t[1].bytes_allocated, 10 * kBlockBytes);
    EXPECT_GT(t[0].time_ns, 0u);
    EXPECT_GT(t[1].time_ns, t[0].time_ns);
}

// The complaint: a snapshot taken at exit drew garbage as live. Now every object says
// how many collections it survived; age 0 means no collection has judged it yet, and
// SnapshotMode::after_collection collects first, so that nothing unjudged is left.
TEST(Profiler, SnapshotsTellSurvivorsFromObjectsNoCollectionHasJudged) {
    TestHeap heap(64 * 1024);
    Profiler prof;
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(2 * kBlockBytes, 0, 1);
    heap->collect();
    heap->collect();
    heap.roots[1] = heap->alloc(kBlockBytes, 0, 2);  // live, but unjudged
    for (int i = 0; i < 10; ++i) heap->alloc(kBlockBytes, 0, 3);  // garbage, unjudged
    prof.take_snapshot();
    auto ages = [&] {
        std::map<std::int32_t, std::vector<std::int64_t>> by_tag;
        for (const SnapshotSpan& s : prof.snapshot().areas[0].spans) {
            if (s.object) by_tag[s.tag].push_back(s.age);
        }
        return by_tag;
    };
    auto now = ages();
    EXPECT_FALSE(prof.snapshot().after_collection);
    EXPECT_GT(prof.snapshot().ns_since_collection, 0u);
    ASSERT_EQ(now[1].size(), 1u);
    EXPECT_EQ(now[1][0], 2);
    EXPECT_EQ(now[2], std::vector<std::int64_t>{0});
    EXPECT_EQ(now[3].size(), 10u);
    for (std::int64_t age : now[3]) EXPECT_EQ(age, 0);
    prof.take_snapshot(SnapshotMode::after_collection);
    auto after = ages();
    EXPECT_TRUE(prof.snapshot().after_collection);
    EXPECT_EQ(prof.snapshot().collection, 3u);
    EXPECT_EQ(after[1], std::vector<std::int64_t>{3});
    EXPECT_EQ(after[2], std::vector<std::int64_t>{1});
    EXPECT_EQ(after.count(3), 0u);  // the garbage is gone
}

// The series a report's slider moves over: one snapshot every N collections, right after it
// (garbage gone), thinned to every other one with the interval doubled when the limit is reached,
// so the whole run stays covered evenly.
TEST(Profiler, SnapshotSeriesCoversTheWholeRunEvenly) {
    TestHeap heap(64 * 1024);
    ProfilerConfig config;
    config.snapshot_every = 2;
    config.snapshot_limit = 4;
    Profiler prof(config);
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 1);
    auto collections_in_series = [&] {
        std::vector<std::uint64_t> out;
        for (const HeapSnapshot& s : prof.snapshots()) out.push_back(s.collection);
        return out;
    };
    for (int i = 1; i <= 8; ++i) {
        heap->alloc(kBlockBytes, 0, 2);  // garbage
        heap->collect();
    }
    EXPECT_EQ(collections_in_series(), (std::vector<std::uint64_t>{2, 4, 6, 8}));
    heap->collect();
    heap->collect();  // the fifth: every other one goes, and the interval is 4 from now on
    EXPECT_EQ(collections_in_series(), (std::vector<std::uint64_t>{4, 8}));
    for (int i = 0; i < 6; ++i) heap->collect();
    EXPECT_EQ(collections_in_series(), (std::vector<std::uint64_t>{4, 8, 12, 16}));
    const HeapSnapshot& last = prof.snapshots().back();
    EXPECT_TRUE(last.after_collection);
    EXPECT_EQ(last.ns_since_collection, 0u);
    std::size_t objects = 0;
    for (const SnapshotSpan& s : last.areas[0].spans) {
        if (!s.object) continue;
        ++objects;
        EXPECT_EQ(s.tag, 1) << "only the rooted object survived";
        EXPECT_EQ(s.age, 16);
    }
    EXPECT_EQ(objects, 1u);
    // The series is in the JSON, and reads back.
    report::Profile p;
    std::string error;
    ASSERT_TRUE(report::load_profile(prof.json(), &p, &error)) << error;
    ASSERT_EQ(p.snapshots.size(), 4u);
    EXPECT_EQ(p.snapshots[3].collection, 16u);
    EXPECT_GE(p.snapshots[3].time_ns, p.snapshots[0].time_ns);
    prof.reset();
    EXPECT_TRUE(prof.snapshots().empty());
}

// The profiler's side table covers the areas the heap had at attach(); an area added later gets
// its slots at its first event, and objects there are tracked like any other.
TEST(Profiler, ObjectsInAnAreaAddedAfterAttachAreTracked) {
    TestHeap heap(16 * 1024);
    Profiler prof;
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 1);
    alignas(16) static unsigned char second[32 * 1024];
    ASSERT_EQ(heap->add_area(second, sizeof second), Status::ok);
    std::vector<void*> in_second;
    for (int i = 1; i < 64 && in_second.size() < 3; ++i) {
        void* p = heap->alloc(12 * kBlockBytes, 0, 2);
        heap.roots[i] = p;
        if (p >= static_cast<void*>(second) && p < static_cast<void*>(second + sizeof second)) in_second.push_back(p);
    }
    ASSERT_EQ(in_second.size(), 3u) << "the first area filled and the heap moved on to the second";
    EXPECT_EQ(prof.tracked_objects(), heap->info().objects);
    for (int i = 1; i < 64; ++i) heap.roots[i] = nullptr;
    heap->collect();
    EXPECT_EQ(prof.tag_stats(2).live_objects, 0u);
    EXPECT_EQ(prof.tag_stats(2).swept, prof.tag_stats(2).allocations);
    EXPECT_EQ(prof.tracked_objects(), 1u);
    prof.detach();
}

TEST(Profiler, LargeAllocAlarmFiresAtThreshold) {
    TestHeap heap(64 * 1024);
    Profiler prof;
    std::vector<AlarmEvent> fired;
    prof.set_large_alloc_alarm(8, [&](const AlarmEvent& e) { fired.push_back(e); });
    prof.attach(*heap);
    heap->alloc(7 * kBlockBytes, 0, 1);
    EXPECT_TRUE(fired.empty());
    heap->alloc(8 * kBlockBytes - 1, 0, 3);
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].kind, AlarmKind::large_alloc);
    EXPECT_EQ(fired[0].n_blocks, 8u);
    EXPECT_EQ(fired[0].threshold_blocks, 8u);
    EXPECT_EQ(fired[0].tag, 3);
    heap->alloc(20 * kBlockBytes, 0, 4);
    ASSERT_EQ(fired.size(), 2u);
    EXPECT_EQ(fired[1].n_blocks, 20u);
    EXPECT_EQ(prof.alarm_log().size(), 2u);
    prof.set_large_alloc_alarm(0, nullptr);
    heap->alloc(20 * kBlockBytes, 0, 4);
    EXPECT_EQ(fired.size(), 2u);
}

TEST(Profiler, LowFreeRunAlarmFiresOnceWhenTheRunDropsAndRearms) {
    TestHeap heap(16 * 1024);
    std::size_t total = heap->info().total / kBlockBytes;
    Profiler prof;
    std::vector<AlarmEvent> fired;
    prof.set_low_free_run_alarm(total / 2, [&](const AlarmEvent& e) { fired.push_back(e); });
    prof.attach(*heap);
    heap->collect();  // empty heap: the run is the whole pool
    EXPECT_TRUE(fired.empty());
    heap.roots[0] = heap->alloc((total / 2 + 2) * kBlockBytes, 0, 1);
    EXPECT_TRUE(fired.empty());  // checked at collection ends, not at every allocation
    heap->collect();
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].kind, AlarmKind::low_free_run);
    EXPECT_EQ(fired[0].collection, 2u);
    EXPECT_EQ(fired[0].n_blocks, heap->info().max_free);
    EXPECT_LT(fired[0].n_blocks, total / 2);
    EXPECT_FALSE(fired[0].on_out_of_memory);
    heap->collect();
    EXPECT_EQ(fired.size(), 1u);  // still low: edge-triggered, no repeat
    heap.roots[0] = nullptr;
    heap->collect();  // back above: re-armed
    heap.roots[0] = heap->alloc((total / 2 + 2) * kBlockBytes, 0, 1);
    heap->collect();
    EXPECT_EQ(fired.size(), 2u);
}

TEST(Profiler, LowFreeRunAlarmAlsoChecksOutOfMemory) {
    TestHeap heap(16 * 1024, /*auto_collect=*/false);
    std::size_t total = heap->info().total / kBlockBytes;
    Profiler prof;
    std::vector<AlarmEvent> fired;
    prof.set_low_free_run_alarm(8, [&](const AlarmEvent& e) { fired.push_back(e); });
    prof.attach(*heap);
    heap.roots[0] = heap->alloc((total - 4) * kBlockBytes, 0, 1);
    EXPECT_EQ(heap->alloc(6 * kBlockBytes), nullptr);
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_TRUE(fired[0].on_out_of_memory);
    EXPECT_EQ(fired[0].n_blocks, 4u);

    Profiler quiet;
    std::vector<AlarmEvent> quiet_fired;
    quiet.set_low_free_run_alarm(8, [&](const AlarmEvent& e) { quiet_fired.push_back(e); },
                                 /*check_on_out_of_memory=*/false);
    quiet.attach(*heap);
    EXPECT_EQ(heap->alloc(6 * kBlockBytes), nullptr);
    EXPECT_TRUE(quiet_fired.empty());
}

TEST(Profiler, TimelineHasOneSamplePerCollection) {
    TestHeap heap(16 * 1024);
    Profiler prof;
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(4 * kBlockBytes, 0, 1);
    heap->alloc(2 * kBlockBytes, 0, 1);
    heap->collect();
    heap->alloc(kBlockBytes, 0, 1);
    heap->collect();
    const std::vector<TimelineSample>& t = prof.timeline();
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].collection, 1u);
    EXPECT_EQ(t[0].objects_freed, 1u);
    EXPECT_EQ(t[0].bytes_freed, 2 * kBlockBytes);
    EXPECT_EQ(t[0].live_objects, 1u);
    EXPECT_EQ(t[0].used_bytes, 4 * kBlockBytes);
    EXPECT_EQ(t[0].used_bytes + t[0].free_bytes, heap->info().total);
    EXPECT_DOUBLE_EQ(t[0].fragmentation, 0.0);  // the free space is one run after the object
    EXPECT_EQ(t[0].pause_ns, 1000u);
    EXPECT_EQ(t[1].collection, 2u);
}

TEST(Profiler, CsvTablesHaveHeaderAndRows) {
    TestHeap heap(16 * 1024);
    Profiler prof;
    prof.set_tag_name(1, "a,b");  // needs quoting
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 1);
    heap->collect();
    std::vector<std::string> tags = lines_of(prof.csv(CsvTable::tags));
    ASSERT_EQ(tags.size(), 2u);
    EXPECT_EQ(tags[0], "tag,name,live_objects,live_bytes,peak_live_bytes,allocations,bytes_allocated,reallocs,frees,swept");
    EXPECT_EQ(tags[1], "1,\"a,b\",1," + std::to_string(kBlockBytes) + "," + std::to_string(kBlockBytes) + ",1," +
                           std::to_string(kBlockBytes) + ",0,0,0");
    std::vector<std::string> timeline = lines_of(prof.csv(CsvTable::timeline));
    ASSERT_EQ(timeline.size(), 2u);
    EXPECT_EQ(timeline[0],
              "collection,used_bytes,free_bytes,largest_free_bytes,fragmentation,objects_freed,bytes_freed,live_objects,pause_ns");
    std::size_t free_bytes = heap->info().free;
    EXPECT_EQ(timeline[1], "1," + std::to_string(kBlockBytes) + "," + std::to_string(free_bytes) + "," +
                               std::to_string(free_bytes) + ",0.0000,0,0,1,1000");
    std::vector<std::string> hist = lines_of(prof.csv(CsvTable::histogram));
    ASSERT_EQ(hist.size(), 2u);
    EXPECT_EQ(hist[0], "min_blocks,max_blocks,count,bytes");
    EXPECT_EQ(hist[1], "1,1,1," + std::to_string(kBlockBytes));
    EXPECT_EQ(lines_of(prof.csv(CsvTable::leaks))[0], "area,offset,block,tag,name,bytes,age");
    EXPECT_EQ(lines_of(prof.csv(CsvTable::alarms))[0], "kind,collection,n_blocks,threshold_blocks,tag,on_out_of_memory");
}

TEST(Profiler, AttachAdoptsExistingObjectsAndDetachStopsRecording) {
    TestHeap heap(16 * 1024);
    heap.roots[0] = heap->alloc(2 * kBlockBytes);
    heap->collect();
    Profiler prof;
    prof.attach(*heap);
    EXPECT_TRUE(prof.attached());
    EXPECT_EQ(prof.heap(), &*heap);
    EXPECT_EQ(prof.tracked_objects(), 1u);
    EXPECT_EQ(prof.collection_index(), 1u);
    EXPECT_EQ(prof.tag_stats(0).live_objects, 1u);
    EXPECT_EQ(prof.tag_stats(0).allocations, 0u);
    heap.roots[0] = nullptr;
    heap->collect();
    EXPECT_EQ(prof.tag_stats(0).swept, 1u);
    EXPECT_EQ(prof.tracked_objects(), 0u);
    prof.detach();
    EXPECT_FALSE(prof.attached());
    heap->alloc(kBlockBytes, 0, 3);
    heap->collect();
    EXPECT_EQ(prof.tag_stats(3).allocations, 0u);
    EXPECT_EQ(prof.timeline().size(), 1u);  // kept after detach
    prof.reset();
    EXPECT_TRUE(prof.timeline().empty());
}

bool same_hooks(const EventHooks& a, const EventHooks& b) {
    return a.user == b.user && a.on_alloc == b.on_alloc && a.on_free == b.on_free &&
           a.on_realloc == b.on_realloc && a.on_collect_start == b.on_collect_start &&
           a.on_collect_end == b.on_collect_end && a.on_out_of_memory == b.on_out_of_memory;
}

TEST(Profiler, DestructorDetaches) {
    TestHeap heap(16 * 1024);
    const EventHooks before = heap->event_hooks();
    ASSERT_TRUE(same_hooks(before, EventHooks{}));
    {
        Profiler prof;
        prof.attach(*heap);
        ASSERT_TRUE(prof.attached());
        ASSERT_FALSE(same_hooks(heap->event_hooks(), before));  // the profiler's hooks are in force
        EXPECT_NE(heap->event_hooks().on_alloc, nullptr);
    }
    // The destructor removed every hook: nothing points at the dead profiler.
    EXPECT_TRUE(same_hooks(heap->event_hooks(), before));
    EXPECT_TRUE(same_hooks(heap->event_hooks(), EventHooks{}));
    heap->alloc(kBlockBytes, 0, 1);  // would reach a dead profiler if the hooks were still set
    heap->collect();
}

TEST(Profiler, SnapshotListsEverySpanWithTags) {
    TestHeap heap(16 * 1024);
    Profiler prof;
    prof.attach(*heap);
    heap.roots[0] = heap->alloc(2 * kBlockBytes, kNoScan, 7);
    heap.roots[1] = heap->alloc(kBlockBytes, kFinaliser, 8);
    EXPECT_FALSE(prof.snapshot().taken);
    prof.take_snapshot();
    const HeapSnapshot& snap = prof.snapshot();
    ASSERT_TRUE(snap.taken);
    ASSERT_EQ(snap.areas.size(), 1u);
    EXPECT_EQ(snap.areas[0].pool_blocks, heap->area_pool(0).n_blocks);
    std::size_t covered = 0, objects = 0;
    for (const SnapshotSpan& s : snap.areas[0].spans) {
        EXPECT_EQ(s.first_block, covered);
        covered += s.n_blocks;
        if (!s.object) {
            EXPECT_EQ(s.tag, -1);
            continue;
        }
        ++objects;
        if (s.tag == 7) {
            EXPECT_EQ(s.flags, unsigned{kNoScan});
        }
        if (s.tag == 8) {
            EXPECT_EQ(s.flags, unsigned{kFinaliser});
        }
    }
    EXPECT_EQ(covered, snap.areas[0].pool_blocks);
    EXPECT_EQ(objects, 2u);
}

}  // namespace
}  // namespace uheap
