/**
 * Issue 11: a long run SIGKILLed at a random point and started again ends with exactly the results of an
 * uninterrupted run (in its own cache folder), no row lost or duplicated — one test per kind of run:
 *
 *  - scoring: `ipo rewardbench` on the local engine (the scores cache, one line per pair);
 *  - sampling: `ipo sample`, the self-improvement sampling step (N responses per prompt, `samples.jsonl`).
 *
 * Training (`test/dpo-train.test.ts`: SIGKILL after a checkpoint, same weights, each step once in metrics.jsonl) and
 * api runs (`test/api-resume.test.ts`: SIGKILL after some answers, answered requests not sent again) have theirs.
 * The kill point is the number of finished rows in the run's cache file, drawn from a seeded generator.
 *
 * And `kill <pid of npx>`: `npx ipo …` is npm → sh → node; npm passes SIGTERM/SIGINT to the shell only, which dies
 * without passing them on. The CLI notices that its starter is gone (lib/util/parent-watch.ts) and stops: checked
 * for SIGTERM, SIGHUP and SIGKILL of the npx process, Ctrl-C (SIGINT to the process group), and without the watch
 * (the orphan it prevents). SIGINT to the npx process alone stops nothing: npm passes it to the shell, which waits
 * for the CLI (dash's behaviour; it is not a way anyone stops a job — Ctrl-C signals the whole group).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { makeRng } from '../lib/util/rng.ts';
import { entryChecksum } from '../lib/util/cache.ts';
import { completeLines, ipoSpawnEnv, killWhen, pidsWithEnv } from './helpers/cli.ts';

const rng = makeRng('issue-11-kill-resume');
/** A kill point in [lo, hi], from the seeded generator (the same points on every run of the test). */
const killPoint = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

