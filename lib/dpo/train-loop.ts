/**
 * The one training loop under both trainers (SFT and DPO), written flat like nanoGPT's `train.py`:
 *
 *   for step in [start, totalSteps):
 *     1) lr = lr₀ · cosine-with-warmup(step)                  (HF get_cosine_schedule_with_warmup, warmup_ratio 0.1)
 *     2) for each micro-batch of the step (gradient accumulation):
 *          g += ∂/∂θ [ loss(micro) · |micro| / |step| ]      (so g is the gradient of the mean loss over the step)
 *     3) grad_norm = clip_grad_norm_(g, max_grad_norm)         (torch; official max_grad_norm 0.3)
 *     4) AdamW(θ, g, lr)                                       (torch.optim.AdamW, decoupled weight decay)
 *     5) log the step to metrics.jsonl; eval every `evalSteps`; checkpoint every `saveSteps`
 *
 * Determinism: the data order of epoch e is a Fisher–Yates shuffle seeded by (seed, e), and the trainer's dropout
 * masks are seeded by (seed, step, micro-batch), so a run resumed from a checkpoint replays exactly the batches and
 * masks the uninterrupted run would have used, and ends with the same weights.
 */
import * as tf from '@tensorflow/tfjs';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRng } from '../util/rng';
import { progress } from '../util/progress';
import type { WeightMap } from '../models/types';
import type { LoraConfig } from './lora';
import type { TruncationMode } from './tokenize';
import { latestCheckpoint, saveCheckpoint, type CheckpointState } from './checkpoint';
import { AdamW, clipGradNorm, cosineWithWarmup, warmupStepsFromRatio } from './optim';
import { readableOnHost } from '../models/backend';

/** Optimisation settings shared by SFT and DPO; defaults are the official `DPO/ours.py` values where it has one. */
export interface OptimArgs {
  /** Peak learning rate (official 5e-5). */
  learningRate: number;
  /** Passes over the training data (official 1). */
  epochs: number;
  /** Examples per micro-batch (a DPO example is one pair, i.e. two sequences). */
  batchSize: number;
  /** Micro-batches per optimizer step. */
  gradAccum: number;
  /** Fraction of steps with linear warmup (official 0.1). */
  warmupRatio: number;
  /** Clip the global gradient norm to this (official 0.3); 0 disables clipping. */
  maxGradNorm: number;
  /** AdamW decoupled weight decay (HF default 0). */
  weightDecay: number;
  seed: number;
  /** Stop after this many optimizer steps (HF `max_steps`); default: epochs × steps per epoch. */
  maxSteps?: number;
  /** Evaluate every N steps (0 = only before and after). */
  evalSteps: number;
  /** Checkpoint every N steps (0 = only at the end). */
  saveSteps: number;
}

export const DEFAULT_OPTIM_ARGS: OptimArgs = {
  learningRate: 5e-5,
  epochs: 1,
  batchSize: 1,
  gradAccum: 1,
  warmupRatio: 0.1,
  maxGradNorm: 0.3,
  weightDecay: 0,
  seed: 42,
  evalSteps: 0,
  saveSteps: 0,
};

/** The optimisation settings among `opts` over `defaults` (every OptimArgs key, `maxSteps` included). */
export function optimArgsFrom(opts: Partial<OptimArgs>, defaults: Partial<OptimArgs> = {}): OptimArgs {
  const keys = [...Object.keys(DEFAULT_OPTIM_ARGS), 'maxSteps'] as (keyof OptimArgs)[];
  const picked = Object.fromEntries(keys.filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]));
  return { ...DEFAULT_OPTIM_ARGS, ...defaults, ...picked } as OptimArgs;
}

