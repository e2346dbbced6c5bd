// lib/data/smile.ts: every number in /work/shared/data/smile/README.md, checked against the real CSV
// in data/ (fetched by `npx tsx scripts/fetch-data.ts`; the real-data tests skip when it is absent),
// plus tiny literal inputs for the pure functions.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import {
  loadSmile,
  categoryCounts,
  isMultiLabel,
  filterForCourse,
  labelDict,
  labelNames,
  withLabels,
  SMILE_SHA256,
} from "../lib/data/smile";
import { SMILE_CSV } from "../lib/core/paths";
import { sha256File } from "../lib/core/download";
import { tmpDir } from "./helpers/tmp";

const haveData = fs.existsSync(SMILE_CSV);
const skip = haveData ? false : `needs ${SMILE_CSV} (npx tsx scripts/fetch-data.ts)`;

test("the CSV is the published file", { skip }, () => {
  assert.equal(sha256File(SMILE_CSV), SMILE_SHA256);
});

test("loadSmile reads 3085 rows, ids as 18-digit strings", { skip }, () => {
  const rows = loadSmile();
  assert.equal(rows.length, 3085);
  assert.deepEqual(rows[0], {
    id: "611857364396965889",
    text: "@aandraous @britishmuseum @AndrewsAntonio Merci pour le partage! @openwinemap",
    category: "nocode",
  });
  assert.ok(rows.every((r) => /^\d{18}$/.test(r.id)));
  assert.equal(new Set(rows.map((r) => r.id)).size, 3085);
  // The id that a JavaScript number would have rounded stays exact.
  assert.notEqual(String(Number(rows[0].id)), rows[0].id);
});

test("raw category counts match the README", { skip }, () => {
  const counts = Object.fromEntries(categoryCounts(loadSmile()).map((c) => [c.category, c.count]));
  assert.deepEqual(counts, {
    nocode: 1572,
    happy: 1137,
    "not-relevant": 214,
    angry: 57,
    surprise: 35,
    sad: 32,
    "happy|surprise": 11,
    "happy|sad": 9,
    "disgust|angry": 7,
    disgust: 6,
    "sad|disgust": 2,
    "sad|angry": 2,
    "sad|disgust|angry": 1,
  });
  const order = categoryCounts(loadSmile()).map((c) => c.count);
  assert.deepEqual(order, [...order].sort((a, b) => b - a));
});

test("the course keeps 1481 single-label rows and numbers labels by first appearance", { skip }, () => {
  const rows = loadSmile();
  const course = filterForCourse(rows);
  assert.equal(course.length, 1481);
  assert.deepEqual(Object.fromEntries(categoryCounts(course).map((c) => [c.category, c.count])), {
    happy: 1137,
    "not-relevant": 214,
    angry: 57,
    surprise: 35,
    sad: 32,
    disgust: 6,
  });
  const dict = labelDict(course);
  assert.deepEqual(dict, { happy: 0, "not-relevant": 1, angry: 2, disgust: 3, sad: 4, surprise: 5 });
  assert.deepEqual(Object.keys(dict), ["happy", "not-relevant", "angry", "disgust", "sad", "surprise"]);
  assert.deepEqual(labelNames(dict), ["happy", "not-relevant", "angry", "disgust", "sad", "surprise"]);
  const labelled = withLabels(course, dict);
  assert.equal(labelled.filter((r) => r.label === 3).length, 6);
  assert.equal(rows.filter((r) => isMultiLabel(r.category)).length, 11 + 9 + 7 + 2 + 2 + 1);
});

test("pure functions on literal rows, inputs unchanged", () => {
  const rows = [
    { id: "1", text: "a", category: "sad" },
    { id: "2", text: "b", category: "happy|sad" },
    { id: "3", text: "c", category: "nocode" },
    { id: "4", text: "d", category: "happy" },
    { id: "5", text: "e", category: "sad" },
    { id: "6", text: "f", category: "happy" },
  ];
  const copy = JSON.parse(JSON.stringify(rows));
  assert.deepEqual(categoryCounts(rows), [
    { category: "sad", count: 2 },
    { category: "happy", count: 2 },
    { category: "happy|sad", count: 1 },
    { category: "nocode", count: 1 },
  ]);
  const kept = filterForCourse(rows);
  assert.deepEqual(kept.map((r) => r.id), ["1", "4", "5", "6"]);
  assert.deepEqual(labelDict(kept), { sad: 0, happy: 1 });
  assert.deepEqual(withLabels(kept, labelDict(kept)).map((r) => r.label), [0, 1, 0, 1]);
  assert.throws(() => withLabels(rows, { sad: 0 }), /row id 2: category "happy\|sad" is not in the label dict \(sad\)/);
  assert.equal(isMultiLabel("happy|sad"), true);
  assert.equal(isMultiLabel("not-relevant"), false);
  assert.deepEqual(rows, copy);
});

test("loadSmile errors: missing file says how to fetch; bad rows name the line", () => {
  const dir = tmpDir("bertlab-smile-");
  try {
    assert.throws(
      () => loadSmile(path.join(dir, "none.csv")),
      /SMILE CSV not found\. Fetch it with: npx tsx scripts\/fetch-data\.ts/,
    );
    const two = path.join(dir, "two.csv");
    fs.writeFileSync(two, "1,a\n2,b\n");
    assert.throws(() => loadSmile(two), /expected 3 columns \(id, text, category\), found 2/);
    const badId = path.join(dir, "badid.csv");
    fs.writeFileSync(badId, '1,"a",happy\n6.1e17,"b",sad\n');
    assert.throws(() => loadSmile(badId), /badid\.csv:2: id "6\.1e17" is not a tweet id/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
