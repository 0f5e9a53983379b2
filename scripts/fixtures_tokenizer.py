"""WordPiece fixtures: Hugging Face's BertTokenizer (the slow, reference Python one) and its fast
(Rust `tokenizers`) counterpart on all-MiniLM-L6-v2's vocabulary, on a set of awkward strings.

Writes Tests/MyelinDataTests/Fixtures/wordpiece_minilm.json and copies the model's vocab.txt to
Tests/MyelinDataTests/Fixtures/minilm-vocab.txt, so the Swift tests need neither Python nor ../shared.

Run once: /work/venv-torch/bin/python scripts/fixtures_tokenizer.py
(needs `pip install transformers` in that venv; transformers 5 calls the slow one BertTokenizerLegacy).
"""
import json
import os
import random
import shutil
import unicodedata

import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "..", "shared", "data", "pretrained", "all-MiniLM-L6-v2")
FIXTURES = os.path.join(ROOT, "Tests", "MyelinDataTests", "Fixtures")

try:
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as SlowBert
except ImportError:  # transformers 4
    from transformers import BertTokenizer as SlowBert
try:
    from transformers import BertTokenizerFast as FastBert
except ImportError:
    from transformers import BertTokenizer as FastBert

slow = SlowBert(os.path.join(MODEL, "vocab.txt"), do_lower_case=True)
fast = FastBert.from_pretrained(MODEL)
# tokenizer.json pads and truncates to 128 by default; the fixtures ask for what they want.
if hasattr(fast, "_tokenizer"):
    fast._tokenizer.no_padding()
    fast._tokenizer.no_truncation()

long_word = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3  # 135 characters
TEXTS = [
    ("plain", "The quick brown fox jumps over the lazy dog."),
    ("plain2", "A man is playing a guitar on the stage."),
    ("sentence_question", "How do I reset my password?"),
    ("uppercase", "HELLO WORLD, THIS IS BERT SHOUTING!"),
    ("mixed_case", "McDonald's iPhone eBay YouTube NASA"),
    ("contractions", "I can't believe it's not butter; we'll see, they're here, you'd've known."),
    ("punct_run", "Wait...what?!?! (really) [yes] {no} <maybe> \"quoted\" 'single'"),
    ("ascii_symbols", "a+b=c; x^2 ~ y | z \\ w / v @ home # tag $5 % 100 & more * stars _under_ `tick`"),
    ("numbers", "In 2023, 3.14159 and 1,000,000 people paid $12.50 for 42 items at 10:30pm."),
    ("decimals", "0.001 -7.5e-3 +1.0E10 1/2 50% 3rd 21st"),
    ("accents_lower", "café naïve façade résumé jalapeño"),
    ("accents_upper", "Ångström Zürich São Paulo Dvořák Œuvre ÉCOLE"),
    ("decomposed_accents", "cafe\u0301 nai\u0308ve"),
    ("german", "Straße Grüße Fußball Äpfel Öl Übung"),
    ("unknown_words", "Supercalifragilisticexpialidocious floccinaucinihilipilification qwzxv"),
    ("emoji", "I love pizza 🍕😀 and 👍🏽 and 👨‍👩‍👧"),
    ("symbols", "☃ ★ ♥ € £ ¥ © ® ™ ° ± × ÷ → ∞ ≠ ≤ √"),
    ("unicode_punct", "“Smart quotes” — em dash – en dash … ellipsis ¿Qué? ¡Sí! «guillemets» ‘single’"),
    ("cjk_chinese", "我爱自然语言处理。北京是中国的首都"),
    ("cjk_mixed", "Tokyo東京 and 北京Beijing mix"),
    ("japanese_kana", "こんにちは、世界！カタカナ"),
    ("korean", "안녕하세요 세계"),
    ("arabic", "مرحبا بالعالم، كيف حالك؟"),
    ("cyrillic", "Привет, мир! Москва — столица России."),
    ("greek", "Γειά σου Κόσμε! ΟΔΟΣ αλφα βήτα"),
    ("hebrew_hindi", "שלום עולם नमस्ते दुनिया"),
    ("rare_scripts", "ᚠᚢᚦᚨᚱᚲ 𐌰𐌱𐌲 ꦧꦱꦗꦮ ᠮᠣᠩᠭᠣᠯ"),
    ("thai", "สวัสดีครับ"),
    ("whitespace", "tabs\there\nnewline\r\ncarriage   multiple    spaces\u00a0nbsp\u3000ideographic"),
    ("control_chars", "con\u0000trol\u0007 bell\u001b esc\u200b zwsp\ufeffbom\u00ad soft\ufffd replacement"),
    ("line_separator", "line\u2028separator\u2029paragraph\u0085next"),
    ("leading_trailing", "   padded on both sides   "),
    ("only_spaces", "  \t\n  "),
    ("empty", ""),
    ("long_word", "short " + long_word + " after"),
    ("word_100", "a" * 100),
    ("word_101", "b" * 101),
    ("url_email", "Visit https://www.example.com/path?q=1&r=2 or mail john.doe@example.org"),
    ("code", "def f(x): return x**2 if x>0 else -x  # comment"),
    ("hashtags", "##not a continuation ## and #hash"),
    ("special_tokens_inline", "Hello [SEP] world [MASK] ok [CLS][PAD] [UNK] end"),
    ("special_tokens_glued", "before[SEP]after [mask] lower"),
    ("special_tokens_partial", "[SE P] [SEPX] [[CLS]]"),
    ("subwords", "unbelievably tokenization embeddings transformers unaffable"),
    ("dotted_i", "İstanbul ıi DİYARBAKIR"),
    ("ligatures_fullwidth", "ﬁne ﬂow Ｆｕｌｌｗｉｄｔｈ １２３ ½ ²"),
    ("combining_only", "\u0301\u0308 x\u0327"),
    ("math_letters", "𝐀𝐁𝐂 𝑥𝑦𝑧 ℝ ℕ"),
]

