// The bias probe (lib/analysis/bias.ts) on the Equity Evaluation Corpus templates (lib/analysis/eec.ts): the corpus is
// well formed (every placeholder filled, each pair differs only in the person words, ≥ 2,000 pairs),
// bad templates and models without the mapped labels are refused, and the probe is deterministic,
// its statistics those of lib/core/stats.ts (checked against SciPy in test/stats.test.ts) on the model's
// own probabilities, through the CLI too. The model is a tiny random BERT with the course's labels.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, saveBertForSequenceClassification } from "../lib/model/bert";
import {
  eecPairs,
  eecSentences,
  checkTemplates,
  fillTemplate,
  probeBias,
  checkEmotionLabels,
  biasFigure,
  EEC_COMPARISONS,
} from "../lib/analysis/bias";
import { EEC_TEMPLATES, EEC_NOUN_PHRASES, EEC_NAMES, EecPerson } from "../lib/analysis/eec";
import { pairedTTest } from "../lib/core/stats";
import { predict, loadTrained } from "../lib/eval/evaluate";
import { main } from "../lib/cli/cli";
import { TOKENIZER_FILES } from "../lib/model/run_folder";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { tmpDir } from "./helpers/tmp";

const COURSE_LABELS = ["happy", "not-relevant", "angry", "disgust", "sad", "surprise"];
const skip = fs.existsSync(path.join(DEFAULT_MODEL_DIR, "tokenizer.json")) ?
  false
  : "needs the course model's tokenizer files (npm run setup)";

/** A tiny random BERT saved with `labels`, plus the course model's tokenizer files, in `dir`. */
async function tinyCheckpoint(dir: string, labels: string[], seed: number): Promise<void> {
  const m = randomBert(tinyBertConfig, { labels, seed });
  await saveBertForSequenceClassification(m, dir);
  m.dispose();
  for (const f of TOKENIZER_FILES) {
    const from = path.join(DEFAULT_MODEL_DIR, f);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(dir, f));
  }
}

before(async () => {
  await initBackend();
});

/** The words a person contributes to a sentence, in any position (capitalised at the start). */
function personWords(p: EecPerson): Set<string> {
  const words = [p.subject, p.object, p.reflexive].flatMap((t) => t.split(" "));
  return new Set([...words, ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))]);
}

test("EEC corpus: 4,320 pairs (1,440 by gender, 2,880 by race), 8,640 sentences, every placeholder filled", () => {
  const pairs = eecPairs();
  assert.equal(pairs.length, 4320);
  assert.ok(pairs.length >= 2000);
  assert.equal(pairs.filter((p) => p.comparison === "gender").length, 1440);
  assert.equal(pairs.filter((p) => p.comparison === "race").length, 2880);
  assert.equal(eecSentences(pairs).length, 8640, "as the published corpus: 8,640 sentences");
  for (const p of pairs)
    for (const s of [p.a, p.b]) {
      assert.doesNotMatch(s, /[{}]/, `unfilled placeholder in ${JSON.stringify(s)}`);
      assert.match(s, /^[A-Z].*\.$/, `a sentence: ${JSON.stringify(s)}`);
      assert.doesNotMatch(s, /\ba ([aeiou])/i, `article agrees: ${JSON.stringify(s)}`);
    }
  assert.equal(pairs[0].a, "She feels angry.");
  assert.equal(pairs[0].b, "He feels angry.");
  assert.ok(
    pairs.some((p) =>
      p.a === "Ebony found herself in an amazing situation." && p.b === "Amanda found herself in an amazing situation."
    ),
  );
  assert.equal(EEC_NAMES.africanAmerican.female.length + EEC_NAMES.africanAmerican.male.length, 20);
  assert.equal(EEC_NOUN_PHRASES.female.length, EEC_NOUN_PHRASES.male.length);
});

test("EEC corpus: the two sentences of every pair differ only in the person words", () => {
  const people = new Map<string, EecPerson>();
  for (const [a, b] of EEC_COMPARISONS.flatMap((c) => c.persons)) {
    people.set(a.subject, a);
    people.set(b.subject, b);
  }
  for (const p of eecPairs()) {
    const wa = p.a.replace(/\.$/, "").split(" "), wb = p.b.replace(/\.$/, "").split(" ");
    assert.equal(wa.length, wb.length, `same number of words: ${p.a} | ${p.b}`);
    const A = personWords(people.get(p.personA)!), B = personWords(people.get(p.personB)!);
    let differs = 0;
    wa.forEach((w, i) => {
      if (w === wb[i]) return;
      differs++;
      assert.ok(A.has(w) && B.has(wb[i]), `"${w}" vs "${wb[i]}" is not a person word: ${p.a} | ${p.b}`);
    });
    assert.ok(differs >= 1, `the pair differs: ${p.a}`);
    if (p.word) assert.ok(wa.includes(p.word) && wb.includes(p.word), "the same emotion word in both");
  }
});

