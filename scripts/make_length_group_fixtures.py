"""Reference fixtures for lib/data/loader.ts's length-grouped sampling (`--group-by-length`), made by
Hugging Face's own transformers.trainer_pt_utils.get_length_grouped_indices, which is what the
Trainer's LengthGroupedSampler returns each epoch.

Rerun (from the project root, after changing this script):
    .venv/bin/python scripts/make_length_group_fixtures.py
It writes test/fixtures/loader/length_grouped.json (small JSON, committed).

The random part of Hugging Face's function is torch.randperm(n, generator): bertlab draws its
permutation from its own seeded generator instead (lib/data/loader.ts's Rng; PyTorch's is not
reproduced), so each case records the permutation torch drew (a fresh generator with the same
seed draws the same one) next to the function's output. The TypeScript is fed that permutation
and must give exactly the same indices: the grouping, the stable sort, the mega-batch size and
the swap that puts the longest example first are all checked.
"""
import json
import os

import numpy as np
import torch
import transformers
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "loader")


def tweet_lengths(n, seed):
    """Token counts shaped like SMILE's (most 15-40, a long tail up to ~90)."""
    rs = np.random.RandomState(seed)
    return [int(x) for x in np.clip(np.round(rs.gamma(4.0, 8.0, size=n)) + 5, 3, 120)]


def case(name, lengths, batch_size, seed, mega_batch_mult=None):
    g = torch.Generator()
    g.manual_seed(seed)
    perm = torch.randperm(len(lengths), generator=g).tolist()
    g.manual_seed(seed)
    expected = get_length_grouped_indices(lengths, batch_size, mega_batch_mult=mega_batch_mult, generator=g)
    if mega_batch_mult is None:
        # The Trainer's sampler is the same function with the default multiplier: the fixture stands for both.
        g.manual_seed(seed)
        assert list(LengthGroupedSampler(batch_size, lengths=lengths, generator=g)) == expected
    assert sorted(expected) == list(range(len(lengths)))
    mult = mega_batch_mult if mega_batch_mult is not None else max(1, min(len(lengths) // (batch_size * 4), 50))
    size = mult * batch_size
    maxima = [max(lengths[i] for i in perm[s:s + size]) for s in range(0, len(perm), size)]
    return {
        "name": name, "lengths": lengths, "batchSize": batch_size, "megaBatchMult": mega_batch_mult, "seed": seed,
        "megaBatchSize": size, "longestInMegaBatch": int(np.argmax(maxima)), "perm": perm, "expected": expected,
    }


def main():
    cases = [
        # SMILE's size and batch: min(1258 // 128, 50) = 9 batches a mega-batch.
        case("smile-sized, batch 32", tweet_lengths(1258, 0), 32, 17),
        case("smile-sized, batch 32, another seed", tweet_lengths(1258, 0), 32, 42),
        # Enough examples for the cap of 50 batches: 900 // 16 = 56 → 50.
        case("capped at 50 batches", tweet_lengths(900, 1), 4, 3),
        case("explicit mega_batch_mult 2, last mega-batch short", tweet_lengths(70, 2), 8, 5, mega_batch_mult=2),
        # Fewer examples than 4 batches: the multiplier would be 0 and becomes 1.
        case("tiny data set", [5, 3, 9, 1, 7], 32, 0),
        case("many equal lengths (stable sort)", [3 + (i * 7) % 3 for i in range(100)], 5, 11),
        case("one example", [4], 2, 1),
    ]
    assert any(c["longestInMegaBatch"] > 0 for c in cases), "no case moves the longest example from a later mega-batch"
    os.makedirs(OUT, exist_ok=True)
    out = {"torch_version": torch.__version__, "transformers_version": transformers.__version__, "cases": cases}
    path = os.path.join(OUT, "length_grouped.json")
    with open(path + ".tmp", "w", encoding="utf8") as f:
        json.dump(out, f, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {len(cases)} cases ({', '.join(str(c['longestInMegaBatch']) for c in cases)} = mega-batch of the longest)")


if __name__ == "__main__":
    main()
