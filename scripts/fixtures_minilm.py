"""Hugging Face references for BERTTests.swift (BertModel, SentenceTransformer).

Run: HF_HUB_OFFLINE=1 /work/venv-torch/bin/python scripts/fixtures_minilm.py
Writes Tests/MyelinNNTests/Fixtures/minilm.safetensors.

(a) The real all-MiniLM-L6-v2 (../shared/data/pretrained/all-MiniLM-L6-v2, through
    sentence-transformers, offline): for the sentences in metadata "minilm.sentences" (JSON list),
    minilm.input_ids / minilm.attention_mask (int64 [N, L], the model's tokenizer, one padded
    batch, truncated at max_seq_length) and minilm.embeddings (float32 [N, 384], what
    SentenceTransformer.encode gives: mean pooling, then L2 normalisation).
    Skipped (the file keeps only (b)) when the model is absent.
(b) A tiny random transformers.BertModel (hidden 32, 2 layers, 4 heads, intermediate 64, vocab
    100, max positions 32): its state dict under tiny.state.* and its config.json as metadata
    "tiny.config"; inputs tiny.input_ids / tiny.attention_mask / tiny.token_type_ids (int64 [3, 12],
    with padding); outputs tiny.last_hidden_state [3, 12, 32], tiny.pooler_output [3, 32] and
    tiny.sentence_embedding [3, 32] (mean over the attention mask, then L2-normalised).
    The same for a second tiny model with hidden_act "gelu_new" (prefix tiny_tanh.).
"""
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "pretrained", "all-MiniLM-L6-v2"))
OUT = os.path.join(ROOT, "Tests", "MyelinNNTests", "Fixtures", "minilm.safetensors")

torch.manual_seed(0)
out = {}
meta = {}

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A monkey is playing drums.",
    "The new movie is awesome!",
    "The new movie is so great!",
    "How do I bake a chocolate cake?",
    "What is the recipe for a chocolate cake?",
    "The stock market fell 3.5% on Tuesday, erasing $1,200,000,000 in value.",
    "Le café est très bon à Zürich, n'est-ce pas?",
    "Naïve résumé of the piñata fiasco — señor Müller's façade.",
    "Hi",
    "OK!!!",
    "e = mc^2 and 2 + 2 = 4 (obviously)...",
    "Quantum entanglement links the states of distant particles.",
    "My cat sleeps on the windowsill every afternoon.",
    "Python 3.12 was released in October 2023; it is faster.",
    "Is it going to rain tomorrow in London?",
    "Will there be rain in London tomorrow?",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "The quarterly earnings report exceeded analysts' expectations.",
    "unbelievably, xylophonists antidisestablishmentarianism hyperparameterization",
    # Longer than 128 tokens (the model truncates at 256, so this one stays whole).
    ("In the beginning of the twentieth century, a group of physicists working in Europe began to question "
     "the classical picture of the world; their experiments with light, heat and the tiny particles that make "
     "up matter revealed that energy comes in discrete packets, that particles behave like waves, and that the "
     "very act of measurement changes what is measured. These ideas, strange as they first appeared, became "
     "the foundation of quantum mechanics, which today underlies semiconductors, lasers, magnetic resonance "
     "imaging, and the computers on which this sentence is being processed, one token at a time, by a small "
     "transformer network that was trained on a billion sentence pairs."),
]

# (a) the real model
if os.path.exists(os.path.join(MODEL, "model.safetensors")):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(MODEL, device="cpu")
    st.eval()
    print("max_seq_length", st.max_seq_length)
    tok = st.tokenizer
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=st.max_seq_length, return_tensors="pt")
    lengths = enc["attention_mask"].sum(1).tolist()
    print("token counts", lengths)
    assert max(lengths) > 128, "one sentence must be longer than 128 tokens"
    with torch.no_grad():
        emb = st.encode(SENTENCES, convert_to_tensor=True, batch_size=64)
        # The same through one padded batch, to be sure the ids stored are the ids used.
        feats = st({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                    "token_type_ids": enc["token_type_ids"]})
    diff = (feats["sentence_embedding"] - emb).abs().max().item()
    print("encode vs padded batch max diff", diff)
    out["minilm.input_ids"] = enc["input_ids"].to(torch.int64).contiguous()
    out["minilm.attention_mask"] = enc["attention_mask"].to(torch.int64).contiguous()
    out["minilm.embeddings"] = emb.float().contiguous()
    meta["minilm.sentences"] = json.dumps(SENTENCES)
else:
    print("all-MiniLM-L6-v2 absent: writing the tiny model only")


# (b) tiny random BERTs
def tiny(prefix, act, seed):
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, hidden_act=act, max_position_embeddings=32, type_vocab_size=2,
                     layer_norm_eps=1e-12)
    model = BertModel(cfg, add_pooling_layer=True).eval()
    # Random init gives tiny biases and unit LayerNorms; perturb everything so every tensor matters.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    ids = torch.randint(1, 100, (3, 12))
    mask = torch.ones(3, 12, dtype=torch.int64)
    mask[1, 8:] = 0
    mask[2, 4:] = 0
    ids[mask == 0] = 0
    types = torch.zeros(3, 12, dtype=torch.int64)
    types[0, 6:] = 1
    types[1, 5:8] = 1
    with torch.no_grad():
        o = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
    h = o.last_hidden_state
    m = mask.unsqueeze(-1).float()
    pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    sent = F.normalize(pooled, p=2, dim=1)
    for k, v in model.state_dict().items():
        out[f"{prefix}.state.{k}"] = v.contiguous()
    meta[f"{prefix}.config"] = cfg.to_json_string()
    out[f"{prefix}.input_ids"] = ids
    out[f"{prefix}.attention_mask"] = mask
    out[f"{prefix}.token_type_ids"] = types
    out[f"{prefix}.last_hidden_state"] = h.contiguous()
    out[f"{prefix}.pooler_output"] = o.pooler_output.contiguous()
    out[f"{prefix}.sentence_embedding"] = sent.contiguous()
    print(prefix, "state keys", len(model.state_dict()))


tiny("tiny", "gelu", 1)
tiny("tiny_tanh", "gelu_new", 2)

save_file(out, OUT, metadata=meta)
print("wrote", OUT, os.path.getsize(OUT), "bytes")