PAIRS = [
    ("pair_basic", "How old are you?", "I am six years old."),
    ("pair_empty_second", "Only the first.", ""),
    ("pair_unicode", "Café au lait", "Un café, s'il vous plaît!"),
]

TRUNCATIONS = [
    ("trunc_single_8", "The quick brown fox jumps over the lazy dog again and again.", None, 8),
    ("trunc_single_3", "Three tokens only please", None, 3),
    ("trunc_single_2", "Only specials fit", None, 2),
    ("trunc_single_fits", "Short.", None, 16),
    ("trunc_pair_equal", "one two three four five six seven eight nine ten", "alpha beta gamma delta epsilon zeta eta theta iota kappa", 10),
    ("trunc_pair_equal_odd", "one two three four five six seven eight nine ten", "alpha beta gamma delta epsilon zeta eta theta iota kappa", 11),
    ("trunc_pair_first_longer", "this first sentence is considerably longer than the second one by far", "short one", 9),
    ("trunc_pair_second_longer", "tiny", "the second sentence is much much longer than the first sentence here", 8),
    ("trunc_pair_both_long_odd", "a b c d e f g h i j k l", "m n o p q r s t u v w x y z", 12),
    ("trunc_pair_small_diff", "a b c d e f", "g h i j k l m n", 9),
]


# Bulk cases, ids only checked the same way: real prose (the first lines of Shakespeare with
# words in them) and seeded random strings drawn from many Unicode blocks, to catch any
# character-class difference between Python's tables and Swift's. Only code points assigned
# in Python's Unicode version (see "unicode" in the output) are drawn.
BLOCKS = [
    (0x20, 0x7E, 8), (0x09, 0x0D, 1), (0x80, 0xFF, 3), (0x100, 0x24F, 3), (0x300, 0x36F, 2),
    (0x370, 0x3FF, 2), (0x400, 0x4FF, 2), (0x590, 0x6FF, 2), (0x900, 0x97F, 1), (0xE00, 0xE7F, 1),
    (0x1100, 0x11FF, 1), (0x1E00, 0x1EFF, 1), (0x2000, 0x206F, 2), (0x20A0, 0x20CF, 1),
    (0x2100, 0x214F, 1), (0x2190, 0x22FF, 1), (0x2500, 0x26FF, 1), (0x3000, 0x30FF, 2),
    (0x3400, 0x4DBF, 1), (0x4E00, 0x9FFF, 3), (0xAC00, 0xD7A3, 1), (0xF900, 0xFAFF, 1),
    (0xFB00, 0xFB4F, 1), (0xFE30, 0xFE4F, 1), (0xFF00, 0xFFEF, 2), (0x1D400, 0x1D7FF, 1),
    (0x1F300, 0x1F6FF, 2), (0x20000, 0x2A6DF, 1), (0xE000, 0xE0FF, 1),
]


