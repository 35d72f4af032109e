/**
 * RM-Bench (THU-KEG/RM-Bench, ICLR 2025) loader. Each item is one prompt with 3 chosen and 3 rejected responses in
 * the styles [concise, detailed plain, detailed markdown] (shared doc §8).
 *
 * Where the data comes from:
 * - chat, code, safety-refuse, safety-response: the shared assets `rm-bench/<domain>_filtered.json`
 *   (THU-KEG/RM-Bench@73c52d7b `data/*.json`; 129 / 228 / 284 / 157 rows). These files have no `domain` key: the
 *   domain is taken from the file name.
 * - math (529 rows) is not in the shared assets. It is looked for, in order, as `rm-bench/math_filtered.json` or
 *   `rm-bench/total_dataset.json` under an asset root, then as `total_dataset.json` of the Hugging Face dataset
 *   `THU-KEG/RM-Bench` in the hub cache, then downloaded there when online. The hub dataset holds only
 *   `total_dataset.json` (all 5 domains, with a `domain` key) and README.md
 *   (https://huggingface.co/datasets/THU-KEG/RM-Bench/tree/main); `math_filtered.json` exists only in the GitHub
 *   repo (`data/math_filtered.json`). Math rows are those whose `domain` starts with "math", as the official
 *   `split_dataset_by_domain` selects them. Offline with none of these, loading math throws one line naming them.
 *
 * Malformed rows (no prompt, chosen/rejected not 3 strings, no id) are counted and dropped, never fatal.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRng } from '../util/rng';
import { hubOffline, hubRequestOptions } from '../util/hub';
import { assetRoots, displayPath, findAsset, hubCacheDir } from '../util/paths';
import { readUtf8Strict } from '../util/jsonl';

/** The five RM-Bench data files (subdomains); `safety-*` pool into the "safety" domain for scoring. */
export const RMBENCH_FILE_DOMAINS = ['chat', 'code', 'math', 'safety-refuse', 'safety-response'] as const;
export type RmBenchFileDomain = (typeof RMBENCH_FILE_DOMAINS)[number];

/** The four domains of the official score. */
export const RMBENCH_DOMAINS = ['chat', 'code', 'math', 'safety'] as const;
export type RmBenchDomain = (typeof RMBENCH_DOMAINS)[number];

/** Domains available from the shared assets without the hub. */
export const RMBENCH_LOCAL_DOMAINS: readonly RmBenchFileDomain[] = ['chat', 'code', 'safety-refuse', 'safety-response'];

/** Rows per file in THU-KEG/RM-Bench@73c52d7b (1,327 in all). */
export const RMBENCH_EXPECTED_ROWS: Readonly<Record<RmBenchFileDomain, number>> = Object.freeze({
  'chat': 129,
  'code': 228,
  'math': 529,
  'safety-refuse': 284,
  'safety-response': 157,
});

export const RMBENCH_HUB = { repo: 'THU-KEG/RM-Bench', type: 'dataset', file: 'total_dataset.json' } as const;

/** The asset path of a domain's file. */
export function rmBenchAssetPath(domain: RmBenchFileDomain): string {
  return `rm-bench/${domain}_filtered.json`;
}

/** The official domain of a file domain: `domain.startsWith(d)` for d in chat, math, code, safety. */
export function rmBenchPooledDomain(domain: string): RmBenchDomain | undefined {
  return RMBENCH_DOMAINS.find((d) => domain.startsWith(d));
}

export type Triple = [string, string, string];

export interface RmBenchItem {
  id: number | string;
  domain: RmBenchFileDomain;
  /** the source subset (alpacaeval, bigcode/humanevalpack, refusals-dangerous, xstest-should-respond, ...) */
  subset: string;
  prompt: string;
  /** [concise, detailed plain, detailed markdown] */
  chosen: Triple;
  rejected: Triple;
  /** other fields of the row (chat: error_key, error; code: language, task_id) */
  meta: Record<string, unknown>;
}

export interface DroppedRow {
  domain: RmBenchFileDomain;
  index: number;
  reason: string;
}

export interface ParseResult {
  items: RmBenchItem[];
  dropped: DroppedRow[];
}

function isTriple(v: unknown): v is Triple {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'string');
}

/** Check one raw row; returns the item or the reason it is malformed. */
export function parseRmBenchRow(row: unknown, domain: RmBenchFileDomain): RmBenchItem | string {
  if (!row || typeof row !== 'object' || Array.isArray(row)) return 'not an object';
  const r = row as Record<string, unknown>;
  if (!(typeof r.id === 'number' || (typeof r.id === 'string' && r.id !== ''))) return 'missing id';
  if (typeof r.prompt !== 'string' || !r.prompt.trim()) return 'missing prompt';
  if (!isTriple(r.chosen)) return 'chosen is not 3 strings';
  if (!isTriple(r.rejected)) return 'rejected is not 3 strings';
  const { id, subset, prompt, chosen, rejected, domain: _d, ...meta } = r;
  return {
    id: id as number | string,
    domain,
    subset: typeof subset === 'string' && subset ? subset : domain,
    prompt: prompt as string,
    chosen: [...(chosen as Triple)] as Triple,
    rejected: [...(rejected as Triple)] as Triple,
    meta,
  };
}

