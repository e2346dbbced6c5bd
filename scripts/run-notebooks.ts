/**
 * Executes the course notebooks headless on the tslab kernel, top to bottom, and writes each executed
 * notebook and an HTML copy to out/. A cell that throws fails the run, naming the notebook.
 *
 *   tsx scripts/run-notebooks.ts            # fast setting (BERTLAB_FAST=1), as CI runs them
 *   tsx scripts/run-notebooks.ts --full     # the full course (trains for real)
 *   tsx scripts/run-notebooks.ts 03 05      # only notebooks whose names start with these
 *
 * While a notebook runs, a status line says which cell is running and, in a training cell, the
 * training's own progress: nbconvert (configured by scripts/nbconvert_progress.py) and the notebook's
 * progress reporter (lib/view/progress.ts) append to the file named by BERTLAB_PROGRESS_FILE, which this
 * runner follows.
 *
 * At the end it prints a summary table: each notebook, its time and its headline result, which the notebook
 * writes through `headline()` (lib/teach/notebook.ts) to the file named by BERTLAB_HEADLINE_FILE.
 */
import { spawn, spawnSync } from "child_process";
import * as os from "os";
import * as fs from "fs";
import * as path from "path";
import { ROOT, OUT_DIR, VENV_DIR } from "../lib/core/paths";
import { readHeadline, Headline } from "../lib/teach/notebook";

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
  /** What the notebook reported through `headline()`, if it did. */
  headline?: Headline;
}

/** The course notebooks in order (01_eda.ipynb, 02_split.ipynb, ...). */
export function listNotebooks(prefixes: string[] = []): string[] {
  return fs.readdirSync(NOTEBOOKS_DIR).filter((f) => /^\d\d_.*\.ipynb$/.test(f)).filter((f) =>
    prefixes.length === 0 || prefixes.some((p) => f.startsWith(p))
  ).sort().map((f) => path.join(NOTEBOOKS_DIR, f));
}

/** Where a running notebook is: the cell (0-based, of `cells`), its first line, and the latest training line. */
export interface NotebookProgress {
  notebook: string;
  cell: number;
  cells: number;
  source: string;
  training?: string;
}

/** Follows the progress file while nbconvert runs; calls `report` when something new arrives. */
export function followProgress(
  file: string,
  notebook: string,
  sources: string[],
  report: (p: NotebookProgress) => void,
): () => void {
  let offset = 0, state: NotebookProgress | undefined;
  const poll = () => {
    let text: string;
    try {
      const buf = fs.readFileSync(file);
      text = buf.subarray(offset).toString("utf8");
      const end = text.lastIndexOf("\n");
      if (end < 0) return;
      text = text.slice(0, end);
      offset += Buffer.byteLength(text, "utf8") + 1;
    } catch {
      return;
    }
    for (const line of text.split("\n")) {
      const cell = /^@cell (\d+)$/.exec(line);
      if (cell) {
        const i = Number(cell[1]);
        state = { notebook, cell: i, cells: sources.length, source: (sources[i] ?? "").split("\n")[0] };
      } else if (state && line) state = { ...state, training: line };
      if (state) report(state);
    }
  };
  const timer = setInterval(poll, 500);
  return () => {
    clearInterval(timer);
    poll();
  };
}

