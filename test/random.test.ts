// lib/core/random.ts against NumPy's RandomState (fixtures from scripts/make_split_fixtures.py).
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { RandomState } from "../lib/core/random";

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "split", "random.json"), "utf8"));
const seeds = Object.keys(fx.seeds);

test("raw MT19937 outputs equal NumPy's, across two state refills", () => {
  assert.ok(seeds.length >= 5);
  for (const s of seeds) {
    const f = fx.seeds[s];
    const rng = new RandomState(Number(s));
    const raw = Array.from({ length: 1300 }, () => rng.nextUint32());
    assert.deepEqual(raw.slice(0, 10), f.raw_first, `seed ${s}`);
    assert.deepEqual(raw.slice(620, 630), f.raw_620_630, `seed ${s}`);
    assert.deepEqual(raw.slice(1240, 1250), f.raw_1240_1250, `seed ${s}`);
    assert.equal(raw.reduce((a, b) => a + b, 0), f.raw_sum, `seed ${s}`);
  }
});

test("random_sample doubles equal NumPy's exactly", () => {
  for (const s of seeds) {
    const rng = new RandomState(Number(s));
    assert.deepEqual(Array.from({ length: 5 }, () => rng.randomSample()), fx.seeds[s].random_sample, `seed ${s}`);
  }
  assert.equal(new RandomState(0).randomSample(), 0.5488135039273248);
});

test("permutation(n) equals NumPy's for n = 1 … 1000", () => {
  for (const s of seeds) {
    for (const [n, want] of Object.entries(fx.seeds[s].permutation)) {
      assert.deepEqual(new RandomState(Number(s)).permutation(Number(n)), want, `seed ${s} n ${n}`);
    }
  }
  assert.deepEqual(new RandomState(17).permutation(5), [4, 0, 2, 3, 1]);
});

test("chained permutations (ints, an array) and choice(replace=false) share one stream as in NumPy", () => {
  for (const s of seeds) {
    const rng = new RandomState(Number(s));
    const letters = ["a", "b", "c", "d"];
    const got = [rng.permutation(7), rng.permutation(letters), rng.permutation(3)];
    assert.deepEqual(got, fx.seeds[s].chained_permutations, `seed ${s}`);
    assert.deepEqual(letters, ["a", "b", "c", "d"]); // permutation(array) copies
    const r2 = new RandomState(Number(s));
    const choices = [
      r2.choiceWithoutReplacement(10, 3),
      r2.choiceWithoutReplacement(4, 4),
      r2.choiceWithoutReplacement(1, 1),
      r2.choiceWithoutReplacement(300, 5),
    ];
    assert.deepEqual(choices, fx.seeds[s].choice, `seed ${s}`);
  }
});

test("randomInterval stays in range; bad seeds and arguments are errors", () => {
  const rng = new RandomState(3);
  for (const max of [0, 1, 2, 3, 7, 8, 1000, 0xffffffff]) {
    for (let k = 0; k < 50; k++) {
      const v = rng.randomInterval(max);
      assert.ok(Number.isInteger(v) && v >= 0 && v <= max, `${v} in [0, ${max}]`);
    }
  }
  assert.throws(() => new RandomState(-1), /between 0 and 2\*\*32 - 1, got -1/);
  assert.throws(() => new RandomState(1.5), /got 1.5/);
  assert.throws(() => new RandomState(2 ** 32), /between 0 and 2\*\*32 - 1/);
  assert.throws(() => rng.randomInterval(2 ** 33), /64-bit/);
  assert.throws(() => rng.choiceWithoutReplacement(3, 4), /larger sample \(4\) than population \(3\)/);
});
