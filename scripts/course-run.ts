/**
 * The course run, measured: fine-tune the default model (MiniLM) on the course split of SMILE
 * with DEFAULT_CONFIG (override any field with the CLI's flags, e.g. --lr 5e-5 --epochs 3) and
 * write runs/course/ (metrics.json, charts.html, checkpoints). Prints weighted and macro F1,
 * per-class accuracy and the wall time.
 *
 *   npx tsx scripts/course-run.ts [--run-dir runs/course] [--force] [--lr 1e-4 ...]
 *
 * --force replaces an earlier run in the same folder (otherwise it is refused, as train() does).
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { initBackend } from "../lib/runtime/backend";
import { configFromFlags, configFlagOptions } from "../lib/cli/flags";
import { loadTrainData } from "../lib/data/data";
import { RUNS_DIR } from "../lib/core/paths";
import { train } from "../lib/train/train";
import { cliReporter } from "../lib/view/progress";
import { accuracyLines } from "../lib/eval/metrics";

async function main() {
  const options: Record<string, { type: "string" | "boolean" }> = {
    "run-dir": { type: "string" },
    force: { type: "boolean" },
    ...configFlagOptions(),
  };
  const { values } = parseArgs({ args: process.argv.slice(2), options, strict: true });
  const cfg = configFromFlags(values as Record<string, string>);
  const runDir = path.resolve(String(values["run-dir"] ?? path.join(RUNS_DIR, "course")));
  if (values.force) fs.rmSync(runDir, { recursive: true, force: true });
  const backend = await initBackend();
  const data = loadTrainData({}, cfg); // the course's SMILE split (single-label)
  console.log(
    `backend ${backend.name} · ${data.train.texts.length} training / ${data.validation.texts.length} validation tweets · config ${
      JSON.stringify(cfg)
    }`,
  );
  const t0 = Date.now();
  const run = await train(cfg, { data, runDir, onProgress: cliReporter(), log: (l) => console.log(l) });
  const seconds = (Date.now() - t0) / 1000;
  const last = run.history[run.history.length - 1].validation;
  console.log(
    `\nvalidation after ${run.history.length} epochs: F1 weighted ${last.f1Weighted.toFixed(4)} · F1 macro ${
      last.f1Macro.toFixed(4)
    } · accuracy ${last.accuracy.toFixed(4)}`,
  );
  accuracyLines(last.perClass).forEach((l) => console.log("  " + l));
  console.log(`per epoch F1 weighted: ${run.history.map((h) => h.validation.f1Weighted.toFixed(4)).join(", ")}`);
  console.log(
    `wall time ${seconds.toFixed(1)} s (model load, tokenize, train, evaluate, checkpoints) → ${runDir}/metrics.json`,
  );
  run.model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
