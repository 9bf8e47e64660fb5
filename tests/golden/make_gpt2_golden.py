"""Generate the GPT-2 golden fixtures in tests/golden/gpt2/.

For each configuration below this script builds a small random GPT-2 with
tests/golden/gpt2_reference.py (HF GPT2LMHeadModel semantics in plain
PyTorch) and writes, under tests/golden/gpt2/<cfg>/:

  config.json          HF GPT2Config keys (sorted, indent 2, like HF writes it)
  model.safetensors    HF tensor names and layouts (Conv1D weights [nx, nf]),
                       no lm_head.weight (tied to wte, HF omits it), no old
                       attn.bias / attn.masked_bias buffers
  golden.safetensors   input ids, every hook point's output (out.<name>) and,
                       for module points, input[0] (in.<name>), plus the
                       results of three interventions (ablate, patch, lens)
  golden.json          str(model), layer names, point order, shapes, config,
                       file description and tolerance notes

Rerun from the repository root with Debian's PyTorch:

    /usr/bin/python3 tests/golden/make_gpt2_golden.py

Seeds are fixed, torch runs single-threaded and the safetensors writer is
hand-written and deterministic, so reruns reproduce the files byte for byte
(same torch build, same CPU). The script ends with a self-check that:
  * re-reads every safetensors/JSON file with a reader written here (not the
    one in gpt2_reference.py) and compares it with what was meant to be
    written;
  * loads each model folder back into a fresh reference model with
    gpt2_reference.load_hf_folder and reproduces the golden logits exactly;
  * recomputes every point and intervention with an independent float64
    numpy implementation and checks the f32 goldens against it (the measured
    differences go into golden.json as tolerance notes).
"""

import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep tests/golden free of __pycache__
sys.path.insert(0, HERE)
import gpt2_reference as ref  # noqa: E402

OUT_DIR = os.path.join(HERE, "gpt2")
GENERATOR = "tests/golden/make_gpt2_golden.py"

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

# name, seed, sizes, prompt length, checkpoint naming and storage dtype.
# wide_f16 shares wide's seed, so it has wide's weights rounded to F16 and
# wide's prompts.
CONFIGS = [
    dict(name="tiny", seed=20, vocab=101, n_positions=32, n_embd=24, n_layer=2,
         n_head=3, eps=1e-5, T=7, prefix=True, file_dtype="F32"),
    dict(name="odd", seed=21, vocab=67, n_positions=16, n_embd=15, n_layer=3,
         n_head=3, eps=1e-5, T=7, prefix=False, file_dtype="F32"),
    dict(name="wide", seed=22, vocab=257, n_positions=64, n_embd=64, n_layer=2,
         n_head=4, eps=1e-6, T=13, prefix=True, file_dtype="F32"),
    dict(name="wide_f16", seed=22, vocab=257, n_positions=64, n_embd=64,
         n_layer=2, n_head=4, eps=1e-6, T=13, prefix=True, file_dtype="F16"),
]
BATCH = 2
ABLATE_LAYER, ABLATE_HEAD = 1, 1
PATCH_POINT, PATCH_POS = "transformer->h->0", 3
SIZE_LIMIT = 3_000_000


# ------------------------------------------------------------------ config --

def hf_config_dict(c):
    """config.json contents, with the keys HF's GPT2Config writes."""
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": c["vocab"] - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": c["vocab"] - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": c["eps"],
        "model_type": "gpt2",
        "n_ctx": c["n_positions"],
        "n_embd": c["n_embd"],
        "n_head": c["n_head"],
        "n_inner": None,
        "n_layer": c["n_layer"],
        "n_positions": c["n_positions"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float16" if c["file_dtype"] == "F16" else "float32",
        "use_cache": True,
        "vocab_size": c["vocab"],
    }


def build(c):
    """Model (eval, f32) with deterministic weights, plus the two prompts."""
    config = ref.GPT2Config(**hf_config_dict(c))
    g = torch.Generator().manual_seed(c["seed"])
    torch.manual_seed(c["seed"])
    model = ref.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for _, m in model.named_modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, ref.Conv1D):
                m.weight.copy_(0.02 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.02 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, nn.Embedding):
                m.weight.copy_(0.02 * torch.randn(m.weight.shape, generator=g))
        assert model.lm_head.weight is model.transformer.wte.weight
        if c["file_dtype"] == "F16":
            for p in model.parameters():
                p.copy_(p.half().float())
    ids = torch.randint(0, c["vocab"], (BATCH, c["T"]), generator=g)
    second = torch.randint(0, c["vocab"], (BATCH, c["T"]), generator=g)
    assert not torch.equal(ids, second)
    return model, ids, second


