/**
 * A client for OpenAI-compatible HTTP APIs (vLLM, llama.cpp server, TGI, OpenRouter, OpenAI, `ipo serve`) that can
 * be left running overnight on a benchmark: thousands of requests, some of which will meet a 429, a restarting
 * replica or a dropped connection, must end with every answer that could be had, the rest counted, and a bill.
 *
 * - Concurrency: at most `concurrency` attempts in flight over all endpoints (a FIFO semaphore; a request waiting
 *   for its retry does not hold a slot).
 * - Retries (lib/api/backoff.ts): 408 / 409 / 429 / 5xx, timeouts, refused / reset / dropped connections and a 2xx
 *   body that is not JSON, up to `maxRetries` times, with full-jitter exponential backoff; `Retry-After` /
 *   `retry-after-ms` honoured (capped at `backoff.maxRetryAfterMs`). Other 4xx are returned at once with the
 *   server's message. Never throws for HTTP or network trouble: a call that fails for good returns `ok: false`,
 *   is counted in `usage().failures`, and the run goes on. Throws (one line) only for bad options or a bad call.
 * - Cache (lib/api/response-cache.ts): every successful POST is stored by the content hash of (path, body), not of
 *   the endpoint or the key, written atomically, so a killed run resumes without re-sending any request that had
 *   succeeded; identical calls in flight at the same time share one request.
 * - Scale-out (lib/api/endpoints.ts): several base URLs; each attempt goes to the healthy endpoint with the fewest
 *   requests in flight; an endpoint failing `health.failuresInARow` times in a row rests for `health.cooldownMs`.
 * - The API key is sent as `Authorization: Bearer` and nowhere else: it is not part of any cache key or file,
 *   and every error message and log line is scrubbed of it (and of other credential-looking header values) in
 *   case a server echoes it back.
 *
 * HTTP is undici 7 (one keep-alive `Agent` per client; `close()` releases it).
 */
import { join } from 'node:path';
import { Agent } from 'undici';
import { cacheEnabled } from '../util/cache';
import { kitCacheDir } from '../util/paths';
import type { Rng } from '../util/rng';
import { attempt, type AttemptOutcome } from './attempt';
import { fullJitterDelay } from './backoff';
import { EndpointPool, type Clock, type Endpoint, type HealthOptions, type HealthSignal } from './endpoints';
import { ResponseCache } from './response-cache';
import { checkPriceTable, formatUsage, UsageMeter, type ApiUsage, type PriceTable } from './usage';

export type { ApiUsage, PriceTable } from './usage';
export type { EndpointStats, HealthOptions, Clock } from './endpoints';

export interface ApiClientOptions {
  /** OpenAI base URLs, `/v1` included (`http://127.0.0.1:8000/v1`); ≥ 1. A comma list in one string is split. */
  baseUrls: string[];
  /** Sent as `Authorization: Bearer`; default `$IPO_API_KEY`, else `$OPENAI_API_KEY`. Never in caches, results, logs, errors. */
  apiKey?: string;
  /** Attempts in flight over all endpoints [8]. */
  concurrency?: number;
  /** Per attempt, headers and body together, ms [60_000]. */
  timeoutMs?: number;
  /** Retries after the first attempt [6]. */
  maxRetries?: number;
  /** Full-jitter exponential backoff [base 500 ms, cap 30_000 ms]; a server's Retry-After is honoured up to `maxRetryAfterMs` [120_000]. */
  backoff?: { baseMs?: number; maxMs?: number; maxRetryAfterMs?: number };
  /** Response cache folder [`kitCacheDir()/api`, none when `IPO_CACHE=0`]; false disables. */
  cacheDir?: string | false;
  /** Mixed into every cache key: separates runs that share a folder but must not share answers [''] . */
  cacheNamespace?: string;
  /** USD per 1M tokens by request `model`; without it `usage().costUsd` is null. */
  prices?: PriceTable;
  /** Extra request headers (e.g. OpenRouter's `HTTP-Referer`). */
  headers?: Record<string, string>;
  /** Retry and endpoint-health lines (never the key). Default: silent. */
  log?: (line: string) => void;
  /** Circuit breaker per endpoint [3 failures in a row, 30 s cooldown]. */
  health?: HealthOptions;
  /** Jitter source, uniform [0, 1) [Math.random]; tests pass a seeded one (lib/util/rng.ts). */
  rng?: Rng;
  /** Time source for backoff sleeps, Retry-After dates and cooldowns [real time]; tests pass a fake clock. */
  clock?: Clock;
}

