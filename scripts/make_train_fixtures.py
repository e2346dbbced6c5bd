"""Reference values for the training library's tests, computed with PyTorch and scikit-learn.

Writes test/fixtures/train/optim.json (AdamW steps with gradient clipping and the linear
warmup schedule) and test/fixtures/train/metrics.json (F1 scores, confusion matrices).
Rerun after changing anything here:

    .venv/bin/python scripts/make_train_fixtures.py

AdamW: the course used `transformers.AdamW` (correct_bias=True). transformers 5 removed it, so
`course_adamw_step` below is that optimizer's update, line for line (eps added after the square
root, bias correction folded into the step size, weight decay applied after the update as
p -= lr*wd*p). `torch.optim.AdamW` differs in two small ways (decay applied before the update,
eps added after the bias correction of the second moment); the fixture records the largest
difference between the two so the tests can show it is tiny but not zero.
"""
import json
import math
import os

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score
from transformers import get_linear_schedule_with_warmup

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "train")


def course_adamw_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, wd=0.0):
    """transformers.AdamW.step (v4.x) for one parameter, correct_bias=True."""
    if "step" not in state:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)
    b1, b2 = betas
    state["step"] += 1
    state["exp_avg"].mul_(b1).add_(g, alpha=1.0 - b1)
    state["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1.0 - b2)
    denom = state["exp_avg_sq"].sqrt().add_(eps)
    step_size = lr * math.sqrt(1.0 - b2 ** state["step"]) / (1.0 - b1 ** state["step"])
    p.addcdiv_(state["exp_avg"], denom, value=-step_size)
    if wd > 0.0:
        p.add_(p, alpha=-lr * wd)


def optim_fixture():
    torch.manual_seed(0)
    # Two "weights" and two "biases"; biases get no weight decay (the course's no_decay group).
    params = {
        "dense.weight": torch.randn(3, 4),
        "dense.bias": torch.randn(4),
        "LayerNorm.weight": torch.randn(4),
        "out.weight": torch.randn(2, 3),
    }
    decay = {"dense.weight": True, "dense.bias": False, "LayerNorm.weight": False, "out.weight": True}
    steps, warmup, base_lr, wd, max_norm = 6, 2, 1e-2, 0.1, 1.0
    grads = [{k: (torch.randn_like(v) * (3.0 if s % 2 == 0 else 0.2)) for k, v in params.items()} for s in range(steps)]

    # The schedule, from transformers itself.
    dummy = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([dummy], lr=base_lr)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=warmup, num_training_steps=steps)

    ours = {k: v.clone() for k, v in params.items()}
    states = {k: {} for k in params}
    torch_params = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    topt = torch.optim.AdamW(
        [
            {"params": [torch_params[k] for k in params if decay[k]], "weight_decay": wd},
            {"params": [torch_params[k] for k in params if not decay[k]], "weight_decay": 0.0},
        ],
        lr=base_lr, eps=1e-8,
    )
    tsched = get_linear_schedule_with_warmup(topt, num_warmup_steps=warmup, num_training_steps=steps)
    record = []
    for s in range(steps):
        lr = opt.param_groups[0]["lr"]
        g = {k: v.clone() for k, v in grads[s].items()}
        # clip_grad_norm_ as torch does it: global L2 norm over all gradients.
        holders = [torch.nn.Parameter(ours[k].clone()) for k in params]
        for h, k in zip(holders, params):
            h.grad = g[k].clone()
        norm = float(torch.nn.utils.clip_grad_norm_(holders, max_norm))
        clipped = {k: h.grad.clone() for h, k in zip(holders, params)}
        for k in params:
            course_adamw_step(ours[k], clipped[k], states[k], lr, wd=wd if decay[k] else 0.0)
        for k in params:
            torch_params[k].grad = clipped[k].clone()
        topt.step()
        tsched.step()
        opt.step()
        sched.step()
        record.append({
            "lr": lr,
            "grad_norm": norm,
            "params": {k: ours[k].flatten().tolist() for k in params},
        })
    torch_diff = max(float((ours[k] - torch_params[k].detach()).abs().max()) for k in params)
    lrs = []
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched2 = get_linear_schedule_with_warmup(opt2, num_warmup_steps=3, num_training_steps=10)
    for _ in range(12):
        lrs.append(opt2.param_groups[0]["lr"])
        opt2.step()
        sched2.step()
    return {
        "about": "AdamW as transformers.AdamW (v4, correct_bias=True) with clip_grad_norm_(1.0) and "
                 "get_linear_schedule_with_warmup; float32 torch " + torch.__version__,
        "base_lr": base_lr, "weight_decay": wd, "warmup": warmup, "steps": steps, "max_norm": max_norm,
        "decay": decay,
        "shapes": {k: list(v.shape) for k, v in params.items()},
        "initial": {k: v.flatten().tolist() for k, v in params.items()},
        "grads": [{k: v.flatten().tolist() for k, v in g.items()} for g in grads],
        "steps_record": record,
        "max_abs_diff_vs_torch_optim_AdamW": torch_diff,
        "schedule_warmup3_total10_lr1": lrs,
    }


def metrics_fixture():
    rng = np.random.RandomState(3)
    cases = []
    # 1) typical: 6 classes, imbalanced, some mistakes
    y_true = rng.choice(6, size=60, p=[0.6, 0.15, 0.1, 0.05, 0.05, 0.05])
    y_pred = np.where(rng.rand(60) < 0.7, y_true, rng.choice(6, size=60))
    cases.append(("typical", y_true, y_pred, 6))
    # 2) classes absent from the predictions (the majority-class baseline): zero_division=0
    y_true2 = np.array([0, 0, 0, 0, 1, 1, 2, 3, 0, 5])
    y_pred2 = np.zeros(10, dtype=int)
    cases.append(("majority", y_true2, y_pred2, 6))
    # 3) a predicted class that never occurs in y_true
    y_true3 = np.array([0, 1, 1, 0, 2, 2])
    y_pred3 = np.array([0, 1, 4, 0, 2, 1])
    cases.append(("extra_pred", y_true3, y_pred3, 6))
    out = []
    for name, t, p, n in cases:
        out.append({
            "name": name, "num_classes": n,
            "y_true": t.tolist(), "y_pred": p.tolist(),
            "f1_weighted": float(f1_score(t, p, average="weighted", zero_division=0)),
            "f1_macro": float(f1_score(t, p, average="macro", zero_division=0)),
            "f1_macro_all_labels": float(f1_score(t, p, average="macro", labels=list(range(n)), zero_division=0)),
            "f1_per_class": f1_score(t, p, average=None, labels=list(range(n)), zero_division=0).tolist(),
            "confusion": confusion_matrix(t, p, labels=list(range(n))).tolist(),
        })
    return {"about": "scikit-learn f1_score / confusion_matrix, zero_division=0", "cases": out}


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, value in (("optim.json", optim_fixture()), ("metrics.json", metrics_fixture())):
        with open(os.path.join(OUT, name), "w") as f:
            json.dump(value, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(OUT, name))
