"""A small CNN on MNIST in PyTorch: the reference for `myelin train MODEL --dataset mnist`.

Same architectures and parameter names (scripts/torch_small_nets.py: lenet5, vgg-small,
resnet20, ...), PyTorch's default initialisation (which Myelin copies), the same
optimizer and hyper-parameters, the whole training set every epoch, and the test set
evaluated after each epoch. Batch order differs (different random generators).

    /work/venv-torch/bin/python scripts/pytorch_mnist.py --model vgg-small --data ../shared/data/mnist \
        --epochs 2 --batch-size 64 --optimizer adam --lr 1e-3 --threads 2

The Myelin run to compare with:

    .build/release/myelin train vgg-small --dataset mnist --data ../shared/data --epochs 2 \
        --batch-size 64 --optimizer adam --lr 1e-3 --validation-fraction 0 --threads 2
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_small_nets import make  # noqa: E402


def read_idx(path):
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    _, _, dtype, ndim = struct.unpack(">BBBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    assert dtype == 0x08, "expected unsigned bytes"
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, name):
    for candidate in (name + ".gz", name):
        p = os.path.join(folder, candidate)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{folder} holds no {name}[.gz]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="lenet5")
    ap.add_argument("--data", default="../shared/data/mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def load(split):
        x = read_idx(find(args.data, f"{split}-images-idx3-ubyte")).astype(np.float32) / 255
        y = read_idx(find(args.data, f"{split}-labels-idx1-ubyte")).astype(np.int64)
        return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)

    x_train, y_train = load("train")
    x_test, y_test = load("t10k")
    model = make(args.model)
    lr = args.lr if args.lr is not None else (1e-3 if args.optimizer == "adam" else 0.05)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=args.momentum)
    n = x_train.shape[0]
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; {args.model} "
          f"{sum(p.numel() for p in model.parameters())} parameters; {args.optimizer} lr {lr}, batch {args.batch_size}")
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        loss_sum, correct = 0.0, 0
        for i in range(0, n, args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        train_s = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            test_loss, test_correct = 0.0, 0
            for i in range(0, x_test.shape[0], 500):
                logits = model(x_test[i:i + 500])
                test_loss += F.cross_entropy(logits, y_test[i:i + 500], reduction="sum").item()
                test_correct += (logits.argmax(1) == y_test[i:i + 500]).sum().item()
        total_s = time.perf_counter() - t0
        print(f"epoch {epoch:3d}/{args.epochs}  loss {loss_sum / n:.4f}  acc {100 * correct / n:6.2f}%  "
              f"test_loss {test_loss / x_test.shape[0]:.4f}  test_acc {100 * test_correct / x_test.shape[0]:6.2f}%  "
              f"{total_s:.1f} s (train {train_s:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
