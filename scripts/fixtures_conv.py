"""PyTorch reference values for Tests/MyelinNNTests/ConvTests.swift and PoolingTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_conv.py
Writes Tests/MyelinNNTests/Fixtures/conv.safetensors.

The metadata entry "cases" is a JSON list describing every case (op and arguments),
so the Swift tests read the configurations from the file instead of repeating them.
Per case <name>:
  <name>.input, <name>.weight, <name>.bias, <name>.grad_output   float32 inputs
  <name>.output, <name>.grad_input, <name>.grad_weight, <name>.grad_bias
      float64: PyTorch run in float64 on the float32 inputs, so Myelin's float64
      results must agree to ~1e-12 and its float32 results to float32 rounding.
"""
import json
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}
cases = []

# (name, N, C, H, W, O, kernel, stride, padding, dilation, groups, bias)
CONV = [
    ("conv_basic", 2, 3, 8, 8, 4, 3, 1, 0, 1, 1, True),
    ("conv_stride2_pad1", 2, 3, 9, 9, 5, 3, 2, 1, 1, 1, True),
    ("conv_dilation2", 2, 2, 10, 10, 3, 3, 1, 2, 2, 1, True),
    ("conv_groups2", 2, 4, 7, 7, 6, 3, 1, 1, 1, 2, True),
    ("conv_depthwise", 2, 4, 8, 8, 4, 3, 1, 1, 1, 4, True),
    ("conv_depthwise_mult2", 1, 3, 6, 6, 6, 3, 2, 1, 1, 3, False),
    ("conv_same_3x3", 2, 3, 7, 7, 4, 3, 1, "same", 1, 1, True),
    ("conv_same_even4", 2, 2, 7, 6, 3, 4, 1, "same", 1, 1, True),
    ("conv_same_even_dilated", 1, 2, 9, 9, 2, [2, 4], 1, "same", [3, 1], 1, True),
    ("conv_valid", 2, 3, 7, 9, 4, 3, 1, "valid", 1, 1, True),
    ("conv_1x1", 2, 8, 5, 5, 6, 1, 1, 0, 1, 1, True),
    ("conv_1x1_groups2_nobias", 2, 8, 4, 6, 4, 1, 1, 0, 1, 2, False),
    ("conv_1x1_stride2", 2, 4, 7, 7, 3, 1, 2, 0, 1, 1, True),
    ("conv_rect", 2, 3, 9, 11, 4, [3, 5], [2, 1], [1, 2], 1, 1, False),
    ("conv_lenet1", 2, 3, 32, 32, 6, 5, 1, 0, 1, 1, True),
    ("conv_lenet2", 3, 6, 14, 14, 16, 5, 1, 0, 1, 1, True),
]


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


