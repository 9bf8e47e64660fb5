"""Reference values for unseal-wasm's analysis helpers on the GPT-2 goldens.

For the configurations tiny, odd and wide (not wide_f16), this script loads
tests/golden/gpt2/<cfg>/ with gpt2_reference.load_hf_folder, takes
golden.safetensors' `input_ids` (I32 [B, T]) and writes, next to them:

  analysis.safetensors   logit hooks (block output and split heads, with and
                         without ln_f), attention-logit attribution, an
                         activation replacement, a hidden-state patch, an
                         attention-pattern capture and logit-lens summaries
                         (top ids/probs, rank of the true next token, KL to
                         the final layer)
  analysis.json          shape, dtype and a one-line definition per entry,
                         the parameters used and tolerance notes

The definitions are in tests/golden/gpt2/ANALYSIS.md. Run it from the
repository root with Debian's PyTorch, after make_gpt2_golden.py (which
deletes and rewrites the whole <cfg>/ folders, analysis files included):

    /usr/bin/python3 tests/golden/make_gpt2_analysis_golden.py

Seeds are fixed, torch runs single-threaded and the safetensors writer is
make_gpt2_golden.py's deterministic one, so a rerun with the same torch build
gives the same bytes. The script ends with a self-check that:
  * re-reads every analysis.safetensors / analysis.json with a reader written
    here (shared with neither writer nor gpt2_reference.read_safetensors) and
    compares it byte for byte with what was meant to be written;
  * checks that the folder's model reproduces golden.safetensors (logits,
    lens.logprobs, the activations used here) bit for bit;
  * recomputes every entry with an independent float64 numpy GPT-2 built from
    model.safetensors, and checks each float entry is within
    1e-5 * max(1, max|value|) of it (the errors go into analysis.json) and
    each integer entry is equal to it;
  * checks identities between entries (head contributions + c_proj bias ==
    attention output, attribution summed over keys == the head's direct
    logit, causality of the replace / patch edits).
"""

import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep tests/golden free of __pycache__
sys.path.insert(0, HERE)
import gpt2_reference as ref  # noqa: E402
import make_gpt2_golden as mg  # noqa: E402  (writer, recorded run)

OUT_DIR = os.path.join(HERE, "gpt2")
GENERATOR = "tests/golden/make_gpt2_analysis_golden.py"
CFGS = ["tiny", "odd", "wide"]
SEED_OFFSET = 1000          # value seed = golden seed + 1000
FILE_LIMIT = 300_000        # per analysis.safetensors
TOTAL_LIMIT = 3_600_000     # all of tests/golden/gpt2
TINY = 1e-30
CLOSE_GAP = 1e-5            # logprob gaps below this are listed as close calls
# Suggested absolute tolerances for an f32 engine. The small-valued entries
# (|value| ~1e-3) get a tighter atol than the logit-sized ones, otherwise
# real bugs (reversed KL, uncentred u_q, ...) hide inside 1e-5.
SMALL_ATOL = {"logit_hook.heads": 1e-6, "logit_hook.heads_noln": 1e-6,
              "attn_attr.raw": 1e-6, "attn_attr_noln.raw": 1e-6,
              "lens.kl": 5e-6}

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

# Parameters of each helper call.
LH_RESID = dict(layer=0, position=[1, 3], target=[0, 5, 7])
LH_HEADS = dict(position=[2], target=[4, 9])          # layer = l1
REPLACE_POINT_FMT, REPLACE_POS = "transformer->h->0->mlp", 2
PATCH_POS = 3                                          # block l1


def params_for(cfg):
    L, H = cfg.n_layer, cfg.n_head
    l1 = min(1, L - 1)
    heads = [0, H - 1] if H > 1 else [0]
    return dict(l1=l1, heads=heads)


