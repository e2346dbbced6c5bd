// The course's graded quiz (lib/teach/quiz.ts, lib/teach/quiz_key.ts, lib/teach/quiz_cli.ts): the key is complete, every
// cell it points to exists and asserts (and the eval-mode cells, run with a frozen optimizer, fail), grading
// and the notebook output, and `bertlab quiz --check`. The notebooks themselves run in test/notebooks.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import {
  QUESTIONS,
  Question,
  question,
  key,
  grade,
  answer,
  ask,
  questionHtml,
  answerHtml,
  verdict,
} from "../lib/teach/quiz";
import { readAnswers, checkAnswers, quizMain, keyText } from "../lib/teach/quiz_cli";
import { main } from "../lib/cli/cli";
import { captureOutput } from "./helpers/capture";
import { ROOT } from "../lib/core/paths";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { tmpDir } from "./helpers/tmp";

interface Cell {
  id: string;
  cell_type: string;
  source: string[] | string;
}
const notebooks = new Map<string, Cell[]>();
function cells(notebook: string): Cell[] {
  if (!notebooks.has(notebook)) {
    const file = path.join(ROOT, "notebooks", `${notebook}.ipynb`);
    assert.ok(fs.existsSync(file), `notebook ${file} exists`);
    notebooks.set(notebook, JSON.parse(fs.readFileSync(file, "utf8")).cells);
  }
  return notebooks.get(notebook)!;
}
const source = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
function cellOf(notebook: string, id: string): Cell {
  const c = cells(notebook).find((x) => x.id === id);
  assert.ok(c, `notebooks/${notebook}.ipynb has a cell with id ${id}`);
  return c!;
}

