/**
 * The reward-model engine: a sequence-classification model on ONNX Runtime through transformers.js
 * (`AutoTokenizer` + `AutoModelForSequenceClassification`), beside `./onnx` (the causal-LM engine), whose
 * `ensureOnnxFile` it shares. What a score IS (the official pipeline's top-label rule, fixed mode) lives in
 * `lib/scoring/reward-model.ts`; this file only turns texts into logits.
 *
 * transformers.js 4.3.1 has sequence-classification classes only for encoder models (bert, deberta(-v2), roberta,
 * distilbert, electra, xlm-roberta, modernbert, …): the Llama/Qwen/Gemma RMs at the top of RewardBench
 * (Skywork-Reward-*, …) cannot be loaded, and loading one fails with a one-line error saying so.
 *
 * Inputs: the text is encoded with the tokenizer's special tokens (as the Python pipeline does) and, when longer
 * than `maxLength`, right-truncated keeping the special tokens (Hugging Face `truncation=True` on one sequence; note
 * that transformers.js' own `truncation: true` just cuts the id list, dropping the final [SEP]). `maxLength` defaults
 * to the official 1024 and is capped by the model's positions: `max_position_embeddings` (minus 2 for roberta-style
 * models, whose positions start at padding_idx + 1), no cap when `position_biased_input` is false (DeBERTa-v2/v3
 * relative positions, which take 1024 tokens as in the official run). Batches are right-padded with the tokenizer's
 * pad id and masked, which leaves every real position unchanged, so batched logits equal one-text-at-a-time logits
 * (the official pipeline scores one text at a time). Logits: `[B, numLabels]` per forward pass.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModelForSequenceClassification, AutoTokenizer, env, Tensor } from '@huggingface/transformers';
import { ModelLoadError } from './errors';
import { ensureOnnxFile, ONNX_DEVICES, ONNX_DTYPES, onnxHubFiles, type OnnxDevice, type OnnxDtype } from './onnx';
import { resolveModelDir } from './resolve';

/** The official `max_length` (`pipeline(..., truncation=True, max_length=1024)`). */
export const RM_DEFAULT_MAX_LENGTH = 1024;
export const RM_DEFAULT_BATCH_SIZE = 8;

export interface LoadSequenceClassifierOptions {
  /** Weight format (default fp32 → onnx/model.onnx). */
  dtype?: OnnxDtype;
  /** Execution provider (default `$IPO_DEVICE`, else cpu). */
  device?: OnnxDevice;
  /** Hub revision for hub ids. */
  revision?: string;
  /** Texts per forward pass (default 8). */
  batchSize?: number;
}

export interface RewardModelOutput {
  /** `[texts][numLabels]` raw logits (float32 values). */
  logits: number[][];
  /** Tokens fed per text (after truncation, special tokens included). */
  tokens: number[];
  /** Whether each text was truncated. */
  truncated: boolean[];
}

export interface ScoreTextsOptions {
  /** Default 1024 (official), capped by `rm.maxPositions`. */
  maxLength?: number;
  batchSize?: number;
}

/** What the classifier's config says about its labels (what `rmScore` needs besides the logits). */
export interface ClassifierLabelInfo {
  /** Label names by index (config.json `id2label`). */
  id2label?: Record<string | number, string>;
  /** config.json `problem_type` (`regression`, `single_label_classification`, `multi_label_classification`). */
  problemType?: string | null;
}

/** A sequence classifier on ONNX Runtime: text in, `[numLabels]` logits out. */
export interface SequenceClassifier {
  /** The resolved local folder. */
  readonly ref: string;
  /** What was asked for (folder, hub id). */
  readonly source: string;
  readonly engine: 'onnx-rm';
  readonly modelType: string;
  readonly numLabels: number;
  readonly id2label: Record<number, string>;
  readonly problemType: string | null;
  /** Longest input the model's positions allow (Infinity for relative-position models). */
  readonly maxPositions: number;
  readonly dtype: OnnxDtype;
  readonly device: OnnxDevice;
  /** `{id2label, problemType}` for `rmScore`. */
  readonly labelInfo: ClassifierLabelInfo;
  /** Encode as the pipeline does (special tokens; truncation keeping them). */
  encode(text: string, maxLength?: number): { ids: number[]; truncated: boolean };
  /** Logits of `texts`, `batchSize` texts per forward pass (right-padded and masked). */
  score(texts: string[], opts?: ScoreTextsOptions): Promise<RewardModelOutput>;
  dispose(): void;
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0].trim();

