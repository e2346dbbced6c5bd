/**
 * Chooses the TensorFlow.js backend: native TensorFlow (tfjs-node-gpu when set-up provisioned it for a GPU, else
 * tfjs-node), then WebAssembly, then plain JavaScript ("cpu"). `BERTLAB_BACKEND=tensorflow|wasm|cpu` forces one.
 *
 * The native binding and its 800 MB libtensorflow are laid out by scripts/provision-backend.ts. A half-built binding
 * could crash the process that loads it, so it is loaded only when set-up's state file vouches for exactly these
 * files (sizes and times unchanged), or after a child process has loaded it without trouble:
 *
 *   const info = await initBackend();
 *   info.reason     // "native TensorFlow: tfjs-node built against PyPI tensorflow-cpu 2.21.0 (checked by set-up 2026-11-26)"
 *   describeBackend() // "tensorflow · native TensorFlow: tfjs-node built ... · 2 CPU threads"
 *
 * Test hooks (also for unusual set-ups): BERTLAB_TFJS_NODE_DIR points at another tfjs-node(-gpu)
 * package folder; BERTLAB_BACKEND_STATE at another state file.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ROOT } from "../core/paths";

export type BackendName = "tensorflow" | "wasm" | "cpu";
export const BACKENDS: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];

export interface BackendInfo {
  name: BackendName;
  /** Why this backend was chosen, in one sentence. */
  reason: string;
  /** The npm package behind it, e.g. "@tensorflow/tfjs-node". */
  package?: string;
  /** Threads the backend computes with (wasm is single-threaded in Node). */
  threads?: number;
}

/** How set-up got (or failed to get) native TensorFlow; written by scripts/provision-backend.ts. */
export interface BackendState {
  version: 1;
  /** ISO time of the check. */
  checkedAt: string;
  platform: string;
  arch: string;
  /** Node's ABI: a binding built for another Node major will not load. */
  nodeModules: string;
  native: {
    ok: boolean;
    /** "@tensorflow/tfjs-node" or "@tensorflow/tfjs-node-gpu". */
    package?: string;
    packageDir?: string;
    /** How the binding got there: "existing", "tfjs-node(-gpu) install script", "PyPI build". */
    method?: string;
    /** Where libtensorflow came from, e.g. "PyPI tensorflow-cpu 2.21.0". */
    source?: string;
    device?: "cpu" | "gpu";
    /** Sizes and times of the binding and libraries when they were checked. */
    fingerprint?: string;
    /** Why native TensorFlow is unavailable (when ok is false). */
    error?: string;
  };
  /** Every step tried, in order, for the record. */
  attempts: { step: string; ok: boolean; seconds: number; message: string }[];
  chosen: BackendName;
  reason: string;
}

/** Where set-up records its result: beside the packages it describes. */
export function backendStateFile(): string {
  return process.env.BERTLAB_BACKEND_STATE ?? path.join(ROOT, "node_modules", ".bertlab-backend.json");
}

/** Reads the state file; undefined when absent or unreadable (then a child process checks instead). */
export function readBackendState(file = backendStateFile()): BackendState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(file, "utf8")) as BackendState;
    return s && s.version === 1 && s.native ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The tfjs-node package folder to load: BERTLAB_TFJS_NODE_DIR, else where Node resolves `pkg`. */
