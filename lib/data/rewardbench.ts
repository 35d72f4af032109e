/**
 * RewardBench rows, from the official hub dataset, a local file, or an offline partial rebuild.
 *
 * - `filtered` / `raw`: `allenai/reward-bench` on the hub (dataset card `configs`: split `raw` → `data/raw-*`,
 *   split `filtered` → `data/filtered-*`; today one shard each, `data/<split>-00000-of-00001.parquet`). The
 *   revision is pinned to its commit, the shard list is read from the hub (`listFiles` of `data/`) and the files go
 *   to the hub cache (`datasets--allenai--reward-bench/snapshots/<commit>/data/…`, `refs/<revision>`), honouring
 *   `HF_ENDPOINT` and `HF_TOKEN`; a cached copy is reused without any network call. Revisions before the "rename
 *   splits" commit call `raw` `train`; that name is used only when a revision has no `raw-*` file.
 * - a path to `.parquet`, `.json` (array of rows) or `.jsonl`.
 * - `rebuilt`: `rebuildRewardBench` (`./rewardbench-rebuild`), offline and partial; not comparable to leaderboard
 *   or paper numbers.
 * Malformed rows are counted and dropped, never thrown; `limitPerSubset` takes a seeded, order-preserving slice.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { REWARDBENCH_SUBSETS } from './rewardbench-subsets';
import { AssetNotFoundError, displayPath, hubCacheDir } from '../util/paths';
import { readUtf8File, readUtf8Strict } from '../util/jsonl';
import { hubOffline, hubRequestOptions } from '../util/hub';
import { emptyMalformed, malformedReason, noteMalformed, sliceStratified, toRow, type MalformedReport, type RewardBenchFidelity, type RewardBenchRow } from './rows';
import { REBUILT_FIDELITY, rebuildRewardBench, type HepJoin } from './rewardbench-rebuild';

export type { RewardBenchRow, RewardBenchFidelity, MalformedReport } from './rows';
export { REWARDBENCH_SUBSETS } from './rewardbench-subsets';
export { REBUILT_FIDELITY, REBUILD_MISSING_SUBSETS, rebuildRewardBench, type HepJoin } from './rewardbench-rebuild';

export const REWARDBENCH_HUB_REPO = 'allenai/reward-bench';
export type RewardBenchSplit = 'filtered' | 'raw';

export interface LoadRewardBenchOptions {
  /** `'filtered'` (leaderboard, 2,985 rows), `'raw'` (5,123 rows, what the IPO code used), `'rebuilt'`, or a file path. */
  source: RewardBenchSplit | 'rebuilt' | (string & {});
  /** Keep at most this many rows per subset (seeded, order-preserving). */
  limitPerSubset?: number;
  /** Seed of the per-subset slice; default 42. */
  seed?: number | string;
  /** Keep only these subsets (exact names; names outside the 23 are allowed). */
  subsets?: readonly string[];
  /** Hub revision (branch, tag or commit) for `filtered` / `raw`; default `main`. */
  revision?: string;
  /** `rebuilt` only: how HumanEvalPack code is joined (see `rewardbench-rebuild.ts`). */
  hepJoin?: HepJoin;
}

export interface RewardBenchData {
  rows: RewardBenchRow[];
  /** `'filtered'`, `'raw'`, `'rebuilt'`, or the absolute path of the file read. */
  source: string;
  /** Per present subset. File sources: only subsets recognisable as rebuilt rows (ids `rebuilt:<subset>:…`). */
  fidelity: Record<string, RewardBenchFidelity>;
  /** Requested subsets (default: the 23) with no rows. */
  missingSubsets: string[];
  malformed: MalformedReport;
  description: string;
  /** Files read (parquet shards or the given file); empty for `rebuilt`. */
  files: string[];
}

const SPLIT_NOTE: Record<RewardBenchSplit, string> = {
  filtered: 'the leaderboard split',
  raw: 'the unfiltered split the IPO code used; its scores are not comparable to the leaderboard, which uses filtered',
};

const COMMIT = /^[0-9a-f]{40}$/;

function shardPattern(name: string): RegExp {
  return new RegExp(`^data/${name}-\\d+-of-\\d+\\.parquet$`);
}

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0].trim();
}

