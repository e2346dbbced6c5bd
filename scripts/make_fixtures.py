"""Reference fixtures: what Hugging Face transformers (PyTorch) computes, saved as small JSON files
that the TypeScript tokenizer and BERT must reproduce within a stated tolerance.

Rerun (offline, a few seconds; needs set-up's .venv and models/all-MiniLM-L6-v2):

    npm run fixtures          # = .venv/bin/python scripts/make_fixtures.py

Writes test/fixtures/reference/:
  tokenizer.json        ids, token types and masks for awkward texts: padding "longest", padding
                        "max_length" (64, truncation on), truncation without padding
  minilm_forward.json   BertForSequenceClassification(all-MiniLM-L6-v2, 6 labels), classifier head
                        from torch.manual_seed(17) stored in the file; hidden states, pooled, logits
  minilm_grad.json      one backward pass (dropout off): loss and, for every parameter, the gradient's
                        L2 norm and its values at 16 fixed flat indices
  tiny_bert.json        a tiny random BERT whose weights come from a recipe (an LCG, below) that
                        test/helpers/tiny_bert.ts reproduces exactly; full outputs and gradients

The test sentences are written for the tests, not taken from the SMILE dataset (whose tweets may
not be redistributed).
"""
import math
import os
import sys
from pathlib import Path

import fixture_json  # scripts/: on sys.path when a script runs

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import torch
import transformers
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "models" / "all-MiniLM-L6-v2"
OUT_DIR = ROOT / "test" / "fixtures" / "reference"

COURSE_LABELS = ["happy", "not-relevant", "angry", "disgust", "sad", "surprise"]

LONG_TEXT = (
    "This is a deliberately long text written to test truncation: it keeps going about museums, "
    "galleries, sculptures, paintings and the people who visit them on rainy Sunday afternoons, "
    "and it mentions @someone, #longread and https://example.org/a/very/long/path?with=query&and=more "
    "so that the tokenizer has plenty of pieces to cut. " * 2
).strip()

# Awkward inputs a tweet can contain. Each one exercises a step of BERT's tokenizer:
# normalisation (lower-casing, accent stripping, control characters), pre-tokenisation
# (punctuation, CJK characters), WordPiece ([UNK], ## pieces) and truncation.
TOKENIZER_TEXTS = [
    "I love this course! 😀🎉",
    "Check out https://example.com/path?q=bert&x=1 now!!!",
    "@museum_friend thanks for the tour #ArtLovers #museum",
    "Café crème brûlée à la carte — naïve façade, Ærøskøbing",
    "zero\u200bwidth\u200cnon\u200djoiner and \ufeffBOM",
    "cafe\u0301 with a combining accent, n\u0303 too",
    "我爱博物馆 とても良い 박물관 좋아요",
    "مرحبا بالعالم and שלום עולם",
    "",
    "   ",
    "\t\n",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and the ﬁ ligature",
    "control\x00char\x07s and a tab\there",
    "sooooo happyyyy!!!! :-) <3",
    "RT @user: 5/5 stars, £20 & 100% worth it... #win",
    LONG_TEXT,
]

# Sentences for the model fixtures: different lengths so padding matters.
MODEL_TEXTS = [
    "What a wonderful day at the gallery! 😀",
    "The new exhibition is closed again. #annoyed",
    "@curator is this painting really from 1642?",
    "Ugh, the café was dirty and the staff were rude.",
    "I miss the old museum building so much.",
    "Wow, I did not expect a dinosaur skeleton in the lobby!",
]

TINY_TEXTS = ["Hello world!", "A tiny BERT, tested. 😀", "@user #tag"]
TINY_LABELS = ["neg", "neu", "pos"]


def f32(x):
    """A float32 value written with the 9 significant digits that make it round-trip."""
    return float("%.9g" % float(x.detach() if isinstance(x, torch.Tensor) else x))


