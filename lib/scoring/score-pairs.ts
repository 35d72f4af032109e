/**
 * The long loop of every classification experiment: score many (instruction, chosen, rejected) pairs with IPO,
 * showing progress and caching each pair's result by content hash (model fingerprint + scorer options + pair), so a
 * rerun is instant and a killed run resumes (`runCachedLoop`).
 *
 * Engine calls: by default pair by pair (`scorePair`: two batch-1 calls), the fastest on a CPU for RewardBench's mixed
 * lengths. With `batchSize` set, cache misses are scored in groups of 4·batchSize pairs by `scorePairBatch`:
 * `[chosen; rejected]` of the whole group together, sorted by length, `batchSize` sequences per engine call (GPU).
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM } from '../models/types';
import { accuracyInfo, runCachedLoop } from '../util/cached-loop';
import { checkPositiveInt } from '../util/check';
import { scorePair, scorePairBatch, type IpoOptions, type IpoPair, type IpoPairScore } from './yes-no';

export interface ScorePairsOptions extends IpoOptions {
  /** Progress label (default "IPO scoring"). */
  label?: string;
  /** Set false to bypass the cache. */
  cache?: boolean;
}

export interface ScorePairsResult {
  scores: IpoPairScore[];
  /** How many came from the cache. */
  cached: number;
  /** Where the cache lives. */
  cacheFile: string;
}

/** Bump when the scores for the same inputs change, so stale cache entries are not reused. */
// v2: scores carry `markerCut` (issue 11), which v1 entries lack.
const CACHE_VERSION = 'scorePair/v2';

export async function scorePairs(model: CausalLM, pairs: IpoPair[], opts: ScorePairsOptions = {}): Promise<ScorePairsResult> {
  const { label, cache, ...ipo } = opts;
  // batchSize (how misses are grouped) and prefixReuse (shared-prefix KV cache) change how the scores are computed,
  // not the scores (beyond float rounding): they stay out of the key (so old cache entries match).
  const { batchSize, prefixReuse, ...keyed } = ipo;
  if (batchSize !== undefined) checkPositiveInt('scorePairs', 'batchSize', batchSize, 1);
  const fp = modelFingerprint(model);
  const r = await runCachedLoop(pairs, {
    cacheName: `scores/${fp}`,
    cache,
    label: label ?? 'IPO scoring',
    keyParts: (pair) => [CACHE_VERSION, fp, keyed, pair],
    ...(batchSize === undefined
      ? { compute: (pair: IpoPair) => scorePair(model, pair, ipo) }
      : { computeBatch: (ps: IpoPair[]) => scorePairBatch(model, ps, ipo), batchSize: 4 * batchSize }),
    progressInfo: accuracyInfo,
  });
  return { scores: r.results, cached: r.cached, cacheFile: r.cacheFile };
}
