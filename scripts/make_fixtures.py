#!/usr/bin/env python3
"""Writes Tests/MyelinCoreTests/Fixtures/ops.safetensors: PyTorch's forward values
and input gradients for every core op, on fixed random inputs.

Run once when an op is added (CI reads the committed file and needs no PyTorch):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch safetensors
    /tmp/venv/bin/python scripts/make_fixtures.py

For each case NAME the file holds
    NAME/in0, NAME/in1, ...   the inputs (float32, or int64/bool for indices and masks)
    NAME/out                  torch's float32 output
    NAME/gout                 the upstream gradient fed to backward
    NAME/grad0, ...           torch's float32 gradients of the float inputs
and the metadata entry "cases" lists every case with a tolerance per tensor:
    tol = 1e-5 + 2 * (relative error of torch's own float32 result against float64),
where relative error = max|x - ref| / max|ref|. So Myelin must match to 1e-5 wherever
PyTorch's own float32 result is that precise, and no tighter than PyTorch itself is.
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
g = torch.Generator().manual_seed(1234)


def randn(*shape):
    return torch.randn(tuple(shape), generator=g, dtype=torch.float32)


def positive(*shape):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float32) * 2 + 0.25


def away_from_zero(*shape):
    x = randn(*shape)
    return x + 0.2 * torch.sign(x)


def distinct(*shape):
    # Distinct values (no ties) so max/min/argmax gradients are unambiguous.
    n = math.prod(shape)
    return (torch.randperm(n, generator=g).float() / n * 4 - 2 + 0.01 * randn(n)).reshape(shape)


def idx(high, *shape):
    return torch.randint(0, high, shape, generator=g, dtype=torch.int64)


# name: (inputs, function). Inputs that are float take gradients.
CASES = {
    # arithmetic with broadcasting
    "add_broadcast": ([randn(2, 3), randn(3)], lambda a, b: a + b),
    "sub_broadcast": ([randn(2, 1, 3), randn(4, 1)], lambda a, b: a - b),
    "mul_broadcast": ([randn(2, 3, 1), randn(1, 4)], lambda a, b: a * b),
    "div_broadcast": ([randn(3, 4), away_from_zero(4)], lambda a, b: a / b),
    "add_scalar": ([randn(5)], lambda a: a + 2.5),
    "rsub_scalar": ([randn(5)], lambda a: 1.5 - a),
    "mul_scalar": ([randn(2, 3)], lambda a: a * -3.0),
    "rdiv_scalar": ([away_from_zero(6)], lambda a: 2.0 / a),
    "neg": ([randn(2, 3)], lambda a: -a),
    # element-wise math
    "pow_scalar": ([positive(2, 3)], lambda a: a ** 2.5),
    "pow_tensor": ([positive(2, 3), randn(3)], lambda a, b: torch.pow(a, b)),
    "abs": ([away_from_zero(2, 3)], torch.abs),
    "sqrt": ([positive(2, 3)], torch.sqrt),
    "rsqrt": ([positive(2, 3)], torch.rsqrt),
    "exp": ([randn(2, 3)], torch.exp),
    "log": ([positive(2, 3)], torch.log),
    "log1p": ([positive(2, 3) - 0.2], torch.log1p),
    "sin": ([randn(2, 3)], torch.sin),
    "cos": ([randn(2, 3)], torch.cos),
    "square": ([randn(2, 3)], torch.square),
    "tanh": ([randn(2, 3) * 2], torch.tanh),
    "sigmoid": ([randn(2, 3) * 3], torch.sigmoid),
    "relu": ([away_from_zero(2, 3)], torch.relu),
    "leaky_relu": ([away_from_zero(2, 3)], lambda a: F.leaky_relu(a, 0.1)),
    "elu": ([away_from_zero(2, 3)], lambda a: F.elu(a, 1.5)),
    "gelu_erf": ([randn(2, 3) * 2], lambda a: F.gelu(a)),
    "gelu_tanh": ([randn(2, 3) * 2], lambda a: F.gelu(a, approximate="tanh")),
    "softplus": ([randn(2, 3) * 5], lambda a: F.softplus(a, beta=2.0, threshold=5.0)),
    "clamp": ([randn(3, 4)], lambda a: torch.clamp(a, -0.5, 0.7)),
    "minimum": ([distinct(2, 3), distinct(3)], torch.minimum),
    "maximum": ([distinct(2, 3), distinct(2, 1)], torch.maximum),
    "where": ([randn(2, 3) > 0, randn(2, 3), randn(3)], lambda c, a, b: torch.where(c, a, b)),
    # reductions
    "sum_all": ([randn(2, 3, 4)], lambda a: a.sum()),
    "sum_axes02_keep": ([randn(2, 3, 4)], lambda a: a.sum(dim=(0, 2), keepdim=True)),
    "mean_axis1": ([randn(2, 3, 4)], lambda a: a.mean(dim=1)),
    "mean_all": ([randn(3, 5)], lambda a: a.mean()),
    "max_axis1": ([distinct(3, 5)], lambda a: a.amax(dim=1)),
    "min_axis0_keep": ([distinct(3, 5)], lambda a: a.amin(dim=0, keepdim=True)),
    "var_unbiased_axis1": ([randn(3, 6)], lambda a: a.var(dim=1, unbiased=True)),
    "var_biased_all": ([randn(3, 6)], lambda a: a.var(unbiased=False)),
    "std_unbiased_axes01": ([randn(2, 3, 4)], lambda a: a.std(dim=(0, 1), unbiased=True)),
    "logsumexp_last": ([randn(3, 7) * 4], lambda a: torch.logsumexp(a, dim=-1)),
    "softmax_axis1": ([randn(2, 4, 3) * 3], lambda a: torch.softmax(a, dim=1)),
    "softmax_last": ([randn(3, 10) * 3], lambda a: torch.softmax(a, dim=-1)),
    "log_softmax_last": ([randn(3, 10) * 3], lambda a: torch.log_softmax(a, dim=-1)),
    "log_softmax_axis0": ([randn(4, 3) * 3], lambda a: torch.log_softmax(a, dim=0)),
    # matrix products
    "matmul_2d": ([randn(4, 5), randn(5, 3)], torch.matmul),
    "matmul_batched_broadcast": ([randn(2, 1, 3, 4), randn(3, 4, 5)], torch.matmul),
    "matmul_vec": ([randn(3, 4), randn(4)], torch.matmul),
    "matmul_transpose_b": ([randn(4, 5), randn(3, 5)], lambda a, b: a @ b.T),
    "matmul_transpose_a": ([randn(5, 4), randn(5, 3)], lambda a, b: a.T @ b),
    # shape ops
    "reshape": ([randn(2, 6)], lambda a: a.reshape(3, 4) * torch.arange(12.0).reshape(3, 4)),
    "transpose": ([randn(2, 3, 4)], lambda a: a.transpose(0, 2)),
    "permute": ([randn(2, 3, 4)], lambda a: a.permute(1, 2, 0)),
    "expand": ([randn(3, 1)], lambda a: a.expand(2, 3, 4)),
    "concat_axis1": ([randn(2, 3), randn(2, 2)], lambda a, b: torch.cat([a, b], dim=1)),
    "stack_axis1": ([randn(2, 3), randn(2, 3)], lambda a, b: torch.stack([a, b], dim=1)),
    "split": ([randn(5, 2)], lambda a: torch.cat([p * (i + 1) for i, p in enumerate(torch.split(a, [2, 3], dim=0))])),
    "chunk": ([randn(2, 7)], lambda a: torch.cat([p * (i + 1) for i, p in enumerate(torch.chunk(a, 3, dim=1))], dim=1)),
    "slice_step": ([randn(4, 9)], lambda a: a[1:3, 1:8:3]),
    "index_select": ([randn(4, 3), torch.tensor([2, 0, 2])], lambda a, i: torch.index_select(a, 0, i)),
    "gather": ([randn(3, 4), idx(4, 3, 2)], lambda a, i: torch.gather(a, 1, i)),
    "scatter_add": ([randn(3, 5), idx(5, 3, 4), randn(3, 4)], lambda a, i, s: a.scatter_add(1, i, s)),
    "pad": ([randn(2, 3)], lambda a: F.pad(a, (1, 2, 0, 1), value=0.5)),
}


def relerr(x, ref):
    scale = ref.abs().max().item() if ref.numel() else 0.0
    return (x.double() - ref).abs().max().item() / max(scale, 1e-30) if ref.numel() else 0.0


def run(inputs, fn, dtype):
    xs = [x.detach().to(dtype).clone().requires_grad_() if x.is_floating_point() else x for x in inputs]
    y = fn(*xs)
    return xs, y


tensors, meta = {}, []
for name, (inputs, fn) in CASES.items():
    xs32, y32 = run(inputs, fn, torch.float32)
    xs64, y64 = run(inputs, fn, torch.float64)
    gout = randn(*y32.shape)
    y32.backward(gout)
    y64.backward(gout.double())
    for i, x in enumerate(inputs):
        tensors[f"{name}/in{i}"] = x.contiguous()
    tensors[f"{name}/out"] = y32.detach().contiguous()
    tensors[f"{name}/gout"] = gout
    tols = {"out": 1e-5 + 2 * relerr(y32.detach(), y64.detach())}
    for i, (a, b) in enumerate(zip(xs32, xs64)):
        if a.is_floating_point():
            tensors[f"{name}/grad{i}"] = a.grad.contiguous()
            tols[f"grad{i}"] = 1e-5 + 2 * relerr(a.grad, b.grad)
    meta.append({"name": name, "inputs": len(inputs), "tolerance": tols})

# argmax/argmin/oneHot: integer outputs, no gradients.
a = distinct(3, 5)
tensors["argmax_axis1/in0"], tensors["argmax_axis1/out"] = a, a.argmax(dim=1)
tensors["argmin_all/in0"], tensors["argmin_all/out"] = a.clone(), a.argmin().reshape(())
labels = idx(4, 6)
tensors["one_hot/in0"], tensors["one_hot/out"] = labels, F.one_hot(labels, 4).float()
for n in ["argmax_axis1", "argmin_all", "one_hot"]:
    meta.append({"name": n, "inputs": 1, "tolerance": {"out": 0.0}})

out = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinCoreTests", "Fixtures", "ops.safetensors")
save_file(tensors, out, metadata={"cases": json.dumps(meta), "torch": torch.__version__})
print(f"wrote {len(meta)} cases, {len(tensors)} tensors to {os.path.normpath(out)} (torch {torch.__version__})")
