/**
 * Export a Llama-family model (the TF.js `LlamaTF`, or a PyTorch-layout weight map) to an ONNX folder that
 * @huggingface/transformers (4.3.1) loads with `AutoModelForCausalLM.from_pretrained(<folder>, {dtype: 'fp32'})`:
 *
 *   <outDir>/config.json            Hugging Face config (+ "transformers.js_config": {dtype: "fp32"})
 *   <outDir>/tokenizer.json, ...    copied from the tokenizer folder when present
 *   <outDir>/onnx/model.onnx        the decoder graph, built here with onnx-proto (weights as raw_data initializers)
 *   <outDir>/onnx/model_quantized.onnx   with `quantize: 'q8'`: the same graph, weight MatMuls in int8 (see "q8")
 *
 * Graph I/O, as transformers.js' `decoder_forward` / `addPastKeyValues` / `getPastKeyValues` expect for llama,
 * qwen2 and mistral decoders (names from `getKeyValueNames`: `past_key_values.{i}.key|value` ↔ `present.{i}.key|value`):
 *   inputs   input_ids        int64 [batch_size, sequence_length]
 *            attention_mask   int64 [batch_size, total_sequence_length]       (total = past + sequence)
 *            position_ids     int64 [batch_size, sequence_length]
 *            past_key_values.{i}.key / .value   float [batch_size, KV, past_sequence_length, head_dim]   (withPast)
 *            num_logits_to_keep   int64 scalar (shape [])                                      (logitsToKeep)
 *   outputs  logits           float [batch_size, sequence_length, vocab], or [batch_size, num_logits, vocab]
 *                             when the graph has num_logits_to_keep (num_logits = k, or sequence_length when k = 0)
 *            present.{i}.key / .value           float [batch_size, KV, total_sequence_length, head_dim]   (withPast)
 * transformers.js builds the first step's empty past from the session's input metadata, replacing every symbolic
 * dimension by 0 except one named exactly `batch_size`; so KV and head_dim are fixed numbers and the batch dimension
 * is called `batch_size`.
 *
 * `num_logits_to_keep` (k) has the Hugging Face meaning: k = 0 → logits at every position; k > 0 → only the last k
 * positions go through the final norm and the LM head (k ≥ sequence_length → every position). The graph slices the
 * last layer's hidden states with `Slice(starts = -k, ends = INT64_MAX, axes = [1])`, which is exactly Python's
 * `hidden[:, -k:, :]`: −0 = 0 keeps everything and a start before the first position is clamped to 0. transformers.js
 * 4.3.1 feeds it to any session that declares it, as an int64 scalar (dims []): 0 in `forward` (decoder_forward →
 * setNumLogitsToKeep(…, 0n)) unless the caller gave one, 1 in `generate` (decoder_prepare_inputs_for_generation →
 * setNumLogitsToKeep(…, 1n)), whose sampler reads `logits.slice(null, -1, null)`. It is a required input (an
 * initializer default would hide it from `session.inputNames`, so transformers.js would never feed it).
 *
 * The math is the one of `LlamaTF.hiddenStates` (HF modeling_llama.py): RMSNorm x·(1/√(mean(x²)+ε))·w, rotate-half
 * RoPE from cos/sin tables computed in float64 exactly as LlamaTF does (gathered by position_ids), grouped-query
 * attention (queries regrouped per kv head, so K/V are never expanded), causal + padding mask with -1e9 (no NaN
 * rows for fully padded queries), SwiGLU MLP, final norm, tied (Gemm transB on the embedding) or untied LM head,
 * optional q/k/v biases (Qwen2).
 *
 * q8 (`quantize: 'q8'`, issue #10): ALSO writes `onnx/model_quantized.onnx`, the file transformers.js and the kit's
 * onnx engine load for dtype `'q8'` (suffix `_quantized`), with the same inputs and outputs. It is the graph that
 * onnxruntime's `quantize_dynamic(model_in, model_out)` produces with its defaults, built directly instead of by
 * rewriting (no Python here). Sources: onnxruntime/python/tools/quantization/quantize.py (`quantize_dynamic`:
 * weight_type=QuantType.QInt8, per_channel=False, reduce_range=False, activations QUInt8 "dynamic activation only
 * supports uint8", extra_options MatMulConstBOnly=True), onnx_quantizer.py (`is_weight_symmetric` defaults to True for
 * QInt8; `_get_quantize_input_nodes` emits DynamicQuantizeLinear for uint8 activations from opset 11), quant_utils.py
 * (`compute_scale_zp`, `quantize_nparray`, symmetric int8 range [-127, 127]), operators/matmul.py
 * (`MatMulInteger.do_quantization`), registry.py (`IntegerOpsRegistry`: Conv, MatMul, Attention, LSTM, Gather,
 * Transpose, EmbedLayerNormalization), onnx_model.py (`replace_gemm_with_matmul`). transformers.js's own
 * scripts/quantize.py (`quantize_q8`) makes its "q8" files the same way (QInt8 weights unless the graph has Conv).
 *   - Every linear projection (q/k/v/o, gate/up/down) becomes
 *     `Mul(Cast(MatMulInteger(DynamicQuantizeLinear(x), W_int8, x_zp, 0)), x_scale · W_scale)`, W quantized per
 *     tensor, symmetric, zero point 0 (`quantizeSymmetricInt8` / `DynamicQ8` in onnx-graph.ts). Each activation is
 *     quantized once even when it feeds several projections. The attention products (Q·Kᵀ, P·V) have no constant B
 *     and stay float (MatMulConstBOnly). Biases, norms, RoPE, softmax stay float.
 *   - LM head: quantized by default (`quantizeLmHead`). Untied: its MatMul is quantized like the others. Tied: the
 *     Gemm(transB) on the embedding is not in IntegerOpsRegistry, but quantize_dynamic first rewrites every Gemm into
 *     a MatMul (`replace_gemm_with_matmul`, dynamic mode only), transposing B IN PLACE ("assume B is not used by any
 *     other node"), which would corrupt the Gather that shares the tied table. We write what that rewrite means for a
 *     tied head instead: MatMulInteger on an int8 copy of Eᵀ `[hidden, vocab]` named `lm_head.weight_quantized`
 *     (1 byte per entry, beside the fp32 table the Gather reads). `quantizeLmHead: false` keeps the fp32 Gemm /
 *     MatMul.
 *   - Kept fp32 on purpose (a deviation): Gather. quantize_dynamic's registry also quantizes Gathers whose data is an
 *     initializer (GatherQuant: int8 table + DequantizeLinear), which here would hit the embedding AND the RoPE cos/sin
 *     tables. A gather is a lookup with no integer arithmetic to speed up, so that only trades accuracy (and, for a
 *     tied model, would add a second copy of the table) for file size.
 *   Activations are quantized PER TENSOR at run time, over everything in the call: the q8 logits of a row depend a
 *   little on the other rows of its batch, on padding, and on `num_logits_to_keep` (the LM head's DynamicQuantizeLinear
 *   sees only the kept rows). That is how onnxruntime's dynamic quantization behaves for every q8 file.
 *
 * The file is streamed: graph and node protos come from onnx-proto's encoders, each initializer is encoded and
 * written on its own, so peak memory is the weights plus one tensor. Protobuf caps a message at 2 GB; models whose
 * file would exceed 1.9 GB are refused (external data is not implemented).
 */
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import * as onnxNs from 'onnx-proto';
import { parseLlamaConfig, SUPPORTED_MODEL_TYPES } from './config';
import { ModelLoadError } from './errors';
import { DynamicQ8, GraphBuilder, onnx, OnnxExportError, T, transpose2d, valueInfo } from './onnx-graph';
import { expectedParameters, type LlamaTF } from './llama-tf';
import { loadTfModel } from './load';
import type { LlamaConfig, WeightMap } from './types';

