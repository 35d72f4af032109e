/**
 * One RewardBench experiment end to end: load rows → score every pair with a method → official metrics.
 * Used by `ipo rewardbench` and notebooks 01/02; every pair result is cached by content hash, so a rerun is instant.
 *
 * The methods (paper §4 baselines: `ipo`, `self-reward`, `binary`, `rm`) are the registry of
 * `lib/scoring/methods.ts`. The rows are `PreferencePair`s, and each method's results keep their `id` and `subset`,
 * which go straight into the metrics (`rewardBenchReport`).
 */
import { displayPath } from '../util/paths';
import type { PairResult } from '../data/types';
import { loadRewardBench, type RewardBenchRow } from '../data/rewardbench';
import { getMethod, METHOD_NAMES, type MethodName, type ScoringModel } from '../scoring/methods';
import type { BinarySummary, SelfRewardSummary } from '../scoring/judges';
import type { IpoPreset, IpoTruncation } from '../scoring/yes-no';
import { truncationSummary, type TruncationSummary } from './truncation-summary';
import { rewardBenchReport, type RewardBenchReport, type TiePolicy } from './rewardbench-metrics';
import { REWARDBENCH_ALL_SUBSETS, REWARDBENCH_SECTIONS } from './rewardbench-constants';

export type RewardBenchMethod = MethodName;
export const REWARDBENCH_METHODS: readonly RewardBenchMethod[] = METHOD_NAMES;

/** What `rm` needs from a reward model (see lib/scoring/methods.ts; `RewardModel` implements it). */
export type { PairScorer } from '../scoring/methods';

export interface RewardBenchRunOptions {
  /** `filtered` (leaderboard), `raw` (what the IPO code used), `rebuilt` (offline), or a file path. Default `filtered`. */
  source?: string;
  limitPerSubset?: number;
  seed?: number;
  subsets?: string[];
  method?: RewardBenchMethod;
  /** ipo only. Default `paper`. */
  preset?: IpoPreset;
  /** ipo only. Default `right` (official). */
  truncation?: IpoTruncation;
  /** ipo only: sequences per engine call (unset: pair by pair, fastest on a CPU; see `scorePairBatch`). */
  batchSize?: number;
  /** ipo only: run each pair's common prefix once (default true; same numbers to 1e-5). */
  prefixReuse?: boolean;
  /** judges and rm: faithful reproduces the official quirks, fixed repairs them. Default `faithful`. */
  mode?: 'faithful' | 'fixed';
  /** judges: tokens to generate (default 200 as the official scripts). */
  maxNewTokens?: number;
  tiePolicy?: TiePolicy;
  label?: string;
}

export interface RewardBenchRun {
  model: string;
  method: RewardBenchMethod;
  /** the knobs that shaped the numbers */
  settings: Record<string, unknown>;
  source: string;
  description: string;
  fidelity: Record<string, string>;
  missingSubsets: string[];
  malformed: { count: number; examples: { index: number; reason: string }[] };
  /** Rows whose subset is not one of RewardBench's 23, by name: scored, but in no section. */
  unknownSubsets: Record<string, number>;
  rows: RewardBenchRow[];
  /**
   * Per pair, with its `id` and `subset`. `chosen`/`rejected` hold the method's scores: P(Yes) for ipo, the rubric
   * score for self-reward (0 when unparsed in faithful mode, NaN when unparsed in fixed mode), the reward for rm,
   * absent for the binary judge.
   */
  outcomes: PairResult[];
  report: RewardBenchReport;
  /** ipo on a local model: how many prompts truncation shortened and how many lost the marker (`null` otherwise). */
  truncation: TruncationSummary | null;
  /** judges only: parse failures, prompt-echo matches, score counts / position bias */
  judgeSummary?: SelfRewardSummary | BinarySummary;
  cached: number;
}

/** Score `rows` with one method (`METHODS[method].scorePairs`); one outcome per row, in row order, keyed by id and subset. */
export async function scoreRewardBenchRows(
  model: ScoringModel,
  rows: RewardBenchRow[],
  opts: RewardBenchRunOptions = {},
): Promise<{ outcomes: PairResult[]; cached: number; judgeSummary?: SelfRewardSummary | BinarySummary }> {
  const method = getMethod(opts.method ?? 'ipo', REWARDBENCH_METHODS);
  const r = await method.scorePairs(model, rows, {
    preset: opts.preset, truncation: opts.truncation, batchSize: opts.batchSize, prefixReuse: opts.prefixReuse, mode: opts.mode, maxNewTokens: opts.maxNewTokens,
    label: opts.label ?? `RewardBench ${method.name}`,
  });
  return { outcomes: r.results, cached: r.cached, ...(r.judgeSummary ? { judgeSummary: r.judgeSummary } : {}) };
}

