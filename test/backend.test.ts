/**
 * Tests for lib/runtime/backend.ts and scripts/provision-backend.ts: forcing each backend, and broken native
 * bindings (missing, truncated binding, truncated libtensorflow) giving a fallback with a message,
 * never a crash. Fast and offline: provisioning runs with --no-network, and every broken binding
 * is a temporary copy of the package, so the project's working binding is never touched.
 * Each backend choice runs in a child process, as a process keeps the backend it first chose.
 */
import { test, describe, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ROOT } from "../lib/core/paths";
import {
  BackendInfo,
  checkNativeInChild,
  firstErrorLine,
  nativeFingerprint,
  nativePackageDir,
  readBackendState,
} from "../lib/runtime/backend";
import { provision } from "../scripts/provision-backend";
import { tmpDir } from "./helpers/tmp";

const realPkg = nativePackageDir("@tensorflow/tfjs-node");
const nativeHere = realPkg !== undefined && checkNativeInChild(realPkg).ok;

/** Runs initBackend() in a fresh Node with `env`; returns its BackendInfo or its error. */
function probe(env: Record<string, string>): { info?: BackendInfo; error?: string; status: number | null } {
  const code = `require("./lib/runtime/backend").initBackend().then(
    (i) => console.log("INFO " + JSON.stringify(i) + "\\nDESC " + require("./lib/runtime/backend").describeBackend()),
    (e) => { console.log("ERROR " + e.message); process.exit(2); });`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, BERTLAB_BACKEND: "", NODE_PATH: path.join(ROOT, "node_modules"), ...env },
  });
  const line = (p: string) => (r.stdout ?? "").split("\n").find((l) => l.startsWith(p))?.slice(p.length);
  const info = line("INFO ");
  return {
    info: info ? JSON.parse(info) : undefined,
    error: line("ERROR ") ?? (r.status !== 0 ? r.stderr : undefined),
    status: r.status,
  };
}

describe("forcing a backend with BERTLAB_BACKEND", () => {
  test("cpu", () => {
    const r = probe({ BERTLAB_BACKEND: "cpu" });
    assert.equal(r.info?.name, "cpu");
    assert.equal(r.info?.reason, "forced by BERTLAB_BACKEND=cpu");
  });
  test("wasm (single-threaded in Node)", () => {
    const r = probe({ BERTLAB_BACKEND: "wasm" });
    assert.equal(r.info?.name, "wasm");
    assert.equal(r.info?.threads, 1);
    assert.match(r.info?.reason ?? "", /forced by BERTLAB_BACKEND=wasm/);
  });
  test("tensorflow", { skip: nativeHere ? false : "native TensorFlow is not provisioned here" }, () => {
    const r = probe({ BERTLAB_BACKEND: "tensorflow" });
    assert.equal(r.info?.name, "tensorflow");
    assert.match(r.info?.reason ?? "", /forced by BERTLAB_BACKEND=tensorflow; native TensorFlow: tfjs-node/);
  });
  test("an unknown name is an error naming the variable", () => {
    const r = probe({ BERTLAB_BACKEND: "gpu" });
    assert.equal(r.status, 2);
    assert.equal(r.error, "BERTLAB_BACKEND=gpu is not a backend: use one of tensorflow, wasm, cpu");
  });
});

