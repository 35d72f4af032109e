/**
 * Self-reward judge baseline: the Yuan et al. additive 5-point rubric, as run by `Preference_Comparison/Reward_Bench/
 * self_reward.py` (and its copies `DPO/self_reward.py`, `RM_Bench/self_reward.py`); doc §3.1, quirks #7, #11–#13.
 *
 * Official pipeline (`mode: 'faithful'`, the default):
 * 1. `prompt = SELF_REWARD_TEMPLATE.format(instruction=…, response=…)`: raw text, no chat template;
 * 2. `ids = tokenizer(prompt, max_length=2048, truncation=True)`: special tokens on, the first 2048 ids kept (long
 *    inputs lose the closing instructions);
 * 3. `generate(ids, max_new_tokens=200, temperature=0.1)` (128 in `DPO/self_reward.py`) without `do_sample`, so
 *    greedy vs sampled depends on the model's generation_config (quirk #12): `sampling` option, default greedy;
 * 4. `text = decode(outputs[0], skip_special_tokens=True)`: outputs[0] is prompt + continuation, so the parsed text
 *    INCLUDES THE PROMPT (quirk #11);
 * 5. first match of `Score\s*[:"]*\s*(\d+)`, then `"\s*Score\s*[:"]*\s*(\d+)` (both `re.IGNORECASE`), the number
 *    clamped to [1, 5]; 0 when nothing matches;
 * 6. a pair is correct iff chosen_score > rejected_score, strictly: ties (common with integer scores, and every
 *    pair where both parses fail: 0 vs 0) are wrong (quirk #7).
 *
 * Because of step 4, the rubric text is scanned too. The rubric itself never matches either parser, but a
 * "Score: 7" (or "score 2", or "3/5" for the RM-Bench parser) anywhere in the judged instruction or response does,
 * and it wins over the model's own answer because it comes first. Also, the template's last words `"Score: " `
 * followed directly by a generated digit do NOT match (`[:"]*` cannot skip the space between `:` and `"`).
 *
 * `mode: 'fixed'` runs the same regexes over the generated continuation only and returns `null` (unparsed) instead
 * of 0; a pair with an unparsed side is neither correct nor a tie, and is counted in `unparsed`.
 *
 * `parser: 'rmbench'` swaps in the `RM_Bench/self_reward.py` regexes `score\s*:\s*(\d+)`, `score\s*(\d+)`,
 * `(\d+)\s*[/]\s*5` (the last matches any "n/5"). Their flags are not in the doc: we apply `re.IGNORECASE` (the patterns
 * are lowercase, and without it "Score: 4" could only be read through the loose "/5" one) and the same [1, 5] clamp.
 *
 * Regexes use CPython's `\s` / `\d` sets (see `PY_SPACE`, `PY_DIGIT` in `./python-compat`).
 */
import { outcome } from '../eval/outcome';
import type { CausalLM } from '../models/types';
import { checkEnum, checkInstruction, checkObject, checkString } from '../util/check';
import { judgeGenerate, resolveGeneration, type JudgeGenerationOptions, type ResolvedGeneration } from './judge-generate';
import { formatOnce, pyInt, PY_DIGIT, PY_SPACE } from './python-compat';
import { compareCodePoints } from '../util/python-str';

