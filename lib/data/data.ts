/**
 * The labelled texts a run trains on and is scored on: `TrainData` (train, validation and, optionally, test; one
 * label a text, or a set of labels, `happy|sad`), from split rows (`trainData`) or from files (`loadTrainData`), and
 * the checks it passes before training (`checkData`), whose errors name the file, the line and the problem.
 *
 *   const data = trainData(loadCourseData());          // SMILE, the course split (lib/data/smile.ts)
 *   data.train.texts.length, data.validation.labels[0]  // 1258, "happy"
 *   trainData(loadMultiLabelCourseData()).train.labels[7]   // ["happy", "surprise"]
 *   loadTrainData({ trainCsv: "train.tsv", validationCsv: "dev.tsv", testCsv: "test.tsv",
 *                   textColumn: "text", labelColumn: "label" }, { validationSize: 0.15, seed: 17 })
 */
import { readLabelledTexts, LabelledText } from "./csv";
import { loadCourseData, loadMultiLabelCourseData } from "./smile";
import { stratifiedSplit, multilabelStratifiedSplit, Split } from "./split";
import { multiHot, parseLabelSet } from "./labels";
import { SMILE_CSV } from "../core/paths";

/** Texts with their labels (`string` each; `string[]` each in multi-label data), in the order the model sees them. */
export interface TextSet<L = string> {
  texts: string[];
  labels: L[];
  /** Row ids (tweet ids, an id column, or line numbers), for split files and error tables. */
  ids?: string[];
  /** Where each example came from (file and 1-based line), so errors can point at it. */
  origin?: { file: string; lines: number[] };
}

interface Parts<L> {
  train: TextSet<L>;
  validation: TextSet<L>;
  /** Scored once, after training, by the model the run returns (it never chooses anything). */
  test?: TextSet<L>;
  /** Label names in id order; default: the training labels sorted (as the HF script does). */
  labels?: string[];
}

/** One label a text: a softmax head and cross-entropy. */
export interface SingleLabelData extends Parts<string> {
  multiLabel?: false;
}
/** A set of labels a text: a sigmoid per label and binary cross-entropy (lib/eval/multilabel.ts). */
export interface MultiLabelData extends Parts<string[]> {
  multiLabel: true;
}
export type TrainData = SingleLabelData | MultiLabelData;

/** The three parts by the names used everywhere (the held-out part is always `validation`). */
export const PARTS = ["train", "validation", "test"] as const;
export type Part = (typeof PARTS)[number];

/** A row as lib/data/smile.ts (`category`, or `labels` for label sets) or lib/data/csv.ts (`label`, `row`) gives it. */
export type DataRow = { text: string; id?: string; row?: number } & ({ category: string } | { label: string });
export type LabelSetRow = { text: string; id?: string; row?: number; labels: string[] };

/** One set from rows; `file` (with each row's `row`) lets errors name the line. */
export function textSet(rows: readonly DataRow[], file?: string): TextSet;
export function textSet(rows: readonly LabelSetRow[], file?: string): TextSet<string[]>;
export function textSet(rows: readonly (DataRow | LabelSetRow)[], file?: string): TextSet<string | string[]>;
export function textSet(rows: readonly (DataRow | LabelSetRow)[], file?: string): TextSet<string | string[]> {
  const set: TextSet<string | string[]> = {
    texts: rows.map((r) => r.text),
    labels: rows.map((r) => ("labels" in r ? [...r.labels] : "category" in r ? r.category : r.label)),
    ids: rows.map((r, i) => r.id ?? String(i)),
  };
  if (file && rows.every((r) => r.row !== undefined)) set.origin = { file, lines: rows.map((r) => r.row!) };
  return set;
}

type SplitRows<R> = { labels?: string[]; train: readonly R[]; validation: readonly R[]; test?: readonly R[] };

/** TrainData from split rows: `loadCourseData()`, `loadMultiLabelCourseData()`, or any rows with text and label(s). */
export function trainData(split: SplitRows<LabelSetRow>): MultiLabelData;
export function trainData(split: SplitRows<DataRow>): SingleLabelData;
export function trainData(split: SplitRows<DataRow | LabelSetRow>): TrainData {
  return {
    ...(split.train.length > 0 && "labels" in split.train[0] ? { multiLabel: true } : {}),
    train: textSet(split.train),
    validation: textSet(split.validation),
    ...(split.test ? { test: textSet(split.test) } : {}),
    ...(split.labels ? { labels: [...split.labels] } : {}),
  } as TrainData;
}

