"""PyTorch gradient goldens for unseal-wasm's GPT-2 backward pass.

For the configurations tiny, odd and wide (not wide_f16), this script loads
tests/golden/gpt2/<cfg>/ with gpt2_reference.load_hf_folder (model.eval(),
dropout off, float32), takes golden.safetensors' `input_ids` (I32 [B, T]) and
writes, next to them:

  grads.safetensors   the HF causal-LM cross-entropy loss and its gradients:
                        ce.*      labels = input_ids
                        ce_ign.*  labels = labels_ignored (input_ids with
                                  [0, 3] and [1, 5] set to -100)
                      For both: the loss and the gradient of every parameter
                      (by its model.safetensors name). For ce only: the
                      gradient w.r.t. the output of every hook point
                      (ce.act.<point>; points whose output is the same
                      tensor object as an earlier point's are stored once
                      and listed as aliases) and w.r.t. the logits.
  grads.json          shape, dtype and a one-line definition per entry, which
                      points share one tensor, zero/sign notes and tolerance
                      notes (errors against a float64 run)

The definitions are in tests/golden/gpt2/GRADS.md. Run it from the
repository root with Debian's PyTorch, after make_gpt2_golden.py (which
deletes and rewrites the whole <cfg>/ folders, grads files included) and
after make_gpt2_analysis_golden.py (whose final check limits the folder to
3.6 MB, which the grads files would exceed):

    /usr/bin/python3 tests/golden/make_gpt2_grad_golden.py

No seeds enter the stored data (the inputs are the stored ids, the
labels are derived from them). Torch runs single-threaded with deterministic
algorithms and the safetensors writer is make_gpt2_golden.py's deterministic
one, so a rerun with the same torch build gives the same bytes. The script
ends with a self-check that:
  * re-reads every grads.safetensors / grads.json with a reader written here
    (shared with neither the writer nor the other scripts' readers) and
    compares it byte for byte with what was meant to be written;
  * checks that the hooked run reproduces golden.safetensors' logits bit for
    bit and that HF's plain path (no hooks, finfo.min mask) gives the same
    loss and parameter gradients bit for bit;
  * reruns everything with the same model in float64 and checks every F32
    entry against it (errors go into grads.json);
  * checks float64 central finite differences of the loss against the
    float64 gradients for a few entries of every parameter and point;
  * checks identities between stored entries and golden.safetensors'
    activations (Conv1D weight/bias grads from in/out activations and act
    grads, wte = embedding share + lm_head share, wpe, q/k/v == c_attn's
    gradient reshaped, softmax-backward row sums, logits_grad formula,
    masked scores +0).
"""

import hashlib
import json
import os
import re
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep tests/golden free of __pycache__
sys.path.insert(0, HERE)
import gpt2_reference as ref  # noqa: E402
import make_gpt2_golden as mg  # noqa: E402  (deterministic writer)

OUT_DIR = os.path.join(HERE, "gpt2")
GENERATOR = "tests/golden/make_gpt2_grad_golden.py"
CFGS = ["tiny", "odd", "wide"]
IGNORE_INDEX = -100
IGNORED = [(0, 3), (1, 5)]      # labels_ignored[b, t] = -100
FD_EPS = 1e-5                   # float64 central differences
FD_PER_TENSOR = 3               # finite-difference probes per param / point
FILE_LIMIT = 1_500_000          # per grads.safetensors (see GRADS.md: sizes)
TOTAL_LIMIT = 5_000_000         # all of tests/golden/gpt2

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------- running --

def hf_causal_lm_loss(logits, labels):
    """HF GPT2LMHeadModel's loss: logits[:, :-1] against labels[:, 1:],
    CrossEntropyLoss (mean over the non-ignored positions, ignore_index
    -100)."""
    shift_logits = logits[..., :-1, :].contiguous()
    shift_labels = labels[..., 1:].contiguous()
    loss_fct = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)
    return loss_fct(shift_logits.view(-1, shift_logits.size(-1)),
                    shift_labels.view(-1))