/** One-line errors for settings no run can use. */
export function checkOptimArgs(a: OptimArgs): void {
  const bad = (what: string) => {
    throw new Error(what);
  };
  if (!(a.learningRate > 0) || !Number.isFinite(a.learningRate)) bad(`learning rate must be > 0, got ${a.learningRate}`);
  if (!(Number.isInteger(a.epochs) && a.epochs >= 1)) bad(`epochs must be a whole number >= 1, got ${a.epochs}`);
  if (!(Number.isInteger(a.batchSize) && a.batchSize >= 1)) bad(`batch size must be a whole number >= 1, got ${a.batchSize}`);
  if (!(Number.isInteger(a.gradAccum) && a.gradAccum >= 1)) bad(`gradient accumulation must be a whole number >= 1, got ${a.gradAccum}`);
  if (!(a.warmupRatio >= 0 && a.warmupRatio <= 1)) bad(`warmup ratio must be in [0, 1], got ${a.warmupRatio}`);
  if (!(a.maxGradNorm >= 0)) bad(`max grad norm must be >= 0, got ${a.maxGradNorm}`);
  if (!(a.weightDecay >= 0)) bad(`weight decay must be >= 0, got ${a.weightDecay}`);
  if (!Number.isInteger(a.seed)) bad(`seed must be a whole number, got ${a.seed}`);
  if (a.maxSteps !== undefined && !(Number.isInteger(a.maxSteps) && a.maxSteps >= 1)) bad(`max steps must be a whole number >= 1, got ${a.maxSteps}`);
  if (!(Number.isInteger(a.evalSteps) && a.evalSteps >= 0)) bad(`eval steps must be a whole number >= 0, got ${a.evalSteps}`);
  if (!(Number.isInteger(a.saveSteps) && a.saveSteps >= 0)) bad(`save steps must be a whole number >= 0, got ${a.saveSteps}`);
}

/** Fisher–Yates permutation of 0…n-1 seeded by (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  return [...sharedEpochOrder(n, seed, epoch)];
}

/** `epochOrder`, computed once per epoch (every step of the epoch reads it); callers must not modify it. */
let lastOrder: { key: string; order: readonly number[] } | null = null;
function sharedEpochOrder(n: number, seed: number, epoch: number): readonly number[] {
  const key = `${n}:${seed}:${epoch}`;
  if (lastOrder?.key === key) return lastOrder.order;
  const rng = makeRng(`${seed}:epoch:${epoch}`);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  lastOrder = { key, order };
  return order;
}

/** Steps per epoch and in total: every example is used once per epoch; the last step of an epoch may be smaller. */
export function stepPlan(n: number, a: OptimArgs): { perStep: number; stepsPerEpoch: number; totalSteps: number } {
  const perStep = a.batchSize * a.gradAccum;
  const stepsPerEpoch = Math.max(1, Math.ceil(n / perStep));
  return { perStep, stepsPerEpoch, totalSteps: a.maxSteps ?? stepsPerEpoch * a.epochs };
}

/** Example indices of optimizer step `step`, split into micro-batches. */
export function stepBatches(n: number, a: OptimArgs, step: number): number[][] {
  const { perStep, stepsPerEpoch } = stepPlan(n, a);
  const epoch = Math.floor(step / stepsPerEpoch);
  const within = step % stepsPerEpoch;
  const idx = sharedEpochOrder(n, a.seed, epoch).slice(within * perStep, (within + 1) * perStep);
  const micro: number[][] = [];
  for (let i = 0; i < idx.length; i += a.batchSize) micro.push(idx.slice(i, i + a.batchSize));
  return micro;
}

/** What one micro-batch contributes: a scalar loss (mean over its examples) and per-example numbers to log. */
export interface MicroBatchLoss {
  loss: tf.Scalar;
  /** Per-example tensors (`[micro]` each) averaged into the step's metrics, e.g. `rewards/chosen`. */
  perExample?: Record<string, tf.Tensor1D>;
}