def floats(t):
    """Nested lists of float32 values (9 significant digits) from a tensor or array."""
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    if a.ndim == 0:
        return f32(a)
    return [floats(x) for x in a] if a.ndim > 1 else [f32(x) for x in a]


def ints(t):
    return t.detach().cpu().tolist() if isinstance(t, torch.Tensor) else list(t)


def write_json(name, value):
    fixture_json.write_json(OUT_DIR, name, value)


def versions():
    return {"transformers": transformers.__version__, "torch": torch.__version__}


# ---------------------------------------------------------------------------------------------
# 1) tokenizer.json
# ---------------------------------------------------------------------------------------------
def make_tokenizer_fixture(tok):
    def case(name, texts, **kw):
        enc = tok(texts, **kw)
        return {
            "name": name,
            "options": kw,
            "texts": texts,
            "input_ids": enc["input_ids"],
            "token_type_ids": enc["token_type_ids"],
            "attention_mask": enc["attention_mask"],
        }

    cases = [
        case("padding_longest", TOKENIZER_TEXTS, padding="longest"),
        case("padding_max_length_64", TOKENIZER_TEXTS, padding="max_length", max_length=64, truncation=True),
        case("truncation_16_no_padding", TOKENIZER_TEXTS, padding=False, max_length=16, truncation=True),
        case("padding_longest_truncation_32", TOKENIZER_TEXTS, padding="longest", max_length=32, truncation=True),
    ]
    per_text = [
        {
            "text": t,
            "tokens": tok.tokenize(t),
            # ids without special tokens, and decode(encode(text)) without [CLS]/[SEP]
            "ids": tok(t, add_special_tokens=False)["input_ids"],
            "decoded": tok.decode(tok(t)["input_ids"], skip_special_tokens=True),
        }
        for t in TOKENIZER_TEXTS
    ]
    write_json(
        "tokenizer.json",
        {
            "about": "Hugging Face tokenizer of models/all-MiniLM-L6-v2 (uncased BERT WordPiece) on awkward texts. "
            "Options use Python names: padding, max_length, truncation. Must match exactly.",
            "versions": versions(),
            "model": "models/all-MiniLM-L6-v2",
            "vocab_size": tok.vocab_size,
            "pad_token_id": tok.pad_token_id,
            "special_tokens": {"cls": tok.cls_token_id, "sep": tok.sep_token_id, "unk": tok.unk_token_id,
                               "pad": tok.pad_token_id, "mask": tok.mask_token_id},
            "cases": cases,
            "texts": per_text,
        },
    )


# ---------------------------------------------------------------------------------------------
# 2) minilm_forward.json and minilm_grad.json
# ---------------------------------------------------------------------------------------------
def load_minilm():
    model = BertForSequenceClassification.from_pretrained(
        str(MODEL_DIR),
        num_labels=len(COURSE_LABELS),
        id2label=dict(enumerate(COURSE_LABELS)),
        label2id={l: i for i, l in enumerate(COURSE_LABELS)},
        attn_implementation="eager",
    )
    # The checkpoint has no classifier: give it a reproducible one (stored in the fixture, since
    # torch's random generator cannot be reproduced in TypeScript).
    torch.manual_seed(17)
    with torch.no_grad():
        model.classifier.weight.normal_(0.0, model.config.initializer_range)
        model.classifier.bias.zero_()
    model.eval()  # dropout off
    return model


