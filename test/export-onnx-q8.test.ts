import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { ensureBackend } from '../lib/models/backend.ts';
import { parseLlamaConfig } from '../lib/models/config.ts';
import { exportOnnxFromRef, exportOnnxFromWeights } from '../lib/models/export-onnx.ts';
import { DynamicQ8, GraphBuilder, onnx, quantizeSymmetricInt8, T, transpose2d, valueInfo } from '../lib/models/onnx-graph.ts';
import { loadOnnxModel, type OnnxCausalLM } from '../lib/models/onnx.ts';
import { makeRandomModel, randomWeights } from '../lib/models/make-model.ts';
import { readSafetensors } from '../lib/models/safetensors.ts';
import { compareQuantized, mcnemarExactP, rewardBenchSlice } from '../lib/eval/quantization.ts';
import { scorePair } from '../lib/scoring/yes-no.ts';
import { findAsset } from '../lib/util/paths.ts';

// Issue #10 part 1: q8 ONNX (onnxruntime quantize_dynamic's int8 recipe) written by the kit's own exporter.

await ensureBackend();
const TINY = findAsset('models/tinystories-656k');
const tmp = mkdtempSync(join(tmpdir(), 'ipo-q8-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const tensorsBefore = tf.memory().numTensors;
const OUT = join(tmp, 'tiny');
const exported = await exportOnnxFromRef(TINY, OUT, { quantize: 'q8' });
const config = parseLlamaConfig(JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')), 'config.json');
const weights = readSafetensors(join(TINY, 'model.safetensors')); // PyTorch layout [out, in]

const fp32 = await ort.InferenceSession.create(exported.onnxPath);
const q8 = await ort.InferenceSession.create(exported.quantized!.onnxPath);

/** Feeds of one unpadded sequence (no past; logits at every position, or the last `keep`). */
function feeds(ids: number[], keep = 0): Record<string, ort.Tensor> {
  const n = ids.length;
  const f: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(i)), [1, n]),
    num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), []),
  };
  for (let l = 0; l < config.numHiddenLayers; l++) {
    for (const kind of ['key', 'value']) {
      f[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, config.numKeyValueHeads, 0, config.headDim]);
    }
  }
  return f;
}

function decodeModel(path: string) {
  return onnx.ModelProto.decode(readFileSync(path));
}

function initializer(model: ReturnType<typeof decodeModel>, name: string) {
  const t = model.graph!.initializer!.find((i) => i.name === name);
  assert.ok(t, `initializer ${name} missing`);
  return t;
}

/** `[out, in]` PyTorch weight → `[in, out]` (MatMul B). */
function linearWeight(name: string): Float32Array {
  const t = weights.get(name)!;
  return transpose2d(t.data, t.shape[0], t.shape[1]);
}

// ---------------------------------------------------------------------------------------------------------------
// The reference: onnxruntime quant_utils.py, transcribed line by line in numpy's float32/float64 semantics
// (compute_data_quant_params → compute_scale_zp(rmin, rmax, qmin=-127, qmax=127, symmetric=True) → quantize_nparray).

