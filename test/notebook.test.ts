// lib/teach/notebook.ts: the first cell's setup() — backend, seed (default, override, bad values), setting.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "child_process";
import { setup, SEED } from "../lib/teach/notebook";

test("setup() picks a backend and the course seed; setup({ seed }) overrides it", async () => {
  const course = await setup();
  assert.equal(course.seed, SEED);
  assert.equal(course.tf.getBackend(), course.backend.name);
  assert.equal((await setup({ seed: 42 })).seed, 42);
  await assert.rejects(setup({ seed: 1.5 }), /whole number/);
});

test("BERTLAB_SEED sets the seed; a bad value is a clear error", () => {
  const run = (seed: string) =>
    execFileSync(process.execPath, [
      "--import",
      "tsx",
      "-e",
      `console.log(require(${JSON.stringify(require.resolve("../lib/teach/notebook"))}).SEED)`,
    ], { env: { ...process.env, BERTLAB_SEED: seed }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  assert.equal(run("7"), "7");
  assert.throws(() => run("seventeen"), /BERTLAB_SEED must be a whole number/);
});
