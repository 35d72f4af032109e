/**
 * N sampled responses per prompt: step 1 of the paper's self-improvement round (`DPO/ours.py --just_sample`,
 * ../shared/docs/ipo-method-and-official-code.md §5.2). The official code makes 4 separate `generate` calls per
 * instruction with `do_sample=True, temperature=0.7, max_new_tokens=256` (top-p from the model's
 * generation_config), feeds the **raw instruction** (BOS added, no chat template) and keeps
 * `decode(prompt + out, skip_special_tokens=True)[len(instruction):].strip()`.
 *
 * Faithful and fixed knobs (quirk 15):
 * - `promptFormat`: `raw` (faithful: the instruction as text, special tokens added by the tokenizer) or `chat` (the
 *   model's chat template with a generation prompt; the conversation when the prompt file gave one).
 * - `extraction`: `faithful` (the decode-and-slice above) or `fixed` (decode only the continuation ids); see
 *   `./extract`. Every response records `promptEchoed` (did the decoded sequence start with the prompt text?), and
 *   the result counts the misses, i.e. how often the faithful slice may cut in the wrong place.
 * - `stopStrings`: cut the text at the first stop string (`DPO/self_reward.py` cuts at `"<|eot_id|>"`).
 *
 * Seeds: `torch.manual_seed(42)` once at import makes the official samples depend on everything generated before.
 * Here each (prompt text, sample index) gets its own seed, `deriveSeed(seed, prompt, k)`, so a sample does not
 * depend on batch order, on the other prompts, or on whether the run was resumed.
 *
 * Generations are cached by content hash (`runCachedLoop`, cache file `samples/<model fingerprint>`) one response
 * at a time, keyed on the model fingerprint, the generation options, the prompt ids and the derived seed. Text
 * extraction is not part of the key: it is recomputed from the cached ids, so switching `extraction` or
 * `stopStrings` reuses every generation. A killed run resumes where it stopped and gives identical samples.
 *
 * Prompts longer than `model.maxLength − maxNewTokens` tokens are left-truncated (the BOS kept; `ours.py` sets
 * `truncation_side="left"`) or skipped (`tooLong`), and counted. Empty or invalid prompts are skipped and counted.
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM, ChatMessage } from '../models/types';
import { contentHash } from '../util/cache';
import { runCachedLoop } from '../util/cached-loop';
import { displayPath } from '../util/jsonl';
import type { PromptItem } from '../data/prompts';
import { cutAtStopStrings, extractResponse, type Extraction } from './extract';

export type { Extraction } from './extract';
export type PromptFormat = 'raw' | 'chat';
export type TooLongPolicy = 'truncate-left' | 'skip';
/** `eos`: a stop id was produced (kept in `tokens`); `length`: maxNewTokens reached; `max-length`: the model's context ran out. */
export type FinishReason = 'eos' | 'length' | 'max-length';

export interface SampleOptions {
  /** Preset for `promptFormat` + `extraction`: `faithful` = raw + faithful (default), `fixed` = chat + fixed. */
  mode?: 'faithful' | 'fixed';
  /** Responses per prompt (default 4, as the paper). */
  n?: number;
  /** Default 0.7 (`ours.py`); 0 = greedy, then all n responses are the same. */
  temperature?: number;
  /** Nucleus mass in (0, 1]; default 1 (off). */
  topP?: number;
  /** Default 256 (`ours.py`). Must be below the model's maximum length. */
  maxNewTokens?: number;
  /** Base seed of the per-sample seeds (default 42, the official `torch.manual_seed(42)`). */
  seed?: number;
  promptFormat?: PromptFormat;
  extraction?: Extraction;
  /** Cut each text at the first of these (default none). */
  stopStrings?: string[];
  /** Ids that end generation (default the model's EOS ids). */
  stopTokenIds?: number[];
  /** What to do with prompts too long for `maxNewTokens` more tokens (default `truncate-left`). */
  tooLong?: TooLongPolicy;
  /** false bypasses the cache. */
  cache?: boolean;
  /** Progress bar label (default `sampling`). */
  label?: string;
}

/** Every knob that decided a record, defaults applied. */
export interface ResolvedSampleOptions {
  n: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  promptFormat: PromptFormat;
  extraction: Extraction;
  stopStrings: string[];
  stopTokenIds: number[];
  tooLong: TooLongPolicy;
}

