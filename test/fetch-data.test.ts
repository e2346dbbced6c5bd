// scripts/fetch-data.ts: copy from a shared folder, download from a local HTTP server standing in
// for figshare, idempotence, and a corrupt copy never accepted.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as http from "http";
import * as fs from "fs";
import * as path from "path";
import * as crypto from "crypto";
import { execFile } from "child_process";
import { fetchSmile, fetchCarer, SMILE_FILE, SPLIT_FILE, SMILE_URL } from "../scripts/fetch-data";
import { SHARED_CARER_DIR } from "../lib/core/paths";
import { CARER_FILES } from "../lib/data/carer";
import { listenLocal } from "./helpers/local_server";
import { tmpDir } from "./helpers/tmp";

const CSV = Buffer.from('1,"hello, world",happy\n2,"sad day",sad\n');
const SHA = crypto.createHash("sha256").update(CSV).digest("hex");
let dir = "";
let base = "";
let server: http.Server;
let hits = 0;

before(async () => {
  dir = tmpDir("bertlab-fetch-");
  server = http.createServer((req, res) => {
    hits++;
    const body = req.url === "/bad" ? Buffer.from("tampered\n") : CSV;
    res.writeHead(200, { "Content-Length": body.length });
    res.end(body);
  });
  base = await listenLocal(server);
});
after(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const quiet = { log: () => undefined };

test("the figshare URL is the record's file download link", () => {
  assert.equal(SMILE_URL, "https://figshare.com/ndownloader/files/4988956");
});

test("downloads when there is no shared copy, then is idempotent", async () => {
  const dest = path.join(dir, "dl", SMILE_FILE);
  const lines: string[] = [];
  const r = await fetchSmile({
    dest,
    url: `${base}/smile.csv`,
    sharedDir: path.join(dir, "no-such-dir"),
    sha256: SHA,
    log: (s) => lines.push(s),
  });
  assert.equal(r.action, "downloaded");
  assert.deepEqual(fs.readFileSync(dest), CSV);
  assert.match(lines.join("\n"), /downloading http:\/\/127\.0\.0\.1:\d+\/smile\.csv/);
  const before = hits;
  const again = await fetchSmile({
    dest,
    url: `${base}/smile.csv`,
    sharedDir: path.join(dir, "no-such-dir"),
    sha256: SHA,
    ...quiet,
  });
  assert.equal(again.action, "present");
  assert.equal(hits, before, "no second download");
});

test("a download with the wrong sha256 is refused and leaves nothing", async () => {
  const dest = path.join(dir, "bad", SMILE_FILE);
  await assert.rejects(
    fetchSmile({ dest, url: `${base}/bad`, sharedDir: path.join(dir, "none"), sha256: SHA, ...quiet }),
    /sha256 [0-9a-f]{64} does not match/,
  );
  assert.equal(fs.existsSync(dest), false);
  assert.equal(fs.existsSync(`${dest}.part`), false);
});

test("copies from the shared folder (with the reference split); replaces a corrupt copy", async () => {
  const shared = path.join(dir, "shared");
  fs.mkdirSync(shared);
  fs.writeFileSync(path.join(shared, SMILE_FILE), CSV);
  fs.writeFileSync(path.join(shared, SPLIT_FILE), "{}\n");
  const dest = path.join(dir, "copy", SMILE_FILE);
  fs.mkdirSync(path.dirname(dest));
  fs.writeFileSync(dest, "half a file");
  const lines: string[] = [];
  const r = await fetchSmile({ dest, sharedDir: shared, url: `${base}/never`, sha256: SHA, log: (s) => lines.push(s) });
  assert.equal(r.action, "copied");
  assert.deepEqual(fs.readFileSync(dest), CSV);
  assert.equal(fs.readFileSync(path.join(path.dirname(dest), SPLIT_FILE), "utf8"), "{}\n");
  assert.match(lines[0], /replacing .*: its sha256 [0-9a-f]{64} is not the published file's/);
  // a corrupt shared copy is not copied
  fs.writeFileSync(path.join(shared, SMILE_FILE), "tampered");
  const dest2 = path.join(dir, "copy2", SMILE_FILE);
  await assert.rejects(
    fetchSmile({ dest: dest2, sharedDir: shared, sha256: SHA, ...quiet }),
    /is not the published file's/,
  );
  assert.equal(fs.existsSync(dest2), false);
});

// Asynchronous, so that this process's test server can answer the child.
function run(cmd: string, args: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { encoding: "utf8" },
      (err, _stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
}

test("the command line: --download --url --dest, with a clear failure message", async () => {
  const dest = path.join(dir, "cli", SMILE_FILE);
  const tsx = path.join(__dirname, "..", "node_modules", ".bin", "tsx");
  const script = path.join(__dirname, "..", "scripts", "fetch-data.ts");
  // the real sha256 is required by the CLI, so this local file must be refused
  const r = await run(tsx, [script, "--download", "--url", `${base}/smile.csv`, "--dest", dest]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /fetch-data: Download of http:\/\/127\.0\.0\.1:\d+\/smile\.csv failed: sha256 /);
  assert.match(
    r.stderr,
    /Put the published file \(sha256 [0-9a-f]{64}\) at .*smile-annotations-final\.csv, or run `npx tsx scripts\/fetch-data\.ts --shared DIR`/,
  );
  const bad = await run(tsx, [script, "--nope"]);
  assert.match(bad.stderr, /unknown option --nope/);
});

const haveCarer = Object.keys(CARER_FILES).every((f) => fs.existsSync(path.join(SHARED_CARER_DIR, f)));
test("CARER: copied from the shared folder when every sha256 matches; a bad copy is refused; none is no error", {
  skip: haveCarer ? false : `no CARER in ${SHARED_CARER_DIR}`,
}, () => {
  const tmp = tmpDir("bertlab-carer-");
  const lines: string[] = [];
  const log = (s: string) => lines.push(s);
  assert.equal(fetchCarer({ dest: path.join(tmp, "none"), sharedDir: path.join(tmp, "missing"), log }), false);
  assert.match(lines.pop()!, /CARER is not in .*missing: only learning from CARER first needs it/);
  const dest = path.join(tmp, "carer");
  assert.equal(fetchCarer({ dest, log }), true);
  assert.match(lines.pop()!, /copied .*carer\/ \(CARER\)/);
  assert.equal(fetchCarer({ dest, log }), true);
  assert.match(lines.pop()!, /present .*\(CARER, sha256 verified\)/);
  const bad = path.join(tmp, "bad");
  fs.mkdirSync(bad);
  for (const f of Object.keys(CARER_FILES)) fs.copyFileSync(path.join(SHARED_CARER_DIR, f), path.join(bad, f));
  fs.appendFileSync(path.join(bad, "test.csv"), "test-2001,one more,joy\n");
  assert.throws(
    () => fetchCarer({ dest: path.join(tmp, "from-bad"), sharedDir: bad, log }),
    /test\.csv: sha256 [0-9a-f]{64} is not the published file's 7c780fbb/,
  );
  assert.equal(fs.existsSync(path.join(tmp, "from-bad")), false);
});
