/**
 * Several fine-tuned models made into one: a model soup (Wortsman et al. 2022) averages their weights into one
 * checkpoint that costs what one model costs to run; an ensemble averages their probabilities (n models' cost).
 * Soups need runs fine-tuned from the same start (same architecture, vocabulary, labels and weight shapes): the
 * first difference is named. The greedy soup adds runs best first, keeping each only if validation F1 holds.
 *
 *   const soup = await writeSoup(["runs/seed-1", "runs/seed-2", "runs/seed-3"], "runs/soup");
 *   // { out: "runs/soup", ingredients: [".../seed-1/checkpoints/best", …] }: evaluate, export, demo all take it
 *   ensembleEvaluate(await Promise.all(dirs.map(loadTrained)), validation, "validation").metrics.f1Weighted
 */
import * as fs from "fs";
import * as path from "path";
import { replaceDirAtomic, writeJsonAtomic } from "../core/fsutil";
import { argmax } from "../core/stats";
import { TextSet, Part } from "../data/data";
import { readSafetensors, writeSafetensors, SafeTensor } from "../nn/safetensors";
import { modelFolder, readLabels, TOKENIZER_FILES } from "../model/run_folder";
import { architectureDifference } from "../model/compat";
import { scoreAll } from "./metrics";
import {
  evaluateSet,
  labelIds,
  loadTrained,
  predict,
  Evaluation,
  Prediction,
  Trained,
  EvaluateSetOptions,
} from "./evaluate";
import { isMultiLabelModel } from "./multilabel";

/** The model folders of `runs`, checked to share architecture, vocabulary and labels (the first difference named). */
export function soupIngredients(runs: readonly string[]): string[] {
  if (runs.length === 0) throw new Error("a soup needs at least one run");
  const dirs = runs.map(modelFolder);
  const labels = readLabels(dirs[0]);
  for (const d of dirs.slice(1)) {
    const difference = architectureDifference(dirs[0], d);
    if (difference) throw new Error(`cannot average ${d} with ${dirs[0]}: ${difference}`);
    const [theirs, ours] = [JSON.stringify(readLabels(d)), JSON.stringify(labels)];
    if (theirs !== ours) throw new Error(`cannot average ${d} with ${dirs[0]}: labels ${theirs} vs ${ours}`);
  }
  return dirs;
}

/** The uniform average of the folders' model.safetensors, accumulated in float64; names and shapes must agree. */
export function averageWeights(dirs: readonly string[]): Map<string, SafeTensor> {
  const files = dirs.map((d) => path.join(d, "model.safetensors"));
  const first = readSafetensors(files[0]).tensors;
  const sums = new Map<string, Float64Array>();
  for (const [name, t] of first) sums.set(name, Float64Array.from(t.data));
  for (const file of files.slice(1)) {
    const tensors = readSafetensors(file).tensors;
    for (const [name, t] of first) {
      const u = tensors.get(name);
      if (!u) throw new Error(`cannot average ${file} with ${files[0]}: it has no weight "${name}"`);
      if (u.shape.join(",") !== t.shape.join(","))
        throw new Error(`cannot average ${file} with ${files[0]}: "${name}" is [${u.shape}], not [${t.shape}]`);
      const s = sums.get(name)!;
      for (let i = 0; i < s.length; i++) s[i] += u.data[i];
    }
    const extra = [...tensors.keys()].find((n) => !first.has(n));
    if (extra) throw new Error(`cannot average ${file} with ${files[0]}: "${extra}" is only in ${file}`);
  }
  const mean = (name: string) => Float32Array.from(sums.get(name)!, (x) => x / dirs.length);
  const out = new Map<string, SafeTensor>();
  for (const [name, t] of first)
    out.set(name, { dtype: t.dtype, shape: t.shape, data: t.dtype === "int32" ? Int32Array.from(t.data) : mean(name) });
  return out;
}

export interface Soup {
  out: string;
  ingredients: string[];
}

/**
 * Writes the uniform soup of `runs` to `out` as an ordinary model folder (config.json, tokenizer files and a
 * multi-label model's thresholds from the first run, the averaged model.safetensors, soup.json naming the
 * ingredients), atomically: `out` holds the old folder or the new one, never half of one.
 */
export async function writeSoup(runs: readonly string[], out: string): Promise<Soup> {
  const ingredients = soupIngredients(runs);
  const weights = averageWeights(ingredients);
  await replaceDirAtomic(out, (tmp) => {
    for (const f of ["config.json", "thresholds.json", ...TOKENIZER_FILES]) {
      const src = path.join(ingredients[0], f);
      if (fs.existsSync(src)) fs.copyFileSync(src, path.join(tmp, f));
    }
    writeSafetensors(path.join(tmp, "model.safetensors"), weights);
    writeJsonAtomic(path.join(tmp, "soup.json"), { kind: "uniform", ingredients });
  });
  return { out, ingredients };
}

