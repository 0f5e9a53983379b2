"""The character-level LSTM language model in PyTorch: the reference for `myelin train charlm`.

Same data handling as Myelin (every distinct character sorted by code point; the last 10%
of the text held out; the training text cut into --batch-size parallel streams and chunks
of --seq-len for truncated BPTT, the hidden state carried across chunks, detached), the
same model (Embedding(V, E) -> LSTM(E, H, L layers, dropout) -> Linear(H, V), parameter
names "embedding.weight", "lstm.weight_ih_l0", ..., "decoder.weight"), Adam with gradient
clipping, the same number of steps. Prints the training loss, the validation loss in nats
per character, samples and the time.

    /work/venv-torch/bin/python scripts/pytorch_charlm.py --text ../shared/data/text/shakespeare.txt \
        --steps 1000 --threads 2
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CharLM(nn.Module):
    def __init__(self, vocab, embed=64, hidden=256, layers=2, dropout=0.2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        y, state = self.lstm(self.embedding(x), state)
        return self.decoder(y), state


def streams(ids, batch):
    n = len(ids) // batch
    return torch.tensor(ids[: n * batch], dtype=torch.long).view(batch, n)


@torch.no_grad()
def evaluate(model, data, seq_len):
    model.eval()
    state, total, count = None, 0.0, 0
    for i in range(0, data.shape[1] - 1, seq_len):
        x, y = data[:, i:i + seq_len], data[:, i + 1:i + 1 + seq_len]
        x = x[:, :y.shape[1]]
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


@torch.no_grad()
def sample(model, vocab, prompt, length, temperature, seed):
    model.eval()
    g = torch.Generator().manual_seed(seed)
    index = {c: i for i, c in enumerate(vocab)}
    x = torch.tensor([[index[c] for c in prompt]])
    logits, state = model(x)
    out = list(prompt)
    for _ in range(length):
        p = F.softmax(logits[0, -1] / temperature, dim=-1)
        nxt = torch.multinomial(p, 1, generator=g).item()
        out.append(vocab[nxt])
        logits, state = model(torch.tensor([[nxt]]), state)
    model.train()
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", default="../shared/data/text/shakespeare.txt")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=100)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=2e-3)
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
    train, val = streams(ids[:split], args.batch_size), streams(ids[split:], args.batch_size)
    model = CharLM(len(vocab), args.embed, args.hidden, args.layers, args.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; {len(vocab)} characters, "
          f"{sum(p.numel() for p in model.parameters())} parameters; {train.numel()} training characters")
    state, pos, t0, train_time = None, 0, time.perf_counter(), 0.0
    for step in range(1, args.steps + 1):
        if pos + 1 >= train.shape[1]:
            pos, state = 0, None
        x, y = train[:, pos:pos + args.seq_len], train[:, pos + 1:pos + 1 + args.seq_len]
        x = x[:, :y.shape[1]]
        pos += args.seq_len
        if state is not None:
            state = tuple(s.detach() for s in state)
        t = time.perf_counter()
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        train_time += time.perf_counter() - t
        if step % args.eval_every == 0 or step == args.steps:
            v = evaluate(model, val, args.seq_len)
            print(f"step {step:5d}  loss {loss.item():.4f}  val {v:.4f} nats/char  train time {train_time:.1f} s", flush=True)
            print("  sample: " + repr(sample(model, vocab, args.prompt, 120, 0.8, args.seed)))
    print(f"total {time.perf_counter() - t0:.1f} s, of which training steps {train_time:.1f} s")


if __name__ == "__main__":
    main()
