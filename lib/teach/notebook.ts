/**
 * Everything a notebook's first cell needs, behind one import (as fastbook's `from utils import *`):
 * the backend, the seed and the course's fast/full setting.
 *
 *   import { setup } from "./lib/teach/notebook";
 *   const course = await setup();
 *   // backend tensorflow · native TensorFlow: tfjs-node built against PyPI tensorflow-cpu 2.21.0 · 2 threads
 *   // seed 17 · setting full
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, describeBackend, BackendInfo } from "../runtime/backend";
import { COURSE_SEED } from "../config/config";

/** CI and `npm test` run the notebooks with BERTLAB_FAST=1: small data, one short epoch. */
export const FAST = process.env.BERTLAB_FAST === "1";

/** The course's seed (seed_val = 17 in the original notebook). Override with BERTLAB_SEED or setup({ seed }). */
export const SEED = parseSeed(process.env.BERTLAB_SEED ?? COURSE_SEED, "BERTLAB_SEED");

function parseSeed(value: string | number, where: string): number {
  const seed = Number(value);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`${where} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
  return seed;
}

export interface Course {
  tf: typeof tf;
  backend: BackendInfo;
  seed: number;
  fast: boolean;
}

/** Picks the backend and prints it with the seed and setting; `setup({ seed: 42 })` reruns a notebook with another seed. */
export async function setup(opts: { seed?: number } = {}): Promise<Course> {
  const seed = opts.seed === undefined ? SEED : parseSeed(opts.seed, "setup({ seed })");
  const backend = await initBackend();
  console.log(`backend ${describeBackend(backend)}\nseed ${seed} · setting ${FAST ? "fast (BERTLAB_FAST=1: small data, a few steps)" : "full"}`);
  return { tf, backend, seed, fast: FAST };
}
