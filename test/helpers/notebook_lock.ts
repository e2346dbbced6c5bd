/**
 * One notebook run at a time across test files: test/notebooks.test.ts and test/jupyterlab.test.ts
 * both run the course notebooks, which write the same run folders (runs/05_train, …). node --test
 * may run test files in parallel (one less than the CPU count), so each holds this lock while it runs
 * a notebook. The lock is a folder (mkdir is atomic); one older than two hours is taken as stale.
 *
 *   await withNotebookLock(async () => { await runNotebook(nb); });
 */
import * as fs from "fs";
import * as path from "path";
import { OUT_DIR } from "../../lib/core/paths";

const LOCK = path.join(OUT_DIR, ".notebooks.lock");

export async function withNotebookLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = Date.now() - (fs.statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 2 * 3600_000) fs.rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}
