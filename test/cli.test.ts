// The bertlab CLI: flags, help, errors, and split → train → evaluate → predict → sweep on a
// small CSV with a tiny random BERT folder (real tokenizer files from the course model).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { execFileSync, spawn } from "child_process";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, saveBertForSequenceClassification } from "../lib/model/bert";
import { main, HELP } from "../lib/cli/cli";
import { configFromFlags, RENAMED_FLAGS, checkRenamedFlags } from "../lib/cli/flags";
import { CARER_RUN, DEFAULT_CONFIG, RECIPES } from "../lib/config/config";
import { TOKENIZER_FILES } from "../lib/model/run_folder";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { meanSd } from "../lib/core/stats";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { tmpDir } from "./helpers/tmp";

test("every TrainConfig field is a documented flag; numbers are checked", () => {
  for (const k of Object.keys(DEFAULT_CONFIG))
    assert.ok(HELP.includes(`--${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}`), `--help lists ${k}`);
  const c = configFromFlags({
    lr: "3e-5",
    "batch-size": "8",
    betas: "0.8,0.99",
    padding: "max_length",
    model: "some/model",
  });
  assert.deepEqual(
    [c.lr, c.batchSize, c.betas, c.padding, c.model, c.epochs],
    [3e-5, 8, [0.8, 0.99], "max_length", "some/model", DEFAULT_CONFIG.epochs],
  );
  assert.equal(configFromFlags({ "group-by-length": true }).groupByLength, true);
  assert.equal(configFromFlags({}).groupByLength, false);
  assert.throws(() => configFromFlags({ lr: "fast" }), /--lr wants a number, got "fast"/);
  assert.throws(() => configFromFlags({ betas: "0.9" }), /--betas wants two numbers/);
});

test("--recipe sets the defaults that the other flags override; an unknown one lists the known ones", async () => {
  assert.deepEqual(configFromFlags({ recipe: "course" }), DEFAULT_CONFIG);
  const small = configFromFlags({ recipe: "small-data" });
  assert.deepEqual(small, { ...DEFAULT_CONFIG, ...RECIPES["small-data"] });
  assert.equal(small.initFrom, CARER_RUN);
  assert.equal(configFromFlags({ recipe: "small-data", epochs: "6" }).epochs, 6, "a flag beside a recipe wins");
  assert.throws(() => configFromFlags({ recipe: "fast" }), /unknown recipe "fast": use one of course, small-data/);
  // Without the CARER model, the recipe says how to make it (run from a folder that has none).
  const cwd = process.cwd();
  process.chdir(tmpDir("bertlab-cli-recipe-"));
  try {
    await assert.rejects(
      main(["train", "--recipe", "small-data"]),
      /no CARER model yet; train it first with npm run carer/,
    );
  } finally {
    process.chdir(cwd);
  }
});

test("bin/bertlab.js --help runs through the shim", () => {
  const out = execFileSync(process.execPath, [path.join(__dirname, "..", "bin", "bertlab.js"), "--help"], {
    encoding: "utf8",
  });
  assert.match(out, /Commands:\n {2}split/);
  assert.match(out, /--text-column NAME/);
});

test("--help: every flag stands apart from its text, and says its default once", () => {
  const lines = HELP.slice(HELP.indexOf("Hyperparameters")).split("\n").filter((l) => l.startsWith("  --"));
  assert.equal(lines.length, Object.keys(DEFAULT_CONFIG).length + 1, "one per field, and --recipe");
  for (const l of lines) {
    assert.match(l, /^ {2}--[a-z-]+ {2,}\S/, `flag and text apart: ${l}`);
    // a default said once, or none for a flag that has none (--init-from)
    assert.equal(l.split("(default:").length, l.startsWith("  --init-from ") ? 1 : 2, `one default: ${l}`);
  }
  assert.match(HELP, /--early-stopping-patience {2}stop after/);
  assert.match(HELP, /--model +model folder or hub id \(default: models\/all-MiniLM-L6-v2\)\n/);
});

