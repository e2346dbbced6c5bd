/**
 * Training once per (variant, seed) and summarising the spread: how notebook 07 and scripts/imbalance-sweep.ts compare
 * imbalance remedies on SMILE, and `bertlab sweep` charts one config's spread over seeds. Each seed gets its own
 * stratified split, sampler order, dropout masks and head, so the spread is what luck alone moves.
 *
 *   const runs = await sweep({ plain: {}, "weighted loss": { classWeights: "balanced" } }, [1, 2, 3], base);
 *   summarise(runs)[0]
 *   // { variant: "plain", runs: 3, f1Macro: { mean, sd }, f1Weighted: { mean, sd },
 *   //   recall: { happy: { mean, sd }, … }, … }
 */
import { argmax, meanSd, MeanSd } from "../core/stats";
import * as fs from "fs";
import { TrainConfig, DEFAULT_CONFIG } from "../config/config";
import { train, TrainResult } from "./train";
import { loadTrainData, DataSource } from "../data/data";
import { ProgressEvent } from "../view/progress";
import { scoreAll } from "../eval/metrics";
import { plotText } from "../view/plot";
import { evaluateSet, labelIds } from "../eval/evaluate";
import { logitOffsets } from "./imbalance";

/** One finished run: its last epoch's validation numbers, and the epoch macro F1 liked best. */
export interface SweepRun {
  variant: string;
  seed: number;
  /** Validation per class (multi-label: per label) at the last epoch: how many there were and the recall. */
  validationCounts: Record<string, number>;
  /** The last epoch's validation numbers (multi-label: `accuracy` is the subset accuracy, every label right). */
  last: { epoch: number; f1Macro: number; f1Weighted: number; accuracy: number; recall: Record<string, number> };
  /**
   * The epoch with the highest validation macro F1 and its numbers: optimistic, because the
   * same validation set chose it (what --select-metric f1_macro would keep).
   */
  bestByF1Macro: { epoch: number; f1Macro: number; f1Weighted: number };
  seconds: number;
  /**
   * The kept model's validation log-probabilities (5 significant digits), their label ids, and log(class frequency)
   * in training: enough to score any post-hoc τ without training again (`posthocCurve`). Absent for multi-label runs,
   * `logProbs: false` and runs saved before it existed.
   */
  validation?: { labelIds: number[]; logProbs: number[][]; logPrior: number[] };
}

function record(variant: string, seed: number, r: TrainResult, validation?: SweepRun["validation"]): SweepRun {
  const { history, seconds } = r;
  const last = history[history.length - 1];
  const best = history.reduce((b, h) => (h.validation.f1Macro > b.validation.f1Macro ? h : b));
  const v = last.validation;
  const classes = "classes" in v ? v.classes : v.labels;
  return {
    variant,
    seed,
    seconds,
    validationCounts: Object.fromEntries(classes.map((c) => [c.label, c.support])),
    last: {
      epoch: last.epoch,
      f1Macro: v.f1Macro,
      f1Weighted: v.f1Weighted,
      accuracy: "accuracy" in v ? v.accuracy : v.subsetAccuracy,
      recall: Object.fromEntries(classes.map((c) => [c.label, c.recall])),
    },
    bestByF1Macro: { epoch: best.epoch, f1Macro: best.validation.f1Macro, f1Weighted: best.validation.f1Weighted },
    ...(validation ? { validation } : {}),
  };
}

export interface SweepOptions {
  /** The data (default: the SMILE course data, split by each seed). */
  source?: DataSource;
  /** Each run's folder for its checkpoints, metrics.json and charts.html (default: nothing written). */
  runDir?: (variant: string, seed: number) => string;
  /** Continue each run from the last complete checkpoint in its `runDir`. */
  resume?: boolean;
  /** Keep single-label runs' validation log-probabilities (`SweepRun.validation`, for posthocCurve); default true. */
  logProbs?: boolean;
  onProgress?: (variant: string, seed: number) => ((e: ProgressEvent) => void) | undefined;
  /** Called after each run (e.g. to save partial results). */
  onRun?: (run: SweepRun) => void;
  /** Keep this run's model (and tokenizer) for a closer look; every other model is freed. */
  keep?: { variant: string; seed: number };
  /** A run already done (e.g. read back from a results file) is not trained again. */
  done?: readonly SweepRun[];
}

