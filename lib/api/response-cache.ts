/**
 * The API client's response cache: one JSON file per successful response, named by the content hash of the request
 * (method, URL kind, path, body — never the endpoint it went to, never a header or the API key), so a rerun or a
 * resumed run pays nothing for what was already answered, whichever replica answered it.
 *
 * One file per response rather than an appended JSONL (lib/util/cache.ts): many requests finish concurrently and a
 * run may be killed at any moment, so each file is written to a temporary name and renamed into place (rename is
 * atomic on POSIX file systems). A file therefore either holds a whole response or does not exist; leftover
 * `*.tmp` files from a killed run are ignored, and a file that does not parse is treated as a miss and rewritten.
 * Layout: `<dir>/<hash[0:2]>/<hash>.json` holding `{"path", "json"}`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash } from '../util/cache';

export interface CachedResponse {
  path: string;
  json: unknown;
}

export class ResponseCache {
  constructor(readonly dir: string) {}

  /** Cache key of one request. `namespace` separates caches that share a folder (e.g. two servers, one model name). */
  key(parts: { namespace: string; method: string; root: boolean; path: string; body: unknown }): string {
    return contentHash('ipo-api-response/v1', parts.namespace, parts.method, parts.root ? 'root' : 'base', parts.path, parts.body ?? null);
  }

  fileOf(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** The cached response, or undefined (absent, or torn/corrupt: then it is re-fetched and rewritten). */
  get(key: string): CachedResponse | undefined {
    let text: string;
    try {
      text = readFileSync(this.fileOf(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const v = JSON.parse(text) as CachedResponse;
      return v && typeof v === 'object' && 'json' in v ? v : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes atomically (temporary file + rename). */
  set(key: string, value: CachedResponse): void {
    const file = this.fileOf(key);
    mkdirSync(join(this.dir, key.slice(0, 2)), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(value));
      renameSync(tmp, file);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }
}
