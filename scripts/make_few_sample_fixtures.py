"""Reference values for the few-sample fine-tuning options, from PyTorch. Rerun after changing anything here:

    /work/main/.venv/bin/python scripts/make_few_sample_fixtures.py      # or .venv/bin/python in a clone

Writes test/fixtures/labels/few_sample.json:
- "rdrop": R-Drop's loss as its authors' code computes it (Liang et al., NeurIPS 2021, github.com/dropreg/R-Drop:
  the mean of the two passes' losses plus alpha x the symmetric KL from F.kl_div), here averaged over the pairs
  (the authors sum it), with class weights as a weighted mean, for cross-entropy and focal loss; values and
  gradients with respect to both passes' logits, stacked [first pass; second pass], in float64.
- "llrd": each weight's learning rate under layer-wise decay, from the parameter groups of Zhang et al.'s code
  (ICLR 2021, github.com/asappresearch/revisit-bert-finetuning, `get_optimizer_grouped_parameters`) on a small
  BertForSequenceClassification: the head at lr, the top layer at lr*xi, each layer below xi times the one above.
"""
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForSequenceClassification

from fixture_json import ROOT, write_json


def focal(logits, y, gamma, w):
    logp = F.log_softmax(logits, -1).gather(1, y[:, None])[:, 0]
    a = torch.ones_like(logp) if w is None else w[y]
    return -(a * (1 - logp.exp()) ** gamma * logp).sum() / a.sum()


def rdrop_cases():
    g = torch.Generator().manual_seed(31)
    out = []
    for b, c in [(4, 3), (6, 6), (1, 2)]:
        first = torch.randn(b, c, generator=g, dtype=torch.float64) * 2
        second = first + torch.randn(b, c, generator=g, dtype=torch.float64) * 0.7  # another dropout mask
        y = torch.randint(0, c, (b,), generator=g)
        weights = torch.rand(c, generator=g, dtype=torch.float64) * 3 + 0.1
        for alpha in [0.0, 1.0, 4.0]:
            for w in [None, weights]:
                for gamma in [None, 2.0]:
                    x = torch.cat([first, second]).clone().requires_grad_(True)
                    yy = torch.cat([y, y])
                    base = F.cross_entropy(x, yy, weight=w) if gamma is None else focal(x, yy, gamma, w)
                    p, q = x[:b], x[b:]
                    # the authors' compute_kl_loss, per pair: (KL(p||q) + KL(q||p)) / 2
                    p_loss = F.kl_div(F.log_softmax(p, -1), F.softmax(q, -1), reduction="none").sum(-1)
                    q_loss = F.kl_div(F.log_softmax(q, -1), F.softmax(p, -1), reduction="none").sum(-1)
                    a = torch.ones(b, dtype=torch.float64) if w is None else w[y]
                    kl = ((p_loss + q_loss) / 2 * a).sum() / a.sum()
                    loss = base + alpha * kl
                    loss.backward()
                    out.append({"logits": x.detach().tolist(), "labels": y.tolist(), "alpha": alpha,
                                "weights": None if w is None else w.tolist(), "gamma": gamma,
                                "loss": loss.item(), "grad": x.grad.tolist()})
    return out


def llrd_case():
    config = BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16, num_labels=3)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    lr, xi, weight_decay = 1e-4, 0.8, 0.01
    no_decay = ["bias", "LayerNorm.weight"]
    groups = [{"params": [p for n, p in model.named_parameters() if "classifier" in n or "pooler" in n],
               "weight_decay": 0.0, "lr": lr}]
    layers = [model.bert.embeddings] + list(model.bert.encoder.layer)
    layers.reverse()
    rate = lr
    for layer in layers:
        rate *= xi
        groups += [
            {"params": [p for n, p in layer.named_parameters() if not any(nd in n for nd in no_decay)],
             "weight_decay": weight_decay, "lr": rate},
            {"params": [p for n, p in layer.named_parameters() if any(nd in n for nd in no_decay)],
             "weight_decay": 0.0, "lr": rate},
        ]
    lr_of = {id(p): group["lr"] for group in groups for p in group["params"]}
    rates = {n: lr_of[id(p)] for n, p in model.named_parameters()}
    assert len(rates) == len(list(model.parameters())), "every weight in one group"
    return {"lr": lr, "xi": xi, "layers": config.num_hidden_layers, "rates": rates}


if __name__ == "__main__":
    fixture = {"torch": torch.__version__, "rdrop": rdrop_cases(), "llrd": llrd_case()}
    write_json(ROOT / "test" / "fixtures" / "labels", "few_sample.json", fixture)