/** Trains every variant (config overrides of `base`) with every seed, in order; returns the runs. */
export async function sweep(
  variants: Record<string, Partial<TrainConfig>>,
  seeds: readonly number[],
  base: TrainConfig = DEFAULT_CONFIG,
  opts: SweepOptions = {},
): Promise<{ runs: SweepRun[]; kept?: Pick<TrainResult, "model" | "tokenizer"> }> {
  const runs: SweepRun[] = [];
  let kept: Pick<TrainResult, "model" | "tokenizer"> | undefined;
  for (const [variant, overrides] of Object.entries(variants)) {
    for (const seed of seeds) {
      const keep = opts.keep?.variant === variant && opts.keep.seed === seed;
      const done = opts.done?.find((r) => r.variant === variant && r.seed === seed);
      if (done && !keep) {
        runs.push(done);
        continue;
      }
      const cfg = { ...base, ...overrides, seed };
      const data = loadTrainData(opts.source ?? {}, { validationSize: cfg.validationSize, seed });
      const r = await train(cfg, {
        data,
        runDir: opts.runDir?.(variant, seed),
        resume: opts.resume,
        onProgress: opts.onProgress?.(variant, seed),
        log: () => {},
      });
      let validation: SweepRun["validation"];
      if (opts.logProbs !== false && !data.multiLabel) {
        const { probabilities } = evaluateSet(r.model, r.tokenizer, data.validation, "validation");
        // float32 probabilities can underflow to 0: its smallest normal number keeps the log finite
        const logProb = (p: number) => Number(Math.log(Math.max(p, 1.2e-38)).toPrecision(5));
        validation = {
          labelIds: labelIds(data.validation, "validation", r.labels),
          logProbs: probabilities.map((row) => row.map(logProb)),
          logPrior: logitOffsets(labelIds(data.train, "train", r.labels), r.labels.length, 1, r.labels),
        };
      }
      const run = record(variant, seed, r, validation);
      runs.push(run);
      opts.onRun?.(run);
      if (keep) kept = { model: r.model, tokenizer: r.tokenizer };
      else r.model.dispose();
    }
  }
  return { runs, kept };
}

/**
 * The runs a results file (scripts/imbalance-sweep.ts's results.json) already holds for config `base`:
 * none when there is no file; an error naming the file when its runs used another config. A config
 * written before a field existed ran with that field's default, so it is read with the defaults filled in.
 */
export function savedRuns(file: string, base: TrainConfig): SweepRun[] {
  if (!fs.existsSync(file)) return [];
  const saved = JSON.parse(fs.readFileSync(file, "utf8")) as { config: Partial<TrainConfig>; runs: SweepRun[] };
  const config = { ...DEFAULT_CONFIG, ...saved.config };
  const differ = (Object.keys(config) as (keyof TrainConfig)[]).filter((k) =>
    JSON.stringify(config[k]) !== JSON.stringify(base[k])
  );
  if (differ.length) throw new Error(`${file} holds runs with another config (${differ.join(", ")} differ)`);
  return saved.runs;
}

export interface VariantSummary {
  variant: string;
  runs: number;
  f1Macro: MeanSd;
  f1Weighted: MeanSd;
  recall: Record<string, MeanSd>;
  /** Optimistic: the epoch each run's validation macro F1 liked best. */
  bestEpochF1Macro: MeanSd;
  bestEpochF1Weighted: MeanSd;
}

/** Mean ± sd per variant (in the order variants first appear), at the last epoch. */
export function summarise(runs: readonly SweepRun[]): VariantSummary[] {
  const variants = [...new Set(runs.map((r) => r.variant))];
  return variants.map((variant) => {
    const rs = runs.filter((r) => r.variant === variant);
    const labels = Object.keys(rs[0].last.recall);
    return {
      variant,
      runs: rs.length,
      f1Macro: meanSd(rs.map((r) => r.last.f1Macro)),
      f1Weighted: meanSd(rs.map((r) => r.last.f1Weighted)),
      recall: Object.fromEntries(labels.map((l) => [l, meanSd(rs.map((r) => r.last.recall[l]))])),
      bestEpochF1Macro: meanSd(rs.map((r) => r.bestByF1Macro.f1Macro)),
      bestEpochF1Weighted: meanSd(rs.map((r) => r.bestByF1Macro.f1Weighted)),
    };
  });
}