function roundHalfEvenRef(x: number): number {
  // np.round / np.rint: nearest, ties to even
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

function quantUtilsRef(data: Float32Array): { zeroPoint: number; scale: number; q: Int8Array } {
  const f32 = Math.fround;
  let dmin = Infinity;
  let dmax = -Infinity;
  for (const v of data) { dmin = Math.min(dmin, v); dmax = Math.max(dmax, v); }
  let rmin = Math.min(dmin, 0); // numpy.minimum(rmin, 0)
  let rmax = Math.max(dmax, 0);
  const absmax = Math.max(Math.abs(rmin), Math.abs(rmax)); // symmetric
  rmin = -absmax;
  rmax = absmax;
  const [qmin, qmax] = [-127, 127]; // ONNX_INT_TYPE_SYMMETRIC_RANGE[INT8]
  const dr = f32(rmax - rmin); // numpy.array(rmax - rmin, dtype=float64): float32 subtraction, then widened
  const dq = qmax - qmin;
  let scale = dr / dq; // float64
  let zeroPoint: number;
  if (scale < 1.1754943508222875e-38) { // numpy.finfo(float32).tiny
    scale = 1;
    zeroPoint = 0;
  } else {
    zeroPoint = roundHalfEvenRef((qmin + qmax) / 2);
    scale = f32(scale); // scale.astype(float32)
  }
  // quantize_nparray: (arr.astype(float32) / scale).round() + zero_point, clipped to the INT8 range [-128, 127]
  const q = Int8Array.from(data, (v) => Math.min(127, Math.max(-128, roundHalfEvenRef(f32(v / scale)) + zeroPoint)));
  return { zeroPoint, scale, q };
}

/** onnxruntime's own QuantizeLinear (a second implementation of quantize_nparray's rounding and clipping). */
async function ortQuantizeLinear(data: Float32Array, scale: number): Promise<Int8Array> {
  const g = new GraphBuilder(17);
  const s = g.init('s', [], T.FLOAT, 4, () => new Uint8Array(Float32Array.of(scale).buffer));
  const z = g.init('z', [], T.INT8, 1, () => Uint8Array.of(0));
  g.op('QuantizeLinear', ['x', s, z], {}, 'q', 'y');
  const model = onnx.ModelProto.encode({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'q', node: g.nodes, initializer: g.initializerProtos(), input: [valueInfo('x', T.FLOAT, [data.length])], output: [valueInfo('y', T.INT8, [data.length])] },
  }).finish();
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ x: new ort.Tensor('float32', data, [data.length]) });
  return Int8Array.from(out.y.data as Int8Array);
}

// ---------------------------------------------------------------------------------------------------------------

test('--quantize q8 writes onnx/model_quantized.onnx beside the fp32 graph, with the same inputs and outputs', async () => {
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the export leaves no tfjs tensors');
  const q = exported.quantized!;
  assert.ok(existsSync(q.onnxPath) && existsSync(exported.onnxPath));
  assert.ok(exported.files.includes('onnx/model.onnx') && exported.files.includes('onnx/model_quantized.onnx'));
  assert.equal(q.lmHeadQuantized, true);
  assert.equal(q.quantizedMatMuls, 7 * config.numHiddenLayers + 1); // q k v o gate up down per layer + LM head
  assert.ok(q.bytes < exported.bytes, `${q.bytes} < ${exported.bytes}`);
  assert.deepEqual(q8.inputNames, fp32.inputNames);
  assert.deepEqual(q8.outputNames, fp32.outputNames);
  assert.deepEqual(q8.inputMetadata, fp32.inputMetadata);
  assert.deepEqual(q8.outputMetadata, fp32.outputMetadata);

  const m = decodeModel(q.onnxPath);
  const ops = m.graph!.node!.map((n) => n.opType);
  const count = (op: string) => ops.filter((o) => o === op).length;
  assert.equal(count('MatMulInteger'), 7 * config.numHiddenLayers + 1);
  // one DynamicQuantizeLinear per distinct activation: h (q/k/v), ctx (o), h2 (gate/up), act (down); + final norm
  assert.equal(count('DynamicQuantizeLinear'), 4 * config.numHiddenLayers + 1);
  assert.equal(count('MatMul'), 2 * config.numHiddenLayers, 'only the attention products (no constant B) stay float');
  assert.equal(count('Gemm'), 0);
  const inits = new Set(m.graph!.initializer!.map((i) => i.name));
  assert.ok(inits.has('model.embed_tokens.weight'), 'the embedding Gather keeps the fp32 table');
  assert.ok(inits.has('lm_head.weight_quantized') && !inits.has('model.layers.0.self_attn.q_proj.weight'));
  assert.equal(initializer(m, 'model.layers.0.mlp.down_proj.weight_quantized').dataType, T.INT8);
  assert.deepEqual(initializer(m, 'model.layers.0.mlp.down_proj.weight_quantized').dims!.map(Number), [config.intermediateSize, config.hiddenSize]);
  const meta = Object.fromEntries(m.metadataProps!.map((p) => [p.key, p.value]));
  assert.match(meta.quantization, /quantize_dynamic/);

  // The PyTorch-layout export path gives the same int8 tensors (its tied LM head is transposed differently).
  const viaWeights = exportOnnxFromWeights(config, weights, TINY, join(tmp, 'from-weights'), { quantize: 'q8' });
  const w = decodeModel(viaWeights.quantized!.onnxPath);
  for (const t of m.graph!.initializer!) {
    const u = initializer(w, t.name!);
    assert.deepEqual(Buffer.from(u.rawData!), Buffer.from(t.rawData!), t.name!);
  }
});

