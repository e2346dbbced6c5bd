/**
 * lib/model/hub.ts and lib/model/models.ts against a local stand-in for the Hugging Face hub (an HTTP server
 * on 127.0.0.1 with the hub's URL layout): full download, cache hit without requests, 404s,
 * a truncated transfer, a gated model, an unreachable hub, and the checks on model folders.
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { execFile } from "child_process";
import { AddressInfo } from "net";
import { downloadFromHub, hubCacheDir, isCompleteDownload, COMPLETE_MARKER, checkModelId } from "../lib/model/hub";
import { resolveModel, validateModelDir, DEFAULT_MODEL, DEFAULT_MODEL_DIR } from "../lib/model/models";
import { ROOT } from "../lib/core/paths";
import { listenLocal } from "./helpers/local_server";
import { tmpDir } from "./helpers/tmp";

const CONFIG = JSON.stringify({
  model_type: "bert",
  num_hidden_layers: 2,
  hidden_size: 32,
  num_attention_heads: 4,
  vocab_size: 30522,
});
const WEIGHTS = Buffer.alloc(200_000, 7); // stands in for model.safetensors: only bytes matter here
const FILES: Record<string, Buffer> = {
  "config.json": Buffer.from(CONFIG),
  "model.safetensors": WEIGHTS,
  "tokenizer.json": Buffer.from('{"model":{"type":"WordPiece"}}'),
  "vocab.txt": Buffer.from("[PAD]\n[UNK]\n"),
  // tokenizer_config.json and special_tokens_map.json: absent (404), as in some repositories
};

const requests: string[] = [];
let server: http.Server;
let endpoint = "";
let tmp = "";

before(async () => {
  tmp = tmpDir("bertlab-hub-");
  server = http.createServer((req, res) => {
    requests.push(req.url!);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/([^/]+)$/.exec(req.url!);
    const [id, , file] = m ? m.slice(1) : [];
    if (id === "test-org/gated" && req.headers.authorization !== "Bearer secret") {
      res.writeHead(401).end("unauthorized");
      return;
    }
    const body = FILES[file ?? ""];
    if (!m || !body || (id === "test-org/no-weights" && file === "model.safetensors")) {
      res.writeHead(404).end("not found");
      return;
    }
    if (id === "test-org/truncated" && file === "model.safetensors") {
      // announce the full size, send half, then drop the connection
      res.writeHead(200, { "Content-Length": body.length });
      res.write(body.subarray(0, body.length / 2), () => res.destroy());
      return;
    }
    res.writeHead(200, { "Content-Length": body.length }).end(body);
  });
  endpoint = await listenLocal(server);
});

after(() => {
  server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const opts = (extra = {}) => ({ endpoint, cacheDir: path.join(tmp, "cache"), token: "", ...extra });

test("full download: required and present optional files, marker last, in the cache layout", async () => {
  requests.length = 0;
  const dir = await downloadFromHub("test-org/tiny-bert", opts());
  assert.equal(dir, path.join(tmp, "cache", "hub", "test-org--tiny-bert", "main"));
  assert.deepEqual(fs.readFileSync(path.join(dir, "model.safetensors")), WEIGHTS);
  assert.equal(fs.readFileSync(path.join(dir, "config.json"), "utf8"), CONFIG);
  assert.ok(fs.existsSync(path.join(dir, "vocab.txt")));
  assert.ok(!fs.existsSync(path.join(dir, "tokenizer_config.json")));
  const marker = JSON.parse(fs.readFileSync(path.join(dir, COMPLETE_MARKER), "utf8"));
  assert.deepEqual(marker.missing, ["tokenizer_config.json", "special_tokens_map.json"]);
  assert.equal(marker.files["model.safetensors"], WEIGHTS.length);
  assert.equal(requests.length, 6);
  assert.ok(requests.includes("/test-org/tiny-bert/resolve/main/model.safetensors"));
  // nothing left beside it: no temporary folders, no .part files
  assert.deepEqual(fs.readdirSync(path.dirname(dir)), ["main"]);
});

test("cache hit: a second call makes no request", async () => {
  await downloadFromHub("test-org/tiny-bert", opts());
  requests.length = 0;
  const dir = await downloadFromHub("test-org/tiny-bert", opts());
  assert.equal(requests.length, 0);
  assert.ok(isCompleteDownload(dir));
});

test("a damaged cache (file size changed, or no marker) is downloaded again", async () => {
  const dir = await downloadFromHub("test-org/tiny-bert", opts());
  fs.truncateSync(path.join(dir, "model.safetensors"), 10);
  assert.equal(isCompleteDownload(dir), false);
  requests.length = 0;
  await downloadFromHub("test-org/tiny-bert", opts());
  assert.equal(requests.length, 6);
  assert.equal(fs.statSync(path.join(dir, "model.safetensors")).size, WEIGHTS.length);
  fs.rmSync(path.join(dir, COMPLETE_MARKER));
  assert.equal(isCompleteDownload(dir), false);
});

test("404 on a required file: error names the file and the model; nothing cached", async () => {
  await assert.rejects(
    downloadFromHub("test-org/no-weights", opts()),
    (e: Error) =>
      /test-org\/no-weights \(revision main\) has no model\.safetensors/.test(e.message) && /HTTP 404/.test(e.message),
  );
  assert.ok(!fs.existsSync(hubCacheDir("test-org/no-weights", "main", path.join(tmp, "cache"))));
  assert.deepEqual(
    fs.readdirSync(path.join(tmp, "cache", "hub")).filter((n) =>
      n.includes("no-weights") && n !== "test-org--no-weights"
    ),
    [],
  );
});

test("truncated transfer: an error, and no half file or folder is kept", async () => {
  await assert.rejects(
    downloadFromHub("test-org/truncated", opts()),
    (e: Error) => /Downloading model\.safetensors of test-org\/truncated failed, nothing was kept/.test(e.message),
  );
  const parent = path.join(tmp, "cache", "hub", "test-org--truncated");
  assert.deepEqual(fs.existsSync(parent) ? fs.readdirSync(parent) : [], []);
});

test("gated model: 401 says to set HF_TOKEN; with the token it downloads", async () => {
  await assert.rejects(
    downloadFromHub("test-org/gated", opts()),
    /HTTP 401: the model is gated or private; set HF_TOKEN/,
  );
  requests.length = 0;
  const dir = await downloadFromHub("test-org/gated", opts({ token: "secret" }));
  assert.ok(isCompleteDownload(dir));
});

test("unreachable hub: the error says what to do", async () => {
  // a port nothing listens on: bind one, then close it
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  await assert.rejects(
    downloadFromHub(
      "test-org/tiny-bert",
      opts({ endpoint: `http://127.0.0.1:${port}`, cacheDir: path.join(tmp, "other") }),
    ),
    (e: Error) =>
      /Cannot reach the Hugging Face hub at http:\/\/127\.0\.0\.1/.test(e.message) && /HF_ENDPOINT/.test(e.message) &&
      /local model folder/.test(e.message) && /npm run setup/.test(e.message),
  );
});

test("model ids are checked before any request", () => {
  assert.equal(checkModelId("bert-base-uncased"), "bert-base-uncased");
  assert.throws(() => checkModelId("../etc/passwd"), /is not a Hugging Face model id/);
  assert.throws(() => checkModelId("a/b/c"), /is not a Hugging Face model id/);
  // revisions stay one folder
  assert.equal(path.basename(hubCacheDir("a/b", "refs/pr/1", "/c")), "refs%2Fpr%2F1");
});

test("resolveModel: a hub id downloads and is described; a folder is checked", async () => {
  const r = await resolveModel("test-org/tiny-bert", opts());
  assert.equal(r.source, "test-org/tiny-bert");
  assert.match(
    r.description,
    /^BERT, 2 layers, hidden 32, 4 heads, vocabulary 30522, test-org\/tiny-bert from the hub/,
  );
  const again = await resolveModel(r.dir);
  assert.equal(again.dir, r.dir);
  assert.match(again.description, /^BERT, 2 layers/);
});

test("resolveModel: no source means the course model folder set-up made", {
  skip: !fs.existsSync(DEFAULT_MODEL_DIR) && "models/all-MiniLM-L6-v2 not set up",
}, async () => {
  const r = await resolveModel();
  assert.deepEqual(r, {
    dir: DEFAULT_MODEL_DIR,
    source: DEFAULT_MODEL,
    description: "BERT, 6 layers, hidden 384, 12 heads, vocabulary 30522, in models/all-MiniLM-L6-v2",
  });
  assert.equal((await resolveModel(DEFAULT_MODEL)).dir, DEFAULT_MODEL_DIR);
});

test("resolveModel: without the course folder, the default comes from the hub (HF_ENDPOINT)", async () => {
  FILES["config.json"] = Buffer.from(CONFIG); // same files, served under the default id
  const env = {
    ...process.env,
    BERTLAB_MODELS_DIR: path.join(tmp, "no-models"),
    BERTLAB_CACHE: path.join(tmp, "default-cache"),
    HF_ENDPOINT: endpoint,
  };
  const code =
    `require("./lib/model/models").resolveModel().then(r => console.log(JSON.stringify(r)), e => { console.error(e.message); process.exit(1); })`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ["--import", "tsx", "-e", code],
      { cwd: ROOT, env },
      (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
    )
  );
  const r = JSON.parse(out);
  assert.equal(r.source, DEFAULT_MODEL);
  assert.equal(r.dir, path.join(tmp, "default-cache", "hub", "sentence-transformers--all-MiniLM-L6-v2", "main"));
  assert.ok(requests.includes("/sentence-transformers/all-MiniLM-L6-v2/resolve/main/model.safetensors"));
});

test("validateModelDir names the missing or wrong file", () => {
  const dir = path.join(tmp, "folder");
  fs.mkdirSync(dir, { recursive: true });
  assert.throws(() => validateModelDir(path.join(tmp, "nothing")), /nothing: model folder not found/);
  assert.throws(
    () => validateModelDir(dir),
    new RegExp(`${path.join(dir, "config.json").replace(/[/.]/g, "\\$&")} is missing`),
  );
  fs.writeFileSync(path.join(dir, "config.json"), "{oops");
  assert.throws(() => validateModelDir(dir), /config\.json: not valid JSON/);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "gpt2" }));
  assert.throws(() => validateModelDir(dir), /model_type is "gpt2", but bertlab's model code is BERT only/);
  fs.writeFileSync(path.join(dir, "config.json"), CONFIG);
  fs.writeFileSync(path.join(dir, "pytorch_model.bin"), "x");
  assert.throws(() => validateModelDir(dir), /model\.safetensors is missing \(the folder has pytorch_model\.bin/);
  fs.writeFileSync(path.join(dir, "model.safetensors"), "x");
  assert.throws(() => validateModelDir(dir), /tokenizer\.json is missing/);
  fs.writeFileSync(path.join(dir, "tokenizer.json"), "{}");
  assert.equal(validateModelDir(dir).model_type, "bert");
});
