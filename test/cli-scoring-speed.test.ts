import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOneLineError, ipo, ipoJson } from './helpers/cli.ts';

// Issue 10 part 1 through the CLI: the shared-prefix path (default), the plain path (--no-prefix-reuse) and
// length-sorted batches (--batch-size) give the same RewardBench and RM-Bench numbers. The cache is off, so each run
// really computes (with it on, the three share cache keys and the later runs would only read).

process.env.IPO_CACHE = '0';

type Rb = { subsets: Record<string, { n: number; correct: number; ties: number }> };

test('ipo rewardbench: --no-prefix-reuse and --batch-size 4 give the default path\'s per-subset counts', () => {
  const args = ['rewardbench', '--source', 'rebuilt', '--limit-per-subset', '1', '--preset', 'exact'];
  const shared = ipoJson<Rb>(...args);
  const plain = ipoJson<Rb>(...args, '--no-prefix-reuse');
  const batched = ipoJson<Rb>(...args.slice(0, -2), '--batch-size', '4'); // paper preset: the batched path
  const paperShared = ipoJson<Rb>(...args.slice(0, -2));
  assert.ok(Object.keys(shared.subsets).length >= 10);
  assert.deepEqual(plain.subsets, shared.subsets);
  assert.deepEqual(batched.subsets, paperShared.subsets);
});

test('ipo rmbench: --no-prefix-reuse gives the same grid', () => {
  const args = ['rmbench', '--domains', 'chat', '--limit-per-domain', '2'];
  const a = ipoJson<Record<string, unknown>>(...args);
  const b = ipoJson<Record<string, unknown>>(...args, '--no-prefix-reuse');
  assert.deepEqual(b, a);
});

test('--batch-size is validated in one line', () => {
  assertOneLineError(ipo('rewardbench', '--source', 'rebuilt', '--batch-size', '0'), /--batch-size/);
});