export interface SampleResponse {
  /** Sample index k in [0, n). */
  index: number;
  text: string;
  /** The generated continuation ids, stop id included. */
  tokens: number[];
  finishReason: FinishReason;
  /** The seed this response was sampled with (`deriveSeed(options.seed, prompt, index)`). */
  seed: number;
  /** The stop string the text was cut at, if any. */
  stoppedAt?: string;
  /** Whether decode(prompt ids + tokens) starts with `prompt`; false = the faithful slice may cut wrong. */
  promptEchoed: boolean;
}

export interface SampleRecord {
  id: string;
  instruction: string;
  category?: string;
  /** The text fed to the model: the instruction (raw) or the rendered chat template (chat). */
  prompt: string;
  /** Prompt length in tokens as fed (after truncation). */
  promptTokens: number;
  /** Tokens removed from the left, when the prompt was truncated. */
  truncatedTokens?: number;
  responses: SampleResponse[];
  options: ResolvedSampleOptions;
  /** The model as printed (`displayPath` of its ref) and its content fingerprint. */
  model: { ref: string; fingerprint: string };
}

export interface SampleResult {
  /** One record per prompt that was not skipped, in prompt order. */
  records: SampleRecord[];
  /** Responses taken from the cache / generated now. */
  cached: number;
  computed: number;
  /** Prompts left-truncated to fit. */
  truncated: number;
  skipped: { tooLong: number; empty: number; invalid: number; examples: { id: string; reason: string }[] };
  /** Responses / prompts whose decoded sequence did not start with the prompt text. */
  prefixMismatch: { responses: number; prompts: number };
  /** Raw-format prompts whose conversation had more than the one user turn that was fed. */
  contextDropped: number;
  finish: Record<FinishReason, number>;
  cacheFile: string;
}

/** Bump when the meaning of a cached generation changes. */
const CACHE_VERSION = 'sample/v1';
const MAX_EXAMPLES = 10;

/**
 * The seed of sample `index` of `prompt`: the first 31 bits of sha256(version, seed, prompt, index). Independent of
 * order and of the other prompts, so a resumed or reordered run samples the same tokens.
 */
export function deriveSeed(seed: number, prompt: string, index: number): number {
  return parseInt(contentHash('ipo-sample-seed/v1', seed, prompt, index).slice(0, 8), 16) >>> 1;
}

/** Defaults applied and every knob checked; one-line errors name the bad option. */
export function resolveSampleOptions(model: CausalLM, opts: SampleOptions = {}): ResolvedSampleOptions {
  const fail = (msg: string): never => {
    throw new Error(`sampleResponses: ${msg}`);
  };
  const mode = opts.mode ?? 'faithful';
  if (mode !== 'faithful' && mode !== 'fixed') fail(`mode must be 'faithful' or 'fixed', got ${JSON.stringify(mode)}`);
  const r: ResolvedSampleOptions = {
    n: opts.n ?? 4,
    temperature: opts.temperature ?? 0.7,
    topP: opts.topP ?? 1,
    maxNewTokens: opts.maxNewTokens ?? 256,
    seed: opts.seed ?? 42,
    promptFormat: opts.promptFormat ?? (mode === 'fixed' ? 'chat' : 'raw'),
    extraction: opts.extraction ?? mode,
    stopStrings: opts.stopStrings ?? [],
    stopTokenIds: opts.stopTokenIds ?? model.eosTokenIds,
    tooLong: opts.tooLong ?? 'truncate-left',
  };
  if (!Number.isInteger(r.n) || r.n < 1) fail(`n must be a whole number >= 1, got ${r.n}`);
  if (!(typeof r.temperature === 'number' && r.temperature >= 0 && Number.isFinite(r.temperature))) fail(`temperature must be >= 0, got ${r.temperature}`);
  if (!(typeof r.topP === 'number' && r.topP > 0 && r.topP <= 1)) fail(`top-p must be in (0, 1], got ${r.topP}`);
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) fail(`max new tokens must be a whole number >= 1, got ${r.maxNewTokens}`);
  if (r.maxNewTokens >= model.maxLength) fail(`max new tokens ${r.maxNewTokens} leaves no room for a prompt (the model's maximum length is ${model.maxLength})`);
  if (!Number.isSafeInteger(r.seed)) fail(`seed must be a whole number, got ${r.seed}`);
  if (r.promptFormat !== 'raw' && r.promptFormat !== 'chat') fail(`promptFormat must be 'raw' or 'chat', got ${JSON.stringify(r.promptFormat)}`);
  if (r.extraction !== 'faithful' && r.extraction !== 'fixed') fail(`extraction must be 'faithful' or 'fixed', got ${JSON.stringify(r.extraction)}`);
  if (r.tooLong !== 'truncate-left' && r.tooLong !== 'skip') fail(`tooLong must be 'truncate-left' or 'skip', got ${JSON.stringify(r.tooLong)}`);
  if (!Array.isArray(r.stopStrings) || r.stopStrings.some((s) => typeof s !== 'string' || s === '')) fail('stopStrings must be a list of non-empty strings');
  if (!Array.isArray(r.stopTokenIds) || r.stopTokenIds.some((id) => !Number.isInteger(id) || id < 0 || id >= model.vocabSize)) {
    fail(`stopTokenIds must be token ids in [0, ${model.vocabSize})`);
  }
  return { ...r, stopStrings: [...r.stopStrings], stopTokenIds: [...r.stopTokenIds] };
}