export function nativePackageDir(pkg = "@tensorflow/tfjs-node"): string | undefined {
  if (process.env.BERTLAB_TFJS_NODE_DIR) return path.resolve(process.env.BERTLAB_TFJS_NODE_DIR);
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`, { paths: [ROOT, __dirname] }));
  } catch {
    return undefined;
  }
}

/** The binding files whose sizes and times say "unchanged since checked". */
function nativeFiles(pkgDir: string): string[] {
  const bindings = path.join(pkgDir, "lib");
  const napi = fs.existsSync(bindings) ? fs.readdirSync(bindings).filter((d) => d.startsWith("napi-v")) : [];
  const libs = ["libtensorflow.so.2", "libtensorflow_framework.so.2"].map((f) => path.join(pkgDir, "deps", "lib", f));
  return [...napi.map((d) => path.join(bindings, d, "tfjs_binding.node")), ...libs];
}

/** "size:mtime" of each binding file ("-" when missing), so a rebuild or truncation is noticed. */
export function nativeFingerprint(pkgDir: string): string {
  return nativeFiles(pkgDir).map((f) => {
    try {
      const st = fs.statSync(f);
      return `${path.relative(pkgDir, f)}=${st.size}:${Math.round(st.mtimeMs)}`;
    } catch {
      return `${path.relative(pkgDir, f)}=-`;
    }
  }).join(",");
}

export interface NativeCheck {
  ok: boolean;
  /** On success "TensorFlow 2.21.0 loads, 2+3=5"; on failure the first useful line of the error. */
  message: string;
  /** The TensorFlow C library's version, when it loaded. */
  tfVersion?: string;
}

/**
 * Loads the native package in a child process and runs one op there. A crash (a truncated
 * library can kill the process that loads it) or an error ends the child, never the caller.
 */
export function checkNativeInChild(pkgDir: string): NativeCheck {
  const script = `
    const tf = require(${JSON.stringify(pkgDir + path.sep)}); // tfjs-node re-exports the whole tfjs API
    const sum = tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0];
    const b = tf.backend().binding;
    console.log(JSON.stringify({ backend: tf.getBackend(), sum, tf: (b && b.TF_Version) || "?" }));`;
  const r = nodeChild(script, { TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? "2" });
  const last = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  if (r.status === 0) {
    try {
      const out = JSON.parse(last) as { backend: string; sum: number; tf: string };
      if (out.backend === "tensorflow" && out.sum === 5)
        return { ok: true, message: `TensorFlow ${out.tf} loads, 2+3=5`, tfVersion: out.tf };
      return { ok: false, message: `loaded but backend is ${out.backend} and 2+3=${out.sum}` };
    } catch {
      return { ok: false, message: `unexpected output: ${last.slice(0, 200)}` };
    }
  }
  if (r.error) return { ok: false, message: `check did not finish: ${r.error.message}` };
  if (r.signal) return { ok: false, message: `loading it killed the process (${r.signal})` };
  return { ok: false, message: firstErrorLine(r.stderr ?? "") || `exit status ${r.status}` };
}

/** Runs `script` in a child Node with `env` added (and NODE_PATH, for a tfjs-node copy outside node_modules). */
export function nodeChild(script: string, env: NodeJS.ProcessEnv) {
  const NODE_PATH = [path.join(ROOT, "node_modules"), process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
  const options = { encoding: "utf8", env: { ...process.env, ...env, NODE_PATH }, timeout: 60_000 } as const;
  return spawnSync(process.execPath, ["-e", script], options);
}

/** The line of a Node error dump that says what went wrong (not TensorFlow's log chatter). */
export function firstErrorLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) =>
    /^(\w*Error|Error)\b|cannot open shared object|file too short|invalid ELF|undefined symbol/i.test(l)
  );
  return (err ?? lines.filter((l) => !/^(WARNING|I0000|W0000)/.test(l)).pop() ?? "").slice(0, 300);
}

/** Says whether to load native TensorFlow, and why (from the state file, or a child-process check). */
export function nativeVerdict(): { ok: boolean; pkg: string; pkgDir?: string; why: string } {
  const state = readBackendState();
  const pkg = state?.native.ok && state.native.package ? state.native.package : "@tensorflow/tfjs-node";
  const pkgDir = nativePackageDir(pkg);
  if (!pkgDir) return { ok: false, pkg, why: `${pkg} is not installed` };
  const source = state?.native.ok && state.native.source ? ` built against ${state.native.source}` : "";
  const how = `${pkg.replace("@tensorflow/", "")}${source}`;
  const sameFiles = state && state.native.packageDir === pkgDir &&
    state.native.fingerprint === nativeFingerprint(pkgDir) &&
    state.nodeModules === process.versions.modules;
  const verdict = (ok: boolean, why: string) => ({ ok, pkg, pkgDir, why });
  if (sameFiles && state) {
    if (state.native.ok)
      return verdict(true, `native TensorFlow: ${how} (checked by set-up ${state.checkedAt.slice(0, 10)})`);
    const error = state.native.error ?? "set-up could not provide it";
    return verdict(false, `native TensorFlow unavailable (${error}; run \`npm run setup\` to retry)`);
  }
  // No record for these files: check them where a crash cannot hurt us.
  const check = checkNativeInChild(pkgDir);
  if (check.ok) return verdict(true, `native TensorFlow: ${how} (${check.message}; not recorded by set-up)`);
  return verdict(false, `native TensorFlow unavailable (${pkg}: ${check.message}; run \`npm run setup\`)`);
}

