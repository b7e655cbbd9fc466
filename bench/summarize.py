#!/usr/bin/env python3
"""Turns a Google Benchmark JSON (with repetitions) into a markdown table of medians, with matmul and
linear rates as a fraction of the fp32 peak measured in the same run."""
import json
import sys

data = json.load(open(sys.argv[1]))
med = {b["run_name"]: b for b in data["benchmarks"] if b.get("aggregate_name") == "median"}
peak = next((b["FLOP/s"] for n, b in med.items() if n.startswith("BM_fp32_peak")), None)
ctx = data["context"]
print(f"date {ctx['date']}, {ctx['num_cpus']} cpus @ {ctx['mhz_per_cpu']} MHz, build {ctx.get('library_build_type')}")
print("| benchmark | device | shape | median time (ms) | rate | of fp32 peak |")
print("|---|---|---|---|---|---|")
for name, b in med.items():
    parts = name.split("/")
    base, args = parts[0], [p for p in parts[1:] if p.isdigit()]
    if base == "BM_fp32_peak":
        print(f"| fp32 FMA peak | cpu | {int(b['threads'])} threads | {b['real_time']:.1f} | {b['FLOP/s']/1e9:.1f} GFLOP/s | 100% |")
        continue
    dev = {"0": "ref", "1": "cpu"}[args[0]]
    shape = "x".join(args[1:])
    if "FLOP/s" in b:
        rate = f"{b['FLOP/s']/1e9:.1f} GFLOP/s"
        frac = f"{100*b['FLOP/s']/peak:.0f}%" if peak else "-"
    else:
        rate, frac = f"{b['B/s']/1e9:.2f} GB/s", "-"
    print(f"| {base[3:]} | {dev} | {shape} | {b['real_time']:.2f} | {rate} | {frac} |")
