"""Two classical references for the rare classes, beside the fine-tuned sweep
(scripts/imbalance-sweep.ts): how far simpler models get on SMILE's single-label tweets.

    .venv/bin/python scripts/imbalance_baselines.py        # about a minute on 2 cores

Prints mean ± sd over 5 stratified 85/15 splits (scikit-learn's StratifiedShuffleSplit, random_state 1..5:
splits of its own, not the sweep's) of validation macro and weighted F1, for
  - TF-IDF of words and word pairs, logistic regression with class_weight="balanced" (C = 10);
  - MiniLM's frozen embeddings (mean over real tokens, L2-normalised, as sentence-transformers pools them),
    the same classifier; and without the normalisation at C = 1.
Reads data/smile-annotations-final.csv (set-up fetches it) and models/all-MiniLM-L6-v2; writes nothing.
"""
import csv
import os

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedShuffleSplit
from transformers import AutoModel, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMILE = os.path.join(ROOT, "data", "smile-annotations-final.csv")
MODEL = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")


def load():
    """The course's tweets: one emotion each, `nocode` dropped (columns: id, text, category)."""
    with open(SMILE, encoding="utf8", newline="") as f:
        rows = [(r[1], r[2]) for r in csv.reader(f) if "|" not in r[2] and r[2] != "nocode"]
    labels = sorted({c for _, c in rows})
    return [t for t, _ in rows], np.array([labels.index(c) for _, c in rows])


def mean_pooled(texts):
    tok, model = AutoTokenizer.from_pretrained(MODEL), AutoModel.from_pretrained(MODEL).eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(texts), 64):
            b = tok(texts[s:s + 64], padding=True, truncation=True, max_length=256, return_tensors="pt")
            h, m = model(**b).last_hidden_state, b["attention_mask"].unsqueeze(-1).float()
            out.append(((h * m).sum(1) / m.sum(1)).numpy())
    return np.concatenate(out)


def score(name, features, y):
    """features(train_idx, val_idx) -> (X_train, X_val); prints mean ± sd over the 5 splits."""
    macro, weighted = [], []
    for seed in range(1, 6):
        tr, va = next(StratifiedShuffleSplit(1, test_size=0.15, random_state=seed).split(np.zeros(len(y)), y))
        xtr, xva, c = features(tr, va)
        p = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(xtr, y[tr]).predict(xva)
        macro.append(f1_score(y[va], p, average="macro"))
        weighted.append(f1_score(y[va], p, average="weighted"))
    print(f"{name}: macro F1 {np.mean(macro):.3f} ± {np.std(macro, ddof=1):.3f} · "
          f"weighted F1 {np.mean(weighted):.3f} ± {np.std(weighted, ddof=1):.3f}", flush=True)


def main():
    texts, y = load()
    arr = np.array(texts, dtype=object)

    def tfidf(tr, va):
        v = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        return v.fit_transform(arr[tr]), v.transform(arr[va]), 10

    score("TF-IDF, balanced logistic regression", tfidf, y)
    e = mean_pooled(texts)
    unit = e / np.linalg.norm(e, axis=1, keepdims=True)
    score("MiniLM frozen, mean-pooled, L2-normalised, balanced logistic regression", lambda tr, va: (unit[tr], unit[va], 10), y)
    score("MiniLM frozen, mean-pooled, balanced logistic regression (C = 1)", lambda tr, va: (e[tr], e[va], 1), y)


if __name__ == "__main__":
    main()
