// The paired t-test, its 95% CI and Student's t quantiles against SciPy
// (test/fixtures/reference/ttest.json, made by scripts/make_probe_fixtures.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { pairedTTest, studentTQuantile, studentTTwoSided, logGamma, median } from "../lib/core/stats";

const FIX = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/ttest.json"), "utf8"));

const near = (ours: number, ref: number, tol: number, what: string) =>
  assert.ok(Math.abs(ours - ref) <= tol * Math.max(1, Math.abs(ref)), `${what}: ${ours} vs ${ref}`);

for (const c of FIX.cases)
  test(`pairedTTest equals scipy.stats.ttest_rel: ${c.name}`, () => {
    const a = c.a.slice(), b = c.b.slice();
    const r = pairedTTest(a, b);
    assert.deepEqual([a, b], [c.a, c.b], "inputs unchanged");
    assert.equal(r.n, c.a.length);
    assert.equal(r.df, c.df);
    near(r.meanDiff, c.mean_diff, 1e-9, "mean difference");
    near(r.t, c.t, 1e-9, "t");
    near(r.ci95[0], c.ci95[0], 1e-9, "CI low");
    near(r.ci95[1], c.ci95[1], 1e-9, "CI high");
    assert.ok(Math.abs(r.p - c.p) <= 1e-7 * c.p + 1e-300, `p: ${r.p} vs ${c.p}`);
  });

test("Student t quantiles equal scipy.stats.t.ppf", () => {
  for (const { q, df, t } of FIX.quantiles) near(studentTQuantile(q, df), t, 1e-9, `t.ppf(${q}, ${df})`);
  assert.throws(() => studentTQuantile(0.3, 5), /q must be in \(0.5, 1\)/);
});

test("t distribution and log-gamma: known values", () => {
  near(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14, "ln Γ(1/2)");
  near(logGamma(10), Math.log(362880), 1e-14, "ln Γ(10)");
  near(studentTTwoSided(0, 7), 1, 1e-14, "t = 0");
  near(studentTTwoSided(1, 1), 0.5, 1e-12, "Cauchy: P(|T| ≥ 1) = 1/2");
  assert.equal(studentTTwoSided(Infinity, 3), 0);
});

test("pairedTTest: degenerate differences and bad input", () => {
  const same = pairedTTest([0.2, 0.4, 0.6], [0.2, 0.4, 0.6]);
  assert.equal(same.p, 1, "no difference at all: p 1");
  assert.deepEqual(same.ci95, [0, 0]);
  const shifted = pairedTTest([0.3, 0.5, 0.75], [0.2, 0.4, 0.65]);
  assert.ok(shifted.p < 1e-6 && Math.abs(shifted.meanDiff - 0.1) < 1e-12, "a constant shift is certain");
  assert.throws(() => pairedTTest([1, 2], [1]), /2 values in a but 1 in b/);
  assert.throws(() => pairedTTest([1], [1]), /at least 2/);
  assert.throws(() => pairedTTest([1, NaN], [1, 2]), /value 1 of a is NaN/);
});

test("median: the middle value, or the mean of the middle two; input untouched", () => {
  const xs = [3, 1, 2];
  assert.equal(median(xs), 2);
  assert.deepEqual(xs, [3, 1, 2]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
