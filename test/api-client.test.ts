/**
 * The robust API client (lib/api/client.ts) under fault injection: loopback HTTP servers this file starts on
 * 127.0.0.1:0 (and closes) answer 429-then-200 with Retry-After, 5xx, a malformed 200, a response slower than the
 * timeout, a connection dropped mid-body, a 400, a dead replica beside a live one; plus the response cache (a second
 * client pays nothing; a run killed with SIGKILL resumes without re-sending what had succeeded and ends equal to
 * an uninterrupted run), the concurrency limit counted on the server side, exact usage counts and the API key
 * never written anywhere. Backoff waits go through a fake clock that records them: no test waits for real backoff
 * and nothing asserts a duration (delays are checked as the values the client asked for).
 *
 * Run as a child process with IPO_API_CLIENT_CHILD set, this file is the "overnight run" that the kill test kills.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, type ApiClientOptions, type ApiResult, type Clock } from '../lib/api/client.ts';
import { fullJitterDelay, isRetryableStatus, parseRetryAfter } from '../lib/api/backoff.ts';
import { makeRng } from '../lib/util/rng.ts';
import { repoRoot } from '../lib/util/paths.ts';

const KEY = 'sk-test-SECRET-0123456789abcdef';

// ---------------------------------------------------------------------------------------------------------------
// loopback servers

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  body: Record<string, unknown> | null;
  /** 1-based index of this request on this server. */
  n: number;
  send(status: number, json: unknown, headers?: Record<string, string>): void;
}

interface TestServer {
  url: string; // base URL, /v1 included
  root: string;
  count: number;
  bodies: Record<string, unknown>[];
  paths: string[];
  auth: (string | undefined)[];
  maxInFlight: number;
  close(): Promise<void>;
}

/** The deterministic answer of the fake model to one body (so a resumed run can be compared with a clean one). */
function answer(body: Record<string, unknown> | null) {
  return { object: 'text_completion', model: body?.model ?? null, choices: [{ index: 0, text: `echo:${JSON.stringify(body?.prompt ?? null)}` }], usage: { prompt_tokens: 10, completion_tokens: 2 } };
}

const shared = { inFlight: 0, max: 0 };

async function startServer(handler?: (ctx: Ctx) => void | Promise<void>, opts: { delayMs?: number; sharedCount?: boolean } = {}): Promise<TestServer> {
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  const s: TestServer = { url: '', root: '', count: 0, bodies: [], paths: [], auth: [], maxInFlight: 0, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const n = ++s.count;
      inFlight++;
      s.maxInFlight = Math.max(s.maxInFlight, inFlight);
      if (opts.sharedCount) shared.max = Math.max(shared.max, ++shared.inFlight);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        inFlight--;
        if (opts.sharedCount) shared.inFlight--;
      };
      res.on('close', finish);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | null = null;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
      } catch {
        body = null;
      }
      if (body) s.bodies.push(body);
      s.paths.push(req.url ?? '');
      s.auth.push(req.headers.authorization);
      const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(json));
      };
      if (opts.delayMs) await new Promise<void>((r) => { const t = setTimeout(() => { timers.delete(t); r(); }, opts.delayMs); timers.add(t); });
      const ctx: Ctx = { req, res, body, n, send };
      if (req.headers.authorization !== `Bearer ${KEY}`) return send(401, { error: { message: 'bad key', type: 'invalid_request_error' } });
      if (handler) await handler(ctx);
      else send(200, answer(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  s.root = `http://127.0.0.1:${port}`;
  s.url = `${s.root}/v1`;
  s.close = async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  // a handler may schedule its own timers through this
  (s as TestServer & { later: (ms: number, f: () => void) => void }).later = (ms, f) => {
    const t = setTimeout(() => { timers.delete(t); f(); }, ms);
    timers.add(t);
  };
  return s;
}

/** A fake clock: `sleep(ms)` records ms, advances the time by it and returns at once (next macrotask). */
function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
  return { clock, sleeps };
}