// Concurrent: each case waits mostly on child processes loading an 800 MB library.
describe("broken native bindings fall back to wasm with a message", {
  skip: realPkg ? false : "tfjs-node not installed",
  concurrency: true,
}, () => {
  let tmp: string;
  const pkg = realPkg as string;
  const realBinding = path.join(pkg, "lib", "napi-v8", "tfjs_binding.node");

  /** A copy of tfjs-node in tmp: package.json and dist copied; binding and libraries as asked. */
  function copyPackage(
    name: string,
    opts: { binding: "copy" | "truncated" | "missing"; lib: "link" | "truncated" },
  ): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(path.join(dir, "deps", "lib"), { recursive: true });
    fs.copyFileSync(path.join(pkg, "package.json"), path.join(dir, "package.json"));
    fs.cpSync(path.join(pkg, "dist"), path.join(dir, "dist"), { recursive: true });
    if (opts.binding !== "missing") {
      fs.mkdirSync(path.join(dir, "lib", "napi-v8"), { recursive: true });
      const bytes = fs.readFileSync(realBinding);
      fs.writeFileSync(
        path.join(dir, "lib", "napi-v8", "tfjs_binding.node"),
        opts.binding === "copy" ? bytes : bytes.subarray(0, 4096),
      );
    }
    for (const f of fs.readdirSync(path.join(pkg, "deps", "lib"))) {
      const src = path.join(pkg, "deps", "lib", f);
      const dst = path.join(dir, "deps", "lib", f);
      if (fs.lstatSync(src).isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(src), dst); // same relative links as the original layout
      } else if (opts.lib === "truncated" && f === "libtensorflow.so.2") {
        const fd = fs.openSync(src, "r");
        const head = Buffer.alloc(1 << 16);
        fs.readSync(fd, head, 0, head.length, 0);
        fs.closeSync(fd);
        fs.writeFileSync(dst, head); // an interrupted copy: an ELF header and nothing behind it
      } else {
        fs.symlinkSync(src, dst);
      }
    }
    return dir;
  }

  before(() => {
    tmp = tmpDir("bertlab-backend-test-");
  });
  after(() => {
    if (!process.env.KEEPTMP) fs.rmSync(tmp, { recursive: true, force: true });
  });

  for (
    const [name, opts, expect] of [
      ["missing binding", { binding: "missing", lib: "link" }, /tfjs_binding\.node\) can not be found/],
      // Loading a truncated binding kills the process with SIGBUS: this is why the check is a child process.
      ["truncated binding", { binding: "truncated", lib: "link" }, /SIGBUS|SIGSEGV|file too short|invalid ELF/i],
      [
        "truncated libtensorflow",
        { binding: "copy", lib: "truncated" },
        /SIGBUS|SIGSEGV|file too short|libtensorflow/i,
      ],
    ] as const
  ) {
    test(`${name}: child check, provisioning and initBackend all fall back`, async () => {
      const dir = copyPackage(name.replace(/ /g, "-"), opts);
      const check = checkNativeInChild(dir);
      assert.equal(check.ok, false);
      assert.match(check.message, expect);

      const stateFile = path.join(tmp, `${name}.json`);
      const logs: string[] = [];
      const r = await provision({ packageDir: dir, stateFile, noNetwork: true, log: (l) => logs.push(l) });
      assert.equal(r.exitCode, 0);
      assert.equal(r.state.chosen, "wasm");
      assert.equal(r.state.native.ok, false);
      assert.match(
        r.line,
        /^bertlab backend: wasm — WebAssembly, because native TensorFlow is unavailable: .*--no-network/,
      );
      assert.match(r.state.native.error ?? "", expect);
      assert.deepEqual(readBackendState(stateFile), r.state); // what lib/runtime/backend.ts will read

      // With the state file: no child check needed, the recorded reason is given.
      const withState = probe({ BERTLAB_TFJS_NODE_DIR: dir, BERTLAB_BACKEND_STATE: stateFile });
      assert.equal(withState.info?.name, "wasm");
      assert.match(withState.info?.reason ?? "", /^native TensorFlow unavailable \(.*run `npm run setup` to retry\)$/);
      // Without it: a child process checks, and the parent still falls back instead of crashing.
      const noState = probe({ BERTLAB_TFJS_NODE_DIR: dir, BERTLAB_BACKEND_STATE: path.join(tmp, "absent.json") });
      assert.equal(noState.info?.name, "wasm");
      assert.match(noState.info?.reason ?? "", expect);
    });
  }

  test("forcing native TensorFlow when it is broken fails loudly", async () => {
    const dir = copyPackage("forced", { binding: "missing", lib: "link" });
    const stateFile = path.join(tmp, "forced-state.json");
    const p = await provision({ packageDir: dir, stateFile, noNetwork: true, force: "tensorflow", log: () => {} });
    assert.equal(p.exitCode, 1);
    const forced = probe({
      BERTLAB_BACKEND: "tensorflow",
      BERTLAB_TFJS_NODE_DIR: dir,
      BERTLAB_BACKEND_STATE: stateFile,
    });
    assert.match(
      forced.error ?? "",
      /^No TensorFlow.js backend could be initialised: native TensorFlow unavailable \(.*can not be found/,
    );
  });

  test("a working copy is recorded; changing its files afterwards is noticed", {
    skip: nativeHere ? false : "no working binding here",
  }, async () => {
    const dir = copyPackage("good", { binding: "copy", lib: "link" });
    const stateFile = path.join(tmp, "good.json");
    const r = await provision({ packageDir: dir, stateFile, noNetwork: true, log: () => {} });
    assert.equal(r.state.chosen, "tensorflow");
    assert.equal(r.state.native.method, "existing");
    assert.equal(r.state.native.fingerprint, nativeFingerprint(dir));
    assert.match(r.line, /^bertlab backend: tensorflow — native TensorFlow: tfjs-node already provisioned and loads/);
    const ok = probe({ BERTLAB_TFJS_NODE_DIR: dir, BERTLAB_BACKEND_STATE: stateFile });
    assert.equal(ok.info?.name, "tensorflow", JSON.stringify(ok));
    assert.match(ok.info?.reason ?? "", /\(checked by set-up \d{4}-\d\d-\d\d\)$/);

    // Truncate the binding after set-up vouched for it: the fingerprint no longer matches, so it
    // is checked in a child process and we fall back instead of loading a broken file.
    const binding = path.join(dir, "lib", "napi-v8", "tfjs_binding.node");
    fs.writeFileSync(binding, fs.readFileSync(binding).subarray(0, 4096));
    const broken = probe({ BERTLAB_TFJS_NODE_DIR: dir, BERTLAB_BACKEND_STATE: stateFile });
    assert.equal(broken.info?.name, "wasm");
    assert.match(broken.info?.reason ?? "", /native TensorFlow unavailable .*(SIGBUS|SIGSEGV|too short)/i);
  });
});