/** Runs one notebook with nbconvert; never rejects for a failing cell (see `ok` and `log`). */
export async function runNotebook(notebook: string, opts: {
  full?: boolean;
  outDir?: string;
  html?: boolean;
  onProgress?: (p: NotebookProgress) => void;
  /** Extra environment for the kernel, e.g. notebook 11's BERTLAB_CSV. */
  env?: Record<string, string>;
  /** Run every cell even after one fails, and keep the executed notebook with its errors (to test them). */
  allowErrors?: boolean;
} = {}): Promise<NotebookRun> {
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
    ...opts.env,
  };
  const started = Date.now();
  const progressDir = fs.mkdtempSync(path.join(os.tmpdir(), "bertlab-progress-"));
  const progressFile = path.join(progressDir, "progress.log");
  const headlineFile = path.join(progressDir, "headline.json");
  fs.writeFileSync(progressFile, "");
  const sources = (JSON.parse(fs.readFileSync(notebook, "utf8")).cells as { source: string | string[] }[]).map((
    c,
  ) => (Array.isArray(c.source) ? c.source.join("") : c.source));
  const stop = opts.onProgress ? followProgress(progressFile, name, sources, opts.onProgress) : () => {};
  const exec = await new Promise<{ status: number | null; output: string }>((resolve) => {
    const child = spawn(JUPYTER, [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      "--config",
      path.join(ROOT, "scripts", "nbconvert_progress.py"),
      "--ExecutePreprocessor.kernel_name=tslab",
      `--ExecutePreprocessor.timeout=${opts.full ? 3600 : 900}`,
      ...(opts.allowErrors ? ["--allow-errors"] : []),
      "--output-dir",
      outDir,
      "--output",
      name,
      notebook,
    ], {
      cwd: ROOT,
      env: { ...env, BERTLAB_PROGRESS_FILE: progressFile, BERTLAB_HEADLINE_FILE: headlineFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (d: Buffer) => {
      output = (output + d.toString("utf8")).slice(-64000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (e) => resolve({ status: null, output: `${output}${e.message}` }));
    child.on("close", (status) => resolve({ status, output }));
  });
  stop();
  let headline: Headline | undefined;
  try {
    headline = readHeadline(headlineFile);
  } catch (e) {
    exec.output += `\nheadline: ${(e as Error).message}`;
  }
  fs.rmSync(progressDir, { recursive: true, force: true });
  const run: NotebookRun = {
    notebook: name,
    ok: exec.status === 0,
    seconds: (Date.now() - started) / 1000,
    executed,
    log: exec.output.slice(-6000),
    headline,
  };
  // Signed as Jupyter signs a notebook it ran and saved: otherwise JupyterLab shows the charts (HTML
  // and scripts in outputs) of a reopened executed notebook blank until it is trusted by hand.
  if (run.ok) {
    const trust = spawnSync(JUPYTER, ["trust", executed], { cwd: ROOT, env, encoding: "utf8" });
    if (trust.status !== 0)
      console.warn(`  (could not sign ${name} as trusted: ${(trust.stderr || trust.stdout).trim().split("\n").pop()})`);
  }
  if (run.ok && opts.html !== false) {
    const html = spawnSync(JUPYTER, ["nbconvert", "--to", "html", "--output-dir", outDir, executed], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    if (html.status !== 0) {
      run.ok = false;
      run.log = `HTML export failed:\n${html.stderr}`;
    } else {
      run.html = executed.replace(/\.ipynb$/, ".html");
    }
  }
  return run;
}

/**
 * The status of a running notebook for a person watching: on a terminal, one line rewritten in
 * place; in a log (CI), a line per cell and the training's lines at most every 15 s (epochs always).
 */
export function progressPrinter(
  stream: NodeJS.WriteStream = process.stdout,
): { update(p: NotebookProgress): void; clear(): void } {
  const tty = Boolean(stream.isTTY);
  let lastCell = -1, lastTraining = "", lastPrinted = 0;
  return {
    update(p) {
      const where = `cell ${p.cell + 1}/${p.cells}`;
      if (tty) {
        const status = `  ${p.notebook} · ${where}: ${p.training ?? p.source}`;
        stream.write(`\r\x1b[K${status.slice(0, Math.max(20, (stream.columns ?? 120) - 1))}`);
        return;
      }
      if (p.cell !== lastCell) {
        lastCell = p.cell;
        stream.write(`    ${where}: ${p.source.slice(0, 100)}\n`);
      }
      if (p.training && p.training !== lastTraining) {
        lastTraining = p.training;
        const epochLine = !/ · step \d+\/\d+ · /.test(p.training);
        if (epochLine || Date.now() - lastPrinted > 15000) {
          lastPrinted = Date.now();
          stream.write(`      ${p.training}\n`);
        }
      }
    },
    clear() {
      if (tty) stream.write("\r\x1b[K");
    },
  };
}

/** The table printed after a run: each notebook, ok or FAILED, its time, its headline; then the total. */
export function summaryTable(runs: readonly NotebookRun[]): string {
  const rows = runs.map((
    r,
  ) => [
    r.notebook.replace(/\.ipynb$/, ""),
    r.ok ? "ok" : "FAILED",
    formatSeconds(r.seconds),
    r.headline?.headline ?? (r.ok ? "(no headline)" : ""),
  ]);
  const total = runs.reduce((s, r) => s + r.seconds, 0);
  rows.push(["total", `${runs.filter((r) => r.ok).length}/${runs.length} ok`, formatSeconds(total), ""]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row.map((v, c) => (c === 2 ? v.padStart(widths[c]) : c < 3 ? v.padEnd(widths[c]) : v)).join("  ").trimEnd();
  return [line(["notebook", "", "time", "headline"]), ...rows.slice(0, -1).map(line), line(rows[rows.length - 1])].join(
    "\n",
  );
}

/** 754.2 → "12 min 34 s"; 42.4 → "42 s". */
function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const full = args.includes("--full");
  const prefixes = args.filter((a) => !a.startsWith("--"));
  const notebooks = listNotebooks(prefixes);
  if (notebooks.length === 0) throw new Error(`no notebooks match ${prefixes.join(", ")} in ${NOTEBOOKS_DIR}`);
  console.log(`Running ${notebooks.length} notebooks (${full ? "full" : "fast"} setting) → ${OUT_DIR}`);
  const failed: string[] = [];
  const runs: NotebookRun[] = [];
  for (const nb of notebooks) {
    const printer = progressPrinter();
    if (!process.stdout.isTTY) console.log(`  ${path.basename(nb)} ...`);
    const run = await runNotebook(nb, { full, onProgress: printer.update });
    printer.clear();
    runs.push(run);
    const seconds = run.seconds.toFixed(0);
    const result = run.ok ?
      `ok (${seconds} s) → ${path.relative(ROOT, run.html ?? run.executed)}`
      : `FAILED (${seconds} s)`;
    console.log(`  ${path.basename(nb)} ... ${result}`);
    if (!run.ok) {
      console.log(run.log);
      failed.push(run.notebook);
    }
  }
  console.log(`\n${summaryTable(runs)}`);
  if (failed.length) {
    console.error(`\n${failed.length} notebook(s) failed: ${failed.join(", ")}`);
    process.exit(1);
  }
  console.log(
    `\nAll ${notebooks.length} notebooks ran top to bottom. Open ${path.relative(ROOT, OUT_DIR)}/*.html in a browser.`,
  );
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