let chosen: BackendInfo | undefined;

function parseForce(force: string | undefined): BackendName | undefined {
  if (force === undefined || force === "") return undefined;
  if ((BACKENDS as readonly string[]).includes(force)) return force as BackendName;
  throw new Error(`BERTLAB_BACKEND=${force} is not a backend: use one of ${BACKENDS.join(", ")}`);
}

/** Initialises (once per process) and returns the backend in use. */
export async function initBackend(force: string | undefined = process.env.BERTLAB_BACKEND): Promise<BackendInfo> {
  const forced = parseForce(force);
  if (chosen && (!forced || chosen.name === forced)) return chosen;
  const order: BackendName[] = forced ? [forced] : [...BACKENDS];
  const notes: string[] = [];
  for (const name of order) {
    const why = forced ? [`forced by BERTLAB_BACKEND=${forced}`] : [];
    let pkg = `@tensorflow/tfjs-backend-${name}`; // wasm and cpu
    if (name === "tensorflow") {
      const v = nativeVerdict();
      if (!v.ok || !v.pkgDir) {
        notes.push(v.why);
        continue;
      }
      // TensorFlow's C++ start-up logs (CPU features, oneDNN) are noise for learners.
      process.env.TF_CPP_MIN_LOG_LEVEL = process.env.TF_CPP_MIN_LOG_LEVEL ?? "2";
      try {
        require(v.pkgDir + path.sep); // the separator: the folder, never a sibling "x.json"/"x.js"
      } catch (e) {
        notes.push(`native TensorFlow failed to load (${(e as Error).message.split("\n")[0]})`);
        continue;
      }
      pkg = v.pkg;
      why.push(v.why);
    }
    const wasm = name === "wasm"
      ? (require("@tensorflow/tfjs-backend-wasm") as typeof import("@tensorflow/tfjs-backend-wasm"))
      : undefined;
    // Node has no wasm threads in tfjs 4.x (tfjs issue #3830): this asks, the backend runs one.
    wasm?.setThreadsCount(os.cpus().length);
    let ok: boolean;
    try {
      ok = await tf.setBackend(name);
      if (ok) await tf.ready();
    } catch (e) {
      notes.push(`${name} failed to initialise (${(e as Error).message})`);
      continue;
    }
    if (!ok) {
      notes.push(`${name} failed to initialise`);
      continue;
    }
    const threads = name === "tensorflow" ? os.cpus().length : wasm ? wasm.getThreadsCount() : 1;
    chosen = { name, reason: [...notes, ...why].join("; ") || "fastest available", package: pkg, threads };
    return chosen;
  }
  throw new Error(`No TensorFlow.js backend could be initialised: ${notes.join("; ")}`);
}

/** One line for a notebook's first cell: backend, why, and threads. */
export function describeBackend(info: BackendInfo | undefined = chosen): string {
  if (!info) return "backend not initialised yet (call initBackend())";
  const threads = info.threads ? ` · ${info.threads} thread${info.threads === 1 ? "" : "s"}` : "";
  return `${info.name} · ${info.reason}${threads}`;
}
