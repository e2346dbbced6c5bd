"""Reference fixtures for what the model looks at and the bias probe (issue 12): Hugging Face's
attention probabilities (output_attentions) and SciPy's paired t-test.

Rerun (offline, a few seconds; needs set-up's .venv with the Python reference and models/all-MiniLM-L6-v2):

    .venv/bin/python scripts/make_probe_fixtures.py

Writes test/fixtures/reference/:
  attentions.json   output_attentions of (1) the tiny random BERT of tiny_bert.json (weights from the
                    recipe in make_fixtures.py) on its three texts padded to the longest, and (2)
                    all-MiniLM-L6-v2 on two texts of different lengths padded to the longest: every
                    layer's [batch, heads, seq, seq] probabilities, eval mode, eager attention
  ttest.json        scipy.stats.ttest_rel on seeded samples (small and large n, tiny and large effects):
                    t, p, df, the mean difference and confidence_interval(0.95)
"""
import json
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import scipy
import scipy.stats
import torch
from transformers import AutoTokenizer, BertConfig, BertModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import MODEL_DIR, TINY_CONFIG, TINY_TEXTS, TINY_LABELS, RECIPE, ints, tiny_weights, versions, \
    write_json  # noqa: E402

# Two sentences of different lengths, so the shorter one carries padding.
MINILM_TEXTS = ["What a wonderful day at the gallery!", "Ugh, the café was closed again and nobody told us. #annoyed"]


def probs(t):
    """Probabilities rounded to 1e-8 (far inside the 1e-5 tolerance; keeps the file small)."""
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
    return [probs(x) for x in a] if a.ndim > 1 else [round(float(x), 8) for x in a]


def attention_case(model, tok, texts):
    enc = tok(texts, padding="longest", return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return {
        "texts": texts,
        "inputs": {k: ints(enc[k]) for k in ("input_ids", "token_type_ids", "attention_mask")},
        "shape": list(out.attentions[0].shape),
        "attentions": [probs(a) for a in out.attentions],
    }


def make_attention_fixture(tok):
    # 1) the tiny BERT, weights from the recipe (BertModel: the attentions do not depend on the head)
    config = BertConfig(**{k: v for k, v in TINY_CONFIG.items() if k != "architectures"}, num_labels=len(TINY_LABELS))
    config._attn_implementation = "eager"
    tiny = BertModel(config, add_pooling_layer=True)
    # The recipe fills names in sorted order and "classifier.*" sorts after every "bert.*" name, so
    # leaving the classifier out does not shift the stream: these are tiny_bert.json's weights.
    weights = tiny_weights({"bert." + n: list(p.shape) for n, p in tiny.named_parameters()})
    with torch.no_grad():
        for n, p in tiny.named_parameters():
            p.copy_(weights["bert." + n])
    tiny.eval()
    # 2) MiniLM as the course loads it
    minilm = BertModel.from_pretrained(str(MODEL_DIR), attn_implementation="eager")
    minilm.eval()
    write_json("attentions.json", {
        "about": "output_attentions=True of BertModel in eval mode (no dropout), float32, eager attention: one "
        "[batch, heads, seq, seq] array per layer, rows = the attending token, columns = the attended one; "
        "texts padded to the longest, so padded key positions get probability 0.",
        "tolerance": {"abs": 1e-5, "rule": "|ours - ref| <= 1e-5 for every probability"},
        "versions": versions(),
        "tiny": {"recipe": RECIPE, "config": TINY_CONFIG, **attention_case(tiny, tok, TINY_TEXTS)},
        "minilm": {"model": "models/all-MiniLM-L6-v2", **attention_case(minilm, tok, MINILM_TEXTS)},
    })


def make_ttest_fixture():
    rng = np.random.RandomState(12)
    cases = []
    for name, n, shift, scale in [("small n, clear effect", 5, 0.05, 0.01), ("n 3", 3, 0.01, 0.02),
                                  ("n 40, no effect", 40, 0.0, 0.05), ("n 1440, small effect", 1440, 0.002, 0.02),
                                  ("n 2880, tiny p", 2880, 0.01, 0.02), ("n 200, negative", 200, -0.004, 0.03)]:
        b = rng.uniform(0.05, 0.9, size=n)
        a = np.clip(b + shift + rng.normal(0.0, scale, size=n), 0.0, 1.0)
        a, b = np.round(a, 6), np.round(b, 6)  # short in JSON, and exactly what both sides read
        res = scipy.stats.ttest_rel(a, b)
        ci = res.confidence_interval(0.95)
        cases.append({
            "name": name, "a": [float(x) for x in a], "b": [float(x) for x in b],
            "t": float(res.statistic), "p": float(res.pvalue), "df": float(res.df),
            "mean_diff": float(np.mean(a - b)), "ci95": [float(ci.low), float(ci.high)],
        })
    quantiles = [{"q": q, "df": df, "t": float(scipy.stats.t.ppf(q, df))}
                 for q in (0.975, 0.9, 0.995) for df in (1, 2, 4, 10, 30, 1439, 100000)]
    write_json("ttest.json", {
        "about": "scipy.stats.ttest_rel(a, b) (two-sided) and its confidence_interval(0.95) on seeded samples; "
        "scipy.stats.t.ppf(q, df) quantiles.",
        "tolerance": {"rel": 1e-9, "rule": "t, mean and CI: |ours - ref| <= 1e-9 * max(1, |ref|); p: relative 1e-7"},
        "versions": {**versions(), "scipy": scipy.__version__, "numpy": np.__version__},
        "cases": cases,
        "quantiles": quantiles,
    })


def main():
    if not (MODEL_DIR / "model.safetensors").exists():
        sys.exit(f"{MODEL_DIR}/model.safetensors is missing: run `npm run setup` first")
    tok = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    make_attention_fixture(tok)
    make_ttest_fixture()


if __name__ == "__main__":
    main()