/** Model types transformers.js can load with AutoModelForSequenceClassification (its own mapping when reachable). */
export function supportedRewardModelTypes(): string[] {
  const maps = (AutoModelForSequenceClassification as unknown as { MODEL_CLASS_MAPPINGS?: Map<string, unknown>[] }).MODEL_CLASS_MAPPINGS;
  if (Array.isArray(maps)) return maps.flatMap((m) => [...m.keys()]);
  return ['bert', 'deberta', 'deberta-v2', 'roberta', 'distilbert', 'electra', 'xlm-roberta', 'albert', 'mpnet', 'modernbert'];
}

const ROBERTA_STYLE = new Set(['roberta', 'xlm-roberta', 'camembert', 'longformer']);

function positionLimit(cfg: Record<string, unknown>): number {
  if (cfg.position_biased_input === false) return Infinity;
  const mpe = cfg.max_position_embeddings;
  if (typeof mpe !== 'number' || !(mpe > 0)) return Infinity;
  return ROBERTA_STYLE.has(String(cfg.model_type)) ? mpe - 2 : mpe;
}

function readConfig(dir: string): Record<string, unknown> {
  const file = join(dir, 'config.json');
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelLoadError(file, existsSync(file) ? `not valid JSON (${firstLine(e)})` : 'not found');
  }
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) throw new ModelLoadError(file, 'not a JSON object');
  return cfg as Record<string, unknown>;
}

function checkClassifierConfig(dir: string, cfg: Record<string, unknown>): string {
  const file = join(dir, 'config.json');
  const modelType = cfg.model_type;
  if (typeof modelType !== 'string') throw new ModelLoadError(file, "field 'model_type' is missing: not a Hugging Face model config");
  const supports = (AutoModelForSequenceClassification as unknown as { supports?: (t: string) => boolean }).supports;
  const ok = typeof supports === 'function' ? supports.call(AutoModelForSequenceClassification, modelType) : supportedRewardModelTypes().includes(modelType);
  if (!ok) {
    throw new ModelLoadError(file,
      `model_type '${modelType}' has no sequence-classification model in transformers.js (AutoModelForSequenceClassification supports ${supportedRewardModelTypes().join(', ')}); ` +
      'decoder reward models (Llama, Qwen, Gemma, Mistral) cannot run on this engine');
  }
  const arch = cfg.architectures;
  if (Array.isArray(arch) && arch.length > 0 && !arch.some((a) => typeof a === 'string' && /(SequenceClassification|RewardModel)$/.test(a))) {
    throw new ModelLoadError(file, `architectures ${JSON.stringify(arch)} is not a sequence classifier (expected e.g. ${modelType === 'bert' ? 'BertForSequenceClassification' : '*ForSequenceClassification'})`);
  }
  return modelType;
}

function checkDtype(dtype: string): OnnxDtype {
  if (!(ONNX_DTYPES as string[]).includes(dtype)) throw new Error(`unknown ONNX dtype '${dtype}': use one of ${ONNX_DTYPES.join(', ')}`);
  return dtype as OnnxDtype;
}

function checkDevice(device: string): OnnxDevice {
  if (!(ONNX_DEVICES as readonly string[]).includes(device)) throw new Error(`unknown ONNX device '${device}': use one of ${ONNX_DEVICES.join(', ')}`);
  return device as OnnxDevice;
}

function positiveInt(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
  return v;
}

type TjsTokenizer = Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
type TjsModel = Awaited<ReturnType<typeof AutoModelForSequenceClassification.from_pretrained>>;

function i64(values: ArrayLike<number>, dims: number[]): Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new Tensor('int64', data, dims);
}

