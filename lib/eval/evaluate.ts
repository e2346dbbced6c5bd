/**
 * Evaluation and prediction with a fine-tuned classifier: eval mode over a set (no dropout, no
 * gradients) scored with lib/eval/metrics.ts (multi-label models: lib/eval/multilabel.ts), labels for new
 * texts, an error-analysis table, and loading a saved model folder or a run's model. Taught in
 * notebooks/06_evaluate.ipynb; train() calls `evaluate` after every epoch.
 *
 *   const { model, tokenizer } = await loadTrained("runs/05_train");   // a run folder or a model folder
 *   predict(model, tokenizer, ["What a wonderful exhibition!"])
 *   // [{ text: "What a wonderful exhibition!", label: "happy", probabilities: { happy: 0.97, … } }]
 */
import * as tf from "@tensorflow/tfjs";
import { Batch, EncodedRows, BatchOptions } from "../data/loader";
import { multiHot } from "../data/labels";
import { scoreAll, accuracyLines, EvalMetrics } from "./metrics";
import {
  isMultiLabelModel,
  evaluateMultiLabel,
  readThresholds,
  MULTI_LABEL,
  MultiLabelEvaluation,
  MultiLabelMetrics,
  LabelReport,
} from "./multilabel";
import { evalForward } from "./eval_loop";
import { BertForSequenceClassification, loadBertForSequenceClassification, crossEntropyLoss } from "../model/bert";
import { loadTokenizer, Tokenizer, TokenizerLike, encodeUnpadded } from "../data/tokenize";
import { modelFolder, readConfig, readLabels } from "../model/run_folder";
import { DEFAULT_CONFIG } from "../config/config";
import { lengthOrder } from "../core/batching";
import { argmax } from "../core/stats";
import { TextSet, Part, rowPlace } from "../data/data";
import { tableHtml } from "../core/html";
import type { GraphPrecision } from "../graph/lowering";

type Model = BertForSequenceClassification;

export interface Evaluation {
  metrics: EvalMetrics;
  predictions: number[];
  probabilities: number[][];
}

/**
 * Eval mode over a set: no dropout, no gradients; returns the course's metrics plus the
 * predictions. Loss = mean of the batch losses (the course's loss_val_total / len(loader)).
 */
export function evaluate(model: Model, enc: EncodedRows, labelIds: number[], opts: BatchOptions): Evaluation {
  const head = (
    logits: tf.Tensor2D,
    b: Batch,
  ): [tf.Tensor, tf.Tensor] => [crossEntropyLoss(logits, b.labels), tf.softmax(logits)];
  const { loss, probabilities } = evalForward(model, enc, labelIds, opts, head);
  const predictions = probabilities.map(argmax);
  return { metrics: scoreAll(labelIds, predictions, model.labels, loss), predictions, probabilities };
}

/** Each example's label id in `labels` (the model's); a label the model does not know names the file and line. */
export function labelIds(set: TextSet<string | string[]>, part: Part, labels: readonly string[]): number[] {
  const id = new Map(labels.map((l, i) => [l, i]));
  return set.labels.flatMap((l, i) =>
    (Array.isArray(l) ? l : [l]).map((one) => {
      const k = id.get(one);
      if (k === undefined)
        throw new Error(
          `${rowPlace(set, part, i)}: label ${JSON.stringify(one)} is not one the model knows (${labels.join(", ")})`,
        );
      return k;
    })
  );
}

const PASS = "pass the ones loadTrained returns (the model folder's thresholds.json)";

export interface EvaluateSetOptions {
  maxLength?: number;
  batchSize?: number;
  /** A multi-label model's per-label thresholds (loadTrained returns them). */
  thresholds?: readonly number[];
}

/** What scoring a set gives: a label-set file scores as multi-label. */
type EvaluationOf<S> = S extends TextSet<string[]> ? MultiLabelEvaluation : Evaluation;

/**
 * Tokenizes and scores a whole set (a validation split or a test file) in eval mode: label ids for a
 * single-label model, label sets at the model's thresholds for a multi-label one.
 */
