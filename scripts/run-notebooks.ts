/**
 * Executes the course notebooks headless on the tslab kernel, top to bottom, and writes each executed
 * notebook and an HTML copy to out/. A cell that throws fails the run, naming the notebook.
 *
 *   tsx scripts/run-notebooks.ts            # fast setting (BERTLAB_FAST=1), as CI runs them
 *   tsx scripts/run-notebooks.ts --full     # the full course (trains for real)
 *   tsx scripts/run-notebooks.ts 03 05      # only notebooks whose names start with these
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT, OUT_DIR, VENV_DIR } from "../lib/paths";

const NOTEBOOKS_DIR = path.join(ROOT, "notebooks");
const JUPYTER = path.join(VENV_DIR, "bin", "jupyter");

export interface NotebookRun {
  notebook: string;
  ok: boolean;
  seconds: number;
  executed: string;
  html?: string;
  /** The end of nbconvert's output: the failing cell and its error when not ok. */
  log: string;
}

/** The course notebooks in order (01_eda.ipynb, 02_split.ipynb, ...). */
export function listNotebooks(prefixes: string[] = []): string[] {
  return fs
    .readdirSync(NOTEBOOKS_DIR)
    .filter((f) => /^\d\d_.*\.ipynb$/.test(f))
    .filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)))
    .sort()
    .map((f) => path.join(NOTEBOOKS_DIR, f));
}

/** Runs one notebook with nbconvert; never throws for a failing cell (see `ok` and `log`). */
export function runNotebook(notebook: string, opts: { full?: boolean; outDir?: string; html?: boolean } = {}): NotebookRun {
  if (!fs.existsSync(JUPYTER)) throw new Error(`${JUPYTER} is missing: run \`npm run setup\` first`);
  const outDir = opts.outDir ?? OUT_DIR;
  fs.mkdirSync(outDir, { recursive: true });
  const name = path.basename(notebook);
  const executed = path.join(outDir, name);
  const env = {
    ...process.env,
    BERTLAB_FAST: opts.full ? "0" : "1",
    PATH: `${path.join(ROOT, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    JUPYTER_PATH: path.join(VENV_DIR, "share", "jupyter"),
  };
  const started = Date.now();
  const exec = spawnSync(
    JUPYTER,
    [
      "nbconvert", "--to", "notebook", "--execute",
      "--ExecutePreprocessor.kernel_name=tslab",
      `--ExecutePreprocessor.timeout=${opts.full ? 3600 : 900}`,
      "--output-dir", outDir, "--output", name, notebook,
    ],
    { cwd: ROOT, env, encoding: "utf8", maxBuffer: 64 << 20 },
  );
  const run: NotebookRun = {
    notebook: name,
    ok: exec.status === 0,
    seconds: (Date.now() - started) / 1000,
    executed,
    log: `${exec.stdout ?? ""}${exec.stderr ?? ""}`.slice(-6000),
  };
  // Signed as Jupyter signs a notebook it ran and saved: otherwise JupyterLab shows the charts (HTML
  // and scripts in outputs) of a reopened executed notebook blank until it is trusted by hand.
  if (run.ok) {
    const trust = spawnSync(JUPYTER, ["trust", executed], { cwd: ROOT, env, encoding: "utf8" });
    if (trust.status !== 0) console.warn(`  (could not sign ${name} as trusted: ${(trust.stderr || trust.stdout).trim().split("\n").pop()})`);
  }
  if (run.ok && opts.html !== false) {
    const html = spawnSync(JUPYTER, ["nbconvert", "--to", "html", "--output-dir", outDir, executed], { cwd: ROOT, env, encoding: "utf8" });
    if (html.status !== 0) {
      run.ok = false;
      run.log = `HTML export failed:\n${html.stderr}`;
    } else {
      run.html = executed.replace(/\.ipynb$/, ".html");
    }
  }
  return run;
}

function main(): void {
  const args = process.argv.slice(2);
  const full = args.includes("--full");
  const prefixes = args.filter((a) => !a.startsWith("--"));
  const notebooks = listNotebooks(prefixes);
  if (notebooks.length === 0) throw new Error(`no notebooks match ${prefixes.join(", ")} in ${NOTEBOOKS_DIR}`);
  console.log(`Running ${notebooks.length} notebooks (${full ? "full" : "fast"} setting) → ${OUT_DIR}`);
  const failed: string[] = [];
  for (const nb of notebooks) {
    process.stdout.write(`  ${path.basename(nb)} ... `);
    const run = runNotebook(nb, { full });
    console.log(run.ok ? `ok (${run.seconds.toFixed(0)} s) → ${path.relative(ROOT, run.html ?? run.executed)}` : `FAILED (${run.seconds.toFixed(0)} s)`);
    if (!run.ok) {
      console.log(run.log);
      failed.push(run.notebook);
    }
  }
  if (failed.length) {
    console.error(`\n${failed.length} notebook(s) failed: ${failed.join(", ")}`);
    process.exit(1);
  }
  console.log(`\nAll ${notebooks.length} notebooks ran top to bottom. Open ${path.relative(ROOT, OUT_DIR)}/*.html in a browser.`);
}

if (require.main === module) main();