def definitions(cfg, p):
    """name -> one-line definition (the brief's wording, l1/heads filled in)."""
    l1, heads = p["l1"], p["heads"]
    H = cfg.n_head
    return {
        "logit_hook.resid":
            "createLogitHook(layer=0, position=[1, 3], target=[0, 5, 7], "
            "applyLnF=True): x = output of transformer->h->0 [B, T, C], "
            "positions [1, 3] -> [B, 2, C]; logits = ln_f(x) @ W_U^T -> "
            "[B, 2, V]; targets [0, 5, 7] -> [B, 2, 3]",
        "logit_hook.resid_noln":
            "same as logit_hook.resid with applyLnF=False: logits = x @ W_U^T "
            "(no ln_f)",
        "logit_hook.heads":
            "createLogitHook(layer=%d, position=[2], target=[4, 9], "
            "splitHeads=True, applyLnF=True): z = transformer->h->%d->attn->z "
            "[B, T, H, hs] at positions [2] -> [B, 1, H, hs]; contrib[b, h, p] "
            "= z[b, p, h] @ W_O[h*hs:(h+1)*hs] (no bias) -> [B, H, 1, C]; "
            "contrib = (contrib - contrib.mean(-1)) * w_f (no 1/sigma, no "
            "b_f); logits = contrib @ W_U^T -> [B, H, 1, V]; targets [4, 9] "
            "-> [B, H, 1, 2]" % (l1, l1),
        "logit_hook.heads_noln":
            "same as logit_hook.heads with applyLnF=False: logits = "
            "contrib @ W_U^T (no centring, no w_f)",
        "attn_attr.raw":
            "attention-logit attribution at layer %d, batch row 0, "
            "applyLnF=True: t_q = ids[0, q+1], q = 0..T-2; u_q = W_U[t_q] - "
            "W_U.mean(0); vo[h, k] = v[0, h, k] @ W_O[h*hs:(h+1)*hs] -> "
            "[H, T, C]; r_final = input of ln_f at row 0; sigma_q = "
            "sqrt(mean((r_final[q] - mean r_final[q])^2) + eps); c[h, q, k] "
            "= (vo[h, k] - vo[h, k].mean()) / sigma_q * w_f; raw[h, q, k] = "
            "pattern[0, h, q, k] * (c[h, q, k] . u_q) -> [H, T-1, T] "
            "(keys k > q: 0); computed in float64 from the f32 activations "
            "and weights, stored f32" % l1,
        "attn_attr.pos":
            "clamp(raw / max(raw.max(), 1e-30), 0, 1) with raw = "
            "attn_attr.raw in float64 and the max over the whole "
            "[H, T-1, T] tensor; stored f32",
        "attn_attr.neg":
            "clamp(-raw / max((-raw).max(), 1e-30), 0, 1) with raw = "
            "attn_attr.raw in float64 and the max over the whole "
            "[H, T-1, T] tensor; stored f32",
        "attn_attr_noln.raw":
            "attn_attr.raw with applyLnF=False: c[h, q, k] = vo[h, k] (no "
            "centring, no sigma, no w_f); raw[h, q, k] = pattern[0, h, q, k] "
            "* (vo[h, k] . u_q), u_q still centred over the vocabulary; "
            "float64, stored f32",
        "replace.value":
            "[C]: 0.5 * randn(C) from torch.Generator seeded with the golden "
            "seed + %d" % SEED_OFFSET,
        "replace.logits":
            "logits [B, T, V] for input_ids with the output of "
            "transformer->h->0->mlp [B, T, C] at [:, 2, :] replaced by "
            "replace.value (broadcast over the batch)",
        "hidden_patch.value":
            "[B, C]: 0.5 * randn(B, C), drawn from the same generator right "
            "after replace.value",
        "hidden_patch.logits":
            "logits [B, T, V] for input_ids with the output of "
            "transformer->h->%d at [..., 3, :] replaced by hidden_patch.value "
            "(row b -> batch row b)" % l1,
        "get_attention.attn":
            "transformer->h->%d->attn->pattern[:, %s] -> [B, %d, T, T] "
            "(heads [0, H-1] = %s, or [0] if H == 1)"
            % (l1, heads, len(heads), heads),
        "lens.top_ids":
            "I32 [L+1, B, T]: argmax over V of logprobs_l (ties: lowest id), "
            "logprobs_l = log_softmax(ln_f(r_l) @ W_U^T) with r_l = input of "
            "block l (l < L; r_0 = output of transformer->drop), r_L = input "
            "of ln_f; logprobs == golden.safetensors' lens.logprobs",
        "lens.top_probs":
            "[L+1, B, T]: exp(logprobs_l[top_ids]) (f32 exp of the f32 "
            "logprob)",
        "lens.rank":
            "I32 [L+1, B, T-1]: number of vocab ids whose logprob is strictly "
            "greater than the logprob of the true next token ids[b, t+1] "
            "(f32 logprobs)",
        "lens.kl":
            "[L+1, B, T]: sum_v p_L(v) * (logp_L(v) - logp_l(v)), p_L the "
            "final layer's distribution (kl[L] = 0); float64 sum over the "
            "f32 logprobs, stored f32",
    }


# ------------------------------------------------------------- torch (f32) --

