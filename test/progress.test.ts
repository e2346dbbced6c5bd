// Progress lines, ETA, and chart pages that keep lib/plot.ts's "plotly.js inlined once" bookkeeping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProgressTracker, formatDuration, chartsPage, runFigures, notebookReporter } from "../lib/progress";
import { plotHtml, resetPlotly } from "../lib/plot";

test("durations and ETA", () => {
  assert.deepEqual([formatDuration(42), formatDuration(65), formatDuration(3720)], ["42s", "1m05s", "1h02m"]);
  let now = 0;
  const t = new ProgressTracker(() => now);
  assert.match(t.line({ type: "start", epochs: 2, stepsPerEpoch: 10, startEpoch: 1 })!, /2 epochs × 10 steps/);
  now = 5000; // 5 steps in 5 s → 15 steps left → 15 s
  assert.equal(t.line({ type: "step", epoch: 1, step: 5, steps: 10, loss: 0.5, lr: 1e-4, gradNorm: 1 }),
    "epoch 1/2 · step 5/10 · loss 0.500 · lr 1.0e-4 · 5s elapsed · ETA 15s");
  const lines: string[] = [];
  const r = notebookReporter((l) => lines.push(l));
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
  const second = chartsPage("again", runFigures(h));      // notebook already has plotly now
  assert.ok(second.length > 100_000, "a later page has its own copy too");
  assert.ok(!plotHtml({ data: [] }).startsWith("<script>"), "and the notebook is not sent a second copy");
});
