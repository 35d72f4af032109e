import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadTfModel } from '../lib/models/load.ts';
import { pYes } from '../lib/scoring/yes-no.ts';
import { findAsset } from '../lib/util/paths.ts';
import { assertOneLineError, ipo } from './helpers/cli.ts';

const TINY = findAsset('models/tinystories-656k');

test('ipo generate / logprob / score --json agree with the library', async () => {
  const lm = await loadTfModel(TINY);
  try {
    const g = ipo('generate', '--model', TINY, '--prompt', 'Once upon a time', '--max-new-tokens', '12', '--json');
    assert.equal(g.code, 0, g.stderr);
    const gen = JSON.parse(g.stdout);
    const expected = await lm.generate(lm.encode('Once upon a time'), { maxNewTokens: 12 });
    assert.deepEqual(gen.tokens, expected);
    assert.equal(gen.text, lm.decode(expected, { skipSpecialTokens: true }));
    assert.ok(!gen.text.startsWith('Once upon a time'), 'continuation only, not the prompt');

    const sampled = JSON.parse(ipo('generate', '--model', TINY, '--prompt', 'The cat', '--max-new-tokens', '8', '--temperature', '0.8', '--top-p', '0.9', '--seed', '3', '--json').stdout);
    const again = JSON.parse(ipo('generate', '--model', TINY, '--prompt', 'The cat', '--max-new-tokens', '8', '--temperature', '0.8', '--top-p', '0.9', '--seed', '3', '--json').stdout);
    assert.deepEqual(sampled.tokens, again.tokens);

    const l = ipo('logprob', '--model', TINY, '--text', 'Lily saw a big dog.', '--json');
    assert.equal(l.code, 0, l.stderr);
    const lp = JSON.parse(l.stdout);
    const ids = lm.encode('Lily saw a big dog.');
    assert.equal(lp.tokens, ids.length);
    const ref = await lm.continuationLogProb(ids.slice(0, 1), ids.slice(1));
    assert.ok(Math.abs(lp.logprob - ref.total) < 1e-6);
    assert.ok(lp.logprob < 0);

    const s = ipo('score', '--model', TINY, '--instruction', 'Tell me a story.', '--response', 'Once upon a time there was a cat.', '--category', 'hep-python', '--preset', 'exact', '--json');
    assert.equal(s.code, 0, s.stderr);
    const sc = JSON.parse(s.stdout);
    const lib = await pYes(lm, { instruction: 'Tell me a story.', response: 'Once upon a time there was a cat.', category: 'hep-python' }, { preset: 'exact' });
    assert.ok(Math.abs(sc.pYes - lib.pYes) < 1e-9);
    assert.ok(sc.pYes > 0 && sc.pYes < 1 && sc.yes > 0 && sc.no > 0);
    assert.ok(Math.abs(sc.pYes - sc.yes / (sc.yes + sc.no)) < 1e-9);
  } finally {
    lm.dispose();
  }
});

test('ipo demo prints a story and a scored pair', () => {
  const r = ipo('demo', '--json');
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.ok(d.story.text.startsWith('Once upon a time') && d.story.tokens > 10);
  for (const p of ['paper', 'exact']) {
    assert.ok(d.scores[p].chosen > 0 && d.scores[p].chosen < 1);
    assert.equal(d.scores[p].correct, d.scores[p].chosen > d.scores[p].rejected);
  }
  assert.match(d.report, /not an instruction model/);
});

test('bad inputs: one line on stderr, non-zero exit, no stack trace', () => {
  assertOneLineError(ipo('generate', '--model', '/no/such/model', '--prompt', 'x'), /^ipo: model '\/no\/such\/model' not found: looked in \/no\/such\/model/);
  assertOneLineError(ipo('score', '--model', TINY, '--instruction', 'a', '--response', 'b', '--frobnicate'), /^ipo: unknown option '--frobnicate'/);
  assertOneLineError(ipo('generate', '--model', TINY, '--prompt', 'x', '--max-new-tokens', 'ten'), /--max-new-tokens must be a whole number >= 0, got 'ten'/);
  assertOneLineError(ipo('score', '--model', TINY, '--instruction', 'a', '--response', 'b', '--preset', 'fancy'), /'fancy' is invalid.*paper, exact/);
  assertOneLineError(ipo('generate', '--model', TINY), /required option '--prompt <text>' not specified/);
  assertOneLineError(ipo('explode'), /unknown command 'explode'/);

  // corrupt safetensors header: a copy of the model folder whose weights file is garbage
  const dir = mkdtempSync(join(tmpdir(), 'ipo-corrupt-'));
  cpSync(TINY, dir, { recursive: true });
  const junk = Buffer.alloc(64);
  junk.writeBigUInt64LE(10_000_000n, 0);
  writeFileSync(join(dir, 'model.safetensors'), junk);
  assertOneLineError(ipo('logprob', '--model', dir, '--text', 'hi'), /^ipo: .*model\.safetensors: .*header/);

  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }));
  assertOneLineError(ipo('logprob', '--model', dir, '--text', 'hi'), /^ipo: .*config\.json: unknown architecture 'gpt2'/);
});
