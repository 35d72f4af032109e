import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ensureBackend } from '../lib/models/backend.ts';
import { LlamaTF, type LinearAdapter } from '../lib/models/llama-tf.ts';
import { readLlamaConfig, parseLlamaConfig } from '../lib/models/config.ts';
import { loadSafetensorsFolder } from '../lib/models/safetensors.ts';
import { loadTfModel } from '../lib/models/load.ts';
import { randomWeights } from '../lib/models/make-model.ts';
import { gradFixesInstalled, installGradFixes, logSigmoid, uninstallGradFixes } from '../lib/models/tf-grad-fixes.ts';
import { sequenceLogps, tokenLogps } from '../lib/models/token-logps.ts';
import { LoraAdapters } from '../lib/dpo/lora.ts';
import { findAsset } from '../lib/util/paths.ts';

// Issue 7 part 1: the training seams of the TF engine (linear seam, per-layer checkpointing, the wasm gradient
// fixes) and the masked completion log-probs, checked against stock tfjs on the `cpu` backend and against float64
// sums of the engine's own next-token distributions.

await ensureBackend('wasm');
const TINY = findAsset('models/tinystories-656k');
const CONFIG = readLlamaConfig(TINY);
const WEIGHTS = loadSafetensorsFolder(TINY);

/** Two right-padded sequences: prompt tokens, completion tokens (mask 1), padding (mask 0). */
const B = 2, T = 16;
const IDS = Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % CONFIG.vocabSize);
const MASK = Array.from({ length: B * T }, (_, i) => {
  const b = Math.floor(i / T), t = i % T;
  return b === 0 ? (t >= 9 && t < 15 ? 1 : 0) : (t >= 6 && t < 10 ? 1 : 0);
});

type Grads = { value: number; grads: Map<string, Float32Array> };

