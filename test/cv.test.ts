// Cross-validation: folds equal to scikit-learn's (Repeated)StratifiedKFold, the pooled report's bootstrap
// intervals and the paired comparison equal to NumPy/scikit-learn on the same resamples (fixtures:
// scripts/make_cv_fixtures.py), and `bertlab cv` on a tiny model: a kill -9 during a fold then --resume gives the
// same report as a run left alone; multi-label folds (iterative stratification) spread every label evenly.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "../lib/runtime/backend";
import { main } from "../lib/cli/cli";
import { randomBert, saveBertForSequenceClassification } from "../lib/model/bert";
import { TOKENIZER_FILES } from "../lib/model/run_folder";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { repeatedStratifiedKFold, stratifiedKFold, multilabelStratifiedKFold } from "../lib/data/split";
import { multiHot } from "../lib/data/labels";
import { filterForCourse, loadSmile } from "../lib/data/smile";
import { SMILE_CSV } from "../lib/core/paths";
import { percentile } from "../lib/core/stats";
import { cvReport, compareCv, bootstrapSamples, OutOfFold } from "../lib/analysis/cv";
import { runCv, foldFile, CvData } from "../lib/analysis/cv_run";
import { DEFAULT_CONFIG, TrainConfig } from "../lib/config/config";
import * as tf from "@tensorflow/tfjs";
import { toyTokenizer, toyData, TOY_LABELS } from "./helpers/toy";
import { killWhen } from "./helpers/resume";
import { tmpDir } from "./helpers/tmp";

const CLI_MAIN = path.join(__dirname, "..", "lib", "cli", "cli_main.ts");
const fixtures = path.join(__dirname, "fixtures", "cv");
const folds = JSON.parse(fs.readFileSync(path.join(fixtures, "folds.json"), "utf8"));
const boot = JSON.parse(fs.readFileSync(path.join(fixtures, "bootstrap.json"), "utf8"));

test("folds equal scikit-learn's RepeatedStratifiedKFold (repeat 0: StratifiedKFold(shuffle=True))", () => {
  for (const c of folds.cases) {
    const labels = folds.label_sets[c.labels];
    assert.deepEqual(repeatedStratifiedKFold(labels, c.k, 3, c.seed), c.folds, `${c.labels}, k ${c.k}, seed ${c.seed}`);
    assert.deepEqual(stratifiedKFold(labels, c.k, c.seed), c.folds[0]);
    // every row is out of fold exactly once per repeat: one fold each, and every fold holds every class
    for (const f of c.folds as number[][]) {
      assert.equal(f.length, labels.length);
      assert.ok(f.every((x) => Number.isInteger(x) && x >= 0 && x < c.k));
      for (const l of new Set(labels)) {
        const held = new Set(f.filter((_, i) => labels[i] === l));
        assert.equal(held.size, c.k, `class ${l} is in every fold`);
      }
    }
  }
});

const smileMissing = !fs.existsSync(SMILE_CSV) && "needs the SMILE CSV";
test("folds of SMILE's 1,481 course tweets equal scikit-learn's", { skip: smileMissing }, () => {
  const labels = filterForCourse(loadSmile()).map((r) => r.category);
  assert.equal(folds.smile.length, 3);
  for (const c of folds.smile) {
    assert.equal(labels.length, c.n);
    assert.deepEqual(repeatedStratifiedKFold(labels, c.k, 2, c.seed), c.folds, `k ${c.k}, seed ${c.seed}`);
  }
  const sizes = [0, 1, 2, 3, 4].map((f) => folds.smile[0].folds[0].filter((x: number) => x === f).length);
  assert.deepEqual(sizes, [297, 296, 296, 296, 296]);
});

test("too many folds for the rarest class: an error naming the class, its count and what to do", () => {
  const labels = ["happy", "happy", "happy", "disgust", "happy", "disgust", "sad", "sad", "sad"];
  assert.throws(
    () => stratifiedKFold(labels, 3, 17),
    /3 folds need at least 3 rows of every class, but 'disgust' \(2 rows\) has fewer: use at most 2 folds, or drop/,
  );
  assert.throws(() => stratifiedKFold(labels, 1, 17), /k must be an integer >= 2/);
  assert.throws(() => repeatedStratifiedKFold(labels, 2, 0, 17), /repeats must be an integer >= 1/);
  const copy = [...labels];
  stratifiedKFold(labels, 2, 17);
  assert.deepEqual(labels, copy, "pure: the labels are not changed");
});

