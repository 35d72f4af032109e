/**
 * Issue 11: a corrupt cache entry (a flipped digit in the middle of the file, a torn last line after a SIGKILL) is
 * detected by its checksum, dropped with ONE warning, and recomputed by the loop; the run then ends equal to one
 * with an uncorrupted cache. Checked on the loop itself (a pure computation, so every expected value is known) and
 * through the CLI (`ipo rewardbench` twice with the scores cache corrupted in between).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { entryChecksum, ResultCache } from '../lib/util/cache.ts';
import { runCachedLoop } from '../lib/util/cached-loop.ts';

process.env.IPO_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ipo-corrupt-'));
process.env.IPO_PROGRESS = '0';

interface Item { id: number; text: string }
const items: Item[] = Array.from({ length: 12 }, (_, i) => ({ id: i, text: `item ${i}` }));
const f = (it: Item) => ({ id: it.id, score: Math.log(it.id + 2) * 1000, sq: it.id * it.id });

/** Change the last digit of the value part of a cache line (valid JSON, wrong checksum). */
function flipDigit(line: string): string {
  const at = line.indexOf('"v":');
  const m = /\d(?=\D*$)/.exec(line.slice(at));
  assert.ok(m, `no digit in ${line}`);
  const i = at + m.index;
  return `${line.slice(0, i)}${(Number(line[i]) + 1) % 10}${line.slice(i + 1)}`;
}

/** Corrupt line `mid` (flipped digit) and tear the last line; returns the keys of the two. */
function corrupt(file: string, mid: number): string[] {
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const keys = [JSON.parse(lines[mid]).k, JSON.parse(lines[lines.length - 1]).k];
  lines[mid] = flipDigit(lines[mid]);
  const last = lines[lines.length - 1];
  lines[lines.length - 1] = last.slice(0, Math.floor(last.length / 2)); // a SIGKILL mid-append: no newline
  writeFileSync(file, lines.join('\n'));
  return keys;
}

/** stderr lines written while `f` runs (the cache warns through process.stderr by default). */
async function captureStderr<R>(fn: () => Promise<R> | R): Promise<{ value: R; lines: string[] }> {
  const lines: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter((l) => l !== ''));
    return true;
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), lines };
  } finally {
    process.stderr.write = write;
  }
}

test('a flipped digit and a torn last line are dropped with one warning, recomputed, and the run equals an uncorrupted one', async () => {
  const computed: number[] = [];
  const spec = {
    cacheName: 't/corrupt', label: 'corrupt', keyParts: (it: Item) => ['v1', it],
    compute: async (it: Item) => { computed.push(it.id); return f(it); },
  };
  const first = await runCachedLoop(items, spec);
  assert.deepEqual(first.results, items.map(f));
  const badKeys = corrupt(first.cacheFile, 5);

  const { value: reloaded, lines } = await captureStderr(() => new ResultCache<ReturnType<typeof f>>('t/corrupt'));
  assert.equal(reloaded.dropped, 2);
  assert.equal(reloaded.size, 10);
  for (const k of badKeys) assert.equal(reloaded.get(k), undefined, 'the corrupt entries are gone');
  assert.deepEqual(lines, [`cache ${basename(process.env.IPO_CACHE_DIR!)}/t/corrupt.jsonl: dropped 2 corrupt entries; they will be recomputed`]);
  const intact = items.filter((it) => it.id !== 5 && it.id !== 11);
  // the rest is intact (and a second load, of the repaired file, says nothing)
  const { value: again, lines: quiet } = await captureStderr(() => new ResultCache<ReturnType<typeof f>>('t/corrupt'));
  assert.deepEqual(quiet, []);
  assert.equal(again.dropped, 0);
  assert.equal(again.size, 10);

  computed.length = 0;
  const { value: rerun, lines: rerunLog } = await captureStderr(() => runCachedLoop(items, spec));
  assert.deepEqual(rerunLog, [], 'warned once, not at every load');
  assert.deepEqual(computed, [5, 11], 'exactly the dropped entries are recomputed');
  assert.equal(rerun.cached, intact.length);
  assert.deepEqual(rerun.results, items.map(f), 'equal to an uncorrupted run');
  // the file: every line a valid entry, each key once, ending with a newline
  const text = readFileSync(rerun.cacheFile, 'utf8');
  assert.ok(text.endsWith('\n'));
  const entries = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { k: string; h: string; v: unknown });
  assert.equal(entries.length, items.length);
  assert.equal(new Set(entries.map((e) => e.k)).size, items.length);
  for (const e of entries) assert.equal(e.h, entryChecksum(e.k, e.v));
});

