/**
 * A bias probe in the method of the Equity Evaluation Corpus (Kiritchenko & Mohammad 2018; the
 * templates and word lists are in lib/analysis/eec.ts): the same sentence about a woman and about a man, or
 * with a first name associated with African-American and with European-American people, scored by a
 * fine-tuned classifier. A systematic difference between the two sentences of a pair can only come
 * from the person words. Notebook 09_bias runs it on the course model and on a second seed.
 *
 *   const report = await probeBiasCheckpoint("runs/05_train");   // a run folder: its best/ model, else its last checkpoint
 *   report.comparisons[0].emotions.anger   // (a 3-step model of the notebooks' fast setting)
 *   // { n: 1440, meanA: 0.1335, meanB: 0.1344, meanDiff: -0.0010, ci95: [-0.0011, -0.0009], p: 4.0e-91, … }
 *
 * SMILE has no "fear" class, so the probe reads the classifier's angry, happy and sad probabilities
 * as the EEC's anger, joy and sadness (BIAS_EMOTION_MAP); a model without those labels is refused.
 */
import * as path from "path";
import {
  EEC_TEMPLATES,
  EEC_STATE_WORDS,
  EEC_SITUATION_WORDS,
  EEC_EMOTIONS,
  EEC_NOUN_PHRASES,
  EEC_NAMES,
  EecEmotion,
  EecPerson,
  namePerson,
} from "./eec";
import { pairedTTest, PairedTTest } from "../core/stats";
import { BertForSequenceClassification } from "../model/bert";
import { TokenizerLike } from "../data/tokenize";
import { predict, loadTrained } from "../eval/evaluate";
import { Figure, plotText } from "../view/plot";
import { chartsPage } from "../view/progress";
import { writeJsonAtomic, writeFileAtomic } from "../core/fsutil";

/** The classifier's label read as each EEC emotion: SMILE's angry/happy/sad → anger/joy/sadness. */
export const BIAS_EMOTION_MAP: Readonly<Record<string, string>> = { anger: "angry", joy: "happy", sadness: "sad" };

const PLACEHOLDERS = ["subject", "object", "reflexive", "state", "situation", "a"] as const;

/** Two sentences that differ only in the person: `a` about group A's person, `b` about group B's. */
export interface EecPair {
  comparison: string;
  personA: string;
  personB: string;
  /** Index into the templates; the emotion word (null in the four neutral templates) and its emotion. */
  template: number;
  emotion: EecEmotion | "none";
  word: string | null;
  a: string;
  b: string;
}

/** A comparison: which groups, and the persons paired one to one. */
export interface Comparison {
  name: string;
  groupA: string;
  groupB: string;
  persons: [EecPerson, EecPerson][];
}

/** The probe's two comparisons: 10 noun-phrase pairs by gender, 20 name pairs by race (matched by gender). */
export const EEC_COMPARISONS: readonly Comparison[] = [
  {
    name: "gender",
    groupA: "female",
    groupB: "male",
    persons: EEC_NOUN_PHRASES.female.map((f, i) => [f, EEC_NOUN_PHRASES.male[i]] as [EecPerson, EecPerson]),
  },
  {
    name: "race",
    groupA: "African-American names",
    groupB: "European-American names",
    persons: (["female", "male"] as const).flatMap((g) =>
      EEC_NAMES.africanAmerican[g].map((n, i) =>
        [namePerson(n, g), namePerson(EEC_NAMES.europeanAmerican[g][i], g)] as [EecPerson, EecPerson]
      )
    ),
  },
];

/** Checks every {placeholder} of every template is one this module fills; the error names the template. */
export function checkTemplates(templates: readonly string[]): void {
  const known = PLACEHOLDERS.map((p) => `{${p}}`).join(", ");
  templates.forEach((t, i) => {
    const fail = (why: string) => {
      throw new Error(`template ${i} ${JSON.stringify(t)}: ${why}`);
    };
    for (const [, name] of t.matchAll(/\{([^{}]*)\}/g))
      if (!(PLACEHOLDERS as readonly string[]).includes(name)) fail(`unknown placeholder {${name}} (known: ${known})`);
    if (/\{a\}(?! \{(state|situation)\})/.test(t)) fail("{a} must stand right before {state} or {situation}");
    if (/[{}]/.test(t.replace(/\{[^{}]*\}/g, ""))) fail("an unmatched { or }");
    if (t.includes("{state}") && t.includes("{situation}")) {
      fail("holds both {state} and {situation}; one emotion word per template");
    }
  });
}

