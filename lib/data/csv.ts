/**
 * Reading CSV and TSV files: an RFC 4180 parser (quoted fields may hold delimiters, doubled quotes and newlines; CRLF
 * or LF line ends), strict UTF-8 decoding, and `readLabelledTexts` for a learner's own labelled data with named
 * columns. Every error names the file and the row.
 *
 *   parseCsv('1,"a, ""quoted"" text",happy\n')   // [["1", 'a, "quoted" text', "happy"]]
 *   readLabelledTexts("my.tsv", { textColumn: "tweet", labelColumn: "emotion", idColumn: "id" })
 *   // [{ id: "17", text: "what a day", label: "happy", row: 2 }, …]
 *
 * Used by lib/data/smile.ts for the course's SMILE file (taught in notebooks/01_eda.ipynb).
 */
import * as fs from "fs";
import * as path from "path";

export interface ParseOptions {
  /** Field separator, one character. Default ",". */
  delimiter?: string;
  /** Named in error messages. */
  file?: string;
}

/** A parsed record and the (1-based) line it starts on, for error messages. */
export interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Parses CSV text into records with the line each starts on. A lone blank line is skipped (as
 * pandas and Python's csv do); a quoted field may span lines. Strict where RFC 4180 is: text after
 * a closing quote, or an unterminated quote, is an error naming the line.
 */
export function parseCsvRecords(text: string, opts: ParseOptions = {}): CsvRecord[] {
  const d = opts.delimiter ?? ",";
  if (d.length !== 1 || d === '"' || d === "\n" || d === "\r")
    throw new Error(`CSV delimiter must be one character other than a quote or newline, got ${JSON.stringify(d)}`);
  const where = (line: number) => `${opts.file ?? "CSV text"}: line ${line}`;
  const endsField = (ch: string) => ch === d || ch === "\n" || ch === "\r";
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let quoted = false; // the current field was quoted (so a lone "" line is not a blank line)
  let i = 0;
  const n = text.length;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === "" && !quoted)) records.push({ fields, line: recordLine });
    fields = [];
    field = "";
    quoted = false;
  };
  while (i < n) {
    const c = text[i];
    if (c === '"' && field === "" && !quoted) {
      // 1) a quoted field: read to the closing quote, "" is a literal quote
      let q = text.indexOf('"', i + 1);
      while (q >= 0 && text[q + 1] === '"') q = text.indexOf('"', q + 2);
      if (q < 0) throw new Error(`${where(line)}: quoted field is never closed (a missing " ?)`);
      const body = text.slice(i + 1, q);
      field = body.replaceAll('""', '"');
      line += body.split("\n").length - 1;
      i = q + 1;
      // 2) after the closing quote only a delimiter or a line end may follow
      if (i < n && !endsField(text[i])) {
        const what = `unexpected ${JSON.stringify(text[i])} after a closing quote`;
        throw new Error(`${where(line)}: ${what} (quotes inside a quoted field must be doubled: "")`);
      }
      quoted = true;
      continue;
    }
    if (c === d) {
      fields.push(field);
      field = "";
      quoted = false;
      i++;
    } else if (c === "\n" || c === "\r") {
      endRecord();
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      // 3) an unquoted run up to the next delimiter or line end (quotes inside it are literal)
      let j = i;
      while (j < n && !endsField(text[j])) j++;
      field += text.slice(i, j);
      i = j;
    }
  }
  if (field !== "" || fields.length || quoted) endRecord();
  return records;
}

/** Parses CSV text into rows of fields (see `parseCsvRecords`). */
export function parseCsv(text: string, opts: ParseOptions = {}): string[][] {
  return parseCsvRecords(text, opts).map((r) => r.fields);
}

/** Strict UTF-8: invalid bytes are an error naming the file, byte and line, not U+FFFD. A leading BOM is dropped. */
export function decodeUtf8(bytes: Uint8Array, file = "input"): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const line = bytes.subarray(0, offset).filter((b) => b === 0x0a).length + 1;
    const hex = Array.from(bytes.subarray(offset, offset + 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new Error(
      `${file}: not valid UTF-8 at byte ${offset} (line ${line}): bytes ${hex}. Re-save the file as UTF-8.`,
    );
  }
}

/** The offset of the first byte that breaks UTF-8 (bytes.length when none does). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    // how many continuation bytes follow the lead byte c, and the least code point that needs that many
    const len = c < 0x80 ? 0 : c < 0xc2 ? -1 : c <= 0xdf ? 1 : c <= 0xef ? 2 : c <= 0xf4 ? 3 : -1;
    if (len < 0) return i;
    const min = [0, 0x80, 0x800, 0x10000][len];
    let cp = c & (0x3f >> len);
    for (let k = 1; k <= len; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len + 1;
  }
  return b.length;
}

/** The delimiter for a file: tab for .tsv/.tab, comma for .csv, else sniffed from the first line. */
export function inferDelimiter(file: string, text: string): string {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".tsv" || ext === ".tab") return "\t";
  if (ext === ".csv") return ",";
  const first = text.slice(0, text.search(/\r?\n|$/));
  const unquoted = first.replace(/"[^"]*"/g, "");
  const count = (d: string) => unquoted.split(d).length - 1;
  const best = ["\t", ",", ";", "|"].reduce((a, d) => (count(d) > count(a) ? d : a)); // the first of the most frequent
  return count(best) > 0 ? best : ",";
}