/** The rubric, verbatim (doc §3.1; `self_reward.py` l.46–71 with CRLF → LF). Ends with `"Score: "` + one space, no newline. */
export const SELF_REWARD_TEMPLATE = [
  "Review the user's question and the corresponding response using the additive 5-point",
  "scoring system described below. Points are accumulated based on the satisfaction of each",
  "criterion:",
  "- Add 1 point if the response is relevant and provides some information related to",
  "the user's inquiry, even if it is incomplete or contains some irrelevant content.",
  "- Add another point if the response addresses a substantial portion of the user's question,",
  "but does not completely resolve the query or provide a direct answer.",
  "- Award a third point if the response answers the basic elements of the user's question in a",
  "useful way, regardless of whether it seems to have been written by an AI Assistant or if it",
  "has elements typically found in blogs or search results.",
  "- Grant a fourth point if the response is clearly written from an AI Assistant's perspective,",
  "addressing the user's question directly and comprehensively, and is well-organized and",
  "helpful, even if there is slight room for improvement in clarity, conciseness or focus.",
  "- Bestow a fifth point for a response that is impeccably tailored to the user's question",
  "by an AI Assistant, without extraneous information, reflecting expert knowledge, and",
  "demonstrating a high-quality, engaging, and insightful answer.",
  "",
  "User: {instruction}",
  "<response>{response}</response>",
  "",
  "After examining the user's instruction and the response:",
  "- Briefly justify your total score, up to 100 words.",
  "- Conclude with the score using the format: \"Score: \" ",
].join('\n');

/** `max_new_tokens` of `Reward_Bench/self_reward.py` and `RM_Bench/self_reward.py`. */
export const SELF_REWARD_MAX_NEW_TOKENS = 200;
/** `max_new_tokens` of the copy in `DPO/self_reward.py`. */
export const SELF_REWARD_DPO_MAX_NEW_TOKENS = 128;
/** `tokenizer(prompt, max_length=2048, truncation=True)`. */
export const SELF_REWARD_MAX_LENGTH = 2048;

export type SelfRewardMode = 'faithful' | 'fixed';
export type SelfRewardParser = 'rewardbench' | 'rmbench';

const S = PY_SPACE;
const D = PY_DIGIT;

/** The regexes, in the order they are tried (first pattern with a match wins; first match within it). */
export const SELF_REWARD_PATTERNS: Record<SelfRewardParser, readonly RegExp[]> = {
  // Reward_Bench/self_reward.py: r'Score\s*[:"]*\s*(\d+)', r'"\s*Score\s*[:"]*\s*(\d+)', re.IGNORECASE
  rewardbench: [
    new RegExp(`Score${S}*[:"]*${S}*(${D}+)`, 'iu'),
    new RegExp(`"${S}*Score${S}*[:"]*${S}*(${D}+)`, 'iu'),
  ],
  // RM_Bench/self_reward.py: r'score\s*:\s*(\d+)', r'score\s*(\d+)', r'(\d+)\s*/\s*5' (flags assumed IGNORECASE)
  rmbench: [
    new RegExp(`score${S}*:${S}*(${D}+)`, 'iu'),
    new RegExp(`score${S}*(${D}+)`, 'iu'),
    new RegExp(`(${D}+)${S}*/${S}*5`, 'iu'),
  ],
};

/** The rubric filled in as Python's `str.format(instruction=…, response=…)` (values inserted literally). */
export function selfRewardPrompt(instruction: string, response: string): string {
  checkInstruction('selfRewardPrompt', 'instruction', instruction);
  checkString('selfRewardPrompt', 'response', response);
  return formatOnce(SELF_REWARD_TEMPLATE, { instruction, response });
}

export interface SelfRewardMatch {
  /** The number clamped to [1, 5] (`min(max(score, 1), 5)`). */
  score: number;
  /** The number as written (Python `int()` of the digits; imprecise beyond 2^53). */
  raw: number;
  /** The matched text. */
  match: string;
  /** Where the match starts in the parsed text. */
  index: number;
  /** Which pattern matched (index into `SELF_REWARD_PATTERNS[parser]`). */
  pattern: number;
}

/** The official extraction, with details; `null` when no pattern matches. */
export function matchSelfRewardScore(text: string, parser: SelfRewardParser = 'rewardbench'): SelfRewardMatch | null {
  checkString('matchSelfRewardScore', 'text', text);
  const p = checkEnum('matchSelfRewardScore', 'parser', parser, ['rewardbench', 'rmbench'] as const, 'rewardbench');
  const patterns = SELF_REWARD_PATTERNS[p];
  for (let i = 0; i < patterns.length; i++) {
    const m = patterns[i].exec(text);
    if (m) {
      const raw = pyInt(m[1]);
      return { score: Math.min(Math.max(raw, 1), 5), raw, match: m[0], index: m.index, pattern: i };
    }
  }
  return null;
}