export interface LoopSpec<E> {
  kind: 'sft' | 'dpo';
  outDir: string;
  examples: readonly E[];
  args: OptimArgs;
  /** Everything that defines the run; a checkpoint with another hash is not resumed. */
  runHash: string;
  /** Arguments as the user gave them, stored in checkpoints. */
  argsRecord: Record<string, unknown>;
  /** The tensors the optimizer updates, by a stable name. */
  variables: Map<string, tf.Variable>;
  /** Loss of one micro-batch (run inside `tf.variableGrads`); `micro` is the global micro-batch counter. */
  microBatchLoss(batch: E[], ctx: { step: number; micro: number }): MicroBatchLoss;
  /** Metrics on held-out data (names get the `eval_` prefix, as TRL logs them). */
  evaluate?: (step: number) => Promise<Record<string, number>>;
  /** Called after each optimizer step with the logged record (progress, notebook charts). */
  onStep?: (record: StepRecord) => void | Promise<void>;
  /** Show a progress bar (default true). */
  progressLabel?: string;
}

export interface StepRecord {
  step: number;
  epoch: number;
  learning_rate: number;
  grad_norm: number;
  loss: number;
  [metric: string]: number;
}

export interface LoopResult {
  steps: number;
  totalSteps: number;
  resumedFrom: number | null;
  history: StepRecord[];
  evals: ({ step: number } & Record<string, number>)[];
  metricsFile: string;
}

function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* a torn last line from a killed run */
    }
  }
  return out;
}

function toHost(vars: Map<string, tf.Variable>): WeightMap {
  const out: WeightMap = new Map();
  for (const [name, v] of vars) out.set(name, { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) });
  return out;
}

/**
 * Run (or resume) the loop. Resumes from the newest checkpoint in `outDir/checkpoints` when its run hash matches;
 * a checkpoint of a different run is an error (use another output folder).
 */
