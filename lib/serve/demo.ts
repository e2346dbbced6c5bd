/**
 * `bertlab demo`: a small web page on this machine (127.0.0.1 only) where a person types a text and sees
 * the fine-tuned model's labels with their probabilities. The model runs IN THE BROWSER: transformers.js
 * with onnxruntime-web (WebAssembly) loads the exported folder (lib/serve/export.ts); the server only hands out
 * files — the page, the libraries from node_modules and the model's files — and nothing from the network.
 *
 *   const demo = await startDemo({ modelDir: "out/export" });   // an export folder
 *   demo.url          // "http://127.0.0.1:8765/"
 *   await demo.close();
 *
 * A text longer than the model's maximum length is cut as `bertlab predict` cuts it (lib/data/tokenize.ts:
 * the text's tokens first, then [CLS] … [SEP]); transformers.js's own truncation would drop the [SEP].
 * Typed text reaches the page only through textContent (never parsed as HTML); names from config.json
 * are escaped (lib/core/html.ts). Taught in notebooks/10_production.ipynb.
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { DEFAULT_CONFIG } from "../config/config";
import { escapeHtml } from "../core/html";
import { exportOnnx } from "./export";
import {
  TOKENIZER_FILES,
  modelFolder,
  readLabels,
  ONNX_MODEL,
  ONNX_MODEL_QUANTIZED,
  isOnnxExport,
} from "../model/run_folder";

/** Library files, from the installed packages (the versions transformers.js was built against). */
const TRANSFORMERS_DIST = path.dirname(require.resolve("@huggingface/transformers"));
// onnxruntime-web as transformers.js resolves it (its dependency, not bertlab's): the versions must match.
const ORT_WEB_DIST = path.dirname(require.resolve("onnxruntime-web", { paths: [TRANSFORMERS_DIST] }));
/** onnxruntime-web's WebAssembly build that transformers.js's browser bundle loads (".asyncify"). */
const ORT_WASM = "ort-wasm-simd-threaded.asyncify";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".onnx": "application/octet-stream",
};

