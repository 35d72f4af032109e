/**
 * LoRA adapters on the TensorFlow.js Llama, compatible with Hugging Face PEFT (Hu et al. 2021, "LoRA: Low-Rank
 * Adaptation of Large Language Models", arXiv 2106.09685; peft/tuners/lora/layer.py `Linear.forward`):
 *
 *     result = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling,    scaling = lora_alpha / r
 *
 * for every targeted projection, attached at `LlamaTF.linear` (`model.setAdapter(lora)`). As in PEFT:
 *  - init (`init_lora_weights=True`): A ~ kaiming_uniform(a=√5), nn.Linear's default, i.e. U(−1/√in, 1/√in);
 *    B = 0, so a fresh adapter leaves the model unchanged;
 *  - `'all-linear'` targets every Linear except the output layer (lm_head): q/k/v/o and gate/up/down;
 *  - dropout acts on the adapter's input only (nn.Dropout: zero with probability p, survivors × 1/(1−p));
 *  - `enabled = false` is PEFT's `disable_adapter()`: the base model, the DPO reference (TRL: "disabling adapters
 *    yields the base model");
 *  - `toWeightMap()` uses PEFT's saved names and PyTorch layout (`base_model.model.<module>.lora_A.weight` `[r, in]`,
 *    `…lora_B.weight` `[out, r]`), i.e. `adapter_model.safetensors`; `adapterConfigJson()` its adapter_config.json;
 *    `mergedWeightMap()` is `merge_and_unload()`: W + scaling·B·A.
 * Unlike PEFT, dropout masks are not drawn but derived from (seed, step, module), so a checkpointed layer's
 * recomputation in backward and a resumed run see the same masks; the trainer sets the step (`setStep`).
 *
 * Storage follows `llama-tf.ts`: A is held as `[in, r]` and B as `[r, out]` (PyTorch's transposes), so the adapter
 * is two plain matmuls `(x·Aᵀ)·Bᵀ` on wasm; the weight maps transpose back.
 */
import * as tf from '@tensorflow/tfjs';
import type { LinearAdapter, LinearContext, LlamaTF } from '../models/llama-tf';
import type { WeightMap } from '../models/types';
import { fnv1a } from '../util/rng';

/** The projections LoRA can target, by PEFT short name, and where they sit in a decoder layer. */
export const LORA_TARGETS = {
  q_proj: 'self_attn', k_proj: 'self_attn', v_proj: 'self_attn', o_proj: 'self_attn',
  gate_proj: 'mlp', up_proj: 'mlp', down_proj: 'mlp',
} as const;
export type LoraTarget = keyof typeof LORA_TARGETS;

export interface LoraConfig {
  /** PEFT `r`: the rank of A `[r, in]` and B `[out, r]`. */
  rank: number;
  /** PEFT `lora_alpha`: the update is scaled by alpha / rank. */
  alpha: number;
  /** PEFT `lora_dropout` in [0, 1), on the adapter input in training passes. */
  dropout: number;
  /** PEFT `target_modules`: `'all-linear'` or short names such as `['q_proj', 'v_proj']`. */
  targetModules: 'all-linear' | string[];
  /** Seeds A's init and the dropout masks. */
  seed: number;
}

/** One adapted projection. */
export interface LoraModule {
  /** HF module prefix, e.g. `model.layers.0.self_attn.q_proj`. */
  name: string;
  layer: number;
  inFeatures: number;
  outFeatures: number;
  /** Aᵀ `[in, r]`. */
  A: tf.Variable;
  /** Bᵀ `[r, out]`. */
  B: tf.Variable;
}

// ---------------------------------------------------------------------------------------------------------------
// seeded streams (host side, so masks are the same on every backend)


