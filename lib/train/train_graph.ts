/**
 * A training step's loss and gradients from one TensorFlow graph call (lib/graph/bert_graph.ts's training
 * graph) instead of ~1,000 eager kernels under the gradient tape. Same numbers as the tape: the dropout
 * masks are made in JavaScript from the same seed and sites as the eager model makes them, and fed, and the
 * loss is the same definition (lib/nn/loss_def.ts) lowered into the graph.
 *
 *   const r = graphLossAndGrads(model, batch, [0, 3, 1], { seed: step });   // undefined: use the tape
 *   trainStep(model, optimizer, [{ inputs: b1, targets: [0, 3], seed: 1 }, { inputs: b2, targets: [1, 1], seed: 2 }],
 *     { lr: 2e-5, clipNorm: 1, loss: { kind: "focal", gamma: 2 } })   // { loss, norm } of one update over both
 *
 * Every loss of TrainConfig runs on the graph: cross-entropy (class-weighted, label-smoothed, logit-adjusted),
 * focal and multi-label binary cross-entropy, with or without gradient accumulation.
 */
import * as tf from "@tensorflow/tfjs";
import { BertForSequenceClassification, BertInputs } from "../model/bert";
import { trainingGraph } from "../graph/bert_graph";
import { GraphOutput, GraphPrecision } from "../graph/lowering";
import { packing } from "../graph/rows";
import { GraphSession } from "../graph/session";
import { AdamW, clipGradNorm } from "../nn/optim";
import { additiveMask, checkIds, dropoutKeep, siteSeed } from "../nn/ops";
import { StepLossSpec, Targets, lossFeeds, lossNorm } from "../nn/loss_def";
import { lossOnTape } from "../nn/losses";

/** Whether training steps may run as a graph: native TensorFlow on the CPU, unless `BERTLAB_GRAPH=0`. */
export function graphTraining(): boolean {
  return process.env.BERTLAB_GRAPH !== "0" && GraphSession.available();
}

/** The course's loss: plain cross-entropy. */
const CROSS_ENTROPY: StepLossSpec = { kind: "cross_entropy" };

let warned = false;

/**
 * The model's training graph for a step's loss and precision (`adamw`: with clipping and AdamW; `accumulate`: adding
 * earlier micro-batches' gradients); null where graphs do not run here, or (after one warning per process) where it
 * cannot load.
 */
function sessionFor(model: BertForSequenceClassification, opts: StepLoss, adamw: boolean, accumulate = false) {
  if (!graphTraining()) return null;
  const loss = opts.loss ?? CROSS_ENTROPY;
  const precision = opts.precision ?? "fp32";
  const graphOpts = { adamw, packed: true, loss: loss.kind, rdrop: (loss.rdrop ?? 0) > 0, accumulate, precision };
  const session = GraphSession.memo(
    JSON.stringify(["training", model.config, graphOpts]),
    () => trainingGraph(model.config, graphOpts),
    (e) => {
      if (!warned)
        console.warn(
          `bertlab: the training graph is unavailable, training with the gradient tape instead (${e.message})`,
        );
      warned = true;
    },
  );
  return session ?? null;
}

/** Which loss a step minimises and how it is normalised; the dropout masks' seed. */
export interface StepLoss {
  seed: number;
  /** The loss (lib/nn/loss_def.ts); default the course's cross-entropy. With R-Drop, the batch is stacked twice. */
  loss?: StepLossSpec;
  /** What the loss divides by (default this batch's lossNorm; under accumulation, the group's). */
  norm?: number;
  /** false: every dropout element kept (the reference tests: PyTorch's masks cannot be matched). */
  dropout?: boolean;
  /** What the graph's matrix products multiply in (the tape computes in float32 either way). */
  precision?: GraphPrecision;
}

/**
 * The train-mode loss and every weight's gradient (by Hugging Face name) for one batch, from the graph;
 * undefined when graphs cannot run here (one warning), so that the caller takes the tape.
 */
export function graphLossAndGrads(
  model: BertForSequenceClassification,
  inputs: BertInputs,
  targets: Targets,
  opts: StepLoss,
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } | undefined {
  const session = sessionFor(model, opts, false);
  if (!session) return undefined;
  const names = [...model.params.keys()];
  const wanted = ["loss", ...names.map((n) => `grad/${n}` as const)] as GraphOutput[];
  const out = tf.tidy(() => session.run(stepFeeds(session, model, inputs, targets, opts), wanted));
  return { value: out[0] as tf.Scalar, grads: Object.fromEntries(names.map((n, i) => [n, out[i + 1]])) };
}

