/**
 * What the three chat-API judges of the official code share (`Preference_Comparison/{Reward_Bench,RM_Bench}/
 * {ours,binary,self_reward}_gpt.py`; doc §2.4, §3.1, §3.2): one user message to `/chat/completions` of an
 * OpenAI-compatible server (OpenRouter and OpenAI in the paper; vLLM or `ipo serve` here), one `try:` around the
 * call AND the read of the answer, and a fallback value when anything in it raises.
 *
 * What "raises" means in the official code, and how it is told apart here (the summaries count each):
 * - `failed`: the request itself failed for good (the `openai` client raises on HTTP/network errors after its
 *   retries; here `ApiClient` retries and returns `ok: false`);
 * - `malformed`: a 2xx answer without the field the script reads (`choices[0].message.content` not a string, so
 *   `re.search` raises a TypeError; `choices[0].logprobs.content[0].top_logprobs` missing: AttributeError /
 *   IndexError / TypeError).
 * Both take the script's fallback in faithful mode; fixed mode gives NaN (or the caller's `unparsedScore`) and
 * counts them, never a silent 0 or tie.
 *
 * The pairs are scored concurrently: every request goes to the client at once and the client's FIFO semaphore
 * (`--concurrency`) keeps the number in flight; results come back in input order.
 */
import type { ApiClient } from './client';
import { checkInstruction, checkObject, checkString } from '../util/check';
import { progress } from '../util/progress';

/** Which official script family: `Reward_Bench/*_gpt.py` or `RM_Bench/*_gpt.py`. */
export type ChatVariant = 'rewardbench' | 'rmbench';
export const CHAT_VARIANTS: readonly ChatVariant[] = ['rewardbench', 'rmbench'];
export type ChatMode = 'faithful' | 'fixed';

/**
 * The models the official scripts call: `openai/chatgpt-4o-latest` (OpenRouter id; the default `--model` of the
 * Reward_Bench scripts) and `gpt-4o-mini` (hard-coded in the RM_Bench scripts). Documentation only: the kit never
 * defaults to a paid model, the served name comes from `--api-model` or the server's `/models`.
 */
export const OFFICIAL_CHAT_MODELS: Readonly<Record<ChatVariant, string>> = { rewardbench: 'openai/chatgpt-4o-latest', rmbench: 'gpt-4o-mini' };
/** `setup_gpt_client(..., base_url="https://openrouter.ai/api/v1")` in every `*_gpt.py`. */
export const OPENROUTER_BASE_URL = 'https://openrouter.ai/api/v1';

export interface ChatScorerOptions {
  /** The HTTP client (retries, cache, concurrency, usage): `new ApiClient({baseUrls: [...]})` or `connectChat`. */
  client: ApiClient;
  /** The served model name sent as `model` (e.g. `gpt-4o-mini`, `openai/chatgpt-4o-latest`, `tiny-chat`). */
  model: string;
  /** Default script family when a call does not say [`rewardbench`]. */
  variant?: ChatVariant;
  /** Overrides the sampling temperature of both modes (faithful: the script's; fixed: 0). */
  temperature?: number;
}

/** A pair as `METHODS` hands it over: `category` is the RewardBench subset / RM-Bench domain (picks the IPO template). */
export interface ChatPair {
  instruction: string;
  chosen: string;
  rejected: string;
  category?: string;
}

/** Per call: the mode, and what the benchmark runner says about the layout (RM-Bench passes layout/parser 'rmbench'). */
export interface ChatCallOptions {
  mode: ChatMode;
  label?: string;
  /** Wins over `layout` / `parser` and the scorer's default. */
  variant?: ChatVariant;
  /** ipo: `rmbench` selects the RM_Bench/ours_gpt.py prompt. */
  layout?: 'rewardbench' | 'rmbench';
  /** self-reward: `rmbench` selects the RM_Bench/self_reward_gpt.py prompt and regexes. */
  parser?: 'rewardbench' | 'rmbench';
  /** self-reward fixed mode: the score of an unparsed or failed side [NaN]; RM-Bench passes -Infinity. */
  unparsedScore?: number;
}

/** One pair's result: the `PairScorer` contract plus whether every request of the pair came from the cache. */
export interface ChatPairResult {
  correct: boolean;
  tie: boolean;
  chosen: number;
  rejected: number;
  cached: boolean;
}

