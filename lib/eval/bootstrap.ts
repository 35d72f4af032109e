/**
 * A generic, seeded percentile bootstrap for any per-item numbers (0/1 correctness, win scores in {0, 0.5, 1},
 * reward margins, ...), and its paired form for the difference of two methods measured on the SAME items.
 *
 * Method (Efron & Tibshirani 1993, ch. 13, the percentile interval):
 * - B replicates (`iterations`, default 1000). Replicate b draws n indices uniformly with replacement
 *   (`i = floor(u·n)`, u from `makeRng(seed)`, seed default 42) and evaluates `statistic` on the resampled values.
 * - [lo, hi] are the (1 − level)/2 and (1 + level)/2 quantiles of the B replicate statistics, interpolated linearly
 *   between order statistics (numpy's default `np.quantile(..., method='linear')`, `quantile` below, which
 *   the RewardBench bootstrap also uses), so the kit's intervals are computed one way everywhere.
 * - `se` is the sample standard deviation of the replicates (the bootstrap standard error).
 *
 * Below 2 values the resample cannot vary (one value resamples to itself), so an interval would claim a precision the
 * data do not have: `lo`, `hi`, `se` (and `p`) are NaN and `warning` says why, as `bootstrapRewardBench` does below
 * 2 pairs per subset. The point estimate is still reported (NaN for no values).
 */
import { makeRng } from '../util/rng';

/** A statistic of a sample (the resampled values are passed as a fresh Float64Array each replicate). */
export type Statistic = (values: Float64Array) => number;

/** Arithmetic mean (NaN for an empty sample). */
export const meanStatistic: Statistic = (xs) => {
  if (!xs.length) return NaN;
  let s = 0;
  for (const v of xs) s += v;
  return s / xs.length;
};

export interface BootstrapOptions {
  /** Replicates B. Default 1000. */
  iterations?: number;
  /** Seed of the resampling generator. Default 42. */
  seed?: number | string;
  /** Coverage of the interval, in (0, 1). Default 0.95. */
  level?: number;
  /** Default: the mean. */
  statistic?: Statistic;
}

export interface BootstrapCi {
  /** statistic(values) */
  estimate: number;
  /** percentile interval; NaN below 2 values */
  lo: number;
  hi: number;
  /** bootstrap standard error (sd of the replicates); NaN below 2 values */
  se: number;
  /** number of values */
  n: number;
  iterations: number;
  level: number;
  seed: number | string;
  /** set when the interval is NaN (fewer than 2 values) */
  warning?: string;
}

export interface PairedBootstrapCi extends BootstrapCi {
  /** statistic(a) */
  a: number;
  /** statistic(b) */
  b: number;
  /**
   * Two-sided bootstrap p-value of "no difference": (1 + #{|d*ᵦ − d̂| ≥ |d̂|}) / (B + 1), the null-centred
   * distribution of the replicate differences (as `pairedBootstrapDiff`), so identical inputs give p = 1.
   */
  p: number;
}

/** Fewest values for which the kit reports an interval. */
export const MIN_BOOTSTRAP_VALUES = 2;

interface Resolved {
  iterations: number;
  seed: number | string;
  level: number;
  statistic: Statistic;
}

/** Options with their defaults, checked: `fn` names the caller in the one-line errors. */
export function resolveBootstrapOptions(fn: string, opts: BootstrapOptions | undefined): Resolved {
  const o = opts ?? {};
  const iterations = o.iterations ?? 1000;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`${fn}: iterations must be a positive integer, got ${String(iterations)}`);
  const level = o.level ?? 0.95;
  if (typeof level !== 'number' || !(level > 0 && level < 1)) throw new Error(`${fn}: level must be in (0, 1), got ${String(level)}`);
  const seed = o.seed ?? 42;
  if (typeof seed !== 'number' && typeof seed !== 'string') throw new Error(`${fn}: seed must be a number or a string, got ${typeof seed}`);
  const statistic = o.statistic ?? meanStatistic;
  if (typeof statistic !== 'function') throw new Error(`${fn}: statistic must be a function`);
  return { iterations, seed, level, statistic };
}

