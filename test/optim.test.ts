/**
 * AdamW against a float64 reference written from torch's documented AdamW algorithm (torch.optim.AdamW docstring:
 * θ ← θ − γλθ; m, v; m̂ = m/(1−β1ᵗ); v̂ = v/(1−β2ᵗ); θ ← θ − γ m̂/(√v̂ + ε)), on wasm and cpu; the HF cosine schedule
 * and warmup rounding at known points; torch clip_grad_norm_ on hand-made gradients; checkpoint export/import.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ensureBackend } from '../lib/models/backend.ts';
import { AdamW, clipGradNorm, cosineWithWarmup, warmupStepsFromRatio } from '../lib/dpo/optim.ts';

await ensureBackend();

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const randn = (r: () => number, n: number, scale = 1) => Array.from({ length: n }, () => Math.fround(scale * (2 * r() - 1)));

/** torch.optim.AdamW, documented algorithm, float64, one parameter tensor. */
class RefAdamW {
  m: number[];
  v: number[];
  t = 0;
  constructor(public theta: number[], private b1: number, private b2: number, private eps: number, private wd: number) {
    this.m = theta.map(() => 0);
    this.v = theta.map(() => 0);
  }
  step(g: number[], lr: number) {
    this.t++;
    for (let i = 0; i < g.length; i++) {
      this.theta[i] -= lr * this.wd * this.theta[i];
      this.m[i] = this.b1 * this.m[i] + (1 - this.b1) * g[i];
      this.v[i] = this.b2 * this.v[i] + (1 - this.b2) * g[i] * g[i];
      const mh = this.m[i] / (1 - this.b1 ** this.t);
      const vh = this.v[i] / (1 - this.b2 ** this.t);
      this.theta[i] -= (lr * mh) / (Math.sqrt(vh) + this.eps);
    }
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`AdamW matches torch's algorithm in float64 over 12 steps, weight decay and a schedule (${backend})`, async () => {
    await ensureBackend(backend);
    try {
      for (const cfg of [
        { betas: [0.9, 0.999] as [number, number], eps: 1e-8, wd: 0.01, lr: 1e-2 },
        { betas: [0.3, 0.9] as [number, number], eps: 1e-6, wd: 0.1, lr: 5e-2 }, // β1 < 0.5: torch lerp's other branch
        { betas: [0.9, 0.999] as [number, number], eps: 1e-8, wd: 0, lr: 5e-5 }, // the official run's lr, HF defaults
      ]) {
        const r = lcg(7);
        const shapes = [[3, 4], [5]];
        const init = shapes.map((s) => randn(r, s.reduce((a, b) => a * b, 1)));
        const vars = shapes.map((s, i) => tf.variable(tf.tensor(init[i], s), true, `opt_test_${backend}_${i}_${cfg.lr}`));
        const refs = init.map((x) => new RefAdamW([...x], cfg.betas[0], cfg.betas[1], cfg.eps, cfg.wd));
        const opt = new AdamW(vars, { lr: cfg.lr, betas: cfg.betas, eps: cfg.eps, weightDecay: cfg.wd });
        const total = 12;
        const warm = warmupStepsFromRatio(total, 0.1);
        let worst = 0;
        for (let k = 0; k < total; k++) {
          const lr = cfg.lr * cosineWithWarmup(k, { totalSteps: total, warmupSteps: warm });
          const gs = init.map((x) => randn(r, x.length, k % 3 === 0 ? 1e-3 : 2));
          const grads: tf.NamedTensorMap = {};
          vars.forEach((v, i) => (grads[v.name] = tf.tensor(gs[i], v.shape)));
          opt.step(grads, lr);
          tf.dispose(Object.values(grads));
          refs.forEach((ref, i) => ref.step(gs[i], lr));
          vars.forEach((v, i) => (worst = Math.max(worst, maxAbsDiff(v.dataSync(), refs[i].theta))));
        }
        if (process.env.IPO_TEST_VERBOSE) console.log(`${backend} lr=${cfg.lr}: max |θ − θ_ref| = ${worst}`);
        assert.ok(worst < 1e-6, `max |θ − θ_ref| = ${worst}`);
        assert.equal(opt.stepCount, total);
        opt.dispose();
        tf.dispose(vars);
      }
    } finally {
      await ensureBackend();
    }
  });
}

