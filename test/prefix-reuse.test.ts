import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { loadTfModel } from '../lib/models/load.ts';
import { loadOnnxModel } from '../lib/models/onnx.ts';
import { exportOnnxFromRef } from '../lib/models/export-onnx.ts';
import { scorePair, scorePairBatch, pYes, type IpoPair } from '../lib/scoring/yes-no.ts';
import { rebuildRewardBench } from '../lib/data/rewardbench-rebuild.ts';
import { findAsset } from '../lib/util/paths.ts';
import type { CausalLM, ForkBranch } from '../lib/models/types.ts';

// Issue 10 part 1: shared-prefix KV reuse gives the plain path's numbers (≤ 1e-5) on both engines, so it is the
// default. The reference is the engine's own plain calls (full passes, no cache), which test/onnx-parity.test.ts ties
// across the two engines.

const TINY = findAsset('models/tinystories-656k');
const exported = mkdtempSync(join(tmpdir(), 'ipo-fork-'));
await exportOnnxFromRef(TINY, exported);
const noPast = mkdtempSync(join(tmpdir(), 'ipo-fork-nopast-'));
await exportOnnxFromRef(TINY, noPast, { withPast: false });
const tfm = await loadTfModel(TINY);
const ox = await loadOnnxModel(exported);
const engines: [string, CausalLM][] = [['tf', tfm], ['onnx', ox]];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const pairs: IpoPair[] = [
  { instruction: 'Write a story about a cat.', chosen: 'The cat played with a ball and was happy.', rejected: 'cat cat the the', category: 'alpacaeval-easy' },
  { instruction: 'Tell me about the sun.', chosen: 'The sun is hot and bright. It gives us light every day.', rejected: 'The sun is cold.', category: 'refusals-dangerous' },
  // identical responses: both branches are empty after the shared prefix
  { instruction: 'Say hi.', chosen: 'Hi!', rejected: 'Hi!', category: 'math-prm' },
  // empty response (the official code scores those too)
  { instruction: 'Count to three.', chosen: 'One, two, three.', rejected: '', category: 'hep-python' },
];

test('forkedLogProbs equals the plain next-token and continuation calls (tf and onnx), nothing leaks', async () => {
  for (const [name, m] of engines) {
    assert.equal(typeof m.forkedLogProbs, 'function', `${name} engine offers shared-prefix scoring`);
    const prefix = m.encode('Once upon a time, there was a little girl named Lily.');
    const branches: ForkBranch[] = [
      { ids: m.encode(' She liked to play', { addSpecialTokens: false }), continuations: [m.encode(' Yes', { addSpecialTokens: false }), m.encode(' No', { addSpecialTokens: false }), []] },
      { ids: [], continuations: [m.encode(' One day', { addSpecialTokens: false })] },
      { ids: m.encode(' He was sad.', { addSpecialTokens: false }) },
    ];
    const before = tf.memory().numTensors;
    const res = await m.forkedLogProbs!(prefix, branches);
    assert.equal(tf.memory().numTensors, before, `${name}: tensors leaked`);
    assert.equal(res.length, branches.length);
    for (let i = 0; i < branches.length; i++) {
      const full = [...prefix, ...branches[i].ids];
      const d = maxAbsDiff(res[i].next, await m.nextTokenLogProbs(full));
      assert.ok(d < 1e-5, `${name} branch ${i}: next-token max diff ${d}`);
      const conts = branches[i].continuations ?? [];
      assert.equal(res[i].continuations.length, conts.length);
      for (let j = 0; j < conts.length; j++) {
        const plain = await m.continuationLogProb(full, conts[j]);
        assert.equal(res[i].continuations[j].perToken.length, conts[j].length);
        assert.ok(Math.abs(res[i].continuations[j].total - plain.total) < 1e-4, `${name} branch ${i} cont ${j}: ${res[i].continuations[j].total} vs ${plain.total}`);
        assert.ok(maxAbsDiff(res[i].continuations[j].perToken, plain.perToken) < 1e-5);
      }
    }
  }
});

test('scorePair with prefix reuse equals the plain path to 1e-5 (both presets, both engines, truncation too)', async () => {
  // one rebuilt RewardBench pair per subset: real lengths (many exceed TinyStories' 512 positions and are truncated)
  const seen = new Set<string>();
  const rb: IpoPair[] = rebuildRewardBench().rows.filter((r) => !seen.has(r.subset) && seen.add(r.subset))
    .map((r) => ({ instruction: r.prompt, chosen: r.chosen, rejected: r.rejected, category: r.subset }));
  assert.ok(rb.length >= 6, `${rb.length} rebuilt subsets`);
  const all = [...pairs, ...rb];
  const optionSets = [
    { preset: 'paper' as const }, { preset: 'exact' as const },
    // short maxLength: most prompts are cut, and the two responses' inputs are cut differently
    { preset: 'paper' as const, maxLength: 48, truncation: 'keep-marker' as const },
    { preset: 'exact' as const, maxLength: 40, truncation: 'right' as const },
    { preset: 'paper' as const, maxLength: 40, truncation: 'left' as const },
  ];
  for (const [name, m] of engines) {
    for (const opts of optionSets) {
      for (const p of all) {
        const [shared, plain] = [await scorePair(m, p, opts), await scorePair(m, p, { ...opts, prefixReuse: false })];
        for (const side of ['chosen', 'rejected'] as const) {
          const [a, b] = [shared[side], plain[side]];
          assert.ok(Math.abs(a.pYes - b.pYes) < 1e-5, `${name} ${JSON.stringify(opts)} ${side}: ${a.pYes} vs ${b.pYes}`);
          assert.equal(a.promptTokens, b.promptTokens);
          assert.equal(a.truncated, b.truncated);
          assert.equal(a.underflow, b.underflow);
        }
        assert.equal(shared.tie, plain.tie);
        if (!plain.tie && Math.abs(plain.chosen.pYes - plain.rejected.pYes) > 1e-4) assert.equal(shared.correct, plain.correct);
      }
    }
  }
});