def set_pos(pos, value):
    """Module edit: output[..., pos, :] = value (broadcast from the right)."""
    def f(out):
        out = out.clone()
        out[..., pos, :] = value
        return out
    return f


def compute(model, ids, golden, seed):
    """All analysis entries for one folder: list of (name, numpy array)."""
    cfg = model.config
    L, H, C, V = cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size
    B, T = ids.shape
    hs = C // H
    p = params_for(cfg)
    l1 = p["l1"]
    eps = cfg.layer_norm_epsilon

    logits, recs = mg.run(model, ids)
    out = {n: o for n, _, o in recs}
    inp = {n: i for n, i, _ in recs if i is not None}
    assert logits.numpy().tobytes() == golden["out.lm_head"].tobytes()
    for k in ("transformer->h->0", "transformer->h->%d->attn->z" % l1,
              "transformer->h->%d->attn->v" % l1,
              "transformer->h->%d->attn->pattern" % l1):
        assert out[k].numpy().tobytes() == golden["out." + k].tobytes(), k
    assert inp["transformer->ln_f"].numpy().tobytes() == \
        golden["in.transformer->ln_f"].tobytes()

    ln_f = model.transformer.ln_f
    W_U = model.transformer.wte.weight.detach()
    w_f = ln_f.weight.detach()
    W_O = model.transformer.h[l1].attn.c_proj.weight.detach()
    res = []

    with torch.no_grad():
        # 1, 2: logit hook on the block output
        x = out["transformer->h->%d" % LH_RESID["layer"]][:, LH_RESID["position"], :]
        tgt = LH_RESID["target"]
        res.append(("logit_hook.resid", model.lm_head(ln_f(x))[..., tgt]))
        res.append(("logit_hook.resid_noln", model.lm_head(x)[..., tgt]))

        # 3, 4: split heads on z
        z = out["transformer->h->%d->attn->z" % l1][:, LH_HEADS["position"]]  # [B, P, H, hs]
        contrib = torch.stack([z[:, :, h, :] @ W_O[h * hs:(h + 1) * hs]
                               for h in range(H)], dim=1)                    # [B, H, P, C]
        c_ln = (contrib - contrib.mean(-1, keepdim=True)) * w_f
        tgt = LH_HEADS["target"]
        res.append(("logit_hook.heads", model.lm_head(c_ln)[..., tgt]))
        res.append(("logit_hook.heads_noln", model.lm_head(contrib)[..., tgt]))

    # 5, 6: attention-logit attribution, float64
    a = "transformer->h->%d->attn->" % l1
    raw_ln, raw_noln = attn_attr_np(
        v=out[a + "v"][0].double().numpy(),
        pat=out[a + "pattern"][0].double().numpy(),
        W_O=W_O.double().numpy(), W_U=W_U.double().numpy(),
        w_f=w_f.double().numpy(),
        r_final=inp["transformer->ln_f"][0].double().numpy(),
        ids0=ids[0].numpy(), H=H, eps=eps)
    pos, neg = pos_neg(raw_ln)
    res += [("attn_attr.raw", raw_ln), ("attn_attr.pos", pos),
            ("attn_attr.neg", neg), ("attn_attr_noln.raw", raw_noln)]

    # 7, 8: replace / hidden patch
    g = torch.Generator().manual_seed(seed)
    rep_value = 0.5 * torch.randn(C, generator=g)
    patch_value = 0.5 * torch.randn(B, C, generator=g)
    replaced, _ = mg.run(model, ids, module_edits={
        REPLACE_POINT_FMT: set_pos(REPLACE_POS, rep_value)})
    patched, _ = mg.run(model, ids, module_edits={
        "transformer->h->%d" % l1: set_pos(PATCH_POS, patch_value)})
    assert torch.equal(replaced[:, :REPLACE_POS], logits[:, :REPLACE_POS])
    assert torch.equal(patched[:, :PATCH_POS], logits[:, :PATCH_POS])
    assert not torch.equal(replaced[:, REPLACE_POS:], logits[:, REPLACE_POS:])
    assert not torch.equal(patched[:, PATCH_POS:], logits[:, PATCH_POS:])
    res += [("replace.value", rep_value), ("replace.logits", replaced),
            ("hidden_patch.value", patch_value), ("hidden_patch.logits", patched)]

    # 9: attention pattern of two heads
    res.append(("get_attention.attn", out[a + "pattern"][:, p["heads"]]))

    # 10: logit lens summaries
    with torch.no_grad():
        lens = torch.stack([
            torch.log_softmax(model.lm_head(ln_f(
                inp["transformer->h->%d" % l] if l < L else inp["transformer->ln_f"])), -1)
            for l in range(L + 1)])
    assert torch.equal(inp["transformer->h->0"], out["transformer->drop"])
    assert lens.numpy().tobytes() == golden["lens.logprobs"].tobytes(), \
        "lens logprobs differ from golden.safetensors' lens.logprobs"
    top_ids, top_probs, rank, kl = lens_summaries(lens.numpy(), ids.numpy())
    res += [("lens.top_ids", top_ids), ("lens.top_probs", top_probs),
            ("lens.rank", rank), ("lens.kl", kl)]

    arrays = []
    for name, t in res:
        if isinstance(t, torch.Tensor):
            a_ = mg.as_array(t)
        elif t.dtype.kind in "iu":
            a_ = t.astype("<i4")
        else:
            a_ = t.astype("<f4")
        if a_.dtype == np.dtype("<f4"):
            a_ = a_ + np.float32(0)  # -0.0 -> +0.0 (e.g. 0 * negative)
        arrays.append((name, np.ascontiguousarray(a_)))
    return arrays, lens.numpy()