function toArray(fn: string, name: string, values: readonly number[] | Float64Array): Float64Array {
  if (!Array.isArray(values) && !(values instanceof Float64Array)) throw new Error(`${fn}: ${name} must be an array of numbers`);
  const out = Float64Array.from(values as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    const v = (values as ArrayLike<unknown>)[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${fn}: ${name}[${i}] is ${String(v)}, not a finite number`);
  }
  return out;
}

/** Quantile with linear interpolation between order statistics (numpy's default, Hyndman-Fan type 7). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (!n) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}


/** Sample standard deviation (n − 1), 0 below two values: the bootstrap standard error of the replicates. */
export function sampleSd(x: Float64Array): number {
  if (x.length < 2) return 0;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  return Math.sqrt(ss / (x.length - 1));
}

function tooFew(n: number): string {
  return `${n} value(s): a bootstrap of fewer than ${MIN_BOOTSTRAP_VALUES} values cannot vary, so the interval is NaN`;
}

/** Percentile interval [(1 − level)/2, (1 + level)/2] and standard error of bootstrap replicates. */
export function percentileInterval(reps: Float64Array, level: number): { lo: number; hi: number; se: number } {
  const sorted = Float64Array.from(reps).sort();
  const a = (1 - level) / 2;
  return { lo: quantile(sorted, a), hi: quantile(sorted, 1 - a), se: sampleSd(reps) };
}

/**
 * Percentile bootstrap interval of `statistic(values)` (default the mean). Values must be finite numbers.
 * The same values, options and seed always give the same interval.
 */
export function bootstrapCi(values: readonly number[] | Float64Array, opts?: BootstrapOptions): BootstrapCi {
  const o = resolveBootstrapOptions('bootstrapCi', opts);
  const x = toArray('bootstrapCi', 'values', values);
  const n = x.length;
  const estimate = n ? o.statistic(x) : NaN;
  const base = { estimate, n, iterations: o.iterations, level: o.level, seed: o.seed };
  if (n < MIN_BOOTSTRAP_VALUES) return { ...base, lo: NaN, hi: NaN, se: NaN, warning: tooFew(n) };
  const rng = makeRng(o.seed);
  const reps = new Float64Array(o.iterations);
  const sample = new Float64Array(n);
  for (let b = 0; b < o.iterations; b++) {
    for (let k = 0; k < n; k++) sample[k] = x[Math.floor(rng() * n)];
    reps[b] = o.statistic(Float64Array.from(sample));
  }
  return { ...base, ...percentileInterval(reps, o.level) };
}

/**
 * Paired percentile bootstrap of statistic(a) − statistic(b) for two methods measured on the same items
 * (`a[i]` and `b[i]` belong to item i): every replicate resamples the SAME item indices for both, so the interval
 * reflects the per-item correlation (much narrower than two independent intervals when the methods agree on most
 * items). Throws when the lengths differ.
 */
export function pairedBootstrapCi(a: readonly number[] | Float64Array, b: readonly number[] | Float64Array, opts?: BootstrapOptions): PairedBootstrapCi {
  const o = resolveBootstrapOptions('pairedBootstrapCi', opts);
  const xa = toArray('pairedBootstrapCi', 'a', a);
  const xb = toArray('pairedBootstrapCi', 'b', b);
  if (xa.length !== xb.length) throw new Error(`pairedBootstrapCi: a and b must hold one value per item each, got ${xa.length} and ${xb.length}`);
  const n = xa.length;
  const sa = n ? o.statistic(xa) : NaN;
  const sb = n ? o.statistic(xb) : NaN;
  const d = sa - sb;
  const base = { estimate: d, a: sa, b: sb, n, iterations: o.iterations, level: o.level, seed: o.seed };
  if (n < MIN_BOOTSTRAP_VALUES) return { ...base, lo: NaN, hi: NaN, se: NaN, p: NaN, warning: tooFew(n) };
  const rng = makeRng(o.seed);
  const reps = new Float64Array(o.iterations);
  const ra = new Float64Array(n);
  const rb = new Float64Array(n);
  for (let it = 0; it < o.iterations; it++) {
    for (let k = 0; k < n; k++) {
      const i = Math.floor(rng() * n);
      ra[k] = xa[i];
      rb[k] = xb[i];
    }
    reps[it] = o.statistic(Float64Array.from(ra)) - o.statistic(Float64Array.from(rb));
  }
  let extreme = 0;
  const tol = 1e-12;
  for (const v of reps) if (Math.abs(v - d) >= Math.abs(d) - tol) extreme++;
  return { ...base, ...percentileInterval(reps, o.level), p: (1 + extreme) / (o.iterations + 1) };
}
