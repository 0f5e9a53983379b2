"""PyTorch reference values for ConvTransposeTests.swift, LRNTests.swift and UpsampleTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_conv4.py
Writes Tests/MyelinNNTests/Fixtures/conv4.safetensors.

The metadata entry "cases" is a JSON list describing every case (op and arguments).
Per case <name>: float32 inputs <name>.input, <name>.weight, <name>.bias, <name>.grad_output;
float64 results <name>.output, <name>.grad_input, <name>.grad_weight, <name>.grad_bias
(PyTorch run in float64 on the float32 inputs).
Layer case "layer_ct": a torch.nn.ConvTranspose2d's state (layer_ct.state.weight/bias),
its input, output and gradients of sum(y * r).
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}
cases = []


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


# (name, N, Cin, H, W, Cout, kernel, stride, padding, output_padding, groups, dilation, bias)
CT = [
    ("ct_basic", 2, 3, 4, 4, 2, 3, 1, 0, 0, 1, 1, True),
    ("ct_stride2", 2, 3, 4, 5, 4, 3, 2, 0, 0, 1, 1, True),
    ("ct_stride2_pad1_outpad1", 2, 2, 4, 4, 3, 3, 2, 1, 1, 1, 1, True),
    ("ct_groups2", 2, 4, 3, 3, 6, 3, 2, 1, 0, 2, 1, True),
    ("ct_depthwise", 1, 3, 4, 4, 3, 3, 1, 1, 0, 3, 1, True),
    ("ct_dilation2", 1, 2, 4, 4, 3, 3, 1, 1, 0, 1, 2, False),
    ("ct_dilation2_outpad1", 1, 2, 3, 3, 2, 3, 1, 0, 1, 1, 2, True),
    ("ct_rect", 2, 3, 3, 4, 2, [2, 3], [2, 1], [0, 1], [1, 0], 1, 1, True),
    ("ct_k2s2", 2, 4, 3, 3, 2, 2, 2, 0, 0, 1, 1, True),
    ("ct_1x1", 2, 4, 3, 3, 3, 1, 1, 0, 0, 1, 1, True),
    ("ct_1x1_dilation2_outpad1", 1, 2, 3, 3, 2, 1, 1, 0, 1, 1, 2, True),
    ("ct_all", 2, 4, 3, 4, 4, 3, 2, 1, 1, 2, 2, True),
]

for (name, n, cin, h, w, cout, k, s, p, op, g, d, bias) in CT:
    kh, kw = pair(k)
    x = torch.randn(n, cin, h, w)
    wt = torch.randn(cin, cout // g, kh, kw) * 0.5
    b = torch.randn(cout) if bias else None
    args = dict(stride=pair(s), padding=pair(p), output_padding=pair(op), groups=g, dilation=pair(d))
    y32 = F.conv_transpose2d(x, wt, b, **args)
    gy = torch.randn_like(y32)
    x64 = x.double().requires_grad_()
    w64 = wt.double().requires_grad_()
    b64 = b.double().requires_grad_() if bias else None
    y = F.conv_transpose2d(x64, w64, b64, **args)
    y.backward(gy.double())
    out[f"{name}.input"] = x
    out[f"{name}.weight"] = wt
    out[f"{name}.grad_output"] = gy
    out[f"{name}.output"] = y.detach()
    out[f"{name}.grad_input"] = x64.grad
    out[f"{name}.grad_weight"] = w64.grad
    if bias:
        out[f"{name}.bias"] = b
        out[f"{name}.grad_bias"] = b64.grad
    cases.append(dict(name=name, op="convTranspose2d", kernel=[kh, kw], stride=pair(s), padding=pair(p),
                      output_padding=pair(op), groups=g, dilation=pair(d), bias=bias))

# (name, shape, size, alpha, beta, k)
LRN = [
    ("lrn_default5", (2, 7, 3, 3), 5, 1e-4, 0.75, 1.0),
    ("lrn_strong5", (2, 7, 3, 3), 5, 0.5, 0.75, 1.0),
    ("lrn_even2", (1, 4, 2, 3), 2, 0.3, 0.75, 1.0),
    ("lrn_size3_k2", (2, 5, 2, 2), 3, 0.4, 0.5, 2.0),
    ("lrn_rank3", (2, 6, 5), 3, 0.3, 0.75, 1.0),
    ("lrn_wide", (1, 3, 2, 2), 7, 0.6, 0.75, 1.0),
]
for (name, shape, size, alpha, beta, k) in LRN:
    x = torch.randn(*shape) * 2
    gy = torch.randn(*shape)
    x64 = x.double().requires_grad_()
    y = F.local_response_norm(x64, size, alpha=alpha, beta=beta, k=k)
    y.backward(gy.double())
    out[f"{name}.input"] = x
    out[f"{name}.grad_output"] = gy
    out[f"{name}.output"] = y.detach()
    out[f"{name}.grad_input"] = x64.grad
    cases.append(dict(name=name, op="lrn", size=size, alpha=alpha, beta=beta, k=k))

# (name, shape, size or None, scale or None, mode, align_corners)
UP = [
    ("up_nearest_x2", (2, 2, 3, 4), None, 2.0, "nearest", False),
    ("up_nearest_size", (1, 2, 3, 4), [5, 7], None, "nearest", False),
    ("up_nearest_down", (1, 2, 6, 7), [4, 3], None, "nearest", False),
    ("up_nearest_x1.5", (1, 1, 4, 6), None, 1.5, "nearest", False),
    ("up_bilinear_x2", (2, 2, 3, 4), None, 2.0, "bilinear", False),
    ("up_bilinear_x2_ac", (2, 2, 3, 4), None, 2.0, "bilinear", True),
    ("up_bilinear_size", (1, 2, 3, 4), [5, 7], None, "bilinear", False),
    ("up_bilinear_size_ac", (1, 2, 3, 4), [5, 7], None, "bilinear", True),
    ("up_bilinear_down", (1, 2, 5, 7), [2, 3], None, "bilinear", False),
    ("up_bilinear_down_ac", (1, 2, 5, 7), [2, 3], None, "bilinear", True),
    ("up_bilinear_x3", (1, 1, 2, 3), None, 3.0, "bilinear", False),
]
for (name, shape, size, scale, mode, ac) in UP:
    x = torch.randn(*shape)
    x64 = x.double().requires_grad_()
    kw = dict(mode=mode)
    if mode == "bilinear":
        kw["align_corners"] = ac
    if size is not None:
        y = F.interpolate(x64, size=size, **kw)
    else:
        y = F.interpolate(x64, scale_factor=scale, **kw)
    gy = torch.randn(y.shape)
    y.backward(gy.double())
    out[f"{name}.input"] = x
    out[f"{name}.grad_output"] = gy
    out[f"{name}.output"] = y.detach()
    out[f"{name}.grad_input"] = x64.grad
    c = dict(name=name, op="upsample", mode=mode, align_corners=ac)
    if size is not None:
        c["size"] = size
    else:
        c["scale"] = scale
    cases.append(c)

# A layer with PyTorch's own initialisation and names.
layer = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
x = torch.randn(2, 4, 3, 3, requires_grad=True)
y = layer(x)
r = torch.randn_like(y)
(y * r).sum().backward()
for k_, v in layer.state_dict().items():
    out[f"layer_ct.state.{k_}"] = v.detach().clone()
out["layer_ct.input"] = x.detach()
out["layer_ct.r"] = r
out["layer_ct.output"] = y.detach()
out["layer_ct.grad_input"] = x.grad
out["layer_ct.grad.weight"] = layer.weight.grad
out["layer_ct.grad.bias"] = layer.bias.grad

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "conv4.safetensors")
save_file({k_: v.contiguous() for k_, v in out.items()}, path, metadata={"cases": json.dumps(cases)})
print(f"wrote {len(out)} tensors, {len(cases)} cases to {os.path.normpath(path)}")