test('AdamW at lr 0 (first warmup step) leaves θ unchanged but advances moments and step', () => {
  const v = tf.variable(tf.tensor1d([1, -2, 3]), true, 'opt_lr0');
  const opt = new AdamW([v], { lr: 1e-3, weightDecay: 0.5 });
  const g = { [v.name]: tf.tensor1d([0.5, 0.5, -1]) };
  opt.step(g, 0);
  assert.deepEqual(Array.from(v.dataSync()), [1, -2, 3]);
  assert.equal(opt.stepCount, 1);
  const st = opt.exportState();
  assert.deepEqual(Array.from(st.get('opt_lr0.exp_avg')!.data).map((x) => Math.round(x * 1e6) / 1e6), [0.05, 0.05, -0.1]);
  tf.dispose([v, Object.values(g)]);
  opt.dispose();
});

test('AdamW keeps tf.memory().numTensors constant from step to step', async () => {
  const a = tf.variable(tf.randomNormal([8, 8]), true, 'opt_mem_a');
  const b = tf.variable(tf.randomNormal([8]), true, 'opt_mem_b');
  const start = tf.memory().numTensors;
  const opt = new AdamW([a, b], { lr: 1e-3, weightDecay: 0.01 });
  const stepOnce = async () => {
    const { grads, value } = tf.variableGrads(() => tf.add(tf.sum(tf.square(a)), tf.sum(tf.mul(b, 3))), [a, b]);
    const clipped = await clipGradNorm(grads, 0.3);
    opt.step(clipped.grads);
    tf.dispose([value, Object.values(grads), Object.values(clipped.grads)]);
  };
  await stepOnce(); // creates the moments: exactly m and v per variable, nothing else left behind
  const before = tf.memory().numTensors;
  assert.equal(before, start + 4);
  for (let i = 0; i < 5; i++) await stepOnce();
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([a, b]);
});

test('AdamW skips a variable without a gradient (as torch skips p.grad is None) and decays only decayFilter', () => {
  const a = tf.variable(tf.tensor1d([1, 1]), true, 'opt_skip_a');
  const b = tf.variable(tf.tensor1d([1, 1]), true, 'opt_skip_b.bias');
  const opt = new AdamW([a, b], { lr: 0.1, weightDecay: 0.5, decayFilter: (n) => !n.endsWith('bias') });
  const ga = { [a.name]: tf.tensor1d([0, 0]) };
  opt.step(ga);
  // zero gradient: only the decoupled decay moves a (1 − 0.1·0.5), b has no gradient and stays
  assert.deepEqual(Array.from(a.dataSync()), [Math.fround(0.95), Math.fround(0.95)]);
  assert.deepEqual(Array.from(b.dataSync()), [1, 1]);
  assert.deepEqual([...opt.exportState().keys()], ['opt_skip_a.exp_avg', 'opt_skip_a.exp_avg_sq', 'opt_skip_a.step']);
  const gb = { [b.name]: tf.tensor1d([0, 0]) };
  opt.step(gb);
  assert.deepEqual(Array.from(b.dataSync()), [1, 1]); // excluded from decay by the filter
  assert.equal(opt.exportState().get('opt_skip_a.step')!.data[0], 1);
  assert.equal(opt.exportState().get('opt_skip_b.bias.step')!.data[0], 1);
  tf.dispose([a, b, Object.values(ga), Object.values(gb)]);
  opt.dispose();
});

