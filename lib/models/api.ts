/**
 * The `api` engine: a `CausalLM` whose network runs behind an OpenAI-compatible `/v1/completions` endpoint — vLLM,
 * llama.cpp server, TGI, or the kit's own `ipo serve` — while tokenization stays local (the model's `tokenizer.json`,
 * loaded like the other engines'), so every scorer, judge and benchmark of the kit runs unchanged against a 7B model
 * served on GPUs. This is the path of the official local scripts (`ours.py`: the raw IPO prompt, no chat template);
 * the chat-only APIs of the official `*_gpt.py` scripts (OpenAI, OpenRouter: `top_logprobs` on chat completions, no
 * prompt ids) need their own judge path, which this engine is not.
 *
 * How each `CausalLM` call maps to one request (prompts are sent as TOKEN IDS, so the server sees exactly the ids
 * the local engines would feed — same BOS, same truncation, no re-tokenization at the prompt/answer boundary):
 * - `nextTokenLogProbs(ids)` → `{prompt: ids, max_tokens: 1, logprobs: K, return_tokens_as_token_ids: true}`; the
 *   top-K of the first generated position fill a `[vocab]` array (keys `token_id:N`; a server that keys by token
 *   text has it mapped back by the local tokenizer, texts that are not one token counted in `stats()`). Ids outside the top-K are NaN, not −∞: a score
 *   that needs one becomes NaN (visible, counted by the scorers) instead of a silent P = 0; misses of the " Yes" /
 *   " No" ids are also counted in `stats()`.
 * - `continuationLogProb(prefix, cont)` → `{prompt: prefix ++ cont, max_tokens: 1, echo: true, logprobs: 0}`: the
 *   prompt log-probs of the last `cont.length` positions (the `exact` preset). A server without prompt log-probs
 *   (llama.cpp has no echo) gives a one-line error.
 * - `generate(ids, opts)` → `{prompt: ids, max_tokens, temperature, top_p, seed, stop_token_ids, logprobs: 0,
 *   return_tokens_as_token_ids: true}`; the generated ids come back as tokens (`token_id:N`, vLLM's format).
 *
 * Every response is cached by content hash in the client (`lib/api/client.ts`), so a killed run resumes without
 * paying twice; the API key never reaches a cache, a result or a log line.
 */
import { ApiClient, type ApiClientOptions } from '../api/client';
import { discoverServedModel } from '../api/discover';
import { contentHash } from '../util/cache';
import { readLlamaConfig } from './config';
import { resolveModelDir } from './resolve';
import { loadTokenizer, type TextTokenizer } from './tokenizer';
import type { CausalLM, ChatMessage, GenerateOptions } from './types';

export interface ApiEngineOptions extends Omit<ApiClientOptions, 'baseUrls'> {
  /** OpenAI base URLs, `/v1` included (several = replicas of one model; requests are spread over them). */
  baseUrls: string[];
  /** The served model name (`model` in requests); default: the first id of `GET /v1/models`. */
  apiModel?: string;
  /** Top log-probs asked per position (`logprobs`): vLLM's default cap is 20 (`--max-logprobs`). Default 20. */
  topLogprobs?: number;
}

/** What the engine saw, beyond the client's request counts. */
export interface ApiEngineStats {
  /** `nextTokenLogProbs` calls. */
  nextTokenCalls: number;
  /** Of those, calls whose top-K missed an id of " Yes" or " No" (the IPO score then is NaN, never 0). */
  yesNoMissing: number;
  /** Requests that failed for good (after the client's retries): each raised a one-line error to its caller. */
  failed: number;
  /** Top-log-prob entries keyed by a text the local tokenizer does not encode as one token (servers without ids). */
  unmappedTokens: number;
}

interface CompletionChoice {
  text?: string;
  finish_reason?: string | null;
  logprobs?: { tokens?: string[]; token_logprobs?: (number | null)[]; top_logprobs?: (Record<string, number> | null)[] } | null;
}
interface CompletionResponse {
  choices?: CompletionChoice[];
}

const TOKEN_ID = /^token_id:(\d+)$/;

