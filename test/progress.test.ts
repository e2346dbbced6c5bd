// Progress lines, ETA, and chart pages that keep lib/view/plot.ts's "plotly.js inlined once" bookkeeping.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import {
  ProgressTracker,
  formatDuration,
  chartsPage,
  runFigures,
  notebookReporter,
  ProgressEvent,
} from "../lib/view/progress";
import { plotHtml, resetPlotly } from "../lib/view/plot";
import { tmpDir } from "./helpers/tmp";

test("durations and ETA", () => {
  assert.deepEqual([formatDuration(42), formatDuration(65), formatDuration(3720)], ["42s", "1m05s", "1h02m"]);
  let now = 0;
  const t = new ProgressTracker(() => now);
  assert.match(t.line({ type: "start", epochs: 2, stepsPerEpoch: 10, startEpoch: 1 })!, /2 epochs × 10 steps/);
  now = 5000; // 5 steps in 5 s → 15 steps left → 15 s
  assert.equal(
    t.line({ type: "step", epoch: 1, step: 5, steps: 10, loss: 0.5, lr: 1e-4, gradNorm: 1 }),
    "epoch 1/2 · step 5/10 · loss 0.500 · lr 1.0e-4 · 5s elapsed · ETA 15s",
  );
  const lines: string[] = [];
  const r = notebookReporter({ log: (l) => lines.push(l), display: null });
  for (let s = 1; s <= 8; s++) r({ type: "step", epoch: 1, step: s, steps: 8, loss: 1, lr: 1, gradNorm: 1 });
  assert.equal(lines.length, 5); // steps 1, 2, 4, 6, 8: a few lines, not one per step
});

test("a chart page carries plotly.js once and leaves the notebook's next chart correct", () => {
  const h = [{ epoch: 1, trainLoss: 1, validation: { loss: 0.9, f1Weighted: 0.7, f1Macro: 0.2 } }];
  resetPlotly();
  const page = chartsPage("run <x>", runFigures(h));
  assert.ok(page.includes("<title>run &lt;x&gt;</title>"));
  assert.ok(page.length > 100_000, "plotly.js is in the page");
  assert.ok(plotHtml({ data: [] }).startsWith("<script>if (!window.Plotly)"), "the notebook still gets its copy");
  const second = chartsPage("again", runFigures(h)); // notebook already has plotly now
  assert.ok(second.length > 100_000, "a later page has its own copy too");
  assert.ok(!plotHtml({ data: [] }).startsWith("<script>"), "and the notebook is not sent a second copy");
});

/** Two epochs of 20 steps, one step every 100 ms of a fake clock. */
function run(report: (e: ProgressEvent) => void, clock: { t: number }): void {
  report({ type: "start", epochs: 2, stepsPerEpoch: 20, startEpoch: 1 });
  for (let epoch = 1; epoch <= 2; epoch++) {
    for (let step = 1; step <= 20; step++) {
      clock.t += 100;
      report({ type: "step", epoch, step, steps: 20, loss: 1 / step, lr: 1e-4, gradNorm: 1 });
    }
    report({ type: "evaluate", epoch });
    report({
      type: "epoch",
      epoch,
      epochs: 2,
      trainLoss: 0.5,
      valLoss: 0.6,
      f1Weighted: 0.8,
      f1Macro: 0.4,
      seconds: 2,
    });
  }
  report({ type: "done", seconds: 4, interrupted: false });
}

test("notebook reporter: one display updated in place, a line for the start and each epoch, all to the file", () => {
  const clock = { t: 0 };
  const shown: string[] = [], lines: string[] = [];
  const file = path.join(tmpDir("progress-"), "progress.log");
  const display = { html: (h: string) => shown.push(h) };
  const log = (l: string) => lines.push(l);
  run(notebookReporter({ log, display, progressFile: file, minIntervalMs: 250, now: () => clock.t }), clock);
  const starts = lines.map((l) => l.split(" ").slice(0, 3).join(" "));
  assert.deepEqual(starts, ["training: 2 epochs", "epoch 1/2 done", "epoch 2/2 done"]);
  // steps every 100 ms, updates at most every 250 ms, plus each epoch's last step, "evaluating" and the end
  assert.ok(shown.length >= 14 && shown.length <= 20, `${shown.length} updates`);
  assert.match(shown[shown.length - 1], /<progress value="40" max="40"[^>]*><\/progress> finished after 4s/);
  assert.ok(shown.some((h) => h.includes("epoch 2/2 · step 20/20")), "the last step shows");
  assert.ok(shown.some((h) => h.includes('<progress value="20" max="40"')), "half way");
  const logged = fs.readFileSync(file, "utf8").trim().split("\n");
  assert.equal(logged.length, 1 + 40 + 2 * 2 + 1, "every line, steps included, goes to the progress file");
});

test("notebook reporter: a display that cannot show (no running cell) falls back to a few printed lines", () => {
  const clock = { t: 0 };
  const lines: string[] = [];
  let tries = 0;
  const broken = {
    html: () => {
      tries++;
      throw new Error("Not ready");
    },
  };
  run(notebookReporter({ log: (l) => lines.push(l), display: broken, now: () => clock.t }), clock);
  assert.equal(tries, 1, "tried once, then printed");
  assert.equal(lines.filter((l) => l.includes(" · step ")).length, 2 * 5, "steps 1, 5, 10, 15 and 20 of each epoch");
  const shown: string[] = [];
  const r = notebookReporter({ display: { html: (h) => shown.push(h) }, log: () => {} });
  r({ type: "start", epochs: 1, stepsPerEpoch: 1, startEpoch: 1 });
  r({ type: "done", seconds: 1, interrupted: true });
  assert.match(shown[0], /<div class="bertlab-progress"[^>]*><progress [^>]*><\/progress> stopped after 1s<\/div>/);
});

test("notebook reporter: a label names the run on every line (a sweep trains many in one cell), escaped in HTML", () => {
  const clock = { t: 0 };
  const shown: string[] = [], lines: string[] = [];
  const file = path.join(tmpDir("progress-"), "progress.log");
  const r = notebookReporter({
    label: "weighted loss, seed 3 <b>",
    log: (l) => lines.push(l),
    display: { html: (h) => shown.push(h) },
    progressFile: file,
    now: () => clock.t,
  });
  run(r, clock);
  assert.match(lines[0], /^weighted loss, seed 3 <b> · training: 2 epochs × 20 steps$/);
  assert.ok(shown.every((h) => h.includes("weighted loss, seed 3 &lt;b&gt; · ")), "every update names the run");
  assert.ok(
    fs.readFileSync(file, "utf8").trim().split("\n").every((l) => l.startsWith("weighted loss, seed 3 <b> · ")),
  );
});
