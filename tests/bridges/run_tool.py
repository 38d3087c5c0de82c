#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs a bridge workload under a real tool and checks the tool's own report (ctest driver).

    run_tool.py heaptrack --program P --work-dir D
    run_tool.py massif    --program P --work-dir D
    run_tool.py memcheck  --program P --work-dir D --suppressions uheap.supp
    run_tool.py docs-sample --doc docs/bridges.md --source tools/bridges/example.cpp --program P
    run_tool.py skip REASON

The workload prints what the report must show ("expect <tool> <site> key=value ..." lines). Each
check runs twice: with the bridge, where the report must match, and without it (--no-bridge),
where it must not: a check that the control run passes could not catch a broken bridge.
Exits 77 (ctest SKIP_RETURN_CODE) when the tool is not installed or cannot run the program.
"""
import argparse
import glob
import os
import re
import shutil
import signal
import subprocess
import sys

SKIP = 77


def skip(reason):
    print(f"skipped: {reason}")
    sys.exit(SKIP)


def need(tool, package):
    if shutil.which(tool) is None:
        skip(f"{tool} is not installed (Debian: apt-get install {package})")


def run(command, timeout=240):
    """Runs `command` in a process group of its own, so that a tool that hangs (heaptrack waits
    for a debuggee that never started) is stopped whole."""
    print("$ " + " ".join(command), flush=True)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            sys.exit(f"{command[0]} did not finish in {timeout} s")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def probe(program):
    """Skips when the program cannot run on this machine at all (a 32-bit build on a kernel
    without 32-bit support): no tool can run it either."""
    try:
        subprocess.run([program, "--probe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    except OSError as e:
        skip(f"{os.path.basename(program)} cannot run on this machine ({e.strerror})")


def valgrind_gave_up(output):
    """Skips when Valgrind cannot read the program's debug information (Valgrind 3.19 and the
    DWARF 5 clang 14 writes by default), a limit of the tool and not of the bridge."""
    if "Possibly corrupted debuginfo file" in output or "unhandled dwarf2 abbrev form" in output:
        skip("this Valgrind cannot read the program's debug information (clang's DWARF 5? build with "
             "-gdwarf-4, or use a newer Valgrind)")


def expectations(program_output, tool):
    """The workload's "expect <tool> ..." lines, as lists of words."""
    found = [line.split()[2:] for line in program_output.splitlines() if line.startswith(f"expect {tool} ")]
    if not found:
        sys.exit(f"the workload printed no expectations for {tool}:\n{program_output}")
    return found


def names_site(function, site):
    """Whether a frame's function is `site` (C++ names come with their parameter lists)."""
    return function == site or function.startswith(site + "(")


def key_values(words):
    return dict(word.split("=", 1) for word in words)


# ---- heaptrack -------------------------------------------------------------------------------

def heaptrack_costs(data_file, work_dir, cost):
    """{stack (list of function names): cost} from heaptrack_print's flame-graph output."""
    stacks_file = os.path.join(work_dir, f"{os.path.basename(data_file)}.{cost}.stacks")
    result = run(["heaptrack_print", "-f", data_file, "--print-flamegraph", stacks_file,
                  "--flamegraph-cost-type", cost])
    if result.returncode != 0:
        sys.exit(f"heaptrack_print failed:\n{result.stdout}\n{result.stderr}")
    stacks = []
    with open(stacks_file) as f:
        for line in f:
            frames, _, value = line.rstrip("\n").rpartition(" ")
            # "main (file.cpp);fn (file.cpp);...; 1000": each frame is "function (file)".
            functions = [re.sub(r" \([^()]*\)$", "", frame) for frame in frames.split(";") if frame]
            stacks.append((functions, int(value)))
    return stacks


def heaptrack_run(program, work_dir, name, extra_args):
    for old in glob.glob(os.path.join(work_dir, name + ".*")):
        os.remove(old)
    result = run(["heaptrack", "-o", os.path.join(work_dir, name), program] + extra_args)
    output = result.stdout + result.stderr
    if "wrong ELF class" in output:
        skip("heaptrack cannot preload into this program (another word size)")
    data = [f for f in glob.glob(os.path.join(work_dir, name + ".*")) if not f.endswith(".stacks")]
    if result.returncode != 0 or not data:
        sys.exit(f"heaptrack {program} failed ({result.returncode}):\n{output}")
    return result.stdout, data[0]


def heaptrack_check(stdout, data_file, work_dir):
    problems = []
    costs = {}
    for words in expectations(stdout, "heaptrack"):
        site, wanted = words[0], key_values(words[1:])
        for cost, value in wanted.items():
            if cost not in costs:
                costs[cost] = heaptrack_costs(data_file, work_dir, cost)
            got = sum(v for functions, v in costs[cost] if any(names_site(f, site) for f in functions))
            if got != int(value):
                problems.append(f"{site}: heaptrack reports {cost}={got}, expected {value}")
    return problems


