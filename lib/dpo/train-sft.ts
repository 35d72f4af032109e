/**
 * Supervised fine-tuning with a response-only loss — the paper's first stage for base models (Llama-3.2-1B on
 * Dolly-15k before IPO-DPO, §5.1 of ../shared/docs/ipo-method-and-official-code.md; the official repo ships no SFT
 * script) and the way the toy world teaches a model its task. TRL `SFTTrainer` with `completion_only_loss=True`:
 *
 *   L = − Σ_{b,t} m[b,t] · log π_θ(ids[b,t] | ids[b,<t]) / Σ_{b,t} m[b,t]
 *
 * ids `[B, T]` = prompt ⧺ response ⧺ EOS (right-padded), m `[B, T]` = 1 on response and EOS tokens only, so the loss
 * is the mean negative log-likelihood per response token of the micro-batch. Full fine-tuning by default (every
 * weight, the tied embedding included); LoRA when asked. Same loop, checkpoints and export as DPO (train-loop.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { contentHash } from '../util/cache';
import { modelFingerprint, refreshFingerprint } from '../models/fingerprint';
import { readableOnHost } from '../models/backend';
import type { TfCausalLM } from '../models/tf-causal-lm';
import type { SftExample } from '../data/sft-examples';
import { collate, type TokenRow } from './collate';
import { sequenceLogps } from '../models/token-logps';
import { LoraAdapters, type LoraConfig } from './lora';
import { promptText } from './prepare';
import { tokenizePair, type TruncationMode } from './tokenize';
import { loopSummary, optimArgsFrom, runTrainLoop, type OptimArgs, type TrainerOptions, type TrainRunResult } from './train-loop';
import { displayPath, saveModelFolder } from './save-model';

export type { SftExample };

export interface SftSkips {
  total: number;
  kept: number;
  missingFields: number;
  emptyResponse: number;
  truncatedPrompt: number;
  truncatedResponse: number;
  nothingLeft: number;
  examples: { index: number; reason: string }[];
}

export interface SftTrainOptions extends TrainerOptions {
  /** Default `false`: full fine-tuning. */
  lora?: Partial<LoraConfig> | false;
  /** Held-out examples: `eval_loss` before, every `evalSteps`, and after. */
  evalExamples?: readonly SftExample[];
}

/** `train.loss`: mean training loss; `evalBefore` / `eval`: `eval_loss` before and after. */
export type SftTrainResult = TrainRunResult<{ loss: number }, SftSkips>;

export const SFT_DEFAULTS: Partial<OptimArgs> = { learningRate: 2e-5, maxGradNorm: 1, warmupRatio: 0 };

/** Validate and tokenize SFT examples, counting every skip and cut. */
export function prepareSft(model: TfCausalLM, examples: readonly SftExample[], tok: { maxLength: number; maxPromptLength: number; truncationMode: TruncationMode }): { rows: TokenRow[]; skipped: SftSkips } {
  const skipped: SftSkips = { total: examples.length, kept: 0, missingFields: 0, emptyResponse: 0, truncatedPrompt: 0, truncatedResponse: 0, nothingLeft: 0, examples: [] };
  const note = (index: number, reason: string) => {
    if (skipped.examples.length < 5) skipped.examples.push({ index, reason });
  };
  const rows: TokenRow[] = [];
  examples.forEach((e, index) => {
    if (!e || (typeof e.prompt !== 'string' && !Array.isArray(e.prompt)) || typeof e.response !== 'string') {
      skipped.missingFields++;
      note(index, 'missing or non-string prompt/response');
      return;
    }
    if (e.response.trim() === '') {
      skipped.emptyResponse++;
      note(index, 'empty response');
      return;
    }
    const t = tokenizePair(model, promptText(model, e.prompt), e.response, tok);
    if (t.completionIds.length === 0) {
      skipped.nothingLeft++;
      note(index, 'no response token left after truncation');
      return;
    }
    if (t.promptTruncated) skipped.truncatedPrompt++;
    if (t.completionTruncated) skipped.truncatedResponse++;
    rows.push({ promptIds: t.promptIds, completionIds: t.completionIds });
  });
  skipped.kept = rows.length;
  return { rows, skipped };
}

