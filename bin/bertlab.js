#!/usr/bin/env node
// The bertlab command (npx bertlab --help): a plain JavaScript shim that registers tsx so the
// TypeScript CLI in lib/cli.ts runs without a build step.
require("tsx/cjs");
require("../lib/cli.ts").main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`bertlab: ${err && err.message ? err.message : err}\n`); process.exitCode = 1; },
);
