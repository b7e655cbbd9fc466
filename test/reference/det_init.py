"""Deterministic initialisation + compact fixtures (no weight files) for the default-dims model test.

Formula (the C++ twin is dive::tools::deterministic_init in tools/run/step.cpp; both give bit-identical
float32 weights):
  keys   = sorted(model.state_dict())               (all keys, buffers included; byte order)
  k(key) = index in `keys` of the FIRST key holding the same tensor (shared layers: the layers.0 key,
           so every layers.{i} copy of a shared tensor gets the same values)
  element i of the row-major flattened tensor, computed in float64 and rounded once to float32:
      s = sin((7311*i + 13700*k) / 10000)            (integer numerator, exact; one division, = 0.7311 i
                                                       + 1.37 k; sin = C libm sin via math.sin)
      *.num_batches_tracked          0                 (int64)
      *.running_mean                 s / 10
      *.running_var                  1 + |s| / 2
      any other tensor with >= 2 dims  s / sqrt(shape[-1])   (fan-in scale; latents, embedding, GRU too)
      1-D '*.weight' (LayerNorm/BN)  1 + s / 10
      other 1-D (biases)             s / 10
  (divisions rather than 0.1*s so that no compiler can fuse a multiply-add on the C++ side.)

Gradient summaries `gradsum.<param>`: f64 [3] = (||g||_2, <g, P1>, <g, P2>) over the row-major
flattened gradient in float64, P1[i] = sin(0.3 i + 0.1), P2[i] = cos(0.17 i).
`gradproj.<param>`: f64 [2] = (<g, R1>, <g, R2>) with pseudo-random signs R_j[i] = 1 - 2 * (h >> 63),
h = splitmix64 finaliser of the uint64 2i + j - 1 (z = x + 0x9E3779B97F4A7C15; z = (z ^ z>>30) *
0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB; h = z ^ z>>31, all mod 2^64). Unlike the
single-frequency P1/P2, these see every structural error (shifts, sign flips, permutations) at O(||dg||).
Reference values are computed in float64 (weights and batch upcast exactly), stored as float32 except
the loss terms and summaries; `gradnoise.<param>` (f64 scalar) = ||g_f32 - g_f64|| of PyTorch's own
float32 step, the scale of float32 rounding for that gradient (the C++ test's tolerance floor).
Weight checksums `initbits.<key>` (each distinct floating tensor, under its first key): i64 [2] =
(sum_i b_i, sum_i (i+1) b_i) mod 2^64 (two's complement), b_i = the float32 bit pattern of element i
as an unsigned integer: exact, so the C++ test can demand bit-identical weights.
"""
import json
import math
import os

import numpy as np
import torch

from dive_model import DEFAULT_OPTIONS, DivE, dive_loss
from st_io import save_safetensors

# name, option overrides on DEFAULT_OPTIONS, batch seed, B, N, T
DEFAULT_DIMS = ("default_dims", dict(vocab_size=20, dropout=0.0, img_1x1_dropout=0.0, res_act_local_dropout=0.0,
                                     res_act_global_dropout=0.0), 11, 2, 3, 5)


def det_values(key, shape, k):
    """The formula for one state_dict entry (k: see the module docstring). Returns a torch tensor."""
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.int64)
    n = math.prod(shape)
    num = 7311 * np.arange(n, dtype=np.int64) + 13700 * k          # exact in int64
    x = num.astype(np.float64) / 10000.0                            # one correctly rounded division
    s = np.fromiter(map(math.sin, x.tolist()), dtype=np.float64, count=n)  # libm sin, as std::sin
    if key.endswith(".running_mean"):
        v = s / 10.0
    elif key.endswith(".running_var"):
        v = 1.0 + np.abs(s) / 2.0
    elif len(shape) >= 2:
        v = s / math.sqrt(shape[-1])
    elif key.endswith(".weight"):
        v = 1.0 + s / 10.0
    else:
        v = s / 10.0
    return torch.from_numpy(v.astype(np.float32).reshape(tuple(shape)))


def key_index(sd):
    """key -> k (index of the first sorted key holding the same tensor)."""
    keys = sorted(sd)
    first, out = {}, {}
    for idx, key in enumerate(keys):
        t = sd[key]
        out[key] = first.setdefault((t.data_ptr(), tuple(t.shape), t.dtype), idx)
    return out


def deterministic_init(model):
    """Sets every state_dict entry by the formula (strict load: the formula covers the official shapes)."""
    sd = model.state_dict()
    kidx = key_index(sd)
    cache, new = {}, {}
    for key in sorted(sd):
        k = kidx[key]
        if k not in cache:
            cache[k] = det_values(key, list(sd[key].shape), k)
        v = cache[k]
        assert v.shape == sd[key].shape and v.dtype == sd[key].dtype, key
        new[key] = v
    model.load_state_dict(new, strict=True)
    after = model.state_dict()
    for key, v in new.items():  # shared tensors: every name holds the formula's value of its first key
        assert torch.equal(after[key], v), key
    return new, kidx


def mix64(x):
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def sign_projections(x):
    """(<x,R1>, <x,R2>) in float64, R_j[i] = 1 - 2 * (mix64(2i + j - 1) >> 63) (pseudo-random +-1)."""
    a = x.detach().to(torch.float64).reshape(-1).cpu().numpy()
    i = np.arange(a.size, dtype=np.uint64)
    out = []
    for j in (0, 1):
        r = 1.0 - 2.0 * (mix64(np.uint64(2) * i + np.uint64(j)) >> np.uint64(63)).astype(np.float64)
        out.append(float(np.dot(a, r)))
    return torch.tensor(out, dtype=torch.float64)


