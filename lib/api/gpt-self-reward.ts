/**
 * The additive 5-point rubric judge through a chat API: `Preference_Comparison/Reward_Bench/self_reward_gpt.py` and
 * `RM_Bench/self_reward_gpt.py` (doc §3.1, quirks #7, #11).
 *
 *   request = {messages: [{role: user, content: rubric.format(instruction, response)}], max_tokens: 200, temperature: 0.1}
 *   parse   = the first pattern with a match, `int(group(1))` clamped to [1, 5], else 0; over the answer only (the API
 *             returns no prompt echo, unlike the local script)
 *   correct = chosen_score > rejected_score (strict; ties wrong)
 *
 * | | Reward_Bench/self_reward_gpt.py | RM_Bench/self_reward_gpt.py |
 * |---|---|---|
 * | bullets | U+2022 U+2060 then two spaces (5 criteria) or one space (last 2 lines) | `- ` (the local rubric) |
 * | regexes (re.IGNORECASE) | `Score\s*[:"]\s(\d+)`, `"\s*Score\s*[:"]\s(\d+)`: exactly ONE whitespace after `:`/`"`, so "Score:4" and '"Score": 3' read 0 | `score\s*:\s*(\d+)`, `score\s*(\d+)`, `(\d+)\s*[/]\s*5` (the `[/]` only keeps this comment open) |
 * | API error (or content not a string) | 0 | −1 (so an unparsed 0 beats it) |
 * | model | openai/chatgpt-4o-latest | gpt-4o-mini |
 *
 * Fixed mode: temperature 0, the kit's parser (`matchSelfRewardScore` of `lib/scoring/self-reward.ts`: the local
 * Reward_Bench regexes `Score\s*[:"]*\s*(\d+)`..., which read "Score:4" and '"Score": 3'; the RM-Bench ones for the
 * RM-Bench variant), and an unparsed answer, a failed call or a malformed answer scores `unparsedScore` (NaN: never
 * correct, never a tie; RM-Bench's runner passes -Infinity) and is counted.
 */
import { outcome } from '../eval/outcome';
import { matchSelfRewardScore, SELF_REWARD_PATTERNS, SELF_REWARD_TEMPLATE } from '../scoring/self-reward';
import { formatOnce, pyInt, PY_DIGIT, PY_SPACE } from '../scoring/python-compat';
import type { ApiClient } from './client';
import {
  chatCall, checkChatPairs, checkScorerOptions, emptyCounts, mapPairs, MESSAGE_CONTENT, resolveCall, userMessages,
  type ChatCallOptions, type ChatMode, type ChatPair, type ChatPairResult, type ChatRequestCounts, type ChatScorerOptions, type ChatVariant, ChatScorerBase } from './gpt-chat';

const BULLET = '\u2022\u2060';

/**
 * `Reward_Bench/self_reward_gpt.py`'s rubric: the local rubric with its 7 `- ` bullets replaced by U+2022 U+2060 and
 * two spaces (the 5 criteria) or one space (the 2 closing instructions); ends with `"Score: "` + one space.
 */
export const GPT_SELF_REWARD_TEMPLATE_REWARDBENCH = (() => {
  let n = 0;
  const out = SELF_REWARD_TEMPLATE.split('\n').map((line) => (line.startsWith('- ') ? `${BULLET}${n++ < 5 ? '  ' : ' '}${line.slice(2)}` : line)).join('\n');
  if (n !== 7) throw new Error(`GPT_SELF_REWARD_TEMPLATE_REWARDBENCH: expected 7 bullets, found ${n}`);
  return out;
})();

/** `RM_Bench/self_reward_gpt.py`'s rubric: the local rubric exactly. */
export const GPT_SELF_REWARD_TEMPLATE_RMBENCH = SELF_REWARD_TEMPLATE;

/** The faithful regexes by variant, in the order they are tried (CPython `\s`, `\d`; `re.IGNORECASE`). */
export const GPT_SELF_REWARD_PATTERNS: Readonly<Record<ChatVariant, readonly RegExp[]>> = {
  rewardbench: [
    new RegExp(`Score${PY_SPACE}*[:"]${PY_SPACE}(${PY_DIGIT}+)`, 'iu'),
    new RegExp(`"${PY_SPACE}*Score${PY_SPACE}*[:"]${PY_SPACE}(${PY_DIGIT}+)`, 'iu'),
  ],
  rmbench: SELF_REWARD_PATTERNS.rmbench,
};

/** The score each variant gives a response whose call raised. */
export const GPT_SELF_REWARD_ERROR_SCORE: Readonly<Record<ChatVariant, number>> = { rewardbench: 0, rmbench: -1 };

export const GPT_SELF_REWARD_REQUEST = Object.freeze({ max_tokens: 200, temperature: 0.1 });