test("percentile equals np.percentile (linear)", () => {
  for (const c of boot.percentile_cases) assert.equal(percentile(c.x, c.q), c.value, `q ${c.q} of ${c.x.length}`);
  assert.throws(() => percentile([], 50), /no values/);
});

const oof = (predictions: number[][]): OutOfFold & { seed: number; k: number; repeats: number } => ({
  labels: ["a", "b", "c", "d", "e", "f"],
  ids: boot.y_true.map((_: number, i: number) => `row-${i}`),
  yTrue: boot.y_true,
  folds: predictions.map(() => boot.y_true.map((_: number, i: number) => i % 4)),
  predictions,
  seed: 17,
  k: 4,
  repeats: predictions.length,
});

test("pooled report: F1 and its bootstrap 95% intervals equal scikit-learn + np.percentile's", () => {
  assert.deepEqual(bootstrapSamples(boot.n, 1, boot.seed)[0], boot.first_indices, "the resamples are NumPy's randint");
  const r = cvReport(oof(boot.pred_a), { resamples: boot.resamples, seed: boot.seed });
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
  near(r.f1Macro.value, boot.point_a.macro, "macro F1");
  near(r.f1Weighted.value, boot.point_a.weighted, "weighted F1");
  r.f1Macro.ci95.forEach((x, i) => near(x, boot.ci_macro_a[i], "macro interval"));
  r.f1Weighted.ci95.forEach((x, i) => near(x, boot.ci_weighted_a[i], "weighted interval"));
  r.classes.forEach((c, k) => c.f1Ci95.forEach((x, i) => near(x, boot.ci_per_class_a[k][i], `class ${k} interval`)));
  assert.equal(r.examples, boot.n);
  assert.equal(r.repeats, 2);
  assert.equal(r.classes.reduce((a, c) => a + c.support, 0), 2 * boot.n, "support counts every repeat's prediction");
  assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), 2 * boot.n);
  assert.equal(r.perFold.length, 8);
  assert.ok(r.perRepeat.f1Macro.sd > 0);
  assert.ok(r.f1Macro.ci95[0] < r.f1Macro.value && r.f1Macro.value < r.f1Macro.ci95[1]);
});

test("paired comparison: the difference's interval and p-value equal NumPy's; a t-test pairs the folds", () => {
  const a = oof(boot.pred_a), b = oof(boot.pred_b);
  const c = compareCv(a, b, { resamples: boot.resamples, seed: boot.seed });
  const near = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) < 1e-12, `${what}: ${x} vs ${y}`);
  c.f1Macro.ci95.forEach((x, i) => near(x, boot.ci_diff_macro[i], "macro difference interval"));
  c.f1Weighted.ci95.forEach((x, i) => near(x, boot.ci_diff_weighted[i], "weighted difference interval"));
  assert.equal(c.f1Macro.p, boot.p_diff_macro);
  assert.equal(c.f1Weighted.p, boot.p_diff_weighted);
  near(c.f1Macro.value, boot.point_a.macro - cvReport(b, { resamples: 1 }).f1Macro.value, "macro difference");
  assert.equal(c.f1Macro.perFold.n, 8);
  assert.ok(c.f1Macro.value > 0 && c.f1Macro.perFold.meanDiff > 0, "A (80% kept) beats B (70% kept)");
  // the same recipe against itself: no difference, p = 1
  const same = compareCv(a, a, { resamples: 50 });
  assert.equal(same.f1Macro.value, 0);
  assert.equal(same.f1Macro.p, 1);
});

test("a comparison refuses runs on other folds, naming the difference", () => {
  const a = oof(boot.pred_a);
  assert.throws(
    () => compareCv(a, { ...a, seed: 18 }, { names: ["x.json", "y.json"] }),
    /x\.json and y\.json were not run on the same folds: seed 17 in x\.json, 18 in y\.json/,
  );
  assert.throws(
    () => compareCv(a, { ...a, ids: a.ids.map((id, i) => (i === 5 ? "other" : id)) }),
    /the id of row 5: "row-5" in A, "other" in B/,
  );
  const moved = a.folds.map((f) => f.map((x, i) => (i === 3 ? (x + 1) % 4 : x)));
  assert.throws(
    () => compareCv(a, { ...a, folds: moved }),
    /the fold of row 3 \(id row-3\) in repeat 1: 4 in A, 1 in B/,
  );
  const drop = <T>(xs: T[]) => xs.slice(1);
  const shorter = {
    ...a,
    ids: drop(a.ids),
    yTrue: drop(a.yTrue),
    folds: a.folds.map(drop),
    predictions: a.predictions.map(drop),
  };
  assert.throws(() => compareCv(a, shorter), /rows 240 in A, 239 in B/);
  assert.throws(
    () => compareCv(a, { ...a, yTrue: a.yTrue.map((y, i) => (i === 2 ? (y + 1) % 6 : y)) }),
    /the label of row 2 \(id row-2\)/,
  );
});