/** `token_id:123` → 123 (vLLM's `return_tokens_as_token_ids` format); null for a plain token string. */
export function parseTokenId(token: string): number | null {
  const m = TOKEN_ID.exec(token);
  return m ? Number(m[1]) : null;
}

export class ApiCausalLM implements CausalLM {
  readonly engine = 'api' as const;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly maxLength: number;
  private readonly counts: ApiEngineStats = { nextTokenCalls: 0, yesNoMissing: 0, failed: 0, unmappedTokens: 0 };
  private readonly yesNo: number[];
  /** What `modelFingerprint` hashes for this engine: served name, the server's model card, the tokenizer. */
  fingerprintKey = '';

  constructor(
    /** `api:<served model>`: no URL, no key (it names the model in reports and cache keys). */
    readonly ref: string,
    readonly servedModel: string,
    readonly client: ApiClient,
    private readonly tokenizer: TextTokenizer,
    config: { vocabSize: number; bosTokenId: number | null; eosTokenIds: number[]; maxLength: number },
    private readonly topK: number,
  ) {
    this.vocabSize = config.vocabSize;
    this.bosTokenId = config.bosTokenId;
    this.eosTokenIds = config.eosTokenIds;
    this.eosTokenId = config.eosTokenIds[0] ?? null;
    this.maxLength = config.maxLength;
    this.yesNo = [...new Set([...tokenizer.encode(' Yes', { addSpecialTokens: false }), ...tokenizer.encode(' No', { addSpecialTokens: false })])];
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

  /** Engine counters (the client's request / retry / token / cost counts are `client.usage()`). */
  stats(): ApiEngineStats {
    return { ...this.counts };
  }

  private async complete(body: Record<string, unknown>, what: string): Promise<CompletionChoice> {
    const r = await this.client.post<CompletionResponse>('/completions', { model: this.servedModel, ...body });
    if (r.ok === false) { // (=== false, not !r.ok: tslab's non-strict TypeScript narrows only on the literal)
      this.counts.failed++;
      throw new Error(`api engine: ${what} failed after ${r.attempts} attempt(s)${r.status ? ` (HTTP ${r.status})` : ''}: ${r.error}`);
    }
    const choice = r.json?.choices?.[0];
    if (!choice) throw new Error(`api engine: ${what}: the response has no choices[0]`);
    return choice;
  }

  private checkIds(fn: string, ids: number[]): void {
    if (!Array.isArray(ids) || ids.length === 0) throw new Error(`${fn}: ids must be a non-empty array of token ids`);
  }

  async nextTokenLogProbs(ids: number[]): Promise<Float32Array> {
    this.checkIds('nextTokenLogProbs', ids);
    const c = await this.complete({ prompt: ids, max_tokens: 1, temperature: 0, logprobs: this.topK, return_tokens_as_token_ids: true }, 'next-token log-probs');
    const top = c.logprobs?.top_logprobs?.[0];
    if (!top) throw new Error(`api engine: the server returned no top_logprobs for the first position (does it support "logprobs" on /v1/completions?)`);
    const out = new Float32Array(this.vocabSize).fill(Number.NaN);
    for (const [tok, lp] of Object.entries(top)) {
      // vLLM / ipo serve honour return_tokens_as_token_ids; other servers key by token text, which the local
      // tokenizer maps back when it is one token (a text it splits is counted and left out)
      let id = parseTokenId(tok);
      if (id === null) {
        const enc = this.tokenizer.encode(tok, { addSpecialTokens: false });
        if (enc.length !== 1) {
          this.counts.unmappedTokens++;
          continue;
        }
        id = enc[0];
      }
      if (id >= 0 && id < this.vocabSize && !(out[id] > lp)) out[id] = lp;
    }
    this.counts.nextTokenCalls++;
    if (this.yesNo.some((id) => Number.isNaN(out[id]))) this.counts.yesNoMissing++;
    return out;
  }

  async nextTokenLogProbsBatch(batch: number[][]): Promise<Float32Array[]> {
    return Promise.all(batch.map((ids) => this.nextTokenLogProbs(ids)));
  }

  async continuationLogProb(prefix: number[], continuation: number[]): Promise<{ total: number; perToken: number[] }> {
    this.checkIds('continuationLogProb', prefix);
    if (continuation.length === 0) return { total: 0, perToken: [] };
    const ids = [...prefix, ...continuation];
    const c = await this.complete({ prompt: ids, max_tokens: 1, temperature: 0, echo: true, logprobs: 0, return_tokens_as_token_ids: true }, 'prompt log-probs (echo)');
    const lps = c.logprobs?.token_logprobs;
    const toks = c.logprobs?.tokens;
    if (!lps || !toks || lps.length < ids.length) {
      throw new Error('api engine: the server returned no prompt log-probs for echo (llama.cpp server has none; vLLM and ipo serve do): the exact preset needs them');
    }
    const perToken: number[] = [];
    for (let i = prefix.length; i < ids.length; i++) {
      const id = parseTokenId(toks[i]);
      if (id !== null && id !== ids[i]) throw new Error(`api engine: echoed token ${i} is ${id}, not the ${ids[i]} sent`);
      const lp = lps[i];
      if (typeof lp !== 'number') throw new Error(`api engine: echoed token ${i} has no log-prob`);
      perToken.push(lp);
    }
    return { total: perToken.reduce((a, b) => a + b, 0), perToken };
  }

  async generate(ids: number[], opts: GenerateOptions): Promise<number[]> {
    this.checkIds('generate', ids);
    const stop = opts.stopTokenIds ?? this.eosTokenIds;
    const c = await this.complete({
      prompt: ids, max_tokens: opts.maxNewTokens, temperature: opts.temperature ?? 0, top_p: opts.topP ?? 1,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}), stop_token_ids: stop, logprobs: 0, return_tokens_as_token_ids: true,
    }, 'generation');
    const toks = c.logprobs?.tokens;
    const out = toks ? toks.map((t) => parseTokenId(t)) : null;
    const gen = out && out.every((x): x is number => x !== null) ? out : this.tokenizer.encode(c.text ?? '', { addSpecialTokens: false });
    // CausalLM.generate keeps the stop id; OpenAI servers drop it from the output
    if (c.finish_reason === 'stop' && stop.length && !stop.includes(gen[gen.length - 1])) gen.push(stop[0]);
    return gen;
  }

  dispose(): void {
    void this.client.close();
  }
}

