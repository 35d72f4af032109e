/**
 * Seeded, paired, stratified bootstrap for RewardBench reports (shared doc §7): pairs are resampled with replacement
 * WITHIN each subset (so every subset keeps its size and the section weights stay meaningful), and every number of
 * `reportMetrics` is recomputed per replicate. `pairedBootstrapDiff` resamples the SAME pairs for two runs (aligned
 * by `id` within a subset), which is what makes a difference between two methods on the same rows testable.
 */
import { makeRng } from '../util/rng';
import { quantile, sampleSd } from './bootstrap';

export { quantile };
import { EXAMPLE_COUNTS } from './rewardbench-constants';
import {
  pairValue, reportFromSubsets, reportMetrics, rewardBenchReport,
  type PairOutcome, type ReportOptions, type RewardBenchReport, type SubsetStat, type TiePolicy,
} from './rewardbench-score';

// ------------------------------------------------------------------------------------------------------------------
// Paired, stratified bootstrap
// ------------------------------------------------------------------------------------------------------------------

export interface BootstrapOptions extends ReportOptions {
  /** replicates (default 1000) */
  B?: number;
  /** seed of `makeRng` (default 42) */
  seed?: number | string;
  /** interval coverage (default 0.95) */
  level?: number;
}

export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** bootstrap standard error (sample sd of the replicates) */
  se: number;
}

export interface BootstrapResult {
  B: number;
  seed: number | string;
  level: number;
  /** pairs in the smallest subset; below 2 the within-subset resampling cannot vary and every interval is NaN */
  minStratumSize: number;
  /** set when the intervals are not meaningful (one line, for display) */
  warning?: string;
  report: RewardBenchReport;
  /** `reportMetrics` name → point estimate and percentile interval */
  intervals: Record<string, Interval>;
}

interface Stratum {
  subset: string;
  /** per-pair values of each run, aligned */
  values: Float64Array[];
  correct: Uint8Array[];
  tie: Uint8Array[];
}

/** Groups aligned runs by subset (sorted by name, so the RNG stream does not depend on the input order of subsets). */
function strata(runs: readonly (readonly PairOutcome[])[], tiePolicy: TiePolicy): Stratum[] {
  const idx = new Map<string, number[]>();
  runs[0].forEach((o, i) => {
    const list = idx.get(o.subset);
    if (list) list.push(i);
    else idx.set(o.subset, [i]);
  });
  return [...idx.keys()].sort().map((subset) => {
    const rows = idx.get(subset) as number[];
    const values: Float64Array[] = [];
    const correct: Uint8Array[] = [];
    const tie: Uint8Array[] = [];
    for (const run of runs) {
      const v = new Float64Array(rows.length);
      const c = new Uint8Array(rows.length);
      const t = new Uint8Array(rows.length);
      rows.forEach((r, k) => {
        const p = pairValue(run[r], tiePolicy);
        v[k] = p.value;
        c[k] = p.correct ? 1 : 0;
        t[k] = p.tie ? 1 : 0;
      });
      values.push(v);
      correct.push(c);
      tie.push(t);
    }
    return { subset, values, correct, tie };
  });
}

/**
 * Replicates: in each, every subset's pairs are resampled with replacement (same size, stratified by subset), the
 * SAME indices for every run (paired), and `reportMetrics` is recomputed for each run.
 */
