"""PyTorch reference values for UNetTests, YOLOTests, DetectionTests and SegmentationLossTests.

Run: /work/venv-torch/bin/python scripts/fixtures_detection.py
Writes Tests/MyelinNNTests/Fixtures/detection.safetensors (and prints the parameter counts
that the tests assert: the paper's U-Net and the default YOLOv1).

Contents (names by prefix):
  unet_<case>.state.*, .x, .r, .out, .grad.x, .grad.<param>, .stats.<buffer>, .eval.out
      small U-Nets written as milesial/Pytorch-UNet writes them (reference classes below):
      forward in training mode, gradients of sum(out * r), BN buffers after that forward,
      and the evaluation-mode output.
  yolo.state.*, yolo.x, yolo.out            a small YOLOv1 (tiny backbone, S=2, B=2, C=3, 16 hidden)
  box.*            box_convert, box_iou (torchvision.ops)
  nms<k>.*         torchvision.ops.nms and batched_nms: boxes, scores, classes, keep (int64)
  decode.*         YOLO grid decoding (reference below, torchvision batched_nms): the detections
  yololoss<k>.*    the YOLOv1 loss (reference below): prediction, target, value, grad (float64)
  ce.*             F.cross_entropy on [N, C, H, W] logits with [N, H, W] labels
  dice<k>.*        soft Dice loss (reference below): value and gradient (float64)
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}
meta = {}


# ---------------------------------------------------------------- U-Net (milesial/Pytorch-UNet, unet_parts.py)
class DoubleConv(nn.Module):
    def __init__(self, cin, cout, mid=None, bn=True, pad=1):
        super().__init__()
        mid = mid or cout
        if bn:
            self.double_conv = nn.Sequential(
                nn.Conv2d(cin, mid, 3, padding=pad, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                nn.Conv2d(mid, cout, 3, padding=pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))
        else:  # the paper's: no batch norm, so the convolutions keep their bias
            self.double_conv = nn.Sequential(
                nn.Conv2d(cin, mid, 3, padding=pad), nn.ReLU(inplace=True),
                nn.Conv2d(mid, cout, 3, padding=pad), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, cin, cout, bn, pad):
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(cin, cout, bn=bn, pad=pad))

    def forward(self, x):
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, cin, cout, bilinear, bn, pad):
        super().__init__()
        self.valid = pad == 0
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(cin, cout, cin // 2, bn=bn, pad=pad)
        else:
            self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(cin, cout, bn=bn, pad=pad)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
        if self.valid:  # the paper: crop the skip connection to the centre (floor of half the difference on top/left)
            x2 = x2[:, :, dy // 2: dy // 2 + x1.size(2), dx // 2: dx // 2 + x1.size(3)]
        else:  # milesial: pad the up-sampled map to the skip's size
            x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class OutConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    """milesial's UNet generalised to `depth` down steps and `base` channels (depth 4, base 64 is theirs)."""

    def __init__(self, cin, classes, base=64, depth=4, bilinear=False, bn=True, valid=False):
        super().__init__()
        pad = 0 if valid else 1
        f = 2 if bilinear else 1
        w = [base * 2 ** k for k in range(depth + 1)]
        self.depth = depth
        self.inc = DoubleConv(cin, w[0], bn=bn, pad=pad)
        for k in range(1, depth + 1):
            setattr(self, f"down{k}", Down(w[k - 1], w[k] // (f if k == depth else 1), bn, pad))
        for i in range(1, depth + 1):
            k = depth - i
            setattr(self, f"up{i}", Up(w[k + 1], w[0] if k == 0 else w[k] // f, bilinear, bn, pad))
        self.outc = OutConv(w[0], classes)

    def forward(self, x):
        skips = [self.inc(x)]
        for k in range(1, self.depth + 1):
            skips.append(getattr(self, f"down{k}")(skips[-1]))
        x = skips.pop()
        for i in range(1, self.depth + 1):
            x = getattr(self, f"up{i}")(x, skips.pop())
        return self.outc(x)


paper = UNet(1, 2, bn=False, valid=True)
paper_params = sum(p.numel() for p in paper.parameters())
with torch.no_grad():
    paper_out = paper(torch.zeros(1, 1, 572, 572)).shape
print("U-Net (paper: 64, depth 4, valid, no BN, 1 → 2):", paper_params, "parameters;", tuple(paper_out))
milesial = UNet(3, 2)
print("U-Net (milesial: BN, same, transposed, 3 → 2):", sum(p.numel() for p in milesial.parameters()))
milesial_bi = UNet(3, 2, bilinear=True)
print("U-Net (milesial bilinear):", sum(p.numel() for p in milesial_bi.parameters()))
meta["unet_paper_params"] = paper_params
meta["unet_milesial_params"] = sum(p.numel() for p in milesial.parameters())
meta["unet_milesial_bilinear_params"] = sum(p.numel() for p in milesial_bi.parameters())
del paper, milesial, milesial_bi

# name, cin, classes, base, depth, bilinear, bn, valid, input size (H, W)
UNETS = [
    ("unet_same_bn", 3, 2, 4, 3, False, True, False, (20, 22)),   # odd sizes on the way down: padding on the way up
    ("unet_bilinear", 2, 3, 4, 2, True, True, False, (13, 12)),
    ("unet_valid", 1, 2, 2, 2, False, False, True, (45, 44)),      # odd centre crop
]
for name, cin, classes, base, depth, bilinear, bn, valid, (h, w) in UNETS:
    m = UNet(cin, classes, base=base, depth=depth, bilinear=bilinear, bn=bn, valid=valid).double()
    for k, v in m.state_dict().items():
        out[f"{name}.state.{k}"] = v.float() if v.is_floating_point() else v.clone()
    m.load_state_dict({k: (v.float().double() if v.is_floating_point() else v) for k, v in m.state_dict().items()})
    x = torch.randn(2, cin, h, w).float()
    xd = x.double().requires_grad_()
    y = m(xd)
    r = torch.randn_like(y).float()
    (y * r.double()).sum().backward()
    out[f"{name}.x"] = x
    out[f"{name}.r"] = r
    out[f"{name}.out"] = y.detach()
    out[f"{name}.grad.x"] = xd.grad
    for k, p in m.named_parameters():
        out[f"{name}.grad.{k}"] = p.grad
    for k, b in m.named_buffers():
        out[f"{name}.stats.{k}"] = b.clone()
    m.eval()
    with torch.no_grad():
        out[f"{name}.eval.out"] = m(x.double())


# ---------------------------------------------------------------- YOLOv1
def yolo_backbone_paper(cin=3):
    """The paper's figure 3: 24 convolutions, leaky ReLU 0.1, 'same' padding, biases (no batch norm)."""
    spec = [(7, 64, 2), "M", (3, 192, 1), "M", (1, 128, 1), (3, 256, 1), (1, 256, 1), (3, 512, 1), "M"]
    spec += [(1, 256, 1), (3, 512, 1)] * 4 + [(1, 512, 1), (3, 1024, 1), "M"]
    spec += [(1, 512, 1), (3, 1024, 1)] * 2 + [(3, 1024, 1), (3, 1024, 2), (3, 1024, 1), (3, 1024, 1)]
    layers, c = [], cin
    for s in spec:
        if s == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            k, co, st = s
            layers += [nn.Conv2d(c, co, k, st, k // 2), nn.LeakyReLU(0.1)]
            c = co
    assert sum(isinstance(l, nn.Conv2d) for l in layers) == 24
    return nn.Sequential(*layers), c


class YOLOv1(nn.Module):
    """backbone → adaptive average pool to S×S → flatten → Linear(·, hidden) → leaky ReLU 0.1 → dropout
    → Linear(hidden, S·S·(5B + C)) → [N, S, S, 5B + C]."""

    def __init__(self, backbone, channels, S=7, B=2, C=20, hidden=4096):
        super().__init__()
        self.S, self.D = S, 5 * B + C
        self.backbone = backbone
        self.pool = nn.AdaptiveAvgPool2d(S)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * S * S, hidden), nn.LeakyReLU(0.1),
                                  nn.Dropout(0.5), nn.Linear(hidden, S * S * self.D))

    def forward(self, x):
        return self.head(self.pool(self.backbone(x))).view(-1, self.S, self.S, self.D)


bb, ch = yolo_backbone_paper()
full = YOLOv1(bb, ch)
yolo_params = sum(p.numel() for p in full.parameters())
print("YOLOv1 (paper backbone, S=7, B=2, C=20, 4096 hidden):", yolo_params, "parameters; backbone",
      sum(p.numel() for p in bb.parameters()))
meta["yolo_params"] = yolo_params
meta["yolo_backbone_params"] = sum(p.numel() for p in bb.parameters())
del full, bb

tiny = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.LeakyReLU(0.1), nn.MaxPool2d(2, 2), nn.Conv2d(4, 6, 3, 1, 1),
                     nn.LeakyReLU(0.1))
m = YOLOv1(tiny, 6, S=2, B=2, C=3, hidden=16).eval()
for k, v in m.state_dict().items():
    out[f"yolo.state.{k}"] = v
x = torch.randn(2, 3, 16, 16)
out["yolo.x"] = x
with torch.no_grad():
    out["yolo.out"] = m(x)


# ---------------------------------------------------------------- boxes
def rand_boxes(n, scale=10.0):
    xy = torch.rand(n, 2) * scale
    wh = torch.rand(n, 2) * scale / 2
    return torch.cat([xy, xy + wh], 1)


a, b = rand_boxes(5), rand_boxes(4)
a[4] = torch.tensor([1.0, 1.0, 1.0, 3.0])  # zero width
b[3] = a[0]                                # identical
out["box.a"], out["box.b"] = a, b
out["box.iou"] = torchvision.ops.box_iou(a, b)
out["box.cxcywh"] = torchvision.ops.box_convert(a, "xyxy", "cxcywh")
out["box.xywh"] = torchvision.ops.box_convert(a, "xyxy", "xywh")

# NMS cases: random clusters, ties in scores (equal scores keep the lower index first), duplicates.
NMS = []
g = torch.Generator().manual_seed(1)
for k, (n, thr) in enumerate([(30, 0.5), (30, 0.3), (12, 0.0), (25, 0.7)]):
    centres = torch.rand(4, 2, generator=g) * 20
    pick = torch.randint(0, 4, (n,), generator=g)
    c = centres[pick] + torch.randn(n, 2, generator=g)
    wh = 2 + torch.rand(n, 2, generator=g) * 3
    boxes = torch.cat([c - wh / 2, c + wh / 2], 1)
    scores = torch.round(torch.rand(n, generator=g) * 8) / 8  # many ties
    if k == 3:
        boxes[5] = boxes[2]
        scores[5] = scores[2]
    classes = torch.randint(0, 3, (n,), generator=g)
    out[f"nms{k}.boxes"], out[f"nms{k}.scores"], out[f"nms{k}.classes"] = boxes, scores, classes
    out[f"nms{k}.keep"] = torchvision.ops.nms(boxes, scores, thr)
    out[f"nms{k}.batched"] = torchvision.ops.batched_nms(boxes, scores, classes, thr)
    NMS.append(thr)
meta["nms_thresholds"] = NMS


# ---------------------------------------------------------------- YOLO decoding
def decode(pred, B, C, image_w, image_h, sqrt_wh, score_thr, iou_thr, agnostic):
    """[N, S, S, 5B + C] → per image a list of (x1, y1, x2, y2, score, class) sorted by score."""
    N, S = pred.shape[0], pred.shape[1]
    results = []
    for n in range(N):
        boxes, scores, classes = [], [], []
        for i in range(S):
            for j in range(S):
                cell = pred[n, i, j]
                probs = cell[5 * B:]
                cls = int(torch.argmax(probs))
                for bi in range(B):
                    x, y, w, h, conf = cell[5 * bi: 5 * bi + 5]
                    if sqrt_wh:
                        w, h = w * w, h * h
                    cx, cy = (j + x) / S * image_w, (i + y) / S * image_h
                    bw, bh = w * image_w, h * image_h
                    score = conf * probs[cls]
                    if score > score_thr:
                        boxes.append(torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]))
                        scores.append(score)
                        classes.append(cls)
        if not boxes:
            results.append(torch.zeros(0, 6, dtype=torch.float64))
            continue
        bx, sc, cl = torch.stack(boxes), torch.stack(scores), torch.tensor(classes)
        keep = torchvision.ops.nms(bx, sc, iou_thr) if agnostic else torchvision.ops.batched_nms(bx, sc, cl, iou_thr)
        results.append(torch.cat([bx[keep], sc[keep, None], cl[keep, None].double()], 1))
    return results


S, B, C = 3, 2, 4
pred = torch.rand(2, S, S, 5 * B + C, dtype=torch.float64)
pred[..., 4] = pred[..., 4] ** 0.5
out["decode.pred"] = pred
for name, sqrt_wh, agnostic, thr in [("sqrt", True, False, 0.2), ("direct", False, True, 0.1)]:
    dets = decode(pred, B, C, 64.0, 48.0, sqrt_wh, thr, 0.4, agnostic)
    for n, d in enumerate(dets):
        out[f"decode.{name}.{n}"] = d


# ---------------------------------------------------------------- YOLOv1 loss
def iou_xyxy(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def yolo_loss(pred, target, B, C, l_coord=5.0, l_noobj=0.5, sqrt_wh=True, iou_conf=True):
    """Sum over the batch of the paper's five terms, divided by N. target [N, S, S, 5 + C]:
    (x, y in the cell, w, h of the image, objectness, one-hot class)."""
    N, S = pred.shape[0], pred.shape[1]
    total = pred.sum() * 0
    for n in range(N):
        for i in range(S):
            for j in range(S):
                p, t = pred[n, i, j], target[n, i, j]
                if t[4] <= 0:
                    for bi in range(B):
                        total = total + l_noobj * p[5 * bi + 4] ** 2
                    continue
                tx, ty, tw, th = [float(v) for v in t[:4]]
                tb = ((j + tx) / S - tw / 2, (i + ty) / S - th / 2, (j + tx) / S + tw / 2, (i + ty) / S + th / 2)
                ious = []
                for bi in range(B):
                    x, y, w, h = [float(v) for v in p.detach()[5 * bi: 5 * bi + 4]]
                    if sqrt_wh:
                        w, h = w * w, h * h
                    w, h = max(w, 0.0), max(h, 0.0)
                    pb = ((j + x) / S - w / 2, (i + y) / S - h / 2, (j + x) / S + w / 2, (i + y) / S + h / 2)
                    ious.append(iou_xyxy(pb, tb))
                r = max(range(B), key=lambda b_: (ious[b_], -b_))
                for bi in range(B):
                    if bi != r:
                        total = total + l_noobj * p[5 * bi + 4] ** 2
                q = p[5 * r: 5 * r + 5]
                total = total + l_coord * ((q[0] - tx) ** 2 + (q[1] - ty) ** 2)
                if sqrt_wh:
                    pw, ph = q[2], q[3]
                else:
                    pw = torch.sign(q[2]) * torch.sqrt(q[2].abs() + 1e-6)
                    ph = torch.sign(q[3]) * torch.sqrt(q[3].abs() + 1e-6)
                total = total + l_coord * ((pw - tw ** 0.5) ** 2 + (ph - th ** 0.5) ** 2)
                total = total + (q[4] - (ious[r] if iou_conf else 1.0)) ** 2
                total = total + ((p[5 * B:] - t[5:]) ** 2).sum()
    return total / N


def yolo_target(N, S, C, objects, g):
    t = torch.zeros(N, S, S, 5 + C, dtype=torch.float64)
    for n, i, j in objects:
        t[n, i, j, :2] = torch.rand(2, generator=g, dtype=torch.float64)
        t[n, i, j, 2:4] = 0.1 + 0.5 * torch.rand(2, generator=g, dtype=torch.float64)
        t[n, i, j, 4] = 1
        t[n, i, j, 5 + int(torch.randint(0, C, (1,), generator=g))] = 1
    return t


g = torch.Generator().manual_seed(2)
for k, (sqrt_wh, iou_conf) in enumerate([(True, True), (False, False), (True, False)]):
    S, B, C = 3, 2, 3
    target = yolo_target(2, S, C, [(0, 0, 0), (0, 1, 2), (1, 2, 1), (1, 0, 0)], g)
    pred = (0.2 + 0.6 * torch.rand(2, S, S, 5 * B + C, generator=g, dtype=torch.float64))
    pred.requires_grad_()
    v = yolo_loss(pred, target, B, C, sqrt_wh=sqrt_wh, iou_conf=iou_conf)
    v.backward()
    out[f"yololoss{k}.pred"], out[f"yololoss{k}.target"] = pred.detach(), target
    out[f"yololoss{k}.value"], out[f"yololoss{k}.grad"] = v.detach(), pred.grad
meta["yololoss"] = [dict(sqrt=s, iou=i) for s, i in [(True, True), (False, False), (True, False)]]


# ---------------------------------------------------------------- pixel-wise cross-entropy
logits = torch.randn(2, 4, 3, 5, dtype=torch.float64)
labels = torch.randint(0, 4, (2, 3, 5))
labels[0, 1, 2] = 255
labels[1, 0, :2] = 255
weight = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
out["ce.logits"], out["ce.labels"], out["ce.weight"] = logits, labels, weight
for name, kw in [("plain", dict(ignore_index=255)), ("weighted", dict(weight=weight, ignore_index=255)),
                 ("smooth", dict(weight=weight, ignore_index=255, label_smoothing=0.1))]:
    for red in ["mean", "sum", "none"]:
        x = logits.clone().requires_grad_()
        v = F.cross_entropy(x, labels, reduction=red, **kw)
        (v if red != "none" else (v * torch.arange(v.numel(), dtype=torch.float64).view_as(v) / 10)).sum().backward()
        out[f"ce.{name}.{red}.value"], out[f"ce.{name}.{red}.grad"] = v.detach(), x.grad


# ---------------------------------------------------------------- Dice loss
def dice_loss(logits, target, smooth=1.0, binary=False, ignore_index=None):
    """1 − mean over classes of (2·Σ p·t + smooth) / (Σ p + Σ t + smooth), sums over the batch and pixels.
    Multi-class: p = softmax over axis 1, t one-hot of int labels [N, H, W]. Binary: p = sigmoid, t in {0, 1}."""
    if binary:
        p = torch.sigmoid(logits).reshape(logits.shape[0], 1, -1)
        t = target.to(p.dtype).reshape(p.shape)
        valid = torch.ones_like(p)
    else:
        C = logits.shape[1]
        p = logits.softmax(1).reshape(logits.shape[0], C, -1)
        lab = target.reshape(target.shape[0], -1)
        valid = torch.ones_like(lab, dtype=p.dtype)
        if ignore_index is not None:
            valid = (lab != ignore_index).to(p.dtype)
            lab = torch.where(lab == ignore_index, torch.zeros_like(lab), lab)
        t = F.one_hot(lab, C).permute(0, 2, 1).to(p.dtype) * valid[:, None]
        p = p * valid[:, None]
    inter = (p * t).sum((0, 2))
    card = p.sum((0, 2)) + t.sum((0, 2))
    return 1 - ((2 * inter + smooth) / (card + smooth)).mean()


for k, (shape, binary, smooth, ignore) in enumerate([((2, 3, 4, 5), False, 1.0, None), ((2, 1, 4, 4), True, 1.0, None),
                                                     ((2, 4, 3, 3), False, 0.0, 255)]):
    x = torch.randn(*shape, dtype=torch.float64)
    if binary:
        t = torch.randint(0, 2, (shape[0], *shape[2:])).to(torch.float64).reshape(shape)
    else:
        t = torch.randint(0, shape[1], (shape[0], *shape[2:]))
        if ignore is not None:
            t[0, 0, :] = ignore
    xr = x.clone().requires_grad_()
    v = dice_loss(xr, t, smooth=smooth, binary=binary, ignore_index=ignore)
    v.backward()
    out[f"dice{k}.logits"], out[f"dice{k}.target"] = x, t
    out[f"dice{k}.value"], out[f"dice{k}.grad"] = v.detach(), xr.grad

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinNNTests", "Fixtures", "detection.safetensors")
save_file({k: v.contiguous() for k, v in out.items()}, path, metadata={"meta": json.dumps(meta)})
print("wrote", os.path.normpath(path), os.path.getsize(path), "bytes,", len(out), "tensors")
