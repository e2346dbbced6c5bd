#!/usr/bin/env node
// The bertlab command (npx bertlab --help): a plain JavaScript shim that runs the TypeScript CLI
// (lib/cli/cli.ts) under tsx's launcher, without a build step. The launcher hooks both require() and
// import(): the CLI imports TensorFlow with import() so that ONNX-only commands never load it, and
// registering tsx/cjs alone leaves those imports unresolved. Signals sent to this process go on to the
// CLI (`kill` on a running `bertlab demo` stops its server), and the CLI's exit is this process's exit.
const { spawn } = require("child_process");
const os = require("os");
const path = require("path");
const entry = path.join(__dirname, "..", "lib", "cli", "cli_main.ts");
const child = spawn(process.execPath, [require.resolve("tsx/cli"), entry, ...process.argv.slice(2)], { stdio: "inherit" });
const forwarded = ["SIGINT", "SIGTERM", "SIGHUP"];
for (const s of forwarded) process.on(s, () => child.kill(s));
child.on("error", (e) => {
  process.stderr.write(`bertlab: could not start tsx (${e.message}): run npm install\n`);
  process.exitCode = 1;
});
child.on("exit", (code, signal) => {
  for (const s of forwarded) process.removeAllListeners(s);
  process.exitCode = code ?? 128 + (os.constants.signals[signal] ?? 0);
});
