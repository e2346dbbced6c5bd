/**
 * Progress of a training run: epochs and batches with elapsed time and ETA. The loop (lib/train/train.ts)
 * emits events; a reporter turns them into lines on the CLI (stderr, one rewritten line with \r
 * when it is a terminal) or, in a notebook, into one progress line that updates in place (tslab's
 * `newDisplay()`: Jupyter's update_display_data) and a line per epoch.
 *
 *   epoch 2/4 · step 30/40 · loss 0.412 · lr 6.1e-05 · 1m12s elapsed · ETA 1m40s
 */
import * as fs from "fs";
import { plotHtml, plotlySource, Figure } from "./plot";
import { escapeHtml } from "../core/html";

export type ProgressEvent =
  | { type: "start"; epochs: number; stepsPerEpoch: number; startEpoch: number }
  | { type: "step"; epoch: number; step: number; steps: number; loss: number; lr: number; gradNorm: number }
  | { type: "evaluate"; epoch: number }
  | {
    type: "epoch";
    epoch: number;
    epochs: number;
    trainLoss: number;
    valLoss: number;
    f1Weighted: number;
    f1Macro: number;
    seconds: number;
  }
  | { type: "done"; seconds: number; interrupted: boolean };

/** "1m05s", "42s", "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * Keeps the clock and turns events into lines. ETA = time per step so far × steps left
 * (evaluation time is counted in the per-step time after the first epoch).
 */
export class ProgressTracker {
  private t0: number;
  private run = { epochs: 1, stepsPerEpoch: 1, startEpoch: 1 };
  /** Steps done, and all the steps to do, since the start (or the resume) of the run. */
  stepsDone = 0;
  totalSteps = 1;
  constructor(private now: () => number = Date.now) {
    this.t0 = now();
  }

  elapsed(): number {
    return (this.now() - this.t0) / 1000;
  }

  /** Returns the line for an event (or undefined for events that print nothing). */
  line(e: ProgressEvent): string | undefined {
    switch (e.type) {
      case "start":
        this.run = e;
        this.totalSteps = (e.epochs - e.startEpoch + 1) * e.stepsPerEpoch;
        this.t0 = this.now();
        return `training: ${e.epochs} epochs × ${e.stepsPerEpoch} steps${
          e.startEpoch > 1 ? ` (resuming at epoch ${e.startEpoch})` : ""
        }`;
      case "step": {
        this.stepsDone = (e.epoch - this.run.startEpoch) * this.run.stepsPerEpoch + e.step;
        const eta = (this.elapsed() / this.stepsDone) * (this.totalSteps - this.stepsDone);
        return `epoch ${e.epoch}/${this.run.epochs} · step ${e.step}/${e.steps} · loss ${e.loss.toFixed(3)} · lr ${
          e.lr.toExponential(1)
        } · ${formatDuration(this.elapsed())} elapsed · ETA ${formatDuration(eta)}`;
      }
      case "evaluate":
        return `epoch ${e.epoch}/${this.run.epochs} · evaluating…`;
      case "epoch":
        return `epoch ${e.epoch}/${e.epochs} done in ${formatDuration(e.seconds)} · train loss ${
          e.trainLoss.toFixed(4)
        } · val loss ${e.valLoss.toFixed(4)} · F1 weighted ${e.f1Weighted.toFixed(4)} · F1 macro ${
          e.f1Macro.toFixed(4)
        }`;
      case "done":
        return `${e.interrupted ? "stopped" : "finished"} after ${formatDuration(e.seconds)}`;
    }
  }
}

/**
 * CLI reporter: steps rewrite one line with \r on a terminal (every `every` steps otherwise),
 * epoch summaries stay. Writes to stderr so stdout stays clean for results.
 */
export function cliReporter(stream: NodeJS.WriteStream = process.stderr, every = 10): (e: ProgressEvent) => void {
  const tracker = new ProgressTracker();
  const tty = Boolean(stream.isTTY);
  return (e) => {
    const line = tracker.line(e);
    if (line === undefined) return;
    if (e.type === "step") {
      if (tty) stream.write(`\r\x1b[K${line}`);
      else if (e.step % every === 0 || e.step === e.steps) stream.write(line + "\n");
    } else stream.write((tty ? "\r\x1b[K" : "") + line + "\n");
  };
}

/** What the notebook reporter needs of a display: tslab's `newDisplay()`, which overwrites its own output. */
export interface UpdatableDisplay {
  html(s: string): void;
}

