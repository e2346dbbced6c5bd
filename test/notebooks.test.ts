/**
 * Notebooks are tests too: each course notebook runs top to bottom on the real tslab kernel in the fast
 * setting (BERTLAB_FAST=1); any cell error fails its test with the cell and the error in the message,
 * a cell that shows nothing fails it too, and the executed copy must be signed as trusted.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { listNotebooks, runNotebook } from "../scripts/run-notebooks";
import { OUT_DIR, VENV_PYTHON } from "../lib/core/paths";
import { withNotebookLock } from "./helpers/notebook_lock";

const outDir = path.join(OUT_DIR, "test-notebooks");

for (const nb of listNotebooks()) {
  test(`notebook ${path.basename(nb)} runs top to bottom`, { timeout: 20 * 60_000 }, async () => {
    const run = await withNotebookLock(() => runNotebook(nb, { outDir }));
    assert.ok(run.ok, `${run.notebook} failed:\n${run.log}`);
    const executed = JSON.parse(fs.readFileSync(run.executed, "utf8"));
    const errors = executed.cells.flatMap((c: any) => (c.outputs ?? []).filter((o: any) => o.output_type === "error"));
    assert.equal(errors.length, 0, `${run.notebook} has error outputs`);
    const silent = executed.cells.filter((c: any) => c.cell_type === "code" && (c.outputs ?? []).length === 0);
    assert.equal(silent.length, 0, `${run.notebook}: ${silent.length} code cell(s) show nothing (house style: end each cell with a value)`);
    const check = spawnSync(VENV_PYTHON, ["-c", "import sys, nbformat; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], 4)))", run.executed], { encoding: "utf8" });
    assert.equal(check.stdout.trim(), "True", `${run.notebook}: not signed as trusted, so JupyterLab would hide its charts (${check.stderr})`);
  });
}