test('re-exporting without --quantize removes a stale kit q8 file; a bad mode is a one-line error', async () => {
  const dir = join(tmp, 'stale');
  exportOnnxFromWeights(config, weights, TINY, dir, { quantize: 'q8' });
  assert.ok(existsSync(join(dir, 'onnx', 'model_quantized.onnx')));
  const r = exportOnnxFromWeights(config, weights, TINY, dir);
  assert.equal(r.quantized, undefined);
  assert.ok(!existsSync(join(dir, 'onnx', 'model_quantized.onnx')), 'q8 weights of an older export must not survive');
  assert.throws(() => exportOnnxFromWeights(config, weights, TINY, dir, { quantize: 'q4' as 'q8' }), (e: Error) => !e.message.includes('\n') && /unknown quantization 'q4'/.test(e.message));
});

test('untied head with q/k/v biases (Qwen2) and a tied head kept fp32: the q8 graphs run and stay close to fp32', async () => {
  const qwen2 = parseLlamaConfig({
    architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 97, hidden_size: 32, intermediate_size: 48,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000,
    max_position_embeddings: 64, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  });
  const ids = [1, 5, 9, 33, 2, 70, 11, 4, 60, 7];
  const cases = [
    { c: qwen2, w: randomWeights(qwen2, { seed: 4, std: 0.25, biasStd: 0.25, normStd: 0.2 }), lmHead: true, matmuls: 15, gemm: 0 },
    { c: qwen2, w: randomWeights(qwen2, { seed: 4, std: 0.25, biasStd: 0.25, normStd: 0.2 }), lmHead: false, matmuls: 14, gemm: 0 },
    { c: config, w: weights, lmHead: false, matmuls: 14, gemm: 1 },
  ];
  for (const [i, k] of cases.entries()) {
    const r = exportOnnxFromWeights(k.c, k.w, null, join(tmp, `variant-${i}`), { quantize: 'q8', quantizeLmHead: k.lmHead, withPast: false });
    assert.equal(r.quantized!.quantizedMatMuls, k.matmuls);
    assert.equal(r.quantized!.lmHeadQuantized, k.lmHead);
    const ops = decodeModel(r.quantized!.onnxPath).graph!.node!.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'MatMulInteger').length, k.matmuls);
    assert.equal(ops.filter((o) => o === 'Gemm').length, k.gemm);
    const run = async (path: string) => {
      const s = await ort.InferenceSession.create(path);
      const f = Object.fromEntries(Object.entries(feeds(ids)).filter(([n]) => s.inputNames.includes(n)));
      const out = (await s.run(f)).logits;
      await s.release();
      return out;
    };
    const [a, b] = [await run(r.onnxPath), await run(r.quantized!.onnxPath)];
    assert.deepEqual(b.dims, a.dims);
    const [x, y] = [a.data as Float32Array, b.data as Float32Array];
    let num = 0;
    let den = 0;
    for (let j = 0; j < x.length; j++) { num += (y[j] - x[j]) ** 2; den += x[j] ** 2; }
    const rel = Math.sqrt(num / den);
    assert.ok(rel > 0 && rel < 0.15, `case ${i}: relative L2 error of the logits ${rel}`);
  }
});

