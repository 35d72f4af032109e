/**
 * The DPO and SFT trainers end to end on the embedded TinyStories-656K:
 *  - `ipo dpo` learns a known preference: chosen always says "dog" where rejected says "cat", eval pairs use other
 *    names, places and sentences; held-out `rewards/accuracies` goes from 0 (reference = policy: every reward 0, a
 *    tie, which TRL's strict `>` counts as wrong) to ≥ 0.8;
 *  - the saved folder is a model every command loads, and it equals the in-memory policy;
 *  - a run killed mid-way (SIGKILL after a checkpoint) and resumed ends with the same weights as an uninterrupted one;
 *  - bad input is counted or refused with one line; tf.memory() does not grow across training runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { loadTfModel } from '../lib/models/load.ts';
import { readSafetensors } from '../lib/models/safetensors.ts';
import { findAsset } from '../lib/util/paths.ts';
import { trainDpo } from '../lib/dpo/train-dpo.ts';
import { trainSft } from '../lib/dpo/train-sft.ts';
import { stepBatches, epochOrder } from '../lib/dpo/train-loop.ts';
import { assertOneLineError, ipo, ipoJson, ipoSpawn } from './helpers/cli.ts';

const TINY = findAsset('models/tinystories-656k');
const tmp = () => mkdtempSync(join(tmpdir(), 'ipo-dpo-'));
const jsonl = (rows: unknown[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

/** Pairs whose preferred property is known: chosen has a dog where rejected has a cat. */
function dogPairs() {
  const trainNames = ['Tom', 'Lily', 'Ben', 'Sue', 'Max', 'Mia', 'Sam', 'Anna'];
  const places = ['park', 'garden', 'house', 'forest', 'school', 'beach'];
  const train = trainNames.map((n, i) => ({ prompt: `${n} went to the ${places[i % 3]}. ${n} saw a`, chosen: ' big dog. The dog was happy.', rejected: ' big cat. The cat was happy.' }));
  const evalNames = ['Tim', 'Lucy', 'Jack', 'Emma', 'Zoe'];
  const evalPairs = evalNames.map((n, i) => ({ prompt: `One day ${n} was in the ${places[3 + (i % 3)]}. ${n} found a`, chosen: ' little dog.', rejected: ' little cat.' }));
  return { train, evalPairs };
}

const FAST = ['--lora-rank', '8', '--lora-alpha', '16', '--lora-dropout', '0', '--lr', '5e-3', '--warmup-ratio', '0', '--no-gradient-checkpointing'];

test('ipo dpo learns a known preference: held-out rewards/accuracies 0 → ≥ 0.8, and the policy folder loads', async () => {
  const dir = tmp();
  const { train, evalPairs } = dogPairs();
  writeFileSync(join(dir, 'train.jsonl'), jsonl(train));
  writeFileSync(join(dir, 'eval.jsonl'), jsonl(evalPairs));
  const out = join(dir, 'policy');
  const r = ipoJson<{ train: Record<string, number>; eval_before: Record<string, number>; eval: Record<string, number>; steps: number }>(
    'dpo', '--model', TINY, '--train', join(dir, 'train.jsonl'), '--eval', join(dir, 'eval.jsonl'), '--out', out, '--epochs', '3', ...FAST,
  );
  assert.equal(r.steps, 24);
  assert.equal(r.eval_before['eval_rewards/accuracies'], 0, 'before training the policy is the reference: all rewards 0');
  assert.equal(r.eval_before['eval_rewards/margins'], 0);
  assert.ok(Math.abs(r.eval_before.eval_loss - Math.LN2) < 1e-6, 'sigmoid loss at zero margin is log 2');
  assert.ok(r.eval['eval_rewards/accuracies'] >= 0.8, `held-out accuracy ${r.eval['eval_rewards/accuracies']}`);
  assert.ok(r.eval['eval_rewards/margins'] > 0);
  assert.ok(r.eval.eval_loss < Math.LN2);
  for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'loss']) {
    assert.ok(Number.isFinite(r.train[k]), `train ${k}`);
    assert.ok(Number.isFinite(r.eval[`eval_${k}`]), `eval_${k}`);
  }
  // metrics.jsonl: the eval before, one line per step, the eval after
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => 'loss' in l).length, 24);
  assert.deepEqual(lines.filter((l) => 'eval_loss' in l).map((l) => l.step), [0, 24]);
  assert.equal(lines[1].learning_rate, 5e-3, 'no warmup: the first step runs at the peak rate');
  // the folder is a model: the CLI loads it, and the merged weights give the trained preference
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'adapter_model.safetensors', 'adapter_config.json', 'README.md']) assert.ok(existsSync(join(out, f)), f);
  const base = await loadTfModel(TINY);
  const policy = await loadTfModel(out);
  try {
    const p = evalPairs[0];
    const lp = async (m: typeof base, c: string) => (await m.continuationLogProb(m.encode(p.prompt), [...m.encode(c, { addSpecialTokens: false }), m.eosTokenId!])).total;
    const margin = (await lp(policy, p.chosen)) - (await lp(policy, p.rejected)) - ((await lp(base, p.chosen)) - (await lp(base, p.rejected)));
    assert.ok(margin > 0, `the saved policy prefers dog over cat more than the base does (${margin})`);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(cfg._ipo_training.trainer, 'dpo');
    assert.doesNotMatch(readFileSync(join(out, 'README.md'), 'utf8') + JSON.stringify(cfg), /\/tmp\/|\/work\//, 'no absolute paths of this machine');
  } finally {
    base.dispose();
    policy.dispose();
  }
  const lpCli = ipoJson<{ logprob: number }>('logprob', '--model', out, '--text', 'Tom saw a big dog.');
  assert.ok(Number.isFinite(lpCli.logprob));
  // and through export-onnx into the fast engine, with the same numbers
  const onnxDir = join(dir, 'policy-onnx');
  ipoJson('export-onnx', '--model', out, '--out', onnxDir);
  const lpOnnx = ipoJson<{ logprob: number }>('logprob', '--engine', 'onnx', '--model', onnxDir, '--text', 'Tom saw a big dog.');
  assert.ok(Math.abs(lpOnnx.logprob - lpCli.logprob) < 1e-3, `onnx ${lpOnnx.logprob} vs tf ${lpCli.logprob}`);
});

