// What `npm run course` shows while a notebook runs (scripts/run-notebooks.ts): the cell that nbconvert's
// hook reported and the training lines the notebook's reporter appended, followed from the progress file;
// on a terminal one rewritten line, in a log a line per cell and the epoch lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { followProgress, progressPrinter, summaryTable, NotebookProgress, NotebookRun } from "../scripts/run-notebooks";
import { headline, readHeadline } from "../lib/teach/notebook";
import { tmpDir } from "./helpers/tmp";

test("the runner follows the progress file: which cell, then the training's own lines", async () => {
  const file = path.join(tmpDir("follow-"), "progress.log");
  fs.writeFileSync(file, "");
  const seen: NotebookProgress[] = [];
  const sources = ["# title", "import x;\nmore", "const run = await train(…);"];
  const stop = followProgress(file, "05_train.ipynb", sources, (p) => seen.push(p));
  fs.appendFileSync(file, "@cell 1\n");
  await new Promise((r) => setTimeout(r, 700));
  fs.appendFileSync(file, "@cell 2\ntraining: 1 epochs × 3 steps\nepoch 1/1 · step 1/3 · loss 1.8");
  await new Promise((r) => setTimeout(r, 700));
  fs.appendFileSync(file, "00 · lr 1e-4\n");
  stop();
  assert.deepEqual(seen.map((p) => [p.cell, p.source, p.training]), [
    [1, "import x;", undefined],
    [2, "const run = await train(…);", undefined],
    [2, "const run = await train(…);", "training: 1 epochs × 3 steps"],
    [2, "const run = await train(…);", "epoch 1/1 · step 1/3 · loss 1.800 · lr 1e-4"],
  ], "a line is read only once complete");
  assert.ok(seen.every((p) => p.cells === 3 && p.notebook === "05_train.ipynb"));
});

test("the status: one rewritten line on a terminal; in a log, a line per cell and every epoch line", () => {
  const sink = (tty: boolean) => {
    const out: string[] = [];
    const write = (s: string) => {
      out.push(s);
      return true;
    };
    return { out, stream: { isTTY: tty, columns: 60, write } as unknown as NodeJS.WriteStream };
  };
  const at = (cell: number, training?: string): NotebookProgress => ({
    notebook: "05_train.ipynb",
    cell,
    cells: 28,
    source: `cell source ${cell}`,
    training,
  });
  const term = sink(true), log = sink(false);
  for (const s of [term, log]) {
    const p = progressPrinter(s.stream);
    p.update(at(3));
    p.update(at(23, "epoch 1/8 · step 1/40 · loss 1.790 · lr 2.5e-6 · 1s elapsed · ETA 5m"));
    p.update(at(23, "epoch 1/8 · step 2/40 · loss 1.780 · lr 5.0e-6 · 2s elapsed · ETA 5m"));
    p.update(at(23, "epoch 1/8 done in 30s · train loss 1.2 · val loss 0.9"));
    p.clear();
  }
  const rewritten = term.out.every((s) => s.startsWith("\r\x1b[K") && !s.includes("\n"));
  assert.ok(rewritten, "a terminal gets one line, rewritten");
  assert.equal(
    term.out[1],
    "\r\x1b[K  05_train.ipynb · cell 24/28: epoch 1/8 · step 1/40 · loss",
    "cut to the terminal's width (60 columns)",
  );
  assert.deepEqual(log.out, [
    "    cell 4/28: cell source 3\n",
    "    cell 24/28: cell source 23\n",
    "      epoch 1/8 · step 1/40 · loss 1.790 · lr 2.5e-6 · 1s elapsed · ETA 5m\n",
    "      epoch 1/8 done in 30s · train loss 1.2 · val loss 0.9\n",
  ], "the second step line waits 15 s; epoch lines always show");
});

test("headline() hands the runner a result; the summary table shows each notebook, its time and headline", () => {
  const file = path.join(tmpDir("headline-"), "headline.json");
  const saved = process.env.BERTLAB_HEADLINE_FILE;
  process.env.BERTLAB_HEADLINE_FILE = file;
  try {
    assert.deepEqual(headline("weighted F1 0.8653", { f1Weighted: 0.8653 }), {
      headline: "weighted F1 0.8653",
      values: { f1Weighted: 0.8653 },
    });
  } finally {
    if (saved === undefined) delete process.env.BERTLAB_HEADLINE_FILE; else process.env.BERTLAB_HEADLINE_FILE = saved;
  }
  assert.deepEqual(readHeadline(file), { headline: "weighted F1 0.8653", values: { f1Weighted: 0.8653 } });
  assert.equal(readHeadline(file + ".missing"), undefined, "a notebook that reports nothing");
  assert.throws(() => headline("x", { f1: NaN }), /f1 must be a finite number/);
  const run = (notebook: string, ok: boolean, seconds: number, text?: string): NotebookRun => ({
    notebook,
    ok,
    seconds,
    executed: "",
    log: "",
    headline: text ? { headline: text, values: {} } : undefined,
  });
  const runs = [
    run("05_train.ipynb", true, 274.4, "weighted F1 0.8653"),
    run("06_evaluate.ipynb", true, 41),
    run("07_imbalance.ipynb", false, 12),
  ];
  assert.equal(
    summaryTable(runs),
    [
      "notebook                    time  headline",
      "05_train      ok      4 min 34 s  weighted F1 0.8653",
      "06_evaluate   ok            41 s  (no headline)",
      "07_imbalance  FAILED        12 s",
      "total         2/3 ok  5 min 27 s",
    ].join("\n"),
  );
});
