/**
 * The long loop of every classification experiment: score many (instruction, chosen, rejected) pairs with IPO,
 * showing progress and caching each pair's result by content hash (model fingerprint + scorer options + pair), so a
 * rerun is instant and a killed run resumes. Cache misses are scored ⌊batchSize / 2⌋ pairs per engine call, both
 * responses of a pair in the same call (`scorePairBatch`).
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM } from '../models/types';
import { accuracyInfo, runCachedLoop } from '../util/cached-loop';
import { DEFAULT_BATCH_SIZE, scorePairBatch, type IpoOptions, type IpoPair, type IpoPairScore } from './yes-no';

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
const CACHE_VERSION = 'scorePair/v1';

export async function scorePairs(model: CausalLM, pairs: IpoPair[], opts: ScorePairsOptions = {}): Promise<ScorePairsResult> {
  const { label, cache, ...ipo } = opts;
  // batchSize changes how misses are grouped, not the scores: it stays out of the key (so old cache entries match).
  const { batchSize, ...keyed } = ipo;
  const fp = modelFingerprint(model);
  const r = await runCachedLoop(pairs, {
    cacheName: `scores/${fp}`,
    cache,
    label: label ?? 'IPO scoring',
    keyParts: (pair) => [CACHE_VERSION, fp, keyed, pair],
    computeBatch: (ps) => scorePairBatch(model, ps, ipo),
    batchSize: Math.max(1, Math.floor((batchSize ?? DEFAULT_BATCH_SIZE) / 2)),
    progressInfo: accuracyInfo,
  });
  return { scores: r.results, cached: r.cached, cacheFile: r.cacheFile };
}