def attn_attr_np(v, pat, W_O, W_U, w_f, r_final, ids0, H, eps):
    """raw attributions (applyLnF, no ln_f), float64. v [H, T, hs],
    pat [H, T, T], W_O [C, C], W_U [V, C], r_final [T, C]."""
    _, T, hs = v.shape
    C = W_O.shape[1]
    vo = np.einsum("hkd,hdc->hkc", v, W_O.reshape(H, hs, C))          # [H, T, C]
    u = W_U[ids0[1:]] - W_U.mean(0)                                   # [Tq, C]
    mu = r_final.mean(-1, keepdims=True)
    sigma = np.sqrt(((r_final - mu) ** 2).mean(-1) + eps)             # [T]
    voc = vo - vo.mean(-1, keepdims=True)
    pq = pat[:, :T - 1, :]                                            # [H, Tq, T]
    raw_ln = pq * np.einsum("hkc,qc->hqk", voc * w_f, u) / sigma[:T - 1][None, :, None]
    raw_noln = pq * np.einsum("hkc,qc->hqk", vo, u)
    return raw_ln, raw_noln


def pos_neg(raw):
    pos = np.clip(raw / max(raw.max(), TINY), 0, 1)
    neg = np.clip(-raw / max((-raw).max(), TINY), 0, 1)
    return pos, neg


def lens_summaries(lp, ids):
    """lp [L+1, B, T, V] f32 logprobs, ids [B, T]."""
    top_ids = np.argmax(lp, -1)                      # first max = lowest id
    top_lp = np.take_along_axis(lp, top_ids[..., None], -1)[..., 0]
    top_probs = torch.exp(torch.from_numpy(np.ascontiguousarray(top_lp))).numpy()
    nxt = ids[:, 1:]                                 # [B, T-1]
    tgt_lp = np.take_along_axis(lp[:, :, :-1, :],
                                np.broadcast_to(nxt[None, :, :, None],
                                                lp[:, :, :-1, :1].shape), -1)
    rank = (lp[:, :, :-1, :] > tgt_lp).sum(-1)
    lp64 = lp.astype(np.float64)
    final = lp64[-1]
    kl = (np.exp(final)[None] * (final[None] - lp64)).sum(-1)
    return top_ids.astype("<i4"), top_probs, rank.astype("<i4"), kl


# ------------------------------------------- independent float64 numpy run --

def read_st(path):
    """Independent safetensors reader -> (metadata, header order,
    {name: (dtype, array)}); checks padding, order and packing."""
    with open(path, "rb") as f:
        blob = f.read()
    hlen = int.from_bytes(blob[:8], "little")
    assert hlen % 8 == 0
    htxt = blob[8:8 + hlen].decode("utf-8")
    assert htxt == htxt.rstrip(" ") + " " * (len(htxt) - len(htxt.rstrip(" ")))
    header = json.loads(htxt)
    keys = list(header)
    assert keys[0] == "__metadata__"
    meta = header["__metadata__"]
    body = blob[8 + hlen:]
    kinds = {"F32": np.float32, "I32": np.int32, "F16": np.float16}
    out, end = {}, 0
    for k in keys[1:]:
        e = header[k]
        b, en = e["data_offsets"]
        assert b == end, "tensors must be packed in header order"
        end = en
        dt = np.dtype(kinds[e["dtype"]]).newbyteorder("<")
        n = 1
        for s in e["shape"]:
            n *= s
        assert en - b == n * dt.itemsize, k
        out[k] = (e["dtype"], np.frombuffer(body, dtype=dt, count=n, offset=b)
                  .reshape(e["shape"]))
    assert end == len(body)
    return meta, keys[1:], out


