/**
 * The order in which texts are batched for prediction: shortest first, so that each batch is padded to little more
 * than its own texts (answers go back in input order afterwards). lib/serve/onnx_runtime.ts cuts the sorted order
 * where the work is least; lib/eval/evaluate.ts's `predict` runs it in batches of a fixed size. Taught in notebook 10.
 *
 *   lengthOrder([5, 2, 9, 2, 7])              // [1, 3, 0, 4, 2]
 */

/**
 * Indices of `lengths` sorted by length (ties in input order), cut into batches of at most `batchSize` so that the
 * work is least: each batch costs its rows × its longest length plus `batchCost` positions for the call itself. So a
 * rare long text gets a small batch of its own instead of padding 64 others to its length. Dynamic programming over
 * the sorted order, O(n · batchSize). Pure.
 *
 *   lengthSortedBatches([5, 2, 9, 2, 7], 2)                    // [[1, 3], [0, 4], [2]]
 *   lengthSortedBatches([9, 9, 9, 40], 4)                      // [[0, 1, 2], [3]]: 3×9 + 40 < 4×40
 *   lengthSortedBatches([9, 9, 9, 40], 4, { batchCost: 200 })  // [[0, 1, 2, 3]]: one call is cheaper
 */
export function lengthSortedBatches(
  lengths: readonly number[],
  batchSize: number,
  opts: { batchCost?: number } = {},
): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const batchCost = opts.batchCost ?? BATCH_COST;
  const order = lengthOrder(lengths);
  const n = order.length;
  // cost[j]: the least cost of the first j sorted texts; from[j]: where its last batch starts.
  const cost = new Float64Array(n + 1).fill(Infinity), from = new Int32Array(n + 1);
  cost[0] = 0;
  for (let j = 1; j <= n; j++) {
    const width = Math.max(1, lengths[order[j - 1]]); // the longest of any batch ending at j
    for (let i = j - 1; i >= Math.max(0, j - batchSize); i--) {
      const c = cost[i] + (j - i) * width + batchCost;
      if (c < cost[j]) {
        cost[j] = c;
        from[j] = i;
      }
    }
  }
  const out: number[][] = [];
  for (let j = n; j > 0; j = from[j]) out.unshift(order.slice(from[j], j));
  return out;
}

/** Indices of `lengths`, shortest first, ties in input order. Pure. */
export function lengthOrder(lengths: readonly number[]): number[] {
  return lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
}

/** What one more session call costs in token positions: ONNX Runtime's fixed cost per run (docs/serving.md). */
export const BATCH_COST = 16;
