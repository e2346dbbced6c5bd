/**
 * What a person reads of a cross-validation run: report.html (per-class F1 with its 95% interval, the pooled
 * confusion matrix, the per-class and per-fold tables) and the lines `bertlab cv` prints, for one run and for a
 * paired comparison of two. Every label and id is data: escaped by tableHtml and plotText.
 *
 *   cvLines(cv)[0]   // cv: the 4-tweet example of lib/analysis/cv.ts's header
 *   // "pooled over 4 tweets × 1 repeat (2 folds): macro F1 0.7333 [0.2000, 1.0000] · weighted F1 0.7333 [0.1000,
 *   //  1.0000] · accuracy 0.7500 (95% percentile bootstrap over tweets, B 1000)"
 */
import { escapeHtml, tableHtml } from "../core/html";
import { plotText } from "../view/plot";
import { chartsPage } from "../view/progress";
import type { CvComparison, CvReport, CvFile, Difference } from "./cv";

const f4 = (x: number) => x.toFixed(4);
const ci = (c: [number, number]) => `[${f4(c[0])}, ${f4(c[1])}]`;

/** Per-class F1 with asymmetric 95% error bars, and the confusion matrix as a heatmap (for chartsPage). */
export function cvFigures(report: CvReport, labels: readonly string[]): { data: object[]; layout: object }[] {
  const names = labels.map(plotText);
  return [
    {
      data: [{
        type: "bar",
        name: "F1",
        x: names,
        y: report.classes.map((c) => c.f1),
        text: report.classes.map((c) => `n ${c.support}`),
        textposition: "outside",
        error_y: {
          type: "data",
          symmetric: false,
          visible: true,
          array: report.classes.map((c) => c.f1Ci95[1] - c.f1),
          arrayminus: report.classes.map((c) => c.f1 - c.f1Ci95[0]),
        },
      }],
      layout: {
        title: {
          text: `Out-of-fold F1 per class, 95% bootstrap intervals (macro F1 ${f4(report.f1Macro.value)} `
            + `${ci(report.f1Macro.ci95)})`,
        },
        yaxis: { title: { text: "F1" }, range: [0, 1.1] },
        height: 380,
      },
    },
    {
      data: [{
        type: "heatmap",
        x: names,
        y: names,
        z: report.confusion,
        colorscale: "Blues",
        texttemplate: "%{z}",
        hovertemplate: "true %{y} · predicted %{x}: %{z}<extra></extra>",
      }],
      layout: {
        title: { text: "Confusion matrix, every out-of-fold prediction" },
        height: 460,
        xaxis: { title: { text: "predicted" } },
        yaxis: { title: { text: "true" }, autorange: "reversed" },
      },
    },
  ];
}

/** report.html: the charts, the headline lines, then the per-class and per-fold tables. */
export function cvPage(cv: CvFile): string {
  const r = cv.report;
  const classes = r.classes.map((c) => ({ ...c, "F1 95% interval": ci(c.f1Ci95) }));
  const classColumns = ["label", "precision", "recall", "f1", "F1 95% interval", "support"];
  const folds = r.perFold.map((f) => ({
    repeat: f.repeat + 1,
    fold: f.fold + 1,
    tweets: f.examples,
    "macro F1": f.f1Macro,
    "weighted F1": f.f1Weighted,
  }));
  const title = `bertlab cv: ${cv.k} folds × ${cv.repeats} repeat${cv.repeats > 1 ? "s" : ""}, seed ${cv.seed}`;
  return chartsPage(title, cvFigures(r, cv.labels))
    + `\n<p>${cvLines(cv).slice(0, 2).map(escapeHtml).join("<br>\n")}</p>\n`
    + tableHtml(classes, classColumns, { caption: "Per class, pooled over every repeat" }) + "\n"
    + tableHtml(folds, undefined, { caption: "Per fold (what the paired t-test pairs)" }) + "\n";
}

/** The lines `bertlab cv` prints for a run. */
export function cvLines(cv: CvFile): string[] {
  const r = cv.report;
  const rep = r.perRepeat;
  return [
    `pooled over ${r.examples} tweets × ${r.repeats} repeat${r.repeats > 1 ? "s" : ""} (${r.folds} folds): `
    + `macro F1 ${f4(r.f1Macro.value)} ${ci(r.f1Macro.ci95)} · `
    + `weighted F1 ${f4(r.f1Weighted.value)} ${ci(r.f1Weighted.ci95)}`
    + ` · accuracy ${f4(r.accuracy)} (95% percentile bootstrap over tweets, B ${r.resamples})`,
    `over repeats: macro F1 ${f4(rep.f1Macro.mean)} ± ${f4(rep.f1Macro.sd)} · `
    + `weighted F1 ${f4(rep.f1Weighted.mean)} ± ${f4(rep.f1Weighted.sd)}`,
    ...r.classes.map((c) =>
      `  ${c.label.padEnd(14)} precision ${f4(c.precision)} · recall ${f4(c.recall)} · `
      + `F1 ${f4(c.f1)} ${ci(c.f1Ci95)} · support ${c.support}`
    ),
  ];
}

/** The lines `bertlab cv --compare A B` prints. */
export function comparisonLines(c: CvComparison, names: [string, string]): string[] {
  const line = (what: string, d: Difference) =>
    `${what}: ${names[0]} − ${names[1]} = ${d.value >= 0 ? "+" : ""}${f4(d.value)} ${ci(d.ci95)} `
    + `(paired bootstrap, p ${d.p.toFixed(3)}) · per fold ${f4(d.perFold.meanDiff)}, `
    + `paired t ${d.perFold.t.toFixed(2)}, p ${d.perFold.p.toFixed(3)} (${d.perFold.n} folds)`;
  return [
    `${c.examples} tweets, the same folds, ${c.resamples} resamples of the tweets for both:`,
    line("macro F1", c.f1Macro),
    line("weighted F1", c.f1Weighted),
  ];
}
