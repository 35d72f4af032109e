/**
 * One HTTP attempt with undici, classified for the retry loop: a usable JSON answer, an HTTP error (retryable or
 * not, with the server's message and Retry-After), a timeout, a network failure (refused, reset, dropped mid-body)
 * or a 2xx whose body is not JSON. Never throws. The timeout covers the whole attempt (headers and body): a server
 * that trickles a response does not hold a slot past `timeoutMs`.
 */
import { request, type Dispatcher } from 'undici';
import { isRetryableStatus, parseRetryAfter } from './backoff';

export type AttemptOutcome =
  | { kind: 'ok'; status: number; json: unknown }
  | { kind: 'http'; status: number; retryable: boolean; message: string; retryAfterMs: number | null }
  | { kind: 'bad-json'; status: number; message: string }
  | { kind: 'timeout'; message: string }
  | { kind: 'network'; message: string }
  | { kind: 'closed'; message: string };

export interface AttemptSpec {
  dispatcher: Dispatcher;
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborted when the client closes: the attempt ends at once as `closed`. */
  closing: AbortSignal;
  now: () => number;
}

/** The message of an error body: OpenAI `{error: {message}}`, vLLM `{message}` / `{detail}`, else the text; one line. */
export function errorMessage(text: string): string {
  let msg: unknown = text;
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const err = j?.error as Record<string, unknown> | string | undefined;
    msg = (typeof err === 'object' && err && typeof err.message === 'string' && err.message) || (typeof err === 'string' && err) || j?.message || j?.detail || text;
    if (typeof msg !== 'string') msg = JSON.stringify(msg);
  } catch {
    /* not JSON: the text itself */
  }
  const line = String(msg).replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line || '(empty body)';
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err?.code && err.code !== 'UND_ERR' ? err.code : err?.cause?.code;
  const msg = err?.message ?? String(e);
  const cause = err?.cause?.message && err.cause.message !== msg ? ` (${err.cause.message})` : '';
  return `${code ? `${code}: ` : ''}${msg}${cause}`.replace(/\s+/g, ' ');
}

export async function attempt(spec: AttemptSpec): Promise<AttemptOutcome> {
  if (spec.closing.aborted) return { kind: 'closed', message: 'the client is closed' };
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, spec.timeoutMs);
  const onClose = () => ctl.abort();
  spec.closing.addEventListener('abort', onClose, { once: true });
  try {
    const res = await request(spec.url, {
      dispatcher: spec.dispatcher, method: spec.method, headers: spec.headers, body: spec.body, signal: ctl.signal,
      headersTimeout: spec.timeoutMs, bodyTimeout: spec.timeoutMs,
    });
    const text = await res.body.text();
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      try {
        return { kind: 'ok', status, json: JSON.parse(text) };
      } catch {
        return { kind: 'bad-json', status, message: `HTTP ${status} with a body that is not JSON (${text.length} chars: ${JSON.stringify(text.slice(0, 60))}${text.length > 60 ? '...' : ''})` };
      }
    }
    return {
      kind: 'http', status, retryable: isRetryableStatus(status), message: `HTTP ${status}: ${errorMessage(text)}`,
      retryAfterMs: parseRetryAfter(res.headers as Record<string, string | string[] | undefined>, spec.now()),
    };
  } catch (e) {
    if (timedOut) return { kind: 'timeout', message: `no complete response within ${spec.timeoutMs} ms` };
    if (spec.closing.aborted) return { kind: 'closed', message: 'the client is closed' };
    const code = (e as { code?: string })?.code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'timeout', message: describe(e) };
    return { kind: 'network', message: describe(e) };
  } finally {
    clearTimeout(timer);
    spec.closing.removeEventListener('abort', onClose);
  }
}
