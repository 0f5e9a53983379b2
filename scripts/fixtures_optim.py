"""PyTorch reference values for Tests/MyelinOptimTests (optimizers, schedules, clipping).

Run: /work/venv-torch/bin/python scripts/fixtures_optim.py
Writes Tests/MyelinOptimTests/Fixtures/optim.safetensors. Names:
  params.init.<i>                 initial parameters (float32)
  grads.<step>.<i>                the gradient set before step <step> (0..2)
  <config>.step<k>.<i>            parameter <i> after step k (1..3)
  sched.<name>.lr                 [steps + 1, groups] float64: lr after creation, then after each step()
  sched.<name>.momentum           momentum (or beta1) in the same layout, for OneCycleLR
  clip.<name>.norm, clip.<name>.<i>   total norm returned and the clipped gradients
"""
import math
import os

import torch
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}
SHAPES = [(3, 4), (5,), (37,)]  # 37 elements: PyTorch's vectorised loop plus its scalar tail
STEPS = 3

init = [torch.randn(s) for s in SHAPES]
grads = [[torch.randn(s) for s in SHAPES] for _ in range(STEPS)]
for i, p in enumerate(init):
    out[f"params.init.{i}"] = p.clone()
for k in range(STEPS):
    for i, g in enumerate(grads[k]):
        out[f"grads.{k}.{i}"] = g.clone()

O = torch.optim
CONFIGS = {
    "sgd_plain": (O.SGD, dict(lr=0.1)),
    "sgd_momentum": (O.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1)),
    "sgd_nesterov": (O.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": (O.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    "adam": (O.Adam, dict(lr=0.01)),
    "adam_weight_decay": (O.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adam_amsgrad": (O.Adam, dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True)),
    "adamw": (O.AdamW, dict(lr=0.01, weight_decay=0.1)),
    "rmsprop": (O.RMSprop, dict(lr=0.01)),
    "rmsprop_centered_momentum": (O.RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.9, centered=True, weight_decay=0.01)),
    "adagrad": (O.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
}


def run(cls, kw, dtype, name):
    params = [p.clone().to(dtype).requires_grad_() for p in init]
    opt = cls(params, foreach=False, **kw)
    for k in range(STEPS):
        for p, g in zip(params, grads[k]):
            p.grad = g.clone().to(dtype)
        opt.step()
        for i, p in enumerate(params):
            out[f"{name}.step{k + 1}.{i}"] = p.detach().clone()


for name, (cls, kw) in CONFIGS.items():
    run(cls, kw, torch.float32, name)
run(O.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1), torch.float64, "adam_float64")
run(O.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), torch.float64, "sgd_float64")


# Schedules: an SGD optimizer with two groups (lr 0.1 and 0.05), 30 steps.
def two_groups(cls=O.SGD, **kw):
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    return cls([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, **kw)


def record(name, opt, sched, steps=30, metrics=None, momentum_key=None):
    lrs = [[g["lr"] for g in opt.param_groups]]
    moms = []
    if momentum_key:
        moms.append([momentum_key(g) for g in opt.param_groups])
    for e in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
        lrs.append([g["lr"] for g in opt.param_groups])
        if momentum_key:
            moms.append([momentum_key(g) for g in opt.param_groups])
    out[f"sched.{name}.lr"] = torch.tensor(lrs, dtype=torch.float64)
    if momentum_key:
        out[f"sched.{name}.momentum"] = torch.tensor(moms, dtype=torch.float64)


S = torch.optim.lr_scheduler
o = two_groups(); record("step", o, S.StepLR(o, step_size=7, gamma=0.5))
o = two_groups(); record("multistep", o, S.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.3))
o = two_groups(); record("exponential", o, S.ExponentialLR(o, gamma=0.9))
o = two_groups(); record("cosine", o, S.CosineAnnealingLR(o, T_max=10, eta_min=0.001))


def warmup_cosine(warmup, total, min_lr, start, base):
    def f(e):
        if e < warmup:
            return start + (1 - start) * e / warmup
        progress = min(1.0, (e - warmup) / (total - warmup))
        c = (1 + math.cos(math.pi * progress)) / 2
        return (min_lr + (base - min_lr) * c) / base
    return f


o = two_groups()
record("warmup_cosine", o, S.LambdaLR(o, [warmup_cosine(5, 25, 0.001, 0.0, 0.1), warmup_cosine(5, 25, 0.001, 0.0, 0.05)]))
o = two_groups(momentum=0.9)
record("onecycle", o, S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30), steps=30, momentum_key=lambda g: g["momentum"])
o = two_groups(O.Adam)
record("onecycle_linear_three_phase", o,
       S.OneCycleLR(o, max_lr=0.5, total_steps=20, pct_start=0.25, anneal_strategy="linear", three_phase=True,
                    div_factor=10.0, final_div_factor=100.0),
       steps=20, momentum_key=lambda g: g["betas"][0])
metrics = [1.0, 0.9, 0.85, 0.849, 0.848, 0.9, 0.84, 0.7, 0.7, 0.7, 0.7, 0.7, 0.69, 0.7, 0.7,
           0.7, 0.7, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
out["sched.plateau.metrics"] = torch.tensor(metrics, dtype=torch.float64)
o = two_groups()
record("plateau_min_rel", o, S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, threshold=0.01,
                                                 cooldown=1, min_lr=[0.01, 0.02]), metrics=metrics)
o = two_groups()
record("plateau_max_abs", o, S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=1, threshold=0.05,
                                                 threshold_mode="abs", min_lr=0.001), metrics=[-m for m in metrics])


# Clipping: the first step's gradients.
def clip(name, fn):
    params = [p.clone().requires_grad_() for p in init]
    for p, g in zip(params, grads[0]):
        p.grad = g.clone()
    norm = fn(params)
    if norm is not None:
        out[f"clip.{name}.norm"] = torch.tensor([float(norm)], dtype=torch.float64)
    for i, p in enumerate(params):
        out[f"clip.{name}.{i}"] = p.grad.clone()


U = torch.nn.utils
clip("norm2", lambda ps: U.clip_grad_norm_(ps, max_norm=1.0, foreach=False))
clip("norm_inf", lambda ps: U.clip_grad_norm_(ps, max_norm=0.5, norm_type=float("inf"), foreach=False))
clip("norm1_unclipped", lambda ps: U.clip_grad_norm_(ps, max_norm=100.0, norm_type=1.0, foreach=False))
clip("norm3", lambda ps: U.clip_grad_norm_(ps, max_norm=0.7, norm_type=3.0, foreach=False))
clip("value", lambda ps: U.clip_grad_value_(ps, clip_value=0.3, foreach=False))

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinOptimTests", "Fixtures", "optim.safetensors")
save_file({k: v.contiguous() for k, v in out.items()}, os.path.normpath(path),
          metadata={"generator": "scripts/fixtures_optim.py", "torch": torch.__version__})
print(f"wrote {len(out)} tensors to {os.path.normpath(path)}")
