/**
 * When to retry an API request and how long to wait first.
 *
 * - Which failures are worth retrying: 408 Request Timeout, 409 Conflict, 429 Too Many Requests and every 5xx, as
 *   the official `openai` clients do (openai-python `_should_retry`: 408, 409, 429, >= 500), plus timeouts, dropped
 *   connections and a 200 whose body is not JSON (a proxy's HTML page, a response cut short). Any other 4xx is the
 *   caller's mistake and is returned at once.
 * - How long: exponential backoff with FULL jitter (AWS Architecture Blog, "Exponential Backoff And Jitter",
 *   M. Brooker 2015): `sleep = random_between(0, min(cap, base * 2 ** attempt))`. Full jitter spreads retries of
 *   many concurrent clients over the whole window, which the post measures as the least total work and the fewest
 *   collisions of the variants it compares.
 * - A server that says when to come back wins: `retry-after-ms` (OpenAI's header, milliseconds) or `Retry-After`
 *   (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), capped so a broken header cannot park a run for a day.
 */
import type { Rng } from '../util/rng';

/** HTTP statuses that are retried (the rest of 4xx are returned to the caller at once). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || (status >= 500 && status <= 599);
}

/**
 * Full-jitter delay in ms before retry number `retry` (0 = the first retry): uniform in
 * `[0, min(maxMs, baseMs * 2 ** retry))`. `rng` is uniform [0, 1) (Math.random, or a seeded one in tests).
 */
export function fullJitterDelay(retry: number, baseMs: number, maxMs: number, rng: Rng = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(retry, 60));
  return Math.floor(rng() * ceiling);
}

/**
 * The server's requested wait in ms from the response headers, or null when it named none (or an unparsable one):
 * `retry-after-ms` first, then `Retry-After` as delay-seconds (decimals accepted) or an HTTP-date (relative to
 * `nowMs`; a date in the past gives 0). Header names are lower case, as Node and undici deliver them.
 */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>, nowMs: number): number | null {
  const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.trim();
  const ms = first(headers['retry-after-ms']);
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  const ra = first(headers['retry-after']);
  if (!ra) return null;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.round(Number(ra) * 1000);
  // HTTP-date (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", or the obsolete RFC 850 / asctime forms Date.parse reads)
  if (!/[a-z]/i.test(ra)) return null;
  const t = Date.parse(ra);
  if (Number.isNaN(t)) return null;
  return Math.max(0, t - nowMs);
}
