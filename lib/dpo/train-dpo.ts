/**
 * The DPO trainer on the TensorFlow.js engine — what `DPO/ours.py` runs through TRL's `DPOTrainer` with PEFT:
 *
 *   DPOTrainer(model, ref_model=None, peft_config=LoraConfig(r=256, lora_alpha=128, lora_dropout=0.05,
 *              target_modules="all-linear"), args=(lr 5e-5, cosine, warmup_ratio 0.1, max_grad_norm 0.3, 1 epoch),
 *              beta 0.1, loss_type "sigmoid")
 *
 * Per micro-batch of k pairs: ONE forward over `[chosen₁…chosen_k; rejected₁…rejected_k]` (collate.ts), summed
 * completion log-probs (logps.ts; per-token means for TRL's 'ipo' loss), `dpoLoss` (loss.ts) against reference
 * log-probs, mean over the pairs. The reference is the policy with its adapters OFF (TRL's PEFT path: "disabling
 * adapters yields the base model"), or, for full fine-tuning, the weights before training; either way its log-probs
 * are computed once before training and cached by content hash (TRL `precompute_ref_log_probs=True`): they never
 * change, and no second copy of the model is needed (a 135M copy costs ~2.2 GB of the 4 GB wasm heap).
 *
 * Metrics use TRL's names (metrics.ts), `eval_`-prefixed on the eval pairs, written to `outDir/metrics.jsonl`.
 * The trained policy is merged and saved as a model folder in `outDir` (save-model.ts), loadable by `--model outDir`.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash } from '../util/cache';
import { runCachedLoop } from '../util/cached-loop';
import { modelFingerprint, refreshFingerprint } from '../models/fingerprint';
import { readableOnHost } from '../models/backend';
import type { TfCausalLM } from '../models/tf-causal-lm';
import { writeSafetensors } from '../models/safetensors';
import { collate, type TokenRow } from './collate';
import { dpoLoss, needsLengthNormalisation, DPO_LOSS_TYPES, type DpoLossType } from './loss';
import { dpoBatchMetrics, evalPrefixed, DPO_METRIC_NAMES, type DpoMetrics } from './metrics';
import { sequenceLogps } from '../models/token-logps';
import { LoraAdapters, type LoraConfig } from './lora';
import { tokenizePair, type TruncationMode } from './tokenize';
import { loopSummary, optimArgsFrom, runTrainLoop, type OptimArgs, type TrainerOptions, type TrainRunResult } from './train-loop';
import { displayPath, saveModelFolder } from './save-model';
import { preparePairs, type PairInput, type PairSkips } from './prepare';

/** The official LoRA of `DPO/ours.py` (PEFT LoraConfig). */
export const OFFICIAL_LORA: LoraConfig = { rank: 256, alpha: 128, dropout: 0.05, targetModules: 'all-linear', seed: 42 };

export interface DpoTrainOptions extends TrainerOptions {
  /** TRL `beta` (official effective value 0.1; `--dpo_beta` is ignored there, quirk 14). */
  beta?: number;
  /** TRL loss type; 'ipo' is Azar et al.'s loss (not this paper's method) and length-normalises the log-probs. */
  lossType?: DpoLossType;
  labelSmoothing?: number;
  /**
   * TRL `rpo_alpha` (default 0 = off): add α × the chosen completions' per-token NLL to the loss. It keeps the
   * chosen answers likely while DPO pushes the pair apart; the toy-world prototype needed it with a weak judge.
   */
  rpoAlpha?: number;
  /** Default: the official LoRA (r=256, α=128, dropout 0.05, all-linear); `false` = full fine-tuning. */
  lora?: Partial<LoraConfig> | false;
  /** Held-out pairs for the `eval_` metrics (the official script evaluates on its training file, quirk 14). */
  evalPairs?: readonly PairInput[];
  /** Cache reference log-probs by content hash (default true unless IPO_CACHE=0). */
  cache?: boolean;
}

/** `train`: the mean of each TRL metric; `evalBefore` / `eval`: TRL metrics (`eval_` prefixed) before and after. */
export type DpoTrainResult = TrainRunResult<DpoMetrics, PairSkips>;

