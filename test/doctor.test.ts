// bertlab doctor: findings from described machines (without Python, without Chromium, an old Node, wrong data), the
// kernel file's checks, and one real probe of this machine through the CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { diagnose, doctorLines, doctorMain, courseCanRun, probeKernel, Probes } from "../lib/cli/doctor";
import { main } from "../lib/cli/cli";
import { captureOutput } from "./helpers/capture";
import { sha256File } from "../lib/core/download";
import { SMILE_SHA256 } from "../lib/data/smile";
import { tmpDir } from "./helpers/tmp";

const healthy: Probes = {
  node: "v20.20.2",
  venv: { python: "/p/.venv/bin/python", version: "3.11.7" },
  systemPython: { command: "python3", version: "3.11.7" },
  kernel: { file: "/p/.venv/share/jupyter/kernels/tslab/kernel.json" },
  data: { file: "/p/data/smile-annotations-final.csv", sha256: "d9288a574e13e0f1de65a8f482f71a85aaca8e9d4fceb8f9" },
  model: { dir: "/p/models/all-MiniLM-L6-v2", description: "BERT, 6 layers, hidden 384" },
  backend: { native: true, why: "native TensorFlow: tfjs-node", wasm: true },
  cpu: { model: "AMD EPYC", logicalCpus: 2, physicalCores: 2, extensions: ["avx", "avx2", "avx512f"] },
  chromium: { path: "/usr/bin/chromium" },
};
const find = (p: Probes, name: string) => diagnose(p).find((f) => f.name === name)!;

/** Runs doctorMain with a described machine; returns its exit code and what it printed. */
async function runDoctor(argv: string[], p: Probes): Promise<{ code: number; out: string }> {
  const { value, stdout } = await captureOutput(() => doctorMain(argv, () => p));
  return { code: value, out: stdout };
}

test("a machine with everything: every part ok, exit 0", async () => {
  const findings = diagnose(healthy);
  assert.deepEqual(findings.map((f) => f.name), [
    "Node.js",
    "Python and .venv",
    "tslab kernel",
    "SMILE data",
    "model",
    "TensorFlow.js backend",
    "CPU",
    "Chromium",
  ]);
  assert.deepEqual(findings.map((f) => f.status), ["ok", "ok", "ok", "ok", "ok", "ok", "note", "ok"]);
  assert.ok(courseCanRun(findings));
  const { code, out } = await runDoctor([], healthy);
  assert.equal(code, 0);
  assert.match(out, /ok {8}Node\.js {16}v20\.20\.2/);
  assert.match(out, /The course can run/);
});

test("without Python: .venv and its fix are named, the course cannot run, the CLI still works", async () => {
  const p: Probes = {
    ...healthy,
    venv: { python: "/p/.venv/bin/python", error: ".venv/bin/python not found" },
    systemPython: { command: "python3", error: "python3 not found" },
  };
  const py = find(p, "Python and .venv");
  assert.equal(py.status, "missing");
  assert.match(py.fix!, /npm run setup .*needs Python 3\.9 or newer: python3 not found; install it or set PYTHON=/);
  assert.match(py.without!, /the bertlab command and the library still do/);
  const { code, out } = await runDoctor([], p);
  assert.equal(code, 1);
  assert.match(out, /MISSING {3}Python and \.venv/);
  assert.match(out, /The course cannot run: fix the MISSING lines/);
  const advice = doctorLines(diagnose(p)).filter((l) => l.startsWith(" ".repeat(12)));
  assert.ok(advice.length >= 3 && advice.every((l) => l.length <= 118), "fix and without-it lines are wrapped");
  // with a system Python, the fix says which one set-up would use
  const withSystem = find({ ...p, systemPython: { command: "python3", version: "3.12.1" } }, "Python and .venv");
  assert.match(withSystem.fix!, /from python3: Python 3\.12\.1/);
});