export function gptSelfRewardPrompt(instruction: string, response: string, variant: ChatVariant = 'rewardbench'): string {
  return formatOnce(variant === 'rmbench' ? GPT_SELF_REWARD_TEMPLATE_RMBENCH : GPT_SELF_REWARD_TEMPLATE_REWARDBENCH, { instruction, response });
}

/** `extract_score` of the `variant` script: 1–5, or 0 when nothing matches. */
export function gptExtractScore(text: string, variant: ChatVariant = 'rewardbench'): number {
  for (const re of GPT_SELF_REWARD_PATTERNS[variant]) {
    const m = re.exec(text);
    if (m) return Math.min(Math.max(pyInt(m[1]), 1), 5);
  }
  return 0;
}

export interface GptSelfRewardSummary extends ChatRequestCounts {
  method: 'self-reward';
  pairs: number;
  responses: number;
  /** Answers no pattern of the mode read (faithful: scored 0; fixed: `unparsedScore`). */
  unparsed: number;
  /** Faithful mode: answers the official regexes read as 0 that the kit's parser reads (e.g. "Score:4"). */
  strictMisses: number;
  /** Pairs with equal scores, counted wrong. */
  ties: number;
  /** Score → responses (faithful errors: '0' or '-1'; fixed: 'null' for unparsed / failed). */
  scoreCounts: Record<string, number>;
}

export class ChatSelfRewardScorer extends ChatScorerBase<GptSelfRewardSummary> {
  readonly method = 'self-reward' as const;

  constructor(opts: ChatScorerOptions) {
    super('ChatSelfRewardScorer', opts, GPT_SELF_REWARD_REQUEST.temperature);
    this.stats = this.fresh();
  }

  protected fresh(): GptSelfRewardSummary {
    return { method: 'self-reward', ...emptyCounts(), pairs: 0, responses: 0, unparsed: 0, strictMisses: 0, ties: 0, scoreCounts: {} };
  }

  settings(mode: ChatMode = 'faithful'): Record<string, unknown> {
    return { apiStyle: 'chat', model: this.model, variant: this.variant, mode, max_tokens: GPT_SELF_REWARD_REQUEST.max_tokens, temperature: this.temperatureFor(mode), parser: mode === 'faithful' ? `${this.variant}-gpt` : this.variant };
  }

  body(prompt: string, mode: ChatMode): Record<string, unknown> {
    return { model: this.model, messages: userMessages(prompt), max_tokens: GPT_SELF_REWARD_REQUEST.max_tokens, temperature: this.temperatureFor(mode) };
  }

  /** `generate_score` for one response: the score (null = unparsed / failed in fixed mode) and whether it was cached. */
  async scoreResponse(instruction: string, response: string, mode: ChatMode, variant: ChatVariant = this.variant): Promise<{ score: number | null; cached: boolean }> {
    const s = this.stats;
    s.responses++;
    const reply = await chatCall(this.client, this.body(gptSelfRewardPrompt(instruction, response, variant), mode), MESSAGE_CONTENT, s, 'self-reward chat call');
    let score: number | null;
    if (reply.kind !== 'ok') score = mode === 'faithful' ? GPT_SELF_REWARD_ERROR_SCORE[variant] : null;
    else if (mode === 'faithful') {
      score = gptExtractScore(reply.value, variant);
      if (score === 0) {
        s.unparsed++;
        if (matchSelfRewardScore(reply.value, variant)) s.strictMisses++;
      }
    } else {
      const m = matchSelfRewardScore(reply.value, variant);
      score = m ? m.score : null;
      if (!m) s.unparsed++;
    }
    const k = String(score);
    s.scoreCounts[k] = (s.scoreCounts[k] ?? 0) + 1;
    return { score, cached: reply.cached };
  }

  async scorePairs(pairs: ChatPair[], opts: ChatCallOptions): Promise<ChatPairResult[]> {
    const list = checkChatPairs('ChatSelfRewardScorer.scorePairs', pairs);
    const { mode, variant, label, unparsedScore } = resolveCall('ChatSelfRewardScorer.scorePairs', opts, this.variant);
    return mapPairs(list, label ?? 'self-reward (chat)', async (p) => {
      const [c, r] = await Promise.all([
        this.scoreResponse(p.instruction, p.chosen, mode, variant),
        this.scoreResponse(p.instruction, p.rejected, mode, variant),
      ]);
      const o = outcome(c.score, r.score); // a null side (fixed mode) is neither correct nor a tie
      this.stats.pairs++;
      if (o.tie) this.stats.ties++;
      return { ...o, chosen: c.score ?? unparsedScore, rejected: r.score ?? unparsedScore, cached: c.cached && r.cached };
    });
  }

}
