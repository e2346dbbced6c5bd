/**
 * Samplers and batches: which tweets go into each step, and the int32 tensors the model reads.
 * Notebook 05 ("Samplers") builds these inline first.
 *
 *   const sampler = new RandomSampler(1258, 17);
 *   sampler.epochIndices().slice(0, 5)   // [ 911, 264, 1046, 590, 14 ]  (a new order every epoch)
 *   for (const b of batches(encoded, labels, sampler.epochIndices(), { batchSize: 32 })) { ...; b.dispose(); }
 */
import * as tf from "@tensorflow/tfjs";
import { paddingCost } from "./tokenize";

/** mulberry32: 32 bits of state, trivially saved in a checkpoint. Not MT19937: orders differ from PyTorch's. */
export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** Mixes a seed with more numbers (epoch, step...) into a new 32-bit seed: per-step dropout seeds. */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const p of [...parts, parts.length]) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** Fisher-Yates shuffle of 0..n-1 driven by `rng`. */
export function permutation(n: number, rng: Rng): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export interface SamplerState {
  seed: number;
  rngState: number;
  epochs: number;
}

/** The course's RandomSampler: a fresh random order of the training set every epoch. */
export class RandomSampler {
  protected rng: Rng;
  protected epochs = 0;
  constructor(readonly size: number, readonly seed: number) {
    this.rng = new Rng(seed);
  }
  /** The next epoch's order (advances the generator: call once per epoch). */
  epochIndices(): number[] {
    this.epochs++;
    return permutation(this.size, this.rng);
  }
  /** Everything needed to continue the same sequence of orders after a restart. */
  getState(): SamplerState {
    return { seed: this.seed, rngState: this.rng.state, epochs: this.epochs };
  }
  setState(s: SamplerState): void {
    if (s.seed !== this.seed)
      throw new Error(`sampler state is for seed ${s.seed}, this sampler has seed ${this.seed}`);
    this.rng = new Rng(s.rngState);
    this.epochs = s.epochs;
  }
}

/** The course's SequentialSampler: validation goes in file order, every time. */
export class SequentialSampler {
  constructor(readonly size: number) {}
  epochIndices(): number[] {
    return Array.from({ length: this.size }, (_, i) => i);
  }
}

/**
 * Hugging Face's get_length_grouped_indices, given its random permutation `perm`: cut `perm` into mega-batches of
 * `megaBatchMult` batches (default: 50, or fewer so that there are 4 mega-batches, at least 1), sort each by length,
 * longest first (stable), then swap the longest example of all into the very first place, so that the largest batch
 * comes first. Batches cut from the result hold tweets of similar length: little padding, some randomness left.
 */