function replicate(
  runs: readonly (readonly PairOutcome[])[],
  opts: BootstrapOptions,
  onReplicate: (metrics: Record<string, number>[]) => void,
): void {
  const tiePolicy = opts.tiePolicy ?? 'wrong';
  const counts = opts.exampleCounts ?? EXAMPLE_COUNTS;
  const B = opts.B ?? 1000;
  if (!(Number.isInteger(B) && B >= 1)) throw new Error(`B must be a positive integer, got ${B}`);
  const rng = makeRng(opts.seed ?? 42);
  const st = strata(runs, tiePolicy);
  for (let b = 0; b < B; b++) {
    const subsets: Record<string, SubsetStat>[] = runs.map(() => ({}));
    for (const s of st) {
      const n = s.values[0].length;
      const sums = new Float64Array(runs.length);
      const nCorrect = new Uint32Array(runs.length);
      const nTie = new Uint32Array(runs.length);
      for (let k = 0; k < n; k++) {
        const i = Math.floor(rng() * n);
        for (let r = 0; r < runs.length; r++) {
          sums[r] += s.values[r][i];
          nCorrect[r] += s.correct[r][i];
          nTie[r] += s.tie[r][i];
        }
      }
      for (let r = 0; r < runs.length; r++) {
        subsets[r][s.subset] = { subset: s.subset, n, correct: nCorrect[r], ties: nTie[r], accuracy: sums[r] / n };
      }
    }
    onReplicate(subsets.map((sub) => reportMetrics(reportFromSubsets(sub, tiePolicy, counts))));
  }
}

/**
 * A subset with a single pair resamples to itself in every replicate, so a stratified bootstrap over such data
 * reports intervals that are too narrow (zero-width when every subset has one pair) and p-values that look
 * significant. Below two pairs per subset the kit reports NaN instead of a false precision.
 */
const MIN_STRATUM_SIZE = 2;

function smallestStratum(outcomes: readonly PairOutcome[]): number {
  const n = new Map<string, number>();
  for (const o of outcomes) n.set(o.subset, (n.get(o.subset) ?? 0) + 1);
  return n.size ? Math.min(...n.values()) : 0;
}

function stratumWarning(min: number): string | undefined {
  return min < MIN_STRATUM_SIZE ? `a subset has ${min} pair(s): the within-subset bootstrap cannot vary, so intervals and p-values are NaN (score at least ${MIN_STRATUM_SIZE} pairs per subset)` : undefined;
}

function intervalOf(estimate: number, reps: Float64Array, level: number): Interval {
  const sorted = Float64Array.from(reps).sort();
  const a = (1 - level) / 2;
  return { estimate, lo: quantile(sorted, a), hi: quantile(sorted, 1 - a), se: sampleSd(reps) };
}

/**
 * Percentile bootstrap intervals for every number of `rewardBenchReport(outcomes)`: B replicates (default 1000),
 * pairs resampled with replacement within each subset, seeded (`makeRng(seed)`, default 42), so the same outcomes
 * and seed give the same intervals.
 */
export function bootstrapRewardBench(outcomes: readonly PairOutcome[], opts: BootstrapOptions = {}): BootstrapResult {
  const level = opts.level ?? 0.95;
  const B = opts.B ?? 1000;
  const report = rewardBenchReport(outcomes, opts);
  const point = reportMetrics(report);
  const names = Object.keys(point);
  const reps = Object.fromEntries(names.map((k) => [k, new Float64Array(B)]));
  let b = 0;
  replicate([outcomes], opts, ([m]) => {
    for (const k of names) reps[k][b] = m[k];
    b++;
  });
  const minStratumSize = smallestStratum(outcomes);
  const warning = stratumWarning(minStratumSize);
  const intervals = Object.fromEntries(names.map((k) => [k, warning ? { estimate: point[k], lo: NaN, hi: NaN, se: NaN } : intervalOf(point[k], reps[k], level)]));
  return { B, seed: opts.seed ?? 42, level, minStratumSize, ...(warning ? { warning } : {}), report, intervals };
}

export interface DiffInterval {
  a: number;
  b: number;
  /** a − b */
  diff: number;
  lo: number;
  hi: number;
  se: number;
  /** two-sided bootstrap p-value of diff = 0 */
  p: number;
}