export async function runTrainLoop<E>(spec: LoopSpec<E>): Promise<LoopResult> {
  const a = spec.args;
  checkOptimArgs(a);
  if (spec.examples.length === 0) throw new Error(`${spec.kind}: no training examples left after validation`);
  const { totalSteps } = stepPlan(spec.examples.length, a);
  const warmupSteps = warmupStepsFromRatio(totalSteps, a.warmupRatio);
  mkdirSync(spec.outDir, { recursive: true });
  const metricsFile = join(spec.outDir, 'metrics.jsonl');
  const names = [...spec.variables.keys()];
  const vars = names.map((n) => spec.variables.get(n)!);
  const optimizer = new AdamW(vars, { lr: a.learningRate, weightDecay: a.weightDecay });
  // optimizer state is keyed by tfjs variable names (which carry a per-process instance counter): store it under
  // the stable names of `spec.variables` so a checkpoint resumes in another process
  const toStable = new Map(names.map((n, i) => [vars[i].name, n]));
  const toTf = new Map(names.map((n, i) => [n, vars[i].name]));
  const renameState = (w: WeightMap, map: Map<string, string>, what: string): WeightMap => {
    const out: WeightMap = new Map();
    for (const [key, t] of w) {
      const dot = key.lastIndexOf('.exp_avg') >= 0 ? key.lastIndexOf('.exp_avg') : key.lastIndexOf('.step');
      const base = key.slice(0, dot);
      const to = map.get(base);
      if (!to) throw new Error(`${what}: optimizer entry '${key}' names no trained tensor`);
      out.set(to + key.slice(dot), t);
    }
    return out;
  };

  let start = 0;
  let resumedFrom: number | null = null;
  let history: StepRecord[] = [];
  let evals: ({ step: number } & Record<string, number>)[] = [];
  const ckpt = latestCheckpoint(spec.outDir);
  if (ckpt) {
    if (ckpt.state.runHash !== spec.runHash || ckpt.state.kind !== spec.kind) {
      throw new Error(`${spec.outDir} holds a checkpoint of a different ${ckpt.state.kind} run (step ${ckpt.state.step}); use another --out folder or delete its checkpoints/`);
    }
    for (const [name, v] of spec.variables) {
      const t = ckpt.tensors.trainable?.get(name);
      if (!t) throw new Error(`checkpoint ${ckpt.path}: tensor '${name}' missing`);
      const restored = tf.tensor(t.data, t.shape, 'float32');
      v.assign(restored);
      restored.dispose();
    }
    optimizer.importState(renameState(ckpt.tensors.optimizer ?? new Map(), toTf, `checkpoint ${ckpt.path}`));
    start = ckpt.state.step;
    resumedFrom = start;
    // keep the log of the steps the checkpoint covers; later lines were written after it and will be redone
    const logged = readJsonl<Record<string, number>>(metricsFile);
    const kept = logged.filter((r) => (r.step ?? 0) <= start);
    writeFileSync(metricsFile, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
    history = kept.filter((r) => 'loss' in r) as StepRecord[];
    evals = kept.filter((r) => Object.keys(r).some((k) => k.startsWith('eval_'))) as typeof evals;
  } else {
    writeFileSync(metricsFile, '');
  }

  const log = (r: Record<string, number>) => appendFileSync(metricsFile, `${JSON.stringify(r)}\n`);
  const runEval = async (step: number) => {
    if (!spec.evaluate) return;
    const m = await spec.evaluate(step);
    const rec = { step, ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k.startsWith('eval_') ? k : `eval_${k}`, v])) };
    evals.push(rec);
    log(rec);
  };
  const checkpoint = async (step: number) => {
    await readableOnHost([...spec.variables.values(), ...optimizer.stateTensors()]); // webgpu: sync reads need a host copy
    const state: CheckpointState = {
      version: 1,
      kind: spec.kind,
      step,
      totalSteps,
      runHash: spec.runHash,
      rng: { seed: a.seed, derivation: 'data order: Fisher-Yates seeded by (seed, epoch); dropout: seeded by (seed, step, micro-batch)' },
      args: spec.argsRecord,
      extra: { optimizerSteps: optimizer.stepCount },
    };
    saveCheckpoint(spec.outDir, state, { trainable: toHost(spec.variables), optimizer: renameState(optimizer.exportState(), toStable, 'checkpoint') });
  };

  if (start === 0) await runEval(0);
  const bar = progress({ total: totalSteps, label: spec.progressLabel ?? `${spec.kind} training` });
  if (start > 0) bar.tick(start, { info: `resumed at step ${start}` });
  try {
    for (let step = start; step < totalSteps; step++) {
      const lr = a.learningRate * cosineWithWarmup(step, { totalSteps, warmupSteps });
      const micro = stepBatches(spec.examples.length, a, step);
      const count = micro.reduce((s, m) => s + m.length, 0);
      let acc: Record<string, tf.Tensor> | null = null;
      let lossSum = 0;
      const sums: Record<string, number> = {};
      for (let m = 0; m < micro.length; m++) {
        const batch = micro[m].map((i) => spec.examples[i]);
        const weight = batch.length / count;
        let side: Record<string, tf.Tensor1D> = {};
        const { value, grads } = tf.variableGrads(() => {
          const out = spec.microBatchLoss(batch, { step, micro: step * a.gradAccum + m });
          side = Object.fromEntries(Object.entries(out.perExample ?? {}).map(([k, t]) => [k, tf.keep(t)]));
          return tf.mul(out.loss, weight) as tf.Scalar;
        }, vars);
        lossSum += (await value.data())[0];
        value.dispose();
        for (const [k, t] of Object.entries(side)) {
          const d = Array.from(await t.data() as Float32Array);
          sums[k] = (sums[k] ?? 0) + d.reduce((s, x) => s + x, 0);
          t.dispose();
        }
        if (acc === null) acc = grads;
        else {
          const prev: Record<string, tf.Tensor> = acc;
          acc = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.add(prev[k], g)]));
          for (const k of Object.keys(grads)) {
            prev[k].dispose();
            grads[k].dispose();
          }
        }
      }
      const grads = acc!;
      let gradNorm: number;
      if (a.maxGradNorm > 0) {
        const clipped = await clipGradNorm(grads, a.maxGradNorm);
        gradNorm = clipped.totalNorm;
        optimizer.step(clipped.grads, lr);
        for (const g of Object.values(clipped.grads)) g.dispose();
      } else {
        const n = tf.tidy(() => tf.norm(tf.stack(Object.values(grads).map((g) => tf.norm(g)))));
        gradNorm = (await n.data())[0];
        n.dispose();
        optimizer.step(grads, lr);
      }
      for (const g of Object.values(grads)) g.dispose();

      const { stepsPerEpoch } = stepPlan(spec.examples.length, a);
      const rec: StepRecord = {
        step: step + 1,
        epoch: (step + 1) / stepsPerEpoch,
        learning_rate: lr,
        grad_norm: gradNorm,
        ...Object.fromEntries(Object.entries(sums).map(([k, s]) => [k, s / count])),
        loss: lossSum, // the optimised loss (what HF logs), never a per-example metric of the same name
      };
      history.push(rec);
      log(rec);
      await spec.onStep?.(rec);
      bar.tick(1, { info: `loss ${lossSum.toFixed(4)}` });
      const done = step + 1;
      if (a.evalSteps > 0 && done % a.evalSteps === 0 && done < totalSteps) await runEval(done);
      if ((a.saveSteps > 0 && done % a.saveSteps === 0) || done === totalSteps) await checkpoint(done);
    }
  } finally {
    bar.done();
    optimizer.dispose();
  }
  if (resumedFrom !== totalSteps || !evals.some((e) => e.step === totalSteps)) await runEval(totalSteps);
  return { steps: totalSteps - start, totalSteps, resumedFrom, history, evals, metricsFile };
}

