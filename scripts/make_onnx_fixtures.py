"""The Python side of bertlab's ONNX serving (lib/serve/export.ts, lib/serve/quantize.ts, lib/serve/onnx_runtime.ts):
PyTorch's own ONNX export as a stand-in and a reference, onnxruntime's quantize_dynamic as the reference
for lib/serve/quantize.ts, and a checker for any exported folder.

Needs set-up's .venv (torch, transformers, onnx, onnxruntime). Three commands:

    .venv/bin/python scripts/make_onnx_fixtures.py check DIR [--quantized] [--text T ...] [--max-length 256]
        onnx.checker on DIR/onnx/model.onnx (or model_quantized.onnx), then Python onnxruntime's logits,
        probabilities and labels for the texts (tokenized by DIR's tokenizer, truncated to --max-length):
        one JSON object on stdout. This is the reference-side check of `bertlab export`'s folders.

    .venv/bin/python scripts/make_onnx_fixtures.py export --checkpoint DIR --out DIR [--quantize]
        torch.onnx.export of a saved BertForSequenceClassification folder into the layout `bertlab export`
        writes (config.json, tokenizer files, onnx/model.onnx; with --quantize also quantize_dynamic's
        onnx/model_quantized.onnx). Opset 17, inputs input_ids/attention_mask/token_type_ids int64
        [batch, sequence], output logits [batch, num_labels].

    .venv/bin/python scripts/make_onnx_fixtures.py fixtures      (about 30 s)
        writes test/fixtures/onnx/:
          quantize_micro.json  a micro BERT (vocabulary 128, hidden 16, 2 layers) exported by PyTorch,
                               the same model after onnxruntime.quantization.quantize_dynamic (both as
                               base64 ONNX bytes, ~60 KB), inputs with padding and token types, and
                               Python onnxruntime's logits for both: lib/serve/quantize.ts must reproduce the
                               quantized model (same initializers, bit for bit) and its outputs.
          export_tiny.json     the tiny random BERT of test/fixtures/reference/tiny_bert.json (weights from
                               its recipe, not stored) exported by PyTorch, and Python onnxruntime's logits,
                               probabilities and labels for a few texts, fp32 and int8: what an exported
                               folder must give in onnxruntime-node, transformers.js and the browser.
"""
import argparse
import base64
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import fixture_json  # scripts/: on sys.path when a script runs

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "test" / "fixtures" / "onnx"
MODEL_DIR = ROOT / "models" / "all-MiniLM-L6-v2"
TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"]
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]

# Texts for the export fixture: different lengths (padding), an emoji, and one longer than max_length.
EXPORT_TEXTS = [
    "Hello world!",
    "A tiny BERT, tested. 😀",
    "@user #tag",
    "What a wonderful day at the gallery, the new rooms are lovely",
    "long " * 40,
]
EXPORT_MAX_LENGTH = 16


def versions():
    import onnx
    import onnxruntime
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


def f32(x):
    return float("%.9g" % float(x))


def floats(a):
    a = np.asarray(a)
    return [floats(x) for x in a] if a.ndim > 1 else [f32(x) for x in a]


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def write_json(name, value):
    fixture_json.write_json(OUT_DIR, name, value)


