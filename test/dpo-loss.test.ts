/**
 * dpoLoss against TRL's equations (trl/trainer/dpo_trainer.py v0.19.1 `dpo_loss`) recomputed here in float64, with
 * analytic derivatives, on both tfjs backends (wasm, the default, and cpu), at equal log-probs and at ±1e4 margins;
 * and the metric record / accumulator against hand-computed means.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ensureBackend } from '../lib/models/backend.ts';
import {
  DPO_LOSS_TYPES,
  dpoLoss,
  lengthNormalise,
  needsLengthNormalisation,
  type DpoLossType,
} from '../lib/dpo/loss.ts';
import { DPO_METRIC_NAMES, DpoMetricsAccumulator, dpoBatchMetrics, evalPrefixed } from '../lib/dpo/metrics.ts';

await ensureBackend();

// ---- float64 references (written from the TRL equations, not from lib/dpo/loss.ts) ----
const logSig = (x: number) => (x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x)));
const sig = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** Loss and dL/dz for z = logits. */
function refLoss(type: DpoLossType, z: number, beta: number, eps: number): { loss: number; dz: number } {
  const bz = beta * z;
  switch (type) {
    case 'sigmoid':
      return { loss: -(1 - eps) * logSig(bz) - eps * logSig(-bz), dz: -(1 - eps) * beta * sig(-bz) + eps * beta * sig(bz) };
    case 'robust':
      return {
        loss: (-(1 - eps) * logSig(bz) + eps * logSig(-bz)) / (1 - 2 * eps),
        dz: (-(1 - eps) * beta * sig(-bz) - eps * beta * sig(bz)) / (1 - 2 * eps),
      };
    case 'hinge':
      return { loss: Math.max(0, 1 - bz), dz: 1 - bz > 0 ? -beta : 0 };
    case 'ipo':
      return { loss: (z - 1 / (2 * beta)) ** 2, dz: 2 * (z - 1 / (2 * beta)) };
  }
}

