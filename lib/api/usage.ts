/**
 * What an API run cost: request, retry, failure and cache counts, tokens and (with a price table) dollars, for the
 * one line printed at the end of a run. Tokens are summed from the OpenAI `usage` object (`prompt_tokens`,
 * `completion_tokens`) of responses received over the network in this run; responses served from the cache cost
 * nothing and are counted under `cached` only.
 */
import type { EndpointStats } from './endpoints';

/** USD per 1M tokens, by the request's `model` (OpenAI and OpenRouter price lists use this unit). */
export type PriceTable = Record<string, { prompt: number; completion: number }>;

/**
 * `raw` as a price table, else a one-line error starting with `where` (e.g. `ApiClient: prices`, or the `--prices`
 * file): an object whose every entry has non-negative numbers `prompt` and `completion`.
 */
export function checkPriceTable(where: string, raw: unknown): PriceTable {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where} must be an object {"<model>": {"prompt": x, "completion": y}} (USD per 1M tokens)`);
  for (const [m, p] of Object.entries(raw as Record<string, unknown>)) {
    const q = p as { prompt?: unknown; completion?: unknown } | null;
    if (!q || typeof q.prompt !== 'number' || typeof q.completion !== 'number' || !(q.prompt >= 0) || !(q.completion >= 0)) {
      throw new Error(`${where}[${JSON.stringify(m)}] needs non-negative numbers "prompt" and "completion" (USD per 1M tokens)`);
    }
  }
  return raw as PriceTable;
}

export interface ApiUsage {
  /** HTTP attempts sent (first tries and retries; cache hits send none). */
  requests: number;
  /** Calls answered from the response cache (or by an identical call already in flight) without sending anything. */
  cached: number;
  /** Attempts that were retries (`requests` = first attempts + `retries`). */
  retries: number;
  /** Calls that succeeded over the network. */
  succeeded: number;
  /** Calls that failed for good (a non-retryable 4xx, or retries exhausted): each returned `ok: false`. */
  failures: number;
  /** HTTP status → attempts that got it (a malformed 200 counts under 200 and under `errors.badJson`). */
  byStatus: Record<string, number>;
  /** Attempts that got no usable HTTP answer, by kind. */
  errors: { timeout: number; network: number; badJson: number };
  promptTokens: number;
  completionTokens: number;
  /** From `prices`; null without a price table. Tokens of models missing from the table are left out (see `unpriced`). */
  costUsd: number | null;
  /** Request `model`s seen that the price table has no entry for. */
  unpriced: string[];
  endpoints: EndpointStats[];
}

export class UsageMeter {
  requests = 0;
  cached = 0;
  retries = 0;
  succeeded = 0;
  failures = 0;
  readonly byStatus: Record<string, number> = {};
  readonly errors = { timeout: 0, network: 0, badJson: 0 };
  promptTokens = 0;
  completionTokens = 0;
  private cost = 0;
  private readonly unpriced = new Set<string>();

  constructor(private readonly prices: PriceTable | null) {}

  status(code: number): void {
    this.byStatus[String(code)] = (this.byStatus[String(code)] ?? 0) + 1;
  }

  /** Tokens and cost of one response received over the network. */
  tokens(model: unknown, json: unknown): void {
    const u = json && typeof json === 'object' ? (json as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } }).usage : undefined;
    const p = typeof u?.prompt_tokens === 'number' && Number.isFinite(u.prompt_tokens) ? u.prompt_tokens : 0;
    const c = typeof u?.completion_tokens === 'number' && Number.isFinite(u.completion_tokens) ? u.completion_tokens : 0;
    this.promptTokens += p;
    this.completionTokens += c;
    if (!this.prices || (p === 0 && c === 0)) return;
    const name = typeof model === 'string' ? model : '(no model)';
    const price = Object.prototype.hasOwnProperty.call(this.prices, name) ? this.prices[name] : undefined;
    if (!price) {
      this.unpriced.add(name);
      return;
    }
    this.cost += (p * price.prompt + c * price.completion) / 1e6;
  }

  snapshot(endpoints: EndpointStats[]): ApiUsage {
    return {
      requests: this.requests, cached: this.cached, retries: this.retries, succeeded: this.succeeded, failures: this.failures,
      byStatus: { ...this.byStatus }, errors: { ...this.errors },
      promptTokens: this.promptTokens, completionTokens: this.completionTokens,
      costUsd: this.prices ? this.cost : null, unpriced: [...this.unpriced].sort(), endpoints,
    };
  }
}

/** One line, e.g. `api: 120 requests (3 retries), 40 cached, 1 failed for good; 12,345 prompt + 678 completion tokens, $0.0123; 2 endpoints (1 unhealthy: http://b:8000/v1)`. */
export function formatUsage(u: ApiUsage): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const parts = [`api: ${n(u.requests)} requests (${n(u.retries)} retries), ${n(u.cached)} cached, ${n(u.failures)} failed for good`];
  let tok = `${n(u.promptTokens)} prompt + ${n(u.completionTokens)} completion tokens`;
  if (u.costUsd !== null) tok += `, $${u.costUsd.toFixed(4)}${u.unpriced.length ? ` (no price for ${u.unpriced.join(', ')})` : ''}`;
  parts.push(tok);
  const errs = Object.entries(u.errors).filter(([, v]) => v > 0).map(([k, v]) => `${v} ${k}`);
  const statuses = Object.entries(u.byStatus).filter(([k]) => k !== '200').map(([k, v]) => `${v}× ${k}`);
  if (errs.length || statuses.length) parts.push(`problems: ${[...statuses, ...errs].join(', ')}`);
  const bad = u.endpoints.filter((e) => !e.healthy).map((e) => e.url);
  parts.push(`${u.endpoints.length} endpoint${u.endpoints.length === 1 ? '' : 's'}${bad.length ? ` (${bad.length} unhealthy: ${bad.join(', ')})` : ''}`);
  return parts.join('; ');
}
