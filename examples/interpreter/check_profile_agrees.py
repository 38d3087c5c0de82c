#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 17's "done when": the profile's map and summary agree with what the collections saw.

Runs uheap-scheme with --profile (and sampled call sites) on a program, then checks, from the
JSON and from uheap-report's summary:
  1. each snapshot of the series, taken right after its collection, holds exactly the bytes that
     collection's timeline sample says were in use, and each tag's bytes match live_by_tag;
  2. the exit snapshot's survivors (age > 0) are exactly the last collection's live bytes, the
     rest is marked allocated since (age 0), and the summary prints both figures;
  3. the summary's "at last GC" column is the last sample's live_by_tag.
Usage: check_profile_agrees.py UHEAP_SCHEME UHEAP_REPORT PROGRAM.scm HEAP WORKDIR [ARGS...]
"""
import json
import os
import subprocess
import sys


def human(n):
    """uheap-report's human_bytes()."""
    units = ["B", "KB", "MB", "GB"]
    v, u = float(n), 0
    while v >= 1024 and u < 3:
        v /= 1024
        u += 1
    if u == 0 or v >= 100 or v == int(v):
        return "%.0f %s" % (v, units[u])
    return "%.1f %s" % (v, units[u])


def object_bytes(snapshot, block):
    per_tag, total = {}, 0
    for area in snapshot["areas"]:
        for first, n, kind, flags, tag, age, site in area["spans"]:
            if kind == "object":
                total += n * block
                per_tag[tag] = per_tag.get(tag, 0) + n * block
    return total, per_tag


def main():
    scheme, report, program, heap, workdir = sys.argv[1:6]
    os.makedirs(workdir, exist_ok=True)
    profile = os.path.join(workdir, "profile.json")
    subprocess.run([scheme, "--heap", heap, "--profile", profile, "--profile-sites", "7", program] + sys.argv[6:],
                   check=True, stdout=subprocess.DEVNULL)
    doc = json.load(open(profile))
    block = doc["block_bytes"]
    samples = {s["collection"]: s for s in doc["timeline"]}
    failures = []
    assert doc["snapshots"], "no snapshot series"
    for snap in doc["snapshots"]:
        s = samples[snap["collection"]]
        total, per_tag = object_bytes(snap, block)
        if total != s["used_bytes"]:
            failures.append("snapshot at collection %d: %d bytes of objects, the collection left %d in use"
                            % (snap["collection"], total, s["used_bytes"]))
        if {t: b for t, b in per_tag.items()} != {t: b for t, b in s["live_by_tag"]}:
            failures.append("snapshot at collection %d: bytes per tag %s, the collection found %s"
                            % (snap["collection"], per_tag, dict(s["live_by_tag"])))
    snap, last = doc["snapshot"], doc["timeline"][-1]
    assert snap["collection"] == last["collection"], "the exit snapshot is not after the last sample"
    survived = sum(n * block for a in snap["areas"] for _, n, kind, _, _, age, _ in a["spans"]
                   if kind == "object" and age not in (None, 0))
    young = sum(n * block for a in snap["areas"] for _, n, kind, _, _, age, _ in a["spans"]
                if kind == "object" and age == 0)
    if survived != last["used_bytes"]:
        failures.append("exit snapshot: %d bytes survived the last collection, it left %d in use"
                        % (survived, last["used_bytes"]))
    summary = subprocess.run([report, profile, "--out", os.path.join(workdir, "report")], check=True,
                             capture_output=True, text=True).stdout
    line = next((l for l in summary.splitlines() if l.startswith("snapshot:")), "")
    if (": %s in " % human(survived)) not in line or (", %s in " % human(young)) not in line:
        failures.append("summary's snapshot line %r does not say %s survived and %s allocated since"
                        % (line, human(survived), human(young)))
    names = {t["tag"]: t["name"] for t in doc["tags"] if t["name"]}
    for tag, nbytes in last["live_by_tag"]:
        row = next((l for l in summary.splitlines() if l.startswith("  " + names.get(tag, "tag %d" % tag) + " ")), None)
        # The row: two spaces, the name in 20 columns, "at last GC" right-aligned in the next 12.
        if row is None or row[22:34].strip() != human(nbytes):
            failures.append("summary row for %s does not show %s at last GC: %r" % (names.get(tag, tag), human(nbytes), row))
    if "top allocation sites (1 in 7" not in summary:
        failures.append("the summary lists no allocation sites")
    for f in failures:
        print("FAIL:", f)
    print("%d snapshots checked against their collections; exit snapshot %s survived + %s young; %s"
          % (len(doc["snapshots"]), human(survived), human(young), "FAILED" if failures else "agree"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
