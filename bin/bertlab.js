#!/usr/bin/env node
// The bertlab command (npx bertlab --help): a plain JavaScript shim that runs the TypeScript CLI
// (lib/cli.ts) under tsx's launcher, without a build step. The launcher hooks both require() and
// import(): the CLI imports TensorFlow with import() so that ONNX-only commands never load it, and
// registering tsx/cjs alone leaves those imports unresolved.
const { spawnSync } = require("child_process");
const path = require("path");
const entry = path.join(__dirname, "..", "lib", "cli_main.ts");
const r = spawnSync(process.execPath, [require.resolve("tsx/cli"), entry, ...process.argv.slice(2)], { stdio: "inherit" });
if (r.error) {
  process.stderr.write(`bertlab: could not start tsx (${r.error.message}): run npm install\n`);
  process.exitCode = 1;
} else process.exitCode = r.status ?? 1;