/** The hub-cache folder of the RewardBench dataset repo. */
export function rewardBenchCacheDir(): string {
  return join(hubCacheDir(), `datasets--${REWARDBENCH_HUB_REPO.replace('/', '--')}`);
}

/** Shard paths (relative, `data/…`) of `split` in one snapshot folder; `raw` falls back to the old name `train`. */
function shardsIn(snapshot: string, split: RewardBenchSplit): string[] {
  const dir = join(snapshot, 'data');
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir).map((f) => `data/${f}`);
  for (const name of split === 'raw' ? ['raw', 'train'] : [split]) {
    const hits = names.filter((p) => shardPattern(name).test(p)).sort();
    if (hits.length) return hits;
  }
  return [];
}

/**
 * Cached parquet shards of `split`, or null. A commit revision must match its snapshot; a branch or tag is looked up
 * in `refs/` (written by huggingface_hub); with `main` (the default) and no ref, the newest snapshot holding the split is used.
 */
export function findCachedSplit(split: RewardBenchSplit, revision = 'main'): { files: string[]; snapshot: string } | null {
  const snapshots = join(rewardBenchCacheDir(), 'snapshots');
  if (!existsSync(snapshots)) return null;
  const at = (id: string) => {
    const snap = join(snapshots, id);
    const files = shardsIn(snap, split).map((p) => join(snap, p));
    return files.length ? { files, snapshot: id } : null;
  };
  if (COMMIT.test(revision)) return at(revision);
  const ref = join(rewardBenchCacheDir(), 'refs', revision);
  if (existsSync(ref)) return at(readFileSync(ref, 'utf8').trim());
  if (revision !== 'main') return null;
  const found = readdirSync(snapshots)
    .map((id) => ({ id, t: statSync(join(snapshots, id)).mtimeMs }))
    .sort((a, b) => b.t - a.t || a.id.localeCompare(b.id))
    .map(({ id }) => at(id))
    .find((x) => x);
  return found ?? null;
}

/**
 * Download the shards of `split` into the hub cache. As `downloadFromHub` does for models, a branch or tag is first
 * pinned to its commit (`sha` of the dataset info), the shard list is read at that commit (`listFiles` of `data/`),
 * every shard lands in `snapshots/<commit>/data/…` and `refs/<revision>` records the commit.
 */
async function downloadSplit(split: RewardBenchSplit, revision: string): Promise<{ files: string[]; snapshot: string }> {
  const hub = await import('@huggingface/hub');
  const { hubUrl, ...credentials } = hubRequestOptions(); // credentials: HF_TOKEN and the stall-timeout fetch
  let commit = revision;
  if (!COMMIT.test(revision)) {
    try {
      commit = (await hub.datasetInfo({ name: REWARDBENCH_HUB_REPO, revision, hubUrl, additionalFields: ['sha'], ...credentials })).sha;
    } catch (e) {
      throw new Error(`lookup of ${REWARDBENCH_HUB_REPO}@${revision} failed: ${oneLine(e)}`);
    }
    if (typeof commit !== 'string' || !COMMIT.test(commit)) throw new Error(`lookup of ${REWARDBENCH_HUB_REPO}@${revision} gave no commit id`);
  }
  const common = { repo: { type: 'dataset' as const, name: REWARDBENCH_HUB_REPO }, revision: commit, hubUrl, ...credentials };
  const listed: string[] = [];
  try {
    for await (const f of hub.listFiles({ ...common, path: 'data' })) if (f.type === 'file') listed.push(f.path);
  } catch (e) {
    throw new Error(`listing ${REWARDBENCH_HUB_REPO}/data@${commit} failed: ${oneLine(e)}`);
  }
  let paths: string[] = [];
  for (const name of split === 'raw' ? ['raw', 'train'] : [split]) {
    paths = listed.filter((p) => shardPattern(name).test(p)).sort();
    if (paths.length) break;
  }
  if (!paths.length) throw new Error(`no data/${split}-*.parquet at ${commit} (data/ holds: ${listed.join(', ') || 'nothing'})`);
  const files: string[] = [];
  for (const path of paths) {
    try {
      files.push(await hub.downloadFileToCacheDir({ ...common, path, cacheDir: hubCacheDir() }));
    } catch (e) {
      throw new Error(`download of ${path}@${commit} failed: ${oneLine(e)}`);
    }
  }
  if (revision !== commit) {
    const ref = join(rewardBenchCacheDir(), 'refs', revision);
    mkdirSync(dirname(ref), { recursive: true });
    writeFileSync(ref, commit);
  }
  return { files, snapshot: commit };
}

