"""PyTorch / torchvision / PIL / NumPy reference values for ImageProcessingTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_images_processing.py
Writes Tests/MyelinDataTests/Fixtures/images_processing.safetensors (float64 tensors):

- x: a [2, 3, 6, 7] batch; k3, k4 (even), k5: kernels.
- conv.<k>.<mode>: every channel of x filtered with F.pad(mode) + F.conv2d ("same" size; an even
  kernel pads (k-1)//2 before, as padding="same"), for mode in constant/reflect/replicate/circular.
- pad.<mode>: a [1, 1, 3, 4] ramp padded by 5 on every side with NumPy's reflect/edge/wrap (wider
  than the image: NumPy keeps folding, where F.pad refuses).
- gaussian.<size>_<sigma>: torchvision's 2-D Gaussian kernel; gaussian_blur.out: torchvision's
  gaussian_blur(x[0], [5, 5], [1.1, 1.1]) (reflect borders).
- brightness / contrast / gamma: torchvision.transforms.functional on x[0] clamped to [0, 1].
- resize.in, resize.<H>x<W>.plain / .aa: F.interpolate(bilinear, align_corners=False, antialias=False/True).
- chelsea_L: PIL's convert("L") of chelsea.png's crop [rows 100:132, cols 200:240] / 255, when
  ../shared/data/images/chelsea.png exists.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image
from safetensors.torch import save_file

torch.manual_seed(0)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = {}

x = torch.rand(2, 3, 6, 7, dtype=torch.float64)
out["x"] = x
kernels = {"k3": torch.randn(3, 3, dtype=torch.float64), "k4": torch.randn(4, 4, dtype=torch.float64),
           "k5": torch.randn(5, 5, dtype=torch.float64)}
for name, k in kernels.items():
    out[name] = k
    kh, kw = k.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    pads = (left, kw - 1 - left, top, kh - 1 - top)
    for mode in ["constant", "reflect", "replicate", "circular"]:
        flat = x.reshape(6, 1, 6, 7)
        y = F.conv2d(F.pad(flat, pads, mode=mode), k[None, None]).reshape(2, 3, 6, 7)
        out[f"conv.{name}.{mode}"] = y

ramp = np.arange(12, dtype=np.float64).reshape(1, 1, 3, 4)
for mode in ["reflect", "edge", "wrap"]:
    out[f"pad.{mode}"] = torch.from_numpy(np.pad(ramp, ((0, 0), (0, 0), (5, 5), (5, 5)), mode=mode).copy())

from torchvision.transforms._functional_tensor import _get_gaussian_kernel2d  # noqa: E402
for size, sigma in [(5, 1.1), (7, 2.0), (3, 0.5)]:
    out[f"gaussian.{size}_{sigma}"] = _get_gaussian_kernel2d([size, size], [sigma, sigma], torch.float64, torch.device("cpu"))
out["gaussian_blur.out"] = TF.gaussian_blur(x[0], [5, 5], [1.1, 1.1])

img = x[0].clamp(0, 1)
out["brightness.1.7"] = TF.adjust_brightness(img, 1.7)
out["contrast.0.4"] = TF.adjust_contrast(img, 0.4)
out["contrast.1.8"] = TF.adjust_contrast(img, 1.8)
out["gamma.0.5"] = TF.adjust_gamma(img, 0.5)
out["gamma.2.2_gain0.9"] = TF.adjust_gamma(img, 2.2, 0.9)

# Resizing a [3, 12, 10] image: plain and antialiased bilinear (half-pixel centres).
small = torch.rand(3, 12, 10, dtype=torch.float64)
out["resize.in"] = small
for h, w in [(5, 4), (7, 9), (20, 16)]:
    for aa in [False, True]:
        y = F.interpolate(small[None], size=(h, w), mode="bilinear", align_corners=False, antialias=aa)[0]
        out[f"resize.{h}x{w}.{'aa' if aa else 'plain'}"] = y

chelsea = os.path.join(root, "..", "shared", "data", "images", "chelsea.png")
if os.path.exists(chelsea):
    gray = np.asarray(Image.open(chelsea).convert("L"), dtype=np.float64)[100:132, 200:240] / 255
    out["chelsea_L"] = torch.from_numpy(gray.copy())

path = os.path.join(root, "Tests", "MyelinDataTests", "Fixtures", "images_processing.safetensors")
save_file({k: v.contiguous() for k, v in out.items()}, path)
print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")
