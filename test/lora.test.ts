import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ensureBackend } from '../lib/models/backend.ts';
import { LlamaTF } from '../lib/models/llama-tf.ts';
import { readLlamaConfig } from '../lib/models/config.ts';
import { loadSafetensorsFolder } from '../lib/models/safetensors.ts';
import { sequenceLogps } from '../lib/models/token-logps.ts';
import { dropoutMask, LoraAdapters, type LoraConfig } from '../lib/dpo/lora.ts';
import { findAsset } from '../lib/util/paths.ts';
import type { WeightMap } from '../lib/models/types.ts';

// PEFT-compatible LoRA on the TF engine (peft/tuners/lora/layer.py: result = base(x) + lora_B(lora_A(dropout(x))) ·
// alpha/r), checked against float64 recomputations in PEFT's [r, in] / [out, r] layout and against the merged model.

await ensureBackend('wasm');
const TINY = findAsset('models/tinystories-656k');
const CONFIG = readLlamaConfig(TINY);
const WEIGHTS = loadSafetensorsFolder(TINY);
const BASE = new LlamaTF(CONFIG, WEIGHTS);
const CFG: LoraConfig = { rank: 4, alpha: 8, dropout: 0.25, targetModules: 'all-linear', seed: 7 };
const IDS = [[1, 403, 87, 1200, 9, 55, 310, 2001, 64, 5], [1, 77, 1800, 12, 640, 33, 2, 2, 2, 2]];

