/**
 * Report records: one small JSON file per reproduced run, `reports/results/<id>.json`, from which `ipo report`
 * builds the static site (lib/report/site.ts). A record holds only what a reader needs to judge a number — the
 * table in %, the model, the data source and slice, the fidelity of rebuilt data, the knobs, and where the code
 * stood (kit version, git commit) — never the rows or per-pair outcomes, so records stay small and diffable.
 *
 * Records are written atomically (tmp file + rename) because notebooks and CLI runs may write while a site is
 * being built; a half-written or hand-broken file is skipped and reported by `readReportRecords`, never fatal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash } from '../util/cache';
import { displayPath, repoRoot } from '../util/paths';
import type { PaperTableName } from '../eval/paper-results';
import type { RewardBenchRun } from '../eval/run-rewardbench';
import type { RmBenchRun } from '../eval/run-rmbench';
import type { TruncationSummary } from '../eval/truncation-summary';

/** Bump when a field changes meaning; readers skip records of a schema they do not know. */
export const REPORT_RECORD_SCHEMA = 1;

export const REPORT_KINDS = ['rewardbench', 'rmbench', 'baselines', 'ablations', 'self-improve', 'toy-world', 'api-judges', 'table'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

/** One row of a record's table: values in % by column (null = not measured), `n` = items behind the row. */
export interface ReportRow {
  label: string;
  values: Record<string, number | null>;
  n?: number;
}

/** Which rows of data/paper-results.json to show beside ours (all rows of `table` matching `method` / `model`). */
export interface PaperRef {
  table: PaperTableName;
  method?: string;
  model?: string;
}

export interface ReportRecord {
  schema: number;
  /** file name without `.json`: letters, digits, `.`, `_`, `-` */
  id: string;
  title: string;
  kind: ReportKind;
  model: string;
  /** data source label: `rebuilt`, `filtered`, `raw`, a hub id, or a file (displayPath'd) */
  source: string;
  /** how much of the data was used, in words, e.g. "at most 2 per subset (seed 42): 32 pairs" */
  slice: string;
  /** subset → fidelity label of rebuilt data (`exact`, `near-exact`, `approximate`, `official`, …) */
  fidelity: Record<string, string>;
  settings: Record<string, unknown>;
  table: { columns: string[]; rows: ReportRow[] };
  paper?: PaperRef;
  /** PNGs the run saved, as written (e.g. `reports/figures/01-rewardbench-ipo.png`); the site matches them by file name */
  figures?: string[];
  truncation?: TruncationSummary | null;
  /** one-line facts a reader must not miss (missing subsets, malformed rows, …) */
  notes?: string[];
  kitVersion: string;
  gitCommit: string;
  createdAt: string;
}

/** What a caller supplies; `newReportRecord` fills in the schema and the provenance. */
export type ReportRecordInput = Omit<ReportRecord, 'schema' | 'kitVersion' | 'gitCommit' | 'createdAt'> & Partial<Pick<ReportRecord, 'kitVersion' | 'gitCommit' | 'createdAt'>>;

/** `<repo>/reports`: git-ignored home of records, figures, the site and test artefacts. */
export function reportsDir(): string {
  return join(repoRoot(), 'reports');
}

export function defaultRecordsDir(): string {
  return join(reportsDir(), 'results');
}

/** The kit's package.json version, `unknown` if unreadable (a record is still worth writing). */
export function kitVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** `git rev-parse HEAD` at the repo root; `unknown` outside a checkout or without git (a tarball install). */
export function gitCommit(): string {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A complete record: the caller's fields plus schema, kit version, git commit and time (unless given). */
export function newReportRecord(input: ReportRecordInput): ReportRecord {
  return { schema: REPORT_RECORD_SCHEMA, kitVersion: kitVersion(), gitCommit: gitCommit(), createdAt: new Date().toISOString(), ...input };
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$/;

/** A file-name-safe id part: lower case, anything else → `-`. */
export function slugId(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'x';
}

/** A model reference's last segment (`../shared/assets/models/tinystories-656k` → `tinystories-656k`), for ids and titles. */
export function shortModelName(model: string): string {
  return model.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || model;
}

/** Why `x` is not a usable record (null when it is). Shared by write and read, so nothing unreadable is ever written. */
export function recordProblem(x: unknown): string | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'not a JSON object';
  const r = x as Partial<ReportRecord>;
  if (r.schema !== REPORT_RECORD_SCHEMA) return `schema ${JSON.stringify(r.schema)} is not ${REPORT_RECORD_SCHEMA}`;
  if (typeof r.id !== 'string' || !ID_RE.test(r.id)) return `id ${JSON.stringify(r.id)} is not a file-name-safe string`;
  if (!REPORT_KINDS.includes(r.kind as ReportKind)) return `kind ${JSON.stringify(r.kind)} is not one of ${REPORT_KINDS.join(', ')}`;
  for (const k of ['title', 'model', 'source', 'slice', 'kitVersion', 'gitCommit', 'createdAt'] as const) {
    if (typeof r[k] !== 'string') return `${k} is not a string`;
  }
  if (typeof r.fidelity !== 'object' || r.fidelity === null) return 'fidelity is not an object';
  const t = r.table;
  if (!t || !Array.isArray(t.columns) || !t.columns.every((c) => typeof c === 'string') || !Array.isArray(t.rows)) return 'table needs columns (strings) and rows';
  for (const row of t.rows) {
    if (typeof row?.label !== 'string' || typeof row.values !== 'object' || row.values === null) return 'a table row needs a label and values';
    const bad = Object.entries(row.values).find(([, v]) => v !== null && (typeof v !== 'number' || !Number.isFinite(v)));
    if (bad) return `row '${row.label}' column '${bad[0]}' is not a finite number or null`;
  }
  if (r.figures !== undefined && !(Array.isArray(r.figures) && r.figures.every((f) => typeof f === 'string'))) return 'figures is not a list of paths';
  return null;
}

/** Write `record` to `<dir>/<id>.json` atomically (tmp + rename) and return the path; throws one line on a bad record. */
export function saveReportRecord(record: ReportRecord, dir = defaultRecordsDir()): string {
  const problem = recordProblem(record);
  if (problem) throw new Error(`report record ${JSON.stringify(record?.id)}: ${problem}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${record.id}.json`);
  const tmp = join(dir, `.${record.id}.json.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, path);
  return path;
}

export interface ReadRecordsResult {
  records: ReportRecord[];
  /** files that could not be used, with why (displayPath'd file names) */
  skipped: { file: string; reason: string }[];
}

/** Every `*.json` record under `dir` (sorted by kind, then id); a missing folder is no records, a bad file is skipped. */
export function readReportRecords(dir = defaultRecordsDir()): ReadRecordsResult {
  const out: ReadRecordsResult = { records: [], skipped: [] };
  if (!existsSync(dir)) return out;
  if (!statSync(dir).isDirectory()) throw new Error(`records folder ${displayPath(dir)} is not a folder`);
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort()) {
    const file = join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      out.skipped.push({ file: displayPath(file), reason: `not JSON (${(e as Error).message.split('\n')[0]})` });
      continue;
    }
    let problem = recordProblem(parsed);
    // the id names the file, so two records can never claim one anchor / data-testid on the site
    if (!problem && (parsed as ReportRecord).id !== name.slice(0, -5)) problem = `id '${(parsed as ReportRecord).id}' does not match the file name`;
    if (problem) out.skipped.push({ file: displayPath(file), reason: problem });
    else out.records.push(parsed as ReportRecord);
  }
  const rank = (k: string) => REPORT_KINDS.indexOf(k as ReportKind);
  out.records.sort((a, b) => rank(a.kind) - rank(b.kind) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Records from benchmark runs
// ---------------------------------------------------------------------------------------------------------------

export interface RunRecordOptions {
  /** default: kind, model, method and a short hash of source + settings, so a rerun replaces its own record */
  id?: string;
  title?: string;
  figures?: string[];
  /** rows of data/paper-results.json to show beside ours; `null` for none (default: the run's method, if published) */
  paper?: PaperRef | null;
  notes?: string[];
}

const pct = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? 100 * x : null);

/** The paper names its methods differently from the kit's registry; only these two have published RewardBench rows. */
const PAPER_METHOD: Record<string, string> = { ipo: 'IPO', 'self-reward': 'Self-Rewarding' };

function defaultId(kind: string, model: string, method: string, source: string, settings: Record<string, unknown>): string {
  return `${kind}-${slugId(shortModelName(model))}-${slugId(method)}-${contentHash(source, settings).slice(0, 8)}`;
}

function sliceText(limit: unknown, per: string, seed: unknown, count: number, what: string): string {
  return `${typeof limit === 'number' ? `at most ${limit} per ${per} (seed ${String(seed)})` : 'all rows'}: ${count} ${what}`;
}

/**
 * A record of one RewardBench run: the paper's Chat / Code / Math / Safety / Avg (plain mean; the grouping is the
 * official code's, unverified as the paper's) and the leaderboard Score, in %, beside the paper's row for the method.
 */
export function recordFromRewardBenchRun(run: RewardBenchRun, opts: RunRecordOptions = {}): ReportRecord {
  const plain = run.report.paper.plain;
  const source = displayPath(run.source);
  const notes = [...(opts.notes ?? []), 'Avg = plain mean of the categories present (the paper: all four); Score = the leaderboard\'s mean of its four sections, an empty section counting 0'];
  if (run.missingSubsets.length) notes.push(`missing subsets: ${run.missingSubsets.join(', ')}`);
  if (run.malformed.count) notes.push(`malformed rows skipped: ${run.malformed.count}`);
  const unknown = Object.entries(run.unknownSubsets);
  if (unknown.length) notes.push(`unknown subsets (scored, in no category): ${unknown.map(([k, n]) => `${k} (${n})`).join(', ')}`);
  const paperMethod = PAPER_METHOD[run.method];
  return newReportRecord({
    id: opts.id ?? defaultId('rewardbench', run.model, run.method, source, run.settings),
    title: opts.title ?? `RewardBench — ${shortModelName(run.model)} (${run.method})`,
    kind: 'rewardbench',
    model: run.model,
    source,
    slice: sliceText(run.settings.limitPerSubset, 'subset', run.settings.seed, run.report.n, 'pairs'),
    fidelity: { ...run.fidelity },
    settings: { ...run.settings },
    table: {
      columns: ['Chat', 'Code', 'Math', 'Safety', 'Avg', 'Score'],
      rows: [{
        label: `ours (${run.method})`,
        values: { Chat: pct(plain.categories.Chat), Code: pct(plain.categories.Code), Math: pct(plain.categories.Math), Safety: pct(plain.categories.Safety), Avg: pct(plain.average), Score: pct(run.report.leaderboard.score) },
        n: run.report.n,
      }],
    },
    ...(opts.paper !== null && (opts.paper ?? paperMethod) ? { paper: opts.paper ?? { table: 'rewardbench', method: paperMethod } } : {}),
    ...(opts.figures ? { figures: opts.figures } : {}),
    truncation: run.truncation,
    notes,
  });
}

/** A record of one RM-Bench run: easy / normal / hard / avg per domain present and their mean, in %. */
export function recordFromRmBenchRun(run: RmBenchRun, opts: RunRecordOptions = {}): ReportRecord {
  const p = run.pooled;
  const files = Object.values(run.load.domains).map((d) => d?.source).filter((s): s is string => typeof s === 'string');
  const source = files.length ? [...new Set(files.map(displayPath))].join(', ') : 'rm-bench';
  const notes = [...(opts.notes ?? [])];
  if (p.missing.length) notes.push(`missing domains: ${p.missing.join(', ')} (means are over the domains present)`);
  if (run.load.dropped.length) notes.push(`malformed rows dropped: ${run.load.dropped.length}`);
  const iv = run.intervals;
  if (!iv.warning) notes.push(`overall 95% CI [${(100 * iv.overall.lo).toFixed(1)}, ${(100 * iv.overall.hi).toFixed(1)}] (items resampled within domains, ${iv.iterations} replicates)`);
  const row = (label: string, g: { easy: number; normal: number; hard: number; avg: number }, n: number): ReportRow =>
    ({ label, values: { easy: pct(g.easy), normal: pct(g.normal), hard: pct(g.hard), avg: pct(g.avg) }, n });
  return newReportRecord({
    id: opts.id ?? defaultId('rmbench', run.model, run.method, source, run.settings),
    title: opts.title ?? `RM-Bench — ${shortModelName(run.model)} (${run.method})`,
    kind: 'rmbench',
    model: run.model,
    source,
    slice: sliceText(run.settings.limitPerDomain, 'domain', run.settings.seed, run.scored.length, 'items'),
    // RM-Bench is read as published (no rebuild): every domain present is official data
    fidelity: Object.fromEntries(p.present.map((d) => [d, 'official'])),
    settings: { ...run.settings },
    table: {
      columns: ['easy', 'normal', 'hard', 'avg'],
      rows: [
        ...p.present.map((d) => row(d, p.groups[d], p.groups[d].n)),
        row('mean', { easy: p.easy, normal: p.normal, hard: p.hard, avg: p.overall }, run.scored.length),
      ],
    },
    // data/paper-results.json has no RM-Bench table yet; a caller may still point at one
    ...(opts.paper ? { paper: opts.paper } : {}),
    ...(opts.figures ? { figures: opts.figures } : {}),
    truncation: run.truncation,
    notes,
  });
}
