/**
 * One notebook run at a time across test files: test/notebooks.test.ts and test/jupyterlab.test.ts
 * both run the course notebooks, which write the same run folders (runs/05_train, …). node --test
 * may run test files in parallel (one less than the CPU count), so each holds this lock while it runs
 * a notebook. The lock is a folder (mkdir is atomic) holding its owner's pid: it is stale when that process is
 * gone (a test run killed mid-notebook), or older than two hours.
 *
 *   await withNotebookLock(async () => { await runNotebook(nb); });
 */
import * as fs from "fs";
import * as path from "path";
import { OUT_DIR } from "../../lib/core/paths";

const LOCK = path.join(OUT_DIR, ".notebooks.lock");

/** Whether the process that took the lock is gone (no pid file yet: a lock being taken, not stale). */
function ownerGone(): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(LOCK, "pid"), "utf8").trim());
  } catch {
    return false; // released meanwhile, or taken and not yet written
  }
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export async function withNotebookLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = Date.now() - (fs.statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 2 * 3600_000 || ownerGone()) fs.rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}
