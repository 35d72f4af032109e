/**
 * Masked log-probabilities of completion tokens: the kit's one gather-log-prob implementation. DPO's policy and
 * reference log-probs, SFT's NLL and `TfCausalLM.continuationLogProb` all go through `tokenLogps`.
 *
 * The computation is TRL's (HEAD trainer/dpo_trainer.py, `_compute_loss`):
 *
 *     shift_logits = outputs.logits[..., :-1, :]
 *     shift_labels = input_ids[..., 1:]
 *     shift_completion_mask = completion_mask[..., 1:]
 *     per_token_logps = selective_log_softmax(shift_logits, shift_labels)   # log_softmax(logits).gather(labels)
 *     per_token_logps[shift_completion_mask == 0] = 0.0
 *     logps = per_token_logps.sum(dim=1)
 *     chosen_logps, rejected_logps = logps.chunk(2, dim=0)                 # batch is [chosen; rejected]
 *
 * i.e. the token at position t is scored by the logits at t − 1, and `completion_mask[:, 0]` never counts. Two
 * differences of implementation, none of value: only the rows whose next token counts go through the LM head (the
 * prompt's logits are never computed: on a 135M model the head is ~20% of the forward and its `[rows, vocab]`
 * log-softmax the largest tensor), and the target log-prob is picked with a gather on the flattened `[rows·vocab]`
 * log-softmax (its gradient is a segment sum: tf-grad-fixes.ts gives wasm that kernel).
 *
 * Everything is differentiable with respect to the model's trainable variables (base weights when trainable, LoRA
 * A/B when an adapter is attached): call inside `tf.variableGrads`. The returned tensors belong to the caller.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardOptions, LlamaTF } from './llama-tf';

/** The completion positions of a batch, read on the host. */
interface CompletionRows {
  B: number;
  T: number;
  /** Row b·T + (t−1) of the hidden states for each counted token (b, t), t ≥ 1, in row-major order. */
  rows: number[];
  /** ids[b, t] of each counted token. */
  targets: number[];
  /** b·T + t of each counted token. */
  positions: number[];
  /** Counted tokens per sequence `[B]`. */
  counts: number[];
}

/**
 * Host rows per (ids, mask) tensor pair: a DPO step reads the same batch twice (reference, then policy inside
 * `tf.variableGrads`, which must stay synchronous), and on the webgpu backend a tensor the GPU has used can no longer be
 * read synchronously in Node. The first read happens before any forward pass uses the tensors, the second is a hit.
 */
const rowsMemo = new WeakMap<tf.Tensor, WeakMap<tf.Tensor, CompletionRows>>();

function completionRows(model: LlamaTF, ids: tf.Tensor2D, completionMask: tf.Tensor2D): CompletionRows {
  const hit = rowsMemo.get(ids)?.get(completionMask);
  if (hit && !ids.isDisposed && !completionMask.isDisposed) return hit;
  const rows = readCompletionRows(model, ids, completionMask);
  if (!rowsMemo.has(ids)) rowsMemo.set(ids, new WeakMap());
  rowsMemo.get(ids)!.set(completionMask, rows);
  return rows;
}

function readCompletionRows(model: LlamaTF, ids: tf.Tensor2D, completionMask: tf.Tensor2D): CompletionRows {
  if (ids.rank !== 2 || ids.dtype !== 'int32') throw new Error(`ids must be an int32 [batch, T] tensor, got ${ids.dtype} [${ids.shape}]`);
  const [B, T] = ids.shape;
  if (completionMask.rank !== 2 || completionMask.shape[0] !== B || completionMask.shape[1] !== T) {
    throw new Error(`completion mask shape [${completionMask.shape}] differs from ids shape [${ids.shape}]`);
  }
  const V = model.config.vocabSize;
  const idv = ids.dataSync();
  const mv = completionMask.dataSync();
  const out: CompletionRows = { B, T, rows: [], targets: [], positions: [], counts: new Array(B).fill(0) };
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      const m = mv[i];
      if (m !== 0 && m !== 1) throw new Error(`completion mask must hold 0 or 1, got ${m} at [${b}, ${t}]`);
      if (m === 0 || t === 0) continue; // mask[:, 0] is ignored: nothing predicts the first token
      const id = idv[i];
      if (!(id >= 0 && id < V)) throw new Error(`token id ${id} at [${b}, ${t}] outside the vocabulary [0, ${V})`);
      out.rows.push(i - 1);
      out.targets.push(id);
      out.positions.push(i);
      out.counts[b]++;
    }
  }
  return out;
}

/**
 * Per-token log-probs: `out[b, t] = log p(ids[b, t] | ids[b, <t])` where `completionMask[b, t] = 1` (t ≥ 1), else 0.
 *
 * - `ids`: `[B, T]` int32, right-padded (padding is never attended by earlier positions; mask it out).
 * - `completionMask`: `[B, T]` float32 of 0/1, 1 where the token's log-prob counts (TRL `completion_mask`).
 * - `opts`: `training` (adapter dropout), `checkpoint` (per-layer recomputation in backward).
 * Returns `[B, T]` float32 (TRL's masked `per_token_logps`, shifted back to the token's own position). With no
 * counted token at all it is zeros, unconnected to the weights.
 * For an SFT loss (mean NLL over completion tokens): `−Σ out / Σ mask[:, 1:]`.
 */
export function tokenLogps(model: LlamaTF, ids: tf.Tensor2D, completionMask: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
  return pickLogps(model, ids, completionRows(model, ids, completionMask), opts);
}

function pickLogps(model: LlamaTF, ids: tf.Tensor2D, { B, T, rows, targets, positions }: CompletionRows, opts: ForwardOptions): tf.Tensor2D {
  if (rows.length === 0) return tf.zeros([B, T]);
  const D = model.config.hiddenSize, V = model.config.vocabSize;
  return tf.tidy(() => {
    const h = tf.reshape(model.hiddenStates(ids, undefined, opts), [B * T, D]) as tf.Tensor2D;
    const picked = tf.gather(h, tf.tensor1d(rows, 'int32')) as tf.Tensor2D; // [R, D]: rows that predict a counted token
    const logp = tf.logSoftmax(model.logits(picked, { training: !!opts.training })); // [R, V]
    const flat = tf.tensor1d(targets.map((id, r) => r * V + id), 'int32');
    const lp = tf.gather(tf.reshape(logp, [-1]), flat); // [R]
    // back to [B, T]: position b·T + t reads lp[r] for its counted token, or the appended 0 (index R)
    const index = new Int32Array(B * T).fill(rows.length);
    positions.forEach((pos, r) => { index[pos] = r; });
    return tf.reshape(tf.gather(tf.concat([lp, tf.zeros([1])]), tf.tensor1d(index, 'int32')), [B, T]) as tf.Tensor2D;
  });
}

/**
 * Summed completion log-probs per sequence, TRL's `logps = per_token_logps.sum(dim=1)`:
 * `sum[b] = Σ_t tokenLogps[b, t]` `[B]`, and `count[b]` = number of counted tokens `[B]` (float32), for
 * length-normalised variants (TRL's `'ipo'` loss divides by it). Arguments as `tokenLogps`.
 */
export function sequenceLogps(model: LlamaTF, ids: tf.Tensor2D, completionMask: tf.Tensor2D, opts: ForwardOptions = {}): { sum: tf.Tensor1D; count: tf.Tensor1D } {
  const r = completionRows(model, ids, completionMask);
  const sum = tf.tidy(() => tf.sum(pickLogps(model, ids, r, opts), 1) as tf.Tensor1D);
  return { sum, count: tf.tensor1d(r.counts, 'float32') };
}
