/**
 * The DPO loss family as one pure function of `[batch]` tensors, as TRL's `DPOTrainer.dpo_loss`
 * (huggingface/trl `trl/trainer/dpo_trainer.py`, v0.19.1 `DPOTrainer.dpo_loss` l.969–1153; at HEAD the same
 * equations live inline in `DPOTrainer._compute_loss`, l.1329–1560). The official IPO code trains with TRL's defaults,
 * `loss_type="sigmoid"`, `beta=0.1`, `label_smoothing=0` (its `dpo_args` are built but never passed, quirk 14).
 *
 *   logits          = (πc − πr) − (refc − refr)                     [batch]   (TRL `logits`, HEAD `delta_score`)
 *   chosen_rewards  = β · (πc − refc)        detached               [batch]
 *   rejected_rewards= β · (πr − refr)        detached               [batch]
 *
 * where πc = log π_θ(y_c | x), the policy's log-probability of the chosen completion summed over its tokens
 * (length-normalised for 'ipo', see below), and ref* the same under the reference model.
 *
 * ──────────────────────────────────────────────────────────────────────────────────────────────────────────────
 * NAME CLASH. TRL's `loss_type='ipo'` is Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning
 * from Human Preferences" (arXiv 2310.12036), eq. 17: (logits − 1/(2β))². It has NOTHING to do with this project's
 * paper, "IPO: Your Language Model is Secretly a Preference Classifier" (arXiv 2502.16182), whose "IPO" is the
 * P(Yes) scorer that BUILDS the pairs; that paper then trains with the plain 'sigmoid' DPO loss.
 * TRL also LENGTH-NORMALISES the log-probs for its 'ipo' loss: v0.19.1 `concatenated_forward` l.1556
 * `if self.loss_type == "ipo": all_logps = all_logps / loss_mask.sum(-1)` (so rewards and `logps/*` metrics are
 * per-token too); HEAD `_compute_loss` divides the log-ratios by the completion token count (`.clamp(min=1.0)`)
 * inside the loss only ("we confirmed this choice with the IPO authors"). The loss value is the same either way.
 * This function follows v0.19: the CALLER passes per-token means for 'ipo' (`needsLengthNormalisation`,
 * `lengthNormalise`).
 * ──────────────────────────────────────────────────────────────────────────────────────────────────────────────
 *
 * log σ(x) is written −softplus(−x): stable for |x| up to float32's range, and, unlike `tf.logSigmoid`, its gradient
 * works on the wasm backend (../shared/docs/training-on-tfjs.md). tfjs has no `stopGradient`, so the rewards are
 * detached with a `tf.customGrad` identity whose gradient is zero.
 */
import * as tf from '@tensorflow/tfjs';

import { DPO_LOSS_TYPES, type DpoLossType } from './loss-types';
export { DPO_LOSS_TYPES, type DpoLossType };

/** Loss types for which TRL divides the summed completion log-probs by the completion token count (only 'ipo'). */
export const LENGTH_NORMALISED_LOSS_TYPES: readonly DpoLossType[] = ['ipo'];

/**
 * Whether the caller must pass per-token MEAN log-probs instead of sums (TRL v0.19.1 `concatenated_forward` l.1556).
 * True only for TRL's 'ipo' (Azar et al.), which is not this paper's IPO method.
 */
export function needsLengthNormalisation(lossType: DpoLossType | string): boolean {
  return (LENGTH_NORMALISED_LOSS_TYPES as readonly string[]).includes(lossType);
}

/**
 * Summed completion log-probs `[batch]` divided by the completion token counts (`loss_mask.sum(-1)` in TRL).
 * A count below 1 is an error here: v0.19 would divide by 0 (inf/NaN), HEAD clamps to 1.
 */
export function lengthNormalise(summedLogps: tf.Tensor1D, tokenCounts: number[]): tf.Tensor1D {
  if (summedLogps.rank !== 1 || summedLogps.shape[0] !== tokenCounts.length) {
    throw new Error(`lengthNormalise: logps shape [${summedLogps.shape}] does not match ${tokenCounts.length} token counts`);
  }
  tokenCounts.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1) throw new Error(`lengthNormalise: token count ${n} at index ${i} must be an integer >= 1`);
  });
  return tf.tidy(() => tf.div(summedLogps, tf.tensor1d(tokenCounts, 'float32')));
}

export interface DpoLogps {
  /** log π_θ(chosen | prompt), summed over completion tokens (per-token mean for 'ipo'). Shape [batch]. */
  policyChosenLogps: tf.Tensor1D;
  /** log π_θ(rejected | prompt). Shape [batch]. */
  policyRejectedLogps: tf.Tensor1D;
  /** log π_ref(chosen | prompt). Shape [batch]. */
  refChosenLogps: tf.Tensor1D;
  /** log π_ref(rejected | prompt). Shape [batch]. */
  refRejectedLogps: tf.Tensor1D;
}

export interface DpoLossOptions {
  /** β > 0: TRL `beta` (default 0.1 there); for 'ipo' it is Azar et al.'s τ. */
  beta: number;
  lossType: DpoLossType;
  /**
   * ε in [0, 0.5), TRL `label_smoothing` (default 0). 'sigmoid': conservative DPO (cDPO, Mitchell 2023) as in TRL
   * v0.19 — TRL HEAD dropped ε from 'sigmoid', the two agree at ε = 0. 'robust': Chowdhury et al. 2024 (rDPO).
   * 'hinge' and 'ipo' do not use it: TRL warns and ignores it, here ε > 0 with them is an error.
   */
  labelSmoothing?: number;
}