def make_minilm_fixtures(tok):
    model = load_minilm()
    enc = tok(MODEL_TEXTS, padding="longest", return_tensors="pt")
    inputs = {k: ints(enc[k]) for k in ("input_ids", "token_type_ids", "attention_mask")}

    with torch.no_grad():
        out = model.bert(**enc)
        logits = model(**enc).logits
    h = out.last_hidden_state  # [batch, seq, 384]
    write_json(
        "minilm_forward.json",
        {
            "about": "BertForSequenceClassification from models/all-MiniLM-L6-v2 with 6 labels, eval mode "
            "(no dropout), float32, eager attention. Texts padded to the longest. last_hidden_state is "
            "stored as its first 16 dims for every token (padding positions included) plus each token "
            "vector's L2 norm; pooler_output and logits in full.",
            "tolerance": {"abs": 1e-4, "rule": "|ours - ref| <= 1e-4 for every stored number"},
            "versions": versions(),
            "model": "models/all-MiniLM-L6-v2",
            "labels": COURSE_LABELS,
            "classifier_init": "torch.manual_seed(17); weight.normal_(0, 0.02); bias zero",
            "classifier": {"weight": floats(model.classifier.weight), "bias": floats(model.classifier.bias)},
            "texts": MODEL_TEXTS,
            "inputs": inputs,
            "last_hidden_state": {
                "shape": list(h.shape),
                "first16": floats(h[:, :, :16]),
                "norm": floats(h.norm(dim=-1)),
            },
            "pooler_output": floats(out.pooler_output),
            "logits": floats(logits),
        },
    )

    # One backward pass, dropout off: dropout masks come from each framework's own random
    # generator and cannot match, so the gradients are compared with model.eval().
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    model.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(**enc).logits, labels)
    loss.backward()
    used_rows = sorted(set(int(i) for i in enc["input_ids"].flatten()))
    rng = np.random.RandomState(17)
    params = {}
    for name, p in model.named_parameters():
        g = p.grad.detach()
        flat = g.flatten()
        if name.endswith("word_embeddings.weight"):
            # only rows of token ids in the batch have nonzero gradients: sample there
            rows = rng.choice(used_rows, size=16, replace=True)
            cols = rng.randint(0, g.shape[1], size=16)
            idx = [int(r) * g.shape[1] + int(c) for r, c in zip(rows, cols)]
        else:
            idx = [int(i) for i in rng.randint(0, flat.numel(), size=16)]
        params[name] = {
            "shape": list(g.shape),
            "norm": f32(g.norm()),
            "indices": idx,
            "values": [f32(flat[i]) for i in idx],
        }
    write_json(
        "minilm_grad.json",
        {
            "about": "Gradients of the mean cross-entropy loss after one forward/backward pass of the model in "
            "minilm_forward.json (same inputs and classifier head), in eval mode: dropout OFF, because "
            "dropout masks come from each framework's random generator and cannot match across frameworks. "
            "For every parameter (Hugging Face name, 'bert.' prefix): shape, L2 norm of the gradient, and "
            "the gradient at 16 fixed flat (row-major) indices; for word_embeddings the indices lie in rows "
            "of token ids used in the batch (other rows are zero).",
            "tolerance": {
                "rel": 1e-3,
                "rule": "values: |ours - ref| <= 1e-3 * max(|ref|, norm / sqrt(numel)); "
                "norms: |ours - ref| <= 1e-3 * ref",
            },
            "versions": versions(),
            "labels": ints(labels),
            "label_names": [COURSE_LABELS[i] for i in labels.tolist()],
            "loss": f32(loss),
            "used_token_ids": used_rows,
            "params": params,
        },
    )


# ---------------------------------------------------------------------------------------------
# 3) tiny_bert.json: a tiny random BERT from a recipe both languages reproduce
# ---------------------------------------------------------------------------------------------
TINY_CONFIG = {
    "architectures": ["BertForSequenceClassification"],
    "model_type": "bert",
    "vocab_size": 30522,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 128,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "initializer_range": 0.02,
    "pad_token_id": 0,
    "id2label": {str(i): l for i, l in enumerate(TINY_LABELS)},
    "label2id": {l: i for i, l in enumerate(TINY_LABELS)},
}

RECIPE = (
    "Iterate parameter names (Hugging Face BertForSequenceClassification names, 'bert.' prefix, "
    "parameters only: no position_ids buffer) in sorted order (plain string order); fill each "
    "parameter's elements in row-major order from ONE stream shared by all parameters: "
    "state = 12345; for each element: state = (1664525 * state + 1013904223) mod 2^32; "
    "v = (state / 2^32 - 0.5) * 0.1 computed in float64; the element is float32(v), or "
    "float32(1 + v) for names ending in 'LayerNorm.weight'."
)