/**
 * Load a sequence classifier (a reward model): `ref` is a folder in transformers.js layout (config.json, tokenizer
 * files, onnx/model<suffix>.onnx) or a hub id (resolved and, when online, downloaded into the hub cache). Never lets
 * transformers.js touch the network (absolute folder + `local_files_only`). Errors are one line.
 */
export async function loadSequenceClassifier(ref: string, opts: LoadSequenceClassifierOptions = {}): Promise<SequenceClassifier> {
  const dtype = checkDtype(opts.dtype ?? 'fp32');
  const device = checkDevice(opts.device ?? process.env.IPO_DEVICE ?? 'cpu');
  const defaultBatch = positiveInt('batchSize', opts.batchSize ?? RM_DEFAULT_BATCH_SIZE);
  let dir = await resolveModelDir(ref, { hubFiles: onnxHubFiles(dtype), revision: opts.revision });
  // The config decides first: a decoder RM (Llama, Qwen) is refused before any weight download is attempted.
  let cfg = readConfig(dir);
  let modelType = checkClassifierConfig(dir, cfg);
  const ensured = await ensureOnnxFile(ref, dir, dtype, {
    revision: opts.revision,
    what: `dtype '${dtype}'`,
    noWeightsHint: 'the folder has no onnx/ weights: export the reward model to ONNX first, e.g. optimum-cli export onnx --task text-classification, and put the file under onnx/',
    downloadHint: 'if the repo ships no ONNX weights, export it (e.g. optimum-cli export onnx --task text-classification) and pass the folder',
  });
  if (ensured.dir !== dir) {
    dir = ensured.dir;
    cfg = readConfig(dir);
    modelType = checkClassifierConfig(dir, cfg);
  }
  const onnxPath = ensured.onnxPath;
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new ModelLoadError(join(dir, 'tokenizer.json'), 'not found (a reward-model folder needs tokenizer.json)');
  if (!env.allowLocalModels) env.allowLocalModels = true;
  let tokenizer: TjsTokenizer;
  try {
    tokenizer = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  } catch (e) {
    throw new ModelLoadError(join(dir, 'tokenizer.json'), `transformers.js cannot build the tokenizer (${firstLine(e)})`);
  }
  let model: TjsModel;
  try {
    model = await AutoModelForSequenceClassification.from_pretrained(dir, { dtype, device, local_files_only: true });
  } catch (e) {
    throw new ModelLoadError(onnxPath, `transformers.js cannot load it as a sequence classifier on device '${device}' (${firstLine(e)})`);
  }
  const session = (model.sessions as Record<string, { inputNames: string[]; outputNames: string[] }>).model;
  if (session && !session.outputNames.includes('logits')) {
    model.dispose().catch(() => undefined);
    throw new ModelLoadError(onnxPath, `the graph has no 'logits' output (outputs: ${session.outputNames.join(', ')})`);
  }

  const rawId2label = (cfg.id2label && typeof cfg.id2label === 'object') ? cfg.id2label as Record<string, unknown> : null;
  let numLabels = rawId2label ? Object.keys(rawId2label).length : typeof cfg.num_labels === 'number' ? cfg.num_labels : 2;
  const buildId2label = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [i, String(rawId2label?.[String(i)] ?? `LABEL_${i}`)]));
  let id2label: Record<number, string> = buildId2label(numLabels);
  const problemType = typeof cfg.problem_type === 'string' ? cfg.problem_type : null;
  const maxPositions = positionLimit(cfg);
  const padId = typeof tokenizer.pad_token_id === 'number' ? tokenizer.pad_token_id
    : typeof cfg.pad_token_id === 'number' ? cfg.pad_token_id : 0;
  const wantsTypes = session ? session.inputNames.includes('token_type_ids') : true;

  const encode = (text: string, maxLength = RM_DEFAULT_MAX_LENGTH): { ids: number[]; truncated: boolean } => {
    if (typeof text !== 'string') throw new Error(`reward model input must be a string, got ${typeof text}`);
    const limit = Math.min(positiveInt('maxLength', maxLength), maxPositions);
    const full = tokenizer.encode(text, { add_special_tokens: true });
    if (full.length <= limit) return { ids: full, truncated: false };
    // Hugging Face truncation=True on one sequence: cut the text's tokens from the right, keep the special tokens.
    const bare = tokenizer.encode(text, { add_special_tokens: false });
    const nSpecial = full.length - bare.length;
    for (let p = 0; p <= nSpecial && nSpecial >= 0; p++) {
      let same = true;
      for (let i = 0; i < bare.length && same; i++) same = full[p + i] === bare[i];
      if (same) {
        const keep = Math.max(0, limit - nSpecial);
        return { ids: [...full.slice(0, p), ...bare.slice(0, keep), ...full.slice(p + bare.length)].slice(0, limit), truncated: true };
      }
    }
    return { ids: full.slice(0, limit), truncated: true };
  };

  const clf: SequenceClassifier = {
    ref: dir,
    source: ref,
    engine: 'onnx-rm',
    modelType,
    get numLabels() { return numLabels; },
    get id2label() { return id2label; },
    problemType,
    maxPositions,
    dtype,
    device,
    get labelInfo(): ClassifierLabelInfo { return { id2label, problemType }; },
    encode,
    async score(texts: string[], o: ScoreTextsOptions = {}): Promise<RewardModelOutput> {
      if (!Array.isArray(texts)) throw new Error('score(texts): texts must be an array of strings');
      const batchSize = positiveInt('batchSize', o.batchSize ?? defaultBatch);
      const enc = texts.map((t) => encode(t, o.maxLength ?? RM_DEFAULT_MAX_LENGTH));
      const logits: number[][] = [];
      for (let start = 0; start < enc.length; start += batchSize) {
        const chunk = enc.slice(start, start + batchSize);
        const B = chunk.length;
        const Tn = Math.max(...chunk.map((e) => e.ids.length));
        const ids = new Array<number>(B * Tn).fill(padId);
        const mask = new Array<number>(B * Tn).fill(0);
        chunk.forEach((e, b) => e.ids.forEach((id, t) => { ids[b * Tn + t] = id; mask[b * Tn + t] = 1; }));
        const feeds: Record<string, Tensor> = { input_ids: i64(ids, [B, Tn]), attention_mask: i64(mask, [B, Tn]) };
        if (wantsTypes) feeds.token_type_ids = i64(new Array<number>(B * Tn).fill(0), [B, Tn]);
        let out: Record<string, Tensor>;
        try {
          out = (await model.forward(feeds)) as Record<string, Tensor>;
        } finally {
          for (const t of Object.values(feeds)) t.dispose();
        }
        const lt = out.logits;
        try {
          if (!lt) throw new ModelLoadError(onnxPath, `the model returned no logits (outputs: ${Object.keys(out).join(', ')})`);
          if (lt.dims.length !== 2 || lt.dims[0] !== B) {
            throw new ModelLoadError(onnxPath, `logits have shape [${lt.dims.join(', ')}], expected [${B}, num_labels]: not a sequence classifier`);
          }
          const n = lt.dims[1];
          if (n !== numLabels) {
            if (rawId2label && Object.keys(rawId2label).length > 0 && Object.keys(rawId2label).length !== n) {
              throw new ModelLoadError(join(dir, 'config.json'), `id2label has ${Object.keys(rawId2label).length} labels but the model outputs ${n} logits`);
            }
            numLabels = n;
            id2label = buildId2label(n);
          }
          const f32 = lt.type === 'float32' ? (lt.data as Float32Array) : Float32Array.from(lt.to('float32').data as Float32Array);
          for (let b = 0; b < B; b++) logits.push(Array.from(f32.subarray(b * n, (b + 1) * n)));
        } finally {
          for (const t of Object.values(out)) t.dispose();
        }
      }
      return { logits, tokens: enc.map((e) => e.ids.length), truncated: enc.map((e) => e.truncated) };
    },
    dispose() {
      model.dispose().catch(() => undefined);
    },
  };
  return clf;
}

