import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildProjections, dpoStepFlops, gpuMinutes, ipoPairTokens, llamaParamCounts, minutesAt, PAPER_GPUS, QWEN25_05B_SHAPE, scaleWorkload,
  scoringFlops, scoringWorkloads, sumPairTokens, type LlamaShape, type WorkloadTokens,
} from '../lib/bench/index.ts';
import { loadTokenizer } from '../lib/models/tokenizer.ts';
import { readLlamaConfig } from '../lib/models/config.ts';
import { buildIpoPrompt } from '../lib/scoring/prompt.ts';
import { resolveTemplate } from '../lib/scoring/templates.ts';
import { findAsset } from '../lib/util/paths.ts';

// Issue 10 part 5: the projection table's arithmetic (lib/bench/projection.ts) and its token counts.

const SMOL_DIR = findAsset('smollm2-135m-instruct-tokenizer');
const SMOL: LlamaShape = readLlamaConfig(SMOL_DIR);
const tok = loadTokenizer(SMOL_DIR);
const encode = (s: string) => tok.encode(s);

test('the projected shapes have their published parameter counts (Hugging Face model cards)', () => {
  // Qwen2.5-0.5B-Instruct: 494,032,768 parameters, 0.36B non-embedding (model card "0.49B / 0.36B").
  const q = llamaParamCounts(QWEN25_05B_SHAPE);
  assert.equal(q.total, 494_032_768);
  assert.equal(Math.round(q.body / 1e7) / 100, 0.36);
  // SmolLM2-135M: 134,515,008 parameters (safetensors metadata of HuggingFaceTB/SmolLM2-135M-Instruct).
  assert.equal(llamaParamCounts(SMOL).total, 134_515_008);
});

test('ipoPairTokens counts the two prompts as the paper preset feeds them, and their common prefix', () => {
  const pair = { instruction: 'Write a haiku about rain.', chosen: 'Soft rain on the roof', rejected: 'No.', category: 'alpacaeval-easy' };
  const c = ipoPairTokens(encode, pair);
  const t = resolveTemplate('alpacaeval-easy', 'rewardbench').template;
  const a = encode(buildIpoPrompt({ instruction: pair.instruction, response: pair.chosen, template: t }));
  const b = encode(buildIpoPrompt({ instruction: pair.instruction, response: pair.rejected, template: t }));
  assert.deepEqual([c.chosen, c.rejected], [a.length, b.length]);
  assert.deepEqual(a.slice(0, c.shared), b.slice(0, c.shared));
  assert.notEqual(a[c.shared], b[c.shared], 'the prefix is the longest one');
  assert.ok(encode(t).length <= c.shared, 'the whole template is shared');
  // right truncation to maxLength caps all three
  const short = ipoPairTokens(encode, pair, { maxLength: 5 });
  assert.deepEqual(short, { chosen: 5, rejected: 5, shared: 5 });
});

test('scoring FLOPs, minutes and GPU bounds follow their formulas; scaling keeps the per-pair mean', () => {
  const w = sumPairTokens('x', [{ chosen: 300, rejected: 200, shared: 100 }, { chosen: 100, rejected: 100, shared: 100 }], 'two pairs');
  assert.deepEqual([w.plainTokens, w.sharedTokens, w.pairs], [700, 500, 2]);
  const n = llamaParamCounts(SMOL);
  assert.equal(scoringFlops(SMOL, w, 'plain'), 2 * n.bodyMatmul * 700 + 2 * 2 * SMOL.hiddenSize * SMOL.vocabSize * 2);
  assert.equal(scoringFlops(SMOL, w, 'shared'), 2 * n.bodyMatmul * 500 + 2 * 2 * SMOL.hiddenSize * SMOL.vocabSize * 2);
  assert.equal(minutesAt(6e11, 10), 1); // 600 GFLOP at 10 GFLOP/s = 60 s
  assert.ok(Number.isNaN(minutesAt(1, 0)));
  const big = scaleWorkload(w, 10, 'y', 'scaled');
  assert.deepEqual([big.pairs, big.counted, big.plainTokens, big.sharedTokens], [10, 2, 3500, 2500]);
  assert.throws(() => scaleWorkload({ ...w, counted: 0 }, 5, 'z', ''), /no counted pairs/);
  const h100 = PAPER_GPUS.find((g) => g.name.startsWith('H100'))!;
  const g = gpuMinutes(SMOL, 1e15, 32, h100, { mfu: 0.5, batch: 16 });
  assert.ok(Math.abs(g.compute - 1e15 / (0.5 * 989e12) / 60) < 1e-12);
  assert.ok(Math.abs(g.bandwidth - (2 * 2 * n.total) / 3.35e12 / 60) < 1e-12); // 2 passes of bf16 weights
  assert.equal(g.minutes, Math.max(g.compute, g.bandwidth));
  // DPO step: 3 × policy forward + reference forward, two sequences
  const fwd = 2 * (2 * n.bodyMatmul * 512 + 2 * SMOL.hiddenSize * SMOL.vocabSize * 384);
  assert.equal(dpoStepFlops(SMOL, 512, 384), 4 * fwd);
});

