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
            else:
                reply = f"error unknown command {cmd}"
        except Exception as e:
            reply = f"error {e}"
        print(reply, flush=True)


if __name__ == "__main__":
    main()
