/**
 * The toy world's model folder: a Llama (`LlamaForCausalLM`: RMSNorm, RoPE, SwiGLU, causal attention, tied
 * embeddings) with the toy tokenizer (`lib/toy/tokenizer.ts`) and a from-scratch random init, written as an ordinary
 * Hugging Face folder — `config.json`, `generation_config.json`, `model.safetensors`, the tokenizer files, `README.md` —
 * so `loadTfModel(dir)` / `loadModel(dir)` load it, `ipo export-onnx --model dir --out D` makes the ONNX copy, and
 * every kit command takes `--model dir`.
 *
 * Size: the prototype's (`../shared/docs/toy-world-notes.md`): hidden 64, 2 layers, 4 heads, FFN 128. Init: Hugging
 * Face `LlamaPreTrainedModel._init_weights` with `initializer_range` 0.02 — linear and embedding weights ~ N(0, 0.02),
 * RMSNorm weights 1 (`randomWeights` of lib/models/make-model.ts, seeded per tensor name).
 *
 * Labels: until trained the folder says RANDOM WEIGHTS in config.json (`_ipo_random_weights: true`,
 * `_ipo_random_weights_note`, `_ipo_random_weights_seed`), the README and the safetensors `__metadata__`. The kit's
 * `saveModelFolder` (lib/dpo/save-model.ts) drops every `_ipo_random*` key and rewrites README and metadata when a
 * trainer saves it, so a trained copy is not mislabelled. `_ipo_toy` (kept) names the world and the tokenizer.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseLlamaConfig } from '../models/config';
import { ensureWritableDir } from '../models/export-onnx';
import { randomWeights } from '../models/make-model';
import { writeSafetensors } from '../models/safetensors';
import type { LlamaConfig } from '../models/types';
import { TOY_SPECIAL_IDS, toyVocabSize, writeToyTokenizer } from './tokenizer';

export const TOY_RANDOM_WEIGHTS_NOTE = 'RANDOM WEIGHTS — untrained toy-world model (from-scratch init), not a trained model';

export interface ToyModelOptions {
  /** hidden_size. Default 64. */
  hidden?: number;
  /** num_hidden_layers. Default 2. */
  layers?: number;
  /** num_attention_heads. Default 4 (head_dim = hidden / heads). */
  heads?: number;
  /** num_key_value_heads (grouped-query attention when < heads). Default = heads. */
  kvHeads?: number;
  /** intermediate_size of the SwiGLU MLP. Default 128. */
  intermediate?: number;
  /** max_position_embeddings. Default 128 (the IPO prompt is 33–34 ids with BOS, plus " Yes" and EOS). */
  maxPosition?: number;
  /** Weight seed. Default 0. */
  seed?: number;
  /** Standard deviation of linear and embedding weights (HF `initializer_range`). Default 0.02. */
  std?: number;
}

export const TOY_MODEL_DEFAULTS = { hidden: 64, layers: 2, heads: 4, intermediate: 128, maxPosition: 128, seed: 0, std: 0.02 } as const;

export interface ToyModelResult {
  outDir: string;
  /** The config as the engines read it. */
  config: LlamaConfig;
  /** The raw config.json object written. */
  hfConfig: Record<string, unknown>;
  numParameters: number;
  vocabSize: number;
  seed: number;
  /** Files written in outDir (relative names). */
  files: string[];
}

function posInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`makeToyModel: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** The Hugging Face config.json object of a toy model (without the random-weights labels). */
export function toyModelConfig(opts: ToyModelOptions = {}): Record<string, unknown> {
  const hidden = posInt('hidden', opts.hidden ?? TOY_MODEL_DEFAULTS.hidden);
  const layers = posInt('layers', opts.layers ?? TOY_MODEL_DEFAULTS.layers);
  const heads = posInt('heads', opts.heads ?? TOY_MODEL_DEFAULTS.heads);
  const kvHeads = posInt('kvHeads', opts.kvHeads ?? heads);
  const intermediate = posInt('intermediate', opts.intermediate ?? TOY_MODEL_DEFAULTS.intermediate);
  const maxPosition = posInt('maxPosition', opts.maxPosition ?? TOY_MODEL_DEFAULTS.maxPosition);
  if (hidden % heads !== 0) throw new Error(`makeToyModel: hidden ${hidden} is not a multiple of heads ${heads}`);
  if ((hidden / heads) % 2 !== 0) throw new Error(`makeToyModel: head_dim ${hidden / heads} is odd (RoPE needs an even head_dim)`);
  if (heads % kvHeads !== 0) throw new Error(`makeToyModel: heads ${heads} is not a multiple of kvHeads ${kvHeads}`);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: toyVocabSize(),
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: hidden / heads,
    hidden_act: 'silu',
    max_position_embeddings: maxPosition,
    initializer_range: opts.std ?? TOY_MODEL_DEFAULTS.std,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0,
    mlp_bias: false,
    tie_word_embeddings: true,
    bos_token_id: TOY_SPECIAL_IDS.bos,
    eos_token_id: TOY_SPECIAL_IDS.eos,
    pad_token_id: TOY_SPECIAL_IDS.pad,
    torch_dtype: 'float32',
    use_cache: true,
  };
}

function readme(c: LlamaConfig, seed: number, std: number, numParameters: number, files: string[]): string {
  return [
    '# RANDOM WEIGHTS — untrained toy-world model',
    '',
    'A from-scratch Llama for the toy world (two-digit addition, `lib/toy/`) made by `makeToyModel`',
    '(`lib/toy/model.ts` of ipo-notebook-kit). Its weights are random until a kit trainer saves a trained copy: its',
    'outputs are meaningless (P(Yes) ≈ 0.5).',
    '',
    `- architecture: llama, ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, intermediate ${c.intermediateSize}, ` +
      `${c.numAttentionHeads} heads / ${c.numKeyValueHeads} kv heads (head_dim ${c.headDim}), vocab ${c.vocabSize}, ` +
      `${c.maxPositionEmbeddings} positions, tied embeddings`,
    `- parameters: ${numParameters.toLocaleString('en-US')}`,
    `- init: N(0, ${std}) for linear and embedding weights, 1 for RMSNorm weights (Hugging Face _init_weights); seed ${seed}`,
    '- tokenizer: byte-level BPE (lib/toy/tokenizer.ts): digits one token each, " Yes" / " No" one token each, BOS `<s>`',
    `- files: ${files.join(', ')}`,
    '',
    'Labels: config.json `"_ipo_random_weights": true`; model.safetensors `__metadata__` `random_weights: "true"`.',
    'Load it with `--model <this folder>` (tf engine), or `ipo export-onnx --model <this folder> --out <dir>` for the onnx engine.',
    '',
  ].join('\n');
}

/**
 * Write an untrained toy model folder to `outDir` (created if needed; files of the same names are overwritten).
 * Deterministic: the same options give byte-identical files.
 */
export function makeToyModel(outDir: string, opts: ToyModelOptions = {}): ToyModelResult {
  if (typeof outDir !== 'string' || outDir.length === 0) throw new Error('makeToyModel: outDir must be a non-empty string');
  const seed = opts.seed ?? TOY_MODEL_DEFAULTS.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`makeToyModel: seed must be an integer in [0, 2^32), got ${JSON.stringify(seed)}`);
  const std = opts.std ?? TOY_MODEL_DEFAULTS.std;
  if (typeof std !== 'number' || !(std > 0) || !Number.isFinite(std)) throw new Error(`makeToyModel: std must be a positive number, got ${JSON.stringify(std)}`);
  const base = toyModelConfig(opts);
  const config = parseLlamaConfig(base, 'toy model config');
  const dir = resolve(outDir);
  ensureWritableDir(dir);

  const weights = randomWeights(config, { seed, std });
  let numParameters = 0;
  for (const t of weights.values()) numParameters += t.data.length;
  writeSafetensors(join(dir, 'model.safetensors'), weights, {
    metadata: { format: 'pt', random_weights: 'true', seed: String(seed), note: TOY_RANDOM_WEIGHTS_NOTE },
  });
  const hfConfig = {
    ...base,
    _ipo_toy: { task: 'two-digit addition (lib/toy/task.ts)', tokenizer: 'lib/toy/tokenizer.ts' },
    _ipo_random_weights: true,
    _ipo_random_weights_note: TOY_RANDOM_WEIGHTS_NOTE,
    _ipo_random_weights_seed: seed,
  };
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(hfConfig, null, 2)}\n`);
  const generation = { bos_token_id: TOY_SPECIAL_IDS.bos, eos_token_id: TOY_SPECIAL_IDS.eos, pad_token_id: TOY_SPECIAL_IDS.pad };
  writeFileSync(join(dir, 'generation_config.json'), `${JSON.stringify(generation, null, 2)}\n`);
  const files = ['config.json', 'generation_config.json', 'model.safetensors', ...writeToyTokenizer(dir), 'README.md'];
  writeFileSync(join(dir, 'README.md'), readme(config, seed, std, numParameters, files));
  return { outDir: dir, config, hfConfig, numParameters, vocabSize: config.vocabSize, seed, files };
}
