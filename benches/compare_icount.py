#!/usr/bin/env python3
"""Instruction counts per frame for every row of benches/compare/bench.rs, under valgrind
(cachegrind, no cache simulation): deterministic, unmoved by the load of a shared machine.

usage: python3 benches/compare_icount.py [iters]
"""
import os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(__file__))
from compare_table import ROWS, IMPLS  # noqa: E402


def ir(binary, spec, iters):
    with tempfile.NamedTemporaryFile(suffix=".cg") as out:
        env = dict(os.environ, COMPARE_ICOUNT=spec, COMPARE_ITERS=str(iters))
        r = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                            f"--cachegrind-out-file={out.name}", binary, "--bench"],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0 or "icount: running" not in r.stderr:
            return None
        # Criterion forks a child (its gnuplot probe) that valgrind also reports: the run's
        # own count is the largest.
        counts = [int(x.replace(",", "")) for x in re.findall(r"I\s+refs:\s+([\d,]+)", r.stderr)]
        return max(counts) if counts else None


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    out = subprocess.run(["cargo", "bench", "--no-run", "--manifest-path", "benches/compare/Cargo.toml",
                          "--target-dir", "target/compare"],
                         check=True, capture_output=True, text=True).stderr
    binary = re.search(r"\(([^)]*compare-[0-9a-f]+)\)", out).group(1)
    print("| input | osi-stack instr | minimal instr | × minimal | nom 8 | iec61850-mms |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, label, frames in ROWS:
        per = {}
        for impl in IMPLS:
            a, b = ir(binary, f"{key}/{impl}", 0), ir(binary, f"{key}/{impl}", iters)
            if a is None or b is None or b <= a:
                continue
            per[impl] = (b - a) / iters / frames
        if "osi-stack" not in per or "minimal" not in per:
            continue
        o, m = per["osi-stack"], per["minimal"]
        peer = lambda i: f"{per[i]:.0f} ({o / per[i]:.2f}×)" if i in per else "—"
        print(f"| {label} | {o:.0f} | {m:.0f} | {o / m:.2f} | {peer('nom8')} | {peer('iec61850-mms')} |", flush=True)


if __name__ == "__main__":
    main()
