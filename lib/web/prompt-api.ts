/**
 * The teaching page's prompt API (`ipo web`, lib/web/server.ts): the exact token ids the kit's scorer feeds the model
 * for one response, so the browser can run the forward pass itself (transformers.js) and compute P(Yes) from them.
 *
 * The ids are not rebuilt here: `promptInfo` calls the scorer itself, `pYes` (lib/scoring/yes-no.ts), on a
 * `RecordingLM`, a `CausalLM` made of the model's tokenizer and config only whose forward methods record what they are
 * asked and return a uniform distribution. So the page reads exactly what a scoring run reads — template lookup,
 * prompt layout, special tokens, truncation, the exact preset's shared prefix — whatever yes-no.ts does now or later:
 *
 * - `'paper'`: pYes calls `nextTokenLogProbs(ids)` once; the browser sums the next-token probabilities of every id of
 *   `encode(" Yes")` (`yes.ids`, duplicates included) and of `encode(" No")` at the last position and normalises.
 * - `'exact'`: pYes calls `continuationLogProb(ids, yesSuffix)` then `continuationLogProb(ids, noSuffix)` (the
 *   recorder has no `forkedLogProbs`, so the plain path runs: same ids); the browser teacher-forces each suffix
 *   after `ids` and returns `exp(a − logsumexp(a, b))`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelLoadError } from '../models/errors';
import { loadTokenizer, type TextTokenizer } from '../models/tokenizer';
import type { CausalLM, ChatMessage, GenerateOptions } from '../models/types';
import { TokenStrings } from '../serve/logprobs';
import { IPO_LAYOUTS, type IpoLayout } from '../scoring/prompt';
import {
  DPO_CATEGORY_TEMPLATES, REWARDBENCH_FALLBACK_SUBSET, REWARDBENCH_SUBSET_TEMPLATES, RMBENCH_FALLBACK_DATASET, RMBENCH_TEMPLATES,
  resolveTemplate, type TemplateSet,
} from '../scoring/templates';
import { DEFAULT_MAX_LENGTH, NO_TEXT, pYes, YES_TEXT, yesNoIds, type IpoPreset, type IpoTruncation } from '../scoring/yes-no';
import { describe } from '../util/check';

/** A request the client got wrong: the server answers `status` with `{error: message}` (one line). */
export class WebRequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message.split('\n')[0]);
    this.name = 'WebRequestError';
  }
}

const bad = (message: string) => new WebRequestError(400, message);

// ---------------------------------------------------------------------------------------------------------------
// the tokenizer side of a model