/** What both trainers (SFT and DPO) take besides the optimisation settings. */
export interface TrainerOptions extends Partial<OptimArgs> {
  /** Output folder: the trained model, metrics.jsonl, checkpoints/. */
  outDir: string;
  /** LoRA adapters, or `false` for full fine-tuning (each trainer has its own default). */
  lora?: Partial<LoraConfig> | false;
  /** TRL max_length / max_prompt_length / truncation_mode (dpo/tokenize.ts). */
  maxLength?: number;
  maxPromptLength?: number;
  truncationMode?: TruncationMode;
  /** Per-layer gradient checkpointing (official `gradient_checkpointing=True`); needed for 135M-class models. */
  gradientCheckpointing?: boolean;
  /** Name of the starting model for the saved folder's README (defaults to the model's ref). */
  baseModel?: string;
  onStep?: (r: StepRecord) => void | Promise<void>;
}

/** What a trainer returns: its own train summary and skip counts, and the loop's shared fields. */
export interface TrainRunResult<TrainSummary, Skips> extends ReturnType<typeof loopSummary> {
  outDir: string;
  /** Means over all training steps (TRL's end-of-run `train_loss` is such a mean). */
  train: TrainSummary;
  /** What validation dropped or cut, train and eval. */
  skipped: { train: Skips; eval: Skips | null };
  files: string[];
}

/** What both trainers report about a finished loop: the evals before and after, the log, where it resumed. */
export function loopSummary(loop: LoopResult): {
  evalBefore: ({ step: number } & Record<string, number>) | null;
  eval: ({ step: number } & Record<string, number>) | null;
  history: StepRecord[];
  evals: ({ step: number } & Record<string, number>)[];
  steps: number;
  resumedFrom: number | null;
  metricsFile: string;
} {
  const last = loop.evals.length ? loop.evals[loop.evals.length - 1] : null;
  return {
    evalBefore: loop.evals.find((e) => e.step === 0) ?? null,
    eval: last && last.step === loop.totalSteps ? last : null,
    history: loop.history,
    evals: loop.evals,
    steps: loop.totalSteps,
    resumedFrom: loop.resumedFrom,
    metricsFile: loop.metricsFile,
  };
}
