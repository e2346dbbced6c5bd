/**
 * Notebooks are tests too: each course notebook runs top to bottom on the real tslab kernel in the fast
 * setting (BERTLAB_FAST=1); any cell error fails its test with the cell and the error in the message,
 * a cell that shows nothing fails it too, and the executed copy must be signed as trusted.
 *
 * Notebook 11 ("your own data") runs on a small CSV written here, with what a learner's file holds: a label set
 * `a|b`, a blank line, a non-ASCII tweet and a quoted comma. On a file the command line refuses (no text column,
 * an empty file, a single class) its executed copy must show the message `bertlab train --csv` prints.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { listNotebooks, runNotebook } from "../scripts/run-notebooks";
import { OUT_DIR, ROOT, VENV_PYTHON } from "../lib/core/paths";
import { loadTrainData } from "../lib/data/data";
import { DEFAULT_CONFIG } from "../lib/config/config";
import { SEED } from "../lib/teach/notebook";
import { withNotebookLock } from "./helpers/notebook_lock";
import { tmpDir } from "./helpers/tmp";

const outDir = path.join(OUT_DIR, "test-notebooks");
const csvDir = tmpDir("own-data-");

/** A learner's small file: 12 pos, 12 neg, 4 "a|b" rows (a class of its own without --multi-label). */
function ownCsv(): string {
  const pos = [
    "I love this so much",
    "What a great day",
    "Café crème et croissant ☕ 😀 naïve joy",
    "Best film ever",
    "Brilliant!",
    "so happy right now",
    "the sun is out",
    "we won the match",
    "a lovely surprise party",
    "fresh coffee and a good book",
    "finally on holiday",
    "my team is the best",
  ];
  const neg = [
    "This is awful",
    "I hate waiting",
    '"Quoted, with a comma"',
    "Worst service ever",
    "Terrible",
    "the bus is late again",
    "it is raining all week",
    "lost my keys",
    "the food was cold",
    "such a boring meeting",
    "my phone broke",
    "no tickets left",
  ];
  const sets = ["happy and sad at once", "mixed feelings today", "laughing and crying", "bittersweet goodbye"];
  const rows = [...pos.map((t) => [t, "pos"]), ...neg.map((t) => [t, "neg"]), ...sets.map((t) => [t, "a|b"])].map((
    [t, l],
    i,
  ) => `${i + 1},${t},${l}`);
  rows.splice(3, 0, ""); // a blank line, skipped as the CLI skips it
  const file = path.join(csvDir, "own.csv");
  fs.writeFileSync(file, ["id,text,label", ...rows].join("\n") + "\n");
  return file;
}

for (const nb of listNotebooks()) {
  const own = path.basename(nb).startsWith("11_");
  test(`notebook ${path.basename(nb)} runs top to bottom`, { timeout: 20 * 60_000 }, async () => {
    const csv = own ? ownCsv() : undefined;
    const run = await withNotebookLock(() => runNotebook(nb, { outDir, env: csv ? { BERTLAB_CSV: csv } : undefined }));
    assert.ok(run.ok, `${run.notebook} failed:\n${run.log}`);
    const executed = JSON.parse(fs.readFileSync(run.executed, "utf8"));
    const errors = executed.cells.flatMap((c: any) => (c.outputs ?? []).filter((o: any) => o.output_type === "error"));
    assert.equal(errors.length, 0, `${run.notebook} has error outputs`);
    const silent = executed.cells.filter((c: any) => c.cell_type === "code" && (c.outputs ?? []).length === 0);
    assert.equal(
      silent.length,
      0,
      `${run.notebook}: ${silent.length} code cell(s) show nothing (house style: end each cell with a value)`,
    );
    const check = spawnSync(VENV_PYTHON, [
      "-c",
      "import sys, nbformat; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], 4)))",
      run.executed,
    ], { encoding: "utf8" });
    assert.equal(
      check.stdout.trim(),
      "True",
      `${run.notebook}: not signed as trusted, so JupyterLab would hide its charts (${check.stderr})`,
    );
    assert.ok(run.headline, `${run.notebook}: no headline() for the runner's summary table`);
    if (csv) {
      // The notebook split the file as the command line does: the same rows on each side, the same labels.
      const cli = loadTrainData(
        { csv, textColumn: "text", labelColumn: "label" },
        { validationSize: DEFAULT_CONFIG.validationSize, seed: SEED },
      );
      const v = run.headline!.values;
      assert.deepEqual(
        [v.train, v.validation, v.labels],
        [cli.train.texts.length, cli.validation.texts.length, cli.labels.length],
      );
      assert.deepEqual(cli.labels, ["a|b", "neg", "pos"]);
      assert.equal(v.train + v.validation, 28, "28 rows: the blank line skipped");
      const shown = JSON.stringify(executed.cells.map((c: any) => c.outputs ?? []));
      assert.ok(shown.includes("Café crème"), "the non-ASCII tweet reaches the outputs intact");
    }
  });
}

test(
  "notebook 11 on a file the command line refuses shows the command line's message",
  { timeout: 20 * 60_000 },
  async () => {
    const nb = listNotebooks(["11"])[0];
    const bad: Record<string, string> = {
      "no-text-column.csv": "id,tweet,label\n1,hello,pos\n2,bye,neg\n",
      "empty.csv": "",
      "one-class.csv": "id,text,label\n1,hello,pos\n2,bye,pos\n3,again,pos\n",
    };
    for (const [name, content] of Object.entries(bad)) {
      const file = path.join(csvDir, name);
      fs.writeFileSync(file, content);
      const cli = spawnSync(process.execPath, [
        path.join(ROOT, "bin", "bertlab.js"),
        "train",
        "--csv",
        file,
        "--text-column",
        "text",
        "--label-column",
        "label",
        "--run-dir",
        path.join(csvDir, `run-${name}`),
      ], { encoding: "utf8", cwd: ROOT });
      assert.equal(cli.status, 1, `${name}: the CLI refuses it`);
      const message = cli.stderr.trim().split("\n").pop()!.replace(/^bertlab: /, "");
      const run = await withNotebookLock(() =>
        runNotebook(nb, {
          outDir: path.join(outDir, "bad"),
          env: { BERTLAB_CSV: file },
          allowErrors: true,
          html: false,
        })
      );
      const executed = JSON.parse(fs.readFileSync(run.executed, "utf8"));
      // tslab shows a cell's exception on its stderr stream
      const shown = (
        o: any,
      ) => (o.output_type === "error" ?
        `${o.ename}: ${o.evalue}`
        : o.output_type === "stream" && o.name === "stderr"
        ? [].concat(o.text).join("")
        : "");
      const first = executed.cells.flatMap((c: any) => c.outputs ?? []).map(shown).find((t: string) => t !== "");
      assert.ok(first, `${name}: the notebook shows an error`);
      assert.ok(
        first.includes(`Error: ${message}`),
        `${name}: the notebook's first error ${JSON.stringify(first.slice(0, 400))} shows the CLI's ${
          JSON.stringify(message)
        }`,
      );
    }
  },
);