for (name, n, c, h, w, o, k, s, p, d, g, bias) in CONV:
    kh, kw = pair(k)
    x = torch.randn(n, c, h, w)
    wt = torch.randn(o, c // g, kh, kw) * 0.5
    b = torch.randn(o) if bias else None
    y32 = F.conv2d(x, wt, b, stride=pair(s), padding=p if isinstance(p, str) else pair(p),
                   dilation=pair(d), groups=g)
    gy = torch.randn_like(y32)
    x64 = x.double().requires_grad_()
    w64 = wt.double().requires_grad_()
    b64 = b.double().requires_grad_() if bias else None
    y = F.conv2d(x64, w64, b64, stride=pair(s), padding=p if isinstance(p, str) else pair(p),
                 dilation=pair(d), groups=g)
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
    cases.append(dict(name=name, op="conv2d", kernel=[kh, kw], stride=pair(s),
                      padding=p if isinstance(p, str) else pair(p), dilation=pair(d), groups=g, bias=bias))

# (name, op, shape, args)
POOL = [
    ("maxpool_k2", "maxPool2d", (2, 3, 8, 8), dict(kernel=[2, 2], stride=[2, 2], padding=[0, 0], dilation=[1, 1], ceil=False)),
    ("maxpool_k3_s2_p1", "maxPool2d", (2, 2, 9, 9), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil=False)),
    ("maxpool_k3_s2_ceil", "maxPool2d", (1, 2, 8, 10), dict(kernel=[3, 3], stride=[2, 2], padding=[0, 0], dilation=[1, 1], ceil=True)),
    ("maxpool_dilation2", "maxPool2d", (2, 2, 9, 8), dict(kernel=[3, 2], stride=[1, 2], padding=[1, 1], dilation=[2, 2], ceil=False)),
    ("maxpool_rect_ceil_pad", "maxPool2d", (1, 3, 7, 9), dict(kernel=[2, 3], stride=[2, 2], padding=[1, 1], dilation=[1, 1], ceil=True)),
    ("avgpool_k2", "avgPool2d", (2, 3, 8, 8), dict(kernel=[2, 2], stride=[2, 2], padding=[0, 0], ceil=False, count_include_pad=True)),
    ("avgpool_k3_s2_p1", "avgPool2d", (2, 2, 9, 9), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil=False, count_include_pad=True)),
    ("avgpool_k3_s2_p1_excl", "avgPool2d", (2, 2, 9, 9), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil=False, count_include_pad=False)),
    ("avgpool_ceil", "avgPool2d", (1, 2, 8, 10), dict(kernel=[3, 3], stride=[2, 2], padding=[1, 1], ceil=True, count_include_pad=True)),
    ("avgpool_overlap", "avgPool2d", (1, 2, 7, 7), dict(kernel=[3, 2], stride=[1, 1], padding=[0, 0], ceil=False, count_include_pad=True)),
    ("adaptive_7to3", "adaptiveAvgPool2d", (2, 3, 7, 7), dict(output=[3, 3])),
    ("adaptive_5x9to2x4", "adaptiveAvgPool2d", (1, 2, 5, 9), dict(output=[2, 4])),
    ("adaptive_to1", "adaptiveAvgPool2d", (2, 3, 6, 5), dict(output=[1, 1])),
    ("adaptive_upsample", "adaptiveAvgPool2d", (1, 2, 3, 4), dict(output=[5, 6])),
    ("global", "globalAvgPool", (2, 4, 5, 6), dict()),
]

for (name, op, shape, a) in POOL:
    x = torch.randn(*shape)
    x64 = x.double().requires_grad_()
    if op == "maxPool2d":
        y = F.max_pool2d(x64, a["kernel"], a["stride"], a["padding"], a["dilation"], ceil_mode=a["ceil"])
    elif op == "avgPool2d":
        y = F.avg_pool2d(x64, a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil"],
                         count_include_pad=a["count_include_pad"])
    elif op == "adaptiveAvgPool2d":
        y = F.adaptive_avg_pool2d(x64, a["output"])
    else:
        y = x64.mean(dim=(2, 3))
    gy = torch.randn(y.shape)
    y.backward(gy.double())
    out[f"{name}.input"] = x
    out[f"{name}.grad_output"] = gy
    out[f"{name}.output"] = y.detach()
    out[f"{name}.grad_input"] = x64.grad
    cases.append(dict(name=name, op=op, **a))

# A LeNet-style stack run by nn modules, to check layer naming and composition.
torch.manual_seed(1)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
).double()
x = torch.randn(2, 3, 32, 32)
x64 = x.double().requires_grad_()
y = net(x64)
gy = torch.randn(y.shape)
y.backward(gy.double())
out["lenet.input"] = x
out["lenet.grad_output"] = gy
out["lenet.output"] = y.detach()
out["lenet.grad_input"] = x64.grad
for k, v in net.state_dict().items():
    out[f"lenet.state.{k}"] = v.float()
for k, v in net.named_parameters():
    out[f"lenet.grad.{k}"] = v.grad

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "conv.safetensors")
save_file({k: v.contiguous() for k, v in out.items()}, path, metadata={"cases": json.dumps(cases)})
print(f"wrote {len(out)} tensors, {len(cases)} cases to {os.path.normpath(path)}")
