// SPDX-License-Identifier: MIT
// uheap-report's pieces: a profile read back from JSON, the two SVG pictures, the text summary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "uheap/profiler.hpp"

namespace uheap::report {

/// A profile as uheap-report needs it, read from the profiler's JSON (docs/profiling.md).
struct Profile {
    std::uint64_t version = 0;  ///< of the document (1 to 3)
    std::size_t block_bytes = 0;
    std::uint64_t collections = 0;
    bool has_heap = false;
    std::size_t total_bytes = 0;
    std::size_t used_bytes = 0;
    std::size_t largest_free_bytes = 0;
    std::size_t objects = 0;
    double fragmentation = 0.0;
    std::uint64_t leak_min_age = 0;
    std::vector<TagStats> tags;
    std::map<std::uint16_t, std::string> tag_names;
    std::vector<SizeBucket> histogram;
    std::vector<TimelineSample> timeline;
    std::vector<GrowingTag> growing_tags;  ///< version 2; empty for version 1
    std::vector<LeakSuspect> leak_suspects;
    std::vector<AlarmEvent> alarms;
    std::vector<OutOfMemoryEvent> out_of_memory;  ///< version 2; empty for version 1
    HeapSnapshot snapshot;
    std::vector<HeapSnapshot> snapshots;  ///< version 3: the series taken every N collections
    std::uint64_t site_sample_every = 0;  ///< version 3: 0 when call sites were not sampled
    std::vector<CallSite> call_sites;     ///< version 3, by id
    std::vector<LoadedModule> modules;    ///< version 3: where the call sites' addresses lie
    /// Per call site, its frames as "function (file:line)" (or "0x..." where unknown), the
    /// heap's and the profiler's own leading frames left out; empty until symbolise_call_sites().
    std::vector<std::vector<std::string>> site_names;

    /// "list" for a named tag, "tag 7" otherwise.
    std::string label(std::int32_t tag) const;
};

/// Reads a profiler JSON document. Returns false with a message if it is not valid JSON or not
/// a "uheap-profile" of version 1 to 3.
bool load_profile(const std::string& json_text, Profile* out, std::string* error);

/// What the heap map colours cells by.
enum class ColorBy : std::uint8_t { tag, kind };

struct HeapMapOptions {
    ColorBy color_by = ColorBy::tag;
    std::size_t columns = 128;       ///< cells per row
    std::size_t max_cells = 16384;   ///< above this many blocks, one cell stands for k blocks
    std::size_t cell_px = 6;
};

/// Blocks per cell for a heap of `total_blocks`: 1, or the smallest power of two that keeps the
/// map within `max_cells` cells.
std::size_t blocks_per_cell(std::size_t total_blocks, std::size_t max_cells);

/// One cell per block (or per k blocks), areas labelled, with a legend. Needs a snapshot; writes
/// a short placeholder picture when the profile has none.
void write_heap_map_svg(std::ostream& out, const Profile& profile, const HeapMapOptions& options = {});

/// What the timeline's x axis counts.
enum class XAxis : std::uint8_t {
    collection,  ///< the collection index
    time,        ///< milliseconds on the heap's clock since the profiler attached (version 2)
    allocated    ///< bytes allocated since the profiler attached (version 2)
};

struct TimelineOptions {
    XAxis x_axis = XAxis::collection;
};

/// Panels sharing the x axis: used and free bytes with fragmentation on a 0..1 right axis;
/// live bytes per tag, stacked; the largest free run on a log scale; pauses with p50, p99 and
/// max. Out-of-memory events and alarms are vertical markers across the panels.
void write_timeline_svg(std::ostream& out, const Profile& profile, const TimelineOptions& options = {});

struct HtmlOptions {
    /// The heap map's grid and colours, as for the SVG (the page draws cells smaller than
    /// `cell_px` when the window is too narrow for `columns` of them).
    HeapMapOptions map;
    std::string title = "uheap profile";  ///< the page's title; uheap-report passes the profile's file name
};

/// The interactive report: one self-contained HTML file (no network: data, script and style
/// inline) with the summary figures, the timeline (zoom, hover), the heap map of every snapshot
/// of the profile on a slider (hover: tag, size, age, address), and the tables. The page's
/// script and style are tools/uheap-report/html/, embedded at build time.
void write_html_report(std::ostream& out, const Profile& profile, const HtmlOptions& options = {});

/// Just the data the page reads: a JSON document (docs/profiling.md, "The interactive report"),
/// with every '<' written as \u003c so that it can sit inside a <script> element.
void write_report_data(std::ostream& out, const Profile& profile, const HtmlOptions& options = {});

/// The text summary: heap totals, top tags by live bytes, fragmentation trend, pauses, leak
/// suspects and alarms.
void write_summary(std::ostream& out, const Profile& profile, std::size_t top_n = 8);

/// The timeline's pauses ranked (nearest rank: the smallest pause that at least p % of them do
/// not exceed), and their mean, in nanoseconds. Needs a non-empty timeline.
struct PauseRanks {
    std::uint64_t p50 = 0;
    std::uint64_t p99 = 0;
    std::uint64_t max = 0;
    std::uint64_t mean = 0;
};
PauseRanks pause_ranks(const Profile& profile);

/// "p50 108.0 us, p99 253.7 us, max 4.2 ms" over the timeline's pauses (pause_ranks()). Needs a
/// non-empty timeline.
std::string pause_percentiles(const Profile& profile);

/// Names the call sites' frames (Profile::site_names) with addr2line from binutils, through
/// the modules' debug information; frames it cannot name keep their address. Runs addr2line
/// once per module; without it, every frame is an address.
void symbolise_call_sites(Profile* p);
/// "0x55d0c2a41f3e".
std::string hex_address(std::uintptr_t address);
/// A call site as one line: its first `depth` named frames, "f (a.cpp:3) <- g (b.cpp:9)".
std::string site_label(const Profile& p, std::size_t site, std::size_t depth);
/// Per tag (most sampled first), its `per_tag` most sampled call sites with estimated
/// allocations and bytes and their sampled objects alive in the snapshot. Nothing without
/// sampling.
void write_top_sites(std::ostream& out, const Profile& p, std::size_t per_tag = 3);

/// What changed between two snapshots of a run (tracemalloc's compare_to): live bytes and
/// objects per tag, and per call site of the sampled objects, largest growth first.
void write_diff(std::ostream& out, const Profile& before, const Profile& after, std::size_t top_n = 10);

/// The headline figures as the text summary prints them ("127 KB", "49.6", "0.012", "25.4 us"),
/// shared by the summary and the HTML report's header. Pauses are empty without a timeline.
struct SummaryFigures {
    std::string used, total, used_percent, largest_free, fragmentation;
    std::string pause_p50, pause_p99, pause_max, pause_mean;
};
SummaryFigures summary_figures(const Profile& profile);

/// The tags in the summary's order: by the bytes the last collection found live when the
/// timeline has them per tag (`judged`, version 2 and later), else by the bytes allocated now.
struct RankedTags {
    bool judged = false;
    std::vector<TagStats> tags;
    std::vector<std::uint64_t> at_last_gc;  ///< per entry of `tags`; 0 when not judged
};
RankedTags rank_tags(const Profile& profile);

/// Escapes &, <, >, " for SVG text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace uheap::report
