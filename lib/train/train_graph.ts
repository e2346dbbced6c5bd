/**
 * A training step's loss and gradients from one TensorFlow graph call (lib/graph/bert_graph.ts's training
 * graph) instead of ~1,000 eager kernels under the gradient tape. Same numbers as the tape: the dropout
 * masks are made in JavaScript from the same seed and sites as the eager model makes them, and fed.
 *
 *   const r = graphLossAndGrads(model, batch, [0, 3, 1], { seed: step });   // undefined: use the tape
 *   if (r) { optimizer.step(clipGradNorm(r.grads, 1).grads, lr); }
 *
 * The loss is the (class-weighted, logit-adjusted) cross-entropy. Other losses (focal, multi-label) use the tape.
 */
import * as tf from "@tensorflow/tfjs";
import { BertForSequenceClassification, BertInputs } from "../model/bert";
import { GraphSession, GraphOutput, GraphPrecision, trainingGraph, packing } from "../graph/bert_graph";
import { AdamW, clipGradNorm } from "../nn/optim";
import { additiveMask, checkIds, crossEntropyLoss, dropoutKeep, siteSeed } from "../nn/ops";

/** Whether training steps may run as a graph: native TensorFlow on the CPU, unless `BERTLAB_GRAPH=0`. */
export function graphTraining(): boolean {
  return process.env.BERTLAB_GRAPH !== "0" && GraphSession.available();
}

/** Each model's training graphs, by kind ("grads", or "step": with clipping and AdamW) and precision. */
const sessions = new WeakMap<BertForSequenceClassification, Map<string, GraphSession | null>>();

/** The model's training graph; null, after one warning, where it cannot load. */
function sessionFor(
  model: BertForSequenceClassification, kind: "grads" | "step", precision: GraphPrecision = "fp32",
): GraphSession | null {
  const mine = sessions.get(model) ?? sessions.set(model, new Map()).get(model)!;
  const key = `${kind}/${precision}`;
  let s = mine.get(key);
  if (s === undefined) {
    try {
      s = GraphSession.load(trainingGraph(model.config, { adamw: kind === "step", packed: true, precision }));
    } catch (e) {
      s = null;
      console.warn(`bertlab: the training graph is unavailable, training with the gradient tape instead (${(e as Error).message})`);
    }
    mine.set(key, s);
  }
  return s;
}

/**
 * Cross-entropy targets: row i is one-hot at labels[i], scaled so that the loss is the weighted mean
 * Σ w[yᵢ]·nllᵢ / Σ w[yᵢ] (PyTorch's CrossEntropyLoss with `weight`; all weights 1: the plain mean).
 */
export function crossEntropyTargets(labels: number[], numLabels: number, classWeights?: readonly number[]): tf.Tensor2D {
  const w = labels.map((y) => {
    if (!Number.isInteger(y) || y < 0 || y >= numLabels) throw new Error(`label ${y} is not a class id in [0, ${numLabels})`);
    return classWeights ? classWeights[y] : 1;
  });
  const total = w.reduce((a, b) => a + b, 0);
  const t = new Float32Array(labels.length * numLabels);
  labels.forEach((y, i) => { t[i * numLabels + y] = w[i] / total; });
  return tf.tensor2d(t, [labels.length, numLabels]);
}

/**
 * The train-mode loss and every weight's gradient (by Hugging Face name) for one batch, from the graph;
 * undefined when graphs cannot run here (one warning), so that the caller takes the tape.
 */
export function graphLossAndGrads(
  model: BertForSequenceClassification, inputs: BertInputs, labels: number[],
  opts: {
    seed: number; classWeights?: readonly number[]; logitOffsets?: readonly number[]; dropout?: boolean;
    precision?: GraphPrecision;
  },
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } | undefined {
  if (!graphTraining()) return undefined;
  const session = sessionFor(model, "grads", opts.precision);
  if (!session) return undefined;
  const names = [...model.params.keys()];
  const out = tf.tidy(() => session.run(stepFeeds(session, model, inputs, labels, opts), ["loss", ...names.map((n) => `grad/${n}` as const)]));
  return { value: out[0] as tf.Scalar, grads: Object.fromEntries(names.map((n, i) => [n, out[i + 1]])) };
}