export interface SelfRewardParseOptions {
  /** `'faithful'` (default): 0 when nothing matches; `'fixed'`: `null`. */
  mode?: SelfRewardMode;
  /** Default `'rewardbench'`. */
  parser?: SelfRewardParser;
}

/**
 * Score in {1..5}, or 0 (faithful) / `null` (fixed) when nothing matches. Which text to pass is the caller's
 * business: `judgeSelfReward` passes prompt + generation in faithful mode and the generation alone in fixed mode.
 */
export function parseSelfRewardScore(text: string, opts: SelfRewardParseOptions = {}): number | null {
  checkString('parseSelfRewardScore', 'text', text);
  checkObject('parseSelfRewardScore', 'options', opts);
  const mode = checkEnum('parseSelfRewardScore', 'mode', opts.mode, ['faithful', 'fixed'] as const, 'faithful');
  const parser = checkEnum('parseSelfRewardScore', 'parser', opts.parser, ['rewardbench', 'rmbench'] as const, 'rewardbench');
  const m = matchSelfRewardScore(text, parser);
  return m ? m.score : mode === 'faithful' ? 0 : null;
}

// ---------------------------------------------------------------------------------------------------------------
// judging

export interface SelfRewardOptions extends JudgeGenerationOptions, SelfRewardParseOptions {}
// JudgeGenerationOptions defaults here: chatTemplate false, maxLength 2048, maxNewTokens 200 (DPO copy: 128),
// sampling 'greedy' (temperature 0.1 / topP 1 / seed 42 when 'sampled').

export interface ResolvedSelfRewardOptions extends ResolvedGeneration {
  mode: SelfRewardMode;
  parser: SelfRewardParser;
}

export function resolveSelfRewardOptions(fn: string, opts: SelfRewardOptions | undefined): ResolvedSelfRewardOptions {
  const o = checkObject(fn, 'options', opts ?? {}) as SelfRewardOptions;
  const mode = checkEnum(fn, 'mode', o.mode, ['faithful', 'fixed'] as const, 'faithful');
  const parser = checkEnum(fn, 'parser', o.parser, ['rewardbench', 'rmbench'] as const, 'rewardbench');
  const g = resolveGeneration(fn, o, { maxLength: SELF_REWARD_MAX_LENGTH, maxNewTokens: SELF_REWARD_MAX_NEW_TOKENS });
  return { ...g, mode, parser };
}

export interface SelfRewardItem {
  instruction: string;
  /** May be empty. */
  response: string;
}

export interface SelfRewardJudgement {
  /** faithful: 1–5, or 0 when unparsed; fixed: 1–5 or null. */
  score: number | null;
  /** The number before clamping, null when unparsed. */
  rawScore: number | null;
  /** Whether a pattern matched. */
  parsed: boolean;
  /** The matched text (e.g. `Score: 4`), null when unparsed. */
  match: string | null;
  /** True when the match lies in the prompt part of the decoded text (faithful mode only: quirk #11 in action). */
  matchInPrompt: boolean;
  mode: SelfRewardMode;
  parser: SelfRewardParser;
  /** The generated continuation, decoded. */
  generated: string;
  /** decode(prompt ids + generated ids), what faithful mode parses (the official `generated_text`). */
  decoded: string;
  /** Ids the model was conditioned on (after truncation). */
  promptTokens: number;
  generatedTokens: number;
  /** True when truncation removed prompt ids. */
  truncated: boolean;
}

