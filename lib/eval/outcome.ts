/**
 * The one tie rule of the kit (design review §3.3): a pair is correct iff score(chosen) > score(rejected) STRICTLY;
 * equal scores are a tie and count as wrong. This is `Reward_Bench/ours.py` (`chosen_yes_prob > rejected_yes_prob`),
 * `reward_model.py` and reward-bench `scripts/run_rm.py` (shared doc §2.1 step 7, §9 quirk #7). A tie is reported
 * separately so that `tiePolicy: 'half'` (`run_generative.py`) can give it 0.5 later (`rewardbench-score.ts`).
 *
 * A side without a score (`null`: a judge's unparsed answer in fixed mode) makes the pair neither correct nor a tie.
 * NaN compares as JavaScript does (never correct, never a tie), which is what the raw `>` / `===` gave before.
 *
 * Pure and import-free, so the scorers (`lib/scoring/*`) and the metrics both use it.
 */

export interface Outcome {
  /** chosen > rejected, strictly */
  correct: boolean;
  /** chosen === rejected (both scored) */
  tie: boolean;
}

export function outcome(chosen: number | null | undefined, rejected: number | null | undefined): Outcome {
  if (chosen === null || chosen === undefined || rejected === null || rejected === undefined) return { correct: false, tie: false };
  return { correct: chosen > rejected, tie: chosen === rejected };
}
