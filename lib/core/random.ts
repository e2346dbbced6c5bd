/**
 * NumPy's legacy `np.random.RandomState`, bit for bit: MT19937 seeded with `init_genrand`, `random_sample`,
 * `random_interval`, and the legacy `shuffle`, `permutation` and `choice(replace=false)`. scikit-learn's
 * `random_state=17` is `RandomState(17)`, so this lets lib/data/split.ts reproduce the course's split exactly.
 * Taught in notebooks/02_split.ipynb.
 *
 *   const rng = new RandomState(17);
 *   rng.permutation(5)       // [4, 0, 2, 3, 1]  — as np.random.RandomState(17).permutation(5)
 *   new RandomState(0).randomSample()   // 0.5488135039273248
 *
 * Tested against fixtures from numpy (scripts/make_split_fixtures.py).
 */

const N = 624;
const M = 397;

export class RandomState {
  private readonly mt = new Uint32Array(N);
  private pos = N;

  /** Seeds like `np.random.RandomState(seed)` with an integer seed in [0, 2**32). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new Error(`RandomState seed must be an integer between 0 and 2**32 - 1, got ${seed}`);
    this.seed(seed);
  }

  /** init_genrand (numpy's mt19937_seed). */
  seed(seed: number): void {
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      // 1812433253 * prev + i, modulo 2**32: Math.imul keeps the low 32 bits exactly.
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.pos = N;
  }

  /** Refills the state (the "twist"). */
  private generate(): void {
    const mt = this.mt;
    for (let kk = 0; kk < N; kk++) {
      const y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % N] & 0x7fffffff);
      mt[kk] = mt[(kk + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.pos = 0;
  }

  /** The next raw 32-bit output (tempered), as an unsigned number. */
  nextUint32(): number {
    if (this.pos >= N) this.generate();
    let y = this.mt[this.pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits: `RandomState.random_sample()`. */
  randomSample(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  /** A uniform integer in [0, max], numpy's `random_interval`: 32 bits, masked, values above max rejected. */
  randomInterval(max: number): number {
    if (!Number.isInteger(max) || max < 0)
      throw new Error(`randomInterval: max must be a non-negative integer, got ${max}`);
    if (max > 0xffffffff)
      throw new Error(`randomInterval: max ${max} needs 64-bit draws, which this port does not implement`);
    if (max === 0) return 0;
    const mask = 2 ** (32 - Math.clz32(max)) - 1; // all ones up to max's highest bit
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0; while (value > max);
    return value;
  }

  /** Shuffles `x` in place, as the legacy `RandomState.shuffle` (Fisher–Yates from the end). */
  shuffle<T>(x: T[]): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randomInterval(i);
      [x[i], x[j]] = [x[j], x[i]];
    }
  }

  /** `permutation(n)`: a shuffled [0, n); `permutation(array)`: a shuffled copy (the input is not changed). */
  permutation(n: number): number[];
  permutation<T>(x: readonly T[]): T[];
  permutation<T>(x: number | readonly T[]): (number | T)[] {
    const arr: (number | T)[] = typeof x === "number" ? Array.from({ length: x }, (_, i) => i) : x.slice();
    this.shuffle(arr);
    return arr;
  }

  /** The legacy `choice(n, size, replace=False)`: `permutation(n)[:size]`, drawing even when size === n. */
  choiceWithoutReplacement(n: number, size: number): number[] {
    if (size > n) throw new Error(`Cannot take a larger sample (${size}) than population (${n}) when replace=false`);
    if (size < 0) throw new Error(`negative dimensions are not allowed (size ${size})`);
    return this.permutation(n).slice(0, size);
  }
}