async function readParquet(path: string): Promise<unknown[]> {
  const { parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const buf = readFileSync(path);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file, compressors, rowFormat: 'object' });
}

/**
 * Raw records of a `.parquet`, `.json` (array, or `{rows: [...]}`) or `.jsonl` / `.ndjson` file. Lines of a JSONL
 * file that do not parse are reported in `errors` (index → reason) with `undefined` in their slot.
 */
export async function readRecordsFile(path: string): Promise<{ records: unknown[]; errors: Map<number, string>; where: (index: number) => string }> {
  const ext = extname(path).toLowerCase();
  const errors = new Map<number, string>();
  // where each record came from, as a user finds it in the file: a 1-based JSONL line, array element or parquet row
  const nth = (what: string) => (index: number) => `${what} ${index + 1}`;
  if (ext === '.parquet') return { records: await readParquet(path), errors, where: nth('row') };
  // a BOM is dropped; bytes that are not UTF-8 fail a JSON file in one line and skip (and report) a JSONL line
  const { text, invalidUtf8 } = readUtf8File(path);
  if (ext === '.json') {
    if (invalidUtf8.length) readUtf8Strict(path, 'RewardBench file');
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`${displayPath(path)} is not valid JSON: ${oneLine(e)}`);
    }
    const arr = Array.isArray(data) ? data : (data as { rows?: unknown })?.rows;
    if (!Array.isArray(arr)) throw new Error(`${displayPath(path)}: expected a JSON array of rows (or {"rows": [...]})`);
    return { records: arr, errors, where: nth('element') };
  }
  if (ext === '.jsonl' || ext === '.ndjson') {
    const records: unknown[] = [];
    const lineOf: number[] = []; // blank lines are not records, so a record's index is not its line
    const notUtf8 = new Map(invalidUtf8.map((u) => [u.line, u.reason]));
    for (const [i, line] of text.split(/\r?\n/).entries()) {
      const bad = notUtf8.get(i + 1);
      if (!bad && !line.trim()) continue;
      lineOf.push(i + 1);
      if (bad) {
        errors.set(records.length, bad);
        records.push(undefined);
        continue;
      }
      try {
        records.push(JSON.parse(line));
      } catch (e) {
        errors.set(records.length, `invalid JSON: ${oneLine(e)}`);
        records.push(undefined);
      }
    }
    return { records, errors, where: (index) => `line ${lineOf[index]}` };
  }
  throw new Error(`unsupported RewardBench file type '${ext || basename(path)}': use .parquet, .json or .jsonl (or --source filtered|raw|rebuilt)`);
}

/** The usable rows; every other record is counted in `malformed` with its place in the file (`where`) and why. */
function validate(records: readonly unknown[], errors: Map<number, string>, malformed: MalformedReport, where?: (index: number) => string): RewardBenchRow[] {
  const rows: RewardBenchRow[] = [];
  records.forEach((r, index) => {
    const why = errors.get(index) ?? malformedReason(r);
    if (why) noteMalformed(malformed, index, where ? `${where(index)}: ${why}` : why);
    else rows.push(toRow(r as Record<string, unknown>, index));
  });
  return rows;
}

/** Fidelity of a file's subsets: known only when every row of a subset carries a rebuilt id. */
function inferFileFidelity(rows: readonly RewardBenchRow[]): Record<string, RewardBenchFidelity> {
  const ok = new Map<string, boolean>();
  for (const r of rows) {
    const rebuilt = typeof r.id === 'string' && r.id.startsWith(`rebuilt:${r.subset}:`) && r.subset in REBUILT_FIDELITY;
    ok.set(r.subset, (ok.get(r.subset) ?? true) && rebuilt);
  }
  return Object.fromEntries([...ok].filter(([, v]) => v).map(([s]) => [s, REBUILT_FIDELITY[s]]));
}

function summary(rows: readonly RewardBenchRow[]): string {
  const n = new Set(rows.map((r) => r.subset)).size;
  return `${rows.length.toLocaleString('en-US')} rows in ${n} subset${n === 1 ? '' : 's'}`;
}

