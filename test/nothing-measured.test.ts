import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertOneLineError, ipo, ipoJson } from './helpers/cli.ts';

// Issue 11 part 1 (docs/robustness.md): a run that measures nothing fails in one line instead of printing
// "score 0" with exit 0, and rows of unknown subsets are reported by name, never hidden in a 100 %.

const dir = mkdtempSync(join(tmpdir(), 'ipo-nothing-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const row = (subset: string, i = 0) => JSON.stringify({ id: i, prompt: `Q${i}?`, chosen: 'A good answer.', rejected: 'No.', subset });

test('an empty or blank --source file is a one-line error, not score 0', () => {
  assertOneLineError(ipo('rewardbench', '--source', file('empty.jsonl', ''), '--json'), /nothing to measure: .*has no usable rows/);
  assertOneLineError(ipo('rewardbench', '--source', file('blank.jsonl', '\n  \n\n'), '--json'), /nothing to measure|no usable rows|empty/);
});

test('rows whose subsets are all unknown: one line listing the known subsets', () => {
  const r = ipo('rewardbench', '--source', file('unknown.jsonl', `${row('nonsense', 1)}\n${row('chat-ish', 2)}\n`), '--json');
  assertOneLineError(r, /nothing to measure: no row .* has a RewardBench subset \(found 'nonsense', 'chat-ish'\); known subsets: alpacaeval-easy, .*xstest-should-respond/);
});

test('unknown subsets next to known ones are scored, reported by name and kept out of the sections', () => {
  const j = ipoJson<{ unknownSubsets: Record<string, number>; subsets: Record<string, { n: number }>; sectionsPresent: string[] }>(
    'rewardbench', '--source', file('mixed.jsonl', `${row('nonsense', 1)}\n${row('alpacaeval-easy', 2)}\n`));
  assert.deepEqual(j.unknownSubsets, { nonsense: 1 });
  assert.equal(j.subsets.nonsense.n, 1);
  assert.deepEqual(j.sectionsPresent, ['Chat']);
  const text = ipo('rewardbench', '--source', join(dir, 'mixed.jsonl'));
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /unknown subsets \(scored, in no section or category\): nonsense \(1\)/);
});

test('an unwritable --results path fails before the run; --max-new-tokens 0 is an empty continuation', () => {
  const notADir = file('plain-file.txt', 'x');
  const r = ipo('rewardbench', '--source', 'rebuilt', '--results', join(notADir, 'results.json'), '--json');
  assertOneLineError(r, /--results .*results\.json is not writable \(E[A-Z]+\)/);
  assert.doesNotMatch(r.stderr, /RewardBench ipo/, 'no pair was scored');
  const g = ipoJson<{ text: string; tokens: number[] }>('generate', '--prompt', 'Once upon a time', '--max-new-tokens', '0');
  assert.deepEqual(g, { text: '', tokens: [] });
});
