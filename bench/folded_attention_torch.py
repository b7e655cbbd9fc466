#!/usr/bin/env python3
"""Folded cross attention for the PyTorch reference model (test/reference/dive_model.py).

dive_model.Attention (the slot cross attention; the brief calls it CrossAttention) projects all N
context tokens to keys and values, although only the K slot queries read them. Re-associating the
products gives the same function up to rounding at a fraction of the cost when K << N:

  logits  q_h . (W_k,h kin_j) = (W_k,h^T q_h) . kin_j      kin = context (+ k_pos)
          qk[b,h,k,:] = W_k,h^T q[b,k,h,:]  ([B,H,K,C]), then one batched product with kin [B,N,C]
  output  sum_j w_hkj (W_v,h ctx_j) = W_v,h (sum_j w_hkj ctx_j)
          average the context with the weights first ([B,H,K,C]), then project only H*K vectors.

Masking (-finfo.max fill), softmax over the QUERY axis, the 'strict' zero fill, the +1e-7
renormalisation over the keys and to_out (with its dropout) are exactly those of the original forward.

  fold(model) / unfold(model)      per model: binds the folded forward to each Attention module
  use_folded_attention(True/False) class-wide monkeypatch of dive_model.Attention.forward

Self-check (float64, forward + dive_loss + backward, original vs folded, eval and train with every
dropout p=0, then FLOPs of one float32 step at the default config, B=32):
  TORCH_THREADS=1 python3 bench/folded_attention_torch.py [--no-flops] [--flops-batch 32]
"""
import os
import sys
import types

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "reference"))
import dive_model  # noqa: E402

AttentionClass = getattr(dive_model, "CrossAttention", None) or dive_model.Attention
_original_forward = AttentionClass.forward


def folded_forward(self, x, context, mask=None, k_pos=None):
    b, nq, _ = x.shape
    nk, c = context.shape[1], context.shape[2]
    h = self.heads
    q = self.to_q(x)                                   # (b, nq, h*dh)
    dh = q.shape[-1] // h
    wk = self.to_k.weight.reshape(h, dh, c)            # rows of head hh: hh*dh .. hh*dh+dh-1
    wv = self.to_v.weight.reshape(h, dh, c)
    # W_k,h^T q per head: batched over the heads (no copy of the weights per sample), (h, b*nq, c)
    qk = torch.bmm(q.reshape(b * nq, h, dh).transpose(0, 1), wk)
    qk = qk.reshape(h, b, nq, c).transpose(0, 1).reshape(b, h * nq, c)
    kin = context if k_pos is None else context + k_pos
    sim = torch.bmm(qk, kin.transpose(1, 2)).reshape(b, h, nq, nk) * self.scale
    if mask is not None:
        m = mask.reshape(b, 1, 1, nk)
        sim = sim.masked_fill(m, -torch.finfo(sim.dtype).max)
    # softmax over the QUERY axis (slots compete for each token)
    attn = sim.softmax(dim=2)
    if mask is not None and self.pad_mask == "strict":
        # padded keys get exactly zero weight (and zero gradient)
        attn = attn.masked_fill(m, 0.0)
    # renormalise each query's weights over the keys
    attn = attn / (attn.sum(dim=-1, keepdim=True) + 1e-7)
    avg = torch.bmm(attn.reshape(b, h * nq, nk), context)          # weighted context, (b, h*nq, c)
    avg = avg.reshape(b, h, nq, c).transpose(0, 1).reshape(h, b * nq, c)
    out = torch.bmm(avg, wv.transpose(1, 2))                       # W_v,h avg, (h, b*nq, dh)
    out = out.reshape(h, b, nq, dh).permute(1, 2, 0, 3).reshape(b, nq, h * dh)
    return self.to_out(out)


def fold(model):
    """Switches every Attention module of `model` to the folded forward (instance binding). Returns model."""
    for mod in model.modules():
        if isinstance(mod, AttentionClass):
            mod.forward = types.MethodType(folded_forward, mod)
    return model


def unfold(model):
    for mod in model.modules():
        if isinstance(mod, AttentionClass) and "forward" in mod.__dict__:
            del mod.forward
    return model


def use_folded_attention(enabled=True):
    """Class-wide switch: every Attention (existing and new models) uses the folded forward."""
    AttentionClass.forward = folded_forward if enabled else _original_forward


# ----------------------------------------------------------------------------- self-check

def make_batch(opt, B, cnn=False, dtype=torch.float32, seed=None):
    """The synthetic batch of bench/train_step_torch.py (36 regions or 64x64 images, 5B captions of
    lengths 6..12 in a T=12 padded tensor, so the text padding mask is exercised). seed None: the images
    come from the global RNG (as train_step_torch.py always did), else from a generator of their own."""
    gen = None if seed is None else torch.Generator().manual_seed(seed)
    N, T, C = 36, 12, 5 * B
    if cnn:
        images = torch.randn(B, 3, 64, 64, generator=gen, dtype=dtype)
    else:
        images = torch.randn(B, N, opt["img_dim"], generator=gen, dtype=dtype)
    img_len = torch.full((B,), N, dtype=torch.long)
    lens = torch.tensor([6 + (c * 7) % (T - 5) for c in range(C)])
    caps = torch.zeros(C, T, dtype=torch.long)
    for c in range(C):
        caps[c, 0] = 1
        for t in range(1, int(lens[c]) - 1):
            caps[c, t] = 4 + (c * 131 + t * 17) % (opt["vocab_size"] - 5)
        caps[c, int(lens[c]) - 1] = 2
    return images, img_len, caps, lens


