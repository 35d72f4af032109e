/**
 * Shape-true models with RANDOM weights, for benchmarks and plumbing tests (e.g. a SmolLM2-135M-shaped model when the
 * real weights are not available offline). `makeRandomModel` writes the same random network as `model.safetensors`
 * (TF engine) and `onnx/model.onnx` (ONNX engine), plus config.json and the tokenizer files of the model it imitates.
 *
 * Random weights are labelled everywhere they land: config.json (`_ipo_random_weights: true`, `_ipo_note`), a
 * README.md, the safetensors `__metadata__` (`random_weights: "true"`, `seed`) and the ONNX metadata_props.
 *
 * Weights follow Hugging Face's `_init_weights` for Llama: linear and embedding weights ~ N(0, std) (std 0.02 by
 * default), biases 0, RMSNorm weights 1. They are generated on the host with a seeded xoshiro128** stream per tensor
 * (seeded from the seed and the tensor name, so a tensor does not depend on the others) and Marsaglia's polar form of
 * Box–Muller: deterministic for a given seed, ~135M values in a couple of seconds, no tfjs ops.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseLlamaConfig } from './config';
import { ModelLoadError } from './errors';
import {
  checkExportableConfig, copyTokenizerFiles, ensureWritableDir, exportOnnxFromWeights, OnnxExportError, toHfConfig,
  type ExportOnnxOptions, type OnnxExportResult,
} from './export-onnx';
import { expectedParameters } from './llama-tf';
import {
  bf16BitsToFloat, floatToBf16Bits, floatToHalfBits, halfBitsToFloat, writeSafetensors, type SafetensorsFloatDtype,
} from './safetensors';
import type { LlamaConfig, WeightMap } from './types';
import { fnv1a } from '../util/rng';

export const RANDOM_WEIGHTS_NOTE = 'RANDOM WEIGHTS — shape-true benchmark model, not a trained model';

export interface RandomWeightsOptions {
  /** Default 0. */
  seed?: number;
  /** Standard deviation of linear/embedding weights. Default 0.02. */
  std?: number;
  /** Standard deviation of q/k/v biases (HF initialises them to 0, the default; tests may want them non-zero). */
  biasStd?: number;
  /** Standard deviation of the RMSNorm weights around 1 (default 0: exactly 1, as HF). */
  normStd?: number;
}

export interface MakeRandomModelOptions extends RandomWeightsOptions {
  /** A config.json path (or a model folder holding one), or a raw Hugging Face config object. */
  like: string | Record<string, unknown>;
  outDir: string;
  /** Where tokenizer.json etc. are copied from. Default: the folder of the config file (none for a raw object). */
  tokenizerDir?: string;
  /** Keys replacing those of `like` (e.g. `{num_hidden_layers: 2}` for a shrunk copy). */
  overrides?: Record<string, unknown>;
  /** Also write onnx/model.onnx. Default true. */
  onnx?: boolean;
  /** Options of the ONNX export (withPast, opset). */
  onnxOptions?: Pick<ExportOnnxOptions, 'withPast' | 'opset' | 'maxBytes' | 'quantize'>;
  /** Storage dtype of model.safetensors. The weights are rounded to it first, so the ONNX file holds the same values. */
  dtype?: SafetensorsFloatDtype;
}

export interface MakeRandomModelResult {
  outDir: string;
  config: LlamaConfig;
  seed: number;
  numParameters: number;
  /** Files in outDir (relative). */
  files: string[];
  safetensorsBytes: number;
  onnx: OnnxExportResult | null;
  /** Wall-clock seconds of each stage. */
  seconds: { weights: number; safetensors: number; onnx: number };
}

// ---------------------------------------------------------------------------------------------------------------
// seeded normal generator


