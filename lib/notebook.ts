/**
 * Everything a notebook's first cell needs, behind one import (as fastbook's `from utils import *`):
 * the backend, the seed, the course's fast/full setting, and display helpers.
 *
 *   import { setup } from "./lib/notebook";
 *   const course = await setup();   // prints: backend tensorflow · seed 17 · setting full
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, BackendInfo } from "./backend";

/** CI and `npm test` run the notebooks with BERTLAB_FAST=1: small data, one short epoch. */
export const FAST = process.env.BERTLAB_FAST === "1";

/** The course's seed (seed_val = 17 in the original notebook). Override with BERTLAB_SEED. */
export const SEED = Number(process.env.BERTLAB_SEED ?? 17);

export interface Course {
  tf: typeof tf;
  backend: BackendInfo;
  seed: number;
  fast: boolean;
}

export async function setup(): Promise<Course> {
  const backend = await initBackend();
  console.log(`backend ${backend.name} (${backend.reason}) · seed ${SEED} · setting ${FAST ? "fast" : "full"}`);
  return { tf, backend, seed: SEED, fast: FAST };
}