/** A pair after tokenization: prompt ids and the two completions (each ending in EOS). */
export interface TokenizedPair {
  chosen: TokenRow;
  rejected: TokenRow;
}

function checkDpoOptions(o: DpoTrainOptions): void {
  if (o.beta !== undefined && !(o.beta > 0 && Number.isFinite(o.beta))) throw new Error(`beta must be > 0, got ${o.beta}`);
  if (o.lossType !== undefined && !(DPO_LOSS_TYPES as readonly string[]).includes(o.lossType)) {
    throw new Error(`unknown DPO loss '${o.lossType}': use one of ${DPO_LOSS_TYPES.join(', ')}`);
  }
  if (o.lora) {
    if (o.lora.rank !== undefined && !(Number.isInteger(o.lora.rank) && o.lora.rank > 0)) throw new Error(`LoRA rank must be a whole number > 0, got ${o.lora.rank}`);
    if (o.lora.alpha !== undefined && !(o.lora.alpha > 0)) throw new Error(`LoRA alpha must be > 0, got ${o.lora.alpha}`);
  }
}

/**
 * Micro-batch rows `[chosen…; rejected…]` → completion log-probs `[2k]`, summed or (for TRL's 'ipo') per-token
 * means, plus the raw sums and token counts `[2k]` (the RPO NLL term needs them).
 */
function pairLogpsFull(model: TfCausalLM, pairs: readonly TokenizedPair[], opts: { training: boolean; checkpoint: boolean; normalise: boolean }): { logps: tf.Tensor1D; sum: tf.Tensor1D; count: tf.Tensor1D } {
  const rows = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
  const batch = collate(rows, model.eosTokenId ?? 0);
  try {
    const { sum, count } = sequenceLogps(model.model, batch.ids, batch.mask, { training: opts.training, checkpoint: opts.checkpoint });
    return { logps: opts.normalise ? tf.div(sum, tf.maximum(count, 1)) as tf.Tensor1D : sum, sum, count };
  } finally {
    batch.ids.dispose();
    batch.mask.dispose();
  }
}

/** `pairLogpsFull(…).logps` alone (call inside a tidy: the other tensors are left to it). */
function pairLogps(model: TfCausalLM, pairs: readonly TokenizedPair[], opts: { training: boolean; checkpoint: boolean; normalise: boolean }): tf.Tensor1D {
  return pairLogpsFull(model, pairs, opts).logps;
}

/** Reference log-probs `{chosen, rejected}` per pair, computed without gradients and cached by content hash. */
async function referenceLogps(model: TfCausalLM, pairs: readonly TokenizedPair[], opts: { normalise: boolean; batchSize: number; cache: boolean; fingerprint: string; label: string }): Promise<{ chosen: number; rejected: number }[]> {
  const { results } = await runCachedLoop(pairs, {
    cacheName: `ref-logps/${opts.fingerprint}`,
    cache: opts.cache,
    label: opts.label,
    keyParts: (p) => [opts.normalise, p.chosen, p.rejected],
    batchSize: opts.batchSize,
    computeBatch: async (batch) => {
      const t = tf.tidy(() => pairLogps(model, batch, { training: false, checkpoint: false, normalise: opts.normalise }));
      const d = (await t.data()) as Float32Array;
      t.dispose();
      return batch.map((_, i) => ({ chosen: d[i], rejected: d[batch.length + i] }));
    },
  });
  return results;
}

