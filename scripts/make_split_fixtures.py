"""Reference fixtures for lib/core/random.ts and lib/data/split.ts, made with NumPy and scikit-learn.

Rerun (from the project root, after changing this script):
    .venv/bin/python scripts/make_split_fixtures.py
It writes test/fixtures/split/random.json and test/fixtures/split/splits.json (small JSON, committed).

random.json: raw MT19937 outputs, random_sample doubles, permutations and choice(replace=False) of
np.random.RandomState for several integer seeds.
splits.json: train_test_split(np.arange(n), test_size=..., random_state=..., stratify=labels) on
synthetic label arrays (balanced, imbalanced with classes of 2 members, string labels, SMILE-sized),
the unstratified train_test_split on the same, and the errors scikit-learn raises.
"""
import json
import os

import numpy as np
import sklearn
from sklearn.model_selection import train_test_split
from sklearn.utils.extmath import _approximate_mode

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "split")
SEEDS = [0, 1, 17, 42, 12345, 4294967295]


def random_fixture():
    out = {"numpy_version": np.__version__, "seeds": {}}
    for seed in SEEDS:
        rs = np.random.RandomState(seed)
        raw = rs._bit_generator.random_raw(1300).tolist()  # 32-bit outputs; 1300 spans two refills
        rs = np.random.RandomState(seed)
        samples = [rs.random_sample() for _ in range(5)]
        perms = {}
        for n in [1, 2, 5, 10, 100, 1000]:
            perms[str(n)] = np.random.RandomState(seed).permutation(n).tolist()
        rs = np.random.RandomState(seed)
        chained = [rs.permutation(7).tolist(), rs.permutation(["a", "b", "c", "d"]).tolist(), rs.permutation(3).tolist()]
        rs = np.random.RandomState(seed)
        choices = [rs.choice(10, size=3, replace=False).tolist(), rs.choice(4, size=4, replace=False).tolist(),
                   rs.choice(1, size=1, replace=False).tolist(), rs.choice(300, size=5, replace=False).tolist()]
        out["seeds"][str(seed)] = {
            "raw_first": raw[:10], "raw_620_630": raw[620:630], "raw_1240_1250": raw[1240:1250],
            "raw_sum": int(sum(raw)),
            "random_sample": samples, "permutation": perms, "chained_permutations": chained,
            "choice": choices,
        }
    return out


def label_sets():
    rs = np.random.RandomState(2024)
    sets = {}
    sets["balanced_3x10"] = rs.permutation(np.repeat([0, 1, 2], 10)).tolist()
    sets["imbalanced_with_pairs"] = rs.permutation(np.repeat([0, 1, 2, 3, 4, 5], [50, 20, 6, 3, 2, 2])).tolist()
    # first appearance differs from sorted order, and the labels are strings
    names = np.array(["surprise", "happy", "sad", "angry", "not-relevant"])
    sets["strings"] = names[rs.permutation(np.repeat([0, 1, 2, 3, 4], [4, 30, 7, 2, 9]))].tolist()
    sets["ties"] = rs.permutation(np.repeat([0, 1, 2, 3], [5, 5, 5, 5])).tolist()
    sets["smile_sized"] = rs.permutation(np.repeat([0, 1, 2, 3, 4, 5], [1137, 214, 57, 6, 32, 35])).tolist()
    return sets


def split_fixture():
    cases = []
    for name, labels in label_sets().items():
        n = len(labels)
        sizes = [0.15, 0.25, 0.5, 0.1, 10] if name != "smile_sized" else [0.15, 0.2, 100]
        for test_size in sizes:
            for seed in [0, 1, 17, 42, 12345]:
                idx = np.arange(n)
                case = {"labels": name, "test_size": test_size, "test_size_is_int": isinstance(test_size, int), "seed": seed}
                try:
                    tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=np.array(labels))
                    case["train"], case["test"] = tr.tolist(), te.tolist()
                except ValueError as e:
                    case["error"] = str(e)
                tr, te = train_test_split(idx, test_size=test_size, random_state=seed)
                case["random_train"], case["random_test"] = tr.tolist(), te.tolist()
                cases.append(case)
    errors = []
    for labels, test_size in [([0, 0, 1, 1, 2], 0.4), ([0, 0, 0, 1, 1, 1, 2, 2], 2), ([0] * 10 + [1] * 10 + [2] * 10, 0.05),
                              ([0, 0, 1, 1], 0.75), ([0, 1, 0, 1], 1.5), ([0, 1, 0, 1], 4), ([0, 1, 0, 1], 0.0)]:
        try:
            train_test_split(np.arange(len(labels)), test_size=test_size, random_state=0, stratify=np.array(labels))
            errors.append({"labels": labels, "test_size": test_size, "error": None})
        except ValueError as e:
            errors.append({"labels": labels, "test_size": test_size, "test_size_is_int": isinstance(test_size, int), "error": str(e)})
    modes = []
    for counts, draws in [([4, 2], 3), ([5, 2], 4), ([2, 2, 2, 1], 2), ([1137, 214, 57, 6, 32, 35], 223), ([3, 3, 3], 4)]:
        for seed in [0, 42, 17]:
            modes.append({"counts": counts, "draws": draws, "seed": seed,
                          "mode": _approximate_mode(np.array(counts), draws, np.random.RandomState(seed)).tolist()})
    return {"sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
            "label_sets": label_sets(), "cases": cases, "errors": errors, "approximate_mode": modes}


def write(name, value):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, separators=(",", ":"))
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    write("random.json", random_fixture())
    write("splits.json", split_fixture())
