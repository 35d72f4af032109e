/**
 * OpenAI-style errors for `ipo serve`. Every failure a client can cause is an `ApiError` with the HTTP status and
 * the body OpenAI (and vLLM, `vllm/entrypoints/openai/protocol.py` ErrorResponse) send:
 * `{error: {message, type, param, code}}` — 400 `invalid_request_error` for bad requests, 404 for unknown routes or
 * models, 500 `server_error` for anything unexpected. Messages are one line.
 */

export type ApiErrorType = 'invalid_request_error' | 'not_found_error' | 'server_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ApiErrorType = status >= 500 ? 'server_error' : status === 404 ? 'not_found_error' : 'invalid_request_error',
  ) {
    super(oneLine(message));
    this.name = 'ApiError';
  }

  body(): { error: { message: string; type: ApiErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a bad field: `param` names it, as OpenAI does. */
export function badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return new ApiError(400, message, param, code);
}

/** The first line of a message, trimmed (errors must stay one line in logs and client exceptions). */
export function oneLine(s: string): string {
  const line = String(s).split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  return line.length > 500 ? `${line.slice(0, 497)}...` : line;
}

/**
 * Any thrown value → status + OpenAI body. Fastify's own errors (bad JSON, wrong content type, body too large) carry
 * a 4xx `statusCode` and become `invalid_request_error`; everything else is a 500 `server_error`.
 */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const err = e as { statusCode?: unknown; code?: unknown; message?: unknown };
  const status = typeof err?.statusCode === 'number' ? err.statusCode : 500;
  const message = typeof err?.message === 'string' && err.message ? err.message : String(e);
  if (status >= 400 && status < 500) return new ApiError(status, message, null, typeof err.code === 'string' ? err.code : null, status === 404 ? 'not_found_error' : 'invalid_request_error');
  return new ApiError(500, `internal error: ${message}`, null, null, 'server_error');
}
