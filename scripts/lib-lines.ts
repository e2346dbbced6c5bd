/**
 * lib/'s size in lines with the house formatter applied, by folder, here and at an earlier commit (formatted the
 * same way, so a commit from before the formatter counts fairly). docs/architecture.md quotes it.
 *
 *   npx tsx scripts/lib-lines.ts d9e1c52   # lib/ now: 13,501 lines · at d9e1c52: 11,874 lines · …
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../lib/core/paths";
import { formatter } from "./format";

const formatText = formatter();
const lines = (file: string, text: string) => formatText(file, text).split("\n").length - 1;
const folderOf = (file: string) => file.split("/").slice(0, -1).join("/") || "lib";

/** Formatted lines of each .ts file under lib/ in the working tree, or at commit `rev`. */
function count(rev?: string): Map<string, number> {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 });
  const names = rev
    ? git("ls-tree", "-r", "--name-only", rev, "lib").split("\n").filter((f) => f.endsWith(".ts"))
    : git("ls-files", "--cached", "--others", "--exclude-standard", "lib").split("\n").filter((f) => f.endsWith(".ts"));
  const read = (f: string) => (rev ? git("show", `${rev}:${f}`) : fs.readFileSync(path.join(ROOT, f), "utf8"));
  return new Map(names.map((f) => [f, lines(f, read(f))]));
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const now = count();
const byFolder = new Map<string, number>();
for (const [f, n] of now) byFolder.set(folderOf(f), (byFolder.get(folderOf(f)) ?? 0) + n);
for (const [folder, n] of [...byFolder].sort()) console.log(`${folder.padEnd(14)} ${String(n).padStart(6)}`);
const rev = process.argv[2];
const then = rev ? ` · at ${rev}: ${total(count(rev)).toLocaleString("en")} lines` : "";
console.log(`lib/ now: ${total(now).toLocaleString("en")} lines${then}`);