/** What every training graph is fed: inputs, targets, dropout masks and the weights (call inside tf.tidy). */
function stepFeeds(
  session: GraphSession, model: BertForSequenceClassification, inputs: BertInputs, labels: number[],
  opts: { seed: number; classWeights?: readonly number[]; logitOffsets?: readonly number[]; dropout?: boolean },
): Record<string, tf.Tensor> {
  const [b, s] = model.checkInputs(inputs);
  const c = model.config;
  checkIds(inputs.input_ids, c.vocab_size, "embedding");
  if (inputs.token_type_ids) checkIds(inputs.token_type_ids, c.type_vocab_size, "embedding");
  if (labels.length !== b) throw new Error(`${b} rows of input_ids but ${labels.length} labels`);
  const feeds: Record<string, tf.Tensor> = {
    input_ids: inputs.input_ids,
    token_type_ids: inputs.token_type_ids ?? tf.zeros([b, s], "int32"),
    mask: additiveMask(inputs.attention_mask),
    targets: crossEntropyTargets(labels, model.labels.length, opts.classWeights),
    offsets: opts.logitOffsets ? tf.tensor1d(opts.logitOffsets as number[]) : tf.zeros([model.labels.length]),
    ...packing(inputs.attention_mask),
    ...Object.fromEntries(model.params),
  };
  // Element counts as the eager model's tensors have them: [b, heads, s, s], [b, hidden] or [b, s, hidden].
  if (session.graph.dropouts.length) feeds.dropout_on = tf.scalar(opts.dropout === false ? 0 : 1);
  for (const d of session.graph.dropouts) {
    const shape = d.of === "attentionProbs" ? [b, c.num_attention_heads, s, s] : d.of === "tanh" ? [b, c.hidden_size] : [b, s, c.hidden_size];
    // `dropout: false` (the reference tests: PyTorch's masks cannot be matched) keeps every element.
    const n = shape.reduce((a, b) => a * b, 1);
    feeds[`dropout/${d.site}`] = tf.tensor(opts.dropout === false ? new Uint8Array(n).fill(1) : dropoutKeep(n, d.rate, siteSeed(opts.seed, d.site)), shape, "bool");
  }
  return feeds;
}

/**
 * A whole optimizer step in one graph call: loss, gradients, clipping to `clipNorm` (0: none) and
 * `optimizer`'s AdamW update at learning rate `lr`, written back into the model's weights and the
 * optimizer's moments. Returns the loss and the gradient norm before clipping; undefined where the graph
 * cannot run (the caller takes lossAndGrads + clipGradNorm + optimizer.step, which compute the same).
 */
export function graphTrainStep(
  model: BertForSequenceClassification, optimizer: AdamW, inputs: BertInputs, labels: number[],
  opts: {
    seed: number; lr: number; clipNorm: number; classWeights?: readonly number[]; logitOffsets?: readonly number[];
    precision?: GraphPrecision;
  },
): { loss: number; norm: number } | undefined {
  if (!graphTraining() || [...model.params.values()].some((v) => !v.trainable)) return undefined;
  const session = sessionFor(model, "step", opts.precision);
  if (!session) return undefined;
  const names = [...model.params.keys()];
  const outputs = ["loss", "grad_norm", ...names.flatMap((n) => [`new/${n}`, `new_m/${n}`, `new_v/${n}`] as const)] as GraphOutput[];
  const out = tf.tidy(() => {
    const feeds = stepFeeds(session, model, inputs, labels, opts);
    const k = optimizer.beginStep(opts.lr);
    feeds.hyper = tf.tensor1d(names.flatMap((n) => [k.get(n)!.stepSize, k.get(n)!.decay]));
    const [b1, b2] = optimizer.betas;
    feeds.adam = tf.tensor1d([b1, 1 - b1, b2, 1 - b2, optimizer.eps, opts.clipNorm]);
    for (const n of names) [feeds[`m/${n}`], feeds[`v/${n}`]] = optimizer.moments(n);
    return session.run(feeds, outputs);
  });
  const [loss, norm] = [out[0].dataSync()[0], out[1].dataSync()[0]];
  names.forEach((n, i) => {
    const [m, v] = optimizer.moments(n);
    model.params.get(n)!.assign(out[2 + 3 * i]); m.assign(out[3 + 3 * i]); v.assign(out[4 + 3 * i]);
  });
  tf.dispose(out);
  return { loss, norm };
}

