/**
 * Former home of the judges' shared machinery, now split by concern (design review §3.1):
 * - `./python-compat`: CPython `re` classes (`PY_SPACE`, `PY_DIGIT`), `pyInt`, `formatOnce`;
 * - `../util/check`: the one-line validators (`describe`, `checkEnum`, `checkPositiveInt`, …);
 * - `./judge-generate`: generation options and `judgeGenerate`;
 * - the cached loop is `runCachedLoop` (`../util/cached-loop`), called directly by `judgePairs` (`./judges`).
 *
 * This file keeps every old name importable; `runJudgeLoop` is a thin wrapper over `runCachedLoop`.
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM } from '../models/types';
import { accuracyInfo, runCachedLoop } from '../util/cached-loop';

export { PY_SPACE, PY_DIGIT, pyInt, formatOnce } from './python-compat';
export { describe, checkInstruction, checkString, checkObject, checkEnum, checkPositiveInt } from '../util/check';
export {
  JUDGE_DEFAULT_MAX_LENGTH, JUDGE_DEFAULT_MAX_NEW_TOKENS, JUDGE_DEFAULT_TEMPERATURE, JUDGE_DEFAULT_SEED,
  resolveGeneration, effectivePromptLength, judgeGenerate,
  type JudgeSampling, type JudgeGenerationOptions, type ResolvedGeneration, type JudgeGeneration,
} from './judge-generate';

export interface JudgeLoopOptions {
  /** Progress label. */
  label?: string;
  /** Set false to bypass the cache. */
  cache?: boolean;
}

export interface JudgeLoopResult<S> {
  scores: S[];
  /** How many came from the cache. */
  cached: number;
  /** Where the cache lives. */
  cacheFile: string;
}

/**
 * Judge every pair in order, with a progress bar (running accuracy) and the content-hash cache
 * (`<cache>/judges/<fingerprint>.jsonl`). `keyParts` must hold everything besides the model and the pair that decides
 * the result (method, version, resolved options); `pairKey(pair)` the fields of the pair that matter.
 */
export async function runJudgeLoop<P, S extends { correct: boolean }>(
  model: CausalLM,
  pairs: P[],
  spec: {
    label: string;
    cache?: boolean;
    keyParts: unknown[];
    pairKey: (pair: P) => unknown;
    judge: (pair: P) => Promise<S>;
  },
): Promise<JudgeLoopResult<S>> {
  const fp = modelFingerprint(model);
  const r = await runCachedLoop(pairs, {
    cacheName: `judges/${fp}`,
    cache: spec.cache,
    label: spec.label,
    keyParts: (pair) => [...spec.keyParts, fp, spec.pairKey(pair)],
    compute: spec.judge,
    progressInfo: accuracyInfo,
  });
  return { scores: r.results, cached: r.cached, cacheFile: r.cacheFile };
}