/**
 * The api engine for `ref`: tokenizer and config from the model folder / shared asset / hub id `ref` (as the tf
 * engine resolves it; only config and tokenizer files are needed), requests to `opts.baseUrls`.
 */
export async function loadApiModel(ref: string, opts: ApiEngineOptions): Promise<ApiCausalLM> {
  if (!opts || !Array.isArray(opts.baseUrls) || opts.baseUrls.length === 0) throw new Error('api engine: give at least one --base-url (e.g. http://127.0.0.1:8000/v1)');
  const topK = opts.topLogprobs ?? 20;
  if (!Number.isInteger(topK) || topK < 1) throw new Error(`api engine: topLogprobs must be a positive integer, got ${String(topK)}`);
  const dir = await resolveModelDir(ref, { hubFiles: async () => ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'] });
  const cfg = readLlamaConfig(dir);
  const tokenizer = loadTokenizer(dir);
  const { baseUrls, apiModel, topLogprobs: _k, ...clientOpts } = opts;
  // the served name, and what the server says about it (vLLM: root = the weights' path, max_model_len), which keys
  // the response cache together with the tokenizer
  const { name: served, card } = await discoverServedModel({ ...clientOpts, baseUrls }, apiModel, 'api engine');
  const tokenizerCheck = tokenizer.encode(' Yes No 123 x', { addSpecialTokens: true });
  const namespace = contentHash('api-engine', served, card, tokenizerCheck).slice(0, 16);
  const client = new ApiClient({ ...clientOpts, baseUrls, cacheNamespace: namespace });
  const eos = cfg.eosTokenId === null ? [] : Array.isArray(cfg.eosTokenId) ? cfg.eosTokenId : [cfg.eosTokenId];
  const model = new ApiCausalLM(`api:${served}`, served, client, tokenizer, { vocabSize: cfg.vocabSize, bosTokenId: cfg.bosTokenId, eosTokenIds: eos, maxLength: cfg.maxPositionEmbeddings }, topK);
  model.fingerprintKey = namespace;
  return model;
}
