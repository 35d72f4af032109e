/**
 * Batches of token sequences as the trainers feed them to the TF engine — TRL's `DataCollatorForPreference`, in
 * miniature. A DPO micro-batch of k pairs is ONE forward pass over 2k rows, `[chosen₁ … chosen_k; rejected₁ …
 * rejected_k]` (TRL: "we do this to avoid doing two forward passes"; `logps.chunk(2)` splits it back).
 *
 * Rows are right-padded: causal attention keeps the padding invisible to every real position, and the completion
 * mask is 0 on padding and on the prompt, so only completion tokens reach the loss. For two toy rows:
 *
 *   prompt [5, 6], completion [7, 8, 2]      ids  [[5, 6, 7, 8, 2],     mask [[0, 0, 1, 1, 1],
 *   prompt [5],    completion [9, 2]               [5, 9, 2, 0, 0]]           [0, 1, 1, 0, 0]]
 *
 * `mask[b, t] = 1` means "the log-prob of ids[b, t] (predicted from position t−1) counts".
 */
import * as tf from '@tensorflow/tfjs';

/** One tokenized training row: prompt ids (BOS included when the tokenizer adds one) then completion ids. */
export interface TokenRow {
  promptIds: number[];
  completionIds: number[];
}

export interface CollatedBatch {
  /** `[B, T]` int32, right-padded with `padId`. */
  ids: tf.Tensor2D;
  /** `[B, T]` float32: 1 on completion tokens, 0 on prompt and padding. */
  mask: tf.Tensor2D;
  /** Completion tokens per row (`mask.sum(-1)`), on the host. */
  counts: number[];
}

/** Host-side arrays of a batch (what `collate` turns into tensors); exported for tests and docs. */
export function collateHost(rows: readonly TokenRow[], padId: number): { ids: Int32Array; mask: Float32Array; B: number; T: number; counts: number[] } {
  if (rows.length === 0) throw new Error('collate: empty batch');
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.promptIds.length + r.completionIds.length));
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Float32Array(B * T);
  const counts: number[] = [];
  rows.forEach((r, b) => {
    if (r.promptIds.length === 0) throw new Error(`collate: row ${b} has an empty prompt (the first completion token needs a position to be predicted from)`);
    const seq = [...r.promptIds, ...r.completionIds];
    ids.set(seq, b * T);
    for (let t = r.promptIds.length; t < seq.length; t++) mask[b * T + t] = 1;
    counts.push(r.completionIds.length);
  });
  return { ids, mask, B, T, counts };
}

export function collate(rows: readonly TokenRow[], padId: number): CollatedBatch {
  const h = collateHost(rows, padId);
  return { ids: tf.tensor2d(h.ids, [h.B, h.T], 'int32'), mask: tf.tensor2d(h.mask, [h.B, h.T], 'float32'), counts: h.counts };
}