/** Which loss a step minimises: cross-entropy (class-weighted with `classWeights`), or any `loss` of the logits (tape only). */
export interface StepLoss {
  seed: number;
  classWeights?: readonly number[];
  /** Added to the logits inside the loss (logit adjustment, lib/train/imbalance.ts); not to the predictions. */
  logitOffsets?: readonly number[];
  /** A loss the graph does not compute (focal, multi-label BCE): the step takes the gradient tape. */
  loss?: (logits: tf.Tensor2D) => tf.Scalar;
  /** What the graph's matrix products multiply in (the tape computes in float32 either way). */
  precision?: GraphPrecision;
}

/**
 * One training step's loss and gradients (by Hugging Face name): the graph where it runs (cross-entropy,
 * optionally class-weighted), else the gradient tape over the eager forward with the same loss and seed.
 * Only trainable weights get a gradient.
 */
export function lossAndGrads(
  model: BertForSequenceClassification, inputs: BertInputs, labels: number[], opts: StepLoss,
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const frozen = [...model.params].filter(([, v]) => !v.trainable).map(([n]) => n);
  const viaGraph = opts.loss ? undefined : graphLossAndGrads(model, inputs, labels, opts);
  if (viaGraph) {
    tf.dispose(frozen.map((n) => viaGraph.grads[n]));
    for (const n of frozen) delete viaGraph.grads[n];
    return viaGraph;
  }
  const nameOf = new Map([...model.params].map(([k, v]) => [v.name, k]));
  const trainable = [...model.params.values()].filter((v) => v.trainable);
  const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
    const raw = model.forward(inputs, { training: true, seed: opts.seed });
    if (opts.loss) return opts.loss(raw);
    const logits = opts.logitOffsets ? tf.add(raw, tf.tensor1d(opts.logitOffsets as number[])) as tf.Tensor2D : raw;
    if (!opts.classWeights) return crossEntropyLoss(logits, labels);
    const targets = crossEntropyTargets(labels, model.labels.length, opts.classWeights);
    return tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)))) as tf.Scalar;
  }), trainable);
  return { value, grads: Object.fromEntries(Object.entries(grads).map(([vn, g]) => [nameOf.get(vn)!, g])) };
}

/**
 * One optimizer step (no accumulation), the same arithmetic wherever it runs: one graph call on native
 * TensorFlow (`graphTrainStep`), else `lossAndGrads` + `clipGradNorm` + `optimizer.step`. A loss that is
 * not finite leaves the weights alone on the second path; the caller stops either way.
 */
export function trainStep(
  model: BertForSequenceClassification, optimizer: AdamW, inputs: BertInputs, labels: number[],
  opts: StepLoss & { lr: number; clipNorm: number },
): { loss: number; norm: number } {
  const fused = opts.loss ? undefined : graphTrainStep(model, optimizer, inputs, labels, opts);
  if (fused) return fused;
  const { value, grads } = lossAndGrads(model, inputs, labels, opts);
  const loss = value.dataSync()[0];
  value.dispose();
  if (!Number.isFinite(loss)) { tf.dispose(Object.values(grads)); return { loss, norm: NaN }; }
  const { grads: clipped, norm } = clipGradNorm(grads, opts.clipNorm);
  optimizer.step(clipped, opts.lr);
  tf.dispose([...Object.values(clipped), ...Object.values(grads)]);
  return { loss, norm };
}