const logs: string[] = [];
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `ipo-api-${p}-`));

function client(s: TestServer | string[], extra: Partial<ApiClientOptions> = {}) {
  const { clock, sleeps } = fakeClock();
  const c = new ApiClient({
    baseUrls: Array.isArray(s) ? s : [s.url], apiKey: KEY, cacheDir: false, clock, rng: makeRng(7),
    backoff: { baseMs: 100, maxMs: 250 }, log: (l) => logs.push(l), ...extra,
  });
  return { c, sleeps };
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

function assertOk<T>(r: ApiResult<T>): asserts r is Extract<ApiResult<T>, { ok: true }> {
  assert.ok(r.ok, r.ok ? '' : `expected ok, got: ${r.error}`);
}

// ---------------------------------------------------------------------------------------------------------------
// the child: an "overnight run" the kill test kills with SIGKILL

async function childMain(): Promise<void> {
  const c = new ApiClient({ baseUrls: [process.env.IPO_API_CLIENT_URL!], apiKey: KEY, cacheDir: process.env.IPO_API_CLIENT_CACHE!, concurrency: 3 });
  const n = Number(process.env.IPO_API_CLIENT_N);
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const r = await c.post('/completions', { model: 'm', prompt: `p${i}` });
    if (r.ok) process.stdout.write(`done p${i}\n`);
  }));
  await c.close();
}

if (process.env.IPO_API_CLIENT_CHILD) {
  void childMain();
} else {
  defineTests();
}

