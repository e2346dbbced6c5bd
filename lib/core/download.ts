/**
 * Downloads a URL so that a complete-looking file is always a complete file: the body streams into `${dest}.part`,
 * is checked (HTTP status, Content-Length, and the expected size and sha256 when given), and only then renamed onto
 * `dest`. A `.part` left by an interrupted run is overwritten by the next attempt, never taken for the file.
 *
 *   await downloadFile("https://ndownloader.figshare.com/files/4988956", "data/smile.csv",
 *     { sha256: "d9288a57…", onProgress: (done, total) => console.log(done, total) });
 */
import * as fs from "fs";
import * as path from "path";
import * as crypto from "crypto";

export interface DownloadOptions {
  /** Expected sha256 of the body, lower-case hex; a mismatch is an error and nothing is kept. */
  sha256?: string;
  /** Expected size in bytes. */
  size?: number;
  /** Extra request headers (for example an Authorization header for the hub). */
  headers?: Record<string, string>;
  /** Called as bytes arrive; `total` is the Content-Length when the server sent one. */
  onProgress?: (done: number, total?: number) => void;
}

/** The sha256 of a file on disk, hex. */
export function sha256File(file: string): string {
  const hash = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

/** Downloads `url` to `dest` atomically (see the file comment). Errors name the URL and the problem. */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<void> {
  const part = `${dest}.part`;
  fs.mkdirSync(path.dirname(path.resolve(dest)), { recursive: true });
  const fail = (what: string): never => {
    throw new Error(`Download of ${url} failed: ${what}`);
  };
  const reason = (e: unknown) => { // fetch puts the network error in the cause
    const cause = (e as { cause?: Error }).cause;
    return `${(e as Error).message}${cause ? ` (${cause.message})` : ""}`;
  };

  let res: Response;
  try {
    res = await fetch(url, { headers: opts.headers, redirect: "follow" });
  } catch (e) {
    return fail(reason(e));
  }
  if (!res.ok) {
    // Drain the body so the connection is released.
    await res.body?.cancel().catch(() => undefined);
    return fail(`HTTP ${res.status} ${res.statusText}`);
  }
  const lengthHeader = res.headers.get("content-length");
  // A compressed transfer's Content-Length counts the compressed bytes, not what we write.
  const encoded = (res.headers.get("content-encoding") ?? "identity") !== "identity";
  const total = lengthHeader !== null && !encoded ? Number(lengthHeader) : undefined;
  if (total !== undefined && opts.size !== undefined && total !== opts.size) {
    await res.body?.cancel().catch(() => undefined);
    return fail(`server announces ${total} bytes, expected ${opts.size}`);
  }

  const hash = crypto.createHash("sha256");
  let done = 0;
  // "w" truncates a stale .part from an earlier, interrupted run.
  const fd = fs.openSync(part, "w");
  try {
    try {
      if (!res.body) fail("no response body");
      for await (const value of res.body!) {
        fs.writeSync(fd, value);
        hash.update(value);
        done += value.length;
        opts.onProgress?.(done, total);
      }
    } catch (e) {
      if ((e as Error).message.startsWith(`Download of ${url}`)) throw e;
      fail(`connection broke after ${done} bytes${total !== undefined ? ` of ${total}` : ""}: ${reason(e)}`);
    }
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(part, { force: true });
    throw e;
  }
  fs.closeSync(fd);

  const digest = hash.digest("hex"), sha256 = opts.sha256?.toLowerCase();
  const problem = total !== undefined && done !== total
    ? `got ${done} bytes, Content-Length said ${total}`
    : opts.size !== undefined && done !== opts.size
    ? `got ${done} bytes, expected ${opts.size}`
    : sha256 !== undefined && digest !== sha256
    ? `sha256 ${digest} does not match the expected ${sha256}`
    : undefined;
  if (problem) {
    fs.rmSync(part, { force: true });
    fail(problem);
  }
  fs.renameSync(part, dest);
}