# ---------------------------------------------------------------------------------------------
# PyTorch's export
# ---------------------------------------------------------------------------------------------
def torch_onnx_bytes(model):
    """ModelProto bytes of a BertForSequenceClassification (eval mode), exported by PyTorch's
    TorchScript exporter (the torch.export-based one needs onnxscript, which is not installed)."""
    import torch

    model.eval()
    model.config._attn_implementation = "eager"
    # Example ids for tracing only (within any vocabulary); batch and sequence stay dynamic.
    ids = torch.tensor([[1, 5, 9, 3, 2], [1, 7, 2, 0, 0]])
    mask = (ids != 0).long()
    types = torch.tensor([[0, 0, 0, 1, 1], [0, 0, 1, 0, 0]])
    axes = {n: {0: "batch", 1: "sequence"} for n in INPUT_NAMES}
    axes["logits"] = {0: "batch"}
    f = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask, types), f, input_names=INPUT_NAMES, output_names=["logits"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    return f.getvalue()


def quantize_bytes(fp32_bytes):
    """onnxruntime.quantization.quantize_dynamic with its defaults (int8 weights, uint8 activations)."""
    import onnx
    from onnxruntime.quantization import quantize_dynamic

    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "model.onnx", Path(d) / "model_quantized.onnx"
        src.write_bytes(fp32_bytes)
        quantize_dynamic(str(src), str(dst))
        return dst.read_bytes()


def write_folder(out, config, tokenizer_dir, fp32_bytes, quantize):
    """The layout of `bertlab export`: config.json, tokenizer files, onnx/model.onnx [+ model_quantized]."""
    out = Path(out)
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for f in TOKENIZER_FILES:
        if (Path(tokenizer_dir) / f).exists():
            shutil.copy(Path(tokenizer_dir) / f, out / f)
    (out / "onnx" / "model.onnx").write_bytes(fp32_bytes)
    if quantize:
        (out / "onnx" / "model_quantized.onnx").write_bytes(quantize_bytes(fp32_bytes))


def cmd_export(args):
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(args.checkpoint, attn_implementation="eager")
    config = json.loads((Path(args.checkpoint) / "config.json").read_text())
    write_folder(args.out, config, args.checkpoint, torch_onnx_bytes(model), args.quantize)
    files = sorted(str(p.relative_to(args.out)) for p in Path(args.out).rglob("*") if p.is_file())
    print(json.dumps({"out": str(args.out), "files": files}))


# ---------------------------------------------------------------------------------------------
# Checking a folder
# ---------------------------------------------------------------------------------------------
def ort_session(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count() or 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_logits(sess, enc):
    feeds = {n: np.asarray(enc[n], dtype=np.int64) for n in INPUT_NAMES if n in {i.name for i in sess.get_inputs()}}
    return sess.run(["logits"], feeds)[0]


def check_folder(folder, texts, max_length, quantized=False):
    """onnx.checker + onnxruntime on an exported folder: labels and probabilities for `texts`."""
    import onnx
    from transformers import AutoTokenizer

    folder = Path(folder)
    path = folder / "onnx" / ("model_quantized.onnx" if quantized else "model.onnx")
    onnx.checker.check_model(str(path), full_check=True)
    config = json.loads((folder / "config.json").read_text())
    id2label = {int(k): v for k, v in config["id2label"].items()}
    tok = AutoTokenizer.from_pretrained(str(folder))
    enc = tok(texts, padding="longest", truncation=True, max_length=max_length)
    logits = ort_logits(ort_session(path), enc)
    probs = softmax(logits.astype(np.float64))
    model = onnx.load(str(path), load_external_data=False)
    return {
        "file": str(path), "checker": "ok", "bytes": path.stat().st_size,
        "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "inputs": [{"name": i.name, "type": i.type.tensor_type.elem_type,
                    "shape": [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]}
                   for i in model.graph.input],
        "outputs": [o.name for o in model.graph.output],
        "texts": texts, "max_length": max_length,
        "input_ids": enc["input_ids"],
        "logits": floats(logits), "probabilities": floats(probs),
        "labels": [id2label[int(i)] for i in logits.argmax(-1)],
    }