def summary(x):
    """(||x||, <x,P1>, <x,P2>) in float64 over the row-major flattened tensor."""
    a = x.detach().to(torch.float64).reshape(-1).cpu().numpy()
    i = np.arange(a.size, dtype=np.float64)
    return torch.tensor([math.sqrt(float(np.dot(a, a))), float(np.dot(a, np.sin(0.3 * i + 0.1))),
                         float(np.dot(a, np.cos(0.17 * i)))], dtype=torch.float64)


def bits_checksum(x):
    b = x.detach().contiguous().reshape(-1).numpy().view(np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        s1 = b.sum(dtype=np.uint64)
        s2 = (b * (np.arange(b.size, dtype=np.uint64) + np.uint64(1))).sum(dtype=np.uint64)
    return torch.from_numpy(np.array([s1, s2], dtype=np.uint64).view(np.int64))


def _step(model, batch, opt, dtype):
    """eval pass + one training step of `model` (converted to dtype) -> dict of full tensors."""
    model = model.to(dtype)
    # img_lengths: None for the CNN branch (raw images)
    args = (batch["images"].to(dtype), batch.get("img_lengths"), batch["captions"], batch["cap_lengths"])
    exp = {}
    model.eval()
    with torch.no_grad():
        exp["eval.img_emb"], exp["eval.txt_emb"], _, _ = model(*args)
    model.train()
    img_emb, txt_emb, img_r, txt_r = model(*args)
    out = dive_loss(img_emb, txt_emb, img_r, txt_r, opt)
    model.zero_grad(set_to_none=True)
    out["loss"].backward()
    exp.update({"img_emb": img_emb, "txt_emb": txt_emb, "img_r": img_r, "txt_r": txt_r, "sim": out["sim"]})
    for k in ("loss", "loss.i2t", "loss.t2i", "loss.mmd", "loss.unif"):
        exp[k] = out[k].reshape(())
    for name, p in model.named_parameters():
        if p.grad is not None:
            exp["grad." + name] = p.grad
    for name, b in model.named_buffers():
        exp["after." + name] = b
    return {k: v.detach().clone() for k, v in exp.items()}


def run_compact(opt, seed, B=None, N=None, T=None, batch=None):
    """Deterministic init, batch from torch.Generator().manual_seed(seed), one training step computed
    in float64 (the float32 formula weights and batch upcast exactly): the reference values. The same
    step in float32 gives gradnoise.<param> = ||g_f32 - g_f64||, PyTorch's own float32 rounding error.
    `batch` replaces the generated one (e.g. raw images for the CNN branch, make_cnn_fixture.py).
    Returns (batch, expected): tensors stored as float32 except loss terms and summaries (float64)."""
    from dive_reference import make_batch
    torch.manual_seed(seed)
    model = DivE(opt)
    weights, kidx = deterministic_init(model)
    if batch is None:
        batch = make_batch(opt, B, N, T, torch.Generator().manual_seed(seed))
    exp = {}
    for idx, key in enumerate(sorted(weights)):  # one checksum per distinct tensor (its first key)
        if kidx[key] == idx and weights[key].is_floating_point():
            exp["initbits." + key] = bits_checksum(weights[key])
    r32 = _step(model, batch, opt, torch.float32)
    model.load_state_dict(weights, strict=True)  # undo the BN running-stat updates of the f32 step
    r64 = _step(model, batch, opt, torch.float64)
    for k, v in r64.items():
        if k.startswith("grad."):
            name = k[len("grad."):]
            exp["gradsum." + name] = summary(v)
            exp["gradproj." + name] = sign_projections(v)
            exp["gradnoise." + name] = (r32[k].double() - v).norm().reshape(())
        elif k.startswith("loss"):
            exp[k] = v
        else:
            exp[k] = v.float() if v.is_floating_point() else v
    return batch, exp


def write_compact(out_dir, name, opt, seed, B, N, T, write_ini=True):
    from dive_reference import ini_text
    os.makedirs(out_dir, exist_ok=True)
    batch, exp = run_compact(opt, seed, B, N, T)
    meta = {"torch_version": torch.__version__, "seed": str(seed), "batch": str(B), "regions": str(N),
            "max_len": str(T), "init": "deterministic (test/reference/det_init.py)",
            "reference_dtype": "float64 (gradnoise.*: float32 run)",
            "options": json.dumps(opt, sort_keys=True), "generator": "test/reference/dive_reference.py"}
    paths = []
    for suffix, tensors in (("batch", batch), ("expected", exp)):
        p = os.path.join(out_dir, f"{name}.{suffix}.safetensors")
        save_safetensors(p, tensors, meta)
        paths.append(p)
    if write_ini:
        p = os.path.join(out_dir, f"{name}.ini")
        with open(p, "w") as f:
            f.write(ini_text(opt))
        paths.append(p)
    total = sum(os.path.getsize(p) for p in paths)
    ngrad = sum(1 for k in exp if k.startswith("gradsum."))
    print(f"{name}: loss={float(exp['loss']):.6f} (i2t {float(exp['loss.i2t']):.6f}, t2i {float(exp['loss.t2i']):.6f},"
          f" mmd {float(exp['loss.mmd']):.6f}, unif {float(exp['loss.unif']):.6f}), {ngrad} gradient summaries,"
          f" {total} bytes")
    return total


def make_default(out_dir):
    name, over, seed, B, N, T = DEFAULT_DIMS
    opt = dict(DEFAULT_OPTIONS, **over)
    return write_compact(out_dir, name, opt, seed, B, N, T)
