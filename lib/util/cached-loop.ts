/**
 * The kit's one long-loop pattern (design review §3.3): go through `items`, take each result from the content-hash
 * cache when present, compute the misses in batches of `batchSize` (`computeBatch(misses)`, so an engine's batching
 * is used), and write every computed result to the cache at once, so a killed run resumes where it stopped.
 * Results keep the item order. A progress bar shows `progressInfo(resultsSoFar, cached)` after it.
 *
 * Items whose keys are equal are computed once: the key is, by contract, everything that decides the result. With
 * the cache on, the repeats count as `cached` (they are what a cache read would have given).
 *
 * TypeScript infers `S` from the spec's properties left to right: write `compute` / `computeBatch` BEFORE
 * `progressInfo` in the object literal (or annotate `progressInfo`'s parameter), else `S` is fixed as `unknown`.
 *
 * Used by the IPO scorer (`scorePairs`), the judges, the reward-model baseline and the sampler. Ground floor:
 * imports only `./cache` and `./progress`.
 */
import { cacheEnabled, contentHash, ResultCache } from './cache';
import { progress } from './progress';

export interface CachedLoopSpec<I, S> {
  /** Cache file under the kit cache folder, e.g. `scores/<fingerprint>`. */
  cacheName: string;
  /** false bypasses the cache (neither read nor written). */
  cache?: boolean;
  /** Progress bar label. */
  label: string;
  /** Everything that decides an item's result (hashed into its key). */
  keyParts: (item: I) => unknown[];
  /** Results for a batch of cache misses, in the same order. */
  computeBatch?: (items: I[]) => Promise<S[]>;
  /** Single-item form (used when computeBatch is absent). */
  compute?: (item: I) => Promise<S>;
  /** Misses per computeBatch call (default 1). */
  batchSize?: number;
  /** Text shown after the bar, from the results so far (e.g. running accuracy). */
  progressInfo?: (results: S[], cached: number) => string;
}

export interface CachedLoopResult<S> {
  /** One result per item, in item order. */
  results: S[];
  /** How many came from the cache. */
  cached: number;
  cacheFile: string;
}

/** `progressInfo` for results that carry `correct`: "accuracy 0.625, 3 cached". */
export function accuracyInfo<S extends { correct: boolean }>(results: readonly S[], cached: number): string {
  const correct = results.reduce((n, r) => n + (r.correct ? 1 : 0), 0);
  const acc = results.length ? (correct / results.length).toFixed(3) : '-';
  return `accuracy ${acc}${cached ? `, ${cached} cached` : ''}`;
}

export async function runCachedLoop<I, S>(items: readonly I[], spec: CachedLoopSpec<I, S>): Promise<CachedLoopResult<S>> {
  const computeBatch =
    spec.computeBatch ?? (spec.compute ? async (xs: I[]) => { const out: S[] = []; for (const x of xs) out.push(await spec.compute!(x)); return out; } : undefined);
  if (!computeBatch) throw new Error(`runCachedLoop(${spec.label}): give computeBatch or compute`);
  const batchSize = spec.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`runCachedLoop(${spec.label}): batchSize must be a positive integer, got ${batchSize}`);

  const useCache = spec.cache !== false && cacheEnabled();
  const cache = new ResultCache<S>(spec.cacheName, { enabled: useCache });
  const results: (S | undefined)[] = new Array(items.length);
  const done: S[] = []; // results so far, in the order they were resolved (hits first), for progressInfo
  // Misses, grouped by key: the first item's index computes, every index with that key receives the result.
  const missKeys: string[] = [];
  const missIndices = new Map<string, number[]>();
  let cached = 0;
  for (let i = 0; i < items.length; i++) {
    const key = contentHash(...spec.keyParts(items[i]));
    const hit = cache.get(key);
    if (hit !== undefined) {
      results[i] = hit;
      done.push(hit);
      cached++;
      continue;
    }
    const at = missIndices.get(key);
    if (at) at.push(i);
    else {
      missIndices.set(key, [i]);
      missKeys.push(key);
    }
  }

  const bar = progress({ total: items.length, label: spec.label });
  const info = () => (spec.progressInfo ? { info: spec.progressInfo(done, cached) } : undefined);
  try {
    if (cached) bar.tick(cached, info());
    for (let b = 0; b < missKeys.length; b += batchSize) {
      const keys = missKeys.slice(b, b + batchSize);
      const batch = keys.map((k) => items[missIndices.get(k)![0]]);
      const out = await computeBatch(batch);
      if (!Array.isArray(out) || out.length !== batch.length) {
        throw new Error(`runCachedLoop(${spec.label}): computeBatch returned ${Array.isArray(out) ? out.length : typeof out} results for ${batch.length} items`);
      }
      let ticked = 0;
      for (let j = 0; j < keys.length; j++) {
        cache.set(keys[j], out[j]);
        const at = missIndices.get(keys[j])!;
        for (const i of at) {
          results[i] = out[j];
          done.push(out[j]);
          ticked++;
        }
        if (useCache) cached += at.length - 1;
      }
      bar.tick(ticked, info());
    }
  } finally {
    bar.done();
  }
  return { results: results as S[], cached, cacheFile: cache.file };
}
