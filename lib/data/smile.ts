/**
 * The SMILE Twitter Emotion dataset as the course uses it: the headerless `id,text,category` CSV, its categories
 * counted, multi-label (`happy|sad`) and `nocode` rows dropped, labels numbered in order of first appearance.
 * Taught in notebooks/01_eda.ipynb.
 *
 *   const rows = loadSmile();                 // 3085 rows
 *   const course = filterForCourse(rows);     // 1481 rows
 *   labelDict(course)  // { happy: 0, "not-relevant": 1, angry: 2, disgust: 3, sad: 4, surprise: 5 }
 *   loadMultiLabelCourseData().train.length   // 1286 (label sets kept, only nocode dropped; notebook 08)
 */
import * as fs from "fs";
import { readCsv } from "./csv";
import { SMILE_CSV } from "../core/paths";
import { stratifiedSplit, multilabelStratifiedSplit, SplitOptions } from "./split";
import { multiHot } from "./labels";

/** One row of the SMILE file. */
export interface SmileRow {
  /** The tweet id: 18 digits, kept as a string. */
  id: string;
  text: string;
  /** An emotion, `nocode`, `not-relevant`, or several joined by `|` (e.g. `happy|sad`). */
  category: string;
}

/** A course row with its label id. */
export interface LabelledRow extends SmileRow {
  label: number;
}

/** The published file's sha256 (figshare record 10.6084/m9.figshare.3187909.v2). */
export const SMILE_SHA256 = "d9288a574e13e0f1de65a8f482f71a85aaca8e9d4fceb8f9e8c8ed2e03e1c89f";

/** Reads the SMILE CSV. A missing file says how to fetch it; a bad id or an empty category names the line. */
export function loadSmile(file: string = SMILE_CSV): SmileRow[] {
  if (!fs.existsSync(file))
    throw new Error(`${file}: SMILE CSV not found. Fetch it with: npx tsx scripts/fetch-data.ts`);
  const table = readCsv(file, { delimiter: ",", header: false });
  if (table.columns.length !== 3)
    throw new Error(`${file}: expected 3 columns (id, text, category), found ${table.columns.length}`);
  return table.rows.map(([id, text, category], k) => {
    if (!/^\d+$/.test(id))
      throw new Error(`${file}:${table.lines[k]}: id ${JSON.stringify(id)} is not a tweet id (digits only)`);
    if (category.trim() === "") throw new Error(`${file}:${table.lines[k]}: empty category`);
    return { id, text, category };
  });
}

/** Category counts, most frequent first (ties in order of first appearance), like pandas' value_counts. */
export function categoryCounts(rows: readonly { category: string }[]): { category: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.category, (counts.get(r.category) ?? 0) + 1);
  // Array.prototype.sort is stable, so ties keep their first-appearance order.
  return [...counts].map(([category, count]) => ({ category, count })).sort((a, b) => b.count - a.count);
}

/** Whether a category names several emotions (`happy|sad`): such rows have no single class. */
export function isMultiLabel(category: string): boolean {
  return category.includes("|");
}

/** The rows the course trains on: single-label rows that are not `nocode` (3085 → 1481 rows). Pure. */
export function filterForCourse<T extends { category: string }>(rows: readonly T[]): T[] {
  return rows.filter((r) => !isMultiLabel(r.category) && r.category !== "nocode");
}

/**
 * Label ids in order of first appearance, as the course's `df.category.unique()` loop builds them:
 * { happy: 0, "not-relevant": 1, angry: 2, disgust: 3, sad: 4, surprise: 5 } for the SMILE rows.
 */
export function labelDict(rows: readonly { category: string }[]): Record<string, number> {
  const dict: Record<string, number> = {};
  let next = 0;
  for (const r of rows) if (!(r.category in dict)) dict[r.category] = next++;
  return dict;
}

/** The label names ordered by id: labels[i] is the name of label i (what a model's id2label holds). */
export function labelNames(dict: Record<string, number>): string[] {
  const names: string[] = [];
  for (const [name, id] of Object.entries(dict)) names[id] = name;
  return names;
}

/** Adds each row's label id. A category missing from `dict` is an error naming the row's id. */
export function withLabels<T extends SmileRow>(
  rows: readonly T[],
  dict: Record<string, number>,
): (T & { label: number })[] {
  const known = Object.keys(dict).join(", ");
  return rows.map((r) => {
    const label = dict[r.category];
    if (label === undefined)
      throw new Error(`row id ${r.id}: category ${JSON.stringify(r.category)} is not in the label dict (${known})`);
    return { ...r, label };
  });
}

/** The course's data, ready to tokenize: labelled rows split 85/15, stratified, seed 17. */
export interface CourseData {
  labelDict: Record<string, number>;
  /** labels[i] is the name of label id i. */
  labels: string[];
  /** Rows in file order (1258 and 223 for the SMILE file). */
  train: LabelledRow[];
  validation: LabelledRow[];
}

/**
 * Everything notebooks 01–02 build, in one call: load, filter, number the labels, and split as
 * `train_test_split(test_size=0.15, random_state=17, stratify=labels)`. Rows stay in file order, as the course's.
 */
export function loadCourseData(file: string = SMILE_CSV, opts: SplitOptions = {}): CourseData {
  const rows = filterForCourse(loadSmile(file));
  const dict = labelDict(rows);
  const labelled = withLabels(rows, dict);
  const { trainFileOrder, validationFileOrder } = stratifiedSplit(labelled, labelled.map((r) => r.label), opts);
  return { labelDict: dict, labels: labelNames(dict), train: trainFileOrder, validation: validationFileOrder };
}

/** A SMILE row with its set of emotions (`happy|sad` → ["happy", "sad"]). */
export interface LabelSetSmileRow extends SmileRow {
  labels: string[];
}

/** SMILE as multi-label data: rows, label names, and the split. */
export interface MultiLabelCourseData {
  /** Emotions in order of first appearance in the file (happy, not-relevant, angry, disgust, surprise, sad). */
  labels: string[];
  train: LabelSetSmileRow[];
  validation: LabelSetSmileRow[];
}

/**
 * SMILE for multi-label training (notebook 08): every row but `nocode` (1,513: the course's 1,481 plus the 32 with
 * several emotions), split by iterative stratification with the course's 15 % and seed. Rows stay in file order.
 */
export function loadMultiLabelCourseData(file: string = SMILE_CSV, opts: SplitOptions = {}): MultiLabelCourseData {
  const rows = loadSmile(file).filter((r) => r.category !== "nocode").map((r) => ({
    ...r,
    labels: r.category.split("|"),
  }));
  const labels = [...new Set(rows.flatMap((r) => r.labels))];
  const y = multiHot(rows.map((r) => r.labels), labels);
  const split = multilabelStratifiedSplit(rows, y, opts);
  return { labels, train: split.trainFileOrder, validation: split.validationFileOrder };
}
