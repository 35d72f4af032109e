/**
 * The chat-API path of the official `*_gpt.py` scripts (OpenAI, OpenRouter: chat completions only, no token-id
 * prompts, no prompt log-probs): IPO from the first answer token's `top_logprobs` (`./gpt-ipo`), the pairwise
 * binary judge (`./gpt-binary`) and the 5-point rubric judge (`./gpt-self-reward`), each a `PairScorer` tagged
 * `kind: 'chat'` and `method`, so `METHODS[method].scorePairs` (lib/scoring/methods.ts) runs it in place of a local
 * model and both benchmark runners take it unchanged. Every scorer keeps a summary (calls, cache hits, failed
 * requests, malformed answers, unparsed answers, Yes/No outside the top-k) for the end-of-run line.
 *
 * ```ts
 * const { client, model } = await connectChat({ baseUrls: ['https://openrouter.ai/api/v1'], apiModel: 'openai/chatgpt-4o-latest' });
 * const scorer = createChatScorer('ipo', { client, model });
 * const run = await runRewardBench(scorer, { method: 'ipo', source: 'raw', mode: 'faithful' });
 * console.error(formatChatSummary(scorer.summary()));
 * await client.close();
 * ```
 */
import { discoverServedModel } from './discover';
import { contentHash } from '../util/cache';
import { ApiClient, type ApiClientOptions } from './client';
import { ChatBinaryScorer, type GptBinarySummary } from './gpt-binary';
import { ChatIpoScorer, type ChatIpoOptions, type GptIpoSummary } from './gpt-ipo';
import { ChatSelfRewardScorer, type GptSelfRewardSummary } from './gpt-self-reward';
import type { ChatScorerOptions } from './gpt-chat';

export * from './gpt-chat';
export * from './gpt-ipo';
export * from './gpt-binary';
export * from './gpt-self-reward';

export type ChatMethod = 'ipo' | 'self-reward' | 'binary';
export const CHAT_METHODS: readonly ChatMethod[] = ['ipo', 'self-reward', 'binary'];
export type ChatScorer = ChatIpoScorer | ChatBinaryScorer | ChatSelfRewardScorer;
export type ChatSummary = GptIpoSummary | GptBinarySummary | GptSelfRewardSummary;

/** The chat scorer of `method` (`topLogprobs` is read by ipo only). */
export function createChatScorer(method: ChatMethod, opts: ChatScorerOptions & Pick<ChatIpoOptions, 'topLogprobs'>): ChatScorer {
  switch (method) {
    case 'ipo': return new ChatIpoScorer(opts);
    case 'binary': return new ChatBinaryScorer(opts);
    case 'self-reward': return new ChatSelfRewardScorer(opts);
    default: throw new Error(`createChatScorer: method must be ${CHAT_METHODS.join(', ')} (the *_gpt.py scripts), got ${JSON.stringify(method)}`);
  }
}

/** True for a scorer made here (`kind: 'chat'`). */
export function isChatScorer(x: unknown): x is ChatScorer {
  return x instanceof ChatIpoScorer || x instanceof ChatBinaryScorer || x instanceof ChatSelfRewardScorer;
}

export interface ConnectChatOptions extends ApiClientOptions {
  /** The served model name; default the only id of `GET /models` (a server listing several needs it). */
  apiModel?: string;
}

/**
 * A client for chat judging and the served model name. Discovery (`GET /models`, never cached) names the model
 * when `apiModel` is not given, and what the server says about it keys the response cache, so another model served
 * under the same name does not meet this one's cached answers. A hosted API lists many models: then `apiModel` is
 * required (picking the first would judge with an arbitrary model).
 */
export async function connectChat(opts: ConnectChatOptions): Promise<{ client: ApiClient; model: string }> {
  if (!opts || typeof opts !== 'object') throw new Error('connectChat: options are required ({baseUrls: [...]})');
  const { apiModel, ...clientOpts } = opts;
  const { name: served, card } = await discoverServedModel(clientOpts, apiModel, 'chat api');
  const client = new ApiClient({ ...clientOpts, cacheNamespace: contentHash('chat-judge', served, card).slice(0, 16) });
  return { client, model: served };
}

const pct = (x: number, n: number) => (n ? `${((100 * x) / n).toFixed(1)}%` : '—');

/** One line for the end of a run. */
export function formatChatSummary(s: ChatSummary): string {
  const head = `chat ${s.method}: ${s.calls} calls (${s.cached} cached), ${s.failed} failed, ${s.malformed} malformed`;
  const err = s.firstError ? `; first: ${s.firstError}` : '';
  switch (s.method) {
    case 'ipo':
      return `${head}; ${s.outsideTopK}/${s.responses} responses with Yes/No outside the top-${s.topLogprobs} (${s.yesMissing} no Yes, ${s.noMissing} no No, ${s.bothMissing} neither)` +
        `${s.nanScores ? `, ${s.nanScores} NaN scores` : ''}; ${s.ties} tied pairs${err}`;
    case 'binary':
      return `${head}; verdicts Response 1 ${s.verdicts.response1}, Response 2 ${s.verdicts.response2}, unparsed ${s.verdicts.unparsed} (Response 1 rate ${pct(s.verdicts.response1, s.verdicts.response1 + s.verdicts.response2)})` +
        `; ${s.failedPairs} pairs with a failed call${s.excluded ? ` (${s.excluded} the official RM-Bench script would leave out)` : ''}; ${s.consistentPairs} consistent, ${s.samePositionPairs} same-position pairs${err}`;
    case 'self-reward':
      return `${head}; ${s.unparsed}/${s.responses} answers unparsed${s.strictMisses ? ` (${s.strictMisses} read by the kit's parser, e.g. "Score:4")` : ''}; ${s.ties} tied pairs; scores ${JSON.stringify(s.scoreCounts)}${err}`;
  }
}
