/**
 * Token counts of the paper's scoring workloads, for the projections of docs/performance.md (`projection.ts`):
 * RewardBench filtered (2,985 pairs) and raw (5,123, what the official IPO code scores) and RM-Bench (1,327 items ×
 * 3 style pairs), counted with a model's tokenizer on the data that is on disk.
 *
 * What is counted and what is extrapolated (the `note` of each workload says it too): the rebuilt RewardBench subsets
 * (`lib/data/rewardbench-rebuild.ts`) are counted and scaled per subset to the official subset sizes
 * (`FILTERED_SUBSET_SIZES` / `RAW_SUBSET_SIZES`); the subsets that cannot be rebuilt offline (mt-bench-*,
 * refusals-*, donotanswer, math-prm: 888 filtered rows) are taken at the mean of the counted pairs. RM-Bench: the
 * four local domain files are counted and scaled to `RMBENCH_EXPECTED_ROWS`; math (529 items, not on disk) at the
 * counted mean.
 */
import { rebuildRewardBench } from '../data/rewardbench-rebuild';
import { loadRmBenchLocal, RMBENCH_EXPECTED_ROWS, type RmBenchFileDomain } from '../data/rmbench';
import { FILTERED_SUBSET_SIZES, RAW_SUBSET_SIZES } from '../eval/rewardbench-constants';
import { ipoPairTokens, type PairTokenCount, type WorkloadTokens } from './projection';

interface Group {
  counts: PairTokenCount[];
  /** Pairs the group stands for in the full data set. */
  target: number;
}

/** Σ over groups of the group's counted sums × target / counted; uncounted groups at the overall mean. */
function extrapolate(name: string, groups: Map<string, Group>, missing: Record<string, number>, note: string): WorkloadTokens {
  let counted = 0, plainAll = 0, sharedAll = 0;
  for (const g of groups.values()) {
    counted += g.counts.length;
    for (const c of g.counts) {
      plainAll += c.chosen + c.rejected;
      sharedAll += c.chosen + c.rejected - c.shared;
    }
  }
  if (counted === 0) throw new Error(`${name}: no pairs could be counted (are the ../shared/assets sources present?)`);
  let pairs = 0, plain = 0, shared = 0;
  for (const g of groups.values()) {
    if (g.counts.length === 0) continue;
    const f = g.target / g.counts.length;
    pairs += g.target;
    for (const c of g.counts) {
      plain += f * (c.chosen + c.rejected);
      shared += f * (c.chosen + c.rejected - c.shared);
    }
  }
  for (const n of Object.values(missing)) {
    pairs += n;
    plain += (n * plainAll) / counted;
    shared += (n * sharedAll) / counted;
  }
  return { name, pairs, counted, plainTokens: plain, sharedTokens: shared, note };
}

/**
 * The three scoring workloads for one tokenizer (`encode` with special tokens, as the paper preset feeds the model).
 * `maxLength` as the scorer (default 1024, the official value; capped at the model's context by the caller).
 */
export function scoringWorkloads(encode: (text: string) => number[], opts: { maxLength?: number } = {}): WorkloadTokens[] {
  const maxLength = opts.maxLength ?? 1024;
  const bySubset = new Map<string, PairTokenCount[]>();
  for (const r of rebuildRewardBench().rows) {
    const c = ipoPairTokens(encode, { instruction: r.prompt, chosen: r.chosen, rejected: r.rejected, category: r.subset }, { maxLength });
    if (!bySubset.has(r.subset)) bySubset.set(r.subset, []);
    bySubset.get(r.subset)!.push(c);
  }
  const rewardbench = (sizes: Readonly<Record<string, number>>, name: string) => {
    const groups = new Map<string, Group>();
    const missing: Record<string, number> = {};
    for (const [subset, n] of Object.entries(sizes)) {
      const counts = bySubset.get(subset);
      if (counts?.length) groups.set(subset, { counts, target: n });
      else missing[subset] = n;
    }
    const miss = Object.values(missing).reduce((a, b) => a + b, 0);
    return extrapolate(name, groups, missing, `rebuilt subsets counted and scaled per subset; ${miss} pairs of ${Object.keys(missing).length} subsets not on disk at the counted mean`);
  };
  const items = loadRmBenchLocal().items;
  const byDomain = new Map<string, PairTokenCount[]>();
  for (const it of items) {
    const key = it.domain;
    if (!byDomain.has(key)) byDomain.set(key, []);
    for (let i = 0; i < 3; i++) {
      byDomain.get(key)!.push(ipoPairTokens(encode, { instruction: it.prompt, chosen: it.chosen[i], rejected: it.rejected[i], category: it.domain }, { layout: 'rmbench', maxLength }));
    }
  }
  const groups = new Map<string, Group>();
  const missing: Record<string, number> = {};
  for (const [domain, n] of Object.entries(RMBENCH_EXPECTED_ROWS) as [RmBenchFileDomain, number][]) {
    const counts = byDomain.get(domain);
    if (counts?.length) groups.set(domain, { counts, target: 3 * n });
    else missing[domain] = 3 * n;
  }
  return [
    rewardbench(FILTERED_SUBSET_SIZES, 'full RewardBench filtered (2,985 pairs)'),
    rewardbench(RAW_SUBSET_SIZES, 'full RewardBench raw (5,123 pairs)'),
    extrapolate('full RM-Bench (1,327 items × 3 pairs)', groups, missing, `local domain files counted and scaled; ${Object.keys(missing).join(', ') || 'nothing'} not on disk, at the counted mean`),
  ];
}
