/**
 * The paired t-test and its confidence interval as SciPy computes them (`ttest_rel`, `.confidence_interval(0.95)`),
 * with the Student t distribution they need, for the bias probe and cross-validation; the median the benchmarks
 * report; NumPy's percentile (bootstrap intervals); argmax, a prediction from probabilities.
 *
 *   pairedTTest([0.61, 0.58, 0.66], [0.55, 0.57, 0.60])
 *   // { n: 3, meanA: 0.6167, meanB: 0.5733, meanDiff: 0.0433, sdDiff: 0.0289, df: 2,
 *   //   t: 2.6, p: 0.1215, ci95: [-0.0284, 0.1150] }
 */

/** The index of the largest value (the first, on a tie: NumPy's argmax); a prediction from probabilities. Pure. */
export function argmax(xs: readonly number[]): number {
  return xs.indexOf(Math.max(...xs));
}

/** The median (the mean of the middle two for an even count); NaN for none. Pure. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The q-th percentile (q in [0, 100]) to the last bit of `np.percentile(xs, q)` (its two-sided interpolation). */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new Error("percentile: no values");
  if (!(q >= 0 && q <= 100)) throw new Error(`percentile: q must be in [0, 100], got ${q}`);
  const s = [...xs].sort((a, b) => a - b);
  const h = (q / 100) * (s.length - 1);
  const lo = Math.floor(h), t = h - lo;
  if (lo >= s.length - 1) return s[s.length - 1];
  const a = s[lo], b = s[lo + 1], d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x); // reflection
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes' betacf). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  /** One Lentz step with coefficient aa: returns the factor it multiplies h by. */
  const step = (aa: number) => {
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    return d * c;
  };
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    h *= step((m * (b - m) * x) / ((a + m2 - 1) * (a + m2))); // even step, then odd step
    const delta = step((-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1)));
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) return h;
  }
  return h; // converged to double precision long before this for the arguments used here
}

/** The regularized incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  // The fraction converges fast for x < (a+1)/(a+b+2); use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: the two-sided p-value. */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** The t value with P(T ≤ t) = q (for q in (0.5, 1)), by bisection on the two-sided tail. */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0.5 && q < 1)) throw new Error(`studentTQuantile: q must be in (0.5, 1), got ${q}`);
  const tail = 2 * (1 - q);
  let lo = 0, hi = 1;
  while (studentTTwoSided(hi, df) > tail) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTTwoSided(mid, df) > tail) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface PairedTTest {
  /** Number of pairs. */
  n: number;
  meanA: number;
  meanB: number;
  /** Mean of a[i] - b[i]. */
  meanDiff: number;
  /** Sample standard deviation of the differences (n - 1 in the denominator). */
  sdDiff: number;
  df: number;
  /** t statistic; ±Infinity when every difference is the same non-zero number, NaN when all are zero. */
  t: number;
  /** Two-sided p-value (1 when all differences are zero: nothing to see). */
  p: number;
  /** 95% confidence interval of the mean difference. */
  ci95: [number, number];
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Paired t-test of a against b (scipy.stats.ttest_rel(a, b)), two-sided, with the 95% CI of mean(a - b). */
export function pairedTTest(a: readonly number[], b: readonly number[]): PairedTTest {
  if (a.length !== b.length)
    throw new Error(`pairedTTest: ${a.length} values in a but ${b.length} in b: pairs need both`);
  if (a.length < 2) throw new Error(`pairedTTest: ${a.length} pair(s); a t-test needs at least 2`);
  a.concat(b).forEach((v, i) => {
    if (!Number.isFinite(v))
      throw new Error(`pairedTTest: value ${i % a.length} of ${i < a.length ? "a" : "b"} is ${v}`);
  });
  const d = a.map((x, i) => x - b[i]);
  const n = d.length, df = n - 1;
  const { mean: md, sd } = meanSd(d);
  const se = sd / Math.sqrt(n);
  const allZero = d.every((x) => x === 0);
  const t = allZero ? NaN : se === 0 ? Math.sign(md) * Infinity : md / se;
  const half = studentTQuantile(0.975, df) * se;
  return {
    n,
    meanA: mean(a),
    meanB: mean(b),
    meanDiff: md,
    sdDiff: sd,
    df,
    t,
    p: allZero ? 1 : studentTTwoSided(t, df),
    ci95: [md - half, md + half],
  };
}

export interface MeanSd {
  mean: number;
  sd: number;
}

/** Mean and sample standard deviation (n − 1; 0 for a single value). */
export function meanSd(xs: readonly number[]): MeanSd {
  const m = mean(xs);
  return { mean: m, sd: xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0 };
}
