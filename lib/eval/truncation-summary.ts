/**
 * How much of a run the model read whole (issue 11): the official IPO code truncates every prompt to 1024 ids from
 * the RIGHT (`ours.py`: `tokenizer.encode(prompt, max_length=1024, truncation=True)`), which on long pairs cuts the
 * marker the answer follows (`"\n    "` after the response in RewardBench's layout; the Yes/No question itself in
 * RM-Bench's), so " Yes"/" No" are read straight after a cut-off response. Every run summary, its JSON and the
 * notebook tables carry these counts, so a number never hides how many of its prompts were read that way.
 */
import type { PairResult } from '../data/types';

export interface TruncationSummary {
  /** Prompts scored (two per pair). */
  prompts: number;
  /** Prompts that truncation shortened. */
  truncated: number;
  /** Of those, prompts whose marker (the template's text after the response) was cut. */
  markerCut: number;
  /** Pairs with at least one truncated prompt. */
  pairs: number;
}

/** Counts over `outcomes`; `null` when no outcome carries truncation counts (the judges, reward models, chat APIs). */
export function truncationSummary(outcomes: readonly Pick<PairResult, 'truncated' | 'markerCut'>[]): TruncationSummary | null {
  if (!outcomes.some((o) => typeof o.truncated === 'number')) return null;
  const s: TruncationSummary = { prompts: 2 * outcomes.length, truncated: 0, markerCut: 0, pairs: 0 };
  for (const o of outcomes) {
    s.truncated += o.truncated ?? 0;
    s.markerCut += o.markerCut ?? 0;
    if ((o.truncated ?? 0) > 0) s.pairs++;
  }
  return s;
}

/**
 * One line for a text summary, e.g. "truncated prompts: 30 of 128 (13 pairs; the marker after the response cut in 30; --truncation keep-marker
 * keeps it)", or "truncated prompts: none of 128". `null` gives "".
 */
export function formatTruncation(s: TruncationSummary | null, mode = 'right'): string {
  if (!s) return '';
  if (s.truncated === 0) return `truncated prompts: none of ${s.prompts}`;
  const hint = s.markerCut > 0 && mode !== 'keep-marker' ? '; --truncation keep-marker keeps it' : '';
  return `truncated prompts: ${s.truncated} of ${s.prompts} (${s.pairs} pair${s.pairs === 1 ? "" : "s"}; the marker after the response cut in ${s.markerCut}${hint})`;
}
