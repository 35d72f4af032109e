/**
 * The optimiser side of a Hugging Face `Trainer` run, in tfjs ops so it runs on wasm:
 *
 * - `AdamW`: torch.optim.AdamW (pytorch `torch/optim/adamw.py` `_single_tensor_adamw`, torch 2.5 — the official
 *   code's `environment.yaml` pins pytorch 2.5.1; in torch ≥ 2.6 the same code is `torch/optim/adam.py`
 *   `_single_tensor_adam` with `decoupled_weight_decay=True`). The official run asks for `adamw_torch_fused`, the fused
 *   CUDA kernel of the same update. Defaults are HF `TrainingArguments`' (`adam_beta1=0.9`, `adam_beta2=0.999`,
 *   `adam_epsilon=1e-8`, `weight_decay=0.0`), not torch's (weight_decay 1e-2).
 * - `cosineWithWarmup`: transformers `optimization.py` `_get_cosine_schedule_with_warmup_lr_lambda` with
 *   `num_cycles=0.5` (what `lr_scheduler_type="cosine"` builds), and `warmupStepsFromRatio` = transformers
 *   `TrainingArguments.get_warmup_steps` (`math.ceil(num_training_steps * warmup_ratio)`).
 * - `clipGradNorm`: torch `torch/nn/utils/clip_grad.py` `clip_grad_norm_` (L2), whose return value HF logs as
 *   `grad_norm`; the official run uses `max_grad_norm=0.3`.
 *
 * Order in one HF optimizer step: accumulate grads → `clipGradNorm` → `AdamW.step(grads, baseLr · cosineWithWarmup(k))`
 * with k = optimizer steps already taken (0 for the first, so the first step runs at lr 0 when warmup > 0).
 */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor, WeightMap } from '../models/types';

export interface AdamWOptions {
  /** Base learning rate, > 0 (HF `learning_rate`; the official run: 5e-5). */
  lr: number;
  /** (β1, β2), each in [0, 1). Default (0.9, 0.999). */
  betas?: [number, number];
  /** ε ≥ 0 added to the bias-corrected √v. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay λ ≥ 0. Default 0 (HF). */
  weightDecay?: number;
  /**
   * Which variables decay (when weightDecay > 0). Default: all. HF `Trainer.get_decay_parameter_names` excludes
   * biases and LayerNorm weights; pass a filter to do the same.
   */
  decayFilter?: (name: string) => boolean;
}

interface Slot {
  step: number;
  m: tf.Variable;
  v: tf.Variable;
}

const SUFFIX = { m: '.exp_avg', v: '.exp_avg_sq', step: '.step' } as const;

function checkNumber(what: string, x: unknown, ok: (x: number) => boolean, rule: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x)) throw new Error(`AdamW ${what} must be ${rule}, got ${String(x)}`);
  return x;
}

/**
 * AdamW over a fixed set of tf.Variables, keyed by `variable.name` (the keys of `tf.variableGrads(...).grads`).
 * For each variable with a gradient g, at its step t (t counted per variable, as torch does):
 *
 *   θ ← θ · (1 − lr·λ)                               decoupled weight decay (skipped when λ = 0)
 *   m ← m + (g − m)(1 − β1)                          torch 2.x `exp_avg.lerp_(grad, 1 - beta1)`
 *   v ← β2·v + (1 − β2)·g²
 *   θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
 *
 * Bias corrections are computed in float64 on the host, as torch does in Python; tensors are float32. Moments are
 * created lazily at a variable's first step (zeros), like torch's lazy state; a variable without a gradient in a step
 * is left alone (torch skips `p.grad is None`). After the first step `tf.memory().numTensors` stays constant.
 */
