"""torchvision reference values for ZooInceptionTests.swift (GoogLeNet, DenseNet, MobileNetV2).

Run: /work/venv-torch/bin/python scripts/fixtures_zoo.py
Writes Tests/MyelinNNTests/Fixtures/zoo.safetensors and prints the parameter counts and the
multiply-accumulates (conv: output elements x in_channels/groups x kh x kw; linear: in x out)
that the Swift tests hold.

Metadata (JSON strings):
  "names.<model>"  torchvision's state_dict of each full model as [[name, shape], ...], in order:
                   the Swift test compares it with Myelin's stateDict() names and shapes.
  "cases"          per parity case: its name and its torchvision state_dict keys as
                   [[name, shape, kind], ...].
  "counts"         {model: {"params", "macs", "macs_train"}}.

Weights of the parity cases are not stored: every state_dict entry is a formula of its
position in torchvision's state_dict (see `formula` below) that the Swift test computes
bit for bit, builds into a state dict under torchvision's names and loads with strict: true.
Batch-norm running statistics are random-looking too, so evaluation mode is really tested.
Per case <c>: float32 input <c>.x and weights <c>.r; <c>.eval.out and <c>.eval.grad.x (input
gradient of sum(out * r), computed in float64 from the float32 weights and input) in evaluation mode, then <c>.train.out, <c>.train.grad.x and the
running statistics after that forward (<c>.train.stats.<key>) in training mode (dropout 0).
MobileNetV2 (width 0.25) runs on 2×3×64×64 rather than 32×32, where its last maps are 1×1 and
training-mode batch norm sees two values per channel.
GoogLeNet's case also has <c>.train.aux1/.aux2 and <c>.r1/.r2: its training loss is
sum(out * r) + sum(aux1 * r1) + sum(aux2 * r2). It runs on one 96×96 image: on smaller maps,
training-mode batch norm flattens some channels into near-ties of the 3×3 max pooling, and
float32 then routes input gradients elsewhere than float64 does (torchvision's own float32
input gradient was 18% off its float64 one at 2×3×40×40).
"""
import copy
import json
import math
import os
import warnings

import numpy as np
import torch
import torch.nn as nn
import torchvision.models as M
from torchvision.models.googlenet import Inception, InceptionAux
from safetensors.torch import save_file

warnings.filterwarnings("ignore")
torch.manual_seed(0)
out = {}
meta = {}