def grad_run(model, ids, labels, record=True):
    """Forward + backward. Returns (loss, logits, records, param_grads);
    logits is the graph tensor itself (its .grad is d loss / d logits).

    records: list of (point name, tensor) in firing order; every recorded
    tensor has retain_grad(), so after backward tensor.grad is d loss / d
    (that point's output). record=False runs HF's exact path (no hooks, no
    point fn, finfo.min mask)."""
    for p in model.parameters():
        p.grad = None
    records = []
    handles = []
    if record:
        names = {id(m): mg.unseal_name(n) for n, m in model.named_modules() if n}

        def module_hook(m, inputs, output):
            output.retain_grad()
            records.append((names[id(m)], output))

        def point_fn(name, t):
            t.retain_grad()
            records.append((name, t))
            return None

        handles = [m.register_forward_hook(module_hook)
                   for n, m in model.named_modules() if n]
        ref.set_point_fn(model, point_fn)
    try:
        logits = model(ids)
        loss = hf_causal_lm_loss(logits, labels)
        loss.backward()
    finally:
        if record:
            ref.set_point_fn(model, None)
            for h in handles:
                h.remove()
    pgrads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return loss.detach(), logits, records, pgrads


def loss_only(model, ids, labels, point=None, index=None, delta=0.0):
    """Loss (no grad) with `delta` added to one entry of one point's output
    (point=None: no edit). Used for finite differences."""
    handles = []
    names = {id(m): mg.unseal_name(n) for n, m in model.named_modules() if n}
    hit = []

    def edit(t):
        t = t.clone()
        t[index] += delta
        hit.append(1)
        return t

    def module_hook(m, inputs, output):
        if names[id(m)] == point:
            return edit(output)
        return None

    def point_fn(name, t):
        return edit(t) if name == point else None

    if point is not None:
        handles = [m.register_forward_hook(module_hook)
                   for n, m in model.named_modules() if n]
    ref.set_point_fn(model, point_fn)  # -inf mask path, as in grad_run
    try:
        with torch.no_grad():
            loss = hf_causal_lm_loss(model(ids), labels)
    finally:
        ref.set_point_fn(model, None)
        for h in handles:
            h.remove()
    assert point is None or len(hit) == 1, point
    return float(loss)


def file_names(folder):
    """model.safetensors tensor names, in file order (own header parse)."""
    with open(os.path.join(folder, "model.safetensors"), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n).decode("utf-8"))
    return [k for k in header if k != "__metadata__"]


def param_map(model, folder):
    """[(file name, torch parameter name)] in model.safetensors order."""
    pnames = dict(model.named_parameters())
    out = []
    for k in file_names(folder):
        pn = k if k.startswith("transformer.") else "transformer." + k
        assert pn in pnames, k
        out.append((k, pn))
    assert {pn for _, pn in out} == set(pnames), "file/model parameter mismatch"
    return out


def f32(t):
    """tensor -> contiguous little-endian f32 array, -0.0 turned into +0.0."""
    a = t.detach().cpu().contiguous().numpy().astype("<f4")
    assert np.isfinite(a).all(), "non-finite gradient"
    out = np.array(a + np.float32(0), dtype="<f4", order="C")  # keeps 0-d shape
    assert out.shape == a.shape
    return out


def n_negzero(t):
    a = t.detach().cpu().numpy()
    return int(((a == 0) & np.signbit(a)).sum())


# ------------------------------------------------------------- computing --

def compute(folder, ids, labels, labels_ign, dtype):
    """All entries for one folder in `dtype`. Returns (entries, info):
    entries is a list of (name, torch tensor) in file order; info has the
    model, the parameter name map, the point order, the alias map (entry
    name -> stored entry name, for points whose output is the very tensor
    object of an earlier point or of the logits) and every point's gradient
    (aliases included, for the finite-difference probes)."""
    model = ref.load_hf_folder(folder, dtype=dtype)
    assert not model.training
    pm = param_map(model, folder)

    loss, logits, recs, pgrads = grad_run(model, ids, labels)
    entries = [("ce.loss", loss.reshape([]))]
    entries += [("ce.param." + k, pgrads[pn]) for k, pn in pm]

    # hook-point gradients. A point whose output is the same tensor object
    # as an earlier point's (Dropout in eval returns its input, GPT2Attention
    # / GPT2MLP return their last child's output) has one gradient; it is
    # stored once, under the first point, and the others are aliases.
    # lm_head's output is the logits tensor: its gradient is ce.logits_grad.
    first = {id(logits): "ce.logits_grad"}
    aliases = {}
    seen = set()
    negzero = {}
    all_grads = {}
    for name, t in recs:
        assert name not in seen, "point fired twice: " + name
        seen.add(name)
        g = t.grad
        assert g is not None, "no gradient reached " + name
        assert not torch.isnan(g).any() and torch.isfinite(g).all(), name
        all_grads[name] = g
        nz = n_negzero(g)
        if nz:
            negzero[name] = nz
        key = "ce.act." + name
        if id(t) in first:
            aliases[key] = first[id(t)]
            continue
        first[id(t)] = key
        entries.append((key, g))
    assert aliases.get("ce.act.lm_head") == "ce.logits_grad"
    entries.append(("ce.logits_grad", logits.grad))

    loss_i, _, _, pgrads_i = grad_run(model, ids, labels_ign, record=False)
    entries.append(("ce_ign.loss", loss_i.reshape([])))
    entries += [("ce_ign.param." + k, pgrads_i[pn]) for k, pn in pm]

    info = dict(model=model, pm=pm, points=[n for n, _ in recs], aliases=aliases,
                negzero=negzero, logits=logits, records=recs, all_grads=all_grads)
    return entries, info


