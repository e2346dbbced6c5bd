/**
 * The notebooks as a learner sees them: JupyterLab started by `npm run lab` (scripts/lab.sh) on
 * localhost, each notebook opened in headless Chromium (lib/core/browser.ts) and run with Run → Run All
 * Cells, in the fast setting (BERTLAB_FAST=1 in the server's environment, which the kernel inherits).
 * Checks: the kernel is "TypeScript (bertlab)"; every code cell ran and none shows an error (tslab
 * writes a failing cell's error to stderr, and Run All stops there); every plotly chart rendered an
 * SVG with data in it; in 04 the attention heatmap's layer dropdown and head slider change the picture;
 * in 05, `await setup({ seed: 42 })` in the first cell and a rerun of the training cell give other
 * numbers. Screenshots land in out/screenshots/ (each notebook's end, and each chart).
 *
 * Cost: every notebook runs once more here (test/notebooks.test.ts runs them through nbconvert),
 * about as long as there, because only a browser shows whether charts draw and selectors work.
 * JupyterLab serves copies of the notebooks from a temporary folder (the kernel still runs at the
 * project root), with autosave off, so nothing here writes to notebooks/. BERTLAB_LAB_NOTEBOOKS=04,05
 * runs only those.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as net from "net";
import { spawn, ChildProcess } from "child_process";
import type { Browser, Page, Locator } from "playwright-core";
import { findChromium, launchChromium } from "../lib/core/browser";
import { ROOT, OUT_DIR, VENV_DIR, SMILE_CSV } from "../lib/core/paths";
import { DEFAULT_MODEL_DIR } from "../lib/model/models";
import { listNotebooks } from "../scripts/run-notebooks";
import { withNotebookLock } from "./helpers/notebook_lock";
import { tmpDir } from "./helpers/tmp";

const SHOTS = path.join(OUT_DIR, "screenshots");
/** The notebook on show (hidden tabs stay in the page). */
const NB = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook";
const only = (process.env.BERTLAB_LAB_NOTEBOOKS ?? "").split(",").filter(Boolean);
const notebooks = listNotebooks(only).map((f) => path.basename(f));
const skip = !findChromium() ?
  "no Chromium (set-up installs Debian's chromium as root)"
  : !fs.existsSync(path.join(VENV_DIR, "bin", "jupyter-lab")) ?
  "no JupyterLab in .venv (npm run setup)"
  : !fs.existsSync(SMILE_CSV) || !fs.existsSync(path.join(DEFAULT_MODEL_DIR, "model.safetensors"))
  ? "no data or model (npm run setup)"
  : false;

