"""Fixtures for MyelinIOTests, written by the reference Python safetensors library.

    /work/venv-torch/bin/python scripts/fixtures_io.py

writes Tests/MyelinIOTests/Fixtures/io.safetensors: one tensor per safetensors dtype
that Myelin reads, each next to "<name>.expected", the values PyTorch gets when it
widens them (to float32 for F16/BF16/F8, to int64 for integers), so the Swift test
compares Myelin's conversion with PyTorch's; plus a rank-0 tensor, an empty tensor
and metadata. Also Tests/MyelinIOTests/Fixtures/linear.safetensors: the state dict
of a seeded torch.nn.Sequential(Linear(3, 4), ReLU(), Linear(4, 2)) with a
BatchNorm1d(2) after it (weights and running statistics), as save_file writes it.
"""
import os

import torch
from safetensors.torch import save_file

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "MyelinIOTests", "Fixtures")
os.makedirs(root, exist_ok=True)

floats = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.140625, 1e-3, 65504.0, 6e-8, float("inf"), float("-inf"), float("nan"), 0.1])
t = {}
# float types, widened to float32 for the expectation
t["f32"] = floats.reshape(3, 4)
t["f64"] = floats.double().reshape(2, 6) / 3
t["f16"] = floats.half().reshape(4, 3)
t["bf16"] = (floats * 7).bfloat16().reshape(12)
e4 = torch.tensor([0.0, -0.0, 1.0, -1.5, 448.0, -448.0, 0.015625, 0.001953125, 0.1, 3.25, 17.0, float("nan")])
t["f8_e4m3"] = e4.to(torch.float8_e4m3fn).reshape(2, 2, 3)
e5 = torch.tensor([0.0, -0.0, 1.0, -1.5, 57344.0, -57344.0, 1.52587890625e-05, float("inf"), float("-inf"), 0.1, 3.0, float("nan")])
t["f8_e5m2"] = e5.to(torch.float8_e5m2).reshape(12)
for name in ["f16", "bf16", "f8_e4m3", "f8_e5m2"]:
    t[name + ".expected"] = t[name].float()
t["f32.expected"] = t["f32"].clone()
t["f64.expected"] = t["f64"].clone()
# integer types, widened to int64 for the expectation
t["i64"] = torch.tensor([-(2**63), 2**63 - 1, 0, -1, 42, 7], dtype=torch.int64).reshape(3, 2)
t["i32"] = torch.tensor([-(2**31), 2**31 - 1, 0, -1, 5], dtype=torch.int32)
t["i16"] = torch.tensor([-32768, 32767, 0, -1, 300], dtype=torch.int16)
t["i8"] = torch.tensor([-128, 127, 0, -1, 9], dtype=torch.int8)
t["u8"] = torch.tensor([0, 255, 128, 1, 77], dtype=torch.uint8)
t["u16"] = torch.tensor([0, 65535, 1, 40000], dtype=torch.uint16)
t["u32"] = torch.tensor([0, 4294967295, 1, 3000000000], dtype=torch.uint32)
t["u64"] = torch.tensor([0, 2**63 - 1, 1, 12345678901234], dtype=torch.uint64)
for name in ["i64", "i32", "i16", "i8", "u8", "u16", "u32", "u64"]:
    t[name + ".expected"] = t[name].to(torch.int64).clone() if name != "u64" else torch.tensor([0, 2**63 - 1, 1, 12345678901234])
t["bool"] = torch.tensor([[True, False, True], [False, False, True]])
t["scalar"] = torch.tensor(2.75)
t["empty"] = torch.zeros(0, 3)
save_file(t, os.path.join(root, "io.safetensors"), metadata={"producer": "scripts/fixtures_io.py", "note": "ünïcode ✓ \"quoted\""})

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2), torch.nn.BatchNorm1d(2))
model.train()
model(torch.randn(8, 3))  # moves the running statistics away from 0 and 1
sd = {k: v.contiguous() for k, v in model.state_dict().items()}
save_file(sd, os.path.join(root, "linear.safetensors"), metadata={"format": "pt"})
for k, v in sd.items():
    print(k, tuple(v.shape), v.dtype)