export interface DpoLossOutput {
  /** Per-example loss, shape [batch]; the training loss is its mean (TRL `losses.mean()`). */
  losses: tf.Tensor1D;
  /** β (πc − refc), detached (zero gradient). Shape [batch]. */
  chosenRewards: tf.Tensor1D;
  /** β (πr − refr), detached. Shape [batch]. */
  rejectedRewards: tf.Tensor1D;
}

/** log σ(x) = −softplus(−x). */
function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

/** Identity with a zero gradient: torch's `.detach()` for a tensor that stays inside a tfjs gradient tape. */
const detach = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(inputs[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as (x: tf.Tensor) => tf.Tensor;

function validate(inputs: DpoLogps, opts: DpoLossOptions): number {
  const { beta, lossType } = opts;
  const eps = opts.labelSmoothing ?? 0;
  if (!(DPO_LOSS_TYPES as readonly string[]).includes(lossType)) {
    throw new Error(`unknown DPO lossType '${String(lossType)}': use one of ${DPO_LOSS_TYPES.join(', ')}`);
  }
  if (!(typeof beta === 'number' && Number.isFinite(beta) && beta > 0)) {
    throw new Error(`DPO beta must be a finite number > 0, got ${beta}`);
  }
  if (!(typeof eps === 'number' && eps >= 0 && eps < 0.5)) {
    throw new Error(`DPO labelSmoothing must lie in [0, 0.5), got ${eps}${lossType === 'robust' ? " ('robust' divides by 1 - 2*labelSmoothing)" : ''}`);
  }
  if (eps > 0 && (lossType === 'hinge' || lossType === 'ipo')) {
    throw new Error(`DPO lossType '${lossType}' does not use labelSmoothing (TRL ignores it): set it to 0, got ${eps}`);
  }
  const names = ['policyChosenLogps', 'policyRejectedLogps', 'refChosenLogps', 'refRejectedLogps'] as const;
  let n = -1;
  for (const name of names) {
    const t = inputs[name];
    if (!(t instanceof tf.Tensor)) throw new Error(`dpoLoss: ${name} must be a tf.Tensor of shape [batch]`);
    if (t.rank !== 1) throw new Error(`dpoLoss: ${name} must have shape [batch], got [${t.shape}]`);
    if (t.dtype !== 'float32') throw new Error(`dpoLoss: ${name} must be float32, got ${t.dtype}`);
    if (n < 0) n = t.shape[0];
    else if (t.shape[0] !== n) throw new Error(`dpoLoss: shape mismatch, ${name} is [${t.shape}] but policyChosenLogps is [${n}]`);
  }
  if (n === 0) throw new Error('dpoLoss: empty batch');
  return eps;
}

/**
 * TRL `dpo_loss` for one batch. All inputs and outputs have shape [batch]; z = logits as above, ε = labelSmoothing.
 *
 *   'sigmoid'  L = −(1−ε) log σ(βz) − ε log σ(−βz)                 DPO (Rafailov et al. 2023, eq. 7); cDPO for ε > 0
 *   'robust'   L = (−(1−ε) log σ(βz) + ε log σ(−βz)) / (1 − 2ε)    rDPO (Chowdhury et al. 2024), unbiased under flips
 *   'hinge'    L = max(0, 1 − βz)                                  SLiC (Zhao et al. 2023)
 *   'ipo'      L = (z − 1/(2β))²                                   Azar et al. 2023 eq. 17 — NOT this paper's IPO;
 *                                                                  inputs must be per-token means (see file comment)
 *
 * Differentiable w.r.t. all four inputs (the rewards contribute no gradient). Tensors returned are new; the caller
 * disposes them. Errors (one line): β ≤ 0, ε outside [0, 0.5), ε > 0 with 'hinge'/'ipo', unknown lossType,
 * inputs not float32 [batch] of one length.
 */
export function dpoLoss(inputs: DpoLogps, opts: DpoLossOptions): DpoLossOutput {
  const eps = validate(inputs, opts);
  const { beta, lossType } = opts;
  const { policyChosenLogps: pc, policyRejectedLogps: pr, refChosenLogps: rc, refRejectedLogps: rr } = inputs;
  return tf.tidy(() => {
    const logits = tf.sub(tf.sub(pc, pr), tf.sub(rc, rr));
    const bz = tf.mul(logits, beta);
    let losses: tf.Tensor;
    if (lossType === 'sigmoid') {
      losses = tf.sub(tf.mul(logSigmoid(bz), -(1 - eps)), tf.mul(logSigmoid(tf.neg(bz)), eps));
    } else if (lossType === 'robust') {
      losses = tf.div(tf.add(tf.mul(logSigmoid(bz), -(1 - eps)), tf.mul(logSigmoid(tf.neg(bz)), eps)), 1 - 2 * eps);
    } else if (lossType === 'hinge') {
      losses = tf.relu(tf.sub(1, bz));
    } else {
      losses = tf.square(tf.sub(logits, 1 / (2 * beta)));
    }
    const chosenRewards = tf.mul(detach(tf.sub(pc, rc)), beta);
    const rejectedRewards = tf.mul(detach(tf.sub(pr, rr)), beta);
    return {
      losses: losses as tf.Tensor1D,
      chosenRewards: chosenRewards as tf.Tensor1D,
      rejectedRewards: rejectedRewards as tf.Tensor1D,
    };
  });
}