def random_text(rng):
    weights = [w for _, _, w in BLOCKS]
    out = []
    for _ in range(rng.randint(1, 30)):
        lo, hi, _ = rng.choices(BLOCKS, weights)[0]
        while True:
            ch = chr(rng.randint(lo, hi))
            if unicodedata.category(ch) != "Cn" and not (0xD800 <= ord(ch) <= 0xDFFF):
                break
        out.append(ch)
        if rng.random() < 0.2:
            out.append(" ")
    return "".join(out)


rng = random.Random(1234)
RANDOM_TEXTS = [(f"random_{i}", random_text(rng)) for i in range(200)]
SHAKESPEARE = os.path.join(ROOT, "..", "shared", "data", "text", "shakespeare.txt")
PROSE = []
if os.path.exists(SHAKESPEARE):
    with open(SHAKESPEARE, encoding="utf-8") as fh:
        lines = [l.rstrip("\n") for l in fh if len(l.strip()) > 20]
    PROSE = [(f"shakespeare_{i}", lines[i * 37]) for i in range(150) if i * 37 < len(lines)]


def encode_slow(text, pair=None, max_length=None):
    kwargs = dict(add_special_tokens=True, return_token_type_ids=True)
    if max_length is not None:
        kwargs.update(truncation="longest_first", max_length=max_length)
    enc = slow(text, pair, **kwargs) if pair is not None else slow(text, **kwargs)
    return enc


def encode_fast(text, pair=None, max_length=None):
    kwargs = dict(add_special_tokens=True, return_token_type_ids=True)
    if max_length is not None:
        kwargs.update(truncation="longest_first", max_length=max_length)
    return fast(text, pair, **kwargs) if pair is not None else fast(text, **kwargs)


def record(enc, tok):
    ids = list(enc["input_ids"])
    return {
        "ids": ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "tokenTypeIds": list(enc["token_type_ids"]),
        "decoded": tok.decode(ids, skip_special_tokens=True),
    }


cases = []
for name, text in TEXTS:
    cases.append({"name": name, "text": text, "pair": None, "maxLength": None})
for name, text in PROSE + RANDOM_TEXTS:
    cases.append({"name": name, "text": text, "pair": None, "maxLength": None})
for name, a, b in PAIRS:
    cases.append({"name": name, "text": a, "pair": b, "maxLength": None})
for name, a, b, m in TRUNCATIONS:
    cases.append({"name": name, "text": a, "pair": b, "maxLength": m})

disagree = []
for c in cases:
    s = record(encode_slow(c["text"], c["pair"], c["maxLength"]), slow)
    f = record(encode_fast(c["text"], c["pair"], c["maxLength"]), fast)
    c["slow"] = s
    c["fast"] = f
    c["agree"] = s["ids"] == f["ids"] and s["tokenTypeIds"] == f["tokenTypeIds"]
    if not c["agree"]:
        disagree.append(c["name"])
        print("DISAGREE", c["name"], "\n  slow", s["tokens"], "\n  fast", f["tokens"])
    if s["decoded"] != f["decoded"]:
        print("decode differs", c["name"], repr(s["decoded"]), repr(f["decoded"]))

out = {
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "transformers": transformers.__version__,
    "unicode": unicodedata.unidata_version,
    "slow": type(slow).__name__,
    "fast": type(fast).__name__,
    "cases": cases,
}
os.makedirs(FIXTURES, exist_ok=True)
with open(os.path.join(FIXTURES, "wordpiece_minilm.json"), "w", encoding="utf-8") as fh:
    json.dump(out, fh, ensure_ascii=True, indent=1)
shutil.copyfile(os.path.join(MODEL, "vocab.txt"), os.path.join(FIXTURES, "minilm-vocab.txt"))
print(f"{len(cases)} cases, slow and fast disagree on {len(disagree)}: {disagree}")
