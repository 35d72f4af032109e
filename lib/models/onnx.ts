/**
 * `CausalLM` on ONNX Runtime through transformers.js (`AutoModelForCausalLM`): the fast inference engine (issue #3).
 * Tokenization goes through the kit's own wrapper (`loadTokenizer`), so ids are the same as with the TF engine, and
 * `generate` runs the kit's `pickToken` loop with the same seeded generator, so a seed gives the same tokens in both
 * engines.
 *
 * Model folders use the transformers.js layout: `config.json`, tokenizer files and `onnx/model<suffix>.onnx`, the
 * suffix coming from the dtype (`ONNX_DTYPE_SUFFIX`, the same table as transformers.js `DEFAULT_DTYPE_SUFFIX_MAPPING`).
 * Graphs with `past_key_values.*` inputs (and `present.*` outputs) are decoded with the KV cache; graphs without
 * them (e.g. a single Gather bigram) are re-run on the whole sequence at every step.
 *
 * Graphs with a `num_logits_to_keep` input (the kit's exporter adds it by default; Hugging Face semantics: 0 → every
 * position, k → the last k) are asked only for the logits that are read: 1 row for next-token scoring and generation
 * steps, the C rows that predict a C-token continuation; batches are then LEFT-padded so every row ends at the last
 * position. Graphs without it return logits at every position and are right-padded; the host reads what it needs.
 *
 * Loading never touches the network inside transformers.js: a hub id is first resolved to a local snapshot folder
 * (downloaded into the HF hub cache by `resolveModelDir`/`downloadFromHub` when online), and transformers.js is then
 * given that ABSOLUTE folder with `local_files_only: true`. An absolute path is not a valid hub id for
 * transformers.js, so it reads `<folder>/config.json` and `<folder>/onnx/…` directly (no `env.localModelPath`
 * prefix, no remote URL), whatever `env.allowRemoteModels` says.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import { ModelLoadError } from './errors';
import { DEFAULT_MODEL, downloadFromHub, hubOffline, isHubId, resolveModelDir } from './resolve';
import { pickToken } from './sampling';
import { checkTokenIds, resolveGenerateOptions, sequenceLogProb } from './checks';
import { loadTokenizer, type TextTokenizer } from './tokenizer';
import { forkedLogProbsWith, type KvOps } from './fork';
import type { CausalLM, ChatMessage, ForkBranch, ForkResult, GenerateOptions } from './types';

// the dtype/device names live in a module without transformers.js, so the CLI parses its flags without loading it
export { ONNX_DTYPE_SUFFIX, ONNX_DTYPES, ONNX_DEVICES, type OnnxDtype, type OnnxDevice } from './onnx-options';
import { ONNX_DTYPE_SUFFIX, ONNX_DTYPES, ONNX_DEVICES, type OnnxDtype, type OnnxDevice } from './onnx-options';

/** Tokenizer/config files fetched next to the ONNX weights for a hub id (missing ones are skipped). */
export const ONNX_MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'chat_template.json',
];

/** Path, relative to the model folder, of the ONNX file for `dtype` (e.g. `onnx/model_q4.onnx`). */
export function onnxFileName(dtype: OnnxDtype = 'fp32'): string {
  return `onnx/model${ONNX_DTYPE_SUFFIX[checkDtype(dtype)]}.onnx`;
}

function checkDtype(dtype: string): OnnxDtype {
  if (!(ONNX_DTYPES as string[]).includes(dtype)) throw new Error(`unknown ONNX dtype '${dtype}': use one of ${ONNX_DTYPES.join(', ')}`);
  return dtype as OnnxDtype;
}

function checkDevice(device: string): OnnxDevice {
  if (!(ONNX_DEVICES as readonly string[]).includes(device)) {
    throw new Error(`unknown ONNX device '${device}'${process.env.IPO_DEVICE === device ? ' (from IPO_DEVICE)' : ''}: use one of ${ONNX_DEVICES.join(', ')}`);
  }
  return device as OnnxDevice;
}

/**
 * The `hubFiles` function for `resolveModelDir`: config + tokenizer files + the ONNX file of `dtype` and its external
 * data (`model<suffix>.onnx_data`, plus `_data_1…` chunks when config.json's `transformers.js_config` declares them).
 */
