"""XLA and the session path, the Python side of docs/xla.md: builds small test SavedModels with
Python TensorFlow 2.21 (the library tfjs-node is built against here) and times them in Python.

The models are v1 SavedModels (tag "serve", placeholders only, no variables: the shape of
bertlab's own graphs, lib/graph/bert_graph.ts) of a MiniLM-shaped encoder: 6 layers, hidden 384, 12
heads, intermediate 1536, MatMul + BiasAdd, erf GELU, LayerNorm written out, softmax attention.
  plain        the ops inline in the graph
  fn           the same ops in a FunctionDef called through PartitionedCall
  jit          the same call marked _XlaMustCompile (what tf.function(jit_compile=True) writes)
  jit_minimal  jit with only f, Tin, Tout and _XlaMustCompile on the call (what a hand-written graph needs)
  fdef_only    _XlaMustCompile on the FunctionDef only, not on the call
  train_*      forward + backward (gradients of a loss w.r.t. all 72 weights), plain / fn / jit

It needs TensorFlow, which bertlab does not install: a scratch virtual environment does.
    python3.11 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfvenv/bin/python scripts/xla_probe.py build /tmp/xla            # writes /tmp/xla/<name>/
    /tmp/tfvenv/bin/python scripts/xla_probe.py session /tmp/xla/train_jit  # v1 Session, tfjs-node's path
    /tmp/tfvenv/bin/python scripts/xla_probe.py eager train_jit             # tf.function in eager Python
Then scripts/xla-probe.ts runs the same SavedModels through tfjs-node. Environment: B, S (batch and
sequence length, default 32 × 40), TF_NUM_INTRAOP_THREADS, TF_XLA_FLAGS, XLA_FLAGS=--xla_dump_to=DIR.
Prints one JSON line: first call (compile included), median and min wall ms, median CPU ms per call.
"""
import json
import os
import resource
import shutil
import sys
import time

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1
H, I, HEADS, LAYERS = 384, 1536, 12, 6
DH = H // HEADS
PARTS = {"qkvW": [H, 3 * H], "qkvb": [3 * H], "oW": [H, H], "ob": [H], "ln1g": [H], "ln1b": [H],
         "iW": [H, I], "ib": [I], "o2W": [I, H], "o2b": [H], "ln2g": [H], "ln2b": [H]}
NAMES = [f"l{layer}_{p}" for layer in range(LAYERS) for p in PARTS]
SHAPES = [PARTS[n.split("_", 1)[1]] for n in NAMES]


def layer_norm(x, g, b):
    xc = x - tf.reduce_mean(x, -1, keepdims=True)
    return xc * tf.math.rsqrt(tf.reduce_mean(tf.square(xc), -1, keepdims=True) + 1e-12) * g + b


def encoder(x, mask, *ws):
    """x [B, S, H], mask [B, 1, 1, S] additive → [B, S, H]."""
    B, S = tf.shape(x)[0], tf.shape(x)[1]
    h = tf.reshape(x, [-1, H])
    for layer in range(LAYERS):
        qkvW, qkvb, oW, ob, g1, b1, iW, ib, o2W, o2b, g2, b2 = ws[layer * 12:(layer + 1) * 12]
        qkv = tf.transpose(tf.reshape(tf.nn.bias_add(tf.matmul(h, qkvW), qkvb), [B, S, 3, HEADS, DH]), [2, 0, 3, 1, 4])
        q, k, v = tf.unstack(qkv, 3)
        p = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) * (1 / np.sqrt(DH)) + mask)
        ctx = tf.reshape(tf.transpose(tf.matmul(p, v), [0, 2, 1, 3]), [-1, H])
        a = layer_norm(tf.nn.bias_add(tf.matmul(ctx, oW), ob) + h, g1, b1)
        u = tf.nn.bias_add(tf.matmul(a, iW), ib)
        u = u * 0.5 * (1 + tf.math.erf(u * np.float32(1 / np.sqrt(2))))
        h = layer_norm(tf.nn.bias_add(tf.matmul(u, o2W), o2b) + a, g2, b2)
    return tf.reshape(h, [B, S, H])


def train_step(x, mask, *ws):
    loss = tf.reduce_mean(tf.square(encoder(x, mask, *ws)))
    return [loss] + tf.gradients(loss, list(ws))


def save(graph, out):
    if os.path.exists(out):
        shutil.rmtree(out)
    with tf1.Session(graph=graph) as sess:
        builder = tf1.saved_model.Builder(out)
        builder.add_meta_graph_and_variables(sess, ["serve"])
        builder.save()