test("a renamed flag names its successor", async () => {
  assert.deepEqual(RENAMED_FLAGS, { "test-size": "validation-size" });
  await assert.rejects(
    main(["train", "--test-size", "0.2"]),
    /--test-size was renamed --validation-size: use --validation-size$/,
  );
  await assert.rejects(
    main(["split", "--test-size=0.2"]),
    /--test-size was renamed --validation-size: use --validation-size=0\.2/,
  );
  assert.doesNotThrow(() => checkRenamedFlags(["predict", "--", "--test-size"]), "after --, it is a text");
  await assert.rejects(main(["train", "--tset-size", "1"]), /Unknown option '--tset-size'/);
});

test("predict --input with bytes that are not UTF-8: an error naming the file and line, nothing predicted", async () => {
  const dir = tmpDir("bertlab-cli-utf8-");
  const file = path.join(dir, "texts.txt");
  fs.writeFileSync(
    file,
    Buffer.concat([Buffer.from("fine\nalso fine\nbroken "), Buffer.from([0xff, 0xfe]), Buffer.from(" here\n")]),
  );
  // the texts are read before the model is looked for, so no model is needed to see the error
  await assert.rejects(
    main(["predict", "--checkpoint", path.join(dir, "no-model"), "--input", file]),
    new RegExp(
      `^Error: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not valid UTF-8 at byte 22 \\(line 3\\): bytes ff fe`,
    ),
  );
  fs.rmSync(dir, { recursive: true });
});

