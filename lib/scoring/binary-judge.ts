/**
 * Binary pairwise judge baseline, after `Preference_Comparison/Reward_Bench/binary_gpt.py` (doc §3.2, quirk #10).
 *
 * The official script asks an API model (`chatgpt-4o-latest`, T 0.1, 200 tokens) with `BINARY_JUDGE_TEMPLATE`,
 * chosen ALWAYS as "Response 1", and parses the completion with `Better response:\s*(Response\s*[12])`
 * (`re.IGNORECASE`): 0 = Response 1, 1 = Response 2, −1 = no match. A pair is correct iff the verdict is 0, so a judge
 * that always answers "Response 1" scores 100 % (position bias is rewarded).
 *
 * Here a local `CausalLM` plays the API model: raw prompt text encoded with special tokens (or the model's chat
 * template, `chatTemplate: true`), right-truncated to `maxLength` (default 2048, the kit's choice: the API script
 * does not truncate; this matches the local self-reward script), greedy decoding by default (`sampling: 'sampled'`
 * gives T 0.1 as in the API call), `maxNewTokens` 200. Only the generated continuation is parsed, as the API returns
 * only the completion.
 *
 * Modes:
 * - `'faithful'` (default): one generation, chosen = Response 1; correct iff verdict 0; score 1 or 0 (unparsed = 0).
 * - `'fixed'`: two generations, chosen first and then chosen second. Each order scores 1 if it picks the chosen
 *   response, 0.5 if unparsed, 0 if it picks the rejected one; the pair's score is their mean (0, 0.25, 0.5, 0.75, 1)
 *   and the pair is correct iff the score > 0.5. A judge that always picks the same position scores exactly 0.5.
 */
import { outcome } from '../eval/outcome';
import type { CausalLM } from '../models/types';
import { checkEnum, checkInstruction, checkObject, checkString } from '../util/check';
import { judgeGenerate, resolveGeneration, type JudgeGenerationOptions, type ResolvedGeneration } from './judge-generate';
import { formatOnce, PY_SPACE } from './python-compat';

/**
 * The prompt, verbatim (doc §3.2): lines 2 onward are indented with 4 spaces (the indentation of the Python source
 * inside the triple-quoted string), "better. " and "explanation. " end with a space, and there is no final newline.
 */
export const BINARY_JUDGE_TEMPLATE = [
  "Compare the following two responses to the user's question and determine which one is better. ",
  "    Consider factors such as:",
  "    - Relevance to the question",
  "    - Completeness of the answer",
  "    - Clarity and coherence",
  "    - Accuracy and helpfulness",
  "    - Overall quality",
  "",
  "    User Question: {instruction}",
  "",
  "    Response 1:",
  "    {response1}",
  "",
  "    Response 2:",
  "    {response2}",
  "",
  "    Which response is better? Answer with either \"Response 1\" or \"Response 2\" followed by a brief explanation. ",
  "    Format your answer as:",
  "    Better response: [Response 1/Response 2]",
  "    Explanation: [Your explanation]",
].join('\n');

/** `r"Better response:\s*(Response\s*[12])"`, `re.IGNORECASE`, with CPython's `\s`. */
export const BINARY_VERDICT_PATTERN = new RegExp(`Better response:${PY_SPACE}*(Response${PY_SPACE}*[12])`, 'iu');

export const BINARY_MAX_NEW_TOKENS = 200;
export const BINARY_MAX_LENGTH = 2048;

export type BinaryMode = 'faithful' | 'fixed';
/** 0 = "Response 1", 1 = "Response 2", −1 = unparsed. */
export type BinaryVerdict = 0 | 1 | -1;

/** The prompt filled in as Python's `str.format(instruction=…, response1=…, response2=…)`. */
export function binaryJudgePrompt(instruction: string, response1: string, response2: string): string {
  checkInstruction('binaryJudgePrompt', 'instruction', instruction);
  checkString('binaryJudgePrompt', 'response1', response1);
  checkString('binaryJudgePrompt', 'response2', response2);
  return formatOnce(BINARY_JUDGE_TEMPLATE, { instruction, response1, response2 });
}

/** `extract_better_response`: 0 if the first match names Response 1, 1 if Response 2, −1 when nothing matches. */
export function parseBinaryVerdict(text: string): BinaryVerdict {
  checkString('parseBinaryVerdict', 'text', text);
  const m = BINARY_VERDICT_PATTERN.exec(text);
  if (!m) return -1;
  return m[1].toLowerCase().includes('1') ? 0 : 1;
}

export interface BinaryJudgeOptions extends JudgeGenerationOptions {
  /** Default `'faithful'`. */
  mode?: BinaryMode;
}

export interface ResolvedBinaryOptions extends ResolvedGeneration {
  mode: BinaryMode;
}

export function resolveBinaryOptions(fn: string, opts: BinaryJudgeOptions | undefined): ResolvedBinaryOptions {
  const o = checkObject(fn, 'options', opts ?? {}) as BinaryJudgeOptions;
  const mode = checkEnum(fn, 'mode', o.mode, ['faithful', 'fixed'] as const, 'faithful');
  return { ...resolveGeneration(fn, o, { maxLength: BINARY_MAX_LENGTH, maxNewTokens: BINARY_MAX_NEW_TOKENS }), mode };
}

export interface BinaryPair {
  instruction: string;
  chosen: string;
  rejected: string;
}

export type BinaryOrder = 'chosen-first' | 'chosen-second';

