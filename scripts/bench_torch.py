"""PyTorch + transformers side of the bertlab benchmark (scripts/bench.ts runs it; see there).

Reads the workload that bench.ts wrote (token ids of SMILE tweets, already batched and seeded, so
both sides see exactly the same batches), then measures the course's steps on the same model:
  - training: forward + backward + clip_grad_norm_(1.0) + AdamW + zero_grad, batch 32, padded
    to the longest row of each batch, dropout on (model.train())
  - inference: model.eval() under torch.no_grad(), batch 64 and batch 1
and writes one JSON result (same fields as the tfjs children). With `--autocast bf16`, forward and loss run
under torch.autocast("cpu", dtype=torch.bfloat16) (matrix products in bfloat16, weights and AdamW in float32):
the reference of the graph's bf16 rows. With --loss bce or focal (scripts/bench_losses.ts), training minimises
BCEWithLogitsLoss over each batch's multi-hot "targets", or the focal loss (gamma 2, the workload's class weights)
written with PyTorch ops, instead of the model's cross-entropy. Run by hand:

  .venv/bin/python scripts/bench_torch.py --workload out/bench/workload.json --out /tmp/torch.json
"""
import contextlib
import argparse
import json
import os
import re
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import transformers
from transformers import BertForSequenceClassification


def pad(rows, pad_id=0):
    """Pads token-id rows to the longest: input_ids, attention_mask, token_type_ids (int64)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask, torch.zeros_like(ids)


def torch_build():
    """What PyTorch computes with here: its BLAS (MKL or OpenBLAS), oneDNN ("MKL-DNN"), the CPU capability
    it dispatches its own kernels to, and its threading, from torch.__config__.show() and torch.backends."""
    shown = torch.__config__.show()

    def line(pattern):
        m = re.search(pattern, shown)
        return m.group(1).strip() if m else None

    return {
        "blas": line(r"BLAS_INFO=([^,\s]+)"),
        "mkl": line(r"Math Kernel Library Version ([\d.]+)"),
        "onednn": line(r"MKL-DNN (v[\d.]+)"),
        "onednnAvailable": torch.backends.mkldnn.is_available(),
        "cpuCapability": torch.backends.cpu.get_cpu_capability(),
        "openmp": line(r"OpenMP (\d+)"),
        "threads": torch.get_num_threads(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    # How much of the workload to time (default all of it); bench.ts --quick lowers them.
    ap.add_argument("--train-steps", type=int, default=None)
    ap.add_argument("--batch64", type=int, default=None)
    ap.add_argument("--batch1", type=int, default=None)
    # The whole batch-64 loop in file order, repeated: the reference for predict's end-to-end floor.
    ap.add_argument("--loop-repeats", type=int, default=5)
    ap.add_argument("--autocast", choices=["bf16"], default=None)
    ap.add_argument("--loss", choices=["cross_entropy", "bce", "focal"], default="cross_entropy")
    args = ap.parse_args()

    def autocast():
        """The forward's precision: as is (float32), or bfloat16 products under autocast."""
        if args.autocast == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    with open(args.workload, encoding="utf8") as f:
        w = json.load(f)
    # The same threads the native TensorFlow backend gets: every core.
    torch.set_num_threads(args.threads)
    torch.manual_seed(w["seed"])
    model = BertForSequenceClassification.from_pretrained(
        w["modelDir"], num_labels=len(w["labels"]),
        id2label={i: l for i, l in enumerate(w["labels"])}, label2id={l: i for i, l in enumerate(w["labels"])})
    cfg = w["train"]["optimizer"]
    no_decay = ["bias", "LayerNorm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)], "weight_decay": cfg["weightDecay"]},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=cfg["lr"], eps=cfg["eps"])

    # 1) Training: the timed steps follow the warm-up steps; same batches as the tfjs children.
    tr = w["train"]
    model.train()

    weights = torch.tensor(tr["classWeights"], dtype=torch.float32) if args.loss == "focal" else None

    def loss_of(logits, b):
        if args.loss == "bce":
            return F.binary_cross_entropy_with_logits(logits, torch.tensor(b["targets"], dtype=torch.float32))
        # focal (Lin et al. 2017), as lib/nn/loss_def.ts: sum_i w[y_i] (1 - p_i)^2 nll_i / sum_i w[y_i]
        y = torch.tensor(b["labels"], dtype=torch.long)
        nll = F.cross_entropy(logits, y, reduction="none")
        wy = weights[y]
        return (wy * (1 - torch.exp(-nll)) ** 2 * nll).sum() / wy.sum()

    def step(b):
        ids, mask, types = pad(b["input_ids"])
        labels = torch.tensor(b["labels"], dtype=torch.long)
        with autocast():
            if args.loss == "cross_entropy":
                loss = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss
            else:
                loss = loss_of(model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits, b)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clipNorm"])
        opt.step()
        opt.zero_grad()
        return loss.item()

    for b in tr["warmup"]:
        step(b)
    step_seconds, losses = [], []
    for b in tr["timed"][: args.train_steps]:
        t0 = time.perf_counter()
        losses.append(step(b))
        step_seconds.append(time.perf_counter() - t0)

    # 2) Inference, eval mode, no gradients; logits read back as the course's evaluate does.
    model.eval()
    inf = w["infer"]

    def predict(rows):
        ids, mask, types = pad(rows)
        with torch.no_grad(), autocast():
            return model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits.float().numpy()

    for rows in inf["warmup"]:
        predict(rows)
    batch64_seconds = []
    for rows in inf["batch64"][: args.batch64]:
        t0 = time.perf_counter()
        predict(rows)
        batch64_seconds.append(time.perf_counter() - t0)
    latencies = []
    for row in inf["batch1"][: args.batch1]:
        t0 = time.perf_counter()
        predict([row])
        latencies.append(time.perf_counter() - t0)
    loop_seconds = []
    for _ in range(args.loop_repeats):
        t0 = time.perf_counter()
        for rows in inf["batch64"]:
            predict(rows)
        loop_seconds.append(time.perf_counter() - t0)

    result = {
        "name": "pytorch-bf16" if args.autocast else "pytorch",
        "engine": f"torch {torch.__version__} + transformers {transformers.__version__}"
        + (" (autocast bf16)" if args.autocast else ""),
        "build": torch_build(),
        "threads": torch.get_num_threads(),
        "train": {"stepSeconds": step_seconds, "losses": losses},
        "infer": {"batch64Seconds": batch64_seconds, "batch1Seconds": latencies, "loopSeconds": loop_seconds},
        # ru_maxrss is in kilobytes on Linux.
        "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    tmp = f"{args.out}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf8") as f:
        json.dump(result, f)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    sys.exit(main())