test("the key: eight questions, every option with a value, an explanation and a cell", () => {
  assert.deepEqual(QUESTIONS.map((q) => q.n), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(QUESTIONS.map((q) => q.kind), [...new Array(6).fill("choice"), "open", "open"]);
  for (const q of QUESTIONS) {
    assert.ok(q.text.trim() && q.concept.trim(), `question ${q.n} has text and a concept`);
    assert.ok(q.taught.length > 0, `question ${q.n} says where it is taught`);
    if (q.kind === "choice") {
      assert.deepEqual(q.options.map((o) => o.letter), ["a", "b", "c", "d"], `question ${q.n}: options a–d`);
      for (const o of q.options) {
        assert.equal(typeof o.right, "boolean", `${q.n}${o.letter} is right or wrong`);
        assert.ok(o.text.trim().length > 10 && o.why.trim().length > 20, `${q.n}${o.letter}: text and explanation`);
        assert.ok(o.cell.notebook && o.cell.cell, `${q.n}${o.letter} points to a cell`);
      }
      assert.ok(key(q.n).length >= 1 && key(q.n).length < 4, `question ${q.n} has right and wrong options`);
    } else {
      assert.equal(q.options.length, 0);
      assert.ok((q.modelAnswer ?? "").length > 100, `open question ${q.n} has a written model answer`);
      assert.ok(q.shownIn.length > 0, `open question ${q.n} points to cells`);
    }
  }
  // the course's loose explanations are each quoted and answered
  const loose = QUESTIONS.filter((q) => q.course).map((q) => q.course!.says);
  for (const words of ["fixed-size input", "freezes all weights", "usually useful for RNNs"]) {
    assert.ok(loose.some((s) => s.includes(words)), `the course's "${words}" is quoted with what is right`);
  }
  // and the EDA/learning-rate claim, which the course marks wrong, is wrong here too
  assert.equal(question(1).options.find((o) => /learning rate/.test(o.text))!.right, false);
});

test("every cell the key points to exists in its notebook, and every quiz-… experiment asserts", () => {
  for (const q of QUESTIONS) {
    const refs = [...q.options.map((o) => o.cell), ...q.shownIn, ...(q.course ? [q.course.cell] : [])];
    for (const ref of refs) {
      const c = cellOf(ref.notebook, ref.cell);
      if (ref.cell.startsWith("quiz-")) {
        assert.equal(c.cell_type, "code", `${ref.cell} is an experiment`);
        assert.match(source(c), /assert\.\w+\(/, `${ref.notebook} ${ref.cell} asserts its claim`);
      }
    }
    for (const t of q.taught) {
      const heading = source(cellOf(t.notebook, t.cell));
      assert.ok(heading.includes(t.section), `${t.notebook} ${t.cell} is the section "${t.section}"`);
    }
    // the question and its answer cell sit at the end of the question's notebook
    assert.match(source(cellOf(q.notebook, `quiz-${q.n}-ask`)), new RegExp(`quiz\\.ask\\(${q.n}\\)`));
    assert.match(source(cellOf(q.notebook, `quiz-${q.n}-answer`)), new RegExp(`quiz\\.answer\\(${q.n}, `));
  }
  for (const nb of ["01_eda", "02_split", "03_tokenize", "04_model", "05_train", "06_evaluate"]) {
    const all = cells(nb);
    const first = all.findIndex((c) => c.id.startsWith("quiz-"));
    assert.ok(first > 0, `${nb} has a "Check your understanding" section`);
    assert.ok(all.slice(first).every((c) => c.id.startsWith("quiz-")), `${nb}: the quiz cells come last`);
    assert.match(source(all[first]), /^## Check your understanding/);
  }
});

/**
 * Runs notebook cells outside the kernel, in a child process: their imports hoisted, the rest in an async
 * function after `sabotage` (code that makes a claim false). Returns the exit status and stderr.
 */
function runCells(notebook: string, ids: string[], sabotage = ""): { status: number | null; stderr: string } {
  fs.mkdirSync(path.join(ROOT, "out"), { recursive: true }); // a fresh clone has no out/ until something writes it
  const dir = fs.mkdtempSync(path.join(ROOT, "out", "quiz-cells-")); // under the root: node_modules resolve
  // A notebook imports each module once, in the cell that first needs it: hoist every cell's import statements.
  const IMPORT = /^import\b[^;]*;/gm;
  const imports = cells(notebook).filter((c) => c.cell_type === "code").flatMap((c) => source(c).match(IMPORT) ?? [])
    .map((s) => s.replace(/"\.\/lib\//, `"${ROOT}/lib/`));
  const body = ids.flatMap((id) => source(cellOf(notebook, id)).replace(IMPORT, "").split("\n"));
  const file = path.join(dir, "cells.ts");
  fs.writeFileSync(
    file,
    [
      ...imports,
      `import { initBackend } from "${ROOT}/lib/runtime/backend";`,
      "(async () => {",
      "  await initBackend();",
      "  const course = { seed: 17, fast: true };",
      sabotage,
      ...body,
      "})().catch((e) => { console.error(String(e && e.message)); process.exit(1); });",
    ].join("\n"),
  );
  try {
    const run = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: ROOT, encoding: "utf8", timeout: 300e3 });
    return { status: run.status, stderr: run.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const noModel = !fs.existsSync(path.join(DEFAULT_MODEL_DIR, "config.json")) && "needs the course model (npm run setup)";
test("the eval-mode experiment fails when its claim is false (a step that moves nothing)", { skip: noModel }, () => {
  const cellsOf4 = ["quiz-4-dropout", "quiz-4-grads"];
  const honest = runCells("04_model", cellsOf4);
  assert.equal(honest.status, 0, `the cells run outside the kernel: ${honest.stderr.slice(-2000)}`);
  const frozen = runCells("04_model", cellsOf4, "AdamW.prototype.step = function () {};   // weights frozen after all");
  assert.notEqual(frozen.status, 0);
  assert.match(frozen.stderr, /an optimizer step after eval mode moves every weight/);
});

test("grade: right only with exactly the right letters, in any order or case; bad letters are named", () => {
  assert.deepEqual(grade(4, ["d", "A"]), { n: 4, picks: ["a", "d"], right: true, missing: [], wrong: [] });
  assert.deepEqual(grade(4, ["a", "c", "c"]), { n: 4, picks: ["a", "c"], right: false, missing: ["d"], wrong: ["c"] });
  assert.equal(grade(4, []).right, false);
  assert.throws(() => grade(4, ["e"]), /question 4: "e" is not one of its options \(a, b, c, d\)/);
  assert.throws(() => grade(7, ["a"]), /question 7: "a" is not one of its options \(none: it is an open question\)/);
  assert.throws(() => question(9), /there is no question 9: the quiz has questions 1–8/);
  for (const q of QUESTIONS.filter((x) => x.kind === "choice")) assert.equal(grade(q.n, key(q.n)).right, true);
});

test("answer(): the verdict, then every option's mark, why and where; ask() gives nothing away", () => {
  const shown: string[] = [];
  const show = (h: string) => shown.push(h);
  assert.equal(answer(4, ["a", "d"], { show }), "Question 4: right (a, d).");
  assert.equal(answer(4, ["a", "c"], { show }), "Question 4: not quite: c is wrong, d is missing.");
  const html = shown[1];
  for (const o of question(4).options) {
    assert.ok(html.includes(`see notebooks/04_model.ipynb, cell ${o.cell.cell}`), `option ${o.letter} says where`);
  }
  assert.match(html, /wrong, you picked it<\/b>: It freezes all the weights/);
  assert.match(html, /right, you left it out/);
  assert.match(html, /The course says<\/b> "<code>model\.eval\(\)<\/code> … sets us up/);
  assert.equal(answer(2, [], { show }), "Question 2: you gave no letters, so here is the key: a, b.");
  const open = answer(7, "Named <b>entities</b> & pairs", { show });
  assert.equal(open, "Question 7 is open: compare your answer with the model answer.");
  assert.match(shown[3], /Your answer.<\/b> Named &lt;b&gt;entities&lt;\/b&gt; &amp; pairs/);
  assert.match(shown[3], /Model answer/);

  const asked: string[] = [];
  assert.match(ask(4, { show: (h) => asked.push(h) }), /quiz\.answer\(4/);
  for (const o of question(4).options) assert.ok(!asked[0].includes(o.why), "ask shows no explanation");
  assert.doesNotMatch(asked[0], /right|wrong|The course says|Model answer/);
  assert.doesNotMatch(questionHtml(question(7)), /Model answer/);
});

test("HTML from the quiz is escaped, with `code` spans kept", () => {
  const q: Question = {
    n: 1,
    notebook: "01_eda",
    concept: "a <concept>",
    kind: "choice",
    text: "Is `<b>` & 'this' \"safe\"?",
    options: [{
      letter: "a",
      right: true,
      text: "<script>alert(1)</script>",
      why: "a `x < y` & z",
      cell: { notebook: "01_eda", cell: "x<y" },
    }],
    shownIn: [],
    taught: [],
  };
  const h = questionHtml(q) + answerHtml(q, { n: 1, picks: ["a"], right: true, missing: [], wrong: [] });
  assert.ok(!h.includes("<script>") && !h.includes("<b>`") && !h.includes("<concept>"));
  assert.match(h, /<code>&lt;b&gt;<\/code> &amp; &#39;this&#39; &quot;safe&quot;/);
  assert.match(h, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(h, /<code>x &lt; y<\/code> &amp; z/);
  assert.match(h, /cell x&lt;y/);
});

function tmpFile(name: string, text: string): string {
  const dir = tmpDir("bertlab-quiz-");
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

test("quiz --check: a complete file, graded, with the concepts to revisit", () => {
  const answers = {
    1: ["a", "b"],
    2: ["a", "b", "c"],
    3: ["a", "b"],
    4: ["a", "d"],
    5: ["a", "b", "c"],
    6: ["a"],
    7: "pairs, NER, QA",
    8: "attention is quadratic",
  };
  const file = tmpFile("answers.json", JSON.stringify(answers));
  const report = checkAnswers(readAnswers(file), file);
  assert.deepEqual(report.unanswered, []);
  assert.deepEqual(report.revisit.map((q) => q.n), [2, 6]);
  const text = report.lines.join("\n");
  assert.match(text, /all 8 questions answered\. Choice questions right: 4 of 6 answered/);
  assert.match(text, /2 {2}wrong {2}the stratified train\/validation split: c is wrong/);
  assert.match(text, /6 {2}wrong {2}zeroing gradients: c is missing/);
  assert.match(text, /Revisit:\n {2}2\. the stratified train\/validation split: notebooks\/02_split\.ipynb, "A plain/);
  assert.match(text, /c\) A stratified split balances the classes[^\n]*\n {8}wrong: It keeps the imbalance/);
  assert.match(text, /Question 7 \(open, not graded automatically\)[^\n]*\n {2}Your answer: pairs, NER, QA\n {2}Model/);
  assert.doesNotMatch(text, /Not answered/);
});

test("quiz --check: a partial file says what is not answered; all right says nothing to revisit", () => {
  const file = tmpFile("partial.json", JSON.stringify({ 1: ["b", "a"], 4: ["A", "d"], 5: [] }));
  const report = checkAnswers(readAnswers(file), file);
  assert.deepEqual(report.unanswered, [2, 3, 5, 6, 7, 8]);
  const text = report.lines.join("\n");
  assert.match(text, /2 of 8 questions answered\. Choice questions right: 2 of 2 answered \(6 in the quiz\)/);
  assert.match(text, /Not answered: 2, 3, 5, 6, 7, 8\. Add them to .*partial\.json to have them checked\./);
  assert.match(text, /Nothing to revisit among the answered choice questions\./);
  assert.match(text, / 3 {2}— {6}tokenization/);
});

test("quiz --check: an unknown question number and malformed files are clear errors naming the file", () => {
  const errors: Array<[string, RegExp]> = [
    [JSON.stringify({ 1: ["a"], 9: ["a"] }), /unknown\.json: there is no question "9": the quiz has questions 1–8/],
    [JSON.stringify({ q1: ["a"] }), /there is no question "q1"/],
    ['{"1": ["a", "b"],\n "2": ["a" "b"]}', /is not valid JSON \(line 2, column \d+\)/],
    ["[1, 2]", /must hold one JSON object from question numbers to answers, like \{"1": .*; it holds an array/],
    [JSON.stringify({ 2: "ab" }), /question 2 wants letters like \["a", "c"\], got "ab"/],
    [JSON.stringify({ 3: ["a", "x"] }), /question 3: "x" is not one of its options \(a, b, c, d\)/],
    [JSON.stringify({ 7: ["a"] }), /question 7 is open: its answer is your text, got \["a"\]/],
  ];
  for (const [text, message] of errors) assert.throws(() => readAnswers(tmpFile("unknown.json", text)), message);
  const missing = path.join(os.tmpdir(), "no-such-answers.json");
  assert.throws(() => readAnswers(missing), /no-such-answers\.json: no such file/);
});

test("bertlab quiz prints each question, its answer and where it is taught; --check runs via the CLI", async () => {
  const text = keyText();
  for (const q of QUESTIONS) {
    assert.ok(text.includes(`Question ${q.n} (${q.concept})`), `question ${q.n} is printed`);
    assert.ok(text.includes(`Taught in: ${q.taught[0].notebook}, "${q.taught[0].section}"`), `where ${q.n} is taught`);
  }
  assert.match(text, /c\) It gives us hints as to what learning rate to use\.\n {5}wrong: /);
  const printed: string[] = [];
  assert.equal(quizMain([], (s) => printed.push(s)), 0);
  assert.equal(printed.join("\n"), text);
  assert.equal(quizMain(["--help"], (s) => printed.push(s)), 0);
  assert.match(printed[printed.length - 1], /bertlab quiz --check FILE/);
  assert.throws(() => quizMain(["answers.json"]), /takes no arguments but --check FILE/);
  assert.throws(() => quizMain(["--chekc", "a.json"]), /Unknown option '--chekc'/);

  const file = tmpFile("answers.json", JSON.stringify({ 4: ["b"] }));
  const { value, stdout } = await captureOutput(() => main(["quiz", "--check", file]));
  assert.equal(value, 0);
  assert.match(stdout, /4 {2}wrong {2}train mode versus eval mode: b is wrong, a is missing, d is missing/);
  assert.match(stdout, /Revisit:\n {2}4\. train mode versus eval mode: notebooks\/04_model\.ipynb/);
  assert.equal(verdict(grade(4, ["b"])), "Question 4: not quite: b is wrong, a is missing, d is missing.");
});
