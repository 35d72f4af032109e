/**
 * `npm run bench`: how fast the two engines run the kit's workloads, as RATIOS against matmul peaks measured in the
 * same run (the project rule: speed lives in benchmarks, as ratios, never as timed assertions in tests).
 *
 *  1. Peaks: fp32 matmul GFLOP/s of each engine (tfjs wasm `tf.matMul`; onnxruntime-node `MatMul` in a one-node ONNX
 *     graph), best of N after warm-up, measured at the start and again at the end of the run (the peak is the best).
 *  2. Workloads on each model × engine (tf = TensorFlow.js wasm Llama, onnx = transformers.js/ONNX Runtime on the
 *     kit's exported graph):
 *       prefill-128 / prefill-512  `nextTokenLogProbsBatch([ids])`, one sequence;
 *       decode                     tokens/s of `generate` with the KV cache (time of 1+n tokens minus time of 1);
 *       ipo-pair                   `scorePair` with the paper preset on RewardBench-like ~300-token IPO prompts;
 *       ipo-cache-warm             the same pairs through the cached `scorePairs`, cold then warm (per pair; the
 *                                  detail has the cold / warm speed-up);
 *       dpo-step-512 (tf only)     one DPO step on a [chosen; rejected] pair of 512 tokens each: reference log-probs
 *                                  with the adapters off, then policy forward + backward with LoRA r = 8 on every
 *                                  linear and per-layer checkpointing (no optimizer update); wasm heap and peak RSS
 *                                  in the row's detail. On the 135M model one warm-up + one timed step (~3 min).
 *  3. A table: median time of k runs after warm-up, tokens/s, achieved GFLOP/s and ratio = achieved / peak of the
 *     same engine, printed and written to reports/bench.json and reports/bench.md.
 *
 * FLOP model (lib/models/flops.ts): 2·N_body·T + 2·d·V per position whose logits are computed. The TF engine computes
 * LM-head rows only where asked (1 row for next-token scoring), and so does the ONNX engine on graphs exported with a
 * `num_logits_to_keep` input; older graphs compute logits at every position (T rows), counted as such. Attention matmuls (4·L·d·T·S, dense) are not in
 * the headline number; the "+attn" column says how much they would add.
 *
 * Models: `tinystories-656k` (the shared embedded model) and `smollm2-135m-random`, a SmolLM2-135M-shaped model with
 * RANDOM weights made once under .cache/bench/ (speed only; its outputs mean nothing). Any model folder also works.
 *
 *   npm run bench                       # both models, both engines (~8 min on 2 cores, 3 of them the 135M DPO step)
 *   npm run bench -- --models smollm2-135m-random --engines tf --workloads dpo   # just the DPO-step row
 *   npm run bench -- --quick            # TinyStories only, 3 runs each
 *   npm run bench -- --models smollm2-135m-random --engines onnx --json
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { OnnxCausalLM } from '../lib/models/onnx.ts';
import { basename, join, resolve } from 'node:path';
import { cpus, loadavg, totalmem } from 'node:os';
import { createHash } from 'node:crypto';
import { Command, Option } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { readLlamaConfig } from '../lib/models/config.ts';
import { ensureBackend } from '../lib/models/backend.ts';
import { probeWebGpu, type WebGpuAdapterInfo } from '../lib/models/webgpu.ts';
import { exportOnnxFromRef } from '../lib/models/export-onnx.ts';
import { loadTfModel, weightsComplete } from '../lib/models/load.ts';
import { makeRandomModel } from '../lib/models/make-model.ts';
import { loadOnnxModel } from '../lib/models/onnx.ts';
import type { CausalLM, EngineName, LlamaConfig } from '../lib/models/types.ts';
import { rebuildRewardBench } from '../lib/data/rewardbench-rebuild.ts';
import { buildIpoPrompt } from '../lib/scoring/prompt.ts';
import { resolveTemplate } from '../lib/scoring/templates.ts';
import { scorePair, scorePairBatch, type IpoPair } from '../lib/scoring/yes-no.ts';
import { scorePairs } from '../lib/scoring/score-pairs.ts';
import { compareQuantized, rewardBenchSlice } from '../lib/eval/quantization.ts';
import type { TfCausalLM } from '../lib/models/tf-causal-lm.ts';
import { logSigmoid } from '../lib/models/tf-grad-fixes.ts';
import { sequenceLogps } from '../lib/models/token-logps.ts';
import { LoraAdapters } from '../lib/dpo/lora.ts';
import { displayPath, findAsset, kitCacheDir, repoRoot } from '../lib/util/paths.ts';
import { renderFigure } from '../lib/util/plot.ts';
import { formatDuration, progress, type ProgressBar } from '../lib/util/progress.ts';
import { intArg } from '../lib/util/cli-args.ts';
import {
  batchForwardFlops, classifyTfKernels, decodeFlops, fmtMs, fmtSig, forwardFlops, gflopsPerSecond, llamaParamCounts, markdownTable, measure,
  ortMatmulPeak, peakOf, PEAK_SHAPES, ratioToPeak, shapeLabel, textTable, tfMatmulPeak,
  benchRatioFigure, buildProjections, measuredRate, QWEN25_05B_SHAPE, scoringWorkloads,
  type FlopCount, type HeadRows, type ProjectionRow, type ProjectionTarget, type WorkloadTokens, type KernelResult, type Measurement, type MeasureOptions, type TfKernelBucket, type TfKernelRecord,
} from '../lib/bench/index.ts';

const T_START = performance.now();
const elapsedS = () => (performance.now() - T_START) / 1000;

// ---------------------------------------------------------------------------------------------------------------
// options

interface Opts {
  quick?: boolean;
  models?: string;
  engines: string;
  reps?: number;
  json?: boolean;
  out: string;
  profile: boolean;
  workloads: string;
}

const WORKLOADS = ['prefill', 'decode', 'ipo', 'sft', 'dpo'] as const;


const program = new Command('bench')
  .description('engine benchmark: prefill, decode and IPO scoring throughput as ratios of matmul peaks measured in the same run')
  .option('--quick', 'fewer repetitions, small model only (tinystories-656k)')
  .option('--models <list>', 'comma-separated: tinystories-656k, smollm2-135m-random (RANDOM weights, made once under .cache/bench/), or model folders (default: both built-ins; --quick: tinystories-656k)')
  .addOption(new Option('--engines <list>', 'comma-separated engines: tf, onnx').default('tf,onnx'))
  .option('--reps <k>', 'timed runs per workload (default: 3 to 10 within a time budget; --quick: 3)', intArg('--reps', 1))
  .option('--json', 'print one JSON object on stdout (the table goes to stderr)')
  .option('--out <dir>', 'folder for bench.json and bench.md', 'reports')
  .option('--no-profile', 'skip the TensorFlow.js kernel profiles (one prefill-128 pass, one DPO step)')
  .addOption(new Option('--workloads <list>', `comma-separated: ${WORKLOADS.join(', ')} (sft and dpo run on the tf engine only)`).default(WORKLOADS.join(',')))
  .configureOutput({ outputError: (str, write) => write(`bench: ${str.split('\n').filter(Boolean)[0].replace(/^error: /, '')} (see npm run bench -- --help)\n`) });

// ---------------------------------------------------------------------------------------------------------------
// models

interface ModelSpec {
  /** Name in the table. */
  key: string;
  label: string;
  /** Folder with config.json + model.safetensors (tf engine). */
  tfDir: string;
  /** Folder with onnx/model.onnx (onnx engine). */
  onnxDir: string;
  random: boolean;
  config: LlamaConfig;
  /** Decode: new tokens per timed run. */
  decodeTokens: number;
  prepSeconds: number;
}

const BUILTIN = ['tinystories-656k', 'smollm2-135m-random'] as const;
const ALIASES: Record<string, string> = { tiny: 'tinystories-656k', tinystories: 'tinystories-656k', smol: 'smollm2-135m-random', 'smollm2-135m': 'smollm2-135m-random' };

function log(msg: string): void {
  process.stderr.write(`[bench ${elapsedS().toFixed(1).padStart(5)} s] ${msg}\n`);
}

function sameShape(a: LlamaConfig, b: LlamaConfig): boolean {
  const keys: (keyof LlamaConfig)[] = ['vocabSize', 'hiddenSize', 'intermediateSize', 'numHiddenLayers', 'numAttentionHeads', 'numKeyValueHeads', 'headDim', 'tieWordEmbeddings'];
  return keys.every((k) => a[k] === b[k]);
}

/** The SmolLM2-135M-shaped RANDOM-weight model under .cache/bench/, made on first use (≈ 1 GB on disk, ~10 s). */
function prepareSmolRandom(): { dir: string; made: boolean } {
  const like = findAsset('smollm2-135m-instruct-tokenizer/config.json');
  const dir = join(kitCacheDir(), 'bench', 'smollm2-135m-random');
  const wanted = readLlamaConfig(resolve(like, '..'));
  const ok = (() => {
    try {
      // README.md is written last by makeRandomModel: its presence marks a complete folder.
      if (!existsSync(join(dir, 'README.md')) || !existsSync(join(dir, 'onnx', 'model.onnx')) || !weightsComplete(dir)) return false;
      if (!existsSync(join(dir, 'onnx', 'model_quantized.onnx'))) return false; // made before the q8 rows existed
      // graphs exported before the num_logits_to_keep input existed are remade (the bytes of the input name are in the file)
      if (!readFileSync(join(dir, 'onnx', 'model.onnx')).includes('num_logits_to_keep')) return false;
      const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      return raw._ipo_random_weights === true && sameShape(readLlamaConfig(dir), wanted);
    } catch {
      return false;
    }
  })();
  if (ok) return { dir, made: false };
  log(`making the SmolLM2-135M-shaped RANDOM-weight model in ${dir} (once; reused by later runs)`);
  makeRandomModel({ like, outDir: dir, seed: 0, onnxOptions: { quantize: 'q8' } });
  return { dir, made: true };
}

