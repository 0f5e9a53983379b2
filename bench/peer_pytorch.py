#!/usr/bin/env python3
"""PyTorch peer for `myelin bench`: a long-running process speaking a line protocol.

The Swift harness starts this script and alternates its own repetitions with
requests to this process, so both systems run in the same conditions (same
machine state, same thread count, interleaved in time). `myelin bench W1 ... W8`
starts one peer per workload, so the peak resident memory it reports is that
workload's alone; its own Myelin side runs in a `myelin bench worker` child
speaking the same protocol.

Protocol (one request per line on stdin, one reply line on stdout):
  threads N                  -> "ok N"                (torch.set_num_threads)
  clock wall|cpu             -> "ok"                  (time.perf_counter or process CPU seconds)
  setup W KEY=VALUE ...      -> "ok"                  (build workload W: W1..W8, see WORKLOADS)
  time INNER REPS            -> REPS seconds per call of the workload set up (each the mean of INNER calls)
  rss                        -> "PEAK BASELINE"       (bytes: VmHWM now, VmRSS before the first setup)
  gemm N INNER REPS          -> REPS seconds per call (C = A @ B, N x N float32)
  add COUNT INNER REPS       -> REPS seconds per call (a + b, COUNT float32 elements)
  overhead GRAD INNER REPS   -> REPS seconds per op  (a + b on 4 elements; GRAD=1: a.requires_grad)
  transformer B L LAYERS WIDTH HEADS FF INNER REPS
                             -> REPS seconds per batch (W7 with explicit shape)
  quit
Inputs are normal(0, 1) and uniform labels from a fixed seed. On start it prints
"ready torch VERSION THREADS".

Each workload is the one shared/BENCHMARKS.md defines, in PyTorch's fastest eager
form where it has several: channels_last for the CNNs (W3, W4, W5), and for W7
nn.TransformerEncoder's nested-tensor fast path for padded batches.
"""
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except Exception as e:  # the harness reports this and skips the peer
    print(f"error cannot import torch: {e}", flush=True)
    sys.exit(3)


clock = time.perf_counter


def timed(fn, inner, reps):
    out = []
    for _ in range(reps):
        t0 = clock()
        for _ in range(inner):
            fn()
        out.append((clock() - t0) / inner)
    return out


def memory_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def training_step(model, loss_fn, optimizer, x, y, clip=None):
    params = [p for p in model.parameters()]

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        optimizer.step()
    return step


def w1(n=1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    return lambda: torch.matmul(a, b)


def w2(batch=128):
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return training_step(model, F.cross_entropy, opt, torch.randn(batch, 784), torch.randint(0, 10, (batch,)))


def lenet():
    return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def w3(batch=64, channels_last=1):
    model, x = lenet(), torch.randn(batch, 3, 32, 32)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return training_step(model, F.cross_entropy, opt, x, torch.randint(0, 10, (batch,)))


def resnet18_cifar():
    import torchvision
    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    return model


def w4(batch=32, channels_last=1):
    model, x = resnet18_cifar().train(), torch.randn(batch, 3, 32, 32)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return training_step(model, F.cross_entropy, opt, x, torch.randint(0, 10, (batch,)))


def w5(batch=1, channels_last=1):
    import torchvision
    model, x = torchvision.models.vgg16().eval(), torch.randn(batch, 3, 224, 224)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)

    def forward():
        with torch.inference_mode():
            model(x)
    return forward


