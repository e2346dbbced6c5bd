/**
 * `bertlab demo` (lib/serve/demo.ts) in a real headless Chromium (lib/core/browser.ts): the page loads the exported
 * tiny BERT with transformers.js / onnxruntime-web, a typed text gets the label and probabilities that
 * `predict` gives (TensorFlow.js on the checkpoint, and onnxruntime-node on the export) within 1e-3,
 * over-long text is cut as predict cuts it, typed HTML stays text, and nothing is fetched from outside.
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Browser, Page } from "playwright-core";
import { startDemo, demo, DemoServer, demoPage } from "../lib/serve/demo";
import { exportOnnx } from "../lib/serve/export";
import { findChromium, launchChromium } from "../lib/core/browser";
import { loadOnnxClassifier, predictOnnx } from "../lib/serve/onnx_runtime";
import { initBackend } from "../lib/runtime/backend";
import { loadTrained, predict } from "../lib/eval/evaluate";
import { onnxSkip, tinyCheckpoint, fp32OnnxBytes, haveBertOnnx, INT8_TOLERANCE } from "./helpers/onnx";
import { tmpDir } from "./helpers/tmp";

const MAX_LENGTH = 16;
const skip = onnxSkip || (findChromium() ? false : "no Chromium installed (set-up installs Debian's chromium as root)");
const tmp = tmpDir("bertlab-demo-test-");
const ckpt = path.join(tmp, "ckpt");
const dir = path.join(tmp, "export");
let browser: Browser, server: DemoServer;
const outside: string[] = [];

before(async () => {
  if (skip) return;
  tinyCheckpoint(ckpt);
  await exportOnnx(ckpt, dir, { quantize: "int8", onnxBytes: fp32OnnxBytes });
  server = await startDemo({ modelDir: dir, maxLength: MAX_LENGTH });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function open(url: string): Promise<Page> {
  const page = await browser.newPage();
  const local = (u: string) => u.startsWith(url) || u.startsWith("blob:" + url.slice(0, -1));
  page.on("request", (r) => {
    if (!local(r.url())) outside.push(r.url());
  });
  await page.goto(url);
  const loaded = 'document.getElementById("status").textContent !== "loading the model…"';
  await page.waitForFunction(loaded, null, { timeout: 120_000 });
  assert.equal(await page.textContent("#status"), "ready");
  return page;
}

/** Types `text`, presses Classify, returns what the page shows: label → probability, best first. */
type Shown = { labels: string[]; probabilities: Record<string, number> };
async function classify(page: Page, text: string): Promise<Shown> {
  await page.fill("#input", text);
  await page.click("#go");
  await page.waitForFunction(
    'document.getElementById("status").textContent === "ready" && ' +
      'document.querySelectorAll("#result tr").length > 0',
  );
  const rows = await page.$$eval(
    "#result tr",
    (rs) => rs.map((r) => [r.querySelector(".label")!.textContent!, r.querySelector(".probability")!.textContent!]),
  );
  return { labels: rows.map((r) => r[0]), probabilities: Object.fromEntries(rows.map(([l, p]) => [l, Number(p)])) };
}

const TEXTS = [
  "Hello world! <b>not bold</b> & <script>alert(1)</script>",
  "What a wonderful day at the gallery 😀",
  "long ".repeat(40),
];

// predict's label and probabilities within 1e-3, also for a text longer than the maximum length
test("the page shows what predict gives", { skip, timeout: 300_000 }, async () => {
  await initBackend();
  const { model, tokenizer } = await loadTrained(ckpt);
  const tfjs = predict(model, tokenizer, TEXTS, { maxLength: MAX_LENGTH });
  model.dispose();
  const clf = await loadOnnxClassifier(dir);
  const ort = await predictOnnx(clf, TEXTS, { maxLength: MAX_LENGTH });
  await clf.release();
  const page = await open(server.url);
  for (const [i, text] of TEXTS.entries()) {
    const shown = await classify(page, text);
    assert.equal(shown.labels[0], tfjs[i].label, text);
    for (const ref of [tfjs[i], ort[i]]) {
      for (const [label, p] of Object.entries(ref.probabilities)) {
        const got = shown.probabilities[label];
        assert.ok(Math.abs(got - p) < 1e-3, `${text}: ${label} ${got} vs ${p}`);
      }
    }
  }
  // the long text was cut to MAX_LENGTH tokens, and the page says so
  assert.match((await page.textContent("#text"))!, /\(cut to 16 tokens\)$/);
  // typed HTML is shown as text, never parsed (this one is also over 16 tokens)
  await classify(page, TEXTS[0]);
  assert.equal(await page.textContent("#text"), `${TEXTS[0]} (cut to 16 tokens)`);
  assert.equal(await page.locator("#text b, #text script").count(), 0);
  await page.close();
  assert.deepEqual(outside, [], "every request stays on the demo server");
});

test(
  "the int8 model runs in the page, as in onnxruntime-node (INT8_TOLERANCE)",
  { skip, timeout: 300_000 },
  async () => {
    const q = await startDemo({ modelDir: dir, maxLength: MAX_LENGTH, quantized: true });
    try {
      const clf = await loadOnnxClassifier(dir, { quantized: true });
      const [ref] = await predictOnnx(clf, [TEXTS[1]], { maxLength: MAX_LENGTH });
      await clf.release();
      const page = await open(q.url);
      const shown = await classify(page, TEXTS[1]);
      for (const [label, p] of Object.entries(ref.probabilities)) {
        assert.ok(Math.abs(shown.probabilities[label] - p) < INT8_TOLERANCE, label);
      }
      await page.close();
    } finally {
      await q.close();
    }
  },
);

// 127.0.0.1 only; nothing but the page, the libraries and the model's files
test("the server serves only what the page needs", { skip }, async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const get = async (p: string) => (await fetch(server.url + p.replace(/^\//, ""))).status;
  assert.equal(await get("/models/model/config.json"), 200);
  assert.equal(await get("/models/model/onnx/model.onnx"), 200);
  const outside = [
    "/package.json",
    "/models/model/../../package.json",
    "/models/model/%2e%2e/%2e%2e/package.json",
    "/etc/passwd",
    "/ort/ort.node.min.js",
  ];
  for (const p of outside) {
    assert.equal(await get(p), 404, p);
  }
});

test("names from config.json are escaped in the page", () => {
  const html = demoPage({ title: "t", labels: ["<img src=x onerror=alert(1)>", "ok"], maxLength: 8, quantized: false });
  assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;"));
  assert.ok(!html.includes("<img"));
});

test("startDemo refuses a folder without an export", async () => {
  await assert.rejects(startDemo({ modelDir: os.tmpdir() }), /has no onnx\/model\.onnx: export the model first/);
});

const noBertOnnx = haveBertOnnx()
  ? false
  : "bertOnnx is not there yet (lib/serve/onnx_export.ts is the temporary shim)";
test(
  "demo on a checkpoint exports it into a temporary folder, gone on close",
  { skip: skip || noBertOnnx },
  async () => {
    const d = await demo(ckpt, { port: 0, maxLength: MAX_LENGTH });
    assert.ok(fs.existsSync(path.join(d.modelDir, "onnx", "model.onnx")));
    assert.equal((await fetch(d.url + "models/model/config.json")).status, 200);
    await d.close();
    assert.ok(!fs.existsSync(d.modelDir), "the temporary export is gone");
  },
);