export { OnnxExportError };

export interface ExportOnnxOptions {
  /** Add `past_key_values.*` inputs and `present.*` outputs (KV cache for generation). Default true. */
  withPast?: boolean;
  /** ONNX opset of the default domain, 13–21. Default 17. */
  opset?: number;
  /** The raw Hugging Face config the model came from; its extra keys are kept in the written config.json. */
  hfConfig?: Record<string, unknown>;
  /** Keys merged last into config.json (e.g. labels). */
  extraConfig?: Record<string, unknown>;
  /** String metadata stored in the ONNX model's metadata_props. */
  metadata?: Record<string, string>;
  /** Refuse files larger than this many bytes. Default 1.9e9 (protobuf's 2 GB limit). */
  maxBytes?: number;
  /**
   * Add the int64 scalar input `num_logits_to_keep` (k = 0: logits at every position; k > 0: the last k only), so
   * scoring and generation do not run the LM head over the whole prompt. Default true; false writes the graph
   * without it (logits at every position, always).
   */
  logitsToKeep?: boolean;
  /**
   * `'q8'`: ALSO write `onnx/model_quantized.onnx` (what transformers.js and the kit's onnx engine load for dtype
   * `'q8'`), the same graph with the weight MatMuls dynamically quantized to int8 as onnxruntime's `quantize_dynamic`
   * does with its defaults (see "q8" in the file comment). `onnx/model.onnx` (fp32) is written as usual.
   */
  quantize?: 'q8';
  /**
   * With `quantize: 'q8'`: quantize the LM head too (default true, as quantize_dynamic does after its Gemm → MatMul
   * rewrite). false keeps it fp32 (tied: the Gemm on the embedding; untied: a float MatMul).
   */
  quantizeLmHead?: boolean;
}

/** What `quantize: 'q8'` wrote. */
export interface QuantizedExportInfo {
  /** `<outDir>/onnx/model_quantized.onnx` */
  onnxPath: string;
  bytes: number;
  nodes: number;
  initializers: number;
  /** MatMuls turned into MatMulInteger (7 per layer, + 1 for a quantized LM head). */
  quantizedMatMuls: number;
  lmHeadQuantized: boolean;
}

export interface OnnxExportResult {
  outDir: string;
  /** `<outDir>/onnx/model.onnx` */
  onnxPath: string;
  /** Size of model.onnx in bytes. */
  bytes: number;
  /** Number of graph nodes. */
  nodes: number;
  initializers: number;
  opset: number;
  inputs: string[];
  outputs: string[];
  /** Files written or copied into outDir (relative paths). */
  files: string[];
  /** Set when `quantize: 'q8'` also wrote onnx/model_quantized.onnx. */
  quantized?: QuantizedExportInfo;
}