/** One prompt ready to sample: its text, ids as fed, and how many ids truncation removed. */
interface PreparedPrompt {
  item: PromptItem;
  text: string;
  ids: number[];
  truncatedTokens: number;
}

/** One generation to run (or to find in the cache). */
interface Job {
  prompt: number;
  index: number;
  ids: number[];
  seed: number;
}

/** What is cached per generation: the continuation ids only (texts are recomputed from them). */
interface CachedGeneration {
  tokens: number[];
}

/** Prompt text and ids for `item` under `format` (chat: `applyChatTemplate(…, {addGenerationPrompt: true})`). */
function formatPrompt(model: CausalLM, item: PromptItem, format: PromptFormat): { text: string; ids: number[] } {
  if (format === 'raw') return { text: item.instruction, ids: model.encode(item.instruction) };
  const messages: ChatMessage[] = item.messages ?? [{ role: 'user', content: item.instruction }];
  const text = model.applyChatTemplate(messages, { addGenerationPrompt: true });
  // The rendered template already holds its special tokens as text (HF tokenizes it with add_special_tokens=False).
  return { text, ids: model.encode(text, { addSpecialTokens: false }) };
}

/** Sample `opts.n` responses for every prompt. See the file comment for the knobs and their defaults. */
export async function sampleResponses(model: CausalLM, prompts: readonly PromptItem[], opts: SampleOptions = {}): Promise<SampleResult> {
  const o = resolveSampleOptions(model, opts);
  const fingerprint = modelFingerprint(model);
  const budget = model.maxLength - o.maxNewTokens;
  const skipped: SampleResult['skipped'] = { tooLong: 0, empty: 0, invalid: 0, examples: [] };
  const skip = (kind: 'tooLong' | 'empty' | 'invalid', id: string, reason: string) => {
    skipped[kind]++;
    if (skipped.examples.length < MAX_EXAMPLES) skipped.examples.push({ id, reason });
  };

  const prepared: PreparedPrompt[] = [];
  const seenIds = new Set<string>();
  let truncated = 0;
  let contextDropped = 0;
  prompts.forEach((item, i) => {
    const id = item && typeof item.id === 'string' && item.id !== '' ? item.id : `#${i}`;
    if (!item || typeof item.instruction !== 'string') return skip('invalid', id, 'instruction is not a string');
    if (seenIds.has(id)) return skip('invalid', id, `duplicate id '${id}'`);
    seenIds.add(id);
    if (item.instruction.trim() === '') return skip('empty', id, 'empty instruction');
    if (o.promptFormat === 'raw' && item.messages && item.messages.length > 1) contextDropped++;
    const { text, ids } = formatPrompt(model, item, o.promptFormat);
    if (ids.length === 0) return skip('empty', id, 'the prompt encodes to no tokens');
    let fed = ids;
    if (ids.length > budget) {
      if (o.tooLong === 'skip') return skip('tooLong', id, `${ids.length} prompt tokens + ${o.maxNewTokens} new tokens exceed the model's maximum length ${model.maxLength}`);
      const keepBos = model.bosTokenId !== null && ids[0] === model.bosTokenId && budget > 1;
      fed = keepBos ? [ids[0], ...ids.slice(ids.length - (budget - 1))] : ids.slice(ids.length - budget);
      truncated++;
    }
    prepared.push({ item: { ...item, id }, text, ids: fed, truncatedTokens: ids.length - fed.length });
  });

  const jobs: Job[] = [];
  prepared.forEach((p, pi) => {
    for (let k = 0; k < o.n; k++) jobs.push({ prompt: pi, index: k, ids: p.ids, seed: deriveSeed(o.seed, p.text, k) });
  });
  const gen = { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, stopTokenIds: o.stopTokenIds };
  const loop = await runCachedLoop<Job, CachedGeneration>(jobs, {
    cacheName: `samples/${fingerprint}`,
    cache: opts.cache,
    label: opts.label ?? 'sampling',
    keyParts: (j) => [CACHE_VERSION, fingerprint, gen, j.ids, j.seed],
    compute: async (j) => ({ tokens: await model.generate(j.ids, { ...gen, seed: j.seed }) }),
    progressInfo: (rs, cached) => {
      const mean = rs.length ? rs.reduce((a, r) => a + r.tokens.length, 0) / rs.length : 0;
      return `mean ${mean.toFixed(1)} tokens${cached ? `, ${cached} cached` : ''}`;
    },
  });

  const stopSet = new Set(o.stopTokenIds);
  const finish: Record<FinishReason, number> = { eos: 0, length: 0, 'max-length': 0 };
  const prefixMismatch = { responses: 0, prompts: 0 };
  const modelInfo = { ref: displayPath(model.ref), fingerprint };
  const records: SampleRecord[] = prepared.map((p) => ({
    id: p.item.id,
    instruction: p.item.instruction,
    ...(p.item.category !== undefined ? { category: p.item.category } : {}),
    prompt: p.text,
    promptTokens: p.ids.length,
    ...(p.truncatedTokens ? { truncatedTokens: p.truncatedTokens } : {}),
    responses: [],
    options: o,
    model: modelInfo,
  }));
  jobs.forEach((j, ji) => {
    const tokens = loop.results[ji].tokens;
    const p = prepared[j.prompt];
    const finishReason: FinishReason =
      tokens.length > 0 && stopSet.has(tokens[tokens.length - 1]) ? 'eos' : tokens.length >= o.maxNewTokens ? 'length' : 'max-length';
    finish[finishReason]++;
    const { text, promptEchoed } = extractResponse(model, p.ids, p.text, tokens, o.extraction);
    const cut = cutAtStopStrings(text, o.stopStrings);
    if (!promptEchoed) prefixMismatch.responses++;
    records[j.prompt].responses.push({
      index: j.index,
      text: cut.text,
      tokens: [...tokens],
      finishReason,
      seed: j.seed,
      ...(cut.stoppedAt !== undefined ? { stoppedAt: cut.stoppedAt } : {}),
      promptEchoed,
    });
  });
  prefixMismatch.prompts = records.filter((r) => r.responses.some((x) => !x.promptEchoed)).length;
  return {
    records,
    cached: loop.cached,
    computed: jobs.length - loop.cached,
    truncated,
    skipped,
    prefixMismatch,
    contextDropped,
    finish,
    cacheFile: loop.cacheFile,
  };
}

