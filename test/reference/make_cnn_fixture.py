"""Fixture for test/test_model_cnn.cpp: the DivE CNN image branch (docs/MODEL.md §2.6; cnn_type resnet18,
torchvision ResNet without avgpool/fc, layer4 grid cells through spm_fc, 2-D sine key PE, max-pooled
global feature) + the bi-GRU text tower, at tiny dims (embed 16, word_dim 12, vocab 50, K 2, depth 1,
2 heads x 8, dropouts 0), images [2, 3, 64, 64] (2 x 2 grid cells), captions [10, 5].

Nothing big is stored: every state_dict entry, the ResNet's included, comes from det_init.py's formula
(C++ twin: dive::tools::deterministic_init). The expected file has the format of
test/data/model_default (det_init.run_compact): initbits.<key>, eval.img_emb / eval.txt_emb (eval
mode, initial weights), img_emb, txt_emb, img_r, txt_r, sim, loss terms (f64), gradsum/gradproj/
gradnoise.<param> and after.<buffer> of one training step computed in float64 from the float32
weights and batch. Metadata: torch/torchvision versions, seed, options.
Usage: python3 test/reference/make_cnn_fixture.py [out_dir]   (default test/data/model_cnn)
"""
import json
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from det_init import run_compact  # noqa: E402
from dive_model import DEFAULT_OPTIONS  # noqa: E402
from dive_reference import ini_text, make_batch  # noqa: E402
from st_io import save_safetensors  # noqa: E402

NAME = "cnn_resnet18"
SEED = 17
B, H, W, T = 2, 64, 64, 5
OPTIONS = dict(DEFAULT_OPTIONS, img_dim=512, embed_size=16, word_dim=12, vocab_size=50, img_num_embeds=2,
               txt_num_embeds=2, spm_depth=1, spm_heads=2, spm_dim_head=8, dropout=0.0, img_1x1_dropout=0.0,
               res_act_local_dropout=0.0, res_act_global_dropout=0.0, cnn_type="resnet18", img_finetune=True,
               bn_eval=False, img_res_pool="max", spm_img_pos_enc_type="sine")


def make_cnn_batch(opt, seed):
    gen = torch.Generator().manual_seed(seed)
    text = make_batch(opt, B, 1, T, gen)  # captions and lengths (its region features are unused)
    images = torch.randn(B, 3, H, W, generator=gen)
    return {"images": images.float(), "captions": text["captions"], "cap_lengths": text["cap_lengths"]}


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    batch, exp = run_compact(OPTIONS, SEED, batch=make_cnn_batch(OPTIONS, SEED))
    meta = {"torch_version": torch.__version__, "torchvision_version": torchvision.__version__, "seed": str(SEED),
            "batch": str(B), "image_size": f"{H}x{W}", "max_len": str(T),
            "init": "deterministic (test/reference/det_init.py)", "reference_dtype": "float64 (gradnoise.*: float32 run)",
            "options": json.dumps(OPTIONS, sort_keys=True), "generator": "test/reference/make_cnn_fixture.py"}
    paths = []
    for suffix, tensors in (("batch", batch), ("expected", exp)):
        p = os.path.join(out_dir, f"{NAME}.{suffix}.safetensors")
        save_safetensors(p, tensors, meta)
        paths.append(p)
    p = os.path.join(out_dir, f"{NAME}.ini")
    with open(p, "w") as f:
        f.write(ini_text(OPTIONS))
    paths.append(p)
    ngrad = sum(1 for k in exp if k.startswith("gradsum."))
    print(f"{NAME}: loss={float(exp['loss']):.6f} (i2t {float(exp['loss.i2t']):.6f}, t2i {float(exp['loss.t2i']):.6f},"
          f" mmd {float(exp['loss.mmd']):.6f}, unif {float(exp['loss.unif']):.6f}), {ngrad} gradient summaries,"
          f" {sum(os.path.getsize(p) for p in paths)} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                          "test", "data", "model_cnn"))