def cmd_check(args):
    texts = args.text or EXPORT_TEXTS
    print(json.dumps(check_folder(args.dir, texts, args.max_length, args.quantized), ensure_ascii=False))


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
def micro_bert():
    """A BERT small enough that its ONNX file fits in a JSON fixture; weights from torch.manual_seed(0),
    wider than BERT's init (std 0.2) so that quantization visibly matters."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=128, hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=32, max_position_embeddings=64, type_vocab_size=2, num_labels=3)
    model = BertForSequenceClassification(config)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(0.0, 0.2)
            if name.endswith("LayerNorm.weight"):
                p.add_(1.0)
    return model


def make_quantize_micro():
    import onnxruntime

    model = micro_bert()
    fp32 = torch_onnx_bytes(model)
    int8 = quantize_bytes(fp32)
    rng = np.random.RandomState(17)
    ids = rng.randint(1, 128, size=(3, 7))
    mask = np.ones((3, 7), dtype=np.int64)
    mask[1, 5:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    types = np.zeros((3, 7), dtype=np.int64)
    types[0, 4:] = 1
    enc = {"input_ids": ids.tolist(), "attention_mask": mask.tolist(), "token_type_ids": types.tolist()}
    with tempfile.TemporaryDirectory() as d:
        for name, data in (("fp32", fp32), ("int8", int8)):
            (Path(d) / f"{name}.onnx").write_bytes(data)
        out = {name: ort_logits(ort_session(Path(d) / f"{name}.onnx"), enc) for name in ("fp32", "int8")}
    write_json("quantize_micro.json", {
        "about": "A micro BERT (vocab 128, hidden 16, 2 layers, 4 heads, intermediate 32, 3 labels; weights "
        "torch.manual_seed(0), N(0, 0.2), LayerNorm weights 1 + N(0, 0.2)) exported by torch.onnx.export "
        "(opset 17), and onnxruntime.quantization.quantize_dynamic(fp32) with its defaults. Logits from Python "
        "onnxruntime for both on `inputs` (3 x 7, padded, token types). Made by scripts/make_onnx_fixtures.py "
        "fixtures.",
        "tolerance": {"initializers": "equal (bytes)", "int8_logits_abs": 1e-4,
                      "rule": "lib/serve/quantize.ts on fp32 gives the same initializers as quantize_dynamic, and its "
                      "logits in onnxruntime-node equal `logits.int8` within 1e-4"},
        "versions": versions(), "onnxruntime_python": onnxruntime.__version__,
        "fp32_onnx_base64": base64.b64encode(fp32).decode(),
        "int8_onnx_base64": base64.b64encode(int8).decode(),
        "inputs": enc,
        "logits": {"fp32": floats(out["fp32"]), "int8": floats(out["int8"])},
    })


def make_export_tiny():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_fixtures import TINY_CONFIG, TINY_LABELS, tiny_weights

    config = BertConfig(**{k: v for k, v in TINY_CONFIG.items() if k != "architectures"})
    config.num_labels = len(TINY_LABELS)
    model = BertForSequenceClassification(config)
    weights = tiny_weights({n: list(p.shape) for n, p in model.named_parameters()})
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(weights[n])
    result = {}
    with tempfile.TemporaryDirectory() as d:
        write_folder(d, TINY_CONFIG, MODEL_DIR, torch_onnx_bytes(model), quantize=True)
        for name, q in (("fp32", False), ("int8", True)):
            r = check_folder(d, EXPORT_TEXTS, EXPORT_MAX_LENGTH, quantized=q)
            result[name] = {k: r[k] for k in ("bytes", "logits", "probabilities", "labels")}
        result["input_ids"] = r["input_ids"]
        # PyTorch itself on the same ids: the export is faithful (checked here, recorded for the record).
        tok_enc = {k: torch.tensor(v) for k, v in
                   _tok(d)(EXPORT_TEXTS, padding="longest", truncation=True, max_length=EXPORT_MAX_LENGTH).items()}
        with torch.no_grad():
            torch_logits = model.eval()(**tok_enc).logits.numpy()
    diff = float(np.abs(torch_logits - np.asarray(result["fp32"]["logits"])).max())
    assert diff < 1e-4, f"PyTorch and its ONNX export differ by {diff}"
    write_json("export_tiny.json", {
        "about": "The tiny random BERT of test/fixtures/reference/tiny_bert.json (weights from the recipe there, "
        "not stored), exported by torch.onnx.export (opset 17) with the MiniLM tokenizer files, int8 by "
        "onnxruntime's quantize_dynamic. For `texts`, tokenized with truncation to max_length and padded to the "
        "longest: Python onnxruntime's logits, softmax probabilities and labels, fp32 and int8, and the file "
        "sizes. Made by scripts/make_onnx_fixtures.py fixtures.",
        "tolerance": {"fp32_abs": 1e-4, "rule": "an exported folder's logits and probabilities (onnxruntime-node, "
                      "transformers.js) equal these within 1e-4; labels equal"},
        "versions": versions(), "config": TINY_CONFIG, "labels": TINY_LABELS,
        "texts": EXPORT_TEXTS, "max_length": EXPORT_MAX_LENGTH, "pytorch_vs_onnx_max_abs": diff, **result,
    })


def _tok(folder):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(str(folder))
    return lambda *a, **k: t(*a, return_tensors="pt", **k)


def cmd_fixtures(_args):
    if not (MODEL_DIR / "tokenizer.json").exists():
        sys.exit(f"{MODEL_DIR}/tokenizer.json is missing: run `npm run setup` first")
    make_quantize_micro()
    make_export_tiny()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="onnx.checker + onnxruntime on an exported folder (JSON on stdout)")
    c.add_argument("dir")
    c.add_argument("--quantized", action="store_true")
    c.add_argument("--text", action="append")
    c.add_argument("--max-length", type=int, default=256)
    e = sub.add_parser("export", help="PyTorch's ONNX export of a saved model folder")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--quantize", action="store_true")
    sub.add_parser("fixtures", help="write test/fixtures/onnx/*.json")
    args = p.parse_args()
    {"check": cmd_check, "export": cmd_export, "fixtures": cmd_fixtures}[args.cmd](args)


if __name__ == "__main__":
    main()