/** Grouped bars of per-class recall, mean ± sd over seeds, one colour per variant (for lib/view/plot.ts). */
export function recallFigure(summary: readonly VariantSummary[], title: string): { data: object[]; layout: object } {
  const labels = Object.keys(summary[0].recall);
  return {
    data: summary.map((s) => ({
      type: "bar",
      name: plotText(`${s.variant} (macro F1 ${s.f1Macro.mean.toFixed(3)} ± ${s.f1Macro.sd.toFixed(3)})`),
      x: labels.map(plotText),
      y: labels.map((l) => s.recall[l].mean),
      error_y: { type: "data", array: labels.map((l) => s.recall[l].sd), visible: true },
    })),
    layout: {
      title: { text: plotText(title) },
      barmode: "group",
      height: 380,
      yaxis: { title: { text: "validation recall" }, range: [0, 1.15] },
    },
  };
}

/** Validation F1 weighted and macro at the last epoch, a box each with every run's point (for lib/view/plot.ts). */
export function seedsFigure(runs: readonly SweepRun[]): { data: object[]; layout: object } {
  const text = runs.map((r) => `seed ${r.seed}`);
  return {
    data: [
      { type: "box", name: "F1 weighted", y: runs.map((r) => r.last.f1Weighted), boxpoints: "all", text },
      { type: "box", name: "F1 macro", y: runs.map((r) => r.last.f1Macro), boxpoints: "all", text },
    ],
    layout: { title: { text: `Validation F1 over ${runs.length} seeds` }, yaxis: { range: [0, 1] } },
  };
}

/** A remedy's target: mean macro F1 ≥ 0.60 and mean weighted F1 ≥ 0.86 over the seeds (posthocFigure dots it). */
const TARGET = { f1Macro: 0.6, f1Weighted: 0.86 };
export function meetsFloor(s: VariantSummary): boolean {
  return s.f1Macro.mean >= TARGET.f1Macro && s.f1Weighted.mean >= TARGET.f1Weighted;
}

/** Macro and weighted F1 of one run's validation predictions with post-hoc τ (on top of its own). */
export interface PosthocPoint {
  tau: number;
  f1Macro: MeanSd;
  f1Weighted: MeanSd;
}

/**
 * Post-hoc logit adjustment (lib/train/imbalance.ts) scored at each τ in `taus` from the runs' saved validation
 * log-probabilities: predict argmax(log p − τ·log(class frequency)), mean ± sd over the runs. τ = 0 scores
 * each kept model as it is (the last epoch's numbers, unless the config selects a best epoch). Choosing τ by
 * this curve chooses it on the validation set it scores: optimistic.
 */
export function posthocCurve(runs: readonly SweepRun[], taus: readonly number[]): PosthocPoint[] {
  const withLogits = runs.filter((r) => r.validation);
  if (withLogits.length === 0)
    throw new Error("posthocCurve: no run holds its validation log-probabilities (rerun the sweep)");
  return taus.map((tau) => {
    const scores = withLogits.map((r) => {
      const v = r.validation!, labels = Object.keys(r.last.recall);
      const predicted = v.logProbs.map((row) => {
        return argmax(row.map((lp, k) => lp - tau * v.logPrior[k]));
      });
      return scoreAll(v.labelIds, predicted, labels, NaN);
    });
    return { tau, f1Macro: meanSd(scores.map((m) => m.f1Macro)), f1Weighted: meanSd(scores.map((m) => m.f1Weighted)) };
  });
}

/**
 * Macro and weighted F1 against post-hoc τ, mean ± sd over the runs, with the targets dotted (for lib/view/plot.ts).
 */
export function posthocFigure(curve: readonly PosthocPoint[], title: string): { data: object[]; layout: object } {
  const taus = curve.map((p) => p.tau);
  const line = (name: string, pick: (p: PosthocPoint) => MeanSd) => ({
    type: "scatter",
    mode: "lines+markers",
    name,
    x: taus,
    y: curve.map((p) => pick(p).mean),
    error_y: { type: "data", array: curve.map((p) => pick(p).sd), visible: true },
  });
  const dotted = { type: "line", xref: "paper", x0: 0, x1: 1, line: { dash: "dot", width: 1 } };
  return {
    data: [line("macro F1", (p) => p.f1Macro), line("weighted F1", (p) => p.f1Weighted)],
    layout: {
      title: { text: plotText(title) },
      height: 360,
      shapes: [TARGET.f1Macro, TARGET.f1Weighted].map((y) => ({ ...dotted, y0: y, y1: y })),
      xaxis: { title: { text: "post-hoc τ (0 = the model as trained)" } },
      yaxis: { title: { text: "validation F1" }, range: [0, 1] },
    },
  };
}