/**
 * One paragraph for the CLI and notebooks: "3 prompts × 4 = 12 responses (8 cached, 4 generated); finish: eos 5,
 * length 7; decoded prefix ≠ prompt in 2 of 12 responses (faithful extraction may cut wrong)…".
 */
export function formatSampleSummary(r: SampleResult): string {
  const n = r.records[0]?.options.n ?? 0;
  const total = r.records.reduce((a, x) => a + x.responses.length, 0);
  const parts = [`${r.records.length} prompts × ${n} = ${total} responses (${r.cached} cached, ${r.computed} generated)`];
  parts.push(`finish: eos ${r.finish.eos}, length ${r.finish.length}, max-length ${r.finish['max-length']}`);
  const extraction = r.records[0]?.options.extraction;
  if (r.prefixMismatch.responses) {
    parts.push(
      `decoded prefix ≠ prompt text in ${r.prefixMismatch.responses} of ${total} responses (${r.prefixMismatch.prompts} prompts)${extraction === 'faithful' ? ': the faithful slice may cut in the wrong place' : ''}`,
    );
  }
  if (r.truncated) parts.push(`${r.truncated} prompts left-truncated`);
  const sk = r.skipped.tooLong + r.skipped.empty + r.skipped.invalid;
  if (sk) {
    const ex = r.skipped.examples.slice(0, 3).map((e) => `${e.id}: ${e.reason}`).join('; ');
    parts.push(`${sk} prompts skipped (${r.skipped.tooLong} too long, ${r.skipped.empty} empty, ${r.skipped.invalid} invalid; ${ex})`);
  }
  if (r.contextDropped) parts.push(`${r.contextDropped} conversations fed as their last user turn only (raw format)`);
  return parts.join('; ');
}