def build(kind, out):
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [None, None, H], name="x")
        mask = tf1.placeholder(tf.float32, [None, 1, 1, None], name="mask")
        ws = [tf1.placeholder(tf.float32, s, name=n) for n, s in zip(NAMES, SHAPES)]
        train, form = kind.startswith("train_"), kind.split("_")[-1]
        body = train_step if train else encoder
        if form == "plain":
            y = body(x, mask, *ws)
        else:
            sig = [tf.TensorSpec([None, None, H], tf.float32), tf.TensorSpec([None, 1, 1, None], tf.float32)]
            sig += [tf.TensorSpec(s, tf.float32) for s in SHAPES]
            y = tf.function(body, input_signature=sig, jit_compile=form == "jit", autograph=False)(x, mask, *ws)
        if train:
            tf.identity(y[0], name="loss")
            tf.identity(tf.add_n([tf.reduce_sum(d) for d in y[1:]]), name="gsum")
        else:
            tf.identity(y, name="y")
    save(g, os.path.join(out, kind))


def edit_jit(out, name, edit):
    """A copy of the jit model with the call node or FunctionDef attributes changed by `edit`."""
    from tensorflow.core.protobuf import saved_model_pb2
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(out, "jit", "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    gd = sm.meta_graphs[0].graph_def
    edit(next(n for n in gd.node if n.op.endswith("PartitionedCall")), gd.library.function[0])
    os.makedirs(os.path.join(out, name), exist_ok=True)
    with open(os.path.join(out, name, "saved_model.pb"), "wb") as f:
        f.write(sm.SerializeToString())


def minimal(call, fdef):
    for k in [k for k in call.attr if k not in ("f", "Tin", "Tout", "_XlaMustCompile")]:
        del call.attr[k]
    for k in list(fdef.attr):
        del fdef.attr[k]


def fdef_only(call, fdef):
    del call.attr["_XlaMustCompile"]


def feeds():
    rng = np.random.default_rng(0)
    B, S = int(os.environ.get("B", 32)), int(os.environ.get("S", 40))
    ws = [(rng.standard_normal(s) * (0.05 if n.endswith("W") else 0.02) + (n[-1] == "g")).astype(np.float32)
          for n, s in zip(NAMES, SHAPES)]
    return rng.standard_normal((B, S, H)).astype(np.float32), np.zeros((B, 1, 1, S), np.float32), ws


def timed(call, reps=4):
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    wall, cpus = [], []
    for _ in range(reps + 1):
        c0, t0 = cpu(), time.perf_counter()
        call()
        wall.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
    rest, crest = sorted(wall[1:]), sorted(cpus[1:])
    return {"firstMs": round(wall[0] * 1000), "medianMs": round(rest[len(rest) // 2] * 1000, 1),
            "minMs": round(rest[0] * 1000, 1), "cpuMedianMs": round(crest[len(crest) // 2] * 1000, 1)}


def main():
    mode, what = sys.argv[1], sys.argv[2]
    if mode == "build":
        for kind in ["plain", "fn", "jit", "train_plain", "train_fn", "train_jit"]:
            build(kind, what)
        edit_jit(what, "jit_minimal", minimal)
        edit_jit(what, "fdef_only", fdef_only)
        print(f"wrote {what}/" + "{plain,fn,jit,jit_minimal,fdef_only,train_plain,train_fn,train_jit}")
        return
    x, mask, ws = feeds()
    if mode == "session":
        tf1.disable_eager_execution()
        with tf1.Session(graph=tf.Graph()) as sess:
            tf1.saved_model.loader.load(sess, ["serve"], what)
            feed = {"x:0": x, "mask:0": mask, **{f"{n}:0": w for n, w in zip(NAMES, ws)}}
            fetch = ["loss:0", "gsum:0"] if "train" in what else ["y:0"]
            r = timed(lambda: sess.run(fetch, feed))
    else:  # eager: the same body as a tf.function (plain, jit) or op by op (ops), e.g. "train_jit"
        def grads(x, mask, *w):
            with tf.GradientTape() as tape:
                tape.watch(w)
                loss = tf.reduce_mean(tf.square(encoder(x, mask, *w)))
            return [loss] + tape.gradient(loss, list(w))
        body = grads if what.startswith("train_") else encoder
        form = what.split("_")[-1]
        f = body if form == "ops" else tf.function(body, jit_compile=form == "jit")
        args = [tf.constant(t) for t in [x, mask, *ws]]
        r = timed(lambda: [t.numpy() for t in tf.nest.flatten(f(*args))][:1])
    print(json.dumps({"python": mode, "model": os.path.basename(what.rstrip("/")),
                      "xlaFlags": os.environ.get("TF_XLA_FLAGS", ""), **r}))


if __name__ == "__main__":
    main()