function runIpo(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/ipo.mjs', ...args], { encoding: 'utf8', maxBuffer: 32 << 20, env: { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0', ...env } });
  assert.equal(r.status, 0, `ipo ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

/** The one cache file under `<cache>/<kind>/` (null while the run has not written one yet). */
function cacheFile(cache: string, kind: string): string | null {
  const dir = join(cache, kind);
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  assert.ok(files.length <= 1, `one ${kind} cache file, got ${files.join(', ')}`);
  return files.length ? join(dir, files[0]) : null;
}

/** key → value of a cache file, asserting every line is a valid entry and no key appears twice. */
function cacheEntries(file: string): Map<string, unknown> {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  const out = new Map<string, unknown>();
  for (const line of text.trimEnd().split('\n')) {
    const e = JSON.parse(line) as { k: string; h: string; v: unknown };
    assert.equal(e.h, entryChecksum(e.k, e.v), 'every line carries a valid checksum');
    assert.ok(!out.has(e.k), `key ${e.k.slice(0, 12)} appears twice`);
    out.set(e.k, e.v);
  }
  return out;
}

/** A cache warning, if any, is the one line about the torn row at the kill. */
function assertAtMostTornRow(stderr: string): void {
  const warnings = stderr.split('\n').filter((l) => l.startsWith('cache '));
  assert.ok(warnings.length === 0 || (warnings.length === 1 && /dropped 1 corrupt entry; they will be recomputed$/.test(warnings[0])), stderr);
}

test('scoring: ipo rewardbench SIGKILLed at a random pair and restarted prints the numbers of an uninterrupted run, every pair cached once', async (t) => {
  const args = ['rewardbench', '--source', 'rebuilt', '--limit-per-subset', '2', '--json'];
  const refCache = tmp('ipo-kr-score-ref-');
  const reference = JSON.parse(runIpo({ IPO_CACHE_DIR: refCache }, ...args).stdout);
  const total = completeLines(cacheFile(refCache, 'scores')!);
  assert.ok(total >= 20, `${total} pairs`);

  const cache = tmp('ipo-kr-score-');
  const at = killPoint(4, total - 8);
  const child = ipoSpawnEnv({ IPO_CACHE_DIR: cache }, ...args);
  const done = await killWhen(child, () => {
    const f = cacheFile(cache, 'scores');
    const n = f ? completeLines(f) : 0;
    return n >= at ? n : null;
  });
  const atKill = completeLines(cacheFile(cache, 'scores')!);
  t.diagnostic(`killed at ${done} of ${total} scored pairs (kill point ${at}; ${atKill} lines on disk after the kill)`);
  assert.ok(atKill < total, 'killed before the end');

  const resumed = runIpo({ IPO_CACHE_DIR: cache }, ...args);
  assertAtMostTornRow(resumed.stderr);
  assert.deepEqual(JSON.parse(resumed.stdout), reference, 'the same result as an uninterrupted run');
  const a = cacheEntries(cacheFile(refCache, 'scores')!);
  const b = cacheEntries(cacheFile(cache, 'scores')!);
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), 'every pair once, none missing');
  for (const [k, v] of a) assert.deepEqual(b.get(k), v);
});

test('sampling: ipo sample SIGKILLed at a random response and restarted writes the samples file of an uninterrupted run', async (t) => {
  const dir = tmp('ipo-kr-sample-');
  const prompts = join(dir, 'prompts.jsonl');
  writeFileSync(prompts, Array.from({ length: 6 }, (_, i) => `${JSON.stringify({ instruction: `Tell a short story about a dog named Rex, part ${i}.` })}\n`).join(''));
  const args = (out: string) => ['sample', '--model', 'tinystories-656k', '--prompts', prompts, '--n', '4', '--max-new-tokens', '32', '--out', out, '--json'];
  const refCache = tmp('ipo-kr-sample-ref-');
  const refOut = join(dir, 'ref.jsonl');
  const reference = JSON.parse(runIpo({ IPO_CACHE_DIR: refCache }, ...args(refOut)).stdout);
  assert.equal(reference.responses, 24);

  const cache = tmp('ipo-kr-sample-c-');
  const out = join(dir, 'samples.jsonl');
  const at = killPoint(3, 18);
  const child = ipoSpawnEnv({ IPO_CACHE_DIR: cache }, ...args(out));
  const done = await killWhen(child, () => {
    const f = cacheFile(cache, 'samples');
    const n = f ? completeLines(f) : 0;
    return n >= at ? n : null;
  });
  t.diagnostic(`killed after ${done} of 24 responses (kill point ${at})`);
  assert.ok(!existsSync(out), 'killed before the samples file was written');

  const r = runIpo({ IPO_CACHE_DIR: cache }, ...args(out));
  assertAtMostTornRow(r.stderr);
  const resumed = JSON.parse(r.stdout);
  assert.ok(resumed.cached >= done && resumed.cached < 24, `${resumed.cached} responses from the cache, ${done} done before the kill`);
  assert.equal(resumed.cached + resumed.computed, 24);
  const strip = (x: Record<string, unknown>) => ({ ...x, out: null, cached: null, computed: null });
  assert.deepEqual(strip(resumed), strip(reference));
  assert.equal(readFileSync(out, 'utf8'), readFileSync(refOut, 'utf8'), 'the same samples, byte for byte');
  const records = readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string; responses: unknown[] });
  assert.equal(new Set(records.map((x) => x.id)).size, 6, 'each prompt once');
  assert.ok(records.every((x) => x.responses.length === 4), 'four responses each');
  assert.equal(cacheEntries(cacheFile(cache, 'samples')!).size, 24, 'each response cached once');
});

/** `npx ipo serve --port 0` with a marker in its environment; resolves once it is serving. */
async function startNpxServe(marker: string, env: NodeJS.ProcessEnv = {}, detached = false) {
  const child = spawn('npx', ['ipo', 'serve', '--port', '0'], { detached, env: { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0', IPO_KILL_MARKER: marker, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      if (/at http:\/\/127\.0\.0\.1:\d+\/v1/.test(stdout)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`npx ipo serve exited (${code}) before serving:\n${stderr}`)));
  });
  return { child, stderr: () => stderr };
}

/** Poll until no process carries the marker (or `polls` × 100 ms went by); the pids still there. */
async function survivors(marker: string, polls = 200): Promise<number[]> {
  let left = pidsWithEnv('IPO_KILL_MARKER', marker);
  for (let i = 0; i < polls && left.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = pidsWithEnv('IPO_KILL_MARKER', marker);
  }
  return left;
}

const linux = process.platform === 'linux';

for (const signal of ['SIGTERM', 'SIGHUP', 'SIGKILL'] as const) {
  test(`kill -${signal.slice(3)} <pid of npx ipo serve> stops the real job too`, { skip: !linux && 'reads /proc' }, async () => {
    const marker = `${signal}-${process.pid}-${Date.now()}`;
    const { child, stderr } = await startNpxServe(marker);
    const before = pidsWithEnv('IPO_KILL_MARKER', marker);
    try {
      assert.ok(before.length >= 2, `npm and the CLI (and the shell between them) carry the marker: ${before}`);
      child.kill(signal);
      const left = await survivors(marker);
      assert.deepEqual(left, [], `still running after kill -${signal.slice(3)} of npx:\n${stderr()}`);
    } finally {
      for (const pid of pidsWithEnv('IPO_KILL_MARKER', marker)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });
}

test('Ctrl-C (SIGINT to the whole process group) stops npx and the job; SIGINT to the npx process alone is held by the shell', { skip: !linux && 'reads /proc' }, async () => {
  const marker = `ctrl-c-${process.pid}-${Date.now()}`;
  const { child, stderr } = await startNpxServe(marker, {}, true);
  try {
    process.kill(-child.pid!, 'SIGINT'); // what a terminal does on Ctrl-C
    assert.deepEqual(await survivors(marker), [], `still running after Ctrl-C:\n${stderr()}`);
  } finally {
    for (const pid of pidsWithEnv('IPO_KILL_MARKER', marker)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

test('without the watch (IPO_PARENT_WATCH=0) kill -TERM of npx leaves the CLI running: the orphan the watch prevents', { skip: !linux && 'reads /proc' }, async () => {
  const marker = `nowatch-${process.pid}-${Date.now()}`;
  const { child } = await startNpxServe(marker, { IPO_PARENT_WATCH: '0' });
  try {
    if (pidsWithEnv('IPO_KILL_MARKER', marker).length < 3) return; // no shell between npm and the CLI (sh is bash): nothing to show
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const left = await survivors(marker, 20); // 2 s: the watch would have stopped it by then
    assert.ok(left.length >= 1, 'the CLI outlives npx without the watch');
  } finally {
    for (const pid of pidsWithEnv('IPO_KILL_MARKER', marker)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
});
