/**
 * lib/util/cached-loop.ts: the one batched, cached, resumable loop. The computation is a pure function of the item
 * written here (no model), so every expected result is known; what is checked is the loop's bookkeeping: order,
 * batching, the cache, and "a killed run resumes" as a loop stopped at item k and restarted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { accuracyInfo, runCachedLoop } from '../lib/util/cached-loop.ts';

process.env.IPO_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ipo-loop-'));
process.env.IPO_PROGRESS = '0';

interface Item { id: number; text: string }
const items: Item[] = Array.from({ length: 11 }, (_, i) => ({ id: i, text: `item ${i} ${'x'.repeat(i)}` }));
/** The "model": a value that depends only on the item, so cached and computed results are comparable. */
const f = (it: Item) => ({ id: it.id, len: it.text.length, sq: it.id * it.id });

test('batched loop: item order, batch sizes, and a rerun served from the cache', async () => {
  const calls: number[][] = [];
  const spec = {
    cacheName: 't/order',
    label: 'order',
    keyParts: (it: Item) => ['v1', it],
    computeBatch: async (xs: Item[]) => { calls.push(xs.map((x) => x.id)); return xs.map(f); },
    batchSize: 4,
  };
  const a = await runCachedLoop(items, spec);
  assert.deepEqual(a.results, items.map(f));
  assert.equal(a.cached, 0);
  assert.deepEqual(calls, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]);
  assert.match(a.cacheFile, /t[\\/]order\.jsonl$/);
  assert.equal(readFileSync(a.cacheFile, 'utf8').trim().split('\n').length, 11);
  const b = await runCachedLoop(items, spec);
  assert.equal(b.cached, 11);
  assert.deepEqual(b.results, a.results);
  assert.equal(calls.length, 3, 'a full rerun computes nothing');
});

test('a loop stopped at item k resumes: the rerun computes only the rest, results equal an uninterrupted run', async () => {
  const reference = await runCachedLoop(items, { cacheName: 't/ref', cache: false, label: 'ref', keyParts: (it) => [it], compute: async (it) => f(it) });
  assert.deepEqual(reference.results, items.map(f));

  for (const [batchSize, k] of [[1, 5], [3, 7], [4, 0]] as const) {
    const name = `t/resume-${batchSize}-${k}`;
    const computed: number[] = [];
    const killAt = (stop: number | null) => async (xs: Item[]) => {
      if (stop !== null && xs.some((x) => x.id >= stop)) throw new Error(`killed at item ${stop}`);
      computed.push(...xs.map((x) => x.id));
      return xs.map(f);
    };
    // the batch holding item k throws: every earlier batch was computed (and cached), none after it
    await assert.rejects(
      runCachedLoop(items, { cacheName: name, label: 'resume', keyParts: (it) => [it], computeBatch: killAt(k), batchSize }),
      new RegExp(`killed at item ${k}`),
    );
    const before = computed.length;
    assert.deepEqual(computed, items.slice(0, before).map((x) => x.id));
    const rerun = await runCachedLoop(items, { cacheName: name, label: 'resume', keyParts: (it) => [it], computeBatch: killAt(null), batchSize });
    assert.equal(rerun.cached, before, `batchSize ${batchSize}, k ${k}: cached = items done before the kill`);
    assert.deepEqual(computed.slice(before), items.slice(before).map((x) => x.id), 'only the rest is computed');
    assert.deepEqual(rerun.results, reference.results);
  }
});

test('single-item compute, duplicate keys computed once, cache: false writes nothing', async () => {
  const seen: number[] = [];
  const dup = [items[0], items[1], items[0], items[2], items[1]];
  const r = await runCachedLoop(dup, {
    cacheName: 't/dup', label: 'dup', keyParts: (it) => [it.id],
    compute: async (it) => { seen.push(it.id); return f(it); },
  });
  assert.deepEqual(seen, [0, 1, 2]);
  assert.deepEqual(r.results, dup.map(f));
  assert.equal(r.cached, 2, 'the two repeats count as cache hits');
  const off = await runCachedLoop(dup, {
    cacheName: 't/off', cache: false, label: 'off', keyParts: (it) => [it.id],
    compute: async (it) => f(it),
  });
  assert.equal(off.cached, 0);
  assert.throws(() => readFileSync(off.cacheFile), /ENOENT/);
});

test('progressInfo sees the results so far; bad specs and bad batch results fail in one line', async () => {
  const infos: string[] = [];
  await runCachedLoop([{ i: 0, c: true }, { i: 1, c: false }, { i: 2, c: true }], {
    cacheName: 't/info', cache: false, label: 'info', keyParts: (x) => [x],
    computeBatch: async (xs) => xs.map((x) => ({ correct: x.c })), batchSize: 2,
    progressInfo: (rs, cached) => { const s = accuracyInfo(rs, cached); infos.push(s); return s; },
  });
  assert.deepEqual(infos, ['accuracy 0.500', 'accuracy 0.667']);
  assert.equal(accuracyInfo([{ correct: true }], 3), 'accuracy 1.000, 3 cached');
  await assert.rejects(runCachedLoop([1], { cacheName: 't/x', label: 'x', keyParts: (x) => [x] }), /runCachedLoop\(x\): give computeBatch or compute/);
  await assert.rejects(runCachedLoop([1], { cacheName: 't/x', label: 'x', keyParts: (x) => [x], compute: async (x) => x, batchSize: 0 }), /batchSize must be a positive integer/);
  await assert.rejects(
    runCachedLoop([1, 2], { cacheName: 't/x', cache: false, label: 'x', keyParts: (x) => [x], computeBatch: async () => [1], batchSize: 2 }),
    /computeBatch returned 1 results for 2 items/,
  );
});

test('hits and misses interleaved: results keep item order, misses batched in item order', async () => {
  const calls: number[][] = [];
  const spec = {
    cacheName: 't/interleaved', label: 'interleaved', keyParts: (it: Item) => [it],
    computeBatch: async (xs: Item[]) => { calls.push(xs.map((x) => x.id)); return xs.map(f); }, batchSize: 2,
  };
  await runCachedLoop(items.filter((x) => x.id % 3 === 0), spec); // 0, 3, 6, 9 cached
  calls.length = 0;
  const r = await runCachedLoop(items, spec);
  assert.equal(r.cached, 4);
  assert.deepEqual(calls, [[1, 2], [4, 5], [7, 8], [10]]);
  assert.deepEqual(r.results, items.map(f));
});
