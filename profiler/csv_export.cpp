// SPDX-License-Identifier: MIT
// The profile's tables as CSV, one table per call, for spreadsheets and plotting scripts.
#include <ostream>
#include <sstream>

#include "profiler_state.hpp"
#include "text_format.hpp"

namespace uheap {

using profiling::put_csv_field;
using profiling::put_ratio;
using profiling::put_uint;

namespace {

/// Writes the numbers of one CSV row separated by commas (no newline).
void put_row(std::ostream& out, std::initializer_list<std::uint64_t> values) {
    bool first = true;
    for (std::uint64_t v : values) {
        if (!first) out.put(',');
        first = false;
        put_uint(out, v);
    }
}

}  // namespace

void Profiler::write_csv(std::ostream& out, CsvTable table) const {
    const State& s = *state_;
    switch (table) {
        case CsvTable::tags:
            out << "tag,name,live_objects,live_bytes,peak_live_bytes,allocations,bytes_allocated,reallocs,frees,swept\n";
            for (const TagStats& t : tags()) {
                put_uint(out, t.tag);
                out.put(',');
                put_csv_field(out, tag_name(t.tag));
                out.put(',');
                put_row(out, {t.live_objects, t.live_bytes, t.peak_live_bytes, t.allocations, t.bytes_allocated,
                              t.reallocs, t.frees, t.swept});
                out.put('\n');
            }
            break;
        case CsvTable::timeline:
            out << "collection,used_bytes,free_bytes,largest_free_bytes,fragmentation,objects_freed,bytes_freed,"
                   "live_objects,pause_ns\n";
            for (const TimelineSample& t : s.timeline) {
                put_row(out, {t.collection, t.used_bytes, t.free_bytes, t.largest_free_bytes});
                out.put(',');
                put_ratio(out, t.fragmentation);
                out.put(',');
                put_row(out, {t.objects_freed, t.bytes_freed, t.live_objects, t.pause_ns});
                out.put('\n');
            }
            break;
        case CsvTable::histogram:
            out << "min_blocks,max_blocks,count,bytes\n";
            for (const SizeBucket& b : histogram()) {
                put_row(out, {b.min_blocks, b.max_blocks, b.count, b.bytes});
                out.put('\n');
            }
            break;
        case CsvTable::leaks:
            out << "area,offset,block,tag,name,bytes,age\n";
            for (const LeakSuspect& l : leak_suspects()) {
                put_row(out, {l.area, l.offset, l.block, l.tag});
                out.put(',');
                put_csv_field(out, tag_name(l.tag));
                out.put(',');
                put_row(out, {l.bytes, l.age});
                out.put('\n');
            }
            break;
        case CsvTable::alarms:
            out << "kind,collection,n_blocks,threshold_blocks,tag,on_out_of_memory\n";
            for (const AlarmEvent& a : s.alarm_log) {
                out << (a.kind == AlarmKind::large_alloc ? "large_alloc," : "low_free_run,");
                put_row(out, {a.collection, a.n_blocks, a.threshold_blocks, a.tag, a.on_out_of_memory ? 1u : 0u});
                out.put('\n');
            }
            break;
    }
}

std::string Profiler::csv(CsvTable table) const {
    std::ostringstream out;
    write_csv(out, table);
    return out.str();
}

}  // namespace uheap