/** splitmix32: expands one 32-bit seed into well-mixed state words. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Fill `out` with N(mean, std) from a xoshiro128** stream seeded by (seed, key). */
export function fillNormal(out: Float32Array, std: number, seed: number, key: string, mean = 0): Float32Array {
  const sm = splitmix32((Math.imul(seed >>> 0, 0x9e3779b1) ^ fnv1a(key)) >>> 0);
  // State words kept as int32 (`| 0`) so V8 stays on small-integer arithmetic.
  let a = sm() | 0, b = sm() | 0, c = sm() | 0, d = sm() | 0;
  if ((a | b | c | d) === 0) a = 1;
  const INV = 1 / 2147483648; // signed 32-bit output × 2^-31 is uniform in [-1, 1)
  const n = out.length;
  let i = 0;
  let u = 0, v = 0, s = 0;
  while (i < n) {
    // Marsaglia polar method: two independent normals per accepted pair. xoshiro128** is inlined (twice per try)
    // because a closure over the state words runs several times slower.
    do {
      let r = Math.imul(b, 5);
      r = Math.imul((r << 7) | (r >>> 25), 9);
      let t = b << 9;
      c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = (d << 11) | (d >>> 21);
      u = r * INV;
      r = Math.imul(b, 5);
      r = Math.imul((r << 7) | (r >>> 25), 9);
      t = b << 9;
      c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = (d << 11) | (d >>> 21);
      v = r * INV;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = std * Math.sqrt((-2 * Math.log(s)) / s);
    out[i++] = mean + u * m;
    if (i < n) out[i++] = mean + v * m;
  }
  return out;
}

/**
 * Random weights for `config` in PyTorch layout (`[out, in]`), named as in Hugging Face state dicts; tied models get
 * only `model.embed_tokens.weight`.
 */
export function randomWeights(config: LlamaConfig, opts: RandomWeightsOptions = {}): WeightMap {
  const seed = opts.seed ?? 0;
  const std = opts.std ?? 0.02;
  const biasStd = opts.biasStd ?? 0;
  const normStd = opts.normStd ?? 0;
  const w: WeightMap = new Map();
  for (const [name, shape] of expectedParameters(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('norm.weight')) {
      if (normStd > 0) fillNormal(data, normStd, seed, name, 1);
      else data.fill(1);
    } else if (name.endsWith('.bias')) {
      if (biasStd > 0) fillNormal(data, biasStd, seed, name);
    } else {
      fillNormal(data, std, seed, name);
    }
    w.set(name, { shape, data });
  }
  return w;
}

/** Round every value to what `dtype` stores (so safetensors and ONNX hold the same numbers). */
function roundWeightsTo(weights: WeightMap, dtype: SafetensorsFloatDtype): void {
  if (dtype === 'F32') return;
  for (const t of weights.values()) {
    const d = t.data;
    if (dtype === 'BF16') for (let i = 0; i < d.length; i++) d[i] = bf16BitsToFloat(floatToBf16Bits(d[i]));
    else for (let i = 0; i < d.length; i++) d[i] = halfBitsToFloat(floatToHalfBits(d[i]));
  }
}

// ---------------------------------------------------------------------------------------------------------------

function readRawConfig(like: string): { raw: Record<string, unknown>; file: string } {
  let file = resolve(like);
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'config.json');
  if (!existsSync(file)) throw new ModelLoadError(file, 'not found (makeRandomModel needs a config.json to imitate)');
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object');
    return { raw, file };
  } catch (e) {
    throw new ModelLoadError(file, `not valid JSON (${(e as Error).message})`);
  }
}

const TORCH_DTYPE: Record<SafetensorsFloatDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

function readme(c: LlamaConfig, source: string, seed: number, std: number, numParameters: number, dtype: SafetensorsFloatDtype, files: string[]): string {
  return [
    '# RANDOM WEIGHTS — not a trained model',
    '',
    `This folder holds a **shape-true benchmark model with random weights**, made by \`makeRandomModel\``,
    '(`lib/models/make-model.ts` of ipo-notebook-kit). Its outputs are meaningless: use it only to measure speed and',
    'memory or to test plumbing, never to report model quality.',
    '',
    `- imitates: ${source}`,
    `- architecture: ${c.modelType}, ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, intermediate ${c.intermediateSize}, ` +
      `${c.numAttentionHeads} heads / ${c.numKeyValueHeads} kv heads (head_dim ${c.headDim}), vocab ${c.vocabSize}, ` +
      `${c.tieWordEmbeddings ? 'tied' : 'untied'} embeddings${c.attentionBias ? ', q/k/v bias' : ''}`,
    `- parameters: ${numParameters.toLocaleString('en-US')}`,
    `- weights: N(0, ${std}) for linear and embedding weights, 0 for biases, 1 for RMSNorm weights; seed ${seed}`,
    `- safetensors dtype: ${dtype}`,
    `- files: ${files.join(', ')}`,
    '',
    'Labels: config.json has `"_ipo_random_weights": true`; model.safetensors `__metadata__` has `random_weights: "true"`;',
    'onnx/model.onnx metadata_props has `random_weights = true`.',
    '',
  ].join('\n');
}

