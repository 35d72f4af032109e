/**
 * The Llama family in TensorFlow.js — the kit's trainable engine (DPO updates these variables).
 *
 * One transformer covers Llama, SmolLM2, Qwen2 (q/k/v bias) and Mistral, following Hugging Face
 * `modeling_llama.py`: RMSNorm, rotate-half RoPE with `rope_theta`, grouped-query attention, SwiGLU MLP, optional
 * tied embeddings. Weights keep their Hugging Face names so checkpoints load and save without renaming.
 *
 * Two layout choices come from measurements of tfjs-backend-wasm on the 2-core reference machine:
 *  - every 2-D weight is stored TRANSPOSED, `[in, out]` (embeddings as `[hidden, vocab]`): `matMul(x, W, false,
 *    true)` ran at 2 GFLOP/s against 22 GFLOP/s for `matMul(x, Wᵀ)` pre-transposed;
 *  - attention runs one 2-D matmul per (batch, head): batched 3-D matMul ran at 1.8 GFLOP/s, the loop at 8.5.
 * `toWeightMap()` transposes back, so exported checkpoints are in the PyTorch `[out, in]` layout.
 * Tied models keep ONE variable (`model.embed_tokens.weight`, stored `[hidden, vocab]`) used for both the input
 * lookup (a gather along axis 1) and the LM head, so DPO gradients reach it from both ends as in PyTorch.
 *
 * Training seams (../shared/docs/training-on-tfjs.md):
 *  - every projection goes through `linear(x, name)`, `name` being the HF module prefix
 *    (`model.layers.0.self_attn.q_proj`, …, `lm_head`); an adapter (`setAdapter`, e.g. LoRA) attaches there;
 *  - a decoder layer reads like its equation: `h = x + attention(norm₁(x))`, `out = h + mlp(norm₂(h))`;
 *  - inference tidies per layer (the heap holds one layer's intermediates); training can checkpoint per layer
 *    (`hiddenStates(ids, undefined, { checkpoint: true })`): each layer is recomputed in backward;
 *  - `tf-grad-fixes.ts` (installed on import) makes the matmul gradients fast on wasm and gives wasm the segment-sum
 *    kernel that gather gradients (embedding, picked log-probs) need.
 */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor, LlamaConfig, WeightMap } from './types';
import { ModelLoadError } from './errors';
import { checkpointed, installGradFixes } from './tf-grad-fixes';

installGradFixes();

/** Options of one forward pass. */
export interface ForwardOptions {
  /**
   * A training pass: adapters apply their dropout (PEFT `lora_dropout`, active in PyTorch's `model.train()` mode).
   * Default false (evaluation: deterministic). The base Llama itself has no dropout (attention_dropout 0).
   */
  training?: boolean;
  /**
   * Per-layer gradient checkpointing: each decoder layer keeps only its input for backward and is recomputed there
   * (HF `gradient_checkpointing_enable`). Without it the backward of a 135M model does not fit the 4 GB wasm heap.
   * Only matters while gradients are recorded (`tf.variableGrads`); not with a KV cache. Default false.
   */
  checkpoint?: boolean;
}

/** What the linear seam tells an adapter about the pass. */
export interface LinearContext {
  training: boolean;
}

/**
 * Something added to projections at `LlamaTF.linear` (LoRA in `lib/dpo/lora.ts`).
 * `adapt` receives the projection's input `x` `[N, in]` and the base output `y = x·Wᵀ (+ b)` `[N, out]` and returns
 * the module's output (`y` itself where the adapter has nothing at `name`).
 */
export interface LinearAdapter {
  adapt(name: string, x: tf.Tensor2D, y: tf.Tensor2D, ctx: LinearContext): tf.Tensor2D;
  /**
   * The tensors `adapt` reads for the modules of decoder layer `layer` (e.g. LoRA A and B), the very objects it
   * uses: a checkpointed layer takes them as inputs so gradients reach them. Empty when the adapter is off.
   */
  layerTensors(layer: number): tf.Tensor[];
}