export interface NotebookReporterOptions {
  /** Lines that stay (start, epoch summaries, the end); default console.log. */
  log?: (line: string) => void;
  /** The output step lines overwrite; default tslab's `newDisplay()` (Jupyter's update_display_data, as tqdm). */
  display?: UpdatableDisplay | null;
  /** Also append every line here; default BERTLAB_PROGRESS_FILE (scripts/run-notebooks.ts sets it to follow a run). */
  progressFile?: string;
  /** Milliseconds between two updates of the display (the last step of an epoch always shows). */
  minIntervalMs?: number;
  /** Put before every line: which run this is, where a cell trains several (a sweep). */
  label?: string;
  now?: () => number;
}

/** tslab's updatable display when this runs inside the tslab kernel, else null. */
function kernelDisplay(): UpdatableDisplay | null {
  try {
    // Loaded here, not at the top: the library also runs outside a kernel (tests, the CLI).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require("tslab") as { newDisplay(): UpdatableDisplay }).newDisplay();
  } catch {
    return null;
  }
}

/**
 * Notebook reporter: one progress line that updates in place (a bar and the step line, like tqdm in the
 * course), and a line that stays for the start, every epoch and the end. Without a display (`display: null`,
 * outside a kernel, or one that cannot show), steps print every ~quarter epoch instead.
 */
export function notebookReporter(o: NotebookReporterOptions = {}): (e: ProgressEvent) => void {
  const log = o.log ?? ((l: string) => console.log(l));
  const now = o.now ?? Date.now;
  const tracker = new ProgressTracker(now);
  const file = o.progressFile ?? process.env.BERTLAB_PROGRESS_FILE;
  let display = o.display === undefined ? kernelDisplay() : o.display;
  let lastShown = -Infinity;
  const show = (line: string): boolean => {
    if (!display) return false;
    const done = tracker.stepsDone, total = Math.max(1, tracker.totalSteps);
    const bar = `<progress value="${done}" max="${total}" style="width:12em;vertical-align:middle"></progress>`;
    try {
      display.html(`<div class="bertlab-progress" style="font-family:monospace">${bar} ${escapeHtml(line)}</div>`);
      return true;
    } catch {
      display = null; // tslab throws "Not ready" outside a running cell: print lines instead
      return false;
    }
  };
  return (e) => {
    const bare = tracker.line(e);
    if (bare === undefined) return;
    const line = o.label ? `${o.label} · ${bare}` : bare;
    if (file) {
      try {
        fs.appendFileSync(file, line + "\n");
      } catch { /* following the run is a convenience */ }
    }
    if (e.type === "step") {
      const due = e.step === e.steps || now() - lastShown >= (o.minIntervalMs ?? 250);
      if (due && show(line)) lastShown = now();
      else if (!display && (e.step === 1 || e.step % Math.max(1, Math.ceil(e.steps / 4)) === 0)) log(line);
    } else if (e.type === "evaluate") show(line);
    else if (e.type !== "done" || !show(line)) log(line); // the display keeps the last word
  };
}

/** What runFigures needs from an epoch record (lib/train/checkpoint.ts EpochRecord has it). */
export interface CurvePoint {
  epoch: number;
  trainLoss: number;
  validation: { loss: number; f1Weighted: number; f1Macro: number };
}

/**
 * The training curves as plotly figures (for lib/view/plot.ts showPlot / plotHtml): loss per epoch
 * (training and validation) and validation F1 (weighted and macro) per epoch.
 */
export function runFigures(history: CurvePoint[]): { data: object[]; layout: object }[] {
  const x = history.map((h) => h.epoch);
  const figure = (title: string, yaxis: object, lines: [string, number[]][]) => ({
    data: lines.map(([name, y]) => ({ type: "scatter", mode: "lines+markers", name, x, y })),
    layout: { title: { text: title }, xaxis: { title: { text: "epoch" }, dtick: 1 }, yaxis, height: 320 },
  });
  return [
    figure("Loss per epoch", { title: { text: "cross-entropy" } }, [
      ["training loss", history.map((h) => h.trainLoss)],
      ["validation loss", history.map((h) => h.validation.loss)],
    ]),
    figure("Validation F1 per epoch", { title: { text: "F1" }, range: [0, 1] }, [
      ["F1 weighted", history.map((h) => h.validation.f1Weighted)],
      ["F1 macro", history.map((h) => h.validation.f1Macro)],
    ]),
  ];
}

/**
 * A self-contained HTML page of plotly figures (a run's charts.html, a sweep's sweep.html). It carries its own
 * plotly.js and leaves plotHtml's once-per-kernel bookkeeping alone, so the notebook's next chart still inlines
 * plotly.js exactly when the notebook page lacks it.
 */
export function chartsPage(title: string, figures: Figure[]): string {
  const parts = figures.map((f) => plotHtml(f, { includePlotly: false }));
  const lib = `<script>${plotlySource()}</script>\n`;
  return `<!doctype html>\n<meta charset="utf-8">\n<title>${escapeHtml(title)}</title>\n${lib}<h1>${
    escapeHtml(title)
  }</h1>\n` + parts.join("\n");
}