test('old lines without a checksum are read; garbage lines are counted; an append after a last line without newline starts a fresh line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipo-corrupt-rc-'));
  const file = join(dir, 'x.jsonl');
  const good = new ResultCache<{ n: number }>('x', { dir });
  good.set('a', { n: 1 });
  const h = entryChecksum('b', { n: 2 });
  writeFileSync(file, [
    readFileSync(file, 'utf8').trimEnd(),
    '{"k":"legacy","v":{"n":7}}', // format v0, before checksums
    'not json', '5', '{"k":3,"v":1}', '{"v":{"n":1}}', `{"k":"b","h":"${h}","v":{"n":3}}`, // 5 bad ones
    `{"k":"b","h":"${h}","v":{"n":2}}`, // valid, but the file does not end with a newline
  ].join('\n'));
  const warnings: string[] = [];
  const c = new ResultCache<{ n: number }>('x', { dir, log: (l) => warnings.push(l) });
  assert.equal(c.dropped, 5);
  assert.deepEqual(warnings, [`cache ${basename(dir)}/x.jsonl: dropped 5 corrupt entries; they will be recomputed`]);
  assert.deepEqual([c.get('a'), c.get('legacy'), c.get('b')], [{ n: 1 }, { n: 7 }, { n: 2 }]);
  // NaN / undefined fields: the checksum is of what is read back
  c.set('nan', { n: NaN });
  c.set('undef', undefined as unknown as { n: number });
  // no newline at the end and nothing dropped: the next append still starts a fresh line
  appendFileSync(file, `{"k":"c","h":"${entryChecksum('c', { n: 4 })}","v":{"n":4}}`);
  const d = new ResultCache<{ n: number }>('x', { dir, log: (l) => warnings.push(l) });
  assert.equal(d.dropped, 0);
  d.set('e', { n: 5 });
  const e = new ResultCache<{ n: number }>('x', { dir, log: (l) => warnings.push(l) });
  assert.equal(e.dropped, 0);
  assert.equal(warnings.length, 1);
  assert.deepEqual([e.get('c'), e.get('e'), e.get('nan')], [{ n: 4 }, { n: 5 }, { n: null }]);
  assert.equal(e.size, 7);
});

test('CLI: ipo rewardbench with a corrupted scores cache warns once and prints the same result', () => {
  const cache = mkdtempSync(join(tmpdir(), 'ipo-corrupt-cli-'));
  const run = () => spawnSync(process.execPath, ['bin/ipo.mjs', 'rewardbench', '--source', 'rebuilt', '--limit-per-subset', '1', '--json'], {
    encoding: 'utf8', env: { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0', IPO_CACHE_DIR: cache },
  });
  const a = run();
  assert.equal(a.status, 0, a.stderr);
  const scores = join(cache, 'scores');
  const [name] = readdirSync(scores);
  const file = join(scores, name);
  const before = readFileSync(file, 'utf8').trimEnd().split('\n').length;
  corrupt(file, Math.floor(before / 2));
  const b = run();
  assert.equal(b.status, 0, b.stderr);
  assert.deepEqual(JSON.parse(b.stdout), JSON.parse(a.stdout), 'the same result');
  const warnings = b.stderr.split('\n').filter((l) => l.startsWith('cache '));
  assert.deepEqual(warnings, [`cache ${basename(cache)}/scores/${name}: dropped 2 corrupt entries; they will be recomputed`]);
  assert.equal(readFileSync(file, 'utf8').trimEnd().split('\n').length, before, 'recomputed, each key once');
  const c = run();
  assert.doesNotMatch(c.stderr, /corrupt/, 'the repaired cache does not warn again');
  assert.equal(c.stdout, a.stdout);
});
