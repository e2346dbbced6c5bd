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

/** The files under `folders` whose text the formatter would change (rewritten unless `check`). */
export function format(check: boolean, folders = FOLDERS): string[] {
  const wasm = fs.readFileSync(require.resolve("@dprint/typescript/plugin.wasm"));
  const formatter = createFromBuffer(wasm);
  const { lineWidth, indentWidth } = config;
  formatter.setConfig({ lineWidth, indentWidth }, config.typescript);
  const changed: string[] = [];
  for (const file of folders.flatMap((f) => files(path.join(ROOT, f)))) {
    const text = fs.readFileSync(file, "utf8");
    const formatted = formatter.formatText({ filePath: file, fileText: text });
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