/** Request-level counts every chat summary carries. */
export interface ChatRequestCounts {
  /** Chat calls made (cache hits included). */
  calls: number;
  /** Of those, answered from the response cache. */
  cached: number;
  /** Failed for good after the client's retries (`ok: false`). */
  failed: number;
  /** 2xx answers without the field the official script reads. */
  malformed: number;
  /** The first failure or malformed answer, one line (for the end-of-run line). */
  firstError: string | null;
}

export const emptyCounts = (): ChatRequestCounts => ({ calls: 0, cached: 0, failed: 0, malformed: 0, firstError: null });

/** One call's outcome as the official `try:` block sees it. */
export type ChatReply<T> =
  | { kind: 'ok'; value: T; cached: boolean }
  | { kind: 'failed'; error: string; cached: false }
  | { kind: 'malformed'; error: string; cached: boolean };

/** The single user message every `*_gpt.py` sends: `messages=[{"role": "user", "content": prompt}]`. */
export function userMessages(content: string): { role: 'user'; content: string }[] {
  return [{ role: 'user', content }];
}

/**
 * POST `/chat/completions` and read the answer with `read.fn` (null = the official read would raise; `read.field`
 * names what was missing). Counts go to `counts`. Never throws for HTTP or answer trouble.
 */
export async function chatCall<T>(
  client: ApiClient,
  body: Record<string, unknown>,
  read: { fn: (json: unknown) => T | null; field: string },
  counts: ChatRequestCounts,
  what: string,
): Promise<ChatReply<T>> {
  counts.calls++;
  const r = await client.post('/chat/completions', body);
  if (r.ok === false) { // (=== false: tslab's non-strict TypeScript narrows only on the literal)
    counts.failed++;
    counts.firstError ??= `${what}: ${r.error}`.split('\n')[0];
    return { kind: 'failed', error: r.error, cached: false };
  }
  if (r.cached) counts.cached++;
  const value = read.fn(r.json);
  if (value === null) {
    counts.malformed++;
    counts.firstError ??= `${what}: the answer has no ${read.field}`;
    return { kind: 'malformed', error: 'malformed answer', cached: r.cached };
  }
  return { kind: 'ok', value, cached: r.cached };
}

function choice0(json: unknown): Record<string, unknown> | null {
  const choices = (json as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices) || choices.length === 0) return null;
  const c = choices[0];
  return c && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>) : null;
}

/** `completion.choices[0].message.content` when it is a string (what `re.search` accepts), else null. */
export function readMessageContent(json: unknown): string | null {
  const m = choice0(json)?.message as { content?: unknown } | undefined;
  return m && typeof m.content === 'string' ? m.content : null;
}
export const MESSAGE_CONTENT = { fn: readMessageContent, field: 'choices[0].message.content string' };

export interface TopLogprob {
  token: string;
  logprob: number;
}

/**
 * `completion.choices[0].logprobs.content[0].top_logprobs` as `[{token, logprob}]` in the server's order, or null
 * when any step of that read would raise in Python (or an entry lacks a string token / numeric logprob).
 */
export function readTopLogprobs(json: unknown): TopLogprob[] | null {
  const lp = choice0(json)?.logprobs as { content?: unknown } | null | undefined;
  if (!lp || typeof lp !== 'object' || !Array.isArray(lp.content) || lp.content.length === 0) return null;
  const first = lp.content[0] as { top_logprobs?: unknown } | null;
  if (!first || !Array.isArray(first.top_logprobs)) return null;
  const out: TopLogprob[] = [];
  for (const e of first.top_logprobs as { token?: unknown; logprob?: unknown }[]) {
    if (!e || typeof e.token !== 'string' || typeof e.logprob !== 'number') return null;
    out.push({ token: e.token, logprob: e.logprob });
  }
  return out;
}
export const TOP_LOGPROBS = { fn: readTopLogprobs, field: 'choices[0].logprobs.content[0].top_logprobs' };

/** The pair list checked (one-line errors), `category` kept when it is a string. */
export function checkChatPairs(fn: string, pairs: unknown): ChatPair[] {
  if (!Array.isArray(pairs)) throw new Error(`${fn}: pairs must be an array of {instruction, chosen, rejected}`);
  return pairs.map((p, i) => {
    const o = checkObject(fn, `pairs[${i}]`, p);
    return {
      instruction: checkInstruction(fn, `pairs[${i}].instruction`, o.instruction),
      chosen: checkString(fn, `pairs[${i}].chosen`, o.chosen),
      rejected: checkString(fn, `pairs[${i}].rejected`, o.rejected),
      ...(typeof o.category === 'string' ? { category: o.category } : {}),
    };
  });
}

