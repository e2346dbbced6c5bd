/**
 * Speed of lib/model/bert.ts: forward + backward of a BERT (MiniLM's shape, pretrained weights if present)
 * at batch × seq tokens, in training mode (dropout on), as the training loop runs it. Prints
 * tokens/s per step after warm-up. Not a test: timings depend on the machine.
 *
 *   npx tsx scripts/bench-model.ts [--batch 32] [--seq 48] [--steps 5] [--mode auto|explicit|builtin] [--eval]
 *   npx tsx scripts/bench-model.ts --batch 1 --seq 40 --steps 200 --eval   # one-tweet latency (one graph on native)
 *   BERTLAB_GRAPH=0 npx tsx scripts/bench-model.ts --batch 1 --seq 40 --steps 200 --eval   # the same, op by op
 *   BERTLAB_BACKEND=wasm npx tsx scripts/bench-model.ts --steps 2
 *   BERTLAB_GRAPH=0 npx tsx scripts/bench-model.ts    # training under the gradient tape instead of one graph
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import {
  loadBertForSequenceClassification,
  randomBert,
  crossEntropyLoss,
  BertConfig,
  graphInference,
} from "../lib/model/bert";
import { setGradMode, GradMode } from "../lib/nn/ops";
import { graphTraining, trainStep } from "../lib/train/train_graph";
import { AdamW } from "../lib/nn/optim";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { median } from "../lib/core/stats";

/** all-MiniLM-L6-v2's config, for random weights when the model is not downloaded. */
const MINILM_SHAPE: BertConfig = {
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
};

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const batch = Number(arg("batch", "32")), seq = Number(arg("seq", "48")), steps = Number(arg("steps", "5"));
  const evalOnly = process.argv.includes("--eval");
  setGradMode(arg("mode", "auto") as GradMode);
  const dir = DEFAULT_MODEL_DIR;
  const labels = ["happy", "not-relevant", "angry", "disgust", "sad", "surprise"];
  const model = fs.existsSync(path.join(dir, "model.safetensors"))
    ? await loadBertForSequenceClassification(dir, { labels, seed: 17 })
    : randomBert(MINILM_SHAPE, { labels, seed: 17 });
  // Random token ids, the last quarter of half the rows padded, as a real batch.
  const ids = tf.tidy(() => tf.randomUniform([batch, seq], 1000, 30000, "int32", 1) as tf.Tensor2D);
  const half = Math.floor(batch / 2), pad = Math.floor(seq / 4); // batch 1: no padded row
  const mask = tf.tidy(() =>
    tf.concat([
      tf.ones([batch - half, seq], "int32"),
      tf.concat([tf.ones([half, seq - pad], "int32"), tf.zeros([half, pad], "int32")], 1),
    ], 0) as tf.Tensor2D
  );
  const labelsT = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % labels.length), "int32");
  // Kernels of an op-by-op eval forward: on native each pays a fixed call through tfjs-node, which
  // dominates at batch 1. (A graph forward is one session call, invisible to tf.profile.)
  const kernels = (await tf.profile(() => {
    tf.tidy(() => {
      model.forward({ input_ids: ids, attention_mask: mask }, { graph: false }).dataSync();
    });
  })).kernels.length;
  const evalHow = graphInference() ? "one graph" : "op by op";
  const optimizer = new AdamW(model.params, { lr: 1e-5 });
  const times: number[] = [];
  for (let s = 0; s < steps + 1; s++) {
    const t0 = performance.now();
    if (evalOnly) {
      const l = tf.tidy(() => crossEntropyLoss(model.forward({ input_ids: ids, attention_mask: mask }), labelsT));
      l.dataSync();
      l.dispose();
    } else if (graphTraining()) {
      const micro = {
        inputs: { input_ids: ids, attention_mask: mask },
        targets: labelsT.arraySync() as number[],
        seed: s,
      };
      trainStep(model, optimizer, [micro], { lr: 1e-5, clipNorm: 1 });
    } else {
      const { value, grads } = tf.variableGrads(() =>
        crossEntropyLoss(model.forward({ input_ids: ids, attention_mask: mask }, { training: true, seed: s }), labelsT)
      );
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    }
    if (s > 0) times.push(performance.now() - t0); // step 0 is warm-up
  }
  const ms = times.reduce((a, b) => a + b, 0) / times.length;
  const mid = median(times); // robust beside other jobs
  console.log(
    `${backend.name} · grad mode ${arg("mode", "auto")} · ${
      evalOnly
        ? `forward only (eval, ${evalHow})`
        : graphTraining()
        ? "the training step (forward, backward, clip, AdamW) as one graph"
        : "forward+backward (training, tape)"
    } · batch ${batch} × ${seq} · ${ms.toFixed(ms < 100 ? 2 : 0)} ms/step (median ${mid.toFixed(ms < 100 ? 2 : 0)}) · ${
      ((batch * seq) / (ms / 1000)).toFixed(0)
    } tokens/s · ${kernels} kernels per op-by-op eval forward · tensors ${tf.memory().numTensors}`,
  );
  model.dispose();
  optimizer.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