def _run(model, batch, opt):
    model.zero_grad(set_to_none=True)
    img_emb, txt_emb, img_r, txt_r = model(*batch)
    out = dive_model.dive_loss(img_emb, txt_emb, img_r, txt_r, opt)
    out["loss"].backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return out["loss"].detach(), img_emb.detach(), txt_emb.detach(), grads


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def self_check(name, opt, B=3, cnn=False, tol=1e-10):
    import copy
    opt = dict(opt)
    for k in ("dropout", "img_1x1_dropout", "res_act_local_dropout", "res_act_global_dropout"):
        opt[k] = 0.0
    torch.manual_seed(0)
    base = dive_model.DivE(opt).double()
    batch = make_batch(opt, B, cnn=cnn, dtype=torch.float64, seed=1)
    worst = 0.0
    for mode in ("eval", "train"):
        ref = copy.deepcopy(base).train(mode == "train")
        fol = fold(copy.deepcopy(base).train(mode == "train"))
        l0, ie0, te0, g0 = _run(ref, batch, opt)
        l1, ie1, te1, g1 = _run(fol, batch, opt)
        assert g0.keys() == g1.keys(), "different parameter sets got gradients"
        rl = _rel(l1, l0)
        re = max(_rel(ie1, ie0), _rel(te1, te0))
        # Gradients that are analytically zero (the bias of the attention's query LayerNorm: softmax over
        # the query axis is invariant to a shift shared by all queries) hold rounding noise only (~1e-20);
        # their difference is measured against the largest gradient of the model instead.
        G = max(float(g.abs().max()) for g in g0.values())
        zero = {n for n in g0 if float(g0[n].abs().max()) <= 1e-12 * G}
        rg = {n: (float((g1[n] - g0[n]).abs().max()) / G if n in zero else _rel(g1[n], g0[n])) for n in g0}
        nmax = max(rg, key=rg.get)
        attn_names = [n for n in rg if ".to_k." in n or ".to_v." in n or ".to_q." in n]
        ra = max(rg[n] for n in attn_names)
        print(f"[{name} {mode}] loss {float(l0):.12f}: rel diff loss {rl:.2e}, embeddings {re:.2e}, "
              f"grads max {rg[nmax]:.2e} ({nmax}), to_q/to_k/to_v grads max {ra:.2e}, {len(rg)} params"
              + (f"; {len(zero)} analytically-zero grads ({', '.join(sorted(zero))}) vs largest grad: "
                 f"{max(rg[n] for n in zero):.2e}" if zero else ""))
        worst = max(worst, rl, re, rg[nmax])
        assert rl < tol and re < tol and rg[nmax] < tol, f"{name} {mode}: folded attention disagrees"
    return worst


def count_flops(opt, B, cnn=False):
    """GFLOP of one float32 forward + dive_loss + backward (FlopCounterMode), unfolded and folded."""
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    model = dive_model.DivE(opt).train()
    batch = make_batch(opt, B, cnn=cnn, seed=0)
    res = {}
    for label in ("unfolded", "folded"):
        if label == "folded":
            fold(model)
        model.zero_grad(set_to_none=True)
        fc = FlopCounterMode(display=False)
        with fc:
            img_emb, txt_emb, img_r, txt_r = model(*batch)
            loss = dive_model.dive_loss(img_emb, txt_emb, img_r, txt_r, opt)["loss"]
            loss.backward()
        res[label] = fc.get_total_flops() / 1e9
    unfold(model)
    return res


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-flops", action="store_true")
    ap.add_argument("--flops-batch", type=int, default=32)
    a = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    torch.backends.cuda.matmul.allow_tf32 = False
    default = dict(dive_model.DEFAULT_OPTIONS)
    worst = self_check("butd default (pad_mask official)", default)
    worst = max(worst, self_check("butd default, pad_mask strict", dict(default, pad_mask="strict")))
    try:
        import torchvision  # noqa: F401
        cnn = dict(default, embed_size=256, word_dim=128, img_num_embeds=4, txt_num_embeds=4,
                   cnn_type="resnet18", img_finetune=True, spm_img_pos_enc_type="sine")
        worst = max(worst, self_check("cnn18 + 2-D sine key PE", cnn, B=2, cnn=True))
    except ImportError:
        print("(torchvision missing: CNN self-check skipped)")
    print(f"self-check passed: max relative difference {worst:.2e} (tolerance 1e-10)")
    if not a.no_flops:
        f = count_flops(default, a.flops_batch)
        print(f"FLOPs of one forward+loss+backward, butd default, B={a.flops_batch} (FlopCounterMode, "
              f"float32): unfolded {f['unfolded']:.3f} GFLOP, folded {f['folded']:.3f} GFLOP "
              f"(saves {f['unfolded'] - f['folded']:.3f} GFLOP, {100 * (1 - f['folded'] / f['unfolded']):.1f}%)")


if __name__ == "__main__":
    main(sys.argv[1:])