function defineTests(): void {
  test('backoff: full jitter stays under min(cap, base·2^k), averages half of it; Retry-After forms; retryable statuses', () => {
    const rng = makeRng(1);
    let sum = 0;
    for (let i = 0; i < 4000; i++) {
      const d = fullJitterDelay(3, 100, 30_000, rng);
      assert.ok(d >= 0 && d < 800, `${d}`);
      sum += d;
    }
    assert.ok(Math.abs(sum / 4000 - 400) < 20, `mean ${sum / 4000}`); // U[0, 800): mean 400, sd of the mean ≈ 3.7
    for (let i = 0; i < 100; i++) assert.ok(fullJitterDelay(40, 500, 30_000, rng) < 30_000);
    assert.equal(fullJitterDelay(5, 500, 30_000, () => 0), 0);
    assert.equal(fullJitterDelay(0, 500, 30_000, () => 0.999999), 499);

    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter({ 'retry-after': '2' }, now), 2000);
    assert.equal(parseRetryAfter({ 'retry-after': '0.5' }, now), 500);
    assert.equal(parseRetryAfter({ 'retry-after': 'Wed, 21 Oct 2015 07:28:07 GMT' }, now), 7000);
    assert.equal(parseRetryAfter({ 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }, now), 0, 'a date in the past: no wait');
    assert.equal(parseRetryAfter({ 'retry-after-ms': '150', 'retry-after': '9' }, now), 150, "OpenAI's retry-after-ms first");
    assert.equal(parseRetryAfter({ 'retry-after': 'soon' }, now), null);
    assert.equal(parseRetryAfter({ 'retry-after': '-3' }, now), null);
    assert.equal(parseRetryAfter({}, now), null);
    for (const s of [408, 409, 429, 500, 502, 503, 504]) assert.ok(isRetryableStatus(s), String(s));
    for (const s of [200, 400, 401, 403, 404, 422]) assert.ok(!isRetryableStatus(s), String(s));
  });

  test('429 then 200: Retry-After in seconds and as an HTTP-date is honoured exactly, and capped', async () => {
    const hits = new Map<string, number>();
    const s = await startServer((ctx) => {
      const kind = String(ctx.body?.prompt);
      const k = (hits.get(kind) ?? 0) + 1;
      hits.set(kind, k);
      if (k > 1) return ctx.send(200, answer(ctx.body));
      const header = kind === 'seconds' ? '2' : kind === 'date' ? new Date(Date.parse(ctx.req.headers['x-now'] as string) + 7000).toUTCString() : '100000';
      ctx.send(429, { error: { message: 'Rate limit reached', type: 'requests' } }, { 'retry-after': header });
    });
    try {
      for (const [kind, want] of [['seconds', 2000], ['date', 7000], ['huge', 10_000]] as const) {
        const { clock, sleeps } = fakeClock();
        const c = new ApiClient({ baseUrls: [s.url], apiKey: KEY, cacheDir: false, clock, backoff: { maxRetryAfterMs: 10_000 }, headers: { 'x-now': new Date(clock.now()).toUTCString() } });
        const r = await c.post('/completions', { prompt: kind });
        assertOk(r);
        assert.deepEqual(sleeps, [want], kind);
        const u = c.usage();
        assert.equal(u.requests, 2);
        assert.equal(u.retries, 1);
        assert.equal(u.failures, 0);
        assert.deepEqual(u.byStatus, { 200: 1, 429: 1 });
        assert.equal(u.endpoints[0].healthy, true, 'a 429 does not make an endpoint unhealthy');
        await c.close();
      }
      assert.equal(s.count, 6);
    } finally {
      await s.close();
    }
  });

  test('500 three times then 200: retried with the seeded full-jitter delays, counts exact', async () => {
    const s = await startServer((ctx) => (ctx.n <= 3 ? ctx.send(500, { error: { message: 'busy', type: 'server_error' } }) : ctx.send(200, answer(ctx.body))));
    const { c, sleeps } = client(s);
    try {
      const r = await c.post('/completions', { prompt: 'x' });
      assertOk(r);
      assert.equal(r.cached, false);
      assert.equal(r.endpoint, s.url);
      const rng = makeRng(7);
      assert.deepEqual(sleeps, [0, 1, 2].map((k) => fullJitterDelay(k, 100, 250, rng)));
      const u = c.usage();
      assert.deepEqual({ requests: u.requests, retries: u.retries, failures: u.failures, succeeded: u.succeeded }, { requests: 4, retries: 3, failures: 0, succeeded: 1 });
      assert.deepEqual(u.byStatus, { 200: 1, 500: 3 });
      assert.equal(s.count, 4);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('a permanent 500 fails for good (ok:false, counted, server message kept); later requests still work', async () => {
    const s = await startServer((ctx) => (ctx.body?.prompt === 'doomed' ? ctx.send(500, { error: { message: 'engine exploded', type: 'server_error' } }) : ctx.send(200, answer(ctx.body))));
    const { c } = client(s, { maxRetries: 3, health: { failuresInARow: 100 } });
    try {
      const r = await c.post('/completions', { prompt: 'doomed' });
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.status, 500);
      assert.equal(r.attempts, 4);
      assert.match(r.error, /engine exploded/);
      assert.match(r.error, /gave up after 4 attempts/);
      assert.doesNotMatch(r.error, /\n/);
      assertOk(await c.post('/completions', { prompt: 'fine' }));
      const u = c.usage();
      assert.deepEqual({ requests: u.requests, retries: u.retries, failures: u.failures, succeeded: u.succeeded }, { requests: 5, retries: 3, failures: 1, succeeded: 1 });
      assert.equal(s.count, 5);
      assert.equal(u.endpoints[0].failures, 4);
      assert.match(c.formatUsage(), /5 requests \(3 retries\), 0 cached, 1 failed for good/);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('a 200 with a malformed JSON body is retried and never cached', async () => {
    const s = await startServer((ctx) => {
      if (ctx.n === 1) {
        ctx.res.writeHead(200, { 'content-type': 'application/json' });
        ctx.res.end('{"choices": [{"text": "cut');
      } else ctx.send(200, answer(ctx.body));
    });
    const dir = tmp('badjson');
    const { c } = client(s, { cacheDir: dir });
    try {
      const r = await c.post('/completions', { prompt: 'x' });
      assertOk(r);
      assert.deepEqual(r.json, answer({ prompt: 'x' }));
      const u = c.usage();
      assert.equal(u.errors.badJson, 1);
      assert.deepEqual(u.byStatus, { 200: 2 });
      assert.equal(u.retries, 1);
      const files = allFiles(dir);
      assert.equal(files.length, 1);
      assert.deepEqual(JSON.parse(readFileSync(files[0], 'utf8')).json, answer({ prompt: 'x' }));
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('a response slower than timeoutMs is abandoned and retried', async () => {
    let s: TestServer & { later?: (ms: number, f: () => void) => void };
    s = await startServer((ctx) => {
      if (ctx.n === 1) s.later!(5000, () => ctx.send(200, answer(ctx.body)));
      else ctx.send(200, answer(ctx.body));
    });
    const { c } = client(s, { timeoutMs: 300 });
    try {
      const r = await c.post('/completions', { prompt: 'slow' });
      assertOk(r);
      const u = c.usage();
      assert.equal(u.errors.timeout, 1);
      assert.equal(u.requests, 2);
      assert.equal(u.failures, 0);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('a connection destroyed mid-response is retried', async () => {
    const s = await startServer((ctx) => {
      if (ctx.n === 1) {
        ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
        ctx.res.write('{"choices": [');
        setImmediate(() => ctx.res.socket?.destroy());
      } else ctx.send(200, answer(ctx.body));
    });
    const { c } = client(s);
    try {
      const r = await c.post('/completions', { prompt: 'x' });
      assertOk(r);
      assert.deepEqual(r.json, answer({ prompt: 'x' }));
      const u = c.usage();
      assert.equal(u.errors.network, 1);
      assert.equal(u.requests, 2);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('a 400 is returned at once with the server message, the echoed key scrubbed', async () => {
    const s = await startServer((ctx) => ctx.send(400, { error: { message: `prompt too long (you sent ${ctx.req.headers.authorization})`, type: 'invalid_request_error', param: 'prompt' } }));
    const { c, sleeps } = client(s);
    try {
      const r = await c.post('/completions', { prompt: 'x' });
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.status, 400);
      assert.equal(r.attempts, 1);
      assert.match(r.error, /HTTP 400: prompt too long/);
      assert.ok(!r.error.includes(KEY), r.error);
      assert.match(r.error, /\[redacted\]/);
      assert.equal(s.count, 1);
      assert.deepEqual(sleeps, []);
      const u = c.usage();
      assert.deepEqual({ requests: u.requests, retries: u.retries, failures: u.failures }, { requests: 1, retries: 0, failures: 1 });
      assert.equal(u.endpoints[0].healthy, true);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('two endpoints, one dead: every request succeeds via the other, the dead one is marked unhealthy', async () => {
    const dead = await startServer();
    await dead.close(); // its port now refuses connections
    const live = await startServer(undefined, { delayMs: 5 });
    const before = logs.length;
    const { c } = client([dead.url, live.url], { concurrency: 4, health: { failuresInARow: 2, cooldownMs: 1e9 } });
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.post('/completions', { prompt: `p${i}` })));
      for (const r of rs) {
        assertOk(r);
        assert.equal(r.endpoint, live.url);
      }
      const u = c.usage();
      const [d, l] = u.endpoints;
      assert.equal(d.url, dead.url);
      assert.equal(d.healthy, false);
      assert.equal(l.healthy, true);
      assert.ok(d.requests >= 2, `dead endpoint tried ${d.requests} times`);
      assert.equal(d.failures, d.requests);
      assert.equal(l.requests, 20);
      assert.equal(live.count, 20);
      assert.equal(u.requests, d.requests + 20);
      assert.equal(u.retries, d.requests, 'each failure on the dead endpoint is retried once, on the live one');
      assert.equal(u.errors.network, d.requests);
      assert.equal(u.failures, 0);
      assert.ok(logs.slice(before).some((l) => l.includes(`endpoint ${dead.url} marked unhealthy`)));
      assert.match(c.formatUsage(), /2 endpoints \(1 unhealthy: http:\/\/127\.0\.0\.1:\d+\/v1\)/);
      // a retry goes to another endpoint than the one that just failed: with the breaker off (the dead one stays
      // "healthy" and, failing fast, has the fewest in flight) and one retry allowed, every request still succeeds
      const { c: noBreaker } = client([dead.url, live.url], { concurrency: 4, maxRetries: 1, health: { failuresInARow: 1000 } });
      const rs2 = await Promise.all(Array.from({ length: 20 }, (_, i) => noBreaker.post('/completions', { prompt: `q${i}` })));
      assert.ok(rs2.every((r) => r.ok));
      const u2 = noBreaker.usage();
      assert.ok(u2.endpoints[0].requests >= 2, `the dead endpoint got ${u2.endpoints[0].requests} first attempts`);
      assert.equal(u2.retries, u2.endpoints[0].requests);
      await noBreaker.close();
    } finally {
      await c.close();
      await live.close();
    }
  });

  test('a single endpoint that fails, is marked unhealthy, then recovers: still used (nowhere else to go), healthy again', async () => {
    const s = await startServer((ctx) => (ctx.n <= 3 ? ctx.send(503, { error: { message: 'loading model' } }) : ctx.send(200, answer(ctx.body))));
    const before = logs.length;
    const { c } = client(s, { health: { failuresInARow: 2, cooldownMs: 60_000 } });
    try {
      assertOk(await c.post('/completions', { prompt: 'x' }));
      const u = c.usage();
      assert.equal(u.requests, 4);
      assert.equal(u.endpoints[0].healthy, true);
      const mine = logs.slice(before);
      assert.ok(mine.some((l) => /marked unhealthy after 2 failures/.test(l)));
      assert.ok(mine.some((l) => /is healthy again/.test(l)));
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('concurrency: never more in flight than the limit (counted by the servers), spread over both endpoints', async () => {
    shared.inFlight = 0;
    shared.max = 0;
    const a = await startServer(undefined, { delayMs: 30, sharedCount: true });
    const b = await startServer(undefined, { delayMs: 30, sharedCount: true });
    const { c } = client([a.url, b.url], { concurrency: 3 });
    try {
      const rs = await Promise.all(Array.from({ length: 24 }, (_, i) => c.post('/completions', { prompt: `p${i}` })));
      assert.ok(rs.every((r) => r.ok));
      assert.equal(shared.max, 3);
      assert.equal(a.count + b.count, 24);
      assert.ok(a.count >= 6 && b.count >= 6, `${a.count} / ${b.count}`);
      assert.ok(a.maxInFlight <= 2 && b.maxInFlight <= 2, 'least in-flight: 3 slots over 2 endpoints never puts 3 on one');
    } finally {
      await c.close();
      await a.close();
      await b.close();
    }
  });

  test('cache: a second client (even on another endpoint) sends nothing for bodies already answered; identical calls in flight share one request', async () => {
    const dir = tmp('cache');
    const s = await startServer();
    const other = await startServer();
    const bodies = Array.from({ length: 6 }, (_, i) => ({ model: 'm', prompt: `p${i}`, max_tokens: 1 }));
    const { c: c1 } = client(s, { cacheDir: dir });
    const { c: c2 } = client(other, { cacheDir: dir });
    const { c: c3 } = client(s, { cacheDir: tmp('cache-dedup') });
    try {
      const first = await Promise.all(bodies.map((b) => c1.post('/completions', b)));
      assert.equal(s.count, 6);
      const again = await Promise.all(bodies.map((b) => c2.post('/completions', { ...b })));
      assert.equal(other.count, 0, 'the key is (path, body), not the endpoint');
      for (let i = 0; i < 6; i++) {
        const f = first[i];
        const r = again[i];
        assertOk(f);
        assertOk(r);
        assert.equal(f.cached, false);
        assert.equal(r.cached, true);
        assert.equal(r.endpoint, null);
        assert.deepEqual(r.json, f.json);
      }
      const u2 = c2.usage();
      assert.deepEqual({ requests: u2.requests, cached: u2.cached, promptTokens: u2.promptTokens }, { requests: 0, cached: 6, promptTokens: 0 });
      // a changed body, another path, or cache: false is a miss
      assertOk(await c2.post('/completions', { ...bodies[0], max_tokens: 2 }));
      assertOk(await c2.post('/chat/completions', bodies[0]));
      assertOk(await c2.post('/completions', bodies[0], { cache: false }));
      assert.equal(other.count, 3);
      // five identical calls at once: one request
      const same = await Promise.all(Array.from({ length: 5 }, () => c3.post('/completions', bodies[0])));
      assert.ok(same.every((r) => r.ok));
      assert.equal(c3.usage().requests, 1);
      assert.equal(c3.usage().cached, 4);
      assert.equal(s.count, 7);
      // the key reached the servers and nothing else
      assert.ok([...s.auth, ...other.auth].every((a) => a === `Bearer ${KEY}`));
      for (const f of [...allFiles(dir), ...allFiles(c3.cacheDir!)]) {
        const text = readFileSync(f, 'utf8');
        assert.ok(!text.includes(KEY) && !text.includes('SECRET') && !/bearer/i.test(text), `key found in ${f}`);
      }
      assert.ok(!JSON.stringify(c1.usage()).includes('SECRET') && !c1.formatUsage().includes('SECRET'));
    } finally {
      await Promise.all([c1.close(), c2.close(), c3.close()]);
      await s.close();
      await other.close();
    }
  });

  test('resume: a run whose server died after k answers, rerun on a live server, sends only the rest and equals a clean run', async () => {
    const dir = tmp('resume');
    const N = 10;
    const K = 4;
    const answered: string[] = [];
    const dying = await startServer((ctx) => {
      if (answered.length < K) {
        answered.push(String(ctx.body?.prompt));
        ctx.send(200, answer(ctx.body));
      } else ctx.res.socket?.destroy();
    });
    const live = await startServer();
    const clean = await startServer();
    const bodies = Array.from({ length: N }, (_, i) => ({ model: 'm', prompt: `p${i}` }));
    const { c: c1 } = client(dying, { cacheDir: dir, concurrency: 3, maxRetries: 1 });
    const { c: c2 } = client(live, { cacheDir: dir, concurrency: 3 });
    const { c: ref } = client(clean, { cacheDir: tmp('resume-ref') });
    try {
      const r1 = await Promise.all(bodies.map((b) => c1.post('/completions', b)));
      assert.equal(r1.filter((r) => r.ok).length, K);
      assert.equal(c1.usage().failures, N - K);
      const r2 = await Promise.all(bodies.map((b) => c2.post('/completions', b)));
      const resent = live.bodies.map((b) => String(b.prompt));
      assert.deepEqual([...resent].sort(), bodies.map((b) => b.prompt).filter((p) => !answered.includes(p)).sort());
      assert.equal(c2.usage().cached, K);
      const r3 = await Promise.all(bodies.map((b) => ref.post('/completions', b)));
      assert.deepEqual(r2.map((r) => r.ok && r.json), r3.map((r) => r.ok && r.json));
    } finally {
      await Promise.all([c1.close(), c2.close(), ref.close()]);
      await Promise.all([dying.close(), live.close(), clean.close()]);
    }
  });

  test('kill -9 mid-run: the resumed run re-sends no request whose answer had been stored, and equals a clean run', async (t) => {
    const dir = tmp('kill');
    const N = 40;
    const s = await startServer(undefined, { delayMs: 25 });
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), 'test', 'api-client.test.ts')], {
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, IPO_API_CLIENT_CHILD: '1', IPO_API_CLIENT_URL: s.url, IPO_API_CLIENT_CACHE: dir, IPO_API_CLIENT_N: String(N) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const done: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, sig) => resolve(sig ?? code)));
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.startsWith('done ')) done.push(l.slice(5));
      if (done.length >= 5 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    try {
      const how = await exited;
      assert.equal(how, 'SIGKILL', `the child was not killed mid-run (exit ${String(how)}; stderr: ${stderr.slice(0, 300)})`);
      const phase1 = s.bodies.map((b) => String(b.prompt));
      assert.ok(phase1.length < N, 'killed before the end');
      const files = allFiles(dir).filter((f) => f.endsWith('.json'));
      const stored = files.map((f) => JSON.parse(readFileSync(f, 'utf8')).json.choices[0].text as string).map((t) => JSON.parse(t.slice('echo:'.length)) as string);
      for (const id of done) assert.ok(stored.includes(id), `${id} was reported done but not stored`);
      const before = s.count;
      const { c } = client(s, { cacheDir: dir, concurrency: 3 });
      try {
        const rs = await Promise.all(Array.from({ length: N }, (_, i) => c.post('/completions', { model: 'm', prompt: `p${i}` })));
        const resent = s.bodies.slice(before).map((b) => String(b.prompt));
        assert.equal(resent.length, N - stored.length);
        t.diagnostic(`killed after ${done.length} reported done; server had received ${phase1.length}, ${stored.length} stored; resumed run sent ${resent.length}`);
        for (const id of resent) assert.ok(!stored.includes(id), `${id} had succeeded and was sent again`);
        assert.equal(c.usage().cached, stored.length);
        assert.deepEqual(rs.map((r) => r.ok && r.json), Array.from({ length: N }, (_, i) => answer({ model: 'm', prompt: `p${i}` })));
      } finally {
        await c.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await s.close();
    }
  });

  test('usage: tokens summed from responses, cost from the price table (null without one), cached calls free', async () => {
    const s = await startServer();
    const { c } = client(s, { cacheDir: tmp('usage'), prices: { m1: { prompt: 2, completion: 10 } } });
    const { c: noPrices } = client(s);
    try {
      for (const p of ['a', 'b', 'c']) assertOk(await c.post('/completions', { model: 'm1', prompt: p }));
      assertOk(await c.post('/completions', { model: 'm2', prompt: 'd' }));
      assertOk(await c.post('/completions', { model: 'm1', prompt: 'a' })); // cached: free
      const u = c.usage();
      assert.deepEqual(
        { requests: u.requests, cached: u.cached, succeeded: u.succeeded, promptTokens: u.promptTokens, completionTokens: u.completionTokens, unpriced: u.unpriced },
        { requests: 4, cached: 1, succeeded: 4, promptTokens: 40, completionTokens: 8, unpriced: ['m2'] },
      );
      assert.ok(Math.abs(u.costUsd! - (3 * (10 * 2 + 2 * 10)) / 1e6) < 1e-15, String(u.costUsd));
      assert.match(c.formatUsage(), /40 prompt \+ 8 completion tokens, \$0\.0001 \(no price for m2\)/);
      assertOk(await noPrices.post('/completions', { model: 'm1', prompt: 'a' }));
      assert.equal(noPrices.usage().costUsd, null);
      assert.doesNotMatch(noPrices.formatUsage(), /\$/);
    } finally {
      await c.close();
      await noPrices.close();
      await s.close();
    }
  });

  test('paths: GET under the base URL, {root: true} at the server root, a query string kept', async () => {
    const s = await startServer((ctx) => ctx.send(200, { path: ctx.req.url }));
    const { c } = client([`${s.url}/`]);
    const { c: q } = client([`${s.url}?api-version=1`]);
    try {
      const m = await c.get<{ path: string }>('/models');
      assertOk(m);
      assert.equal(m.json.path, '/v1/models');
      const t = await c.post<{ path: string }>('/tokenize', { prompt: 'hi' }, { root: true });
      assertOk(t);
      assert.equal(t.json.path, '/tokenize');
      const h = await c.get<{ path: string }>('health', { root: true });
      assertOk(h);
      assert.equal(h.json.path, '/health');
      const z = await q.post<{ path: string }>('/completions', {});
      assertOk(z);
      assert.equal(z.json.path, '/v1/completions?api-version=1');
      assert.equal(c.usage().endpoints[0].url, s.url, 'shown without the trailing slash');
    } finally {
      await c.close();
      await q.close();
      await s.close();
    }
  });

  test('close() ends a call waiting out a long Retry-After: ok:false, no hang', async () => {
    const s = await startServer((ctx) => ctx.send(429, { error: { message: 'slow down' } }, { 'retry-after': '600' }));
    const c = new ApiClient({ baseUrls: [s.url], apiKey: KEY, cacheDir: false, backoff: { maxRetryAfterMs: 600_000 } });
    try {
      const pending = c.post('/completions', { prompt: 'x' });
      while (s.count < 1) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
      await c.close();
      const r = await pending;
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, /client is closed/);
      assert.equal(s.count, 1);
      assert.equal(c.usage().failures, 1);
      const after = await c.post('/completions', { prompt: 'y' });
      assert.equal(after.ok, false, 'a closed client sends nothing');
      assert.equal(s.count, 1);
    } finally {
      await s.close();
    }
  });

  test('bad options and bad calls throw one-line errors; network trouble never throws', async () => {
    const bad: [Partial<ApiClientOptions>, RegExp][] = [
      [{ baseUrls: [] }, /at least one base URL/],
      [{ baseUrls: ['ftp://x/v1'] }, /http:\/\/ or https:\/\//],
      [{ baseUrls: ['not a url'] }, /is not a URL/],
      [{ baseUrls: ['http://user:hunter2@h/v1'] }, /has credentials/],
      [{ baseUrls: ['http://a/v1', 'http://a/v1/'] }, /given twice/],
      [{ baseUrls: ['http://a/v1'], concurrency: 0 }, /concurrency must be an integer >= 1/],
      [{ baseUrls: ['http://a/v1'], timeoutMs: -1 }, /timeoutMs must be a number >= 1/],
      [{ baseUrls: ['http://a/v1'], maxRetries: 1.5 }, /maxRetries must be an integer >= 0/],
      [{ baseUrls: ['http://a/v1'], prices: { m: { prompt: -1, completion: 1 } } }, /prices\["m"\]/],
      [{ baseUrls: ['http://a/v1'], health: { failuresInARow: 0 } }, /failuresInARow/],
    ];
    for (const [o, re] of bad) {
      assert.throws(() => new ApiClient(o as ApiClientOptions), (e: Error) => re.test(e.message) && !e.message.includes('\n') && !e.message.includes('hunter2'), JSON.stringify(o));
    }
    const two = new ApiClient({ baseUrls: ['http://127.0.0.1:9/v1,http://127.0.0.1:10/v1'], cacheDir: false });
    assert.equal(two.usage().endpoints.length, 2, 'a comma list is split');
    await assert.rejects(two.post('/completions', { stream: true }), /streaming/);
    await assert.rejects(two.post('http://evil/x', {}), /path must be a path/);
    await two.close();
    const { c } = client(['http://127.0.0.1:9/v1'], { maxRetries: 2 }); // port 9 (discard): refused on loopback
    const r = await c.post('/completions', { prompt: 'x' });
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.status, null);
      assert.equal(r.attempts, 3);
      assert.match(r.error, /ECONNREFUSED|connect/i);
    }
    await c.close();
  });

  test('the key never reaches a log line', () => {
    assert.ok(logs.length > 0, 'the tests above produced retry lines');
    assert.ok(logs.every((l) => !l.includes(KEY) && !l.includes('SECRET')));
    assert.ok(logs.some((l) => /^api: retry \d+\/\d+ in \d+\.\d\ds/.test(l)));
  });
}