async function prepareModel(name: string): Promise<ModelSpec> {
  const t0 = performance.now();
  const key = ALIASES[name] ?? name;
  const done = (spec: Omit<ModelSpec, 'prepSeconds'>): ModelSpec => ({ ...spec, prepSeconds: (performance.now() - t0) / 1000 });
  if (key === 'smollm2-135m-random') {
    const { dir } = prepareSmolRandom();
    return done({ key, label: 'smollm2-135m (RANDOM weights)', tfDir: dir, onnxDir: dir, random: true, config: readLlamaConfig(dir), decodeTokens: 16 });
  }
  const tfDir = key === 'tinystories-656k' ? findAsset('models/tinystories-656k') : resolve(key);
  if (!existsSync(join(tfDir, 'config.json'))) throw new Error(`model '${name}' not found: use ${BUILTIN.join(', ')} or a model folder with config.json`);
  const config = readLlamaConfig(tfDir);
  let onnxDir = tfDir;
  if (!existsSync(join(tfDir, 'onnx', 'model.onnx'))) {
    // Exported fresh every run (the exporter may have changed); small models take well under a second.
    const tag = createHash('sha256').update(resolve(tfDir)).digest('hex').slice(0, 8);
    onnxDir = join(kitCacheDir(), 'bench', `${basename(tfDir)}-${tag}-onnx`);
    await exportOnnxFromRef(tfDir, onnxDir, { quantize: 'q8' });
  }
  let random = false;
  try {
    random = (JSON.parse(readFileSync(join(tfDir, 'config.json'), 'utf8')) as Record<string, unknown>)._ipo_random_weights === true;
  } catch { /* keep false */ }
  const label = key === 'tinystories-656k' ? 'tinystories-656k' : `${basename(tfDir)}${random ? ' (RANDOM weights)' : ''}`;
  const big = llamaParamCounts(config).total > 50e6;
  return done({ key: key === 'tinystories-656k' ? key : basename(tfDir), label, tfDir, onnxDir, random, config, decodeTokens: big ? 16 : 64 });
}

async function loadEngine(spec: ModelSpec, engine: EngineName, dtype: 'fp32' | 'q8' = 'fp32'): Promise<CausalLM> {
  return engine === 'tf' ? loadTfModel(spec.tfDir) : loadOnnxModel(spec.onnxDir, { dtype });
}

// ---------------------------------------------------------------------------------------------------------------
// inputs

const FILLER = 'The little robot walked along the quiet river at dawn, counting the stones and naming the birds it met. '
  + 'Every morning it wrote down what it saw: a heron standing still, two ducks arguing, a fox that never came close. '
  + 'When the rain came, the robot sheltered under an old bridge and read its notes again, wondering which day had been the best. ';

/** `T` token ids of ordinary text (BOS first when the tokenizer adds one). */
function textIds(m: CausalLM, T: number): number[] {
  let text = FILLER;
  let ids = m.encode(text);
  while (ids.length < T) {
    text += FILLER;
    ids = m.encode(text);
  }
  return ids.slice(0, T);
}

interface PairSet {
  pairs: IpoPair[];
  /** 'rebuilt RewardBench (subsets …)' or 'synthetic'. */
  source: string;
}

/**
 * `count` IPO pairs whose two prompts (template + instruction + response, as scorePair builds them) are 240–360
 * tokens for this model's tokenizer, closest to 300 first: from the offline RewardBench rebuild when its sources are
 * there, topped up with synthetic text otherwise.
 */
