"""Generate the golden fixtures that unseal-wasm's tests compare against.

For each small PyTorch model defined below this script writes, next to
itself (tests/golden/):

  <model>.safetensors  parameters, the forward input and output, and the
                       input/output of every module call made during the
                       forward pass (recorded with PyTorch forward hooks).
  <model>.json         str(model), the Unseal-style layer names, the call
                       order, state_dict shapes, input/output shapes.

Tensor keys in the safetensors file:
  param.<state_dict name>   e.g. param.0.weight, param.2.0.bias
  input, output             forward input / output (ids for nn.Embedding
                            models are stored as I32, everything else F32)
  call.<i>.in, call.<i>.out input[0] and output of the i-th module call, in
                            the order PyTorch forward hooks fire (a child's
                            hook fires before its parent Sequential's hook).

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
    }
    js_path = os.path.join(OUT_DIR, name + ".json")
    with open(js_path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
        f.write("\n")

    sanity_checks(name, model, info, calls, x, y)
    return st_path, js_path, dict(tensors), info


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
    return meta


def main():
    total = 0
    rows = []
    for name, seed, builder in MODELS:
        st, js, written, info = generate(name, seed, builder)
        self_check(st, written)
        sz_st, sz_js = os.path.getsize(st), os.path.getsize(js)
        total += sz_st + sz_js
        rows.append((name, sz_st, sz_js, len(info["calls"]),
                     info["input_shape"], info["output_shape"]))
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