def kind_of(module_of_key, name, shape):
    """How the formula fills a state_dict entry."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return "count"
    if leaf == "running_mean":
        return "mean"
    if leaf == "running_var":
        return "var"
    is_bn = isinstance(module_of_key, nn.BatchNorm2d)
    if leaf == "weight":
        return "bnw" if is_bn else "w"
    return "bnb" if is_bn else "b"


def formula(kind, index, shape):
    """Element k of entry number `index`: h = fmix32((k·2654435761 + index·40503 + 12345) mod 2³²), u = h/2³² − ½,
    then w: u·√(24/fan_in); b, bnb, mean: u·0.2; bnw, var: 1 + u·0.5 (float64, rounded once to float32)."""
    n = int(np.prod(shape)) if shape else 1
    if kind == "count":
        return torch.zeros(shape, dtype=torch.int64)
    mask = np.uint64(0xFFFFFFFF)
    h = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(index * 40503 + 12345)) & mask
    # MurmurHash3's finaliser, so neighbouring elements are unrelated (a bare multiplicative
    # sequence gives structured, badly conditioned weight matrices).
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & mask
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & mask
    h ^= h >> np.uint64(16)
    u = h.astype(np.float64) / 4294967296.0 - 0.5
    if kind == "w":
        fan = int(np.prod(shape[1:]))
        v = u * math.sqrt(24.0 / fan)
    elif kind in ("b", "bnb", "mean"):
        v = u * 0.2
    else:
        v = 1.0 + u * 0.5
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


def formula_state(model):
    modules = dict(model.named_modules())
    state, keys = {}, []
    for i, (name, t) in enumerate(model.state_dict().items()):
        owner = modules[name.rsplit(".", 1)[0]] if "." in name else model
        kind = kind_of(owner, name, list(t.shape))
        state[name] = formula(kind, i, list(t.shape))
        keys.append([name, list(t.shape), kind])
    model.load_state_dict(state, strict=True)
    return keys


def run_case(name, model, x_shape, googlenet=False):
    """Formula weights in float32; the references are computed in float64 from them."""
    keys = formula_state(model)
    model = copy.deepcopy(model).double()
    x = torch.randn(*x_shape)
    out[f"{name}.x"] = x
    model.eval()
    xe = x.double().requires_grad_()
    y = model(xe)
    r = torch.randn(y.shape)
    out[f"{name}.r"] = r
    (y * r.double()).sum().backward()
    out[f"{name}.eval.out"] = y.detach().float()
    out[f"{name}.eval.grad.x"] = xe.grad.float()
    model.train()
    xt = x.double().requires_grad_()
    res = model(xt)
    if googlenet:
        y, aux2, aux1 = res
        r1, r2 = torch.randn(aux1.shape), torch.randn(aux2.shape)
        out[f"{name}.r1"], out[f"{name}.r2"] = r1, r2
        out[f"{name}.train.aux1"], out[f"{name}.train.aux2"] = aux1.detach().float(), aux2.detach().float()
        loss = (y * r.double()).sum() + (aux1 * r1.double()).sum() + (aux2 * r2.double()).sum()
    else:
        y = res
        loss = (y * r.double()).sum()
    loss.backward()
    out[f"{name}.train.out"] = y.detach().float()
    out[f"{name}.train.grad.x"] = xt.grad.float()
    for k, v in model.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            out[f"{name}.train.stats.{k}"] = v.float()
    return dict(name=name, keys=keys)


def macs(model, size, training=False):
    total = [0]

    def hook(m, i, o):
        if isinstance(m, nn.Conv2d):
            total[0] += o.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total[0] += o.numel() // o.shape[-1] * m.in_features * m.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.train(training)
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return total[0]


# Full models: names, shapes, parameters and MACs.
full = {
    "googlenet": M.googlenet(aux_logits=True, init_weights=False),
    "googlenet-noaux": M.googlenet(aux_logits=False, init_weights=False),
    "densenet121": M.densenet121(),
    "densenet169": M.densenet169(),
    "densenet201": M.densenet201(),
    "densenet161": M.densenet161(),
    "mobilenet-v2": M.mobilenet_v2(),
}
counts = {}
for n, m in full.items():
    meta[f"names.{n}"] = json.dumps([[k, list(v.shape)] for k, v in m.state_dict().items()])
    counts[n] = dict(params=sum(p.numel() for p in m.parameters()), macs=macs(m, 224), macs_train=macs(m, 224, training=True))
    print(f"{n:16s} params {counts[n]['params']:>11,d}  MACs {counts[n]['macs']:>14,d}  (training {counts[n]['macs_train']:,d})")
meta["counts"] = json.dumps(counts)

# Parity cases, small configurations in float32.
cases = [
    run_case("inception", Inception(8, 4, 4, 6, 2, 3, 3), (2, 8, 6, 6)),
    run_case("aux", InceptionAux(6, 3, dropout=0.0), (2, 6, 7, 7)),
    run_case("densenet", M.DenseNet(growth_rate=4, block_config=(2, 2), num_init_features=8, bn_size=4, num_classes=2),
             (2, 3, 32, 32)),
    run_case("mobilenet", M.MobileNetV2(num_classes=3, width_mult=0.25, dropout=0.0), (2, 3, 64, 64)),
    run_case("googlenet", M.GoogLeNet(num_classes=5, aux_logits=True, transform_input=True, init_weights=False,
                                      dropout=0.0, dropout_aux=0.0), (1, 3, 96, 96), googlenet=True),
]
meta["cases"] = json.dumps(cases)

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "zoo.safetensors")
save_file({k: v.contiguous() for k, v in out.items()}, path, metadata=meta)
print(f"wrote {os.path.normpath(path)}: {os.path.getsize(path):,d} bytes, {len(out)} tensors")
