/**
 * The layout of a run folder, read by every command that takes one. Written by lib/train/checkpoint.ts.
 *
 *   runs/course/
 *     metrics.json            config, labels, per-epoch loss and F1, timing
 *     checkpoints/epoch-3/    a complete model folder plus what resuming needs
 *     checkpoints/best/       the best epoch's model folder (with --select-metric)
 *
 *   lastCheckpoint("runs/course")   // { epoch: 8, dir: "runs/course/checkpoints/epoch-8" }
 */
import * as fs from "fs";
import * as path from "path";

/** Tokenizer files copied next to the weights, so a checkpoint loads as a model folder on its own. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"];

export function checkpointsDir(runDir: string): string { return path.join(runDir, "checkpoints"); }

/** Complete checkpoints of a run, oldest first (temporary folders start with "." and are skipped). */
export function listCheckpoints(runDir: string): { epoch: number; dir: string }[] {
  const d = checkpointsDir(runDir);
  if (!fs.existsSync(d)) return [];
  return fs.readdirSync(d)
    .map((n) => /^epoch-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ epoch: Number(m[1]), dir: path.join(d, m[0]) }))
    .filter((c) => fs.existsSync(path.join(c.dir, "trainer_state.json")))
    .sort((a, b) => a.epoch - b.epoch);
}

export function lastCheckpoint(runDir: string): { epoch: number; dir: string } | undefined {
  const all = listCheckpoints(runDir);
  return all[all.length - 1];
}

/** The best epoch's model folder of a run (written with a selectMetric). */
export function bestDir(runDir: string): string { return path.join(checkpointsDir(runDir), "best"); }

/** Does `runDir` already hold a run (metrics or checkpoints)? */
export function holdsRun(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, "metrics.json")) || listCheckpoints(runDir).length > 0;
}
