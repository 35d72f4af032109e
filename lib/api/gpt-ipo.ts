/**
 * IPO through a chat API: `Preference_Comparison/Reward_Bench/ours_gpt.py` (and `RM_Bench/ours_gpt.py`), doc §2.4.
 * The chat-only APIs (OpenAI, OpenRouter) take no token-id prompt and give no prompt log-probs, so the score is read
 * from the top log-probs of the FIRST GENERATED token of an ordinary chat answer:
 *
 *   prompt  = f"{template}\nUser: {instruction}\nResponse: {response}"          (Reward_Bench; template by subset)
 *           = "Given the following:\n    User : {instruction}\n    Response : {response}\n    {template}"  (RM_Bench)
 *   request = {messages: [{role: user, content: prompt}], max_tokens: 2, logprobs: true, top_logprobs: 10, temperature: 0.7}
 *   yes     = logprob of the FIRST entry of content[0].top_logprobs with token.strip().lower() == 'yes', else -inf
 *   no      = likewise for 'no'
 *   r       = e^yes / (e^yes + e^no), or 0 when that sum is 0 (both absent, or both underflow); returns (r, 1 - r)
 *   error   → (0, 0)                      (any exception in the call or the read)
 *   correct = r(chosen) > r(rejected)     (strict: ties, e.g. 0 vs 0 after two errors, are wrong)
 *
 * Faithful mode is exactly that. Fixed mode: temperature 0 (the reported log-probs are the unscaled distribution on
 * vLLM and `ipo serve`, lib/serve/logprobs.ts, so only the sampled answer depends on it), r = 1 / (1 + e^(no - yes))
 * (the same ratio without underflow), and NaN —
 * never a silent 0 or tie — when Yes or No is outside the top-k, or the request failed or its answer is malformed.
 * Both modes count in the summary how often Yes / No were outside the top-k ("first entry" also means a second
 * spelling, e.g. " yes" after "Yes", is ignored, as in the script).
 *
 * Python `str.strip()` is `pyStrip` (CPython's whitespace set); `.lower()` is `toLowerCase` (both the Unicode
 * default lowercase mapping). `np.exp` is `Math.exp`.
 */
import { rmBenchTemplateFor, templateFor } from '../scoring/templates';
import { buildIpoPrompt } from '../scoring/prompt';
import { outcome } from '../eval/outcome';
import { pyStrip } from '../util/python-str';
import {
  chatCall, checkChatPairs, checkScorerOptions, emptyCounts, mapPairs, resolveCall, TOP_LOGPROBS, userMessages,
  type ChatCallOptions, type ChatMode, type ChatPair, type ChatPairResult, type ChatRequestCounts, type ChatScorerOptions,
  type ChatVariant, type TopLogprob, ChatScorerBase } from './gpt-chat';
import type { ApiClient } from './client';

/** The request knobs of both `ours_gpt.py` scripts. */
export const GPT_IPO_REQUEST = Object.freeze({ max_tokens: 2, logprobs: true, top_logprobs: 10, temperature: 0.7 });

/** The prompt of `ours_gpt.py` for one response: RewardBench subset (fallback alpacaeval-easy) or RM-Bench dataset. */
export function gptIpoPrompt(instruction: string, response: string, category: string | undefined, variant: ChatVariant = 'rewardbench'): string {
  if (variant === 'rmbench') return buildIpoPrompt({ instruction, response, template: rmBenchTemplateFor(category), layout: 'rmbench' });
  return `${templateFor(category)}\nUser: ${instruction}\nResponse: ${response}`;
}

export interface GptYesNo {
  /** Log-prob of the first entry reading "yes" (stripped, lower-cased); -Infinity when none. */
  yes: number;
  no: number;
  yesFound: boolean;
  noFound: boolean;
}

/** `next((lp.logprob for lp in top_logprobs if lp.token.strip().lower() == 'yes'), float('-inf'))`, and for 'no'. */
export function gptYesNo(top: readonly TopLogprob[]): GptYesNo {
  const find = (w: string) => top.find((e) => pyStrip(e.token).toLowerCase() === w);
  const y = find('yes');
  const n = find('no');
  return { yes: y ? y.logprob : -Infinity, no: n ? n.logprob : -Infinity, yesFound: !!y, noFound: !!n };
}

/** The official ratio: `yes_prob / (yes_prob + no_prob) if total_prob > 0 else 0` with `np.exp`. */
export function gptIpoRatioFaithful(yes: number, no: number): number {
  const y = Math.exp(yes);
  const n = Math.exp(no);
  const t = y + n;
  return t > 0 ? y / t : 0;
}

/** Fixed: the same ratio as a logistic of the log-prob gap (no underflow); NaN unless both were found. */
export function gptIpoRatioFixed(yn: GptYesNo): number {
  if (!yn.yesFound || !yn.noFound) return NaN;
  return 1 / (1 + Math.exp(yn.no - yn.yes));
}

export interface GptIpoResponseScore {
  /** faithful: r (0 on error); fixed: r or NaN. */
  score: number;
  status: 'ok' | 'failed' | 'malformed';
  yesNo: GptYesNo | null;
  cached: boolean;
}

