// SPDX-License-Identifier: MIT
// Golden JSON: a scripted allocation sequence must export exactly tests/profiler/golden/*.json.
// Regenerate after an intended format change with UHEAP_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "profiler_support.hpp"
#include "uheap/profiler.hpp"

namespace uheap {
namespace {

using testing::TestHeap;

std::string golden_path(const char* name) { return std::string(UHEAP_PROFILER_GOLDEN_DIR) + "/" + name; }

/// metadata_bytes is the size of the heap's control data and tables: it changes whenever the
/// core's internal structures do, and says nothing about the profile, so it is not compared.
std::string without_metadata_bytes(std::string text) {
    static const std::regex field("\"metadata_bytes\": [0-9]+");
    return std::regex_replace(text, field, "\"metadata_bytes\": #");
}

/// Compares `actual` with the golden file, or rewrites the file when UHEAP_UPDATE_GOLDEN is set.
void expect_golden(const char* name, const std::string& actual_text) {
    const std::string actual = without_metadata_bytes(actual_text);
    std::string path = golden_path(name);
    if (std::getenv("UHEAP_UPDATE_GOLDEN") != nullptr) {
        std::ofstream(path, std::ios::binary) << actual;
        GTEST_SKIP() << "rewrote " << path;
    }
    std::ifstream file(path, std::ios::binary);
    ASSERT_TRUE(file) << "missing " << path;
    std::stringstream expected;
    expected << file.rdbuf();
    EXPECT_EQ(actual, without_metadata_bytes(expected.str())) << "golden mismatch for " << path;
}

// The script touches every section: three named tags, an explicit free, an in-place and a moving
// realloc, collections with survivors and garbage, both alarms, an out-of-memory, a snapshot.
void run_script(TestHeap& heap, Profiler& prof) {
    prof.set_tag_name(1, "int");
    prof.set_tag_name(2, "str \"quoted\"");
    prof.set_tag_name(3, "list");
    prof.set_large_alloc_alarm(16, [](const AlarmEvent&) {});
    prof.set_low_free_run_alarm(16, [](const AlarmEvent&) {});
    prof.attach(*heap);

    heap.roots[0] = heap->alloc(16, 0, 1);
    heap.roots[1] = heap->alloc(100, kNoScan, 2);
    void* tmp = heap->alloc(3 * kBlockBytes, 0, 1);
    heap.roots[2] = heap->alloc(2 * kBlockBytes, 0, 3);
    heap->free(tmp);
    for (int i = 0; i < 6; ++i) heap->alloc(kBlockBytes * (1 + i % 3), 0, 2);  // garbage
    heap->collect();
    heap.roots[2] = heap->realloc(heap.roots[2], 3 * kBlockBytes);   // moves or grows in place
    heap.roots[3] = heap->alloc(kBlockBytes, kFinaliser, 1);
    heap.roots[2] = heap->realloc(heap.roots[2], 12 * kBlockBytes);  // must move past roots[3]
    heap.roots[4] = heap->alloc(20 * kBlockBytes, kNoScan, 2);        // large-alloc alarm
    heap->collect();
    heap->collect();
    // Fill the heap with rooted 1-block and garbage objects so the free run shrinks.
    std::size_t blocks = heap->info().free / kBlockBytes;
    for (std::size_t i = 5; i < TestHeap::kRoots && blocks > 8; ++i, blocks -= 8) {
        heap.roots[i] = heap->alloc(kBlockBytes, 0, 1);
        heap->alloc(7 * kBlockBytes, 0, 3);
    }
    heap->collect();  // low-free-run alarm
    heap->set_auto_collect(false);
    heap->alloc(heap->info().max_free * kBlockBytes + 1, 0, 3);  // out of memory
    heap->set_auto_collect(true);
    heap->collect();
    prof.take_snapshot();
}

/// The goldens were recorded on an 88-block pool; the region is sized to give exactly that.
std::size_t golden_region() {
    static const std::size_t bytes = TestHeap::region_for_pool_blocks(88);
    return bytes;
}

TEST(Golden, ScriptedSequenceJson) {
    if (kBlockBytes != 32) GTEST_SKIP() << "golden files are for 32-byte blocks";
    TestHeap heap(golden_region());
    ProfilerConfig config;
    config.leak_min_age = 2;
    config.leak_limit = 4;
    Profiler prof(config);
    run_script(heap, prof);
    ASSERT_TRUE(heap->verify().ok());
    expect_golden("scripted.json", prof.json());
}

TEST(Golden, ScriptedSequenceCsvTimeline) {
    if (kBlockBytes != 32) GTEST_SKIP() << "golden files are for 32-byte blocks";
    TestHeap heap(golden_region());
    Profiler prof;
    run_script(heap, prof);
    expect_golden("scripted_timeline.csv", prof.csv(CsvTable::timeline));
}

TEST(Golden, JsonIsDeterministicAcrossRuns) {
    std::string first, second;
    for (std::string* out : {&first, &second}) {
        TestHeap heap(8 * 1024);
        Profiler prof;
        run_script(heap, prof);
        *out = prof.json();
    }
    EXPECT_EQ(first, second);
}

TEST(Golden, EmptyProfileJson) {
    if (kBlockBytes != 32) GTEST_SKIP() << "golden files are for 32-byte blocks";
    Profiler prof;
    expect_golden("empty.json", prof.json());
}

}  // namespace
}  // namespace uheap
