"""PyTorch reference values for TransformerLMTests.swift and VisionTransformerTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_transformer_models.py
Writes Tests/MyelinNNTests/Fixtures/transformer_models.safetensors:
- lm.state.<key>: a tiny TransformerLM of scripts/pytorch_chartransformer.py (vocabulary 11,
  block 8, 2 layers, 2 heads, width 16, learned positions), lm.x (int64 tokens [2, 6]),
  lm.out (logits [2, 6, 11]), lm.grad.<key> (gradients of sum(out·r), lm.r);
- vit.state.<key>: torchvision's VisionTransformer (image 8, patch 4, 2 layers, 2 heads,
  width 16, MLP 32, 5 classes; its head re-drawn, torchvision starts it at zero), vit.x
  [2, 3, 8, 8], vit.out [2, 5], vit.grad.<key>, vit.r.
The models run in float64 from float32 values; stored tensors are float32 (tokens int64).
"""
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import save_file
from torchvision.models.vision_transformer import VisionTransformer

sys.path.insert(0, os.path.dirname(__file__))
from pytorch_chartransformer import TransformerLM  # noqa: E402

torch.manual_seed(0)
out = {}


def case(name, model, x):
    for k, v in model.state_dict().items():
        out[f"{name}.state.{k}"] = v.detach().float().contiguous().clone()
    model = model.double().train()
    xin = x if not x.is_floating_point() else x.double()
    y = model(xin)
    r = torch.randn(y.shape, dtype=torch.float64)
    (y * r).sum().backward()
    out[f"{name}.x"] = x.contiguous()
    out[f"{name}.out"] = y.detach().float().contiguous()
    out[f"{name}.r"] = r.float().contiguous()
    for k, p in model.named_parameters():
        out[f"{name}.grad.{k}"] = p.grad.detach().float().contiguous()


lm = TransformerLM(11, block=8, layers=2, heads=2, width=16)
case("lm", lm, torch.randint(0, 11, (2, 6)))

vit = VisionTransformer(image_size=8, patch_size=4, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=5)
with torch.no_grad():
    nn.init.normal_(vit.heads.head.weight, std=0.1)
    nn.init.normal_(vit.class_token, std=0.1)
case("vit", vit, torch.randn(2, 3, 8, 8))

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "transformer_models.safetensors")
save_file(out, path)
print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")
