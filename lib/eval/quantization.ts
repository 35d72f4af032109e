/**
 * What int8 quantization does to IPO preference accuracy (issue #10, "`q8` ONNX for scoring ... with its effect on
 * accuracy measured on a fixed slice (pairs that flip)").
 *
 * `compareQuantized(base, quant, pairs)` scores every pair with both models through `scorePair` (same options, same
 * call path, so the only difference is the weights/graph) and reports, per pair and in total:
 * - ΔP(Yes) = quant − base for the chosen and the rejected response, with max and mean |ΔP(Yes)| over all 2n
 *   responses, and Δmargin (margin = P(Yes|chosen) − P(Yes|rejected));
 * - the accuracy of each model (the kit's one tie rule, `outcome`: correct iff chosen > rejected strictly, a tie is
 *   wrong) with a percentile bootstrap interval (`bootstrapCi`), and the paired bootstrap of the difference
 *   (`pairedBootstrapCi`, quant − base, same resampled pairs for both);
 * - the FLIPS: pairs correct under one model and not under the other (a pair that becomes a tie counts as wrong).
 *   With b = flips to correct (wrong under base, correct under quant) and c = flips to wrong, the accuracy
 *   difference is exactly (b − c)/n, and the exact McNemar test (McNemar 1947; exact binomial form, e.g. Agresti,
 *   "Categorical Data Analysis", 3rd ed., §11.1: under H0 each discordant pair goes either way with probability ½)
 *   gives p = min(1, 2·P(X ≤ min(b, c))), X ~ Binomial(b + c, ½); p = 1 when nothing flips.
 *
 * Use `scorePair` (not `scorePairBatch`) semantics on purpose: a q8 graph quantizes activations PER TENSOR over the
 * whole forward pass (DynamicQuantizeLinear), so the q8 score of a sequence depends slightly on what else is in its
 * batch (padding rows, other sequences) and on whether a shared prefix was run separately (prefix reuse). Comparing
 * both models through the same path keeps that effect inside the measured difference.
 *
 * The fixed slice: `rewardBenchSlice(perSubset)` takes the first `perSubset` pairs of every subset of the offline
 * RewardBench rebuild (`rebuildRewardBench`, lib/data/rewardbench-rebuild.ts; its row order and ids never change), as
 * `IpoPair`s with `category` = subset (which picks the official template) and the rebuilt row id.
 */
import { rebuildRewardBench } from '../data/rewardbench-rebuild';
import type { CausalLM } from '../models/types';
import { scorePair, type IpoOptions, type IpoPair, type IpoPairScore } from '../scoring/yes-no';
import { describe } from '../util/check';
import { bootstrapCi, pairedBootstrapCi, type BootstrapCi, type BootstrapOptions, type PairedBootstrapCi } from './bootstrap';

/** A pair of the fixed slice: an `IpoPair` with the rebuilt RewardBench row id. */
export interface SlicePair extends IpoPair {
  id: string;
  category: string;
}

/**
 * The first `perSubset` pairs of each rebuilt RewardBench subset (all rebuildable subsets, or `opts.subsets`), in the
 * rebuild's order. Deterministic: the rebuild does not depend on any seed the caller chooses.
 */
export function rewardBenchSlice(perSubset: number, opts: { subsets?: readonly string[] } = {}): SlicePair[] {
  if (!Number.isInteger(perSubset) || perSubset < 1) throw new Error(`rewardBenchSlice: perSubset must be a positive integer, got ${describe(perSubset)}`);
  const { rows } = rebuildRewardBench({ subsets: opts.subsets });
  const taken = new Map<string, number>();
  const out: SlicePair[] = [];
  for (const r of rows) {
    const k = taken.get(r.subset) ?? 0;
    if (k >= perSubset) continue;
    taken.set(r.subset, k + 1);
    out.push({ id: String(r.id), instruction: r.prompt, chosen: r.chosen, rejected: r.rejected, category: r.subset });
  }
  return out;
}

/** One model's side of a pair. */
export interface SideScores {
  chosen: number;
  rejected: number;
  correct: boolean;
  tie: boolean;
}

export interface PairComparison {
  /** Position in the input. */
  index: number;
  /** `pair.id` when the pair has one (e.g. `rewardBenchSlice`). */
  id?: string;
  category?: string;
  base: SideScores;
  quant: SideScores;
  /** quant − base of P(Yes | chosen) */
  dChosen: number;
  /** quant − base of P(Yes | rejected) */
  dRejected: number;
  /** quant margin − base margin (margin = P(Yes|chosen) − P(Yes|rejected)) */
  dMargin: number;
  /** `'to-correct'`: wrong (or tie) under base, correct under quant; `'to-wrong'`: the reverse; null: same outcome. */
  flip: 'to-correct' | 'to-wrong' | null;
}

export interface ModelAccuracy {
  correct: number;
  ties: number;
  /** correct / n */
  accuracy: number;
  /** percentile bootstrap of the accuracy (NaN interval below 2 pairs) */
  ci: BootstrapCi;
}