export interface PairedDiffResult {
  B: number;
  seed: number | string;
  level: number;
  /** pairs in the smallest subset; below 2 every interval and p-value is NaN (see `warning`) */
  minStratumSize: number;
  warning?: string;
  reportA: RewardBenchReport;
  reportB: RewardBenchReport;
  /** `reportMetrics` name → difference a − b with its interval and p-value */
  diffs: Record<string, DiffInterval>;
}

/** Puts `b` in the order of `a`: by (subset, id) when every outcome has an id, else by position (subsets must agree). */
function alignPairs(a: readonly PairOutcome[], b: readonly PairOutcome[]): PairOutcome[] {
  if (a.length !== b.length) throw new Error(`paired runs differ in size: ${a.length} vs ${b.length} pairs`);
  const withIds = a.every((o) => o.id !== undefined) && b.every((o) => o.id !== undefined);
  if (!withIds) {
    a.forEach((o, i) => {
      if (o.subset !== b[i].subset) throw new Error(`paired runs disagree at pair ${i}: subset '${o.subset}' vs '${b[i].subset}' (give ids to align)`);
    });
    return [...b];
  }
  const key = (o: PairOutcome) => `${o.subset}\u0000${String(o.id)}`;
  const byKey = new Map<string, PairOutcome>();
  for (const o of b) {
    if (byKey.has(key(o))) throw new Error(`duplicate pair id '${String(o.id)}' in subset '${o.subset}'`);
    byKey.set(key(o), o);
  }
  const seen = new Set<string>();
  return a.map((o) => {
    const k = key(o);
    if (seen.has(k)) throw new Error(`duplicate pair id '${String(o.id)}' in subset '${o.subset}'`);
    seen.add(k);
    const m = byKey.get(k);
    if (!m) throw new Error(`pair '${String(o.id)}' of subset '${o.subset}' is missing from the second run`);
    return m;
  });
}

/**
 * Two methods scored on the SAME pairs: the difference a − b of every report number, with a paired percentile
 * bootstrap interval (the same resampled pairs for both runs, stratified by subset) and a two-sided p-value from the
 * null-centred bootstrap distribution: p = (1 + #{|d*ᵦ − d̂| ≥ |d̂|}) / (B + 1), so identical runs give p = 1 and the
 * smallest possible p is 1/(B+1).
 */
export function pairedBootstrapDiff(a: readonly PairOutcome[], b: readonly PairOutcome[], opts: BootstrapOptions = {}): PairedDiffResult {
  const level = opts.level ?? 0.95;
  const B = opts.B ?? 1000;
  const bAligned = alignPairs(a, b);
  const reportA = rewardBenchReport(a, opts);
  const reportB = rewardBenchReport(bAligned, opts);
  const ma = reportMetrics(reportA);
  const mb = reportMetrics(reportB);
  const names = Object.keys(ma).filter((k) => k in mb);
  const reps = Object.fromEntries(names.map((k) => [k, new Float64Array(B)]));
  let i = 0;
  replicate([a, bAligned], opts, ([ra, rb]) => {
    for (const k of names) reps[k][i] = ra[k] - rb[k];
    i++;
  });
  const minStratumSize = smallestStratum(a);
  const warning = stratumWarning(minStratumSize);
  const diffs: Record<string, DiffInterval> = {};
  for (const k of names) {
    const d = ma[k] - mb[k];
    if (warning) {
      diffs[k] = { a: ma[k], b: mb[k], diff: d, lo: NaN, hi: NaN, se: NaN, p: NaN };
      continue;
    }
    const iv = intervalOf(d, reps[k], level);
    let extreme = 0;
    const tol = 1e-12;
    for (const v of reps[k]) if (Math.abs(v - d) >= Math.abs(d) - tol) extreme++;
    diffs[k] = { a: ma[k], b: mb[k], diff: d, lo: iv.lo, hi: iv.hi, se: iv.se, p: (1 + extreme) / (B + 1) };
  }
  return { B, seed: opts.seed ?? 42, level, minStratumSize, ...(warning ? { warning } : {}), reportA, reportB, diffs };
}
