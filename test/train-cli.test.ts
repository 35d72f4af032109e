/**
 * The remaining self-improvement commands as a user runs them: `ipo sample`, `ipo sft`, `ipo export-pairs`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { findAsset } from '../lib/util/paths.ts';
import { readSamples } from '../lib/generate/samples-file.ts';
import { assertOneLineError, ipo, ipoJson } from './helpers/cli.ts';

const TINY = findAsset('models/tinystories-656k');
const tmp = () => mkdtempSync(join(tmpdir(), 'ipo-cli-'));

test('ipo sample: N seeded responses per prompt, written as samples.jsonl; bad prompt lines counted', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'p.jsonl'), '{"instruction": "Tell me about a cat."}\n{"prompt": "Once upon a time"}\nnot json\n{"instruction": ""}\n');
  const out = join(dir, 's.jsonl');
  const r = ipoJson<{ prompts: number; responses: number; promptFile: { skipped: Record<string, number> } }>('sample', '--model', TINY, '--prompts', join(dir, 'p.jsonl'), '--n', '3', '--max-new-tokens', '6', '--out', out);
  assert.equal(r.prompts, 2);
  assert.equal(r.responses, 6);
  assert.equal(r.promptFile.skipped.invalidJson, 1);
  assert.equal(r.promptFile.skipped.emptyInstruction, 1);
  const s = readSamples(out);
  assert.equal(s.records.length, 2);
  assert.ok(s.records.every((x) => x.responses.length === 3 && x.options.temperature === 0.7));
  const again = ipoJson<{ cached: number }>('sample', '--model', TINY, '--prompts', join(dir, 'p.jsonl'), '--n', '3', '--max-new-tokens', '6', '--out', join(dir, 's2.jsonl'));
  assert.equal(again.cached, 6, 'a rerun comes from the cache');
  assert.equal(readFileSync(join(dir, 's2.jsonl'), 'utf8'), readFileSync(out, 'utf8'));
  assertOneLineError(ipo('sample', '--model', TINY, '--prompts', join(dir, 'p.jsonl'), '--n', '0', '--out', out), /--n must be a whole number >= 1/);
});

test('ipo sft: response-only SFT lowers eval_loss and writes a loadable model', () => {
  const dir = tmp();
  const rows = ['Tom', 'Lily', 'Ben', 'Sue'].map((n) => ({ instruction: `Write about ${n}.`, response: `${n} had a red ball. ${n} was happy.` }));
  writeFileSync(join(dir, 'train.jsonl'), rows.map((r) => `${JSON.stringify(r)}\n`).join('') + '{"instruction": "x", "response": ""}\n');
  writeFileSync(join(dir, 'eval.jsonl'), `${JSON.stringify({ prompt: 'Write about Max.', completion: 'Max had a red ball. Max was happy.' })}\n`);
  const out = join(dir, 'sft');
  const r = ipoJson<{ eval_before: { eval_loss: number }; eval: { eval_loss: number }; steps: number; file: { train: Record<string, number> } }>(
    'sft', '--model', TINY, '--train', join(dir, 'train.jsonl'), '--eval', join(dir, 'eval.jsonl'), '--out', out, '--epochs', '3', '--lr', '3e-3', '--warmup-ratio', '0', '--no-gradient-checkpointing',
  );
  assert.equal(r.file.train.emptyResponse, 1);
  assert.equal(r.steps, 12);
  assert.ok(r.eval.eval_loss < r.eval_before.eval_loss, `eval_loss ${r.eval_before.eval_loss} → ${r.eval.eval_loss}`);
  assert.ok(existsSync(join(out, 'model.safetensors')) && existsSync(join(out, 'metrics.jsonl')));
  assert.ok(Number.isFinite(ipoJson<{ logprob: number }>('logprob', '--model', out, '--text', 'Max had a red ball.').logprob));
});

test('ipo export-pairs --format trl: dataset and a TRL script that compiles', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'pairs.jsonl'), `${JSON.stringify({ prompt: 'Hi', chosen: 'Hello!', rejected: 'Go away.' })}\n${JSON.stringify({ prompt: 'Bye', chosen: 'See you!', rejected: 'Whatever.' })}\n`);
  const out = join(dir, 'trl');
  ipoJson('export-pairs', '--pairs', join(dir, 'pairs.jsonl'), '--format', 'trl', '--out', out);
  const rows = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.chosen), ['Hello!', 'See you!']);
  const script = readFileSync(join(out, 'train_dpo.py'), 'utf8');
  assert.match(script, /DPOTrainer/);
  const c = spawnSync('/usr/bin/python3', ['-m', 'py_compile', join(out, 'train_dpo.py')], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
});
