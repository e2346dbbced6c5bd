"""Reference fixtures for cross-validation (lib/data/split.ts's stratifiedKFold, lib/analysis/cv.ts's bootstrap and
paired comparison), made with NumPy and scikit-learn.

Rerun (from the project root, after changing this script):
    .venv/bin/python scripts/make_cv_fixtures.py
It writes test/fixtures/cv/folds.json and test/fixtures/cv/bootstrap.json (small JSON, committed).

folds.json: RepeatedStratifiedKFold(n_splits=k, n_repeats=3, random_state=seed) (repeat 0 is
StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)) as each row's fold per repeat, on synthetic labels and
on SMILE's 1,481 course labels (read from data/, only the folds are stored: the labels are the data's).
bootstrap.json: the percentile bootstrap over tweets of pooled macro/weighted F1 and per-class F1, and the paired
bootstrap of a difference, with B resamples of np.random.RandomState(seed).randint(0, n, size=n).
"""
import csv

import numpy as np
import sklearn
from sklearn.metrics import f1_score
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from fixture_json import ROOT, write_json

OUT = ROOT / "test" / "fixtures" / "cv"
SMILE = ROOT / "data" / "smile-annotations-final.csv"


def smile_labels():
    with open(SMILE, newline="", encoding="utf-8") as f:
        cats = [row[2] for row in csv.reader(f)]
    return [c for c in cats if "|" not in c and c != "nocode"]


def label_sets():
    rs = np.random.RandomState(2025)
    names = np.array(["surprise", "happy", "sad", "angry", "not-relevant"])
    return {
        "balanced_3x10": rs.permutation(np.repeat([0, 1, 2], 10)).tolist(),
        # classes of exactly k members, and sizes that do not divide by k
        "imbalanced": rs.permutation(np.repeat([0, 1, 2, 3, 4], [41, 17, 10, 5, 6])).tolist(),
        # first appearance differs from sorted order (scikit-learn numbers classes by first appearance)
        "strings": names[rs.permutation(np.repeat([0, 1, 2, 3, 4], [5, 30, 7, 5, 9]))].tolist(),
    }


def folds_of(cv, k, labels):
    """Each row's fold, per repeat: cv.split yields the k folds of repeat 0, then of repeat 1, ..."""
    n = len(labels)
    out, fold = [], None
    for i, (_, test) in enumerate(cv.split(np.zeros(n), np.array(labels))):
        if i % k == 0:
            fold = np.full(n, -1)
            out.append(fold)
        fold[test] = i % k
    return [f.tolist() for f in out]


def folds_fixture():
    cases = []
    sets = label_sets()
    for name, labels in sets.items():
        for k in [2, 3, 5]:
            for seed in [0, 17, 42]:
                rep = folds_of(RepeatedStratifiedKFold(n_splits=k, n_repeats=3, random_state=seed), k, labels)
                one = folds_of(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed), k, labels)
                assert one[0] == rep[0]
                cases.append({"labels": name, "k": k, "seed": seed, "folds": rep})
    smile = []
    if SMILE.exists():
        labels = smile_labels()
        for k, seed in [(5, 17), (5, 42), (3, 17)]:
            smile.append({"k": k, "seed": seed, "n": len(labels),
                          "folds": folds_of(RepeatedStratifiedKFold(n_splits=k, n_repeats=2, random_state=seed),
                                            k, labels)})
    return {"sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
            "label_sets": sets, "cases": cases, "smile": smile}


def noisy(y, p_keep, n_classes, rs):
    keep = rs.random_sample(len(y)) < p_keep
    return np.where(keep, y, rs.randint(0, n_classes, size=len(y)))


def percentile(x):
    return np.percentile(np.array(x), [2.5, 97.5]).tolist()


def bootstrap_fixture():
    rs = np.random.RandomState(7)
    n, n_classes, repeats = 240, 6, 2
    y = rs.permutation(np.repeat(np.arange(n_classes), [150, 40, 25, 5, 10, 10]))
    pred_a = [noisy(y, 0.8, n_classes, rs) for _ in range(repeats)]
    pred_b = [noisy(y, 0.7, n_classes, rs) for _ in range(repeats)]
    seed, b_count = 17, 200
    rng = np.random.RandomState(seed)
    macro_a, weighted_a, per_class_a, d_macro, d_weighted = [], [], [], [], []
    for _ in range(b_count):
        idx = rng.randint(0, n, size=n)
        t = np.concatenate([y[idx]] * repeats)
        pa = np.concatenate([p[idx] for p in pred_a])
        pb = np.concatenate([p[idx] for p in pred_b])
        ma, wa = f1_score(t, pa, average="macro"), f1_score(t, pa, average="weighted")
        mb, wb = f1_score(t, pb, average="macro"), f1_score(t, pb, average="weighted")
        macro_a.append(ma)
        weighted_a.append(wa)
        per_class_a.append(f1_score(t, pa, average=None, labels=np.arange(n_classes), zero_division=0))
        d_macro.append(ma - mb)
        d_weighted.append(wa - wb)
    per_class = np.array(per_class_a)

    def p_value(d):
        d = np.array(d)
        return float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))

    t_all = np.concatenate([y] * repeats)
    return {
        "n": n, "classes": n_classes, "seed": seed, "resamples": b_count,
        "y_true": y.tolist(), "pred_a": [p.tolist() for p in pred_a], "pred_b": [p.tolist() for p in pred_b],
        "point_a": {"macro": f1_score(t_all, np.concatenate(pred_a), average="macro"),
                    "weighted": f1_score(t_all, np.concatenate(pred_a), average="weighted")},
        "first_indices": np.random.RandomState(seed).randint(0, n, size=n).tolist(),
        "macro_a": macro_a[:5], "ci_macro_a": percentile(macro_a), "ci_weighted_a": percentile(weighted_a),
        "ci_per_class_a": [percentile(per_class[:, c]) for c in range(n_classes)],
        "ci_diff_macro": percentile(d_macro), "ci_diff_weighted": percentile(d_weighted),
        "p_diff_macro": p_value(d_macro), "p_diff_weighted": p_value(d_weighted),
        "percentile_cases": [{"x": x, "q": q, "value": float(np.percentile(np.array(x), q))}
                             for x in [[3.0, 1.0, 2.0], [0.1, 0.7, 0.2, 0.9, 0.4], list(np.linspace(0, 1, 200) ** 2)]
                             for q in [0, 2.5, 50, 97.5, 100]],
    }


if __name__ == "__main__":
    write_json(OUT, "folds.json", folds_fixture())
    write_json(OUT, "bootstrap.json", bootstrap_fixture())
