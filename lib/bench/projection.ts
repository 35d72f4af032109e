/**
 * Projections for docs/performance.md: how long a full benchmark or a DPO epoch would take, from the token counts of
 * the data and a rate measured by `npm run bench` in the same run. They are PROJECTIONS (labelled so everywhere):
 * the CPU ones multiply measured throughput by token counts; the GPU ones are on paper (FLOPs ÷ an assumed
 * utilisation of a datasheet peak, and a weight-bandwidth floor).
 *
 * Scoring cost of one IPO pair (FLOP model of lib/models/flops.ts, LM head on the one row that is read):
 *
 *     plain  (two independent passes):          2·N_body·(T_c + T_r) + 2·2·d·V
 *     shared (prefix once, `forkedLogProbs`):   2·N_body·(T_c + T_r − P) + 2·2·d·V
 *
 * with T_c, T_r the token counts of the chosen / rejected IPO prompts after truncation and P their common prefix.
 * The issue's "ratio counting only the FLOPs the plain path would need" is plain FLOPs ÷ wall time.
 */
import { llamaParamCounts, type LlamaShape } from '../models/flops';
import { buildIpoPrompt, type IpoLayout } from '../scoring/prompt';
import { resolveTemplate, type TemplateSet } from '../scoring/templates';

/** Token counts of one pair's two IPO prompts. */
export interface PairTokenCount {
  chosen: number;
  rejected: number;
  /** Length of their common token prefix (≤ min(chosen, rejected)). */
  shared: number;
}

export interface PairText {
  instruction: string;
  chosen: string;
  rejected: string;
  category?: string;
}

/**
 * The two prompts of `pair` as the paper preset feeds them (`encode` with special tokens, right-truncated to
 * `maxLength`, the official default 1024), and their common prefix.
 */
export function ipoPairTokens(
  encode: (text: string) => number[], pair: PairText, opts: { layout?: IpoLayout; templateSet?: TemplateSet; maxLength?: number } = {},
): PairTokenCount {
  const layout = opts.layout ?? 'rewardbench';
  const max = opts.maxLength ?? 1024;
  const template = resolveTemplate(pair.category, opts.templateSet ?? (layout === 'rmbench' ? 'rmbench' : 'rewardbench')).template;
  const ids = (response: string) => encode(buildIpoPrompt({ instruction: pair.instruction, response, template, layout })).slice(0, max);
  const c = ids(pair.chosen);
  const r = ids(pair.rejected);
  let k = 0;
  while (k < c.length && k < r.length && c[k] === r[k]) k++;
  return { chosen: c.length, rejected: r.length, shared: k };
}

/** Sums over a data set's pairs (what a projection needs). */
export interface WorkloadTokens {
  name: string;
  /** Pairs the projection is for. */
  pairs: number;
  /** Pairs whose tokens were counted (the rest are extrapolated at the counted mean; see `note`). */
  counted: number;
  /** Σ (T_c + T_r): positions the plain path runs. */
  plainTokens: number;
  /** Σ (T_c + T_r − P): positions the shared-prefix path runs. */
  sharedTokens: number;
  /** Where the counts come from and what is extrapolated. */
  note: string;
}

export function sumPairTokens(name: string, counts: readonly PairTokenCount[], note: string): WorkloadTokens {
  let plain = 0, shared = 0;
  for (const c of counts) {
    plain += c.chosen + c.rejected;
    shared += c.chosen + c.rejected - c.shared;
  }
  return { name, pairs: counts.length, counted: counts.length, plainTokens: plain, sharedTokens: shared, note };
}

/** The same workload for `pairs` pairs, the uncounted ones at the counted mean (labelled in `note`). */
export function scaleWorkload(w: WorkloadTokens, pairs: number, name: string, note: string): WorkloadTokens {
  if (!(w.counted > 0)) throw new Error(`scaleWorkload: ${w.name} has no counted pairs to extrapolate from`);
  const f = pairs / w.counted;
  return { name, pairs, counted: w.counted, plainTokens: w.plainTokens * f, sharedTokens: w.sharedTokens * f, note };
}

/** FLOPs of scoring a workload: `plain` or `shared` path (file comment), LM head on one row per prompt. */
export function scoringFlops(shape: LlamaShape, w: WorkloadTokens, path: 'plain' | 'shared'): number {
  const n = llamaParamCounts(shape);
  const tokens = path === 'plain' ? w.plainTokens : w.sharedTokens;
  return 2 * n.bodyMatmul * tokens + 2 * 2 * shape.hiddenSize * shape.vocabSize * w.pairs;
}

/** Minutes to do `flops` at `gflopsPerS` (a rate measured in the same bench run). NaN for a non-positive rate. */
export function minutesAt(flops: number, gflopsPerS: number): number {
  return gflopsPerS > 0 ? flops / (gflopsPerS * 1e9) / 60 : NaN;
}

