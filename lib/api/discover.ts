/**
 * Which model a server serves, asked once before a run (`GET /models`, never cached): the api engine
 * (lib/models/api.ts) and the chat judges (chat-judges.ts) both key their response caches by the answer, so another
 * model served under the same name never meets this one's cached responses.
 */
import { ApiClient, type ApiClientOptions } from './client';

export interface ServedModel {
  /** The name to put in `model` of every request. */
  name: string;
  /** What `GET /models` says about it, without `created` (vLLM puts the request time there); null when unknown. */
  card: Record<string, unknown> | null;
}

/**
 * The served model: `apiModel` when given (a warning through `opts.log` when the server does not list it: some
 * proxies list only part of what they serve), else the ONLY id the server lists. A server listing several (hosted
 * APIs list hundreds) needs `apiModel`: picking the first would judge with an arbitrary model. `who` prefixes the
 * one-line errors.
 */
export async function discoverServedModel(opts: ApiClientOptions, apiModel: string | undefined, who: string): Promise<ServedModel> {
  if (apiModel !== undefined && (typeof apiModel !== 'string' || !apiModel)) throw new Error(`${who}: the served model name must be a non-empty string`);
  const probe = new ApiClient({ ...opts, cacheDir: false, maxRetries: opts.maxRetries ?? 2 });
  let name = apiModel;
  let card: Record<string, unknown> | null = null;
  try {
    const m = await probe.get<{ data?: Record<string, unknown>[] }>('/models');
    if (m.ok === false) { // (=== false: tslab's non-strict TypeScript narrows only on the literal)
      if (!name) throw new Error(`${who}: GET /models failed (${m.error.split('\n')[0]}); pass the served model name with --api-model`);
    } else {
      const data = Array.isArray(m.json?.data) ? m.json.data : [];
      if (!name) {
        const ids = data.map((d) => d?.id).filter((id): id is string => typeof id === 'string');
        if (ids.length === 0) throw new Error(`${who}: GET /models lists no model; pass the served model name with --api-model`);
        if (ids.length > 1) throw new Error(`${who}: the server lists ${ids.length} models (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''}); choose one with --api-model`);
        name = ids[0];
      }
      const entry = data.find((d) => d?.id === name);
      if (entry) card = Object.fromEntries(Object.entries(entry).filter(([k]) => k !== 'created'));
      else if (data.length) opts.log?.(`${who}: '${name}' is not among the ${data.length} models GET /models lists; requests may fail with 404`);
    }
  } finally {
    await probe.close();
  }
  return { name: name!, card };
}
