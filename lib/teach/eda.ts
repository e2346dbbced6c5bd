/**
 * Exploratory data analysis of the SMILE tweets (notebooks/01_eda.ipynb): the table as a danfo.js
 * DataFrame, category counts as a table and a Plotly bar chart, examples per category, and text
 * lengths (which decide the tokenizer's max length later).
 *
 *   const df = await smileFrame(rows);      // DataFrame [3085 × 3], ids as strings
 *   showPlot(countsFigure(categoryCounts(course), "Tweets per emotion"));
 *
 * danfojs-node requires @tensorflow/tfjs-node, whose import switches the active TensorFlow.js backend to
 * "tensorflow" and fails where the native binding is not built; package.json's `overrides` cannot help (npm
 * dedupes it to the project's own tfjs-node). So `danfo()` answers danfo's `require("@tensorflow/tfjs-node")`
 * with @tensorflow/tfjs: danfo computes on whichever backend is active, and loading it never changes that.
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { tableHtml } from "../core/html";
import { plotText, Figure } from "../view/plot";

// The danfo.js module type, kept loose: its typings pull in tfjs-node's.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Danfo = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type DataFrame = any;

let dfd: Danfo | undefined;

/** Loads danfojs-node once, on plain @tensorflow/tfjs (see the file comment). */
export async function danfo(): Promise<Danfo> {
  if (dfd) return dfd;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Module = require("module");
  const resolve = Module._resolveFilename;
  const inDanfo = `${path.sep}danfojs-node${path.sep}`;
  Module._resolveFilename = function(request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) {
    const redirected = request === "@tensorflow/tfjs-node" && parent?.filename?.includes(inDanfo)
      ? "@tensorflow/tfjs"
      : request;
    return resolve.call(this, redirected, parent, ...rest);
  };
  const before = tf.getBackend();
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    dfd = require("danfojs-node");
  } catch (e) {
    throw new Error(`danfojs-node could not be loaded: ${(e as Error).message.split("\n")[0]}`, { cause: e });
  } finally {
    Module._resolveFilename = resolve;
  }
  if (before && tf.getBackend() !== before)
    throw new Error(`loading danfojs-node switched the backend from ${before} to ${tf.getBackend()}`);
  return dfd;
}

/** The rows as a danfo.js DataFrame (columns id, text, category; ids stay strings). */
export async function smileFrame(rows: readonly { id: string; text: string; category: string }[]): Promise<DataFrame> {
  const d = await danfo();
  return new d.DataFrame(rows.map((r) => ({ id: r.id, text: r.text, category: r.category })), {
    columns: ["id", "text", "category"],
  });
}

/** A DataFrame's first `n` rows as an escaped HTML table (tweets are data, never markup). */
export function frameHtml(df: DataFrame, n = 5): string {
  const head = df.head(n);
  const columns: string[] = head.columns;
  const rows = (head.values as unknown[][]).map((vals, k) =>
    Object.fromEntries([["", head.index[k]], ...columns.map((c, j) => [c, vals[j]])])
  );
  return tableHtml(rows, ["", ...columns], { caption: `${df.shape[0]} rows × ${df.shape[1]} columns` });
}

/** Tweets per category, as lib/data/smile.ts's categoryCounts gives them. */
type Counts = readonly { category: string; count: number }[];

/** Counts with their share of the total, for a table: [{ category, count, share }]. */
export function withShares(counts: Counts): { category: string; count: number; share: string }[] {
  const total = counts.reduce((a, c) => a + c.count, 0);
  return counts.map((c) => ({ ...c, share: `${((100 * c.count) / total).toFixed(1)} %` }));
}

/** A bar chart of category counts (a log axis shows the rare classes next to `happy`). */
export function countsFigure(counts: Counts, title: string, opts: { log?: boolean } = {}): Figure {
  return {
    data: [{
      type: "bar",
      x: counts.map((c) => plotText(c.category)),
      y: counts.map((c) => c.count),
      text: counts.map((c) => String(c.count)),
      textposition: "outside",
      marker: { color: "#4C72B0" },
      hovertemplate: "%{x}: %{y} tweets<extra></extra>",
    }],
    layout: {
      title: { text: plotText(title) },
      yaxis: { title: { text: "tweets" }, type: opts.log ? "log" : "linear" },
      xaxis: { title: { text: "category" } },
    },
  };
}

/** Grouped bars: one series per named set of counts (e.g. train vs validation, or two seeds). */
export function groupedCountsFigure(
  categories: readonly string[],
  series: Record<string, readonly number[]>,
  title: string,
  opts: { log?: boolean } = {},
): Figure {
  return {
    data: Object.entries(series).map(([name, ys]) => ({
      type: "bar",
      name: plotText(name),
      x: categories.map(plotText),
      y: [...ys],
      text: ys.map(String),
      textposition: "outside",
    })),
    layout: {
      title: { text: plotText(title) },
      barmode: "group",
      yaxis: { title: { text: "tweets" }, type: opts.log ? "log" : "linear" },
    },
  };
}

/** The first `n` rows of each listed category (escaped HTML when shown with `tableHtml`). */
export function examples<T extends { category: string }>(
  rows: readonly T[],
  categories: readonly string[],
  n = 2,
): T[] {
  return categories.flatMap((c) => rows.filter((r) => r.category === c).slice(0, n));
}

/** Summary of text lengths in characters and whitespace-separated words. */
export function textLengths(
  texts: readonly string[],
): { measure: string; min: number; median: number; p95: number; max: number }[] {
  const stats = (xs: number[], measure: string) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { measure, min: s[0], median: q(0.5), p95: q(0.95), max: s[s.length - 1] };
  };
  if (texts.length === 0) throw new Error("textLengths: no texts");
  return [
    stats(texts.map((t) => [...t].length), "characters"),
    stats(texts.map((t) => t.split(/\s+/).filter(Boolean).length), "words"),
  ];
}