test('buildProjections: measured rate × counted FLOPs on this CPU, FLOP scaling for the unmeasured shape, GPUs on paper', () => {
  const w: WorkloadTokens = { name: 'full RewardBench filtered (2,985 pairs)', pairs: 2985, counted: 1985, plainTokens: 1.6e6, sharedTokens: 1.2e6, note: '' };
  const rows = buildProjections({
    measured: [{ model: 'smol', shape: SMOL, scoring: { engine: 'onnx', workload: 'ipo-pair', path: 'shared', executedGflopsPerS: 100 }, dpo: { ms: 60000, tokens: 512, headRows: 384 } }],
    targets: [{ label: '135M', shape: SMOL, ratesFrom: 'smol' }, { label: '0.5B', shape: QWEN25_05B_SHAPE, ratesFrom: 'smol' }],
    workloads: { '135M': [w], '0.5B': [w] },
  });
  const cpu135 = rows.find((r) => r.shape === '135M' && r.workload === w.name && r.where.startsWith('this CPU'))!;
  assert.ok(Math.abs(cpu135.minutes - scoringFlops(SMOL, w, 'shared') / 100e9 / 60) < 1e-9);
  assert.match(cpu135.basis, /measured 100 GFLOP\/s .*1,200,000 counted positions \(1985 pairs counted, 2985 extrapolated\)/);
  const cpu05 = rows.find((r) => r.shape === '0.5B' && r.workload === w.name && r.where.startsWith('this CPU'))!;
  assert.ok(Math.abs(cpu05.minutes - scoringFlops(QWEN25_05B_SHAPE, w, 'shared') / 100e9 / 60) < 1e-9);
  assert.match(cpu05.basis, /smol's measured/);
  const dpo135 = rows.find((r) => r.shape === '135M' && r.workload.startsWith('one DPO epoch') && r.where.startsWith('this CPU'))!;
  assert.equal(dpo135.minutes, 1000); // 60 s × 1,000 pairs
  const dpo05 = rows.find((r) => r.shape === '0.5B' && r.workload.startsWith('one DPO epoch') && r.where.startsWith('this CPU'))!;
  assert.ok(Math.abs(dpo05.minutes - 1000 * dpoStepFlops(QWEN25_05B_SHAPE, 512, 384) / dpoStepFlops(SMOL, 512, 384)) < 1e-6);
  assert.equal(rows.filter((r) => r.where.includes('on paper')).length, 2 * 2 * PAPER_GPUS.length); // scoring + DPO per shape × GPU
  for (const r of rows) assert.ok(r.minutes > 0 && Number.isFinite(r.minutes), `${r.workload} ${r.shape} ${r.where}`);
});

test('scoringWorkloads counts the data on disk and extrapolates the rest to the official sizes', () => {
  const [filtered, raw, rm] = scoringWorkloads(encode);
  assert.deepEqual([filtered.pairs, raw.pairs, rm.pairs], [2985, 5123, 3 * 1327]);
  assert.ok(filtered.counted > 1500 && filtered.counted < 2985, `${filtered.counted} rebuilt pairs counted`);
  assert.equal(rm.counted, 3 * 798);
  for (const w of [filtered, raw, rm]) {
    assert.ok(w.sharedTokens < w.plainTokens, `${w.name}: the common prefix saves work`);
    assert.ok(w.plainTokens / w.pairs > 100 && w.plainTokens / w.pairs < 2048, `${w.name}: ${w.plainTokens / w.pairs} tokens per pair`);
    assert.match(w.note, /not on disk/);
  }
  // raw has 805 pairs per alpacaeval subset instead of ~100: more pairs, same subsets
  assert.ok(raw.plainTokens > filtered.plainTokens);
});

test('measuredRate picks the fastest scoring row and its executed rate; toy targets get no GPU rows; the figure has one bar per row', async () => {
  const { measuredRate, benchRatioFigure } = await import('../lib/bench/index.ts');
  const rows = [
    { model: 'm', engine: 'tf', workload: 'ipo-pair', kind: 'ipo', medianMs: 500, tokens: 600, headRows: '1', ratio: 0.3, detail: { variant: 'shared', executedGflop: 40 } },
    { model: 'm', engine: 'onnx', workload: 'ipo-pair-plain', kind: 'ipo', medianMs: 200, tokens: 600, headRows: '1', ratio: 0.6, detail: { variant: 'plain', executedGflop: 60, dtype: 'fp32' } },
    { model: 'm', engine: 'onnx', workload: 'ipo-pair-q8', kind: 'ipo', medianMs: 100, tokens: 600, headRows: '1', ratio: 1.2, detail: { variant: 'shared', executedGflop: 45, dtype: 'q8' } },
    { model: 'm', engine: 'tf', workload: 'ipo-cache-warm', kind: 'ipo', medianMs: 0.1, tokens: 0, headRows: '-', ratio: 0, detail: { speedup: 1000 } },
    { model: 'm', engine: 'tf', workload: 'dpo-step-512', kind: 'train', medianMs: 9000, tokens: 1024, headRows: '384', ratio: 0.2 },
    { model: '-', engine: 'tf', workload: 'matmul 512x512x512', kind: 'kernel', medianMs: 10, tokens: 0, headRows: '-', ratio: 0.9 },
  ];
  const r = measuredRate(rows, 'm', SMOL);
  assert.deepEqual(r.scoring, { engine: 'onnx q8', workload: 'ipo-pair-q8', path: 'shared', executedGflopsPerS: 450 });
  assert.deepEqual(r.dpo, { ms: 9000, tokens: 512, headRows: 384, engine: 'tf wasm' });
  const w: WorkloadTokens = { name: 'w', pairs: 10, counted: 10, plainTokens: 1000, sharedTokens: 800, note: '' };
  const proj = buildProjections({ measured: [r], targets: [{ label: 'toy', shape: SMOL, ratesFrom: 'm', gpu: false }], workloads: { toy: [w] } });
  assert.deepEqual(proj.map((p) => p.where), ['this CPU (onnx q8)', 'this CPU (tf wasm)']);
  const fig = benchRatioFigure(rows);
  const bars = (fig.data as { y: string[]; x: number[] }[]).flatMap((d) => d.x);
  assert.deepEqual(bars.sort(), [0.2, 0.3, 0.6, 1.2].sort(), 'kernel and zero-ratio rows are left out');
});