function ipoPairs(m: CausalLM, count: number): PairSet {
  const tokens = (instruction: string, response: string, subset: string) =>
    m.encode(buildIpoPrompt({ instruction, response, template: resolveTemplate(subset).template })).length;
  const picked: { pair: IpoPair; dist: number; id: string }[] = [];
  const subsets = ['alpacaeval-easy', 'alpacaeval-length', 'alpacaeval-hard', 'llmbar-natural', 'llmbar-adver-neighbor', 'xstest-should-respond'];
  let used: string[] = [];
  try {
    for (const r of rebuildRewardBench({ subsets }).rows) {
      const chars = r.prompt.length + Math.max(r.chosen.length, r.rejected.length);
      if (chars < 300 || chars > 3000) continue;
      const a = tokens(r.prompt, r.chosen, r.subset);
      const b = tokens(r.prompt, r.rejected, r.subset);
      if (a < 240 || a > 360 || b < 240 || b > 360) continue;
      picked.push({ pair: { instruction: r.prompt, chosen: r.chosen, rejected: r.rejected, category: r.subset }, dist: Math.max(Math.abs(a - 300), Math.abs(b - 300)), id: String(r.id) });
    }
    picked.sort((x, y) => x.dist - y.dist || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    used = [...new Set(picked.slice(0, count).map((p) => p.pair.category!))];
  } catch {
    // sources missing: synthetic pairs only
  }
  const pairs = picked.slice(0, count).map((p) => p.pair);
  let synthetic = 0;
  while (pairs.length < count) {
    const i = pairs.length;
    const instruction = `Summarise what the robot noticed on day ${i + 1}, in a few sentences.`;
    const words = FILLER.repeat(20).split(' ');
    const respond = (offset: number) => {
      let n = 40;
      while (n < words.length && tokens(instruction, words.slice(offset, offset + n).join(' '), 'alpacaeval-easy') < 300) n += 5;
      return words.slice(offset, offset + n).join(' ');
    };
    pairs.push({ instruction, chosen: respond(i % 7), rejected: respond((i % 7) + 11), category: 'alpacaeval-easy' });
    synthetic++;
  }
  const source = synthetic === count ? 'synthetic text'
    : `rebuilt RewardBench (${used.join(', ')})${synthetic ? ` + ${synthetic} synthetic` : ''}`;
  return { pairs, source };
}

// ---------------------------------------------------------------------------------------------------------------
// results

type Kind = 'kernel' | 'prefill' | 'decode' | 'ipo' | 'train';

interface BenchRow {
  model: string;
  engine: EngineName;
  workload: string;
  kind: Kind;
  /** Tokens processed per timed unit (a prefill, n decode steps, one IPO pair = two prompts). */
  tokens: number;
  /** LM-head rows per forward: '1' (last position), 'T' (every position), '-' for kernels. */
  headRows: string;
  medianMs: number;
  minMs: number;
  reps: number;
  samplesMs: number[];
  tokensPerS: number;
  /** IPO and DPO: pairs/s. */
  pairsPerS?: number;
  /** FLOPs per timed unit. */
  flops: FlopCount;
  gflops: number;
  ratio: number;
  /** Attention FLOPs ÷ headline FLOPs. */
  attnShare: number;
  /** Process CPU time ÷ wall time over the measurement (≈ busy cores: ~1 for single-threaded tfjs wasm). */
  cpuPerWall: number;
  detail?: Record<string, unknown>;
}

interface TfProfile {
  model: string;
  workload: string;
  wallMs: number;
  kernelMs: number;
  buckets: TfKernelBucket[];
  /** Kernel launches in the profiled unit. */
  kernels?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// workloads

interface Ctx {
  spec: ModelSpec;
  engine: EngineName;
  m: CausalLM;
  mopts: MeasureOptions;
  bar: ProgressBar;
  rows: BenchRow[];
}

function headRowsOf(ctx: Ctx): HeadRows {
  // TfCausalLM sends only the rows it reads through the LM head; OnnxCausalLM does the same when the graph has a
  // `num_logits_to_keep` input (exports since that input was added), and gets logits at every position otherwise.
  if (ctx.engine === 'tf') return 'last';
  return (ctx.m as OnnxCausalLM).hasLogitsToKeep ? 'last' : 'all';
}

/** Run `f` and report the process CPU time used per wall-clock time (user + system, all threads). */
async function withCpu<T>(f: () => Promise<T>): Promise<{ value: T; cpuPerWall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, cpuPerWall: (c.user + c.system) / 1000 / wall };
}

function pushRow(ctx: Ctx, r: Omit<BenchRow, 'model' | 'engine' | 'gflops' | 'ratio' | 'attnShare'>): BenchRow {
  const gflops = gflopsPerSecond(r.flops.total, r.medianMs);
  const where = ctx.engine === 'tf' ? { backend: tf.getBackend() } : { device: (ctx.m as OnnxCausalLM).device };
  const row: BenchRow = {
    model: ctx.spec.key, engine: ctx.engine, ...r, detail: { ...where, ...r.detail }, gflops, ratio: NaN, attnShare: r.flops.total ? r.flops.attention / r.flops.total : 0,
  };
  ctx.rows.push(row);
  ctx.bar.tick(1, { info: `${ctx.spec.key} ${ctx.engine} ${r.workload}: ${fmtMs(r.medianMs)}, ${fmtSig(gflops)} GFLOP/s` });
  return row;
}

async function prefill(ctx: Ctx, T: number): Promise<void> {
  const ids = textIds(ctx.m, T);
  const { value: meas, cpuPerWall } = await withCpu(() => measure(() => ctx.m.nextTokenLogProbsBatch([ids]), ctx.mopts));
  const hr = headRowsOf(ctx);
  pushRow(ctx, {
    workload: `prefill-${T}`, kind: 'prefill', tokens: T, headRows: hr === 'last' ? '1' : 'T', medianMs: meas.medianMs, minMs: meas.minMs,
    reps: meas.reps, samplesMs: meas.samplesMs, tokensPerS: (T / meas.medianMs) * 1000, flops: forwardFlops(ctx.spec.config, { tokens: T, headRows: hr }), cpuPerWall,
    detail: { warmupMs: meas.warmupMs },
  });
}

async function decode(ctx: Ctx): Promise<void> {
  const P = 32;
  const n = ctx.spec.decodeTokens;
  const prompt = textIds(ctx.m, P);
  const gen = async (k: number) => {
    const out = await ctx.m.generate(prompt, { maxNewTokens: k, stopTokenIds: [] });
    if (out.length !== k) throw new Error(`decode: generate returned ${out.length} tokens, expected ${k}`);
  };
  // generate(1) = the prompt's prefill + 1 token; generate(1+n) adds n KV-cached decode steps.
  const base = await measure(() => gen(1), ctx.mopts);
  const { value: full, cpuPerWall } = await withCpu(() => measure(() => gen(1 + n), ctx.mopts));
  const samples = full.samplesMs.map((t) => t - base.medianMs);
  const med = full.medianMs - base.medianMs;
  const flops = decodeFlops(ctx.spec.config, { past: P, steps: n });
  const weightBytes = 4 * llamaParamCounts(ctx.spec.config).total;
  pushRow(ctx, {
    workload: `decode-${n}`, kind: 'decode', tokens: n, headRows: '1', medianMs: med, minMs: Math.min(...samples), reps: full.reps,
    samplesMs: samples, tokensPerS: (n / med) * 1000, flops, cpuPerWall,
    detail: {
      promptTokens: P, msPerToken: med / n, prefillPlusOneMs: base.medianMs,
      // every decode step reads every fp32 weight once: the memory traffic the step cannot avoid
      weightGBps: (weightBytes * n) / med / 1e6,
      weightBytes,
    },
  });
}

/** Common-prefix length of a pair's two scored inputs (after truncation), as `sharedPairScores` computes it. */
function sharedTokens(m: CausalLM, s: { chosen: { prompt: string }; rejected: { prompt: string } }, max: number): number {
  const a = m.encode(s.chosen.prompt).slice(0, max), b = m.encode(s.rejected.prompt).slice(0, max);
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

/**
 * ipo-pair-batch8: `scorePairBatch` on the first 4 pairs (8 length-sorted sequences: one engine call), per pair. FLOPs
 * as the other ipo rows: the plain path's work (here it is also what runs, plus padding).
 */
async function ipoBatched(ctx: Ctx, set: PairSet): Promise<void> {
  const hr = headRowsOf(ctx);
  const per: { tokens: number; shared: number; flops: FlopCount }[] = [];
  let correct = 0;
  const maxLen = Math.min(1024, ctx.m.maxLength);
  const pairs = set.pairs.slice(0, 4);
  const n = pairs.length;
  // one timed run after the warm-up on large models (a unit is ~30 s on the 135M shape on tf)
  const big = llamaParamCounts(ctx.spec.config).total > 50e6;
  const r = await withCpu((): Promise<Measurement> => measure(async (run) => {
    const scores = await scorePairBatch(ctx.m, pairs, { preset: 'paper', batchSize: 8 });
    if (run !== (ctx.mopts.warmup ?? 1)) return;
    for (const s of scores) {
      const lengths = [s.chosen.promptTokens, s.rejected.promptTokens];
      per.push({ tokens: lengths[0] + lengths[1], shared: sharedTokens(ctx.m, s, maxLen), flops: batchForwardFlops(ctx.spec.config, lengths, hr) });
      if (s.correct) correct++;
    }
  }, big ? { warmup: 1, minReps: 1, maxReps: 1 } : { ...ctx.mopts, maxReps: Math.min(ctx.mopts.maxReps ?? 3, 3) }));
  const meas = { ...r.value, medianMs: r.value.medianMs / n, minMs: r.value.minMs / n, samplesMs: r.value.samplesMs.map((x) => x / n) };
  const mean = (f: (x: (typeof per)[number]) => number) => per.reduce((a, x) => a + f(x), 0) / per.length;
  const tokens = mean((x) => x.tokens);
  const flops: FlopCount = { body: mean((x) => x.flops.body), head: mean((x) => x.flops.head), attention: mean((x) => x.flops.attention), total: mean((x) => x.flops.total), withAttention: mean((x) => x.flops.withAttention) };
  pushRow(ctx, {
    workload: 'ipo-pair-batch8', kind: 'ipo', tokens: Math.round(tokens), headRows: hr === 'last' ? '1' : 'T', medianMs: meas.medianMs, minMs: meas.minMs,
    reps: meas.reps, samplesMs: meas.samplesMs, tokensPerS: (tokens / meas.medianMs) * 1000, pairsPerS: 1000 / meas.medianMs, flops, cpuPerWall: r.cpuPerWall,
    detail: {
      preset: 'paper', variant: 'batched', dtype: (ctx.m as OnnxCausalLM).dtype, pairsSource: set.source, meanPromptTokens: tokens / 2,
      meanSharedPrefixTokens: mean((x) => x.shared), executedTokens: tokens, executedGflop: flops.total / 1e9, correctOfTimed: `${correct}/${per.length}`,
    },
  });
}

/** One scorePair variant of the interleaved ipo rows. */
interface IpoArm {
  label: string;
  variant: 'shared' | 'plain';
  m: CausalLM;
}

/**
 * The per-pair ipo rows (ipo-pair-plain, ipo-pair, ipo-pair-q8) measured INTERLEAVED: each timed run scores pair i
 * with every arm, in an order that rotates from run to run, so warm-up effects and drifts of a shared CPU fall on all
 * arms alike (measured one after the other, the first arm after the decode rows came out up to 1.7× slower).
 * FLOPs as `ipo`: the plain path's work in every row.
 */
async function ipoInterleaved(ctx: Ctx, set: PairSet, arms: IpoArm[]): Promise<void> {
  const hr = headRowsOf(ctx);
  const maxLen = Math.min(1024, ctx.m.maxLength);
  const per = arms.map(() => [] as { ms: number; tokens: number; shared: number; flops: FlopCount; correct: boolean }[]);
  const warmup = ctx.mopts.warmup ?? 1;
  const { value: meas, cpuPerWall } = await withCpu((): Promise<Measurement> => measure(async (run) => {
    const pair = set.pairs[run % set.pairs.length];
    for (let k = 0; k < arms.length; k++) {
      const a = (k + run) % arms.length;
      const t = performance.now();
      const s = await scorePair(arms[a].m, pair, { preset: 'paper', prefixReuse: arms[a].variant === 'shared' });
      const ms = performance.now() - t;
      if (run < warmup) continue;
      const lengths = [s.chosen.promptTokens, s.rejected.promptTokens];
      per[a].push({ ms, tokens: lengths[0] + lengths[1], shared: sharedTokens(ctx.m, s, maxLen), flops: batchForwardFlops(ctx.spec.config, lengths, hr), correct: s.correct });
    }
  }, { ...ctx.mopts, budgetMs: (ctx.mopts.budgetMs ?? 3000) * arms.length }));
  arms.forEach((arm, a) => {
    const xs = per[a];
    const mean = (f: (x: (typeof xs)[number]) => number) => xs.reduce((acc, x) => acc + f(x), 0) / xs.length;
    const samples = xs.map((x) => x.ms);
    const sorted = [...samples].sort((x, y) => x - y);
    const medianMs = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    const tokens = mean((x) => x.tokens);
    const shared = mean((x) => x.shared);
    const flops: FlopCount = { body: mean((x) => x.flops.body), head: mean((x) => x.flops.head), attention: mean((x) => x.flops.attention), total: mean((x) => x.flops.total), withAttention: mean((x) => x.flops.withAttention) };
    const executedTokens = arm.variant === 'shared' && arm.m.forkedLogProbs ? tokens - shared : tokens;
    pushRow({ ...ctx, m: arm.m }, {
      workload: arm.label, kind: 'ipo', tokens: Math.round(tokens), headRows: hr === 'last' ? '1' : 'T', medianMs, minMs: sorted[0],
      reps: meas.reps, samplesMs: samples, tokensPerS: (tokens / medianMs) * 1000, pairsPerS: 1000 / medianMs, flops, cpuPerWall,
      detail: {
        preset: 'paper', variant: arm.variant, dtype: (arm.m as OnnxCausalLM).dtype, interleavedWith: arms.map((x) => x.label), pairsSource: set.source,
        meanPromptTokens: tokens / 2, meanSharedPrefixTokens: shared, executedTokens, executedGflop: (flops.total * executedTokens) / tokens / 1e9,
        correctOfTimed: `${xs.filter((x) => x.correct).length}/${xs.length}`, note: ctx.spec.random ? 'random weights: accuracy meaningless' : undefined,
      },
    });
  });
}

/** Pairs per rebuilt RewardBench subset in the q8 flip check (the fixed slice of lib/eval/quantization.ts). */
const Q8_SLICE_PER_SUBSET = 5;

/**
 * q8's effect on accuracy (issue 10: "pairs that flip"): the fixed slice `rewardBenchSlice(5)` (the first 5 pairs of
 * every rebuilt subset) scored by the fp32 and the q8 graph with the same options (`compareQuantized`); the result
 * goes into the ipo-pair-q8 row's detail and the observations. Random-weight models are labelled as such.
 */
async function q8Flips(ctx: Ctx, q8: CausalLM): Promise<void> {
  const row = ctx.rows.find((r) => r.model === ctx.spec.key && r.workload === 'ipo-pair-q8');
  if (!row) return;
  let slice;
  try {
    slice = rewardBenchSlice(Q8_SLICE_PER_SUBSET);
  } catch (e) {
    row.detail = { ...row.detail, flips: `not measured (${String((e as Error).message).split('\n')[0]})` };
    return;
  }
  const t0 = performance.now();
  const c = await compareQuantized(ctx.m, q8, slice, { preset: 'paper' });
  row.detail = {
    ...row.detail,
    flipSlice: `rebuilt RewardBench, first ${Q8_SLICE_PER_SUBSET} pairs per subset (${c.n} pairs), paper preset`,
    fp32Accuracy: c.base.accuracy, q8Accuracy: c.quant.accuracy, accuracyDiffCi: [c.accuracyDiff.lo, c.accuracyDiff.hi],
    flips: c.flips, flipsToCorrect: c.flipsToCorrect, flipsToWrong: c.flipsToWrong, mcnemarP: c.mcnemarP,
    maxAbsDPYes: c.maxAbsDPYes, meanAbsDPYes: c.meanAbsDPYes, flipSeconds: (performance.now() - t0) / 1000,
  };
}

/**
 * ipo-cache: the same pairs through the cached scorer (`scorePairs`, what every benchmark run uses) twice, in a fresh
 * cache folder: cold = every pair computed and written, warm = every pair read back. The row's time is the warm
 * rerun per pair; the detail holds cold, warm and their ratio (issue 10's target: warm ≥ 100× faster than cold).
 */
async function ipoCache(ctx: Ctx, set: PairSet): Promise<void> {
  const saved = process.env.IPO_CACHE_DIR;
  const savedOn = process.env.IPO_CACHE;
  const dir = join(kitCacheDir(), 'bench', `cache-row-${process.pid}-${Date.now()}`);
  process.env.IPO_CACHE_DIR = dir;
  delete process.env.IPO_CACHE;
  try {
    const time = async () => {
      const t = performance.now();
      const r = await scorePairs(ctx.m, set.pairs, { preset: 'paper', label: 'bench cache' });
      return { ms: performance.now() - t, cached: r.cached };
    };
    const { value, cpuPerWall } = await withCpu(async () => {
      const cold = await time();
      const warm = [await time(), await time(), await time()];
      return { cold, warm };
    });
    const warmMs = value.warm.map((w) => w.ms).sort((a, b) => a - b);
    const n = set.pairs.length;
    pushRow(ctx, {
      workload: 'ipo-cache-warm', kind: 'ipo', tokens: 0, headRows: '-', medianMs: warmMs[1] / n, minMs: warmMs[0] / n, reps: 3, samplesMs: warmMs.map((x) => x / n),
      tokensPerS: NaN, pairsPerS: (1000 * n) / warmMs[1], flops: { body: 0, head: 0, attention: 0, total: 0, withAttention: 0 }, cpuPerWall,
      detail: { pairs: n, coldMsPerPair: value.cold.ms / n, warmMsPerPair: warmMs[1] / n, speedup: value.cold.ms / warmMs[1], cachedCold: value.cold.cached, cachedWarm: value.warm[1].cached },
    });
  } finally {
    if (saved === undefined) delete process.env.IPO_CACHE_DIR;
    else process.env.IPO_CACHE_DIR = saved;
    if (savedOn !== undefined) process.env.IPO_CACHE = savedOn;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** LoRA of the DPO-step row: r = 8 on every linear (PEFT 'all-linear'), the usual alpha = 2r, a little dropout. */
const BENCH_LORA = { rank: 8, alpha: 16, dropout: 0.05, targetModules: 'all-linear' as const, seed: 0 };

/** Size of the wasm backend's heap (it only grows, so this is its peak), in bytes; NaN off wasm. */
function wasmHeapBytes(): number {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? heap.buffer.byteLength : NaN;
}

/**
 * One DPO step as lib/dpo/train-dpo.ts takes it, on one pair batched `[chosen; rejected]` (B = 2, T = min(512, max
 * length), a shared prompt of T/4 tokens, completions of 3T/4): reference completion log-probs with the adapters
 * off (no gradients), then −log σ(β·((πc − rc) − (πr − rr))) with `tf.variableGrads` over the LoRA variables,
 * training pass (dropout) with per-layer checkpointing. No optimizer update (AdamW is a few elementwise ops on the
 * 2.4M LoRA parameters of the 135M model). FLOPs: 3 × the policy forward (forward + backward; the checkpoint's
 * recomputation is not counted, as in MFU) + the reference forward, LM-head rows = completion tokens.
 */
async function dpoStep(ctx: Ctx, opts: { reps?: number; profile?: boolean }): Promise<TfProfile | null> {
  const lm = ctx.m as TfCausalLM;
  const model = lm.model;
  const T = Math.min(512, lm.maxLength);
  const P = Math.floor(T / 4);
  const text = textIds(lm, 2 * T);
  const chosen = text.slice(0, T);
  const rejected = [...chosen.slice(0, P), ...text.slice(T + P, 2 * T)];
  const ids = tf.tensor2d([chosen, rejected], [2, T], 'int32');
  const mask = tf.tensor2d(Array.from({ length: 2 * T }, (_, i) => (i % T >= P ? 1 : 0)), [2, T]);
  const lora = new LoraAdapters(model, BENCH_LORA);
  model.setAdapter(lora);
  const big = llamaParamCounts(ctx.spec.config).total > 50e6;
  const mopts: MeasureOptions = opts.reps !== undefined ? ctx.mopts : big ? { warmup: 1, minReps: 1, maxReps: 1 } : ctx.mopts;
  const split: { refMs: number; policyMs: number }[] = [];
  let loss = NaN;
  try {
    const step = async (run: number) => {
      const t0 = performance.now();
      lora.enabled = false;
      const ref = tf.tidy(() => sequenceLogps(model, ids, mask).sum);
      await ref.data();
      lora.enabled = true;
      const t1 = performance.now();
      lora.setStep(run);
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
        const { sum, count } = sequenceLogps(model, ids, mask, { training: true, checkpoint: true });
        count.dispose();
        const d = tf.sub(sum, ref); // [2]: policy − reference, [chosen, rejected]
        const margin = tf.sub(tf.slice(d, [0], [1]), tf.slice(d, [1], [1]));
        return tf.neg(tf.sum(logSigmoid(tf.mul(margin, 0.1)))) as tf.Scalar;
      }), lora.variables);
      loss = (await value.data())[0];
      await Promise.all(Object.values(grads).map((g) => g.data()));
      tf.dispose([value, ref, ...Object.values(grads)]);
      return { refMs: t1 - t0, policyMs: performance.now() - t1 };
    };
    const { value: meas, cpuPerWall } = await withCpu(() => measure(async (run) => {
      const r = await step(run);
      if (run >= (mopts.warmup ?? 1)) split.push(r);
    }, mopts));
    const rows = T - P;
    const forward = batchForwardFlops(ctx.spec.config, [T, T], rows); // one forward of the pair (policy or reference)
    const f = (k: keyof FlopCount) => 3 * forward[k] + forward[k];
    const flops: FlopCount = { body: f('body'), head: f('head'), attention: f('attention'), total: f('total'), withAttention: f('withAttention') };
    const mid = split[Math.floor(split.length / 2)] ?? { refMs: NaN, policyMs: NaN };
    pushRow(ctx, {
      workload: `dpo-step-${T}`, kind: 'train', tokens: 2 * T, headRows: String(rows), medianMs: meas.medianMs, minMs: meas.minMs,
      reps: meas.reps, samplesMs: meas.samplesMs, tokensPerS: ((2 * T) / meas.medianMs) * 1000, pairsPerS: 1000 / meas.medianMs, flops, cpuPerWall,
      detail: {
        warmupMs: meas.warmupMs, lora: BENCH_LORA, loraParams: lora.numParameters, promptTokens: P, completionTokens: rows,
        referenceMs: mid.refMs, policyForwardBackwardMs: mid.policyMs, loss,
        // process-wide maxima at the end of this row (the wasm heap never shrinks)
        wasmHeapGB: wasmHeapBytes() / 2 ** 30, peakRssGB: (process.resourceUsage().maxRSS * 1024) / 2 ** 30,
        note: 'FLOPs = 3 × policy forward + reference forward; the per-layer recomputation is extra work not counted',
      },
    });
    if (!opts.profile) return null;
    // One more step under tf.profile: every kernel of reference, forward, recompute and backward, grouped as the
    // prefill profile (weight / attention / LM-head matmuls, other kernels; JS and dispatch = wall − kernel time).
    const t = performance.now();
    const info = await tf.profile(async () => { await step(mopts.warmup ?? 1); });
    const wallMs = performance.now() - t;
    const buckets = classifyTfKernels(info.kernels as unknown as TfKernelRecord[], ctx.spec.config);
    ctx.bar.tick(1, { info: `${ctx.spec.key} tf dpo-step profile` });
    return { model: ctx.spec.key, workload: `dpo-step-${T}`, wallMs, kernelMs: buckets.reduce((a, b) => a + b.ms, 0), buckets, kernels: info.kernels.length };
  } finally {
    model.setAdapter(null);
    lora.dispose();
    tf.dispose([ids, mask]);
  }
}

/**
 * sft-step-T (tf only): one SFT step on two sequences of T tokens, response-only NLL on the last 3/4 of each (TRL
 * `completion_only_loss`), per-layer checkpointing, gradients read back; no optimizer update. Small models train
 * every weight (the kit's SFT default, lib/dpo/train-sft.ts); models over 50 M parameters train LoRA r 8 as the DPO
 * row, because a full fine-tune of the 135M shape does not fit the 4 GB wasm heap (../shared/docs/training-on-tfjs.md).
 * FLOPs = 3 × forward (forward + a backward of twice its cost, 6·N·T) in both cases, as MFU counts them.
 */
async function sftStep(ctx: Ctx, opts: { reps?: number }): Promise<void> {
  const lm = ctx.m as TfCausalLM;
  const model = lm.model;
  const T = Math.min(512, lm.maxLength);
  const P = Math.floor(T / 4);
  const text = textIds(lm, 2 * T);
  const ids = tf.tensor2d([text.slice(0, T), [text[0], ...text.slice(T + 1, 2 * T)]], [2, T], 'int32');
  const mask = tf.tensor2d(Array.from({ length: 2 * T }, (_, i) => (i % T >= P ? 1 : 0)), [2, T]);
  const big = llamaParamCounts(ctx.spec.config).total > 50e6;
  const mopts: MeasureOptions = opts.reps !== undefined ? ctx.mopts : big ? { warmup: 1, minReps: 1, maxReps: 1 } : ctx.mopts;
  const lora = big ? new LoraAdapters(model, BENCH_LORA) : null;
  if (lora) model.setAdapter(lora);
  else model.setTrainable(true);
  let loss = NaN;
  let vars = 0;
  try {
    const { value: meas, cpuPerWall } = await withCpu(() => measure(async () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
        const { sum, count } = sequenceLogps(model, ids, mask, { training: true, checkpoint: true });
        return tf.neg(tf.div(tf.sum(sum), tf.sum(count))) as tf.Scalar; // mean NLL per response token
      }), lora ? lora.variables : undefined);
      loss = (await value.data())[0];
      const gs = Object.values(grads);
      vars = gs.length;
      await Promise.all(gs.map((g) => g.data()));
      tf.dispose([value, ...gs]);
    }, mopts));
    const rows = T - P;
    const forward = batchForwardFlops(ctx.spec.config, [T, T], rows);
    const f = (k: keyof FlopCount) => 3 * forward[k];
    const flops: FlopCount = { body: f('body'), head: f('head'), attention: f('attention'), total: f('total'), withAttention: f('withAttention') };
    pushRow(ctx, {
      workload: `sft-step-${T}`, kind: 'train', tokens: 2 * T, headRows: String(rows), medianMs: meas.medianMs, minMs: meas.minMs,
      reps: meas.reps, samplesMs: meas.samplesMs, tokensPerS: ((2 * T) / meas.medianMs) * 1000, pairsPerS: 1000 / meas.medianMs, flops, cpuPerWall,
      detail: {
        warmupMs: meas.warmupMs, trainable: lora ? `LoRA r ${BENCH_LORA.rank} on every linear (a full fine-tune does not fit the 4 GB wasm heap)` : 'all weights', gradientTensors: vars, promptTokens: P, completionTokens: rows, loss,
        wasmHeapGB: wasmHeapBytes() / 2 ** 30, peakRssGB: (process.resourceUsage().maxRSS * 1024) / 2 ** 30,
        note: 'FLOPs = 3 × forward of the two sequences; the per-layer recomputation is extra work not counted',
      },
    });
  } finally {
    if (lora) {
      model.setAdapter(null);
      lora.dispose();
    } else model.setTrainable(false);
    tf.dispose([ids, mask]);
  }
}