/** mulberry32: a small, fast 32-bit generator; one stream per key. */
function stream(key: string): () => number {
  let a = fnv1a(key) | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * The inverted-dropout multiplier of nn.Dropout(p) for an `[rows, cols]` input: 0 with probability p, else 1/(1−p),
 * from the stream of (seed, step, module). Exposed for tests.
 */
export function dropoutMask(seed: number, step: number, module: string, rows: number, cols: number, p: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const next = stream(`lora-dropout/${seed}/${step}/${module}/${rows}x${cols}`);
  const threshold = p * 4294967296;
  const keep = 1 / (1 - p);
  for (let i = 0; i < out.length; i++) out[i] = next() >= threshold ? keep : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

let instances = 0;

function checkConfig(cfg: LoraConfig): LoraTarget[] {
  if (!Number.isInteger(cfg.rank) || cfg.rank <= 0) throw new Error(`LoRA rank must be a whole number > 0, got ${cfg.rank}`);
  if (!(Number.isFinite(cfg.alpha) && cfg.alpha > 0)) throw new Error(`LoRA alpha must be > 0, got ${cfg.alpha}`);
  if (!(Number.isFinite(cfg.dropout) && cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`LoRA dropout must be in [0, 1), got ${cfg.dropout}`);
  if (!Number.isInteger(cfg.seed)) throw new Error(`LoRA seed must be a whole number, got ${cfg.seed}`);
  const known = Object.keys(LORA_TARGETS) as LoraTarget[];
  if (cfg.targetModules === 'all-linear') return known;
  if (!Array.isArray(cfg.targetModules) || cfg.targetModules.length === 0) {
    throw new Error(`LoRA targetModules must be 'all-linear' or a non-empty list of ${known.join(', ')}`);
  }
  for (const m of cfg.targetModules) {
    if (!(known as string[]).includes(m)) throw new Error(`unknown LoRA target module '${m}': use 'all-linear' or some of ${known.join(', ')}`);
  }
  return known.filter((k) => (cfg.targetModules as string[]).includes(k));
}

const PEFT_PREFIX = 'base_model.model.';

export class LoraAdapters implements LinearAdapter {
  readonly config: Readonly<LoraConfig>;
  /** alpha / rank (PEFT `scaling`; no rsLoRA). */
  readonly scale: number;
  /** Resolved short names, in PEFT's saved `target_modules` sense. */
  readonly targets: readonly LoraTarget[];
  /** Adapted projections by HF module prefix. */
  readonly modules: ReadonlyMap<string, LoraModule>;
  /** Every A and B, trainable, in module order (A then B). */
  readonly variables: tf.Variable[];
  /** False: the adapters add nothing (PEFT `disable_adapter()`), e.g. for the DPO reference pass. */
  enabled = true;
  /**
   * Dropout in training passes (`ForwardOptions.training`); false turns it off even there (PyTorch
   * `lora_dropout.eval()`). Evaluation passes never drop. Default true.
   */
  training = true;
  private step = 0;
  private readonly byLayer = new Map<number, tf.Variable[]>();

  constructor(readonly model: LlamaTF, cfg: LoraConfig) {
    this.targets = checkConfig(cfg);
    this.config = Object.freeze({ ...cfg, targetModules: cfg.targetModules === 'all-linear' ? 'all-linear' : [...cfg.targetModules] });
    this.scale = cfg.alpha / cfg.rank;
    const r = cfg.rank;
    const id = ++instances;
    const modules = new Map<string, LoraModule>();
    for (let l = 0; l < model.config.numHiddenLayers; l++) {
      for (const t of this.targets) {
        const name = `model.layers.${l}.${LORA_TARGETS[t]}.${t}`;
        const w = model.params.get(`${name}.weight`);
        if (!w) throw new Error(`internal: ${name}.weight not in the model`);
        const [inF, outF] = w.shape; // stored [in, out]
        // kaiming_uniform_(a=√5) on A [r, in]: gain √(2/(1+a²)) = √(1/3), bound = gain·√(3/fan_in) = 1/√in.
        const bound = 1 / Math.sqrt(inF);
        const next = stream(`lora-init/${cfg.seed}/${name}`);
        const a = new Float32Array(inF * r); // Aᵀ [in, r], drawn in PyTorch's A [r, in] order
        for (let k = 0; k < r; k++) for (let i = 0; i < inF; i++) a[i * r + k] = (next() / 4294967296) * 2 * bound - bound;
        const A = variableFrom(tf.tensor2d(a, [inF, r]), `lora${id}/${name}.lora_A`);
        const B = variableFrom(tf.zeros([r, outF]), `lora${id}/${name}.lora_B`);
        modules.set(name, { name, layer: l, inFeatures: inF, outFeatures: outF, A, B });
        if (!this.byLayer.has(l)) this.byLayer.set(l, []);
        this.byLayer.get(l)!.push(A, B);
      }
    }
    this.modules = modules;
    this.variables = [...modules.values()].flatMap((m) => [m.A, m.B]);
  }

  /** Trainable parameter count (PEFT `print_trainable_parameters`). */
  get numParameters(): number {
    return this.variables.reduce((n, v) => n + v.size, 0);
  }

  /** Variables by PEFT name (`base_model.model.<module>.lora_A.weight`), values in the stored `[in, r]` / `[r, out]` layout: stable keys for optimizer state and checkpoints. */
  namedVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const m of this.modules.values()) {
      out.set(`${PEFT_PREFIX}${m.name}.lora_A.weight`, m.A);
      out.set(`${PEFT_PREFIX}${m.name}.lora_B.weight`, m.B);
    }
    return out;
  }

  /** The dropout step: masks are a function of (seed, step, module); set it once per forward/backward you want fresh masks for (e.g. the micro-batch counter). */
  setStep(step: number): void {
    if (!Number.isInteger(step) || step < 0) throw new Error(`LoRA step must be a whole number >= 0, got ${step}`);
    this.step = step;
  }

  get currentStep(): number {
    return this.step;
  }

  /** `y + scale·(dropout(x)·Aᵀ)·Bᵀ` at targeted modules; x `[N, in]`, y `[N, out]`. */
  adapt(name: string, x: tf.Tensor2D, y: tf.Tensor2D, ctx: LinearContext): tf.Tensor2D {
    const m = this.enabled ? this.modules.get(name) : undefined;
    if (!m) return y;
    return tf.tidy(() => {
      let xd: tf.Tensor2D = x;
      if (ctx.training && this.training && this.config.dropout > 0) {
        const [N, inF] = x.shape;
        xd = tf.mul(x, tf.tensor2d(dropoutMask(this.config.seed, this.step, name, N, inF, this.config.dropout), [N, inF])) as tf.Tensor2D;
      }
      return tf.add(y, tf.mul(tf.matMul(tf.matMul(xd, m.A), m.B), this.scale)) as tf.Tensor2D; // [N, out]
    });
  }

  layerTensors(layer: number): tf.Tensor[] {
    return this.enabled ? this.byLayer.get(layer) ?? [] : [];
  }

  /** PEFT `adapter_model.safetensors` contents: `base_model.model.<module>.lora_A.weight` `[r, in]`, `lora_B.weight` `[out, r]`. */
  toWeightMap(): WeightMap {
    const out: WeightMap = new Map();
    for (const m of this.modules.values()) {
      out.set(`${PEFT_PREFIX}${m.name}.lora_A.weight`, { shape: [this.config.rank, m.inFeatures], data: transposed(m.A) });
      out.set(`${PEFT_PREFIX}${m.name}.lora_B.weight`, { shape: [m.outFeatures, this.config.rank], data: transposed(m.B) });
    }
    return out;
  }

  /** Load weights written by `toWeightMap` (or PEFT): every module's A and B, exact shapes, nothing else. */
  loadWeightMap(w: WeightMap, source = 'LoRA weights'): void {
    const expected = this.toWeightMapShapes();
    for (const name of w.keys()) {
      if (!expected.has(name)) throw new Error(`${source}: unexpected tensor '${name}' (adapter has ${expected.size} tensors, e.g. '${expected.keys().next().value}')`);
    }
    for (const [name, shape] of expected) {
      const t = w.get(name);
      if (!t) throw new Error(`${source}: missing tensor '${name}' (expected shape [${shape}])`);
      if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) throw new Error(`${source}: tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
    }
    const named = this.namedVariables();
    for (const [name, v] of named) {
      const t = w.get(name)!;
      const value = tf.tensor2d(transposeHost(t.data, t.shape[0], t.shape[1]), [t.shape[1], t.shape[0]]);
      v.assign(value);
      value.dispose();
    }
  }

  private toWeightMapShapes(): Map<string, [number, number]> {
    const out = new Map<string, [number, number]>();
    for (const m of this.modules.values()) {
      out.set(`${PEFT_PREFIX}${m.name}.lora_A.weight`, [this.config.rank, m.inFeatures]);
      out.set(`${PEFT_PREFIX}${m.name}.lora_B.weight`, [m.outFeatures, this.config.rank]);
    }
    return out;
  }

  /**
   * The base model's weights with every adapter merged in, PyTorch layout (PEFT `merge_and_unload`):
   * W[o, i] + scale · Σ_k B[o, k]·A[k, i] (accumulated in float64, rounded to float32). Ignores `enabled`.
   */
  mergedWeightMap(): WeightMap {
    const w = this.model.toWeightMap();
    const r = this.config.rank;
    for (const m of this.modules.values()) {
      const W = w.get(`${m.name}.weight`)!; // [out, in]
      const At = m.A.dataSync() as Float32Array; // [in, r]
      const Bt = m.B.dataSync() as Float32Array; // [r, out]
      const inF = m.inFeatures, outF = m.outFeatures;
      const A = new Float64Array(r * inF); // A [r, in]
      for (let i = 0; i < inF; i++) for (let k = 0; k < r; k++) A[k * inF + i] = At[i * r + k];
      const row = new Float64Array(inF);
      for (let o = 0; o < outF; o++) {
        row.fill(0);
        for (let k = 0; k < r; k++) {
          const c = this.scale * Bt[k * outF + o];
          if (c === 0) continue;
          const off = k * inF;
          for (let i = 0; i < inF; i++) row[i] += c * A[off + i];
        }
        const base = o * inF;
        for (let i = 0; i < inF; i++) W.data[base + i] = W.data[base + i] + row[i];
      }
    }
    return w;
  }

  /**
   * PEFT adapter_config.json for these adapters (LoraConfig fields as PEFT saves them; `target_modules` is the
   * resolved list, as PEFT writes it for `'all-linear'`).
   */
  adapterConfigJson(baseModelNameOrPath: string | null = null): Record<string, unknown> {
    return {
      alpha_pattern: {},
      base_model_name_or_path: baseModelNameOrPath,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layers_pattern: null,
      layers_to_transform: null,
      lora_alpha: this.config.alpha,
      lora_dropout: this.config.dropout,
      modules_to_save: null,
      peft_type: 'LORA',
      r: this.config.rank,
      rank_pattern: {},
      revision: null,
      target_modules: [...this.targets].sort(),
      task_type: 'CAUSAL_LM',
      use_dora: false,
      use_rslora: false,
    };
  }

  /** Free the A/B variables; detaches from the model if attached. */
  dispose(): void {
    if (this.model.adapter === this) this.model.setAdapter(null);
    for (const v of this.variables) v.dispose();
    this.variables.length = 0;
    (this.modules as Map<string, LoraModule>).clear();
    this.byLayer.clear();
  }
}

/** A trainable variable holding `init`'s values (the initialiser is disposed: the variable keeps its own reference). */
function variableFrom(init: tf.Tensor, name: string): tf.Variable {
  const v = tf.variable(init, true, name);
  init.dispose();
  return v;
}

function transposeHost(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** A stored `[a, b]` variable as PyTorch's `[b, a]` row-major data. */
function transposed(v: tf.Variable): Float32Array {
  const [a, b] = v.shape;
  return transposeHost(v.dataSync() as Float32Array, a, b);
}
