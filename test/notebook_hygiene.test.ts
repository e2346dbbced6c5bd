// The course notebooks' mechanical rules, checked on every notebook without running it: each cell has an id and
// no two share one (nbformat 4.5; JupyterLab and the runner's progress name cells by them); no tracker vocabulary
// (the course speaks of the project, not of its issues); within a notebook no module is imported twice and no
// top-level name is declared twice (tslab keeps one scope for the whole notebook, so a second `const first`
// silently replaces the first for every later cell).
//
//   problems("notebooks/05_train.ipynb")
//   // → [] or ["cell 36 (quiz-5-random): \"first\" declared again (first in cell 9)"]
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import ts from "typescript";
import { listNotebooks } from "../scripts/run-notebooks";
import { tmpDir } from "./helpers/tmp";

interface Cell {
  cell_type: string;
  id?: string;
  source: string | string[];
}

const TRACKER = /\bissues?\b|\bticket\b|#\d{1,4}\b/i;

/** Top-level names a code cell declares, and the modules it imports. */
function declarations(source: string): { names: string[]; modules: string[] } {
  const file = ts.createSourceFile("cell.ts", source, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const names: string[] = [], modules: string[] = [];
  const bind = (n: ts.BindingName) => {
    if (ts.isIdentifier(n)) names.push(n.text);
    else n.elements.forEach((e) => {
        if (!ts.isOmittedExpression(e)) bind(e.name);
      });
  };
  for (const st of file.statements) {
    if (ts.isImportDeclaration(st)) {
      modules.push((st.moduleSpecifier as ts.StringLiteral).text);
      const clause = st.importClause;
      if (clause?.name) names.push(clause.name.text);
      const b = clause?.namedBindings;
      if (b && ts.isNamespaceImport(b)) names.push(b.name.text);
      if (b && ts.isNamedImports(b)) b.elements.forEach((e) => names.push(e.name.text));
    } else if (ts.isVariableStatement(st)) {
      st.declarationList.declarations.forEach((d) => bind(d.name));
    } else if (
      (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st)
        || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && st.name
    ) {
      names.push(st.name.text);
    }
  }
  return { names, modules };
}

/** Every broken rule in one notebook, each naming its cell. */
export function problems(notebook: string): string[] {
  const cells = JSON.parse(fs.readFileSync(notebook, "utf8")).cells as Cell[];
  const out: string[] = [];
  const ids = new Map<string, number>(), names = new Map<string, number>(), modules = new Map<string, number>();
  cells.forEach((cell, i) => {
    const where = `cell ${i} (${cell.id ?? "no id"})`;
    const source = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    if (!cell.id) out.push(`${where}: no id`);
    else if (ids.has(cell.id)) out.push(`${where}: id used again (first in cell ${ids.get(cell.id)})`);
    else ids.set(cell.id, i);
    const tracker = TRACKER.exec(source);
    if (tracker) out.push(`${where}: tracker vocabulary ${JSON.stringify(tracker[0])}`);
    if (cell.cell_type !== "code") return;
    const d = declarations(source);
    for (const m of d.modules) {
      if (modules.has(m)) out.push(`${where}: "${m}" imported again (first in cell ${modules.get(m)})`);
      else modules.set(m, i);
    }
    for (const n of d.names) {
      if (names.has(n)) out.push(`${where}: "${n}" declared again (first in cell ${names.get(n)})`);
      else names.set(n, i);
    }
  });
  return out;
}

test("the hygiene check finds what it looks for", () => {
  const dir = tmpDir("hygiene-");
  const nb = path.join(dir, "99_x.ipynb");
  fs.writeFileSync(
    nb,
    JSON.stringify({
      cells: [
        { cell_type: "markdown", id: "a", source: "As issue 11 asked" },
        {
          cell_type: "code",
          id: "b",
          source: ['import * as fs from "fs";\n', "const { x, y: [z] } = f();\nfunction g() { const inner = 1; }"],
        },
        { cell_type: "code", id: "b", source: 'import { readFileSync } from "fs";\nlet x = 2;' },
        { cell_type: "code", source: "const inner = 3;" },
      ],
    }),
  );
  assert.deepEqual(problems(nb), [
    'cell 0 (a): tracker vocabulary "issue"',
    "cell 2 (b): id used again (first in cell 1)",
    'cell 2 (b): "fs" imported again (first in cell 1)',
    'cell 2 (b): "x" declared again (first in cell 1)',
    "cell 3 (no id): no id",
  ]);
});

for (const nb of listNotebooks()) {
  const rules = "cell ids, no tracker vocabulary, each module imported and each name declared once";
  test(`notebook ${path.basename(nb)}: ${rules}`, () => {
    assert.deepEqual(problems(nb), []);
  });
}