/** Load RewardBench rows; see the module comment for the sources. Throws only when the source itself is unavailable. */
export async function loadRewardBench(opts: LoadRewardBenchOptions): Promise<RewardBenchData> {
  let malformed = emptyMalformed();
  const wanted = opts.subsets ? new Set(opts.subsets) : null;
  let rows: RewardBenchRow[];
  let fidelity: Record<string, RewardBenchFidelity> = {};
  let files: string[] = [];
  let source: string;
  let what: string;

  if (opts.source === 'rebuilt') {
    const built = rebuildRewardBench({ subsets: opts.subsets, hepJoin: opts.hepJoin });
    rows = built.rows;
    fidelity = built.fidelity;
    malformed = built.malformed;
    source = 'rebuilt';
    const count = (f: RewardBenchFidelity) => Object.keys(fidelity).filter((s) => fidelity[s] === f).length;
    what = `Partial RewardBench rebuilt offline from public sources (${summary(rows)}: ${count('exact')} exact, ${count('near-exact')} near-exact, ${count('approximate')} approximate; ${built.missingSubsets.length} missing)`;
  } else if (opts.source === 'filtered' || opts.source === 'raw') {
    const split: RewardBenchSplit = opts.source === 'raw' ? 'raw' : 'filtered';
    const revision = opts.revision ?? 'main';
    let got = findCachedSplit(split, revision);
    if (!got) {
      const sought = `RewardBench split '${split}' (${REWARDBENCH_HUB_REPO} data/${split}-*.parquet, revision ${revision})`;
      const looked = [join(rewardBenchCacheDir(), 'snapshots')];
      if (hubOffline()) throw new AssetNotFoundError(sought, looked, 'hub downloads are off (IPO_OFFLINE/HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE=1); use --source rebuilt for the offline partial rebuild');
      try {
        got = await downloadSplit(split, revision);
      } catch (e) {
        throw new AssetNotFoundError(sought, looked, `hub download failed: ${oneLine(e)}; use --source rebuilt for the offline partial rebuild`);
      }
    }
    files = got.files;
    const read = await Promise.all(files.map((f) => readParquet(f)));
    rows = validate(read.flat(), new Map(), malformed);
    source = split;
    what = `Official ${REWARDBENCH_HUB_REPO} split '${split}' (${SPLIT_NOTE[split]}), snapshot ${displayPath(got.snapshot)}: ${summary(rows)}`;
  } else {
    const path = resolve(opts.source);
    if (!existsSync(path)) throw new AssetNotFoundError(`RewardBench file '${opts.source}'`, [path], "pass 'filtered', 'raw', 'rebuilt' or an existing .parquet/.json/.jsonl file");
    const { records, errors, where } = await readRecordsFile(path);
    rows = validate(records, errors, malformed, where);
    files = [path];
    source = displayPath(path); // a label (summaries, JSON, reports): never this machine's absolute path
    what = `RewardBench rows read from ${source} (${summary(rows)})`;
  }

  if (wanted) rows = rows.filter((r) => wanted.has(r.subset));
  const present = new Set(rows.map((r) => r.subset));
  if (source === 'filtered' || source === 'raw') fidelity = Object.fromEntries([...present].map((s) => [s, 'official' as const]));
  else if (source !== 'rebuilt') fidelity = inferFileFidelity(rows);
  fidelity = Object.fromEntries(Object.entries(fidelity).filter(([s]) => present.has(s)));
  const missingSubsets = (opts.subsets ?? REWARDBENCH_SUBSETS).filter((s) => !present.has(s));

  const seed = opts.seed ?? 42;
  if (opts.limitPerSubset !== undefined) rows = sliceStratified(rows, opts.limitPerSubset, seed);

  const parts = [what];
  if (opts.limitPerSubset !== undefined) parts.push(`, sliced to at most ${opts.limitPerSubset} per subset (seed ${seed}): ${rows.length.toLocaleString('en-US')} rows`);
  if (malformed.count) parts.push(`; ${malformed.count} malformed row${malformed.count === 1 ? '' : 's'} dropped`);
  parts.push('.');
  if (source === 'rebuilt' || Object.values(fidelity).some((f) => f !== 'official')) parts.push(' Rebuilt data is not comparable to RewardBench leaderboard or paper numbers.');
  return { rows, source, fidelity, missingSubsets, malformed, description: parts.join(''), files };
}
