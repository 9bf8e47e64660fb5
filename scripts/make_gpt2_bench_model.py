"""Make the GPT-2-small-shaped model of `npm run bench` (section 3).

    /usr/bin/python3 scripts/make_gpt2_bench_model.py [--out DIR] [--force]

Builds GPT-2 small's shape (vocab 50257, n_positions 1024, n_embd 768,
12 layers, 12 heads; 124.4 M parameters) with random weights under a fixed
seed, using the plain-PyTorch GPT-2 of tests/golden/gpt2_reference.py (HF
GPT2LMHeadModel semantics), and writes into DIR (default
~/.cache/unseal-wasm/gpt2-small-bench, or $XDG_CACHE_HOME/unseal-wasm/...):

  config.json        HF GPT2Config keys
  model.safetensors  HF tensor names and layouts (Conv1D weights [nx, nf]),
                     F32, no lm_head.weight (tied to wte), ~498 MB
  model.onnx         the same model exported by torch.onnx.export (opset 17):
                     input "input_ids" int64 [1, T] (T dynamic, 1..1024),
                     output "logits" float32 [1, T, 50257]
  check.safetensors  "input_ids" (I32 [1, 8]) and PyTorch's "logits" for them
  stamp.json         the cache key and what was checked; written last

Weights: every Embedding and Conv1D weight and bias ~ N(0, 0.02); LayerNorm
gain 1 + N(0, 0.02), shift N(0, 0.02) (not HF's init, which zeroes biases and
sets the gains to one: random values everywhere make the engines' agreement
mean more). torch.Generator seed 0, parameters in named_parameters() order.

The folder is regenerated only when missing or when the cache key changed.
The key is the first 16 hex digits of
sha256(bytes of this script + b"\\0" + bytes of tests/golden/gpt2_reference.py)
(scripts/bench.mjs computes the same key to decide whether to run this).

After the export the script checks the .onnx: onnx.checker, then (with Node
and the repository's devDependency onnxruntime-web; Debian has no Python
onnxruntime) runs it on a short input and compares the logits with
PyTorch's; it fails if they differ by more than 1e-3.

Needs Debian's python3-torch and python3-onnx (run with /usr/bin/python3).
"""

import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFERENCE = os.path.join(ROOT, "tests", "golden", "gpt2_reference.py")

CONFIG = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
SEED = 0
CHECK_T = 8
TRACE_T = 5
OPSET = 17
TOLERANCE = 1e-3


def cache_key():
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    h.update(b"\0")
    with open(REFERENCE, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def default_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "unseal-wasm", "gpt2-small-bench")


FILES = ("config.json", "model.safetensors", "model.onnx", "check.safetensors")


def is_current(out, key):
    try:
        with open(os.path.join(out, "stamp.json"), encoding="utf-8") as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return False
    return stamp.get("key") == key and all(os.path.exists(os.path.join(out, n)) for n in FILES)


