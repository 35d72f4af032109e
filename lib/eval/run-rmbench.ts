/**
 * One RM-Bench experiment: every item has 3 chosen and 3 rejected responses in three styles (concise, detailed plain,
 * detailed markdown); each of the 6 responses is scored once, then the official 3×3 grid gives easy / normal / hard
 * (`lib/eval/rmbench-metrics.ts`) and the IPO code's diagonal `level_1..3` is reported as its faithful mode.
 *
 * IPO on RM-Bench uses `RM_Bench/ours.py`'s layout: the Yes/No question comes AFTER the response
 * (`"Given the following:\n    User : …\n    Response : …\n    " + TEMPLATE`), one template per dataset.
 * Scores are obtained through the same method registry and cached pair loops as RewardBench
 * (`lib/scoring/methods.ts`): pair i of an item = (chosen[i], rejected[i]), keyed by the item's id and domain.
 */
import { displayPath } from '../util/paths';
import type { PreferencePair } from '../data/types';
import { loadRmBench, type LoadRmBenchOptions, type RmBenchItem, type RmBenchLoad } from '../data/rmbench';
import { getMethod, type MethodName, type ScoringModel } from '../scoring/methods';
import type { IpoPreset, IpoTruncation } from '../scoring/yes-no';
import { truncationSummary, type TruncationSummary } from './truncation-summary';
import { bootstrapRmBench, type RmBenchBootstrap } from './rmbench-bootstrap';
import { ipoLevels, rmBenchReport, type IpoLevels, type RmBenchScored, type RmBenchSummary } from './rmbench-metrics';

export type RmBenchMethod = Extract<MethodName, 'ipo' | 'self-reward' | 'rm'>;
export const RMBENCH_METHODS: readonly RmBenchMethod[] = ['ipo', 'self-reward', 'rm'];

export interface RmBenchRunOptions extends LoadRmBenchOptions {
  method?: RmBenchMethod;
  preset?: IpoPreset;
  truncation?: IpoTruncation;
  /** ipo only: sequences per engine call (unset: pair by pair, fastest on a CPU; see `scorePairBatch`). */
  batchSize?: number;
  /** ipo only: run each pair's common prefix once (default true; same numbers to 1e-5). */
  prefixReuse?: boolean;
  mode?: 'faithful' | 'fixed';
  maxNewTokens?: number;
  label?: string;
}

export interface RmBenchRun {
  model: string;
  method: RmBenchMethod;
  settings: Record<string, unknown>;
  load: RmBenchLoad;
  scored: RmBenchScored[];
  /** official grouping: safety-refuse + safety-response pooled into safety */
  pooled: RmBenchSummary;
  /** one grid per data file */
  perFile: RmBenchSummary;
  /** the IPO official code's output: diagonal accuracies in % per data file */
  diagonal: Record<string, IpoLevels>;
  /** ipo on a local model: prompts truncation shortened / whose Yes/No question it cut (`null` otherwise). */
  truncation: TruncationSummary | null;
  cached: number;
  /** 95% intervals of the pooled scores: items resampled within domains, 1000 replicates, the slice seed */
  intervals: RmBenchBootstrap;
}

/** Scores of the 6 responses of every item: `scoreChosen[i]`, `scoreRejected[i]`. */
export async function scoreRmBenchItems(model: ScoringModel, items: RmBenchItem[], opts: RmBenchRunOptions = {}): Promise<{ scored: RmBenchScored[]; cached: number; truncation: TruncationSummary | null }> {
  const method = getMethod(opts.method ?? 'ipo', RMBENCH_METHODS);
  // pair k = item ⌊k/3⌋, style k mod 3
  const pairs: PreferencePair[] = items.flatMap((it) => [0, 1, 2].map((i) => ({ id: it.id, subset: it.domain, prompt: it.prompt, chosen: it.chosen[i], rejected: it.rejected[i] })));
  const r = await method.scorePairs(model, pairs, {
    preset: opts.preset, truncation: opts.truncation, layout: 'rmbench', batchSize: opts.batchSize, prefixReuse: opts.prefixReuse,
    mode: opts.mode, maxNewTokens: opts.maxNewTokens, parser: 'rmbench',
    // an unparsed fixed-mode score never wins a comparison: -Infinity keeps `>` false against anything
    unparsedScore: -Infinity,
    label: opts.label ?? `RM-Bench ${method.name}`,
  });
  const chosen = r.results.map((x) => x.chosen as number);
  const rejected = r.results.map((x) => x.rejected as number);
  const scored = items.map((it, n) => ({
    id: it.id,
    domain: it.domain,
    scoreChosen: chosen.slice(3 * n, 3 * n + 3),
    scoreRejected: rejected.slice(3 * n, 3 * n + 3),
  }));
  return { scored, cached: r.cached, truncation: truncationSummary(r.results) };
}

export async function runRmBench(model: ScoringModel, opts: RmBenchRunOptions = {}): Promise<RmBenchRun> {
  const spec = getMethod(opts.method ?? 'ipo', RMBENCH_METHODS);
  const method = spec.name as RmBenchMethod;
  const load = await loadRmBench(opts);
  const { scored, cached, truncation } = await scoreRmBenchItems(model, load.items, opts);
  const { pooled, perFile } = rmBenchReport(scored);
  const settings: Record<string, unknown> = {
    method, limitPerDomain: opts.limitPerDomain ?? null, seed: opts.seed ?? 42,
    ...spec.settings({ preset: opts.preset, truncation: opts.truncation, layout: 'rmbench', mode: opts.mode }),
  };
  return { model: displayPath(model.ref), method, settings, load, scored, pooled, perFile, diagonal: ipoLevels(scored), truncation, cached,
    intervals: bootstrapRmBench(scored, { seed: opts.seed ?? 42 }) };
}

/** The `ipo rmbench --json` shape (fractions; `diagonal` in % as the official IPO JSON). */
export function rmBenchRunJson(run: RmBenchRun): Record<string, unknown> {
  const domains = Object.fromEntries(run.pooled.present.map((d) => {
    const g = run.pooled.groups[d];
    return [d, { easy: g.easy, normal: g.normal, hard: g.hard, avg: g.avg, n: g.n }];
  }));
  const perFile = Object.fromEntries(run.perFile.present.map((d) => {
    const g = run.perFile.groups[d];
    return [d, { easy: g.easy, normal: g.normal, hard: g.hard, avg: g.avg, n: g.n }];
  }));
  return {
    domains,
    easy: run.pooled.easy,
    normal: run.pooled.normal,
    hard: run.pooled.hard,
    overall: run.pooled.overall,
    // 95% percentile intervals (stratified bootstrap, lib/eval/rmbench-bootstrap.ts); null where a domain has 1 item
    intervals: intervalsJson(run.intervals),
    missingDomains: run.pooled.missing,
    perFile,
    diagonal: run.diagonal,
    model: run.model,
    method: run.method,
    settings: run.settings,
    dropped: run.load.dropped.length,
    truncation: run.truncation,
  };
}

function intervalsJson(b: RmBenchBootstrap): Record<string, unknown> {
  const ci = (c: { lo: number; hi: number }) => (Number.isNaN(c.lo) ? null : [c.lo, c.hi]);
  return {
    level: b.level, iterations: b.iterations, seed: b.seed,
    domains: Object.fromEntries(Object.entries(b.domains).map(([d, c]) => [d, ci(c)])),
    easy: ci(b.easy), normal: ci(b.normal), hard: ci(b.hard), overall: ci(b.overall),
    ...(b.warning ? { warning: b.warning } : {}),
  };
}
