/**
 * `bertlab cv`: stratified k-fold cross-validation of one training recipe (every training flag applies to every
 * fold), and `bertlab cv --compare A.json B.json`, the paired comparison of two runs on the same folds. The work is
 * lib/analysis/cv_run.ts and lib/analysis/cv.ts; this file reads the flags and prints. Guide:
 * docs/guides/cross-validation.md.
 *
 *   npx bertlab cv --folds 5 --repeats 1 --seed 17 --run-dir runs/cv-course
 *   // backend tensorflow · 1481 rows (SMILE course data (single-label, no nocode)) · 5 folds × 1 repeat · labels …
 *   // fold 1 of 5 (repeat 1, fold 1): training on 1184 rows, scoring 297
 *   // [fold 1/5] training: 8 epochs × 37 steps
 */
import * as path from "path";
import { writeJsonAtomic } from "../core/fsutil";
import { initBackend } from "../runtime/backend";
import { readSet, textSet } from "../data/data";
import { cliReporter } from "../view/progress";
import { compareCv } from "../analysis/cv";
import { runCv, cvCourseData, readCvFile, CvData } from "../analysis/cv_run";
import { cvLines, comparisonLines } from "../analysis/cv_report";
import { Values, configFromFlags, dataSource, flagsOf, parseFlags, runDirFlag, sharedFlags } from "./flags";

export const CV_HELP = `bertlab cv — stratified k-fold cross-validation: each tweet scored by a model that never saw it

Usage:
  bertlab cv [--csv FILE --text-column C --label-column C [--id-column C]] [--folds 5] [--repeats 1] [--seed 17]
             [--members 1] [--run-dir DIR] [--resume] [--resamples 1000] [any training flag of bertlab --help]
  bertlab cv --compare A/cv.json B/cv.json [--resamples 1000] [--out FILE]

  --folds K        folds per repeat (default 5); every class needs at least K rows
  --repeats R      repeats with fresh folds (scikit-learn's RepeatedStratifiedKFold; default 1)
  --seed S         seeds the folds, the bootstrap and every fold's training (default 17)
  --members N      train N models per fold (seeds S … S+N−1): cv.json scores their ensemble (mean probabilities),
                   soup/cv.json the uniform soup of their weights, member-1/cv.json the first alone (default 1)
  --run-dir DIR    fold-<repeat>-<fold>.json per finished fold, then cv.json and report.html (default runs/cv-<seed>)
  --resume         skip the folds already finished in --run-dir
  --resamples B    bootstrap resamples of the tweets for the 95% intervals (default 1000)
  --compare A B    two cv.json files of runs on the same folds: the difference A − B with a paired bootstrap
                   interval and p-value, and the paired t-test over the per-fold scores
  --out FILE       --compare: also write the comparison as JSON

Without --csv: SMILE's 1,481 single-label course tweets. A fold keeps the model after its last epoch; with
--select-metric or --early-stopping-patience it selects on an inner split of its training rows, never on the
fold it scores.`;

export const CV_FLAGS = {
  ...flagsOf("string", ["folds", "repeats", "members", "resamples", "out", "run-dir"]),
  ...flagsOf("boolean", ["compare", "resume", "help"]),
};

const out = (s: string) => process.stdout.write(s + "\n");

function count(v: unknown, flag: string, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isInteger(n) || n < min)
    throw new Error(`--${flag} wants a whole number >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** The rows to fold: SMILE's course tweets, or every row of --csv. */
function cvData(values: Values): CvData {
  const src = dataSource(values);
  if (src.multiLabel) {
    throw new Error(
      "multi-label cross-validation is not supported yet: bertlab cv folds single-label data "
        + "(lib/data/split.ts's multilabelStratifiedKFold gives the folds, but the pooled report is single-label)",
    );
  }
  if (src.trainCsv || src.validationCsv || src.testCsv)
    throw new Error("bertlab cv folds one file: give it as --csv FILE (the folds are its validation parts)");
  if (!src.csv) return cvCourseData();
  const set = textSet(readSet(src.csv, src), src.csv);
  return { rows: set, labels: [...new Set(set.labels)].sort(), source: src.csv };
}

export async function cvMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { ...sharedFlags(), ...CV_FLAGS });
  if (values.help) {
    out(CV_HELP);
    return 0;
  }
  const resamples = count(values.resamples, "resamples", 1000, 1);
  const cfg = configFromFlags(values);
  if (values.compare) {
    if (positionals.length !== 2) throw new Error(`--compare wants two cv.json files, got ${positionals.length}`);
    const names = positionals.map((p) => path.basename(path.dirname(path.resolve(p))) || p) as [string, string];
    if (names[0] === names[1]) names.splice(0, 2, ...(positionals as [string, string]));
    const [a, b] = positionals.map(readCvFile);
    const c = compareCv(a, b, { resamples, seed: a.seed, names });
    comparisonLines(c, names).forEach(out);
    if (typeof values.out === "string") {
      writeJsonAtomic(values.out, { a: positionals[0], b: positionals[1], ...c });
      out(`comparison → ${values.out}`);
    }
    return 0;
  }
  if (positionals.length)
    throw new Error(`bertlab cv takes no texts (got ${JSON.stringify(positionals[0])}): see bertlab cv --help`);
  const k = count(values.folds, "folds", 5, 2);
  const repeats = count(values.repeats, "repeats", 1, 1);
  const members = count(values.members, "members", 1, 1);
  const runDir = runDirFlag(values, "cv", cfg.seed);
  const data = cvData(values);
  let label = "";
  const stream = {
    isTTY: process.stderr.isTTY,
    // each progress line names its fold, after the terminal's "return, clear line" (ESC [K) when it redraws itself
    // eslint-disable-next-line no-control-regex
    write: (s: string) => process.stderr.write(s.replace(/^(\r\x1b\[K)?/, (m) => `${m}${label}`)),
  } as unknown as NodeJS.WriteStream;
  const backend = await initBackend();
  const plan = `${k} folds × ${repeats} repeat${repeats > 1 ? "s" : ""}`;
  const rows = `${data.rows.texts.length} rows (${data.source})`;
  process.stderr.write(`backend ${backend.name} · ${rows} · ${plan} · labels ${data.labels.join(", ")}\n`);
  const t0 = Date.now();
  const cv = await runCv(cfg, {
    data,
    k,
    repeats,
    members,
    seed: cfg.seed,
    runDir,
    resume: Boolean(values.resume),
    resamples,
    onFold: (f, skipped) => {
      label = `[fold ${f.index}/${f.total}] `;
      process.stderr.write(
        `fold ${f.index} of ${f.total} (repeat ${f.repeat}, fold ${f.fold}): `
          + (skipped ? "finished before, skipped\n" : `training on ${f.trainRows} rows, scoring ${f.heldOut}\n`),
      );
      return skipped ? undefined : cliReporter(stream);
    },
    log: (l) => process.stderr.write(l + "\n"),
  });
  if (members > 1) {
    for (const [what, sub] of [["one model (the first)", "member-1"], ["the soup", "soup"]]) {
      out(`${what}, ${path.join(runDir, sub, "cv.json")}:`);
      cvLines(readCvFile(path.join(runDir, sub, "cv.json"))).slice(0, 1).forEach((l) => out(`  ${l}`));
    }
    out(`the ensemble of ${members}, ${path.join(runDir, "cv.json")}:`);
  }
  cvLines(cv).forEach(out);
  out(`this session ${((Date.now() - t0) / 60000).toFixed(1)} min · cv.json and report.html → ${runDir}`);
  return 0;
}