test('AdamW state export/import resumes bit for bit', () => {
  const r = lcg(3);
  const init = randn(r, 6);
  const gradsSeq = Array.from({ length: 6 }, () => randn(r, 6));
  const lrs = [0, 5e-3, 1e-2, 8e-3, 4e-3, 1e-3];
  const opts = { lr: 1e-2, weightDecay: 0.01 };
  // uninterrupted
  const va = tf.variable(tf.tensor2d(init, [2, 3]), true, 'opt_resume');
  const oa = new AdamW([va], opts);
  gradsSeq.forEach((g, k) => {
    const t = { [va.name]: tf.tensor2d(g, [2, 3]) };
    oa.step(t, lrs[k]);
    tf.dispose(Object.values(t));
  });
  const uninterrupted = Float32Array.from(va.dataSync());
  const stateA = oa.exportState();
  oa.dispose();
  va.dispose();
  // 3 steps, checkpoint (host copies), fresh variable + optimizer, import, 3 more
  const vb = tf.variable(tf.tensor2d(init, [2, 3]), true, 'opt_resume');
  const ob = new AdamW([vb], opts);
  for (let k = 0; k < 3; k++) {
    const t = { [vb.name]: tf.tensor2d(gradsSeq[k], [2, 3]) };
    ob.step(t, lrs[k]);
    tf.dispose(Object.values(t));
  }
  const saved = ob.exportState();
  const savedTheta = Float32Array.from(vb.dataSync());
  ob.dispose();
  vb.dispose();
  const vc = tf.variable(tf.tensor2d(savedTheta, [2, 3]), true, 'opt_resume');
  const oc = new AdamW([vc], opts);
  oc.importState(saved);
  assert.equal(oc.stepCount, 3);
  for (let k = 3; k < 6; k++) {
    const t = { [vc.name]: tf.tensor2d(gradsSeq[k], [2, 3]) };
    oc.step(t, lrs[k]);
    tf.dispose(Object.values(t));
  }
  assert.deepEqual(Float32Array.from(vc.dataSync()), uninterrupted);
  const stateC = oc.exportState();
  for (const [k, t] of stateA) assert.deepEqual(stateC.get(k)!.data, t.data, k);
  // bad state
  const bad = new Map(saved);
  bad.set('nope.exp_avg', { shape: [2, 3], data: new Float32Array(6) });
  assert.throws(() => oc.importState(bad), /entry 'nope.exp_avg' names no optimised variable/);
  const badShape = new Map(saved);
  badShape.set('opt_resume.exp_avg', { shape: [6], data: new Float32Array(6) });
  assert.throws(() => oc.importState(badShape), /'opt_resume.exp_avg' has shape \[6\], variable has \[2,3\]/);
  const partial = new Map(saved);
  partial.delete('opt_resume.step');
  assert.throws(() => oc.importState(partial), /'opt_resume' needs .exp_avg, .exp_avg_sq and .step/);
  oc.dispose();
  vc.dispose();
});

test('AdamW rejects bad options and gradients with one-line errors', () => {
  const v = tf.variable(tf.zeros([2]), true, 'opt_err');
  const bad: [() => unknown, RegExp][] = [
    [() => new AdamW([v], { lr: 0 }), /AdamW lr must be a finite number > 0, got 0/],
    [() => new AdamW([v], { lr: -1 }), /AdamW lr must be/],
    [() => new AdamW([v], { lr: 1e-3, betas: [1, 0.9] }), /beta1 must be in \[0, 1\), got 1/],
    [() => new AdamW([v], { lr: 1e-3, betas: [0.9, -0.1] }), /beta2 must be in \[0, 1\)/],
    [() => new AdamW([v], { lr: 1e-3, eps: -1 }), /eps must be/],
    [() => new AdamW([v], { lr: 1e-3, weightDecay: -0.1 }), /weightDecay must be/],
    [() => new AdamW([], { lr: 1e-3 }), /non-empty array of tf.Variable/],
    [() => new AdamW([v, v], { lr: 1e-3 }), /duplicate variable name 'opt_err'/],
  ];
  for (const [f, re] of bad) assert.throws(f, (e: Error) => re.test(e.message) && !e.message.includes('\n'), String(re));
  const opt = new AdamW([v], { lr: 1e-3 });
  const g3 = tf.zeros([3]);
  assert.throws(() => opt.step({ other: g3 }), /gradient for unknown variable 'other'/);
  assert.throws(() => opt.step({ opt_err: g3 }), /gradient 'opt_err' has shape \[3\], variable has \[2\]/);
  assert.throws(() => opt.step({}, -1), /step lr must be a finite number >= 0/);
  assert.equal(opt.stepCount, 0);
  tf.dispose([v, g3]);
  opt.dispose();
});