/** Write a random-weights model shaped like `opts.like` to `opts.outDir` (safetensors + ONNX + config + tokenizer). */
export function makeRandomModel(opts: MakeRandomModelOptions): MakeRandomModelResult {
  const seed = opts.seed ?? 0;
  const std = opts.std ?? 0.02;
  const dtype = opts.dtype ?? 'F32';
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new OnnxExportError('seed', `seed must be an integer in [0, 2^32), got ${seed}`);
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new OnnxExportError('dtype', `unsupported dtype ${dtype} (F32, F16 or BF16)`);
  let raw: Record<string, unknown>;
  let source: string;
  let tokenizerDir: string | null = opts.tokenizerDir ?? null;
  if (typeof opts.like === 'string') {
    const r = readRawConfig(opts.like);
    raw = r.raw;
    source = r.file;
    tokenizerDir ??= dirname(r.file);
  } else {
    raw = opts.like;
    source = 'config object';
  }
  raw = { ...raw, ...(opts.overrides ?? {}) };
  const config = parseLlamaConfig(raw, source);
  checkExportableConfig(config, source);
  const outDir = resolve(opts.outDir);
  ensureWritableDir(outDir);

  const t0 = performance.now();
  const weights = randomWeights(config, { seed, std, biasStd: opts.biasStd, normStd: opts.normStd });
  roundWeightsTo(weights, dtype);
  let numParameters = 0;
  for (const t of weights.values()) numParameters += t.data.length;
  const t1 = performance.now();

  const stFile = join(outDir, 'model.safetensors');
  try {
    writeSafetensors(stFile, weights, { dtype, metadata: { format: 'pt', random_weights: 'true', seed: String(seed), note: RANDOM_WEIGHTS_NOTE } });
  } catch (e) {
    throw new OnnxExportError(stFile, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const t2 = performance.now();

  const labels = {
    torch_dtype: TORCH_DTYPE[dtype],
    _ipo_random_weights: true,
    _ipo_note: RANDOM_WEIGHTS_NOTE,
    _ipo_seed: seed,
    _ipo_like: source,
  };
  let onnxResult: OnnxExportResult | null = null;
  const files = ['model.safetensors'];
  if (opts.onnx ?? true) {
    onnxResult = exportOnnxFromWeights(config, weights, tokenizerDir, outDir, {
      ...opts.onnxOptions,
      hfConfig: raw,
      extraConfig: labels,
      metadata: { random_weights: 'true', seed: String(seed), note: RANDOM_WEIGHTS_NOTE },
    }, source);
    files.push(...onnxResult.files);
  } else {
    const configFile = join(outDir, 'config.json');
    writeFileSync(configFile, `${JSON.stringify(toHfConfig(config, raw, labels), null, 2)}\n`);
    files.push('config.json');
    if (tokenizerDir !== null) files.push(...copyTokenizerFiles(tokenizerDir, outDir));
  }
  const t3 = performance.now();
  files.push('README.md');
  writeFileSync(join(outDir, 'README.md'), readme(config, source, seed, std, numParameters, dtype, files));

  return {
    outDir,
    config,
    seed,
    numParameters,
    files,
    safetensorsBytes: statSync(stFile).size,
    onnx: onnxResult,
    seconds: { weights: (t1 - t0) / 1000, safetensors: (t2 - t1) / 1000, onnx: (t3 - t2) / 1000 },
  };
}
