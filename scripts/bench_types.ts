/**
 * What the bench's processes hand each other: the workload (the same batches for every engine, written once as
 * JSON) and each engine's result (bench_torch.py writes the same fields). Shared by bench.ts and its row modules
 * (bench_onnx.ts, bench_losses.ts, compare-engines.ts), which import nothing else from each other's callers.
 */

import type { Bf16Support } from "../lib/graph/precision";

/** One batch of token-id rows and their label ids. */
export interface Rows {
  input_ids: number[][];
  labels: number[];
}
export interface Workload {
  seed: number;
  modelDir: string;
  labels: string[];
  train: {
    batchSize: number;
    optimizer: { lr: number; eps: number; betas: [number, number]; weightDecay: number; clipNorm: number };
    epochBatches: number;
    /** Not timed: lets each engine allocate and pick its kernels. */
    warmup: Rows[];
    /** One whole epoch of the course split, in the seeded order. */
    timed: Rows[];
    /** The same epoch's tweets in `--group-by-length` order (same seed), for "tensorflow-grouped". */
    grouped?: Rows[];
  };
  infer: { warmup: number[][][]; batch64: number[][][]; batch1: number[][] };
  /** The validation tweets and their label ids (file order), for the ONNX rows' end-to-end predict and F1. */
  serve?: { texts: string[]; labels: number[] };
}

/** What each engine reports (bench_torch.py writes the same fields). */
export interface EngineResult {
  name: string;
  engine: string;
  threads: number;
  reason?: string;
  train: { stepSeconds: number[]; losses: number[] };
  /** loopSeconds (PyTorch only): repeats of the whole batch-64 loop in file order, for predict's end-to-end floor. */
  infer: { batch64Seconds: number[]; batch1Seconds: number[]; loopSeconds?: number[] };
  /** How the engine's threads waited for work (PyTorch: OMP_WAIT_POLICY; ONNX Runtime: spinning or not). */
  wait?: string;
  /** The same inference with the threads waiting the other way, in the same process (the ONNX rows). */
  otherWait?: { wait: string; infer: EngineResult["infer"] };
  peakRssMB: number;
  tensorLeak?: number;
  /** "grouped": trained on workload.train.grouped instead of .timed. */
  batches?: "grouped";
  /** How the engine computes (bench_torch.py: BLAS, oneDNN, CPU capability, threads). */
  build?: Record<string, unknown>;
  /** bf16 rows: what lib/graph/precision.ts's probe found here. */
  bf16?: Bf16Support;
  loadBefore?: number;
  /** CPU cores' worth of work done by other processes while this engine ran (Linux only). */
  otherCores?: number;
}
