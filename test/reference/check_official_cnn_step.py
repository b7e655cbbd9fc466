#!/usr/bin/env python3
"""Dev-only end-to-end check, as a new user would do it: the OFFICIAL DivE model with --data_name coco
--cnn_type resnet18 (random init, dropouts 0; torchvision ResNet with weights=None instead of the ImageNet
download), saved as an official checkpoint, converted with tools/convert/convert_official.py, and run by
`dive step` on the same batch (images [3, 3, 64, 64]): embeddings, loss terms and every gradient must
agree within 1e-4 relative error.
Usage: python3 test/reference/check_official_cnn_step.py [device=cpu] [dive binary=build/tools/dive]
Files go to /tmp/e2e. Needs torch + torchvision and the official code (its bare git mirror)."""
import os, subprocess, sys
import torch, torchvision
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.makedirs("/tmp/e2e", exist_ok=True)
import verify_official as vo
from st_io import save_safetensors, load_safetensors
model_spm, loss_mod, sim_mod, base = vo.import_official("/work/.mirror/kdwonn+DivE/repo")
model_spm.get_cnn = lambda arch, pretrained: torchvision.models.__dict__[arch](weights=None)
opt = dict(vo.DEFAULT_OPTIONS, embed_size=32, word_dim=16, img_num_embeds=2, txt_num_embeds=2, spm_depth=2,
           dropout=0.0, img_1x1_dropout=0.0)
oo = vo.official_opt(base, opt)
oo.data_name, oo.cnn_type, oo.img_finetune, oo.grid_drop_prob = "coco", "resnet18", True, 0.0
oo.img_res_pool, oo.spm_img_pos_enc_type, oo.crop_size = "max", "sine", 64
torch.manual_seed(5)
V = 60
off = model_spm.VSE({f"w{i}": i for i in range(V)}, oo)
torch.save({"args": oo, "epoch": 0, "best_score": 0.0, "model": off.state_dict()}, "/tmp/e2e/ckpt.pth.tar")
g = torch.Generator().manual_seed(6)
B, T = 3, 7
img = torch.randn(B, 3, 64, 64, generator=g)
cl = torch.randint(3, T + 1, (5 * B,), generator=g); cl[0] = T
cap = torch.zeros(5 * B, T, dtype=torch.long)
for j in range(5 * B):
    cap[j, 0] = 1; cap[j, 1:cl[j] - 1] = torch.randint(4, V, (int(cl[j]) - 2,), generator=g); cap[j, cl[j] - 1] = 2
save_safetensors("/tmp/e2e/batch.safetensors", {"images": img, "captions": cap, "cap_lengths": cl})
order = torch.argsort(cl, descending=True, stable=True); rec = torch.argsort(order)
sim = sim_mod.SetwiseSimilarity(oo.img_num_embeds, oo.txt_num_embeds, oo.denominator, oo.temperature)
crit = loss_mod.TripletLoss(oo.img_num_embeds, oo.txt_num_embeds, sim.smooth_chamfer_similarity, oo, txt_per_img=5)
off.train()
oie, ote, _, _, oir, otr = off(img, cap[order], None, cl[order])
ote, otr = ote[rec], otr[rec]
oloss, ol = crit(oie, ote, oir, otr)
oloss.backward()
subprocess.check_call([sys.executable, os.path.join(ROOT, "tools", "convert_official.py"), "/tmp/e2e/ckpt.pth.tar", "--out", "/tmp/e2e/off"])
print(open("/tmp/e2e/off.ini").read())
subprocess.check_call([sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build", "tools", "dive"), "step", "--config", "/tmp/e2e/off.ini", "--weights", "/tmp/e2e/off.safetensors",
                       "--batch", "/tmp/e2e/batch.safetensors", "--out", "/tmp/e2e/step.safetensors", "--device", sys.argv[1] if len(sys.argv) > 1 else "cpu"])
got = load_safetensors("/tmp/e2e/step.safetensors")[0]
worst = [0.0]
def cmp(tag, a, b):
    a, b = a.double(), b.detach().double()
    rel = (a - b).abs().max().item() / max(b.abs().max().item(), 1e-3)
    worst[0] = max(worst[0], rel)
    if rel > 1e-4: print("MISMATCH", tag, rel)
cmp("img_emb", got["img_emb"], oie); cmp("txt_emb", got["txt_emb"], ote)
cmp("loss", got["loss"], oloss); cmp("loss.i2t", got["loss.i2t"], ol["i2t_loss"]); cmp("loss.t2i", got["loss.t2i"], ol["t2i_loss"])
cmp("loss.mmd", got["loss.mmd"], ol["mmd_loss"])
n = 0
for name, p in off.named_parameters():
    if p.grad is None: continue
    key = "grad." + name
    if key not in got: print("missing", key); worst[0] = 1; continue
    cmp(key, got[key], p.grad); n += 1
print(f"dive step vs the official model (cnn_type resnet18): {n} gradients, embeddings, losses; worst rel err {worst[0]:.2e}",
      "OK" if worst[0] < 1e-4 else "FAILED")
sys.exit(0 if worst[0] < 1e-4 else 1)
