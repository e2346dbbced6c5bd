/**
 * Everything a notebook's first cell needs, behind one import (as fastbook's `from utils import *`):
 * the backend, the seed and the course's fast/full setting; and `headline`, the one result a notebook
 * hands to the runner's summary table.
 *
 *   import { setup } from "./lib/teach/notebook";
 *   const course = await setup();
 *   // backend tensorflow · native TensorFlow: tfjs-node built against PyPI tensorflow-cpu 2.21.0 · 2 threads
 *   // seed 17 · setting full
 *   headline("weighted F1 0.8653", { f1Weighted: 0.8653 });
 *   // { headline: 'weighted F1 0.8653', values: { f1Weighted: 0.8653 } }
 */
import * as fs from "fs";
import * as tf from "@tensorflow/tfjs";
import { initBackend, describeBackend, BackendInfo } from "../runtime/backend";
import { COURSE_SEED } from "../config/config";
import { writeJsonAtomic } from "../core/fsutil";

/** CI and `npm test` run the notebooks with BERTLAB_FAST=1: small data, one short epoch. */
export const FAST = process.env.BERTLAB_FAST === "1";

/** The course's seed (seed_val = 17 in the original notebook). Override with BERTLAB_SEED or setup({ seed }). */
export const SEED = parseSeed(process.env.BERTLAB_SEED ?? COURSE_SEED, "BERTLAB_SEED");

function parseSeed(value: string | number, where: string): number {
  const seed = Number(value);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`${where} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
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
  const setting = FAST ? "fast (BERTLAB_FAST=1: small data, a few steps)" : "full";
  console.log(`backend ${describeBackend(backend)}\nseed ${seed} · setting ${setting}`);
  return { tf, backend, seed, fast: FAST };
}

/** What a notebook reports to the runner's summary table: one line for people, the numbers behind it. */
export interface Headline {
  headline: string;
  values: Record<string, number>;
}

/**
 * The notebook's headline result. scripts/run-notebooks.ts names a file in BERTLAB_HEADLINE_FILE and reads it
 * back for its summary table, so the table shows what the notebook computed rather than text scraped from its
 * output; in JupyterLab (no such variable) it only returns the value for the cell to show.
 */
export function headline(text: string, values: Record<string, number> = {}): Headline {
  const bad = Object.entries(values).find(([, v]) => !Number.isFinite(v));
  if (bad) throw new Error(`headline: ${bad[0]} must be a finite number, got ${bad[1]}`);
  const result = { headline: text, values };
  const file = process.env.BERTLAB_HEADLINE_FILE;
  if (file) writeJsonAtomic(file, result);
  return result;
}

/** Reads a headline file written by `headline`; undefined when the notebook wrote none. */
export function readHeadline(file: string): Headline | undefined {
  if (!fs.existsSync(file)) return undefined;
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Headline;
  if (typeof parsed.headline !== "string") throw new Error(`${file}: "headline" must be a string`);
  return parsed;
}
