/**
 * TRL's DPO training metrics, under TRL's names, from plain per-example numbers.
 *
 * Per batch (TRL v0.19.1 `DPOTrainer.get_batch_loss_metrics` l.1644–1655; HEAD `_compute_loss` l.1634–1653):
 *   rewards/chosen      mean β(πc − refc)
 *   rewards/rejected    mean β(πr − refr)
 *   rewards/accuracies  mean [chosen_reward > rejected_reward]   (strict: a tie counts 0)
 *   rewards/margins     mean (chosen_reward − rejected_reward)
 *   logps/chosen        mean policy log-prob of the chosen completion (per-token mean for TRL's 'ipo' loss in v0.19)
 *   logps/rejected      mean policy log-prob of the rejected completion
 *   loss                mean per-example loss (what HF Trainer logs as `loss`)
 * Eval metrics carry the `eval_` prefix (v0.19: `prefix = "eval_" if train_eval == "eval"`; HEAD `log()` adds it).
 *
 * Logging (v0.19.1 `store_metrics` + `log` l.1781, 1838–1854; HEAD `log` l.1754): each batch appends its batch MEAN,
 * and a log line reports the mean of those batch means since the last log. With equal batch sizes that is the mean
 * over examples. TRL also logs `logits/chosen|rejected` (and at HEAD `entropy`, `num_tokens`,
 * `mean_token_accuracy`); HF Trainer adds `grad_norm` and `learning_rate` as the latest values, not means.
 */

export const DPO_METRIC_NAMES = [
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'logps/chosen',
  'logps/rejected',
  'loss',
] as const;
export type DpoMetricName = (typeof DPO_METRIC_NAMES)[number];
export type DpoMetrics = Record<DpoMetricName, number>;
export type EvalDpoMetrics = Record<`eval_${DpoMetricName}`, number>;

/** Per-example values of one batch (all the same length, ≥ 1). */
export interface DpoBatchValues {
  chosenRewards: ArrayLike<number>;
  rejectedRewards: ArrayLike<number>;
  policyChosenLogps: ArrayLike<number>;
  policyRejectedLogps: ArrayLike<number>;
  losses: ArrayLike<number>;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** The batch record: each metric is the mean over the batch's examples. NaN inputs propagate (visible, not hidden). */
export function dpoBatchMetrics(v: DpoBatchValues): DpoMetrics {
  const n = v.losses.length;
  for (const key of ['chosenRewards', 'rejectedRewards', 'policyChosenLogps', 'policyRejectedLogps', 'losses'] as const) {
    const arr = v[key];
    if (arr == null || typeof arr.length !== 'number') throw new Error(`dpoBatchMetrics: ${key} must be an array of numbers`);
    if (arr.length !== n) throw new Error(`dpoBatchMetrics: ${key} has ${arr.length} values, losses has ${n}`);
  }
  if (n === 0) throw new Error('dpoBatchMetrics: empty batch');
  const acc = new Float64Array(n);
  const margins = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    acc[i] = v.chosenRewards[i] > v.rejectedRewards[i] ? 1 : 0;
    margins[i] = v.chosenRewards[i] - v.rejectedRewards[i];
  }
  return {
    'rewards/chosen': mean(v.chosenRewards),
    'rewards/rejected': mean(v.rejectedRewards),
    'rewards/accuracies': mean(acc),
    'rewards/margins': mean(margins),
    'logps/chosen': mean(v.policyChosenLogps),
    'logps/rejected': mean(v.policyRejectedLogps),
    loss: mean(v.losses),
  };
}

/** The same record with TRL's `eval_` prefix on every key. */
export function evalPrefixed(m: DpoMetrics): EvalDpoMetrics {
  const out = {} as Record<string, number>;
  for (const k of DPO_METRIC_NAMES) out[`eval_${k}`] = m[k];
  return out as EvalDpoMetrics;
}

/**
 * Collects batch records between two log lines, as TRL's `_stored_metrics` / `_metrics` lists: `add` a batch,
 * `summary()` is the mean of the batch means, `flush()` returns it and clears (TRL clears after each `log`).
 */
export class DpoMetricsAccumulator {
  private sums = new Map<DpoMetricName, number>();
  private batches = 0;

  /** Add one batch, from per-example values or an already computed batch record. Returns the batch record. */
  add(batch: DpoBatchValues | DpoMetrics): DpoMetrics {
    const rec = 'losses' in batch ? dpoBatchMetrics(batch) : batch;
    for (const k of DPO_METRIC_NAMES) {
      if (typeof rec[k] !== 'number') throw new Error(`DpoMetricsAccumulator.add: record lacks '${k}'`);
      this.sums.set(k, (this.sums.get(k) ?? 0) + rec[k]);
    }
    this.batches++;
    return rec;
  }

  /** Batches added since the last flush. */
  get count(): number {
    return this.batches;
  }

  /** Mean over the added batches of each batch mean; throws when nothing was added. */
  summary(): DpoMetrics {
    if (this.batches === 0) throw new Error('DpoMetricsAccumulator: no batches added since the last flush');
    const out = {} as DpoMetrics;
    for (const k of DPO_METRIC_NAMES) out[k] = (this.sums.get(k) ?? 0) / this.batches;
    return out;
  }

  /** `summary()` with the `eval_` prefix. */
  evalSummary(): EvalDpoMetrics {
    return evalPrefixed(this.summary());
  }

  /** Return the summary and start a new logging window. */
  flush(): DpoMetrics {
    const s = this.summary();
    this.reset();
    return s;
  }

  reset(): void {
    this.sums.clear();
    this.batches = 0;
  }
}
