#!/usr/bin/env python3
"""The COCO-5K evaluation matrix in PyTorch (pip torch, 2 threads), as the official eval computes it:
one GEMM of the flattened element embeddings (cosine_sim = x.mm(y.t())) and the smooth-Chamfer
reduction, blocked over images so that the element matrix fits in memory. The official code takes
exp(alpha M), sums with LPPool2d(norm_type=1) windows, logs and sums again; here the same reduction
is torch.logsumexp over the (1, K) and (K, 1) windows of the [bi, K, C, K] view (stable, equal in
value; --lppool times the official exp/LPPool form instead). The official eval also scores per query
(one image or five captions at a time) and computes i2t and t2i separately; this computes the matrix
once, in blocks of --block images, which is faster on a CPU.
Prints one JSON line like bench_eval_matrix.
On --device cuda the matrix is computed on the GPU and each finished block copied to the host, as the
official evaluation does.
Usage: eval_matrix_torch.py [images=1000] [reps=3] [--block 128] [--lppool] [--device cpu]"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("images", type=int, nargs="?", default=1000)
p.add_argument("reps", type=int, nargs="?", default=3)
p.add_argument("--block", type=int, default=128, help="images per block")
p.add_argument("--lppool", action="store_true", help="the official exp / LPPool2d / log form")
p.add_argument("--device", default="cpu")
a = p.parse_args()
dev = torch.device(a.device)
torch.backends.cuda.matmul.allow_tf32 = False
torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
N, C, K, D, alpha, denom = a.images, 5 * a.images, 4, 1024, 16.0, 2.0

g = torch.Generator().manual_seed(0)
img = F.normalize(torch.randn(N, K, D, generator=g), p=2, dim=-1)
txt = F.normalize(torch.randn(C, K, D, generator=g), p=2, dim=-1)
img, txt = img.to(dev), txt.to(dev)
I, T = img.view(N * K, D), txt.view(C * K, D)
x_sum = torch.nn.LPPool2d(norm_type=1, kernel_size=(1, K))
y_sum = torch.nn.LPPool2d(norm_type=1, kernel_size=(K, 1))


def block_lse(m):  # m [b*K, C*K] -> [b, C]
    b = m.shape[0] // K
    am = m.mul_(alpha).view(b, K, C, K)
    first = torch.logsumexp(am, dim=3).sum(1)
    second = torch.logsumexp(am, dim=1).sum(2)
    return (first / (K * alpha) + second / (K * alpha)) / denom


def block_lppool(m):  # the official smooth_chamfer_similarity_cosine
    right = y_sum(torch.log(x_sum(torch.exp(alpha * m.unsqueeze(0))))).squeeze(0)
    left = x_sum(torch.log(y_sum(torch.exp(alpha * m.unsqueeze(0))))).squeeze(0)
    return (right / (K * alpha) + left / (K * alpha)) / denom


def similarity_matrix():
    out = torch.empty(N, C)
    f = block_lppool if a.lppool else block_lse
    for i in range(0, N, a.block):
        e = min(N, i + a.block)
        out[i:e] = f(I[i * K:e * K].mm(T.t())).cpu()
    return out


def gemm():
    for i in range(0, N, a.block):
        e = min(N, i + a.block)
        I[i * K:e * K].mm(T.t())
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


times, gtimes = [], []
with torch.no_grad():
    for r in range(a.reps):
        t0 = time.perf_counter()
        gemm()
        gtimes.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        S = similarity_matrix()
        times.append(time.perf_counter() - t0)
    ni, nc = min(N, 16), min(C, 80)
    ref = torch.empty(ni, nc, dtype=torch.float64)
    m = (img[:ni].double().reshape(-1, D) @ txt[:nc].double().reshape(-1, D).t()).view(ni, K, nc, K) * alpha
    ref = ((torch.logsumexp(m, 3).sum(1) + torch.logsumexp(m, 1).sum(2)) / (K * alpha)) / denom
    ref = ref.cpu()
    err = float((S[:ni, :nc].double() - ref).abs().max())
gflop = 2.0 * N * K * D * C * K * 1e-9
print(json.dumps({"impl": "torch-lppool" if a.lppool else "torch", "torch": torch.__version__,
                  "threads": torch.get_num_threads(), "device": str(dev), "images": N, "captions": C, "block": a.block,
                  "gflop": round(gflop, 1), "gemm_s": [round(t, 4) for t in gtimes], "sim_s": [round(t, 4) for t in times],
                  "gemm_median_s": round(statistics.median(gtimes), 4), "sim_median_s": round(statistics.median(times), 4),
                  "gemm_gflops": round(gflop / statistics.median(gtimes), 1), "spot_check_max_abs_err": err}))