export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly decayFilter: (name: string) => boolean;
  private readonly vars = new Map<string, tf.Variable>();
  private readonly slots = new Map<string, Slot>();
  private disposed = false;

  constructor(variables: tf.Variable[], opts: AdamWOptions) {
    if (!opts || typeof opts !== 'object') throw new Error('AdamW needs options { lr }');
    this.lr = checkNumber('lr', opts.lr, (x) => x > 0, 'a finite number > 0');
    const betas = opts.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`AdamW betas must be [beta1, beta2], got ${String(betas)}`);
    this.beta1 = checkNumber('beta1', betas[0], (x) => x >= 0 && x < 1, 'in [0, 1)');
    this.beta2 = checkNumber('beta2', betas[1], (x) => x >= 0 && x < 1, 'in [0, 1)');
    this.eps = checkNumber('eps', opts.eps ?? 1e-8, (x) => x >= 0, 'a finite number >= 0');
    this.weightDecay = checkNumber('weightDecay', opts.weightDecay ?? 0, (x) => x >= 0, 'a finite number >= 0');
    this.decayFilter = opts.decayFilter ?? (() => true);
    if (!Array.isArray(variables) || variables.length === 0) throw new Error('AdamW needs a non-empty array of tf.Variable');
    for (const v of variables) {
      if (!(v instanceof tf.Variable)) throw new Error('AdamW: every parameter must be a tf.Variable');
      if (v.dtype !== 'float32') throw new Error(`AdamW: variable '${v.name}' is ${v.dtype}, expected float32`);
      if (this.vars.has(v.name)) throw new Error(`AdamW: duplicate variable name '${v.name}'`);
      this.vars.set(v.name, v);
    }
  }

  /** Names of the optimised variables, in the order given. */
  get names(): string[] {
    return [...this.vars.keys()];
  }

  /** Steps taken by the variable that has stepped most (all of them, when every step has every gradient). */
  get stepCount(): number {
    let s = 0;
    for (const slot of this.slots.values()) s = Math.max(s, slot.step);
    return s;
  }

  /**
   * One update. `grads` maps variable names to gradients of the same shape (the caller owns and disposes them);
   * `lr` overrides the base rate for this step (a scheduler's value; ≥ 0, so a warmup step at lr 0 is allowed and,
   * as in torch, still advances the moments and the step count).
   */
  step(grads: tf.NamedTensorMap, lr: number = this.lr): void {
    if (this.disposed) throw new Error('AdamW: step() after dispose()');
    checkNumber('step lr', lr, (x) => x >= 0, 'a finite number >= 0');
    for (const [name, g] of Object.entries(grads)) {
      const p = this.vars.get(name);
      if (!p) throw new Error(`AdamW: gradient for unknown variable '${name}'`);
      if (!(g instanceof tf.Tensor)) throw new Error(`AdamW: gradient '${name}' is not a tensor`);
      if (!tf.util.arraysEqual(g.shape, p.shape)) throw new Error(`AdamW: gradient '${name}' has shape [${g.shape}], variable has [${p.shape}]`);
    }
    const { beta1, beta2, eps } = this;
    for (const [name, g] of Object.entries(grads)) {
      const p = this.vars.get(name)!;
      let slot = this.slots.get(name);
      if (!slot) {
        // tf.variable copies its initial value: dispose the zeros it was made from
        const z = tf.zerosLike(p);
        slot = { step: 0, m: tf.variable(z, false), v: tf.variable(z, false) };
        z.dispose();
        this.slots.set(name, slot);
      }
      slot.step += 1;
      const t = slot.step;
      const bc1 = 1 - beta1 ** t;
      const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
      const stepSize = lr / bc1;
      const decay = this.weightDecay !== 0 && this.decayFilter(name) ? 1 - lr * this.weightDecay : 1;
      const s = slot;
      tf.tidy(() => {
        const theta = decay !== 1 ? tf.mul(p, decay) : p;
        // torch lerp(self, end, w): self + w·(end − self) for w < 0.5, else end − (end − self)·(1 − w)
        const w = 1 - beta1;
        const m = w < 0.5 ? tf.add(s.m, tf.mul(tf.sub(g, s.m), w)) : tf.sub(g, tf.mul(tf.sub(g, s.m), beta1));
        const v = tf.add(tf.mul(s.v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
        s.m.assign(m);
        s.v.assign(v);
        p.assign(tf.sub(theta, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  /**
   * The optimiser state as host tensors, for a checkpoint's `optimizer.safetensors`:
   * `<name>.exp_avg`, `<name>.exp_avg_sq` (the variable's shape) and `<name>.step` (shape [1]) per variable that has
   * stepped. Float32 copies, so `importState` resumes bit for bit.
   */
  /** The moment tensors (exp_avg, exp_avg_sq of every stepped variable), e.g. for `readableOnHost` before `exportState`. */
  stateTensors(): tf.Tensor[] {
    return [...this.slots.values()].flatMap((s) => [s.m, s.v]);
  }

  exportState(): WeightMap {
    const out: WeightMap = new Map();
    for (const [name, s] of this.slots) {
      out.set(name + SUFFIX.m, { shape: [...s.m.shape], data: Float32Array.from(s.m.dataSync() as Float32Array) });
      out.set(name + SUFFIX.v, { shape: [...s.v.shape], data: Float32Array.from(s.v.dataSync() as Float32Array) });
      out.set(name + SUFFIX.step, { shape: [1], data: Float32Array.of(s.step) });
    }
    return out;
  }

  /** Replace the state with one from `exportState` (same variable names and shapes); unknown entries are an error. */
  importState(state: WeightMap): void {
    if (this.disposed) throw new Error('AdamW: importState() after dispose()');
    const parsed = new Map<string, { m?: HostTensor; v?: HostTensor; step?: number }>();
    for (const [key, t] of state) {
      const kind = (Object.keys(SUFFIX) as (keyof typeof SUFFIX)[]).find((k) => key.endsWith(SUFFIX[k]));
      const name = kind ? key.slice(0, key.length - SUFFIX[kind].length) : '';
      const p = this.vars.get(name);
      if (!kind || !p) throw new Error(`AdamW.importState: entry '${key}' names no optimised variable`);
      const e = parsed.get(name) ?? {};
      if (kind === 'step') {
        const st = t.data[0];
        if (t.data.length !== 1 || !Number.isInteger(st) || st < 1) throw new Error(`AdamW.importState: '${key}' must hold one integer >= 1`);
        e.step = st;
      } else {
        if (!tf.util.arraysEqual(t.shape, p.shape) || t.data.length !== p.size) {
          throw new Error(`AdamW.importState: '${key}' has shape [${t.shape}], variable has [${p.shape}]`);
        }
        e[kind] = t;
      }
      parsed.set(name, e);
    }
    for (const [name, e] of parsed) {
      if (!e.m || !e.v || e.step === undefined) throw new Error(`AdamW.importState: '${name}' needs .exp_avg, .exp_avg_sq and .step`);
    }
    this.disposeSlots();
    for (const [name, e] of parsed) {
      const shape = this.vars.get(name)!.shape;
      this.slots.set(name, {
        step: e.step!,
        m: tf.variable(tf.tensor(Float32Array.from(e.m!.data), shape, 'float32'), false),
        v: tf.variable(tf.tensor(Float32Array.from(e.v!.data), shape, 'float32'), false),
      });
    }
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }

  /** Free the moment tensors (not the optimised variables). */
  dispose(): void {
    this.disposeSlots();
    this.disposed = true;
  }
}

export interface CosineScheduleOptions {
  /** Optimizer steps in the whole run (HF `num_training_steps`). */
  totalSteps: number;
  /** Linear warmup steps (HF `num_warmup_steps`; from a ratio: `warmupStepsFromRatio`). */
  warmupSteps: number;
}

/**
 * The learning-rate MULTIPLIER (lr = base · this) for optimizer step k = 0, 1, …, totalSteps − 1 (k = steps already
 * taken; HF's LambdaLR gives step k the value at `current_step = k`):
 *
 *   k < W:  k / max(1, W)
 *   else:   max(0, ½ (1 + cos(π · 2 · 0.5 · (k − W) / max(1, T − W))))
 *
 * transformers `optimization.py` `_get_cosine_schedule_with_warmup_lr_lambda`, `num_cycles=0.5`. As there, a step
 * past totalSteps is not an error and the value rises again (max(0, …) only cuts negatives).
 */
export function cosineWithWarmup(step: number, opts: CosineScheduleOptions): number {
  const { totalSteps, warmupSteps } = opts;
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new Error(`cosineWithWarmup: totalSteps must be an integer >= 1, got ${totalSteps}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new Error(`cosineWithWarmup: warmupSteps must be an integer >= 0, got ${warmupSteps}`);
  if (!Number.isInteger(step) || step < 0) throw new Error(`cosineWithWarmup: step must be an integer >= 0, got ${step}`);
  const numCycles = 0.5;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
}

/** HF `TrainingArguments.get_warmup_steps` with `warmup_steps=0`: `math.ceil(total * ratio)`. */
export function warmupStepsFromRatio(totalSteps: number, ratio: number): number {
  if (!Number.isInteger(totalSteps) || totalSteps < 0) throw new Error(`warmupStepsFromRatio: totalSteps must be an integer >= 0, got ${totalSteps}`);
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) throw new Error(`warmupStepsFromRatio: ratio must lie in [0, 1], got ${ratio}`);
  return Math.ceil(totalSteps * ratio);
}

export interface ClipGradNormOptions {
  /** torch `error_if_nonfinite` (default false: a NaN/Inf norm makes every clipped gradient NaN, as in torch). */
  errorIfNonfinite?: boolean;
}

/**
 * torch `clip_grad_norm_(parameters, max_norm)` with the L2 norm:
 *
 *   total     = ‖(‖g₁‖₂, ‖g₂‖₂, …)‖₂                       (the norm over all gradients together)
 *   clip_coef = min(1, max_norm / (total + 1e-6))
 *   gᵢ ← gᵢ · clip_coef                                    (always multiplied, as torch does; ×1 is exact)
 *
 * tfjs tensors are immutable, so the clipped gradients are NEW tensors (same keys); the caller disposes both maps.
 * Returns the pre-clip `totalNorm` (HF logs it as `grad_norm`). An empty map gives totalNorm 0. Async because the norm
 * is read back to the host (torch's `.item()` in HF's logging), which on webgpu can only be awaited.
 */
export async function clipGradNorm(grads: tf.NamedTensorMap, maxNorm: number, opts: ClipGradNormOptions = {}): Promise<{ grads: tf.NamedTensorMap; totalNorm: number }> {
  if (typeof maxNorm !== 'number' || !Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new Error(`clipGradNorm: maxNorm must be a finite number > 0, got ${maxNorm} (HF skips clipping when max_grad_norm is 0)`);
  }
  const names = Object.keys(grads);
  if (names.length === 0) return { grads: {}, totalNorm: 0 };
  for (const n of names) if (!(grads[n] instanceof tf.Tensor)) throw new Error(`clipGradNorm: gradient '${n}' is not a tensor`);
  const total = tf.tidy(() => tf.norm(tf.stack(names.map((n) => tf.norm(grads[n]))))) as tf.Scalar;
  const totalNorm = (await total.data())[0]; // async: a synchronous read is impossible on webgpu in Node
  if (opts.errorIfNonfinite && !Number.isFinite(totalNorm)) {
    total.dispose();
    throw new Error(`clipGradNorm: the total gradient norm is non-finite (${totalNorm})`);
  }
  const out = tf.tidy(() => {
    const coef = tf.minimum(tf.div(maxNorm, tf.add(total, 1e-6)), 1);
    const clipped: tf.NamedTensorMap = {};
    for (const n of names) clipped[n] = tf.mul(grads[n], coef);
    return clipped;
  });
  total.dispose();
  return { grads: out, totalNorm };
}
