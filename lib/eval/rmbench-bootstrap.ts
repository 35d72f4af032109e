/**
 * Seeded, stratified percentile bootstrap for RM-Bench (the kit's addition; neither RM-Bench nor the IPO code reports
 * intervals). Items are resampled with replacement WITHIN each pooled domain (chat, math, code, safety), so every
 * domain keeps its size and the mean over domains keeps its meaning, and the official scoring (`rmBenchSummary`,
 * THU-KEG/RM-Bench `compute_accuracy`) is recomputed on every replicate. One item carries its 3 chosen and 3 rejected
 * scores, so all 9 grid comparisons of an item move together.
 *
 * Replicate b, for each domain d in `rmBenchSummary`'s order with n_d items: n_d indices `floor(u·n_d)`, u from one
 * `makeRng(seed)` stream. With one domain this is exactly `bootstrapCi` on the per-item domain scores (wins of the
 * 9 comparisons / 9), the cross-check in `test/rmbench-bootstrap.test.ts`. Intervals are the (1 ∓ level)/2 quantiles
 * (numpy's linear rule, `percentileInterval`), as everywhere in the kit.
 *
 * A domain with fewer than 2 items cannot vary under resampling: its intervals, and those of the means over domains,
 * are NaN and `warning` says so (as `bootstrapCi` and `bootstrapRewardBench` do).
 */
import { makeRng } from '../util/rng';
import { MIN_BOOTSTRAP_VALUES, percentileInterval, resolveBootstrapOptions, type BootstrapOptions } from './bootstrap';
import { rmBenchPooledDomain } from '../data/rmbench';
import { rmBenchSummary, type RmBenchScored } from './rmbench-metrics';

export interface RmBenchInterval {
  estimate: number;
  lo: number;
  hi: number;
  /** bootstrap standard error (sample sd of the replicates) */
  se: number;
}

export interface RmBenchBootstrap {
  iterations: number;
  seed: number | string;
  level: number;
  /** each present domain's score, mean(easy, normal, hard) */
  domains: Record<string, RmBenchInterval>;
  /** means over the present domains, as RM-Bench reports them */
  easy: RmBenchInterval;
  normal: RmBenchInterval;
  hard: RmBenchInterval;
  overall: RmBenchInterval;
  /** items in the smallest domain */
  minDomainSize: number;
  /** set when the intervals are NaN (a domain with fewer than 2 items) */
  warning?: string;
}

/** Replicates (default 1000), seed (default 42) and coverage (default 0.95), as `bootstrapCi` takes them. */
export type RmBenchBootstrapOptions = Omit<BootstrapOptions, 'statistic'>;

const MEANS = ['easy', 'normal', 'hard', 'overall'] as const;

/** Stratified bootstrap of the official (pooled) RM-Bench scores of `results`. */
export function bootstrapRmBench(results: readonly RmBenchScored[], opts: RmBenchBootstrapOptions = {}): RmBenchBootstrap {
  const { iterations, level, seed } = resolveBootstrapOptions('bootstrapRmBench', opts);
  if (!results.length) throw new Error('bootstrapRmBench: no items to resample');
  const summary = rmBenchSummary(results);
  // items per pooled domain, in the summary's (official) order so the RNG stream does not depend on the input order
  // of domains; within a domain the input order is kept
  const strata = summary.present.map((d) => results.filter((r) => rmBenchPooledDomain(r.domain) === d));
  const minDomainSize = Math.min(...strata.map((s) => s.length));
  const reps = {
    domains: summary.present.map(() => new Float64Array(iterations)),
    ...Object.fromEntries(MEANS.map((m) => [m, new Float64Array(iterations)])),
  } as { domains: Float64Array[] } & Record<(typeof MEANS)[number], Float64Array>;
  const varies = minDomainSize >= MIN_BOOTSTRAP_VALUES;
  if (varies) {
    const rng = makeRng(seed);
    const sample: RmBenchScored[] = [];
    for (let b = 0; b < iterations; b++) {
      sample.length = 0;
      for (const items of strata) for (let k = 0; k < items.length; k++) sample.push(items[Math.floor(rng() * items.length)]);
      const s = rmBenchSummary(sample);
      summary.present.forEach((d, j) => (reps.domains[j][b] = s.groups[d].avg));
      for (const m of MEANS) reps[m][b] = s[m];
    }
  }
  const nan = { lo: NaN, hi: NaN, se: NaN };
  const ci = (estimate: number, r: Float64Array): RmBenchInterval => ({ estimate, ...(varies ? percentileInterval(r, level) : nan) });
  const out: RmBenchBootstrap = {
    iterations, seed, level, minDomainSize,
    domains: Object.fromEntries(summary.present.map((d, j) => [d, ci(summary.groups[d].avg, reps.domains[j])])),
    easy: ci(summary.easy, reps.easy),
    normal: ci(summary.normal, reps.normal),
    hard: ci(summary.hard, reps.hard),
    overall: ci(summary.overall, reps.overall),
  };
  if (!varies) out.warning = `a domain has ${minDomainSize} item(s): a bootstrap of fewer than ${MIN_BOOTSTRAP_VALUES} items cannot vary, so the RM-Bench intervals are NaN`;
  return out;
}
