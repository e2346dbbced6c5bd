/** lib/core/batching.ts: the length order and the least-work cut, checked against every possible cut. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { lengthOrder, lengthSortedBatches } from "../lib/core/batching";

test("lengthSortedBatches: shortest first, ties in input order, every index once, least work; pure", () => {
  const lengths = [5, 2, 9, 2, 7];
  assert.deepEqual(lengthSortedBatches(lengths, 2), [[1, 3], [0, 4], [2]]);
  assert.deepEqual(lengthOrder(lengths), [1, 3, 0, 4, 2]);
  assert.deepEqual(lengths, [5, 2, 9, 2, 7]);
  assert.deepEqual(lengthSortedBatches([], 4), []);
  assert.throws(() => lengthSortedBatches([1], 0), /batchSize must be a positive integer/);
  // An outlier gets a batch of its own unless a call costs more than the padding it saves.
  assert.deepEqual(lengthSortedBatches([9, 9, 9, 40], 4, { batchCost: 1 }), [[0, 1, 2], [3]]);
  assert.deepEqual(lengthSortedBatches([9, 9, 9, 40], 4, { batchCost: 200 }), [[0, 1, 2, 3]]);
  // Against every way of cutting 9 sorted lengths into runs of at most 3: the least cost, each index once.
  const ls = [31, 12, 58, 12, 40, 13, 33, 105, 30], cost = 16, max = 3;
  const sorted = ls.map((_, i) => i).sort((a, b) => ls[a] - ls[b] || a - b);
  const costOf = (bs: number[][]) => bs.reduce((s, b) => s + b.length * Math.max(...b.map((i) => ls[i])) + cost, 0);
  let best = Infinity;
  for (let mask = 0; mask < 1 << (ls.length - 1); mask++) { // bit k: a cut after sorted position k
    const bs: number[][] = [[]];
    sorted.forEach((i, k) => {
      bs[bs.length - 1].push(i);
      if (mask & (1 << k) && k < ls.length - 1) bs.push([]);
    });
    if (bs.every((b) => b.length <= max)) best = Math.min(best, costOf(bs));
  }
  const got = lengthSortedBatches(ls, max, { batchCost: cost });
  assert.equal(costOf(got), best);
  assert.deepEqual(got.flat(), sorted);
  assert.ok(got.every((b) => b.length <= max));
});
