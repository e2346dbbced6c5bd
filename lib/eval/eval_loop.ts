/**
 * The eval loop every scorer shares: eval mode (no dropout, no gradients), the set in file order (the course's
 * SequentialSampler), one batch at a time, each batch's tensors freed before the next.
 *
 *   const { loss, probabilities } = evalForward(model, enc, labelIds, batchOpts, (logits, b) => [loss, softmax]);
 */
import * as tf from "@tensorflow/tfjs";
import { BertForSequenceClassification } from "../model/bert";
import { SequentialSampler, batches, Batch, EncodedRows, BatchOptions } from "../data/loader";

/**
 * Eval mode (no dropout, no gradients) over a set in file order: the mean of the batch losses `head` computes
 * from the logits, and the probabilities it gives. Single-label `evaluate`, multi-label
 * `evaluateMultiLabel` and `predict` all run on it (lib/eval/evaluate.ts, lib/eval/multilabel.ts).
 */
export function evalForward(
  model: BertForSequenceClassification,
  enc: EncodedRows,
  labels: number[] | undefined,
  opts: BatchOptions,
  head: (logits: tf.Tensor2D, b: Batch) => [tf.Tensor, tf.Tensor],
): { loss: number; probabilities: number[][] } {
  let lossSum = 0, n = 0;
  const probabilities: number[][] = [];
  for (const b of batches(enc, labels, new SequentialSampler(enc.input_ids.length).epochIndices(), opts)) {
    const [loss, probs] = tf.tidy(() => head(model.forward(b, { training: false }), b));
    lossSum += (loss.dataSync() as Float32Array)[0];
    n++;
    probabilities.push(...(probs.arraySync() as number[][]));
    tf.dispose([loss, probs]);
    b.dispose();
  }
  return { loss: lossSum / n, probabilities };
}