export interface GreedySoup extends Soup {
  /** Each run's own validation F1, best first, and whether the soup kept it. */
  steps: { dir: string; f1: number; kept: boolean; soupF1: number }[];
}

/**
 * The greedy soup: runs sorted by their own validation F1 (weighted, the course's metric), then each added to the
 * soup only if the soup's validation F1 does not drop (Wortsman et al.'s recipe). Written to `out` as writeSoup does.
 */
export async function greedySoup(
  runs: readonly string[],
  out: string,
  validation: TextSet,
  opts: EvaluateSetOptions & { log?: (s: string) => void } = {},
): Promise<GreedySoup> {
  const ingredients = soupIngredients(runs);
  const log = opts.log ?? (() => {});
  const f1 = async (dir: string) => {
    const t = await loadTrained(dir);
    try {
      return evaluateSet(t.model, t.tokenizer, validation, "validation", { ...opts, thresholds: t.thresholds }).metrics
        .f1Weighted;
    } finally {
      t.model.dispose();
    }
  };
  const ranked: { dir: string; f1: number }[] = [];
  for (const dir of ingredients) ranked.push({ dir, f1: await f1(dir) });
  ranked.sort((a, b) => b.f1 - a.f1);
  const kept = [ranked[0].dir];
  const steps: GreedySoup["steps"] = [{ ...ranked[0], kept: true, soupF1: ranked[0].f1 }];
  log(`greedy soup: start from ${ranked[0].dir} (F1 ${ranked[0].f1.toFixed(4)})`);
  let best = ranked[0].f1;
  for (const r of ranked.slice(1)) {
    await writeSoup([...kept, r.dir], out);
    const soupF1 = await f1(out);
    const keep = soupF1 >= best;
    if (keep) {
      kept.push(r.dir);
      best = soupF1;
    }
    steps.push({ ...r, kept: keep, soupF1 });
    log(`greedy soup: ${r.dir} (F1 ${r.f1.toFixed(4)}) → soup F1 ${soupF1.toFixed(4)}: ${keep ? "kept" : "left out"}`);
  }
  await writeSoup(kept, out);
  writeJsonAtomic(path.join(out, "soup.json"), { kind: "greedy", ingredients: kept, steps });
  return { out, ingredients: kept, steps };
}

/** The models of an ensemble, checked to be single-label classifiers over the same labels in the same order. */
function checkEnsemble(models: readonly Trained[]): string[] {
  if (models.length === 0) throw new Error("an ensemble needs at least one model");
  const labels = models[0].model.labels;
  for (const t of models) {
    if (isMultiLabelModel(t.model)) throw new Error(`${t.dir} is multi-label: ensembles average single-label models`);
    if (t.model.labels.join("\u0000") !== labels.join("\u0000"))
      throw new Error(`${t.dir} has labels ${JSON.stringify(t.model.labels)}, not ${JSON.stringify(labels)}`);
  }
  return labels;
}

/** The ensemble's probabilities: the element-wise mean of several models' [rows, classes] tables. */
export function meanProbabilities(tables: readonly number[][][]): number[][] {
  return tables[0].map((row, i) => row.map((_, c) => tables.reduce((s, t) => s + t[i][c], 0) / tables.length));
}

/** Scores a set with the mean of the models' probabilities (loss: the mean negative log of it at the true label). */
export function ensembleEvaluate(
  models: readonly Trained[],
  set: TextSet,
  part: Part,
  opts: EvaluateSetOptions = {},
): Evaluation {
  const labels = checkEnsemble(models);
  const probabilities = meanProbabilities(
    models.map((t) => evaluateSet(t.model, t.tokenizer, set, part, opts).probabilities),
  );
  const yTrue = labelIds(set, part, labels);
  const predictions = probabilities.map(argmax);
  const loss = -yTrue.reduce((s, y, i) => s + Math.log(Math.max(probabilities[i][y], 1e-12)), 0) / yTrue.length;
  return { metrics: scoreAll(yTrue, predictions, labels, loss), predictions, probabilities };
}

/** Labels new texts with the mean of the models' probabilities. */
export function ensemblePredict(
  models: readonly Trained[],
  texts: readonly string[],
  opts: { maxLength?: number; batchSize?: number } = {},
): Prediction[] {
  const labels = checkEnsemble(models);
  const each = models.map((t) => predict(t.model, t.tokenizer, [...texts], opts));
  return texts.map((text, i) => {
    const mean = (l: string) => each.reduce((s, p) => s + p[i].probabilities[l], 0) / each.length;
    const probabilities = Object.fromEntries(labels.map((l) => [l, mean(l)]));
    const label = labels.reduce((a, b) => (probabilities[b] > probabilities[a] ? b : a));
    return { text, label, probabilities };
  });
}
