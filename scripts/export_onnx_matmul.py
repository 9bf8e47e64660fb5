"""Write a one-node ONNX graph, a batched MatMul of two inputs, for the
onnxruntime-web side of the attention-shaped matmul benchmark in
scripts/bench.mjs (`npm run bench`, section 4).

    /usr/bin/python3 scripts/export_onnx_matmul.py --out FILE.onnx --a 12,128,64 --b 12,64,128

Inputs "a" [H, M, K] and "b" [H, K, N] (float32, both graph inputs, as q and
kᵀ are activations, not weights), output "y" [H, M, N] = a @ b, opset 17.
Needs Debian's python3-onnx (run with /usr/bin/python3); no PyTorch.
"""

import argparse

import onnx
from onnx import TensorProto, helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--a", required=True, help="shape of a, comma-separated, e.g. 12,128,64")
    ap.add_argument("--b", required=True, help="shape of b, e.g. 12,64,128")
    args = ap.parse_args()
    a = [int(x) for x in args.a.split(",")]
    b = [int(x) for x in args.b.split(",")]
    if len(a) != 3 or len(b) != 3 or a[0] != b[0] or a[2] != b[1]:
        raise SystemExit(f"shapes do not make a batched matmul: a {a}, b {b}")
    y = [a[0], a[1], b[2]]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])],
        "batched_matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, a), helper.make_tensor_value_info("b", TensorProto.FLOAT, b)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="unseal-wasm bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    print(f"wrote {args.out}: MatMul {a} x {b} -> {y}")


if __name__ == "__main__":
    main()