/** Key/value cache of one sequence batch: per layer `[batch, kvHeads, cached, headDim]`. */
export interface KVCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  /** Number of cached positions (the next token's RoPE position). */
  length: number;
}

const EMBED = 'model.embed_tokens.weight';
const LM_HEAD = 'lm_head.weight';

/** Names of every parameter a config needs, in a stable order, with their PyTorch shapes. */
export function expectedParameters(c: LlamaConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  out.set(EMBED, [c.vocabSize, c.hiddenSize]);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `model.layers.${i}.`;
    out.set(`${p}input_layernorm.weight`, [c.hiddenSize]);
    out.set(`${p}self_attn.q_proj.weight`, [q, c.hiddenSize]);
    out.set(`${p}self_attn.k_proj.weight`, [kv, c.hiddenSize]);
    out.set(`${p}self_attn.v_proj.weight`, [kv, c.hiddenSize]);
    if (c.attentionBias) {
      out.set(`${p}self_attn.q_proj.bias`, [q]);
      out.set(`${p}self_attn.k_proj.bias`, [kv]);
      out.set(`${p}self_attn.v_proj.bias`, [kv]);
    }
    out.set(`${p}self_attn.o_proj.weight`, [c.hiddenSize, q]);
    out.set(`${p}post_attention_layernorm.weight`, [c.hiddenSize]);
    out.set(`${p}mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    out.set(`${p}mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize]);
    out.set(`${p}mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize]);
  }
  out.set('model.norm.weight', [c.hiddenSize]);
  if (!c.tieWordEmbeddings) out.set(LM_HEAD, [c.vocabSize, c.hiddenSize]);
  return out;
}

/** `[rows, cols]` row-major → `[cols, rows]` on the host (one pass, no tensors). */
function transposeHost(t: HostTensor): Float32Array {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return out;
}

/** One forward pass: its shape, the tensors every layer reads, the adapter context and the KV cache being filled. */
interface Pass {
  B: number;
  T: number;
  /** Cached positions before this pass (RoPE offset). */
  offset: number;
  /** RoPE tables `[T, headDim]`. */
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  /** Additive causal mask `[T, S]`, S = offset + T. */
  mask: tf.Tensor2D;
  ctx: LinearContext;
  cache?: KVCache;
  newKeys: tf.Tensor4D[];
  newValues: tf.Tensor4D[];
}

/**
 * Which attention kernel: the per-(batch, head) 2-D matmul loop is faster on wasm for long sequences (measured
 * 8.5 vs 1.8 GFLOP/s on 135M shapes, file comment), but for many short ones (toy-world training: B·H = 256, T ≈ 30)
 * the loop's op count dominates and one batched matmul is ~10× faster. Both compute the same numbers.
 */
export function useBatchedAttention(B: number, H: number, T: number, S: number): boolean {
  if (process.env.IPO_ATTENTION === 'loop') return false;
  if (process.env.IPO_ATTENTION === 'batched') return true;
  return B * H >= 16 && T * S <= 64 * 64;
}

export class LlamaTF {
  /** Parameters by Hugging Face name; 2-D ones are stored transposed (`[in, out]`). */
  readonly params = new Map<string, tf.Variable>();
  private ropeCache = new Map<number, { cos: Float32Array; sin: Float32Array }>();
  private static instances = 0;
  private adapterRef: LinearAdapter | null = null;

  constructor(readonly config: LlamaConfig, weights: WeightMap, opts: { trainable?: boolean; source?: string } = {}) {
    const source = opts.source ?? 'weights';
    LlamaTF.instances++;
    const expected = expectedParameters(config);
    const w = new Map(weights);
    // Tied checkpoints store one of the two names (TinyStories-656K stores only lm_head.weight).
    if (config.tieWordEmbeddings && !w.has(EMBED) && w.has(LM_HEAD)) w.set(EMBED, w.get(LM_HEAD)!);
    for (const [name, shape] of expected) {
      const t = w.get(name);
      if (!t) throw new ModelLoadError(source, `missing tensor '${name}' (expected shape [${shape}])`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new ModelLoadError(source, `tensor '${name}' has shape [${t.shape}], config implies [${shape}]`);
      }
      const data = shape.length === 2 ? transposeHost(t) : t.data;
      const stored = shape.length === 2 ? [shape[1], shape[0]] : shape;
      const init = tf.tensor(data, stored, 'float32');
      // Variables are uniquely named in tfjs' global registry; a counter lets several models (policy + reference) coexist.
      this.params.set(name, tf.variable(init, opts.trainable ?? false, `ipo${LlamaTF.instances}/${name}`));
      init.dispose(); // the variable holds its own reference to the data

    }
  }

  /** Total number of parameters (tied embeddings counted once). */
  get numParameters(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Trainable variables, e.g. for an optimizer. */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  setTrainable(trainable: boolean, filter: (name: string) => boolean = () => true): void {
    for (const [name, v] of this.params) if (filter(name)) v.trainable = trainable;
  }

  /** Parameters back in PyTorch layout (`[out, in]`), e.g. to write safetensors. */
  toWeightMap(): WeightMap {
    const out: WeightMap = new Map();
    for (const [name, v] of this.params) {
      const data = v.dataSync() as Float32Array;
      if (v.shape.length === 2) {
        const [r, c] = v.shape;
        out.set(name, { shape: [c, r], data: transposeHost({ shape: [r, c], data }) });
      } else {
        out.set(name, { shape: [...v.shape], data: Float32Array.from(data) });
      }
    }
    return out;
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`internal: parameter ${name} not loaded`);
    return v;
  }

  /** cos/sin tables for positions [offset, offset+len), rotate-half layout: `[len, headDim]` each. */
  private rope(offset: number, len: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const hd = this.config.headDim;
    const half = hd / 2;
    const total = offset + len;
    let table = this.ropeCache.get(total);
    if (!table) {
      const cos = new Float32Array(total * hd);
      const sin = new Float32Array(total * hd);
      for (let pos = 0; pos < total; pos++) {
        for (let i = 0; i < half; i++) {
          // inv_freq_i = θ^(-2i/d) as in HF LlamaRotaryEmbedding; emb = cat(freqs, freqs)
          const angle = pos * Math.pow(this.config.ropeTheta, (-2 * i) / hd);
          cos[pos * hd + i] = cos[pos * hd + i + half] = Math.cos(angle);
          sin[pos * hd + i] = sin[pos * hd + i + half] = Math.sin(angle);
        }
      }
      table = { cos, sin };
      if (this.ropeCache.size > 64) this.ropeCache.clear();
      this.ropeCache.set(total, table);
    }
    return {
      cos: tf.tensor2d(table.cos.subarray(offset * hd, total * hd), [len, hd]),
      sin: tf.tensor2d(table.sin.subarray(offset * hd, total * hd), [len, hd]),
    };
  }

  /** RMSNorm: x · rsqrt(mean(x²) + ε) · w, over the last axis. */
  private rmsNorm(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
    const variance = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, this.config.rmsNormEps))), weight);
  }

  /** x·cos + rotate_half(x)·sin with rotate_half(x) = cat(-x₂, x₁). x: `[B, heads, T, hd]`, cos/sin `[T, hd]`. */
  private applyRope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
    const half = this.config.headDim / 2;
    const [x1, x2] = tf.split(x, [half, half], 3);
    const rotated = tf.concat([tf.neg(x2), x1], 3);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
  }

  /** The adapter attached at the linear seam, or null. */
  get adapter(): LinearAdapter | null {
    return this.adapterRef;
  }

  /** Attach an adapter at every projection (`null` detaches). One at a time; the base weights are untouched. */
  setAdapter(a: LinearAdapter | null): void {
    this.adapterRef = a;
  }

  /**
   * The one projection seam: `x` `[N, in]` → `x·Wᵀ (+ b)` `[N, out]` (W stored `[in, out]`, so a plain matMul), then
   * the adapter's term. `name` is the HF module prefix (`model.layers.3.mlp.down_proj`, or `lm_head`, which is the
   * embedding in tied models). The bias exists for q/k/v when the config has `attention_bias` (Qwen2).
   */
  linear(x: tf.Tensor2D, name: string, ctx: LinearContext = { training: false }): tf.Tensor2D {
    const w = name === 'lm_head' ? this.headWeight() : this.p(`${name}.weight`);
    let y = tf.matMul(x, w) as tf.Tensor2D; // [N, out]
    const bias = this.params.get(`${name}.bias`);
    if (bias) y = tf.add(y, bias) as tf.Tensor2D;
    return this.adapterRef ? this.adapterRef.adapt(name, x, y, ctx) : y;
  }

  /** LM-head weight `[hidden, vocab]`: the embedding when tied. */
  private headWeight(): tf.Variable {
    return this.config.tieWordEmbeddings ? this.p(EMBED) : this.p(LM_HEAD);
  }

  /** Embedding lookup on the `[hidden, vocab]` table: gather columns → `[hidden, B·T]` → `[B·T, hidden]`. */
  private embed(ids: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = ids.shape;
    return tf.transpose(tf.gather(this.p(EMBED), tf.reshape(ids, [B * T]), 1)) as tf.Tensor2D;
  }

  /** Self-attention of decoder layer `l`: `h` `[B·T, D]` (already normed) → `[B·T, D]`, filling the KV cache if any. */
  private attention(h: tf.Tensor2D, l: number, p: Pass): tf.Tensor2D {
    const c = this.config;
    const { B, T } = p;
    const H = c.numAttentionHeads, KV = c.numKeyValueHeads, hd = c.headDim;
    const groups = H / KV;
    const S = p.offset + T;
    const pre = `model.layers.${l}.self_attn.`;
    // [B·T, heads·hd] → [B, heads, T, hd]
    const heads = (y: tf.Tensor, n: number) => tf.transpose(tf.reshape(y, [B, T, n, hd]), [0, 2, 1, 3]) as tf.Tensor4D;
    const q = this.applyRope(heads(this.linear(h, `${pre}q_proj`, p.ctx), H), p.cos, p.sin);
    let k = this.applyRope(heads(this.linear(h, `${pre}k_proj`, p.ctx), KV), p.cos, p.sin);
    let v = heads(this.linear(h, `${pre}v_proj`, p.ctx), KV);
    if (p.cache) {
      if (p.offset > 0) {
        k = tf.concat([p.cache.keys[l], k], 2) as tf.Tensor4D; // [B, KV, S, hd]
        v = tf.concat([p.cache.values[l], v], 2) as tf.Tensor4D;
      }
      p.newKeys.push(tf.keep(k));
      p.newValues.push(tf.keep(v));
    }
    const scale = 1 / Math.sqrt(hd);
    let merged: tf.Tensor2D;
    if (useBatchedAttention(B, H, T, S)) {
      // Many short sequences (training batches, toy models): per-op overhead dominates, so run every (batch, head)
      // in one batched matmul. GQA without copying k/v: query heads h = kv·groups + g are stacked along the time
      // axis of their kv head, [B, H, T, hd] → [B·KV, groups·T, hd], and the causal mask is repeated to match.
      const q3 = tf.reshape(q, [B * KV, groups * T, hd]) as tf.Tensor3D;
      const kT3 = tf.reshape(tf.transpose(k, [0, 1, 3, 2]), [B * KV, hd, S]) as tf.Tensor3D;
      const v3 = tf.reshape(v, [B * KV, S, hd]) as tf.Tensor3D;
      const mask = groups === 1 ? p.mask : tf.tile(p.mask, [groups, 1]); // [groups·T, S]
      const scores = tf.add(tf.mul(tf.matMul(q3, kT3), scale), mask); // [B·KV, groups·T, S]
      const ctx3 = tf.matMul(tf.softmax(scores), v3); // [B·KV, groups·T, hd] = [B, H, T, hd]
      merged = tf.reshape(tf.transpose(tf.reshape(ctx3, [B, H, T, hd]), [0, 2, 1, 3]), [B * T, H * hd]) as tf.Tensor2D;
    } else {
      // One 2-D matmul per (batch, head); query head h reads kv head ⌊h / groups⌋ (grouped-query attention).
      const qs = tf.unstack(tf.reshape(q, [B * H, T, hd])) as tf.Tensor2D[];
      const kTs = tf.unstack(tf.reshape(tf.transpose(k, [0, 1, 3, 2]), [B * KV, hd, S])) as tf.Tensor2D[];
      const vs = tf.unstack(tf.reshape(v, [B * KV, S, hd])) as tf.Tensor2D[];
      const ctx = qs.map((qi, idx) => {
        const b = Math.floor(idx / H);
        const kvIdx = b * KV + Math.floor((idx % H) / groups);
        const scores = tf.add(tf.mul(tf.matMul(qi, kTs[kvIdx]), scale), p.mask); // [T, S]
        return tf.matMul(tf.softmax(scores), vs[kvIdx]); // [T, hd]
      });
      // [B·H, T, hd] → [B, T, H·hd] → [B·T, H·hd]
      merged = tf.reshape(tf.transpose(tf.reshape(tf.stack(ctx), [B, H, T, hd]), [0, 2, 1, 3]), [B * T, H * hd]) as tf.Tensor2D;
    }
    return this.linear(merged, `${pre}o_proj`, p.ctx); // [B·T, D]
  }

  /** SwiGLU MLP of decoder layer `l`: down(silu(gate(h)) ⊙ up(h)), `[B·T, D]` → `[B·T, D]`. */
  private mlp(h: tf.Tensor2D, l: number, p: Pass): tf.Tensor2D {
    const pre = `model.layers.${l}.mlp.`;
    const gate = this.linear(h, `${pre}gate_proj`, p.ctx); // [B·T, I]
    const up = this.linear(h, `${pre}up_proj`, p.ctx); // [B·T, I]
    return this.linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D, `${pre}down_proj`, p.ctx);
  }

  /** Decoder layer `l` (pre-norm residual block): x + attn(norm₁(x)), then + mlp(norm₂(·)). `[B·T, D]` → `[B·T, D]`. */
  private decoderLayer(x: tf.Tensor2D, l: number, p: Pass): tf.Tensor2D {
    const pre = `model.layers.${l}.`;
    const h = tf.add(x, this.attention(this.rmsNorm(x, this.p(`${pre}input_layernorm.weight`)) as tf.Tensor2D, l, p)) as tf.Tensor2D;
    return tf.add(h, this.mlp(this.rmsNorm(h, this.p(`${pre}post_attention_layernorm.weight`)) as tf.Tensor2D, l, p)) as tf.Tensor2D;
  }

  /** Trainable base parameters of decoder layer `l` (the gradient inputs of its checkpoint). */
  private trainableLayerParams(l: number): tf.Variable[] {
    const pre = `model.layers.${l}.`;
    const out: tf.Variable[] = [];
    for (const [name, v] of this.params) if (v.trainable && name.startsWith(pre)) out.push(v);
    return out;
  }

  /** Decoder layer `l` under gradient checkpointing: recomputed in backward; RoPE and mask passed as constants. */
  private checkpointedLayer(x: tf.Tensor2D, l: number, p: Pass): tf.Tensor2D {
    const params = [...this.trainableLayerParams(l), ...(this.adapterRef?.layerTensors(l) ?? [])];
    return checkpointed<tf.Tensor2D>(
      (xIn, [cos, sin, mask]) => this.decoderLayer(xIn, l, { ...p, cos: cos as tf.Tensor2D, sin: sin as tf.Tensor2D, mask: mask as tf.Tensor2D }),
      x, [p.cos, p.sin, p.mask], params,
    );
  }

  /**
   * Final-normed hidden states for `ids` (`[B, T]`, int32), continuing `cache` when given.
   * Returns `[B, T, hidden]`; when `cache` is passed its tensors are replaced (old ones disposed, new ones kept
   * outside any tidy). Sequences in a batch share one length: right-pad them, causality keeps the padding from
   * influencing earlier positions. `opts`: dropout of adapters (`training`) and per-layer checkpointing.
   */
  hiddenStates(ids: tf.Tensor2D, cache?: KVCache, opts: ForwardOptions = {}): tf.Tensor3D {
    const c = this.config;
    const [B, T] = ids.shape;
    const D = c.hiddenSize;
    const offset = cache?.length ?? 0;
    if (offset + T > c.maxPositionEmbeddings) {
      throw new Error(`sequence of ${offset + T} tokens exceeds the model's max_position_embeddings ${c.maxPositionEmbeddings}`);
    }
    if (opts.checkpoint && cache) throw new Error('gradient checkpointing is for training passes and cannot fill a KV cache');
    const newKeys: tf.Tensor4D[] = [];
    const newValues: tf.Tensor4D[] = [];
    const out = tf.tidy(() => {
      const { cos, sin } = this.rope(offset, T);
      // Causal mask over [T queries, S = offset+T keys]: query i sees keys j ≤ offset+i.
      const S = offset + T;
      const maskData = new Float32Array(T * S);
      for (let i = 0; i < T; i++) for (let j = offset + i + 1; j < S; j++) maskData[i * S + j] = -1e9;
      const mask = tf.tensor2d(maskData, [T, S]);
      const pass: Pass = { B, T, offset, cos, sin, mask, ctx: { training: !!opts.training }, cache, newKeys, newValues };

      let x = this.embed(ids); // [B·T, D]
      for (let l = 0; l < c.numHiddenLayers; l++) {
        // One tidy per layer: only this layer's intermediates are alive at a time (tape-saved tensors are kept
        // clones, so this is also right while gradients are recorded).
        const next = opts.checkpoint ? this.checkpointedLayer(x, l, pass) : tf.tidy(() => this.decoderLayer(x, l, pass));
        x.dispose();
        x = next;
      }
      return tf.reshape(this.rmsNorm(x, this.p('model.norm.weight')), [B, T, D]) as tf.Tensor3D;
    });
    if (cache) {
      cache.keys.forEach((t) => t.dispose());
      cache.values.forEach((t) => t.dispose());
      cache.keys = newKeys;
      cache.values = newValues;
      cache.length = offset + T;
    }
    return out;
  }

  /** LM head: `[N, hidden]` → logits `[N, vocab]` (through the linear seam as `lm_head`). */
  logits(hidden: tf.Tensor2D, ctx?: LinearContext): tf.Tensor2D {
    return this.linear(hidden, 'lm_head', ctx);
  }

  /** Full forward: `[B, T]` ids → logits `[B, T, vocab]` (every position; use `hiddenStates` + `logits` to pick). */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      const h = this.hiddenStates(ids, undefined, opts);
      const ctx = { training: !!opts.training };
      return tf.reshape(this.logits(tf.reshape(h, [B * T, this.config.hiddenSize]), ctx), [B, T, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  newCache(): KVCache {
    return { keys: [], values: [], length: 0 };
  }

  static disposeCache(cache: KVCache): void {
    cache.keys.forEach((t) => t.dispose());
    cache.values.forEach((t) => t.dispose());
    cache.keys = [];
    cache.values = [];
    cache.length = 0;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
