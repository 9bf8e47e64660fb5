"""Writes tests/golden/tensor_format.json: tensors and str(tensor) as PyTorch prints them,
the oracle for web/format.js. Rerun from the repo root: /usr/bin/python3 tests/golden/make_tensor_format.py"""
import torch, json
torch.manual_seed(0)
cases = [torch.rand(1,8), torch.randn(1,64)*0.5, torch.randn(2,3), torch.randn(2,2,3), torch.tensor([1.,2.,3.]), torch.randn(3)*1e-6, torch.randn(40,40), torch.tensor([0.5, 1e5]), torch.zeros(2,2), torch.tensor(3.5), torch.randn(2000)]
out=[]
for t in cases:
    out.append({"data": t.flatten().tolist(), "shape": list(t.shape), "str": str(t)})
json.dump(out, open('/work/main/tests/golden/tensor_format.json','w'))
