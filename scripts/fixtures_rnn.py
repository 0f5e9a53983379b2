"""PyTorch reference values for RecurrentTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_rnn.py
Writes Tests/MyelinNNTests/Fixtures/rnn.safetensors.

The metadata entry "cases" is a JSON list describing every case. Per case <name> (all float32;
PyTorch computes in float64 from the float32 values):
- <name>.state.<key>: the module's state dict (PyTorch's names);
- <name>.x (and .h0, .c0 when the case passes initial states, .lengths when it packs);
- <name>.r, <name>.s (and .s2 for LSTM layers): the objective sum(out·r) + sum(h_n·s) + sum(c_n·s2)
  (cells: sum(h'·r) (+ sum(c'·s) for LSTMCell));
- <name>.out, <name>.h_n, <name>.c_n: the results (cells: <name>.h, <name>.c);
- <name>.grad.x, .grad.h0, .grad.c0, .grad.<param>: gradients of the objective.
Packed cases run pack_padded_sequence(enforce_sorted=False) → module → pad_packed_sequence(total_length=T).
"""
import json
import os

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}
cases = []


def put(name, key, t):
    out[f"{name}.{key}"] = t.detach().float().contiguous()


# ---- cells: (name, class, kwargs, N) ----
CELLS = [
    ("rnncell_tanh", nn.RNNCell, dict(nonlinearity="tanh"), 3),
    ("rnncell_relu", nn.RNNCell, dict(nonlinearity="relu"), 3),
    ("lstmcell", nn.LSTMCell, {}, 3),
    ("grucell", nn.GRUCell, {}, 3),
]
I, H = 3, 4
for name, cls, kw, n in CELLS:
    m = cls(I, H, **kw)
    for k, v in m.state_dict().items():
        put(name, f"state.{k}", v)
    md = cls(I, H, **kw).double()
    md.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    x = torch.randn(n, I)
    h0 = torch.randn(n, H) * 0.5
    put(name, "x", x)
    put(name, "h0", h0)
    xd = x.double().requires_grad_()
    hd = h0.double().requires_grad_()
    r = torch.randn(n, H)
    put(name, "r", r)
    if cls is nn.LSTMCell:
        c0 = torch.randn(n, H) * 0.5
        put(name, "c0", c0)
        cd = c0.double().requires_grad_()
        s = torch.randn(n, H)
        put(name, "s", s)
        h, c = md(xd, (hd, cd))
        ((h * r.double()).sum() + (c * s.double()).sum()).backward()
        put(name, "h", h)
        put(name, "c", c)
        put(name, "grad.c0", cd.grad)
    else:
        h = md(xd, hd)
        (h * r.double()).sum().backward()
        put(name, "h", h)
    put(name, "grad.x", xd.grad)
    put(name, "grad.h0", hd.grad)
    for k, p in md.named_parameters():
        put(name, f"grad.{k}", p.grad)
    cases.append(dict(name=name, op="cell", mode={"RNNCell": "rnn_" + kw.get("nonlinearity", "tanh"),
                                                  "LSTMCell": "lstm", "GRUCell": "gru"}[cls.__name__]))

# ---- layers: (name, mode, layers, bidirectional, batch_first, bias, has_state, lengths) ----
LAYERS = [
    ("rnn_tanh", "rnn_tanh", 1, False, False, True, False, None),
    ("rnn_relu_2layer_bi_state", "rnn_relu", 2, True, False, True, True, None),
    ("rnn_tanh_bi_packed", "rnn_tanh", 1, True, True, True, False, [5, 2, 4]),
    ("lstm", "lstm", 1, False, False, True, False, None),
    ("lstm_2layer_bi_batchfirst_state", "lstm", 2, True, True, True, True, None),
    ("lstm_2layer_bi_packed_state", "lstm", 2, True, False, True, True, [3, 5, 1]),
    ("lstm_nobias", "lstm", 1, False, False, False, False, None),
    ("gru", "gru", 1, False, False, True, False, None),
    ("gru_2layer_bi_batchfirst_packed", "gru", 2, True, True, True, True, [2, 5, 4]),
]
T, N = 5, 3
for name, mode, layers, bi, bf, bias, has_state, lengths in LAYERS:
    def make():
        if mode.startswith("rnn"):
            return nn.RNN(I, H, num_layers=layers, nonlinearity=mode[4:], bias=bias, batch_first=bf, bidirectional=bi)
        cls = nn.LSTM if mode == "lstm" else nn.GRU
        return cls(I, H, num_layers=layers, bias=bias, batch_first=bf, bidirectional=bi)
    m = make()
    for k, v in m.state_dict().items():
        put(name, f"state.{k}", v)
    md = make().double()
    md.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    D = 2 if bi else 1
    x = torch.randn(N, T, I) if bf else torch.randn(T, N, I)
    put(name, "x", x)
    xd = x.double().requires_grad_()
    hx = None
    if has_state:
        h0 = torch.randn(layers * D, N, H) * 0.5
        put(name, "h0", h0)
        hd = h0.double().requires_grad_()
        if mode == "lstm":
            c0 = torch.randn(layers * D, N, H) * 0.5
            put(name, "c0", c0)
            cd = c0.double().requires_grad_()
            hx = (hd, cd)
        else:
            hx = hd
    if lengths is not None:
        out["%s.lengths" % name] = torch.tensor(lengths, dtype=torch.int64)
        packed = pack_padded_sequence(xd, torch.tensor(lengths), batch_first=bf, enforce_sorted=False)
        y, st = md(packed, hx)
        y, _ = pad_packed_sequence(y, batch_first=bf, total_length=T)
    else:
        y, st = md(xd, hx)
    hn, cn = st if mode == "lstm" else (st, None)
    r = torch.randn(*y.shape)
    s = torch.randn(*hn.shape)
    put(name, "r", r)
    put(name, "s", s)
    obj = (y * r.double()).sum() + (hn * s.double()).sum()
    if cn is not None:
        s2 = torch.randn(*cn.shape)
        put(name, "s2", s2)
        obj = obj + (cn * s2.double()).sum()
        put(name, "c_n", cn)
    obj.backward()
    put(name, "out", y)
    put(name, "h_n", hn)
    put(name, "grad.x", xd.grad)
    if has_state:
        put(name, "grad.h0", hd.grad)
        if mode == "lstm":
            put(name, "grad.c0", cd.grad)
    for k, p in md.named_parameters():
        put(name, f"grad.{k}", p.grad)
    cases.append(dict(name=name, op="layer", mode=mode, layers=layers, bidirectional=bi, batch_first=bf,
                      bias=bias, has_state=has_state, packed=lengths is not None))

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "rnn.safetensors")
save_file(out, path, metadata={"cases": json.dumps(cases)})
print(f"wrote {len(out)} tensors to {os.path.normpath(path)} ({os.path.getsize(path)} bytes)")