test('(a) q8 logits stay close to fp32 logits and keep the next-token argmax on most positions', async () => {
  // Expected size of the error: int8 rounding is uniform noise of std scale/√12. Per-tensor weight scales are
  // max|W|/127 and uint8 activation scales range/255, so with trained weights ~8x their rms at the max and RMSNorm
  // outputs with a range ~20x their rms, each projection adds ~2-3 % relative noise; 7 chained projections per layer
  // (through residuals), 2 layers and the head give ~5-10 % relative L2 error of a logits row (measured 6-8 % here).
  // Bound: 15 % per position, argmax equal on at least 85 % of the positions.
  const m = await loadOnnxModel(OUT);
  try {
    const texts = [
      'Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.',
      'The dog said, "I want to play with the ball!" Tom laughed.',
      'One day, a big bird flew over the house and saw a cat sleeping in the garden. The cat woke up and',
    ];
    const V = config.vocabSize;
    let positions = 0;
    let agree = 0;
    for (const text of texts) {
      const ids = m.encode(text);
      const a = (await fp32.run(feeds(ids))).logits.data as Float32Array;
      const b = (await q8.run(feeds(ids))).logits.data as Float32Array;
      for (let p = 0; p < ids.length; p++) {
        let num = 0;
        let den = 0;
        let am = 0;
        let bm = 0;
        for (let v = 0; v < V; v++) {
          const [x, y] = [a[p * V + v], b[p * V + v]];
          num += (y - x) ** 2;
          den += x * x;
          if (x > a[p * V + am]) am = v;
          if (y > b[p * V + bm]) bm = v;
        }
        const rel = Math.sqrt(num / den);
        assert.ok(rel < 0.15, `${JSON.stringify(text.slice(0, 20))} position ${p}: relative L2 error ${rel}`);
        assert.ok(rel > 0, 'the q8 graph must differ from fp32 (is it really quantized?)');
        positions++;
        if (am === bm) agree++;
      }
    }
    assert.ok(agree / positions >= 0.85, `argmax agreement ${agree}/${positions}`);
  } finally {
    m.dispose();
  }
});

test('(a) the onnx engine with dtype q8 loads model_quantized.onnx (transformers.js), keeping num_logits_to_keep', async () => {
  let a: OnnxCausalLM | null = null;
  let b: OnnxCausalLM | null = null;
  try {
    a = await loadOnnxModel(OUT, { dtype: 'fp32' });
    b = await loadOnnxModel(OUT, { dtype: 'q8' });
    assert.equal(b.hasLogitsToKeep, true);
    assert.equal(b.hasKvCache, true);
    const ids = a.encode('Lily and Tom went to the park. They saw');
    // keep = 1 as the engine feeds it: the LM head's DynamicQuantizeLinear then sees only the last row, so its
    // activation scale (and the logits) differ from a keep = 0 run; the engine must equal the keep = 1 run.
    const V = config.vocabSize;
    const last = (await q8.run(feeds(ids, 1))).logits.data as Float32Array;
    assert.equal(last.length, V);
    const full = (await q8.run(feeds(ids, 0))).logits.data as Float32Array;
    let dKeep = 0;
    for (let v = 0; v < V; v++) dKeep = Math.max(dKeep, Math.abs(full[(ids.length - 1) * V + v] - last[v]));
    assert.ok(dKeep > 0, 'per-tensor activation quantization makes q8 logits depend on the rows kept');
    let max = -Infinity;
    for (const v of last) max = Math.max(max, v);
    let sum = 0;
    for (const v of last) sum += Math.exp(v - max);
    const want = Array.from(last, (v) => v - max - Math.log(sum));
    const got = await b.nextTokenLogProbs(ids);
    const fp = await a.nextTokenLogProbs(ids);
    let dq = 0;
    let df = 0;
    for (let v = 0; v < V; v++) {
      dq = Math.max(dq, Math.abs(got[v] - want[v]));
      df = Math.max(df, Math.abs(got[v] - fp[v]));
    }
    assert.ok(dq < 1e-4, `engine q8 vs the raw q8 session: ${dq}`);
    assert.ok(df > 1e-3, `engine q8 must not be the fp32 graph (max diff ${df})`);
    // greedy decoding through the KV cache runs on the q8 graph too
    const gen = await b.generate(ids, { maxNewTokens: 8 });
    assert.equal(gen.length, 8);
  } finally {
    a?.dispose();
    b?.dispose();
  }
});