/** What the prompt API needs of a model: its tokenizer and the config fields the scorer reads. */
export interface PromptModel {
  /** Name the page uses for it (also its folder under /models/). */
  name: string;
  /** Folder with config.json + tokenizer.json. */
  dir: string;
  tokenizer: TextTokenizer;
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  maxLength: number;
  /** The token strings of the page (lazily filled, `TokenStrings` of lib/serve as `ipo serve` renders them). */
  strings: TokenStrings;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ModelLoadError(file, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

/** Tokenizer + config of the model folder `dir` (no weights are read). */
export function loadPromptModel(name: string, dir: string): PromptModel {
  const cfgFile = join(dir, 'config.json');
  if (!existsSync(cfgFile)) throw new ModelLoadError(cfgFile, 'not found (a model folder needs config.json)');
  const raw = readJson(cfgFile);
  const text = (raw.text_config ?? {}) as Record<string, unknown>;
  const gen = existsSync(join(dir, 'generation_config.json')) ? readJson(join(dir, 'generation_config.json')) : {};
  const get = (...keys: string[]): unknown => {
    for (const k of keys) if (raw[k] !== undefined && raw[k] !== null) return raw[k];
    for (const k of keys) if (text[k] !== undefined && text[k] !== null) return text[k];
    return undefined;
  };
  const vocab = get('vocab_size');
  if (typeof vocab !== 'number' || !Number.isInteger(vocab) || vocab < 1) throw new ModelLoadError(cfgFile, "field 'vocab_size' is missing or not a positive integer");
  const bos = get('bos_token_id') ?? gen.bos_token_id;
  const eos = get('eos_token_id') ?? gen.eos_token_id;
  const maxLen = get('max_position_embeddings', 'n_positions', 'n_ctx', 'max_sequence_length');
  const tokenizer = loadTokenizer(dir);
  const m = {
    name, dir, tokenizer, vocabSize: vocab,
    bosTokenId: typeof bos === 'number' ? bos : null,
    eosTokenIds: typeof eos === 'number' ? [eos] : Array.isArray(eos) ? (eos as number[]) : [],
    maxLength: typeof maxLen === 'number' ? maxLen : 2048, // the onnx engine's default (lib/models/onnx.ts)
  } as PromptModel;
  m.strings = new TokenStrings(new RecordingLM(m));
  return m;
}

/** One forward call the scorer asked for. */
export type RecordedCall =
  | { kind: 'next'; ids: number[] }
  | { kind: 'continuation'; prefix: number[]; continuation: number[] };

/**
 * A `CausalLM` that runs no network: `encode`/`decode` are the model's tokenizer, and the forward methods record
 * their arguments and return a uniform distribution (so the scorer's arithmetic runs on finite numbers). One per
 * request: `calls` is that request's record.
 */
export class RecordingLM implements CausalLM {
  readonly engine = 'onnx' as const;
  readonly calls: RecordedCall[] = [];
  constructor(private readonly m: PromptModel) {}
  get ref(): string { return this.m.dir; }
  get vocabSize(): number { return this.m.vocabSize; }
  get bosTokenId(): number | null { return this.m.bosTokenId; }
  get eosTokenId(): number | null { return this.m.eosTokenIds[0] ?? null; }
  get eosTokenIds(): number[] { return this.m.eosTokenIds; }
  get maxLength(): number { return this.m.maxLength; }
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[] { return this.m.tokenizer.encode(text, opts); }
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string { return this.m.tokenizer.decode(ids, opts); }
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string { return this.m.tokenizer.applyChatTemplate(messages, opts); }
  private uniform(): Float32Array { return new Float32Array(this.m.vocabSize).fill(-Math.log(this.m.vocabSize)); }
  async nextTokenLogProbs(ids: number[]): Promise<Float32Array> {
    this.calls.push({ kind: 'next', ids: [...ids] });
    return this.uniform();
  }
  async nextTokenLogProbsBatch(batch: number[][]): Promise<Float32Array[]> {
    return Promise.all(batch.map((ids) => this.nextTokenLogProbs(ids)));
  }
  async continuationLogProb(prefix: number[], continuation: number[]): Promise<{ total: number; perToken: number[] }> {
    this.calls.push({ kind: 'continuation', prefix: [...prefix], continuation: [...continuation] });
    const perToken = continuation.map(() => -Math.log(this.m.vocabSize));
    return { total: perToken.reduce((a, b) => a + b, 0), perToken };
  }
  async generate(_ids: number[], _opts: GenerateOptions): Promise<number[]> {
    throw new Error('the prompt API does not run the model (the browser does)');
  }
  dispose(): void { /* nothing held */ }
}

// ---------------------------------------------------------------------------------------------------------------
// templates

export const TEMPLATE_SETS: readonly TemplateSet[] = ['rewardbench', 'rmbench', 'dpo'];
export const PRESETS: readonly IpoPreset[] = ['paper', 'exact'];
export const TRUNCATIONS: readonly IpoTruncation[] = ['right', 'left', 'keep-marker'];

/** The layout each official template table is used with (RM-Bench puts its template after the response). */
export const LAYOUT_OF: Readonly<Record<TemplateSet, IpoLayout>> = { rewardbench: 'rewardbench', rmbench: 'rmbench', dpo: 'rewardbench' };

export interface TemplateListing {
  templateSets: { name: TemplateSet; layout: IpoLayout; source: string; fallback: string; categories: { name: string; template: string }[] }[];
  presets: { name: IpoPreset; description: string }[];
  truncations: IpoTruncation[];
  layouts: IpoLayout[];
  defaults: { templateSet: TemplateSet; category: string; preset: IpoPreset; truncation: IpoTruncation; maxLength: number };
  yesText: string;
  noText: string;
}

/** Everything the page's selects offer: the three official template tables, the presets, the truncation modes. */
export function templateListing(): TemplateListing {
  const rows = (t: Record<string, string>) => Object.entries(t).map(([name, template]) => ({ name, template }));
  return {
    templateSets: [
      { name: 'rewardbench', layout: LAYOUT_OF.rewardbench, source: 'Preference_Comparison/Reward_Bench/ours.py', fallback: REWARDBENCH_FALLBACK_SUBSET, categories: rows(REWARDBENCH_SUBSET_TEMPLATES) },
      { name: 'rmbench', layout: LAYOUT_OF.rmbench, source: 'Preference_Comparison/RM_Bench/ours.py', fallback: RMBENCH_FALLBACK_DATASET, categories: rows(RMBENCH_TEMPLATES) },
      { name: 'dpo', layout: LAYOUT_OF.dpo, source: 'DPO/ours.py', fallback: '(any other: the General/code template)', categories: rows(DPO_CATEGORY_TEMPLATES) },
    ],
    presets: [
      { name: 'paper', description: 'the official ours.py: sum the next-token probabilities of every id of encode(" Yes") and of encode(" No"), normalise' },
      { name: 'exact', description: 'the probability of the whole " Yes" / " No" continuation (teacher forcing after their shared prefix), normalised' },
    ],
    truncations: [...TRUNCATIONS],
    layouts: [...IPO_LAYOUTS],
    defaults: { templateSet: 'rewardbench', category: REWARDBENCH_FALLBACK_SUBSET, preset: 'paper', truncation: 'right', maxLength: DEFAULT_MAX_LENGTH },
    yesText: YES_TEXT,
    noText: NO_TEXT,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// POST /api/prompt

export interface PromptRequest {
  instruction: string;
  response: string;
  category?: string;
  templateSet?: TemplateSet;
  preset?: IpoPreset;
  truncation?: IpoTruncation;
  maxLength?: number;
  model?: string;
}

/** An answer's token ids and their strings. */
export interface AnswerTokens {
  text: string;
  ids: number[];
  tokens: string[];
}

export interface PromptInfo {
  model: string;
  preset: IpoPreset;
  templateSet: TemplateSet;
  layout: IpoLayout;
  /** As requested (undefined → the table's fallback). */
  category: string | null;
  /** True when the table had no such category and its fallback template was used. */
  fallback: boolean;
  truncation: IpoTruncation;
  maxLength: number;
  template: string;
  /** The full, untruncated prompt string. */
  prompt: string;
  /** The ids the model is conditioned on (after truncation): the encoded prompt ('paper') or the shared prefix c ('exact'). */
  ids: number[];
  /** Each id as text (`ipo serve`'s rendering: " Yes" for ▁Yes, special tokens by name). */
  tokens: string[];
  /**
   * How the answer is read: 'next-token' = sum P(id) over `yes.ids` / `no.ids` at the position after `ids` (paper);
   * 'continuation' = teacher-forced log P(yes.ids | ids) and log P(no.ids | ids) (exact).
   */
  read: 'next-token' | 'continuation';
  yes: AnswerTokens;
  no: AnswerTokens;
  truncated: boolean;
  markerCut: boolean;
  /** The model's own context length (the scorer caps maxLength at it). */
  modelMaxLength: number;
  vocabSize: number;
}

function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw bad(`${field} must be one of ${allowed.join(', ')}, got ${typeof v === 'string' ? JSON.stringify(v) : describe(v)}`);
  }
  return v as T;
}

/** Check a POST /api/prompt body; throws a 400 `WebRequestError` naming the first bad field. */
export function parsePromptRequest(body: unknown): Required<Omit<PromptRequest, 'category' | 'model'>> & Pick<PromptRequest, 'category' | 'model'> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad(`the request body must be a JSON object, got ${body === undefined ? 'nothing' : describe(body)}`);
  const b = body as Record<string, unknown>;
  if (typeof b.instruction !== 'string' || b.instruction.length === 0) {
    throw bad(`instruction must be a non-empty string, got ${b.instruction === undefined ? 'nothing' : typeof b.instruction === 'string' ? 'an empty string' : describe(b.instruction)}`);
  }
  if (typeof b.response !== 'string') throw bad(`response must be a string (it may be empty), got ${b.response === undefined ? 'nothing' : describe(b.response)}`);
  if (b.category !== undefined && b.category !== null && typeof b.category !== 'string') throw bad(`category must be a string, got ${describe(b.category)}`);
  if (b.model !== undefined && b.model !== null && (typeof b.model !== 'string' || b.model === '')) throw bad(`model must be a non-empty string, got ${describe(b.model)}`);
  let maxLength = DEFAULT_MAX_LENGTH;
  if (b.maxLength !== undefined && b.maxLength !== null) {
    if (typeof b.maxLength !== 'number' || !Number.isInteger(b.maxLength) || b.maxLength < 1) throw bad(`maxLength must be a positive integer, got ${JSON.stringify(b.maxLength)}`);
    maxLength = b.maxLength;
  }
  return {
    instruction: b.instruction,
    response: b.response,
    category: (b.category as string | null | undefined) ?? undefined,
    templateSet: oneOf('templateSet', b.templateSet, TEMPLATE_SETS, 'rewardbench'),
    preset: oneOf('preset', b.preset, PRESETS, 'paper'),
    truncation: oneOf('truncation', b.truncation, TRUNCATIONS, 'right'),
    maxLength,
    model: (b.model as string | null | undefined) ?? undefined,
  };
}

function sameIds(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * What the scorer feeds `model` for this request: runs `pYes` on a `RecordingLM` and returns the recorded ids with
 * their token strings, the template, the prompt and the truncation flags. Bad fields are a 400 `WebRequestError`.
 */
export async function promptInfo(model: PromptModel, body: unknown): Promise<PromptInfo> {
  const r = parsePromptRequest(body);
  const lm = new RecordingLM(model);
  const layout = LAYOUT_OF[r.templateSet];
  let score;
  try {
    score = await pYes(lm, { instruction: r.instruction, response: r.response, category: r.category }, {
      preset: r.preset, layout, templateSet: r.templateSet, truncation: r.truncation, maxLength: r.maxLength, prefixReuse: false,
    });
  } catch (e) {
    throw bad((e as Error).message); // the scorer's own one-line input errors (e.g. no room for the prompt)
  }
  const piece = (ids: number[]) => ids.map((id) => model.strings.piece(id));
  let ids: number[];
  let yes: number[];
  let no: number[];
  const calls = lm.calls;
  if (r.preset === 'paper') {
    if (calls.length !== 1 || calls[0].kind !== 'next') throw new Error(`the paper preset made ${calls.length} unexpected forward calls (expected one nextTokenLogProbs)`);
    ids = calls[0].ids;
    ({ yes, no } = yesNoIds(lm));
  } else {
    const [a, b] = calls;
    if (calls.length !== 2 || a.kind !== 'continuation' || b.kind !== 'continuation' || !sameIds(a.prefix, b.prefix)) {
      throw new Error(`the exact preset made unexpected forward calls (expected two continuationLogProb calls on one prefix)`);
    }
    ids = a.prefix;
    yes = a.continuation;
    no = b.continuation;
  }
  return {
    model: model.name,
    preset: r.preset,
    templateSet: r.templateSet,
    layout,
    category: r.category ?? null,
    fallback: resolveTemplate(r.category, r.templateSet).fallback,
    truncation: r.truncation,
    maxLength: r.maxLength,
    template: score.template,
    prompt: score.prompt,
    ids,
    tokens: piece(ids),
    read: r.preset === 'paper' ? 'next-token' : 'continuation',
    yes: { text: YES_TEXT, ids: yes, tokens: piece(yes) },
    no: { text: NO_TEXT, ids: no, tokens: piece(no) },
    truncated: score.truncated,
    markerCut: score.markerCut,
    modelMaxLength: model.maxLength,
    vocabSize: model.vocabSize,
  };
}

/** Every id's text (GET /api/vocab), for the page's top-token table; ids the tokenizer cannot decode read `<id N>`. */
export function vocabStrings(model: PromptModel): string[] {
  const out: string[] = new Array(model.vocabSize);
  for (let id = 0; id < model.vocabSize; id++) {
    try {
      out[id] = model.strings.piece(id);
    } catch {
      out[id] = `<id ${id}>`;
    }
  }
  return out;
}
