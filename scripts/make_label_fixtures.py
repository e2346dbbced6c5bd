"""Reference values for the imbalance and multi-label work (issue 11), from PyTorch, scikit-learn,
SciPy and the `iterative-stratification` package. Rerun after changing anything here:

    .venv/bin/python scripts/make_label_fixtures.py

Writes, under test/fixtures/labels/:
  losses.json       weighted cross-entropy, focal loss and multi-label BCE: values and gradients
                    with respect to the logits, computed by PyTorch autograd in float64
  imbalance.json    compute_class_weight("balanced") cases, per-class precision/recall/F1, and the
                    chi-square critical values the weighted-sampler test compares against
  multilabel.json   multi-label metrics (f1_score micro/macro/weighted on indicator matrices,
                    per-label precision/recall/F1, subset accuracy, Hamming loss), and the folds of
                    iterstrat's MultilabelStratifiedKFold / MultilabelStratifiedShuffleSplit on
                    synthetic label sets and on SMILE (fold numbers and label counts only: no tweets)
  multilabel_baseline.json
                    the classical baseline for notebook 08: TF-IDF + one-vs-rest logistic regression
                    on SMILE's multi-label split (seed 17), scored on its validation part

SMILE parts need data/smile-annotations-final.csv (set-up fetches it); without it they are skipped
and the tests that use them say so.
"""
import json
import os

import csv

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import chi2
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_recall_fscore_support
from sklearn.multiclass import OneVsRestClassifier
from sklearn.utils.class_weight import compute_class_weight

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "labels")
SMILE = os.path.join(ROOT, "data", "smile-annotations-final.csv")
# The per-label threshold grid of lib/eval/multilabel.ts (0.05, 0.10, ..., 0.95).
GRID = [round(0.05 * k, 2) for k in range(1, 20)]


def focal_torch(logits, y, gamma, weight=None):
    """Multi-class focal loss (Lin et al. 2017) as lib/nn/losses.ts defines it, written with PyTorch ops:
    sum_i w[y_i] (1 - p_i)^gamma nll_i / sum_i w[y_i]; gamma 0 is F.cross_entropy(weight=w)."""
    nll = F.cross_entropy(logits, y, reduction="none")
    w = torch.ones_like(nll) if weight is None else weight[y]
    return (w * (1 - torch.exp(-nll)) ** gamma * nll).sum() / w.sum()


def losses_fixture():
    g = torch.Generator().manual_seed(11)
    cases = []
    for n, c in [(5, 3), (8, 6), (1, 4)]:
        logits = (torch.randn(n, c, generator=g, dtype=torch.float64) * 2.5).tolist()
        y = torch.randint(0, c, (n,), generator=g).tolist()
        weights = (torch.rand(c, generator=g, dtype=torch.float64) * 3 + 0.1).tolist()
        for gamma in [0.0, 0.5, 2.0, 5.0]:
            for w in [None, weights]:
                x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
                wt = None if w is None else torch.tensor(w, dtype=torch.float64)
                loss = focal_torch(x, torch.tensor(y), gamma, wt)
                if gamma == 0.0:
                    # gamma 0 is PyTorch's own weighted cross-entropy: check the formula against it
                    ref = F.cross_entropy(x, torch.tensor(y), weight=wt)
                    assert abs(ref.item() - loss.item()) < 1e-12
                loss.backward()
                cases.append({"kind": "focal", "logits": logits, "labels": y, "weights": w, "gamma": gamma,
                              "loss": loss.item(), "grad": x.grad.tolist()})
    # multi-label BCE on logits (Hugging Face's multi_label_classification loss), incl. logits at 0 and large ones
    for n, c in [(4, 6), (3, 2)]:
        logits = (torch.randn(n, c, generator=g, dtype=torch.float64) * 4).tolist()
        logits[0][0] = 0.0
        logits[-1][-1] = 40.0
        targets = (torch.rand(n, c, generator=g) < 0.4).double().tolist()
        x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(x, torch.tensor(targets, dtype=torch.float64))
        loss.backward()
        cases.append({"kind": "bce", "logits": logits, "targets": targets,
                      "loss": loss.item(), "grad": x.grad.tolist()})
    return {"torch": torch.__version__, "cases": cases}


