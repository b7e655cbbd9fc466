#!/usr/bin/env python3
"""Check dive_model.py numerically against the official DivE code (dev-only, CPU).

usage: verify_official.py --official DIR_OR_GITDIR [--seeds 3]

DIR_OR_GITDIR is a checkout of github.com/kdwonn/DivE or its bare git directory (files are
read with `git show HEAD:<file>`).  The official model_spm.py / agg_block / loss.py /
similarity.py / option.py are imported unchanged; only their environment is stubbed:
`torchvision` and `transformers` are empty modules, and `Tensor.cuda` is the identity so the
CUDA-only calls run on the CPU.  The official hard-coded sizes are used (img_dim 2048,
4 heads x 512) with small embed_size/word_dim/vocab, the options of train_eval_coco.sh,
and all dropouts 0; `--arch slot` and `--arch pvse` (PIE-Net); and the CNN image branch
(`--data_name coco --cnn_type resnet18 --img_finetune`, 64 x 64 images, max/avg pooled global
feature, with and without the 2-D sine key encoding; the official get_cnn is given torchvision's
ResNet with weights=None instead of downloading ImageNet weights).  Checked, in train mode
(one step, BN batch stats) and eval mode:
  * the state_dict key sets and shapes are identical (load_state_dict strict=True both ways),
  * embeddings, set predictions, i2t/t2i/mmd/unif losses, total loss, every gradient and
    the BN running stats after the step agree (max abs error printed, must be < 1e-4 rel).
The official text encoder needs length-sorted captions (pack_padded_sequence); they are
sorted and the outputs restored with the recovery index exactly as train.py does.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import types

import torch
import torchvision  # noqa: F401  (real module: the CNN check builds torchvision ResNets)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dive_model import DEFAULT_OPTIONS, DivE, dive_loss  # noqa: E402
from dive_reference import make_batch, perturb_norms  # noqa: E402

FILES = ["model_spm.py", "loss.py", "similarity.py", "option.py", "train_eval_coco.sh",
         "agg_block/agg_block.py", "agg_block/attention.py", "agg_block/pos_encoding.py"]


def read_official(src, f):
    p = os.path.join(src, f)
    if os.path.isfile(p):
        return open(p).read()
    return subprocess.check_output(["git", "--git-dir", src, "show", "HEAD:" + f], text=True)


def import_official(src):
    tmp = tempfile.mkdtemp(prefix="dive_official_")
    for f in FILES:
        os.makedirs(os.path.join(tmp, os.path.dirname(f)), exist_ok=True)
        with open(os.path.join(tmp, f), "w") as fh:
            fh.write(read_official(src, f))
    open(os.path.join(tmp, "agg_block", "__init__.py"), "w").close()
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))
    tr = types.ModuleType("transformers")
    tr.BertModel = object
    sys.modules.setdefault("transformers", tr)
    torch.Tensor.cuda = lambda self, *a, **k: self
    sys.path.insert(0, tmp)
    import model_spm, loss, similarity, option  # noqa: E401
    script = read_official(src, "train_eval_coco.sh").split("python3 eval.py")[0]
    args = shlex.split(script.replace("\\\n", " "))[2:]
    return model_spm, loss, similarity, option.parser.parse_args(args)


def official_opt(base, ours):
    o = argparse.Namespace(**vars(base))
    o.embed_size = o.spm_input_dim = o.spm_query_dim = ours["embed_size"]
    o.word_dim = ours["word_dim"]
    o.img_num_embeds, o.txt_num_embeds = ours["img_num_embeds"], ours["txt_num_embeds"]
    o.spm_depth, o.spm_weight_sharing = ours["spm_depth"], ours["spm_weight_sharing"]
    o.max_violation = ours["max_violation"]
    o.arch = ours.get("arch", "slot")
    o.dropout = o.img_1x1_dropout = 0.0
    o.wemb_type = "none"
    o.amp = False
    return o


def compare(tag, a, b, worst):
    a, b = a.detach().double(), b.detach().double()
    if a.shape != b.shape and a.numel() == b.numel() and a.dim() == 3 and a.shape[1] == 1:
        b = b.reshape(a.shape)  # official PIENet with K = 1 squeezes the set axis: (B, D)
    assert a.shape == b.shape, (tag, a.shape, b.shape)
    err = (a - b).abs().max().item() if a.numel() else 0.0
    # gradients that are analytically 0 (e.g. fc1.bias before BN) are rounding noise: floor 1e-3
    rel = err / max(b.abs().max().item(), 1e-3) if b.numel() else 0.0
    worst[0] = max(worst[0], rel)
    if rel > float(os.environ.get("VERIFY_SHOW", "1e-4")):
        print(f"  MISMATCH {tag}: max abs err {err:.3e} (rel {rel:.3e})")
    return rel


def check(model_spm, loss_mod, sim_mod, base, over, seed, B=3, N=5, T=7):
    opt = dict(DEFAULT_OPTIONS, img_dim=2048, embed_size=16, word_dim=12, vocab_size=40, spm_heads=4,
               spm_dim_head=512, dropout=0.0, img_1x1_dropout=0.0)
    opt.update(over)
    oo = official_opt(base, opt)
    cnn = opt.get("cnn_type", "none") != "none"
    if cnn:
        model_spm.get_cnn = lambda arch, pretrained: torchvision.models.__dict__[arch](weights=None)
        opt["img_dim"] = 512  # resnet18's layer4 channels
        oo.data_name, oo.cnn_type, oo.img_finetune, oo.grid_drop_prob = "coco", opt["cnn_type"], True, 0.0
        oo.img_res_pool, oo.spm_img_pos_enc_type = opt["img_res_pool"], opt["spm_img_pos_enc_type"]
    torch.manual_seed(seed)
    ours = DivE(opt)
    gen = torch.Generator().manual_seed(seed + 1)
    perturb_norms(ours, gen)
    word2idx = {f"w{i}": i for i in range(opt["vocab_size"])}
    off = model_spm.VSE(word2idx, oo)
    sd_ours, sd_off = ours.state_dict(), off.state_dict()
    assert set(sd_ours) == set(sd_off), (set(sd_ours) ^ set(sd_off))
    for k in sd_ours:
        assert sd_ours[k].shape == sd_off[k].shape, k
    off.load_state_dict(sd_ours, strict=True)
    batch = make_batch(opt, B, N, T, gen)
    img, il, cap, cl = batch["images"], batch["img_lengths"], batch["captions"], batch["cap_lengths"]
    if cnn:  # raw images (already normalised), no region lengths
        img, il = torch.randn(B, 3, 64, 64, generator=gen), None
    order = torch.argsort(cl, descending=True, stable=True)
    recovery = torch.argsort(order)
    sim = sim_mod.SetwiseSimilarity(oo.img_num_embeds, oo.txt_num_embeds, oo.denominator, oo.temperature)
    crit = loss_mod.TripletLoss(oo.img_num_embeds, oo.txt_num_embeds, sim.smooth_chamfer_similarity, oo, txt_per_img=5)
    worst = [0.0]
    # eval mode (original running stats)
    ours.eval(), off.eval()
    with torch.no_grad():
        a = ours(img, il, cap, cl)
        b = off(img, cap[order], il, cl[order])
    compare("eval.img_emb", a[0], b[0], worst)
    compare("eval.txt_emb", a[1], b[1][recovery], worst)
    # train step
    ours.train(), off.train()
    ie, te, ir, tr = ours(img, il, cap, cl)
    res = dive_loss(ie, te, ir, tr, opt)
    res["loss"].backward()
    oie, ote, _, _, oir, otr = off(img, cap[order], il, cl[order])
    ote, otr = ote[recovery], otr[recovery]
    oloss, olosses = crit(oie, ote, oir, otr)
    oloss.backward()
    for k, x, y in (("img_emb", ie, oie), ("txt_emb", te, ote), ("img_r", ir, oir), ("txt_r", tr, otr)):
        compare(k, x, y, worst)
    compare("loss", res["loss"], oloss, worst)
    compare("loss.i2t", res["loss.i2t"], olosses["i2t_loss"], worst)
    compare("loss.t2i", res["loss.t2i"], olosses["t2i_loss"], worst)
    compare("loss.mmd", res["loss.mmd"], olosses["mmd_loss"], worst)
    if "unif_loss" in olosses:
        compare("loss.unif", res["loss.unif"], torch.as_tensor(olosses["unif_loss"], dtype=torch.float32), worst)
    offp = dict(off.named_parameters())
    ng = 0
    for n, p in ours.named_parameters():
        if p.grad is None:
            assert offp[n].grad is None, n
            continue
        compare("grad." + n, p.grad, offp[n].grad, worst)
        ng += 1
    offb = dict(off.named_buffers())
    for n, bf in ours.named_buffers():
        if bf.dtype.is_floating_point:
            compare("after." + n, bf, offb[n], worst)
        else:
            assert int(bf) == int(offb[n]), n
    print(f"seed {seed} {over}: {len(sd_ours)} keys identical, {ng} grads; worst rel err {worst[0]:.2e}"
          f"; loss ours {res['loss'].item():.6f} official {oloss.item():.6f}")
    return worst[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--official", default="/work/.mirror/kdwonn+DivE/repo")
    ap.add_argument("--seeds", type=int, default=2)
    a = ap.parse_args()
    torch.use_deterministic_algorithms(False)
    model_spm, loss_mod, sim_mod, base = import_official(a.official)
    print(f"torch {torch.__version__}")
    variants = [dict(), dict(img_num_embeds=2, txt_num_embeds=2, spm_depth=1),
                dict(img_num_embeds=1, txt_num_embeds=1, spm_depth=2),
                dict(spm_depth=2, spm_weight_sharing=False, max_violation=False),
                dict(img_num_embeds=3, txt_num_embeds=2, spm_depth=2),
                dict(arch="pvse"), dict(arch="pvse", img_num_embeds=2, txt_num_embeds=3),
                dict(arch="pvse", img_num_embeds=1, txt_num_embeds=1, max_violation=False),
                dict(cnn_type="resnet18", img_finetune=True, img_res_pool="max", spm_img_pos_enc_type="sine",
                     img_num_embeds=2, txt_num_embeds=2, spm_depth=1),
                dict(cnn_type="resnet18", img_finetune=True, img_res_pool="avg", spm_img_pos_enc_type="none")]
    worst = 0.0
    for s in range(a.seeds):
        for v in variants:
            worst = max(worst, check(model_spm, loss_mod, sim_mod, base, v, 10 + s))
    print("OK" if worst < 1e-4 else "FAILED", f"worst rel err {worst:.2e}")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()