// Opt-in (BERTLAB_SLOW=1; downloads the 274 MB wheel once into CACHE_DIR/wheels, then ~20-60 s):
// set-up from nothing, on a copy of tfjs-node without deps/, build/ and lib/.
test("provisioning a stripped copy of tfjs-node builds a binding that loads", {
  skip: process.env.BERTLAB_SLOW === "1" && realPkg ? false : "slow: set BERTLAB_SLOW=1",
  timeout: 15 * 60_000,
}, async () => {
  const tmp = tmpDir("bertlab-provision-");
  try {
    const dir = path.join(tmp, "tfjs-node");
    fs.cpSync(realPkg as string, dir, {
      recursive: true,
      filter: (src) => !/^(deps|build|lib)$/.test(path.relative(realPkg as string, src)),
    });
    assert.equal(fs.existsSync(path.join(dir, "deps")), false);
    const t0 = Date.now();
    const r = await provision({ packageDir: dir, stateFile: path.join(tmp, "state.json"), log: () => {} });
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(r.state.chosen, "tensorflow", r.line);
    assert.match(r.state.native.method ?? "", /PyPI build|install script/);
    assert.ok(seconds < 300, `provisioning took ${seconds} s`);
    assert.equal(checkNativeInChild(dir).ok, true);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("forcing wasm or cpu skips native provisioning", async () => {
  const stateFile = path.join(os.tmpdir(), `bertlab-backend-forced-${process.pid}.json`);
  try {
    const r = await provision({ stateFile, force: "cpu", noNetwork: true, log: () => {} });
    assert.equal(r.line, "bertlab backend: cpu — forced by BERTLAB_BACKEND=cpu");
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.state.attempts.map((a) => a.message), ["skipped: BERTLAB_BACKEND=cpu"]);
  } finally {
    fs.rmSync(stateFile, { force: true });
  }
});

test("firstErrorLine skips TensorFlow's log chatter", () => {
  const stderr = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795698287.106435 6092 port.cc:153] oneDNN custom operations are on.",
    "node:internal/modules/cjs/loader:1228",
    "Error: /tmp/x/tfjs_binding.node: file too short",
    "    at Module._extensions..node (node:internal/modules/cjs/loader:1460:18)",
  ].join("\n");
  assert.equal(firstErrorLine(stderr), "Error: /tmp/x/tfjs_binding.node: file too short");
  assert.equal(firstErrorLine(""), "");
});

test("an unreadable state file counts as no state file", () => {
  const f = path.join(os.tmpdir(), `bertlab-backend-garbage-${process.pid}.json`);
  fs.writeFileSync(f, "{ not json");
  try {
    assert.equal(readBackendState(f), undefined);
    assert.equal(readBackendState(path.join(os.tmpdir(), "no-such-bertlab-state.json")), undefined);
  } finally {
    fs.rmSync(f, { force: true });
  }
});
