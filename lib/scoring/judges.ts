/**
 * The generative judge baselines of the paper, in one place:
 * - `./self-reward`: the Yuan et al. additive 5-point rubric (`Reward_Bench/self_reward.py`);
 * - `./binary-judge`: the pairwise "Response 1 / Response 2" judge (`Reward_Bench/binary_gpt.py`);
 * - `judgePairs`: the long loop over many pairs for either judge, with progress and the content-hash cache
 *   (`runCachedLoop`), like `scorePairs` for IPO.
 *
 * ```ts
 * const sr = await judgePairs(model, pairs, { method: 'self-reward', maxNewTokens: 200 });   // faithful
 * const fixed = sr.scores.map((s) => reparseSelfRewardPair(s, { mode: 'fixed' }));           // no new generation
 * const bin = await judgePairs(model, pairs, { method: 'binary', mode: 'fixed' });
 * bin.summary.response1Rate;                                                                  // position bias
 * ```
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM } from '../models/types';
import { accuracyInfo, runCachedLoop } from '../util/cached-loop';
import { describe } from '../util/check';
import {
  checkBinaryPair, resolveBinaryOptions, scorePairBinaryResolved, summarizeBinary,
  type BinaryJudgeOptions, type BinaryPair, type BinaryPairScore, type BinarySummary,
} from './binary-judge';
import type { JudgeLoopOptions } from './judge-loop';
import {
  checkSelfRewardPair, resolveSelfRewardOptions, scorePairSelfRewardResolved, summarizeSelfReward,
  type SelfRewardOptions, type SelfRewardPair, type SelfRewardPairScore, type SelfRewardSummary,
} from './self-reward';

export * from './self-reward';
export * from './binary-judge';
export { PY_SPACE, PY_DIGIT, pyInt, formatOnce } from './python-compat';
export {
  effectivePromptLength, judgeGenerate,
  JUDGE_DEFAULT_MAX_LENGTH, JUDGE_DEFAULT_MAX_NEW_TOKENS, JUDGE_DEFAULT_TEMPERATURE, JUDGE_DEFAULT_SEED,
  type JudgeSampling, type JudgeGenerationOptions, type JudgeGeneration,
} from './judge-generate';
export { runJudgeLoop, type JudgeLoopOptions, type JudgeLoopResult } from './judge-loop';

export type JudgeMethod = 'self-reward' | 'binary';

/** A pair for either judge (extra fields such as `id` or `subset` are ignored and do not split the cache). */
export type JudgePair = SelfRewardPair & BinaryPair;

export type JudgePairsOptions =
  | ({ method: 'self-reward' } & SelfRewardOptions & JudgeLoopOptions)
  | ({ method: 'binary' } & BinaryJudgeOptions & JudgeLoopOptions);

export interface JudgePairsResult<S, M> {
  scores: S[];
  /** Accuracy, ties, parse failures (and position bias for the binary judge). */
  summary: M;
  /** How many pair results came from the cache. */
  cached: number;
  cacheFile: string;
}

/** Bump when a judge's output for the same inputs changes, so stale cache entries are not reused. */
const CACHE_VERSION = 'v1';

export function judgePairs(
  model: CausalLM, pairs: JudgePair[], opts: { method: 'self-reward' } & SelfRewardOptions & JudgeLoopOptions,
): Promise<JudgePairsResult<SelfRewardPairScore, SelfRewardSummary>>;
export function judgePairs(
  model: CausalLM, pairs: JudgePair[], opts: { method: 'binary' } & BinaryJudgeOptions & JudgeLoopOptions,
): Promise<JudgePairsResult<BinaryPairScore, BinarySummary>>;
/**
 * Judge every pair (in order) with the self-reward rubric or the binary judge. All pairs and options are checked
 * before the model runs. Each pair's result is cached under sha256(method, version, resolved options, model
 * fingerprint, {instruction, chosen, rejected}) in `<cache>/judges/<fingerprint>.jsonl`.
 */
export async function judgePairs(
  model: CausalLM, pairs: JudgePair[], opts: JudgePairsOptions,
): Promise<JudgePairsResult<SelfRewardPairScore, SelfRewardSummary> | JudgePairsResult<BinaryPairScore, BinarySummary>> {
  if (opts === null || typeof opts !== 'object') throw new Error(`judgePairs: options must be an object with a method, got ${describe(opts)}`);
  if (!Array.isArray(pairs)) throw new Error(`judgePairs: pairs must be an array, got ${describe(pairs)}`);
  const { method, label, cache, ...rest } = opts as JudgePairsOptions & Record<string, unknown>;
  if (method === 'self-reward') {
    const o = resolveSelfRewardOptions('judgePairs', rest as SelfRewardOptions);
    const checked = pairs.map((p, i) => checkSelfRewardPair('judgePairs', `pairs[${i}]`, p));
    const fp = modelFingerprint(model);
    const r = await runCachedLoop(checked, {
      cacheName: `judges/${fp}`, cache, label: label ?? 'self-reward judge',
      keyParts: (p) => ['judgePair/self-reward', CACHE_VERSION, o, fp, p],
      compute: (p) => scorePairSelfRewardResolved(model, p, o),
      progressInfo: accuracyInfo,
    });
    return { scores: r.results, cached: r.cached, cacheFile: r.cacheFile, summary: summarizeSelfReward(r.results) };
  }
  if (method === 'binary') {
    const o = resolveBinaryOptions('judgePairs', rest as BinaryJudgeOptions);
    const checked = pairs.map((p, i) => checkBinaryPair('judgePairs', `pairs[${i}]`, p));
    const fp = modelFingerprint(model);
    const r = await runCachedLoop(checked, {
      cacheName: `judges/${fp}`, cache, label: label ?? 'binary judge',
      keyParts: (p) => ['judgePair/binary', CACHE_VERSION, o, fp, p],
      compute: (p) => scorePairBinaryResolved(model, p, o),
      progressInfo: accuracyInfo,
    });
    return { scores: r.results, cached: r.cached, cacheFile: r.cacheFile, summary: summarizeBinary(r.results) };
  }
  throw new Error(`judgePairs: method must be 'self-reward' or 'binary', got ${JSON.stringify(method)}`);
}
