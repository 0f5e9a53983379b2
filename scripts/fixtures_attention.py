"""PyTorch reference values for AttentionTests.swift and TransformerTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_attention.py
Writes Tests/MyelinNNTests/Fixtures/attention.safetensors.

Every module runs in float64 from float32 values (the stored tensors are float32; masks are
BOOL or float32). Per case <name>:
- <name>.state.<key>: the module's state dict (PyTorch's names);
- inputs: <name>.x (self-attention / encoder), or <name>.q/.k/.v (attention), or <name>.tgt/.memory
  (decoder); masks <name>.kpm (key padding), <name>.mask (attention mask), <name>.mkpm (memory kpm);
- <name>.r: the objective is sum(out·r);
- <name>.out (and <name>.weights for attention with need_weights), <name>.grad.<input>,
  <name>.grad.<param>; encoder cases also <name>.eval.out (eval mode, the slow path).
Transformer layers use dropout 0, so train and eval outputs agree.
"""
import json
import math
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}
cases = []


def put(name, key, t):
    t = t.detach()
    out[f"{name}.{key}"] = (t if t.dtype == torch.bool else t.float()).contiguous().clone()


def run_case(name, module, inputs, call, has_weights=False, eval_too=False, meta=None):
    """inputs: dict name -> float32 tensor (grad wanted) or bool/float mask (no grad)."""
    for k, v in module.state_dict().items():
        put(name, f"state.{k}", v)
    md = module.double()
    md.train()
    leaves = {}
    for k, v in inputs.items():
        put(name, k, v)
        if v.dtype == torch.float32 and k != "mask":
            leaves[k] = v.double().requires_grad_()
        else:
            leaves[k] = v  # masks: no gradient
    res = call(md, leaves)
    y, w = (res if isinstance(res, tuple) else (res, None))
    r = torch.randn(*y.shape)
    put(name, "r", r)
    (y * r.double()).sum().backward()
    put(name, "out", y)
    if has_weights:
        put(name, "weights", w)
    for k, v in leaves.items():
        if v.dtype == torch.float64 and v.requires_grad:
            put(name, f"grad.{k}", v.grad)
    for k, p in md.named_parameters():
        put(name, f"grad.{k}", p.grad)
    if eval_too:
        md.eval()
        ev = {k: (v.detach().requires_grad_() if v.dtype == torch.float64 and v.requires_grad else v) for k, v in leaves.items()}
        ye = call(md, ev)
        put(name, "eval.out", ye if not isinstance(ye, tuple) else ye[0])
    cases.append(dict(name=name, **(meta or {})))


B = 2
pad5 = torch.tensor([[False, False, False, True, True], [False, False, False, False, True]])
pad6 = torch.tensor([[False, False, False, False, True, True], [False, True, False, False, False, False]])

# ---- MultiheadAttention: packed self-attention, float attention mask, key padding, averaged weights ----
E = 8
mha = nn.MultiheadAttention(E, 2, batch_first=True)
with torch.no_grad():
    mha.in_proj_bias.normal_(0, 0.1)
    mha.out_proj.bias.normal_(0, 0.1)
run_case("mha_self", mha, dict(x=torch.randn(B, 5, E), kpm=pad5, mask=torch.randn(5, 5)),
         lambda m, t: m(t["x"], t["x"], t["x"], key_padding_mask=t["kpm"], attn_mask=t["mask"].double(),
                        need_weights=True, average_attn_weights=True),
         has_weights=True, meta=dict(op="mha", heads=2, batch_first=True))

# ---- packed cross-attention, sequence-first, boolean mask, per-head weights ----
mha = nn.MultiheadAttention(E, 2, batch_first=False)
with torch.no_grad():
    mha.in_proj_bias.normal_(0, 0.1)
bool_mask = torch.rand(4, 6) < 0.3
bool_mask[:, 0] = False  # no fully masked row
run_case("mha_cross_seqfirst", mha, dict(q=torch.randn(4, B, E), k=torch.randn(6, B, E), v=torch.randn(6, B, E),
                                         kpm=pad6, mask=bool_mask),
         lambda m, t: m(t["q"], t["k"], t["v"], key_padding_mask=t["kpm"], attn_mask=t["mask"],
                        need_weights=True, average_attn_weights=False),
         has_weights=True, meta=dict(op="mha", heads=2, batch_first=False))

# ---- separate projections (kdim, vdim != E), 4 heads, 3-D boolean mask [B·H, Lq, Lk] ----
mha = nn.MultiheadAttention(E, 4, kdim=5, vdim=7, batch_first=True)
with torch.no_grad():
    mha.in_proj_bias.normal_(0, 0.1)
    mha.out_proj.bias.normal_(0, 0.1)
mask3 = torch.rand(B * 4, 4, 6) < 0.3
mask3[:, :, 2] = False
run_case("mha_kdim", mha, dict(q=torch.randn(B, 4, E), k=torch.randn(B, 6, 5), v=torch.randn(B, 6, 7), kpm=pad6, mask=mask3),
         lambda m, t: m(t["q"], t["k"], t["v"], key_padding_mask=t["kpm"], attn_mask=t["mask"], need_weights=False)[0],
         meta=dict(op="mha", heads=4, batch_first=True, kdim=5, vdim=7))


def randomise_norms(m):
    with torch.no_grad():
        for k, p in m.named_parameters():
            if "norm" in k:
                p.add_(torch.randn_like(p) * 0.1)


# ---- encoder layers ----
for name, kw in [("enc_post_relu", dict(activation="relu", norm_first=False)),
                 ("enc_pre_gelu", dict(activation="gelu", norm_first=True))]:
    layer = nn.TransformerEncoderLayer(E, 2, dim_feedforward=16, dropout=0.0, batch_first=True, **kw)
    randomise_norms(layer)
    run_case(name, layer, dict(x=torch.randn(B, 5, E), kpm=pad5),
             lambda m, t: m(t["x"], src_key_padding_mask=t["kpm"]), eval_too=True,
             meta=dict(op="encoder_layer", activation=kw["activation"], norm_first=kw["norm_first"]))

# ---- decoder layer: causal target mask, memory key padding ----
layer = nn.TransformerDecoderLayer(E, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
randomise_norms(layer)
causal = nn.Transformer.generate_square_subsequent_mask(4)
run_case("dec_causal", layer, dict(tgt=torch.randn(B, 4, E), memory=torch.randn(B, 6, E), mask=causal, mkpm=pad6),
         lambda m, t: m(t["tgt"], t["memory"], tgt_mask=t["mask"].double(), memory_key_padding_mask=t["mkpm"], tgt_is_causal=True),
         meta=dict(op="decoder_layer"))

# ---- a 2-layer encoder with a final norm ----
layer = nn.TransformerEncoderLayer(E, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E), enable_nested_tensor=False)
randomise_norms(enc)
with torch.no_grad():  # the two layers start as copies: make them differ
    for p in enc.layers[1].parameters():
        p.add_(torch.randn_like(p) * 0.05)
run_case("encoder_2", enc, dict(x=torch.randn(B, 5, E), kpm=pad5),
         lambda m, t: m(t["x"], src_key_padding_mask=t["kpm"]), eval_too=True, meta=dict(op="encoder"))

# ---- the sinusoidal table, as the PyTorch tutorial builds it (float64) ----
for d in (8, 7):
    length = 6
    position = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(length, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)[:, : d // 2]
    out[f"sinusoidal_{d}.pe"] = pe.float()

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "attention.safetensors")
save_file(out, path, metadata={"cases": json.dumps(cases)})
print(f"wrote {len(out)} tensors to {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")