test('the exact preset of one response and scorePairBatch take the shared path and agree with the plain one', async () => {
  for (const [name, m] of engines) {
    const item = { instruction: pairs[0].instruction, response: pairs[0].chosen, category: pairs[0].category };
    const [a, b] = [await pYes(m, item, { preset: 'exact' }), await pYes(m, item, { preset: 'exact', prefixReuse: false })];
    assert.ok(Math.abs(a.pYes - b.pYes) < 1e-5, `${name}: ${a.pYes} vs ${b.pYes}`);
    const batch = await scorePairBatch(m, pairs, { preset: 'exact' });
    for (let i = 0; i < pairs.length; i++) {
      const plain = await scorePair(m, pairs[i], { preset: 'exact', prefixReuse: false });
      assert.ok(Math.abs(batch[i].chosen.pYes - plain.chosen.pYes) < 1e-5 && Math.abs(batch[i].rejected.pYes - plain.rejected.pYes) < 1e-5, `${name} pair ${i}`);
    }
  }
});

test('shared scoring runs the prefix once: the pair costs fewer forward positions than the plain path', async () => {
  // Count positions fed to the TF model's forward passes through a wrapper over hiddenStates.
  const p = pairs[1];
  const promptIds = async (response: string) => tfm.encode((await pYes(tfm, { instruction: p.instruction, response, category: p.category })).prompt);
  const [c, r] = [await promptIds(p.chosen), await promptIds(p.rejected)];
  let k = 0;
  while (k < Math.min(c.length, r.length) && c[k] === r[k]) k++;
  assert.ok(k > 10, `the two prompts share the template and instruction (${k} tokens)`);
  const model = tfm.model;
  const orig = model.hiddenStates;
  let positions = 0;
  model.hiddenStates = function (this: typeof model, ids: tf.Tensor2D, ...rest: unknown[]) {
    positions += ids.shape[0] * ids.shape[1];
    return (orig as (...a: unknown[]) => tf.Tensor3D).call(this, ids, ...rest);
  } as typeof model.hiddenStates;
  try {
    const count = async (opts: object) => { positions = 0; await scorePair(tfm, p, opts); return positions; };
    const plainPaper = await count({ prefixReuse: false });
    const sharedPaper = await count({});
    assert.equal(plainPaper, c.length + r.length);
    assert.equal(sharedPaper, c.length + r.length - k, `shared prefix of ${k} tokens is run once`);
    const plainExact = await count({ preset: 'exact', prefixReuse: false });
    const sharedExact = await count({ preset: 'exact' });
    assert.ok(sharedExact < plainExact / 2, `exact: ${sharedExact} vs ${plainExact} positions`);
  } finally {
    model.hiddenStates = orig;
  }
});

test('engines without a KV cache (an ONNX graph exported without past) keep the plain path', async () => {
  const m = await loadOnnxModel(noPast);
  try {
    assert.equal(m.forkedLogProbs, undefined);
    const [a, b] = [await scorePair(m, pairs[0], { preset: 'exact' }), await scorePair(tfm, pairs[0], { preset: 'exact', prefixReuse: false })];
    assert.ok(Math.abs(a.chosen.pYes - b.chosen.pYes) < 1e-5);
  } finally {
    m.dispose();
  }
});

test('bad branches get one-line errors', async () => {
  const prefix = tfm.encode('Once upon a time');
  await assert.rejects(tfm.forkedLogProbs!([], [{ ids: [1] }]), /prefix: empty token sequence/);
  await assert.rejects(tfm.forkedLogProbs!(prefix, [{ ids: [99999] }]), /branch 0: token id 99999 outside the vocabulary/);
  await assert.rejects(tfm.forkedLogProbs!(prefix, [{ ids: new Array(600).fill(5) }]), /branch 0: \d+ tokens exceed the model's maximum length 512/);
  await assert.rejects(tfm.forkedLogProbs!(prefix, [{ ids: [], continuations: [[-1]] }]), /continuation 0: token id -1/);
  await assert.rejects(scorePair(tfm, pairs[0], { prefixReuse: 'yes' as unknown as boolean }), /prefixReuse must be true or false/);
});
