/**
 * `bertlab quiz`: the course's graded quiz for teachers (lib/teach/quiz.ts, key in lib/teach/quiz_key.ts).
 * Without flags it prints the eight questions with their answers and where each is taught; with
 * `--check FILE` it grades a learner's answers file and says which concepts to revisit.
 *
 *   npx bertlab quiz
 *   npx bertlab quiz --check answers.json   # {"1": ["a", "b"], "2": ["a"], "7": "sentence pairs, NER, …"}
 *   // Answers in answers.json: 3 of 8 questions answered. Choice questions right: 1 of 2 answered (6 in the quiz).
 *   //   1  right  exploratory data analysis: multi-label tweets and class imbalance
 *   //   2  wrong  the stratified train/validation split: b is missing
 *   //   ...
 *   // Revisit:
 *   //   2. the stratified train/validation split: notebooks/02_split.ipynb, "A plain random split"; …
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { QUESTIONS, Question, question, grade, Graded, verdict, cellPlace } from "./quiz";

export const QUIZ_HELP = `bertlab quiz — the course's graded quiz

Usage:
  bertlab quiz                      the eight questions with their answers, and where each is taught
  bertlab quiz --check FILE         grade a learner's answers and say which concepts to revisit

FILE is JSON: question number → letters for a choice question (1–6), text for an open one (7, 8), e.g.
  {"1": ["a", "b"], "2": ["a", "b"], "3": ["a"], "7": "sentence pairs, named entities, …"}
Questions left out are reported as not answered. The exit code is 0 whenever the file could be read.`;

/** A learner's answers, checked: letters (sorted) for choice questions, text for open ones. */
export type Answers = Map<number, string[] | string>;

const EXAMPLE = `{"1": ["a", "b"], "7": "your text"}`;

function parseJson(file: string): unknown {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const text = fs.readFileSync(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    // V8 quotes the text near the fault in some messages: kept on one line, and short
    const msg = (e as Error).message.replace(/\s+/g, " ").slice(0, 200);
    const pos = /position (\d+)/.exec(msg);
    const before = text.slice(0, pos ? Number(pos[1]) : 0).split("\n");
    const at = pos ? ` (line ${before.length}, column ${before[before.length - 1].length + 1})` : "";
    throw new Error(`${file} is not valid JSON${at}: ${msg}. Write it as ${EXAMPLE}`, { cause: e });
  }
}

/** Reads and checks an answers file; every error names the file and what is wrong in it. */
export function readAnswers(file: string): Answers {
  const raw = parseJson(file);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    const what = raw === null ? "null" : Array.isArray(raw) ? "an array" : `a ${typeof raw}`;
    throw new Error(
      `${file} must hold one JSON object from question numbers to answers, like ${EXAMPLE}; it holds ${what}`,
    );
  }
  const answers: Answers = new Map();
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const n = /^\s*\d+\s*$/.test(k) ? Number(k) : NaN;
    try {
      if (!QUESTIONS.some((q) => q.n === n))
        throw new Error(`there is no question ${JSON.stringify(k)}: the quiz has questions 1–${QUESTIONS.length}`);
      if (question(n).kind === "choice") {
        const picks = grade(n, v as string[]).picks;
        if (picks.length) answers.set(n, picks);
      } else if (typeof v !== "string") {
        throw new Error(`question ${n} is open: its answer is your text, got ${JSON.stringify(v)}`);
      } else if (v.trim()) answers.set(n, v.trim());
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
    }
  }
  return answers;
}

export interface CheckReport {
  graded: Graded[];
  /** Questions the file leaves out (or answers with nothing). */
  unanswered: number[];
  /** Choice questions answered wrongly: the concepts to revisit. */
  revisit: Question[];
  lines: string[];
}

