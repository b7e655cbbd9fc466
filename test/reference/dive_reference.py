#!/usr/bin/env python3
"""DivE reference (dev-only): PyTorch model + fixture writer for the C++ model tests.

Commands
  fixture  --out DIR --name NAME [--seed S --batch B --regions N --max_len T] [model options]
  fixture  --deterministic-init ...    compact fixture: formula weights (det_init.py), no weights file,
                                       gradient summaries instead of gradients (see below)
  make_all [--out test/data/model] [--only NAME ...]   the standard fixture set (or some of it)
  make_default [--out test/data/model_default]   the default-dims fixture (default_dims.*)
  config   --out DIR --name NAME [model options]   only NAME.ini
  selftest                             property checks (pad masks, packed GRU, K=1)
  check    [--dir test/data/model]     reload the fixtures and recompute them
The CLI option defaults are the tiny fixture dims with every dropout 0 (DEFAULT_OPTIONS in
dive_model.py holds the official train_eval_coco.sh values).

Model: test/reference/dive_model.py (BUTD + bi-GRU, `--arch slot` or `pvse`, official semantics of
kdwonn/DivE @ f59bc1c, see docs/MODEL.md).  Checked numerically against the
official code by test/reference/verify_official.py (see the README there).

Fixture files (safetensors, written by st_io.py; every file has __metadata__ with
torch_version, seed, batch, regions, max_len, options (JSON), perturb):
  NAME.weights.safetensors   state_dict BEFORE the step (official key names; shared layers are
                             repeated under every layers.{i} index; num_batches_tracked I64).
  NAME.batch.safetensors     images F32 [B,N,img_dim] (zero beyond img_lengths), img_lengths I64 [B]
                             (max == N), captions I64 [5B,T] (1 w... 2 then 0 padding; caption j belongs
                             to image j//5), cap_lengths I64 [5B] (UNSORTED, max == T, >= 3).
  NAME.expected.safetensors  one training step (model.train(), BN batch statistics, dropouts as in
                             the options, 0 in all standard fixtures):
                             img_emb [B,Ki,D], txt_emb [5B,Kt,D]  (L2-normalised set elements)
                             img_r [B,Ki,D], txt_r [5B,Kt,D]      (set prediction before the residual)
                             sim [B,5B]                            (smooth-Chamfer similarity)
                             loss, loss.i2t, loss.t2i, loss.mmd, loss.unif   (0-d F32; loss.mmd and
                             loss.unif are reported even when their weight is 0)
                             grad.<param>   d loss / d param for every named_parameters() entry
                                            (shared layers: only under layers.0, the summed gradient)
                             after.<buffer> BN running_mean/var/num_batches_tracked after the step
                                            (two updates: spm_fc runs twice; num_batches_tracked += 2 as
                                            with nn.BatchNorm1d; the official --sync_bn module on one GPU
                                            does not increment it, running stats are identical)
                             eval.img_emb, eval.txt_emb  model.eval() on the same batch with the
                                            weights/running stats of NAME.weights (computed before the step)
  NAME.ini                   the options, `name = value`, booleans true/false.

Compact fixtures (`fixture --deterministic-init`, `make_default`; for dims whose weights and gradients
would be hundreds of MB): no NAME.weights file, every state_dict entry is set by the closed-form
formula in det_init.py (C++ twin: dive::tools::deterministic_init); the batch is drawn from
torch.Generator().manual_seed(seed); the step is computed in float64 (f32 weights/batch upcast), tensors
stored as F32, loss terms F64; NAME.expected holds everything above EXCEPT grad.<param>, and
  gradsum.<param>  F64 [3] = (||g||, <g,P1>, <g,P2>), P1[i] = sin(0.3i+0.1), P2[i] = cos(0.17i) over
                   the row-major flattened gradient (computed in float64)
  gradproj.<param> F64 [2] = (<g,R1>, <g,R2>), R_j pseudo-random signs from splitmix64 (det_init.py)
  gradnoise.<param> F64 [], ||g_f32 - g_f64|| of the same PyTorch step in float32 (rounding scale)
  initbits.<key>   I64 [2], an exact checksum of the float32 bits of each distinct initial floating
                   tensor (first key of a shared one): both sides must compute identical weights.

Random init: torch.manual_seed(seed), PyTorch default init of every module (as the official
code), then (unless --no-perturb) norm parameters are perturbed so that they are exercised:
every LayerNorm/BatchNorm weight = 1 + 0.1*N(0,1), bias = 0.1*N(0,1), BN running_mean =
0.1*N(0,1), running_var = U(0.5,1.5).  Then the batch is drawn from the same generator.

Official state_dict keys (depth L, i = 0..L-1; shapes for D=embed_size, W=word_dim,
I=img_dim, H=heads*dim_head, F=ff_mult*D, K=num_embeds):
  img_enc.fc.weight [D,I], img_enc.fc.bias [D]
  img_enc.mlp.fc1.weight [D/2,D], img_enc.mlp.fc1.bias [D/2]
  img_enc.mlp.bn.bn.{weight,bias,running_mean,running_var} [D/2], img_enc.mlp.bn.bn.num_batches_tracked []
  img_enc.mlp.fc2.weight [D,D/2], img_enc.mlp.fc2.bias [D]
  img_enc.spm.residual_norm.{weight,bias} [D]
  img_enc.spm.agg_block.latents [K,D]
  img_enc.spm.agg_block.layers.{i}.0.norm.{weight,bias} [D]
  img_enc.spm.agg_block.layers.{i}.0.norm_context.{weight,bias} [D]
  img_enc.spm.agg_block.layers.{i}.0.fn.to_q.weight [H,D]
  img_enc.spm.agg_block.layers.{i}.0.fn.to_k.weight [H,D], ...to_v.weight [H,D]
  img_enc.spm.agg_block.layers.{i}.0.fn.to_out.0.weight [D,H], ...to_out.0.bias [D]
  img_enc.spm.agg_block.layers.{i}.2.norm.{weight,bias} [D]
  img_enc.spm.agg_block.layers.{i}.2.fn.net.0.weight [F,D], ...net.0.bias [F]
  img_enc.spm.agg_block.layers.{i}.2.fn.net.3.weight [D,F], ...net.3.bias [D]
  img_enc.spm.agg_block.last_layer.0.{weight,bias} [D]
  txt_enc.embed.weight [vocab,W]
  txt_enc.rnn.weight_ih_l0 [3D,W], txt_enc.rnn.weight_hh_l0 [3D,D], txt_enc.rnn.bias_ih_l0 [3D],
  txt_enc.rnn.bias_hh_l0 [3D], and the same four with suffix _reverse (gate order r,z,n)
  txt_enc.spm.residual_norm.{weight,bias} [D]
  txt_enc.spm.agg_block.* as the image side, except
      layers.{i}.0.norm_context.{weight,bias} [W], layers.{i}.0.fn.to_k.weight / to_v.weight [H,W]
With `arch = pvse` (PIE-Net) the two `spm.*` subtrees are instead (Din = D for images, W for text;
K = img/txt_num_embeds; d_h = Din // 2):
  {img,txt}_enc.spm.attention.w_1.weight [d_h,Din], {img,txt}_enc.spm.attention.w_2.weight [K,d_h]
  {img,txt}_enc.spm.fc.weight [D,Din], {img,txt}_enc.spm.fc.bias [D], {img,txt}_enc.spm.layer_norm.{weight,bias} [D]
(Verified: the official VSE loads our state_dict with strict=True and vice versa, both archs.)
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dive_model import DEFAULT_OPTIONS, DivE, dive_loss  # noqa: E402
from st_io import save_safetensors  # noqa: E402
import det_init  # noqa: E402

TINY = dict(img_dim=32, embed_size=16, word_dim=12, vocab_size=50, spm_heads=2, spm_dim_head=8,
            dropout=0.0, img_1x1_dropout=0.0, res_act_local_dropout=0.0, res_act_global_dropout=0.0)


def add_option_args(p, defaults):
    for k, v in defaults.items():
        if isinstance(v, bool):
            p.add_argument("--" + k, type=lambda s: s.lower() in ("1", "true", "yes", "on"), default=v,
                           metavar="true|false")
        else:
            p.add_argument("--" + k, type=type(v), default=v)


def options_from_args(a):
    return {k: getattr(a, k) for k in DEFAULT_OPTIONS}


def ini_text(opt):
    lines = []
    for k, v in opt.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n"


def perturb_norms(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm1d)):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def make_batch(opt, B, N, T, gen):
    assert T >= 3 and N >= 1 and B >= 2
    img_len = torch.randint(1, N + 1, (B,), generator=gen)
    full, short = torch.randperm(B, generator=gen)[:2].tolist()
    img_len[full] = N                    # padded width == longest image, as the official collate
    if N > 1:
        img_len[short] = int(torch.randint(1, N, (1,), generator=gen))  # at least one padded image
    images = torch.randn(B, N, opt["img_dim"], generator=gen)
    for i in range(B):
        images[i, img_len[i]:] = 0
    nc = 5 * B
    cap_len = torch.randint(3, T + 1, (nc,), generator=gen)
    cap_len[torch.randint(0, nc, (1,), generator=gen)] = T
    caps = torch.randint(4, opt["vocab_size"], (nc, T), generator=gen)
    for j in range(nc):
        L = int(cap_len[j])
        caps[j, 0] = 1
        caps[j, L - 1] = 2
        caps[j, L:] = 0
    return {"images": images.float(), "img_lengths": img_len.long(), "captions": caps.long(),
            "cap_lengths": cap_len.long()}


def build_model(opt, seed, perturb=True):
    torch.manual_seed(seed)
    model = DivE(opt)
    gen = torch.Generator().manual_seed(seed + 1)
    if perturb:
        perturb_norms(model, gen)
    return model, gen


def run_fixture(opt, seed, B, N, T, perturb=True):
    """Returns (weights, batch, expected) dicts of tensors."""
    model, gen = build_model(opt, seed, perturb)
    batch = make_batch(opt, B, N, T, gen)
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    args = (batch["images"], batch["img_lengths"], batch["captions"], batch["cap_lengths"])
    exp = {}
    model.eval()
    with torch.no_grad():
        ei, et, _, _ = model(*args)
    exp["eval.img_emb"], exp["eval.txt_emb"] = ei, et
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
    exp = {k: v.detach().clone() for k, v in exp.items()}
    return weights, batch, exp, model


def write_fixture(out_dir, name, opt, seed, B, N, T, perturb=True, write_ini=True):
    os.makedirs(out_dir, exist_ok=True)
    weights, batch, exp, _ = run_fixture(opt, seed, B, N, T, perturb)
    meta = {"torch_version": torch.__version__, "seed": str(seed), "batch": str(B), "regions": str(N),
            "max_len": str(T), "perturb": "true" if perturb else "false",
            "options": json.dumps(opt, sort_keys=True), "generator": "test/reference/dive_reference.py"}
    paths = []
    for suffix, tensors in (("weights", weights), ("batch", batch), ("expected", exp)):
        p = os.path.join(out_dir, f"{name}.{suffix}.safetensors")
        save_safetensors(p, tensors, meta)
        paths.append(p)
    if write_ini:
        p = os.path.join(out_dir, f"{name}.ini")
        with open(p, "w") as f:
            f.write(ini_text(opt))
        paths.append(p)
    total = sum(os.path.getsize(p) for p in paths)
    print(f"{name}: loss={float(exp['loss']):.6f} (i2t {float(exp['loss.i2t']):.6f}, t2i {float(exp['loss.t2i']):.6f},"
          f" mmd {float(exp['loss.mmd']):.6f}, unif {float(exp['loss.unif']):.6f}) {total} bytes")
    return total


def param_count(opt):
    with torch.device("meta"):
        m = DivE(opt)
    n_sd = sum(v.numel() * v.element_size() for v in m.state_dict().values())
    n_grad = sum(p.numel() * p.element_size() for p in m.parameters())
    return n_sd, n_grad


STANDARD = [
    # name, option overrides (on top of DEFAULT_OPTIONS + TINY), seed, B, N, T
    ("k4_d2_share", dict(img_num_embeds=4, txt_num_embeds=4, spm_depth=2, spm_weight_sharing=True), 1, 3, 5, 7),
    ("k2_d1", dict(img_num_embeds=2, txt_num_embeds=2, spm_depth=1), 2, 3, 4, 6),
    ("k1_d2", dict(img_num_embeds=1, txt_num_embeds=1, spm_depth=2), 3, 3, 5, 7),
    ("k4_d2_strict", dict(img_num_embeds=4, txt_num_embeds=4, spm_depth=2, pad_mask="strict"), 4, 3, 5, 7),
    ("k3_d2_noshare_mean", dict(img_num_embeds=3, txt_num_embeds=3, spm_depth=2, spm_weight_sharing=False,
                                max_violation=False), 5, 3, 4, 6),
    ("pvse_k4", dict(arch="pvse", img_num_embeds=4, txt_num_embeds=4), 7, 3, 5, 7),
]
FULL_DIMS = ("full_dims_d1", dict(vocab_size=20, spm_depth=1, dropout=0.0, img_1x1_dropout=0.0), 6, 2, 3, 5)
FULL_DIMS_LIMIT = 6 * 1024 * 1024


def make_all(out_dir, only=None):
    total = 0
    for name, over, seed, B, N, T in STANDARD:
        if only and name not in only:
            continue
        opt = dict(DEFAULT_OPTIONS, **TINY)
        opt.update(over)
        total += write_fixture(out_dir, name, opt, seed, B, N, T)
    name, over, seed, B, N, T = FULL_DIMS
    if only and name not in only:
        print(f"total {total} bytes in {out_dir}")
        return
    opt = dict(DEFAULT_OPTIONS, **over)
    n_sd, n_grad = param_count(opt)
    est = n_sd + n_grad
    if est > FULL_DIMS_LIMIT:
        print(f"{name}: SKIPPED, default dims need ~{est / 2**20:.0f} MiB "
              f"(state_dict {n_sd / 2**20:.0f} MiB + grads {n_grad / 2**20:.0f} MiB) > 6 MiB; "
              f"generate it locally with the `fixture` command if needed")
    else:
        total += write_fixture(out_dir, name, opt, seed, B, N, T)
    print(f"total {total} bytes in {out_dir}")


def selftest():
    """Property checks of the reference itself (no official code needed)."""
    opt = dict(DEFAULT_OPTIONS, **TINY)
    opt.update(spm_depth=2)
    ok = True

    def report(name, cond):
        nonlocal ok
        ok &= bool(cond)
        print(("PASS " if cond else "FAIL ") + name)

    for mode in ("official", "strict"):
        o = dict(opt, pad_mask=mode)
        model, gen = build_model(o, 7)
        model.eval()
        b = make_batch(o, 3, 5, 7, gen)
        with torch.no_grad():
            e_full, _ = model.img_enc(b["images"], b["img_lengths"])
            i = int(torch.argmin(b["img_lengths"]))
            L = int(b["img_lengths"][i])
            e_alone, _ = model.img_enc(b["images"][i:i + 1, :L], b["img_lengths"][i:i + 1])
            garbage = b["images"].clone()
            garbage[i, L:] = 5.0
            e_garb, _ = model.img_enc(garbage, b["img_lengths"])
        same = torch.allclose(e_full[i], e_alone[0], atol=1e-5)
        same_g = torch.allclose(e_full[i], e_garb[i], atol=1e-5)
        if L < 5:
            if mode == "strict":
                report(f"strict: eval image emb independent of padding (len {L})", same and same_g)
            else:
                report(f"official: eval image emb depends on padding (len {L})", not same and not same_g)
    # packed GRU: h_n of each caption = GRU run on that caption alone
    model, gen = build_model(opt, 8)
    b = make_batch(opt, 2, 3, 7, gen)
    with torch.no_grad():
        caps, lens = b["captions"], b["cap_lengths"]
        _, h = model.txt_enc.rnn(torch.nn.utils.rnn.pack_padded_sequence(
            model.txt_enc.embed(caps), lens, batch_first=True, enforce_sorted=False))
        j = int(torch.argmin(lens))
        _, h1 = model.txt_enc.rnn(model.txt_enc.embed(caps[j:j + 1, :int(lens[j])]))
    report("packed bi-GRU h_n == per-caption GRU (reverse starts at own last token)",
           torch.allclose(h[:, j], h1[:, 0], atol=1e-6))
    for k in (1, 2):
        o = dict(opt, img_num_embeds=k, txt_num_embeds=k)
        _, _, exp, _ = run_fixture(o, 9, 2, 3, 5)
        report(f"K={k} runs, finite loss", torch.isfinite(exp["loss"]).item())
    return ok


def check_dir(d):
    """Reload every fixture in d and recompute it with dive_model (exact match expected)."""
    import glob
    from st_io import load_safetensors
    ok = True
    for wpath in sorted(glob.glob(os.path.join(d, "*.weights.safetensors"))):
        name = wpath[:-len(".weights.safetensors")]
        w, meta = load_safetensors(wpath)
        b, _ = load_safetensors(name + ".batch.safetensors")
        e, _ = load_safetensors(name + ".expected.safetensors")
        opt = json.loads(meta["options"])
        m = DivE(opt)
        m.load_state_dict(w, strict=True)
        args = (b["images"], b["img_lengths"], b["captions"], b["cap_lengths"])
        m.eval()
        with torch.no_grad():
            ei, et, _, _ = m(*args)
        m.train()
        ie, te, ir, tr = m(*args)
        out = dive_loss(ie, te, ir, tr, opt)
        out["loss"].backward()
        got = {"eval.img_emb": ei, "eval.txt_emb": et, "img_emb": ie, "txt_emb": te, "loss": out["loss"]}
        got.update({"grad." + n: p.grad for n, p in m.named_parameters() if p.grad is not None})
        err = max(float((v.detach() - e[k]).abs().max()) for k, v in got.items())
        ok &= err < 1e-5
        print(f"{os.path.basename(name)}: max err {err:.2e} (fixture torch {meta['torch_version']})")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    fx = sub.add_parser("fixture")
    cf = sub.add_parser("config")
    for p in (fx, cf):
        p.add_argument("--out", required=True)
        p.add_argument("--name", required=True)
        add_option_args(p, dict(DEFAULT_OPTIONS, **TINY))
    fx.add_argument("--seed", type=int, default=0)
    fx.add_argument("--batch", type=int, default=3)
    fx.add_argument("--regions", type=int, default=5)
    fx.add_argument("--max_len", type=int, default=7)
    fx.add_argument("--no-perturb", dest="perturb", action="store_false")
    fx.add_argument("--deterministic-init", dest="det_init", action="store_true",
                    help="formula weights (det_init.py), compact expected file, no weights file")
    fx.add_argument("--config", dest="config", action="store_true", default=True,
                    help="also write NAME.ini (default on)")
    fx.add_argument("--no-config", dest="config", action="store_false")
    sub.add_parser("selftest")
    ck = sub.add_parser("check")
    ck.add_argument("--dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "test", "data", "model"))
    ma = sub.add_parser("make_all")
    ma.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "test", "data", "model"))
    ma.add_argument("--only", nargs="+", metavar="NAME", help="write only these standard fixtures")
    md = sub.add_parser("make_default")
    md.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "..", "test", "data", "model_default"))
    a = ap.parse_args(argv)
    if a.cmd == "check":
        sys.exit(0 if check_dir(os.path.normpath(a.dir)) else 1)
    elif a.cmd == "selftest":
        sys.exit(0 if selftest() else 1)
    elif a.cmd == "make_all":
        make_all(os.path.normpath(a.out), a.only)
    elif a.cmd == "make_default":
        det_init.make_default(os.path.normpath(a.out))
    elif a.cmd == "config":
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, a.name + ".ini"), "w") as f:
            f.write(ini_text(options_from_args(a)))
    elif a.det_init:
        det_init.write_compact(a.out, a.name, options_from_args(a), a.seed, a.batch, a.regions, a.max_len,
                               write_ini=a.config)
    else:
        write_fixture(a.out, a.name, options_from_args(a), a.seed, a.batch, a.regions, a.max_len,
                      perturb=a.perturb, write_ini=a.config)


if __name__ == "__main__":
    main()