/** "data.tsv:12" when the example's line is known, else "validation example 3 (id …)". */
export function rowPlace(set: TextSet<unknown>, part: Part, i: number): string {
  if (set.origin) return `${set.origin.file}:${set.origin.lines[i]}`;
  return `${part} example ${i}${set.ids?.[i] !== undefined ? ` (id ${set.ids[i]})` : ""}`;
}

/** Each example's labels as a list (one label, or the set). */
const labelList = (l: string | string[]) => (Array.isArray(l) ? l : [l]);

/**
 * Checks the data and returns the label names in id order. Errors name the file and line (or the example) and the
 * problem: sizes that disagree, no training data, a single class, an example without a label, and a label that
 * occurs in validation or test but never in training (the model could never predict it).
 */
export function checkData(data: TrainData): string[] {
  const sets = PARTS.map((part) => [part, data[part] as TextSet<string | string[]> | undefined] as const);
  for (const [part, set] of sets) {
    if (set && set.texts.length !== set.labels.length)
      throw new Error(`${part} data has ${set.texts.length} texts but ${set.labels.length} labels`);
  }
  const train = data.train as TextSet<string | string[]>;
  if (train.texts.length === 0) throw new Error("training data is empty: nothing to learn from");
  const inTraining = new Set(train.labels.flatMap(labelList));
  const labels = data.labels ? [...data.labels] : [...inTraining].sort();
  if (inTraining.size < 2) {
    const only = JSON.stringify([...inTraining][0]);
    throw new Error(`training data has a single class (${only}): a classifier needs at least two`);
  }
  const known = new Set(labels);
  for (const [part, set] of sets) {
    set?.labels.forEach((l, i) => {
      const at = rowPlace(set, part, i);
      if (labelList(l).length === 0) throw new Error(`${at}: no label (a multi-label example needs at least one)`);
      for (const one of labelList(l)) {
        if (part !== "train" && !inTraining.has(one)) {
          throw new Error(
            `${at}: label ${JSON.stringify(one)} occurs only in ${part}, never in the training data: `
              + "the model could not learn it",
          );
        }
        if (!known.has(one))
          throw new Error(`${at}: label ${JSON.stringify(one)} is not in the label list (${labels.join(", ")})`);
      }
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
  /** Scored after training by the model the run returns. */
  testCsv?: string;
  textColumn?: string | number;
  labelColumn?: string | number;
  idColumn?: string | number;
  delimiter?: string;
  /** Whether files start with a header row (default true). */
  header?: boolean;
  /** Label cells hold sets of labels joined by labelDelimiter (SMILE: `happy|sad`). */
  multiLabel?: boolean;
  /** Default "|". */
  labelDelimiter?: string;
}

/** The data and, for split files, each set's ids. */
export type LoadedData<D extends TrainData = TrainData> = D & {
  labels: string[];
  ids: { train: string[]; validation: string[]; test?: string[] };
};

/** Reads one labelled file with the source's column settings. */
export function readSet(file: string, src: DataSource): LabelledText[] {
  const { textColumn, labelColumn } = src;
  if (textColumn === undefined || labelColumn === undefined)
    throw new Error(`${file} needs --text-column and --label-column`);
  return readLabelledTexts(file, { ...src, textColumn, labelColumn });
}

/** Reads a multi-label file: each label cell split on the delimiter (an empty part is an error naming the line). */
export function readLabelSets(file: string, src: DataSource): LabelSetRow[] {
  const d = src.labelDelimiter ?? "|";
  return readSet(file, src).map(({ label, ...r }) => ({ ...r, labels: parseLabelSet(label, d, `${file}:${r.row}`) }));
}

/** One file's examples: single-label rows, or label sets (evaluate --csv; loadTrainData's validation and test files). */
export function readEvalSet(file: string, src: DataSource, multiLabel: boolean): TextSet | TextSet<string[]> {
  return multiLabel ? textSet(readLabelSets(file, src), file) : textSet(readSet(file, src), file);
}

export interface LoadOptions {
  validationSize: number;
  seed: number;
  /** Where warnings go (default: stderr). */
  warn?: (message: string) => void;
}

/**
 * Loads the data a run trains on: the course's SMILE split when no file is named, one file split as the course splits
 * (`csv`, or `trainCsv` alone), or separate train and validation files; plus `testCsv`. Checked by `checkData`.
 */
export function loadTrainData(src: DataSource & { multiLabel: true }, opts: LoadOptions): LoadedData<MultiLabelData>;
export function loadTrainData(src: DataSource & { multiLabel?: false }, opts: LoadOptions): LoadedData<SingleLabelData>;
export function loadTrainData(src: DataSource, opts: LoadOptions): LoadedData;
export function loadTrainData(src: DataSource, opts: LoadOptions): LoadedData {
  if (src.csv && src.trainCsv)
    throw new Error("give either --csv (split into train and validation) or --train-csv, not both");
  if (src.validationCsv && !src.trainCsv)
    throw new Error(
      `--validation-csv ${src.validationCsv} needs --train-csv (with --csv the validation part is split off)`,
    );
  const data = loadData(src, opts);
  const labels = checkData(data);
  const { train, validation, test } = data as Parts<unknown>;
  const ids = { train: train.ids!, validation: validation.ids!, ...(test ? { test: test.ids! } : {}) };
  return { ...data, labels, ids } as LoadedData;
}

const toStderr = (m: string) => {
  process.stderr.write(`warning: ${m}\n`);
};

/** The sets of `loadTrainData`, single-label or label sets as `src.multiLabel` says. */
function loadData(src: DataSource, split: LoadOptions): TrainData {
  const multiLabel = src.multiLabel === true;
  let data: Parts<string | string[]>;
  if (!src.csv && !src.trainCsv) {
    data = multiLabel
      ? trainData(loadMultiLabelCourseData(SMILE_CSV, split))
      : trainData(loadCourseData(SMILE_CSV, split));
  } else {
    const trainFile = (src.csv ?? src.trainCsv)!;
    const rows = multiLabel ? readLabelSets(trainFile, src) : readSet(trainFile, src);
    if (multiLabel && (rows as LabelSetRow[]).every((r) => r.labels.length === 1)) {
      const d = JSON.stringify(src.labelDelimiter ?? "|");
      (split.warn ?? toStderr)(
        `${trainFile}: the label delimiter ${d} never occurs in its label column: `
          + "every row has one label, so the data is single-label (train without --multi-label for a softmax head, "
          + "or check --label-delimiter)",
      );
    }
    if (src.validationCsv) {
      data = { train: textSet(rows, trainFile), validation: readEvalSet(src.validationCsv, src, multiLabel) };
    } else {
      const s = multiLabel
        ? splitLabelSets(rows as LabelSetRow[], split)
        : splitSingleLabel(rows as LabelledText[], trainFile, split);
      data = { train: textSet(s.trainFileOrder, trainFile), validation: textSet(s.validationFileOrder, trainFile) };
    }
  }
  if (src.testCsv) data.test = readEvalSet(src.testCsv, src, multiLabel);
  return (multiLabel ? { multiLabel: true, ...data } : data) as TrainData;
}

/** The course's stratified split of one file, after checking that every label has the two rows it needs. */
function splitSingleLabel(rows: LabelledText[], trainFile: string, split: LoadOptions): Split<LabelledText> {
  const sorted = [...new Set(rows.map((r) => r.label))].sort();
  const once = sorted.map((l) => rows.filter((r) => r.label === l)).filter((rs) => rs.length === 1).map((rs) => rs[0]);
  if (once.length) {
    const which = once.map((r) => `${JSON.stringify(r.label)} (${trainFile}:${r.row})`).join(", ");
    throw new Error(
      `${trainFile}: ${once.length === 1 ? "a label occurs" : "labels occur"} only once: ${which}. The`
        + " stratified split puts every label on both sides, so each needs at least 2 rows: add rows, remove these,"
        + " or give the validation set yourself with --validation-csv",
    );
  }
  try {
    return stratifiedSplit(rows, rows.map((r) => sorted.indexOf(r.label)), split);
  } catch (e) { // too few rows for one of each label on both sides (scikit-learn's words)
    const what =
      `${trainFile} (${rows.length} rows, ${sorted.length} labels, --validation-size ${split.validationSize})`;
    throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Iterative stratification of label sets (the labels sorted as the model numbers them). */
function splitLabelSets(rows: LabelSetRow[], split: LoadOptions): Split<LabelSetRow> {
  const labels = [...new Set(rows.flatMap((r) => r.labels))].sort();
  return multilabelStratifiedSplit(rows, multiHot(rows.map((r) => r.labels), labels), split);
}