/** Train `model` (tf engine) with DPO on `pairs`; see the file comment. Resumes from `outDir`'s checkpoint. */
export async function trainDpo(model: TfCausalLM, pairs: readonly PairInput[], opts: DpoTrainOptions): Promise<DpoTrainResult> {
  if (model.engine !== 'tf') throw new Error(`DPO training needs the tf engine (TensorFlow.js), got '${(model as { engine: string }).engine}': load the model with --engine tf`);
  checkDpoOptions(opts);
  const args: OptimArgs = optimArgsFrom(opts);
  const beta = opts.beta ?? 0.1;
  const lossType = opts.lossType ?? 'sigmoid';
  const labelSmoothing = opts.labelSmoothing ?? 0;
  const rpoAlpha = opts.rpoAlpha ?? 0;
  if (!(rpoAlpha >= 0 && Number.isFinite(rpoAlpha))) throw new Error(`rpo alpha must be >= 0, got ${opts.rpoAlpha}`);
  const normalise = needsLengthNormalisation(lossType);
  const checkpoint = opts.gradientCheckpointing ?? true;
  const tok = { maxLength: opts.maxLength ?? 1024, maxPromptLength: opts.maxPromptLength ?? 512, truncationMode: opts.truncationMode ?? 'keep_end' as TruncationMode };
  const cache = opts.cache ?? true;

  const train = preparePairs(model, pairs, tok);
  const evalSet = opts.evalPairs ? preparePairs(model, opts.evalPairs, tok) : null;
  if (train.pairs.length === 0) throw new Error(`no usable training pairs (${JSON.stringify(train.skipped)})`);

  // the reference: base weights with adapters off (LoRA) or the weights before training (full fine-tuning)
  const fingerprint = modelFingerprint(model);
  const lora = opts.lora === false ? null : new LoraAdapters(model.model, { ...OFFICIAL_LORA, seed: args.seed, ...(opts.lora ?? {}) });
  try {
    if (lora) {
      model.model.setAdapter(lora);
      lora.enabled = false;
    }
    const refBatch = Math.max(1, args.batchSize);
    const refTrain = await referenceLogps(model, train.pairs, { normalise, batchSize: refBatch, cache, fingerprint, label: 'reference log-probs (train)' });
    const refEval = evalSet ? await referenceLogps(model, evalSet.pairs, { normalise, batchSize: refBatch, cache, fingerprint, label: 'reference log-probs (eval)' }) : null;
    if (lora) lora.enabled = true;

    let variables: Map<string, tf.Variable>;
    if (lora) {
      variables = lora.namedVariables();
    } else {
      model.model.setTrainable(true);
      variables = new Map(model.model.params);
    }
    const examples = train.pairs.map((p, i) => ({ pair: p, ref: refTrain[i] }));

    const evaluate = evalSet && refEval
      ? async () => {
        if (lora) lora.training = false;
        const all = { chosenRewards: [] as number[], rejectedRewards: [] as number[], policyChosenLogps: [] as number[], policyRejectedLogps: [] as number[], losses: [] as number[] };
        try {
          const bs = Math.max(1, args.batchSize);
          for (let i = 0; i < evalSet.pairs.length; i += bs) {
            const batch = evalSet.pairs.slice(i, i + bs);
            const ref = refEval.slice(i, i + bs);
            const out = tf.tidy(() => {
              const lp = pairLogps(model, batch, { training: false, checkpoint: false, normalise });
              const [pc, pr] = tf.split(lp, 2) as [tf.Tensor1D, tf.Tensor1D];
              const r = dpoLoss({
                policyChosenLogps: pc, policyRejectedLogps: pr,
                refChosenLogps: tf.tensor1d(ref.map((x) => x.chosen)), refRejectedLogps: tf.tensor1d(ref.map((x) => x.rejected)),
              }, { beta, lossType, labelSmoothing });
              return [pc, pr, r.losses, r.chosenRewards, r.rejectedRewards];
            });
            const [pc, pr, l, cr, rr] = await Promise.all(out.map((t) => t.data()));
            out.forEach((t) => t.dispose());
            all.policyChosenLogps.push(...pc); all.policyRejectedLogps.push(...pr); all.losses.push(...l);
            all.chosenRewards.push(...cr); all.rejectedRewards.push(...rr);
          }
        } finally {
          if (lora) lora.training = true;
        }
        return evalPrefixed(dpoBatchMetrics(all)) as Record<string, number>;
      }
      : undefined;

    if (lora) lora.training = true;
    const argsRecord = { ...args, beta, lossType, labelSmoothing, rpoAlpha, lora: lora ? lora.config : false, ...tok, gradientCheckpointing: checkpoint };
    const runHash = contentHash('dpo', fingerprint, argsRecord, train.pairs, evalSet?.pairs ?? null);
    const loop = await runTrainLoop({
      kind: 'dpo',
      outDir: opts.outDir,
      examples,
      args,
      runHash,
      argsRecord,
      variables,
      progressLabel: 'DPO',
      onStep: opts.onStep,
      evaluate,
      microBatchLoss: (batch, ctx) => {
        if (lora) lora.setStep(ctx.micro);
        const full = pairLogpsFull(model, batch.map((e) => e.pair), { training: true, checkpoint, normalise });
        const [pc, pr] = tf.split(full.logps, 2) as [tf.Tensor1D, tf.Tensor1D];
        const rc = tf.tensor1d(batch.map((e) => e.ref.chosen));
        const rr = tf.tensor1d(batch.map((e) => e.ref.rejected));
        const r = dpoLoss({ policyChosenLogps: pc, policyRejectedLogps: pr, refChosenLogps: rc, refRejectedLogps: rr }, { beta, lossType, labelSmoothing });
        const acc = tf.cast(tf.greater(r.chosenRewards, r.rejectedRewards), 'float32') as tf.Tensor1D;
        let loss = tf.mean(r.losses) as tf.Scalar;
        const extra: Record<string, tf.Tensor1D> = {};
        if (rpoAlpha > 0) {
          // TRL rpo_alpha (Pang et al. 2024, "Iterative Reasoning Preference Optimization"): loss += α · NLL(chosen),
          // the NLL a per-token mean over the micro-batch's chosen completions (v0.19 `concatenated_forward` nll_loss)
          const k = batch.length;
          const chosenSum = tf.slice(full.sum, [0], [k]);
          const chosenCount = tf.slice(full.count, [0], [k]);
          const nll = tf.div(tf.neg(tf.sum(chosenSum)), tf.maximum(tf.sum(chosenCount), 1)) as tf.Scalar;
          loss = tf.add(loss, tf.mul(nll, rpoAlpha)) as tf.Scalar;
          extra.nll_loss = tf.mul(tf.onesLike(r.losses), nll) as tf.Tensor1D;
        }
        return {
          loss,
          perExample: {
            ...extra,
            'rewards/chosen': r.chosenRewards,
            'rewards/rejected': r.rejectedRewards,
            'rewards/accuracies': acc,
            'rewards/margins': tf.sub(r.chosenRewards, r.rejectedRewards) as tf.Tensor1D,
            'logps/chosen': pc,
            'logps/rejected': pr,
          },
        };
      },
    });

    // webgpu: the weights and adapters are read synchronously below (merge, safetensors), which needs a host copy
    await readableOnHost([...model.model.params.values(), ...(lora ? lora.variables : [])]);
    if (!lora) await refreshFingerprint(model); // full fine-tuning changed the weights in place
    // the merged policy as a model folder, and the adapter on its own (PEFT names) for LoRA runs
    const weights = lora ? lora.mergedWeightMap() : model.model.toWeightMap();
    const baseModel = displayPath(opts.baseModel ?? model.ref);
    const files = saveModelFolder(opts.outDir, model.ref, model.model.config, weights, {
      trainer: 'dpo',
      baseModel,
      steps: loop.totalSteps,
      details: { beta, loss_type: lossType, label_smoothing: labelSmoothing, lora: lora ? lora.config : 'full fine-tuning', learning_rate: args.learningRate, epochs: args.epochs, pairs: train.pairs.length },
    });
    if (lora) {
      writeSafetensors(join(opts.outDir, 'adapter_model.safetensors'), lora.toWeightMap());
      writeFileSync(join(opts.outDir, 'adapter_config.json'), `${JSON.stringify(lora.adapterConfigJson(baseModel), null, 2)}\n`);
      files.push('adapter_model.safetensors', 'adapter_config.json');
    }
    const mean = (k: string) => loop.history.reduce((s, r) => s + (r[k] ?? NaN), 0) / loop.history.length;
    const trainMetrics = Object.fromEntries(DPO_METRIC_NAMES.map((k) => [k, mean(k)])) as DpoMetrics;
    return {
      outDir: opts.outDir,
      train: trainMetrics,
      ...loopSummary(loop),
      skipped: { train: train.skipped, eval: evalSet?.skipped ?? null },
      files,
    };
  } finally {
    if (lora) {
      model.model.setAdapter(null);
      lora.dispose();
    }
  }
}
