#!/usr/bin/env python3
"""Runs benches/compare/bench.rs N times (default 3) and prints the median-of-runs table of
BENCHMARKS.md: ns per frame, ratio to `minimal`, and the peers.

usage: python3 benches/compare_table.py [runs] [-- extra criterion args]
"""
import json, os, re, statistics, subprocess, sys

ROWS = [
    ("dt/0", "DT, empty payload", 16),
    ("dt/64", "DT, 64 B", 16),
    ("dt/1024", "DT, 1024 B, L2-resident", 16),
    ("dt_reassembly/64", "DT + reassembly, 64 B (EOT every 4th)", 16),
    ("cr", "CR with TSAPs + TPDU size through the accessors", 1),
    ("rdp_cr", "RDP CR (cookie + RDP_NEG_REQ)", 1),
    ("mms_data", "MMS data frame: TPKT+DT+GT+DT+P-DATA → context id and MMS bytes", 1),
    ("association_request", "association request CR + CN/CP/AARQ → selectors, contexts, application context", 1),
    ("dt_encode/64", "DT encode, 64 B, reused buffer", 1),
    ("p_data_pair/1024", "P-DATA 1 KiB through an in-memory `Association` pair", 1),
    ("p_data_pair/65536", "P-DATA 64 KiB through an in-memory `Association` pair", 1),
]
IMPLS = ["osi-stack", "minimal", "nom8", "iec61850-mms"]

def main():
    args = sys.argv[1:]
    runs = int(args[0]) if args and args[0] != "--" else 3
    extra = args[args.index("--") + 1:] if "--" in args else ["--warm-up-time", "1", "--measurement-time", "2"]
    crit = os.path.join("target", "criterion")
    results = {}
    # Build once, then run the same binary each time (what `cargo bench` runs).
    out = subprocess.run(["cargo", "bench", "--no-run", "--manifest-path", "benches/compare/Cargo.toml",
                          "--target-dir", "target/compare"],
                         check=True, capture_output=True, text=True).stderr
    binary = re.search(r"\(([^)]*compare-[0-9a-f]+)\)", out).group(1)
    for r in range(runs):
        subprocess.run([binary, "--bench"] + extra, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for key, _, frames in ROWS:
            for impl in IMPLS:
                est = os.path.join(crit, key.replace("/", "_"), impl, "new", "estimates.json")
                if not os.path.exists(est):
                    continue
                ns = json.load(open(est))["median"]["point_estimate"] / frames
                results.setdefault((key, impl), []).append(ns)
        print(f"run {r + 1}/{runs} done", file=sys.stderr)
    print("| input | osi-stack ns | minimal ns | × minimal | nom 8 | iec61850-mms | runs (osi-stack) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for key, label, _ in ROWS:
        med = {i: statistics.median(v) for (k, i), v in results.items() if k == key}
        if "osi-stack" not in med:
            continue
        o, m = med["osi-stack"], med.get("minimal")
        peer = lambda i: f"{med[i]:.1f} ({o / med[i]:.2f}×)" if i in med else "—"
        runs_txt = " / ".join(f"{x:.1f}" for x in results[(key, "osi-stack")])
        print(f"| {label} | {o:.1f} | {m:.1f} | {o / m:.2f} | {peer('nom8')} | {peer('iec61850-mms')} | {runs_txt} |")

if __name__ == "__main__":
    main()