export function evaluateSet<S extends TextSet | TextSet<string[]>>(
  model: Model,
  tokenizer: TokenizerLike,
  set: S,
  part: Part,
  opts: EvaluateSetOptions = {},
): EvaluationOf<S> {
  if (set.texts.length === 0) throw new Error(`the ${part} set is empty: nothing to score`);
  labelIds(set, part, model.labels); // every label known, or an error naming its line
  const enc = encodeUnpadded(tokenizer, set.texts, opts.maxLength ?? DEFAULT_CONFIG.maxLength);
  const batch = { batchSize: opts.batchSize ?? DEFAULT_CONFIG.evalBatchSize, padTokenId: tokenizer.padTokenId };
  if (isMultiLabelModel(model)) {
    if (!opts.thresholds) throw new Error(`a multi-label model is scored at its per-label thresholds: ${PASS}`);
    const sets = set.labels.map((l) => (Array.isArray(l) ? l : [l]));
    const targets = multiHot(sets, model.labels);
    return evaluateMultiLabel(model, enc, targets, { ...batch, thresholds: opts.thresholds }) as EvaluationOf<S>;
  }
  if (set.labels.some((l) => Array.isArray(l)))
    throw new Error(`the ${part} set holds label sets, but this model is single-label`);
  return evaluate(model, enc, labelIds(set, part, model.labels), batch) as EvaluationOf<S>;
}

/** The report `bertlab evaluate` prints: loss and F1, per-class (or per-label) scores, the confusion matrix. */
export function reportLines(m: EvalMetrics | MultiLabelMetrics, labels: readonly string[]): string[] {
  const f = (v: number) => v.toFixed(4);
  // One row per class or label: precision, recall, F1, support (and a multi-label model's threshold).
  const table = (
    rows: LabelReport[],
  ) => [
    "label".padEnd(14) + ["precision", "recall", "F1", "support"].map((h) => h.padStart(10)).join("")
    + (rows[0]?.threshold !== undefined ? "  threshold" : ""),
    ...rows.map((c) =>
      c.label.padEnd(14) + [c.precision, c.recall, c.f1].map((v) => f(v).padStart(10)).join("")
      + String(c.support).padStart(10) + (c.threshold !== undefined ? c.threshold.toFixed(2).padStart(11) : "")
    ),
  ];
  if ("f1Micro" in m) {
    return [
      `loss ${f(m.loss)} · F1 micro ${f(m.f1Micro)} · F1 macro ${f(m.f1Macro)}`
      + ` · subset accuracy ${f(m.subsetAccuracy)} · Hamming loss ${f(m.hammingLoss)}`,
      ...table(m.labels),
    ];
  }
  return [
    `loss ${f(m.loss)} · F1 weighted ${f(m.f1Weighted)} · F1 macro ${f(m.f1Macro)} · accuracy ${f(m.accuracy)}`,
    ...accuracyLines(m.perClass),
    ...table(m.classes),
    `confusion (rows true, columns predicted; ${labels.join(", ")}):`,
    ...m.confusion.map((r, i) => `  ${labels[i].padEnd(14)} ${r.map((n) => String(n).padStart(4)).join("")}`),
  ];
}

/** A misclassified example: its text, the true and predicted labels, and the model's probabilities. */
export interface Misclassified {
  id: string;
  text: string;
  true: string;
  predicted: string;
  /** Probability given to the predicted label, and to the true one. */
  pPredicted: number;
  pTrue: number;
}

/**
 * The error-analysis table: every misclassified example of `set` (scored by `ev`), the most confident
 * mistakes first. Plain data: show it with `errorTableHtml`, which escapes the tweets.
 */
export function misclassified(set: TextSet, ev: Evaluation, labels: readonly string[]): Misclassified[] {
  const id = new Map(labels.map((l, i) => [l, i]));
  const rows: Misclassified[] = [];
  ev.predictions.forEach((p, i) => {
    const t = id.get(set.labels[i])!;
    if (p === t) return;
    rows.push({
      id: set.ids?.[i] ?? String(i),
      text: set.texts[i],
      true: labels[t],
      predicted: labels[p],
      pPredicted: ev.probabilities[i][p],
      pTrue: ev.probabilities[i][t],
    });
  });
  return rows.sort((a, b) => b.pPredicted - a.pPredicted);
}

