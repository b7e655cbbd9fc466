"""PyTorch reference of the DivE BUTD + bi-GRU model (`--arch slot`, and the PIE-Net
baseline `--arch pvse`) and its loss.

Written from docs/MODEL.md and a reading of the official code (kdwonn/DivE @ f59bc1c);
no code copied. Module names mirror the official ones so that `state_dict()` keys are
exactly the official checkpoint keys (see dive_reference.py's docstring for the list).

Only the default script path is implemented: gpo_1x1 image MLP, img_res_first_fc +
max pooling, txt_pooling rnn, gpo_rnn, txt_attention_input wemb, spm_pre_norm,
spm_last_ln, spm_residual + spm_residual_norm, GELU FFN, learned queries, no image PE,
1-D sine text PE, smooth-Chamfer similarity.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

# Options with the official names; defaults = train_eval_coco.sh.  Values that are
# hard-coded in the official code carry a name of our own (img_dim, spm_heads,
# spm_dim_head, vocab_size, pad_mask).
DEFAULT_OPTIONS = dict(
    img_dim=2048,            # BUTD feature size (hard-coded 2048 officially)
    embed_size=1024,         # D; also spm_input_dim / spm_query_dim (1024 in the script)
    word_dim=300,
    vocab_size=11354,        # len(word2idx) incl. the appended <mask>
    img_num_embeds=4,
    txt_num_embeds=4,
    spm_depth=4,
    spm_weight_sharing=True,
    spm_heads=4,             # hard-coded in agg_block.py
    spm_dim_head=512,        # hard-coded in agg_block.py
    spm_ff_mult=4,           # official type float; hidden = int(D * mult)
    temperature=16.0,
    denominator=2.0,
    margin=0.2,
    max_violation=True,
    mmd_weight=0.01,
    unif_weight=0.01,
    unif_residual=True,
    dropout=0.1,             # word-emb, GRU outputs, attention to_out, FFN hidden
    img_1x1_dropout=0.1,     # spm_fc output dropout
    res_act_local_dropout=0.0,
    res_act_global_dropout=0.0,
    pad_mask="official",     # 'official' | 'strict' (ours, see Attention.forward)
    arch="slot",             # 'slot' (DivE set prediction) | 'pvse' (PIE-Net, PIENet below)
)


def l2norm(x):
    return F.normalize(x, p=2, dim=-1)  # x / max(||x||, 1e-12)


def pad_mask_from_lengths(max_len, lengths):
    """(B, max_len) bool, True at padded positions (index >= length)."""
    idx = torch.arange(max_len, device=lengths.device).unsqueeze(0)
    return idx >= lengths.unsqueeze(1)


def sine_pe_1d(batch, length, dim, device=None):
    """1-D sine PE (official PositionEmbeddingSine1D(dim, normalize=True)).

    p = 1..L, p_n = p / (L + 1e-6) * 2*pi with L the padded length of the batch;
    PE[2m] = sin(p_n / 10000^(2m/dim)), PE[2m+1] = cos(p_n / 10000^(2m/dim)).
    Returns (batch, L, dim) float32.
    """
    assert dim % 2 == 0
    pos = torch.arange(1, length + 1, dtype=torch.float32, device=device)
    pos = pos / (pos[-1:] + 1e-6) * (2 * math.pi)
    i = torch.arange(dim, dtype=torch.float32, device=device)
    dim_t = 10000.0 ** (2 * torch.div(i, 2, rounding_mode="floor") / dim)
    arg = pos[:, None] / dim_t  # (L, dim)
    pe = torch.empty_like(arg)
    pe[:, 0::2] = arg[:, 0::2].sin()
    pe[:, 1::2] = arg[:, 1::2].cos()
    return pe.unsqueeze(0).expand(batch, length, dim)


class Attention(nn.Module):
    """Cross attention, slots (queries) x context tokens (keys/values). Keys: to_q, to_k, to_v, to_out.0"""

    def __init__(self, query_dim, context_dim, heads, dim_head, dropout, pad_mask="official"):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.scale = dim_head ** -0.5
        self.pad_mask = pad_mask
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(dropout))

    def forward(self, x, context, mask=None, k_pos=None):
        b, nq, _ = x.shape
        nk = context.shape[1]
        h = self.heads
        q = self.to_q(x)
        k = self.to_k(context if k_pos is None else context + k_pos)
        v = self.to_v(context)
        # 'b n (h d) -> (b h) n d'
        q, k, v = (t.reshape(b, t.shape[1], h, -1).transpose(1, 2).reshape(b * h, t.shape[1], -1) for t in (q, k, v))
        sim = torch.bmm(q, k.transpose(1, 2)) * self.scale  # (b*h, nq, nk)
        if mask is not None:
            m = mask.reshape(b, 1, 1, nk).expand(b, h, 1, nk).reshape(b * h, 1, nk)
            sim = sim.masked_fill(m, -torch.finfo(sim.dtype).max)
        # softmax over the QUERY axis (slots compete for each token)
        attn = sim.softmax(dim=1)
        if mask is not None and self.pad_mask == "strict":
            # our clean variant: padded keys get exactly zero weight (and zero gradient)
            attn = attn.masked_fill(m, 0.0)
        # renormalise each query's weights over the keys
        attn = attn / (attn.sum(dim=-1, keepdim=True) + 1e-7)
        out = torch.bmm(attn, v)  # (b*h, nq, dh)
        out = out.reshape(b, h, nq, -1).transpose(1, 2).reshape(b, nq, -1)
        return self.to_out(out)


class FeedForward(nn.Module):
    """Keys: net.0 (D -> mult*D), net.3 (mult*D -> D); GELU (erf) and dropout between."""

    def __init__(self, dim, mult, dropout):
        super().__init__()
        hidden = int(dim * mult)
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Identity())

    def forward(self, x):
        return self.net(x)


class PreNorm(nn.Module):
    """Keys: norm.*, norm_context.* (attention only), fn.*"""

    def __init__(self, dim, fn, context_dim=None):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)
        if context_dim is not None:
            self.norm_context = nn.LayerNorm(context_dim)
        else:
            self.norm_context = None

    def forward(self, x, context=None, **kw):
        x = self.norm(x)
        if self.norm_context is not None:
            return self.fn(x, self.norm_context(context), **kw)
        return self.fn(x)


class AggregationBlock(nn.Module):
    """Keys: latents, layers.{i}.0 (PreNorm(Attention)), layers.{i}.2 (PreNorm(FeedForward)), last_layer.0 (LN).

    Slots 1 and 3 of each layer are the (disabled) post-norms: nn.Identity, no keys.
    With weight sharing the same module objects fill every layer index (state_dict lists
    them under every index; named_parameters() only under layers.0).
    """

    def __init__(self, depth, input_dim, latent_dim, num_latents, heads, dim_head, ff_mult, dropout,
                 weight_sharing, pad_mask):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, latent_dim))
        mk_attn = lambda: PreNorm(latent_dim, Attention(latent_dim, input_dim, heads, dim_head, dropout, pad_mask),
                                  context_dim=input_dim)
        mk_ff = lambda: PreNorm(latent_dim, FeedForward(latent_dim, ff_mult, dropout))
        self.layers = nn.ModuleList()
        shared = None
        for _ in range(depth):
            if weight_sharing:
                if shared is None:
                    shared = (mk_attn(), mk_ff())
                attn, ff = shared
            else:
                attn, ff = mk_attn(), mk_ff()
            self.layers.append(nn.ModuleList([attn, nn.Identity(), ff, nn.Identity()]))
        self.last_layer = nn.Sequential(nn.LayerNorm(latent_dim))

    def forward(self, data, mask=None, k_pos=None):
        x = self.latents.unsqueeze(0).expand(data.shape[0], -1, -1).to(data.dtype)
        for attn, _, ff, _ in self.layers:
            x = attn(x, context=data, mask=mask, k_pos=k_pos) + x
            x = ff(x) + x
        return self.last_layer(x)


class SetPredictionModule(nn.Module):
    """Keys: residual_norm.*, agg_block.*  Returns (out, set_prediction)."""

    def __init__(self, num_embeds, d_in, d_out, opt):
        super().__init__()
        self.num_embeds = num_embeds
        self.residual_norm = nn.LayerNorm(d_out)
        self.res_act_local_dropout = nn.Dropout(opt["res_act_local_dropout"])
        self.res_act_global_dropout = nn.Dropout(opt["res_act_global_dropout"])
        self.agg_block = AggregationBlock(
            depth=opt["spm_depth"], input_dim=d_in, latent_dim=d_out, num_latents=num_embeds,
            heads=opt["spm_heads"], dim_head=opt["spm_dim_head"], ff_mult=opt["spm_ff_mult"],
            dropout=opt["dropout"], weight_sharing=opt["spm_weight_sharing"], pad_mask=opt["pad_mask"])

    def forward(self, local_feat, global_feat, pad_mask=None, k_pos=None):
        r = self.res_act_local_dropout(self.agg_block(local_feat, mask=pad_mask, k_pos=k_pos))
        g = global_feat.unsqueeze(1).expand(-1, self.num_embeds, -1)
        out = self.residual_norm(self.res_act_global_dropout(g)) + r
        return out, r


class MultiHeadSelfAttention(nn.Module):
    """Keys: w_1.weight [d_h, d_in], w_2.weight [K, d_h] (no biases; xavier_uniform init).

    Structured self-attention (Lin et al. 2017): logits w_2(tanh(w_1 x)) of shape (B, N, K),
    padded positions -inf, softmax over the SEQUENCE axis, out_k = sum_n a[n,k] x_n -> (B, K, d_in).
    """

    def __init__(self, n_head, d_in, d_hidden):
        super().__init__()
        self.w_1 = nn.Linear(d_in, d_hidden, bias=False)
        self.w_2 = nn.Linear(d_hidden, n_head, bias=False)
        nn.init.xavier_uniform_(self.w_1.weight)
        nn.init.xavier_uniform_(self.w_2.weight)

    def forward(self, x, mask=None):
        logits = self.w_2(torch.tanh(self.w_1(x)))  # (B, N, K)
        if mask is not None:
            logits = logits.masked_fill(mask.unsqueeze(-1), float("-inf"))
        a = torch.softmax(logits, dim=1)
        return torch.bmm(a.transpose(1, 2), x)


class PIENet(nn.Module):
    """Keys: attention.w_1.weight, attention.w_2.weight, fc.{weight,bias}, layer_norm.{weight,bias}.

    r = Dropout(sigmoid(fc(attention(local)))) (B, K, d_out); out = LayerNorm(global + r).
    Returns (out, r) like SetPredictionModule (r feeds the diversity term). fc: xavier_uniform, bias 0.
    """

    def __init__(self, n_embeds, d_in, d_out, d_h, dropout=0.0):
        super().__init__()
        self.num_embeds = n_embeds
        self.attention = MultiHeadSelfAttention(n_embeds, d_in, d_h)
        self.fc = nn.Linear(d_in, d_out)
        self.dropout = nn.Dropout(dropout)
        self.layer_norm = nn.LayerNorm(d_out)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, local_feat, global_feat, pad_mask=None, k_pos=None):
        r = self.dropout(torch.sigmoid(self.fc(self.attention(local_feat, pad_mask))))
        out = self.layer_norm(global_feat.unsqueeze(1) + r)
        return out, r


class SequenceBN(nn.Module):
    """Key: bn.*  BatchNorm1d over all leading axes flattened (B*N tokens, padding included)."""

    def __init__(self, dim):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x):
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class MLP(nn.Module):
    """Keys: fc1.*, bn.bn.*, fc2.*"""

    def __init__(self, d_in, d_hidden, d_out):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.bn = SequenceBN(d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_out)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x))))


class EncoderImage(nn.Module):
    """Keys: fc.*, mlp.*, spm.*"""

    def __init__(self, opt):
        super().__init__()
        D = opt["embed_size"]
        self.fc = nn.Linear(opt["img_dim"], D)
        self.mlp = MLP(D, D // 2, D)
        self.img_1x1_dropout = nn.Dropout(opt["img_1x1_dropout"])
        if opt.get("arch", "slot") == "pvse":  # official: spm_input_dim (= D) in, hidden D // 2, no dropout
            self.spm = PIENet(opt["img_num_embeds"], D, D, D // 2)
        else:
            self.spm = SetPredictionModule(opt["img_num_embeds"], D, D, opt)

    def spm_fc(self, x):
        h = self.fc(x)
        return self.img_1x1_dropout(self.mlp(h) + h)

    def forward(self, images, lengths):
        B, N, _ = images.shape
        pad = pad_mask_from_lengths(N, lengths)
        local = self.spm_fc(images)     # 1st call: BN batch stats over B*N tokens, running stats update #1
        glob = self.spm_fc(images)      # 2nd call (official computes it again): running stats update #2
        glob = glob.masked_fill(pad.unsqueeze(-1), -torch.finfo(glob.dtype).max).max(dim=1)[0]
        out, r = self.spm(local, glob, pad_mask=pad)
        return l2norm(out), r


def sine_pe_2d(batch, h, w, dim, device=None):
    """2-D sine PE (official PositionEmbeddingSine2D(dim // 2, normalize=True)) on an h x w grid,
    cells row-major: channel block [0, dim/2) encodes the row (y) with sine_pe_1d(h, dim/2), block
    [dim/2, dim) the column (x) with sine_pe_1d(w, dim/2). Returns (batch, h*w, dim) float32."""
    assert dim % 4 == 0
    half = dim // 2
    py = sine_pe_1d(1, h, half, device)[0]  # (h, half)
    px = sine_pe_1d(1, w, half, device)[0]  # (w, half)
    pe = torch.cat([py[:, None, :].expand(h, w, half), px[None, :, :].expand(h, w, half)], dim=-1)
    return pe.reshape(1, h * w, dim).expand(batch, h * w, dim)


class EncoderImageCnn(nn.Module):
    """CNN branch (official EncoderImage without butd, docs/MODEL.md §2.6). Keys: cnn.* (torchvision
    ResNet without avgpool/fc), fc.*, mlp.*, spm.*. images (B, 3, H, W) normalised."""

    def __init__(self, opt):
        super().__init__()
        import torchvision
        D = opt["embed_size"]
        self.cnn = torchvision.models.__dict__[opt["cnn_type"]](weights=None)
        c_out = self.cnn.fc.in_features
        self.c_out = c_out
        self.cnn.avgpool = nn.Identity()   # official: empty Sequentials -> flattened layer4 map
        self.cnn.fc = nn.Identity()
        for prm in self.cnn.parameters():  # official: requires_grad = img_finetune
            prm.requires_grad = bool(opt.get("img_finetune", False))
        self.bn_eval = bool(opt.get("bn_eval", False))
        self.fc = nn.Linear(c_out, D)
        self.mlp = MLP(D, D // 2, D)
        self.img_1x1_dropout = nn.Dropout(opt["img_1x1_dropout"])
        self.pool = opt.get("img_res_pool", "max")
        self.pos = opt.get("spm_img_pos_enc_type", "none")
        self.pvse = opt.get("arch", "slot") == "pvse"
        if self.pvse:
            self.spm = PIENet(opt["img_num_embeds"], D, D, D // 2)
        else:
            self.spm = SetPredictionModule(opt["img_num_embeds"], D, D, opt)

    def train(self, mode=True):
        super().train(mode)
        if mode and self.bn_eval:
            for m in self.cnn.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def spm_fc(self, x):
        h = self.fc(x)
        return self.img_1x1_dropout(self.mlp(h) + h)

    def forward(self, images, lengths=None):
        B = images.shape[0]
        flat = self.cnn(images)                          # (B, C*h*w), channel-major
        s = int(round((flat.shape[1] / self.c_out) ** 0.5))  # square map, as the official view
        grid = flat.reshape(B, self.c_out, s, s).permute(0, 2, 3, 1)  # (B, h, w, C)
        cells = grid.reshape(B, s * s, self.c_out)
        local = self.spm_fc(cells)                       # no pad mask
        glob = self.spm_fc(cells)                        # 2nd call: BN running stats update #2
        glob = glob.max(dim=1)[0] if self.pool == "max" else glob.mean(dim=1)
        pe = None
        if not self.pvse and self.pos == "sine":
            pe = sine_pe_2d(B, s, s, local.shape[-1], device=local.device).to(local.dtype)
        out, r = self.spm(local, glob, pad_mask=None, k_pos=pe)
        return l2norm(out), r


class EncoderText(nn.Module):
    """Keys: embed.weight, rnn.{weight_ih,weight_hh,bias_ih,bias_hh}_l0[_reverse], spm.*"""

    def __init__(self, opt):
        super().__init__()
        D, W = opt["embed_size"], opt["word_dim"]
        self.embed = nn.Embedding(opt["vocab_size"], W)
        self.rnn = nn.GRU(W, D, bidirectional=True, batch_first=True)
        self.dropout = nn.Dropout(opt["dropout"])
        self.pvse = opt.get("arch", "slot") == "pvse"
        if self.pvse:  # official: word_dim in, hidden word_dim // 2, opt.dropout; no positional encoding
            self.spm = PIENet(opt["txt_num_embeds"], W, D, W // 2, opt["dropout"])
        else:
            self.spm = SetPredictionModule(opt["txt_num_embeds"], W, D, opt)

    def forward(self, captions, lengths):
        n, T = captions.shape
        w = self.dropout(self.embed(captions))
        # packed: each caption's reverse direction starts at its own last valid token.
        packed = pack_padded_sequence(w, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(packed)              # (2, n, D), in the input (unsorted) order
        g = self.dropout((h_n[0] + h_n[1]) / 2)
        pad = pad_mask_from_lengths(T, lengths)
        pe = None if self.pvse else sine_pe_1d(n, T, w.shape[-1], device=w.device)
        out, r = self.spm(w, g, pad_mask=pad, k_pos=pe)
        return l2norm(out), r


class DivE(nn.Module):
    """Top level; state_dict keys img_enc.* and txt_enc.* as in the official VSE module."""

    def __init__(self, opt):
        super().__init__()
        self.opt = dict(opt)
        cnn = self.opt.get("cnn_type", "none")
        self.img_enc = EncoderImageCnn(self.opt) if cnn not in ("none", "", None) else EncoderImage(self.opt)
        self.txt_enc = EncoderText(self.opt)

    def forward(self, images, img_lengths, captions, cap_lengths):
        img_emb, img_r = self.img_enc(images, img_lengths)
        txt_emb, txt_r = self.txt_enc(captions, cap_lengths)
        return img_emb, txt_emb, img_r, txt_r


# ----------------------------------------------------------------------------- loss

def smooth_chamfer(img_emb, txt_emb, alpha, denominator):
    """img_emb (Bi,Ki,D), txt_emb (Bt,Kt,D), L2-normalised -> (Bi,Bt)."""
    Bi, Ki, D = img_emb.shape
    Bt, Kt, _ = txt_emb.shape
    M = (img_emb.reshape(-1, D) @ txt_emb.reshape(-1, D).t()).reshape(Bi, Ki, Bt, Kt) * alpha
    first = torch.logsumexp(M, dim=3).sum(dim=1)   # sum_k LSE_l
    second = torch.logsumexp(M, dim=1).sum(dim=2)  # sum_l LSE_k
    return (first / (Ki * alpha) + second / (Kt * alpha)) / denominator


def _cdist(x, y):
    # exact difference-based distance; torch gives subgradient 0 where the distance is 0
    return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")


def mmd_loss(x, y, gamma=0.5):
    """Biased MMD with the Laplacian-type kernel exp(-gamma*||x-y||) (distance NOT squared)."""
    k = lambda a, b: torch.exp(-gamma * _cdist(a, b)).mean()
    return k(x, x) - 2 * k(x, y) + k(y, y)


def uniformity_loss(e, t=2.0):
    """e (n,K,D): mean over samples of sum_{k<l} exp(-t*||e_k-e_l||^2) / (K(K-1)/2); 0 for K=1."""
    n, K, _ = e.shape
    if K == 1:
        return e.new_zeros(())
    r = torch.exp(-t * _cdist(e, e).pow(2))
    iu = torch.triu_indices(K, K, offset=1, device=e.device)
    return (r[:, iu[0], iu[1]].sum(dim=1) / (K * (K - 1) * 0.5)).mean()


def dive_loss(img_emb, txt_emb, img_r, txt_r, opt, txt_per_img=5):
    """img_emb (B,K,D), txt_emb (5B,K,D) image-major (caption j belongs to image j//5).
    Returns dict: loss, loss.i2t, loss.t2i, loss.mmd, loss.unif, sim."""
    B = img_emb.shape[0]
    S = smooth_chamfer(img_emb, txt_emb, opt["temperature"], opt["denominator"])  # (B, 5B)
    m = opt["margin"]
    pos_mask = torch.zeros(B, B * txt_per_img, dtype=torch.bool, device=S.device)
    for i in range(B):
        pos_mask[i, i * txt_per_img:(i + 1) * txt_per_img] = True
    # i2t: (5,B,1) positives vs (1,B,5B-5) negatives
    i2t_pos = S[pos_mask].view(B, txt_per_img, 1).permute(1, 0, 2)
    i2t_neg = S[~pos_mask].view(1, B, -1)
    i2t = (m + i2t_neg - i2t_pos).clamp(min=0)
    i2t = (i2t.max(dim=2)[0] if opt["max_violation"] else i2t).mean()
    # t2i: (5B,1) positive vs (5B,B-1) negatives
    St, Mt = S.t(), pos_mask.t()
    t2i_pos = St[Mt].reshape(St.shape[0], 1)
    t2i_neg = St[~Mt].reshape(St.shape[0], -1)
    t2i = (m + t2i_neg - t2i_pos).clamp(min=0)
    t2i = (t2i.max(dim=1)[0] if opt["max_violation"] else t2i).mean()
    D = img_emb.shape[-1]
    mmd = mmd_loss(img_emb.reshape(-1, D), txt_emb.reshape(-1, D), gamma=0.5)
    if opt["unif_residual"]:
        ui, ut = l2norm(img_r), l2norm(txt_r)
    else:
        ui, ut = img_emb, txt_emb
    unif = uniformity_loss(ui) + uniformity_loss(ut)
    loss = i2t + t2i
    if opt["mmd_weight"] > 0:
        loss = loss + opt["mmd_weight"] * mmd
    if opt["unif_weight"] > 0:
        loss = loss + opt["unif_weight"] * unif
    return {"loss": loss, "loss.i2t": i2t, "loss.t2i": t2i, "loss.mmd": mmd, "loss.unif": unif, "sim": S}