/** The call options checked; `variant` resolved from the explicit option, else layout/parser 'rmbench', else `dflt`. */
export function resolveCall(fn: string, opts: unknown, dflt: ChatVariant): { mode: ChatMode; variant: ChatVariant; label: string | undefined; unparsedScore: number } {
  const o = checkObject(fn, 'options', opts ?? {}) as Partial<ChatCallOptions>;
  const mode = o.mode ?? 'faithful';
  if (mode !== 'faithful' && mode !== 'fixed') throw new Error(`${fn}: mode must be 'faithful' or 'fixed', got ${JSON.stringify(mode)}`);
  if (o.variant !== undefined && !CHAT_VARIANTS.includes(o.variant)) throw new Error(`${fn}: variant must be 'rewardbench' or 'rmbench', got ${JSON.stringify(o.variant)}`);
  const variant = o.variant ?? (o.layout === 'rmbench' || o.parser === 'rmbench' ? 'rmbench' : dflt);
  if (o.unparsedScore !== undefined && typeof o.unparsedScore !== 'number') throw new Error(`${fn}: unparsedScore must be a number`);
  return { mode, variant, label: o.label, unparsedScore: o.unparsedScore ?? NaN };
}

export function checkScorerOptions(fn: string, opts: ChatScorerOptions): { client: ApiClient; model: string; variant: ChatVariant; temperature: number | undefined } {
  const o = checkObject(fn, 'options', opts) as unknown as ChatScorerOptions;
  if (!o.client || typeof (o.client as { post?: unknown }).post !== 'function') throw new Error(`${fn}: client must be an ApiClient`);
  if (typeof o.model !== 'string' || !o.model) throw new Error(`${fn}: model must be the served model name (e.g. gpt-4o-mini)`);
  if (o.variant !== undefined && !CHAT_VARIANTS.includes(o.variant)) throw new Error(`${fn}: variant must be 'rewardbench' or 'rmbench', got ${JSON.stringify(o.variant)}`);
  if (o.temperature !== undefined && !(typeof o.temperature === 'number' && o.temperature >= 0 && o.temperature <= 2)) throw new Error(`${fn}: temperature must be a number in [0, 2]`);
  return { client: o.client, model: o.model, variant: o.variant ?? 'rewardbench', temperature: o.temperature };
}

/** Score every pair concurrently (the client bounds the requests in flight), with a progress bar; input order kept. */
export async function mapPairs<T>(pairs: ChatPair[], label: string, f: (p: ChatPair, i: number) => Promise<T>): Promise<T[]> {
  const bar = progress({ total: pairs.length, label });
  try {
    return await Promise.all(pairs.map(async (p, i) => {
      const r = await f(p, i);
      bar.tick();
      return r;
    }));
  } finally {
    bar.done();
  }
}

/**
 * What the three chat scorers share (the `PairScorer` shape `METHODS` recognises by `kind` and `method`): the client,
 * the served model, the variant, the temperature override, and a summary that `summary()` copies and
 * `resetSummary()` clears. Subclasses set `stats = this.fresh()` after their own fields exist.
 */
export abstract class ChatScorerBase<S extends object> {
  readonly kind = 'chat' as const;
  abstract readonly method: 'ipo' | 'binary' | 'self-reward';
  readonly ref: string;
  readonly client: ApiClient;
  readonly model: string;
  readonly variant: ChatVariant;
  protected readonly temperature: number | undefined;
  protected stats!: S;

  constructor(fn: string, opts: ChatScorerOptions, private readonly officialTemperature: number) {
    const o = checkScorerOptions(fn, opts);
    this.client = o.client;
    this.model = o.model;
    this.variant = o.variant;
    this.temperature = o.temperature;
    this.ref = `chat:${o.model}`;
  }

  protected abstract fresh(): S;

  /** The script's temperature in faithful mode, 0 in fixed mode, unless the options gave one. */
  protected temperatureFor(mode: ChatMode): number {
    return this.temperature ?? (mode === 'faithful' ? this.officialTemperature : 0);
  }

  /** A copy of the counts so far (nested count objects, e.g. verdicts, copied too). */
  summary(): S {
    return Object.fromEntries(Object.entries(this.stats).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v && typeof v === 'object' ? { ...v } : v])) as S;
  }

  resetSummary(): void {
    this.stats = this.fresh();
  }
}