export type ApiResult<T> =
  | { ok: true; json: T; cached: boolean; endpoint: string | null }
  | { ok: false; error: string; status: number | null; attempts: number };

type Failure = { ok: false; error: string; status: number | null; attempts: number };

/** Real time; a sleep is cancelled (its timer cleared) when the client closes, so a CLI exits at once. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** A FIFO counting semaphore. */
class Semaphore {
  private waiting: (() => void)[] = [];
  private free: number;
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`ApiClient: ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function checkNum(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new Error(`ApiClient: ${name} must be a number >= ${min}, got ${String(v)}`);
  return v;
}

function parseBaseUrls(given: unknown): { base: URL; display: string }[] {
  if (!Array.isArray(given)) throw new Error('ApiClient: baseUrls must be an array of URLs such as http://127.0.0.1:8000/v1');
  const list = given.flatMap((s) => {
    if (typeof s !== 'string') throw new Error(`ApiClient: baseUrls must be strings, got ${typeof s}`);
    return s.split(',').map((x) => x.trim()).filter(Boolean);
  });
  if (list.length === 0) throw new Error('ApiClient: give at least one base URL (e.g. http://127.0.0.1:8000/v1)');
  const seen = new Set<string>();
  return list.map((s, i) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new Error(`ApiClient: base URL #${i + 1} is not a URL (expected e.g. http://127.0.0.1:8000/v1)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`ApiClient: base URL #${i + 1} must be http:// or https://, got ${u.protocol}`);
    if (u.username || u.password) throw new Error(`ApiClient: base URL #${i + 1} has credentials in it; pass the key as apiKey or $IPO_API_KEY instead`);
    u.pathname = u.pathname.replace(/\/+$/, '');
    const display = `${u.origin}${u.pathname}`;
    if (seen.has(display + u.search)) throw new Error(`ApiClient: base URL ${display} is given twice`);
    seen.add(display + u.search);
    return { base: u, display };
  });
}

export class ApiClient {
  private readonly pool: EndpointPool;
  private readonly agent: Agent;
  private readonly sem: Semaphore;
  private readonly meter: UsageMeter;
  private readonly cache: ResponseCache | null;
  private readonly inflight = new Map<string, Promise<ApiResult<unknown>>>();
  private readonly closing = new AbortController();
  private readonly secrets: string[];
  private readonly baseHeaders: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly namespace: string;
  private readonly rng: Rng;
  private readonly clock: Clock;
  private readonly logFn: ((line: string) => void) | null;

  constructor(opts: ApiClientOptions) {
    if (!opts || typeof opts !== 'object') throw new Error('ApiClient: options are required ({baseUrls: [...]})');
    const urls = parseBaseUrls(opts.baseUrls);
    const concurrency = checkInt('concurrency', opts.concurrency ?? 8, 1);
    this.timeoutMs = checkNum('timeoutMs', opts.timeoutMs ?? 60_000, 1);
    this.maxRetries = checkInt('maxRetries', opts.maxRetries ?? 6, 0);
    this.baseMs = checkNum('backoff.baseMs', opts.backoff?.baseMs ?? 500, 0);
    this.maxMs = checkNum('backoff.maxMs', opts.backoff?.maxMs ?? 30_000, 0);
    this.maxRetryAfterMs = checkNum('backoff.maxRetryAfterMs', opts.backoff?.maxRetryAfterMs ?? 120_000, 0);
    if (opts.prices !== undefined) checkPriceTable('ApiClient: prices', opts.prices);
    if (opts.cacheDir !== undefined && opts.cacheDir !== false && (typeof opts.cacheDir !== 'string' || !opts.cacheDir)) throw new Error('ApiClient: cacheDir must be a folder path or false');
    this.namespace = opts.cacheNamespace ?? '';
    this.rng = opts.rng ?? Math.random;
    this.clock = opts.clock ?? realClock;
    this.logFn = opts.log ?? null;

    const key = opts.apiKey ?? process.env.IPO_API_KEY ?? process.env.OPENAI_API_KEY ?? '';
    this.baseHeaders = { 'content-type': 'application/json', accept: 'application/json' };
    if (key) this.baseHeaders.authorization = `Bearer ${key}`;
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (typeof v !== 'string') throw new Error(`ApiClient: header ${k} must be a string`);
      this.baseHeaders[k.toLowerCase()] = v;
    }
    // everything that could be a credential, scrubbed from every message the client produces
    this.secrets = [key, ...Object.entries(this.baseHeaders).filter(([k]) => /auth|key|token|secret|cookie/i.test(k)).map(([, v]) => v)]
      .flatMap((s) => [s, s.replace(/^(Bearer|Basic|Token)\s+/i, '')])
      .filter((s) => s.length >= 6);