/** ∇ of Σ_b w_b·sequenceLogps(...).sum[b] w.r.t. every trainable variable, names without the instance prefix. */
function lossGrads(model: LlamaTF, opts: { training?: boolean; checkpoint?: boolean }): Grads {
  const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
    const { sum, count } = sequenceLogps(model, tf.tensor2d(IDS, [B, T], 'int32'), tf.tensor2d(MASK, [B, T]), opts);
    count.dispose();
    return tf.sum(tf.mul(sum, tf.tensor1d([1, -0.7]))) as tf.Scalar;
  }));
  const out = new Map<string, Float32Array>();
  for (const [k, g] of Object.entries(grads)) {
    out.set(k.replace(/^(ipo|lora)\d+\//, ''), Float32Array.from(g.dataSync()));
    g.dispose();
  }
  const v = value.dataSync()[0];
  value.dispose();
  return { value: v, grads: out };
}

/** A trainable TinyStories model, optionally with all-linear LoRA (non-zero B so A gets gradients, dropout on). */
function trainableModel(withLora: boolean): { model: LlamaTF; lora: LoraAdapters | null } {
  const model = new LlamaTF(CONFIG, WEIGHTS, { trainable: true });
  if (!withLora) return { model, lora: null };
  const lora = new LoraAdapters(model, { rank: 4, alpha: 8, dropout: 0.1, targetModules: 'all-linear', seed: 1 });
  const w = lora.toWeightMap();
  let s = 1;
  for (const [k, t] of w) if (k.endsWith('lora_B.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.1;
  lora.loadWeightMap(w);
  model.setAdapter(lora);
  lora.setStep(3);
  return { model, lora };
}

function run(withLora: boolean, opts: { training?: boolean; checkpoint?: boolean }): Grads {
  const { model, lora } = trainableModel(withLora);
  try {
    return lossGrads(model, opts);
  } finally {
    lora?.dispose();
    model.dispose();
  }
}

/** Largest per-tensor relative error ‖a − b‖ / ‖b‖ over b's tensors (a must have them all). */
function worstRelative(a: Grads, b: Grads): { rel: number; name: string } {
  let worst = { rel: 0, name: '' };
  for (const [name, y] of b.grads) {
    const x = a.grads.get(name);
    assert.ok(x, `gradient of ${name} missing`);
    let d = 0, n = 0;
    for (let i = 0; i < y.length; i++) { d += (x[i] - y[i]) ** 2; n += y[i] ** 2; }
    assert.ok(n > 0, `reference gradient of ${name} is zero: the test would not see an error`);
    const rel = Math.sqrt(d / n);
    if (rel > worst.rel) worst = { rel, name };
  }
  return worst;
}

test('gradients through checkpointed layers on wasm (matmul-gradient fix, JS segment sum) match stock tfjs on cpu: base weights with the embedding, and LoRA A/B', async () => {
  for (const withLora of [false, true]) {
    const wasm = run(withLora, { training: true, checkpoint: true });
    await ensureBackend('cpu');
    uninstallGradFixes();
    let cpu: Grads;
    try {
      assert.equal(gradFixesInstalled(), false);
      cpu = run(withLora, { training: true }); // stock gradients, no checkpointing
    } finally {
      installGradFixes();
      await ensureBackend('wasm');
    }
    // every parameter, the tied embedding/LM head included; with LoRA also 2 layers × 7 modules × {A, B}
    assert.equal(cpu.grads.size, withLora ? 20 + 28 : 20);
    assert.equal(wasm.grads.size, cpu.grads.size);
    assert.ok(cpu.grads.has('model.embed_tokens.weight'));
    const { rel, name } = worstRelative(wasm, cpu);
    assert.ok(rel < 2e-5, `${withLora ? 'LoRA' : 'full'}: worst relative gradient error ${rel} (${name})`);
    assert.ok(Math.abs(wasm.value - cpu.value) < 1e-4 * Math.abs(cpu.value), `loss ${wasm.value} vs ${cpu.value}`);
  }
});

test('checkpointed and plain backward give the same gradients (LoRA dropout masks replayed in the recomputation)', () => {
  for (const withLora of [false, true]) {
    const a = run(withLora, { training: true, checkpoint: true });
    const b = run(withLora, { training: true, checkpoint: false });
    assert.equal(a.value, b.value);
    const { rel, name } = worstRelative(a, b);
    assert.ok(rel < 1e-6, `${withLora ? 'LoRA' : 'full'}: checkpointed vs plain ${rel} (${name})`);
  }
  // dropout really is on in these runs: an evaluation pass gives another loss
  const train = run(true, { training: true, checkpoint: true });
  const evalPass = run(true, { training: false, checkpoint: true });
  assert.notEqual(train.value, evalPass.value);
});

test('the engine tape survives checkpointing: later gradients, nested tf.grads and numTensors stay intact', () => {
  const model = new LlamaTF(CONFIG, WEIGHTS, { trainable: true });
  try {
    const ids = tf.tensor2d(IDS, [B, T], 'int32'), mask = tf.tensor2d(MASK, [B, T]);
    const byName = new Map([...model.params.values()].map((v) => [v.name, v]));
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
        const { sum, count } = sequenceLogps(model, ids, mask, { training: true, checkpoint: true });
        count.dispose();
        return tf.neg(tf.sum(sum)) as tf.Scalar;
      }));
      tf.tidy(() => { for (const [n, g] of Object.entries(grads)) byName.get(n)!.assign(tf.sub(byName.get(n)!, tf.mul(g, 1e-3))); });
      const v = value.dataSync()[0];
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      return v;
    };
    const first = step();
    const before = tf.memory().numTensors;
    const losses = [first];
    for (let i = 0; i < 3; i++) {
      losses.push(step());
      assert.equal(tf.memory().numTensors, before, `numTensors after step ${i + 2}`);
    }
    assert.ok(losses[3] < losses[0], `SGD on −Σ log p should lower it: ${losses.join(', ')}`);
    // a plain gradient afterwards still works (a null tape would throw here)
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2, 3]));
    assert.deepEqual(Array.from(g.dataSync()), [2, 4, 6]);
    g.dispose();
    ids.dispose();
    mask.dispose();
  } finally {
    model.dispose();
  }
});

test('sequenceLogps and tokenLogps equal float64 sums of nextTokenLogProbs; continuationLogProb is the same number', async () => {
  const lm = await loadTfModel(TINY);
  try {
    const ids = tf.tensor2d(IDS, [B, T], 'int32');
    const maskWithFirst = MASK.slice();
    maskWithFirst[0] = 1; // position 0 is never predicted: ignored
    const mask = tf.tensor2d(maskWithFirst, [B, T]);
    const before = tf.memory().numTensors;
    const { sum, count } = sequenceLogps(lm.model, ids, mask);
    const per = tokenLogps(lm.model, ids, mask);
    const [s, c, p] = [sum.dataSync(), count.dataSync(), per.dataSync()];
    tf.dispose([sum, count, per]);
    assert.equal(tf.memory().numTensors, before);
    for (let b = 0; b < B; b++) {
      const row = IDS.slice(b * T, (b + 1) * T);
      let ref = 0, n = 0;
      for (let t = 1; t < T; t++) {
        if (!MASK[b * T + t]) {
          assert.equal(p[b * T + t], 0, `masked position [${b}, ${t}] must be 0`);
          continue;
        }
        const lp = (await lm.nextTokenLogProbs(row.slice(0, t)))[row[t]];
        assert.ok(Math.abs(p[b * T + t] - lp) < 2e-5, `[${b}, ${t}]: ${p[b * T + t]} vs ${lp}`);
        ref += lp;
        n++;
      }
      assert.equal(p[b * T], 0);
      assert.equal(c[b], n);
      assert.ok(Math.abs(s[b] - ref) < 1e-4, `row ${b}: ${s[b]} vs float64 ${ref}`);
      // the CausalLM path: prefix = tokens before the first counted one, continuation = the counted span
      const first = MASK.slice(b * T, (b + 1) * T).indexOf(1), last = MASK.slice(b * T, (b + 1) * T).lastIndexOf(1);
      const cont = await lm.continuationLogProb(row.slice(0, first), row.slice(first, last + 1));
      assert.ok(Math.abs(cont.total - s[b]) < 1e-5, `continuationLogProb ${cont.total} vs sequenceLogps ${s[b]}`);
    }
    // nothing counted: zeros, no error
    const none = sequenceLogps(lm.model, ids, tf.zerosLike(mask) as tf.Tensor2D);
    assert.deepEqual(Array.from(none.sum.dataSync()), [0, 0]);
    assert.deepEqual(Array.from(none.count.dataSync()), [0, 0]);
    tf.dispose([none.sum, none.count, ids, mask]);
  } finally {
    lm.dispose();
  }
});

