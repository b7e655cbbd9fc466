#!/usr/bin/env python3
"""Converts a torchvision ResNet state_dict into a safetensors file for dive (model/resnet.h).

Input: a .pth/.pt file holding a torchvision resnet18/34/50/101/152 state_dict (e.g. the ImageNet
weights torchvision downloads to ~/.cache/torch/hub/checkpoints/resnet152-*.pth), or a dict with the
state_dict under 'state_dict' / 'model'. Alternatively `--arch resnet152 --weights IMAGENET1K_V1` builds
it through torchvision (needs the weights in the torch hub cache or network access).
Every key is prefixed with `--prefix` (default `img_enc.cnn.`, the official DivE name of the CNN
branch); `--no-head` drops fc.* (DivE replaces avgpool/fc by identities). Tensors are written as
float32 (int64 for num_batches_tracked). Needs torch (+ torchvision only for --arch).
Example: python3 tools/convert/convert_torchvision.py resnet152-394f9c45.pth resnet152.safetensors --no-head
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "reference"))
from st_io import save_safetensors  # noqa: E402


def load_state_dict(args):
    if args.arch:
        import torchvision
        model = getattr(torchvision.models, args.arch)(weights=args.weights)
        return model.state_dict()
    obj = torch.load(args.input, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        sys.exit(f"error: {args.input} holds no state_dict")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help=".pth file with a torchvision ResNet state_dict")
    p.add_argument("output", help="output .safetensors")
    p.add_argument("--prefix", default="img_enc.cnn.", help="prepended to every key (default img_enc.cnn.)")
    p.add_argument("--no-head", action="store_true", help="drop fc.* (the DivE CNN branch has no fc)")
    p.add_argument("--arch", help="build torchvision.models.<arch>(weights=--weights) instead of reading input")
    p.add_argument("--weights", default="DEFAULT", help="torchvision weights enum name for --arch")
    args = p.parse_args()
    if not args.arch and not args.input:
        p.error("give an input .pth or --arch")
    sd = load_state_dict(args)
    if "conv1.weight" not in sd or "layer4.0.conv1.weight" not in sd:
        sys.exit("error: not a torchvision ResNet state_dict (no conv1.weight / layer4.0.conv1.weight)")
    out = {}
    for k, v in sd.items():
        if args.no_head and k.startswith("fc."):
            continue
        v = v.detach().cpu()
        out[args.prefix + k] = v.to(torch.int64) if k.endswith("num_batches_tracked") else v.to(torch.float32)
    blocks = [sum(1 for k in sd if k.startswith(f"layer{i}.") and k.endswith(".conv1.weight")) for i in range(1, 5)]
    bottleneck = "layer1.0.conv3.weight" in sd
    depth = {(2, 2, 2, 2, False): 18, (3, 4, 6, 3, False): 34, (3, 4, 6, 3, True): 50, (3, 4, 23, 3, True): 101,
             (3, 8, 36, 3, True): 152}.get((*blocks, bottleneck), 0)
    meta = {"source": os.path.basename(args.input) if args.input else f"torchvision {args.arch} {args.weights}",
            "depth": str(depth), "prefix": args.prefix, "head": "no" if args.no_head else "yes",
            "tool": "tools/convert/convert_torchvision.py"}
    save_safetensors(args.output, out, meta)
    n = sum(v.numel() for k, v in out.items() if v.is_floating_point())
    print(f"resnet{depth or '?'}: {len(out)} tensors, {n} floats -> {args.output} (prefix '{args.prefix}')")


if __name__ == "__main__":
    main()