def imbalance_fixture():
    rng = np.random.RandomState(5)
    # SMILE's course training split (1,258 tweets): happy, not-relevant, angry, disgust, sad, surprise
    smile_train_counts = [966, 182, 48, 5, 27, 30]
    ys = [
        [0, 0, 0, 1],
        [2, 0, 1, 1, 2, 2, 2, 0],
        rng.choice(4, size=50, p=[0.7, 0.2, 0.07, 0.03]).tolist(),
        [k for k, n in enumerate(smile_train_counts) for _ in range(n)],
    ]
    weights = []
    for y in ys:
        classes = np.arange(max(y) + 1)
        weights.append({"y": y, "num_classes": int(len(classes)),
                        "weights": compute_class_weight("balanced", classes=classes, y=np.array(y)).tolist()})
    reports = []
    for _ in range(4):
        k = 5
        y_true = rng.choice(k, size=40, p=[0.6, 0.2, 0.1, 0.07, 0.03]).tolist()
        y_pred = [t if rng.rand() < 0.7 else int(rng.randint(k)) for t in y_true]
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)),
                                                     average=None, zero_division=0)
        reports.append({"y_true": y_true, "y_pred": y_pred, "num_classes": k,
                        "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()})
    return {
        "class_weight": weights,
        "class_report": reports,
        # P(chi-square with df degrees of freedom > value) = 0.001
        "chi2_critical_0_001": {str(df): float(chi2.ppf(0.999, df)) for df in range(1, 11)},
    }


def multilabel_metrics_cases(rng):
    cases = []
    for n, k, p_true, noise in [(30, 5, 0.3, 0.25), (12, 4, 0.5, 0.4), (40, 6, 0.2, 0.1)]:
        y_true = (rng.rand(n, k) < p_true).astype(int)
        y_true[:, -1] = 0  # a label with no true examples
        y_pred = np.where(rng.rand(n, k) < noise, 1 - y_true, y_true)
        y_pred[:, 0] = 0  # a label never predicted
        y_pred[0] = y_true[0]
        p, r, f, sup = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
        cases.append({
            "y_true": y_true.tolist(), "y_pred": y_pred.tolist(),
            "f1_micro": f1_score(y_true, y_pred, average="micro", zero_division=0),
            "f1_macro": f1_score(y_true, y_pred, average="macro", zero_division=0),
            "f1_weighted": f1_score(y_true, y_pred, average="weighted", zero_division=0),
            "subset_accuracy": accuracy_score(y_true, y_pred),
            "hamming_loss": hamming_loss(y_true, y_pred),
            "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": sup.tolist(),
        })
    return cases


def folds_of(y, seed):
    """Fold numbers of MultilabelStratifiedKFold(5) without and with shuffling, and the validation
    (test) indices of MultilabelStratifiedShuffleSplit(n_splits=1, test_size=0.15)."""
    out = {"seed": seed}
    for shuffle in [False, True]:
        folds = np.zeros(len(y), dtype=int)
        # scikit-learn refuses a random_state without shuffle, yet iterstrat breaks ties at random
        # either way: without shuffle it draws from NumPy's global RandomState, seeded here.
        np.random.seed(seed)
        kf = (MultilabelStratifiedKFold(n_splits=5, shuffle=True, random_state=seed) if shuffle
              else MultilabelStratifiedKFold(n_splits=5))
        for i, (_, test) in enumerate(kf.split(np.zeros(len(y)), y)):
            folds[test] = i
        out["kfold_shuffle" if shuffle else "kfold"] = folds.tolist()
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=0.15, random_state=seed)
    _, test = next(splitter.split(np.zeros(len(y)), y))
    out["shuffle_split_validation"] = test.tolist()
    return out


def synthetic_label_sets(rng, n=200, k=6):
    """Correlated, imbalanced label sets: label 0 common, label 5 rare, some rows with no label."""
    base = rng.rand(n)
    y = np.zeros((n, k), dtype=int)
    y[:, 0] = base < 0.6
    y[:, 1] = (base > 0.5) & (rng.rand(n) < 0.7)
    y[:, 2] = rng.rand(n) < 0.15
    y[:, 3] = (y[:, 2] == 1) & (rng.rand(n) < 0.5)
    y[:, 4] = rng.rand(n) < 0.05
    y[:, 5] = rng.rand(n) < 0.02
    return y


def smile_multilabel():
    """SMILE as notebook 08 uses it: every row but `nocode`, categories split on '|', labels in order
    of first appearance (lib/data/smile.ts loadMultiLabelCourseData)."""
    if not os.path.exists(SMILE):
        return None
    with open(SMILE, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f) if r[2] != "nocode"]
    labels = []
    for r in rows:
        for l in r[2].split("|"):
            if l not in labels:
                labels.append(l)
    y = np.array([[int(l in r[2].split("|")) for l in labels] for r in rows])
    return rows, labels, y


