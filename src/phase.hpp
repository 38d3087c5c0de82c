// SPDX-License-Identifier: MIT
// The phases of a collection and the one table of which public operations each phase admits.
//
// A collection is a phase machine (Lua's gcstate). Host code runs inside some phases (the root
// callback, finalisers, weak callbacks, event hooks, the three-step host between its calls), and
// whatever it calls is answered from kAdmit below, at the entry point, before anything changes:
//
//   idle ──collect_start──► roots ──collect_end──► marking ──► finalising ──► sweeping ──► notifying ──► idle
//                            │  ▲                  (no host      (finalisers,   (on_free      (after-sweep weak
//                            ▼  │                   code runs)    weak-freed     hooks only)   callback, on_collect_end:
//                        root_callback                            callbacks)                   may allocate, may not
//                        (collect() runs the host's root callback here)                        start a collection)
//
// An incremental cycle (HeapConfig::incremental) reaches marking through collect_step(), which
// shades the roots and marks a bounded amount; between steps the phase is `incremental`, where
// the host runs as when idle (new objects born marked, write_barrier() recording stores). The
// step that finds nothing left to mark goes on from roots (reported again) as collect() would.
// The sweep itself is no phase: it is done lazily after notifying (sweep.cpp), and runs no host
// code.
#pragma once

#include <cstdint>

#include "uheap/heap.hpp"

namespace uheap::detail {

enum class Phase : std::uint8_t {
    idle,           ///< no collection
    roots,          ///< collect_start() done: the host reports roots (three-step form)
    root_callback,  ///< collect() is running the host's root callback
    marking,        ///< collect_end(): registered roots, pins, the mark stack and grey groups
    finalising,     ///< weak slots cleared; finalisers and weak-freed callbacks run
    sweeping,       ///< dead objects freed, marks cleared, their free-space summaries marked stale
    notifying,      ///< counters, on_collect_end, the after-sweep weak callback
    incremental,    ///< an incremental cycle between collect_step() calls: the host runs
};
inline constexpr unsigned kPhases = 8;

/// Public operations, grouped by what they do to the heap.
enum class Op : std::uint8_t {
    allocate,      ///< alloc(), realloc()
    free,          ///< free()
    start,         ///< collect(), collect_start(), sweep_all(), automatic collection
    report_roots,  ///< collect_root(), collect_stack()
    end,           ///< collect_end()
    add_area,      ///< add_area()
    set_weak,      ///< set_weak()
};
inline constexpr unsigned kOps = 7;

/// kAdmit[op][phase]: Status::ok if `op` may run in `phase`, otherwise the status it fails with.
/// Locks are separate: lock() refuses allocate and free in every phase (Status::locked).
/// Registrations (add/remove of root ranges and weak slots) and reads (size_of, info, walk,
/// verify, ...) are legal in every phase. docs/design.md §5 prints this table.
// clang-format off
inline constexpr Status kAdmit[kOps][kPhases] = {
    //                idle                    roots                  root_callback          marking              finalising           sweeping             notifying               incremental
    /* allocate */  { Status::ok,             Status::locked,        Status::locked,        Status::locked,      Status::locked,      Status::locked,      Status::ok,             Status::ok },
    /* free     */  { Status::ok,             Status::ok,            Status::ok,            Status::collecting,  Status::ok,          Status::collecting,  Status::ok,             Status::ok },
    /* start    */  { Status::ok,             Status::collecting,    Status::collecting,    Status::collecting,  Status::collecting,  Status::collecting,  Status::collecting,     Status::ok },
    /* roots    */  { Status::not_collecting, Status::ok,            Status::ok,            Status::collecting,  Status::collecting,  Status::collecting,  Status::not_collecting, Status::collecting },
    /* end      */  { Status::not_collecting, Status::ok,            Status::collecting,    Status::collecting,  Status::collecting,  Status::collecting,  Status::not_collecting, Status::collecting },
    /* add_area */  { Status::ok,             Status::collecting,    Status::collecting,    Status::collecting,  Status::collecting,  Status::collecting,  Status::ok,             Status::ok },
    /* set_weak */  { Status::ok,             Status::ok,            Status::ok,            Status::collecting,  Status::ok,          Status::collecting,  Status::ok,             Status::ok },
};
// clang-format on

inline constexpr Status admit(Op op, Phase phase) {
    return kAdmit[static_cast<unsigned>(op)][static_cast<unsigned>(phase)];
}

/// True while a collection runs (collect_start() until the sweep is done): allocation is refused.
/// Not between incremental steps, where the host runs as when idle.
inline constexpr bool is_collecting(Phase phase) {
    return phase != Phase::idle && phase != Phase::notifying && phase != Phase::incremental;
}

}  // namespace uheap::detail