def check_heaptrack(args):
    need("heaptrack", "heaptrack")
    need("heaptrack_print", "heaptrack")
    os.makedirs(args.work_dir, exist_ok=True)
    probe(args.program)
    stdout, data = heaptrack_run(args.program, args.work_dir, "bridged", [])
    problems = heaptrack_check(stdout, data, args.work_dir)
    summary = run(["heaptrack_print", "-f", data, "--print-peaks", "0", "--print-temporary", "0",
                   "--print-allocators", "1", "--peak-limit", "2"]).stdout
    report(problems, summary)
    stdout, data = heaptrack_run(args.program, args.work_dir, "control", ["--no-bridge"])
    control(heaptrack_check(stdout, data, args.work_dir))


# ---- massif ----------------------------------------------------------------------------------

def ms_print_trees(massif_file):
    """{snapshot number: [(function, bytes)]} for every detailed snapshot ms_print shows, and
    the number of the peak snapshot (or None)."""
    result = run(["ms_print", "--threshold=0.1", massif_file])
    if result.returncode != 0:
        sys.exit(f"ms_print failed:\n{result.stdout}\n{result.stderr}")
    text = result.stdout
    peak = re.search(r"Detailed snapshots: \[[^\]]*?(\d+) \(peak\)", text)
    trees, current = {}, None
    for line in text.splitlines():
        row = re.match(r"^\s*(\d+)\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+[\d,]+$", line)
        if row:
            current = int(row.group(1))
            continue
        if line.startswith("-" * 20):
            continue
        node = re.match(r"^[ |]*->\s*[\d.]+% \(([\d,]+)B\) 0x[0-9A-Fa-f]+: (.*?) \((?:in )?[^()]*\)$", line)
        if node and current is not None:
            trees.setdefault(current, []).append((node.group(2), int(node.group(1).replace(",", ""))))
    return trees, int(peak.group(1)) if peak else None, text