# ------------------------------------------------------------ definitions --

def definitions(B, T, pm, ign_n):
    """Definitions by entry family (<name> = a model.safetensors name,
    <point> = a golden.json point)."""
    N = B * (T - 1)
    wte = [k for k, _ in pm if k.endswith("wte.weight")][0]
    wpe = [k for k, _ in pm if k.endswith("wpe.weight")][0]
    return {
        "input_ids": "I32 [B, T]: golden.safetensors' input_ids (copied; the "
                     "labels of ce.* are these ids)",
        "labels_ignored": "I32 [B, T]: input_ids with [0, 3] and [1, 5] set to "
                          "-100 (ignore_index); the labels of ce_ign.*",
        "ce.loss": "F32 []: HF causal-LM loss with labels = input_ids: "
                   "CrossEntropyLoss(logits[:, :-1].reshape(-1, V), "
                   "labels[:, 1:].reshape(-1)), mean over the B*(T-1) = %d "
                   "positions" % N,
        "ce.param.<name>": "d ce.loss / d <name>, the parameter's shape, for "
                           "every tensor of model.safetensors by its name in "
                           "this folder's file. %s includes the tied "
                           "lm_head.weight's share (torch's .grad on the "
                           "shared Parameter); %s rows >= T are exactly 0"
                           % (wte, wpe),
        "ce.act.<point>": "d ce.loss / d (output of <point>), the point's "
                          "shape (golden.json shapes), for every point of "
                          "golden.json's points; points listed in `aliases` "
                          "are not stored: read the entry they map to",
        "ce.act.<...>->attn->scores": "masked entries (key > query) are "
                                      "exactly +0: softmax backward is "
                                      "pattern * (g - sum(g * pattern)) and "
                                      "pattern is exactly 0 there",
        "ce.act.<...>->attn->pattern": "dense: masked entries are NOT 0 "
                                       "(d pattern[b, h, q, k] = d z[b, q, h] "
                                       ". v[b, h, k] for every k)",
        "ce.act.<...>->attn->{q,k,v}": "c_attn's output gradient split q|k|v "
                                       "and viewed (B, H, T, hs), bit for bit",
        "ce.act.transformer": "equal to ce.act.transformer->ln_f (the output "
                              "of transformer is a view of ln_f's output, a "
                              "different tensor, so it is stored too)",
        "ce.logits_grad": "F32 [B, T, V]: d ce.loss / d logits (= d / d "
                          "output of lm_head); row t = T-1 is exactly 0 (not "
                          "scored); rows t < T-1 are (softmax(logits[b, t]) - "
                          "onehot(ids[b, t+1])) / %d" % N,
        "ce_ign.loss": "F32 []: the same loss with labels = labels_ignored: "
                       "mean over the %d positions whose label is not -100 "
                       "(logits[0, 2] and logits[1, 4] are not scored)" % ign_n,
        "ce_ign.param.<name>": "d ce_ign.loss / d <name>, as ce.param.<name>",
    }


def write_json_compact(path, obj):
    """mg.write_json's format (indent 2, UTF-8, trailing newline), with
    lists of scalars kept on one line."""
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    text = re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
                  lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text)
    assert json.loads(text) == obj
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text + "\n")


# ---------------------------------------------------- independent reading --

