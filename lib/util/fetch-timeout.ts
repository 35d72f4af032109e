/**
 * A `fetch` that gives up on a connection that stops answering (issue 11: a hub that accepts the connection and then
 * never answers used to hang a command for minutes). It is a STALL timeout, not a total one: the clock restarts at
 * the response headers and at every body chunk, so a multi-gigabyte download on a slow line is fine as long as bytes
 * keep coming, and only `ms` of silence aborts it.
 *
 * `@huggingface/hub` threads a custom `fetch` through every request it makes (repo info, paths-info, resolve, the
 * LFS/CDN redirect), so `downloadFromHub` passes this one.
 */

/** The reason a stalled request was aborted; its message is what the user reads (one line). */
export class StallTimeoutError extends Error {
  constructor(readonly url: string, readonly ms: number, readonly phase: 'headers' | 'body', readonly envVar?: string) {
    super(`no ${phase === 'headers' ? 'answer' : 'data'} from ${new URL(url).host} for ${ms / 1000} s${envVar ? ` (${envVar}=${ms / 1000}; raise it on a slow line)` : ''}`);
    this.name = 'StallTimeoutError';
  }
}

/** Seconds of silence allowed from `env[envVar]` (a positive number), else `fallbackSeconds`; a bad value is one line. */
export function stallSecondsFromEnv(envVar: string, fallbackSeconds: number): number {
  const raw = process.env[envVar];
  if (raw === undefined || raw.trim() === '') return fallbackSeconds;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) throw new Error(`${envVar} must be a number of seconds > 0, got '${raw}'`);
  return s;
}

/** `base` with a stall timeout of `ms` per request (headers, then each gap between body chunks). */
export function stallTimeoutFetch(ms: number, opts: { envVar?: string; base?: typeof fetch } = {}): typeof fetch {
  const base = opts.base ?? fetch;
  return async (input: Parameters<typeof fetch>[0], init: RequestInit = {}): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const ac = new AbortController();
    const outer = init.signal;
    if (outer) {
      if (outer.aborted) ac.abort(outer.reason);
      else outer.addEventListener('abort', () => ac.abort(outer.reason), { once: true });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (phase: 'headers' | 'body') => {
      clearTimeout(timer);
      timer = setTimeout(() => ac.abort(new StallTimeoutError(url, ms, phase, opts.envVar)), ms);
      timer.unref?.(); // a forgotten body must not keep the process alive
    };
    const stallReason = (e: unknown) => (ac.signal.reason instanceof StallTimeoutError ? ac.signal.reason : e);
    arm('headers');
    let res: Response;
    try {
      res = await base(input, { ...init, signal: ac.signal });
    } catch (e) {
      clearTimeout(timer);
      throw stallReason(e);
    }
    if (!res.body || [101, 204, 205, 304].includes(res.status)) { // null-body statuses cannot be re-wrapped
      clearTimeout(timer);
      return res;
    }
    arm('body');
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            clearTimeout(timer);
            controller.close();
            return;
          }
          arm('body');
          controller.enqueue(value);
        } catch (e) {
          clearTimeout(timer);
          controller.error(stallReason(e));
        }
      },
      cancel(reason) {
        clearTimeout(timer);
        return reader.cancel(reason);
      },
    });
    const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    // `new Response` has no url/redirected; clients read them (the hub client resolves relative redirects with url)
    Object.defineProperty(out, 'url', { value: res.url });
    Object.defineProperty(out, 'redirected', { value: res.redirected });
    return out;
  };
}