/** The table as HTML, every cell escaped (tweets are data, not markup: lib/core/html.ts). */
export function errorTableHtml(rows: readonly Misclassified[], caption = `${rows.length} misclassified`): string {
  const rounded = rows.map((r) => ({ ...r, pPredicted: +r.pPredicted.toFixed(3), pTrue: +r.pTrue.toFixed(3) }));
  return tableHtml(rounded, ["id", "text", "true", "predicted", "pPredicted", "pTrue"], { caption });
}

/** A single-label prediction: the most probable label; a multi-label one: every label over its threshold. */
export interface Prediction {
  text: string;
  label?: string;
  labels?: string[];
  probabilities: Record<string, number>;
}

/**
 * Labels and probabilities for new texts (eval mode): softmax and the top label, or for a
 * multi-label model (give its `thresholds`) a sigmoid per label and every label over its threshold.
 * The texts run shortest first (lib/core/batching.ts), so each batch is padded to little more than its own
 * texts; the answers come back in input order.
 */
export function predict(
  model: Model,
  tokenizer: TokenizerLike,
  texts: string[],
  opts: { maxLength?: number; batchSize?: number; thresholds?: readonly number[] } = {},
): Prediction[] {
  if (texts.length === 0) return [];
  const multi = isMultiLabelModel(model), thresholds = opts.thresholds;
  if (multi && !thresholds) throw new Error(`a multi-label model predicts at its per-label thresholds: ${PASS}`);
  const all = encodeUnpadded(tokenizer, texts, opts.maxLength ?? DEFAULT_CONFIG.maxLength);
  const order = lengthOrder(all.input_ids.map((r) => r.length));
  const pick = (rows: number[][]) => order.map((i) => rows[i]);
  const enc = {
    input_ids: pick(all.input_ids),
    token_type_ids: pick(all.token_type_ids),
    attention_mask: pick(all.attention_mask),
  };
  const batch = { batchSize: opts.batchSize ?? DEFAULT_CONFIG.evalBatchSize, padTokenId: tokenizer.padTokenId };
  // No truth here, so no loss: only the probabilities, the j-th for the j-th text in length order.
  const act = (logits: tf.Tensor2D) => (multi ? tf.sigmoid(logits) : tf.softmax(logits));
  const { probabilities } = evalForward(model, enc, undefined, batch, (logits) => [tf.scalar(0), act(logits)]);
  const out: Prediction[] = new Array(texts.length);
  for (const [j, i] of order.entries()) {
    const p = probabilities[j], named = Object.fromEntries(model.labels.map((l, k) => [l, p[k]]));
    out[i] = thresholds && multi
      ? { text: texts[i], labels: model.labels.filter((_, k) => p[k] >= thresholds[k]), probabilities: named }
      : { text: texts[i], label: model.labels[argmax(p)], probabilities: named };
  }
  return out;
}

/** A loaded model, its tokenizer, the folder it came from, and a multi-label model's thresholds. */
export interface Trained {
  model: Model;
  tokenizer: Tokenizer;
  dir: string;
  thresholds?: number[];
}

/**
 * Loads a saved model (a model, checkpoint or run folder: lib/model/run_folder.ts's `modelFolder`), its tokenizer
 * and a multi-label model's thresholds (thresholds.json, required); `precision` sets the model's.
 */
export async function loadTrained(dir: string, opts: { precision?: GraphPrecision } = {}): Promise<Trained> {
  const folder = modelFolder(dir);
  const labels = readLabels(folder);
  const thresholds = readConfig(folder).problem_type === MULTI_LABEL ? readThresholds(folder, labels) : undefined;
  const model = await loadBertForSequenceClassification(folder, { labels, seed: 0 });
  if (opts.precision) model.precision = opts.precision;
  return { model, tokenizer: await loadTokenizer(folder), dir: folder, ...(thresholds ? { thresholds } : {}) };
}
