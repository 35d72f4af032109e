/**
 * Issue 11 (docs/robustness.md): a hub that accepts the connection and then never answers (or stops sending half-way
 * through a file) fails in one line after `IPO_HUB_TIMEOUT` seconds, instead of hanging the command for minutes.
 * The "hub" is a loopback socket server that reads requests and never writes, or writes headers and a few bytes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadFromHub } from '../lib/util/hub.ts';
import { StallTimeoutError, stallTimeoutFetch } from '../lib/util/fetch-timeout.ts';

type Mode = 'silent' | 'trickle-then-stall';
const sockets = new Set<Socket>();

/** A TCP server on 127.0.0.1 that never answers ('silent') or sends a 200 with 5 of 1000 body bytes, then nothing. */
function stallingServer(mode: Mode): Promise<{ server: Server; url: string }> {
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.once('data', () => {
      if (mode === 'trickle-then-stall') sock.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"sha"');
    });
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    done({ server, url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
  }));
}

let silent: { server: Server; url: string };
let trickle: { server: Server; url: string };
const saved = new Map(['HF_ENDPOINT', 'HF_HUB_CACHE', 'IPO_HUB_TIMEOUT'].map((k) => [k, process.env[k]]));

before(async () => {
  silent = await stallingServer('silent');
  trickle = await stallingServer('trickle-then-stall');
  process.env.HF_HUB_CACHE = mkdtempSync(join(tmpdir(), 'ipo-hub-timeout-'));
  process.env.IPO_HUB_TIMEOUT = '1';
});

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all([silent, trickle].map(({ server }) => new Promise((r) => server.close(r))));
  for (const [k, v] of saved) if (v === undefined) delete process.env[k]; else process.env[k] = v;
});

test('a hub that never answers: downloadFromHub fails in one line after IPO_HUB_TIMEOUT seconds', { timeout: 30_000 }, async () => {
  process.env.HF_ENDPOINT = silent.url;
  const t0 = Date.now();
  await assert.rejects(downloadFromHub('someone/some-model', ['config.json']),
    /^Error: hub lookup of someone\/some-model@main failed: no answer from 127\.0\.0\.1:\d+ for 1 s \(IPO_HUB_TIMEOUT=1; raise it on a slow line\)$/);
  // the bound is loose on purpose (a loaded CI machine): what matters is seconds, not the minutes of a TCP timeout
  assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
});

test('a body that stops half-way is aborted after the same silence; a bad IPO_HUB_TIMEOUT is one line', { timeout: 30_000 }, async () => {
  const f = stallTimeoutFetch(1000, { envVar: 'IPO_HUB_TIMEOUT' });
  const res = await f(`${trickle.url}/x`);
  assert.equal(res.status, 200);
  await assert.rejects(res.text(), (e: unknown) => e instanceof StallTimeoutError && e.phase === 'body' && /no data from 127\.0\.0\.1:\d+ for 1 s/.test(e.message));
  process.env.HF_ENDPOINT = trickle.url;
  await assert.rejects(downloadFromHub('someone/some-model', ['config.json']), /hub lookup of someone\/some-model@main failed: no data from 127\.0\.0\.1:\d+ for 1 s/);
  process.env.IPO_HUB_TIMEOUT = 'soon';
  try {
    await assert.rejects(downloadFromHub('someone/some-model', ['config.json']), /IPO_HUB_TIMEOUT must be a number of seconds > 0, got 'soon'/);
  } finally {
    process.env.IPO_HUB_TIMEOUT = '1';
  }
});

test('ipo score --model <hub id> against a silent hub: one line on stderr, non-zero exit, in seconds', { timeout: 60_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, HF_ENDPOINT: silent.url, IPO_HUB_TIMEOUT: '1', IPO_PROGRESS: '0' };
  for (const k of ['IPO_OFFLINE', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE']) delete env[k];
  const r = spawnSync(process.execPath, ['bin/ipo.mjs', 'score', '--model', 'someone/some-model', '--instruction', 'Hi', '--response', 'Hello'], { encoding: 'utf8', env, timeout: 50_000 });
  assert.notEqual(r.status, 0);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /someone\/some-model.*no answer from 127\.0\.0\.1:\d+ for 1 s \(IPO_HUB_TIMEOUT=1/);
});