const tokenizerReady = fs.existsSync(path.join(DEFAULT_MODEL_DIR, "tokenizer.json"));

test(
  "bertlab cv on a tiny model: folds, cv.json, report.html; kill -9 during a fold then --resume gives the same "
    + "report; --compare; bad input",
  { skip: !tokenizerReady && "needs the course model's tokenizer" },
  async () => {
    await initBackend();
    const dir = tmpDir("bertlab-cv-");
    const modelDir = path.join(dir, "tiny-model");
    // the data's labels, sorted (a model folder's head must be for them)
    const m = randomBert(
      { ...tinyBertConfig, id2label: { 0: "<b>pos</b>", 1: "neg", 2: "neu" }, label2id: {} },
      { labels: ["<b>pos</b>", "neg", "neu"], seed: 1 },
    );
    await saveBertForSequenceClassification(m, modelDir);
    m.dispose();
    for (const f of TOKENIZER_FILES) {
      const from = path.join(DEFAULT_MODEL_DIR, f);
      if (fs.existsSync(from)) fs.copyFileSync(from, path.join(modelDir, f));
    }
    // a label that must be escaped in report.html, and 12 rows of each class
    const words: Record<string, string[]> = {
      neg: ["awful", "bad day"],
      neu: ["the bus", "a table"],
      "<b>pos</b>": ["great", "love it"],
    };
    const rows = ["id\ttweet\tmood"];
    let id = 0;
    for (let i = 0; i < 12; i++) {
      for (const [label, ws] of Object.entries(words)) rows.push(`${++id}\t${ws[i % 2]} number ${i}\t${label}`);
    }
    const csv = path.join(dir, "data.tsv");
    fs.writeFileSync(csv, rows.join("\n") + "\n");
    const args = (
      runDir: string,
      ...more: string[]
    ) => [
      "cv",
      "--csv",
      csv,
      "--text-column",
      "tweet",
      "--label-column",
      "mood",
      "--id-column",
      "id",
      "--folds",
      "3",
      "--repeats",
      "2",
      "--seed",
      "5",
      "--model",
      modelDir,
      "--epochs",
      "2",
      "--batch-size",
      "8",
      "--lr",
      "1e-3",
      "--resamples",
      "200",
      "--run-dir",
      runDir,
      ...more,
    ];
    // In process (one process start is slow on a busy machine); only the run that is killed gets its own process.
    await new Promise((resolve) => setImmediate(resolve)); // let the reporter write earlier results first
    const cli = async (argv: string[]) => {
      const said = { stdout: [] as string[], stderr: [] as string[] };
      const streams = [process.stdout, process.stderr] as const;
      const writes = streams.map((s) => s.write);
      streams.forEach((s, i) => {
        (s as { write: unknown }).write = (x: string) => {
          said[i ? "stderr" : "stdout"].push(String(x));
          return true;
        };
      });
      let status: number;
      try {
        status = await main(argv);
      } catch (e) {
        status = 1;
        said.stderr.push(`bertlab: ${(e as Error).message}\n`);
      } finally {
        streams.forEach((s, i) => {
          s.write = writes[i];
        });
      }
      return { status, stdout: said.stdout.join(""), stderr: said.stderr.join("") };
    };

    // 1) left alone
    const whole = path.join(dir, "whole");
    const a = await cli(args(whole));
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, /fold 6 of 6 \(repeat 2, fold 3\): training on 24 rows, scoring 12/);
    assert.match(a.stderr, /\[fold 4\/6\] epoch 2\/2 done/);
    assert.match(
      a.stdout,
      /pooled over 36 tweets × 2 repeats \(3 folds\): macro F1 0\.\d{4} \[0\.\d{4}, [01]\.\d{4}\]/,
    );
    const cvA = JSON.parse(fs.readFileSync(path.join(whole, "cv.json"), "utf8"));
    assert.equal(cvA.predictions.length, 2);
    assert.ok(cvA.predictions.every((p: number[]) => p.length === 36 && p.every((x) => x >= 0 && x < 3)));
    assert.deepEqual(cvA.folds, repeatedStratifiedKFold(cvA.yTrue, 3, 2, 5), "the folds scikit-learn would make");
    for (let r = 1; r <= 2; r++) for (let f = 1; f <= 3; f++) {
        const fold = JSON.parse(fs.readFileSync(path.join(whole, `fold-${r}-${f}.json`), "utf8"));
        assert.equal(fold.rows.length, 12);
        assert.ok(fold.probabilities.every((p: number[]) => Math.abs(p.reduce((s, x) => s + x, 0) - 1) < 1e-5));
      }
    const html = fs.readFileSync(path.join(whole, "report.html"), "utf8");
    assert.ok(html.includes("&lt;b&gt;pos&lt;/b&gt;") && !html.includes("<b>pos</b>"), "labels are escaped");
    assert.match(html, /"type":"heatmap"/);

    // 2) killed with SIGKILL during a fold (after the first fold's file), then resumed
    const killed = path.join(dir, "killed");
    await killWhen(CLI_MAIN, args(killed), /fold 3 of 6/);
    assert.ok(fs.existsSync(path.join(killed, "fold-1-2.json")) && !fs.existsSync(path.join(killed, "fold-1-3.json")));
    assert.ok(!fs.existsSync(path.join(killed, "cv.json")));
    const again = await cli(args(killed));
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already holds a cross-validation run: resume it with --resume/);
    const other = await cli([...args(killed, "--resume"), "--epochs", "3"]);
    assert.match(other.stderr, /holds a cross-validation run with other settings \(config differ\)/);
    const resumed = await cli(args(killed, "--resume"));
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /fold 2 of 6 \(repeat 1, fold 2\): finished before, skipped/);
    const cvB = JSON.parse(fs.readFileSync(path.join(killed, "cv.json"), "utf8"));
    delete cvA.seconds;
    delete cvB.seconds;
    assert.deepEqual(cvB, cvA, "the resumed run's cv.json equals the uninterrupted one's");

    // 3) compare: the same recipe against itself, then against another recipe on the same folds
    const lr = path.join(dir, "lr");
    assert.equal((await cli([...args(lr), "--lr", "3e-3"])).status, 0);
    const out = path.join(dir, "compare.json");
    const c = await cli([
      "cv",
      "--compare",
      path.join(lr, "cv.json"),
      path.join(whole, "cv.json"),
      "--resamples",
      "200",
      "--out",
      out,
    ]);
    assert.equal(c.status, 0, c.stderr);
    assert.match(
      c.stdout,
      /macro F1: lr − whole = [+-]\d\.\d{4} \[-?\d\.\d{4}, -?\d\.\d{4}\] \(paired bootstrap, p \d\.\d{3}\)/,
    );
    assert.equal(JSON.parse(fs.readFileSync(out, "utf8")).f1Macro.perFold.n, 6);
    const seed = path.join(dir, "seed");
    assert.equal((await cli([...args(seed), "--seed", "6", "--epochs", "1"])).status, 0);
    const refused = await cli(["cv", "--compare", path.join(seed, "cv.json"), path.join(whole, "cv.json")]);
    assert.match(refused.stderr, /seed and whole were not run on the same folds: seed 6 in seed, 5 in whole/);

    // 4) two models a fold: the lines for one model, the soup and the ensemble
    const duo = await cli([...args(path.join(dir, "duo")), "--members", "2", "--repeats", "1", "--epochs", "1"]);
    assert.equal(duo.status, 0, duo.stderr);
    assert.match(duo.stderr, /model 2 of 2 \(seed 6\)/);
    assert.match(duo.stdout, /one model \(the first\), \S+member-1\/cv\.json:\n {2}pooled over 36 tweets × 1 repeat/);
    assert.match(duo.stdout, /the soup, \S+soup\/cv\.json:\n {2}pooled over 36 tweets/);
    assert.match(duo.stdout, /the ensemble of 2, \S+duo\/cv\.json:\npooled over 36 tweets/);
    assert.match((await cli([...args(path.join(dir, "none")), "--members", "0"])).stderr, /--members wants a whole/);

    // 5) bad input: more folds than the rarest class has rows
    const few = await cli(args(path.join(dir, "few"), "--folds", "13"));
    assert.match(few.stderr, /data\.tsv \(36 rows\): 13 folds need at least 13 rows of every class, but /);
    assert.match(few.stderr, /but 'neg' \(12 rows\), 'neu' \(12 rows\), '<b>pos<\/b>' \(12 rows\) have fewer/);
    assert.match(few.stderr, /use at most 12 folds, or drop or merge these classes/);
    assert.match((await cli(["cv", "--multi-label"])).stderr, /multi-label cross-validation is not supported yet/);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test(
  "runCv in process: no tensor left behind; a selecting config selects on an inner split of each fold's training "
    + "rows, never on the fold it scores; members: ensemble, soup and the first model alone",
  async () => {
    await initBackend();
    const toy = toyData(36, 3);
    const data: CvData = { rows: { ...toy, ids: toy.texts.map((_, i) => `t${i}`) }, labels: TOY_LABELS, source: "toy" };
    const config: TrainConfig = {
      ...DEFAULT_CONFIG,
      epochs: 2,
      batchSize: 8,
      evalBatchSize: 16,
      lr: 1e-3,
      logSamples: 0,
    };
    const common = {
      data,
      k: 3,
      repeats: 1,
      seed: 4,
      resamples: 50,
      tokenizer: toyTokenizer,
      model: () => randomBert(tinyBertConfig, { labels: TOY_LABELS, seed: 17 }),
    };
    const dir = tmpDir("bertlab-cv-run-");
    const before = tf.memory().numTensors;
    const plain = await runCv(config, { ...common, runDir: path.join(dir, "plain") });
    assert.equal(tf.memory().numTensors, before, "every fold's model and optimizer are freed");
    const fold = JSON.parse(fs.readFileSync(foldFile(path.join(dir, "plain"), 0, 0), "utf8"));
    assert.equal(fold.innerValidation, 0);
    assert.equal(fold.epoch, 2, "no selection: the model after the last epoch");
    const picked = await runCv(
      { ...config, selectMetric: "f1_macro" },
      { ...common, runDir: path.join(dir, "select") },
    );
    const inner = JSON.parse(fs.readFileSync(foldFile(path.join(dir, "select"), 0, 0), "utf8"));
    assert.equal(inner.innerValidation, Math.ceil(0.15 * 24), "validationSize of the fold's 24 training rows");
    assert.deepEqual(inner.rows, fold.rows, "the same folds");
    // two models per fold: the ensemble pooled in cv.json, the first model alone (= the plain run) and the soup
    const duo = path.join(dir, "duo");
    const ens = await runCv(config, { ...common, members: 2, runDir: duo });
    assert.equal(tf.memory().numTensors, before, "the members and the soup's weight sums are freed");
    const both = JSON.parse(fs.readFileSync(foldFile(duo, 0, 0), "utf8"));
    assert.deepEqual(both.members[0], fold.probabilities, "model 1 of 2 is the plain run's model");
    assert.notDeepEqual(both.members[1], fold.probabilities, "model 2 trains with the next seed");
    both.probabilities.forEach((p: number[], i: number) =>
      p.forEach((x, c) => assert.ok(Math.abs(x - (both.members[0][i][c] + both.members[1][i][c]) / 2) < 1e-12))
    );
    assert.ok(both.soup.every((p: number[]) => Math.abs(p.reduce((a, x) => a + x, 0) - 1) < 1e-5));
    const one = JSON.parse(fs.readFileSync(path.join(duo, "member-1", "cv.json"), "utf8"));
    assert.deepEqual(one.predictions, plain.predictions, "member-1/cv.json pools the first models: the plain run");
    assert.deepEqual(ens.folds, plain.folds);
    assert.ok(fs.existsSync(path.join(duo, "soup", "cv.json")) && fs.existsSync(path.join(duo, "soup", "report.html")));
    await assert.rejects(
      runCv(config, { ...common, members: 3, runDir: duo, resume: true }),
      /other settings \(members differ\)/,
    );
    assert.equal(picked.report.examples, 36);
    assert.equal(plain.report.classes.reduce((a, c) => a + c.support, 0), 36);
    assert.deepEqual(plain.ids, data.rows.ids);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

test(
  "multi-label folds (iterative stratification, multilabelStratifiedKFold): each row in one fold, every label "
    + "spread evenly over SMILE's 1,513 label sets",
  { skip: smileMissing },
  () => {
    const sets = loadSmile().filter((r) => r.category !== "nocode").map((r) => r.category.split("|"));
    const names = [...new Set(sets.flat())];
    const y = multiHot(sets, names);
    for (const k of [3, 5]) {
      const f = multilabelStratifiedKFold(y, k, { seed: 17, shuffle: true });
      assert.equal(f.length, sets.length);
      assert.ok(f.every((x) => Number.isInteger(x) && x >= 0 && x < k), "one fold each");
      const spread = (count: (fold: number) => number) => {
        const c = Array.from({ length: k }, (_, fold) => count(fold));
        return Math.max(...c) - Math.min(...c);
      };
      names.forEach((name, j) => {
        assert.ok(spread((fold) => f.filter((x, i) => x === fold && y[i][j]).length) <= 1, `${name} over ${k} folds`);
      });
      assert.ok(spread((fold) => f.filter((x) => x === fold).length) <= 3, "fold sizes");
    }
  },
);
