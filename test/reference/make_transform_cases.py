#!/usr/bin/env python3
"""Writes test/data/transforms_cases.json: torchvision reference values for data/transforms.{h,cpp}.

Tiny deterministic u8 [H, W, 3] images with patterned values go through torchvision's *tensor* path
after ToTensor (the geometry runs on [0, 1] floats, see data/transforms.h):
  - resize:        F.resize(x, [oh, ow], antialias=False)   (= interpolate bilinear, align_corners=False)
  - resized_crop:  F.resized_crop(x, top, left, h, w, [oh, ow], antialias=False)
  - shorter_crop:  CenterCrop(c)(Resize(s, antialias=False)(x))
  - test:          Normalize(ImageNet)(CenterCrop(c)(Resize(int(256 * c / 224), antialias=False)(x)))
Values are stored flat, row-major (C, H, W); the image is flat row-major (H, W, 3).
Dev-only: pip install torch torchvision numpy.

Usage: python3 test/reference/make_transform_cases.py [out.json]
"""
import json
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def image(h, w, k):
    """Patterned u8 [h, w, 3]: mixes of row, column, channel and a per-image constant."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    v = (37 * y + 91 * x + 53 * c + 29 * ((x * y) % 7) + 17 * k) % 256
    return v.astype(np.uint8)


def flat(t):
    return [float(f"{v:.9g}") for v in t.contiguous().view(-1).tolist()]  # f32 round-trips in 9 digits


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "test/data/transforms_cases.json"
    images = {"a": image(7, 5, 0), "b": image(13, 9, 1), "c": image(20, 32, 2), "d": image(32, 20, 3)}
    to_tensor = T.ToTensor()
    cases = []

    def add(kind, name, params, y):
        cases.append({"kind": kind, "image": name, **params, "shape": list(y.shape), "values": flat(y)})

    for name, resizes in [
        ("a", [(7, 5), (3, 2), (14, 10), (11, 3), (1, 1), (5, 7)]),
        ("b", [(6, 4), (17, 12), (13, 4), (10, 10)]),
        ("c", [(9, 14), (12, 19), (21, 16)]),
        ("d", [(16, 10), (7, 7)]),
    ]:
        x = to_tensor(images[name])
        for oh, ow in resizes:
            add("resize", name, {"out_h": oh, "out_w": ow}, F.resize(x, [oh, ow], antialias=False))

    for name, top, left, h, w, oh, ow in [("b", 2, 1, 8, 6, 5, 5), ("c", 3, 7, 10, 20, 12, 12),
                                          ("d", 0, 0, 32, 20, 6, 6), ("a", 4, 2, 3, 3, 8, 8)]:
        x = to_tensor(images[name])
        y = F.resized_crop(x, top, left, h, w, [oh, ow], antialias=False)
        add("resized_crop", name, {"top": top, "left": left, "h": h, "w": w, "out_h": oh, "out_w": ow}, y)

    for name, size, crop in [("a", 4, 3), ("a", 6, 5), ("b", 6, 5), ("b", 10, 9), ("c", 9, 8), ("c", 11, 10),
                             ("d", 12, 11), ("d", 8, 7)]:
        x = to_tensor(images[name])
        y = T.CenterCrop(crop)(T.Resize(size, antialias=False)(x))
        add("shorter_crop", name, {"size": size, "crop": crop}, y)

    for name, crop in [("a", 4), ("b", 7), ("b", 9), ("c", 14), ("c", 16), ("d", 9), ("d", 18)]:
        x = to_tensor(images[name])
        rs = int(256 * crop / 224)
        y = T.Normalize(MEAN, STD)(T.CenterCrop(crop)(T.Resize(rs, antialias=False)(x)))
        add("test", name, {"crop": crop, "resize": rs}, y)

    doc = {
        "generator": "test/reference/make_transform_cases.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "images": {k: {"h": v.shape[0], "w": v.shape[1], "u8": [int(t) for t in v.reshape(-1)]}
                   for k, v in images.items()},
        "cases": cases,
    }
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
