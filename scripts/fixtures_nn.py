"""PyTorch reference values for Tests/MyelinNNTests (layers and losses).

Run: /work/venv-torch/bin/python scripts/fixtures_nn.py
Writes Tests/MyelinNNTests/Fixtures/nn.safetensors. Names, for a layer case <c>:
  <c>.x                  input (float32, or int64/int32 indices)
  <c>.r                  fixed weights R of the training loss sum(model(x) * R)
  <c>.state.<key>        the model's state dict before training (PyTorch keys)
  <c>.out                model(x) in training mode
  <c>.grad.x             d sum(out * R) / dx          (float inputs only)
  <c>.grad.<key>         ... / d parameter
  <c>.stats1.<key>       buffers after that one training-mode forward
  <c>.step3.<key>        state after 3 steps of SGD(lr=0.1) on sum(model(x) * R)
  <c>.eval.out, <c>.eval.grad.x   the model after those steps, in eval mode
For a loss case <c>:
  <c>.input, <c>.target  the loss's arguments; <c>.r: weights for reduction none
  <c>.kw.<name>          tensor keyword arguments (weight, pos_weight)
  <c>.<red>.value        loss(input, target) with reduction <red> in mean/sum/none
  <c>.<red>.grad.input, <c>.<red>.grad.target   (target only for float targets)
  <c>.train.x, <c>.train.target, <c>.train.state.<key>, <c>.train.loss0, <c>.train.step3.<key>
      a small model (Linear, + Sigmoid for BCE, + LogSoftmax for NLL) trained 3 SGD steps on the mean loss
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}


def put(name, t):
    out[name] = t.detach().clone().contiguous()


def randomize(model):
    """Non-trivial starting values for every parameter and running statistic."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and isinstance(model, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(0.5 * torch.randn_like(p))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn_like(b))
            elif name.endswith("running_var"):
                b.copy_(1 + 0.5 * torch.rand_like(b))


def layer_case(name, model, x, float_input=True, randomize_state=True, steps=3):
    if randomize_state:
        randomize(model)
    model.train()
    put(f"{name}.x", x)
    for k, v in model.state_dict().items():
        put(f"{name}.state.{k}", v)
    opt = torch.optim.SGD(model.parameters(), lr=0.1) if list(model.parameters()) else None
    r = None
    for step in range(steps):
        xi = x.clone().requires_grad_(float_input)
        y = model(xi)
        if r is None:
            r = torch.randn_like(y)
            put(f"{name}.r", r)
        if opt:
            opt.zero_grad()
        (y * r).sum().backward()
        if step == 0:
            put(f"{name}.out", y)
            if float_input:
                put(f"{name}.grad.x", xi.grad)
            for k, p in model.named_parameters():
                put(f"{name}.grad.{k}", p.grad)
            for k, b in model.named_buffers():
                put(f"{name}.stats1.{k}", b)
        if opt:
            opt.step()
    for k, v in model.state_dict().items():
        put(f"{name}.step3.{k}", v)
    model.eval()
    xi = x.clone().requires_grad_(float_input)
    y = model(xi)
    (y * r).sum().backward()
    put(f"{name}.eval.out", y)
    if float_input:
        put(f"{name}.eval.grad.x", xi.grad)


# ---- Linear and activations (each activation after a Linear, so SGD has something to train)
layer_case("linear", nn.Linear(5, 3), torch.randn(4, 5))
layer_case("linear_3d", nn.Linear(5, 3), torch.randn(2, 3, 5))
layer_case("linear_nobias", nn.Linear(5, 3, bias=False), torch.randn(4, 5))
ACTS = {
    "relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.2), "elu": nn.ELU(alpha=1.5), "sigmoid": nn.Sigmoid(),
    "tanh": nn.Tanh(), "gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"),
    "softmax": nn.Softmax(dim=0), "log_softmax": nn.LogSoftmax(dim=-1),
}
for act_name, act in ACTS.items():
    layer_case(f"act_{act_name}", nn.Sequential(nn.Linear(5, 4), act), torch.randn(6, 5))