test('linear seam: every projection and the LM head pass through linear(x, HF module name); q/k/v carry their bias', () => {
  const qwen = parseLlamaConfig({
    model_type: 'qwen2', vocab_size: 37, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 64,
    tie_word_embeddings: false, bos_token_id: null, eos_token_id: 36,
  });
  const w = randomWeights(qwen, { seed: 5, std: 0.3, biasStd: 0.2 });
  const model = new LlamaTF(qwen, w);
  try {
    const ids = tf.tensor2d([[3, 17, 0, 36, 5]], [1, 5], 'int32');
    const base = model.forward(ids);
    const seen: string[] = [];
    const recorder: LinearAdapter = { adapt: (name, _x, y) => { seen.push(name); return y; }, layerTensors: () => [] };
    model.setAdapter(recorder);
    const withRecorder = model.forward(ids);
    assert.equal(model.adapter, recorder);
    model.setAdapter(null);
    const names = (l: number) => ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'].map((m) => `model.layers.${l}.${m}`);
    assert.deepEqual(seen, [...names(0), ...names(1), 'lm_head']);
    assert.deepEqual(Array.from(withRecorder.dataSync()), Array.from(base.dataSync()));
    // linear(x, k_proj) = x·Wᵀ + b in float64, W in PyTorch [out, in]
    const x = [[0.3, -1.2, 0.5, 0.1, 0.9, -0.4, 0.2, 0.7, -0.6, 1.1, 0.05, -0.3, 0.8, -0.9, 0.4, 0.6]];
    const name = 'model.layers.1.self_attn.k_proj';
    const got = tf.tidy(() => model.linear(tf.tensor2d(x), name).arraySync()[0]);
    const W = w.get(`${name}.weight`)!, bias = w.get(`${name}.bias`)!;
    const [out, inn] = W.shape;
    for (let o = 0; o < out; o++) {
      let acc = bias.data[o];
      for (let i = 0; i < inn; i++) acc += W.data[o * inn + i] * x[0][i];
      assert.ok(Math.abs(got[o] - acc) < 1e-5, `out ${o}: ${got[o]} vs ${acc}`);
    }
    tf.dispose([ids, base, withRecorder]);
  } finally {
    model.dispose();
  }
});

test('BatchMatMul gradient override equals the stock gradient for every transpose flag, 2-D and batched', () => {
  const shapes: Record<string, [number[], number[]]> = {
    'a·b': [[5, 3], [3, 4]], 'a·bᵀ': [[5, 3], [4, 3]], 'aᵀ·b': [[3, 5], [3, 4]], 'aᵀ·bᵀ': [[3, 5], [4, 3]],
    'batched a·bᵀ': [[2, 5, 3], [2, 4, 3]], 'batched aᵀ·b': [[2, 3, 5], [2, 3, 4]],
  };
  const fill = (shape: number[], salt: number) => tf.tensor(Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => Math.sin(i * 1.3 + salt)), shape);
  const gradsOf = () => Object.entries(shapes).map(([label, [sa, sb]]) => {
    const tA = label.includes('aᵀ'), tB = label.includes('bᵀ');
    const a = fill(sa, 1), b = fill(sb, 2);
    const out = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, tA, tB), fill(tf.matMul(x, y, tA, tB).shape, 3))))([a, b]);
    const data = out.map((g) => Array.from(g.dataSync()));
    tf.dispose([a, b, ...out]);
    return { label, data };
  });
  assert.ok(gradFixesInstalled());
  const fixed = gradsOf();
  uninstallGradFixes();
  let stock: typeof fixed;
  try {
    stock = gradsOf();
  } finally {
    installGradFixes();
  }
  for (let i = 0; i < fixed.length; i++) {
    for (let j = 0; j < 2; j++) {
      const d = Math.max(...fixed[i].data[j].map((v, k) => Math.abs(v - stock[i].data[j][k])));
      assert.ok(d < 1e-5, `${fixed[i].label} d${j ? 'b' : 'a'}: max diff ${d}`);
    }
  }
});

