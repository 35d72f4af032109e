/**
 * RM-Bench bootstrap (lib/eval/rmbench-bootstrap.ts) against a second implementation: with one domain it must equal
 * the generic `bootstrapCi` on per-item scores (wins of the 9 comparisons / 9, the official compute_accuracy
 * average), stratification must keep each domain's size, and too few items give NaN with a warning.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapRmBench } from '../lib/eval/rmbench-bootstrap.ts';
import { bootstrapCi } from '../lib/eval/bootstrap.ts';
import { rmBenchSummary, type RmBenchScored } from '../lib/eval/rmbench-metrics.ts';
import { makeRng } from '../lib/util/rng.ts';

function items(domain: string, n: number, seed: number): RmBenchScored[] {
  const rng = makeRng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `${domain}-${i}`, domain,
    scoreChosen: [rng(), rng(), rng()], scoreRejected: [rng(), rng(), rng()],
  }));
}
const wins9 = (r: RmBenchScored) => r.scoreChosen.reduce((s, c) => s + r.scoreRejected.filter((x) => c > x).length, 0) / 9;

test('one domain: the interval equals bootstrapCi on per-item scores, the estimate equals the official summary', () => {
  const chat = items('chat', 37, 1);
  const b = bootstrapRmBench(chat, { iterations: 500, seed: 7 });
  const ref = bootstrapCi(chat.map(wins9), { iterations: 500, seed: 7 });
  assert.ok(Math.abs(b.domains.chat.estimate - rmBenchSummary(chat).groups.chat.avg) < 1e-15);
  assert.ok(Math.abs(b.domains.chat.estimate - ref.estimate) < 1e-12);
  for (const k of ['lo', 'hi', 'se'] as const) assert.ok(Math.abs(b.domains.chat[k] - ref[k]) < 1e-12, `${k}: ${b.domains.chat[k]} vs ${ref[k]}`);
  assert.ok(Math.abs(b.overall.lo - ref.lo) < 1e-12 && Math.abs(b.overall.hi - ref.hi) < 1e-12, 'one domain: overall = that domain');
  assert.ok(b.overall.lo < b.overall.estimate && b.overall.estimate < b.overall.hi);
  assert.equal(b.warning, undefined);
});

test('stratified within domains: a domain always right and one always wrong give overall exactly 0.5', () => {
  const right = items('chat', 10, 2).map((r) => ({ ...r, scoreChosen: [1, 1, 1], scoreRejected: [0, 0, 0] }));
  const wrong = items('code', 30, 3).map((r) => ({ ...r, scoreChosen: [0, 0, 0], scoreRejected: [1, 1, 1] }));
  const b = bootstrapRmBench([...wrong, ...right], { iterations: 200 });
  assert.deepEqual([b.overall.estimate, b.overall.lo, b.overall.hi, b.overall.se], [0.5, 0.5, 0.5, 0]);
  assert.deepEqual([b.domains.chat.lo, b.domains.code.hi], [1, 0]);
  // safety-refuse and safety-response are pooled into one stratum, as the official scoring pools them
  const pooled = bootstrapRmBench([...items('safety-refuse', 5, 4), ...items('safety-response', 6, 5)], { iterations: 50 });
  assert.deepEqual(Object.keys(pooled.domains), ['safety']);
  assert.equal(pooled.minDomainSize, 11);
});

test('same seed, same intervals whatever the order of the domain blocks; a new seed moves them', () => {
  const chat = items('chat', 12, 6);
  const code = items('code', 15, 7);
  const a = bootstrapRmBench([...chat, ...code], { iterations: 300, seed: 'x' });
  const b = bootstrapRmBench([...code, ...chat], { iterations: 300, seed: 'x' });
  assert.deepEqual(a.overall, b.overall);
  assert.deepEqual(a.domains, b.domains);
  const c = bootstrapRmBench([...chat, ...code], { iterations: 300, seed: 'y' });
  assert.notDeepEqual(c.overall, a.overall);
  for (const m of ['easy', 'normal', 'hard'] as const) assert.ok(a[m].lo <= a[m].estimate && a[m].estimate <= a[m].hi, m);
});

test('a domain with one item: NaN intervals and a warning; bad options and no items are one-line errors', () => {
  const b = bootstrapRmBench([...items('chat', 5, 8), ...items('code', 1, 9)]);
  assert.ok(Number.isNaN(b.overall.lo) && Number.isNaN(b.domains.chat.hi) && Number.isFinite(b.overall.estimate));
  assert.match(b.warning ?? '', /a domain has 1 item\(s\)/);
  assert.throws(() => bootstrapRmBench([]), /^Error: bootstrapRmBench: no items to resample$/);
  assert.throws(() => bootstrapRmBench(items('chat', 3, 1), { iterations: 0 }), /iterations must be a positive integer, got 0/);
  assert.throws(() => bootstrapRmBench(items('chat', 3, 1), { level: 1 }), /level must be in \(0, 1\), got 1/);
});