/** Grades answers and writes the report: per question, then what is missing, then what to revisit. */
export function checkAnswers(answers: Answers, source: string): CheckReport {
  const choice = QUESTIONS.filter((q) => q.kind === "choice");
  const graded = choice.filter((q) => answers.has(q.n)).map((q) => grade(q.n, answers.get(q.n) as string[]));
  const unanswered = QUESTIONS.filter((q) => !answers.has(q.n)).map((q) => q.n);
  const revisit = graded.filter((g) => !g.right).map((g) => question(g.n));
  const total = QUESTIONS.length;
  const answered = unanswered.length ? `${total - unanswered.length} of ${total}` : `all ${total}`;
  const right = graded.filter((g) => g.right).length;
  const lines = [
    `Answers in ${source}: ${answered} questions answered. ` +
    `Choice questions right: ${right} of ${graded.length} answered (${choice.length} in the quiz).`,
  ];
  for (const q of QUESTIONS) {
    const g = graded.find((x) => x.n === q.n);
    const status = !answers.has(q.n) ? "—" : q.kind === "open" ? "open" : g!.right ? "right" : "wrong";
    const detail = g && !g.right ? verdict(g).replace(/^Question \d+: not quite: /, ": ").replace(/\.$/, "") : "";
    lines.push(`  ${String(q.n).padEnd(2)} ${status.padEnd(6)} ${q.concept}${detail}`);
  }
  if (unanswered.length) {
    lines.push("", `Not answered: ${unanswered.join(", ")}. Add them to ${source} to have them checked.`);
  }
  for (const q of QUESTIONS.filter((x) => x.kind === "open" && answers.has(x.n))) {
    lines.push(
      "",
      `Question ${q.n} (open, not graded automatically): ${q.text}`,
      `  Your answer: ${answers.get(q.n)}`,
      `  Model answer: ${q.modelAnswer}`,
    );
  }
  lines.push("");
  if (!graded.length) lines.push("No choice question answered: nothing graded.");
  else if (!revisit.length) lines.push("Nothing to revisit among the answered choice questions.");
  else lines.push("Revisit:");
  for (const g of graded.filter((x) => !x.right)) {
    const q = question(g.n);
    const taught = q.taught.map((t) => `notebooks/${t.notebook}.ipynb, "${t.section}"`).join("; ");
    lines.push(`  ${q.n}. ${q.concept}: ${taught}`);
    for (const o of q.options.filter((x) => g.wrong.includes(x.letter) || g.missing.includes(x.letter))) {
      lines.push(
        `     ${o.letter}) ${o.text}`,
        `        ${o.right ? "right" : "wrong"}: ${o.why} (see ${cellPlace(o.cell)})`,
      );
    }
  }
  return { graded, unanswered, revisit, lines };
}

/**
 * One question of the key as plain text: every option right or wrong, why and where; an open question's model
 * answer; the course's own words where they are loose, and what is right; where the concept is taught.
 */
function questionText(q: Question): string {
  const how = q.kind === "choice" ? "choose all that apply" : "open question";
  const lines = [`Question ${q.n} (${q.concept}) · ${how}`, q.text];
  for (const o of q.options) {
    lines.push(
      `  ${o.letter}) ${o.text}`,
      `     ${o.right ? "right" : "wrong"}: ${o.why}`,
      `     see ${cellPlace(o.cell)}`,
    );
  }
  if (q.modelAnswer)
    lines.push(`  Model answer: ${q.modelAnswer}`, ...q.shownIn.map((c) => `     see ${cellPlace(c)}`));
  if (q.course) {
    lines.push(
      `  The course says: "${q.course.says}"`,
      `     What is right: ${q.course.right}`,
      `     see ${cellPlace(q.course.cell)}`,
    );
  }
  lines.push(`  Taught in: ${q.taught.map((t) => `${t.notebook}, "${t.section}"`).join("; ")}`);
  return lines.join("\n");
}

/** The whole key: every question, its answer, and where it is taught. */
export function keyText(): string {
  const title = `The course's graded quiz: ${QUESTIONS.length} questions with their answers ` +
    `(notebooks 01–06, "Check your understanding").`;
  return [title, ...QUESTIONS.map(questionText)].join("\n\n");
}

/** `bertlab quiz [--check FILE]`; returns the exit code (errors are thrown, and the CLI prints them). */
export function quizMain(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + "\n")): number {
  const options = { check: { type: "string" as const }, help: { type: "boolean" as const } };
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  if (values.help) {
    out(QUIZ_HELP);
    return 0;
  }
  if (positionals.length) {
    const got = JSON.stringify(positionals[0]);
    throw new Error(`bertlab quiz takes no arguments but --check FILE, got ${got} (see bertlab quiz --help)`);
  }
  if (values.check === undefined) {
    out(keyText());
    return 0;
  }
  checkAnswers(readAnswers(values.check), values.check).lines.forEach(out);
  return 0;
}
