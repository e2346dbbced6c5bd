// lib/core/download.ts against a local HTTP server on 127.0.0.1: success, HTTP errors, a truncated
// body, size and sha256 checks, and a stale .part never taken for the file.
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as http from "http";
import * as fs from "fs";
import * as path from "path";
import * as crypto from "crypto";
import { downloadFile, sha256File } from "../lib/core/download";
import { listenLocal } from "./helpers/local_server";
import { tmpDir } from "./helpers/tmp";

const BODY = Buffer.from("id,text,category\n1,hello,happy\n".repeat(2000));
const SHA = crypto.createHash("sha256").update(BODY).digest("hex");
let server: http.Server;
let base = "";
let dir = "";

before(async () => {
  dir = tmpDir("bertlab-dl-");
  server = http.createServer((req, res) => {
    if (req.url === "/ok") {
      res.writeHead(200, { "Content-Length": BODY.length });
      res.end(BODY);
    } else if (req.url === "/chunked") {
      res.writeHead(200); // no Content-Length: chunked transfer
      res.write(BODY.subarray(0, 1000));
      res.end(BODY.subarray(1000));
    } else if (req.url === "/truncated") {
      // Announces the whole body, sends half, then hangs up.
      res.writeHead(200, { "Content-Length": BODY.length });
      res.write(BODY.subarray(0, BODY.length >> 1), () => res.socket?.destroy());
    } else if (req.url === "/redirect") {
      res.writeHead(302, { Location: "/ok" });
      res.end();
    } else if (req.url === "/headers") {
      const body = Buffer.from(String(req.headers["x-token"]));
      res.writeHead(200, { "Content-Length": body.length });
      res.end(body);
    } else {
      res.writeHead(404);
      res.end("not found");
    }
  });
  base = await listenLocal(server);
});
after(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("downloads a file, checks size and sha256, reports progress", async () => {
  const dest = path.join(dir, "sub", "ok.csv");
  const seen: Array<[number, number | undefined]> = [];
  await downloadFile(`${base}/ok`, dest, { sha256: SHA, size: BODY.length, onProgress: (d, t) => seen.push([d, t]) });
  assert.deepEqual(fs.readFileSync(dest), BODY);
  assert.equal(sha256File(dest), SHA);
  assert.equal(fs.existsSync(`${dest}.part`), false);
  assert.ok(seen.length >= 1);
  assert.deepEqual(seen[seen.length - 1], [BODY.length, BODY.length]);
});

test("follows redirects, works without Content-Length, sends headers", async () => {
  const a = path.join(dir, "redir.csv");
  await downloadFile(`${base}/redirect`, a, { sha256: SHA });
  assert.deepEqual(fs.readFileSync(a), BODY);
  const b = path.join(dir, "chunked.csv");
  let last: [number, number | undefined] = [0, 0];
  await downloadFile(`${base}/chunked`, b, { onProgress: (d, t) => (last = [d, t]) });
  assert.deepEqual(fs.readFileSync(b), BODY);
  assert.deepEqual(last, [BODY.length, undefined]);
  const c = path.join(dir, "headers.txt");
  await downloadFile(`${base}/headers`, c, { headers: { "X-Token": "secret-123" } });
  assert.equal(fs.readFileSync(c, "utf8"), "secret-123");
});

test("HTTP 404 is an error naming the URL and status; nothing is written", async () => {
  const dest = path.join(dir, "missing.csv");
  await assert.rejects(downloadFile(`${base}/nope`, dest), (e: Error) => {
    assert.match(e.message, new RegExp(`${base}/nope`));
    assert.match(e.message, /HTTP 404/);
    return true;
  });
  assert.equal(fs.existsSync(dest), false);
  assert.equal(fs.existsSync(`${dest}.part`), false);
});

test("a truncated body (short of its Content-Length) is an error; nothing is kept", async () => {
  const dest = path.join(dir, "trunc.csv");
  await assert.rejects(downloadFile(`${base}/truncated`, dest), (e: Error) => {
    assert.match(e.message, /\/truncated/);
    assert.match(e.message, /bytes/);
    return true;
  });
  assert.equal(fs.existsSync(dest), false);
  assert.equal(fs.existsSync(`${dest}.part`), false);
});

test("sha256 and size mismatches are errors; an existing file is left untouched", async () => {
  const dest = path.join(dir, "sha.csv");
  fs.writeFileSync(dest, "previous good copy");
  await assert.rejects(
    downloadFile(`${base}/ok`, dest, { sha256: "0".repeat(64) }),
    /sha256 [0-9a-f]{64} does not match/,
  );
  await assert.rejects(downloadFile(`${base}/ok`, dest, { size: 5 }), /announces \d+ bytes, expected 5/);
  await assert.rejects(downloadFile(`${base}/chunked`, dest, { size: 5 }), /got \d+ bytes, expected 5/);
  assert.equal(fs.readFileSync(dest, "utf8"), "previous good copy");
  assert.equal(fs.existsSync(`${dest}.part`), false);
});

test("a stale .part is not taken for a complete file: it is overwritten", async () => {
  const dest = path.join(dir, "stale.csv");
  fs.writeFileSync(`${dest}.part`, "half of an old download");
  assert.equal(fs.existsSync(dest), false);
  await downloadFile(`${base}/ok`, dest, { sha256: SHA });
  assert.deepEqual(fs.readFileSync(dest), BODY);
  assert.equal(fs.existsSync(`${dest}.part`), false);
});

test("an unreachable server is an error naming the URL", async () => {
  const url = "http://127.0.0.1:1/x";
  await assert.rejects(downloadFile(url, path.join(dir, "x")), (e: Error) => e.message.includes(url));
});
