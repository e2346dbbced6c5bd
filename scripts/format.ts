/**
 * The code formatter: dprint's TypeScript plugin (a WebAssembly file inside the npm package @dprint/typescript)
 * run through its JavaScript API (@dprint/formatter), with the settings of dprint.json, over lib/, scripts/ and
 * test/. No platform binary is installed, so a clean `npm ci` needs nothing but the registry.
 *
 *   npm run format             # rewrites the files that are not formatted
 *   npx tsx scripts/format.ts --check   # lists them and exits 1 (npm test runs this)
 */
import * as fs from "fs";
import * as path from "path";
import { createFromBuffer } from "@dprint/formatter";
import { ROOT } from "../lib/core/paths";

const config = JSON.parse(fs.readFileSync(path.join(ROOT, "dprint.json"), "utf8"));
const FOLDERS = ["lib", "scripts", "test"];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" || e.name === "fixtures" ? [] : files(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** `text` (the file `filePath`) as the house formatter writes it. */
export function formatter(): (filePath: string, text: string) => string {
  const wasm = fs.readFileSync(require.resolve("@dprint/typescript/plugin.wasm"));
  const f = createFromBuffer(wasm);
  const { lineWidth, indentWidth } = config;
  f.setConfig({ lineWidth, indentWidth }, config.typescript);
  return (filePath, fileText) => f.formatText({ filePath, fileText });
}

/** The files under `folders` whose text the formatter would change (rewritten unless `check`). */
export function format(check: boolean, folders = FOLDERS): string[] {
  const formatText = formatter();
  const changed: string[] = [];
  for (const file of folders.flatMap((f) => files(path.join(ROOT, f)))) {
    const text = fs.readFileSync(file, "utf8");
    const formatted = formatText(file, text);
    if (formatted === text) continue;
    changed.push(path.relative(ROOT, file));
    if (!check) fs.writeFileSync(file, formatted);
  }
  return changed;
}

if (require.main === module) {
  const check = process.argv.includes("--check");
  const changed = format(check);
  for (const f of changed) console.log(`${check ? "not formatted" : "formatted"}: ${f}`);
  if (check && changed.length) {
    console.error(`${changed.length} file(s) not formatted: npm run format`);
    process.exit(1);
  }
}