function logits(model: LlamaTF, opts: { training?: boolean } = {}): Float32Array {
  return tf.tidy(() => model.forward(tf.tensor2d(IDS, [2, IDS[0].length], 'int32'), opts).dataSync() as Float32Array);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Give every B (and A) seeded non-zero values through the PEFT weight map, as a trained adapter would have. */
function perturb(lora: LoraAdapters, scaleB = 0.05): void {
  const w = lora.toWeightMap();
  let s = 12345;
  for (const [k, t] of w) {
    for (let i = 0; i < t.data.length; i++) {
      const u = (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
      t.data[i] = k.endsWith('lora_B.weight') ? u * scaleB : t.data[i] + 0.1 * u;
    }
  }
  lora.loadWeightMap(w);
}

const BASE_LOGITS = logits(BASE);

test('config errors are one line', () => {
  const bad: [Partial<LoraConfig>, RegExp][] = [
    [{ rank: 0 }, /^Error: LoRA rank must be a whole number > 0, got 0$/],
    [{ rank: 2.5 }, /LoRA rank must be a whole number > 0, got 2.5/],
    [{ alpha: 0 }, /^Error: LoRA alpha must be > 0, got 0$/],
    [{ dropout: 1 }, /^Error: LoRA dropout must be in \[0, 1\), got 1$/],
    [{ dropout: -0.1 }, /LoRA dropout must be in \[0, 1\), got -0.1/],
    [{ targetModules: ['q_proj', 'c_attn'] }, /^Error: unknown LoRA target module 'c_attn': use 'all-linear' or some of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj$/],
    [{ targetModules: [] }, /LoRA targetModules must be 'all-linear' or a non-empty list/],
    [{ targetModules: ['lm_head'] }, /unknown LoRA target module 'lm_head'/],
  ];
  for (const [patch, re] of bad) assert.throws(() => new LoraAdapters(BASE, { ...CFG, ...patch }), re);
});

test('PEFT init: A ~ U(±1/√in) (kaiming_uniform a=√5), B = 0, scaling alpha/r, all-linear = every projection', () => {
  const before = tf.memory().numTensors;
  const lora = new LoraAdapters(BASE, CFG);
  try {
    assert.equal(lora.scale, 2);
    assert.equal(lora.modules.size, 7 * CONFIG.numHiddenLayers);
    assert.equal(lora.variables.length, 2 * lora.modules.size);
    assert.ok(lora.variables.every((v) => v.trainable));
    let n = 0;
    for (const m of lora.modules.values()) n += 4 * (m.inFeatures + m.outFeatures);
    assert.equal(lora.numParameters, n);
    const w = lora.toWeightMap();
    const A = w.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!;
    assert.deepEqual(A.shape, [4, 384]); // [r, in]: down_proj reads the 384-wide SwiGLU product
    assert.deepEqual(w.get('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')!.shape, [128, 4]); // [out, r]
    const bound = 1 / Math.sqrt(384);
    const mean = A.data.reduce((a, v) => a + v, 0) / A.data.length;
    const variance = A.data.reduce((a, v) => a + (v - mean) ** 2, 0) / A.data.length;
    assert.ok(A.data.every((v) => Math.abs(v) <= bound), 'A within the kaiming-uniform bound');
    assert.ok(Math.abs(mean) < 0.1 * bound && Math.abs(variance / (bound * bound / 3) - 1) < 0.15, `U(±b): mean ${mean}, var ${variance} vs ${bound * bound / 3}`);
    for (const [k, t] of w) if (k.endsWith('lora_B.weight')) assert.ok(t.data.every((v) => v === 0), `${k} is zero`);
    // another seed, another A; the same seed, the same A
    const again = new LoraAdapters(BASE, CFG), other = new LoraAdapters(BASE, { ...CFG, seed: 8 });
    const key = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
    assert.deepEqual(again.toWeightMap().get(key)!.data, w.get(key)!.data);
    assert.notDeepEqual(other.toWeightMap().get(key)!.data, w.get(key)!.data);
    again.dispose();
    other.dispose();
    const qv = new LoraAdapters(BASE, { ...CFG, targetModules: ['v_proj', 'q_proj'] });
    assert.deepEqual([...qv.modules.keys()], ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
    qv.dispose();
  } finally {
    lora.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('B = 0 leaves the logits identical; enabled = false gives the base model after an update', () => {
  const lora = new LoraAdapters(BASE, CFG);
  BASE.setAdapter(lora);
  try {
    assert.equal(maxDiff(logits(BASE), BASE_LOGITS), 0);
    perturb(lora);
    const adapted = logits(BASE);
    assert.ok(maxDiff(adapted, BASE_LOGITS) > 1e-3, 'the update changes the logits');
    lora.enabled = false;
    assert.equal(maxDiff(logits(BASE), BASE_LOGITS), 0);
    assert.deepEqual(lora.layerTensors(0), []);
    lora.enabled = true;
    assert.equal(maxDiff(logits(BASE), adapted), 0);
    assert.equal(lora.layerTensors(1).length, 14);
  } finally {
    lora.dispose();
  }
  assert.equal(BASE.adapter, null, 'dispose detaches');
});

test('the adapted projection is W·x + (alpha/r)·B·A·x in PEFT layout (float64 reference)', () => {
  const lora = new LoraAdapters(BASE, CFG);
  BASE.setAdapter(lora);
  try {
    perturb(lora, 0.3);
    const name = 'model.layers.0.mlp.gate_proj';
    const x = Array.from({ length: 3 * 128 }, (_, i) => Math.sin(0.37 * i));
    const got = tf.tidy(() => BASE.linear(tf.tensor2d(x, [3, 128]), name).dataSync());
    const W = BASE.toWeightMap().get(`${name}.weight`)!; // [384, 128]
    const lw = lora.toWeightMap();
    const A = lw.get(`base_model.model.${name}.lora_A.weight`)!, Bm = lw.get(`base_model.model.${name}.lora_B.weight`)!;
    let worst = 0;
    for (let n = 0; n < 3; n++) {
      const ax = Array.from({ length: 4 }, (_, k) => { let s = 0; for (let i = 0; i < 128; i++) s += A.data[k * 128 + i] * x[n * 128 + i]; return s; });
      for (let o = 0; o < 384; o++) {
        let y = 0;
        for (let i = 0; i < 128; i++) y += W.data[o * 128 + i] * x[n * 128 + i];
        for (let k = 0; k < 4; k++) y += (8 / 4) * Bm.data[o * 4 + k] * ax[k];
        worst = Math.max(worst, Math.abs(got[n * 384 + o] - y));
      }
    }
    assert.ok(worst < 1e-5, `max |tf − float64| = ${worst}`);
  } finally {
    lora.dispose();
  }
});

test('merged weights (W + scale·B·A) in a fresh LlamaTF give the adapted logits; the weight map round-trips', () => {
  const lora = new LoraAdapters(BASE, CFG);
  BASE.setAdapter(lora);
  let merged: LlamaTF | null = null, copy: LoraAdapters | null = null;
  try {
    perturb(lora, 0.2);
    const adapted = logits(BASE);
    const mergedMap = lora.mergedWeightMap();
    // one merged matrix against float64 W + (alpha/r)·B·A from the PEFT-layout maps
    const name = 'model.layers.1.self_attn.o_proj';
    const W0 = WEIGHTS.get(`${name}.weight`)!, Wm = mergedMap.get(`${name}.weight`)!;
    const lw = lora.toWeightMap();
    const A = lw.get(`base_model.model.${name}.lora_A.weight`)!.data, Bm = lw.get(`base_model.model.${name}.lora_B.weight`)!.data;
    let worstW = 0;
    for (let o = 0; o < 128; o++) {
      for (let i = 0; i < 128; i++) {
        let delta = 0;
        for (let k = 0; k < 4; k++) delta += Bm[o * 4 + k] * A[k * 128 + i];
        const ref = W0.data[o * 128 + i] + 2 * delta;
        worstW = Math.max(worstW, Math.abs(Wm.data[o * 128 + i] - ref) / Math.abs(ref));
      }
    }
    assert.ok(worstW <= 2 ** -24, `merged weight vs float64: relative ${worstW} (one float32 rounding is ≤ 2^-24)`);
    merged = new LlamaTF(CONFIG, mergedMap);
    // Both sides are float32 forwards of the same function computed in a different order: they agree to float32
    // rounding of logits of magnitude ~15 (a wrong scale or transpose would differ by > 0.1).
    const d = maxDiff(logits(merged), adapted);
    const magnitude = Math.max(...adapted.map(Math.abs));
    assert.ok(d < 5e-6 * magnitude, `merged vs adapters: ${d} (logits up to ${magnitude})`);
    assert.ok(maxDiff(adapted, BASE_LOGITS) > 0.1);
    // the base weights are untouched by merging
    assert.equal(maxDiff(BASE.toWeightMap().get('model.layers.0.self_attn.q_proj.weight')!.data, WEIGHTS.get('model.layers.0.self_attn.q_proj.weight')!.data), 0);

    // round trip into adapters of another seed
    const saved = lora.toWeightMap();
    BASE.setAdapter(null);
    copy = new LoraAdapters(BASE, { ...CFG, seed: 99 });
    copy.loadWeightMap(saved);
    for (const [k, t] of copy.toWeightMap()) assert.deepEqual(t.data, saved.get(k)!.data, k);
    BASE.setAdapter(copy);
    assert.equal(maxDiff(logits(BASE), adapted), 0);
    assert.deepEqual([...copy.namedVariables().keys()], [...saved.keys()]);

    const missing: WeightMap = new Map(saved);
    missing.delete('base_model.model.model.layers.1.mlp.up_proj.lora_B.weight');
    assert.throws(() => copy!.loadWeightMap(missing, 'ck'), /^Error: ck: missing tensor 'base_model.model.model.layers.1.mlp.up_proj.lora_B.weight' \(expected shape \[384,4\]\)$/);
    const extra: WeightMap = new Map(saved);
    extra.set('base_model.model.lm_head.lora_A.weight', { shape: [4, 128], data: new Float32Array(512) });
    assert.throws(() => copy!.loadWeightMap(extra, 'ck'), /ck: unexpected tensor 'base_model.model.lm_head.lora_A.weight'/);
    const wrong: WeightMap = new Map(saved);
    wrong.set('base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight', { shape: [8, 128], data: new Float32Array(1024) });
    assert.throws(() => copy!.loadWeightMap(wrong, 'ck'), /ck: tensor 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight' has shape \[8,128\], expected \[4,128\]/);
  } finally {
    BASE.setAdapter(null);
    copy?.dispose();
    lora.dispose();
    merged?.dispose();
  }
});

test('dropout: seeded by (seed, step, module), only in training passes, nn.Dropout statistics', () => {
  const lora = new LoraAdapters(BASE, CFG);
  BASE.setAdapter(lora);
  try {
    perturb(lora, 0.3);
    const evalLogits = logits(BASE);
    lora.setStep(5);
    const a = logits(BASE, { training: true });
    const b = logits(BASE, { training: true });
    assert.equal(maxDiff(a, b), 0, 'same step, same masks');
    assert.ok(maxDiff(a, evalLogits) > 1e-3, 'training pass drops');
    lora.setStep(6);
    assert.ok(maxDiff(logits(BASE, { training: true }), a) > 1e-3, 'another step, other masks');
    lora.training = false;
    assert.equal(maxDiff(logits(BASE, { training: true }), evalLogits), 0, 'training = false disables dropout');
    lora.training = true;
    assert.throws(() => lora.setStep(-1), /LoRA step must be a whole number >= 0, got -1/);
  } finally {
    lora.dispose();
  }
  const m = dropoutMask(7, 3, 'model.layers.0.mlp.up_proj', 200, 128, 0.25);
  const zeros = m.filter((v) => v === 0).length / m.length;
  assert.ok(Math.abs(zeros - 0.25) < 0.01, `dropped fraction ${zeros}`);
  assert.ok(m.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-7));
  assert.deepEqual(dropoutMask(7, 3, 'model.layers.0.mlp.up_proj', 200, 128, 0.25), m);
  assert.notDeepEqual(dropoutMask(7, 4, 'model.layers.0.mlp.up_proj', 200, 128, 0.25), m);
});

test('adapter_config.json has PEFT LoraConfig fields with the resolved target modules', () => {
  const lora = new LoraAdapters(BASE, { ...CFG, targetModules: ['v_proj', 'q_proj'] });
  try {
    const c = lora.adapterConfigJson('HuggingFaceTB/SmolLM2-135M-Instruct');
    assert.equal(c.peft_type, 'LORA');
    assert.equal(c.task_type, 'CAUSAL_LM');
    assert.equal(c.r, 4);
    assert.equal(c.lora_alpha, 8);
    assert.equal(c.lora_dropout, 0.25);
    assert.deepEqual(c.target_modules, ['q_proj', 'v_proj']);
    assert.equal(c.base_model_name_or_path, 'HuggingFaceTB/SmolLM2-135M-Instruct');
    assert.equal(c.bias, 'none');
    assert.equal(c.use_rslora, false);
    assert.equal(c.fan_in_fan_out, false);
    const all = new LoraAdapters(BASE, CFG);
    assert.deepEqual(all.adapterConfigJson().target_modules, ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
    assert.equal(all.adapterConfigJson().base_model_name_or_path, null);
    all.dispose();
  } finally {
    lora.dispose();
  }
});

test('DPO-like steps (policy with LoRA + checkpointing + dropout, reference with adapters off, SGD update): numTensors constant, the policy moves', () => {
  const model = new LlamaTF(CONFIG, WEIGHTS); // frozen base
  const lora = new LoraAdapters(model, CFG);
  model.setAdapter(lora);
  const ids = tf.tensor2d(IDS, [2, IDS[0].length], 'int32');
  const mask = tf.tensor2d([[0, 0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 1, 0, 0, 0]], [2, 10]);
  try {
    const step = (i: number): number => {
      lora.enabled = false;
      const ref = tf.tidy(() => sequenceLogps(model, ids, mask).sum);
      lora.enabled = true;
      lora.setStep(i);
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
        const { sum, count } = sequenceLogps(model, ids, mask, { training: true, checkpoint: true });
        count.dispose();
        // a margin-style loss on [chosen; rejected]: −logσ(β·((πc − rc) − (πr − rr))), written stably
        const d = tf.sub(sum, ref);
        const margin = tf.sub(tf.slice(d, [0], [1]), tf.slice(d, [1], [1]));
        return tf.sum(tf.softplus(tf.neg(tf.mul(margin, 0.5)))) as tf.Scalar;
      }), lora.variables);
      assert.equal(Object.keys(grads).length, lora.variables.length);
      tf.tidy(() => { for (const v of lora.variables) v.assign(tf.sub(v, tf.mul(grads[v.name], 0.5))); });
      const loss = value.dataSync()[0];
      tf.dispose([value, ref, ...Object.values(grads)]);
      return loss;
    };
    const losses = [step(0)];
    const before = tf.memory().numTensors;
    for (let i = 1; i < 5; i++) {
      losses.push(step(i));
      assert.equal(tf.memory().numTensors, before, `numTensors after step ${i + 1}`);
    }
    assert.ok(losses[4] < losses[0], `loss should fall: ${losses.join(', ')}`);
    // the reference really is the base model: adapters off, log-probs of the frozen weights
    lora.enabled = false;
    const off = tf.tidy(() => Array.from(sequenceLogps(model, ids, mask).sum.dataSync()));
    const base = tf.tidy(() => Array.from(sequenceLogps(BASE, ids, mask).sum.dataSync()));
    assert.deepEqual(off, base);
  } finally {
    tf.dispose([ids, mask]);
    lora.dispose();
    model.dispose();
  }
});