/** Σ masked NLL and the token count of a micro-batch, as tensors (scalars). */
function nll(model: TfCausalLM, rows: readonly TokenRow[], opts: { training: boolean; checkpoint: boolean }): { sum: tf.Scalar; tokens: number; perRow: tf.Tensor1D } {
  const b = collate(rows, model.eosTokenId ?? 0);
  try {
    const { sum, count } = sequenceLogps(model.model, b.ids, b.mask, opts);
    count.dispose();
    const perRow = tf.neg(sum) as tf.Tensor1D; // [B] summed NLL of each row
    sum.dispose();
    return { sum: tf.sum(perRow) as tf.Scalar, tokens: b.counts.reduce((a, c) => a + c, 0), perRow };
  } finally {
    b.ids.dispose();
    b.mask.dispose();
  }
}

export async function trainSft(model: TfCausalLM, examples: readonly SftExample[], opts: SftTrainOptions): Promise<SftTrainResult> {
  if (model.engine !== 'tf') throw new Error(`SFT needs the tf engine (TensorFlow.js), got '${(model as { engine: string }).engine}'`);
  const args: OptimArgs = optimArgsFrom(opts, SFT_DEFAULTS);
  const tok = { maxLength: opts.maxLength ?? 1024, maxPromptLength: opts.maxPromptLength ?? 512, truncationMode: opts.truncationMode ?? 'keep_end' as TruncationMode };
  const checkpoint = opts.gradientCheckpointing ?? true;
  const train = prepareSft(model, examples, tok);
  const evalSet = opts.evalExamples ? prepareSft(model, opts.evalExamples, tok) : null;
  if (train.rows.length === 0) throw new Error(`no usable SFT examples (${JSON.stringify({ ...train.skipped, examples: undefined })})`);

  const fingerprint = modelFingerprint(model);
  const lora = opts.lora ? new LoraAdapters(model.model, { rank: 8, alpha: 16, dropout: 0, targetModules: 'all-linear', seed: args.seed, ...opts.lora }) : null;
  try {
    let variables: Map<string, tf.Variable>;
    if (lora) {
      model.model.setAdapter(lora);
      lora.training = true;
      variables = lora.namedVariables();
    } else {
      model.model.setTrainable(true);
      variables = new Map(model.model.params);
    }
    const evaluate = evalSet && evalSet.rows.length > 0
      ? async () => {
        if (lora) lora.training = false;
        let total = 0;
        let tokens = 0;
        try {
          const bs = Math.max(1, args.batchSize);
          for (let i = 0; i < evalSet.rows.length; i += bs) {
            const r = tf.tidy(() => {
              const o = nll(model, evalSet.rows.slice(i, i + bs), { training: false, checkpoint: false });
              tokens += o.tokens;
              return o.sum;
            });
            total += (await r.data())[0];
            r.dispose();
          }
        } finally {
          if (lora) lora.training = true;
        }
        return { eval_loss: total / tokens };
      }
      : undefined;
    const argsRecord = { ...args, lora: lora ? lora.config : false, ...tok, gradientCheckpointing: checkpoint };
    const runHash = contentHash('sft', fingerprint, argsRecord, train.rows, evalSet?.rows ?? null);
    const loop = await runTrainLoop({
      kind: 'sft',
      outDir: opts.outDir,
      examples: train.rows,
      args,
      runHash,
      argsRecord,
      variables,
      progressLabel: 'SFT',
      onStep: opts.onStep,
      evaluate,
      microBatchLoss: (batch, ctx) => {
        if (lora) lora.setStep(ctx.micro);
        const o = nll(model, batch, { training: true, checkpoint });
        // mean NLL per response token of this micro-batch; per-example values are each row's own mean
        const counts = tf.tensor1d(batch.map((r) => r.completionIds.length));
        const rowMean = tf.div(o.perRow, counts) as tf.Tensor1D;
        return { loss: tf.div(o.sum, o.tokens) as tf.Scalar, perExample: { token_nll: rowMean } };
      },
    });
    await readableOnHost([...model.model.params.values(), ...(lora ? lora.variables : [])]); // webgpu: host copies for the sync reads below
    await refreshFingerprint(model);
    const weights = lora ? lora.mergedWeightMap() : model.model.toWeightMap();
    const files = saveModelFolder(opts.outDir, model.ref, model.model.config, weights, {
      trainer: 'sft',
      baseModel: displayPath(opts.baseModel ?? model.ref),
      steps: loop.totalSteps,
      details: { lora: lora ? lora.config : 'full fine-tuning', learning_rate: args.learningRate, epochs: args.epochs, examples: train.rows.length },
    });
    const meanLoss = loop.history.reduce((s, r) => s + r.loss, 0) / Math.max(1, loop.history.length);
    return {
      outDir: opts.outDir,
      train: { loss: meanLoss },
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