def f64_forward(P, cfg, ids, edits=None):
    """Float64 GPT-2 from checkpoint arrays P (names without 'transformer.').
    edits: {"mlp0": f, "block<l>": f} applied to those outputs.
    Returns dict of the values this script needs."""
    edits = edits or {}
    L, H, C, eps = cfg["n_layer"], cfg["n_head"], cfg["n_embd"], cfg["layer_norm_epsilon"]
    hs = C // H
    B, T = ids.shape

    def ln(x, w, b):
        m = x.mean(-1, keepdims=True)
        return (x - m) / np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + eps) * w + b

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    r = {"resid": []}
    x = P["wte.weight"][ids] + P["wpe.weight"][np.arange(T)][None]
    causal = np.tril(np.ones((T, T), bool))
    for l in range(L):
        W = lambda s: P["h.%d.%s" % (l, s)]  # noqa: E731
        r["resid"].append(x)
        h1 = ln(x, W("ln_1.weight"), W("ln_1.bias"))
        qkv = h1 @ W("attn.c_attn.weight") + W("attn.c_attn.bias")
        q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, H, hs).transpose(0, 2, 1, 3)
                   for i in range(3))
        s = np.where(causal, q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs), -np.inf)
        e = np.exp(s - s.max(-1, keepdims=True))
        pat = e / e.sum(-1, keepdims=True)
        z = (pat @ v).transpose(0, 2, 1, 3)
        r["v%d" % l], r["pattern%d" % l], r["z%d" % l] = v, pat, z
        attn = z.reshape(B, T, C) @ W("attn.c_proj.weight") + W("attn.c_proj.bias")
        r["attn%d" % l] = attn
        x = x + attn
        m = gelu(ln(x, W("ln_2.weight"), W("ln_2.bias")) @ W("mlp.c_fc.weight")
                 + W("mlp.c_fc.bias")) @ W("mlp.c_proj.weight") + W("mlp.c_proj.bias")
        if l == 0 and "mlp0" in edits:
            m = edits["mlp0"](m)
        x = x + m
        if "block%d" % l in edits:
            x = edits["block%d" % l](x)
        r["block%d" % l] = x
    r["resid"].append(x)
    r["logits"] = ln(x, P["ln_f.weight"], P["ln_f.bias"]) @ P["wte.weight"].T
    r["ln"] = ln
    return r


