"""Reference values for label smoothing (lib/nn/loss_def.ts), from PyTorch. Rerun after changing anything here:

    /work/main/.venv/bin/python scripts/make_smoothing_fixtures.py      # or .venv/bin/python in a clone

Writes test/fixtures/labels/label_smoothing.json: F.cross_entropy(logits, y, weight=w, label_smoothing=eps)
values and gradients with respect to the logits, in float64, with and without class weights; the
unweighted cases are checked here against Hugging Face's LabelSmoother (Trainer's label_smoothing_factor),
within 1e-6 as it sums in float32.
"""
import torch
import torch.nn.functional as F
from transformers.trainer_pt_utils import LabelSmoother

from fixture_json import ROOT, write_json


def cases():
    g = torch.Generator().manual_seed(23)
    out = []
    for n, c in [(5, 3), (8, 6), (1, 4)]:
        logits = (torch.randn(n, c, generator=g, dtype=torch.float64) * 2.5).tolist()
        y = torch.randint(0, c, (n,), generator=g).tolist()
        weights = (torch.rand(c, generator=g, dtype=torch.float64) * 3 + 0.1).tolist()
        for eps in [0.0, 0.1, 0.3, 1.0]:
            for w in [None, weights]:
                x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
                wt = None if w is None else torch.tensor(w, dtype=torch.float64)
                loss = F.cross_entropy(x, torch.tensor(y), weight=wt, label_smoothing=eps)
                if w is None:
                    hf = LabelSmoother(epsilon=eps)({"logits": x}, torch.tensor(y))
                    assert abs(hf.item() - loss.item()) < 1e-6, (hf.item(), loss.item())  # HF sums in float32
                loss.backward()
                out.append({"logits": logits, "labels": y, "weights": w, "epsilon": eps,
                            "loss": loss.item(), "grad": x.grad.tolist()})
    return out


if __name__ == "__main__":
    fixture = {"torch": torch.__version__, "cases": cases()}
    write_json(ROOT / "test" / "fixtures" / "labels", "label_smoothing.json", fixture)