test('(b) weight quantization equals onnxruntime quant_utils (transcribed) and onnxruntime QuantizeLinear, extremes included', async () => {
  const cases: [string, Float32Array][] = [
    ['all zeros', new Float32Array(12)],
    ['constant positive', new Float32Array(12).fill(0.3)],
    ['constant negative', new Float32Array(12).fill(-0.7)],
    ['one huge outlier', Float32Array.from({ length: 24 }, (_, i) => (i === 5 ? 1000 : Math.sin(i) * 0.05))],
    // absmax 127 → scale exactly 1: the ±x.5 values test ties-to-even (2.5 → 2, 3.5 → 4, -2.5 → -2, 0.5 → 0)
    ['rounding ties', Float32Array.of(127, 2.5, 3.5, -2.5, 0.5, 1.5, -0.5, -126.5, 126.5, -127)],
    ['tiny values', Float32Array.of(1e-39, -2e-39, 0)],
    ['random', Float32Array.from({ length: 64 }, (_, i) => Math.fround(Math.cos(i * 1.7) * (i % 7 === 0 ? 0.3 : 0.02)))],
  ];
  for (const [name, data] of cases) {
    const ref = quantUtilsRef(data);
    const got = quantizeSymmetricInt8(data, name);
    assert.equal(ref.zeroPoint, 0, name);
    assert.equal(got.scale, ref.scale, `${name}: scale`);
    assert.deepEqual(Array.from(got.data), Array.from(ref.q), `${name}: int8 values (quant_utils)`);
    assert.deepEqual(Array.from(got.data), Array.from(await ortQuantizeLinear(data, got.scale)), `${name}: int8 values (ORT QuantizeLinear)`);
  }
  assert.deepEqual(Array.from(quantizeSymmetricInt8(cases[4][1]).data), [127, 2, 4, -2, 0, 2, 0, -126, 126, -127]);
  assert.equal(quantizeSymmetricInt8(new Float32Array(4)).scale, 1, 'all-zero weights: quant_utils falls back to scale 1');
  assert.deepEqual(Array.from(quantizeSymmetricInt8(cases[1][1]).data), new Array(12).fill(127));
  assert.throws(() => quantizeSymmetricInt8(Float32Array.of(1, NaN), 'w'), /w: cannot quantize: value NaN/);

  // ... and the exported file holds exactly that for every weight (layer 0 q_proj, down_proj, the tied LM head).
  const m = decodeModel(exported.quantized!.onnxPath);
  const emb = weights.get('model.embed_tokens.weight') ?? weights.get('lm_head.weight')!; // tied: stored once
  const checks: [string, Float32Array][] = [
    ['model.layers.0.self_attn.q_proj.weight', linearWeight('model.layers.0.self_attn.q_proj.weight')],
    ['model.layers.1.mlp.down_proj.weight', linearWeight('model.layers.1.mlp.down_proj.weight')],
    ['lm_head.weight', transpose2d(emb.data, emb.shape[0], emb.shape[1])], // tied: Eᵀ [hidden, vocab]
  ];
  for (const [name, w] of checks) {
    const ref = quantUtilsRef(w);
    const q = initializer(m, `${name}_quantized`);
    assert.deepEqual(Array.from(new Int8Array(q.rawData!.buffer, q.rawData!.byteOffset, q.rawData!.byteLength)), Array.from(ref.q), name);
    const s = initializer(m, `${name}_scale`);
    assert.deepEqual(s.dims!.map(Number), []);
    assert.equal(new DataView(s.rawData!.buffer, s.rawData!.byteOffset, 4).getFloat32(0, true), ref.scale, `${name} scale`);
    const z = initializer(m, `${name}_zero_point`);
    assert.equal(z.dataType, T.INT8);
    assert.equal(z.rawData![0], 0);
  }
});