/** What every training graph is fed: inputs, the loss's feeds, dropout masks and the weights (call inside tf.tidy). */
function stepFeeds(
  session: GraphSession,
  model: BertForSequenceClassification,
  inputs: BertInputs,
  targets: Targets,
  opts: StepLoss,
): Record<string, tf.Tensor> {
  const [b, s] = model.checkInputs(inputs);
  const c = model.config;
  checkIds(inputs.input_ids, c.vocab_size, "embedding");
  if (inputs.token_type_ids) checkIds(inputs.token_type_ids, c.type_vocab_size, "embedding");
  if (targets.length !== b) throw new Error(`${b} rows of input_ids but ${targets.length} labels`);
  const loss = lossFeeds(opts.loss ?? CROSS_ENTROPY, targets, model.labels.length, opts.norm);
  const feeds: Record<string, tf.Tensor> = {
    input_ids: inputs.input_ids,
    token_type_ids: inputs.token_type_ids ?? tf.zeros([b, s], "int32"),
    mask: additiveMask(inputs.attention_mask),
    ...Object.fromEntries(Object.entries(loss).map(([k, v]) => [k, tf.tensor(v as number)])),
    ...packing(inputs.attention_mask),
    ...Object.fromEntries(model.params),
  };
  // Element counts as the eager model's tensors have them: [b, heads, s, s], [b, hidden] or [b, s, hidden].
  if (session.graph.dropouts.length) feeds.dropout_on = tf.scalar(opts.dropout === false ? 0 : 1);
  for (const d of session.graph.dropouts) {
    const shape = d.of === "attentionProbs"
      ? [b, c.num_attention_heads, s, s]
      : d.of === "tanh"
      ? [b, c.hidden_size]
      : [b, s, c.hidden_size];
    const n = shape.reduce((a, b) => a * b, 1);
    feeds[`dropout/${d.site}`] = tf.tensor(
      opts.dropout === false ? new Uint8Array(n).fill(1) : dropoutKeep(n, d.rate, siteSeed(opts.seed, d.site)),
      shape,
      "bool",
    );
  }
  return feeds;
}

/**
 * A whole optimizer step in one graph call: loss, gradients (plus `acc`, earlier micro-batches' gradients by name),
 * clipping to `clipNorm` (0: none) and `optimizer`'s AdamW update at `lr`, written back into the weights and moments.
 * Returns the loss and the gradient norm before clipping; undefined where the graph cannot run (see trainStep).
 */
export function graphTrainStep(
  model: BertForSequenceClassification,
  optimizer: AdamW,
  inputs: BertInputs,
  targets: Targets,
  opts: StepLoss & { lr: number; clipNorm: number; acc?: Record<string, tf.Tensor> },
): { loss: number; norm: number } | undefined {
  if ([...model.params.values()].some((v) => !v.trainable)) return undefined;
  const session = sessionFor(model, opts, true, opts.acc !== undefined);
  if (!session) return undefined;
  const names = [...model.params.keys()];
  const outputs = [
    "loss",
    "grad_norm",
    ...names.flatMap((n) => [`new/${n}`, `new_m/${n}`, `new_v/${n}`]),
  ] as GraphOutput[];
  const out = tf.tidy(() => {
    const feeds = stepFeeds(session, model, inputs, targets, opts);
    const k = optimizer.beginStep(opts.lr);
    feeds.hyper = tf.tensor1d(names.flatMap((n) => [k.get(n)!.stepSize, k.get(n)!.decay]));
    const [b1, b2] = optimizer.betas;
    feeds.adam = tf.tensor1d([b1, 1 - b1, b2, 1 - b2, optimizer.eps, opts.clipNorm]);
    for (const n of names) [feeds[`m/${n}`], feeds[`v/${n}`]] = optimizer.moments(n);
    if (opts.acc) { for (const n of names) feeds[`acc/${n}`] = opts.acc[n]; }
    return session.run(feeds, outputs);
  });
  const [loss, norm] = [out[0].dataSync()[0], out[1].dataSync()[0]];
  names.forEach((n, i) => {
    const [m, v] = optimizer.moments(n);
    model.params.get(n)!.assign(out[2 + 3 * i]);
    m.assign(out[3 + 3 * i]);
    v.assign(out[4 + 3 * i]);
  });
  tf.dispose(out);
  return { loss, norm };
}

/**
 * One batch's loss and gradients (by Hugging Face name): the graph where it runs, else the gradient tape over
 * the eager forward with the same loss, normalisation and seed. Only trainable weights get a gradient.
 */