# ------------------------------------------------------------ safetensors --

NP_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I32": np.dtype("<i4")}


def as_array(t, dtype=None):
    """torch tensor -> little-endian contiguous numpy array (F32/F16/I32)."""
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.int64, torch.int32):
        a = t.numpy()
        assert a.size == 0 or (a.min() >= -2**31 and a.max() < 2**31)
        return a.astype("<i4")
    assert t.dtype == torch.float32, t.dtype
    if dtype == "F16":
        h = t.half()
        assert torch.equal(h.float(), t), "tensor not exactly representable in F16"
        return h.numpy().astype("<f2")
    return t.numpy().astype("<f4")


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, numpy array) in file order."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    inv = {v: k for k, v in NP_DTYPES.items()}
    offset, blobs = 0, []
    for name, a in tensors:
        assert name not in header, "duplicate tensor " + name
        data = a.tobytes(order="C")
        header[name] = {"dtype": inv[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def write_json(path, obj, sort_keys=False):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, sort_keys=sort_keys)
        f.write("\n")


# --------------------------------------------------------------- running --

def unseal_name(n):
    return n.replace(".", "->")


def run(model, ids, point_edits=None, module_edits=None):
    """Forward with every hook point recorded.

    Returns (logits, records) with records a list of (name, input0 or None,
    output) in firing order. point_edits / module_edits map a point name to
    f(tensor) -> tensor that replaces the point's value (the recorded output
    is the edited value)."""
    point_edits = point_edits or {}
    module_edits = module_edits or {}
    records = []
    names = {id(m): unseal_name(n) for n, m in model.named_modules() if n}

    def module_hook(m, inputs, output):
        name = names[id(m)]
        new = None
        if name in module_edits:
            new = module_edits[name](output)
            output = new
        records.append((name, inputs[0].detach().clone(), output.detach().clone()))
        return new

    def point_fn(name, t):
        new = point_edits[name](t) if name in point_edits else None
        records.append((name, None, (t if new is None else new).detach().clone()))
        return new

    handles = [m.register_forward_hook(module_hook)
               for n, m in model.named_modules() if n]
    ref.set_point_fn(model, point_fn)
    try:
        with torch.no_grad():
            logits = model(ids)
    finally:
        ref.set_point_fn(model, None)
        for h in handles:
            h.remove()
    used = {r[0] for r in records}
    for k in list(point_edits) + list(module_edits):
        assert k in used, "edit at unknown point " + k
    return logits, records


def plain_logits(model, ids):
    """HF's exact path: no hooks, no point fn (finfo.min mask)."""
    with torch.no_grad():
        return model(ids)


def lens_logprobs(model, recs, n_layer):
    """Logit lens over the residual stream before each block and before ln_f."""
    ins = {n: i for n, i, _ in recs if i is not None}
    outs = []
    with torch.no_grad():
        for L in range(n_layer + 1):
            resid = ins["transformer->h->%d" % L] if L < n_layer \
                else ins["transformer->ln_f"]
            logits = model.lm_head(model.transformer.ln_f(resid))
            outs.append(torch.log_softmax(logits, dim=-1))
    return torch.stack(outs)


def zero_head(h):
    def f(z):
        z = z.clone()
        z[:, :, h, :] = 0
        return z
    return f


def patch_pos(src, pos):
    def f(out):
        out = out.clone()
        out[:, pos, :] = src[:, pos, :]
        return out
    return f


# ------------------------------------------------------------ generation --

def check_records(c, model, ids, recs, logits):
    """Structural sanity checks on one clean recorded run."""
    n_layer, H = c["n_layer"], c["n_head"]
    hs, C, T = c["n_embd"] // H, c["n_embd"], c["T"]
    names = [r[0] for r in recs]
    assert names == ref.point_names(n_layer), names
    d = {r[0]: r for r in recs}
    out = {k: v[2] for k, v in d.items()}
    inp = {k: v[1] for k, v in d.items()}
    # Module points have an input, callback points don't.
    for n in names:
        assert (inp[n] is not None) == ref.is_module_point(n), n
    assert torch.equal(inp["transformer"], ids)
    assert torch.equal(inp["transformer->wte"], ids)
    assert torch.equal(inp["transformer->wpe"], torch.arange(T)[None])
    assert torch.equal(out["lm_head"], logits)
    assert torch.equal(inp["lm_head"], out["transformer"])
    assert torch.equal(out["transformer"], out["transformer->ln_f"])
    tril = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for L in range(n_layer):
        b = "transformer->h->%d" % L
        a = b + "->attn"
        assert torch.equal(inp[b + "->ln_1"], inp[b])
        assert torch.equal(inp[a], out[b + "->ln_1"])
        assert torch.equal(inp[a + "->c_attn"], out[b + "->ln_1"])
        qkv = out[a + "->c_attn"]
        for i, p in enumerate("qkv"):
            want = qkv[..., i * C:(i + 1) * C].reshape(BATCH, T, H, hs).permute(0, 2, 1, 3)
            assert torch.equal(out[a + "->" + p], want), (a, p)
            assert tuple(out[a + "->" + p].shape) == (BATCH, H, T, hs)
        s = out[a + "->scores"]
        assert tuple(s.shape) == (BATCH, H, T, T)
        assert torch.isneginf(s[..., ~tril]).all() and torch.isfinite(s[..., tril]).all()
        pat = out[a + "->pattern"]
        assert (pat[..., ~tril] == 0).all()
        assert torch.allclose(pat.sum(-1), torch.ones(()), atol=1e-6)
        assert torch.equal(inp[a + "->attn_dropout"], pat)
        assert torch.equal(out[a + "->attn_dropout"], pat)
        z = out[a + "->z"]
        assert tuple(z.shape) == (BATCH, T, H, hs)
        assert torch.equal(inp[a + "->c_proj"], z.reshape(BATCH, T, C))
        assert torch.equal(inp[a + "->resid_dropout"], out[a + "->c_proj"])
        assert torch.equal(out[a], out[a + "->resid_dropout"])
        assert torch.equal(out[b + "->resid_mid"], out[a] + inp[b])
        assert torch.equal(inp[b + "->ln_2"], out[b + "->resid_mid"])
        assert torch.equal(inp[b + "->mlp"], out[b + "->ln_2"])
        assert torch.equal(out[b + "->mlp"], out[b + "->mlp->dropout"])
        assert torch.equal(out[b], out[b + "->resid_mid"] + out[b + "->mlp"])
        nxt = "transformer->h->%d" % (L + 1) if L + 1 < n_layer else "transformer->ln_f"
        assert torch.equal(inp[nxt], out[b])
    assert torch.equal(inp["transformer->h->0"], out["transformer->drop"])


def generate(c):
    name = c["name"]
    folder = os.path.join(OUT_DIR, name)
    os.makedirs(folder, exist_ok=True)
    n_layer = c["n_layer"]
    model, ids, second = build(c)
    config = hf_config_dict(c)

    # -- clean run, recorded, and HF's exact path must agree bit for bit.
    logits, recs = run(model, ids)
    assert torch.equal(logits, plain_logits(model, ids)), \
        "-inf-masked scores changed the result vs HF's finfo.min mask"
    check_records(c, model, ids, recs, logits)

    # -- interventions
    ablate, _ = run(model, ids, point_edits={
        "transformer->h->%d->attn->z" % ABLATE_LAYER: zero_head(ABLATE_HEAD)})
    _, recs2 = run(model, second)
    src = {n: o for n, _, o in recs2}[PATCH_POINT]
    patched, _ = run(model, ids, module_edits={PATCH_POINT: patch_pos(src, PATCH_POS)})
    lens = lens_logprobs(model, recs, n_layer)
    assert torch.equal(lens[n_layer], torch.log_softmax(logits, -1))
    assert torch.equal(patched[:, :PATCH_POS], logits[:, :PATCH_POS])  # causal
    assert not torch.equal(patched[:, PATCH_POS:], logits[:, PATCH_POS:])
    assert not torch.equal(ablate, logits)

    # -- model folder
    prefix = "transformer." if c["prefix"] else ""
    sd = model.state_dict()
    model_tensors = []
    for k in sorted(sd):
        if k == "lm_head.weight":
            continue  # tied to transformer.wte.weight; HF does not save it
        assert k.startswith("transformer.")
        fk = prefix + k[len("transformer."):]
        model_tensors.append((fk, as_array(sd[k], c["file_dtype"])))
    model_tensors.sort(key=lambda kv: kv[0])
    model_path = os.path.join(folder, "model.safetensors")
    write_safetensors(model_path, model_tensors, {"format": "pt"})
    config_path = os.path.join(folder, "config.json")
    write_json(config_path, config, sort_keys=True)

    # -- golden tensors
    tensors = [("input_ids", as_array(ids)), ("second_ids", as_array(second))]
    for n, i, o in recs:
        if i is not None:
            tensors.append(("in." + n, as_array(i)))
        tensors.append(("out." + n, as_array(o)))
    tensors.append(("ablate.logits", as_array(ablate)))
    tensors.append(("patch.logits", as_array(patched)))
    tensors.append(("lens.logprobs", as_array(lens)))
    golden_path = os.path.join(folder, "golden.safetensors")
    write_safetensors(golden_path, tensors, {
        "model": name, "seed": c["seed"], "torch_version": torch.__version__,
        "generator": GENERATOR})

    # -- independent float64 numpy forward, for tolerance notes
    np_res = numpy_reference(c, model_tensors, prefix, ids, second)
    errs = {}
    gold = dict(tensors)
    for k, want in np_res.items():
        got = gold[k].astype(np.float64)
        assert got.shape == want.shape, k
        fin = np.isfinite(want)
        assert np.array_equal(fin, np.isfinite(got)), k
        assert np.array_equal(got[~fin], want[~fin]), k   # the -inf entries
        e = float(np.max(np.abs(got[fin] - want[fin]))) if fin.any() else 0.0
        scale = float(np.max(np.abs(want[fin]))) if fin.any() else 0.0
        assert e <= 1e-5 * max(1.0, scale), (name, k, e, scale)
        errs[k] = [float("%.3g" % e), float("%.4g" % scale)]

    points = [r[0] for r in recs]
    info = {
        "model": name,
        "seed": c["seed"],
        "torch_version": torch.__version__,
        "generator": GENERATOR,
        "config": config,
        "repr": str(model),
        "layers": [unseal_name(n) for n, _ in model.named_modules() if n],
        "points": points,
        "input_points": [n for n, i, _ in recs if i is not None],
        "shapes": {n: list(o.shape) for n, _, o in recs},
        "in_shapes": {n: list(i.shape) for n, i, _ in recs if i is not None},
        "model_file": {
            "path": "model.safetensors",
            "dtype": c["file_dtype"],
            "name_prefix": prefix,
            "tied": {"lm_head.weight": prefix + "wte.weight"},
            "tensors": [[k, list(a.shape)] for k, a in model_tensors],
        },
        "interventions": {
            "ablate.logits": "logits for input_ids with "
                             "transformer->h->%d->attn->z[:, :, %d, :] = 0"
                             % (ABLATE_LAYER, ABLATE_HEAD),
            "patch.logits": "logits for input_ids with the output of %s at "
                            "position %d (all batch rows) replaced by its "
                            "value from the run on second_ids"
                            % (PATCH_POINT, PATCH_POS),
            "lens.logprobs": "[n_layer+1, B, T, V]: log_softmax(lm_head(ln_f(r))) "
                             "for r = in.transformer->h->L (L < n_layer) and "
                             "r = in.transformer->ln_f (L = n_layer)",
        },
        "tolerances": {
            "note": "Goldens are f32 from torch %s on CPU (one thread, "
                    "HF's op order). max_abs_err_vs_f64 is |golden - "
                    "float64 numpy reference| per tensor, with the "
                    "tensor's max |value| as scale; an f32 engine should "
                    "land within a few times these. Suggested: atol 1e-5 "
                    "(rtol 1e-4) for every F32 tensor. Exact requirements: "
                    "out.*->attn->scores masked entries (key > query) are "
                    "-inf; out.*->attn->pattern masked entries are 0; "
                    "in.* ids tensors are I32 and must match exactly; "
                    "patch.logits[:, :%d] equals out.lm_head[:, :%d]."
                    % (torch.__version__, PATCH_POS, PATCH_POS)
                    + (" Weights are the F16 values of model.safetensors, "
                       "computed in f32." if c["file_dtype"] == "F16" else ""),
            "suggested_atol": 1e-5,
            "suggested_rtol": 1e-4,
            "max_abs_err_vs_f64": errs,
        },
    }
    json_path = os.path.join(folder, "golden.json")
    write_json(json_path, info)

    return dict(name=name, folder=folder, model=model, files={
        model_path: dict(model_tensors), golden_path: gold},
        json_files={json_path: info, config_path: config}, logits=logits,
        ids=ids, state_dict=sd)


# ------------------------------------------------- float64 numpy reference --

def numpy_reference(c, model_tensors, prefix, ids, second):
    """Independent forward in float64 numpy from the checkpoint tensors.
    Returns {golden key: float64 array} for every float golden tensor."""
    P = {k[len(prefix):]: a.astype(np.float64) for k, a in model_tensors}
    n_layer, H, C, eps = c["n_layer"], c["n_head"], c["n_embd"], c["eps"]
    hs = C // H

    def ln(x, w, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w + b

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    def forward(ids, ablate=None, patch=None):
        ids = ids.numpy()
        B, T = ids.shape
        r = {}

        def put(name, out, inp=None):
            if inp is not None:
                r["in." + name] = inp
            r["out." + name] = out
        wte, wpe = P["wte.weight"], P["wpe.weight"]
        e, pe = wte[ids], wpe[np.arange(T)][None]
        put("transformer->wte", e)
        put("transformer->wpe", pe)
        x = e + pe
        put("transformer->drop", x, x)
        mask = np.tril(np.ones((T, T), dtype=bool))
        for L in range(n_layer):
            b, a = "transformer->h->%d" % L, "transformer->h->%d->attn" % L
            p = lambda s: P["h.%d.%s" % (L, s)]  # noqa: E731
            x_in = x
            h1 = ln(x, p("ln_1.weight"), p("ln_1.bias"))
            put(b + "->ln_1", h1, x)
            qkv = h1 @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
            put(a + "->c_attn", qkv, h1)
            q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, H, hs)
                       .transpose(0, 2, 1, 3) for i in range(3))
            put(a + "->q", q); put(a + "->k", k); put(a + "->v", v)  # noqa: E702
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)
            s = np.where(mask, s, -np.inf)
            put(a + "->scores", s)
            ex = np.exp(s - s.max(-1, keepdims=True))
            pat = ex / ex.sum(-1, keepdims=True)
            put(a + "->pattern", pat)
            put(a + "->attn_dropout", pat, pat)
            z = (pat @ v).transpose(0, 2, 1, 3)               # (B, T, H, hs)
            if ablate is not None and ablate[0] == L:
                z = z.copy()
                z[:, :, ablate[1], :] = 0
            put(a + "->z", z)
            zm = z.reshape(B, T, C)
            o = zm @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
            put(a + "->c_proj", o, zm)
            put(a + "->resid_dropout", o, o)
            put(a, o, h1)
            x = x + o
            put(b + "->resid_mid", x)
            h2 = ln(x, p("ln_2.weight"), p("ln_2.bias"))
            put(b + "->ln_2", h2, x)
            f = h2 @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias")
            put(b + "->mlp->c_fc", f, h2)
            g = gelu(f)
            put(b + "->mlp->act", g, f)
            m = g @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
            put(b + "->mlp->c_proj", m, g)
            put(b + "->mlp->dropout", m, m)
            put(b + "->mlp", m, h2)
            x = x + m
            if patch is not None and b == PATCH_POINT:
                x = x.copy()
                x[:, PATCH_POS, :] = patch[:, PATCH_POS, :]
            put(b, x, x_in)
        hf = ln(x, P["ln_f.weight"], P["ln_f.bias"])
        put("transformer->ln_f", hf, x)
        put("transformer", hf)
        logits = hf @ wte.T
        put("lm_head", logits, hf)
        return r

    def log_softmax(x):
        m = x.max(-1, keepdims=True)
        return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))

    clean = forward(ids)
    src = forward(second)["out." + PATCH_POINT]
    res = dict(clean)
    res["ablate.logits"] = forward(ids, ablate=(ABLATE_LAYER, ABLATE_HEAD))["out.lm_head"]
    res["patch.logits"] = forward(ids, patch=src)["out.lm_head"]
    lens = []
    for L in range(n_layer + 1):
        r = clean["in.transformer->h->%d" % L] if L < n_layer else clean["in.transformer->ln_f"]
        hf = ln(r, P["ln_f.weight"], P["ln_f.bias"])
        lens.append(log_softmax(hf @ P["wte.weight"].T))
    res["lens.logprobs"] = np.stack(lens)
    return res  # (the I32 ids inputs are compared exactly in check_records)


