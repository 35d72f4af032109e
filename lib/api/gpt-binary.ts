/**
 * The pairwise binary judge through a chat API: `Preference_Comparison/Reward_Bench/binary_gpt.py` and
 * `RM_Bench/binary_gpt.py` (doc §3.2, quirk #10).
 *
 *   prompt  = BINARY_JUDGE_TEMPLATE.format(instruction, response1=chosen, response2=rejected)   (Reward_Bench)
 *           = GPT_BINARY_TEMPLATE_RMBENCH (an f-string: shorter criteria, "Format:", 4-space blank lines, ends "\n    ")
 *   request = {messages: [{role: user, content: prompt}], max_tokens: 200, temperature: 0.1}
 *   verdict = re.search(r"Better response:\s*(Response\s*[12])", content, re.IGNORECASE): 0 = Response 1, 1 = Response 2, -1 none
 *   correct = verdict == 0                 (chosen is ALWAYS Response 1: position bias is rewarded)
 *   error   → the item is skipped: Reward_Bench still counts it in `total` (so it is wrong);
 *             RM_Bench leaves it out of `total` (a per-item result cannot be left out here: it is wrong, and the
 *             summary's `excluded` says how many the official denominator would not have had)
 *
 * Faithful mode is that: one call, chosen = Response 1, chosen score 1 / 0 (unparsed and errors 0), rejected score
 * 1 − chosen, so the pair is correct iff the verdict is 0 and never a tie.
 * Fixed mode (the kit's `lib/scoring/binary-judge.ts` rule): temperature 0, both orders; each order scores 1 when it
 * picks the chosen response, 0 when the rejected one, 0.5 when unparsed; the pair score is their mean (correct iff
 * > 0.5, tie iff 0.5); a failed or malformed call makes the pair NaN (neither correct nor a tie) and is counted, not
 * skipped-yet-counted.
 */
import { outcome } from '../eval/outcome';
import { BINARY_JUDGE_TEMPLATE, parseBinaryVerdict, type BinaryVerdict } from '../scoring/binary-judge';
import { formatOnce } from '../scoring/python-compat';
import type { ApiClient } from './client';
import {
  chatCall, checkChatPairs, checkScorerOptions, emptyCounts, mapPairs, MESSAGE_CONTENT, resolveCall, userMessages,
  type ChatCallOptions, type ChatMode, type ChatPair, type ChatPairResult, type ChatRequestCounts, type ChatScorerOptions, type ChatVariant, ChatScorerBase } from './gpt-chat';

/** `RM_Bench/binary_gpt.py` `get_comparative_prompt`, verbatim (an f-string: values go in literally, as `formatOnce` does). */
export const GPT_BINARY_TEMPLATE_RMBENCH = [
  "Compare the following two responses to the user's question and determine which one is better.",
  '    Consider factors such as relevance, completeness, clarity, accuracy, and overall quality.',
  '    ',
  '    User Question: {instruction}',
  '    ',
  '    Response 1:',
  '    {response1}',
  '    ',
  '    Response 2:',
  '    {response2}',
  '    ',
  '    Which response is better? Answer with either "Response 1" or "Response 2" followed by a brief explanation.',
  '    ',
  '    Format:',
  '    Better response: [Response 1/Response 2]',
  '    Explanation: [Your explanation]',
  '    ',
].join('\n');

/** The request knobs of both `binary_gpt.py` scripts. */
export const GPT_BINARY_REQUEST = Object.freeze({ max_tokens: 200, temperature: 0.1 });

/** The judge prompt of the `variant` script with `response1` shown first. */
export function gptBinaryPrompt(instruction: string, response1: string, response2: string, variant: ChatVariant = 'rewardbench'): string {
  return formatOnce(variant === 'rmbench' ? GPT_BINARY_TEMPLATE_RMBENCH : BINARY_JUDGE_TEMPLATE, { instruction, response1, response2 });
}

export interface GptBinarySummary extends ChatRequestCounts {
  method: 'binary';
  pairs: number;
  /** Parsed verdicts over all calls (2 per pair in fixed mode). */
  verdicts: { response1: number; response2: number; unparsed: number };
  /** response1 / (response1 + response2): 0.5 for an unbiased judge when both orders are asked. */
  response1Rate: number;
  /** Fixed mode: both orders parsed and picked the same response (consistent) / the same position (pure position bias). */
  consistentPairs: number;
  samePositionPairs: number;
  /** Pairs with a failed or malformed call (faithful: wrong, as the script; fixed: NaN). */
  failedPairs: number;
  /** RM_Bench variant, faithful: pairs the official script would have left out of its denominator (= failedPairs). */
  excluded: number;
  /** Fixed mode: pairs scoring exactly 0.5. */
  ties: number;
}

