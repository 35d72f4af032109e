/**
 * Seeded, stratified dev / test split of preference pairs (prompt search's held-out mode; later the DPO evaluation):
 * it depends only on the seed, the subset name and the ids, not on row order nor on which other subsets are present.
 */
import { checkPreferencePairs, type PreferencePair } from '../data/types';
import { makeRng } from '../util/rng';

export interface SplitOptions {
  /** Fraction of each subset that goes to dev (default 0.3), rounded to the nearest row. Ignored with `devPerSubset`. */
  devFraction?: number;
  /** Fixed number of dev rows per subset (instead of a fraction). */
  devPerSubset?: number;
  /** Seed of `makeRng` (default 42). */
  seed?: number | string;
}

export interface DevTestSplit<R extends PreferencePair = PreferencePair> {
  /** Dev rows, in their input order. */
  dev: R[];
  /** Test rows, in their input order. */
  test: R[];
  /** The same, per subset (subsets in order of first appearance). */
  bySubset: Record<string, { dev: R[]; test: R[] }>;
}

export const DEFAULT_DEV_FRACTION = 0.3;
export const DEFAULT_SEED = 42;

/**
 * Seeded split of every subset into dev and test. Per subset: its rows are ordered by `String(id)` (input position
 * breaks ties), shuffled by Fisher–Yates with `makeRng(`${seed}:${subset}`)`, and the first k go to dev. So the split
 * depends only on the seed, the subset name and the ids: not on the row order, nor on which other subsets are present.
 * k = `devPerSubset`, else `round(devFraction · n)`, then clamped so that both sides get at least one row when the
 * subset has two or more (a 1-row subset goes entirely to test).
 */
export function splitDevTest<R extends PreferencePair>(rows: readonly R[], opts: SplitOptions = {}): DevTestSplit<R> {
  checkPreferencePairs('splitDevTest', rows);
  const seed = opts.seed ?? DEFAULT_SEED;
  const devFraction = opts.devFraction ?? DEFAULT_DEV_FRACTION;
  if (opts.devPerSubset !== undefined) {
    if (!Number.isInteger(opts.devPerSubset) || opts.devPerSubset < 1) throw new Error(`splitDevTest: devPerSubset must be a positive integer, got ${String(opts.devPerSubset)}`);
  } else if (!(typeof devFraction === 'number' && devFraction > 0 && devFraction < 1)) {
    throw new Error(`splitDevTest: devFraction must be in (0, 1), got ${String(devFraction)}`);
  }
  const bySubsetIdx = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const list = bySubsetIdx.get(r.subset);
    if (list) list.push(i);
    else bySubsetIdx.set(r.subset, [i]);
  });
  const isDev = new Uint8Array(rows.length);
  for (const [subset, idx] of bySubsetIdx) {
    const n = idx.length;
    const order = [...idx].sort((a, b) => {
      const ka = String(rows[a].id);
      const kb = String(rows[b].id);
      return ka < kb ? -1 : ka > kb ? 1 : a - b;
    });
    const rng = makeRng(`${seed}:${subset}`);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let k = opts.devPerSubset ?? Math.round(devFraction * n);
    k = n >= 2 ? Math.min(Math.max(k, 1), n - 1) : 0;
    for (let i = 0; i < k; i++) isDev[order[i]] = 1;
  }
  const out: DevTestSplit<R> = { dev: [], test: [], bySubset: {} };
  for (const s of bySubsetIdx.keys()) out.bySubset[s] = { dev: [], test: [] };
  rows.forEach((r, i) => {
    const side = isDev[i] ? 'dev' : 'test';
    out[side].push(r);
    out.bySubset[r.subset][side].push(r);
  });
  return out;
}
