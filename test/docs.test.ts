// The learner's front door: the README's size and test command, links that resolve, a CLI reference generated from
// the CLI's own help, and every `npx bertlab` line in the docs using a command and flags the CLI accepts.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { CV_FLAGS } from "../lib/cli/cv_cli";
import { cliOptions } from "../lib/cli/cli";
import { cliReference, CLI_REFERENCE } from "../scripts/cli-reference";

const ROOT = path.join(__dirname, "..");
const README = path.join(ROOT, "README.md");

function markdownFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(path.join(dir, e.name)) : e.name.endsWith(".md") ? [path.join(dir, e.name)] : []
  );
}
const pages = [README, ...markdownFiles(path.join(ROOT, "docs"))];

test("the README fits in 12,000 characters and names CI's test command", () => {
  const text = fs.readFileSync(README, "utf8");
  assert.ok(text.length <= 12_000, `README.md is ${text.length} characters`);
  const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8").split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("#") && !/^(set|cd) /.test(l)
  );
  assert.deepEqual(ci, ["npm test"], ".ci/run runs one command");
  assert.match(text, new RegExp(`^${ci[0]}\\s+#`, "m"), "the README's quick start shows the same command");
});

test("every relative link in README.md and docs/ resolves to a file", () => {
  const broken: string[] = [];
  for (const page of pages) {
    const text = fs.readFileSync(page, "utf8").replace(/```[\s\S]*?```/g, "");
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split("#")[0];
      if (!target || /^[a-z]+:/i.test(m[1])) continue;
      const where = path.resolve(path.dirname(page), target);
      if (!fs.existsSync(where)) broken.push(`${path.relative(ROOT, page)} → ${m[1]}`);
    }
  }
  assert.deepEqual(broken, []);
});

test("docs/reference/cli.md is what scripts/cli-reference.ts makes, and lists every flag the parser accepts", () => {
  const file = fs.readFileSync(CLI_REFERENCE, "utf8");
  assert.equal(file, cliReference(), "stale: run npm run cli-reference");
  const missing = Object.keys(cliOptions()).filter((f) => !file.includes(`--${f}`));
  assert.deepEqual(missing, []);
  for (const f of ["--check", "--json"]) assert.ok(file.includes(f), `quiz/doctor flag ${f}`);
});

test("every `npx bertlab` line in the docs uses a command and flags the CLI accepts", () => {
  const commands = [
    "split",
    "train",
    "evaluate",
    "predict",
    "sweep",
    "probe-bias",
    "quiz",
    "doctor",
    "export",
    "demo",
    "soup",
    "cv",
  ];
  const flags = new Set([...Object.keys(cliOptions()), ...Object.keys(CV_FLAGS), "check", "json"]);
  const wrong: string[] = [];
  let seen = 0;
  for (const page of pages) {
    for (const line of fs.readFileSync(page, "utf8").split("\n")) {
      const m = /npx bertlab ([^#|`]*)/.exec(line);
      if (!m) continue;
      seen++;
      const words = m[1].trim().split(/\s+/);
      const placeholder = /^[<[…]/.test(words[0] ?? ""); // `npx bertlab <command> [options]`
      if (words[0] && !placeholder && !words[0].startsWith("-") && !commands.includes(words[0])) {
        wrong.push(`${line} (command ${words[0]})`);
      }
      for (const w of words) {
        const flag = /^--([a-z][a-z0-9-]*)/.exec(w)?.[1];
        if (flag && !flags.has(flag)) wrong.push(`${line} (--${flag})`);
      }
    }
  }
  assert.ok(seen >= 10, `only ${seen} npx bertlab lines found`);
  assert.deepEqual(wrong, []);
});