export function lengthGroupedIndices(
  lengths: number[],
  batchSize: number,
  perm: number[],
  megaBatchMult?: number,
): number[] {
  if (perm.length !== lengths.length)
    throw new Error(`permutation has ${perm.length} indices for ${lengths.length} lengths`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const mult = megaBatchMult ?? Math.max(1, Math.min(Math.floor(lengths.length / (batchSize * 4)), 50));
  const size = mult * batchSize;
  const megas: number[][] = [];
  for (let s = 0; s < perm.length; s += size) {
    megas.push(perm.slice(s, s + size).sort((a, b) => lengths[b] - lengths[a]));
  }
  if (megas.length === 0) return [];
  // The first mega-batch holding the longest example (as torch.argmax: the first of equal maxima).
  const top = megas.reduce((best, m, i) => (lengths[m[0]] > lengths[megas[best][0]] ? i : best), 0);
  [megas[0][0], megas[top][0]] = [megas[top][0], megas[0][0]];
  return megas.flat();
}

/** `--group-by-length`: Hugging Face's LengthGroupedSampler, RandomSampler's order grouped by length. */
export class LengthGroupedSampler extends RandomSampler {
  constructor(readonly lengths: number[], readonly batchSize: number, seed: number, readonly megaBatchMult?: number) {
    super(lengths.length, seed);
  }
  override epochIndices(): number[] {
    return lengthGroupedIndices(this.lengths, this.batchSize, super.epochIndices(), this.megaBatchMult);
  }
}

/** Token ids as the tokenizer returns them without padding (ragged rows). */
export interface EncodedRows {
  input_ids: number[][];
  attention_mask?: number[][];
  token_type_ids?: number[][];
}

export interface BatchOptions {
  batchSize: number;
  /** "longest" (default): pad to the longest row of the batch; "max_length": to maxLength. */
  padding?: "longest" | "max_length";
  maxLength?: number;
  padTokenId?: number;
}

/** One batch of int32 tensors, with Hugging Face's names. Call dispose() when done. */
export interface Batch {
  input_ids: tf.Tensor2D;
  attention_mask: tf.Tensor2D;
  token_type_ids: tf.Tensor2D;
  labels: tf.Tensor1D;
  /** Which examples (row numbers of the encoded set) are in it. */
  indices: number[];
  dispose(): void;
}

/** Builds one padded batch from rows `indices`. Row lengths longer than the pad length are an error. */
export function makeBatch(
  enc: EncodedRows,
  labels: number[] | undefined,
  indices: number[],
  opts: BatchOptions,
): Batch {
  const lens = indices.map((i) => {
    const row = enc.input_ids[i];
    if (!row) throw new Error(`batch index ${i} is out of range (${enc.input_ids.length} encoded rows)`);
    return row.length;
  });
  const longest = Math.max(...lens);
  const width = opts.padding === "max_length" ? opts.maxLength ?? longest : longest;
  if (longest > width)
    throw new Error(
      `a row has ${longest} tokens, more than the padding length ${width}: tokenize with truncation to maxLength`,
    );
  const n = indices.length;
  const ids = new Int32Array(n * width).fill(opts.padTokenId ?? 0);
  const mask = new Int32Array(n * width);
  const types = new Int32Array(n * width);
  const labelArr = new Int32Array(n);
  indices.forEach((i, r) => {
    const row = enc.input_ids[i];
    const m = enc.attention_mask?.[i];
    const tt = enc.token_type_ids?.[i];
    for (let c = 0; c < row.length; c++) {
      ids[r * width + c] = row[c];
      mask[r * width + c] = m ? m[c] : 1;
      types[r * width + c] = tt ? tt[c] : 0;
    }
    if (!labels) return;
    if (!Number.isInteger(labels[i])) throw new Error(`label of example ${i} is ${labels[i]}, not an integer class id`);
    labelArr[r] = labels[i];
  });
  const b: Batch = {
    input_ids: tf.tensor2d(ids, [n, width], "int32"),
    attention_mask: tf.tensor2d(mask, [n, width], "int32"),
    token_type_ids: tf.tensor2d(types, [n, width], "int32"),
    labels: tf.tensor1d(labelArr, "int32"),
    indices,
    dispose() {
      tf.dispose([b.input_ids, b.attention_mask, b.token_type_ids, b.labels]);
    },
  };
  return b;
}

/**
 * The data loader: cuts `order` (from a sampler) into batches of `batchSize` (the last may be smaller, as PyTorch's
 * drop_last=False) and yields them one at a time, so only one batch's tensors exist at once.
 */
export function* batches(
  enc: EncodedRows,
  labels: number[] | undefined,
  order: number[],
  opts: BatchOptions,
): Generator<Batch> {
  if (!(opts.batchSize >= 1)) throw new Error(`batchSize must be >= 1, got ${opts.batchSize}`);
  for (let s = 0; s < order.length; s += opts.batchSize) {
    yield makeBatch(enc, labels, order.slice(s, s + opts.batchSize), opts);
  }
}

/** Number of batches an epoch of `n` examples gives. */
export function numBatches(n: number, batchSize: number): number {
  return Math.ceil(n / batchSize);
}

/**
 * How many token positions the model processes for one epoch in `order`: padded to each batch's longest row versus
 * the course's fixed length. For SMILE's training set at batch 32 (notebook 05), 77% fewer:
 *   { realTokens: 44629, longestTokens: 72828, fixedTokens: 322048, savedVsFixed: 0.774 }
 */
export function paddingReport(enc: EncodedRows, order: number[], batchSize: number, fixedLength = 256) {
  const lengths = order.map((i) => enc.input_ids[i].length);
  const { realTokens, positions } = paddingCost(lengths, { batchSize, padding: "longest", maxLength: Infinity });
  const fixed = order.length * fixedLength;
  return { realTokens, longestTokens: positions, fixedTokens: fixed, savedVsFixed: 1 - positions / fixed };
}