def tiny_weights(names_shapes):
    """The recipe above, vectorised with exact 64-bit integer maths."""
    state = 12345
    out = {}
    for name, shape in sorted(names_shapes.items()):
        n = int(np.prod(shape))
        vals = np.empty(n, dtype=np.float64)
        for i in range(n):  # ~1M steps: fast enough, and obviously the recipe
            state = (1664525 * state + 1013904223) % 4294967296
            vals[i] = (state / 4294967296.0 - 0.5) * 0.1
        if name.endswith("LayerNorm.weight"):
            vals = 1.0 + vals
        out[name] = torch.from_numpy(vals.astype(np.float32).reshape(shape))
    return out


def make_tiny_fixture(tok):
    config = BertConfig(**{k: v for k, v in TINY_CONFIG.items() if k not in ("architectures",)})
    config.num_labels = len(TINY_LABELS)
    model = BertForSequenceClassification(config)
    model.config._attn_implementation = "eager"
    names_shapes = {n: list(p.shape) for n, p in model.named_parameters()}
    weights = tiny_weights(names_shapes)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(weights[n])
    model.eval()

    enc = tok(TINY_TEXTS, padding="longest", return_tensors="pt")
    labels = torch.tensor([0, 1, 2])
    out = model.bert(**enc)
    logits = model.classifier(out.pooler_output)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()

    used_rows = sorted(set(int(i) for i in enc["input_ids"].flatten()))
    grads = {}
    for n, p in model.named_parameters():
        if n.endswith("word_embeddings.weight"):
            grads[n] = {"rows": used_rows, "values": floats(p.grad[used_rows])}
        else:
            grads[n] = floats(p.grad)
    first = {n: [f32(x) for x in weights[n].flatten()[:4]] for n in sorted(names_shapes)}
    write_json(
        "tiny_bert.json",
        {
            "about": "A tiny random BERT (vocab 30522 so the real tokenizer works) whose weights are NOT stored "
            "but made by the recipe; eval mode (no dropout), float32, eager attention. Outputs on 3 short "
            "texts padded to the longest, labels [0, 1, 2], mean cross-entropy loss, and the full "
            "gradient of every parameter (word_embeddings: only the rows of used token ids).",
            "tolerance": {
                "abs": 1e-5,
                "rel": 1e-3,
                "rule": "outputs and loss: |ours - ref| <= 1e-5; gradients: |ours - ref| <= "
                "1e-3 * max(|ref|, rms(ref of that parameter)) + 1e-9 (rms = sqrt(mean(ref^2)) over the "
                "stored values; the key biases' gradients are exactly zero in exact maths, ~1e-12 here)",
            },
            "versions": versions(),
            "recipe": RECIPE,
            "seed": 12345,
            "config": TINY_CONFIG,
            "labels_names": TINY_LABELS,
            "params": [{"name": n, "shape": names_shapes[n]} for n in sorted(names_shapes)],
            "first_values": first,
            "texts": TINY_TEXTS,
            "inputs": {k: ints(enc[k]) for k in ("input_ids", "token_type_ids", "attention_mask")},
            "labels": ints(labels),
            "last_hidden_state": floats(out.last_hidden_state),
            "pooler_output": floats(out.pooler_output),
            "logits": floats(logits),
            "loss": f32(loss),
            "grads": grads,
        },
    )


def main():
    if not (MODEL_DIR / "model.safetensors").exists():
        sys.exit(f"{MODEL_DIR}/model.safetensors is missing: run `npm run setup` first")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    tok = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    make_tokenizer_fixture(tok)
    make_minilm_fixtures(tok)
    make_tiny_fixture(tok)


if __name__ == "__main__":
    main()