# ---- Normalisation
layer_case("bn1d", nn.BatchNorm1d(3), torch.randn(6, 3) * 2 + 1)
layer_case("bn1d_3d", nn.BatchNorm1d(3, momentum=0.3), torch.randn(4, 3, 5))
layer_case("bn2d", nn.BatchNorm2d(3, eps=1e-3), torch.randn(2, 3, 4, 5) + 3)
layer_case("bn2d_cumulative", nn.BatchNorm2d(3, momentum=None), torch.randn(2, 3, 4, 5))
layer_case("bn2d_noaffine", nn.BatchNorm2d(3, affine=False), torch.randn(2, 3, 4, 5))
layer_case("bn1d_notrack", nn.BatchNorm1d(3, track_running_stats=False), torch.randn(6, 3))
layer_case("ln", nn.LayerNorm(5), torch.randn(2, 3, 5))
layer_case("ln_2d", nn.LayerNorm([3, 5], eps=1e-3), torch.randn(2, 3, 5) * 3)
layer_case("ln_noaffine", nn.LayerNorm(5, elementwise_affine=False), torch.randn(4, 5))

# ---- Embedding
idx = torch.tensor([[1, 2, 4], [4, 9, 2]])
emb = nn.Embedding(10, 4)
layer_case("embedding", emb, idx, float_input=False, randomize_state=False)
emb = nn.Embedding(10, 4, padding_idx=2)
layer_case("embedding_padding", emb, idx, float_input=False, randomize_state=False)
emb = nn.Embedding(10, 4)
layer_case("embedding_int32", emb, idx.to(torch.int32), float_input=False, randomize_state=False)


# ---- Losses
def loss_case(name, fn, inp, target, float_target=True, train_in=5, head=None, train_target=None, kw=None):
    kw = kw or {}
    for k, v in kw.items():
        if isinstance(v, torch.Tensor):
            put(f"{name}.kw.{k}", v)
    put(f"{name}.input", inp)
    put(f"{name}.target", target)
    r = None
    for red in ["mean", "sum", "none"]:
        i = inp.clone().requires_grad_()
        t = target.clone().requires_grad_(float_target)
        v = fn(i, t, reduction=red, **kw)
        if red == "none":
            r = torch.randn_like(v)
            put(f"{name}.r", r)
            (v * r).sum().backward()
        else:
            v.backward()
        put(f"{name}.{red}.value", v)
        put(f"{name}.{red}.grad.input", i.grad)
        if float_target:
            put(f"{name}.{red}.grad.target", t.grad)
    if train_target is None:
        return
    n, c = train_target.shape[0], inp.shape[1] if inp.dim() > 1 else inp.shape[0]
    layers = [nn.Linear(train_in, c)]
    if head is not None:
        layers.append(head)
    model = nn.Sequential(*layers)
    x = torch.randn(n, train_in)
    put(f"{name}.train.x", x)
    put(f"{name}.train.target", train_target)
    for k, v in model.state_dict().items():
        put(f"{name}.train.state.{k}", v)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        opt.zero_grad()
        loss = fn(model(x), train_target, reduction="mean", **kw)
        if step == 0:
            put(f"{name}.train.loss0", loss)
        loss.backward()
        opt.step()
    for k, v in model.state_dict().items():
        put(f"{name}.train.step3.{k}", v)


a, b = torch.randn(4, 3), torch.randn(4, 3)
loss_case("mse", F.mse_loss, a, b, train_target=torch.randn(4, 3))
loss_case("l1", F.l1_loss, a, b, train_target=torch.randn(4, 3))
loss_case("huber", F.huber_loss, a, b, kw=dict(delta=0.5), train_target=torch.randn(4, 3))
loss_case("smooth_l1", F.smooth_l1_loss, a, b, kw=dict(beta=0.5), train_target=torch.randn(4, 3))
p = torch.sigmoid(torch.randn(4, 3))
y01 = (torch.rand(4, 3) > 0.5).float()
loss_case("bce", F.binary_cross_entropy, p, y01, train_target=(torch.rand(4, 3) > 0.5).float(), head=nn.Sigmoid())
loss_case("bce_soft_weighted", F.binary_cross_entropy, p, torch.rand(4, 3), kw=dict(weight=torch.rand(3) + 0.5),
          train_target=torch.rand(4, 3), head=nn.Sigmoid())
loss_case("bce_edges", F.binary_cross_entropy, torch.tensor([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5]), float_target=False, target=
          torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.25]))
