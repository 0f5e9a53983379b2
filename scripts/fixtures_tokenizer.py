"""WordPiece fixtures: Hugging Face's BertTokenizer (the slow, reference Python one) and its fast
(Rust `tokenizers`) counterpart on all-MiniLM-L6-v2's vocabulary, on a set of awkward strings.

Writes Tests/MyelinDataTests/Fixtures/wordpiece_minilm.json and copies the model's vocab.txt to
Tests/MyelinDataTests/Fixtures/minilm-vocab.txt, so the Swift tests need neither Python nor ../shared.

Run once: /work/venv-torch/bin/python scripts/fixtures_tokenizer.py
(needs `pip install transformers` in that venv; transformers 5 calls the slow one BertTokenizerLegacy).
"""
import json
import os
import shutil

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
    "slow": type(slow).__name__,
    "fast": type(fast).__name__,
    "cases": cases,
}
os.makedirs(FIXTURES, exist_ok=True)
with open(os.path.join(FIXTURES, "wordpiece_minilm.json"), "w", encoding="utf-8") as fh:
    json.dump(out, fh, ensure_ascii=True, indent=1)
shutil.copyfile(os.path.join(MODEL, "vocab.txt"), os.path.join(FIXTURES, "minilm-vocab.txt"))
print(f"{len(cases)} cases, slow and fast disagree on {len(disagree)}: {disagree}")
