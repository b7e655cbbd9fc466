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
conv = {}  # BM_conv2d/dir:D/C:../O:../H:../k:../s:..: one row per shape, one column per direction
for name, b in med.items():
    parts = name.split("/")
    if parts[0] == "BM_conv2d":
        kv = dict(p.split(":") for p in parts[1:] if ":" in p)
        key = (kv["C"], kv["O"], kv["H"], kv["k"], kv["s"])
        conv.setdefault(key, {})[kv["dir"]] = b
        continue
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
if conv:
    print()
    print("conv2d, batch 8, NCHW in and out (GFLOP/s and % of the fp32 peak; FLOPs = 2 N O C kh kw OH OW)")
    print("| C -> O | kernel / stride | H in | forward | backward data | backward weights |")
    print("|---|---|---|---|---|---|")
    for (c, o, h, k, s), d in conv.items():
        cells = []
        for di in ("0", "1", "2"):
            b = d.get(di)
            cells.append("-" if b is None else f"{b['FLOP/s']/1e9:.1f} ({100*b['FLOP/s']/peak:.0f}%)" if peak else f"{b['FLOP/s']/1e9:.1f}")
        print(f"| {c} -> {o} | {k}x{k}/{s} | {h} | " + " | ".join(cells) + " |")
