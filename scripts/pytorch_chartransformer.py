"""The character-level causal Transformer in PyTorch: the reference for
`myelin train charlm --arch transformer`.

Same data handling as Myelin (every distinct character sorted by code point; the last 10%
of the text held out; training on --batch-size random windows of --block characters;
validation over the held-out text in non-overlapping windows of --block), the same model
(token embedding + learned positions -> nn.TransformerEncoder(norm_first=True, GELU, causal
mask) -> LayerNorm -> Linear(width, V, bias=False), names "token_embedding.weight",
"position_embedding.weight", "encoder.layers.N....", "norm.weight", "head.weight"; every
matrix and embedding N(0, 0.02), biases 0), AdamW (betas 0.9, 0.99; weight decay on matrices
only) with linear warm-up then cosine decay to lr/10, gradient clipping, the same steps.
Prints the training loss, the validation loss in nats per character, samples and the time.

    /work/venv-torch/bin/python scripts/pytorch_chartransformer.py --text ../shared/data/text/shakespeare.txt \
        --steps 500 --threads 2
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class TransformerLM(nn.Module):
    def __init__(self, vocab, block=128, layers=4, heads=4, width=128, feed_forward=None, dropout=0.0, tie=False):
        super().__init__()
        self.block = block
        self.token_embedding = nn.Embedding(vocab, width)
        self.position_embedding = nn.Embedding(block, width)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(width, heads, feed_forward or 4 * width, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)
        if tie:
            self.head.weight = self.token_embedding.weight
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                continue
            for p in m.parameters(recurse=False):
                if p.dim() >= 2:
                    nn.init.normal_(p, 0.0, 0.02)
                else:
                    nn.init.zeros_(p)

    def forward(self, x):
        L = x.shape[1]
        h = self.token_embedding(x) + self.position_embedding.weight[:L]
        mask = nn.Transformer.generate_square_subsequent_mask(L)
        h = self.encoder(self.dropout(h), mask=mask, is_causal=True)
        return self.head(self.norm(h))


def windows(ids, block, batch):
    """Non-overlapping windows of `block` predictions (the last shorter), batched by length."""
    starts, s = [], 0
    while s + 1 < len(ids):
        n = min(block, len(ids) - 1 - s)
        starts.append((s, n))
        s += n
    out, i = [], 0
    while i < len(starts):
        n, j = starts[i][1], i
        while j < len(starts) and j - i < batch and starts[j][1] == n:
            j += 1
        grp = starts[i:j]
        out.append((torch.tensor([ids[a:a + n] for a, _ in grp]), torch.tensor([ids[a + 1:a + n + 1] for a, _ in grp])))
        i = j
    return out


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    total, count = 0.0, 0
    for x, y in batches:
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


@torch.no_grad()
def sample(model, vocab, prompt, length, temperature, seed):
    model.eval()
    g = torch.Generator().manual_seed(seed)
    index = {c: i for i, c in enumerate(vocab)}
    out = [index[c] for c in prompt]
    for _ in range(length):
        ctx = torch.tensor([out[-model.block:]])
        p = F.softmax(model(ctx)[0, -1] / temperature, dim=-1)
        out.append(torch.multinomial(p, 1, generator=g).item())
    model.train()
    return "".join(vocab[i] for i in out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", default="../shared/data/text/shakespeare.txt")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--tie-weights", action="store_true")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--prompt", default="Romeo:")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    text = open(args.text, encoding="utf-8").read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = [index[c] for c in text]
    split = len(ids) - round(len(ids) * 0.1)
    train_ids = torch.tensor(ids[:split])
    val_batches = windows(ids[split:], args.block, args.batch_size)
    model = TransformerLM(len(vocab), args.block, args.layers, args.heads, args.width, dropout=args.dropout, tie=args.tie_weights)
    params = list(model.parameters())
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": args.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.99))
    # Myelin's WarmupCosine: linear from 0 over the warm-up, then cosine down to lr/10 at the last step.
    warmup = min(args.warmup if args.warmup is not None else min(100, args.steps // 10), args.steps - 1)
    floor = 0.1

    def factor(s):
        if s < warmup:
            return s / warmup
        progress = min(1.0, (s - warmup) / (args.steps - warmup))
        return floor + (1 - floor) * (1 + math.cos(math.pi * progress)) / 2

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; {len(vocab)} characters, "
          f"{sum(p.numel() for p in model.parameters())} parameters; {len(train_ids)} training characters; "
          f"batch {args.batch_size} x {args.block}, AdamW lr {args.lr} (warm-up {warmup}, cosine to {args.lr * floor}), "
          f"weight decay {args.weight_decay}", flush=True)
    # No untrained evaluation: a pass over the held-out text costs as much as ~40 training steps.
    t0, train_time = time.perf_counter(), 0.0
    for step in range(1, args.steps + 1):
        starts = torch.randint(0, len(train_ids) - args.block, (args.batch_size,))
        x = torch.stack([train_ids[s:s + args.block] for s in starts])
        y = torch.stack([train_ids[s + 1:s + 1 + args.block] for s in starts])
        t = time.perf_counter()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        sched.step()
        train_time += time.perf_counter() - t
        if step % args.eval_every == 0 or step == args.steps:
            v = evaluate(model, val_batches)
            print(f"step {step:5d}  loss {loss.item():.4f}  val {v:.4f} nats/char  train time {train_time:.1f} s", flush=True)
            print("  sample: " + repr(sample(model, vocab, args.prompt, 120, 0.8, args.seed)), flush=True)
    print(f"total {time.perf_counter() - t0:.1f} s, of which training steps {train_time:.1f} s")


if __name__ == "__main__":
    main()