/** Deterministic float32-representable inputs. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function makeInputs(n: number, seed: number, scale: number) {
  const r = lcg(seed);
  const arr = () => Array.from({ length: n }, () => Math.fround(-scale * (0.2 + r())));
  return { pc: arr(), pr: arr(), rc: arr(), rr: arr() };
}

function run(type: DpoLossType, x: { pc: number[]; pr: number[]; rc: number[]; rr: number[] }, beta: number, eps: number) {
  const t = [x.pc, x.pr, x.rc, x.rr].map((a) => tf.tensor1d(a));
  const f = (pc: tf.Tensor, pr: tf.Tensor, rc: tf.Tensor, rr: tf.Tensor) =>
    dpoLoss(
      { policyChosenLogps: pc as tf.Tensor1D, policyRejectedLogps: pr as tf.Tensor1D, refChosenLogps: rc as tf.Tensor1D, refRejectedLogps: rr as tf.Tensor1D },
      { beta, lossType: type, labelSmoothing: eps },
    );
  const out = f(t[0], t[1], t[2], t[3]);
  const grads = tf.grads((pc, pr, rc, rr) => tf.sum(f(pc, pr, rc, rr).losses))(t);
  const res = {
    losses: Array.from(out.losses.dataSync()),
    chosenRewards: Array.from(out.chosenRewards.dataSync()),
    rejectedRewards: Array.from(out.rejectedRewards.dataSync()),
    grads: grads.map((g) => Array.from(g.dataSync())),
  };
  tf.dispose([t, out.losses, out.chosenRewards, out.rejectedRewards, grads]);
  return res;
}

function close(a: number, b: number, rel: number, abs: number, what: string) {
  assert.ok(Math.abs(a - b) <= abs + rel * Math.abs(b), `${what}: ${a} vs reference ${b}`);
}

function checkAgainstReference(type: DpoLossType, x: ReturnType<typeof makeInputs>, beta: number, eps: number, tag: string) {
  const got = run(type, x, beta, eps);
  for (let i = 0; i < x.pc.length; i++) {
    const z = x.pc[i] - x.pr[i] - (x.rc[i] - x.rr[i]);
    const ref = refLoss(type, z, beta, eps);
    close(got.losses[i], ref.loss, 2e-5, 2e-6, `${tag} ${type} loss[${i}]`);
    close(got.grads[0][i], ref.dz, 2e-5, 2e-6, `${tag} ${type} dL/dπc[${i}]`);
    close(got.grads[1][i], -ref.dz, 2e-5, 2e-6, `${tag} ${type} dL/dπr[${i}]`);
    close(got.grads[2][i], -ref.dz, 2e-5, 2e-6, `${tag} ${type} dL/drefc[${i}]`);
    close(got.grads[3][i], ref.dz, 2e-5, 2e-6, `${tag} ${type} dL/drefr[${i}]`);
    close(got.chosenRewards[i], beta * (x.pc[i] - x.rc[i]), 1e-5, 1e-6, `${tag} chosen reward[${i}]`);
    close(got.rejectedRewards[i], beta * (x.pr[i] - x.rr[i]), 1e-5, 1e-6, `${tag} rejected reward[${i}]`);
  }
  return got;
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`dpoLoss matches TRL's equations and analytic gradients in float64 (${backend})`, async () => {
    await ensureBackend(backend);
    try {
      const cases: { type: DpoLossType; beta: number; eps: number }[] = [
        { type: 'sigmoid', beta: 0.1, eps: 0 },
        { type: 'sigmoid', beta: 0.5, eps: 0.2 },
        { type: 'robust', beta: 0.1, eps: 0 },
        { type: 'robust', beta: 0.3, eps: 0.1 },
        { type: 'hinge', beta: 0.1, eps: 0 },
        { type: 'hinge', beta: 2, eps: 0 },
        { type: 'ipo', beta: 0.1, eps: 0 },
        { type: 'ipo', beta: 1, eps: 0 },
      ];
      for (const c of cases) {
        // summed log-probs of completions (tens of nats), and per-token means (for 'ipo')
        checkAgainstReference(c.type, makeInputs(7, 11, c.type === 'ipo' ? 3 : 40), c.beta, c.eps, `${backend} β=${c.beta} ε=${c.eps}`);
      }
    } finally {
      await ensureBackend();
    }
  });
}

test('dpoLoss at equal log-probs: log 2 (sigmoid, robust), 1 (hinge), 1/(4β²) (ipo), zero rewards', () => {
  const same = { pc: [-12.5, -3], pr: [-12.5, -3], rc: [-7, -1], rr: [-7, -1] };
  const beta = 0.1;
  for (const type of DPO_LOSS_TYPES) {
    const eps = type === 'sigmoid' || type === 'robust' ? 0.25 : 0;
    const got = checkAgainstReference(type, same, beta, eps, 'equal');
    const expected = { sigmoid: Math.LN2, robust: Math.LN2, hinge: 1, ipo: 1 / (4 * beta * beta) }[type];
    for (const l of got.losses) close(l, expected, 1e-6, 1e-6, `${type} at z = 0`);
  }
});

test('dpoLoss is finite at margins of ±1e4 (losses and gradients), with the limits TRL gives', () => {
  const big = { pc: [0, -1e4, -5000], pr: [-1e4, 0, -5000], rc: [-20, -20, -20], rr: [-20, -20, -20] };
  const beta = 0.1;
  for (const type of DPO_LOSS_TYPES) {
    for (const eps of type === 'sigmoid' || type === 'robust' ? [0, 0.3] : [0]) {
      const got = run(type, big, beta, eps);
      for (const v of [...got.losses, ...got.grads.flat(), ...got.chosenRewards, ...got.rejectedRewards]) {
        assert.ok(Number.isFinite(v), `${type} ε=${eps}: non-finite value ${v}`);
      }
      for (let i = 0; i < 3; i++) {
        const z = big.pc[i] - big.pr[i] - (big.rc[i] - big.rr[i]);
        const ref = refLoss(type, z, beta, eps);
        close(got.losses[i], ref.loss, 1e-5, 1e-6, `${type} ε=${eps} loss at z=${z}`);
        close(got.grads[0][i], ref.dz, 1e-5, 1e-6, `${type} ε=${eps} grad at z=${z}`);
      }
    }
  }
  // spot values: sigmoid at z=+1e4 → 0 loss, 0 grad; at z=−1e4 → 1000 loss, grad −β
  const s = run('sigmoid', big, beta, 0);
  assert.equal(s.losses[0], 0);
  close(s.losses[1], 1000, 1e-6, 0, 'sigmoid at z=-1e4');
  close(s.grads[0][1], -beta, 1e-6, 0, 'sigmoid grad at z=-1e4');
});

test('rewards are detached: adding them to the loss changes no gradient', () => {
  const x = [tf.tensor1d([-3, -4]), tf.tensor1d([-5, -1]), tf.tensor1d([-3.5, -2]), tf.tensor1d([-4, -2])];
  const f = (withRewards: boolean) => (pc: tf.Tensor, pr: tf.Tensor, rc: tf.Tensor, rr: tf.Tensor) => {
    const o = dpoLoss(
      { policyChosenLogps: pc as tf.Tensor1D, policyRejectedLogps: pr as tf.Tensor1D, refChosenLogps: rc as tf.Tensor1D, refRejectedLogps: rr as tf.Tensor1D },
      { beta: 0.1, lossType: 'sigmoid' },
    );
    const l = tf.sum(o.losses);
    return withRewards ? tf.add(l, tf.mul(100, tf.add(tf.sum(o.chosenRewards), tf.sum(o.rejectedRewards)))) : l;
  };
  const plain = tf.grads(f(false))(x);
  const mixed = tf.grads(f(true))(x);
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(Array.from(mixed[i].dataSync()), Array.from(plain[i].dataSync()), `input ${i}`);
    assert.ok(Math.abs(plain[i].dataSync()[0]) > 1e-3, `input ${i} has a real loss gradient`);
  }
  // the rewards alone: zero gradient w.r.t. the inputs they are computed from
  const onlyRewards = tf.grads((pc: tf.Tensor, rc: tf.Tensor) =>
    tf.sum(dpoLoss({ policyChosenLogps: pc as tf.Tensor1D, policyRejectedLogps: x[1] as tf.Tensor1D, refChosenLogps: rc as tf.Tensor1D, refRejectedLogps: x[3] as tf.Tensor1D }, { beta: 0.1, lossType: 'sigmoid' }).chosenRewards),
  )([x[0], x[2]]);
  for (const g of onlyRewards) for (const v of g.dataSync()) assert.equal(Math.abs(v), 0);
  tf.dispose([plain, mixed, onlyRewards, x]);
});

test('dpoLoss leaks no tensors', () => {
  const x = makeInputs(4, 3, 10);
  run('sigmoid', x, 0.1, 0); // warm-up (kernels, customGrad)
  const before = tf.memory().numTensors;
  for (const type of DPO_LOSS_TYPES) run(type, x, 0.1, 0);
  assert.equal(tf.memory().numTensors, before);
});

test('dpoLoss rejects bad input with one-line errors', () => {
  const a = tf.tensor1d([-1, -2]);
  const b = tf.tensor1d([-1, -2, -3]);
  const m = tf.tensor2d([[-1, -2]]);
  const ok = { policyChosenLogps: a, policyRejectedLogps: a, refChosenLogps: a, refRejectedLogps: a };
  const bad: [object, object, RegExp][] = [
    [ok, { beta: 0, lossType: 'sigmoid' }, /beta must be a finite number > 0, got 0/],
    [ok, { beta: -0.1, lossType: 'sigmoid' }, /beta must be/],
    [ok, { beta: NaN, lossType: 'sigmoid' }, /beta must be/],
    [ok, { beta: 0.1, lossType: 'sigmoid', labelSmoothing: 0.5 }, /labelSmoothing must lie in \[0, 0.5\), got 0.5/],
    [ok, { beta: 0.1, lossType: 'sigmoid', labelSmoothing: -0.1 }, /labelSmoothing must lie in/],
    [ok, { beta: 0.1, lossType: 'robust', labelSmoothing: 0.5 }, /'robust' divides by 1 - 2\*labelSmoothing/],
    [ok, { beta: 0.1, lossType: 'hinge', labelSmoothing: 0.1 }, /'hinge' does not use labelSmoothing/],
    [ok, { beta: 0.1, lossType: 'ipo', labelSmoothing: 0.1 }, /'ipo' does not use labelSmoothing/],
    [ok, { beta: 0.1, lossType: 'kto' }, /unknown DPO lossType 'kto': use one of sigmoid, ipo, hinge, robust/],
    [{ ...ok, refRejectedLogps: b }, { beta: 0.1, lossType: 'sigmoid' }, /shape mismatch, refRejectedLogps is \[3\]/],
    [{ ...ok, policyChosenLogps: m }, { beta: 0.1, lossType: 'sigmoid' }, /policyChosenLogps must have shape \[batch\], got \[1,2\]/],
    [{ ...ok, refChosenLogps: [1, 2] }, { beta: 0.1, lossType: 'sigmoid' }, /refChosenLogps must be a tf.Tensor/],
  ];
  for (const [inp, opts, re] of bad) {
    assert.throws(
      () => dpoLoss(inp as never, opts as never),
      (e: Error) => re.test(e.message) && !e.message.includes('\n'),
      `expected ${re}`,
    );
  }
  tf.dispose([a, b, m]);
});

test("TRL's 'ipo' is the only length-normalised loss; lengthNormalise divides by token counts", () => {
  assert.equal(needsLengthNormalisation('ipo'), true);
  for (const t of ['sigmoid', 'hinge', 'robust']) assert.equal(needsLengthNormalisation(t), false);
  const s = tf.tensor1d([-10, -3]);
  const n = lengthNormalise(s, [4, 3]);
  assert.deepEqual(Array.from(n.dataSync()), [-2.5, -1]);
  assert.throws(() => lengthNormalise(s, [0, 3]), /token count 0 at index 0 must be an integer >= 1/);
  assert.throws(() => lengthNormalise(s, [1]), /does not match 1 token counts/);
  tf.dispose([s, n]);
});

// ---- metrics ----
test('dpoBatchMetrics gives TRL names and batch means; accuracy is strict', () => {
  const m = dpoBatchMetrics({
    chosenRewards: [0.5, 0.1, -0.2, 0.3],
    rejectedRewards: [0.1, 0.1, -0.4, 0.6],
    policyChosenLogps: [-10, -20, -30, -40],
    policyRejectedLogps: [-11, -21, -31, -41],
    losses: [0.5, 0.7, 0.6, 0.9],
  });
  assert.deepEqual(Object.keys(m).sort(), [...DPO_METRIC_NAMES].sort());
  close(m['rewards/chosen'], 0.175, 0, 1e-12, 'rewards/chosen');
  close(m['rewards/rejected'], 0.1, 0, 1e-12, 'rewards/rejected');
  assert.equal(m['rewards/accuracies'], 0.5); // 0.5>0.1 yes, 0.1>0.1 no (tie), -0.2>-0.4 yes, 0.3>0.6 no
  close(m['rewards/margins'], 0.075, 0, 1e-12, 'rewards/margins');
  assert.equal(m['logps/chosen'], -25);
  assert.equal(m['logps/rejected'], -26);
  close(m.loss, 0.675, 0, 1e-12, 'loss');
  const e = evalPrefixed(m);
  assert.equal(e['eval_rewards/accuracies'], 0.5);
  assert.equal(e.eval_loss, m.loss);
  assert.equal(Object.keys(e).length, DPO_METRIC_NAMES.length);
  assert.throws(() => dpoBatchMetrics({ chosenRewards: [1], rejectedRewards: [1, 2], policyChosenLogps: [1], policyRejectedLogps: [1], losses: [1] }), /rejectedRewards has 2 values, losses has 1/);
  assert.throws(() => dpoBatchMetrics({ chosenRewards: [], rejectedRewards: [], policyChosenLogps: [], policyRejectedLogps: [], losses: [] }), /empty batch/);
});

test('DpoMetricsAccumulator averages batch means between logs, like TRL log()', () => {
  const acc = new DpoMetricsAccumulator();
  assert.throws(() => acc.summary(), /no batches added/);
  acc.add({ chosenRewards: [1, 3], rejectedRewards: [0, 4], policyChosenLogps: [-1, -3], policyRejectedLogps: [-2, -2], losses: [1, 2] });
  acc.add({ chosenRewards: [2], rejectedRewards: [1], policyChosenLogps: [-4], policyRejectedLogps: [-6], losses: [4] });
  assert.equal(acc.count, 2);
  const s = acc.summary();
  // batch means: chosen 2 and 2; accuracies 0.5 and 1; loss 1.5 and 4 → mean of means
  assert.equal(s['rewards/chosen'], 2);
  assert.equal(s['rewards/accuracies'], 0.75);
  assert.equal(s.loss, 2.75);
  assert.equal(s['logps/rejected'], -4);
  assert.equal(acc.evalSummary()['eval_rewards/margins'], s['rewards/margins']);
  const f = acc.flush();
  assert.deepEqual(f, s);
  assert.equal(acc.count, 0);
  acc.add(dpoBatchMetrics({ chosenRewards: [1], rejectedRewards: [2], policyChosenLogps: [0], policyRejectedLogps: [0], losses: [3] }));
  assert.equal(acc.summary().loss, 3);
});
