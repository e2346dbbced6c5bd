/**
 * Temporary folders for tests, removed when the test file's process exits: a run of the suite writes checkpoints of
 * the course model (~100 MB each), and folders left behind filled the machine's /tmp by gigabytes.
 *
 *   const dir = tmpDir("bertlab-cli-");   // like fs.mkdtempSync(path.join(os.tmpdir(), "bertlab-cli-"))
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const made: string[] = [];
process.on("exit", () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder under the system's temporary folder, named `prefix` + random characters. */
export function tmpDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
