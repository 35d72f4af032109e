/**
 * Scale-out over several OpenAI-compatible base URLs (vLLM replicas, several providers of one model): which
 * endpoint the next attempt goes to, and per-endpoint health.
 *
 * - Least in-flight: an attempt goes to the healthy endpoint with the fewest requests in flight (ties: the fewest sent
 *   so far, then the order given), the "least outstanding requests" rule of load balancers, which keeps a slow
 *   replica from piling up work while a fast one idles. A retry avoids the endpoint that just failed when another
 *   one is eligible.
 * - Circuit breaker: `failuresInARow` consecutive failures that say the SERVER is in trouble (connection refused /
 *   reset / dropped, timeout, 5xx, malformed 200 body) mark an endpoint unhealthy for `cooldownMs`; requests go to the
 *   others. After the cooldown one probe request at a time is let through ("half-open"): a success makes it
 *   healthy again, a failure restarts the cooldown. A 4xx answer (the server is up, the request is wrong) counts as
 *   a success for health; 408 / 409 / 429 are neutral (the server is alive but busy or rate limiting).
 * - Retry-After pauses the endpoint that sent it: no new attempt goes there before that time, so a rate-limited
 *   provider is not hammered by the other concurrent requests meanwhile.
 * - When every endpoint is unhealthy the attempt is sent anyway (to the one whose cooldown ends first): a single
 *   replica that restarts must not turn every request into an instant failure. When every endpoint is paused, the
 *   attempt waits for the earliest pause to end.
 */

export interface HealthOptions {
  /** Consecutive server-side failures that mark an endpoint unhealthy [3]. */
  failuresInARow?: number;
  /** How long an unhealthy endpoint gets no traffic before one probe is let through, ms [30_000]. */
  cooldownMs?: number;
}

/** How an attempt on an endpoint ended, as far as that endpoint's health is concerned. */
export type HealthSignal = 'ok' | 'fail' | 'neutral';

export interface EndpointStats {
  /** The base URL as given, without credentials or query string. */
  url: string;
  /** HTTP attempts sent to it. */
  requests: number;
  /** Attempts on it that did not give a usable 2xx JSON response (any status, timeout or network error). */
  failures: number;
  /** False while it is marked unhealthy (it failed `failuresInARow` times in a row and no probe has succeeded since). */
  healthy: boolean;
  inFlight: number;
}

export class Endpoint {
  inFlight = 0;
  requests = 0;
  failures = 0;
  consecutive = 0;
  downUntil = 0;
  pausedUntil = 0;
  probing = false;
  constructor(
    readonly index: number,
    /** Base URL without a trailing slash (what requests are built from). */
    readonly base: URL,
    /** For usage and logs: no userinfo, no query string. */
    readonly display: string,
  ) {}
}

/** Time for backoff waits, pauses and cooldowns; `sleep` must end early (resolve) when `signal` aborts. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export class EndpointPool {
  readonly endpoints: Endpoint[];
  private readonly failuresInARow: number;
  private readonly cooldownMs: number;

  constructor(
    urls: { base: URL; display: string }[],
    health: HealthOptions,
    private readonly clock: Clock,
    private readonly log: (line: string) => void,
  ) {
    this.endpoints = urls.map((u, i) => new Endpoint(i, u.base, u.display));
    this.failuresInARow = health.failuresInARow ?? 3;
    this.cooldownMs = health.cooldownMs ?? 30_000;
    if (!Number.isInteger(this.failuresInARow) || this.failuresInARow < 1) throw new Error(`ApiClient: health.failuresInARow must be a positive integer, got ${String(health.failuresInARow)}`);
    if (!(this.cooldownMs >= 0)) throw new Error(`ApiClient: health.cooldownMs must be >= 0, got ${String(health.cooldownMs)}`);
  }

  private isDown(e: Endpoint): boolean {
    return e.consecutive >= this.failuresInARow;
  }

  /** Eligible for a new attempt now: healthy and not paused, or unhealthy past its cooldown with no probe running. */
  private eligible(e: Endpoint, now: number): boolean {
    if (e.pausedUntil > now) return false;
    if (!this.isDown(e)) return true;
    return e.downUntil <= now && !e.probing;
  }

  private static better(a: Endpoint, b: Endpoint): boolean {
    if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight;
    if (a.requests !== b.requests) return a.requests < b.requests;
    return a.index < b.index;
  }

  /**
   * Reserve an endpoint for one attempt (counts it in flight; call `release` after). `avoid`: the endpoint the
   * previous attempt of this request failed on. `signal` (the client closing) ends a wait for a paused endpoint: null.
   */
  async acquire(avoid: Endpoint | null, signal: AbortSignal): Promise<Endpoint | null> {
    for (;;) {
      if (signal.aborted) return null;
      const now = this.clock.now();
      let pool = this.endpoints.filter((e) => this.eligible(e, now));
      if (pool.length > 1 && avoid) pool = pool.filter((e) => e !== avoid);
      let pick: Endpoint | null = null;
      for (const e of pool) if (!pick || EndpointPool.better(e, pick)) pick = e;
      const healthy = this.endpoints.filter((e) => !this.isDown(e));
      if (!pick && healthy.length === 0) {
        // every endpoint unhealthy: try anyway, the unpaused one whose cooldown ends first
        for (const e of this.endpoints) {
          if (e.pausedUntil > now) continue;
          if (!pick || e.downUntil < pick.downUntil || (e.downUntil === pick.downUntil && EndpointPool.better(e, pick))) pick = e;
        }
      }
      if (pick) {
        if (this.isDown(pick)) pick.probing = true;
        pick.inFlight++;
        pick.requests++;
        return pick;
      }
      // healthy endpoints exist but all are paused (Retry-After), or all are paused: wait for the first to reopen
      // (a probe slot frees on release, not at a time, hence the 1 s cap)
      const opens = this.endpoints.map((e) => (this.isDown(e) ? Math.max(e.downUntil, e.pausedUntil) : e.pausedUntil));
      await this.clock.sleep(Math.min(1000, Math.max(1, Math.min(...opens) - now)), signal);
    }
  }

  /** End of one attempt on `e`: health bookkeeping and the Retry-After pause (ms from now) if the server sent one. */
  release(e: Endpoint, signal: HealthSignal, usable: boolean, pauseMs: number | null): void {
    e.inFlight--;
    e.probing = false;
    if (!usable) e.failures++;
    const now = this.clock.now();
    if (pauseMs !== null && pauseMs > 0) e.pausedUntil = Math.max(e.pausedUntil, now + pauseMs);
    if (signal === 'ok') {
      if (this.isDown(e)) this.log(`api: endpoint ${e.display} is healthy again`);
      e.consecutive = 0;
      e.downUntil = 0;
    } else if (signal === 'fail') {
      e.consecutive++;
      if (this.isDown(e)) {
        if (e.consecutive === this.failuresInARow) {
          this.log(`api: endpoint ${e.display} marked unhealthy after ${e.consecutive} failures in a row; no traffic for ${Math.round(this.cooldownMs / 1000)}s unless every endpoint is down`);
        }
        e.downUntil = now + this.cooldownMs;
      }
    }
  }

  stats(): EndpointStats[] {
    return this.endpoints.map((e) => ({ url: e.display, requests: e.requests, failures: e.failures, healthy: !this.isDown(e), inFlight: e.inFlight }));
  }
}