# ------------------------------------------------------------ self-check --

def reread_safetensors(path):
    """Independent reader (does not share code with the writer or with
    gpt2_reference.read_safetensors): (metadata, {name: (dtype, array)})."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header not padded to 8 bytes"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert list(header)[0] == "__metadata__"
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    width = {"F32": ("<f4", 4), "F16": ("<f2", 2), "I32": ("<i4", 4)}
    out, spans = {}, []
    for k, e in header.items():
        b, en = e["data_offsets"]
        spans.append((b, en))
        dt, w = width[e["dtype"]]
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        assert en - b == count * w, k
        out[k] = (e["dtype"], np.frombuffer(data[b:en], dtype=dt).reshape(e["shape"]))
    spans.sort()
    pos = 0
    for b, en in spans:
        assert b == pos, "gap or overlap in data section"
        pos = en
    assert pos == len(data), "trailing bytes in data section"
    return meta, out


def self_check(res):
    for path, written in res["files"].items():
        _, got = reread_safetensors(path)
        assert list(got) == list(written), path
        for k, a in written.items():
            dt, g = got[k]
            assert g.dtype == a.dtype and g.shape == a.shape, (path, k)
            assert g.tobytes() == a.tobytes(), (path, k)
    for path, obj in res["json_files"].items():
        with open(path, encoding="utf-8") as f:
            assert json.load(f) == json.loads(json.dumps(obj)), path

    folder = res["folder"]
    _, golden = reread_safetensors(os.path.join(folder, "golden.safetensors"))
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        info = json.load(f)
    for n in info["points"]:
        assert golden["out." + n][1].shape == tuple(info["shapes"][n]), n
        if n in info["input_points"]:
            assert golden["in." + n][1].shape == tuple(info["in_shapes"][n]), n
        else:
            assert "in." + n not in golden, n
    assert golden["input_ids"][0] == "I32" and golden["in.transformer->wpe"][0] == "I32"
    assert all(dt == "F32" for k, (dt, _) in golden.items()
               if k not in ("input_ids", "second_ids", "in.transformer",
                            "in.transformer->wte", "in.transformer->wpe"))
    _, mfile = reread_safetensors(os.path.join(folder, "model.safetensors"))
    assert all(dt == info["model_file"]["dtype"] for dt, _ in mfile.values())
    assert not any(k.endswith((".attn.bias", ".attn.masked_bias")) or k == "lm_head.weight"
                   for k in mfile)
    assert all(k.startswith("transformer.") == (info["model_file"]["name_prefix"] != "")
               for k in mfile)

    # Round trip: the HF-style folder loaded into a fresh reference model
    # reproduces the weights and the golden logits exactly.
    fresh = ref.load_hf_folder(folder)
    assert str(fresh) == info["repr"]
    assert [unseal_name(n) for n, _ in fresh.named_modules() if n] == info["layers"]
    fsd = fresh.state_dict()
    assert list(fsd) == list(res["state_dict"])
    for k, v in res["state_dict"].items():
        assert torch.equal(fsd[k], v), k
    assert fresh.lm_head.weight is fresh.transformer.wte.weight
    ids = torch.from_numpy(golden["input_ids"][1].astype(np.int64))
    logits = plain_logits(fresh, ids)
    assert logits.numpy().tobytes() == golden["out.lm_head"][1].tobytes()
    ablate, _ = run(fresh, ids, point_edits={
        "transformer->h->%d->attn->z" % ABLATE_LAYER: zero_head(ABLATE_HEAD)})
    assert ablate.numpy().tobytes() == golden["ablate.logits"][1].tobytes()


def main():
    if os.path.isdir(OUT_DIR):
        for name in os.listdir(OUT_DIR):
            p = os.path.join(OUT_DIR, name)
            if os.path.isdir(p) and name in {c["name"] for c in CONFIGS}:
                shutil.rmtree(p)
    os.makedirs(OUT_DIR, exist_ok=True)
    rows = []
    for c in CONFIGS:
        res = generate(c)
        self_check(res)
        sizes = {os.path.basename(p): os.path.getsize(p)
                 for p in list(res["files"]) + list(res["json_files"])}
        rows.append((c["name"], sizes))
    # f16 folder: same prompts as wide, and its weights are wide's rounded.
    total = 0
    for root, _, files in os.walk(OUT_DIR):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    for name, sizes in rows:
        print("%-9s " % name + "  ".join("%s %d" % kv for kv in sorted(sizes.items())))
    print("tests/golden/gpt2 total %d bytes; self-check OK" % total)
    assert total < SIZE_LIMIT, "fixtures unexpectedly large"


if __name__ == "__main__":
    sys.exit(main())