export function onnxHubFiles(dtype: OnnxDtype = 'fp32'): (repoId: string, revision: string) => Promise<string[]> {
  const onnxFile = onnxFileName(dtype);
  return async (repoId, revision) => {
    const dir = await downloadFromHub(repoId, ['config.json'], { revision, required: ['config.json'] });
    let chunks = 1;
    try {
      const ext = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))['transformers.js_config']?.use_external_data_format;
      const base = onnxFile.slice('onnx/'.length);
      const n = typeof ext === 'object' && ext !== null ? (ext[base] ?? ext.model) : ext;
      if (typeof n === 'number' && n > 1) chunks = Math.min(n, 100);
    } catch {
      /* unreadable config: the loader reports it */
    }
    const data = Array.from({ length: chunks }, (_, i) => `${onnxFile}_data${i === 0 ? '' : `_${i}`}`);
    return [...ONNX_MODEL_FILES, onnxFile, ...data];
  };
}

export interface LoadOnnxOptions {
  /** Weight format (default `fp32` → `onnx/model.onnx`). */
  dtype?: OnnxDtype;
  /**
   * Execution provider (default `$IPO_DEVICE`, else `cpu`). `cuda` is passed to transformers.js
   * (`from_pretrained(dir, {device: 'cuda'})`); it needs onnxruntime-node's CUDA 12 provider, which is downloaded only
   * when installing with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` (or `--onnxruntime-node-install=cuda12`) on
   * linux-x64 with CUDA 12 + cuDNN present. Not tested here (the reference machine has no GPU); `webgpu` needs
   * a Vulkan driver.
   */
  device?: OnnxDevice;
  /** Hub revision (branch, tag or commit) for hub ids. */
  revision?: string;
  /** Chat template to use when the tokenizer files carry none. */
  chatTemplate?: string;
}


function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readJsonIfAny(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelLoadError(file, `not valid JSON (${(e as Error).message})`);
  }
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0].trim();

/**
 * Make sure `dir` (resolved from `ref`) holds the ONNX file of `dtype`: a hub snapshot cached for another engine or
 * dtype gets this dtype's files downloaded into the same cache (when online); otherwise one line names the missing
 * file and what `onnx/` does contain. Returns the folder (which a download may change) and the file.
 */
export async function ensureOnnxFile(
  ref: string,
  dir: string,
  dtype: OnnxDtype,
  opts: { revision?: string; what: string; noWeightsHint: string; downloadHint?: string },
): Promise<{ dir: string; onnxPath: string }> {
  const onnxRel = onnxFileName(dtype);
  if (!existsSync(join(dir, onnxRel)) && isHubId(ref) && !hubOffline()) {
    try {
      const revision = opts.revision ?? 'main';
      dir = await downloadFromHub(ref, await onnxHubFiles(dtype)(ref, revision), { revision, required: ['config.json', onnxRel] });
    } catch (e) {
      throw new ModelLoadError(join(dir, onnxRel), `not found in the hub cache and the download failed (${firstLine(e)})${opts.downloadHint ? `; ${opts.downloadHint}` : ''}`);
    }
  }
  const onnxPath = join(dir, onnxRel);
  if (!existsSync(onnxPath)) {
    const have = isDir(join(dir, 'onnx')) ? readdirSync(join(dir, 'onnx')).filter((f) => f.endsWith('.onnx')) : [];
    throw new ModelLoadError(onnxPath, `not found: ${opts.what} needs ${onnxRel} (${have.length ? `onnx/ has ${have.join(', ')}` : opts.noWeightsHint})`);
  }
  return { dir, onnxPath };
}

/**
 * Load an ONNX causal LM: `ref` is a folder in transformers.js layout or a hub id (resolved, and downloaded into the
 * hub cache when online, through `resolveModelDir` with `onnxHubFiles(dtype)`). Throws one-line errors for an unknown
 * dtype/device, a missing folder, a missing ONNX file (naming it) or a model transformers.js cannot load.
 */
