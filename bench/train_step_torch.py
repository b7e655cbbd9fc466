#!/usr/bin/env python3
"""The same training step in PyTorch (pip torch, 2 threads): the reference DivE model of
test/reference/dive_model.py (official semantics, official torch.cdist mode), AdamW with the official
groups, clip 1.0. Prints one JSON line like bench_train_step.
Usage: train_step_torch.py BATCH STEPS [device=cpu] [--attention unfolded|folded] [--config butd|cnn18]
                           [--precision fp32|bf16]      (cuda: TF32 off, as dive's default)
  --attention folded  the re-associated cross attention of bench/folded_attention_torch.py (same function up
                      to rounding; default unfolded = the official form)
  --config cnn18      the CNN branch: torchvision ResNet-18 (img_finetune on) on raw 64x64 images, embed_size
                      256, word_dim 128, K=4, other options at DEFAULT_OPTIONS (needs torchvision); default butd
                      = the default COCO BUTD config (36 regions x 2048)
  --precision bf16    forward + loss under torch.autocast(<device>, dtype=torch.bfloat16) (meant for cpu)
TORCH_PROFILE=1: after the timed steps, one more step under torch.profiler; its kernel table (sorted by
device time) goes to stderr, to set against `DIVE_PROFILE=shapes bench_train_step`."""
import argparse
import contextlib
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dive_model  # noqa: E402
from folded_attention_torch import fold, make_batch  # noqa: E402

dive_model._cdist = torch.cdist  # the official default (matrix-product distances for large inputs)

ap = argparse.ArgumentParser(description="one DivE training step in PyTorch, timed")
ap.add_argument("batch", type=int)
ap.add_argument("steps", type=int)
ap.add_argument("device", nargs="?", default="cpu")
ap.add_argument("--attention", choices=("unfolded", "folded"), default="unfolded")
ap.add_argument("--config", choices=("butd", "cnn18"), default="butd")
ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
args = ap.parse_intermixed_args()

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
B, steps = args.batch, args.steps
dev = torch.device(args.device)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
opt = dict(dive_model.DEFAULT_OPTIONS)
cnn = args.config == "cnn18"
if cnn:
    opt.update(embed_size=256, word_dim=128, img_num_embeds=4, txt_num_embeds=4, cnn_type="resnet18",
               img_finetune=True)
torch.manual_seed(0)
model = dive_model.DivE(opt).to(dev).train()
if args.attention == "folded":
    fold(model)
groups = [
    {"params": [p for n, p in model.named_parameters() if n.startswith("img_enc.")], "lr": 1e-4},
    {"params": [p for n, p in model.named_parameters() if n.startswith("txt_enc.") and ".spm." not in n], "lr": 1e-3},
    {"params": [p for n, p in model.named_parameters() if n.startswith("txt_enc.spm.")], "lr": 1e-4},
]
optimizer = torch.optim.AdamW(groups, weight_decay=1e-4)
# butd: images [B, 36, 2048] (all 36 regions valid); cnn18: images [B, 3, 64, 64]. Captions: 5B of lengths
# 6..12 padded to T=12 (the same batch as bench_train_step).
images, img_len, caps, lens = make_batch(opt, B, cnn=cnn)  # global RNG, after the model init
images, img_len, caps, lens = images.to(dev), img_len.to(dev), caps.to(dev), lens.to(dev)


def autocast():
    if args.precision == "bf16":
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step():
    optimizer.zero_grad(set_to_none=True)
    with autocast():
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
                  "peak_rss_mb": peak, "peak_gpu_mb": gpu, "loss": loss, "attention": args.attention,
                  "config": args.config, "precision": args.precision}))
