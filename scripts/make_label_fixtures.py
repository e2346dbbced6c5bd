"""Reference values for the imbalance and multi-label work (issue 11), from PyTorch, scikit-learn,
SciPy and the `iterative-stratification` package. Rerun after changing anything here:

    .venv/bin/python scripts/make_label_fixtures.py

Writes, under test/fixtures/labels/:
  losses.json       weighted cross-entropy, focal loss and multi-label BCE: values and gradients
                    with respect to the logits, computed by PyTorch autograd in float64
  imbalance.json    compute_class_weight("balanced") cases, per-class precision/recall/F1, and the
                    chi-square critical values the weighted-sampler test compares against
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import chi2
from sklearn.metrics import precision_recall_fscore_support
from sklearn.utils.class_weight import compute_class_weight

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "labels")


def focal_torch(logits, y, gamma, weight=None):
    """Multi-class focal loss (Lin et al. 2017) as lib/losses.ts defines it, written with PyTorch ops:
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
        cases.append({"kind": "bce", "logits": logits, "targets": targets, "loss": loss.item(), "grad": x.grad.tolist()})
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
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)), average=None, zero_division=0)
        reports.append({"y_true": y_true, "y_pred": y_pred, "num_classes": k,
                        "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()})
    return {
        "class_weight": weights,
        "class_report": reports,
        # P(chi-square with df degrees of freedom > value) = 0.001
        "chi2_critical_0_001": {str(df): float(chi2.ppf(0.999, df)) for df in range(1, 11)},
    }


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, value in [("losses.json", losses_fixture()), ("imbalance.json", imbalance_fixture())]:
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(value, f, indent=1)
        print("wrote", os.path.join(OUT, name))
