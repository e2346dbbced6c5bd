/**
 * Small HTML helpers for notebooks. Tweet text is data, not markup: everything that comes from
 * the dataset goes through `escapeHtml` before it lands in HTML.
 *
 *   escapeHtml(`<b>"hi" & 'bye'</b>`)  // "&lt;b&gt;&quot;hi&quot; &amp; &#39;bye&#39;&lt;/b&gt;"
 *   tableHtml([{ label: "happy", n: 1137 }], ["label", "n"])
 *   // <table class="bertlab"><thead><tr><th>label</th><th>n</th></tr></thead><tbody><tr><td>happy</td>…
 */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes the five characters that matter in HTML text and (quoted) attribute values. */
export function escapeHtml(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Renders a value for a table cell: numbers right-aligned, everything escaped. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return "<td></td>";
  if (typeof v === "number")
    return `<td style="text-align:right">${escapeHtml(Number.isInteger(v) ? String(v) : v.toFixed(4))}</td>`;
  return `<td style="text-align:left">${escapeHtml(String(v))}</td>`;
}

/**
 * An HTML table of `rows` showing `columns` (default: the keys of the first row), every cell escaped.
 * Meant for `tslab.display.html(tableHtml(...))`.
 */
export function tableHtml(
  rows: ReadonlyArray<object>,
  columns?: readonly string[],
  opts: { caption?: string } = {},
): string {
  const cols = columns ?? (rows.length ? Object.keys(rows[0]) : []);
  const head = cols.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const row = (r: object) => cols.map((c) => cell((r as Record<string, unknown>)[c])).join("");
  const body = rows.map((r) => `<tr>${row(r)}</tr>`).join("\n");
  const caption = opts.caption !== undefined ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  return `<table class="bertlab">${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}