    const dir = opts.cacheDir === false ? null : opts.cacheDir ?? (cacheEnabled() ? join(kitCacheDir(), 'api') : null);
    this.cache = dir ? new ResponseCache(dir) : null;
    this.meter = new UsageMeter(opts.prices ?? null);
    this.sem = new Semaphore(concurrency);
    this.pool = new EndpointPool(urls, opts.health ?? {}, this.clock, (l) => this.log(l));
    this.agent = new Agent({ connections: null, keepAliveTimeout: 10_000, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
  }

  /** The folder responses are cached in, or null when caching is off. */
  get cacheDir(): string | null {
    return this.cache?.dir ?? null;
  }

  /** POST JSON to `path` under the base URL ('/completions'), or under the server root with {root: true} ('/tokenize'). */
  async post<T = unknown>(path: string, body: Record<string, unknown>, opts: { root?: boolean; cache?: boolean } = {}): Promise<ApiResult<T>> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`ApiClient.post ${path}: body must be a JSON object`);
    if (body.stream === true) throw new Error(`ApiClient.post ${path}: streaming responses are not supported (send stream: false)`);
    let text: string;
    try {
      text = JSON.stringify(body);
    } catch (e) {
      throw new Error(`ApiClient.post ${path}: body is not JSON-serializable (${(e as Error).message})`);
    }
    return this.call<T>('POST', path, text, body, opts.root ?? false, opts.cache ?? true);
  }

  /** GET `path` under the base URL ('/models'), or under the server root with {root: true} ('/health'). Never cached. */
  async get<T = unknown>(path: string, opts: { root?: boolean } = {}): Promise<ApiResult<T>> {
    return this.call<T>('GET', path, undefined, undefined, opts.root ?? false, false);
  }

  usage(): ApiUsage {
    return this.meter.snapshot(this.pool.stats());
  }

  /** One line for the end of a run. */
  formatUsage(): string {
    return formatUsage(this.usage());
  }

  /** Ends calls still in flight or waiting (they return ok: false, 'the client is closed') and releases the connections. */
  async close(): Promise<void> {
    if (!this.closing.signal.aborted) this.closing.abort();
    await this.agent.close().catch(() => undefined);
  }

  private scrub(s: string): string {
    let out = s;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }

  private log(line: string): void {
    if (this.logFn) this.logFn(this.scrub(line));
  }

  private checkPath(path: string): string {
    if (typeof path !== 'string' || !path || /^[a-z]+:\/\//i.test(path)) throw new Error(`ApiClient: path must be a path such as '/completions', got ${JSON.stringify(path)}`);
    return path.startsWith('/') ? path : `/${path}`;
  }

  private urlOf(ep: Endpoint, path: string, root: boolean): string {
    return `${ep.base.origin}${root ? '' : ep.base.pathname}${path}${ep.base.search}`;
  }

  private async call<T>(method: 'GET' | 'POST', rawPath: string, text: string | undefined, body: unknown, root: boolean, useCache: boolean): Promise<ApiResult<T>> {
    const path = this.checkPath(rawPath);
    const cache = useCache ? this.cache : null;
    const key = cache ? cache.key({ namespace: this.namespace, method, root, path, body }) : null;
    if (cache && key) {
      const hit = cache.get(key);
      if (hit) {
        this.meter.cached++;
        return { ok: true, json: hit.json as T, cached: true, endpoint: null };
      }
      const shared = this.inflight.get(key);
      if (shared) {
        const r = await shared;
        if (r.ok) {
          this.meter.cached++;
          return { ok: true, json: r.json as T, cached: true, endpoint: null };
        }
        this.meter.failures++;
        return r as ApiResult<T>;
      }
    }
    const p = this.send(method, path, text, body, root, key);
    if (key) this.inflight.set(key, p);
    try {
      return (await p) as ApiResult<T>;
    } finally {
      if (key) this.inflight.delete(key);
    }
  }

  private fail(error: string, status: number | null, attempts: number): Failure {
    this.meter.failures++;
    return { ok: false, error: this.scrub(error), status, attempts };
  }

  /** The retry loop of one call. */
  private async send(method: 'GET' | 'POST', path: string, text: string | undefined, body: unknown, root: boolean, key: string | null): Promise<ApiResult<unknown>> {
    const what = `${method} ${path}${root ? ' (server root)' : ''}`;
    let attempts = 0;
    let last: Endpoint | null = null;
    let lastStatus: number | null = null;
    for (;;) {
      if (this.closing.signal.aborted) return this.fail(`${what}: the client is closed`, lastStatus, attempts);
      const release = await this.sem.acquire();
      let ep: Endpoint | null = null;
      let out: AttemptOutcome;
      try {
        ep = await this.pool.acquire(last, this.closing.signal);
        if (!ep) return this.fail(`${what}: the client is closed`, lastStatus, attempts);
        attempts++;
        this.meter.requests++;
        if (attempts > 1) this.meter.retries++;
        out = await attempt({
          dispatcher: this.agent, url: this.urlOf(ep, path, root), method, headers: this.baseHeaders, body: text,
          timeoutMs: this.timeoutMs, closing: this.closing.signal, now: () => this.clock.now(),
        });
        const { signal, pause } = this.account(out);
        this.pool.release(ep, signal, out.kind === 'ok', pause);
      } finally {
        release();
      }
      if (out.kind === 'ok') {
        this.meter.succeeded++;
        if (method === 'POST') this.meter.tokens((body as { model?: unknown })?.model, out.json);
        if (key && this.cache) this.store(key, path, out.json);
        return { ok: true, json: out.json, cached: false, endpoint: ep.display };
      }
      lastStatus = 'status' in out ? out.status : null;
      const msg = `${what} on ${ep.display}: ${out.message}`;
      if (out.kind === 'closed') return this.fail(`${what}: the client is closed`, lastStatus, attempts);
      if (out.kind === 'http' && !out.retryable) return this.fail(msg, out.status, attempts);
      if (attempts > this.maxRetries) return this.fail(`${msg} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'})`, lastStatus, attempts);
      const retryAfter = out.kind === 'http' ? out.retryAfterMs : null;
      const delay = retryAfter !== null ? Math.min(retryAfter, this.maxRetryAfterMs) : fullJitterDelay(attempts - 1, this.baseMs, this.maxMs, this.rng);
      this.log(`api: retry ${attempts}/${this.maxRetries} in ${(delay / 1000).toFixed(2)}s${retryAfter !== null ? ' (Retry-After)' : ''} after ${msg}`);
      last = ep;
      if (delay > 0) await this.sleep(delay);
    }
  }

  /** Counters for one attempt's outcome, and what it says about the endpoint's health. */
  private account(out: AttemptOutcome): { signal: HealthSignal; pause: number | null } {
    if ('status' in out) this.meter.status(out.status);
    switch (out.kind) {
      case 'ok':
        return { signal: 'ok', pause: null };
      case 'bad-json':
        this.meter.errors.badJson++;
        return { signal: 'fail', pause: null };
      case 'timeout':
        this.meter.errors.timeout++;
        return { signal: 'fail', pause: null };
      case 'network':
        this.meter.errors.network++;
        return { signal: 'fail', pause: null };
      case 'closed':
        return { signal: 'neutral', pause: null };
      case 'http': {
        const pause = out.retryAfterMs === null ? null : Math.min(out.retryAfterMs, this.maxRetryAfterMs);
        if (out.status >= 500) return { signal: 'fail', pause };
        if (out.retryable) return { signal: 'neutral', pause };
        return { signal: 'ok', pause };
      }
    }
  }

  private store(key: string, path: string, json: unknown): void {
    if (!this.cache) return;
    try {
      const text = JSON.stringify(json);
      if (this.secrets.some((s) => text.includes(s))) {
        this.log(`api: a response to ${path} contains the API key or a credential header; not cached`);
        return;
      }
      this.cache.set(key, { path, json });
    } catch (e) {
      this.log(`api: could not cache a response to ${path}: ${(e as Error).message}`);
    }
  }

  /** A backoff wait that ends early when the client closes (also with a test clock that ignores the signal). */
  private sleep(ms: number): Promise<void> {
    const signal = this.closing.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.clock.sleep(ms, signal).then(done, done);
    });
  }
}