const token = `bertlab-${process.pid}-${Date.now()}`;
let lab: ChildProcess | undefined, base = "", browser: Browser | undefined, tmp = "";

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** JupyterLab's REST API with the token. */
async function api(route: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${route}`, { ...init, headers: { Authorization: `token ${token}`, ...(init.headers ?? {}) } });
}

/** User settings for the test's JupyterLab: no autosave, every cell in the page (no windowing), no news pop-up. */
function writeSettings(dir: string): void {
  const put = (plugin: string, value: object) => {
    const [pkg, name] = plugin.split(":");
    fs.mkdirSync(path.join(dir, pkg), { recursive: true });
    fs.writeFileSync(path.join(dir, pkg, `${name}.jupyterlab-settings`), JSON.stringify(value));
  };
  put("@jupyterlab/docmanager-extension:plugin", { autosave: false });
  put("@jupyterlab/notebook-extension:tracker", { windowingMode: "none" });
  put("@jupyterlab/apputils-extension:notification", { fetchNews: "false", checkForUpdates: false });
}

before(async () => {
  if (skip) return;
  tmp = tmpDir("bertlab-lab-");
  fs.mkdirSync(path.join(tmp, "notebooks"));
  for (const nb of listNotebooks()) fs.copyFileSync(nb, path.join(tmp, "notebooks", path.basename(nb)));
  writeSettings(path.join(tmp, "settings"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    BERTLAB_FAST: "1",
    JUPYTERLAB_SETTINGS_DIR: path.join(tmp, "settings"),
    JUPYTERLAB_WORKSPACES_DIR: path.join(tmp, "workspaces"),
    JUPYTER_RUNTIME_DIR: path.join(tmp, "runtime"),
    BERTLAB_LAB_ROOT: tmp,
  };
  delete (env as Record<string, string | undefined>).BERTLAB_SEED; // the seed check below starts from the course's
  const args = [
    "--no-browser",
    `--port=${port}`,
    "--ServerApp.port_retries=0",
    "--ServerApp.ip=127.0.0.1",
    `--IdentityProvider.token=${token}`,
  ];
  lab = spawn("bash", [path.join(ROOT, "scripts", "lab.sh"), ...args], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  lab.stderr!.on("data", (d) => {
    log = (log + d).slice(-4000);
  });
  const t0 = Date.now();
  for (;;) {
    if (lab.exitCode !== null) throw new Error(`npm run lab exited (${lab.exitCode}):\n${log}`);
    try {
      if ((await api("/api/status")).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() - t0 > 120_000) throw new Error(`JupyterLab did not answer on ${base} within 2 minutes:\n${log}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  browser = await launchChromium();
  fs.mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (lab?.pid && lab.exitCode === null) {
    try {
      process.kill(-lab.pid, "SIGTERM");
    } catch { /* already gone */ }
    await new Promise((r) => setTimeout(r, 1500));
    try {
      process.kill(-lab.pid, "SIGKILL");
    } catch { /* gone */ }
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** The prompts of all code cells ("[3]:", "[*]:", "[ ]:"), in order. */
async function prompts(page: Page): Promise<string[]> {
  return page.locator(`${NB} .jp-CodeCell .jp-InputPrompt`).allTextContents().then((a) => a.map((s) => s.trim()));
}

/** Waits until no cell is queued or running ("[*]"), after at least one started. */
async function waitForRun(page: Page, timeoutMs: number): Promise<string[]> {
  const t0 = Date.now();
  let started = false;
  for (;;) {
    const p = await prompts(page);
    if (p.some((s) => s === "[*]:")) started = true;
    else if (started || p.some((s) => /^\[\d+\]:$/.test(s))) return p;
    if (!started && Date.now() - t0 > 60_000) throw new Error(`no cell started within a minute: ${p.join(" ")}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`cells still running after ${timeoutMs / 1000} s: ${p.join(" ")}`);
    await page.waitForTimeout(500);
  }
}

/** Runs the menu command Run → `item`. */
async function runMenu(page: Page, item: string): Promise<void> {
  await page.locator(".lm-MenuBar-itemLabel", { hasText: /^Run$/ }).click();
  await page.locator(".lm-Menu-itemLabel", { hasText: new RegExp(`^${item}$`) }).first().click();
}

/** For each plotly chart: whether it drew an SVG holding at least one trace (a bar, a line, a heatmap image). */
async function chartStates(page: Page): Promise<{ id: string; svg: boolean; traces: number }[]> {
  return page.locator(`${NB} .bertlab-plot`).evaluateAll((els) =>
    els.map((el: any) => ({
      id: el.id as string,
      svg: Boolean(el.querySelector("svg.main-svg")),
      traces: el.querySelectorAll("g.trace, g.hm image, g.imagelayer image").length as number,
    }))
  );
}

/** The heatmap picture (plotly draws a heatmap as one image) of an attention chart. */
async function heatmapImage(chart: Locator): Promise<string> {
  const images = chart.locator("g.hm image");
  // runs in the page: plotly draws a heatmap as an <image> whose href is the picture
  const hrefs = await images.evaluateAll((els) =>
    els.map((e) => e.getAttribute("href") ?? e.getAttribute("xlink:href"))
  );
  return hrefs.join("|");
}

for (const name of notebooks) {
  const title = `JupyterLab: ${name} runs in Chromium with the bertlab kernel, no errors, every chart drawn`;
  test(title, { skip, timeout: 25 * 60_000 }, async () => {
    await withNotebookLock(async () => {
      const context = await browser!.newContext({ viewport: { width: 1400, height: 1800 } });
      const page = await context.newPage();
      try {
        // its own workspace: the default one would also reopen the previous test's notebook
        const workspace = name.replace(/\W/g, "-");
        await page.goto(`${base}/lab/workspaces/${workspace}/tree/notebooks/${name}?reset&token=${token}`);
        await page.locator(`${NB} .jp-CodeCell`).first().waitFor({ timeout: 120_000 });
        // 1) the kernel JupyterLab started is ours, and it is ready
        const kernelName = page.locator(".jp-Toolbar-kernelName, .jp-KernelName").first();
        await page.waitForFunction(
          () =>
            /TypeScript \(bertlab\)/.test(
              (globalThis as any).document.querySelector(".jp-Toolbar-kernelName, .jp-KernelName")?.textContent ?? "",
            ),
          null,
          { timeout: 120_000 },
        );
        assert.match((await kernelName.textContent()) ?? "", /TypeScript \(bertlab\)/);
        const idle = () =>
          (globalThis as any).document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status") ===
          "idle";
        await page.waitForFunction(idle, null, { timeout: 120_000 }).catch(
          () => {/* older layouts have no indicator: running all cells below waits for the kernel anyway */},
        );
        // 2) Run → Run All Cells, as a learner would
        await runMenu(page, "Run All Cells");
        const done = await waitForRun(page, 20 * 60_000);
        const errorOutput = `${NB} .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]`;
        const stderr = await page.locator(errorOutput).allTextContents();
        await page.screenshot({ path: path.join(SHOTS, name.replace(/\.ipynb$/, ".png")), fullPage: true });
        assert.deepEqual(stderr, [], `${name}: a cell shows an error`);
        assert.ok(done.every((p) => /^\[\d+\]:$/.test(p)), `${name}: not every code cell ran: ${done.join(" ")}`);
        const file = path.join(tmp, "notebooks", name);
        const cells = JSON.parse(fs.readFileSync(file, "utf8")).cells as { cell_type: string; source: string[] }[];
        assert.equal(done.length, cells.filter((c) => c.cell_type === "code").length, "every code cell is in the page");
        // 3) every plotly chart drew
        const charts = await chartStates(page);
        if (cells.some((c) => c.source.join("").includes("showPlot("))) {
          assert.ok(charts.length > 0, `${name} draws charts`);
        }
        const stem = name.replace(/\.ipynb$/, "");
        for (let i = 0; i < charts.length; i++) {
          await page.locator(`${NB} .bertlab-plot`).nth(i).screenshot({
            path: path.join(SHOTS, `${stem}_chart${i + 1}.png`),
          });
        }
        const broken = charts.filter((c) => !c.svg || c.traces === 0);
        assert.deepEqual(broken, [], `${name}: ${broken.length} of ${charts.length} charts did not render`);
        if (name.startsWith("04_")) await checkAttentionSelector(page);
        if (name.startsWith("05_")) await checkSeedRerun(page);
      } finally {
        await context.close();
        // free the kernel: each notebook had its own
        const sessions = (await (await api("/api/sessions")).json()) as { id: string }[];
        for (const s of sessions) await api(`/api/sessions/${s.id}`, { method: "DELETE" });
      }
    });
  });
}

/** 04: the attention heatmap's layer dropdown and head slider each change the picture. */
async function checkAttentionSelector(page: Page): Promise<void> {
  const chart = page.locator(`${NB} .bertlab-plot`, { has: page.locator(".updatemenu-header") }).first();
  await chart.scrollIntoViewIfNeeded();
  const before = await heatmapImage(chart);
  assert.ok(before.length > 0, "the attention heatmap is drawn as an image");
  await chart.screenshot({ path: path.join(SHOTS, "04_attention_layer6_mean.png") });
  // the layer dropdown: open it, pick layer 1
  await chart.locator(".updatemenu-header").click();
  await chart.locator(".updatemenu-dropdown-button", { hasText: /^layer 1$/ }).click();
  await page.waitForTimeout(500);
  const layer1 = await heatmapImage(chart);
  assert.notEqual(layer1, before, "choosing layer 1 changes the heatmap");
  await chart.screenshot({ path: path.join(SHOTS, "04_attention_layer1_mean.png") });
  // the head slider: click the rail where head 3 sits (steps: mean, 1, …, 12)
  const rail = chart.locator(".slider-rail-touch-rect");
  const box = (await rail.boundingBox())!;
  await page.mouse.click(box.x + (box.width * 3) / 12, box.y + box.height / 2);
  await page.waitForTimeout(500);
  const head3 = await heatmapImage(chart);
  assert.notEqual(head3, layer1, "moving the head slider changes the heatmap");
  assert.match((await chart.locator(".slider-group > .slider-label").textContent()) ?? "", /head: 3/);
  await chart.screenshot({ path: path.join(SHOTS, "04_attention_layer1_head3.png") });
}

/** 05: `await setup({ seed: 42 })` in the first cell, then rerunning the training cell, gives other numbers. */
async function checkSeedRerun(page: Page): Promise<void> {
  const cells = page.locator(`${NB} .jp-CodeCell`);
  const sources = await cells.locator(".cm-content").allTextContents();
  const trainAt = sources.findIndex((s) => s.includes("await train(config"));
  assert.ok(trainAt > 0, "notebook 05 has a training cell");
  const output = (i: number) => cells.nth(i).locator(".jp-OutputArea").textContent().then((s) => s ?? "");
  const before = await output(trainAt);
  assert.match(before, /trainLoss/);
  // edit the first cell as a learner would: select its text, type the new call, run it
  const first = cells.nth(0).locator(".cm-content");
  await first.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.type('import { setup } from "./lib/teach/notebook";\nconst course = await setup({ seed: 42 });');
  await page.keyboard.press("Control+Enter");
  const firstOutput = (selector: string) =>
    /seed 42/.test((globalThis as any).document.querySelector(selector)?.textContent ?? "");
  await page.waitForFunction(firstOutput, `${NB} .jp-CodeCell .jp-OutputArea`, { timeout: 120_000 });
  // then the training cell
  await cells.nth(trainAt).locator(".cm-content").click();
  await page.keyboard.press("Control+Enter");
  await waitForRun(page, 10 * 60_000);
  const after = await output(trainAt);
  await cells.nth(trainAt).screenshot({ path: path.join(SHOTS, "05_train_seed42.png") });
  assert.match(after, /trainLoss/);
  const losses = (s: string) => [...s.matchAll(/trainLoss: ([\d.]+)/g)].map((m) => m[1]);
  assert.notDeepEqual(losses(after), losses(before), `seed 42 trains differently: ${losses(before)}, ${losses(after)}`);
}