type OrderResult = { verdict: BinaryVerdict | null; cached: boolean };

export class ChatBinaryScorer extends ChatScorerBase<GptBinarySummary> {
  readonly method = 'binary' as const;

  constructor(opts: ChatScorerOptions) {
    super('ChatBinaryScorer', opts, GPT_BINARY_REQUEST.temperature);
    this.stats = this.fresh();
  }

  protected fresh(): GptBinarySummary {
    return { method: 'binary', ...emptyCounts(), pairs: 0, verdicts: { response1: 0, response2: 0, unparsed: 0 }, response1Rate: NaN, consistentPairs: 0, samePositionPairs: 0, failedPairs: 0, excluded: 0, ties: 0 };
  }

  settings(mode: ChatMode = 'faithful'): Record<string, unknown> {
    return { apiStyle: 'chat', model: this.model, variant: this.variant, mode, max_tokens: GPT_BINARY_REQUEST.max_tokens, temperature: this.temperatureFor(mode), orders: mode === 'faithful' ? 'chosen first' : 'both' };
  }

  body(prompt: string, mode: ChatMode): Record<string, unknown> {
    return { model: this.model, messages: userMessages(prompt), max_tokens: GPT_BINARY_REQUEST.max_tokens, temperature: this.temperatureFor(mode) };
  }

  /** One call; verdict null when the call failed or the answer is malformed. */
  private async ask(instruction: string, r1: string, r2: string, mode: ChatMode, variant: ChatVariant): Promise<OrderResult> {
    const reply = await chatCall(this.client, this.body(gptBinaryPrompt(instruction, r1, r2, variant), mode), MESSAGE_CONTENT, this.stats, 'binary chat call');
    if (reply.kind !== 'ok') return { verdict: null, cached: reply.cached };
    const verdict = parseBinaryVerdict(reply.value);
    const v = this.stats.verdicts;
    if (verdict === 0) v.response1++;
    else if (verdict === 1) v.response2++;
    else v.unparsed++;
    return { verdict, cached: reply.cached };
  }

  async scorePairs(pairs: ChatPair[], opts: ChatCallOptions): Promise<ChatPairResult[]> {
    const list = checkChatPairs('ChatBinaryScorer.scorePairs', pairs);
    const { mode, variant, label } = resolveCall('ChatBinaryScorer.scorePairs', opts, this.variant);
    const s = this.stats;
    const out = await mapPairs(list, label ?? 'binary (chat)', async (p): Promise<ChatPairResult> => {
      s.pairs++;
      if (mode === 'faithful') {
        const a = await this.ask(p.instruction, p.chosen, p.rejected, mode, variant);
        if (a.verdict === null) {
          s.failedPairs++;
          if (variant === 'rmbench') s.excluded++;
        }
        const score = a.verdict === 0 ? 1 : 0;
        return { ...outcome(score, 1 - score), chosen: score, rejected: 1 - score, cached: a.cached };
      }
      const [a, b] = await Promise.all([
        this.ask(p.instruction, p.chosen, p.rejected, mode, variant),
        this.ask(p.instruction, p.rejected, p.chosen, mode, variant),
      ]);
      const cached = a.cached && b.cached;
      if (a.verdict === null || b.verdict === null) {
        s.failedPairs++;
        return { correct: false, tie: false, chosen: NaN, rejected: NaN, cached };
      }
      // chosen is Response 1 in the first order (verdict 0) and Response 2 in the second (verdict 1)
      const orderScore = (v: BinaryVerdict, chosenVerdict: 0 | 1) => (v === -1 ? 0.5 : v === chosenVerdict ? 1 : 0);
      const score = (orderScore(a.verdict, 0) + orderScore(b.verdict, 1)) / 2;
      if (a.verdict !== -1 && b.verdict !== -1) {
        if ((a.verdict === 0) === (b.verdict === 1)) s.consistentPairs++;
        if (a.verdict === b.verdict) s.samePositionPairs++;
      }
      const o = outcome(score, 1 - score); // score ∈ {0, .25, .5, .75, 1}: exact
      if (o.tie) s.ties++;
      return { ...o, chosen: score, rejected: 1 - score, cached };
    });
    const v = s.verdicts;
    s.response1Rate = v.response1 + v.response2 ? v.response1 / (v.response1 + v.response2) : NaN;
    return out;
  }

}