test('data order: each epoch is a seeded permutation, steps cover every example once per epoch', () => {
  const a = { learningRate: 1, epochs: 2, batchSize: 2, gradAccum: 2, warmupRatio: 0, maxGradNorm: 0, weightDecay: 0, seed: 7, evalSteps: 0, saveSteps: 0 };
  const seen: number[] = [];
  for (let s = 0; s < 3; s++) seen.push(...stepBatches(10, a, s).flat());
  assert.deepEqual([...seen].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(stepBatches(10, a, 2).map((m) => m.length), [2], 'the last step of an epoch holds the remainder');
  assert.deepEqual(epochOrder(10, 7, 0), epochOrder(10, 7, 0));
  assert.notDeepEqual(epochOrder(10, 7, 0), epochOrder(10, 7, 1));
});

test('a DPO run killed mid-way (SIGKILL) and resumed ends with the same weights as an uninterrupted run', async () => {
  const dir = tmp();
  const { train, evalPairs } = dogPairs();
  writeFileSync(join(dir, 'train.jsonl'), jsonl(train));
  writeFileSync(join(dir, 'eval.jsonl'), jsonl(evalPairs));
  // dropout on and 2-pair steps, so the resumed run must replay the data order AND the dropout masks
  const args = (out: string) => ['dpo', '--model', TINY, '--train', join(dir, 'train.jsonl'), '--eval', join(dir, 'eval.jsonl'), '--out', out,
    '--epochs', '3', '--batch-size', '2', '--lora-rank', '4', '--lora-alpha', '8', '--lora-dropout', '0.1', '--lr', '3e-3', '--save-steps', '2', '--seed', '5'];
  const full = join(dir, 'full');
  ipoJson(...args(full));

  const killed = join(dir, 'killed');
  const child = ipoSpawn(...args(killed));
  const ckpt = join(killed, 'checkpoints', 'step-000006');
  await new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (existsSync(join(ckpt, 'state.json'))) {
        clearInterval(poll);
        child.kill('SIGKILL');
        resolve();
      } else if (Date.now() - t0 > 120_000) {
        clearInterval(poll);
        child.kill('SIGKILL');
        reject(new Error('no checkpoint within 2 minutes'));
      }
    }, 20);
    child.on('exit', () => {
      if (!existsSync(join(ckpt, 'state.json'))) {
        clearInterval(poll);
        reject(new Error('the run ended before it could be killed'));
      }
    });
  });
  await new Promise((r) => child.once('exit', r));
  assert.ok(!existsSync(join(killed, 'model.safetensors')), 'killed before it finished');
  const resumed = ipoJson<{ resumedFrom: number | null; steps: number }>(...args(killed));
  assert.ok(resumed.resumedFrom !== null && resumed.resumedFrom >= 6 && resumed.resumedFrom < 12, `resumed from ${resumed.resumedFrom}`);
  const a = readSafetensors(join(full, 'model.safetensors'));
  const b = readSafetensors(join(killed, 'model.safetensors'));
  let maxDiff = 0;
  for (const [name, t] of a) {
    const u = b.get(name)!;
    for (let i = 0; i < t.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t.data[i] - u.data[i]));
  }
  assert.ok(maxDiff <= 1e-6, `max |Δw| ${maxDiff}`);
  const la = readFileSync(join(full, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const lb = readFileSync(join(killed, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lb.map((l) => l.step), la.map((l) => l.step), 'the log holds each step once');
});

test('bad input: invalid pairs are counted, long prompts truncated and counted, bad hyperparameters are one-line errors', () => {
  const dir = tmp();
  const long = 'Once upon a time there was a very long story about a girl and her dog and her cat and her ball. '.repeat(3);
  writeFileSync(join(dir, 'bad.jsonl'), [
    jsonl([{ prompt: 'Tom saw a', chosen: ' dog.', rejected: ' cat.' }, { prompt: long, chosen: ' dog.', rejected: ' cat.' }]),
    '{"prompt": "x", "chosen": "a"}\n', '{"prompt": "x", "chosen": "", "rejected": "b"}\n', '{"prompt": "x", "chosen": "same", "rejected": "same"}\n', 'not json\n',
  ].join(''));
  const r = ipoJson<{ skipped: { train: Record<string, number> }; file: { train: { skipped: Record<string, number> } }; steps: number }>(
    'dpo', '--model', TINY, '--train', join(dir, 'bad.jsonl'), '--out', join(dir, 'o'), '--max-length', '32', '--max-prompt-length', '16', ...FAST,
  );
  assert.deepEqual(
    { missing: r.file.train.skipped.missingFields, empty: r.file.train.skipped.empty, identical: r.file.train.skipped.identical, json: r.file.train.skipped.invalidJson },
    { missing: 1, empty: 1, identical: 1, json: 1 },
  );
  assert.equal(r.skipped.train.kept, 2);
  assert.equal(r.skipped.train.truncatedPrompt, 1);
  assert.equal(r.steps, 2);
  const base = ['dpo', '--model', TINY, '--train', join(dir, 'bad.jsonl'), '--out', join(dir, 'o2')];
  assertOneLineError(ipo(...base, '--lr', '0'), /--lr must be a number in \(0/);
  assertOneLineError(ipo(...base, '--lr', '-1'), /--lr must be/);
  assertOneLineError(ipo(...base, '--beta', '0'), /--beta must be a number in \(0/);
  assertOneLineError(ipo(...base, '--lora-rank', '0'), /--lora-rank must be a whole number >= 1/);
  assertOneLineError(ipo(...base, '--lora-rank', '-3'), /--lora-rank must be/);
  assertOneLineError(ipo(...base, '--loss', 'kto'), /--loss/);
  writeFileSync(join(dir, 'none.jsonl'), '{"prompt": "x"}\n');
  assertOneLineError(ipo('dpo', '--model', TINY, '--train', join(dir, 'none.jsonl'), '--out', join(dir, 'o3')), /no usable preference pairs/);
});

test('library: trainDpo / trainSft keep tf.memory() flat, refuse bad options, and SFT lowers the held-out loss', async () => {
  const model = await loadTfModel(TINY);
  try {
    const { train, evalPairs } = dogPairs();
    const start = tf.memory().numTensors;
    await trainDpo(model, train.slice(0, 4), { outDir: join(tmp(), 'd'), evalPairs: evalPairs.slice(0, 2), lora: { rank: 4, alpha: 8, dropout: 0.1 }, learningRate: 1e-3, cache: false });
    assert.equal(tf.memory().numTensors, start, 'DPO (LoRA) leaves no tensor behind');
    await assert.rejects(trainDpo(model, train, { outDir: join(tmp(), 'e'), beta: 0 }), /beta must be > 0/);
    await assert.rejects(trainDpo(model, train, { outDir: join(tmp(), 'e'), learningRate: -1 }), /learning rate must be > 0/);
    await assert.rejects(trainDpo(model, train, { outDir: join(tmp(), 'e'), lora: { rank: 0 } }), /rank/);
    // TRL rpo_alpha: loss = DPO loss + α · chosen NLL; at step 1 the policy is the reference, so the DPO part is log 2
    const rpo = await trainDpo(model, train.slice(0, 2), { outDir: join(tmp(), 'r'), lora: { rank: 2, alpha: 4, dropout: 0 }, rpoAlpha: 0.5, cache: false, gradientCheckpointing: false });
    const s1 = rpo.history[0];
    assert.ok(s1.nll_loss > 0);
    assert.ok(Math.abs(s1.loss - (Math.LN2 + 0.5 * s1.nll_loss)) < 1e-4, `loss ${s1.loss} = log 2 + 0.5 · ${s1.nll_loss}`);
    assert.equal(tf.memory().numTensors, start);

    const sft = train.map((p) => ({ prompt: p.prompt, response: p.chosen }));
    const evalSft = evalPairs.map((p) => ({ prompt: p.prompt, response: p.chosen }));
    const r = await trainSft(model, sft, { outDir: join(tmp(), 's'), evalExamples: evalSft, learningRate: 3e-3, epochs: 2 });
    assert.equal(tf.memory().numTensors, start, 'SFT (full fine-tuning) leaves no tensor behind');
    assert.ok(r.eval!.eval_loss < r.evalBefore!.eval_loss, `eval_loss ${r.evalBefore!.eval_loss} → ${r.eval!.eval_loss}`);
    const saved = await loadTfModel(r.outDir);
    try {
      const ids = saved.encode(evalSft[0].prompt);
      const a = await saved.nextTokenLogProbs(ids);
      const b = await model.nextTokenLogProbs(ids);
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
      assert.ok(d < 1e-5, `the saved SFT model is the trained one (max |Δ log p| ${d})`);
    } finally {
      saved.dispose();
    }
  } finally {
    model.dispose();
  }
});