/** Tokenizer-side files copied next to the model when the source folder has them. */
export const TOKENIZER_FILES = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json',
  'chat_template.jinja', 'chat_template.json',
];

const DEFAULT_OPSET = 17;
const DEFAULT_MAX_BYTES = 1.9e9;
const EMBED = 'model.embed_tokens.weight';
const LM_HEAD = 'lm_head.weight';

const ARCHITECTURES: Record<string, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', mistral: 'MistralForCausalLM' };

// ---------------------------------------------------------------------------------------------------------------
// config.json

/** Check that the graph builder covers `c`; throws a one-line OnnxExportError naming `source`. */
export function checkExportableConfig(c: LlamaConfig, source: string): void {
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(c.modelType)) {
    throw new OnnxExportError(source, `unsupported model_type '${c.modelType}': the ONNX exporter handles ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const ints: [string, number][] = [
    ['vocab_size', c.vocabSize], ['hidden_size', c.hiddenSize], ['intermediate_size', c.intermediateSize],
    ['num_hidden_layers', c.numHiddenLayers], ['num_attention_heads', c.numAttentionHeads],
    ['num_key_value_heads', c.numKeyValueHeads], ['head_dim', c.headDim], ['max_position_embeddings', c.maxPositionEmbeddings],
  ];
  for (const [k, v] of ints) if (!Number.isInteger(v) || v < 1) throw new OnnxExportError(source, `${k} must be a positive integer, got ${v}`);
  if (c.headDim % 2 !== 0) throw new OnnxExportError(source, `head_dim ${c.headDim} is odd: rotate-half RoPE needs an even head_dim`);
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) {
    throw new OnnxExportError(source, `num_attention_heads ${c.numAttentionHeads} is not a multiple of num_key_value_heads ${c.numKeyValueHeads}`);
  }
  if (c.modelType === 'qwen2' && !c.attentionBias) {
    throw new OnnxExportError(source, "model_type 'qwen2' always has q/k/v biases but this config has none (use model_type 'llama')");
  }
}

/**
 * `LlamaConfig` back to Hugging Face `config.json` keys. `base` (the original raw config) keeps its other keys;
 * the graph-defining ones are always rewritten from `c`. `"transformers.js_config".dtype = "fp32"` makes
 * `from_pretrained` pick `onnx/model.onnx` without a dtype option.
 */
export function toHfConfig(c: LlamaConfig, base: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  out.architectures = [ARCHITECTURES[c.modelType] ?? 'LlamaForCausalLM'];
  out.model_type = c.modelType;
  out.vocab_size = c.vocabSize;
  out.hidden_size = c.hiddenSize;
  out.intermediate_size = c.intermediateSize;
  out.num_hidden_layers = c.numHiddenLayers;
  out.num_attention_heads = c.numAttentionHeads;
  out.num_key_value_heads = c.numKeyValueHeads;
  out.head_dim = c.headDim;
  out.hidden_act = 'silu';
  out.rms_norm_eps = c.rmsNormEps;
  out.rope_theta = c.ropeTheta;
  out.rope_scaling = null;
  out.max_position_embeddings = c.maxPositionEmbeddings;
  out.tie_word_embeddings = c.tieWordEmbeddings;
  if (c.modelType !== 'qwen2') out.attention_bias = c.attentionBias;
  out.bos_token_id = c.bosTokenId;
  out.eos_token_id = c.eosTokenId;
  out.torch_dtype ??= 'float32';
  out.use_cache = true;
  const tjs = (base['transformers.js_config'] && typeof base['transformers.js_config'] === 'object') ? base['transformers.js_config'] as Record<string, unknown> : {};
  out['transformers.js_config'] = { ...tjs, dtype: 'fp32', use_external_data_format: false };
  return { ...out, ...extra };
}

function sameConfig(a: LlamaConfig, b: LlamaConfig): boolean {
  return (Object.keys(a) as (keyof LlamaConfig)[]).every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

/** `<dir>/config.json` as an object when it exists and describes the same network as `c`, else null. */
function matchingRawConfig(dir: string | null, c: LlamaConfig): Record<string, unknown> | null {
  if (!dir) return null;
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return null;
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return sameConfig(parseLlamaConfig(raw, file), c) ? raw : null;
  } catch {
    return null;
  }
}

/** Copy the tokenizer-side files of `fromDir` that exist into `toDir`; returns the copied names. */
export function copyTokenizerFiles(fromDir: string, toDir: string): string[] {
  if (!existsSync(fromDir) || !statSync(fromDir).isDirectory()) throw new OnnxExportError(fromDir, 'tokenizer folder not found');
  const copied: string[] = [];
  const inPlace = resolve(fromDir) === resolve(toDir); // exporting into the model's own folder: the files are there
  for (const f of TOKENIZER_FILES) {
    const src = join(fromDir, f);
    if (!existsSync(src)) continue;
    if (inPlace) {
      copied.push(f);
      continue;
    }
    const dst = join(toDir, f);
    try {
      rmSync(dst, { force: true }); // the source may be read-only (hub cache): never copy onto a read-only copy
      copyFileSync(src, dst);
      chmodSync(dst, 0o644);
    } catch (e) {
      throw new OnnxExportError(dst, `cannot copy ${src} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    copied.push(f);
  }
  return copied;
}