/** One profiled prefill-128 pass of the TF engine: where the kernel time goes. */
async function tfProfile(ctx: Ctx, T: number): Promise<TfProfile> {
  const ids = textIds(ctx.m, T);
  const t = performance.now();
  const info = await tf.profile(async () => {
    await ctx.m.nextTokenLogProbsBatch([ids]);
  });
  const wallMs = performance.now() - t;
  const buckets = classifyTfKernels(info.kernels as unknown as TfKernelRecord[], ctx.spec.config);
  ctx.bar.tick(1, { info: `${ctx.spec.key} tf profile` });
  return { model: ctx.spec.key, workload: `prefill-${T}`, wallMs, kernelMs: buckets.reduce((a, b) => a + b.ms, 0), buckets };
}

// ---------------------------------------------------------------------------------------------------------------
// report

function versions(): Record<string, string> {
  const v: Record<string, string> = { node: process.version };
  for (const p of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'onnxruntime-node', '@huggingface/transformers']) {
    try {
      v[p] = (JSON.parse(readFileSync(join(repoRoot(), 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
    } catch { /* not installed */ }
  }
  return v;
}

const HEADER = ['workload', 'model', 'engine', 'tokens', 'head', 'median', 'runs', 'tok/s', 'pairs/s', 'GFLOP', 'GFLOP/s', 'ratio', '+attn', 'cores'];

const ALIGN = HEADER.map((_, i) => (i < 3 ? 'l' : 'r') as 'l' | 'r');

function tableRows(rows: BenchRow[], label: (r: BenchRow) => string = (r) => r.engine): string[][] {
  return rows.map((r) => [
    r.workload, r.model, label(r), r.kind === 'kernel' ? '-' : String(r.tokens), r.headRows, fmtMs(r.medianMs), String(r.reps),
    r.kind === 'kernel' ? '-' : fmtSig(r.tokensPerS), r.pairsPerS === undefined ? '-' : fmtSig(r.pairsPerS),
    fmtSig(r.flops.total / 1e9), fmtSig(r.gflops), fmtSig(r.ratio, 2), r.kind === 'kernel' ? '-' : `${(100 * r.attnShare).toFixed(0)}%`,
    Number.isFinite(r.cpuPerWall) ? r.cpuPerWall.toFixed(1) : '—',
  ]);
}

function projectionRows(rows: ProjectionRow[]): string[][] {
  return rows.map((r) => [r.workload, r.shape, r.where, r.minutes >= 100 ? r.minutes.toFixed(0) : fmtSig(r.minutes, 2), r.basis]);
}

/**
 * Shares are of the wall time, or of the summed kernel time when that is larger: in a training step tf.profile also
 * times the kernels run inside the checkpointed layers' custom gradients, so nested kernels are counted twice and the
 * sum passes the wall time (then there is no JS/dispatch remainder to show).
 */
function profileRows(p: TfProfile): string[][] {
  const denom = Math.max(p.wallMs, p.kernelMs);
  const out = p.buckets.map((b) => [b.category, String(b.calls), fmtMs(b.ms), `${((100 * b.ms) / denom).toFixed(0)}%`, fmtSig(b.gflops)]);
  if (p.kernelMs <= p.wallMs) out.push(['JS / dispatch (wall − kernels)', '-', fmtMs(p.wallMs - p.kernelMs), `${((100 * (p.wallMs - p.kernelMs)) / p.wallMs).toFixed(0)}%`, '-']);
  else out.push([`(kernel times sum to ${fmtSig(p.kernelMs / p.wallMs, 2)}× the wall time: nested kernels counted twice)`, '-', '-', '-', '-']);
  return out;
}

function observations(rows: BenchRow[], peaks: Record<string, number>, profiles: TfProfile[], tfBackend = 'wasm'): string[] {
  const out: string[] = [];
  const find = (model: string, engine: string, workload: string) => rows.find((r) => r.model === model && r.engine === engine && r.workload === workload);
  const models = [...new Set(rows.filter((r) => r.kind !== 'kernel').map((r) => r.model))];
  for (const r of rows.filter((x) => x.workload === 'ipo-cache-warm')) {
    const d = r.detail as { speedup: number; coldMsPerPair: number; warmMsPerPair: number; pairs: number };
    out.push(`Cache (${r.model}, ${r.engine}): a warm rerun of ${d.pairs} scored pairs is ${fmtSig(d.speedup)}× faster than the cold run (${fmtMs(d.coldMsPerPair)} → ${fmtMs(d.warmMsPerPair)} per pair; issue 10's target ≥ 100×).`);
  }
  if (peaks.tf > 0 && peaks.onnx > 0) out.push(`Peaks: onnxruntime-node matmul ${fmtSig(peaks.onnx)} GFLOP/s vs tfjs ${tfBackend} ${fmtSig(peaks.tf)} GFLOP/s (${fmtSig(peaks.onnx / peaks.tf, 2)}×)${tfBackend === 'wasm' ? `; tfjs-backend-wasm has no threads in Node, so it uses one of the ${cpus().length} cores` : ''}.`);
  for (const model of models) {
    const parts: string[] = [];
    for (const w of [...new Set(rows.filter((r) => r.model === model).map((r) => r.workload))]) {
      const a = find(model, 'tf', w), b = find(model, 'onnx', w);
      if (a && b) parts.push(`${w} ${fmtSig(a.medianMs / b.medianMs, 2)}×`);
    }
    if (parts.length) out.push(`${model}: time tf ÷ time onnx = ${parts.join(', ')}.`);
    const p128 = find(model, 'tf', 'prefill-128'), p512 = find(model, 'tf', 'prefill-512');
    if (p128 && p512) out.push(`${model} tf: ratio ${fmtSig(p128.ratio, 2)} at 128 tokens, ${fmtSig(p512.ratio, 2)} at ${p512.tokens}; the dense attention matmuls (one small 2-D matmul per head) add ${(100 * p128.attnShare).toFixed(0)}% / ${(100 * p512.attnShare).toFixed(0)}% on top of the counted FLOPs.`);
    const o = find(model, 'onnx', 'prefill-128');
    if (o && o.headRows === 'T') out.push(`${model} onnx: ${(100 * o.flops.head / o.flops.total).toFixed(0)}% of prefill-128 FLOPs are the LM head at every position (IPO needs only the last): this graph has no num_logits_to_keep input, re-export it.`);
    for (const e of ['tf', 'onnx']) {
      const d = rows.find((r) => r.model === model && r.engine === e && r.kind === 'decode');
      const pf = find(model, e, 'prefill-128');
      if (!d) continue;
      const gbps = d.detail?.weightGBps as number;
      const perTok = d.medianMs / d.tokens;
      const vsPrefill = pf ? `, ${fmtSig(perTok / (pf.medianMs / pf.tokens), 2)}× the per-token time of prefill-128` : '';
      out.push(`${model} ${e} decode: ${fmtSig(d.tokensPerS)} tok/s (${fmtSig(perTok)} ms/token${vsPrefill}), ratio ${fmtSig(d.ratio, 2)}; ` + (gbps > 0 && (d.detail?.weightBytes as number) > 64 * 2 ** 20
        ? `each step reads all ${fmtSig((d.detail?.weightBytes as number) / 1e6)} MB of fp32 weights once, ${fmtSig(gbps)} GB/s of weight traffic (matrix-vector work, bandwidth- rather than FLOP-limited).`
        : `the weights fit in cache, so per-step overhead (kernel launches, logits readback, sampling) dominates.`));
    }
  }
  for (const r of rows.filter((x) => x.kind === 'ipo' && x.workload === 'ipo-pair')) {
    const plain = find(r.model, r.engine, 'ipo-pair-plain');
    const batched = find(r.model, r.engine, 'ipo-pair-batch8');
    const d = r.detail as { meanSharedPrefixTokens: number; meanPromptTokens: number };
    if (plain) out.push(`${r.model} ${r.engine} IPO scoring: the shared-prefix path takes ${fmtSig(r.medianMs / plain.medianMs, 2)}× the plain path's time per pair (prompts share ${fmtSig(d.meanSharedPrefixTokens)} of ${fmtSig(d.meanPromptTokens)} tokens)${batched ? `; batches of 8 length-sorted sequences ${fmtSig(batched.medianMs / plain.medianMs, 2)}×` : ''}; plain-path FLOPs ÷ time = ratio ${fmtSig(r.ratio, 2)} of the ${r.engine} peak.`);
  }
  for (const r of rows.filter((x) => x.workload === 'ipo-pair-q8')) {
    const d = r.detail as Record<string, number | string | number[]>;
    const fp = find(r.model, 'onnx', 'ipo-pair');
    const speed = fp ? `${fmtSig(fp.medianMs / r.medianMs, 2)}× the fp32 graph's pairs/s on the same path` : '';
    if (typeof d.flips === 'number') {
      const ci = d.accuracyDiffCi as number[];
      out.push(`${r.model} onnx q8: ${speed}; on ${d.flipSlice}: accuracy ${fmtSig(100 * (d.fp32Accuracy as number), 3)}% fp32 vs ${fmtSig(100 * (d.q8Accuracy as number), 3)}% q8 (difference [${fmtSig(100 * ci[0], 2)}, ${fmtSig(100 * ci[1], 2)}] points), ${d.flips} pairs flip (${d.flipsToCorrect} to correct, ${d.flipsToWrong} to wrong, McNemar p ${fmtSig(d.mcnemarP as number, 2)}), max |ΔP(Yes)| ${fmtSig(d.maxAbsDPYes as number, 2)}${r.model.includes('random') ? ' (random weights: the flips measure noise, not accuracy)' : ''}.`);
    } else if (speed) out.push(`${r.model} onnx q8: ${speed}; flips ${String(d.flips ?? 'not measured')}.`);
  }
  for (const r of rows.filter((x) => x.kind === 'train' && x.workload.startsWith('sft-'))) {
    const d = r.detail ?? {};
    out.push(`${r.model} tf ${r.workload}: ${fmtSig(r.medianMs / 1000)} s per step of two ${r.tokens / 2}-token sequences (${String(d.trainable)}), ratio ${fmtSig(r.ratio, 2)}; wasm heap ${fmtSig(d.wasmHeapGB as number)} GB (of 4), peak RSS ${fmtSig(d.peakRssGB as number)} GB.`);
  }
  for (const r of rows.filter((x) => x.kind === 'train' && x.workload.startsWith('dpo-'))) {
    const d = r.detail ?? {};
    out.push(`${r.model} tf ${r.workload}: ${fmtSig(r.medianMs / 1000)} s per pair (reference ${fmtSig((d.referenceMs as number) / 1000)} s + policy forward/backward ${fmtSig((d.policyForwardBackwardMs as number) / 1000)} s), ratio ${fmtSig(r.ratio, 2)}, ≈ ${fmtSig((r.medianMs * 1000) / 3.6e6)} h per 1,000 pairs; wasm heap ${fmtSig(d.wasmHeapGB as number)} GB (of 4), peak RSS ${fmtSig(d.peakRssGB as number)} GB.`);
  }
  for (const p of profiles) {
    const w = p.buckets.find((b) => b.category === 'weight matmul')!;
    const a = p.buckets.find((b) => b.category === 'attention matmul')!;
    const other = p.buckets.find((b) => b.category === 'other kernels')!;
    const denom = Math.max(p.wallMs, p.kernelMs);
    const rest = p.kernelMs <= p.wallMs ? `, JS/dispatch ${((100 * (p.wallMs - p.kernelMs)) / p.wallMs).toFixed(0)}%` : ' (shares of the summed kernel time, which counts nested kernels twice)';
    out.push(`${p.model} tf ${p.workload} profile${p.kernels ? ` (${p.kernels.toLocaleString('en-US')} kernel launches)` : ''}: weight matmuls ${((100 * w.ms) / denom).toFixed(0)}% of the time at ${fmtSig(w.gflops)} GFLOP/s, attention matmuls ${((100 * a.ms) / denom).toFixed(0)}% at ${fmtSig(a.gflops)} GFLOP/s, other kernels ${((100 * other.ms) / denom).toFixed(0)}%${rest}.`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// main

async function main(o: Opts): Promise<void> {
  const engines = o.engines.split(',').map((s) => s.trim()).filter(Boolean);
  for (const e of engines) if (e !== 'tf' && e !== 'onnx') throw new Error(`unknown engine '${e}': use tf, onnx`);
  const modelNames = (o.models ?? (o.quick ? 'tinystories-656k' : BUILTIN.join(','))).split(',').map((s) => s.trim()).filter(Boolean);
  if (!modelNames.length) throw new Error('--models is empty');
  const mopts: MeasureOptions = o.reps !== undefined
    ? { warmup: 1, minReps: o.reps, maxReps: o.reps }
    : o.quick ? { warmup: 1, minReps: 3, maxReps: 3 } : { warmup: 1, minReps: 3, maxReps: 10, budgetMs: 4000 };
  const peakReps = o.quick ? 5 : 10;
  const loadStart = loadavg();
  // Which tfjs backend and ONNX Runtime device the rows ran on ($IPO_TF_BACKEND / $IPO_DEVICE, as every command).
  const tfBackend = engines.includes('tf') ? await ensureBackend() : 'wasm';
  const onnxDevice = process.env.IPO_DEVICE ?? 'cpu';
  let adapter: WebGpuAdapterInfo | null = null;
  if (tfBackend === 'webgpu' || onnxDevice === 'webgpu') {
    const p = await probeWebGpu();
    adapter = p.adapter ?? null;
    log(`WebGPU adapter: ${p.adapter?.summary ?? p.reason}${p.adapter?.software ? ' — a CPU driver: these rows check correctness, not speed' : ''}`);
  }
  const engineLabel = (e: string) => {
    const where = e === 'tf' ? (tfBackend === 'wasm' ? '' : tfBackend) : e === 'onnx' ? (onnxDevice === 'cpu' ? '' : onnxDevice) : '';
    return where ? `${e}/${where}${where === 'webgpu' && adapter?.software ? '†' : ''}` : e;
  };

  log(`models: ${modelNames.join(', ')}; engines: ${engines.join(', ')}; runs per workload: ${mopts.minReps === mopts.maxReps ? mopts.minReps : `${mopts.minReps}–${mopts.maxReps} (≤ ${mopts.budgetMs} ms of timed runs after ${mopts.minReps})`} after ${mopts.warmup} warm-up`);
  if (loadStart[0] > 1) log(`note: load average ${loadStart.map((x) => x.toFixed(2)).join(' ')} at start — other processes share the CPU; ratios to the same-run peak are the number to read`);
  const specs: ModelSpec[] = [];
  for (const name of modelNames) specs.push(await prepareModel(name));
  log(`models ready (${specs.map((s) => `${s.key} ${s.prepSeconds.toFixed(1)} s`).join(', ')})`);

  const wl = new Set(o.workloads.split(',').map((s) => s.trim()).filter(Boolean));
  for (const w of wl) if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload '${w}': use ${WORKLOADS.join(', ')}`);
  if (!wl.size) throw new Error('--workloads is empty');
  const perEngine = (e: string) => 1 + (wl.has('prefill') ? 2 : 0) + (wl.has('decode') ? 1 : 0) + (wl.has('ipo') ? (e === 'onnx' ? 5 : 4) : 0) + (wl.has('dpo') && e === 'tf' ? 1 : 0) + (wl.has('sft') && e === 'tf' ? 1 : 0);
  const profiling = o.profile && wl.has('prefill');
  const steps = 2 * engines.length + specs.length * engines.reduce((a, e) => a + perEngine(e), 0)
    + (engines.includes('tf') ? specs.length * ((profiling ? 1 : 0) + (o.profile && wl.has('dpo') ? 1 : 0)) : 0);
  const bar = progress({ total: steps, label: 'bench' });
  const peakRuns: Record<'start' | 'end', KernelResult[]> = { start: [], end: [] };
  const runPeaks = async (when: 'start' | 'end') => {
    for (const e of engines) {
      const { value: res, cpuPerWall } = await withCpu(() => (e === 'tf' ? tfMatmulPeak({ reps: peakReps }) : ortMatmulPeak({ reps: peakReps })));
      peakRuns[when].push(...res);
      peakCpu[`${e}/${when}`] = cpuPerWall;
      bar.tick(1, { info: `${e} matmul peak (${when}): ${fmtSig(peakOf(res).gflops)} GFLOP/s` });
    }
  };
  const peaks: Record<string, number> = {};
  const peakCpu: Record<string, number> = {};
  const peakOfEngine = (e: string) => peakOf([...peakRuns.start, ...peakRuns.end].filter((r) => r.engine === e)).gflops;

  const rows: BenchRow[] = [];
  const profiles: TfProfile[] = [];
  const loads: { model: string; engine: string; seconds: number }[] = [];
  const pairSources: Record<string, string> = {};
  /** Token counts of the full workloads with each model's tokenizer (for the projections). */
  const workloadTokens: Record<string, WorkloadTokens[]> = {};
  try {
    await runPeaks('start');
    for (const spec of specs) {
      for (const engine of engines as EngineName[]) {
        const t0 = performance.now();
        const m = await loadEngine(spec, engine);
        loads.push({ model: spec.key, engine, seconds: (performance.now() - t0) / 1000 });
        bar.tick(1, { info: `${spec.key} ${engine} loaded` });
        const ctx: Ctx = { spec, engine, m, mopts, bar, rows };
        try {
          if (wl.has('prefill')) {
            await prefill(ctx, 128);
            await prefill(ctx, Math.min(512, m.maxLength));
          }
          if (wl.has('decode')) await decode(ctx);
          if (wl.has('ipo')) {
            const tp = performance.now();
            const set = ipoPairs(m, (mopts.warmup ?? 1) + (mopts.maxReps ?? 3));
            if (!pairSources[spec.key]) log(`${spec.key}: ${set.pairs.length} IPO pairs from ${set.source} (${((performance.now() - tp) / 1000).toFixed(1)} s to select)`);
            pairSources[spec.key] = set.source;
            if (!workloadTokens[spec.key]) {
              const tw = performance.now();
              try {
                workloadTokens[spec.key] = scoringWorkloads((t) => m.encode(t), { maxLength: Math.min(1024, m.maxLength) });
                log(`${spec.key}: counted the tokens of full RewardBench / RM-Bench for the projections (${((performance.now() - tw) / 1000).toFixed(1)} s)`);
              } catch (e) {
                log(`${spec.key}: no projections (${String((e as Error).message).split('\n')[0]})`);
              }
            }
            // q8 (int8 weight MatMuls, lib/models/export-onnx.ts): the shared-prefix path on the quantized graph;
            // FLOPs counted as fp32's (the same multiply-adds, in int8), ratio against the fp32 peak
            const q8 = engine === 'onnx' && existsSync(join(spec.onnxDir, 'onnx', 'model_quantized.onnx')) ? await loadEngine(spec, 'onnx', 'q8') : null;
            try {
              await ipoInterleaved(ctx, set, [
                { label: 'ipo-pair-plain', variant: 'plain', m },
                { label: 'ipo-pair', variant: 'shared', m },
                ...(q8 ? [{ label: 'ipo-pair-q8', variant: 'shared' as const, m: q8 }] : []),
              ]);
              await ipoBatched(ctx, set);
              await ipoCache(ctx, set);
              if (q8) await q8Flips(ctx, q8);
            } finally {
              q8?.dispose();
            }
          }
          if (engine === 'tf' && profiling) profiles.push(await tfProfile(ctx, 128));
          // last: the DPO step grows the wasm heap the most, and its detail reports the process peaks
          if (engine === 'tf' && wl.has('sft')) await sftStep(ctx, { reps: o.reps });
          if (engine === 'tf' && wl.has('dpo')) {
            const p = await dpoStep(ctx, { reps: o.reps, profile: o.profile });
            if (p) profiles.push(p);
          }
        } finally {
          m.dispose();
        }
      }
    }
    await runPeaks('end');
  } finally {
    bar.done();
  }
  for (const e of engines) peaks[e] = peakOfEngine(e);

  // kernel rows (start-of-run medians, so the spread against the best is visible) + ratios for every row
  const kernelRows: BenchRow[] = peakRuns.start.map((k) => ({
    model: '-', engine: k.engine, workload: `matmul ${shapeLabel(k.shape)}`, kind: 'kernel', tokens: 0, headRows: '-', medianMs: k.medianMs, minMs: k.bestMs,
    reps: k.reps, samplesMs: [], tokensPerS: NaN, flops: { body: 0, head: 0, attention: 0, total: k.flops, withAttention: k.flops }, gflops: k.medianGflops, ratio: NaN, attnShare: 0, cpuPerWall: peakCpu[`${k.engine}/start`],
    detail: { bestMs: k.bestMs, bestGflops: k.bestGflops },
  }));
  const all = [...kernelRows, ...rows];
  for (const r of all) r.ratio = ratioToPeak(r.gflops, peaks[r.engine]);
  // Projections (docs/performance.md): each measured model for itself; the 135M-shaped model's rates also stand in
  // for the 0.5B shape (Qwen2.5-0.5B), with SmolLM2 token counts standing in for Qwen2.5's tokenizer.
  const measured = specs.map((s) => measuredRate(all, s.key, s.config));
  const targets: ProjectionTarget[] = specs.filter((s) => workloadTokens[s.key]).map((s) => ({ label: s.key, shape: s.config, ratesFrom: s.key, gpu: llamaParamCounts(s.config).total > 50e6 }));
  const smol = specs.find((s) => s.key === 'smollm2-135m-random' && workloadTokens[s.key]);
  if (smol) {
    targets.push({ label: 'qwen2.5-0.5b shape', shape: QWEN25_05B_SHAPE, ratesFrom: smol.key });
    workloadTokens['qwen2.5-0.5b shape'] = workloadTokens[smol.key];
  }
  const projections = buildProjections({ measured, targets, workloads: workloadTokens });
  const totalSeconds = elapsedS();
  const loadEnd = loadavg();

  const notes = [
    'ratio = achieved GFLOP/s ÷ the same engine\'s best fp32 matmul GFLOP/s measured in this run (MFU-style).',
    'GFLOP = 2·N_body·T + 2·d·V·(head rows): N_body = layer matmul weights; head rows 1 = last position only (TF engine, and ONNX graphs with a num_logits_to_keep input), T = every position (older ONNX graphs without it).',
    '+attn = dense attention matmuls 4·L·(H·hd)·T·S as a share of GFLOP; they are executed but not in the headline number.',
    'decode-n: time of generate(32-token prompt, 1+n tokens) minus the median time of generate(…, 1): n KV-cached steps, one token each.',
    'ipo-pair: scorePair as the kit runs it (paper preset; the pair\'s common prefix run once through forkedLogProbs, both responses continued from its KV cache) on pairs whose two IPO prompts are 240–360 tokens; tokens = both prompts. ipo-pair-plain: the same with prefixReuse: false (two independent passes). ipo-pair-batch8: scorePairBatch on 4 of the pairs (8 length-sorted sequences in one engine call), per pair. ipo-pair, ipo-pair-plain and ipo-pair-q8 are measured interleaved (each run scores one pair with every arm, in rotating order). GFLOP counts the PLAIN path\'s work in all of them (issue 10: "counting only the FLOPs the plain path would need"); detail.executedGflop is what ran.',
    'ipo-pair-q8 (onnx): ipo-pair on the q8 graph (onnx/model_quantized.onnx: int8 weight MatMuls, activations quantized per call, as onnxruntime quantize_dynamic); GFLOP and ratio as fp32 (the same multiply-adds, in int8, against the fp32 peak), so a ratio above 1 is possible.',
    'sft-step-T / dpo-step-T (tf): one training step on two T-token sequences, gradients read back, no optimizer update; sft = every weight trainable (LoRA r 8 above 50 M parameters: a full 135M fine-tune does not fit the 4 GB wasm heap), FLOPs 3 × forward; dpo = LoRA r 8, FLOPs 3 × policy forward + reference forward.',
    'ipo-cache-warm: the ipo-pair pairs through the cached scorePairs in a fresh cache folder, per pair: the time of a warm rerun (every pair read back); detail.speedup = cold ÷ warm.',
    'kernel rows: median time of the start-of-run measurement; the peak is the best time over the start and end measurements.',
    'cores = process CPU time ÷ wall time over the workload\'s runs (warm-up included): how many cores the process kept busy (engine threads plus V8 garbage-collector and compiler threads); well below the engine\'s thread count means waiting, e.g. for a CPU shared with other processes.',
  ];
  // the onnx matmul peak always runs on ONNX Runtime's CPU EP (a one-node session), whatever IPO_DEVICE says
  const rowLabel = (r: BenchRow) => (r.kind === 'kernel' ? (r.engine === 'tf' ? engineLabel('tf') : 'onnx') : engineLabel(r.engine));
  const obs = observations(all, peaks, profiles, tfBackend);
  if (adapter?.software) notes.push(`† ${adapter.summary}: a CPU implementation of Vulkan (Mesa lavapipe); the webgpu rows check that the GPU path runs and agrees, their speed means nothing.`);
  if (onnxDevice !== 'cpu') notes.push(`onnx rows ran on device ${onnxDevice}; the onnx matmul peak is ONNX Runtime's CPU EP, so their ratios compare against the CPU.`);
  const report = {
    kind: 'ipo-notebook-kit bench',
    date: new Date().toISOString(),
    totalSeconds,
    options: { quick: !!o.quick, models: modelNames, engines, measure: mopts, peakReps, tfBackend, onnxDevice },
    webgpuAdapter: adapter,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGB: totalmem() / 2 ** 30, loadavgStart: loadStart, loadavgEnd: loadEnd },
    versions: versions(),
    peaks: Object.fromEntries(engines.map((e) => [e, { gflops: peaks[e], shape: peakOf([...peakRuns.start, ...peakRuns.end].filter((r) => r.engine === e)).shape }])),
    peakRuns,
    models: specs.map((s) => ({
      key: s.key, label: s.label, tfDir: s.tfDir, onnxDir: s.onnxDir, randomWeights: s.random, prepSeconds: s.prepSeconds,
      params: llamaParamCounts(s.config), config: s.config, ipoPairs: pairSources[s.key],
    })),
    loads,
    rows: all,
    tfProfiles: profiles,
    notes,
    observations: obs,
    workloadTokens,
    measuredRates: measured,
    projections,
  };

  const human = [
    `peaks (best fp32 matmul, this run): ${engines.map((e) => `${e} ${fmtSig(peaks[e])} GFLOP/s`).join(', ')}`,
    '',
    textTable(HEADER, tableRows(all, rowLabel), ALIGN),
    ...profiles.flatMap((p) => ['', `TF kernel profile, ${p.model} ${p.workload} (one tf.profile pass, wall ${fmtMs(p.wallMs)}):`, textTable(['category', 'calls', 'time', 'share', 'GFLOP/s'], profileRows(p))]),
    '',
    ...specs.filter((s) => s.random).map((s) => `${s.key}: RANDOM weights (shape-true SmolLM2-135M, ${(llamaParamCounts(s.config).total / 1e6).toFixed(1)} M params) — speed only.`),
    ...obs.map((x) => `- ${x}`),
    ...(projections.length ? ['', 'Projections (not measurements; see bench.md):', textTable(['workload', 'shape', 'where', 'minutes'], projectionRows(projections).map((r) => r.slice(0, 4)), ['l', 'l', 'l', 'r'])] : []),
    '',
    `bench finished in ${formatDuration(totalSeconds)} (${totalSeconds.toFixed(1)} s); load average ${loadStart[0].toFixed(2)} → ${loadEnd[0].toFixed(2)}`,
  ].join('\n');

  const md = [
    '# Engine benchmark',
    '',
    `${report.date} · ${report.machine.cpus} × ${report.machine.cpuModel} · ${Object.entries(report.versions).map(([k, v]) => `${k} ${v}`).join(' · ')}`,
    '',
    `tf engine on the ${tfBackend} backend, onnx engine on device ${onnxDevice}${adapter ? ` (WebGPU adapter: ${adapter.summary})` : ''}.`,
    '',
    `Finished in ${totalSeconds.toFixed(1)} s. Load average ${loadStart.map((x) => x.toFixed(2)).join(' ')} at start, ${loadEnd.map((x) => x.toFixed(2)).join(' ')} at end.`,
    '',
    `**Peaks** (best fp32 matmul of each engine, this run): ${engines.map((e) => `${e} ${fmtSig(peaks[e])} GFLOP/s (${report.peaks[e].shape ? shapeLabel(report.peaks[e].shape!) : '?'})`).join(', ')}.`,
    '',
    markdownTable(HEADER, tableRows(all, rowLabel), ALIGN),
    '',
    ...profiles.flatMap((p) => [`**TF kernel profile**, ${p.model} ${p.workload} (one \`tf.profile\` pass, wall ${fmtMs(p.wallMs)}):`, '', markdownTable(['category', 'calls', 'time', 'share', 'GFLOP/s'], profileRows(p)), '']),
    '## Models',
    '',
    ...specs.map((s) => {
      const n = llamaParamCounts(s.config);
      return `- **${s.key}**${s.random ? ' — RANDOM weights, speed only' : ''}: ${s.config.numHiddenLayers} layers, d ${s.config.hiddenSize}, ffn ${s.config.intermediateSize}, ${s.config.numAttentionHeads}/${s.config.numKeyValueHeads} heads, vocab ${s.config.vocabSize}; body ${fmtSig(n.body / 1e6, 4)} M, embedding ${fmtSig(n.embedding / 1e6, 3)} M, total ${fmtSig(n.total / 1e6, 4)} M. IPO pairs: ${pairSources[s.key] ?? '—'}.`;
    }),
    '',
    '## Notes',
    '',
    ...notes.map((x) => `- ${x}`),
    '',
    '## Observations (generated from this run)',
    '',
    ...obs.map((x) => `- ${x}`),
    '',
    '## Projections (not measurements)',
    '',
    'Minutes for whole workloads: on this CPU, the fastest scoring row\'s executed GFLOP/s (and the measured DPO step) times the FLOPs of the counted tokens; on GPUs, on paper (datasheet bf16 peak at an assumed MFU of 0.4, or the weight-read floor, whichever is larger). The 0.5B shape is not run here: it takes the 135M-shaped model\'s rates.',
    '',
    markdownTable(['workload', 'shape', 'where', 'minutes', 'basis'], projectionRows(projections), ['l', 'l', 'l', 'r', 'l']),
    '',
    ...Object.entries(workloadTokens).filter(([k]) => specs.some((s) => s.key === k)).flatMap(([k, ws]) => ws.map((w) => `- ${k} tokens, ${w.name}: ${fmtSig(w.plainTokens / w.pairs)} per pair on the plain path, ${fmtSig(w.sharedTokens / w.pairs)} with the shared prefix (${w.note}).`)),
    '',
  ].join('\n');

  const outDir = resolve(repoRoot(), o.out);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'bench.json'), `${JSON.stringify(report, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  writeFileSync(join(outDir, 'bench.md'), md);
  try {
    writeFileSync(join(outDir, 'bench.png'), await renderFigure(benchRatioFigure(all), { format: 'png', width: 900 }));
  } catch (e) {
    log(`no bench.png (${String((e as Error).message).split('\n')[0]})`);
  }
  if (o.json) {
    process.stderr.write(`${human}\n`);
    process.stdout.write(`${JSON.stringify(report, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))}\n`);
  } else {
    process.stdout.write(`${human}\nwrote ${displayPath(join(outDir, 'bench.json'))}, bench.md and bench.png\n`);
  }
}

program.exitOverride();
try {
  program.parse(process.argv);
  await main(program.opts<Opts>());
} catch (e) {
  const err = e as Error & { code?: string; exitCode?: number };
  if (err.code?.startsWith('commander.')) process.exit(err.exitCode ?? 1);
  if (process.env.IPO_DEBUG === '1') console.error(err);
  else process.stderr.write(`bench: ${String(err.message ?? err).split('\n')[0]}\n`);
  process.exit(1);
}