export interface DemoOptions {
  /** An export folder (config.json, tokenizer files, onnx/model.onnx). */
  modelDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Longest tokenized text, [CLS] and [SEP] included (as predict's --max-length). */
  maxLength?: number;
  /** Run onnx/model_quantized.onnx (int8) instead of onnx/model.onnx. */
  quantized?: boolean;
}

export interface DemoServer {
  url: string;
  modelDir: string;
  close(): Promise<void>;
}

/** The page: a form, a result table, and the script that runs the model with transformers.js. */
export function demoPage(opts: { title: string; labels: string[]; maxLength: number; quantized: boolean }): string {
  // "<" escaped where it goes in: never "</script>" inside the script element
  const settings = JSON.stringify({ maxLength: opts.maxLength, dtype: opts.quantized ? "q8" : "fp32" });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(opts.title)}</title>
<style>
body { font: 16px system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
textarea { width: 100%; height: 6rem; font: inherit; } td { padding: .2rem .6rem; }
.bar { background: #4c78a8; height: .8rem; } #status { color: #666; } #text { font-style: italic; }
</style></head><body>
<h1>${escapeHtml(opts.title)}</h1>
<p>Labels: ${opts.labels.map(escapeHtml).join(", ")}.
The model runs in this browser (transformers.js, ONNX Runtime Web).</p>
<form id="form"><textarea id="input" placeholder="Type a tweet…"></textarea><br>
<button id="go" type="submit" disabled>Classify</button> <span id="status">loading the model…</span></form>
<p id="text"></p><table id="result"><tbody></tbody></table>
<script id="settings" type="application/json">${settings.replace(/</g, "\\u003c")}</script>
<script type="module">
import { env, AutoTokenizer, AutoModelForSequenceClassification, Tensor } from "/js/transformers.min.js";
const settings = JSON.parse(document.getElementById("settings").textContent);
const $ = (id) => document.getElementById(id);
env.allowRemoteModels = false;            // nothing from the network: the model comes from this server
env.allowLocalModels = true;
env.localModelPath = "/models/";
env.useBrowserCache = false;
env.backends.onnx.wasm.wasmPaths = { mjs: "/ort/${ORT_WASM}.mjs", wasm: "/ort/${ORT_WASM}.wasm" };
try {
  const tokenizer = await AutoTokenizer.from_pretrained("model");
  const model = await AutoModelForSequenceClassification.from_pretrained("model",
    { dtype: settings.dtype, device: "wasm" });
  const [cls, sep] = tokenizer.encode("");   // BERT: [CLS] [SEP]
  const labels = Object.keys(model.config.id2label).sort((a, b) => a - b).map((k) => model.config.id2label[k]);
  $("status").textContent = "ready"; $("go").disabled = false;
  $("form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("go").disabled = true; $("status").textContent = "thinking…";
    const text = $("input").value;
    // As bertlab predict (lib/data/tokenize.ts): cut the text's tokens, then add [CLS] … [SEP].
    const pieces = tokenizer.encode(text, { add_special_tokens: false });
    const ids = [cls, ...pieces.slice(0, settings.maxLength - 2), sep];
    const t = (v) => new Tensor("int64", BigInt64Array.from(v.map(BigInt)), [1, ids.length]);
    const { logits } = await model({
      input_ids: t(ids), attention_mask: t(ids.map(() => 1)), token_type_ids: t(ids.map(() => 0)),
    });
    const z = Array.from(logits.data, Number), m = Math.max(...z);   // softmax
    const e = z.map((x) => Math.exp(x - m)), s = e.reduce((a, b) => a + b, 0);
    const rows = labels.map((label, k) => ({ label, p: e[k] / s })).sort((a, b) => b.p - a.p);
    const cut = pieces.length > settings.maxLength - 2;
    $("text").textContent = text + (cut ? " (cut to " + settings.maxLength + " tokens)" : "");
    const body = $("result").tBodies[0];
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.label = r.label; tr.dataset.probability = String(r.p);
      const name = tr.insertCell(); name.className = "label"; name.textContent = r.label;
      const p = tr.insertCell(); p.className = "probability"; p.textContent = r.p.toFixed(4);
      const bar = document.createElement("div"); bar.className = "bar"; bar.style.width = (r.p * 20).toFixed(2) + "rem";
      tr.insertCell().append(bar);
      return tr;
    }));
    $("status").textContent = "ready"; $("go").disabled = false;
  });
} catch (e) {
  $("status").textContent = "failed: " + e.message;
}
</script></body></html>
`;
}

/** Files the page may fetch: URL path → file on disk. Anything else is a 404. */
function routes(modelDir: string): Map<string, string> {
  const r = new Map<string, string>();
  r.set("/js/transformers.min.js", path.join(TRANSFORMERS_DIST, "transformers.min.js"));
  for (const ext of [".mjs", ".wasm"]) r.set(`/ort/${ORT_WASM}${ext}`, path.join(ORT_WEB_DIST, ORT_WASM + ext));
  for (const f of ["config.json", ...TOKENIZER_FILES, ONNX_MODEL, ONNX_MODEL_QUANTIZED]) {
    const file = path.join(modelDir, f);
    if (fs.existsSync(file)) r.set(`/models/model/${f.split(path.sep).join("/")}`, file);
  }
  return r;
}

/** Serves the demo for an export folder on 127.0.0.1. */
export async function startDemo(opts: DemoOptions): Promise<DemoServer> {
  const modelDir = path.resolve(opts.modelDir);
  if (!isOnnxExport(modelDir))
    throw new Error(`${modelDir} has no ${ONNX_MODEL}: export the model first (bertlab export)`);
  const int8 = path.join(modelDir, ONNX_MODEL_QUANTIZED);
  if (opts.quantized && !fs.existsSync(int8)) throw new Error(`${int8} is missing: export with --quantize int8`);
  const page = demoPage({
    title: `bertlab demo · ${path.basename(modelDir)}`,
    labels: readLabels(modelDir),
    maxLength: opts.maxLength ?? DEFAULT_CONFIG.maxLength,
    quantized: Boolean(opts.quantized),
  });
  const files = routes(modelDir);
  const server = http.createServer((req, res) => {
    // Cross-origin isolation lets onnxruntime-web use threads (SharedArrayBuffer).
    res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
    res.setHeader("Cross-Origin-Embedder-Policy", "require-corp");
    res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
    const { pathname } = new URL(req.url ?? "/", "http://127.0.0.1");
    const file = files.get(pathname);
    if (req.method !== "GET" && req.method !== "HEAD") res.writeHead(405).end();
    else if (pathname === "/" || pathname === "/index.html")
      res.writeHead(200, { "Content-Type": TYPES[".html"] }).end(page);
    else if (pathname === "/favicon.ico") res.writeHead(204).end(); // browsers ask; there is none
    else if (!file || !fs.existsSync(file)) res.writeHead(404, { "Content-Type": TYPES[".txt"] }).end("not found");
    else {
      const type = TYPES[path.extname(file)] ?? "application/octet-stream";
      res.writeHead(200, { "Content-Type": type, "Content-Length": fs.statSync(file).size });
      if (req.method === "HEAD") res.end();
      else fs.createReadStream(file).pipe(res);
    }
  });
  const port = opts.port ?? 0;
  await new Promise<void>((resolve, reject) => {
    const fail = (e: NodeJS.ErrnoException) =>
      new Error(`demo: cannot listen on 127.0.0.1:${port} (${e.code ?? e.message})`);
    server.once("error", (e) => reject(fail(e)));
    server.listen(port, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return { url, modelDir, close };
}

/** The demo for an export folder, or a checkpoint (exported first into a temporary folder, removed on close). */
export async function demo(dir: string, opts: Omit<DemoOptions, "modelDir"> = {}): Promise<DemoServer> {
  if (isOnnxExport(dir)) return startDemo({ ...opts, modelDir: dir });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bertlab-demo-"));
  const out = path.join(tmp, "export"), drop = () => fs.rmSync(tmp, { recursive: true, force: true });
  try {
    await exportOnnx(modelFolder(dir), out, { quantize: opts.quantized ? "int8" : undefined });
    const server = await startDemo({ ...opts, modelDir: out });
    return { ...server, close: () => server.close().then(drop) };
  } catch (e) {
    drop();
    throw e;
  }
}