export interface QuantizationComparison {
  n: number;
  base: ModelAccuracy;
  quant: ModelAccuracy;
  /** quant accuracy − base accuracy, paired bootstrap over the same pairs */
  accuracyDiff: PairedBootstrapCi;
  /** Number of pairs whose `correct` differs. */
  flips: number;
  flipsToCorrect: number;
  flipsToWrong: number;
  /** Exact two-sided McNemar p-value of "quantization does not change accuracy" (1 when nothing flips). */
  mcnemarP: number;
  /** max |ΔP(Yes)| over the 2n responses */
  maxAbsDPYes: number;
  /** mean |ΔP(Yes)| over the 2n responses */
  meanAbsDPYes: number;
  maxAbsDMargin: number;
  /** The pairs that flip, in input order. */
  flipped: PairComparison[];
  pairs: PairComparison[];
}

export interface CompareQuantizedOptions extends IpoOptions {
  /** Bootstrap settings for the intervals (default 1000 replicates, seed 42, 95 %). */
  bootstrap?: BootstrapOptions;
  /** Called after each pair with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** P(X ≤ k) for X ~ Binomial(n, ½): terms C(n, i)/2ⁿ by the recurrence from 2⁻ⁿ (log space past n = 1000). */
function binomHalfCdf(k: number, n: number): number {
  let sum = 0;
  if (n <= 1000) {
    let term = 0.5 ** n; // exact
    for (let i = 0; i <= k; i++) {
      if (i > 0) term = (term * (n - i + 1)) / i;
      sum += term;
    }
    return sum;
  }
  let logC = 0; // log C(n, 0)
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    sum += Math.exp(logC - n * Math.LN2);
  }
  return sum;
}

/** Exact two-sided McNemar p-value from the two discordant counts. */
export function mcnemarExactP(toCorrect: number, toWrong: number): number {
  const m = toCorrect + toWrong;
  if (m === 0) return 1;
  return Math.min(1, 2 * binomHalfCdf(Math.min(toCorrect, toWrong), m));
}

function side(s: IpoPairScore): SideScores {
  return { chosen: s.chosen.pYes, rejected: s.rejected.pYes, correct: s.correct, tie: s.tie };
}

function accuracyOf(correct: boolean[], ties: number, bootstrap?: BootstrapOptions): ModelAccuracy {
  const k = correct.filter(Boolean).length;
  return { correct: k, ties, accuracy: correct.length ? k / correct.length : NaN, ci: bootstrapCi(correct.map(Number), bootstrap) };
}

/**
 * Score `pairs` with `base` (e.g. the fp32 graph) and `quant` (e.g. the same model loaded with dtype 'q8') and report
 * how the scores and the accuracy move. Pairs are scored one at a time with `scorePair` and the same `opts` for both
 * models (base first, then quant, pair by pair). Throws on an empty or non-array `pairs`.
 */
export async function compareQuantized(base: CausalLM, quant: CausalLM, pairs: IpoPair[], opts: CompareQuantizedOptions = {}): Promise<QuantizationComparison> {
  if (!Array.isArray(pairs)) throw new Error(`compareQuantized: pairs must be an array, got ${describe(pairs)}`);
  if (pairs.length === 0) throw new Error('compareQuantized: no pairs to compare');
  const { bootstrap, onProgress, ...ipo } = opts;
  const rows: PairComparison[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i];
    const b = side(await scorePair(base, p, ipo));
    const q = side(await scorePair(quant, p, ipo));
    const id = (p as { id?: unknown }).id;
    rows.push({
      index: i,
      ...(id !== undefined ? { id: String(id) } : {}),
      ...(p.category !== undefined ? { category: p.category } : {}),
      base: b,
      quant: q,
      dChosen: q.chosen - b.chosen,
      dRejected: q.rejected - b.rejected,
      dMargin: (q.chosen - q.rejected) - (b.chosen - b.rejected),
      flip: b.correct === q.correct ? null : q.correct ? 'to-correct' : 'to-wrong',
    });
    onProgress?.(i + 1, pairs.length);
  }
  const n = rows.length;
  const flipped = rows.filter((r) => r.flip !== null);
  const toCorrect = flipped.filter((r) => r.flip === 'to-correct').length;
  const toWrong = flipped.length - toCorrect;
  const absD = rows.flatMap((r) => [Math.abs(r.dChosen), Math.abs(r.dRejected)]);
  const bc = rows.map((r) => r.base.correct);
  const qc = rows.map((r) => r.quant.correct);
  return {
    n,
    base: accuracyOf(bc, rows.filter((r) => r.base.tie).length, bootstrap),
    quant: accuracyOf(qc, rows.filter((r) => r.quant.tie).length, bootstrap),
    accuracyDiff: pairedBootstrapCi(qc.map(Number), bc.map(Number), bootstrap),
    flips: flipped.length,
    flipsToCorrect: toCorrect,
    flipsToWrong: toWrong,
    mcnemarP: mcnemarExactP(toCorrect, toWrong),
    maxAbsDPYes: Math.max(...absD),
    meanAbsDPYes: absD.reduce((a, v) => a + v, 0) / absD.length,
    maxAbsDMargin: Math.max(...rows.map((r) => Math.abs(r.dMargin))),
    flipped,
    pairs: rows,
  };
}