export async function loadOnnxModel(ref: string = DEFAULT_MODEL, opts: LoadOnnxOptions = {}): Promise<OnnxCausalLM> {
  const dtype = checkDtype(opts.dtype ?? 'fp32');
  const device = checkDevice(opts.device ?? process.env.IPO_DEVICE ?? 'cpu');
  const resolved = await resolveModelDir(ref, { hubFiles: onnxHubFiles(dtype), revision: opts.revision });
  const { dir, onnxPath } = await ensureOnnxFile(ref, resolved, dtype, {
    revision: opts.revision,
    what: `engine 'onnx' with dtype '${dtype}'`,
    noWeightsHint: 'the folder has no onnx/ weights: export them with exportOnnxFromRef (lib/models/export-onnx.ts) or use a hub id that ships ONNX files',
  });
  const tokenizer = loadTokenizer(dir, { chatTemplate: opts.chatTemplate });
  // Node reads local files only when allowLocalModels is on (its default); `local_files_only` forbids any fetch.
  if (!env.allowLocalModels) env.allowLocalModels = true;
  let model: Awaited<ReturnType<typeof AutoModelForCausalLM.from_pretrained>>;
  try {
    model = await AutoModelForCausalLM.from_pretrained(dir, { dtype, device, local_files_only: true });
  } catch (e) {
    const hint = device === 'cuda'
      ? '; device cuda needs onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12 and CUDA 12 + cuDNN libraries'
      : device === 'webgpu' ? '; device webgpu needs a Vulkan driver (libvulkan.so.1) and a GPU adapter' : '';
    throw new ModelLoadError(onnxPath, `transformers.js cannot load it on device '${device}' (${firstLine(e)})${hint}`);
  }
  return new OnnxCausalLM(dir, model, tokenizer, { dtype, device });
}

/** What the loaded graph looks like: which optional inputs it takes. */
interface GraphInfo {
  inputNames: string[];
  pastNames: string[];
  hasPositionIds: boolean;
  hasAttentionMask: boolean;
  /** The graph takes `num_logits_to_keep` (HF semantics: 0 → every position, k → the last k). */
  hasLogitsToKeep: boolean;
  /** Dims of the `num_logits_to_keep` tensor the graph declares: `[]` (scalar, as transformers.js feeds it) or `[1]`. */
  logitsToKeepDims: number[];
  idsType: 'int64' | 'int32';
}

type Feeds = Record<string, unknown>;
type TensorMap = Record<string, Tensor>;

/** Rename `present*` outputs to the `past*` inputs they feed, as transformers.js `getPastKeyValues` does. */
function presentToPast(name: string): string {
  return name
    .replace('present_ssm', 'past_ssm')
    .replace('present_conv', 'past_conv')
    .replace('present_recurrent', 'past_recurrent')
    .replace('present', 'past_key_values');
}

function disposeAll(tensors: Iterable<unknown>): void {
  for (const t of tensors) if (t instanceof Tensor) t.dispose();
}

/** Float32 view of a logits tensor (fp16 graphs return float16 / Uint16 data). */
function floatData(t: Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  const conv = t.to('float32');
  const data = Float32Array.from(conv.data as Float32Array);
  if (conv !== t) conv.dispose();
  return data;
}