test('the wasm UnsortedSegmentSum kernel matches the cpu kernel: repeated ids add up, out-of-range ids are dropped', async () => {
  const x = Array.from({ length: 7 * 3 }, (_, i) => Math.cos(i) * (i + 1));
  const ids = [2, 0, 2, 5, -1, 4, 2];
  const compute = () => tf.tidy(() => Array.from(tf.unsortedSegmentSum(tf.tensor2d(x, [7, 3]), tf.tensor1d(ids, 'int32'), 5).dataSync()));
  const onWasm = compute();
  await ensureBackend('cpu');
  let onCpu: number[];
  try {
    onCpu = compute();
  } finally {
    await ensureBackend('wasm');
  }
  assert.equal(onWasm.length, 15);
  for (let i = 0; i < 15; i++) assert.ok(Math.abs(onWasm[i] - onCpu[i]) < 1e-5, `entry ${i}: ${onWasm[i]} vs ${onCpu[i]}`);
  // segment 2 = rows 0, 2, 6 (float64 reference); segment 1 is empty; id 5 and −1 are outside [0, 5)
  for (let j = 0; j < 3; j++) assert.ok(Math.abs(onWasm[2 * 3 + j] - (x[j] + x[6 + j] + x[18 + j])) < 1e-4);
  assert.deepEqual(onWasm.slice(3, 6), [0, 0, 0]);
  // and tf.gather along axis 1 (the embedding lookup) now differentiates on wasm
  const g = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tf.tensor1d([1, 3, 1], 'int32'), 1), tf.tensor2d([[1, 2, 3], [4, 5, 6]]))))(tf.zeros([2, 4]));
  assert.deepEqual(g.arraySync(), [[0, 4, 0, 2], [0, 10, 0, 5]]);
  g.dispose();
});

test('logSigmoid = −softplus(−x): float64 values at the extremes, gradient σ(−x) on wasm', () => {
  const xs = [-100, -30, -5, -1, 0, 1, 5, 30, 100];
  const ref = (x: number) => (x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x)));
  const x = tf.tensor1d(xs);
  const v = logSigmoid(x).dataSync();
  const g = tf.grad((t: tf.Tensor) => tf.sum(logSigmoid(t)))(x).dataSync();
  xs.forEach((xi, i) => {
    assert.ok(Math.abs(v[i] - ref(xi)) <= 1e-6 * Math.max(1, Math.abs(ref(xi))), `logσ(${xi}) = ${v[i]}, float64 ${ref(xi)}`);
    const s = 1 / (1 + Math.exp(xi)); // σ(−x)
    assert.ok(Number.isFinite(g[i]) && Math.abs(g[i] - s) < 1e-6, `d logσ/dx at ${xi} = ${g[i]}, expected ${s}`);
  });
  x.dispose();
});

test('bad inputs give one-line errors', () => {
  const model = new LlamaTF(CONFIG, WEIGHTS);
  try {
    const ids = tf.tensor2d(IDS, [B, T], 'int32');
    const mask = tf.tensor2d(MASK, [B, T]);
    assert.throws(() => model.hiddenStates(ids, model.newCache(), { checkpoint: true }), /^Error: gradient checkpointing is for training passes and cannot fill a KV cache$/);
    assert.throws(() => sequenceLogps(model, ids, tf.tensor2d(MASK.slice(0, T), [1, T])), /completion mask shape \[1,16\] differs from ids shape \[2,16\]/);
    assert.throws(() => sequenceLogps(model, ids, tf.fill([B, T], 0.5) as tf.Tensor2D), /completion mask must hold 0 or 1, got 0.5 at \[0, 0\]/);
    assert.throws(() => sequenceLogps(model, tf.cast(ids, 'float32') as tf.Tensor2D, mask), /ids must be an int32 \[batch, T\] tensor, got float32/);
    const bad = tf.tensor2d(IDS.map((v, i) => (i === 12 ? CONFIG.vocabSize : v)), [B, T], 'int32');
    assert.throws(() => tokenLogps(model, bad, mask), /token id 2048 at \[0, 12\] outside the vocabulary \[0, 2048\)/);
    tf.dispose([ids, mask, bad]);
  } finally {
    model.dispose();
  }
});