test('cosineWithWarmup = HF get_cosine_schedule_with_warmup (num_cycles 0.5) at known points', () => {
  const o = { totalSteps: 100, warmupSteps: 10 };
  assert.equal(cosineWithWarmup(0, o), 0); // warmup start: HF's first step runs at lr 0
  assert.equal(cosineWithWarmup(5, o), 0.5);
  assert.equal(cosineWithWarmup(10, o), 1); // warmup end = peak
  assert.ok(Math.abs(cosineWithWarmup(25, o) - 0.5 * (1 + Math.sqrt(3) / 2)) < 1e-12); // progress 1/6
  assert.ok(Math.abs(cosineWithWarmup(55, o) - 0.5) < 1e-12); // middle of the decay
  assert.ok(Math.abs(cosineWithWarmup(99, o) - 0.5 * (1 + Math.cos((Math.PI * 89) / 90))) < 1e-15);
  assert.equal(cosineWithWarmup(100, o), 0); // end
  // past the end HF's formula rises again (max(0, …) only cuts negatives); a trainer never asks for it
  assert.ok(Math.abs(cosineWithWarmup(150, o) - 0.5 * (1 + Math.cos((Math.PI * 140) / 90))) < 1e-12);
  assert.equal(cosineWithWarmup(0, { totalSteps: 4, warmupSteps: 0 }), 1);
  assert.equal(cosineWithWarmup(2, { totalSteps: 4, warmupSteps: 0 }), 0.5);
  assert.throws(() => cosineWithWarmup(-1, o), /step must be an integer >= 0/);
  assert.throws(() => cosineWithWarmup(1, { totalSteps: 0, warmupSteps: 0 }), /totalSteps must be an integer >= 1/);
});

test("warmupStepsFromRatio = HF math.ceil(total * ratio), float artefacts included", () => {
  assert.equal(warmupStepsFromRatio(100, 0.1), 10);
  assert.equal(warmupStepsFromRatio(75, 0.1), 8);
  assert.equal(warmupStepsFromRatio(667, 0.1), 67); // the official 4k pairs / batch 6 = 667 steps, warmup_ratio 0.1
  assert.equal(warmupStepsFromRatio(100, 0.07), 8); // Python: 100*0.07 == 7.000000000000001, ceil → 8
  assert.equal(warmupStepsFromRatio(10, 0), 0);
  assert.throws(() => warmupStepsFromRatio(10, 1.5), /ratio must lie in \[0, 1\]/);
});

test('clipGradNorm = torch clip_grad_norm_: total L2 norm, coef max_norm/(total+1e-6) clamped to 1', async () => {
  const grads = { a: tf.tensor2d([[3, 0], [0, 4]]), b: tf.tensor1d([12]) }; // ‖a‖ = 5, total = 13
  const before = tf.memory().numTensors;
  const c = await clipGradNorm(grads, 1);
  assert.ok(Math.abs(c.totalNorm - 13) < 1e-6);
  const coef = 1 / (13 + 1e-6);
  const a = c.grads.a.dataSync();
  const expA = [3 * coef, 0, 0, 4 * coef];
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(a[i] - expA[i]) < 1e-7, `a[${i}] = ${a[i]}`);
  assert.ok(Math.abs(c.grads.b.dataSync()[0] - 12 * coef) < 1e-6);
  // clipped norm ≈ max_norm
  const n2 = await clipGradNorm(c.grads, 100);
  assert.ok(Math.abs(n2.totalNorm - 1) < 1e-5);
  // below max_norm: unchanged (×1 exactly), input untouched
  const u = await clipGradNorm(grads, 100);
  assert.deepEqual(Array.from(u.grads.a.dataSync()), [3, 0, 0, 4]);
  assert.deepEqual(Array.from(grads.a.dataSync()), [3, 0, 0, 4]);
  tf.dispose([Object.values(c.grads), Object.values(n2.grads), Object.values(u.grads)]);
  assert.equal(tf.memory().numTensors, before);
  // non-finite: NaN norm, NaN grads (torch default), or an error when asked
  const nan = { a: tf.tensor1d([NaN, 1]) };
  const cn = await clipGradNorm(nan, 1);
  assert.ok(Number.isNaN(cn.totalNorm));
  assert.ok(Number.isNaN(cn.grads.a.dataSync()[1]));
  await assert.rejects(clipGradNorm(nan, 1, { errorIfNonfinite: true }), /total gradient norm is non-finite \(NaN\)/);
  assert.deepEqual(await clipGradNorm({}, 1), { grads: {}, totalNorm: 0 });
  await assert.rejects(clipGradNorm(grads, 0), /maxNorm must be a finite number > 0, got 0/);
  tf.dispose([Object.values(grads), Object.values(nan), Object.values(cn.grads)]);
});