/** log-softmax of `data[off … off+n)` computed in float64. */
function logSoftmax(data: ArrayLike<number>, off: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (data[off + i] > max) max = data[off + i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(data[off + i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = data[off + i] - lse;
  return out;
}

export class OnnxCausalLM implements CausalLM {
  readonly engine = 'onnx' as const;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly maxLength: number;
  readonly dtype: OnnxDtype;
  readonly device: OnnxDevice;
  /** True when the graph takes `past_key_values.*` inputs, so `generate` decodes with the KV cache. */
  readonly hasKvCache: boolean;
  private readonly graph: GraphInfo;
  private readonly padId: number;
  /**
   * Shared-prefix scoring (lib/models/fork.ts), present only on graphs with `past_key_values` inputs: a state is the
   * `present.*` outputs of the last run (renamed `past_key_values.*`, `[1, KV, cached, head_dim]` each), fed back as
   * inputs; ONNX Runtime never writes into its inputs, so one state can feed several branches.
   */
  readonly forkedLogProbs?: (prefix: number[], branches: ForkBranch[]) => Promise<ForkResult[]>;

  /** `model` is a transformers.js causal LM (from `AutoModelForCausalLM.from_pretrained`). */
  constructor(
    readonly ref: string,
    readonly model: Awaited<ReturnType<typeof AutoModelForCausalLM.from_pretrained>>,
    readonly tokenizer: TextTokenizer,
    info: { dtype?: OnnxDtype; device?: OnnxDevice } = {},
  ) {
    this.dtype = info.dtype ?? 'fp32';
    this.device = info.device ?? 'cpu';
    const raw = model.config as unknown as Record<string, unknown>;
    const text = (raw.text_config ?? {}) as Record<string, unknown>;
    const get = (...keys: string[]): unknown => {
      for (const k of keys) if (raw[k] !== undefined && raw[k] !== null) return raw[k];
      for (const k of keys) if (text[k] !== undefined && text[k] !== null) return text[k];
      return undefined;
    };
    const gen = ((model as unknown as { generation_config?: Record<string, unknown> }).generation_config ?? {}) as Record<string, unknown>;
    const vocab = get('vocab_size');
    if (typeof vocab !== 'number') throw new ModelLoadError(join(ref, 'config.json'), "field 'vocab_size' is missing or not a number");
    this.vocabSize = vocab;
    const bos = get('bos_token_id') ?? gen.bos_token_id;
    this.bosTokenId = typeof bos === 'number' ? bos : null;
    const eos = get('eos_token_id') ?? gen.eos_token_id;
    this.eosTokenIds = typeof eos === 'number' ? [eos] : Array.isArray(eos) ? (eos as number[]) : [];
    const maxLen = get('max_position_embeddings', 'n_positions', 'n_ctx', 'max_sequence_length');
    this.maxLength = typeof maxLen === 'number' ? maxLen : 2048;
    const pad = [get('pad_token_id'), gen.pad_token_id, (tokenizer.raw as unknown as { pad_token_id?: unknown })?.pad_token_id]
      .find((p) => typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < vocab);
    this.padId = typeof pad === 'number' ? pad : 0;

    const session = this.session();
    const inputNames: string[] = [...session.inputNames];
    const meta = (session.inputMetadata ?? []) as { name: string; type?: string; shape?: unknown[] }[];
    const idsType = meta.find((m) => m.name === 'input_ids')?.type === 'int32' ? 'int32' : 'int64';
    const keepShape = meta.find((m) => m.name === 'num_logits_to_keep')?.shape;
    this.graph = {
      inputNames,
      pastNames: inputNames.filter((n) => n.startsWith('past_')),
      hasPositionIds: inputNames.includes('position_ids'),
      hasAttentionMask: inputNames.includes('attention_mask'),
      hasLogitsToKeep: inputNames.includes('num_logits_to_keep'),
      logitsToKeepDims: Array.isArray(keepShape) && keepShape.length === 1 ? [1] : [],
      idsType,
    };
    this.hasKvCache = this.graph.pastNames.length > 0;
    if (this.hasKvCache) this.forkedLogProbs = (prefix, branches) => forkedLogProbsWith(this.kvOps(), this, prefix, branches);
  }

  private kvOps(): KvOps<{ past: TensorMap; length: number }> {
    return {
      extend: async (state, ids, rows) => {
        const { logits, dims, present } = await this.run([ids], { past: state?.past, pastLength: state?.length ?? 0, keep: rows });
        const [, Tk, V] = dims; // Tk = rows with num_logits_to_keep, else ids.length
        const logp = new Float32Array(rows * V);
        for (let r = 0; r < rows; r++) logp.set(logSoftmax(logits, (Tk - rows + r) * V, V), r * V);
        return { state: { past: present, length: (state?.length ?? 0) + ids.length }, logp };
      },
      release: (state) => disposeAll(Object.values(state.past)),
    };
  }

  /** True when the graph takes `num_logits_to_keep`, so scoring and generation compute logits only where they are read. */
  get hasLogitsToKeep(): boolean {
    return this.graph.hasLogitsToKeep;
  }

  /**
   * True when a batch can be LEFT-padded: the graph keeps only the last positions' logits, and it takes an attention
   * mask and position ids, so padding in front of a row is masked out and its real tokens keep positions 0, 1, ….
   */
  private get leftPads(): boolean {
    return this.graph.hasLogitsToKeep && this.graph.hasAttentionMask && this.graph.hasPositionIds;
  }

  get eosTokenId(): number | null {
    return this.eosTokenIds[0] ?? null;
  }

  private session(): any {
    const sessions = this.model.sessions as Record<string, unknown>;
    return sessions.model ?? sessions.decoder_model_merged;
  }

  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[] {
    return this.tokenizer.encode(text, opts);
  }

  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string {
    return this.tokenizer.decode(ids, opts);
  }

  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string {
    return this.tokenizer.applyChatTemplate(messages, opts);
  }

  private checkIds(ids: number[], what: string): void {
    checkTokenIds(ids, what, this.vocabSize, this.maxLength);
  }


  private intTensor(type: 'int64' | 'int32', values: ArrayLike<number>, dims: number[]): Tensor {
    if (type === 'int32') return new Tensor('int32', Int32Array.from(values), dims);
    const data = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
    return new Tensor('int64', data, dims);
  }

  /**
   * One forward pass. `rows` are padded to a common length T with `padId`: RIGHT padding by default (padding after
   * every real token is invisible to the causal positions that are read), LEFT padding with `leftPad` (attention_mask
   * 0 on the pads, position_ids counting the real tokens only, as transformers.js's `create_position_ids` does: pads
   * get 1), which puts every row's last real token at position T−1. `pastLength` > 0 means `past` holds that many
   * cached positions (all real: the mask is 1 there). `keep` is fed as `num_logits_to_keep` when the graph takes it
   * (0 = every position, k = the last k; default 0) and ignored otherwise. Returns the logits as float32 [B, T', V]
   * (T' = T, or min(keep, T) when the graph honours keep) and the `present*` outputs renamed to `past*` (empty when
   * the graph has no cache). Inputs are disposed here.
   */
  private async run(rows: number[][], opts: { past?: TensorMap; pastLength?: number; keep?: number; leftPad?: boolean } = {}): Promise<{
    logits: Float32Array; dims: number[]; present: TensorMap;
  }> {
    const B = rows.length;
    const T = Math.max(...rows.map((r) => r.length));
    const P = opts.pastLength ?? 0;
    const ids = new Array<number>(B * T).fill(this.padId);
    const mask = new Array<number>(B * (P + T)).fill(0);
    const pos = new Array<number>(B * T);
    rows.forEach((r, b) => {
      const off = opts.leftPad ? T - r.length : 0; // first real column
      for (let t = 0; t < P; t++) mask[b * (P + T) + t] = 1;
      for (let t = 0; t < r.length; t++) {
        ids[b * T + off + t] = r[t];
        mask[b * (P + T) + P + off + t] = 1;
      }
      for (let t = 0; t < T; t++) pos[b * T + t] = t < off ? 1 : P + t - off;
    });
    const feeds: Feeds = { input_ids: this.intTensor(this.graph.idsType, ids, [B, T]) };
    if (this.graph.hasAttentionMask) feeds.attention_mask = this.intTensor('int64', mask, [B, P + T]);
    if (this.graph.hasPositionIds) feeds.position_ids = this.intTensor('int64', pos, [B, T]);
    if (this.graph.hasLogitsToKeep) feeds.num_logits_to_keep = this.intTensor('int64', [opts.keep ?? 0], this.graph.logitsToKeepDims);
    // With no cache given, transformers.js's decoder_forward feeds empty past tensors (shapes from the session's input
    // metadata, `batch_size` → B, other symbolic dims → 0) to graphs that take them, and sets use_cache_branch.
    if (opts.past && Object.keys(opts.past).length > 0) feeds.past_key_values = opts.past;
    const own = Object.entries(feeds).filter(([k]) => k !== 'past_key_values').map(([, v]) => v);
    let outputs: TensorMap;
    try {
      outputs = (await this.model.forward(feeds)) as TensorMap;
    } finally {
      disposeAll(own);
    }
    const present: TensorMap = {};
    const rest: Tensor[] = [];
    let logitsT: Tensor | undefined;
    for (const [name, t] of Object.entries(outputs)) {
      if (name === 'logits') logitsT = t;
      else if (name.startsWith('present') && this.hasKvCache) present[presentToPast(name)] = t;
      else rest.push(t);
    }
    disposeAll(rest);
    if (!logitsT) {
      disposeAll(Object.values(present));
      throw new Error(`the ONNX graph of ${this.ref} has no 'logits' output (outputs: ${Object.keys(outputs).join(', ')})`);
    }
    const dims = [...logitsT.dims];
    const logits = Float32Array.from(floatData(logitsT));
    logitsT.dispose();
    return { logits, dims, present };
  }

  async nextTokenLogProbs(ids: number[]): Promise<Float32Array> {
    return (await this.nextTokenLogProbsBatch([ids]))[0];
  }

  /**
   * Log-probabilities of the token after each sequence. Graphs with `num_logits_to_keep` get the batch LEFT-padded
   * (each row's last real token at the last position) and keep = 1: only one hidden row per sequence reaches the LM
   * head. Other graphs get it right-padded like the TF engine and every position's logits, read at each row's end.
   * Either way results equal single-sequence calls.
   */
  async nextTokenLogProbsBatch(batch: number[][]): Promise<Float32Array[]> {
    if (batch.length === 0) return [];
    batch.forEach((ids, i) => this.checkIds(ids, `sequence ${i}`));
    const T = Math.max(...batch.map((s) => s.length));
    const sameLength = batch.every((s) => s.length === T);
    if (this.graph.hasLogitsToKeep && (sameLength || this.leftPads)) {
      const { logits, dims, present } = await this.run(batch, { keep: 1, leftPad: !sameLength });
      disposeAll(Object.values(present));
      const [, Tk, V] = dims; // Tk = 1
      return batch.map((_, b) => Float32Array.from(logSoftmax(logits, (b * Tk + Tk - 1) * V, V)));
    }
    // Right padding. With num_logits_to_keep (but no mask/position inputs to left-pad with), keep from the shortest
    // row's last position on: the rows actually read.
    const keep = this.graph.hasLogitsToKeep ? T - Math.min(...batch.map((s) => s.length)) + 1 : 0;
    const { logits, dims, present } = await this.run(batch, { keep });
    disposeAll(Object.values(present));
    const [, Tk, V] = dims;
    const first = T - Tk; // absolute position of the first returned row
    return batch.map((s, b) => Float32Array.from(logSoftmax(logits, (b * Tk + s.length - 1 - first) * V, V)));
  }

  /**
   * Σ log P(continuation | prefix). Positions prefix.length−1 … N−2 (N = prefix + continuation) predict the
   * continuation; with `num_logits_to_keep` the graph is run on prefix + continuation[0 … C−2] (the last token
   * predicts nothing that is read) with keep = C, so exactly those C rows go through the LM head.
   */
  async continuationLogProb(prefix: number[], continuation: number[]): Promise<{ total: number; perToken: number[] }> {
    this.checkIds(prefix, 'prefix');
    if (continuation.length === 0) return { total: 0, perToken: [] };
    const ids = [...prefix, ...continuation];
    this.checkIds(ids, 'prefix + continuation');
    const C = continuation.length;
    const input = this.graph.hasLogitsToKeep ? ids.slice(0, -1) : ids;
    const { logits, dims, present } = await this.run([input], { keep: C });
    disposeAll(Object.values(present));
    const [, Tk, V] = dims;
    const first = input.length - Tk; // absolute position of the first returned row (0 without keep)
    // Position prefix.length-1+t predicts continuation[t].
    const perToken = continuation.map((id, t) => logSoftmax(logits, (prefix.length - 1 + t - first) * V, V)[id]);
    return { total: perToken.reduce((a, b) => a + b, 0), perToken };
  }

  /** Sum of log P(token_t | tokens_<t) over every token after the first of `ids`. */
  sequenceLogProb(ids: number[]): Promise<{ total: number; perToken: number[] }> {
    return sequenceLogProb(this, ids);
  }

  /**
   * Generate after `ids` with the kit's `pickToken` (same seed → same tokens as the TF engine). Graphs with
   * past_key_values inputs run the prompt once, then one token per step, feeding `present.*` back as
   * `past_key_values.*` (what transformers.js's own generate does); other graphs re-run the whole sequence each step.
   */
  async generate(ids: number[], opts: GenerateOptions): Promise<number[]> {
    this.checkIds(ids, 'prompt');
    const { stop, pick } = resolveGenerateOptions(opts, this.eosTokenIds);
    const out: number[] = [];
    if (!this.hasKvCache) {
      const seq = [...ids];
      while (out.length < opts.maxNewTokens && seq.length <= this.maxLength) {
        const { logits, dims, present } = await this.run([seq], { keep: 1 });
        disposeAll(Object.values(present));
        const V = dims[2];
        const next = pickToken(logits.subarray((dims[1] - 1) * V, dims[1] * V), pick);
        out.push(next);
        if (stop.has(next)) break;
        seq.push(next);
      }
      return out;
    }
    let past: TensorMap = {};
    let pastLength = 0;
    try {
      let input = ids;
      while (out.length < opts.maxNewTokens && pastLength + input.length <= this.maxLength) {
        const { logits, dims, present } = await this.run([input], { past, pastLength, keep: 1 });
        disposeAll(Object.values(past).filter((t) => !Object.values(present).includes(t)));
        past = present;
        pastLength += input.length;
        const V = dims[2];
        const next = pickToken(logits.subarray((dims[1] - 1) * V, dims[1] * V), pick);
        out.push(next);
        if (stop.has(next)) break;
        input = [next];
      }
    } finally {
      disposeAll(Object.values(past));
    }
    return out;
  }

  /** Release the ONNX Runtime sessions (asynchronous inside transformers.js; errors are ignored). */
  dispose(): void {
    this.model.dispose().catch(() => undefined);
  }
}