def hf_config_dict():
    """config.json with the keys HF's GPT2Config writes for gpt2 (small)."""
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": CONFIG["n_positions"],
        "n_embd": CONFIG["n_embd"],
        "n_head": CONFIG["n_head"],
        "n_inner": None,
        "n_layer": CONFIG["n_layer"],
        "n_positions": CONFIG["n_positions"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": CONFIG["vocab_size"],
    }


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, C-contiguous little-endian f32/i32 ndarray)."""
    kinds = {"<f4": "F32", "<i4": "I32"}
    header = {"__metadata__": {str(k): str(v) for k, v in (metadata or {}).items()}}
    offset = 0
    for name, a in tensors:
        n = a.nbytes
        header[name] = {"dtype": kinds[a.dtype.str], "shape": list(a.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for _, a in tensors:
            f.write(memoryview(a).cast("B"))
    os.replace(tmp, path)


def build_model(ref, torch):
    config = ref.GPT2Config(**hf_config_dict())
    torch.manual_seed(SEED)  # the constructors' own init, overwritten below
    model = ref.GPT2LMHeadModel(config).eval()
    g = torch.Generator().manual_seed(SEED)
    norms = {n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)}
    with torch.no_grad():
        for name, p in model.named_parameters():  # lm_head.weight is wte: listed once
            owner, _, kind = name.rpartition(".")
            r = 0.02 * torch.randn(p.shape, generator=g)
            p.copy_(1 + r if owner in norms and kind == "weight" else r)
    assert model.lm_head.weight is model.transformer.wte.weight
    return config, model


def export_onnx(model, torch, path):
    """torch.onnx.export of the reference model itself (no wrapper needed).

    Traced at T = TRACE_T, which differs from the check's CHECK_T, so a
    sequence length frozen into the graph would fail the check."""
    ids = torch.zeros(1, TRACE_T, dtype=torch.long)
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            model, (ids,), tmp, input_names=["input_ids"], output_names=["logits"],
            dynamic_axes={"input_ids": {1: "T"}, "logits": {1: "T"}},
            opset_version=OPSET, do_constant_folding=True)
    import onnx

    m = onnx.load(tmp)
    onnx.checker.check_model(tmp)  # by path: the model is over 100 MB
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    inits = [(i.name, list(i.dims)) for i in m.graph.initializer]
    big = sorted(inits, key=lambda x: -_numel(x[1]))[:3]
    del m
    os.replace(tmp, path)
    return ops, big, len(inits)


def _numel(dims):
    n = 1
    for d in dims:
        n *= d
    return n


# Run by `node --input-type=module -e` with cwd = the repository root, so
# 'onnxruntime-web' resolves to the devDependency. argv: .onnx, ids (JSON), out.
NODE_CHECK = r"""
import { writeFileSync } from 'node:fs';
const [onnxPath, idsJson, outPath] = process.argv.slice(1);
const ort = await import('onnxruntime-web');
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';
const s = await ort.InferenceSession.create(onnxPath, { executionProviders: ['wasm'] });
const ids = JSON.parse(idsJson);
const t = new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
const y = (await s.run({ input_ids: t })).logits;
writeFileSync(outPath, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
console.log(JSON.stringify(y.dims));
"""


def check_with_ort(onnx_path, ids, want, np):
    """Runs the .onnx in onnxruntime-web (Node) and returns max |ORT - PyTorch|, or None."""
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(ROOT, "node_modules", "onnxruntime-web")):
        return None, "node or node_modules/onnxruntime-web missing (npm install)"
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.f32")
        r = subprocess.run([node, "--input-type=module", "-e", NODE_CHECK, onnx_path,
                            json.dumps([int(i) for i in ids]), out],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise SystemExit("onnxruntime-web could not run %s (exit %d)" % (onnx_path, r.returncode))
        got = np.fromfile(out, dtype="<f4")
    if got.size != want.size:
        raise SystemExit("onnxruntime-web returned %d logits, expected %d (dims %s)"
                         % (got.size, want.size, r.stdout.strip()))
    return float(np.abs(got - want.reshape(-1)).max()), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=default_dir(), help="the folder to write (default %(default)s)")
    ap.add_argument("--force", action="store_true", help="regenerate even if the folder is current")
    ap.add_argument("--print-key", action="store_true", help="print the cache key and exit")
    args = ap.parse_args()
    key = cache_key()
    if args.print_key:
        print(key)
        return
    out = os.path.abspath(args.out)
    if not args.force and is_current(out, key):
        print("%s is current (key %s)" % (out, key))
        return

    import numpy as np
    import torch

    sys.dont_write_bytecode = True  # keep tests/golden free of __pycache__
    sys.path.insert(0, os.path.dirname(REFERENCE))
    import gpt2_reference as ref

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(out, exist_ok=True)
    try:
        os.remove(os.path.join(out, "stamp.json"))  # not current while we write
    except FileNotFoundError:
        pass

    t0 = time.time()
    config, model = build_model(ref, torch)
    n_params = sum(p.numel() for p in model.parameters())
    print("built GPT-2 small shape, %.1f M parameters (%.1f s)" % (n_params / 1e6, time.time() - t0))

    with open(os.path.join(out, "config.json.tmp"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(hf_config_dict(), f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(os.path.join(out, "config.json.tmp"), os.path.join(out, "config.json"))
    sd = [(k, v.detach().contiguous().numpy().astype("<f4", copy=False))
          for k, v in model.state_dict().items() if k != "lm_head.weight"]
    write_safetensors(os.path.join(out, "model.safetensors"), sd, {"format": "pt"})
    del sd
    print("wrote config.json, model.safetensors (%.1f s)" % (time.time() - t0))

    # The folder must load back into the reference and give the same logits.
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(0, CONFIG["vocab_size"], (1, CHECK_T), generator=g)
    with torch.no_grad():
        want = model(ids).numpy()
        again = ref.load_hf_folder(out)(ids).numpy()
    if not np.array_equal(want, again):
        raise SystemExit("the written folder does not reproduce the model's logits")

    t1 = time.time()
    onnx_path = os.path.join(out, "model.onnx")
    ops, big, n_init = export_onnx(model, torch, onnx_path)
    print("exported %s in %.1f s: %s; %d initializers, largest %s"
          % (onnx_path, time.time() - t1, ", ".join("%s x%d" % kv for kv in sorted(ops.items())),
             n_init, ", ".join("%s %s" % (n, d) for n, d in big)))

    write_safetensors(os.path.join(out, "check.safetensors"),
                      [("input_ids", ids.numpy().astype("<i4")), ("logits", want.astype("<f4"))])

    diff, why = check_with_ort(onnx_path, ids[0].tolist(), want, np)
    if diff is None:
        print("WARNING: the .onnx was not run (%s); only onnx.checker passed" % why)
    else:
        print("onnxruntime-web vs PyTorch on [1, %d] ids: max |logit diff| %.3g (max |logit| %.3g)"
              % (CHECK_T, diff, float(np.abs(want).max())))
        if diff > TOLERANCE:
            raise SystemExit("ONNX and PyTorch disagree by %.3g > %g" % (diff, TOLERANCE))

    import onnx

    stamp = {
        "key": key,
        "generator": "scripts/make_gpt2_bench_model.py",
        "config": CONFIG,
        "seed": SEED,
        "parameters": n_params,
        "onnx": {"opset": OPSET, "ops": ops, "largest_initializers": big,
                 "ort_vs_torch_max_abs_diff": diff, "check_t": CHECK_T},
        "torch": torch.__version__,
        "onnx_version": onnx.__version__,
        "seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(out, "stamp.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(stamp, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(out, "stamp.json.tmp"), os.path.join(out, "stamp.json"))
    print("done in %.1f s: %s (key %s)" % (time.time() - t0, out, key))


if __name__ == "__main__":
    main()
