#!/usr/bin/env python3
"""The same training step in PyTorch (pip torch, 2 threads): the reference DivE model of
test/reference/dive_model.py (official semantics, official torch.cdist mode), AdamW with the official
groups, clip 1.0. Prints one JSON line like bench_train_step.
Usage: train_step_torch.py BATCH STEPS [device=cpu]  (cuda: TF32 off, as dive's default)
TORCH_PROFILE=1: after the timed steps, one more step under torch.profiler; its kernel table (sorted by
device time) goes to stderr, to set against `DIVE_PROFILE=shapes bench_train_step`."""
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools", "reference"))
import dive_model  # noqa: E402

dive_model._cdist = torch.cdist  # the official default (matrix-product distances for large inputs)

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
B, steps = int(sys.argv[1]), int(sys.argv[2])
dev = torch.device(sys.argv[3] if len(sys.argv) > 3 else "cpu")
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
opt = dict(dive_model.DEFAULT_OPTIONS)
torch.manual_seed(0)
model = dive_model.DivE(opt).to(dev).train()
groups = [
    {"params": [p for n, p in model.named_parameters() if n.startswith("img_enc.")], "lr": 1e-4},
    {"params": [p for n, p in model.named_parameters() if n.startswith("txt_enc.") and ".spm." not in n], "lr": 1e-3},
    {"params": [p for n, p in model.named_parameters() if n.startswith("txt_enc.spm.")], "lr": 1e-4},
]
optimizer = torch.optim.AdamW(groups, weight_decay=1e-4)
N, T, C = 36, 12, 5 * B
images = torch.randn(B, N, opt["img_dim"]).to(dev)
img_len = torch.full((B,), N, dtype=torch.long).to(dev)
lens = torch.tensor([6 + (c * 7) % (T - 5) for c in range(C)])
caps = torch.zeros(C, T, dtype=torch.long)
for c in range(C):
    caps[c, 0] = 1
    for t in range(1, int(lens[c]) - 1):
        caps[c, t] = 4 + (c * 131 + t * 17) % (opt["vocab_size"] - 5)
    caps[c, int(lens[c]) - 1] = 2
caps, lens = caps.to(dev), lens.to(dev)


def step():
    optimizer.zero_grad(set_to_none=True)
    img_emb, txt_emb, img_r, txt_r = model(images, img_len, caps, lens)
    out = dive_model.dive_loss(img_emb, txt_emb, img_r, txt_r, opt)
    out["loss"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return float(out["loss"].detach())


times, loss = [], 0.0
for s in range(steps + 1):
    t0 = time.perf_counter()
    loss = step()
    if s > 0:
        times.append((time.perf_counter() - t0) * 1000)
if os.environ.get("TORCH_PROFILE"):
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        step()
    key = "self_device_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=45, max_name_column_width=70), file=sys.stderr)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
gpu = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else 0.0
print(json.dumps({"impl": "torch " + torch.__version__, "batch": B, "device": str(dev), "step_ms": times,
                  "peak_rss_mb": peak, "peak_gpu_mb": gpu, "loss": loss}))