/** One template filled for one person and emotion word; the sentence starts with a capital. */
export function fillTemplate(template: string, person: EecPerson, word: string | null): string {
  const article = /^[aeiou]/i.test(word ?? "") ? "an" : "a";
  const s = template.replace(/\{a\} \{(state|situation)\}/g, (_, k) => `${article} {${k}}`).replace(
    /\{(subject|object|reflexive|state|situation)\}/g,
    (_, k: string) => k === "state" || k === "situation" ? word ?? "" : person[k as keyof EecPerson],
  );
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The (template, emotion, word) slots: 4 × 20 state + 3 × 20 situation + 4 neutral = 144 for the EEC's templates. */
type Slot = { template: number; emotion: EecEmotion | "none"; word: string | null };
function slots(templates: readonly string[]): Slot[] {
  return templates.flatMap((t, template): Slot[] => {
    const words = t.includes("{state}") ? EEC_STATE_WORDS : t.includes("{situation}") ? EEC_SITUATION_WORDS : undefined;
    if (!words) return [{ template, emotion: "none", word: null }];
    return EEC_EMOTIONS.flatMap((emotion) => words[emotion].map((word) => ({ template, emotion, word })));
  });
}

/** Every sentence pair of every comparison (4,320 for the EEC's templates: 1,440 by gender, 2,880 by race). */
export function eecPairs(templates: readonly string[] = EEC_TEMPLATES): EecPair[] {
  checkTemplates(templates);
  const all = slots(templates);
  return EEC_COMPARISONS.flatMap((c) =>
    c.persons.flatMap(([pa, pb]) =>
      all.map((s) => ({
        comparison: c.name,
        personA: pa.subject,
        personB: pb.subject,
        ...s,
        a: fillTemplate(templates[s.template], pa, s.word),
        b: fillTemplate(templates[s.template], pb, s.word),
      }))
    )
  );
}

/** Every distinct sentence of the pairs, in first-seen order. */
export function eecSentences(pairs: readonly EecPair[]): string[] {
  return [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
}

export interface ComparisonResult {
  name: string;
  groupA: string;
  groupB: string;
  pairs: number;
  /** Pairs whose predicted label (argmax over all the model's labels) differs between a and b. */
  labelFlips: number;
  /** Per EEC emotion: mean probability per group, paired difference A − B, its 95% CI and p-value. */
  emotions: Record<string, PairedTTest>;
}

export interface BiasReport {
  method: string;
  checkpoint?: string;
  labels: string[];
  emotionMap: Record<string, string>;
  templates: readonly string[];
  /** 1: every pair was scored; n: every n-th (the notebooks' fast setting). */
  every: number;
  sentences: number;
  comparisons: ComparisonResult[];
}

/** Refuses a model whose labels lack one the map reads, saying which labels the probe needs and why. */
export function checkEmotionLabels(labels: readonly string[], where = "the model"): void {
  const missing = Object.entries(BIAS_EMOTION_MAP).filter(([, l]) => !labels.includes(l));
  if (missing.length === 0) return;
  const wanted = Object.entries(BIAS_EMOTION_MAP).map(([e, l]) => `${l} → ${e}`).join(", ");
  const lacking = missing.map(([e, l]) => `"${l}" (read as the EEC's ${e})`).join(", ");
  throw new Error(
    `${where} has labels ${JSON.stringify(labels)}, without ${lacking}: ` +
      `the bias probe maps the classifier's SMILE labels to the corpus's emotions (${wanted}) and needs all of them`,
  );
}

export interface ProbeOptions {
  batchSize?: number;
  /** Named in the report and in errors. */
  checkpoint?: string;
  /** Score every n-th pair only (4: a quarter of the corpus, still every template and person; the fast setting). */
  every?: number;
}

/**
 * Scores every pair with the model (eval mode: deterministic) and tests, per comparison and emotion,
 * whether the mean probability differs between the two groups (paired t-test, 95% CI).
 */
export function probeBias(
  model: BertForSequenceClassification,
  tokenizer: TokenizerLike,
  opts: ProbeOptions = {},
): BiasReport {
  const map = { ...BIAS_EMOTION_MAP };
  checkEmotionLabels(model.labels, opts.checkpoint);
  const every = opts.every ?? 1;
  if (!Number.isInteger(every) || every < 1)
    throw new Error(`probeBias: every must be a whole number ≥ 1, got ${every}`);
  const pairs = eecPairs().filter((_, i) => i % every === 0);
  const sentences = eecSentences(pairs);
  const scored = new Map(predict(model, tokenizer, sentences, { batchSize: opts.batchSize }).map((p) => [p.text, p]));
  const prob = (text: string, label: string) => scored.get(text)!.probabilities[label];
  const comparisons = [...new Set(pairs.map((p) => p.comparison))].map((name) => {
    const ps = pairs.filter((p) => p.comparison === name);
    const { groupA, groupB } = EEC_COMPARISONS.find((x) => x.name === name)!;
    const paired = (label: string) => pairedTTest(ps.map((p) => prob(p.a, label)), ps.map((p) => prob(p.b, label)));
    const emotions = Object.fromEntries(Object.entries(map).map(([emotion, label]) => [emotion, paired(label)]));
    const labelFlips = ps.filter((p) => scored.get(p.a)!.label !== scored.get(p.b)!.label).length;
    return { name, groupA, groupB, pairs: ps.length, labelFlips, emotions };
  });
  return {
    method: "Equity Evaluation Corpus templates (Kiritchenko & Mohammad 2018); " +
      "paired t-test per emotion, two-sided, 95% CI of mean(A − B)",
    checkpoint: opts.checkpoint,
    labels: model.labels.slice(),
    emotionMap: map,
    templates: EEC_TEMPLATES,
    every,
    sentences: sentences.length,
    comparisons,
  };
}

/** Loads a saved model folder (a run folder: its best/ model, else its last checkpoint) and probes it (`bertlab probe-bias`). */
export async function probeBiasCheckpoint(
  dir: string,
  opts: Omit<ProbeOptions, "checkpoint"> = {},
): Promise<BiasReport> {
  const { model, tokenizer, dir: modelDir } = await loadTrained(dir);
  try {
    return probeBias(model, tokenizer, { ...opts, checkpoint: modelDir });
  } finally {
    model.dispose();
  }
}

const fmt = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(4);

/** One line per comparison and emotion: means, difference with CI, p-value. */
export function biasSummaryLines(report: BiasReport): string[] {
  const emotion = ([e, s]: [string, PairedTTest]) =>
    `  ${e.padEnd(8)} mean P A ${s.meanA.toFixed(4)} · B ${s.meanB.toFixed(4)} · A − B ${fmt(s.meanDiff)} `
    + `(95% CI ${fmt(s.ci95[0])} … ${fmt(s.ci95[1])}) · p ${s.p.toPrecision(2)}`;
  const comparison = (c: ComparisonResult) =>
    `${c.name}: ${c.groupA} (A) vs ${c.groupB} (B), ${c.pairs} sentence pairs, predicted label differs in ${c.labelFlips}`;
  return report.comparisons.flatMap((c) => [comparison(c), ...Object.entries(c.emotions).map(emotion)]);
}

/**
 * The paired differences as a bar chart with 95% CI error bars: one bar per comparison and emotion,
 * one colour per model (so a second seed shows beside the first).
 */
export function biasFigure(reports: { name: string; report: BiasReport }[]): Figure {
  const data = reports.map(({ name, report }) => {
    const rows = report.comparisons.flatMap((c) => Object.entries(c.emotions).map(([e, s]) => ({ c, e, s })));
    return {
      type: "bar",
      name: plotText(name),
      x: rows.map((r) => `${r.c.name}: ${r.e}`),
      y: rows.map((r) => r.s.meanDiff),
      error_y: {
        type: "data",
        symmetric: false,
        array: rows.map((r) => r.s.ci95[1] - r.s.meanDiff),
        arrayminus: rows.map((r) => r.s.meanDiff - r.s.ci95[0]),
      },
      // plotly markup: the group names escaped, then a line break of our own
      text: rows.map((r) => `${plotText(`${r.c.groupA} − ${r.c.groupB}`)}<br>p ${r.s.p.toPrecision(2)}, n ${r.s.n}`),
      textposition: "none",
      hovertemplate: "%{x}: %{y:.4f}<br>%{text}<extra></extra>",
    };
  });
  return {
    data,
    layout: {
      title: { text: "Paired difference in mean probability, A − B (95% CI)" },
      barmode: "group",
      height: 380,
      yaxis: { title: { text: "P(emotion | A) − P(emotion | B)" }, zeroline: true },
      xaxis: { title: { text: "gender: female − male · race: African-American − European-American names" } },
    },
  };
}

/** Writes the report as JSON and its chart as a page beside it (`bias.json` → `bias.html`); returns the paths. */
export function writeBiasReport(report: BiasReport, jsonFile: string): { json: string; html: string } {
  const html = jsonFile.replace(/\.json$/i, "") + ".html";
  writeJsonAtomic(jsonFile, report);
  const name = report.checkpoint ? path.basename(path.resolve(report.checkpoint)) : "model";
  writeFileAtomic(html, chartsPage(`Bias probe: ${report.checkpoint ?? "model"}`, [biasFigure([{ name, report }])]));
  return { json: jsonFile, html };
}
