import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { contentHash, ResultCache, stableStringify } from '../lib/util/cache.ts';
import { loadTfModel } from '../lib/models/load.ts';
import { modelFingerprint } from '../lib/models/fingerprint.ts';
import { scorePairs } from '../lib/scoring/score-pairs.ts';

process.env.IPO_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ipo-cache-'));
process.env.IPO_PROGRESS = '0';

test('stable hashing: key order does not matter, values do', () => {
  assert.equal(stableStringify({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
  assert.equal(contentHash({ x: 1, y: 2 }), contentHash({ y: 2, x: 1 }));
  assert.notEqual(contentHash({ x: 1 }), contentHash({ x: 2 }));
  assert.notEqual(contentHash('a', 'b'), contentHash('ab'));
  assert.equal(stableStringify({ a: undefined, b: NaN }), '{"b":"NaN"}');
});

test('ResultCache persists, survives a torn last line, and can be disabled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipo-rc-'));
  const c1 = new ResultCache<{ v: number }>('t/x', { dir });
  c1.set('k1', { v: 1 });
  c1.set('k2', { v: 2 });
  appendFileSync(c1.file, '{"k":"k3","v":{"v":'); // a run killed mid-write
  const warnings: string[] = [];
  const c2 = new ResultCache<{ v: number }>('t/x', { dir, log: (l) => warnings.push(l) });
  assert.equal(c2.size, 2);
  assert.equal(c2.dropped, 1);
  assert.deepEqual(warnings, [`cache ${c2.displayFile}: dropped 1 corrupt entry; they will be recomputed`]);
  assert.deepEqual(c2.get('k2'), { v: 2 });
  assert.equal(c2.get('k3'), undefined);
  const off = new ResultCache<{ v: number }>('t/x', { dir, enabled: false });
  assert.equal(off.get('k1'), undefined);
  off.set('k9', { v: 9 });
  assert.doesNotMatch(readFileSync(c1.file, 'utf8'), /k9/);
});

test('scorePairs: a rerun comes entirely from the cache with identical results; other options miss', async () => {
  const lm = await loadTfModel('tinystories-656k');
  try {
    const pairs = Array.from({ length: 4 }, (_, i) => ({ instruction: `Story ${i}?`, chosen: `A nice story ${i}.`, rejected: `bad ${i}`, category: 'alpacaeval-easy' }));
    const first = await scorePairs(lm, pairs);
    assert.equal(first.cached, 0);
    const again = await scorePairs(lm, pairs);
    assert.equal(again.cached, 4);
    assert.deepEqual(again.scores, first.scores);
    const exact = await scorePairs(lm, pairs, { preset: 'exact' });
    assert.equal(exact.cached, 0);
    assert.match(first.cacheFile, new RegExp(`scores/${modelFingerprint(lm)}\\.jsonl$`));
  } finally {
    lm.dispose();
  }
});