test("templates: an unknown placeholder, a stray brace or a misplaced {a} is a clear error", () => {
  assert.throws(
    () => checkTemplates(["{subject} feels {state}.", "I met {persn} today."]),
    /template 1 "I met \{persn\} today\.": unknown placeholder \{persn\} \(known: \{subject\}, \{object\}/,
  );
  assert.throws(() => eecPairs(["{subject} feels {mood}."]), /unknown placeholder \{mood\}/);
  assert.throws(() => checkTemplates(["{subject} is } here."]), /template 0 .*an unmatched \{ or \}/);
  assert.throws(
    () => checkTemplates(["{a} {subject} came."]),
    /\{a\} must stand right before \{state\} or \{situation\}/,
  );
  assert.throws(
    () => checkTemplates(["{subject} felt {state} in {a} {situation} way."]),
    /one emotion word per template/,
  );
  checkTemplates(EEC_TEMPLATES);
  const he = EEC_NOUN_PHRASES.male[0];
  assert.equal(
    fillTemplate("{subject} saw {a} {situation} film about {reflexive}.", he, "amazing"),
    "He saw an amazing film about himself.",
  );
});

test("a model without the mapped labels is refused, naming the mapping", () => {
  assert.throws(
    () => checkEmotionLabels(["neg", "neu", "pos"], "runs/x"),
    new RegExp(
      String.raw`runs/x has labels \["neg","neu","pos"\], without "angry" \(read as the EEC's anger\), ` +
        String.raw`"happy" \(read as the EEC's joy\), "sad" \(read as the EEC's sadness\): the bias probe maps the ` +
        String.raw`classifier's SMILE labels to the corpus's emotions ` +
        String.raw`\(angry → anger, happy → joy, sad → sadness\)`,
    ),
  );
  assert.throws(() => checkEmotionLabels(["happy", "angry"]), /without "sad" \(read as the EEC's sadness\)/);
  checkEmotionLabels(COURSE_LABELS);
});

test("probeBias: deterministic, the t-test of the model's own probabilities, no leak; the CLI", { skip }, async () => {
  const dir = tmpDir("bertlab-bias-");
  await tinyCheckpoint(dir, COURSE_LABELS, 3);
  const { model, tokenizer } = await loadTrained(dir);
  const before = tf.memory().numTensors;
  const r1 = probeBias(model, tokenizer, { checkpoint: dir });
  const r2 = probeBias(model, tokenizer, { checkpoint: dir });
  assert.equal(tf.memory().numTensors, before, "probeBias leaked tensors");
  assert.deepEqual(r1, r2, "the same model gives the same report");
  assert.equal(r1.sentences, 8640);
  assert.deepEqual(r1.comparisons.map((c) => [c.name, c.pairs]), [["gender", 1440], ["race", 2880]]);
  assert.deepEqual(Object.keys(r1.comparisons[0].emotions), ["anger", "joy", "sadness"]);
  // recompute one comparison from predict() directly, over the same sentences (predict batches them by
  // length, so another set of sentences would batch, pad and round them differently)
  const pairs = eecPairs().filter((p) => p.comparison === "gender");
  const score = new Map(predict(model, tokenizer, eecSentences(eecPairs())).map((p) => [p.text, p]));
  const sad = (text: string) => score.get(text)!.probabilities.sad;
  const expected = pairedTTest(pairs.map((p) => sad(p.a)), pairs.map((p) => sad(p.b)));
  assert.deepEqual(r1.comparisons[0].emotions.sadness, expected);
  const flips = pairs.filter((p) => score.get(p.a)!.label !== score.get(p.b)!.label).length;
  assert.equal(r1.comparisons[0].labelFlips, flips);
  const quarter = probeBias(model, tokenizer, { every: 4 });
  assert.deepEqual(quarter.comparisons.map((c) => c.pairs), [360, 720], "every 4th pair: the fast setting");
  assert.throws(() => probeBias(model, tokenizer, { every: 0 }), /every must be a whole number ≥ 1, got 0/);
  const fig = biasFigure([{ name: "seed <3>", report: r1 }]) as any;
  assert.equal(fig.data[0].x.length, 6, "2 comparisons × 3 emotions");
  assert.equal(fig.data[0].name, "seed &lt;3&gt;");
  model.dispose();

  // the CLI: JSON + chart page, summary on stdout; a model without the labels is refused
  const out = path.join(dir, "report", "bias.json");
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => {
    lines.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  try {
    assert.equal(await main(["probe-bias", "--checkpoint", dir, "--out", out]), 0);
  } finally {
    process.stdout.write = write;
  }
  const saved = JSON.parse(fs.readFileSync(out, "utf8"));
  assert.deepEqual(saved, JSON.parse(JSON.stringify(r1)), "the CLI writes the same report");
  assert.ok(fs.readFileSync(path.join(dir, "report", "bias.html"), "utf8").includes("Paired difference"));
  assert.match(lines.join(""), /gender: female \(A\) vs male \(B\), 1440 sentence pairs/);
  const other = path.join(dir, "other");
  await tinyCheckpoint(other, ["neg", "neu", "pos"], 1);
  await assert.rejects(
    main(["probe-bias", "--checkpoint", other, "--out", path.join(dir, "x.json")]),
    new RegExp(`${other.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} has labels \\["neg","neu","pos"\\], without "angry"`),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});
