/**
 * Cross-validation run fold by fold: for each repeat and fold, train() with one TrainConfig on the other folds,
 * then score the held-out fold, so every row gets one out-of-fold prediction per repeat. Each finished fold is
 * written atomically to RUN_DIR/fold-<repeat>-<fold>.json (1-based) and `resume` skips the folds already there, so a
 * run killed during a fold and resumed gives the same cv.json as one left alone (test/cv.test.ts kills one).
 * At the end: cv.json (the out-of-fold predictions and lib/analysis/cv.ts's pooled report) and report.html.
 *
 *   const r = await runCv(DEFAULT_CONFIG, { data: cvCourseData(), k: 5, repeats: 1, seed: 17, runDir: "runs/cv-17" });
 *   r.report.f1Macro   // { value, ci95: [low, high] }: SMILE's, measured, in docs/guides/cross-validation.md
 *
 * Model selection would leak if it looked at the held-out fold. Without a selectMetric (the course recipe) a fold
 * keeps the model after its last epoch, and the held-out fold is train()'s validation set only to show each epoch's
 * numbers on it (they choose nothing). With a selectMetric or early stopping, each fold splits its training rows
 * again (stratified, validationSize, the config's seed) and selects on that inner validation part.
 *
 * With `members` n > 1 each fold trains n models from the same start (seeds seed … seed + n − 1) and is scored by
 * their ensemble (the mean of their probabilities). The run also pools the uniform soup of the n models' weights
 * (soup/cv.json) and the first model alone (member-1/cv.json, the recipe as one model), so `bertlab cv --compare`
 * measures both on the same folds without another run.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { TrainConfig, DEFAULT_CONFIG, validateConfig } from "../config/config";
import { writeJsonAtomic, writeFileAtomic } from "../core/fsutil";
import { argmax } from "../core/stats";
import { repeatedStratifiedKFold, stratifiedSplit } from "../data/split";
import { filterForCourse, labelDict, labelNames, loadSmile } from "../data/smile";
import { TextSet } from "../data/data";
import { TokenizerLike } from "../data/tokenize";
import { BertForSequenceClassification } from "../model/bert";
import { evaluateSet } from "../eval/evaluate";
import { meanProbabilities } from "../eval/soup";
import { ProgressEvent } from "../view/progress";
import { train } from "../train/train";
import { cvReport, CvFile, OutOfFold } from "./cv";
import { cvPage } from "./cv_report";

/** The rows cross-validation folds: every text with its label and id, and the label names in id order. */
export interface CvData {
  rows: TextSet;
  labels: string[];
  /** Where the rows came from, for the report ("SMILE course data", a file name). */
  source: string;
}

/** SMILE's 1,481 single-label course tweets, labels in the course's order. */
export function cvCourseData(file?: string): CvData {
  const rows = filterForCourse(loadSmile(file));
  return {
    rows: { texts: rows.map((r) => r.text), labels: rows.map((r) => r.category), ids: rows.map((r) => r.id) },
    labels: labelNames(labelDict(rows)),
    source: "SMILE course data (single-label, no nocode)",
  };
}

/** Which fold is starting (1-based), and how many rows it trains on and scores. */
export interface FoldInfo {
  index: number;
  total: number;
  repeat: number;
  fold: number;
  trainRows: number;
  heldOut: number;
}

export interface CvOptions {
  data: CvData;
  k: number;
  repeats: number;
  /** Seeds the folds (RepeatedStratifiedKFold's random_state) and the bootstrap. */
  seed: number;
  runDir: string;
  resume?: boolean;
  /** Models trained per fold, scored as an ensemble and a soup (default 1: one model). See the file comment. */
  members?: number;
  /** B for the bootstrap intervals (default 1000). */
  resamples?: number;
  /** A fresh model per fold (e.g. randomBert in tests); otherwise config.model is loaded for each fold. */
  model?: () => BertForSequenceClassification;
  tokenizer?: TokenizerLike;
  /** Called as each fold starts (also for folds a resume skips, with skipped true); returns its progress listener. */
  onFold?: (f: FoldInfo, skipped: boolean) => ((e: ProgressEvent) => void) | undefined;
  log?: (line: string) => void;
}

/** One fold's file: which rows it held out and what the model trained without them said about them. */
export interface FoldResult {
  repeat: number;
  fold: number;
  /** Row positions held out, in file order. */
  rows: number[];
  ids: string[];
  predictions: number[];
  probabilities: number[][];
  /** Training loss per epoch, and the epoch whose weights scored the fold. */
  trainLoss: number[];
  epoch: number;
  /** Inner validation rows when the config selects an epoch (0: no selection). */
  innerValidation: number;
  seconds: number;
  /** With members > 1: each model's probabilities (predictions and probabilities above are their ensemble's)… */
  members?: number[][][];
  /** …and the probabilities of the uniform soup of their weights. */
  soup?: number[][];
}