test('(c) the MatMulInteger path computes the same integer math as the host, and stays within its rounding bound', async () => {
  // One real projection (layer 0 q_proj of the embedded model), activations with an outlier, through DynamicQ8.
  const K = config.hiddenSize;
  const N = config.numAttentionHeads * config.headDim;
  const W = linearWeight('model.layers.0.self_attn.q_proj.weight');
  const [B, S] = [2, 7];
  const x = Float32Array.from({ length: B * S * K }, (_, i) => Math.fround(Math.sin(i * 0.37) * (i % 53 === 0 ? 6 : 1) - 0.1));
  const g = new GraphBuilder(17);
  const dq = new DynamicQ8(g);
  dq.matmul('x', 'w', [K, N], () => W, { output: 'y' });
  const xq = dq.quantizeInput('x'); // cached: the names of the node already added
  const yInt = g.nodes.find((n) => n.opType === 'MatMulInteger')!.output![0];
  const model = onnx.ModelProto.encode({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'one-layer', node: g.nodes, initializer: g.initializerProtos(),
      input: [valueInfo('x', T.FLOAT, [B, S, K])],
      output: [valueInfo('y', T.FLOAT, [B, S, N]), valueInfo(yInt, T.INT32, [B, S, N]), valueInfo(xq.q, T.UINT8, [B, S, K]), valueInfo(xq.scale, T.FLOAT, []), valueInfo(xq.zp, T.UINT8, [])],
    },
  }).finish();
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ x: new ort.Tensor('float32', x, [B, S, K]) });

  // DynamicQuantizeLinear as the ONNX reference implementation defines it (onnx/reference/ops/op_dynamic_quantize_linear.py,
  // float32 throughout): scale = (max(0, max x) − min(0, min x)) / 255, zp = rint(clip(0 − min/scale, 0, 255)),
  // q = clip(rint(x / scale) + zp, 0, 255).
  const f32 = Math.fround;
  let lo = 0;
  let hi = 0;
  for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const xs = hi === lo ? 1 : f32(f32(hi - lo) / 255);
  const zx = roundHalfEvenRef(Math.max(0, Math.min(255, f32(0 - f32(lo / xs)))));
  const qx = Uint8Array.from(x, (v) => Math.max(0, Math.min(255, roundHalfEvenRef(f32(v / xs)) + zx)));
  assert.equal((out[xq.scale].data as Float32Array)[0], xs, 'activation scale');
  assert.equal((out[xq.zp].data as Uint8Array)[0], zx, 'activation zero point');
  assert.deepEqual(Array.from(out[xq.q].data as Uint8Array), Array.from(qx), 'quantized activations');

  // MatMulInteger: Σ_k (qx − zx)(qw − 0) in int32, exactly; then float32 Cast and the two float32 Muls.
  const w8 = quantizeSymmetricInt8(W);
  const ws = w8.scale;
  const gotInt = out[yInt].data as Int32Array;
  const gotY = out.y.data as Float32Array;
  const sProd = f32(xs * ws);
  let worstVsFloat = 0;
  for (let r = 0; r < B * S; r++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      let exact = 0;
      let absX = 0;
      let absW = 0;
      for (let k = 0; k < K; k++) {
        acc += (qx[r * K + k] - zx) * w8.data[k * N + n];
        exact += x[r * K + k] * W[k * N + n];
        absX += Math.abs(x[r * K + k]);
        absW += Math.abs(W[k * N + n]);
      }
      assert.equal(gotInt[r * N + n], acc, `int32 accumulator [${r}, ${n}]`);
      assert.equal(gotY[r * N + n], f32(f32(acc) * sProd), `output [${r}, ${n}]`);
      // Worst case of the two roundings: |Δx| ≤ xs/2, |ΔW| ≤ ws/2 per term, so
      // |y_q − x·W| ≤ (ws/2)·Σ|x| + (xs/2)·Σ|W| + K·xs·ws/4 (+ float32 noise).
      const bound = (ws / 2) * absX + (xs / 2) * absW + (K * xs * ws) / 4;
      const err = Math.abs(gotY[r * N + n] - exact);
      assert.ok(err <= bound * 1.0001 + 1e-6, `[${r}, ${n}]: error ${err} above the rounding bound ${bound}`);
      worstVsFloat = Math.max(worstVsFloat, err / bound);
    }
  }
  assert.ok(worstVsFloat > 0 && worstVsFloat < 1);
});

