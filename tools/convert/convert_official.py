#!/usr/bin/env python3
"""Converts an official DivE checkpoint (.pth.tar: {'args', 'epoch', 'best_score', 'model'}) into the
files dive reads: WEIGHTS.safetensors (the state_dict, official key names, unchanged) and an INI file of
the model options for `--config`.

User tool, needs torch on the user's machine (pip install torch); dive itself never needs Python.

  python3 tools/convert/convert_official.py ckpt.pth.tar --out model    # writes model.safetensors, model.ini
  dive step --config model.ini --weights model.safetensors --batch batch.safetensors --out o.safetensors
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "reference"))
from st_io import save_safetensors  # noqa: E402

# Official option names that describe the model and loss (dive's model options). Anything else in the
# checkpoint's args (paths, schedule, logging) is recorded in the metadata only.
MODEL_OPTIONS = [
    "embed_size", "word_dim", "img_num_embeds", "txt_num_embeds", "arch", "spm_depth", "spm_weight_sharing",
    "spm_ff_mult", "spm_activation", "spm_pre_norm", "spm_last_ln", "spm_residual", "spm_residual_norm",
    "spm_txt_pos_enc_type", "spm_img_pos_enc_type", "gpo_1x1", "gpo_rnn", "txt_attention_input",
    "txt_pooling", "img_res_pool", "img_res_first_fc", "dropout", "img_1x1_dropout", "res_act_local_dropout",
    "res_act_global_dropout", "loss", "eval_similarity", "temperature", "denominator", "margin",
    "max_violation", "mmd_weight", "unif_weight", "unif_residual",
    # the CNN image branch (raw images: --data_name coco|f30k)
    "cnn_type", "img_finetune", "bn_eval", "crop_size",
    # not official flags (hard-coded there), but present in checkpoints of modified code or our reference
    "spm_heads", "spm_dim_head", "pad_mask",
]


def ini_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="official .pth.tar checkpoint")
    ap.add_argument("--out", required=True, help="output prefix: writes PREFIX.safetensors and PREFIX.ini")
    a = ap.parse_args()
    try:
        ckpt = torch.load(a.checkpoint, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001
        sys.exit(f"error: {a.checkpoint}: cannot be read as a PyTorch checkpoint ({e})")
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        sys.exit(f"error: {a.checkpoint}: expected a dict with a 'model' state_dict (an official DivE checkpoint)")
    sd = {k: v for k, v in ckpt["model"].items() if torch.is_tensor(v)}
    args = vars(ckpt["args"]) if "args" in ckpt and hasattr(ckpt["args"], "__dict__") else dict(ckpt.get("args", {}))
    opts = {k: args[k] for k in MODEL_OPTIONS if k in args}
    # The official code picks the image branch by --data_name (BUTD region features when it contains
    # 'butd', else the CNN --cnn_type on raw images); dive picks it by cnn_type alone.
    if "butd" in str(args.get("data_name", "coco_butd")) or not any(k.startswith("img_enc.cnn.") for k in sd):
        for k in ("cnn_type", "img_finetune", "bn_eval", "crop_size"):
            opts.pop(k, None)
    elif float(args.get("grid_drop_prob", 0) or 0) > 0:
        print(f"note: the checkpoint was trained with --grid_drop_prob {args['grid_drop_prob']} (a training-time "
              "augmentation dive does not implement; inference and dive step are unaffected)")
    # sizes the official code hard-codes or derives from the data: read them off the weights
    if "img_enc.fc.weight" in sd:
        opts["img_dim"] = sd["img_enc.fc.weight"].shape[1]
    if "txt_enc.embed.weight" in sd:
        opts["vocab_size"] = sd["txt_enc.embed.weight"].shape[0]
    q = "img_enc.spm.agg_block.layers.0.0.fn.to_q.weight"
    if q in sd:  # official agg_block.py hard-codes 4 heads x 512
        opts.setdefault("spm_heads", 4)
        opts["spm_dim_head"] = sd[q].shape[0] // int(opts["spm_heads"])
    meta = {"source": os.path.basename(a.checkpoint), "epoch": str(ckpt.get("epoch", "")),
            "best_score": str(ckpt.get("best_score", "")),
            "args": json.dumps({k: v for k, v in args.items() if isinstance(v, (int, float, str, bool, type(None)))})}
    save_safetensors(a.out + ".safetensors", sd, meta)
    with open(a.out + ".ini", "w") as f:
        f.write(f"# converted from {os.path.basename(a.checkpoint)} (epoch {meta['epoch']})\n")
        for k in sorted(opts):
            f.write(f"{k} = {ini_value(opts[k])}\n")
    print(f"wrote {len(sd)} tensors to {a.out}.safetensors and {len(opts)} options to {a.out}.ini")


if __name__ == "__main__":
    main()
