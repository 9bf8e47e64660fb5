"""Export PyTorch's nn.Linear to ONNX, for the onnxruntime-web comparison in
scripts/bench.mjs (`npm run bench`).

    /usr/bin/python3 scripts/export_onnx.py --out FILE.onnx
        [--weights FILE.safetensors] [--rows 128] [--in 768] [--out-features 3072]

The graph is one nn.Linear(in, out) on a fixed [rows, in] float32 input named
"x", giving "y" [rows, out] (PyTorch exports it as a single Gemm with
transB = 1). With --weights, the Linear's "weight" [out, in] and "bias" [out]
are read from a safetensors file (as written by unseal-wasm's
HookedModel.saveStateDict), so both engines multiply by the same numbers;
without it, PyTorch's default initialisation under torch.manual_seed(0).

Needs Debian's python3-torch and python3-onnx (run with /usr/bin/python3).
The safetensors reader is hand-written: no safetensors package is needed.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    """{name: float32 ndarray} of a safetensors file (F32 entries only)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    data = buf[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            sys.exit(f"{path}: '{name}' is {e['dtype']}; only F32 is supported here")
        begin, end = e["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(e["shape"]).copy()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="the .onnx file to write")
    ap.add_argument("--weights", help="safetensors file with 'weight' and 'bias'")
    ap.add_argument("--rows", type=int, default=128)
    ap.add_argument("--in", dest="in_features", type=int, default=768)
    ap.add_argument("--out-features", type=int, default=3072)
    args = ap.parse_args()

    torch.manual_seed(0)
    linear = torch.nn.Linear(args.in_features, args.out_features).eval()
    if args.weights:
        sd = read_safetensors(args.weights)
        want = {"weight": (args.out_features, args.in_features), "bias": (args.out_features,)}
        for k, shape in want.items():
            if k not in sd or tuple(sd[k].shape) != shape:
                got = tuple(sd[k].shape) if k in sd else "missing"
                sys.exit(f"{args.weights}: expected '{k}' of shape {shape}, got {got}")
        linear.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)

    x = torch.zeros(args.rows, args.in_features)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(linear, (x,), tmp, input_names=["x"], output_names=["y"],
                          opset_version=17, do_constant_folding=True)

    import onnx  # imported late: only the check needs it

    onnx.checker.check_model(onnx.load(tmp))
    os.replace(tmp, args.out)  # atomic: a half-written file is never cached
    ops = [n.op_type for n in onnx.load(args.out).graph.node]
    print(f"wrote {args.out} (ops: {', '.join(ops)}; torch {torch.__version__}, onnx {onnx.__version__})")


if __name__ == "__main__":
    main()
