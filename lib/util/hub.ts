/**
 * The Hugging Face hub, as Python `huggingface_hub` lays it out: the cache (`HF_HUB_CACHE`, `models--org--name/
 * snapshots/<commit>/`, `refs/<revision>`), the endpoint (`HF_ENDPOINT`), offline switches, and downloads of a
 * repo's files pinned to one commit. Ground floor: used by model resolution (`lib/models/resolve.ts`) and the
 * dataset loaders (`lib/data/`), so it imports only `./paths`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hubCacheDir } from './paths';
import { stallSecondsFromEnv, stallTimeoutFetch } from './fetch-timeout';

/** `org/name`-shaped references. */
export const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** `org/name` shaped references that are not existing folders are hub ids. */
export function isHubId(ref: string): boolean {
  return HUB_ID.test(ref) && !isDir(resolve(ref));
}
const COMMIT = /^[0-9a-f]{40}$/;

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The snapshot folder of `repoId` in the hub cache (the `refs/<revision>` one when recorded), if any. */
export function cachedSnapshot(repoId: string, revision = 'main'): string | null {
  const repoDir = join(hubCacheDir(), `models--${repoId.replace(/\//g, '--')}`);
  const snapDir = join(repoDir, 'snapshots');
  if (!isDir(snapDir)) return null;
  const refFile = join(repoDir, 'refs', revision);
  if (existsSync(refFile)) {
    const p = join(snapDir, readFileSync(refFile, 'utf8').trim());
    if (existsSync(join(p, 'config.json'))) return p;
  }
  if (COMMIT.test(revision) && existsSync(join(snapDir, revision, 'config.json'))) return join(snapDir, revision);
  for (const s of readdirSync(snapDir)) if (existsSync(join(snapDir, s, 'config.json'))) return join(snapDir, s);
  return null;
}

/** Base URL of the hub: `HF_ENDPOINT` as huggingface_hub reads it (trailing slashes dropped), else https://huggingface.co. */
export function hubEndpoint(): string {
  return (process.env.HF_ENDPOINT ?? '').trim().replace(/\/+$/, '') || 'https://huggingface.co';
}

/** Seconds of silence before a hub request is given up (`IPO_HUB_TIMEOUT`, default 30; lib/util/fetch-timeout.ts). */
export const HUB_TIMEOUT_ENV = 'IPO_HUB_TIMEOUT';

/**
 * What every `@huggingface/hub` call of the kit passes: the endpoint (`HF_ENDPOINT`), `HF_TOKEN` when set, and a
 * `fetch` with a stall timeout, so a hub (or proxy) that accepts the connection and then never answers fails in
 * one line after `IPO_HUB_TIMEOUT` seconds instead of hanging the command.
 */
export function hubRequestOptions(): { hubUrl: string; fetch: typeof fetch; accessToken?: string } {
  const ms = 1000 * stallSecondsFromEnv(HUB_TIMEOUT_ENV, 30);
  return { hubUrl: hubEndpoint(), fetch: stallTimeoutFetch(ms, { envVar: HUB_TIMEOUT_ENV }), ...(process.env.HF_TOKEN ? { accessToken: process.env.HF_TOKEN } : {}) };
}

/** Hub downloads are off when `IPO_OFFLINE`, `HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` is set to 1. */
export function hubOffline(): boolean {
  return ['IPO_OFFLINE', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'].some((k) => process.env[k] === '1');
}

/**
 * Download `files` of `repoId` into the hub cache (skipping files already there) and return the snapshot folder.
 * Optional files (all but `opts.required`, default config.json) that the repo lacks are skipped.
 *
 * A branch or tag is first pinned to its commit (`sha` of the repo info at that revision), and every file is fetched at
 * that commit, so all land in `snapshots/<commit>/` and `refs/<revision>` records the commit, as huggingface_hub lays
 * the cache out. (`downloadFileToCacheDir` given a branch files each one under the commit that last touched it, i.e.
 * paths-info `lastCommit`, which scatters a repo over several snapshot folders, and writes no refs.)
 */
export async function downloadFromHub(repoId: string, files: string[], opts: { revision?: string; required?: string[] } = {}): Promise<string> {
  const { downloadFileToCacheDir, modelInfo } = await import('@huggingface/hub');
  const revision = opts.revision ?? 'main';
  const required = new Set(opts.required ?? ['config.json']);
  const { hubUrl, ...credentials } = hubRequestOptions(); // credentials: token and the stall-timeout fetch
  const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];
  let commit = revision;
  if (!COMMIT.test(revision)) {
    try {
      commit = (await modelInfo({ name: repoId, revision, hubUrl, additionalFields: ['sha'], ...credentials })).sha;
    } catch (e) {
      throw new Error(`hub lookup of ${repoId}@${revision} failed: ${firstLine(e)}`);
    }
    if (typeof commit !== 'string' || !COMMIT.test(commit)) throw new Error(`hub lookup of ${repoId}@${revision} gave no commit id`);
  }
  const repoDir = join(hubCacheDir(), `models--${repoId.replace(/\//g, '--')}`);
  let fetched = 0;
  for (const path of files) {
    try {
      await downloadFileToCacheDir({ repo: { type: 'model', name: repoId }, path, revision: commit, hubUrl, cacheDir: hubCacheDir(), ...credentials });
      fetched++;
    } catch (e) {
      if (required.has(path)) throw new Error(`hub download of ${repoId}/${path} failed: ${firstLine(e)}`);
    }
  }
  if (fetched === 0) throw new Error(`hub download of ${repoId} produced no files`);
  if (revision !== commit) {
    const ref = join(repoDir, 'refs', revision);
    mkdirSync(dirname(ref), { recursive: true });
    writeFileSync(ref, commit);
  }
  return join(repoDir, 'snapshots', commit);
}

