import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readLlamaConfig } from '../lib/models/config.ts';
import { findAsset } from '../lib/util/paths.ts';
import {
  batchForwardFlops, classifyTfKernels, decodeFlops, forwardFlops, gflopsPerSecond, llamaParamCounts, markdownTable, matmulFlops,
  matmulOnnxModel, measure, median, peakOf, quantile, ratioToPeak, textTable, type KernelResult, type LlamaShape,
} from '../lib/bench/index.ts';

// Smoke tests of the benchmark's arithmetic: FLOP counts against hand computations and the published table of
// docs/peers-and-style.md §3.1, the ratio helpers, the repetition logic on a fake clock. No timing assertions:
// speed is reported by `npm run bench`, as ratios to peaks measured in the same run.

const smol = readLlamaConfig(findAsset('smollm2-135m-instruct-tokenizer'));

// Qwen2.5-0.5B-Instruct config (docs/peers-and-style.md §3.1): 24 layers, d 896, ffn 4864, 14 q / 2 kv heads, vocab 151,936, tied, q/k/v bias.
const qwen: LlamaShape = {
  vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numHiddenLayers: 24, numAttentionHeads: 14, numKeyValueHeads: 2,
  headDim: 64, tieWordEmbeddings: true, attentionBias: true,
};

const round = (x: number, digits: number) => Number(x.toFixed(digits));

test('SmolLM2-135M parameter counts equal a hand computation from its config.json and the peers-and-style table', () => {
  assert.equal(smol.numHiddenLayers, 30);
  assert.equal(smol.hiddenSize, 576);
  const n = llamaParamCounts(smol);
  // per layer: q 576·576, k and v 576·(3·64), o 576·576, gate/up/down 3·576·1536
  const perLayer = 576 * 576 + 2 * 576 * 192 + 576 * 576 + 3 * 576 * 1536;
  assert.equal(perLayer, 3_538_944);
  assert.equal(n.bodyMatmul, 30 * perLayer);
  assert.equal(n.norms, (2 * 30 + 1) * 576);
  assert.equal(n.biases, 0);
  assert.equal(n.embedding, 49152 * 576);
  assert.equal(n.lmHead, 0, 'tied');
  assert.equal(n.total, 134_515_008, 'the parameter count makeRandomModel reports for this config');
  // the table: body 106.2 M, tied embedding 28.3 M, total 134.5 M
  assert.equal(round(n.body / 1e6, 1), 106.2);
  assert.equal(round(n.bodyMatmul / 1e6, 1), 106.2);
  assert.equal(round(n.embedding / 1e6, 1), 28.3);
  assert.equal(round(n.total / 1e6, 1), 134.5);
});

test('Qwen2.5-0.5B parameter counts match the peers-and-style table (body 357.9 M with biases and norms, embedding 136.1 M)', () => {
  const n = llamaParamCounts(qwen);
  assert.equal(n.biases, 24 * (896 + 2 * 128));
  assert.equal(round(n.body / 1e6, 1), 357.9);
  assert.equal(round(n.embedding / 1e6, 1), 136.1);
  assert.equal(round(n.total / 1e6, 1), 494.0);
});

test('forward FLOPs: 2·N_body per token, 2·d·V per LM-head row, head share and all-positions overhead as in the table', () => {
  for (const [c, body, head, share, overhead] of [[smol, 0.212, 0.057, 21, 27], [qwen, 0.716, 0.272, 28, 38]] as const) {
    const one = forwardFlops(c, { tokens: 1 });
    assert.equal(round(one.body / 1e9, 3), body);
    assert.equal(round(one.head / 1e9, 3), head);
    assert.equal(Math.round((100 * one.head) / one.total), share);
    const T = 400;
    const last = forwardFlops(c, { tokens: T, headRows: 'last' });
    const all = forwardFlops(c, { tokens: T, headRows: 'all' });
    assert.equal(last.body, 2 * llamaParamCounts(c).bodyMatmul * T);
    assert.equal(last.head, 2 * c.hiddenSize * c.vocabSize);
    assert.equal(all.head, T * last.head);
    assert.equal(forwardFlops(c, { tokens: T, headRows: 7 }).head, 7 * last.head);
    assert.equal(Math.round((100 * (all.total - last.total)) / last.body), overhead, '+27 % (SmolLM2) / +38 % (Qwen) for logits at every position');
  }
  // attention ≈ 34 MFLOP/token for Qwen2.5-0.5B at T = 400 (4·L·T·d), dense over T×S
  const q = forwardFlops(qwen, { tokens: 400 });
  assert.equal(q.attention, 4 * 24 * (14 * 64) * 400 * 400);
  assert.equal(round(q.attention / 400 / 1e6, 0), 34);
  assert.equal(q.withAttention, q.total + q.attention);
  // the brief's example: prefill of 128 tokens on SmolLM2, last-position head
  const p = forwardFlops(smol, { tokens: 128, headRows: 'last' });
  assert.equal(p.total, 2 * 106_168_320 * 128 + 2 * 576 * 49152);
});

test('decode and batch FLOPs are sums of single forward passes', () => {
  const d = decodeFlops(smol, { past: 32, steps: 3 });
  const one = (past: number) => forwardFlops(smol, { tokens: 1, past, headRows: 1 });
  assert.equal(d.total, 3 * one(0).total);
  assert.equal(d.attention, one(32).attention + one(33).attention + one(34).attention);
  assert.equal(one(32).attention, 4 * 30 * 576 * 1 * 33);
  const b = batchForwardFlops(smol, [300, 280], 'all');
  assert.equal(b.total, forwardFlops(smol, { tokens: 300, headRows: 'all' }).total + forwardFlops(smol, { tokens: 280, headRows: 'all' }).total);
  assert.deepEqual(forwardFlops(smol, { tokens: 0 }), { body: 0, head: 0, attention: 0, total: 0, withAttention: 0 });
  assert.throws(() => forwardFlops(smol, { tokens: -1 }), /tokens/);
});