test('(d) compareQuantized on rebuilt RewardBench pairs: consistent accuracies, flips and differences', async () => {
  const slice = rewardBenchSlice(1);
  assert.ok(slice.length >= 8);
  assert.deepEqual(rewardBenchSlice(1).map((p) => p.id), slice.map((p) => p.id), 'the slice is fixed');
  assert.ok(slice.every((p) => p.id.startsWith(`rebuilt:${p.category}:`)));
  assert.equal(new Set(slice.map((p) => p.category)).size, slice.length, 'one pair per subset');
  assert.ok(rewardBenchSlice(2, { subsets: ['llmbar-natural'] }).every((p) => p.category === 'llmbar-natural'));
  assert.throws(() => rewardBenchSlice(0), /perSubset must be a positive integer/);
  const pairs = slice.slice(0, 8);

  const randomDir = join(tmp, 'random');
  makeRandomModel({ like: join(TINY, 'config.json'), outDir: randomDir, seed: 3, std: 0.2 });
  const [base, quant, other] = [await loadOnnxModel(OUT), await loadOnnxModel(OUT, { dtype: 'q8' }), await loadOnnxModel(randomDir)];
  try {
    const check = async (b: typeof base, q: typeof base) => {
      const r = await compareQuantized(b, q, pairs, { bootstrap: { iterations: 200 } });
      assert.equal(r.n, pairs.length);
      assert.equal(r.pairs.length, pairs.length);
      const flips = r.pairs.filter((p) => p.base.correct !== p.quant.correct);
      assert.equal(r.flips, flips.length);
      assert.deepEqual(r.flipped.map((p) => p.index), flips.map((p) => p.index));
      assert.equal(r.flipsToCorrect + r.flipsToWrong, r.flips);
      assert.equal(r.flipsToCorrect, flips.filter((p) => p.quant.correct).length);
      assert.ok(Math.abs(r.quant.accuracy - r.base.accuracy - (r.flipsToCorrect - r.flipsToWrong) / r.n) < 1e-12);
      assert.ok(Math.abs(r.accuracyDiff.estimate - (r.quant.accuracy - r.base.accuracy)) < 1e-12);
      assert.equal(r.base.correct, r.pairs.filter((p) => p.base.correct).length);
      assert.equal(r.mcnemarP, mcnemarExactP(r.flipsToCorrect, r.flipsToWrong));
      const all = r.pairs.flatMap((p) => [Math.abs(p.dChosen), Math.abs(p.dRejected)]);
      assert.equal(r.maxAbsDPYes, Math.max(...all));
      assert.ok(Math.abs(r.meanAbsDPYes - all.reduce((s, v) => s + v, 0) / all.length) < 1e-12);
      // per-pair numbers are the plain scorePair results of each model
      const [sb, sq] = [await scorePair(b, pairs[2]), await scorePair(q, pairs[2])];
      assert.equal(r.pairs[2].base.chosen, sb.chosen.pYes);
      assert.equal(r.pairs[2].quant.rejected, sq.rejected.pYes);
      assert.equal(r.pairs[2].dMargin, (sq.chosen.pYes - sq.rejected.pYes) - (sb.chosen.pYes - sb.rejected.pYes));
      assert.equal(r.pairs[2].id, pairs[2].id);
      return r;
    };
    const r8 = await check(base, quant);
    assert.ok(r8.maxAbsDPYes > 0, 'q8 moves the scores');
    assert.ok(r8.maxAbsDPYes < 0.2, `q8 moves P(Yes) by at most ${r8.maxAbsDPYes}`);
    // A different model (random weights) disagrees on many pairs: the flip bookkeeping is exercised for real.
    const rr = await check(base, other);
    assert.ok(rr.maxAbsDPYes > r8.maxAbsDPYes);
  } finally {
    base.dispose();
    quant.dispose();
    other.dispose();
  }
  await assert.rejects(compareQuantized(base, quant, []), /no pairs to compare/);
});

test('exact McNemar p-values match the binomial formula', () => {
  assert.equal(mcnemarExactP(0, 0), 1);
  assert.ok(Math.abs(mcnemarExactP(3, 0) - 0.25) < 1e-15); // 2·(1/2)³
  assert.ok(Math.abs(mcnemarExactP(5, 1) - 2 * (1 + 6) / 64) < 1e-15);
  assert.equal(mcnemarExactP(4, 4), 1);
  assert.ok(mcnemarExactP(0, 200) < 1e-50);
});

test('npx ipo export-onnx --quantize q8 writes both files', async () => {
  const { spawnSync } = await import('node:child_process');
  const dir = join(tmp, 'cli');
  const r = spawnSync(process.execPath, ['bin/ipo.mjs', 'export-onnx', '--model', TINY, '--out', dir, '--quantize', 'q8', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { quantized: { onnx: string; bytes: number; quantizedMatMuls: number } };
  assert.ok(existsSync(join(dir, 'onnx', 'model_quantized.onnx')));
  assert.equal(j.quantized.quantizedMatMuls, 15);
  const bad = spawnSync(process.execPath, ['bin/ipo.mjs', 'export-onnx', '--model', TINY, '--out', dir, '--quantize', 'q4'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});