/** A GPU on paper: datasheet dense bf16 peak and HBM bandwidth. */
export interface PaperGpu {
  name: string;
  /** Dense (no sparsity) bf16 tensor-core peak, TFLOP/s. */
  peakTflops: number;
  /** HBM bandwidth, TB/s. */
  bandwidthTBs: number;
}

/** Datasheet figures (NVIDIA product pages: A100 SXM 80 GB, H100 SXM, H200 SXM). */
export const PAPER_GPUS: readonly PaperGpu[] = Object.freeze([
  { name: 'A100-SXM 80GB', peakTflops: 312, bandwidthTBs: 2.039 },
  { name: 'H100-SXM', peakTflops: 989, bandwidthTBs: 3.35 },
  { name: 'H200-SXM', peakTflops: 989, bandwidthTBs: 4.8 },
]);

/**
 * Minutes on a paper GPU: the larger of a compute bound, `flops ÷ (mfu · peak)`, and a weight-bandwidth floor,
 * `passes · bytes(weights) ÷ bandwidth` (every forward pass reads every weight once; batching `batch` sequences per
 * pass divides the passes). `mfu` default 0.4 (a typical prefill utilisation, not measured here); bf16 weights.
 */
export function gpuMinutes(shape: LlamaShape, flops: number, sequences: number, gpu: PaperGpu, opts: { mfu?: number; batch?: number; bytesPerParam?: number } = {}): { compute: number; bandwidth: number; minutes: number } {
  const mfu = opts.mfu ?? 0.4;
  const passes = Math.ceil(sequences / (opts.batch ?? 16));
  const bytes = llamaParamCounts(shape).total * (opts.bytesPerParam ?? 2);
  const compute = flops / (mfu * gpu.peakTflops * 1e12) / 60;
  const bandwidth = (passes * bytes) / (gpu.bandwidthTBs * 1e12) / 60;
  return { compute, bandwidth, minutes: Math.max(compute, bandwidth) };
}

/**
 * FLOPs of one DPO step on a [chosen; rejected] pair of `tokens` each, counted as the bench's dpo-step row counts
 * them (scripts/bench.ts): 3 × the policy forward (forward + a backward of twice its cost, the 6·N·T convention)
 * + 1 × the reference forward; LM head on the `headRows` completion rows of each sequence. The per-layer
 * recomputation of checkpointing is extra work that is not counted (as in MFU).
 */
export function dpoStepFlops(shape: LlamaShape, tokens: number, headRows: number): number {
  const n = llamaParamCounts(shape);
  const forward = 2 * (2 * n.bodyMatmul * tokens + 2 * shape.hiddenSize * shape.vocabSize * headRows); // both sequences
  return 4 * forward;
}

/** Qwen2.5-0.5B-Instruct (the authors' small model), from its Hugging Face config.json, for projections only. */
export const QWEN25_05B_SHAPE: LlamaShape = Object.freeze({
  vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numHiddenLayers: 24,
  numAttentionHeads: 14, numKeyValueHeads: 2, headDim: 64, tieWordEmbeddings: true, attentionBias: true,
});

/** What one bench run measured on one model, as the projections use it. */
export interface MeasuredRate {
  /** Bench model key, e.g. `smollm2-135m-random`. */
  model: string;
  shape: LlamaShape;
  /** The fastest IPO scoring row of this model: FLOPs it actually executed ÷ its time. */
  scoring?: { engine: string; workload: string; path: 'plain' | 'shared'; executedGflopsPerS: number };
  /** dpo-step row: ms per [chosen; rejected] pair of `tokens` each, `headRows` completion rows, on `engine`. */
  dpo?: { ms: number; tokens: number; headRows: number; engine?: string };
}

/** A model shape to project for, and which measured model's rates stand in for it on this CPU. */
export interface ProjectionTarget {
  label: string;
  shape: LlamaShape;
  /** `MeasuredRate.model` whose achieved GFLOP/s is assumed for this shape (same engine, same CPU). */
  ratesFrom: string;
  /** Add the paper-GPU rows (default true; off for toy models, where launch overhead, not FLOPs, would decide). */
  gpu?: boolean;
}

export interface ProjectionRow {
  workload: string;
  shape: string;
  where: string;
  minutes: number;
  /** How the number was obtained (measured rate × counted tokens, FLOP scaling, or on paper). */
  basis: string;
}

/**
 * The projection table of docs/performance.md: for every target shape, scoring each workload (minutes at the measured
 * scoring rate, counted tokens; GPUs on paper) and one DPO epoch on `dpoPairs` pairs (measured step time, scaled by
 * FLOPs for shapes that were not measured; GPUs on paper).
 */