logits = torch.randn(4, 3) * 3
loss_case("bce_logits", F.binary_cross_entropy_with_logits, logits, torch.rand(4, 3), train_target=y01)
loss_case("bce_logits_pos_weight", F.binary_cross_entropy_with_logits, logits, y01,
          kw=dict(pos_weight=torch.tensor([0.5, 2.0, 3.0]), weight=torch.rand(4, 1) + 0.5), train_target=y01)
loss_case("bce_logits_extreme", F.binary_cross_entropy_with_logits, torch.tensor([-200.0, -30.0, 0.0, 30.0, 200.0]),
          torch.tensor([1.0, 0.0, 0.5, 1.0, 0.0]))

ce_logits = torch.randn(6, 5) * 2
labels = torch.tensor([0, 3, 4, 1, 3, 2])
labels_ignored = torch.tensor([0, -100, 4, 1, -100, 2])
class_weight = torch.tensor([0.5, 1.0, 2.0, 1.5, 0.8])
loss_case("ce", F.cross_entropy, ce_logits, labels, float_target=False, train_target=labels)
loss_case("ce_weight", F.cross_entropy, ce_logits, labels, float_target=False, kw=dict(weight=class_weight), train_target=labels)
loss_case("ce_ignore", F.cross_entropy, ce_logits, labels_ignored, float_target=False, train_target=labels_ignored)
loss_case("ce_ignore_custom", F.cross_entropy, ce_logits, labels, float_target=False, kw=dict(ignore_index=3), train_target=labels)
loss_case("ce_smoothing", F.cross_entropy, ce_logits, labels, float_target=False, kw=dict(label_smoothing=0.1), train_target=labels)
loss_case("ce_smoothing_weight_ignore", F.cross_entropy, ce_logits, labels_ignored, float_target=False,
          kw=dict(label_smoothing=0.2, weight=class_weight), train_target=labels_ignored)
loss_case("ce_int32", F.cross_entropy, ce_logits, labels.to(torch.int32).long(), float_target=False)
loss_case("ce_spatial", F.cross_entropy, torch.randn(2, 4, 3, 2), torch.tensor([[[0, 3], [1, 1], [2, 0]], [[3, 3], [0, 2], [1, 0]]]),
          float_target=False, kw=dict(label_smoothing=0.1, weight=torch.tensor([1.0, 2.0, 0.5, 1.5])))
loss_case("ce_single", F.cross_entropy, torch.randn(5), torch.tensor(3), float_target=False)
loss_case("ce_large_logits", F.cross_entropy, torch.tensor([[1000.0, -1000.0, 0.0], [-50.0, 50.0, 49.0]]), torch.tensor([1, 2]),
          float_target=False)
logp = F.log_softmax(torch.randn(6, 5), dim=1)
loss_case("nll", F.nll_loss, logp, labels, float_target=False, head=nn.LogSoftmax(dim=1), train_target=labels)
loss_case("nll_weight_ignore", F.nll_loss, logp, labels_ignored, float_target=False, kw=dict(weight=class_weight),
          head=nn.LogSoftmax(dim=1), train_target=labels_ignored)

# ---- The small CNNs of the zoo (scripts/torch_small_nets.py), in narrow configurations:
# PyTorch's own initialisation for convolutions and linear layers, random batch-norm state.
import sys  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_small_nets import CIFARResNet, SmallVGG  # noqa: E402


def randomize_batch_norm(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.3 * torch.randn_like(m.weight))
                m.bias.copy_(0.3 * torch.randn_like(m.bias))
                m.running_mean.copy_(0.2 * torch.randn_like(m.running_mean))
                m.running_var.copy_(1 + 0.5 * torch.rand_like(m.running_var))


for case, net, x in [
    ("vgg_small", SmallVGG(classes=3, in_channels=1, widths=(4, 8), hidden=16, dropout=0.0), torch.randn(2, 1, 12, 12)),
    ("resnet8_narrow", CIFARResNet(depth=8, classes=3, in_channels=2, widths=(4, 8, 16)), torch.randn(2, 2, 9, 9)),
    ("resnet14_narrow", CIFARResNet(depth=14, classes=4, in_channels=3, widths=(2, 4, 8)), torch.randn(3, 3, 8, 8)),
]:
    randomize_batch_norm(net)
    layer_case(case, net, x, randomize_state=False)

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "nn.safetensors")
save_file(out, os.path.normpath(path))
print(f"wrote {len(out)} tensors to {os.path.normpath(path)}")