export function lossAndGrads(
  model: BertForSequenceClassification,
  inputs: BertInputs,
  targets: Targets,
  opts: StepLoss,
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const frozen = [...model.params].filter(([, v]) => !v.trainable).map(([n]) => n);
  const viaGraph = graphLossAndGrads(model, inputs, targets, opts);
  if (viaGraph) {
    tf.dispose(frozen.map((n) => viaGraph.grads[n]));
    for (const n of frozen) delete viaGraph.grads[n];
    return viaGraph;
  }
  const nameOf = new Map([...model.params].map(([k, v]) => [v.name, k]));
  const trainable = [...model.params.values()].filter((v) => v.trainable);
  const loss = lossOnTape(opts.loss ?? CROSS_ENTROPY, targets, model.labels.length, opts.norm);
  const forward = { training: opts.dropout !== false, seed: opts.seed };
  const { value, grads } = tf.variableGrads(() => tf.tidy(() => loss(model.forward(inputs, forward))), trainable);
  return { value, grads: Object.fromEntries(Object.entries(grads).map(([vn, g]) => [nameOf.get(vn)!, g])) };
}

/** One micro-batch of an optimizer step: its inputs, targets (label ids or multi-hot rows) and dropout seed. */
export interface MicroBatch {
  inputs: BertInputs;
  targets: Targets;
  seed: number;
}

/**
 * One optimizer step over k micro-batches (k = 1: an ordinary step), the same arithmetic wherever it runs: each
 * loss normalised by the whole group's lossNorm, so that the summed gradients are those of one batch k× the size;
 * the gradients of all but the last micro-batch summed, then the last one's step, on native TensorFlow one graph
 * call that adds them before clipping and AdamW (`graphTrainStep`); else `lossAndGrads` + `clipGradNorm` +
 * `optimizer.step`. Returns the group's loss and the gradient norm before clipping. A loss that is not finite leaves
 * the weights alone on the second path; the caller stops either way.
 */
export function trainStep(
  model: BertForSequenceClassification,
  optimizer: AdamW,
  micro: MicroBatch[],
  opts: { lr: number; clipNorm: number; loss?: StepLossSpec; precision?: GraphPrecision },
): { loss: number; norm: number } {
  if (micro.length === 0) throw new Error("trainStep: no micro-batches");
  const loss = opts.loss ?? CROSS_ENTROPY;
  // R-Drop: each batch runs as [x; x], so that the two halves get different dropout masks.
  const batches = loss.rdrop ? micro.map(stackedTwice) : micro;
  try {
    return stepOver(model, optimizer, batches, { ...opts, loss });
  } finally {
    if (batches !== micro) batches.forEach((m) => tf.dispose(Object.values(m.inputs)));
  }
}

/** A micro-batch with its rows stacked twice, [x; x] (new tensors: the caller disposes them). */
function stackedTwice(m: MicroBatch): MicroBatch {
  const two = (x: tf.Tensor2D) => tf.concat([x, x], 0);
  const { input_ids, attention_mask, token_type_ids } = m.inputs;
  const inputs: BertInputs = { input_ids: two(input_ids), attention_mask: two(attention_mask) };
  if (token_type_ids) inputs.token_type_ids = two(token_type_ids);
  return { inputs, targets: [...m.targets, ...m.targets] as Targets, seed: m.seed };
}

function stepOver(
  model: BertForSequenceClassification,
  optimizer: AdamW,
  micro: MicroBatch[],
  opts: { lr: number; clipNorm: number; loss: StepLossSpec; precision?: GraphPrecision },
): { loss: number; norm: number } {
  const norm = micro.reduce((s, m) => s + lossNorm(opts.loss, m.targets, model.labels.length), 0);
  let loss = 0;
  let acc: Record<string, tf.Tensor> | undefined;
  const add = (m: MicroBatch) => {
    const r = lossAndGrads(model, m.inputs, m.targets, { ...opts, seed: m.seed, norm });
    loss += r.value.dataSync()[0];
    r.value.dispose();
    if (acc) {
      const sum = tf.tidy(() => Object.fromEntries(Object.entries(acc!).map(([n, g]) => [n, tf.add(g, r.grads[n])])));
      tf.dispose([...Object.values(acc), ...Object.values(r.grads)]);
      acc = sum;
    } else acc = r.grads;
  };
  // 1) every micro-batch but the last: loss and gradients, summed
  micro.slice(0, -1).forEach(add);
  // 2) the last one's gradients, the sum clipped, AdamW: one graph call where it runs
  const last = micro[micro.length - 1];
  const fused = graphTrainStep(model, optimizer, last.inputs, last.targets, { ...opts, seed: last.seed, norm, acc });
  if (fused) {
    if (acc) tf.dispose(Object.values(acc));
    return { loss: loss + fused.loss, norm: fused.norm };
  }
  add(last);
  const grads = acc!;
  if (!Number.isFinite(loss)) {
    tf.dispose(Object.values(grads));
    return { loss, norm: NaN };
  }
  const { grads: clipped, norm: gradNorm } = clipGradNorm(grads, opts.clipNorm);
  optimizer.step(clipped, opts.lr);
  tf.dispose([...Object.values(clipped), ...Object.values(grads)]);
  return { loss, norm: gradNorm };
}