/** Create `dir` (and parents) or throw a one-line OnnxExportError saying why not. */
export function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OnnxExportError(dir, `cannot create the output folder (${code ?? (e as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// weights

/** Where the graph's weights come from, already in the layouts the graph wants. */
interface WeightSource {
  /** Linear weight in `[in, out]` layout (MatMul's B). */
  linear(name: string): Float32Array;
  /** `[vocab, hidden]` embedding table (Gather's data; the tied LM head uses it through Gemm transB). */
  embedding(): Float32Array;
  /** 1-D tensors: norms and biases. */
  vector(name: string): Float32Array;
  /** The tied LM head as a `[hidden, vocab]` MatMul B (the embedding transposed), for the q8 graph. */
  embeddingT(): Float32Array;
}

function sourceFromLlamaTF(model: LlamaTF): WeightSource {
  const get = (name: string) => {
    const v = model.params.get(name);
    if (!v || v.isDisposed) throw new OnnxExportError(name, 'parameter is missing from the model (was it disposed?)');
    return v;
  };
  const c = model.config;
  return {
    linear: (name) => get(name).dataSync() as Float32Array, // stored [in, out] already
    embedding: () => transpose2d(get(EMBED).dataSync() as Float32Array, c.hiddenSize, c.vocabSize), // [hidden, vocab] → [vocab, hidden]
    vector: (name) => get(name).dataSync() as Float32Array,
    embeddingT: () => get(EMBED).dataSync() as Float32Array, // stored [hidden, vocab] already
  };
}

function sourceFromWeights(c: LlamaConfig, weights: WeightMap, source: string): WeightSource {
  const w = new Map(weights);
  if (c.tieWordEmbeddings && !w.has(EMBED) && w.has(LM_HEAD)) w.set(EMBED, w.get(LM_HEAD)!);
  for (const [name, shape] of expectedParameters(c)) {
    const t = w.get(name);
    if (!t) throw new OnnxExportError(source, `missing tensor '${name}' (expected shape [${shape}])`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]) || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new OnnxExportError(source, `tensor '${name}' has shape [${t.shape}], config implies [${shape}]`);
    }
  }
  return {
    linear: (name) => {
      const t = w.get(name)!; // PyTorch [out, in]
      return transpose2d(t.data, t.shape[0], t.shape[1]);
    },
    embedding: () => w.get(EMBED)!.data,
    vector: (name) => w.get(name)!.data,
    embeddingT: () => transpose2d(w.get(EMBED)!.data, c.vocabSize, c.hiddenSize),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// graph

/** cos/sin of every position < maxPos, first half of the rotate-half layout (`[maxPos, headDim/2]`), as LlamaTF. */
function ropeTables(c: LlamaConfig): { cos: Float32Array; sin: Float32Array } {
  const hd = c.headDim;
  const half = hd / 2;
  const cos = new Float32Array(c.maxPositionEmbeddings * half);
  const sin = new Float32Array(c.maxPositionEmbeddings * half);
  const invFreq = Array.from({ length: half }, (_, i) => Math.pow(c.ropeTheta, (-2 * i) / hd));
  for (let pos = 0; pos < c.maxPositionEmbeddings; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = pos * invFreq[i];
      cos[pos * half + i] = Math.cos(angle);
      sin[pos * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

interface BuiltGraph {
  builder: GraphBuilder;
  inputs: onnxNs.onnx.IValueInfoProto[];
  outputs: onnxNs.onnx.IValueInfoProto[];
  /** MatMuls written as MatMulInteger (q8 graphs). */
  quantizedMatMuls: number;
}

/** q8 graph settings (`null`: the fp32 graph). */
interface Q8Settings {
  lmHead: boolean;
}

function buildGraph(c: LlamaConfig, w: WeightSource, withPast: boolean, opset: number, logitsToKeep: boolean, q8: Q8Settings | null = null): BuiltGraph {
  const g = new GraphBuilder(opset);
  const dq = q8 ? new DynamicQ8(g) : null;
  const gemmHead = c.tieWordEmbeddings && !q8?.lmHead; // tied LM head as Gemm transB on the fp32 embedding
  const H = c.numAttentionHeads, KV = c.numKeyValueHeads, hd = c.headDim, D = c.hiddenSize, V = c.vocabSize, I = c.intermediateSize;
  const half = hd / 2;
  const groups = H / KV;

  const inputs: onnxNs.onnx.IValueInfoProto[] = [
    valueInfo('input_ids', T.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', T.INT64, ['batch_size', 'total_sequence_length']),
    valueInfo('position_ids', T.INT64, ['batch_size', 'sequence_length']),
  ];
  const outputs: onnxNs.onnx.IValueInfoProto[] = [valueInfo('logits', T.FLOAT, ['batch_size', logitsToKeep ? 'num_logits' : 'sequence_length', V])];
  if (withPast) {
    for (let l = 0; l < c.numHiddenLayers; l++) {
      for (const kind of ['key', 'value']) {
        inputs.push(valueInfo(`past_key_values.${l}.${kind}`, T.FLOAT, ['batch_size', KV, 'past_sequence_length', hd]));
        outputs.push(valueInfo(`present.${l}.${kind}`, T.FLOAT, ['batch_size', KV, 'total_sequence_length', hd]));
      }
    }
  }
  if (logitsToKeep) inputs.push(valueInfo('num_logits_to_keep', T.INT64, []));

  // --- weights (lazy: bytes are produced while the file is written)
  const embed = g.weight(EMBED, [V, D], () => w.embedding());
  const lin = (name: string, inDim: number, outDim: number) => g.weight(name, [inDim, outDim], () => w.linear(name));
  /** `x · W` for a linear weight `[inDim, outDim]`: MatMul, or quantize_dynamic's MatMulInteger pattern in q8 graphs. */
  const linear = (x: string, name: string, inDim: number, outDim: number, hint: string, output?: string) =>
    dq ? dq.matmul(x, name, [inDim, outDim], () => w.linear(name), { hint, output })
      : g.op('MatMul', [x, lin(name, inDim, outDim)], {}, hint, output);
  const vec = (name: string, n: number) => g.weight(name, [n], () => w.vector(name));

  // --- mask [B, 1, T, S]: query i (absolute position past+i) sees key j iff j <= past+i and attention_mask[j] != 0
  const idsShape = g.op('Shape', ['input_ids'], {}, 'mask');
  const maskShape = g.op('Shape', ['attention_mask'], {}, 'mask');
  const one = g.constI64([1], []);
  const zero = g.constI64([0], []);
  const seqLen = g.op('Gather', [idsShape, one], { axis: 0 }, 'mask');
  const totalLen = g.op('Gather', [maskShape, one], { axis: 0 }, 'mask');
  const pastLen = g.op('Sub', [totalLen, seqLen], {}, 'mask');
  const keyPos = g.unsqueeze(g.op('Range', [zero, totalLen, one], {}, 'mask'), [0], 'mask'); // [1, S]
  const queryPos = g.unsqueeze(g.op('Range', [pastLen, totalLen, one], {}, 'mask'), [1], 'mask'); // [T, 1]
  const causal = g.op('LessOrEqual', [keyPos, queryPos], {}, 'mask'); // [T, S]
  const notPad = g.unsqueeze(g.op('Cast', ['attention_mask'], { to: T.BOOL }, 'mask'), [1, 2], 'mask'); // [B, 1, 1, S]
  const allowed = g.op('And', [causal, notPad], {}, 'mask'); // [B, 1, T, S]
  const mask = g.op('Where', [allowed, g.constF32(0), g.constF32(-1e9)], {}, 'mask', 'attention_bias');

  // --- RoPE: cos/sin [B, 1, T, hd] gathered by position_ids from float64-computed tables
  const tables = ropeTables(c);
  const ropeFor = (table: Float32Array, name: string) => {
    const t = g.weight(`rope.${name}_table`, [c.maxPositionEmbeddings, half], () => table);
    const h = g.op('Gather', [t, 'position_ids'], { axis: 0 }, 'rope'); // [B, T, half]
    return g.unsqueeze(g.op('Concat', [h, h], { axis: -1 }, 'rope'), [1], 'rope', ); // [B, 1, T, hd]
  };
  const cos = ropeFor(tables.cos, 'cos');
  const sin = ropeFor(tables.sin, 'sin');
  const halfSplit = g.constI64([half, half]);
  const applyRope = (x: string, hint: string) => {
    const [x1, x2] = g.add('Split', [x, halfSplit], { axis: 3 }, { hint, nOut: 2 });
    const rotated = g.op('Concat', [g.op('Neg', [x2], {}, hint), x1], { axis: 3 }, hint);
    return g.op('Add', [g.op('Mul', [x, cos], {}, hint), g.op('Mul', [rotated, sin], {}, hint)], {}, hint);
  };

  const eps = g.constF32(c.rmsNormEps);
  const rmsNorm = (x: string, weightName: string, hint: string) => {
    const ms = g.reduceMeanLast(g.op('Mul', [x, x], {}, hint), hint);
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, eps], {}, hint)], {}, hint)], {}, hint);
    return g.op('Mul', [g.op('Mul', [x, inv], {}, hint), vec(weightName, D)], {}, hint);
  };

  const scale = g.constF32(1 / Math.sqrt(hd));
  const shapeHeads = (n: number) => g.constI64([0, 0, n, hd]);
  const perm0213 = [0, 2, 1, 3];

  // --- embeddings
  let x = g.op('Gather', [embed, 'input_ids'], { axis: 0 }, 'embed'); // [B, T, D]

  for (let l = 0; l < c.numHiddenLayers; l++) {
    const pre = `model.layers.${l}.`;
    const hint = `layers.${l}`;
    const h = rmsNorm(x, `${pre}input_layernorm.weight`, `${hint}.input_layernorm`);
    const proj = (name: string, outDim: number) => {
      let y = linear(h, `${pre}self_attn.${name}.weight`, D, outDim, `${hint}.${name}`);
      if (c.attentionBias) y = g.op('Add', [y, vec(`${pre}self_attn.${name}.bias`, outDim)], {}, `${hint}.${name}`);
      return y;
    };
    const heads = (y: string, n: number, name: string) =>
      g.op('Transpose', [g.op('Reshape', [y, shapeHeads(n)], {}, `${hint}.${name}`)], { perm: perm0213 }, `${hint}.${name}`); // [B, n, T, hd]
    const q = applyRope(heads(proj('q_proj', H * hd), H, 'q'), `${hint}.q_rope`);
    let k = applyRope(heads(proj('k_proj', KV * hd), KV, 'k'), `${hint}.k_rope`);
    let v = heads(proj('v_proj', KV * hd), KV, 'v');
    if (withPast) {
      k = g.op('Concat', [`past_key_values.${l}.key`, k], { axis: 2 }, `${hint}.k`, `present.${l}.key`); // [B, KV, S, hd]
      v = g.op('Concat', [`past_key_values.${l}.value`, v], { axis: 2 }, `${hint}.v`, `present.${l}.value`);
    }
    // Grouped-query attention without expanding K/V: heads h = kv·groups + r, so [B, H, T, hd] → [B, KV, groups·T, hd].
    const qg = g.op('Reshape', [q, g.constI64([0, KV, -1, hd])], {}, `${hint}.attn`);
    const kT = g.op('Transpose', [k], { perm: [0, 1, 3, 2] }, `${hint}.attn`); // [B, KV, hd, S]
    let scores = g.op('MatMul', [qg, kT], {}, `${hint}.attn`); // [B, KV, groups·T, S]
    scores = g.op('Reshape', [scores, g.constI64([0, H, -1, 0])], {}, `${hint}.attn`); // [B, H, T, S]
    scores = g.op('Add', [g.op('Mul', [scores, scale], {}, `${hint}.attn`), mask], {}, `${hint}.attn`);
    const probs = g.op('Softmax', [scores], { axis: -1 }, `${hint}.attn`);
    const pg = g.op('Reshape', [probs, g.constI64([0, KV, -1, 0])], {}, `${hint}.attn`); // [B, KV, groups·T, S]
    let ctx = g.op('MatMul', [pg, v], {}, `${hint}.attn`); // [B, KV, groups·T, hd]
    ctx = g.op('Reshape', [ctx, g.constI64([0, H, -1, hd])], {}, `${hint}.attn`); // [B, H, T, hd]
    ctx = g.op('Transpose', [ctx], { perm: perm0213 }, `${hint}.attn`); // [B, T, H, hd]
    ctx = g.op('Reshape', [ctx, g.constI64([0, 0, H * hd])], {}, `${hint}.attn`);
    const o = linear(ctx, `${pre}self_attn.o_proj.weight`, H * hd, D, `${hint}.o_proj`);
    x = g.op('Add', [x, o], {}, `${hint}.residual`);

    const h2 = rmsNorm(x, `${pre}post_attention_layernorm.weight`, `${hint}.post_attention_layernorm`);
    const gate = linear(h2, `${pre}mlp.gate_proj.weight`, D, I, `${hint}.mlp`);
    const up = linear(h2, `${pre}mlp.up_proj.weight`, D, I, `${hint}.mlp`);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate], {}, `${hint}.mlp`)], {}, `${hint}.mlp`), up], {}, `${hint}.mlp`);
    const down = linear(act, `${pre}mlp.down_proj.weight`, I, D, `${hint}.mlp`);
    x = g.op('Add', [x, down], {}, `${hint}.residual`);
  }
  let headShape = idsShape; // [B, T'] of the rows that reach the LM head
  if (logitsToKeep) {
    // hidden[:, -k:, :] (Python semantics: k = 0 → every position; a start before 0 is clamped to 0 by Slice).
    const k = g.op('Reshape', ['num_logits_to_keep', g.constI64([1])], {}, 'logits_to_keep'); // [1]
    const start = g.op('Neg', [k], {}, 'logits_to_keep');
    x = g.op('Slice', [x, start, g.constI64([Number.MAX_SAFE_INTEGER]), g.constI64([1])], {}, 'logits_to_keep'); // [B, T', D]
    if (gemmHead) headShape = g.op('Slice', [g.op('Shape', [x], {}, 'lm_head'), g.constI64([0]), g.constI64([2])], {}, 'lm_head');
  }
  const xn = rmsNorm(x, 'model.norm.weight', 'norm');
  if (gemmHead) {
    // logits = x · Eᵀ with E the [vocab, hidden] embedding: Gemm transB keeps one copy of the table.
    const flat = g.op('Reshape', [xn, g.constI64([-1, D])], {}, 'lm_head');
    const lg = g.op('Gemm', [flat, embed], { transB: 1 }, 'lm_head'); // [B·T', V]
    const outShape = g.op('Concat', [headShape, g.constI64([V])], { axis: 0 }, 'lm_head');
    g.op('Reshape', [lg, outShape], {}, 'lm_head', 'logits');
  } else if (c.tieWordEmbeddings) {
    // q8, tied: MatMulInteger on an int8 copy of Eᵀ [hidden, vocab] named lm_head.weight (the Gather keeps E in fp32).
    dq!.matmul(xn, LM_HEAD, [D, V], () => w.embeddingT(), { hint: 'lm_head', output: 'logits' });
  } else if (dq && q8!.lmHead) {
    dq.matmul(xn, LM_HEAD, [D, V], () => w.linear(LM_HEAD), { hint: 'lm_head', output: 'logits' });
  } else {
    g.op('MatMul', [xn, lin(LM_HEAD, D, V)], {}, 'lm_head', 'logits');
  }
  return { builder: g, inputs, outputs, quantizedMatMuls: dq?.matmuls ?? 0 };
}

// ---------------------------------------------------------------------------------------------------------------
// streaming protobuf writer

function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

const GRAPH_INITIALIZER_TAG = 0x2a; // GraphProto.initializer: field 5, wire type 2
const MODEL_GRAPH_TAG = 0x3a;       // ModelProto.graph: field 7, wire type 2
const TENSOR_RAW_DATA_TAG = 0x4a;   // TensorProto.raw_data: field 9, wire type 2

function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

interface PlannedFile {
  totalBytes: number;
  write: (fd: number) => void;
}

function planModelFile(built: BuiltGraph, opset: number, metadata: Record<string, string>, docString: string): PlannedFile {
  const { builder, inputs, outputs } = built;
  const graphHead = onnx.GraphProto.encode({ name: 'ipo_llama_decoder', node: builder.nodes, input: inputs, output: outputs }).finish();
  const inits = builder.inits.map((init) => {
    const head = onnx.TensorProto.encode({ name: init.name, dims: init.dims, dataType: init.dataType }).finish();
    const rawLen = varint(init.byteLength);
    const tensorLen = head.length + 1 + rawLen.length + init.byteLength;
    const tensorLenBytes = varint(tensorLen);
    return { init, head, rawLen, tensorLenBytes, fieldLen: 1 + tensorLenBytes.length + tensorLen };
  });
  const graphLen = graphHead.length + inits.reduce((a, b) => a + b.fieldLen, 0);
  const modelHead = onnx.ModelProto.encode({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'ipo-notebook-kit',
    producerVersion: '0.1.0',
    docString,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  }).finish();
  const graphLenBytes = varint(graphLen);
  const totalBytes = modelHead.length + 1 + graphLenBytes.length + graphLen;
  const writeAll = (fd: number, buf: Uint8Array) => {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  };
  return {
    totalBytes,
    write(fd) {
      writeAll(fd, modelHead);
      writeAll(fd, Uint8Array.of(MODEL_GRAPH_TAG));
      writeAll(fd, graphLenBytes);
      writeAll(fd, graphHead);
      for (const p of inits) {
        const data = p.init.bytes();
        if (data.length !== p.init.byteLength) throw new OnnxExportError(p.init.name, `initializer produced ${data.length} bytes, planned ${p.init.byteLength}`);
        writeAll(fd, Uint8Array.of(GRAPH_INITIALIZER_TAG));
        writeAll(fd, p.tensorLenBytes);
        writeAll(fd, p.head);
        writeAll(fd, Uint8Array.of(TENSOR_RAW_DATA_TAG));
        writeAll(fd, p.rawLen);
        writeAll(fd, data);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// public API

function checkOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < 13 || opset > 21) throw new OnnxExportError('opset', `opset must be an integer in 13..21, got ${opset}`);
}

function fmtBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`;
}