export function buildProjections(opts: {
  measured: readonly MeasuredRate[];
  targets: readonly ProjectionTarget[];
  /** Token counts per workload, keyed by the tokenizer family they were counted with (same key as target.label). */
  workloads: Readonly<Record<string, readonly WorkloadTokens[]>>;
  gpus?: readonly PaperGpu[];
  dpoPairs?: number;
  mfu?: number;
}): ProjectionRow[] {
  const gpus = opts.gpus ?? PAPER_GPUS;
  const dpoPairs = opts.dpoPairs ?? 1000;
  const out: ProjectionRow[] = [];
  for (const t of opts.targets) {
    const tgpus = t.gpu === false ? [] : gpus;
    const m = opts.measured.find((x) => x.model === t.ratesFrom);
    const same = m !== undefined && llamaParamCounts(m.shape).total === llamaParamCounts(t.shape).total;
    for (const w of opts.workloads[t.label] ?? []) {
      if (m?.scoring) {
        const s = m.scoring;
        out.push({
          workload: w.name, shape: t.label, where: `this CPU (${s.engine})`,
          minutes: minutesAt(scoringFlops(t.shape, w, s.path), s.executedGflopsPerS),
          basis: `${same ? 'measured' : `${m.model}'s measured`} ${fmt(s.executedGflopsPerS)} GFLOP/s (${s.workload}) × FLOPs of ${fmtCount(s.path === 'plain' ? w.plainTokens : w.sharedTokens)} counted positions${w.counted < w.pairs ? ` (${w.counted} pairs counted, ${w.pairs} extrapolated)` : ''}`,
        });
      }
      for (const g of tgpus) {
        const r = gpuMinutes(t.shape, scoringFlops(t.shape, w, 'shared'), 2 * w.pairs, g, { mfu: opts.mfu });
        out.push({
          workload: w.name, shape: t.label, where: `${g.name} (on paper)`, minutes: r.minutes,
          basis: `max(compute ${fmt(r.compute)} min at MFU ${opts.mfu ?? 0.4}, weight reads ${fmt(r.bandwidth)} min at batch 16)`,
        });
      }
    }
    const dpoFlops = dpoStepFlops(t.shape, m?.dpo?.tokens ?? 512, m?.dpo?.headRows ?? 384);
    if (m?.dpo) {
      const scale = same ? 1 : dpoFlops / dpoStepFlops(m.shape, m.dpo.tokens, m.dpo.headRows);
      out.push({
        workload: `one DPO epoch, ${dpoPairs} pairs × ${m.dpo.tokens} tokens`, shape: t.label, where: `this CPU (${m.dpo.engine ?? 'tf wasm'})`,
        minutes: (m.dpo.ms * scale * dpoPairs) / 60000,
        basis: same ? `measured ${fmt(m.dpo.ms / 1000)} s per step × ${dpoPairs}` : `${m.model}'s measured step × FLOP ratio ${fmt(scale)}`,
      });
    }
    for (const g of tgpus) {
      out.push({
        workload: `one DPO epoch, ${dpoPairs} pairs × ${m?.dpo?.tokens ?? 512} tokens`, shape: t.label, where: `${g.name} (on paper)`,
        minutes: (dpoFlops * dpoPairs) / ((opts.mfu ?? 0.4) * g.peakTflops * 1e12) / 60,
        basis: `${fmt(dpoFlops / 1e12)} TFLOP per step at MFU ${opts.mfu ?? 0.4}`,
      });
    }
  }
  return out;
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(2);
}

function fmtCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** The fields of a bench row the projections read (scripts/bench.ts `BenchRow`). */
export interface BenchRowLike {
  model: string;
  engine: string;
  workload: string;
  kind: string;
  medianMs: number;
  tokens: number;
  headRows: string;
  detail?: Record<string, unknown>;
}

/**
 * A model's `MeasuredRate` from one bench run's rows: the FASTEST IPO scoring row (per pair; ipo-pair, -plain,
 * -batch8, -q8 on any engine) with the FLOPs it executed per second, and the dpo-step row if any.
 */
export function measuredRate(rows: readonly BenchRowLike[], model: string, shape: LlamaShape): MeasuredRate {
  const scoring = rows.filter((r) => r.model === model && r.kind === 'ipo' && r.workload.startsWith('ipo-pair') && Number.isFinite(r.medianMs) && r.medianMs > 0
    && typeof r.detail?.executedGflop === 'number')
    .sort((a, b) => a.medianMs - b.medianMs)[0];
  const dpo = rows.find((r) => r.model === model && r.workload.startsWith('dpo-step-') && Number.isFinite(r.medianMs));
  return {
    model, shape,
    scoring: scoring && {
      engine: `${scoring.engine}${scoring.detail?.device && scoring.detail.device !== 'cpu' ? `/${String(scoring.detail.device)}` : ''}${scoring.detail?.dtype && scoring.detail.dtype !== 'fp32' && scoring.engine === 'onnx' ? ` ${String(scoring.detail.dtype)}` : ''}`,
      workload: scoring.workload,
      path: scoring.detail?.variant === 'shared' ? 'shared' : 'plain',
      executedGflopsPerS: (scoring.detail!.executedGflop as number) / (scoring.medianMs / 1000),
    },
    dpo: dpo && { ms: dpo.medianMs, tokens: dpo.tokens / 2, headRows: Number(dpo.headRows), engine: `${dpo.engine} ${String(dpo.detail?.backend ?? 'wasm')}` },
  };
}
