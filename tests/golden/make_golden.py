"""Generate the golden fixtures that unseal-wasm's tests compare against.

For each small PyTorch model defined below this script writes, next to
itself (tests/golden/):

  <model>.safetensors  parameters, the forward input and output, and the
                       input/output of every module call made during the
                       forward pass (recorded with PyTorch forward hooks).
  <model>.json         str(model), the Unseal-style layer names, the call
                       order, state_dict shapes, input/output shapes, the
                       backward hook call order.

Tensor keys in the safetensors file:
  param.<state_dict name>   e.g. param.0.weight, param.2.0.bias
  input, output             forward input / output (ids for nn.Embedding
                            models are stored as I32, everything else F32)
  call.<i>.in, call.<i>.out input[0] and output of the i-th module call, in
                            the order PyTorch forward hooks fire (a child's
                            hook fires before its parent Sequential's hook).

Gradients, from a second forward pass with autograd on and the loss
(output * grad_seed).sum(), so d loss / d output = grad_seed:
  grad_seed                 torch.randn(output shape) from a torch.Generator
                            seeded with the model's seed + 100
  grad.input                d loss / d input (float inputs only, not the
                            Embedding model's integer ids)
  grad.param.<state_dict name>  each parameter's .grad after loss.backward()
  gcall.<i>.in, gcall.<i>.out   grad_input[0] and grad_output[0] of the i-th
                            full backward hook call, in the order the hooks
                            fire (a parent Sequential's hook fires after its
                            children's). .in is left out when grad_input[0] is
                            None (an Embedding, whose input is integer ids).
                            The JSON lists the names as "grad_calls" and
                            whether .in exists as "grad_calls_have_in".
These are appended after the forward entries, whose bytes, offsets and JSON
fields are the same as before gradients were added.

Unseal names are named_modules() names (root '' excluded) with '.' replaced
by '->', e.g. '2->0'. A module object appearing twice in the tree is listed
once in "layers" (PyTorch deduplicates) but recorded at every call.

Rerun from the repository root with Debian's PyTorch:

    /usr/bin/python3 tests/golden/make_golden.py

Seeds are fixed, torch runs single-threaded and the safetensors writer is
hand-written and deterministic, so rerunning reproduces the files byte for
byte (with the same torch build on the same CPU). The script finishes with an
independent self-check that re-reads every written file.
"""

import json
import os
import struct
import sys
import warnings

import numpy as np
import torch
from torch import nn

OUT_DIR = os.path.dirname(os.path.abspath(__file__))

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------- models --

def m_seed_mlp():
    model = nn.Sequential(
        nn.Linear(8, 64),
        nn.ReLU(),
        nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 1)),
    )
    return model, lambda: torch.rand((1, 8))


def m_seed_mlp_batch():
    model, _ = m_seed_mlp()
    return model, lambda: torch.randn((3, 5, 8))


def m_every_module():
    model = nn.Sequential(
        nn.Embedding(11, 13),
        nn.LayerNorm(13),
        nn.Linear(13, 37),
        nn.GELU(),
        nn.Dropout(0.1),
        nn.Linear(37, 19, bias=False),
        nn.GELU(approximate="tanh"),
        nn.Sequential(
            nn.Tanh(),
            nn.Identity(),
            nn.Sequential(
                nn.Sigmoid(),
                nn.Linear(19, 7),
                nn.LayerNorm(7, eps=1e-3, elementwise_affine=False),
            ),
        ),
        nn.ReLU(),
        nn.Linear(7, 6),
        nn.Softmax(dim=-1),
    )
    return model, lambda: torch.randint(0, 11, (2, 5))


def m_softmax_dims():
    model = nn.Sequential(
        nn.Linear(6, 10), nn.Softmax(dim=1), nn.Linear(10, 3), nn.Softmax(dim=0)
    )
    return model, lambda: torch.randn(4, 7, 6)


def m_shared_relu():
    relu = nn.ReLU()
    model = nn.Sequential(
        nn.Linear(5, 6), relu, nn.Linear(6, 6), relu, nn.Linear(6, 2)
    )
    return model, lambda: torch.randn(2, 5)


def m_large_mlp():
    model = nn.Sequential(nn.Linear(67, 131), nn.GELU(), nn.Linear(131, 33))
    return model, lambda: torch.randn(9, 67)


def m_empty_seq():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(), nn.Linear(4, 2))
    return model, lambda: torch.randn(2, 3)