/** Parse the rows of one domain, counting and dropping malformed ones. */
export function parseRmBenchRows(raw: unknown, domain: RmBenchFileDomain): ParseResult {
  if (!Array.isArray(raw)) throw new Error(`RM-Bench ${domain}: expected a JSON array of rows`);
  const items: RmBenchItem[] = [];
  const dropped: DroppedRow[] = [];
  raw.forEach((row, index) => {
    const parsed = parseRmBenchRow(row, domain);
    if (typeof parsed === 'string') dropped.push({ domain, index, reason: parsed });
    else items.push(parsed);
  });
  return { items, dropped };
}

/** Rows of `total_dataset.json` whose `domain` is `domain` (math: `startsWith('math')`, as the official split does). */
export function selectTotalDatasetRows(raw: unknown, domain: RmBenchFileDomain): unknown[] {
  if (!Array.isArray(raw)) throw new Error('RM-Bench total_dataset.json: expected a JSON array of rows');
  return raw.filter((r) => {
    const d = r && typeof r === 'object' ? (r as Record<string, unknown>).domain : undefined;
    return typeof d === 'string' && (domain === 'math' ? d.startsWith('math') : d === domain);
  });
}

function readJson(path: string): unknown {
  const text = readUtf8Strict(path, 'RM-Bench file'); // BOM dropped; bytes that are not UTF-8 are one error, not U+FFFD
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`cannot read ${displayPath(path)}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function tryFindAsset(rel: string): string | null {
  try {
    return findAsset(rel);
  } catch {
    return null;
  }
}

/** `total_dataset.json` of THU-KEG/RM-Bench in the hub cache (the `refs/<revision>` snapshot first), if any. */
export function cachedTotalDataset(revision = 'main'): string | null {
  const repoDir = join(hubCacheDir(), `datasets--${RMBENCH_HUB.repo.replace('/', '--')}`);
  const snapDir = join(repoDir, 'snapshots');
  if (!existsSync(snapDir)) return null;
  const ref = join(repoDir, 'refs', revision);
  if (existsSync(ref)) {
    const p = join(snapDir, readFileSync(ref, 'utf8').trim(), RMBENCH_HUB.file);
    if (existsSync(p)) return p;
  }
  for (const s of readdirSync(snapDir)) {
    const p = join(snapDir, s, RMBENCH_HUB.file);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Where a domain's rows come from without the network: a local file path, and whether it is `total_dataset.json`. */
export function localRmBenchSource(domain: RmBenchFileDomain, revision = 'main'): { path: string; total: boolean } | null {
  const own = tryFindAsset(rmBenchAssetPath(domain));
  if (own) return { path: own, total: false };
  const total = tryFindAsset('rm-bench/total_dataset.json') ?? cachedTotalDataset(revision);
  return total ? { path: total, total: true } : null;
}

function missingMessage(domain: RmBenchFileDomain, why: string): string {
  const roots = assetRoots().map((r) => r.path).join(', ');
  return (
    `RM-Bench ${domain} not available ${why}: no rm-bench/${domain}_filtered.json or rm-bench/total_dataset.json under ${roots}, ` +
    `and no ${RMBENCH_HUB.repo} ${RMBENCH_HUB.file} in the hub cache ${hubCacheDir()}`
  );
}

/** Download `total_dataset.json` of THU-KEG/RM-Bench into the hub cache (one-line error on failure). */
export async function downloadTotalDataset(revision = 'main'): Promise<string> {
  const { downloadFileToCacheDir } = await import('@huggingface/hub');
  const request = hubRequestOptions(); // HF_ENDPOINT, HF_TOKEN, and a stall timeout (IPO_HUB_TIMEOUT)
  try {
    return await downloadFileToCacheDir({
      repo: { type: 'dataset', name: RMBENCH_HUB.repo },
      path: RMBENCH_HUB.file,
      revision,
      cacheDir: hubCacheDir(),
      ...request,
    });
  } catch (e) {
    throw new Error(`hub download of dataset ${RMBENCH_HUB.repo}/${RMBENCH_HUB.file} failed: ${(e as Error).message.split('\n')[0]}`);
  }
}

export interface LoadRmBenchOptions {
  /** file domains to load; default the four local ones (chat, code, safety-refuse, safety-response) */
  domains?: readonly RmBenchFileDomain[];
  /** keep at most this many items per domain, stratified by subset (and code language), seeded */
  limitPerDomain?: number;
  /** seed of the subsampling (default 42); each domain uses `${seed}:${domain}` */
  seed?: number | string;
  /** hub revision of THU-KEG/RM-Bench for total_dataset.json (default main) */
  revision?: string;
}

export interface RmBenchLoad {
  items: RmBenchItem[];
  /** per domain: rows read, rows kept after validation, rows after the limit, rows dropped, file used */
  domains: Partial<Record<RmBenchFileDomain, { read: number; valid: number; kept: number; dropped: number; source: string }>>;
  dropped: DroppedRow[];
}

/** Stratum of an item for subsampling: its subset, plus the language for code. */
function stratumOf(item: RmBenchItem): string {
  return typeof item.meta.language === 'string' ? `${item.subset}/${item.meta.language}` : item.subset;
}

/**
 * A seeded, stratified subsample of at most `limit` items: quotas proportional to stratum sizes (largest remainder,
 * ties by stratum name), a seeded shuffle inside each stratum, and the kept items in their original order.
 */
export function stratifiedSample<T>(items: readonly T[], limit: number, seed: number | string, stratum: (x: T) => string): T[] {
  if (!(Number.isInteger(limit) && limit >= 0)) throw new Error(`limit must be a non-negative integer, got ${limit}`);
  if (limit >= items.length) return [...items];
  const groups = new Map<string, number[]>();
  items.forEach((x, i) => {
    const k = stratum(x);
    const g = groups.get(k);
    if (g) g.push(i);
    else groups.set(k, [i]);
  });
  const names = [...groups.keys()].sort();
  const exact = names.map((k) => ((groups.get(k) as number[]).length * limit) / items.length);
  const quota = exact.map(Math.floor);
  let left = limit - quota.reduce((a, b) => a + b, 0);
  const order = names.map((_, i) => i).sort((a, b) => exact[b] - quota[b] - (exact[a] - quota[a]) || (names[a] < names[b] ? -1 : 1));
  for (const i of order) {
    if (left <= 0) break;
    quota[i] += 1;
    left -= 1;
  }
  const rng = makeRng(seed);
  const keep = new Set<number>();
  names.forEach((k, gi) => {
    const idx = [...(groups.get(k) as number[])];
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (const i of idx.slice(0, quota[gi])) keep.add(i);
  });
  return items.filter((_, i) => keep.has(i));
}

function finish(
  domain: RmBenchFileDomain,
  raw: unknown,
  total: boolean,
  source: string,
  opts: LoadRmBenchOptions,
  out: RmBenchLoad,
): void {
  const rows = total ? selectTotalDatasetRows(raw, domain) : raw;
  const { items, dropped } = parseRmBenchRows(rows, domain);
  const kept = opts.limitPerDomain === undefined ? items : stratifiedSample(items, opts.limitPerDomain, `${opts.seed ?? 42}:${domain}`, stratumOf);
  out.items.push(...kept);
  out.dropped.push(...dropped);
  out.domains[domain] = { read: (rows as unknown[]).length, valid: items.length, kept: kept.length, dropped: dropped.length, source };
}

function checkDomains(domains: readonly string[]): void {
  for (const d of domains) {
    if (!(RMBENCH_FILE_DOMAINS as readonly string[]).includes(d)) throw new Error(`unknown RM-Bench domain '${d}' (one of ${RMBENCH_FILE_DOMAINS.join(', ')})`);
  }
}

/**
 * Load RM-Bench from local files only (shared assets, or total_dataset.json already in the hub cache). Throws one
 * line for a domain that is not there (by default only the four local domains are asked for).
 */
export function loadRmBenchLocal(opts: LoadRmBenchOptions = {}): RmBenchLoad {
  const domains = opts.domains ?? RMBENCH_LOCAL_DOMAINS;
  checkDomains(domains);
  const out: RmBenchLoad = { items: [], domains: {}, dropped: [] };
  const cache = new Map<string, unknown>();
  for (const domain of domains) {
    const src = localRmBenchSource(domain, opts.revision);
    if (!src) throw new Error(missingMessage(domain, 'locally'));
    if (!cache.has(src.path)) cache.set(src.path, readJson(src.path));
    finish(domain, cache.get(src.path), src.total, src.path, opts, out);
  }
  return out;
}

/**
 * Load RM-Bench: local files first; for a domain not found locally (math), download `total_dataset.json` of the hub
 * dataset THU-KEG/RM-Bench when online. Offline (IPO_OFFLINE / HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE = 1) it throws
 * one line naming what is missing.
 */
export async function loadRmBench(opts: LoadRmBenchOptions = {}): Promise<RmBenchLoad> {
  const domains = opts.domains ?? RMBENCH_LOCAL_DOMAINS;
  checkDomains(domains);
  const out: RmBenchLoad = { items: [], domains: {}, dropped: [] };
  const cache = new Map<string, unknown>();
  for (const domain of domains) {
    let src = localRmBenchSource(domain, opts.revision);
    if (!src) {
      if (hubOffline()) throw new Error(`${missingMessage(domain, 'offline')}; hub downloads are off (IPO_OFFLINE/HF_HUB_OFFLINE)`);
      src = { path: await downloadTotalDataset(opts.revision), total: true };
    }
    if (!cache.has(src.path)) cache.set(src.path, readJson(src.path));
    finish(domain, cache.get(src.path), src.total, src.path, opts, out);
  }
  return out;
}