def tune(prob, truth):
    """lib/eval/multilabel.ts tuneThresholds for one label: the grid value with the best F1, ties to the
    one nearest 0.5 (then the lower); 0.5 when validation has no example of the label."""
    if truth.sum() == 0:
        return 0.5
    scored = [(f1_score(truth, (prob >= t).astype(int), zero_division=0), -abs(t - 0.5), -t, t) for t in GRID]
    return max(scored)[3]


def multilabel_fixture():
    rng = np.random.RandomState(8)
    synthetic = synthetic_label_sets(rng)
    tiny = np.array([[0, 0], [0, 0], [0, 1], [0, 1], [1, 1], [1, 1], [1, 0], [1, 0]])  # iterstrat's docstring example
    out = {
        "metrics": multilabel_metrics_cases(rng),
        "stratification": [
            {"name": "docstring example", "y": tiny.tolist(), **folds_of(tiny, 0)},
            {"name": "synthetic 200 x 6", "y": synthetic.tolist(), **folds_of(synthetic, 17)},
            {"name": "synthetic 200 x 6", "y": synthetic.tolist(), **folds_of(synthetic, 3)},
        ],
    }
    smile = smile_multilabel()
    if smile:
        rows, labels, y = smile
        out["smile"] = {"rows": len(rows), "labels": labels, "label_counts": y.sum(0).tolist(), **folds_of(y, 17)}
    return out


def baseline_fixture():
    smile = smile_multilabel()
    if not smile:
        return None
    rows, labels, y = smile
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=0.15, random_state=17)
    train, val = next(splitter.split(np.zeros(len(y)), y))
    texts = [r[1] for r in rows]
    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)
    x_train = vec.fit_transform([texts[i] for i in train])
    x_val = vec.transform([texts[i] for i in val])
    clf = OneVsRestClassifier(LogisticRegression(max_iter=2000, C=10.0)).fit(x_train, y[train])
    prob = clf.predict_proba(x_val)
    y_val = y[val]

    def scores(pred):
        p, r, f, sup = precision_recall_fscore_support(y_val, pred, average=None, zero_division=0)
        return {
            "f1_micro": f1_score(y_val, pred, average="micro", zero_division=0),
            "f1_macro": f1_score(y_val, pred, average="macro", zero_division=0),
            "subset_accuracy": accuracy_score(y_val, pred),
            "per_label": {l: {"precision": p[k], "recall": r[k], "f1": f[k], "support": int(sup[k])}
                          for k, l in enumerate(labels)},
        }

    thresholds = [tune(prob[:, k], y_val[:, k]) for k in range(len(labels))]
    return {
        "what": "TF-IDF (word 1-2 grams, sublinear tf, min_df 2) + one-vs-rest logistic regression (C=10), "
                "trained on SMILE's multi-label split "
                "(MultilabelStratifiedShuffleSplit, test_size 0.15, random_state 17), "
                "scored on its validation part",
        "labels": labels, "train": len(train), "validation": len(val),
        "threshold_0_5": scores((prob >= 0.5).astype(int)),
        "tuned": {"thresholds": dict(zip(labels, thresholds)),
                  **scores(np.stack([(prob[:, k] >= thresholds[k]).astype(int) for k in range(len(labels))], 1))},
    }


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    outputs = [("losses.json", losses_fixture()), ("imbalance.json", imbalance_fixture()),
               ("multilabel.json", multilabel_fixture()), ("multilabel_baseline.json", baseline_fixture())]
    for name, value in outputs:
        if value is None:
            print("skipped", name, "(no", SMILE, ")")
            continue
        with open(os.path.join(OUT, name), "w") as f:
            # the fold lists are long: one line for them, readable indentation for the rest
            json.dump(value, f, indent=None if name == "multilabel.json" else 1)
        print("wrote", os.path.join(OUT, name))
