"""Fixture for test/test_resnet.cpp: torchvision resnet18 without avgpool/fc (the DivE CNN branch,
docs/MODEL.md §2.6: both replaced by an identity, so the output is flattened; reshaped back to
[B, 512, h, w] here), input [2, 3, 64, 64].

Nothing big is stored (resnet18 is 11M parameters): the weights come from the closed-form formula of
det_init.py (C++ twin: dive::tools::deterministic_init), which also perturbs every BatchNorm (weight
1 + s/10, bias s/10, running_mean s/10, running_var 1 + |s|/2) so eval mode is non-trivial. Written:
  resnet18_64.batch.safetensors     images [2,3,64,64] f32 = randn(Generator().manual_seed(seed)),
                                    proj [2,512,2,2] f32 = the next randn from the same generator
  resnet18_64.expected.safetensors  shape.<key> i64 (every state_dict key of torchvision's model, in
                                    torchvision's order: order.<key> i64 scalar), initbits.<key>,
                                    shape{34,50,101,152}.<key> (torchvision's resnetXX with fc),
                                    eval.features (eval mode, initial weights), features (train mode),
                                    loss = sum(features * proj) (f64), gradsum/gradproj/gradnoise.<param>
                                    (det_init.py), after.<buffer> (BN running stats after the step).
The reference is computed in float64 from the float32 weights/batch (upcast exactly); gradnoise =
||g_f32 - g_f64|| of PyTorch's own float32 step. That rounding error depends on the CPU's kernels
(on an AVX2-only CPU PyTorch's float32 gradients of layer3/layer4 are 10x further from float64 than
on an AVX-512 one: train-mode BatchNorm over the 8 values of a 2x2 map amplifies the rounding of its
inputs), so when the output file exists its gradnoise is kept where larger: the stored noise is the
worst over the machines the script ran on (listed in the metadata), and the float64 values must
agree with the stored ones. Metadata: torch/torchvision versions, seed, noise machines.
Usage: python3 test/reference/make_resnet_fixture.py [out_dir]   (default test/data/resnet)
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from det_init import bits_checksum, deterministic_init, sign_projections, summary  # noqa: E402
from st_io import load_safetensors, save_safetensors  # noqa: E402

SEED = 5
B, H, W = 2, 64, 64


def build():
    m = torchvision.models.resnet18(weights=None)
    m.avgpool = torch.nn.Identity()  # as the official DivE code (empty Sequentials)
    m.fc = torch.nn.Identity()
    return m


def step(model, images, proj, dtype):
    model = model.to(dtype)
    x, p = images.to(dtype), proj.to(dtype)
    out = {}
    model.eval()
    with torch.no_grad():
        out["eval.features"] = model(x).reshape(p.shape)
    model.train()
    feats = model(x).reshape(p.shape)  # flattened [B, 512*h*w] -> [B, 512, h, w]
    loss = (feats * p).sum()
    model.zero_grad(set_to_none=True)
    loss.backward()
    out["features"] = feats
    out["loss"] = loss
    for name, prm in model.named_parameters():
        out["grad." + name] = prm.grad
    for name, buf in model.named_buffers():
        out["after." + name] = buf
    return {k: v.detach().clone() for k, v in out.items()}


def cpu_isa():
    flags = open("/proc/cpuinfo").read()
    return "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse"


def merge_noise(exp, old, old_machines, here):
    """Keeps the larger gradnoise of the stored file; checks that the float64 values are the same."""
    for k, v in exp.items():
        if k.startswith("gradsum.") or k == "loss":
            ok = torch.allclose(v.double(), old[k].double(), rtol=1e-9, atol=0)
            assert ok, f"{k}: float64 value differs from the stored fixture"
    widened = 0
    for k in [k for k in exp if k.startswith("gradnoise.")]:
        if float(old[k]) > float(exp[k]):
            exp[k] = old[k]
        else:
            widened += 1
    print(f"gradnoise: {widened} of the parameters have a larger float32 error here ({here}) than stored")
    machines = set(old_machines.split(",")) | {here}
    return ",".join(sorted(machines))


def main(out_dir):
    torch.manual_seed(SEED)
    model = build()
    weights, kidx = deterministic_init(model)
    gen = torch.Generator().manual_seed(SEED)
    images = torch.randn(B, 3, H, W, generator=gen)
    proj = torch.randn(B, 512, H // 32, W // 32, generator=gen)
    exp = {}
    for i, (key, t) in enumerate(model.state_dict().items()):
        exp["shape." + key] = torch.tensor(list(t.shape), dtype=torch.int64)
        exp["order." + key] = torch.tensor(i, dtype=torch.int64)
        if t.is_floating_point():
            exp["initbits." + key] = bits_checksum(weights[key])
    for depth in (34, 50, 101, 152):  # names/shapes of the other depths, with the fc head
        for key, t in getattr(torchvision.models, f"resnet{depth}")(weights=None).state_dict().items():
            exp[f"shape{depth}.{key}"] = torch.tensor(list(t.shape), dtype=torch.int64)
    r32 = step(model, images, proj, torch.float32)
    model.load_state_dict(weights, strict=True)
    r64 = step(model, images, proj, torch.float64)
    for k, v in r64.items():
        if k.startswith("grad."):
            name = k[len("grad."):]
            exp["gradsum." + name] = summary(v)
            exp["gradproj." + name] = sign_projections(v)
            exp["gradnoise." + name] = (r32[k].double() - v).norm().reshape(())
        elif k == "loss":
            exp[k] = v.reshape(())
        else:
            exp[k] = v.float() if v.is_floating_point() else v
    for k in ("features", "eval.features"):
        rel = float((r32[k].double() - r64[k]).norm() / r64[k].norm())
        print(f"{k}: norm {float(r64[k].norm()):.6g}, torch f32 vs f64 relative error {rel:.2e}")
    worst = max(float(exp["gradnoise." + n]) / max(float(exp["gradsum." + n][0]), 1e-300)
                for n, _ in model.named_parameters())
    print(f"loss {float(exp['loss']):.6f}; worst torch f32 gradient relative error {worst:.2e}")
    noise_from = cpu_isa()
    old_path = os.path.join(out_dir, "resnet18_64.expected.safetensors")
    if os.path.exists(old_path):
        old, old_meta = load_safetensors(old_path)
        noise_from = merge_noise(exp, old, old_meta.get("gradnoise_machines", "avx512"), noise_from)
    meta = {"gradnoise_machines": noise_from, "torch_version": torch.__version__, "torchvision_version": torchvision.__version__, "seed": str(SEED),
            "batch": str(B), "image": f"{H}x{W}", "model": "resnet18, avgpool/fc = Identity",
            "init": "deterministic (test/reference/det_init.py)", "reference_dtype": "float64",
            "generator": "test/reference/make_resnet_fixture.py"}
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for suffix, tensors in (("batch", {"images": images, "proj": proj}), ("expected", exp)):
        path = os.path.join(out_dir, f"resnet18_64.{suffix}.safetensors")
        save_safetensors(path, tensors, meta)
        total += os.path.getsize(path)
    print(f"wrote {out_dir}: {total} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test/data/resnet")