def read_grads(path):
    """Reader written for this script only: (metadata, [names], {name:
    (dtype, array)}); checks 8-byte header padding, metadata first, packing
    in header order and no trailing bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    hlen = int(np.frombuffer(raw[:8], dtype="<u8")[0])
    assert hlen % 8 == 0 and 8 + hlen <= len(raw)
    text = raw[8:8 + hlen].decode("utf-8")
    assert text.rstrip(" ").endswith("}")
    pairs = json.loads(text, object_pairs_hook=list)
    assert pairs[0][0] == "__metadata__"
    meta = dict(pairs[0][1])
    body = raw[8 + hlen:]
    sizes = {"F32": 4, "I32": 4}
    out, names, cursor = {}, [], 0
    for name, e in pairs[1:]:
        e = dict(e)
        start, stop = e["data_offsets"]
        assert start == cursor, name
        count = 1
        for s in e["shape"]:
            count *= int(s)
        assert stop - start == count * sizes[e["dtype"]], name
        kind = "<f4" if e["dtype"] == "F32" else "<i4"
        arr = np.frombuffer(body[start:stop], dtype=kind).reshape(e["shape"])
        out[name] = (e["dtype"], arr)
        names.append(name)
        cursor = stop
    assert cursor == len(body)
    return meta, names, out


# --------------------------------------------------------------- checking --

def fd_checks(model64, ids, labels, pm, pgrads64, act64, rng_seed):
    """Float64 central differences vs float64 autograd: worst |fd - g| /
    max(1e-12 + max|g| of the tensor). Probes: the entry with the largest
    |g| plus FD_PER_TENSOR - 1 entries picked with a fixed numpy RNG."""
    rng = np.random.RandomState(rng_seed)
    worst = 0.0
    params = dict(model64.named_parameters())

    def probes(g):
        flat = g.reshape(-1).abs()
        idx = [int(torch.argmax(flat))]
        idx += [int(i) for i in rng.randint(0, flat.numel(), FD_PER_TENSOR - 1)]
        return [np.unravel_index(i, tuple(g.shape)) for i in idx]

    for k, pn in pm:
        g = pgrads64[pn]
        scale = float(g.abs().max())
        p = params[pn]
        for ix in probes(g):
            ix = tuple(int(i) for i in ix)
            old = float(p.data[ix])
            with torch.no_grad():
                p.data[ix] = old + FD_EPS
                lp = loss_only(model64, ids, labels)
                p.data[ix] = old - FD_EPS
                lm = loss_only(model64, ids, labels)
                p.data[ix] = old
            fd = (lp - lm) / (2 * FD_EPS)
            e = abs(fd - float(g[ix])) / max(scale, 1e-12)
            assert e < 1e-5, ("fd", k, ix, fd, float(g[ix]), scale)
            worst = max(worst, e)
    for name, g in act64:
        scale = float(g.abs().max())
        for ix in probes(g):
            ix = tuple(int(i) for i in ix)
            if name.endswith("->scores") and ix[-1] > ix[-2]:
                continue  # -inf +- eps: loss unchanged, gradient 0 (checked)
            lp = loss_only(model64, ids, labels, name, ix, FD_EPS)
            lm = loss_only(model64, ids, labels, name, ix, -FD_EPS)
            fd = (lp - lm) / (2 * FD_EPS)
            e = abs(fd - float(g[ix])) / max(scale, 1e-12)
            assert e < 1e-5, ("fd", name, ix, fd, float(g[ix]), scale)
            worst = max(worst, e)
    return worst


def identity_checks(arrays, golden, cfg, pm, points, ids, labels_ign):
    """Identities between stored F32 entries and golden.safetensors'
    activations, in float64. Returns the worst relative deviation."""
    g = {k: a.astype(np.float64) for k, a in arrays.items()
         if a.dtype == np.dtype("<f4")}
    act = lambda p: g["ce.act." + p]  # noqa: E731
    gold = lambda k: golden[k].astype(np.float64)  # noqa: E731
    B, T = ids.shape
    V, C, H = cfg.vocab_size, cfg.n_embd, cfg.n_head
    hs = C // H
    worst = [0.0]

    def close(a, b, what, rtol=2e-5):
        scale = max(float(np.abs(b).max()), 1e-30)
        e = float(np.abs(a - b).max()) / scale
        assert e <= rtol, (what, e)
        worst[0] = max(worst[0], e)

    pre = "" if any(k == "wte.weight" for k, _ in pm) else "transformer."
    P = lambda s: g["ce.param." + pre + s]  # noqa: E731

    # logits_grad formula, from the golden logits (float64 softmax)
    lg = gold("out.lm_head")
    m = lg.max(-1, keepdims=True)
    sm = np.exp(lg - m)
    sm /= sm.sum(-1, keepdims=True)
    want = np.zeros_like(sm)
    want[:, :-1] = sm[:, :-1]
    for b in range(B):
        for t in range(T - 1):
            want[b, t, ids[b, t + 1]] -= 1
    want /= B * (T - 1)
    close(g["ce.logits_grad"], want, "logits_grad formula")
    assert (arrays["ce.logits_grad"][:, -1] == 0).all()
    assert np.abs(g["ce.logits_grad"].sum(-1)).max() <= 1e-6 * np.abs(g["ce.logits_grad"]).max()
    # ce_ign.loss from the golden logits
    lsm = lg - m - np.log(np.exp(lg - m).sum(-1, keepdims=True))
    terms = [-lsm[b, t, labels_ign[b, t + 1]] for b in range(B) for t in range(T - 1)
             if labels_ign[b, t + 1] != IGNORE_INDEX]
    assert abs(float(np.mean(terms)) - float(g["ce_ign.loss"])) < 1e-5
    terms = [-lsm[b, t, ids[b, t + 1]] for b in range(B) for t in range(T - 1)]
    assert abs(float(np.mean(terms)) - float(g["ce.loss"])) < 1e-5

    # Conv1D: dW = in^T @ dout, db = sum dout, for every Conv1D point
    for L in range(cfg.n_layer):
        for mod, sub in (("attn->c_attn", "attn.c_attn"), ("attn->c_proj", "attn.c_proj"),
                         ("mlp->c_fc", "mlp.c_fc"), ("mlp->c_proj", "mlp.c_proj")):
            p = "transformer->h->%d->%s" % (L, mod)
            x = gold("in." + p).reshape(-1, gold("in." + p).shape[-1])
            dy = act(p).reshape(-1, act(p).shape[-1])
            close(P("h.%d.%s.weight" % (L, sub)), x.T @ dy, p + " dW")
            close(P("h.%d.%s.bias" % (L, sub)), dy.sum(0), p + " db")
        # LayerNorm: dbias = sum dout, dweight = sum dout * xhat
        for ln in ("ln_1", "ln_2"):
            p = "transformer->h->%d->%s" % (L, ln)
            x = gold("in." + p)
            xh = (x - x.mean(-1, keepdims=True)) / np.sqrt(
                x.var(-1, keepdims=True) + cfg.layer_norm_epsilon)
            close(P("h.%d.%s.bias" % (L, ln)), act(p).sum((0, 1)), p + " db")
            close(P("h.%d.%s.weight" % (L, ln)), (act(p) * xh).sum((0, 1)), p + " dw")
        a = "transformer->h->%d->attn->" % L
        # q/k/v: c_attn's gradient split and viewed, bit for bit
        dqkv = arrays["ce.act." + a + "c_attn"]
        for i, n in enumerate("qkv"):
            want = dqkv[..., i * C:(i + 1) * C].reshape(B, T, H, hs).transpose(0, 2, 1, 3)
            assert np.array_equal(arrays["ce.act." + a + n], want), (a, n)
        # z: d c_proj input = d c_proj out @ W^T
        W = gold_param(golden, pre, "h.%d.attn.c_proj.weight" % L)
        close(act(a + "z").reshape(B, T, C), act(a + "c_proj") @ W.T, a + "z")
        # pattern: d pattern = d z (B,H,T,hs) @ v^T, dense
        dz = act(a + "z").transpose(0, 2, 1, 3)
        close(act(a + "pattern"), dz @ gold("out." + a + "v").transpose(0, 1, 3, 2),
              a + "pattern")
        # scores: softmax backward; masked +0; rows sum to 0
        pat = gold("out." + a + "pattern")
        dp = act(a + "pattern")
        close(act(a + "scores"), pat * (dp - (dp * pat).sum(-1, keepdims=True)),
              a + "scores")
        sc = arrays["ce.act." + a + "scores"]
        mask = np.triu(np.ones((T, T), bool), 1)
        assert (sc[..., mask] == 0).all() and not np.signbit(sc[..., mask]).any()
        assert np.abs(act(a + "scores").sum(-1)).max() <= 1e-6 * np.abs(act(a + "scores")).max()
    # ln_f
    x = gold("in.transformer->ln_f")
    xh = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True)
                                                   + cfg.layer_norm_epsilon)
    dlnf = act("transformer->ln_f")
    assert np.array_equal(arrays["ce.act.transformer->ln_f"], arrays["ce.act.transformer"])
    close(P("ln_f.bias"), dlnf.sum((0, 1)), "ln_f db")
    close(P("ln_f.weight"), (dlnf * xh).sum((0, 1)), "ln_f dw")
    # wte = embedding share (scatter-add of d drop) + lm_head share
    ddrop = act("transformer->drop")
    close(act("transformer->wte"), ddrop, "d wte out")
    close(act("transformer->wpe"), ddrop.sum(0, keepdims=True), "d wpe out")
    emb = np.zeros((V, C))
    for b in range(B):
        for t in range(T):
            emb[ids[b, t]] += ddrop[b, t]
    head = g["ce.logits_grad"].reshape(-1, V).T @ gold("out.transformer").reshape(-1, C)
    close(P("wte.weight"), emb + head, "wte (embedding + tied lm_head)")
    wpe = np.zeros_like(P("wpe.weight"))
    wpe[:T] = ddrop.sum(0)
    close(P("wpe.weight"), wpe, "wpe")
    assert (arrays["ce.param." + pre + "wpe.weight"][T:] == 0).all()
    assert (arrays["ce_ign.param." + pre + "wpe.weight"][T:] == 0).all()
    return worst[0]


def gold_param(golden_model, pre, name):
    return golden_model["__model__." + pre + name].astype(np.float64)


# ------------------------------------------------------------------- main --

def main():
    rows, written = [], {}
    for name in CFGS:
        folder = os.path.join(OUT_DIR, name)
        _, gold_t = ref.read_safetensors(os.path.join(folder, "golden.safetensors"))
        _, model_t = ref.read_safetensors(os.path.join(folder, "model.safetensors"))
        with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
            ginfo = json.load(f)
        ids_np = gold_t["input_ids"]
        assert ids_np.dtype == np.dtype("<i4") and ids_np.ndim == 2
        B, T = ids_np.shape
        ids = torch.from_numpy(ids_np.astype(np.int64))
        labels = ids.clone()
        labels_ign = ids.clone()
        for b, t in IGNORED:
            labels_ign[b, t] = IGNORE_INDEX
        ign_n = B * (T - 1) - len(IGNORED)

        # -- float32 (the goldens)
        entries, info = compute(folder, ids, labels, labels_ign, torch.float32)
        model, pm, points = info["model"], info["pm"], info["points"]
        cfg = model.config
        assert points == ginfo["points"], "point order differs from golden.json"
        assert info["logits"].detach().numpy().tobytes() == gold_t["out.lm_head"].tobytes(), \
            "hooked run does not reproduce golden logits"
        for p, t in info["records"]:  # the recorded activations are golden's
            assert t.detach().numpy().tobytes() == gold_t["out." + p].tobytes(), p

        # HF's plain path (no hooks / point fn, finfo.min mask): same loss
        # and parameter gradients bit for bit.
        loss_p, _, _, pg_plain = grad_run(model, ids, labels, record=False)
        ent = dict(entries)
        assert loss_p.numpy().tobytes() == ent["ce.loss"].numpy().tobytes()
        plain_equal = all(torch.equal(pg_plain[pn], ent["ce.param." + k]) for k, pn in pm)
        assert plain_equal, "hooked vs plain parameter gradients differ"
        # tied: lm_head.weight is the same Parameter as wte
        assert model.lm_head.weight is model.transformer.wte.weight

        arrays = [("input_ids", ids_np.astype("<i4")),
                  ("labels_ignored", labels_ign.numpy().astype("<i4"))]
        raw_negzero = {}
        for k, t in entries:
            nz = n_negzero(t)
            if nz:
                raw_negzero[k] = nz
            arrays.append((k, f32(t)))
        arr = dict(arrays)
        aliases = info["aliases"]
        for a, target in aliases.items():  # aliases really are equal
            assert torch.equal(info["all_grads"][a[len("ce.act."):]], ent[target]), a

        # -- float64 rerun of the same model
        entries64, info64 = compute(folder, ids, labels, labels_ign, torch.float64)
        assert [k for k, _ in entries64] == [k for k, _ in entries]
        assert info64["aliases"] == aliases
        errs, worst_rel = {}, (0.0, None)
        for k, t64 in entries64:
            want = t64.numpy().astype(np.float64)
            got = arr[k].astype(np.float64)
            assert got.shape == want.shape, k
            e = float(np.abs(got - want).max())
            scale = float(np.abs(want).max())
            rel = e / scale if scale > 0 else 0.0
            assert rel <= 1e-4, (name, k, e, scale)
            errs[k] = [float("%.3g" % e), float("%.4g" % scale), float("%.3g" % rel)]
            if rel > worst_rel[0]:
                worst_rel = (rel, k)

        # -- float64 finite differences on the float64 model (every point,
        #    aliases included: perturbing an alias's own output must give
        #    the gradient stored for it)
        m64 = info64["model"]
        d64 = dict(entries64)
        pg64 = {pn: d64["ce.param." + k] for k, pn in pm}
        act64 = [(p, info64["all_grads"][p]) for p in points]
        fd_worst = fd_checks(m64, ids, labels, pm, pg64, act64, rng_seed=ginfo["seed"])
        pg64i = {pn: d64["ce_ign.param." + k] for k, pn in pm}
        fd_worst_i = fd_checks(m64, ids, labels_ign, pm, pg64i, [],
                               rng_seed=ginfo["seed"] + 1)

        # -- identities between stored entries and golden activations
        gm = dict(gold_t)
        gm.update({"__model__." + k: v for k, v in model_t.items()})
        id_worst = identity_checks(arr, gm, cfg, pm, points, ids_np.astype(np.int64),
                                   labels_ign.numpy())

        # every point is stored or aliased to a stored entry
        for p in points:
            k = "ce.act." + p
            assert (k in arr) != (k in aliases), p
            assert aliases.get(k, k) in arr, p

        st_path = os.path.join(folder, "grads.safetensors")
        meta = {"model": name, "torch_version": torch.__version__,
                "generator": GENERATOR}
        mg.write_safetensors(st_path, arrays, meta)

        masked_negzero = {p: n for p, n in info["negzero"].items()
                          if p.endswith("->scores")}
        prefixed = pm[0][0].startswith("transformer.")
        info_json = {
            "model": name,
            "torch_version": torch.__version__,
            "generator": GENERATOR,
            "inputs": "golden.safetensors input_ids (I32 [B, T]); weights from "
                      "this folder via gpt2_reference.load_hf_folder; "
                      "model.eval() (dropout off), float32, CPU, one thread",
            "params": {"B": B, "T": T, "C": cfg.n_embd, "H": cfg.n_head,
                       "hs": cfg.n_embd // cfg.n_head, "V": cfg.vocab_size,
                       "L": cfg.n_layer, "eps": cfg.layer_norm_epsilon},
            "loss": {
                "definition": "HF GPT2LMHeadModel: CrossEntropyLoss("
                              "ignore_index=-100, reduction='mean')("
                              "logits[:, :-1].reshape(-1, V), "
                              "labels[:, 1:].reshape(-1)); logits[b, t] is "
                              "scored against labels[b, t+1]",
                "ce": {"labels": "input_ids", "scored_positions": B * (T - 1),
                       "value": float(ent["ce.loss"])},
                "ce_ign": {"labels": "labels_ignored",
                           "ignored_label_positions": [list(x) for x in IGNORED],
                           "unscored_logit_positions": [[b, t - 1] for b, t in IGNORED],
                           "scored_positions": ign_n,
                           "value": float(ent["ce_ign.loss"])},
            },
            "param_names": "model.safetensors names as written in this folder "
                           "(%s 'transformer.'); lm_head.weight is tied and has "
                           "no entry: its share is in %swte.weight"
                           % ("with" if prefixed else "without",
                              "transformer." if prefixed else ""),
            "definitions": definitions(B, T, pm, ign_n),
            "aliases": {
                "note": "entry name -> the stored entry holding its values. "
                        "These points' outputs are the very tensor object of "
                        "an earlier point (Dropout in eval returns its input; "
                        "GPT2Attention / GPT2MLP return their last child's "
                        "output; lm_head's output is the logits), so "
                        "retain_grad gives them one gradient, stored once",
                "map": aliases,
            },
            "zeros_and_signs": {
                "note": "+0.0 was added to every stored F32 value, so the "
                        "file has no -0.0. No gradient was NaN or inf. At "
                        "masked scores (key > query) torch's softmax "
                        "backward gives pattern * (...) with pattern exactly "
                        "0, a signed zero (never NaN); "
                        "masked_scores_negative_zeros counts the -0.0 torch "
                        "gave there, raw_negative_zeros all -0.0 per stored "
                        "entry before the fix-up.",
                "masked_scores_negative_zeros": masked_negzero,
                "raw_negative_zeros": raw_negzero,
                "exact_zeros": "ce.act.<...>->attn->scores[..., q, k] for k > q; "
                               "ce.logits_grad[:, T-1]; *.param.<...>wpe.weight[T:]",
            },
            "entries": {k: {"dtype": "I32" if a.dtype.kind == "i" else "F32",
                            "shape": list(a.shape)} for k, a in arrays},
            "tolerances": {
                "note": "max_abs_err_vs_f64 is [max |stored - float64|, "
                        "max |float64|, their ratio] per stored entry; "
                        "float64 = the same reference model loaded in "
                        "float64 (same autograd graph). Gradient scales "
                        "differ a lot between entries, so compare each entry "
                        "relative to its own max |value|: suggested |got - "
                        "want| <= rtol_of_max * max|want| + atol. "
                        "finite_difference_worst_rel: float64 central "
                        "differences (eps %g) of the loss against the "
                        "float64 gradients, worst |fd - g| / max|g| of the "
                        "tensor, probing the largest-|g| entry and %d "
                        "fixed-seed entries of every parameter and every "
                        "point (aliases included). identities_worst_rel: "
                        "worst relative deviation of the stored entries from "
                        "identities computed in float64 from "
                        "golden.safetensors' activations (Conv1D and "
                        "LayerNorm parameter gradients from the point "
                        "gradients, wte/wpe, z, pattern, scores, "
                        "logits_grad, both losses). hooked_vs_plain: the "
                        "loss and every parameter gradient are bit-identical "
                        "between the hooked run (set_point_fn, -inf mask, "
                        "retain_grad) and HF's plain path (finfo.min mask, "
                        "no hooks)." % (FD_EPS, FD_PER_TENSOR - 1),
                "suggested_rtol_of_max": 1e-4,
                "suggested_atol": 1e-10,
                "worst_rel_vs_f64": [float("%.3g" % worst_rel[0]), worst_rel[1]],
                "finite_difference_worst_rel": {
                    "ce": float("%.3g" % fd_worst),
                    "ce_ign": float("%.3g" % fd_worst_i)},
                "identities_worst_rel": float("%.3g" % id_worst),
                "hooked_vs_plain": "bit-identical",
                "max_abs_err_vs_f64": errs,
            },
        }
        json_path = os.path.join(folder, "grads.json")
        write_json_compact(json_path, info_json)
        written[name] = (st_path, arrays, meta, json_path, info_json)
        rows.append((name, os.path.getsize(st_path), os.path.getsize(json_path),
                     worst_rel, fd_worst, fd_worst_i, id_worst, masked_negzero,
                     float(ent["ce.loss"]), float(ent["ce_ign.loss"])))

    # -- self-check: re-read with read_grads and compare bytes
    for name, (st_path, arrays, meta, json_path, info_json) in written.items():
        m, order, got = read_grads(st_path)
        assert m == {k: str(v) for k, v in meta.items()}, name
        assert order == [k for k, _ in arrays], name
        assert set(order) == set(info_json["entries"]), name
        for k, a in arrays:
            dt, g = got[k]
            assert dt == info_json["entries"][k]["dtype"], (name, k)
            assert list(g.shape) == info_json["entries"][k]["shape"], (name, k)
            assert g.dtype == a.dtype and g.tobytes() == a.tobytes(), (name, k)
            if dt == "F32":
                assert np.isfinite(g).all() and not (np.signbit(g) & (g == 0)).any(), k
        for a, target in info_json["aliases"]["map"].items():
            assert a not in got and target in got, (name, a)
        with open(json_path, encoding="utf-8") as f:
            assert json.load(f) == json.loads(json.dumps(info_json)), name
        assert os.path.getsize(st_path) < FILE_LIMIT, (name, os.path.getsize(st_path))

    total = 0
    for root, _, files in os.walk(OUT_DIR):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    for (name, s, j, wr, fd, fdi, idw, mnz, l, li) in rows:
        with open(os.path.join(OUT_DIR, name, "grads.safetensors"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        print("%-5s grads.safetensors %d (sha256 %s)  grads.json %d  loss %.6f  "
              "ign %.6f" % (name, s, digest, j, l, li))
        print("      worst rel vs f64 %.3g (%s)  fd %.3g / %.3g  identities %.3g  "
              "masked-score -0: %s" % (wr[0], wr[1], fd, fdi, idw, mnz))
    print("tests/golden/gpt2 total %d bytes; self-check OK" % total)
    # What the other two scripts' size checks will see when rerun in order
    # (their folders wiped / grads not yet written).
    base = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT_DIR)
               for f in fs if not f.startswith(("analysis.", "grads.")))
    print("without analysis.*/grads.*: %d bytes (make_gpt2_golden.py limit "
          "3,000,000)" % base)
    assert total < TOTAL_LIMIT, "fixtures unexpectedly large"


if __name__ == "__main__":
    sys.exit(main())
