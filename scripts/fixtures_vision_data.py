"""torchvision reference values for VisionTransformTests.swift.

Run: /work/venv-torch/bin/python scripts/fixtures_vision_data.py
Writes Tests/MyelinDataTests/Fixtures/vision.safetensors.

Input "image": float32 [3, 8, 10] in [0, 1] (row 0 holds pure red, green, blue,
yellow, gray and black pixels); "gray": float32 [1, 8, 10].
Outputs (float64, torchvision run in float64 on the float32 inputs):
brightness_<f>, contrast_<f>, saturation_<f>, hue_<f>, contrast_gray, blur_k5_s1.3,
grayscale, resize_5x7, resize_13x17 (bilinear, antialias=False), resized_crop
(top 1, left 2, 5×6 → 7×9).
"""
import torch
import torchvision.transforms.functional as TF
from safetensors.torch import save_file

torch.manual_seed(0)
img = torch.rand(3, 8, 10)
pure = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0.5, 0.5, 0.5), (0, 0, 0)]
for j, rgb in enumerate(pure):
    img[:, 0, j] = torch.tensor(rgb)
gray = torch.rand(1, 8, 10)
x = img.double()
g = gray.double()
out = {"image": img, "gray": gray}
for f in [0.4, 1.3]:
    out[f"brightness_{f}"] = TF.adjust_brightness(x, f)
    out[f"contrast_{f}"] = TF.adjust_contrast(x, f)
for f in [0.0, 0.5, 1.7]:
    out[f"saturation_{f}"] = TF.adjust_saturation(x, f)
for f in [0.2, -0.35, 0.5]:
    out[f"hue_{f}"] = TF.adjust_hue(x, f)
out["contrast_gray"] = TF.adjust_contrast(g, 0.6)
out["blur_k5_s1.3"] = TF.gaussian_blur(x, [5, 5], [1.3, 1.3])
out["grayscale"] = TF.rgb_to_grayscale(x, num_output_channels=3)
out["resize_5x7"] = TF.resize(x, [5, 7], antialias=False)
out["resize_13x17"] = TF.resize(x, [13, 17], antialias=False)
out["resized_crop"] = TF.resized_crop(x, 1, 2, 5, 6, [7, 9], antialias=False)
out = {k: v.contiguous() for k, v in out.items()}
save_file(out, "Tests/MyelinDataTests/Fixtures/vision.safetensors")
print(len(out), "tensors")

# Archives written by Python's tarfile, for TarTests: sample.tar.gz in GNU format (a
# 120-character path stored as a ././@LongLink entry, a folder, a symlink that must be
# skipped) and sample_pax.tar in pax format (a 156-character path in a pax header).
import io
import tarfile

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tf:
    def add(name, data):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        tf.addfile(info, io.BytesIO(data))
    d = tarfile.TarInfo("top")
    d.type = tarfile.DIRTYPE
    tf.addfile(d)
    add("top/hello.txt", b"hello, tar\n")
    add("top/" + "a" * 60 + "/" + "b" * 55 + ".bin", bytes(range(256)) * 3)
    link = tarfile.TarInfo("top/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    tf.addfile(link)
with open("Tests/MyelinDataTests/Fixtures/sample.tar.gz", "wb") as f:
    f.write(buf.getvalue())
# pax format too (what GNU tar --format=posix and Python's default write).
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
    info = tarfile.TarInfo("p/" + "c" * 150 + ".txt")
    info.size = 3
    tf.addfile(info, io.BytesIO(b"pax"))
with open("Tests/MyelinDataTests/Fixtures/sample_pax.tar", "wb") as f:
    f.write(buf.getvalue())
