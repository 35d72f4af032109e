/**
 * Timing for the bench: warm-up, then a median of k runs within a time budget. The kit's rule (see
 * `scripts/bench.ts`): speed is reported as a RATIO against a peak measured in the same run on the same machine
 * (`./peaks`), never as a timed assertion in a test.
 *
 * `quantile` here SORTS its input (a list of timings); `lib/eval/rewardbench-bootstrap.ts`'s `quantile` expects
 * sorted input (replicates it has sorted once). Import the one you mean.
 */

/** Linear-interpolated quantile (q in [0, 1]) of `xs`; NaN for an empty list. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = Math.min(1, Math.max(0, q)) * (s.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export interface MeasureOptions {
  /** Untimed runs first (default 1). */
  warmup?: number;
  /** Always time at least this many runs (default 3). */
  minReps?: number;
  /** Never more than this many (default 10). */
  maxReps?: number;
  /** Stop after `minReps` once the timed runs have taken this long (ms; default 3000). */
  budgetMs?: number;
  /** Clock in ms (default `performance.now`); injectable for tests. */
  now?: () => number;
}

export interface Measurement {
  /** Timed runs, in ms, in order. */
  samplesMs: number[];
  /** Warm-up runs, in ms. */
  warmupMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Number of timed runs. */
  reps: number;
}

/**
 * Time `fn` (awaited): `warmup` untimed runs, then between `minReps` and `maxReps` timed ones, stopping early once
 * `budgetMs` of timed runs have passed. `fn` gets the run index (warm-ups first), e.g. to pick a different input.
 */
export async function measure(fn: (run: number) => unknown, opts: MeasureOptions = {}): Promise<Measurement> {
  const now = opts.now ?? (() => performance.now());
  const warmup = opts.warmup ?? 1;
  const minReps = Math.max(1, opts.minReps ?? 3);
  const maxReps = Math.max(minReps, opts.maxReps ?? 10);
  const budgetMs = opts.budgetMs ?? 3000;
  const warmupMs: number[] = [];
  const samplesMs: number[] = [];
  let run = 0;
  for (let i = 0; i < warmup; i++) {
    const t = now();
    await fn(run++);
    warmupMs.push(now() - t);
  }
  let spent = 0;
  while (samplesMs.length < maxReps && (samplesMs.length < minReps || spent < budgetMs)) {
    const t = now();
    await fn(run++);
    const dt = now() - t;
    samplesMs.push(dt);
    spent += dt;
  }
  return { samplesMs, warmupMs, medianMs: median(samplesMs), minMs: Math.min(...samplesMs), maxMs: Math.max(...samplesMs), reps: samplesMs.length };
}
