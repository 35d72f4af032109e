/**
 * Scoring preference rows under EXPLICIT templates (not looked up by subset): what the prompt search and the prompt
 * ablations share. Every call goes through `scorePairs`, so each (template, pair, scorer options) is cached by
 * content hash, and outcomes keep the row's `id` and `subset`.
 */
import type { PairResult, PreferencePair } from '../data/types';
import type { CausalLM } from '../models/types';
import { scorePairs } from '../scoring/score-pairs';
import type { IpoPair, IpoPairScore, IpoPreset, IpoTruncation } from '../scoring/yes-no';
import type { PairOutcome } from './rewardbench-score';

/** The fields of a RewardBench row the search and the ablations need: a `PreferencePair` (a `RewardBenchRow` is one). */
export type PreferenceRow = PreferencePair;

/** Scorer knobs shared by the search and the ablations (all passed to `scorePairs`). */
export interface ScorerKnobs {
  /** Default `'paper'`. */
  preset?: IpoPreset;
  /** Default `'right'` (the official truncation). */
  truncation?: IpoTruncation;
  /** Default 1024 (the official value). */
  maxLength?: number;
  /** Set false to bypass the score cache. */
  cache?: boolean;
}

/** The IPO pair of a row under an explicit template (not looked up by subset). */
export function pairOf(r: PreferenceRow, template: string): IpoPair {
  // The official loop passes item['prompt'] as the instruction; the template is explicit (not looked up by subset).
  return { instruction: r.prompt, chosen: r.chosen, rejected: r.rejected, template };
}

/** The row's key next to its scores and decision (`PairResult`). */
export function outcomeOf(r: PreferenceRow, s: IpoPairScore): PairResult {
  return { subset: r.subset, id: r.id, correct: s.correct, tie: s.tie, chosen: s.chosen.pYes, rejected: s.rejected.pYes };
}

/** A batch of (rows, template) jobs scored in ONE `scorePairs` call (one progress bar), results split back per job. */
export async function scoreJobs(
  model: CausalLM,
  jobs: { rows: readonly PreferenceRow[]; template: string }[],
  knobs: ScorerKnobs,
  label: string,
): Promise<{ outcomes: PairOutcome[][]; cached: number }> {
  const pairs: IpoPair[] = [];
  for (const j of jobs) for (const r of j.rows) pairs.push(pairOf(r, j.template));
  if (pairs.length === 0) return { outcomes: jobs.map(() => []), cached: 0 };
  const res = await scorePairs(model, pairs, {
    preset: knobs.preset ?? 'paper',
    truncation: knobs.truncation ?? 'right',
    maxLength: knobs.maxLength,
    cache: knobs.cache,
    label,
  });
  const outcomes: PairOutcome[][] = [];
  let at = 0;
  for (const j of jobs) {
    outcomes.push(j.rows.map((r, i) => outcomeOf(r, res.scores[at + i])));
    at += j.rows.length;
  }
  return { outcomes, cached: res.cached };
}

/** Pairs marked correct. */
export function countCorrect(outcomes: readonly PairOutcome[]): number {
  let c = 0;
  for (const o of outcomes) if (o.correct) c++;
  return c;
}

/** correct / n, NaN for no rows (tie = wrong, as every official script). */
export function accuracyOf(outcomes: readonly PairOutcome[]): number {
  return outcomes.length ? countCorrect(outcomes) / outcomes.length : NaN;
}
