/**
 * The labelled texts a run trains on and is scored on: `TextSet` and `TrainData` (train,
 * validation and, optionally, test), built by one helper (`trainData`) from split rows, from one
 * CSV split as the course splits, or from separate train / validation / test files; and the checks
 * every set passes before training (`checkData`), whose errors name the file, the line and the problem.
 *
 *   const data = trainData(loadCourseData());          // SMILE, the course split (lib/smile.ts)
 *   data.train.texts.length, data.validation.labels[0]  // 1258, "happy"
 *   loadTrainData({ trainCsv: "train.tsv", validationCsv: "dev.tsv", testCsv: "test.tsv",
 *                   textColumn: "text", labelColumn: "label" })
 */
import { readLabelledTexts, LabelledText } from "./csv";
import { loadCourseData } from "./smile";
import { stratifiedSplit } from "./split";
import { SMILE_CSV } from "./paths";

/** Texts with their labels, in the order the model sees them. */
export interface TextSet {
  texts: string[];
  labels: string[];
  /** Row ids (tweet ids, an id column, or line numbers), for split files and error tables. */
  ids?: string[];
  /** Where each example came from (file and 1-based line), so errors can point at it. */
  origin?: { file: string; lines: number[] };
}

export interface TrainData {
  train: TextSet;
  validation: TextSet;
  /** Scored once, after training, by the selected model (never used to choose anything). */
  test?: TextSet;
  /** Label names in id order; default: the training labels sorted (as the HF script does). */
  labels?: string[];
}

/** The three parts by the names used everywhere (the held-out part is always `validation`). */
export const PARTS = ["train", "validation", "test"] as const;
export type Part = (typeof PARTS)[number];

/** A row as lib/smile.ts (`category`) or lib/csv.ts (`label`, `row`) gives it. */
export type DataRow = { text: string; id?: string; row?: number } & ({ category: string } | { label: string });

/** One set from rows; `file` (with each row's `row`) lets errors name the line. */
export function textSet(rows: readonly DataRow[], file?: string): TextSet {
  const set: TextSet = {
    texts: rows.map((r) => r.text),
    labels: rows.map((r) => ("category" in r ? r.category : r.label)),
    ids: rows.map((r, i) => r.id ?? String(i)),
  };
  if (file && rows.every((r) => r.row !== undefined)) set.origin = { file, lines: rows.map((r) => r.row!) };
  return set;
}

/**
 * TrainData from split rows: the course's `loadCourseData()` (labels in the course's order) or any
 * rows with a text and a label. The one place a TrainData is put together.
 */
export function trainData(split: { labels?: string[]; train: readonly DataRow[]; validation: readonly DataRow[]; test?: readonly DataRow[] }): TrainData {
  const data: TrainData = { train: textSet(split.train), validation: textSet(split.validation) };
  if (split.test) data.test = textSet(split.test);
  if (split.labels) data.labels = [...split.labels];
  return data;
}

/** "data.tsv:12" when the example's line is known, else "validation example 3". */
export function where(set: TextSet, part: Part, i: number): string {
  return set.origin ? `${set.origin.file}:${set.origin.lines[i]}` : `${part} example ${i}${set.ids?.[i] !== undefined ? ` (id ${set.ids[i]})` : ""}`;
}

/**
 * Checks the data and returns the label names in id order. Errors name the file and line (or the
 * example) and the problem: sizes that disagree, no training data, a single class, and a label
 * that occurs in validation or test but never in training (the model could never predict it).
 */
export function checkData(data: TrainData): string[] {
  for (const part of PARTS) {
    const set = data[part];
    if (set && set.texts.length !== set.labels.length) throw new Error(`${part} data has ${set.texts.length} texts but ${set.labels.length} labels`);
  }
  const { train } = data;
  if (train.texts.length === 0) throw new Error("training data is empty: nothing to learn from");
  const labels = data.labels ? [...data.labels] : [...new Set(train.labels)].sort();
  if (new Set(train.labels).size < 2) throw new Error(`training data has a single class (${JSON.stringify(train.labels[0])}): a classifier needs at least two`);
  const known = new Set(labels);
  const inTraining = new Set(train.labels);
  for (const part of PARTS) {
    const set = data[part];
    set?.labels.forEach((l, i) => {
      if (part !== "train" && !inTraining.has(l)) {
        throw new Error(`${where(set, part, i)}: label ${JSON.stringify(l)} occurs only in ${part}, never in the training data: the model could not learn it`);
      }
      if (!known.has(l)) throw new Error(`${where(set, part, i)}: label ${JSON.stringify(l)} is not in the label list (${labels.join(", ")})`);
    });
  }
  return labels;
}

/** Where the labelled texts come from (the CLI's data flags). Nothing set: the course's SMILE data. */
export interface DataSource {
  /** One file, split into train and validation (stratified, validationSize, seed). */
  csv?: string;
  /** A training file; with validationCsv no split is made, without it the file is split. */
  trainCsv?: string;
  validationCsv?: string;
  /** Scored after training by the selected model. */
  testCsv?: string;
  textColumn?: string | number;
  labelColumn?: string | number;
  idColumn?: string | number;
  delimiter?: string;
  /** Whether files start with a header row (default true). */
  header?: boolean;
}

/** The data and, for split files, each set's ids. */
export type LoadedData = TrainData & { labels: string[]; ids: { train: string[]; validation: string[]; test?: string[] } };

/** Reads one labelled file with the source's column settings. */
export function readSet(file: string, src: DataSource): LabelledText[] {
  if (src.textColumn === undefined || src.labelColumn === undefined) throw new Error(`${file} needs --text-column and --label-column`);
  return readLabelledTexts(file, {
    textColumn: src.textColumn, labelColumn: src.labelColumn, idColumn: src.idColumn,
    delimiter: src.delimiter, header: src.header ?? true,
  });
}

/**
 * Loads the data a run trains on: the course's SMILE split when no file is named, one file split
 * as the course splits (`csv`, or `trainCsv` alone), or separate train and validation files; plus
 * a test file when `testCsv` is given. Checked by `checkData`.
 */
export function loadTrainData(src: DataSource, opts: { validationSize: number; seed: number }): LoadedData {
  if (src.csv && src.trainCsv) throw new Error("give either --csv (split into train and validation) or --train-csv, not both");
  if (src.validationCsv && !src.trainCsv) throw new Error(`--validation-csv ${src.validationCsv} needs --train-csv (with --csv the validation part is split off)`);
  let data: TrainData;
  if (!src.csv && !src.trainCsv) {
    data = trainData(loadCourseData(SMILE_CSV, opts));
  } else {
    const trainFile = (src.csv ?? src.trainCsv)!;
    const rows = readSet(trainFile, src);
    if (src.validationCsv) {
      data = { train: textSet(rows, trainFile), validation: textSet(readSet(src.validationCsv, src), src.validationCsv) };
    } else {
      const sorted = [...new Set(rows.map((r) => r.label))].sort();
      const split = stratifiedSplit(rows, rows.map((r) => sorted.indexOf(r.label)), { validationSize: opts.validationSize, seed: opts.seed });
      data = { train: textSet(split.trainFileOrder, trainFile), validation: textSet(split.validationFileOrder, trainFile) };
    }
  }
  if (src.testCsv) data.test = textSet(readSet(src.testCsv, src), src.testCsv);
  const labels = checkData(data);
  return {
    ...data, labels,
    ids: { train: data.train.ids!, validation: data.validation.ids!, ...(data.test ? { test: data.test.ids! } : {}) },
  };
}