test('ratio helpers: GFLOP/s, ratio to peak, peak of kernel results', () => {
  assert.equal(matmulFlops(512, 512, 512), 268_435_456);
  assert.equal(gflopsPerSecond(2e9, 1000), 2);
  assert.equal(gflopsPerSecond(matmulFlops(512, 512, 512), 10.24), 26.2144);
  assert.equal(ratioToPeak(12.5, 25), 0.5);
  assert.ok(Number.isNaN(ratioToPeak(1, 0)));
  assert.ok(Number.isNaN(ratioToPeak(NaN, 10)));
  const k = (engine: 'tf' | 'onnx', m: number, bestGflops: number): KernelResult => ({
    engine, shape: { m, k: m, n: m }, flops: matmulFlops(m, m, m), bestMs: 1, medianMs: 1, reps: 1, bestGflops, medianGflops: bestGflops,
  });
  assert.deepEqual(peakOf([k('tf', 512, 20), k('tf', 1024, 24), k('tf', 256, 22)]), { gflops: 24, shape: { m: 1024, k: 1024, n: 1024 } });
  assert.ok(Number.isNaN(peakOf([]).gflops));
});

test('statistics and the repetition logic (fake clock): warm-up excluded, min/max reps, time budget', async () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.25), 2);
  let clock = 0;
  const costs = [100, 10, 20, 30, 40, 50];
  const m = await measure((run) => { clock += costs[run]; }, { warmup: 1, minReps: 3, maxReps: 10, budgetMs: 55, now: () => clock });
  assert.deepEqual(m.warmupMs, [100]);
  assert.deepEqual(m.samplesMs, [10, 20, 30], 'stops after minReps once the budget (55 ms) is spent');
  assert.equal(m.medianMs, 20);
  assert.equal(m.minMs, 10);
  clock = 0;
  const fixed = await measure(() => { clock += 1; }, { warmup: 0, minReps: 4, maxReps: 4, budgetMs: 0, now: () => clock });
  assert.equal(fixed.reps, 4);
});

test('TF kernel classification: weight, attention and LM-head matmuls of a profile', () => {
  const kernels = [
    { name: 'BatchMatMul', inputShapes: [[128, 576], [576, 1536]], outputShapes: [[128, 1536]], kernelTimeMs: 10 },
    { name: 'BatchMatMul', inputShapes: [[128, 64], [64, 128]], outputShapes: [[128, 128]], kernelTimeMs: 1 },
    { name: 'BatchMatMul', inputShapes: [[128, 128], [128, 64]], outputShapes: [[128, 64]], kernelTimeMs: 1 },
    { name: 'BatchMatMul', inputShapes: [[1, 576], [576, 49152]], outputShapes: [[1, 49152]], kernelTimeMs: 4 },
    { name: 'Softmax', inputShapes: [[128, 128]], outputShapes: [[128, 128]], kernelTimeMs: 0.5 },
    { name: 'Add', inputShapes: [[128, 576], [128, 576]], outputShapes: [[128, 576]], kernelTimeMs: { error: 'n/a' } },
  ];
  const b = Object.fromEntries(classifyTfKernels(kernels, smol).map((x) => [x.category, x]));
  assert.equal(b['weight matmul'].flops, matmulFlops(128, 576, 1536));
  assert.equal(b['weight matmul'].gflops, gflopsPerSecond(matmulFlops(128, 576, 1536), 10));
  assert.equal(b['attention matmul'].calls, 2);
  assert.equal(b['attention matmul'].flops, 2 * matmulFlops(128, 64, 128));
  assert.equal(b['LM head matmul'].flops, matmulFlops(1, 576, 49152));
  assert.equal(b['other kernels'].calls, 2);
  assert.equal(b['other kernels'].ms, 0.5);
});

test('the peak ONNX graph computes A·B (checked against a hand product in onnxruntime-node)', async () => {
  const ort = await import('onnxruntime-node');
  const B = Float32Array.from([1, 2, 3, 4, 5, 6]); // [3, 2]
  const session = await ort.InferenceSession.create(matmulOnnxModel({ m: 2, k: 3, n: 2 }, { b: B }));
  const A = new ort.Tensor('float32', Float32Array.from([1, 0, -1, 2, 1, 0]), [2, 3]);
  const y = (await session.run({ A })).Y;
  assert.deepEqual(y.dims, [2, 2]);
  // [1,0,-1]·B = [1-5, 2-6] = [-4,-4]; [2,1,0]·B = [2+3, 4+4] = [5, 8]
  assert.deepEqual(Array.from(y.data as Float32Array), [-4, -4, 5, 8]);
  await session.release();
});

test('tables: text columns are aligned, markdown escapes pipes', () => {
  const t = textTable(['name', 'x'], [['a', '1'], ['long name', '22']]).split('\n');
  assert.equal(t.length, 4);
  assert.ok(t.every((l) => l.length <= t[1].length));
  assert.equal(t[3], 'long name  22');
  const md = markdownTable(['a', 'b'], [['x|y', '2']]);
  assert.match(md, /x\\\|y/);
  assert.match(md.split('\n')[1], /^\|---\|---:\|$/);
});
