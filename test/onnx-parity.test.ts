import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadTfModel } from '../lib/models/load.ts';
import { loadOnnxModel } from '../lib/models/onnx.ts';
import { exportOnnxFromRef } from '../lib/models/export-onnx.ts';
import { makeRandomModel } from '../lib/models/make-model.ts';
import { scorePair } from '../lib/scoring/yes-no.ts';
import { findAsset } from '../lib/util/paths.ts';
import type { CausalLM } from '../lib/models/types.ts';

// Issue #3 "done when": the two engines behind one interface agree on the embedded model exported to ONNX.

const TINY = findAsset('models/tinystories-656k');
const exported = mkdtempSync(join(tmpdir(), 'ipo-parity-'));
await exportOnnxFromRef(TINY, exported);
const tfm = await loadTfModel(TINY);
const ox = await loadOnnxModel(exported);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('next-token log-probabilities agree to < 1e-4 over several prompts (also batched)', async () => {
  const prompts = ['Once upon a time', 'Lily and Tom went to the park. They saw', 'The dog said, "', 'A'];
  for (const p of prompts) {
    const d = maxAbsDiff(await tfm.nextTokenLogProbs(tfm.encode(p)), await ox.nextTokenLogProbs(ox.encode(p)));
    assert.ok(d < 1e-4, `${JSON.stringify(p)}: max |tf - onnx| = ${d}`);
  }
  const batch = prompts.map((p) => tfm.encode(p));
  const [a, b] = [await tfm.nextTokenLogProbsBatch(batch), await ox.nextTokenLogProbsBatch(batch)];
  for (let i = 0; i < batch.length; i++) assert.ok(maxAbsDiff(a[i], b[i]) < 1e-4);
  // The export declares num_logits_to_keep: the ONNX batch is left-padded with one logits row per sequence.
  assert.equal(ox.hasLogitsToKeep, true);
  const long = tfm.encode('Once upon a time, there was a little girl named Lily. She loved to play outside in the sun with her dog, Max, and her big red ball. One day');
  const mixed = [batch[3], long, batch[0], long.slice(0, 3)];
  const [c, d] = [await tfm.nextTokenLogProbsBatch(mixed), await ox.nextTokenLogProbsBatch(mixed)];
  for (let i = 0; i < mixed.length; i++) assert.ok(maxAbsDiff(c[i], d[i]) < 1e-4, `row ${i} (length ${mixed[i].length})`);
});

test('greedy generation is identical and seeded sampling gives the same tokens', async () => {
  for (const p of ['Once upon a time', 'Tom had a red ball.']) {
    const ids = tfm.encode(p);
    assert.deepEqual(await ox.generate(ids, { maxNewTokens: 40 }), await tfm.generate(ids, { maxNewTokens: 40 }));
    const opts = { maxNewTokens: 25, temperature: 0.8, topP: 0.95, seed: 5 };
    assert.deepEqual(await ox.generate(ids, opts), await tfm.generate(ids, opts));
  }
});

test('IPO scores are identical to 1e-5 under both presets', async () => {
  const pair = { instruction: 'Write a story about a cat.', chosen: 'The cat played with a ball and was happy.', rejected: 'cat cat the the', category: 'alpacaeval-easy' };
  for (const preset of ['paper', 'exact'] as const) {
    const [t, o] = [await scorePair(tfm, pair, { preset }), await scorePair(ox, pair, { preset })];
    assert.ok(Math.abs(t.chosen.pYes - o.chosen.pYes) < 1e-5 && Math.abs(t.rejected.pYes - o.rejected.pYes) < 1e-5, `${preset}: ${t.chosen.pYes} vs ${o.chosen.pYes}`);
    assert.equal(t.correct, o.correct);
  }
});

test('npx ipo logprob --engine onnx on the exported model equals the TF engine to 1e-4', () => {
  const run = (...a: string[]) => {
    const r = spawnSync(process.execPath, ['bin/ipo.mjs', 'logprob', '--text', 'Lily saw a big dog and smiled.', '--json', ...a], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { logprob: number; tokens: number };
  };
  const viaOnnx = run('--engine', 'onnx', '--model', exported);
  const viaTf = run('--model', TINY);
  assert.equal(viaOnnx.tokens, viaTf.tokens);
  assert.ok(Math.abs(viaOnnx.logprob - viaTf.logprob) < 1e-4, `${viaOnnx.logprob} vs ${viaTf.logprob}`);
});

test('a SmolLM2-135M-shaped RANDOM-WEIGHT model (real config + tokenizer) is made and scored by both engines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipo-smol-'));
  const made = makeRandomModel({ like: findAsset('smollm2-135m-instruct-tokenizer/config.json'), outDir: dir, seed: 1 });
  assert.equal(made.numParameters, 134_515_008); // 30 layers, d 576, ffn 1536, 9/3 heads, vocab 49,152, tied
  let t: CausalLM | null = null;
  let o: CausalLM | null = null;
  try {
    t = await loadTfModel(dir);
    o = await loadOnnxModel(dir);
    assert.deepEqual(t.encode(' Yes', { addSpecialTokens: false }), [9230]);
    const pairs = [
      { instruction: 'Is 2+2=4?', chosen: 'Yes, 2+2=4.', rejected: 'No, it is 5.', category: 'math-prm' },
      { instruction: 'Say hi.', chosen: 'Hi!', rejected: 'Go away.', category: 'alpacaeval-easy' },
    ];
    for (const p of pairs) {
      const [a, b] = [await scorePair(t, p), await scorePair(o, p)];
      assert.ok(Math.abs(a.chosen.pYes - b.chosen.pYes) < 1e-4 && Math.abs(a.rejected.pYes - b.rejected.pYes) < 1e-4, `${a.chosen.pYes} vs ${b.chosen.pYes}`);
      assert.ok(a.chosen.yes > 0 && a.chosen.no > 0);
    }
    const ids = t.encode('Hello');
    assert.deepEqual(await o.generate(ids, { maxNewTokens: 5 }), await t.generate(ids, { maxNewTokens: 5 }));
  } finally {
    t?.dispose();
    o?.dispose();
  }
});

test.after(() => {
  tfm.dispose();
  ox.dispose();
});

test('the engine follows the model reference when not given', async () => {
  const { detectEngine, loadModel } = await import('../lib/models/load.ts');
  assert.equal(detectEngine(TINY), 'tf');
  assert.equal(detectEngine(exported), 'onnx'); // onnx/model.onnx and no safetensors
  assert.equal(detectEngine('onnx-community/Qwen2.5-0.5B-Instruct'), 'onnx');
  assert.equal(detectEngine('HuggingFaceTB/SmolLM2-135M-Instruct'), 'tf');
  const prev = process.env.IPO_ENGINE;
  try {
    process.env.IPO_ENGINE = 'onnx';
    assert.equal(detectEngine(TINY), 'onnx');
    process.env.IPO_ENGINE = 'gpu';
    assert.throws(() => detectEngine(TINY), /IPO_ENGINE must be tf, onnx or api, got 'gpu'/);
  } finally {
    if (prev === undefined) delete process.env.IPO_ENGINE;
    else process.env.IPO_ENGINE = prev;
  }
  const m = await loadModel(exported);
  assert.equal(m.engine, 'onnx');
  m.dispose();
});
