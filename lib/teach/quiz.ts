/**
 * The course's graded quiz (its key, with every option's explanation and experiment: lib/teach/quiz_key.ts).
 * Notebooks 01–06 end with "Check your understanding": `ask(n)` shows question n, `answer(n, letters)` grades
 * it; nothing about the answer is shown before `answer` is called. `npx bertlab quiz` (lib/teach/quiz_cli.ts)
 * prints the key for teachers and grades an answers file.
 *
 *   import * as quiz from "./lib/teach/quiz";
 *   quiz.ask(4);                  // shows question 4 and its options a–d
 *   quiz.answer(4, ["a", "c"]);   // "Question 4: not quite: c is wrong, d is missing."
 *                                 // and shows every option: right or wrong, why, and the cell that shows it
 *   grade(4, ["d", "a"]).right    // true
 */
import { escapeHtml } from "../core/html";
import { displayHtml } from "../view/plot";
import { QUESTIONS, Question, Option, CellRef } from "./quiz_key";

export { QUESTIONS, Question, Option, CellRef };

/** Question `n` (1–8); an error names the valid numbers. */
export function question(n: number): Question {
  const q = QUESTIONS.find((x) => x.n === n);
  if (!q) throw new Error(`there is no question ${JSON.stringify(n)}: the quiz has questions 1–${QUESTIONS.length}`);
  return q;
}

/** The letters of the right options (empty for an open question). */
export function key(n: number): string[] {
  return question(n).options.filter((o) => o.right).map((o) => o.letter);
}

export interface Graded {
  n: number;
  /** The learner's letters, sorted; empty when none were given (the key is then shown). */
  picks: string[];
  /** Picks equal the key's letters exactly. Always false for an open question. */
  right: boolean;
  /** Right options not picked. */
  missing: string[];
  /** Wrong options picked. */
  wrong: string[];
}

/**
 * Grades a choice question: right only when the picks are exactly the right options (choose all that apply).
 * The letters are trimmed, lower-cased, made distinct and sorted; one that is not an option is an error.
 */
export function grade(n: number, given: readonly string[]): Graded {
  const q = question(n);
  if (!Array.isArray(given))
    throw new Error(`question ${n} wants letters like ["a", "c"], got ${JSON.stringify(given)}`);
  const letters = q.options.map((o) => o.letter);
  const mine = new Set<string>();
  for (const p of given) {
    const l = typeof p === "string" ? p.trim().toLowerCase() : p;
    if (typeof l !== "string" || !letters.includes(l)) {
      const valid = letters.join(", ") || "none: it is an open question";
      throw new Error(`question ${n}: ${JSON.stringify(p)} is not one of its options (${valid})`);
    }
    mine.add(l);
  }
  const picks = [...mine].sort();
  const right = new Set(key(n));
  const missing = [...right].filter((l) => !mine.has(l));
  const wrong = picks.filter((l) => !right.has(l));
  const isRight = q.kind === "choice" && picks.length > 0 && missing.length === 0 && wrong.length === 0;
  return { n, picks, right: isRight, missing, wrong };
}

/** Where a cell is, as a reader finds it: `notebooks/04_model.ipynb, cell quiz-4-grads`. */
export function cellPlace(ref: CellRef): string {
  return `notebooks/${ref.notebook}.ipynb, cell ${ref.cell}`;
}

/** One line saying how the answer went. */
export function verdict(g: Graded): string {
  const q = question(g.n);
  if (q.kind === "open") return `Question ${g.n} is open: compare your answer with the model answer.`;
  if (g.picks.length === 0) return `Question ${g.n}: you gave no letters, so here is the key: ${key(g.n).join(", ")}.`;
  if (g.right) return `Question ${g.n}: right (${g.picks.join(", ")}).`;
  const parts = [...g.wrong.map((l) => `${l} is wrong`), ...g.missing.map((l) => `${l} is missing`)];
  return `Question ${g.n}: not quite: ${parts.join(", ")}.`;
}

/** What each option is, for one learner: picked or not, and whether that was right. */
function optionMark(o: Option, g: Graded): string {
  if (g.picks.length === 0) return o.right ? "right" : "wrong";
  if (g.picks.includes(o.letter)) return o.right ? "right, you picked it" : "wrong, you picked it";
  return o.right ? "right, you left it out" : "wrong, rightly left out";
}

/** Escaped HTML, with `code` spans (escaped first, so a `<b>` inside stays text). */
function html(s: string): string {
  return escapeHtml(s).replace(/`([^`]+)`/g, "<code>$1</code>");
}

const see = (refs: CellRef[]) => `<small>(see ${refs.map((r) => html(cellPlace(r))).join("; ")})</small>`;

/** The question as HTML, options only: what `ask` shows. */
export function questionHtml(q: Question): string {
  const how = q.kind === "choice"
    ? `Choose all that apply, then run <code>quiz.answer(${q.n}, ["a", …])</code>.`
    : `Write your answer, then run <code>quiz.answer(${q.n})</code> for the model answer.`;
  const items = q.options.map((o) => `<li>${html(o.text)}</li>`).join("");
  const options = items ? `<ol type="a">${items}</ol>` : "";
  return `<div class="bertlab-quiz"><p><b>Question ${q.n}</b> (${html(q.concept)})</p><p>${html(q.text)}</p>` +
    `${options}<p><i>${how}</i></p></div>`;
}

/** The graded answer as HTML: the verdict, then every option with its mark, why and where. */
export function answerHtml(q: Question, g: Graded): string {
  const colour = (o: Option) => (o.right ? "#1a7f37" : "#b42318");
  const items = q.options.map((o) =>
    `<li><b style="color:${colour(o)}">${html(optionMark(o, g))}</b>: ` +
    `${html(o.text)}<br>${html(o.why)} ${see([o.cell])}</li>`
  );
  const parts = [`<p><b>${html(verdict(g))}</b></p>`];
  if (items.length) parts.push(`<ol type="a">${items.join("")}</ol>`);
  if (q.modelAnswer) parts.push(`<p><b>Model answer.</b> ${html(q.modelAnswer)} ${see(q.shownIn)}</p>`);
  if (q.course) {
    parts.push(
      `<p><b>The course says</b> "${html(q.course.says)}" <b>What is right:</b> ${html(q.course.right)} ` +
        `${see([q.course.cell])}</p>`,
    );
  }
  return `<div class="bertlab-quiz">${parts.join("")}</div>`;
}

type Show = (html: string) => void;

/** Shows question n (options only, no answer) in the notebook; returns what to do next. */
export function ask(n: number, opts: { show?: Show } = {}): string {
  const q = question(n);
  (opts.show ?? displayHtml)(questionHtml(q));
  if (q.kind === "open") return `question ${n}: open, see quiz.answer(${n})`;
  return `question ${n}: your letters go in quiz.answer(${n}, [...])`;
}

/**
 * Grades question n and shows, for every option, right or wrong, why, and the cell that shows it.
 * With no letters the key itself is shown. For an open question, `mine` may be your text: it is
 * shown above the model answer. Returns the verdict line.
 */
export function answer(n: number, mine: readonly string[] | string = [], opts: { show?: Show } = {}): string {
  const q = question(n);
  const g = grade(n, q.kind === "open" ? [] : typeof mine === "string" ? [mine] : mine);
  const text = typeof mine === "string" ? mine.trim() : "";
  const yours = q.kind === "open" && text ? `<p><b>Your answer.</b> ${html(text)}</p>` : "";
  (opts.show ?? displayHtml)(yours + answerHtml(q, g));
  return verdict(g);
}
