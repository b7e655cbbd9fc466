#!/usr/bin/env python3
"""Dev tool: per-op CPU time of PyTorch's ResNet-50 forward+backward (224x224, train mode, 2 threads),
to compare against `DIVE_PROFILE=1 bench_resnet50`. Usage: resnet50_torch_profile.py [BATCH=8] [STEPS=2]"""
import os
import sys

import torch
import torchvision
from torch.profiler import ProfilerActivity, profile

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
B = int(sys.argv[1]) if len(sys.argv) > 1 else 8
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.manual_seed(0)
net = torchvision.models.resnet50().train()
x = torch.randn(B, 3, 224, 224)
w = torch.randn(B, 1000)
for _ in range(1):  # warm-up
    net.zero_grad(set_to_none=True)
    (net(x) * w).sum().backward()
with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(steps):
        net.zero_grad(set_to_none=True)
        (net(x) * w).sum().backward()
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