def w6(batch=32, steps=100, symbols=65, hidden=256):
    lstm, fc = nn.LSTM(symbols, hidden, 2), nn.Linear(hidden, symbols)
    params = list(lstm.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    tokens = torch.randint(0, symbols, (steps + 1, batch))
    x, y = F.one_hot(tokens[:-1], symbols).float(), tokens[1:].reshape(-1)

    def step():
        opt.zero_grad()
        out, _ = lstm(x)
        loss = F.cross_entropy(fc(out).reshape(-1, symbols), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
    return step


def w7(batch=8, length=128, layers=6, width=384, heads=12, ff=1536):
    layer = nn.TransformerEncoderLayer(width, heads, ff, dropout=0.0, activation="gelu", layer_norm_eps=1e-12,
                                       batch_first=True)
    encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=True).eval()
    # The same real lengths as the harness: from L down to about L/2.
    lengths = [max(1, length - (i * length) // (2 * batch)) for i in range(batch)]
    mask = torch.arange(length)[None, :] >= torch.tensor(lengths)[:, None]
    x = torch.randn(batch, length, width)

    def forward():
        with torch.inference_mode():
            encoder(x, src_key_padding_mask=mask)
    return forward


def w8(batch=4, steps=1000):
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1), nn.Sigmoid())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    step = training_step(model, F.binary_cross_entropy, opt, torch.randn(batch, 4),
                         torch.randint(0, 2, (batch, 1)).float())

    def run():
        for _ in range(steps):
            step()
    return run


WORKLOADS = {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6, "W7": w7, "W8": w8}


def main():
    global clock
    cache = {}
    workload = None
    baseline_kb = None
    print(f"ready torch {torch.__version__} {torch.get_num_threads()}", flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd = parts[0]
        try:
            if cmd == "quit":
                break
            elif cmd == "threads":
                torch.set_num_threads(int(parts[1]))
                reply = f"ok {torch.get_num_threads()}"
            elif cmd == "clock":
                clock = time.process_time if parts[1] == "cpu" else time.perf_counter
                reply = "ok"
            elif cmd == "setup":
                if parts[1] not in WORKLOADS:
                    raise ValueError(f"unknown workload {parts[1]}")
                if baseline_kb is None:
                    baseline_kb = memory_kb("VmRSS")
                kwargs = {k: int(v) for k, v in (p.split("=", 1) for p in parts[2:])}
                torch.manual_seed(0)
                workload = WORKLOADS[parts[1]](**kwargs)
                reply = "ok"
            elif cmd == "time":
                if workload is None:
                    raise ValueError("no workload set up")
                inner, reps = map(int, parts[1:3])
                reply = " ".join(repr(t) for t in timed(workload, inner, reps))
            elif cmd == "rss":
                reply = f"{memory_kb('VmHWM') * 1024} {(baseline_kb or memory_kb('VmRSS')) * 1024}"
            elif cmd == "gemm":
                n, inner, reps = map(int, parts[1:4])
                key = ("gemm", n)
                if key not in cache:
                    cache.clear()
                    cache[key] = w1(n)
                reply = " ".join(repr(t) for t in timed(cache[key], inner, reps))
            elif cmd == "add":
                count, inner, reps = map(int, parts[1:4])
                key = ("add", count)
                if key not in cache:
                    cache.clear()
                    cache[key] = (torch.randn(count), torch.randn(count))
                a, b = cache[key]
                reply = " ".join(repr(t) for t in timed(lambda: a + b, inner, reps))
            elif cmd == "overhead":
                grad, inner, reps = map(int, parts[1:4])
                a = torch.randn(4, requires_grad=bool(grad))
                b = torch.randn(4)
                reply = " ".join(repr(t) for t in timed(lambda: a + b, inner, reps))
            elif cmd == "transformer":
                b, length, layers, width, heads, ff, inner, reps = map(int, parts[1:9])
                key = ("transformer", b, length, layers, width, heads, ff)
                if key not in cache:
                    cache.clear()
                    torch.manual_seed(0)
                    cache[key] = w7(b, length, layers, width, heads, ff)
                reply = " ".join(repr(t) for t in timed(cache[key], inner, reps))
            else:
                reply = f"error unknown command {cmd}"
        except Exception as e:
            reply = f"error {type(e).__name__}: {e}".replace("\n", " ")
        print(reply, flush=True)


if __name__ == "__main__":
    main()
