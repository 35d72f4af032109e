/**
 * A killed api run resumes without paying twice: `ipo rewardbench --base-url` goes through a recording proxy in
 * front of `ipo serve`; the run is SIGKILLed after some answers and started again. Every request the first run had
 * received an answer for — except the few in flight at the kill, whose answers the dead process never stored — is
 * not sent again, and the resumed run prints the numbers of an uninterrupted run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { loadTfModel } from '../lib/models/load.ts';
import { startOpenAiServer } from '../lib/serve/openai-server.ts';

const run = promisify(execFile);

/** A proxy that forwards to `target` and records (body hash, status) of every answered POST. */
function recordingProxy(target: URL, onAnswer: (hash: string, status: number) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
        const out: Buffer[] = [];
        r.on('data', (c: Buffer) => out.push(c));
        r.on('end', () => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          res.end(Buffer.concat(out));
          if (req.method === 'POST') onAnswer(createHash('sha256').update(req.url ?? '').update(body).digest('hex'), r.statusCode ?? 0);
        });
      });
      up.on('error', () => { res.writeHead(502); res.end(); });
      up.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const a = server.address() as { port: number };
    resolve({ server, url: `http://127.0.0.1:${a.port}/v1` });
  }));
}

test('a SIGKILLed ipo rewardbench --base-url run resumes: answered requests are not sent again, the numbers equal an uninterrupted run', async (t) => {
  const model = await loadTfModel('tinystories-656k');
  const srv = await startOpenAiServer({ model, port: 0 });
  const answered: { hash: string; status: number; run: number }[] = [];
  let current = 1;
  let onCount: ((n: number) => void) | null = null;
  const proxy = await recordingProxy(new URL(srv.url), (hash, status) => {
    answered.push({ hash, status, run: current });
    onCount?.(answered.filter((a) => a.run === 1).length);
  });
  const cache = mkdtempSync(join(tmpdir(), 'ipo-api-resume-'));
  const env = { ...process.env, IPO_OFFLINE: '1', IPO_CACHE_DIR: cache, IPO_PROGRESS: '0' };
  const args = ['bin/ipo.mjs', 'rewardbench', '--source', 'rebuilt', '--limit-per-subset', '2', '--json', '--base-url', proxy.url, '--top-logprobs', '2048'];
  try {
    // run 1: killed after 12 answered completions
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    onCount = (n) => { if (n >= 12) child.kill('SIGKILL'); };
    const code = await exited;
    onCount = null;
    assert.equal(code, null, 'run 1 was killed, not finished');
    const first = answered.filter((a) => a.run === 1 && a.status === 200).map((a) => a.hash);
    assert.ok(first.length >= 12);
    // run 2: to the end
    current = 2;
    const r2 = await run(process.execPath, args, { env, maxBuffer: 32 << 20 });
    const resumed = JSON.parse(r2.stdout);
    const second = new Set(answered.filter((a) => a.run === 2).map((a) => a.hash));
    const repeated = first.filter((h) => second.has(h));
    // only answers the killed process had not stored yet (in flight at the kill) may be asked again
    t.diagnostic(`run 1 answered ${first.length} before the kill; run 2 sent ${second.size}, of which ${repeated.length} had been answered in run 1`);
    assert.ok(repeated.length <= 8, `${repeated.length} of ${first.length} answered requests were sent again`);
    assert.ok(first.length - repeated.length >= 4, 'most of the first run\'s answers were kept');
    // the same numbers as an uninterrupted run on the direct engine
    const direct = JSON.parse((await run(process.execPath, ['bin/ipo.mjs', 'rewardbench', '--source', 'rebuilt', '--limit-per-subset', '2', '--json'], { env: { ...env, IPO_CACHE_DIR: mkdtempSync(join(tmpdir(), 'ipo-api-direct-')) }, maxBuffer: 32 << 20 })).stdout);
    for (const k of Object.keys(direct.subsets)) assert.equal(resumed.subsets[k].correct, direct.subsets[k].correct, k);
  } finally {
    proxy.server.close();
    await srv.close();
    model.dispose();
  }
});