/** Write `plan` to `path` through a temporary file in the same folder (never a half-written model). */
function writeModelFile(plan: PlannedFile, path: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    plan.write(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    if (e instanceof ModelLoadError) throw e;
    throw new OnnxExportError(path, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** True when `file` is an ONNX model this kit wrote (producer_name sits in the model's first bytes). */
function writtenByKit(file: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(256);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).includes('ipo-notebook-kit');
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

const Q8_FILE = 'model_quantized.onnx';

function exportWithSource(
  c: LlamaConfig, src: WeightSource, tokenizerDir: string | null, outDir: string, opts: ExportOnnxOptions, sourceName: string,
): OnnxExportResult {
  const withPast = opts.withPast ?? true;
  const logitsToKeep = opts.logitsToKeep ?? true;
  const opset = opts.opset ?? DEFAULT_OPSET;
  checkOpset(opset);
  checkExportableConfig(c, sourceName);
  if (opts.quantize !== undefined && opts.quantize !== 'q8') {
    throw new OnnxExportError('quantize', `unknown quantization '${String(opts.quantize)}': use 'q8' (or leave it unset for fp32 only)`);
  }
  const out = resolve(outDir);
  const onnxDir = join(out, 'onnx');
  const onnxPath = join(onnxDir, 'model.onnx');
  const q8Path = join(onnxDir, Q8_FILE);

  const io = `${withPast ? 'with' : 'without'} KV cache I/O, ${logitsToKeep ? 'with' : 'without'} num_logits_to_keep`;
  const metadata = { source: sourceName, ...(opts.metadata ?? {}) };
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const checkSize = (plan: PlannedFile, path: string) => {
    if (plan.totalBytes > maxBytes) {
      throw new OnnxExportError(path,
        `the model needs ${fmtBytes(plan.totalBytes)}, above the ${fmtBytes(maxBytes)} limit of a single protobuf file (ONNX external data is not implemented)`);
    }
  };
  const built = buildGraph(c, src, withPast, opset, logitsToKeep);
  const plan = planModelFile(built, opset, metadata, `${c.modelType} decoder exported by ipo-notebook-kit lib/models/export-onnx.ts (fp32, ${io})`);
  checkSize(plan, onnxPath);
  let q8: { built: BuiltGraph; plan: PlannedFile; lmHead: boolean } | null = null;
  if (opts.quantize === 'q8') {
    const lmHead = opts.quantizeLmHead ?? true;
    const qBuilt = buildGraph(c, src, withPast, opset, logitsToKeep, { lmHead });
    const qMeta = { ...metadata, quantization: `q8: dynamic int8 as onnxruntime quantize_dynamic defaults (QInt8 symmetric per-tensor weights, uint8 DynamicQuantizeLinear activations, MatMulInteger); LM head ${lmHead ? 'int8' : 'fp32'}, embedding Gather fp32` };
    const qDoc = `${c.modelType} decoder exported by ipo-notebook-kit lib/models/export-onnx.ts (q8 dynamic int8 weight MatMuls, ${io})`;
    q8 = { built: qBuilt, plan: planModelFile(qBuilt, opset, qMeta, qDoc), lmHead };
    checkSize(q8.plan, q8Path);
  }

  if (tokenizerDir !== null && !(existsSync(tokenizerDir) && statSync(tokenizerDir).isDirectory())) {
    throw new OnnxExportError(tokenizerDir, 'tokenizer folder not found');
  }
  ensureWritableDir(out);
  ensureWritableDir(onnxDir);
  const files: string[] = [];
  if (tokenizerDir !== null) files.push(...copyTokenizerFiles(tokenizerDir, out));

  const base = opts.hfConfig ?? matchingRawConfig(tokenizerDir, c) ?? {};
  const configFile = join(out, 'config.json');
  try {
    writeFileSync(configFile, `${JSON.stringify(toHfConfig(c, base, opts.extraConfig), null, 2)}\n`);
  } catch (e) {
    throw new OnnxExportError(configFile, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  files.unshift('config.json');

  writeModelFile(plan, onnxPath);
  files.push('onnx/model.onnx');
  let quantized: QuantizedExportInfo | undefined;
  if (q8) {
    writeModelFile(q8.plan, q8Path);
    files.push(`onnx/${Q8_FILE}`);
    quantized = {
      onnxPath: q8Path,
      bytes: statSync(q8Path).size,
      nodes: q8.built.builder.nodes.length,
      initializers: q8.built.builder.inits.length,
      quantizedMatMuls: q8.built.quantizedMatMuls,
      lmHeadQuantized: q8.lmHead,
    };
  } else if (existsSync(q8Path) && writtenByKit(q8Path)) {
    // A q8 file from an earlier export into this folder now describes other weights: `--dtype q8` must not load it.
    rmSync(q8Path, { force: true });
  }
  return {
    outDir: out,
    onnxPath,
    bytes: statSync(onnxPath).size,
    nodes: built.builder.nodes.length,
    initializers: built.builder.inits.length,
    opset,
    inputs: built.inputs.map((v) => v.name!),
    outputs: built.outputs.map((v) => v.name!),
    files,
    ...(quantized ? { quantized } : {}),
  };
}

/**
 * Export a loaded `LlamaTF` to `outDir` (config.json, tokenizer files from `tokenizerDir`, onnx/model.onnx).
 * No tfjs tensors are created (weights are read with `dataSync`; on the webgpu backend, after training, call
 * `await readableOnHost(model.params.values())` from lib/models/backend.ts first).
 */
export function exportOnnx(model: LlamaTF, tokenizerDir: string, outDir: string, opts: ExportOnnxOptions = {}): OnnxExportResult {
  if (model.params.size === 0) throw new OnnxExportError(tokenizerDir, 'the model has no parameters (was it disposed?)');
  return exportWithSource(model.config, sourceFromLlamaTF(model), tokenizerDir, outDir, opts, tokenizerDir);
}

/**
 * Export from Hugging Face-named weights in PyTorch layout (`[out, in]`), e.g. straight from safetensors or
 * `randomWeights`; `tokenizerDir` may be null (no tokenizer files copied).
 */
export function exportOnnxFromWeights(
  config: LlamaConfig, weights: WeightMap, tokenizerDir: string | null, outDir: string, opts: ExportOnnxOptions = {}, source = 'weights',
): OnnxExportResult {
  checkExportableConfig(config, source);
  return exportWithSource(config, sourceFromWeights(config, weights, source), tokenizerDir, outDir, opts, source);
}

/** Load `ref` with `loadTfModel` (folder, shared model name or hub id) and export it; the model is disposed after. */
export async function exportOnnxFromRef(ref: string, outDir: string, opts: ExportOnnxOptions = {}): Promise<OnnxExportResult> {
  const lm = await loadTfModel(ref);
  try {
    let hfConfig = opts.hfConfig;
    if (!hfConfig) {
      try {
        hfConfig = JSON.parse(readFileSync(join(lm.ref, 'config.json'), 'utf8')) as Record<string, unknown>;
      } catch {
        hfConfig = undefined;
      }
    }
    return exportOnnx(lm.model, lm.ref, outDir, { ...opts, hfConfig });
  } finally {
    lm.dispose();
  }
}
