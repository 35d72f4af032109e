/**
 * Next-token choice for generation: greedy (temperature 0) or temperature + nucleus (top-p) sampling with a seeded
 * generator, so the same seed, prompt and options give the same tokens (the paper samples 4 responses per prompt
 * at T = 0.7; `DPO/ours.py` seeds torch once with 42).
 */
import type { Rng } from '../util/rng';

/** The seeded generator lives in `lib/util/rng.ts` (ground floor); re-exported here for existing imports. */
export { makeRng, type Rng } from '../util/rng';

/** Index of the largest logit (the first one on ties, like torch.argmax). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/**
 * Pick the next token from unnormalised `logits` (log-probabilities work too).
 * temperature 0 → argmax; otherwise softmax(logits / T), keep the smallest set of most probable tokens whose mass
 * reaches `topP` (the token that crosses the threshold is kept, as in HF TopPLogitsWarper), renormalise, sample.
 */
export function pickToken(logits: ArrayLike<number>, opts: { temperature?: number; topP?: number; rng?: Rng }): number {
  const temperature = opts.temperature ?? 0;
  if (!(temperature >= 0)) throw new Error(`temperature must be >= 0, got ${temperature}`);
  if (temperature === 0) return argmax(logits);
  const topP = opts.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${topP}`);
  const rng = opts.rng ?? Math.random;
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += probs[i] = Math.exp((logits[i] - max) / temperature);
  let order: number[];
  if (topP < 1) {
    order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
    let mass = 0;
    let keep = 0;
    while (keep < n && mass < topP * sum) mass += probs[order[keep++]];
    order = order.slice(0, Math.max(1, keep));
    sum = mass;
  } else {
    order = Array.from({ length: n }, (_, i) => i);
  }
  let u = rng() * sum;
  for (const i of order) {
    u -= probs[i];
    if (u < 0) return i;
  }
  return order[order.length - 1];
}
