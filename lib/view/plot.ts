/**
 * Plotly charts as HTML for notebooks: `showPlot(fig)` in a cell draws an interactive chart in
 * Jupyter, and the same output shows in nbconvert's HTML copy with no network. plotly.js comes
 * from node_modules/plotly.js-dist (minified once with the esbuild that tsx brings, cached in
 * CACHE_DIR) and is inlined into the first chart's output of a kernel session only, behind an
 * `if (!window.Plotly)` guard; later charts reuse it.
 *
 *   showPlot({ data: [{ type: "bar", x: ["happy", "sad"], y: [1137, 32] }], layout: { title: { text: "Counts" } } });
 *
 * Text from tweets is data: the figure is embedded as JSON with `<` escaped (no `</script>`
 * breaks out), and `plotText(s)` escapes a string for Plotly's own mini-markup (`<b>`, `<br>`).
 * Used from notebooks/01_eda.ipynb on.
 */
import * as fs from "fs";
import * as path from "path";
import { CACHE_DIR } from "../core/paths";
import { writeFileAtomic } from "../core/fsutil";

export interface Figure {
  data: object[];
  layout?: object;
}

let inlined = false;
let counter = 0;
let source: string | undefined;

/**
 * Escapes a string for Plotly's text markup (titles, hover text, labels): Plotly turns `&lt;`,
 * `&gt;` and `&amp;` back into characters, so a tweet's `<b>` shows as typed, not bold.
 */
export function plotText(s: string): string {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** JSON safe to place inside a <script>: `<`, `>`, `&` and the JS-breaking line separators escaped. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value ?? null).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** plotly.js, minified (cached on disk by version); falls back to the full file without esbuild. */
export function plotlySource(): string {
  if (source !== undefined) return source;
  const dir = path.dirname(require.resolve("plotly.js-dist/package.json"));
  const version: string = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  const cached = path.join(CACHE_DIR, `plotly-${version}.min.js`);
  if (fs.existsSync(cached)) {
    source = fs.readFileSync(cached, "utf8");
  } else {
    const full = fs.readFileSync(path.join(dir, "plotly.js"), "utf8");
    try {
      // Minified to under half: the notebook output and its HTML copy carry this once.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const esbuild = require("esbuild") as { transformSync(code: string, o: object): { code: string } };
      source = esbuild.transformSync(full, { minify: true, legalComments: "none" }).code;
      source = `/* plotly.js ${version} (MIT licence), minified */\n${source}`;
      try {
        writeFileAtomic(cached, source);
      } catch { /* a read-only cache only costs time */ }
    } catch {
      source = full;
    }
  }
  // "</script" inside the library would end the inline <script> element early.
  source = source!.replace(/<\/script/gi, "<\\/script");
  return source;
}

/** Forget that plotly.js was inlined (after reloading the page without restarting the kernel). */
export function resetPlotly(): void {
  inlined = false;
}

/**
 * A figure as a self-contained HTML fragment: a div and a script that draws it with Plotly. The first call in a
 * process also inlines plotly.js, unless `includePlotly: false` (a page that carries its own copy).
 */
export function plotHtml(fig: Figure, opts: { includePlotly?: boolean } = {}): string {
  if (!fig || !Array.isArray(fig.data)) throw new Error("plotHtml: expected a figure { data: [...], layout?: {...} }");
  const id = `bertlab-plot-${Date.now().toString(36)}-${++counter}`;
  const layout = { margin: { t: 50, r: 20, b: 60, l: 60 }, ...(fig.layout ?? {}) };
  const include = opts.includePlotly !== false && !inlined;
  const lib = include ? `<script>if (!window.Plotly) {\n${plotlySource()}\n}</script>\n` : "";
  if (include) inlined = true;
  const draw = `<script>(function () {\n` +
    `  var el = document.getElementById(${scriptJson(id)});\n` +
    `  var fig = ${scriptJson({ data: fig.data, layout })};\n` +
    `  if (window.Plotly) window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false });\n` +
    `  else el.textContent = "plotly.js is not loaded in this page: call resetPlotly() from lib/plot and rerun the cell.";\n` +
    `})();</script>`;
  return `${lib}<div id="${id}" class="bertlab-plot" style="width:100%;min-height:360px"></div>\n${draw}`;
}

/** Shows HTML in the notebook (tslab.display.html). */
export function displayHtml(html: string): void {
  // Loaded here, not at the top: the library is also used outside a kernel (tests, the CLI).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require("tslab") as { display: { html(s: string): void } }).display.html(html);
}

/** Displays a figure in the notebook. */
export function showPlot(fig: Figure): void {
  displayHtml(plotHtml(fig));
}
