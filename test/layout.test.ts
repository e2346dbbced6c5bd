// lib/'s layers: every module sits in a folder whose index.ts says what it holds and which folders it may
// import ("May import: …"); an import from any other folder is a layering error named here.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";

const LIB = path.join(__dirname, "..", "lib");
const folders = fs.readdirSync(LIB).filter((d) => fs.statSync(path.join(LIB, d)).isDirectory());

function mayImport(folder: string): Set<string> {
  const index = fs.readFileSync(path.join(LIB, folder, "index.ts"), "utf8");
  const m = /May import: ([^(\n]*)/.exec(index);
  assert.ok(m, `lib/${folder}/index.ts says nothing of what it may import`);
  return new Set(m[1].split(",").map((s) => s.trim()).filter((s) => folders.includes(s)));
}

/** Relative specifiers a module imports (static, `export … from`, and `import()`), type-only ones included. */
function imports(file: string): string[] {
  const src = fs.readFileSync(file, "utf8");
  return [...src.matchAll(/(?:from\s+|import\()"(\.[^"]+)"/g)].map((m) => m[1]);
}

test("lib/ holds only folders (and the package entry); each folder has an index.ts with a header", () => {
  const loose = fs.readdirSync(LIB).filter((f) => f.endsWith(".ts") && f !== "index.ts");
  assert.deepEqual(loose, []);
  for (const d of folders) {
    const index = fs.readFileSync(path.join(LIB, d, "index.ts"), "utf8");
    assert.match(index, new RegExp(`^/\\*\\*\\n \\* lib/${d}/ — `), `lib/${d}/index.ts opens with what it holds`);
  }
});

test("every import in lib/ stays in its folder or goes to a folder its index allows", () => {
  const errors: string[] = [];
  for (const d of folders) {
    const allowed = mayImport(d);
    for (const f of fs.readdirSync(path.join(LIB, d)).filter((n) => n.endsWith(".ts"))) {
      for (const spec of imports(path.join(LIB, d, f))) {
        const target = path.relative(LIB, path.resolve(LIB, d, spec)).split(path.sep)[0];
        if (target !== d && !allowed.has(target)) errors.push(`lib/${d}/${f} imports ${spec}`);
      }
    }
  }
  assert.deepEqual(errors, []);
});

test("the folders' allowances form layers: no two folders may import each other, even through others", () => {
  const reach = (from: string, seen = new Set<string>()): Set<string> => {
    for (const to of mayImport(from))
      if (!seen.has(to)) {
        seen.add(to);
        reach(to, seen);
      }
    return seen;
  };
  for (const d of folders) assert.ok(!reach(d).has(d), `lib/${d}/ can reach itself through its allowances`);
});

test("no module in lib/ or scripts/ imports itself through others (type-only and dynamic imports included)", () => {
  const ROOT = path.join(__dirname, "..");
  const files = [
    ...fs.readdirSync(LIB, { recursive: true }).map(String).filter((f) => f.endsWith(".ts")).map((f) =>
      path.join(LIB, f)
    ),
    ...fs.readdirSync(path.join(ROOT, "scripts")).filter((f) => f.endsWith(".ts")).map((f) =>
      path.join(ROOT, "scripts", f)
    ),
  ];
  const resolve = (from: string, spec: string) => {
    const p = path.resolve(path.dirname(from), spec);
    return [`${p}.ts`, path.join(p, "index.ts")].find((c) => fs.existsSync(c));
  };
  const edges = new Map(files.map((f) => [f, imports(f).map((s) => resolve(f, s)).filter((x): x is string => !!x)]));
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (f: string, trail: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(ROOT, x)).join(" → "));
      return;
    }
    state.set(f, "open");
    for (const g of edges.get(f) ?? []) visit(g, [...trail, f]);
    state.set(f, "done");
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});