test("without Chromium or native TensorFlow: optional, the course still runs, each says what is lost", async () => {
  const backend = { native: false, why: "native TensorFlow unavailable", wasm: true };
  const p: Probes = { ...healthy, chromium: {}, backend };
  const chromium = find(p, "Chromium");
  assert.deepEqual([chromium.status, chromium.required], ["missing", false]);
  assert.match(chromium.fix!, /BERTLAB_CHROMIUM/);
  assert.match(chromium.without!, /browser tests .* skipped/);
  const native = find(p, "TensorFlow.js backend");
  assert.deepEqual([native.status, native.required], ["missing", false]);
  assert.match(native.without!, /WebAssembly/);
  const noWasm = find({ ...p, backend: { ...backend, wasm: false } }, "TensorFlow.js backend");
  assert.match(noWasm.without!, /plain JavaScript/);
  const { code, out } = await runDoctor(["--json"], p);
  assert.equal(code, 0);
  const json = JSON.parse(out);
  assert.equal(json.ok, true);
  assert.equal(json.findings.length, 8);
  assert.match(doctorLines(diagnose(p)).join("\n"), /missing {3}Chromium/); // lower case: optional
});

test("an old Node, wrong data, no model, a broken kernel: each required, each with its fix", () => {
  const p: Probes = {
    ...healthy,
    node: "v18.19.0",
    data: { file: "/p/data/x.csv", sha256: "00", error: "data/x.csv has sha256 00, not the published file's" },
    model: { dir: "/p/models/m", error: "/p/models/m: model folder not found" },
    kernel: { file: "/p/k.json", error: "k.json not found" },
  };
  const findings = diagnose(p);
  for (const name of ["Node.js", "SMILE data", "model", "tslab kernel"]) {
    const f = findings.find((x) => x.name === name)!;
    assert.deepEqual([f.status, f.required], ["missing", true], name);
    assert.ok(f.fix && f.without, `${name} has a fix and says what works without it`);
  }
  assert.match(findings[0].found, /v18\.19\.0 is too old/);
  assert.match(findings.find((f) => f.name === "SMILE data")!.fix!, /scripts\/fetch-data\.ts/);
  assert.equal(courseCanRun(findings), false);
  // a CPU without AVX2 is a note, not a failure
  const old = find({ ...healthy, cpu: { model: "old", logicalCpus: 2, extensions: ["sse4_2", "avx"] } }, "CPU");
  assert.match(old.without!, /no AVX2/);
});

test("the kernel file: missing, not JSON, starting a launcher that is gone, or fine", () => {
  const dir = tmpDir("bertlab-doctor-");
  const file = path.join(dir, "kernel.json");
  assert.match(probeKernel(file).error!, /not found/);
  fs.writeFileSync(file, "{ argv");
  assert.match(probeKernel(file).error!, /not valid JSON/);
  fs.writeFileSync(file, JSON.stringify({ argv: [process.execPath, path.join(dir, "gone.js"), "kernel"] }));
  assert.match(probeKernel(file).error!, /gone\.js, which does not exist/);
  fs.writeFileSync(path.join(dir, "gone.js"), "");
  assert.equal(probeKernel(file).error, undefined);
  fs.rmSync(dir, { recursive: true });
});

test("bertlab doctor probes this machine: every part reported, the exit code follows the required parts", async () => {
  const { value: code, stdout } = await captureOutput(() => main(["doctor", "--json"]));
  const report = JSON.parse(stdout);
  assert.equal(report.findings.length, 8);
  assert.equal(code, report.ok ? 0 : 1);
  const data = report.findings.find((f: { name: string }) => f.name === "SMILE data");
  const csv = path.join(__dirname, "..", "data", "smile-annotations-final.csv");
  const intact = fs.existsSync(csv) && sha256File(csv) === SMILE_SHA256;
  assert.equal(data.status, intact ? "ok" : "missing");
  await assert.rejects(doctorMain(["--fix"]), /doctor: unknown argument "--fix"/);
});