export interface GptIpoSummary extends ChatRequestCounts {
  method: 'ipo';
  pairs: number;
  /** Responses scored (2 per pair). */
  responses: number;
  /** Responses whose top-k had no "yes" entry / no "no" entry / neither. */
  yesMissing: number;
  noMissing: number;
  bothMissing: number;
  /** Responses with Yes or No outside the top-k (faithful: scored by the fallback; fixed: NaN). */
  outsideTopK: number;
  /** Fixed mode: NaN scores (outside the top-k, failed, malformed). */
  nanScores: number;
  /** Pairs with equal scores (faithful: e.g. 0 vs 0 after two errors), counted wrong. */
  ties: number;
  topLogprobs: number;
}

export interface ChatIpoOptions extends ChatScorerOptions {
  /** `top_logprobs` [10, the scripts'; OpenAI allows up to 20]. */
  topLogprobs?: number;
}

/**
 * The `ours_gpt.py` classifier as a `PairScorer` (`method: 'ipo'`, `kind: 'chat'`): `METHODS.ipo` hands it the
 * pairs when it is given instead of a causal LM.
 */
export class ChatIpoScorer extends ChatScorerBase<GptIpoSummary> {
  readonly method = 'ipo' as const;
  readonly topLogprobs: number;

  constructor(opts: ChatIpoOptions) {
    super('ChatIpoScorer', opts, GPT_IPO_REQUEST.temperature);
    const k = opts.topLogprobs ?? GPT_IPO_REQUEST.top_logprobs;
    if (!Number.isInteger(k) || k < 1) throw new Error(`ChatIpoScorer: topLogprobs must be a positive integer, got ${String(k)}`);
    this.topLogprobs = k;
    this.stats = this.fresh();
  }

  protected fresh(): GptIpoSummary {
    return { method: 'ipo', ...emptyCounts(), pairs: 0, responses: 0, yesMissing: 0, noMissing: 0, bothMissing: 0, outsideTopK: 0, nanScores: 0, ties: 0, topLogprobs: this.topLogprobs };
  }

  /** The request knobs this scorer sends in `mode`. */
  settings(mode: ChatMode = 'faithful'): Record<string, unknown> {
    return { apiStyle: 'chat', model: this.model, variant: this.variant, mode, max_tokens: GPT_IPO_REQUEST.max_tokens, top_logprobs: this.topLogprobs, temperature: this.temperatureFor(mode) };
  }

  /** The request body for one prompt. */
  body(prompt: string, mode: ChatMode): Record<string, unknown> {
    return { model: this.model, messages: userMessages(prompt), max_tokens: GPT_IPO_REQUEST.max_tokens, logprobs: true, top_logprobs: this.topLogprobs, temperature: this.temperatureFor(mode) };
  }

  /** `generate_yes_no_probability` for one response: r (the yes ratio) and what was found. */
  async scoreResponse(instruction: string, response: string, category: string | undefined, mode: ChatMode, variant: ChatVariant = this.variant): Promise<GptIpoResponseScore> {
    const s = this.stats;
    s.responses++;
    const reply = await chatCall(this.client, this.body(gptIpoPrompt(instruction, response, category, variant), mode), TOP_LOGPROBS, s, 'ipo chat call');
    if (reply.kind !== 'ok') {
      if (mode === 'fixed') s.nanScores++;
      return { score: mode === 'faithful' ? 0 : NaN, status: reply.kind, yesNo: null, cached: reply.cached };
    }
    const yn = gptYesNo(reply.value);
    if (!yn.yesFound) s.yesMissing++;
    if (!yn.noFound) s.noMissing++;
    if (!yn.yesFound && !yn.noFound) s.bothMissing++;
    if (!yn.yesFound || !yn.noFound) s.outsideTopK++;
    const score = mode === 'faithful' ? gptIpoRatioFaithful(yn.yes, yn.no) : gptIpoRatioFixed(yn);
    if (Number.isNaN(score)) s.nanScores++;
    return { score, status: 'ok', yesNo: yn, cached: reply.cached };
  }

  async scorePairs(pairs: ChatPair[], opts: ChatCallOptions): Promise<ChatPairResult[]> {
    const list = checkChatPairs('ChatIpoScorer.scorePairs', pairs);
    const { mode, variant, label } = resolveCall('ChatIpoScorer.scorePairs', opts, this.variant);
    return mapPairs(list, label ?? 'ipo (chat)', async (p) => {
      const [c, r] = await Promise.all([
        this.scoreResponse(p.instruction, p.chosen, p.category, mode, variant),
        this.scoreResponse(p.instruction, p.rejected, p.category, mode, variant),
      ]);
      const o = outcome(c.score, r.score);
      this.stats.pairs++;
      if (o.tie) this.stats.ties++;
      return { ...o, chosen: c.score, rejected: r.score, cached: c.cached && r.cached };
    });
  }

  /** Counts since construction (or `resetSummary`). */
}