test("split, train, evaluate, predict and sweep on a CSV with a tiny model", {
  skip: !fs.existsSync(path.join(DEFAULT_MODEL_DIR, "tokenizer.json")) && "needs the course model's tokenizer files",
}, async () => {
  await initBackend();
  const dir = tmpDir("bertlab-cli-");
  const modelDir = path.join(dir, "tiny-model");
  const m = randomBert(tinyBertConfig, { labels: ["neg", "neu", "pos"], seed: 1 });
  await saveBertForSequenceClassification(m, modelDir);
  m.dispose();
  for (const f of TOKENIZER_FILES)
    if (fs.existsSync(path.join(DEFAULT_MODEL_DIR, f)))
      fs.copyFileSync(path.join(DEFAULT_MODEL_DIR, f), path.join(modelDir, f));
  const words: Record<string, string[]> = {
    neg: ["awful", "bad day", "so angry"],
    neu: ["the bus", "a table", "on tuesday"],
    pos: ["great", "love it", "so happy"],
  };
  const rows = ["id\ttweet\tmood"];
  let id = 0;
  for (let i = 0; i < 10; i++)
    for (const [label, ws] of Object.entries(words)) rows.push(`${++id}\t${ws[i % 3]} number ${i}\t${label}`);
  const csv = path.join(dir, "data.tsv");
  fs.writeFileSync(csv, rows.join("\n") + "\n");
  const data = ["--csv", csv, "--text-column", "tweet", "--label-column", "mood", "--id-column", "id"];
  // Let the test reporter write the earlier tests' results before stdout is captured (else they are swallowed).
  await new Promise((resolve) => setImmediate(resolve));
  const captured: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  (process.stdout as any).write = (s: string) => {
    captured.push(String(s));
    return true;
  };
  (process.stderr as any).write = () => true;
  try {
    assert.equal(await main(["split", ...data, "--out", path.join(dir, "split.json")]), 0);
    const split = JSON.parse(fs.readFileSync(path.join(dir, "split.json"), "utf8"));
    assert.equal(split.train_ids.length + split.validation_ids.length, 30);
    const runDir = path.join(dir, "run");
    const hp = ["--model", modelDir, "--epochs", "2", "--batch-size", "8", "--lr", "1e-3", "--log-samples", "0"];
    assert.equal(await main(["train", ...data, ...hp, "--run-dir", runDir]), 0);
    const metrics = JSON.parse(fs.readFileSync(path.join(runDir, "metrics.json"), "utf8"));
    assert.equal(metrics.history.length, 2);
    assert.deepEqual(metrics.labels, ["neg", "neu", "pos"]);
    await assert.rejects(main(["train", ...data, ...hp, "--run-dir", runDir]), /already holds a run/);
    captured.length = 0;
    assert.equal(await main(["evaluate", ...data, "--checkpoint", runDir]), 0);
    assert.match(captured.join(""), /F1 weighted 0\.\d{4}/);
    assert.match(captured.join(""), /Class: (neg|neu|pos) — Accuracy: \d+\/\d+/);
    captured.length = 0;
    assert.equal(await main(["predict", "--checkpoint", runDir, "so happy today", "awful"]), 0);
    const preds = captured.join("").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(preds.length, 2);
    assert.ok(["neg", "neu", "pos"].includes(preds[0].label));
    await assert.rejects(main(["predict", "--checkpoint", runDir]), /predict needs texts/);
    // The same through the shim users run (npx bertlab): predict loads its engine with import().
    const viaShim = execFileSync(process.execPath, [
      path.join(__dirname, "..", "bin", "bertlab.js"),
      "predict",
      "--checkpoint",
      runDir,
      "so happy today",
      "awful",
    ], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    assert.deepEqual(viaShim.trim().split("\n").map((l) => JSON.parse(l).label), preds.map((p) => p.label));
    // A signal sent to the shim reaches the CLI: `kill` on a demo stops its server instead of orphaning it.
    const shim = spawn(process.execPath, [
      path.join(__dirname, "..", "bin", "bertlab.js"),
      "demo",
      "--checkpoint",
      runDir,
      "--port",
      "0",
    ], { stdio: ["ignore", "pipe", "ignore"] });
    let said = "";
    const url = await new Promise<string>((resolve, reject) => {
      shim.stdout.on("data", (d) => {
        said += d;
        const m = /demo: (http:\S+)/.exec(said);
        if (m) resolve(m[1]);
      });
      shim.on("exit", () => reject(new Error(`the demo exited before serving: ${said}`)));
    });
    assert.equal((await fetch(url)).status, 200);
    const exited = new Promise<number | null>((resolve) => shim.on("exit", (code) => resolve(code)));
    shim.kill("SIGTERM");
    assert.equal(await exited, 0, "the CLI closed its server and returned 0");
    await assert.rejects(fetch(url), "nothing listens any more");
    captured.length = 0;
    assert.equal(
      await main(["sweep", ...data, ...hp, "--epochs", "1", "--seeds", "1,2", "--run-dir", path.join(dir, "sweep")]),
      0,
    );
    const sweep = JSON.parse(fs.readFileSync(path.join(dir, "sweep", "sweep.json"), "utf8"));
    assert.deepEqual(sweep.results.map((r: { seed: number }) => r.seed), [1, 2]);
    assert.ok(fs.statSync(path.join(dir, "sweep", "sweep.html")).size > 1000);
    assert.ok(fs.existsSync(path.join(dir, "sweep", "seed-2", "metrics.json")), "each seed's run has its folder");
    // a line per seed as sweep.json holds it, then weighted F1's mean ± sample sd
    const lines = captured.join("").trim().split("\n");
    assert.deepEqual(lines.slice(0, 2).map((l) => JSON.parse(l)), sweep.results);
    const f1 = meanSd(sweep.results.map((r: { f1Weighted: number }) => r.f1Weighted));
    assert.deepEqual([sweep.f1WeightedMean, sweep.f1WeightedSd], [f1.mean, f1.sd]);
    assert.equal(
      lines[2],
      `F1 weighted over seeds 1,2: mean ${f1.mean.toFixed(4)} ± ${f1.sd.toFixed(4)} → ${
        path.join(dir, "sweep", "sweep.json")
      }`,
    );
    // separate train / validation / test files; evaluate scores a whole file and writes --out
    const part = (name: string, from: number, to: number) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, [rows[0], ...rows.slice(1 + from, 1 + to)].join("\n") + "\n");
      return f;
    };
    const files = [
      "--train-csv",
      part("train.tsv", 0, 21),
      "--validation-csv",
      part("dev.tsv", 21, 27),
      "--test-csv",
      part("test.tsv", 27, 30),
    ];
    const cols = ["--text-column", "tweet", "--label-column", "mood", "--id-column", "id"];
    const sepDir = path.join(dir, "separate");
    captured.length = 0;
    assert.equal(await main(["train", ...files, ...cols, ...hp, "--epochs", "1", "--run-dir", sepDir]), 0);
    const sepMetrics = JSON.parse(fs.readFileSync(path.join(sepDir, "metrics.json"), "utf8"));
    assert.equal(sepMetrics.test.confusion.flat().reduce((a: number, b: number) => a + b, 0), 3);
    assert.match(captured.join(""), /test \(3 texts\): loss \d/);
    const outFile = path.join(dir, "eval.json");
    captured.length = 0;
    const dev = path.join(dir, "dev.tsv");
    assert.equal(await main(["evaluate", "--checkpoint", sepDir, "--csv", dev, ...cols, "--out", outFile]), 0);
    const evaluated = JSON.parse(fs.readFileSync(outFile, "utf8"));
    assert.equal(evaluated.examples, 6);
    assert.equal(evaluated.metrics.confusion.flat().reduce((a: number, b: number) => a + b, 0), 6);
    assert.match(captured.join(""), /dev\.tsv \(6 texts\)/);
    const unknown = path.join(dir, "unknown.tsv");
    fs.writeFileSync(unknown, `${rows[0]}\n99\tfine\tneu\n100\twhat\tmeh\n`);
    await assert.rejects(
      main(["evaluate", "--checkpoint", sepDir, "--csv", unknown, ...cols]),
      /unknown\.tsv:3: label "meh" is not one the model knows \(neg, neu, pos\)/,
    );
    // multi-label: label sets joined by "|"; predict returns every label over its threshold
    const mlRows = ["id\ttweet\tmoods"];
    const mlTexts = ["great", "awful", "great and awful", "the bus"], mlLabels = ["pos", "neg", "pos|neg", "neu"];
    for (let i = 0; i < 36; i++) mlRows.push(`${i}\t${mlTexts[i % 4]} number ${i}\t${mlLabels[i % 4]}`);
    const mlCsv = path.join(dir, "ml.tsv");
    fs.writeFileSync(mlCsv, mlRows.join("\n") + "\n");
    const ml = [
      "--csv",
      mlCsv,
      "--text-column",
      "tweet",
      "--label-column",
      "moods",
      "--multi-label",
      "--label-delimiter",
      "|",
    ];
    const mlDir = path.join(dir, "ml-run");
    assert.equal(await main(["train", ...ml, ...hp, "--epochs", "1", "--run-dir", mlDir]), 0);
    captured.length = 0;
    assert.equal(await main(["evaluate", "--checkpoint", mlDir, ...ml, "--out", path.join(dir, "ml-eval.json")]), 0);
    assert.match(captured.join(""), /F1 micro 0\.\d{4} · F1 macro 0\.\d{4} · subset accuracy/);
    assert.match(captured.join(""), /label\s+precision\s+recall\s+F1\s+support\s+threshold/);
    captured.length = 0;
    assert.equal(await main(["predict", "--checkpoint", mlDir, "great and awful"]), 0);
    const mlPred = JSON.parse(captured.join("").trim());
    assert.ok(Array.isArray(mlPred.labels) && mlPred.label === undefined);
    fs.rmSync(path.join(mlDir, "checkpoints/epoch-1/thresholds.json"));
    await assert.rejects(
      main(["predict", "--checkpoint", mlDir, "x"]),
      /thresholds\.json is missing: a multi-label model/,
    );
    await assert.rejects(main(["train", ...data, "--select-metric", "acc"]), /--select-metric "acc" is not a metric/);
    await assert.rejects(main(["fly"]), /unknown command "fly"/);
    await assert.rejects(
      main(["train", "--csv", csv, "--run-dir", path.join(dir, "x")]),
      /needs --text-column and --label-column/,
    );
  } finally {
    (process.stdout as any).write = write;
    (process.stderr as any).write = errWrite;
  }
});
