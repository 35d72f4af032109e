/**
 * The data contract between the loaders and everything downstream (design review §3.5): a preference pair carries
 * its key `{id, subset}` from the loader to the accuracy, as reward-bench keeps its `results` column next to `id`
 * and `subset` (`scripts/run_rm.py` l.337-341). Scorers read `prompt`/`chosen`/`rejected` and return scores only;
 * `lib/eval/outcome.ts` decides correct / tie; the result keeps the pair's `id` and `subset`, so nothing is re-joined
 * by position.
 */
import { describe } from '../util/check';

/** One (prompt, chosen, rejected) comparison with its key. A `RewardBenchRow` is one. */
export interface PreferencePair {
  /** Unique within a subset for RewardBench (the dataset's `id`); kept so two runs can be aligned by key. */
  id: string | number;
  /** The subset (RewardBench) or domain (RM-Bench) the pair belongs to; picks the IPO template. */
  subset: string;
  /** The user instruction (RewardBench's `prompt` column). */
  prompt: string;
  chosen: string;
  rejected: string;
}

/**
 * A scored pair: the pair's key, the method's two scores (absent for a judge that gives a verdict only, such as
 * the binary judge) and the decision. `S` is the method's own score record, when a caller keeps it.
 */
export interface PairResult<S = undefined> {
  id: string | number;
  subset: string;
  /** The method's score of the chosen response (P(Yes) for IPO, the rubric score, the reward). */
  chosen?: number;
  rejected?: number;
  /** chosen strictly preferred (see `outcome`). */
  correct: boolean;
  /** equal scores: never counted in `correct`. */
  tie: boolean;
  /** ipo only: how many of the pair's two prompts truncation shortened (0–2). */
  truncated?: number;
  /** ipo only: how many of them lost (part of) the marker after the response, e.g. "Answer just Yes/No" (0–2). */
  markerCut?: number;
  /** The method's full score record (e.g. `IpoPairScore`), when kept. */
  detail?: S;
}

/** Throws a one-line error naming the first row that is not a `PreferencePair` (extra fields are fine). */
export function checkPreferencePairs(fn: string, rows: readonly PreferencePair[]): void {
  if (!Array.isArray(rows)) throw new Error(`${fn}: rows must be an array, got ${describe(rows)}`);
  rows.forEach((r, i) => {
    if (r === null || typeof r !== 'object') throw new Error(`${fn}: rows[${i}] must be an object, got ${describe(r)}`);
    if (typeof r.subset !== 'string' || !r.subset) throw new Error(`${fn}: rows[${i}].subset must be a non-empty string`);
    if (typeof r.id !== 'string' && typeof r.id !== 'number') throw new Error(`${fn}: rows[${i}].id must be a string or number, got ${describe(r.id)}`);
    for (const f of ['prompt', 'chosen', 'rejected'] as const) {
      if (typeof r[f] !== 'string') throw new Error(`${fn}: rows[${i}].${f} must be a string, got ${describe(r[f])}`);
    }
  });
}

/** Subsets in order of first appearance. */
export function subsetsOf(rows: readonly { subset: string }[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) seen.add(r.subset);
  return [...seen];
}