const PLAN = "cv-run.json";
export const foldFile = (runDir: string, repeat: number, fold: number) =>
  path.join(runDir, `fold-${repeat + 1}-${fold + 1}.json`);

/** Runs (or resumes) the folds, then writes cv.json and report.html. See the file comment. */
export async function runCv(config: TrainConfig, opts: CvOptions): Promise<CvFile> {
  const cfg = validateConfig({ ...DEFAULT_CONFIG, ...config, logSamples: 0 });
  const { data, k, repeats, seed, runDir } = opts;
  const labelOf = new Map(data.labels.map((l, i) => [l, i]));
  const yTrue = data.rows.labels.map((l, i) => {
    const y = labelOf.get(l);
    if (y === undefined) {
      const known = data.labels.join(", ");
      throw new Error(`row ${i} (id ${data.rows.ids?.[i]}): label ${JSON.stringify(l)} is not in ${known}`);
    }
    return y;
  });
  const ids = data.rows.ids ?? data.rows.texts.map((_, i) => String(i));
  if (new Set(ids).size !== ids.length)
    throw new Error(`${data.source}: row ids repeat; a comparison matches rows by id`);
  let folds: number[][];
  try {
    folds = repeatedStratifiedKFold(data.rows.labels, k, repeats, seed);
  } catch (e) { // name the data: too many folds for a class, or fewer rows than folds
    throw new Error(`${data.source} (${ids.length} rows): ${(e as Error).message}`, { cause: e });
  }

  // 1) The run folder: its plan, refused if it holds another run, or if resuming a different one.
  // (not the source's name: the same file may be named another way when resuming; its rows are what count)
  const members = opts.members ?? 1;
  const log = opts.log ?? (() => {});
  if (!Number.isInteger(members) || members < 1) throw new Error(`members wants a whole number >= 1, got ${members}`);
  // (members only when > 1, so that runs saved before it existed still resume)
  const plan = { seed, k, repeats, ...(members > 1 ? { members } : {}), config: cfg, labels: data.labels, ids, yTrue };
  const planFile = path.join(runDir, PLAN);
  if (fs.existsSync(planFile)) {
    if (!opts.resume) {
      throw new Error(
        `${runDir} already holds a cross-validation run: ` + "resume it with --resume, or choose another --run-dir",
      );
    }
    const saved = JSON.parse(fs.readFileSync(planFile, "utf8")) as Record<string, unknown>;
    const differ = Object.keys(plan).filter((key) =>
      JSON.stringify(saved[key]) !== JSON.stringify(plan[key as keyof typeof plan])
    );
    if (differ.length) {
      throw new Error(
        `${runDir} holds a cross-validation run with other settings (${differ.join(", ")} differ): `
          + "resume it with the same ones",
      );
    }
  } else {
    if (opts.resume && fs.existsSync(runDir) && fs.readdirSync(runDir).some((f) => f.startsWith("fold-")))
      throw new Error(`${runDir} has fold files but no ${PLAN}: not a run to resume`);
    writeJsonAtomic(planFile, plan);
  }

  // 2) Each repeat and fold: train on the others, score it (a finished fold's file is read back instead).
  const set = (idx: readonly number[]): TextSet => ({
    texts: idx.map((i) => data.rows.texts[i]),
    labels: idx.map((i) => data.rows.labels[i]),
    ids: idx.map((i) => ids[i]),
  });
  const selects = cfg.selectMetric !== "none" || cfg.earlyStoppingPatience > 0;
  const evalOpts = { maxLength: cfg.maxLength, batchSize: cfg.evalBatchSize };
  const results: FoldResult[] = [];
  for (let r = 0; r < repeats; r++) {
    for (let f = 0; f < k; f++) {
      const held = folds[r].flatMap((x, i) => (x === f ? [i] : []));
      const rest = folds[r].flatMap((x, i) => (x !== f ? [i] : []));
      const info: FoldInfo = {
        index: r * k + f + 1,
        total: k * repeats,
        repeat: r + 1,
        fold: f + 1,
        trainRows: rest.length,
        heldOut: held.length,
      };
      const file = foldFile(runDir, r, f);
      if (opts.resume && fs.existsSync(file)) {
        const done = JSON.parse(fs.readFileSync(file, "utf8")) as FoldResult;
        if (JSON.stringify(done.rows) !== JSON.stringify(held))
          throw new Error(`${file} holds other rows than fold ${f + 1} of repeat ${r + 1}`);
        opts.onFold?.(info, true);
        results.push(done);
        continue;
      }
      const onProgress = opts.onFold?.(info, false);
      const t0 = Date.now();
      let trainLoss: number[] = [];
      let epoch = 0;
      const inner = selects
        ? stratifiedSplit(rest, rest.map((i) => yTrue[i]), { validationSize: cfg.validationSize, seed: cfg.seed })
        : { trainFileOrder: rest, validationFileOrder: held };
      const scored: number[][][] = [];
      const sum = new Map<string, tf.Tensor>(); // the members' weights, summed for the soup
      let soup: number[][] | undefined;
      for (let m = 0; m < members; m++) {
        if (members > 1) log(`model ${m + 1} of ${members} (seed ${cfg.seed + m})`);
        const run = await train(m ? { ...cfg, seed: cfg.seed + m } : cfg, {
          data: { train: set(inner.trainFileOrder), validation: set(inner.validationFileOrder), labels: data.labels },
          model: opts.model?.(),
          tokenizer: opts.tokenizer,
          onProgress,
          log,
        });
        try {
          scored.push(evaluateSet(run.model, run.tokenizer, set(held), "validation", evalOpts).probabilities);
          if (m === 0) {
            trainLoss = run.history.map((h) => h.trainLoss);
            epoch = run.best?.epoch ?? run.history[run.history.length - 1].epoch;
          }
          if (members > 1) {
            for (const [name, w] of run.model.params) {
              const old = sum.get(name);
              sum.set(name, old ? tf.add(old, w) : tf.clone(w));
              old?.dispose();
            }
          }
          if (members > 1 && m === members - 1) {
            tf.tidy(() => {
              for (const [name, w] of run.model.params) w.assign(sum.get(name)!.div(members));
            });
            soup = evaluateSet(run.model, run.tokenizer, set(held), "validation", evalOpts).probabilities;
          }
        } finally {
          run.model.dispose();
          if (m === members - 1) tf.dispose([...sum.values()]);
        }
      }
      const probabilities = members > 1 ? meanProbabilities(scored) : scored[0];
      results.push({
        repeat: r + 1,
        fold: f + 1,
        rows: held,
        ids: held.map((i) => ids[i]),
        predictions: probabilities.map(argmax),
        probabilities,
        trainLoss,
        epoch,
        innerValidation: selects ? inner.validationFileOrder.length : 0,
        seconds: (Date.now() - t0) / 1000,
        ...(members > 1 ? { members: scored, soup } : {}),
      });
      writeJsonAtomic(file, results[results.length - 1]);
    }
  }

  // 3) Pool every fold's predictions into cv.json and report.html (with members, also the soup's and one model's).
  const pool = (dir: string, scores: (res: FoldResult) => number[][]) => {
    const predictions = folds.map(() => new Array<number>(ids.length).fill(-1));
    for (const res of results) {
      const p = scores(res);
      res.rows.forEach((i, j) => {
        predictions[res.repeat - 1][i] = argmax(p[j]);
      });
    }
    const oof: OutOfFold = { labels: data.labels, ids, yTrue, folds, predictions };
    const report = cvReport(oof, { resamples: opts.resamples ?? 1000, seed });
    const out: CvFile = {
      kind: "bertlab-cv",
      seed,
      k,
      repeats,
      source: data.source,
      config: cfg,
      ...oof,
      report,
      seconds: results.reduce((a, x) => a + x.seconds, 0),
    };
    writeJsonAtomic(path.join(dir, "cv.json"), out);
    try {
      writeFileAtomic(path.join(dir, "report.html"), cvPage(out));
    } catch (e) { // the page is a convenience: cv.json holds everything
      process.stderr.write(`warning: ${dir}/report.html not written: ${(e as Error).message.split("\n")[0]}\n`);
    }
    return out;
  };
  if (members > 1) {
    pool(path.join(runDir, "soup"), (res) => res.soup!);
    pool(path.join(runDir, "member-1"), (res) => res.members![0]);
  }
  return pool(runDir, (res) => res.probabilities);
}

/** Reads a cv.json for a comparison; an error names the file and what is missing. */
export function readCvFile(file: string): CvFile {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file (give the cv.json of a bertlab cv run)`);
  let cv: CvFile;
  try {
    cv = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`, { cause: e });
  }
  if (cv?.kind !== "bertlab-cv") throw new Error(`${file}: not a bertlab cv result (cv.json of a bertlab cv run)`);
  for (const key of ["seed", "k", "repeats", "labels", "ids", "yTrue", "folds", "predictions"] as const) {
    if (cv[key] === undefined) throw new Error(`${file}: ${key} is missing`);
  }
  return cv;
}
