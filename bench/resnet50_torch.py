#!/usr/bin/env python3
"""ResNet-50 forward + backward at 224x224 in PyTorch (pip, 2 threads), torchvision's model; same JSON
line as bench_resnet50. Usage: resnet50_torch.py BATCH STEPS [device=cpu]  (cuda: TF32 off)"""
import json
import os
import resource
import sys
import time

import torch
import torchvision

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
B, steps = int(sys.argv[1]), int(sys.argv[2])
dev = torch.device(sys.argv[3] if len(sys.argv) > 3 else "cpu")
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)
net = torchvision.models.resnet50().to(dev).train()
x = torch.randn(B, 3, 224, 224).to(dev)
w = torch.randn(B, 1000).to(dev)
times = []
for s in range(steps + 1):
    t0 = time.perf_counter()
    net.zero_grad(set_to_none=True)
    (net(x) * w).sum().backward()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    if s > 0:
        times.append((time.perf_counter() - t0) * 1000)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
gpu = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else 0.0
print(json.dumps({"impl": "torch " + torch.__version__, "batch": B, "device": str(dev), "step_ms": times,
                  "peak_rss_mb": peak, "peak_gpu_mb": gpu}))
