"""A floor under every fine-tuning recipe, on the same folds as `bertlab cv`: a logistic regression on frozen MiniLM
sentence embeddings (mean-pooled, L2-normalised: how all-MiniLM-L6-v2 is meant to be used), class-weighted, and the
same with tweets from CARER added to every fold's training rows under the SMILE label of the same emotion (sadness
as sad, anger as angry, surprise as surprise). It asks, in two minutes, whether CARER's emotions mean what SMILE's
do, before a fine-tuning run spends an hour on it.

Run (from the project root, after `bertlab cv` wrote RUN/cv.json; PyTorch and transformers in .venv):
    .venv/bin/python scripts/embedding_baseline.py runs/cv-course/cv.json
It prints pooled out-of-fold macro and weighted F1 and per-class F1 for 0, 25, 50, 100 and 200 CARER tweets a class.
"""
import csv
import json
import random
import sys

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from transformers import AutoModel, AutoTokenizer

from fixture_json import ROOT

MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
SMILE = ROOT / "data" / "smile-annotations-final.csv"
CARER = ROOT / "data" / "carer" / "train.csv"
AS_SMILE = {"sadness": "sad", "anger": "angry", "surprise": "surprise"}


def embed(texts, tok, model):
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            b = tok(texts[i:i + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            h = model(**b).last_hidden_state
            mask = b["attention_mask"].unsqueeze(-1).float()
            out.append(torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1), dim=1).numpy())
    return np.concatenate(out)


def main(cv_file):
    cv = json.load(open(cv_file))
    labels, y, folds = cv["labels"], np.array(cv["yTrue"]), np.array(cv["folds"][0])
    with open(SMILE, newline="", encoding="utf-8") as f:
        text = {row[0]: row[1] for row in csv.reader(f)}  # ids stay strings
    torch.manual_seed(0)
    tok, model = AutoTokenizer.from_pretrained(MODEL), AutoModel.from_pretrained(MODEL).eval()
    x = embed([text[i] for i in cv["ids"]], tok, model)
    with open(CARER, newline="", encoding="utf-8") as f:
        carer = list(csv.DictReader(f))
    rng = random.Random(0)
    extra = {}
    for emotion, label in AS_SMILE.items():
        rows = [r["text"] for r in carer if r["label"] == emotion]
        rng.shuffle(rows)
        extra[labels.index(label)] = embed(rows[:200], tok, model)
    print(f"{len(y)} tweets, {cv['k']} folds of {cv_file} (repeat 1); labels {', '.join(labels)}")
    for n in [0, 25, 50, 100, 200]:
        p = np.zeros((len(y), len(labels)))
        for k in range(cv["k"]):
            train = folds != k
            xt = np.concatenate([x[train]] + [e[:n] for e in extra.values()])
            yt = np.concatenate([y[train]] + [np.full(n, c) for c in extra])
            clf = LogisticRegression(C=10, class_weight="balanced", max_iter=3000).fit(xt, yt)
            p[folds == k] = clf.predict_proba(x[folds == k])
        pred = p.argmax(1)
        per = " ".join(f"{l} {s:.3f}" for l, s in zip(labels, f1_score(y, pred, average=None)))
        print(f"CARER tweets a class {n:>3}: macro F1 {f1_score(y, pred, average='macro'):.4f} · "
              f"weighted F1 {f1_score(y, pred, average='weighted'):.4f} · {per}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "runs" / "cv-course" / "cv.json"))