def massif_run(program, work_dir, name, extra_args):
    out = os.path.join(work_dir, name + ".massif")
    end = os.path.join(work_dir, name + ".end.massif")
    for old in (out, end):
        if os.path.exists(old):
            os.remove(old)
    result = run(["valgrind", "--tool=massif", f"--massif-out-file={out}", "--peak-inaccuracy=0", "--threshold=0.1",
                  program, "massif", end] + extra_args)
    if result.returncode != 0 or not os.path.exists(out) or not os.path.exists(end):
        valgrind_gave_up(result.stderr)
        sys.exit(f"massif {program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout, out, end


def massif_check(stdout, out, end):
    problems = []
    trees, peak, text = ms_print_trees(out)
    end_trees, _, end_text = ms_print_trees(end)
    if peak is None or peak not in trees:
        return [f"ms_print shows no detailed peak snapshot:\n{text}"]
    if not end_trees:
        return [f"ms_print shows no detailed snapshot at the end:\n{end_text}"]
    at = {"peak": trees[peak], "end": next(iter(end_trees.values()))}
    for words in expectations(stdout, "massif"):
        site, wanted = words[0], key_values(words[1:])
        for when, value in wanted.items():
            got = sum(b for function, b in at[when] if names_site(function, site))
            if got != int(value):
                problems.append(f"{site}: ms_print's {when} snapshot gives it {got} bytes, expected {value}")
    return problems


def check_massif(args):
    need("valgrind", "valgrind")
    need("ms_print", "valgrind")
    os.makedirs(args.work_dir, exist_ok=True)
    probe(args.program)
    stdout, out, end = massif_run(args.program, args.work_dir, "bridged", [])
    problems = massif_check(stdout, out, end)
    trees, peak, text = ms_print_trees(out)
    excerpt = text[text.find("Detailed snapshots"):] if not problems else text
    report(problems, "\n".join(excerpt.splitlines()[:12]))
    stdout, out, end = massif_run(args.program, args.work_dir, "control", ["--no-bridge"])
    control(massif_check(stdout, out, end))


# ---- memcheck --------------------------------------------------------------------------------

FRAME = re.compile(r"^==\d+==\s+(?:at|by) 0x[0-9A-Fa-f]+: (.*?) \((?:in )?[^()]*\)$")


def memcheck_errors(log):
    """Memcheck's error reports, each as (title, [lines])."""
    errors, current = [], None
    for line in log.splitlines():
        body = re.sub(r"^==\d+== ?", "", line)
        if not line.startswith("==") or body == "":
            current = None
            continue
        if current is None and not body.startswith(" "):
            current = (body, [])
            errors.append(current)
        elif current is not None:
            current[1].append(line)
    return errors


def memcheck_run(program, work_dir, name, suppressions, extra_args):
    log = os.path.join(work_dir, name + ".memcheck.log")
    result = run(["valgrind", "--tool=memcheck", f"--suppressions={suppressions}", "--num-callers=40",
                  "--leak-check=full", f"--log-file={log}", program, "memcheck"] + extra_args)
    text = ""
    if os.path.exists(log):
        with open(log) as f:
            text = f.read()
    if result.returncode != 0 or not text:
        valgrind_gave_up(text + result.stderr)
        sys.exit(f"memcheck {program} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{text}")
    return result.stdout, text


def memcheck_check(stdout, log):
    problems = []
    reads = []
    for title, lines in memcheck_errors(log):
        if not title.startswith("Invalid read"):
            continue
        # Stacks: where the read is, then where the block was freed, then where it was allocated.
        parts, part = [[], [], []], 0
        for line in lines:
            if "free'd" in line and "Address" in line:
                part = 1
            elif "Block was alloc'd at" in line:
                part = 2
            frame = FRAME.match(line)
            if frame:
                parts[part].append(frame.group(1))
        reads.append(parts)
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", log)
    for words in expectations(stdout, "memcheck"):
        if words[0] == "invalid-read":
            wanted = key_values(words[1:])
            match = [r for r in reads
                     if any(names_site(f, "bridge_test_host_reads") for f in r[0])
                     and any(names_site(f, wanted["freed-by"]) for f in r[1])
                     and any(names_site(f, wanted["alloc-site"]) for f in r[2])]
            if len(match) != 1:
                problems.append(f"{len(match)} invalid reads by bridge_test_host_reads of a block freed by "
                                f"{wanted['freed-by']} and allocated at {wanted['alloc-site']}, expected 1")
        elif words[0].startswith("errors="):
            wanted = int(words[0].split("=")[1])
            got = int(summary.group(1)) if summary else None
            if got != wanted:
                problems.append(f"memcheck reports {got} errors, expected {wanted} (uheap.supp hides the heap's own)")
    return problems


def check_memcheck(args):
    need("valgrind", "valgrind")
    os.makedirs(args.work_dir, exist_ok=True)
    probe(args.program)
    stdout, log = memcheck_run(args.program, args.work_dir, "bridged", args.suppressions, [])
    problems = memcheck_check(stdout, log)
    excerpt = [line for line in log.splitlines() if "Invalid read" in line or "free'd" in line
               or "alloc'd" in line or "bridge_test_" in line or "ERROR SUMMARY" in line]
    report(problems, "\n".join(excerpt[:12]) if not problems else log)
    stdout, log = memcheck_run(args.program, args.work_dir, "control", args.suppressions, ["--no-bridge"])
    control(memcheck_check(stdout, log))


# ---- docs/bridges.md's sample ------------------------------------------------------------------

def check_docs_sample(args):
    with open(args.doc) as f:
        doc = f.read()
    with open(args.source) as f:
        source = f.read()
    blocks = re.findall(r"```cpp\n(.*?)```", doc, re.S)
    if source not in blocks:
        sys.exit(f"{args.doc} does not quote {args.source} as it is (a ```cpp block equal to the file)")
    probe(args.program)
    result = run([args.program])
    if result.returncode != 0 or "no tool running" not in result.stdout:
        sys.exit(f"the sample failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    print(f"{args.doc} quotes {os.path.basename(args.source)}, which builds and runs")


# ---- outcome ---------------------------------------------------------------------------------

def report(problems, excerpt):
    if problems:
        print("\n".join(problems))
        print(excerpt)
        sys.exit("the tool's report does not show the uheap objects as expected")
    print(excerpt)
    print("with the bridge: the report matches")


def control(problems):
    if not problems:
        sys.exit("without the bridge the report matches too: this check cannot fail")
    print(f"without the bridge: the check fails as it must ({len(problems)} mismatches, first: {problems[0]})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["heaptrack", "massif", "memcheck", "docs-sample", "skip"])
    parser.add_argument("reason", nargs="?")
    parser.add_argument("--program")
    parser.add_argument("--work-dir")
    parser.add_argument("--suppressions")
    parser.add_argument("--doc")
    parser.add_argument("--source")
    args = parser.parse_args()
    if args.what == "skip":
        skip(args.reason)
    {"heaptrack": check_heaptrack, "massif": check_massif, "memcheck": check_memcheck,
     "docs-sample": check_docs_sample}[args.what](args)


if __name__ == "__main__":
    main()