/** Parse one generation in the given mode (exported so stored judgements can be re-read in the other mode). */
export function parseJudgement(
  g: { generated: string; decoded: string; promptTokens: number; generatedTokens: number; truncated: boolean },
  mode: SelfRewardMode,
  parser: SelfRewardParser,
): SelfRewardJudgement {
  const text = mode === 'faithful' ? g.decoded : g.generated;
  const m = matchSelfRewardScore(text, parser);
  // In faithful mode the decoded text is (decoded prompt) + (decoded continuation), up to a character or so of
  // tokenizer clean-up at the boundary, so a match that starts before the continuation's text came from the prompt.
  const promptTextLength = g.decoded.length - g.generated.length;
  return {
    score: m ? m.score : mode === 'faithful' ? 0 : null,
    rawScore: m ? m.raw : null,
    parsed: m !== null,
    match: m ? m.match : null,
    matchInPrompt: mode === 'faithful' && m !== null && m.index < promptTextLength,
    mode, parser,
    generated: g.generated, decoded: g.decoded,
    promptTokens: g.promptTokens, generatedTokens: g.generatedTokens, truncated: g.truncated,
  };
}

function checkItem(fn: string, where: string, item: unknown): SelfRewardItem {
  const it = checkObject(fn, where, item);
  return {
    instruction: checkInstruction(fn, `${where}.instruction`, it.instruction),
    response: checkString(fn, `${where}.response`, it.response),
  };
}

async function judgeResolved(model: CausalLM, item: SelfRewardItem, o: ResolvedSelfRewardOptions): Promise<SelfRewardJudgement> {
  const prompt = formatOnce(SELF_REWARD_TEMPLATE, { instruction: item.instruction, response: item.response });
  const g = await judgeGenerate(model, prompt, o);
  return parseJudgement(
    { generated: g.generated, decoded: g.decoded, promptTokens: g.promptIds.length, generatedTokens: g.generatedIds.length, truncated: g.truncated },
    o.mode, o.parser,
  );
}

/** Judge one response with the rubric: one `generate` call. */
export async function judgeSelfReward(model: CausalLM, item: SelfRewardItem, opts?: SelfRewardOptions): Promise<SelfRewardJudgement> {
  const o = resolveSelfRewardOptions('judgeSelfReward', opts);
  return judgeResolved(model, checkItem('judgeSelfReward', 'item', item), o);
}

export interface SelfRewardPair {
  instruction: string;
  chosen: string;
  rejected: string;
}

export interface SelfRewardPairScore {
  chosen: SelfRewardJudgement;
  rejected: SelfRewardJudgement;
  /** chosen.score > rejected.score strictly (both parsed in fixed mode). */
  correct: boolean;
  /** Equal scores (faithful: including 0 vs 0; fixed: both parsed and equal). Counted as not correct. */
  tie: boolean;
  /** How many of the two responses did not parse (0, 1 or 2). */
  unparsed: number;
}

/** The pair decision from two judgements (see `SelfRewardPairScore`). */
export function decideSelfReward(chosen: SelfRewardJudgement, rejected: SelfRewardJudgement): SelfRewardPairScore {
  const c = chosen.score;
  const r = rejected.score;
  return {
    chosen, rejected,
    ...outcome(c, r), // an unparsed side (null, fixed mode) is neither correct nor a tie
    unparsed: (chosen.parsed ? 0 : 1) + (rejected.parsed ? 0 : 1),
  };
}

export function checkSelfRewardPair(fn: string, where: string, pair: unknown): SelfRewardPair {
  const p = checkObject(fn, where, pair);
  return {
    instruction: checkInstruction(fn, `${where}.instruction`, p.instruction),
    chosen: checkString(fn, `${where}.chosen`, p.chosen),
    rejected: checkString(fn, `${where}.rejected`, p.rejected),
  };
}

/** Judge chosen then rejected (two generations) and decide the pair. */
export async function scorePairSelfReward(model: CausalLM, pair: SelfRewardPair, opts?: SelfRewardOptions): Promise<SelfRewardPairScore> {
  const o = resolveSelfRewardOptions('scorePairSelfReward', opts);
  return scorePairSelfRewardResolved(model, checkSelfRewardPair('scorePairSelfReward', 'pair', pair), o);
}

