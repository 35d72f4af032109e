/**
 * Request-field readers for `ipo serve`: each returns the typed value or throws a 400 `ApiError` naming the field
 * (OpenAI's `param`). `null` counts as absent, as in the OpenAI API (clients send `"logprobs": null`).
 */
import { badRequest } from './errors';

export type Body = Record<string, unknown>;

/** The request body as a plain object (a JSON array, string or null is a 400). */
export function asBody(body: unknown): Body {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
  return body as Body;
}

const present = (b: Body, name: string) => b[name] !== undefined && b[name] !== null;

export function optInt(b: Body, name: string, o: { min?: number; max?: number } = {}): number | undefined {
  if (!present(b, name)) return undefined;
  const v = b[name];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badRequest(`'${name}' must be an integer, got ${JSON.stringify(v)}`, name);
  if (o.min !== undefined && v < o.min) throw badRequest(`'${name}' must be >= ${o.min}, got ${v}`, name);
  if (o.max !== undefined && v > o.max) throw badRequest(`'${name}' must be <= ${o.max}, got ${v}`, name);
  return v;
}

export function optNumber(b: Body, name: string, o: { min?: number; max?: number; minExclusive?: boolean } = {}): number | undefined {
  if (!present(b, name)) return undefined;
  const v = b[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`'${name}' must be a number, got ${JSON.stringify(v)}`, name);
  if (o.min !== undefined && (o.minExclusive ? v <= o.min : v < o.min)) throw badRequest(`'${name}' must be ${o.minExclusive ? '>' : '>='} ${o.min}, got ${v}`, name);
  if (o.max !== undefined && v > o.max) throw badRequest(`'${name}' must be <= ${o.max}, got ${v}`, name);
  return v;
}

export function optBool(b: Body, name: string): boolean | undefined {
  if (!present(b, name)) return undefined;
  const v = b[name];
  if (typeof v !== 'boolean') throw badRequest(`'${name}' must be a boolean, got ${JSON.stringify(v)}`, name);
  return v;
}

export function optString(b: Body, name: string): string | undefined {
  if (!present(b, name)) return undefined;
  const v = b[name];
  if (typeof v !== 'string') throw badRequest(`'${name}' must be a string, got ${JSON.stringify(v)}`, name);
  return v;
}

/** `stop`: a string or up to 4 strings (OpenAI's limit), none empty. */
export function readStop(b: Body): string[] {
  if (!present(b, 'stop')) return [];
  const v = b.stop;
  const list = typeof v === 'string' ? [v] : Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : null;
  if (!list) throw badRequest(`'stop' must be a string or an array of strings, got ${JSON.stringify(v)}`, 'stop');
  if (list.length > 4) throw badRequest(`'stop' takes at most 4 sequences, got ${list.length}`, 'stop');
  if (list.some((s) => s.length === 0)) throw badRequest("'stop' sequences must not be empty", 'stop');
  return list;
}

/** Token ids: integers in `[0, vocabSize)`. */
export function checkIds(v: unknown, name: string, vocabSize: number): number[] {
  if (!Array.isArray(v)) throw badRequest(`'${name}' must be an array of token ids`, name);
  for (const id of v) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw badRequest(`'${name}': token id ${JSON.stringify(id)} outside the vocabulary [0, ${vocabSize})`, name);
    }
  }
  return v as number[];
}

/** vLLM's `stop_token_ids`: extra ids that end generation (kept in the output, like EOS). */
export function readStopTokenIds(b: Body, vocabSize: number): number[] {
  return present(b, 'stop_token_ids') ? checkIds(b.stop_token_ids, 'stop_token_ids', vocabSize) : [];
}

/**
 * Fields of the OpenAI / vLLM APIs this server does not implement. Sent with a value that would change the result,
 * they are a 400 rather than silently ignored (a client asking for a frequency penalty must not get plain sampling).
 * Unknown fields that do not change the output (`user`, `metadata`, ...) are accepted and ignored.
 */
const UNSUPPORTED: [string, (v: unknown) => boolean, string][] = [
  ['stream', (v) => v === true, 'streaming is not supported: send stream false'],
  ['frequency_penalty', (v) => v !== 0, 'frequency_penalty is not supported (only 0)'],
  ['presence_penalty', (v) => v !== 0, 'presence_penalty is not supported (only 0)'],
  ['repetition_penalty', (v) => v !== 1, 'repetition_penalty is not supported (only 1)'],
  ['logit_bias', (v) => !(typeof v === 'object' && v !== null && Object.keys(v).length === 0), 'logit_bias is not supported'],
  ['suffix', (v) => v !== '', 'suffix (insertion) is not supported'],
  ['top_k', (v) => v !== -1 && v !== 0, 'top_k is not supported (only -1 or 0: no top-k filter); use top_p'],
  ['min_p', (v) => v !== 0, 'min_p is not supported (only 0)'],
  ['min_tokens', (v) => v !== 0, 'min_tokens is not supported (only 0)'],
  ['prompt_logprobs', () => true, 'prompt_logprobs is not supported: use echo true with logprobs (and max_tokens 0 for the prompt only)'],
  ['tools', (v) => !(Array.isArray(v) && v.length === 0), 'tools are not supported'],
  ['tool_choice', (v) => v !== 'none', 'tool_choice is not supported'],
  ['functions', () => true, 'functions are not supported'],
  ['response_format', (v) => !(typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'text'), 'response_format is not supported (only {type: "text"})'],
  ['guided_json', () => true, 'guided decoding is not supported'],
  ['guided_regex', () => true, 'guided decoding is not supported'],
  ['guided_choice', () => true, 'guided decoding is not supported'],
];

export function rejectUnsupported(b: Body): void {
  for (const [name, bad, message] of UNSUPPORTED) if (present(b, name) && bad(b[name])) throw badRequest(message, name);
}
