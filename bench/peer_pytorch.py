#!/usr/bin/env python3
"""PyTorch peer for `myelin bench`: a long-running process speaking a line protocol.

The Swift harness starts this script once and alternates its own repetitions
with requests to this process, so both systems run in the same conditions
(same machine state, same thread count, interleaved in time).

Protocol (one request per line on stdin, one reply line on stdout):
  threads N                  -> "ok N"                (torch.set_num_threads)
  clock wall|cpu             -> "ok"                  (time.perf_counter or process CPU seconds)
  gemm N INNER REPS          -> REPS seconds per call (C = A @ B, N x N float32)
  add COUNT INNER REPS       -> REPS seconds per call (a + b, COUNT float32 elements)
  overhead GRAD INNER REPS   -> REPS seconds per op  (a + b on 4 elements; GRAD=1: a.requires_grad)
  transformer B L LAYERS WIDTH HEADS FF INNER REPS
                             -> REPS seconds per batch (W7: nn.TransformerEncoder inference, post-norm,
                                GELU, eval, inference_mode, padding mask; the nested-tensor fast path)
  quit
Each timed repetition runs the operation INNER times and reports the mean.
Inputs are normal(0, 1) from a fixed seed. On start it prints "ready torch VERSION THREADS".
"""
import sys
import time

try:
    import torch
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


def main():
    global clock
    torch.manual_seed(0)
    cache = {}
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
            elif cmd == "gemm":
                n, inner, reps = map(int, parts[1:4])
                key = ("gemm", n)
                if key not in cache:
                    cache.clear()
                    cache[key] = (torch.randn(n, n), torch.randn(n, n))
                a, b = cache[key]
                reply = " ".join(repr(t) for t in timed(lambda: torch.matmul(a, b), inner, reps))
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
                    layer = torch.nn.TransformerEncoderLayer(width, heads, ff, dropout=0.0, activation="gelu",
                                                             layer_norm_eps=1e-12, batch_first=True)
                    encoder = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=True).eval()
                    # The same real lengths as the harness: from L down to about L/2.
                    lengths = [max(1, length - (i * length) // (2 * b)) for i in range(b)]
                    mask = torch.arange(length)[None, :] >= torch.tensor(lengths)[:, None]
                    cache[key] = (encoder, torch.randn(b, length, width), mask)
                encoder, x, mask = cache[key]

                def forward():
                    with torch.inference_mode():
                        encoder(x, src_key_padding_mask=mask)
                reply = " ".join(repr(t) for t in timed(forward, inner, reps))
            else:
                reply = f"error unknown command {cmd}"
        except Exception as e:
            reply = f"error {e}"
        print(reply, flush=True)


if __name__ == "__main__":
    main()