/** `scorePairSelfReward` with options already resolved and the pair already checked (used by `judgePairs`). */
export async function scorePairSelfRewardResolved(model: CausalLM, pair: SelfRewardPair, o: ResolvedSelfRewardOptions): Promise<SelfRewardPairScore> {
  const chosen = await judgeResolved(model, { instruction: pair.instruction, response: pair.chosen }, o);
  const rejected = await judgeResolved(model, { instruction: pair.instruction, response: pair.rejected }, o);
  return decideSelfReward(chosen, rejected);
}

/**
 * Re-read a stored pair result in another mode / parser without running the model (every judgement keeps both the
 * generated and the decoded text).
 */
export function reparseSelfRewardPair(s: SelfRewardPairScore, opts: SelfRewardParseOptions = {}): SelfRewardPairScore {
  const mode = checkEnum('reparseSelfRewardPair', 'mode', opts.mode, ['faithful', 'fixed'] as const, 'faithful');
  const parser = checkEnum('reparseSelfRewardPair', 'parser', opts.parser, ['rewardbench', 'rmbench'] as const, 'rewardbench');
  return decideSelfReward(parseJudgement(s.chosen, mode, parser), parseJudgement(s.rejected, mode, parser));
}

// ---------------------------------------------------------------------------------------------------------------
// summaries and DPO ranking

export interface SelfRewardSummary {
  n: number;
  correct: number;
  /** correct / n (ties and unparsed pairs count as wrong). */
  accuracy: number;
  ties: number;
  /** Responses (2 per pair) with no match. */
  unparsedResponses: number;
  /** Pairs with at least one unparsed side. */
  unparsedPairs: number;
  /** Faithful mode: responses whose match was found in the prompt echo rather than the generation. */
  matchesInPrompt: number;
  /** How often each score occurred over all responses ('null' = unparsed in fixed mode). */
  scoreCounts: Record<string, number>;
}

export function summarizeSelfReward(scores: SelfRewardPairScore[]): SelfRewardSummary {
  const scoreCounts: Record<string, number> = {};
  let correct = 0, ties = 0, unparsedResponses = 0, unparsedPairs = 0, matchesInPrompt = 0;
  for (const s of scores) {
    if (s.correct) correct++;
    if (s.tie) ties++;
    unparsedResponses += s.unparsed;
    if (s.unparsed > 0) unparsedPairs++;
    for (const j of [s.chosen, s.rejected]) {
      const k = String(j.score);
      scoreCounts[k] = (scoreCounts[k] ?? 0) + 1;
      if (j.matchInPrompt) matchesInPrompt++;
    }
  }
  const n = scores.length;
  return { n, correct, accuracy: n ? correct / n : NaN, ties, unparsedResponses, unparsedPairs, matchesInPrompt, scoreCounts };
}

export { compareCodePoints };

/**
 * Order candidate responses best first, as `DPO/self_reward.py` does before taking the first as chosen and the last
 * as rejected.
 * - `'official'` (quirk #13): `sort(key=lambda x: x[1], reverse=True)` where `x[1]` is the tuple
 *   `(score, generated_text)`, so equal scores are ordered by the judge's decoded text, descending, by code point.
 *   That text starts with the same rubric and instruction, so in practice ties are broken by the responses' own
 *   text. Python's sort is stable, also with `reverse=True`.
 * - `'score'`: by score only, stable (input order kept on ties); unparsed (`null`) last.
 * Returns indices into `judgements`.
 */
export function rankSelfReward(judgements: SelfRewardJudgement[], order: 'official' | 'score' = 'official'): number[] {
  if (!Array.isArray(judgements)) throw new Error('rankSelfReward: judgements must be an array');
  const o = checkEnum('rankSelfReward', 'order', order, ['official', 'score'] as const, 'official');
  const key = (j: SelfRewardJudgement) => (j.score === null ? -1 : j.score);
  const idx = judgements.map((_, i) => i);
  return idx.sort((a, b) => {
    const d = key(judgements[b]) - key(judgements[a]);
    if (d !== 0 || o === 'score') return d;
    return compareCodePoints(judgements[b].decoded, judgements[a].decoded);
  });
}