export interface BinaryJudgement {
  /** Where the chosen response was shown. */
  order: BinaryOrder;
  verdict: BinaryVerdict;
  /** Whether the verdict names the chosen response; null when unparsed. */
  pickedChosen: boolean | null;
  /** faithful: 1 if chosen picked, else 0; fixed: 1 / 0.5 (unparsed) / 0. */
  score: number;
  /** The generated continuation, decoded (what is parsed). */
  generated: string;
  promptTokens: number;
  generatedTokens: number;
  truncated: boolean;
}

export interface BinaryPairScore {
  mode: BinaryMode;
  /** faithful: [chosen-first]; fixed: [chosen-first, chosen-second]. */
  judgements: BinaryJudgement[];
  /** faithful: 1 or 0; fixed: mean of the two orders' scores (0, 0.25, 0.5, 0.75, 1). */
  score: number;
  /** faithful: verdict 0; fixed: score > 0.5. */
  correct: boolean;
  /** fixed: score exactly 0.5 (not correct); faithful: always false. */
  tie: boolean;
  /** Judgements with no parsable verdict. */
  unparsed: number;
}

export function checkBinaryPair(fn: string, where: string, pair: unknown): BinaryPair {
  const p = checkObject(fn, where, pair);
  return {
    instruction: checkInstruction(fn, `${where}.instruction`, p.instruction),
    chosen: checkString(fn, `${where}.chosen`, p.chosen),
    rejected: checkString(fn, `${where}.rejected`, p.rejected),
  };
}

async function judgeOrder(model: CausalLM, pair: BinaryPair, order: BinaryOrder, o: ResolvedBinaryOptions): Promise<BinaryJudgement> {
  const [r1, r2] = order === 'chosen-first' ? [pair.chosen, pair.rejected] : [pair.rejected, pair.chosen];
  const g = await judgeGenerate(model, formatOnce(BINARY_JUDGE_TEMPLATE, { instruction: pair.instruction, response1: r1, response2: r2 }), o);
  const verdict = parseBinaryVerdict(g.generated);
  const chosenVerdict = order === 'chosen-first' ? 0 : 1;
  const pickedChosen = verdict === -1 ? null : verdict === chosenVerdict;
  const score = pickedChosen === null ? (o.mode === 'fixed' ? 0.5 : 0) : pickedChosen ? 1 : 0;
  return {
    order, verdict, pickedChosen, score,
    generated: g.generated,
    promptTokens: g.promptIds.length, generatedTokens: g.generatedIds.length, truncated: g.truncated,
  };
}

/** `scorePairBinary` with options already resolved and the pair already checked (used by `judgePairs`). */
export async function scorePairBinaryResolved(model: CausalLM, pair: BinaryPair, o: ResolvedBinaryOptions): Promise<BinaryPairScore> {
  const first = await judgeOrder(model, pair, 'chosen-first', o);
  if (o.mode === 'faithful') {
    // score 1 iff Response 1 (= chosen) was picked, else 0 (unparsed too): correct iff verdict 0, never a tie
    return { mode: 'faithful', judgements: [first], score: first.score, ...outcome(first.score, 1 - first.score), unparsed: first.verdict === -1 ? 1 : 0 };
  }
  const second = await judgeOrder(model, pair, 'chosen-second', o);
  const score = (first.score + second.score) / 2;
  return {
    mode: 'fixed', judgements: [first, second], score,
    ...outcome(score, 1 - score), // correct iff score > 0.5, tie iff 0.5 (score ∈ {0, .25, .5, .75, 1}: exact)
    unparsed: (first.verdict === -1 ? 1 : 0) + (second.verdict === -1 ? 1 : 0),
  };
}

/** Judge a pair: one generation (faithful) or two, one per order (fixed). */
export async function scorePairBinary(model: CausalLM, pair: BinaryPair, opts?: BinaryJudgeOptions): Promise<BinaryPairScore> {
  const o = resolveBinaryOptions('scorePairBinary', opts);
  return scorePairBinaryResolved(model, checkBinaryPair('scorePairBinary', 'pair', pair), o);
}

export interface BinarySummary {
  n: number;
  correct: number;
  /** correct / n. */
  accuracy: number;
  /** Fixed mode: pairs scoring exactly 0.5. */
  ties: number;
  /** Mean per-pair score. */
  meanScore: number;
  /** Position-bias statistics over all judgements (2 per pair in fixed mode). */
  verdicts: { response1: number; response2: number; unparsed: number };
  /** response1 / (response1 + response2): 0.5 for an unbiased judge on order-balanced data. */
  response1Rate: number;
  /** Fixed mode: pairs where both orders parsed and picked the same response (score 1 or 0). */
  consistentPairs: number;
  /** Fixed mode: pairs where both orders parsed and picked the same POSITION (pure position bias). */
  samePositionPairs: number;
}

export function summarizeBinary(scores: BinaryPairScore[]): BinarySummary {
  let correct = 0, ties = 0, sum = 0, r1 = 0, r2 = 0, un = 0, consistent = 0, samePos = 0;
  for (const s of scores) {
    if (s.correct) correct++;
    if (s.tie) ties++;
    sum += s.score;
    for (const j of s.judgements) {
      if (j.verdict === 0) r1++;
      else if (j.verdict === 1) r2++;
      else un++;
    }
    if (s.judgements.length === 2 && s.judgements.every((j) => j.verdict !== -1)) {
      if (s.judgements[0].pickedChosen === s.judgements[1].pickedChosen) consistent++;
      if (s.judgements[0].verdict === s.judgements[1].verdict) samePos++;
    }
  }
  const n = scores.length;
  return {
    n, correct, accuracy: n ? correct / n : NaN, ties, meanScore: n ? sum / n : NaN,
    verdicts: { response1: r1, response2: r2, unparsed: un },
    response1Rate: r1 + r2 ? r1 / (r1 + r2) : NaN,
    consistentPairs: consistent, samePositionPairs: samePos,
  };
}
