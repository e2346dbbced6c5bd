/**
 * The imbalance remedies compared: SMILE, 5 seeds (each its own stratified split), DEFAULT_CONFIG,
 * once per remedy; prints mean ± sd of validation macro and weighted F1 and per-class recall at the
 * last epoch, and whether the best remedy reaches the target of mean macro F1 ≥ 0.60 with mean weighted
 * F1 ≥ 0.86. Writes <out>/results.json after every run (rerunning the same command skips the runs
 * already there) and <out>/sweep.html (the recall chart). Notebook 07 trains a smaller sweep and points here.
 *
 *   npm run sweep                                   # 5 remedies × seeds 1..5: the 25 runs
 *   npx tsx scripts/imbalance-sweep.ts --remedies plain,weighted-loss --seeds 1,2,3,4,5 --out runs/imbalance-sweep
 *   npx tsx scripts/imbalance-sweep.ts --epochs 1 --max-steps-per-epoch 2  # a quick look (any config flag works)
 *
 * A full run is 8 epochs of MiniLM per remedy and seed: about 3.4 minutes each on a quiet 2-core machine.
 */
import * as path from "path";
import { parseArgs } from "util";
import { initBackend } from "../lib/runtime/backend";
import { configFromFlags, configFlagOptions } from "../lib/cli/flags";
import { RUNS_DIR } from "../lib/core/paths";
import { TrainConfig } from "../lib/config/config";
import { sweep, summarise, recallFigure, meetsFloor, savedRuns, posthocCurve, SweepRun } from "../lib/train/sweep";
import { writeJsonAtomic, writeFileAtomic } from "../lib/core/fsutil";
import { chartsPage } from "../lib/view/progress";

/** The remedies by name: config overrides (lib/config/config.ts). */
export const REMEDIES: Record<string, Partial<TrainConfig>> = {
  plain: {},
  "weighted-loss": { classWeights: "balanced" },
  oversampling: { sampler: "weighted" },
  focal: { loss: "focal" },
  "logit-adjustment": { logitAdjustment: 1 },
  "posthoc-adjustment": { posthocAdjustment: 1 },
};

/** The remedies `npm run sweep` compares: all but focal loss, which trains on the slower gradient tape. */
const DEFAULT_REMEDIES = ["plain", "weighted-loss", "oversampling", "logit-adjustment", "posthoc-adjustment"];

async function main() {
  const options = {
    remedies: { type: "string" },
    seeds: { type: "string" },
    out: { type: "string" },
    ...configFlagOptions(),
  } as const;
  const { values } = parseArgs({ args: process.argv.slice(2), options, strict: true });
  const base = configFromFlags(values as Record<string, string>);
  const names = String(values.remedies ?? DEFAULT_REMEDIES.join(",")).split(",");
  for (const n of names) {
    const known = Object.keys(REMEDIES).join(", ");
    if (!REMEDIES[n]) throw new Error(`--remedies: unknown remedy ${JSON.stringify(n)}; known: ${known}`);
  }
  const seeds = String(values.seeds ?? "1,2,3,4,5").split(",").map(Number);
  if (seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new Error(`--seeds wants integers like 1,2,3, got ${JSON.stringify(values.seeds)}`);
  }
  const out = path.resolve(String(values.out ?? path.join(RUNS_DIR, "imbalance-sweep")));
  const resultsFile = path.join(out, "results.json");
  let runs: SweepRun[];
  try {
    runs = savedRuns(resultsFile, base);
  } catch (e) {
    throw new Error(`${(e as Error).message}: choose another --out`, { cause: e });
  }

  const backend = await initBackend();
  console.log(
    `backend ${backend.name} · remedies ${names.join(", ")} · seeds ${seeds.join(",")}`
      + ` · ${runs.length} runs already in ${resultsFile}`,
  );
  const t0 = Date.now();
  await sweep(Object.fromEntries(names.map((n) => [n, REMEDIES[n]])), seeds, base, {
    done: runs,
    onRun: (r) => {
      runs.push(r);
      writeJsonAtomic(resultsFile, { config: base, runs });
      const { f1Macro, f1Weighted } = r.last;
      console.log(
        `${r.variant} seed ${r.seed}: macro F1 ${f1Macro.toFixed(4)} · weighted F1 ${f1Weighted.toFixed(4)}`
          + ` · ${r.seconds.toFixed(0)} s`,
      );
    },
  });
  const summary = summarise(runs.filter((r) => names.includes(r.variant) && seeds.includes(r.seed)));
  writeJsonAtomic(resultsFile, { config: base, runs, summary });
  const figure = recallFigure(summary, `Validation recall per class, mean ± sd over seeds ${seeds.join(",")}`);
  writeFileAtomic(path.join(out, "sweep.html"), chartsPage("Imbalance remedies on SMILE", [figure]));
  const fmt = (m: { mean: number; sd: number }) => `${m.mean.toFixed(4)} ± ${m.sd.toFixed(4)}`;
  const minutes = ((Date.now() - t0) / 60000).toFixed(1);
  console.log(`\nlast epoch, validation, over seeds ${seeds.join(",")} (${minutes} min):`);
  for (const s of summary) {
    const pad = "".padEnd(14);
    console.log(
      `  ${s.variant.padEnd(14)} macro F1 ${fmt(s.f1Macro)} · weighted F1 ${fmt(s.f1Weighted)}`
        + ` · ${meetsFloor(s) ? "meets" : "misses"} the target (0.60 / 0.86)`,
    );
    const recall = Object.entries(s.recall).map(([l, m]) => `${l} ${m.mean.toFixed(2)}`).join(" · ");
    console.log(`  ${pad} recall ${recall}`);
    console.log(
      `  ${pad} (optimistic, epoch chosen by validation macro F1: ${fmt(s.bestEpochF1Macro)}`
        + ` / ${fmt(s.bestEpochF1Weighted)})`,
    );
  }
  // Post-hoc τ scored on the saved validation log-probabilities: what each τ would have done, no training.
  const taus = [0, 0.5, 1, 1.5, 2, 2.5, 3];
  for (const variant of names) {
    const rs = runs.filter((r) => r.variant === variant && seeds.includes(r.seed) && r.validation);
    if (rs.length === 0) continue;
    const curve = posthocCurve(rs, taus).map((p) => `τ ${p.tau}: ${fmt(p.f1Macro)} / ${p.f1Weighted.mean.toFixed(3)}`);
    console.log(
      `  ${variant} + post-hoc τ (macro F1 / weighted F1, ${rs.length} runs, chosen on validation: optimistic):`,
    );
    console.log(`    ${curve.join(" · ")}`);
  }
  const best = [...summary].sort((a, b) => b.f1Macro.mean - a.f1Macro.mean)[0];
  console.log(
    `best remedy by mean macro F1: ${best.variant}; target ${meetsFloor(best) ? "MET" : "NOT MET"}`
      + ` → ${resultsFile}`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