/**
 * Refuse a run that would measure nothing (issue 11: it used to print "score 0" and exit 0): no rows at all, or no
 * row of a RewardBench subset. Rows of unknown subsets are scored (they keep their own accuracy) but never enter a
 * section; they are returned by name and count so every summary can say so. Throws one line.
 */
export function checkMeasurable(rows: readonly RewardBenchRow[], source: string, malformed = 0): Record<string, number> {
  const why = malformed > 0 ? ` (${malformed} malformed row${malformed === 1 ? '' : 's'} skipped)` : '';
  if (rows.length === 0) throw new Error(`nothing to measure: ${source} has no usable rows${why}`);
  const known = new Set(REWARDBENCH_ALL_SUBSETS);
  const unknown: Record<string, number> = {};
  for (const r of rows) if (!known.has(r.subset)) unknown[r.subset] = (unknown[r.subset] ?? 0) + 1;
  const n = Object.values(unknown).reduce((a, b) => a + b, 0);
  if (n === rows.length) {
    const names = Object.keys(unknown).slice(0, 5).map((x) => `'${x}'`).join(', ');
    throw new Error(`nothing to measure: no row of ${source} has a RewardBench subset (found ${names}${Object.keys(unknown).length > 5 ? ', …' : ''}); known subsets: ${REWARDBENCH_ALL_SUBSETS.join(', ')}`);
  }
  return unknown;
}

/** Load, score and report. */
export async function runRewardBench(model: ScoringModel, opts: RewardBenchRunOptions = {}): Promise<RewardBenchRun> {
  const spec = getMethod(opts.method ?? 'ipo', REWARDBENCH_METHODS);
  const method = spec.name;
  const data = await loadRewardBench({ source: opts.source ?? 'filtered', limitPerSubset: opts.limitPerSubset, seed: opts.seed, subsets: opts.subsets });
  const unknownSubsets = checkMeasurable(data.rows, data.source, data.malformed.count);
  const { outcomes, cached, judgeSummary } = await scoreRewardBenchRows(model, data.rows, opts);
  const settings: Record<string, unknown> = {
    method, limitPerSubset: opts.limitPerSubset ?? null, seed: opts.seed ?? 42, tiePolicy: opts.tiePolicy ?? 'wrong',
    ...spec.settings({ preset: opts.preset, truncation: opts.truncation, mode: opts.mode }),
  };
  return {
    model: displayPath(model.ref),
    method,
    settings,
    source: data.source,
    description: data.description,
    fidelity: data.fidelity,
    missingSubsets: data.missingSubsets,
    malformed: data.malformed,
    unknownSubsets,
    rows: data.rows,
    outcomes,
    report: rewardBenchReport(outcomes, { tiePolicy: opts.tiePolicy }),
    truncation: truncationSummary(outcomes),
    ...(judgeSummary ? { judgeSummary } : {}),
    cached,
  };
}

/** The `ipo rewardbench --json` shape: accuracies are fractions in [0, 1]. */
export function rewardBenchRunJson(run: RewardBenchRun): Record<string, unknown> {
  const r = run.report;
  const subsets = Object.fromEntries(Object.values(r.subsets).map((s) => [s.subset, { accuracy: s.accuracy, n: s.n, correct: s.correct, ties: s.ties }]));
  const sections = Object.fromEntries(REWARDBENCH_SECTIONS.map((k) => [k, r.leaderboard.sections[k]]));
  const plain = r.paper.plain;
  return {
    subsets,
    sections,
    score: r.leaderboard.score,
    scorePresent: r.leaderboard.scorePresent,
    sectionsPresent: r.leaderboard.present,
    categories: { ...plain.categories, average: plain.average },
    categoriesWeighting: 'plain mean over subsets (grouping of Reward_Bench/reward_model.py; unverified as the paper’s)',
    overall: r.overall,
    n: r.n,
    ties: r.ties,
    source: run.source,
    fidelity: run.fidelity,
    missingSubsets: run.missingSubsets,
    malformed: run.malformed,
    unknownSubsets: run.unknownSubsets,
    truncation: run.truncation,
    model: run.model,
    method: run.method,
    settings: run.settings,
  };
}