# (name, seed, builder). seed_mlp and seed_mlp_batch share a seed, so they
# share weights (the model is built before any other random draw).
MODELS = [
    ("seed_mlp", 0, m_seed_mlp),
    ("seed_mlp_batch", 0, m_seed_mlp_batch),
    ("every_module", 1, m_every_module),
    ("softmax_dims", 2, m_softmax_dims),
    ("shared_relu", 3, m_shared_relu),
    ("large_mlp", 4, m_large_mlp),
    ("empty_seq", 5, m_empty_seq),
]


# ----------------------------------------------------- safetensors writer --

def to_array(t):
    """torch tensor -> (safetensors dtype, little-endian contiguous numpy)."""
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.float32:
        return "F32", t.numpy().astype("<f4")
    if t.dtype in (torch.int64, torch.int32):
        a = t.numpy()
        if a.size and (a.min() < -2**31 or a.max() >= 2**31):
            raise ValueError("integer tensor does not fit in I32")
        return "I32", a.astype("<i4")
    raise TypeError("unsupported dtype %s" % t.dtype)


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, numpy array) in file order."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    offset = 0
    blobs = []
    for name, a in tensors:
        if name in header:
            raise KeyError("duplicate tensor name " + name)
        dtype = {np.dtype("<f4"): "F32", np.dtype("<i4"): "I32"}[a.dtype]
        data = a.tobytes(order="C")
        header[name] = {
            "dtype": dtype,
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


# ------------------------------------------------------------- generation --

def unseal_name(name):
    return name.replace(".", "->")


def init_layernorms(model):
    """Overwrite affine LayerNorm params so they are not all-ones/zeros."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm) and m.elementwise_affine:
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape))


def record_backward(model, layers, names_by_id, x, y, seed):
    """Second forward pass with autograd on, then loss.backward().

    Returns (grad_seed, grad of x or None, {state_dict name: .grad},
    gcalls [(unseal name, grad_input[0] clone or None, grad_output[0] clone)],
    warnings raised by PyTorch while doing it).
    """
    gen = torch.Generator().manual_seed(seed + 100)
    grad_seed = torch.randn(tuple(y.shape), generator=gen, dtype=torch.float32)

    float_input = x.is_floating_point()
    xg = x.detach().clone().requires_grad_(True) if float_input else x

    gcalls = []

    def bhook(module, grad_input, grad_output):
        gi, go = grad_input[0], grad_output[0]
        assert go is not None, names_by_id[id(module)]
        gcalls.append((names_by_id[id(module)],
                       None if gi is None else gi.detach().clone(),
                       go.detach().clone()))

    # named_modules() lists a shared module once, so each module gets one
    # hook, which fires at every call.
    handles = [m.register_full_backward_hook(bhook) for _, m in layers]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with torch.enable_grad():
            y2 = model(xg)
            loss = (y2 * grad_seed).sum()
            loss.backward()
    for h in handles:
        h.remove()
    # The forward values with autograd on are the recorded no_grad ones.
    assert torch.equal(y2.detach(), y)

    pgrads = {}
    for k, p in model.state_dict(keep_vars=True).items():
        assert isinstance(p, nn.Parameter) and p.grad is not None, k
        pgrads[k] = p.grad.detach().clone()
    gx = xg.grad.detach().clone() if float_input else None
    return grad_seed, gx, pgrads, gcalls, [str(w.message) for w in caught]


def generate(name, seed, builder):
    torch.manual_seed(seed)
    model, make_input = builder()
    model.eval()
    init_layernorms(model)
    x = make_input()

    layers = [(n, m) for n, m in model.named_modules() if n != ""]
    names_by_id = {id(m): unseal_name(n) for n, m in layers}

    calls = []  # (unseal name, input[0] clone, output clone)

    def hook(module, inputs, output):
        calls.append((names_by_id[id(module)], inputs[0].detach().clone(),
                      output.detach().clone()))

    handles = [m.register_forward_hook(hook) for _, m in layers]
    with torch.no_grad():
        y = model(x)
    for h in handles:
        h.remove()

    grad_seed, gx, pgrads, gcalls, warns = record_backward(
        model, layers, names_by_id, x, y, seed)

    sd = model.state_dict()
    tensors = []
    for k, v in sd.items():
        tensors.append(("param." + k, to_array(v)[1]))
    in_dtype, in_arr = to_array(x)
    out_dtype, out_arr = to_array(y)
    assert out_dtype == "F32"
    tensors.append(("input", in_arr))
    tensors.append(("output", out_arr))
    for i, (_, cin, cout) in enumerate(calls):
        tensors.append(("call.%d.in" % i, to_array(cin)[1]))
        tensors.append(("call.%d.out" % i, to_array(cout)[1]))
    # Gradients come after everything above, so the forward entries keep
    # their offsets and bytes.
    tensors.append(("grad_seed", to_array(grad_seed)[1]))
    if gx is not None:
        tensors.append(("grad.input", to_array(gx)[1]))
    for k, g in pgrads.items():
        tensors.append(("grad.param." + k, to_array(g)[1]))
    for i, (_, gin, gout) in enumerate(gcalls):
        if gin is not None:
            tensors.append(("gcall.%d.in" % i, to_array(gin)[1]))
        tensors.append(("gcall.%d.out" % i, to_array(gout)[1]))
    for _, a in tensors:
        assert a.dtype == np.dtype("<i4") or np.isfinite(a).all()

    meta = {"model": name, "seed": str(seed), "torch_version": torch.__version__,
            "generator": "tests/golden/make_golden.py"}
    st_path = os.path.join(OUT_DIR, name + ".safetensors")
    write_safetensors(st_path, tensors, meta)

    info = {
        "model": name,
        "seed": seed,
        "repr": str(model),
        "layers": [[unseal_name(n), repr(m)] for n, m in layers],
        "calls": [c[0] for c in calls],
        "state_dict": [[k, list(v.shape)] for k, v in sd.items()],
        "input_shape": list(x.shape),
        "input_dtype": in_dtype,
        "output_shape": list(y.shape),
        "torch_version": torch.__version__,
        "grad_calls": [c[0] for c in gcalls],
        "grad_calls_have_in": [c[1] is not None for c in gcalls],
    }
    js_path = os.path.join(OUT_DIR, name + ".json")
    with open(js_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
        f.write("\n")

    sanity_checks(name, model, info, calls, x, y)
    grad_checks(name, model, info, x, grad_seed, gx, pgrads, gcalls)
    return st_path, js_path, dict(tensors), info, warns


def sanity_checks(name, model, info, calls, x, y):
    # The last call is the last top-level child; its output is the model's.
    if calls:
        assert torch.equal(calls[-1][2], y), name
    if name in ("seed_mlp", "seed_mlp_batch"):
        assert [l[0] for l in info["layers"]] == \
            ["0", "1", "2", "2->0", "2->1", "2->2"], info["layers"]
        assert info["calls"] == ["0", "1", "2->0", "2->1", "2->2", "2"]
    if name == "every_module":
        r = info["repr"]
        for s in ["GELU(approximate='tanh')", "Dropout(p=0.1, inplace=False)",
                  "Softmax(dim=-1)", "Embedding(11, 13)",
                  "LayerNorm((7,), eps=0.001, elementwise_affine=False)"]:
            assert s in r, s
        assert info["input_dtype"] == "I32"
        # Dropout in eval mode is the identity.
        i = info["calls"].index("4")
        assert torch.equal(calls[i][1], calls[i][2])
    if name == "shared_relu":
        assert [l[0] for l in info["layers"]] == ["0", "1", "2", "4"]
        assert info["calls"] == ["0", "1", "2", "1", "4"], info["calls"]
    if name == "empty_seq":
        i = info["calls"].index("1")
        assert torch.equal(calls[i][1], calls[i][2])
    if name == "seed_mlp_batch":
        assert info["output_shape"] == [3, 5, 1]


def grad_checks(name, model, info, x, grad_seed, gx, pgrads, gcalls):
    # Hook-free reference: the same loss through torch.autograd.grad, with no
    # module hooks. Hooks that return None must not change any gradient.
    params = model.state_dict(keep_vars=True)
    xr = x.detach().clone().requires_grad_(True) if gx is not None else x
    inputs = list(params.values()) + ([xr] if gx is not None else [])
    got = torch.autograd.grad((model(xr) * grad_seed).sum(), inputs)
    for k, g in zip(params, got):
        assert torch.equal(g, pgrads[k]), (name, k)
    if gx is not None:
        assert torch.equal(got[-1], gx), name

    names = [c[0] for c in gcalls]
    by_name = {}
    for i, c in enumerate(gcalls):
        by_name.setdefault(c[0], []).append(i)
    # One hook call per forward call, in reverse order except that a parent
    # Sequential comes after its children.
    assert sorted(names) == sorted(info["calls"]), (names, info["calls"])
    # The first hook to fire belongs to the last top-level module; its
    # grad_output is d loss / d output.
    top = [l[0] for l in info["layers"] if "->" not in l[0]]
    assert torch.equal(gcalls[0][2], grad_seed), name
    # The last hook to fire belongs to the first top-level module; its
    # grad_input is d loss / d input (None for integer ids).
    assert gcalls[-1][0] == top[0], (name, names)
    if gx is not None:
        assert torch.equal(gcalls[-1][1], gx), name
    else:
        assert gcalls[-1][1] is None, name
    # Modules that return their input: grad_input == grad_output.
    for n in {"every_module": ["4", "7->1"], "empty_seq": ["1"]}.get(name, []):
        for i in by_name[n]:
            assert torch.equal(gcalls[i][1], gcalls[i][2]), (name, n)
    if name in ("seed_mlp", "seed_mlp_batch"):
        assert names == ["2->2", "2->1", "2->0", "2", "1", "0"], names
    if name == "shared_relu":
        assert names == ["4", "1", "2", "1", "0"], names
    if name == "every_module":
        # Parents after children; a parent's grad_output is its last child's
        # and its grad_input is its first child's.
        for parent, first, last in [("7->2", "7->2->0", "7->2->2"),
                                    ("7", "7->0", "7->2")]:
            p, f, l = by_name[parent][0], by_name[first][0], by_name[last][0]
            assert l < f < p, (parent, names)
            assert torch.equal(gcalls[p][2], gcalls[l][2]), parent
            assert torch.equal(gcalls[p][1], gcalls[f][1]), parent
        assert not info["grad_calls_have_in"][by_name["0"][0]]
        assert sum(info["grad_calls_have_in"]) == len(gcalls) - 1


# ------------------------------------------------------------ self-check --

def read_safetensors(path):
    """Independent reader: returns (metadata, {name: numpy array})."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header not padded to 8 bytes"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    dt = {"F32": "<f4", "I32": "<i4"}
    out = {}
    spans = []
    for k, e in header.items():
        b, en = e["data_offsets"]
        spans.append((b, en))
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        arr = np.frombuffer(data[b:en], dtype=dt[e["dtype"]])
        assert arr.size == count, k
        out[k] = arr.reshape(e["shape"])
    spans.sort()
    pos = 0
    for b, en in spans:
        assert b == pos, "gap or overlap in data section"
        pos = en
    assert pos == len(data), "trailing bytes in data section"
    return meta, out


def self_check(path, written):
    meta, got = read_safetensors(path)
    assert set(got) == set(written), path
    for k, a in written.items():
        g = got[k]
        assert g.dtype == a.dtype and g.shape == a.shape, k
        assert g.tobytes() == a.tobytes(), k
    with open(path[:-len(".safetensors")] + ".json", encoding="utf-8") as f:
        info = json.load(f)
    gnames, have_in = info["grad_calls"], info["grad_calls_have_in"]
    assert len(gnames) == len(have_in) == len(info["calls"]), path
    for i, h in enumerate(have_in):
        assert ("gcall.%d.out" % i) in got and (("gcall.%d.in" % i) in got) == h
    assert got["grad_seed"].shape == tuple(info["output_shape"])
    assert ("grad.input" in got) == (info["input_dtype"] == "F32")
    for k, shape in info["state_dict"]:
        assert got["grad.param." + k].shape == tuple(shape), k
    return meta


def main():
    total = 0
    rows = []
    for name, seed, builder in MODELS:
        st, js, written, info, warns = generate(name, seed, builder)
        self_check(st, written)
        sz_st, sz_js = os.path.getsize(st), os.path.getsize(js)
        total += sz_st + sz_js
        rows.append((name, sz_st, sz_js, len(info["calls"]),
                     info["input_shape"], info["output_shape"]))
        for w in warns:
            print("%s: PyTorch warned during backward: %s" % (name, w))
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    print("%-16s %12s %8s %6s  %-12s %s" % ("model", "safetensors", "json",
                                           "calls", "input", "output"))
    for r in rows:
        print("%-16s %12d %8d %6d  %-12s %s" % (r[0], r[1], r[2], r[3],
                                               r[4], r[5]))
    print("total %d bytes; self-check OK" % total)
    assert total < 1_000_000, "fixtures unexpectedly large"


if __name__ == "__main__":
    sys.exit(main())