function showDelimiter(d: string): string {
  return d === "\t" ? "tab" : JSON.stringify(d);
}

/** Reads a file's bytes, with a clear error when it is missing. */
export function readTextFile(file: string): string {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found (working directory ${process.cwd()})`);
  return decodeUtf8(fs.readFileSync(file), file);
}

export interface ReadCsvOptions {
  delimiter?: string;
  /** Whether the first row names the columns. Default true. */
  header?: boolean;
}

export interface CsvTable {
  file: string;
  delimiter: string;
  /** Column names: the header row, or "0", "1", … for a headerless file. */
  columns: string[];
  /** Data rows (header excluded), each with exactly `columns.length` fields. */
  rows: string[][];
  /** The line each data row starts on in the file. */
  lines: number[];
}

/**
 * Reads a CSV/TSV file and checks that every row has as many fields as the first. A file read
 * with the wrong delimiter fails here: "expected 3 columns (delimiter ","), line 2 has 1".
 */
export function readCsv(file: string, opts: ReadCsvOptions = {}): CsvTable {
  const text = readTextFile(file);
  const delimiter = opts.delimiter ?? inferDelimiter(file, text);
  const records = parseCsvRecords(text, { delimiter, file });
  if (records.length === 0) throw new Error(`${file}: the file is empty`);
  const header = opts.header ?? true;
  const [first] = records, width = first.fields.length;
  const bad = records.find((r) => r.fields.length !== width);
  if (bad) {
    const hint = width === 1 || bad.fields.length === 1 ? " — is the delimiter right? (pass `delimiter`)" : "";
    const expected = `expected ${width} columns (delimiter ${showDelimiter(delimiter)}, as in line ${first.line})`;
    throw new Error(`${file}: ${expected}, line ${bad.line} has ${bad.fields.length}${hint}`);
  }
  const columns = header ? first.fields.map((c) => c.trim()) : first.fields.map((_, k) => String(k));
  const data = header ? records.slice(1) : records;
  return { file, delimiter, columns, rows: data.map((r) => r.fields), lines: data.map((r) => r.line) };
}

export interface LabelledText {
  /** The id column's value, as a string (ids may exceed JavaScript's exact integers); else the line number. */
  id: string;
  text: string;
  label: string;
  /** The line in the file the row starts on. */
  row: number;
}

export interface LabelledTextOptions {
  /** Column names (with a header) or 0-based indices (with or without one). */
  textColumn: string | number;
  labelColumn: string | number;
  idColumn?: string | number;
  /** Inferred from .tsv/.csv, else sniffed. */
  delimiter?: string;
  header?: boolean;
}

/**
 * Reads labelled texts from a CSV/TSV with named columns, for fine-tuning on your own data.
 * Errors: missing file, wrong delimiter, missing column (lists the columns found), empty text
 * (file:line), duplicate id (both lines).
 */
export function readLabelledTexts(file: string, opts: LabelledTextOptions): LabelledText[] {
  const table = readCsv(file, { delimiter: opts.delimiter, header: opts.header });
  const find = (col: string | number, role: string): number => {
    const k = typeof col === "number" ? col : table.columns.indexOf(col);
    if (k >= 0 && k < table.columns.length) return k;
    const found = table.columns.map((c) => JSON.stringify(c)).join(", ");
    const single = table.columns.length === 1
      ? ` (one column only: is the delimiter ${showDelimiter(table.delimiter)} right?)`
      : "";
    throw new Error(`${file}: no ${role} column ${JSON.stringify(col)}; columns found: ${found}${single}`);
  };
  const t = find(opts.textColumn, "text");
  const l = find(opts.labelColumn, "label");
  const idc = opts.idColumn === undefined ? -1 : find(opts.idColumn, "id");
  const seen = new Map<string, number>();
  return table.rows.map((fields, r) => {
    const row = table.lines[r];
    const text = fields[t];
    const label = fields[l].trim();
    if (text.trim() === "") throw new Error(`${file}:${row}: empty text in column ${JSON.stringify(table.columns[t])}`);
    if (label === "") throw new Error(`${file}:${row}: empty label in column ${JSON.stringify(table.columns[l])}`);
    const id = idc >= 0 ? fields[idc].trim() : String(row);
    if (idc >= 0) {
      if (id === "") throw new Error(`${file}:${row}: empty id in column ${JSON.stringify(table.columns[idc])}`);
      const before = seen.get(id);
      if (before !== undefined)
        throw new Error(`${file}: duplicate id ${JSON.stringify(id)} on lines ${before} and ${row}`);
      seen.set(id, row);
    }
    return { id, text, label, row };
  });
}
