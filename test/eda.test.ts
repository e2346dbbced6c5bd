// lib/teach/eda.ts: danfo.js loads without changing the TensorFlow.js backend or leaking tensors;
// counts, charts and tables on tiny literal rows; the real SMILE numbers when the CSV is present.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import { execFileSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import {
  danfo,
  smileFrame,
  frameHtml,
  withShares,
  countsFigure,
  groupedCountsFigure,
  examples,
  textLengths,
} from "../lib/teach/eda";
import { initBackend } from "../lib/runtime/backend";
import { loadSmile, filterForCourse, categoryCounts } from "../lib/data/smile";
import { SMILE_CSV } from "../lib/core/paths";

const ROWS = [
  { id: "611857364396965889", text: "<b>so</b> happy & fine", category: "happy" },
  { id: "611857364396965890", text: "meh", category: "sad" },
  { id: "611857364396965891", text: "yay yay", category: "happy" },
  { id: "611857364396965892", text: "what?!", category: "happy|surprise" },
];

test("loading danfo.js keeps the active backend (it runs on plain tfjs, never loading tfjs-node)", async () => {
  // Before anything loads tfjs-node: choose the plain cpu backend, then load danfo.
  await tf.setBackend("cpu");
  await danfo();
  assert.equal(tf.getBackend(), "cpu");
  const info = await initBackend();
  assert.equal(tf.getBackend(), info.name);
  await danfo(); // loaded once; no switch the second time either
  assert.equal(tf.getBackend(), info.name);
});

test("smileFrame: a DataFrame with string ids, no tensors leaked; frameHtml escapes tweets", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const df = await smileFrame(ROWS);
  assert.deepEqual(df.shape, [4, 3]);
  assert.deepEqual(df.columns, ["id", "text", "category"]);
  assert.deepEqual(df.column("id").values, ROWS.map((r) => r.id));
  const vc = df.column("category").valueCounts();
  assert.deepEqual(vc.index, ["happy", "sad", "happy|surprise"]);
  assert.deepEqual(vc.values, [2, 1, 1]);
  const html = frameHtml(df, 2);
  assert.ok(html.includes("&lt;b&gt;so&lt;/b&gt; happy &amp; fine"));
  assert.ok(!html.includes("<b>so"));
  assert.ok(html.includes("4 rows × 3 columns"));
  assert.equal((html.match(/<tr>/g) ?? []).length, 3);
  assert.equal(tf.memory().numTensors, before);
});

test("shares, examples, lengths; inputs unchanged", () => {
  const copy = JSON.parse(JSON.stringify(ROWS));
  assert.deepEqual(withShares([{ category: "a", count: 3 }, { category: "b", count: 1 }]), [
    { category: "a", count: 3, share: "75.0 %" },
    { category: "b", count: 1, share: "25.0 %" },
  ]);
  assert.deepEqual(examples(ROWS, ["sad", "happy"], 1).map((r) => r.id), ["611857364396965890", "611857364396965889"]);
  assert.deepEqual(textLengths(["a b", "hello world again", "x"]), [
    { measure: "characters", min: 1, median: 3, p95: 17, max: 17 },
    { measure: "words", min: 1, median: 2, p95: 3, max: 3 },
  ]);
  assert.equal(textLengths(["😀😀"])[0].max, 2); // code points, not UTF-16 units
  assert.throws(() => textLengths([]), /no texts/);
  assert.deepEqual(ROWS, copy);
});

test("charts: counts as bars, labels escaped for Plotly markup", () => {
  const fig = countsFigure(
    [{ category: "<i>happy</i>", count: 5 }, { category: "sad", count: 1 }],
    "Tweets & <b>counts</b>",
    { log: true },
  );
  const bar = fig.data[0] as { x: string[]; y: number[] };
  assert.deepEqual(bar.x, ["&lt;i&gt;happy&lt;/i&gt;", "sad"]);
  assert.deepEqual(bar.y, [5, 1]);
  assert.deepEqual(fig.layout, {
    title: { text: "Tweets &amp; &lt;b&gt;counts&lt;/b&gt;" },
    yaxis: { title: { text: "tweets" }, type: "log" },
    xaxis: { title: { text: "category" } },
  });
  const g = groupedCountsFigure(["a", "b"], { train: [8, 2], validation: [2, 1] }, "split");
  assert.equal(g.data.length, 2);
  assert.deepEqual((g.data[1] as { name: string; y: number[] }).y, [2, 1]);
});

test("the SMILE file: 3085 rows in the DataFrame, the course's counts", {
  skip: fs.existsSync(SMILE_CSV) ? false : `needs ${SMILE_CSV}`,
}, async () => {
  const rows = loadSmile();
  const df = await smileFrame(rows);
  assert.deepEqual(df.shape, [3085, 3]);
  const vc = df.column("category").valueCounts();
  assert.equal(vc.values[vc.index.indexOf("nocode")], 1572);
  const course = filterForCourse(rows);
  assert.deepEqual(categoryCounts(course).map((c) => c.count), [1137, 214, 57, 35, 32, 6]);
  const lengths = textLengths(course.map((r) => r.text));
  assert.ok(lengths[0].max <= 200 && lengths[0].median > 20, JSON.stringify(lengths));
});

test("danfo.js loads where tfjs-node cannot (a machine left on wasm or cpu)", () => {
  // A child process in which requiring tfjs-node fails, as it does without the native binding.
  const script = `
    const Module = require("module");
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (r, ...a) { if (r === "@tensorflow/tfjs-node") throw new Error("no native binding"); return resolve.call(this, r, ...a); };
    const tf = require("@tensorflow/tfjs");
    const { danfo } = require(${JSON.stringify(require.resolve("../lib/teach/eda"))});
    (async () => { await tf.setBackend("cpu"); const d = await danfo(); const df = new d.DataFrame([{ a: 1 }, { a: 2 }]);
      console.log(JSON.stringify({ backend: tf.getBackend(), sum: df.column("a").sum() })); })();`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { encoding: "utf8" });
  assert.deepEqual(JSON.parse(out.trim().split("\n").pop()!), { backend: "cpu", sum: 3 });
});