def f64_reference(folder, ids, values):
    """Every entry recomputed in float64 numpy from model.safetensors.
    values: the stored replace.value / hidden_patch.value (inputs)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    _, _, mt = read_st(os.path.join(folder, "model.safetensors"))
    P = {}
    for k, (_, a) in mt.items():
        P[k[len("transformer."):] if k.startswith("transformer.") else k] = a.astype(np.float64)
    L, H, C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    hs = C // H
    l1 = min(1, L - 1)
    heads = [0, H - 1] if H > 1 else [0]
    W_U, w_f, b_f = P["wte.weight"], P["ln_f.weight"], P["ln_f.bias"]
    W_O = P["h.%d.attn.c_proj.weight" % l1]
    clean = f64_forward(P, cfg, ids)
    ln = clean["ln"]
    out = {}

    x = clean["block0"][:, LH_RESID["position"]]
    out["logit_hook.resid"] = (ln(x, w_f, b_f) @ W_U.T)[..., LH_RESID["target"]]
    out["logit_hook.resid_noln"] = (x @ W_U.T)[..., LH_RESID["target"]]

    z = clean["z%d" % l1][:, LH_HEADS["position"]]            # [B, P, H, hs]
    contrib = np.einsum("bphd,hdc->bhpc", z, W_O.reshape(H, hs, C))
    cl = (contrib - contrib.mean(-1, keepdims=True)) * w_f
    out["logit_hook.heads"] = (cl @ W_U.T)[..., LH_HEADS["target"]]
    out["logit_hook.heads_noln"] = (contrib @ W_U.T)[..., LH_HEADS["target"]]

    # attribution, written as explicit loops (independent of attn_attr_np)
    T = ids.shape[1]
    v, pat = clean["v%d" % l1][0], clean["pattern%d" % l1][0]
    rf = clean["resid"][L][0]
    Wm = W_U.mean(0)
    raw = np.zeros((H, T - 1, T))
    raw0 = np.zeros((H, T - 1, T))
    for h in range(H):
        Wh = W_O[h * hs:(h + 1) * hs]
        for q in range(T - 1):
            u = W_U[ids[0, q + 1]] - Wm
            sig = math.sqrt(np.var(rf[q]) + cfg["layer_norm_epsilon"])
            for k in range(T):
                vo = v[h, k] @ Wh
                raw0[h, q, k] = pat[h, q, k] * float(vo @ u)
                raw[h, q, k] = pat[h, q, k] * float(((vo - vo.mean()) / sig * w_f) @ u)
    out["attn_attr.raw"] = raw
    mx, mn = raw.max(), (-raw).max()
    out["attn_attr.pos"] = np.minimum(np.maximum(raw / (mx if mx > TINY else TINY), 0), 1)
    out["attn_attr.neg"] = np.minimum(np.maximum(-raw / (mn if mn > TINY else TINY), 0), 1)
    out["attn_attr_noln.raw"] = raw0

    rep, hp = values["replace.value"].astype(np.float64), values["hidden_patch.value"].astype(np.float64)

    def e_rep(m):
        m = m.copy()
        m[:, REPLACE_POS, :] = rep
        return m

    def e_patch(x):
        x = x.copy()
        x[:, PATCH_POS, :] = hp
        return x
    out["replace.value"] = rep
    out["hidden_patch.value"] = hp
    out["replace.logits"] = f64_forward(P, cfg, ids, {"mlp0": e_rep})["logits"]
    out["hidden_patch.logits"] = f64_forward(P, cfg, ids, {"block%d" % l1: e_patch})["logits"]
    out["get_attention.attn"] = clean["pattern%d" % l1][:, heads]

    lps = []
    for r in clean["resid"]:
        lg = ln(r, w_f, b_f) @ W_U.T
        m = lg.max(-1, keepdims=True)
        lps.append(lg - m - np.log(np.exp(lg - m).sum(-1, keepdims=True)))
    lp = np.stack(lps)
    out["lens.top_ids"] = lp.argmax(-1)
    out["lens.top_probs"] = np.exp(lp.max(-1))
    nxt = ids[:, 1:]
    out["lens.rank"] = np.array([[[int((lp[l, b, t] > lp[l, b, t, nxt[b, t]]).sum())
                                   for t in range(T - 1)] for b in range(ids.shape[0])]
                                 for l in range(L + 1)])
    out["lens.kl"] = np.array([[[float(np.sum(np.exp(lp[L, b, t]) * (lp[L, b, t] - lp[l, b, t])))
                                 for t in range(T)] for b in range(ids.shape[0])]
                               for l in range(L + 1)])
    extra = dict(lp=lp, attn=clean["attn%d" % l1], W_O=W_O, W_U=W_U, w_f=w_f,
                 z=clean["z%d" % l1], rf=rf, cproj_b=P["h.%d.attn.c_proj.bias" % l1])
    return out, extra


# --------------------------------------------------------------- checking --

def margins(lp, ids):
    """Smallest logprob gaps that decide top_ids and rank (f32 logprobs)."""
    s = np.sort(lp, -1)
    top_gap = float((s[..., -1] - s[..., -2]).min())
    nxt = ids[:, 1:]
    lpt = np.take_along_axis(lp[:, :, :-1], np.broadcast_to(
        nxt[None, :, :, None], lp[:, :, :-1, :1].shape), -1)
    d = np.abs(lp[:, :, :-1] - lpt)
    d = np.where(d == 0, np.inf, d)  # the target itself (and exact ties)
    rank_gap = float(d.min())
    exact_ties = int((lp[:, :, :-1] == lpt).sum() - lpt.size)
    close = [[int(l), int(b), int(t), float("%.3g" % d[l, b, t].min())]
             for l, b, t in zip(*np.nonzero(d.min(-1) < CLOSE_GAP))]
    return top_gap, rank_gap, exact_ties, close


def check(name, folder, arrays, ids, lens_f32, info):
    gold = dict(arrays)
    f64, ex = f64_reference(folder, ids, gold)
    assert set(f64) == set(gold), set(f64) ^ set(gold)
    errs = {}
    for k, a in arrays:
        want = f64[k]
        assert a.shape == want.shape, (k, a.shape, want.shape)
        if a.dtype.kind == "i":
            assert np.array_equal(a, want), (name, k, "differs from float64")
            continue
        e = float(np.abs(a.astype(np.float64) - want).max())
        scale = float(np.abs(want).max())
        assert e <= 1e-5 * max(1.0, scale), (name, k, e, scale)
        errs[k] = [float("%.3g" % e), float("%.4g" % scale)]

    # identities between entries (float64, from the f64 run's activations)
    H, C = ex["W_O"].shape[0] // (ex["z"].shape[-1]), ex["W_O"].shape[1]
    hs = ex["z"].shape[-1]
    B, T = ids.shape
    contrib = np.einsum("bthd,hdc->bhtc", ex["z"], ex["W_O"].reshape(H, hs, C))
    assert np.allclose(contrib.sum(1) + ex["cproj_b"], ex["attn"], atol=1e-12)
    assert np.allclose(np.einsum("bhpc,vc->bhpv", contrib[:, :, LH_HEADS["position"]],
                                 ex["W_U"])[..., LH_HEADS["target"]],
                       f64["logit_hook.heads_noln"], atol=1e-12)
    u = ex["W_U"][ids[0, 1:]] - ex["W_U"].mean(0)                     # [Tq, C]
    direct0 = np.einsum("hqc,qc->hq", contrib[0, :, :T - 1], u)
    assert np.allclose(f64["attn_attr_noln.raw"].sum(-1), direct0, atol=1e-12)
    cc = contrib[0, :, :T - 1]
    cc = (cc - cc.mean(-1, keepdims=True)) * ex["w_f"]
    sig = np.sqrt(ex["rf"][:T - 1].var(-1) + info["eps"])
    direct = np.einsum("hqc,qc->hq", cc, u) / sig
    assert np.allclose(f64["attn_attr.raw"].sum(-1), direct, atol=1e-12)
    # masked keys are exactly +0 in the stored tensors
    tri = np.triu(np.ones((T - 1, T), bool), 1)
    for k in ("attn_attr.raw", "attn_attr.pos", "attn_attr.neg", "attn_attr_noln.raw"):
        m = gold[k][:, tri]
        assert (m == 0).all() and not np.signbit(m).any(), k
    assert np.array_equal(gold["lens.kl"][-1], np.zeros_like(gold["lens.kl"][-1]))
    assert (gold["lens.kl"] >= -1e-7).all()
    assert gold["attn_attr.pos"].max() == 1.0 and gold["attn_attr.neg"].max() == 1.0
    assert np.array_equal(gold["lens.rank"][-1] >= 0, np.ones((B, T - 1), bool))
    top_gap, rank_gap, ties, close = margins(lens_f32, ids)
    assert ties == 0, "exact logprob ties decide lens.rank"
    assert top_gap > CLOSE_GAP, "lens.top_ids decided by a near-tie"
    return errs, dict(min_top1_top2_gap=float("%.3g" % top_gap),
                      min_gap_to_target_logprob=float("%.3g" % rank_gap),
                      rank_close_calls=close)


# ------------------------------------------------------------------- main --

def main():
    rows, written = [], {}
    for name in CFGS:
        folder = os.path.join(OUT_DIR, name)
        _, gold_t = ref.read_safetensors(os.path.join(folder, "golden.safetensors"))
        with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
            ginfo = json.load(f)
        model = ref.load_hf_folder(folder)
        cfg = model.config
        ids_np = gold_t["input_ids"]
        assert ids_np.dtype == np.dtype("<i4") and ids_np.ndim == 2
        ids = torch.from_numpy(ids_np.astype(np.int64))
        seed = ginfo["seed"] + SEED_OFFSET
        arrays, lens_f32 = compute(model, ids, gold_t, seed)

        p = params_for(cfg)
        defs = definitions(cfg, p)
        assert [k for k, _ in arrays] == [k for k in defs if k in dict(arrays)]
        assert set(defs) == {k for k, _ in arrays}
        st_path = os.path.join(folder, "analysis.safetensors")
        meta = {"model": name, "seed": seed, "torch_version": torch.__version__,
                "generator": GENERATOR}
        mg.write_safetensors(st_path, arrays, meta)

        errs, marg = check(name, folder, arrays, ids_np.astype(np.int64), lens_f32,
                           dict(eps=cfg.layer_norm_epsilon))
        info = {
            "model": name,
            "seed": seed,
            "torch_version": torch.__version__,
            "generator": GENERATOR,
            "inputs": "golden.safetensors input_ids (I32 [B, T]); weights from "
                      "this folder via gpt2_reference.load_hf_folder",
            "params": {
                "B": int(ids.shape[0]), "T": int(ids.shape[1]), "C": cfg.n_embd,
                "H": cfg.n_head, "hs": cfg.n_embd // cfg.n_head, "V": cfg.vocab_size,
                "L": cfg.n_layer, "l1": p["l1"], "eps": cfg.layer_norm_epsilon,
                "logit_hook.resid": dict(LH_RESID),
                "logit_hook.heads": dict(LH_HEADS, layer=p["l1"]),
                "attn_attr": {"layer": p["l1"], "batch_row": 0, "tiny": TINY},
                "replace": {"point": REPLACE_POINT_FMT, "index": "[:, %d, :]" % REPLACE_POS},
                "hidden_patch": {"point": "transformer->h->%d" % p["l1"],
                                 "index": "[..., %d, :]" % PATCH_POS},
                "get_attention": {"layer": p["l1"], "heads": p["heads"]},
            },
            "notation": "W_U = wte.weight [V, C] (tied lm_head); W_O = "
                        "transformer.h.<l>.attn.c_proj.weight [C_in, C_out], "
                        "rows h*hs..(h+1)*hs-1 belong to head h; ln_f(x) = "
                        "(x - mean) / sqrt(biased var + eps) * w_f + b_f",
            "entries": {k: {"shape": list(a.shape),
                            "dtype": "I32" if a.dtype.kind == "i" else "F32",
                            "definition": defs[k]} for k, a in arrays},
            "precision": "Everything is f32 torch (CPU, one thread) except "
                         "attn_attr.*, attn_attr_noln.raw and lens.kl, which "
                         "are computed in float64 from the f32 activations "
                         "(v, pattern, input of ln_f, lens logprobs) and f32 "
                         "weights, then rounded to f32. attn_attr.pos/neg are "
                         "normalised from the float64 raw. Masked entries "
                         "(key > query) of attn_attr.* are +0.0.",
            "tolerances": {
                "note": "max_abs_err_vs_f64 is [max |stored - float64 numpy "
                        "reference|, max |value|] with the reference run "
                        "entirely in float64 from model.safetensors. "
                        "Suggested: rtol 1e-4 and atol 1e-5 for F32 entries, "
                        "except the small-valued ones in suggested_atol_small "
                        "(values ~1e-3, where 1e-5 would hide real bugs). I32 "
                        "entries are exact (they match the float64 "
                        "reference). lens_margins gives the smallest f32 "
                        "logprob gaps that decide lens.top_ids and lens.rank; "
                        "rank_close_calls lists [l, b, t, gap] where another "
                        "id's logprob is within %g of the target's, so an f32 "
                        "engine may be off by one there." % CLOSE_GAP,
                "suggested_atol": 1e-5,
                "suggested_rtol": 1e-4,
                "suggested_atol_small": SMALL_ATOL,
                "max_abs_err_vs_f64": errs,
                "lens_margins": marg,
            },
        }
        json_path = os.path.join(folder, "analysis.json")
        mg.write_json(json_path, info)
        written[name] = (st_path, arrays, meta, json_path, info)
        rows.append((name, os.path.getsize(st_path), os.path.getsize(json_path), marg))

    # self-check: re-read with read_st (independent of the writer and of
    # gpt2_reference.read_safetensors) and compare bytes
    for name, (st_path, arrays, meta, json_path, info) in written.items():
        m, order, got = read_st(st_path)
        assert m == {k: str(v) for k, v in meta.items()}, name
        assert order == [k for k, _ in arrays], name
        for k, a in arrays:
            dt, g = got[k]
            assert dt == ("I32" if a.dtype.kind == "i" else "F32"), (name, k)
            assert g.shape == a.shape and g.tobytes() == a.tobytes(), (name, k)
            assert list(g.shape) == info["entries"][k]["shape"], (name, k)
            assert dt == info["entries"][k]["dtype"], (name, k)
        with open(json_path, encoding="utf-8") as f:
            assert json.load(f) == json.loads(json.dumps(info)), name
        assert os.path.getsize(st_path) < FILE_LIMIT, (name, os.path.getsize(st_path))

    total = 0
    for root, _, files in os.walk(OUT_DIR):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    for name, s, j, marg in rows:
        with open(os.path.join(OUT_DIR, name, "analysis.safetensors"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        print("%-5s analysis.safetensors %d (sha256 %s)  analysis.json %d  margins %s"
              % (name, s, digest, j, marg))
    print("tests/golden/gpt2 total %d bytes; self-check OK" % total)
    assert total < TOTAL_LIMIT, "fixtures unexpectedly large"


if __name__ == "__main__":
    sys.exit(main())
