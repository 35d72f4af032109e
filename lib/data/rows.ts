/**
 * RewardBench row type plus the generic helpers behind `loadRewardBench`: row validation (malformed rows are
 * counted and dropped, never thrown), the stratified seeded slice, and a small RFC-4180 CSV reader (XSTest).
 */
import { describe } from '../util/check';
import { makeRng } from '../util/rng';
import type { PreferencePair } from './types';

/**
 * One RewardBench pair, with the column names of the official `allenai/reward-bench` parquet files: a
 * `PreferencePair` (id, subset, prompt, chosen, rejected) plus the two models' names.
 */
export interface RewardBenchRow extends PreferencePair {
  chosen_model: string;
  rejected_model: string;
}

/**
 * How close a subset's rows are to the official RewardBench data:
 * `official` = read from the official dataset; `exact` = rebuilt, the same pairs as the official subset;
 * `near-exact` = rebuilt, same pairs but string joins unverified; `approximate` = rebuilt, different responses or
 * a different selection of pairs.
 */
export type RewardBenchFidelity = 'official' | 'exact' | 'near-exact' | 'approximate';

export interface MalformedReport {
  /** Rows dropped. */
  count: number;
  /** The first few dropped rows: `index` is the row's position in its source (0-based). */
  examples: { index: number; reason: string }[];
}

const MAX_EXAMPLES = 20;
const REQUIRED_TEXT = ['prompt', 'chosen', 'rejected', 'subset'] as const;
const OPTIONAL_TEXT = ['chosen_model', 'rejected_model'] as const;

export function emptyMalformed(): MalformedReport {
  return { count: 0, examples: [] };
}

export function noteMalformed(report: MalformedReport, index: number, reason: string): void {
  report.count++;
  if (report.examples.length < MAX_EXAMPLES) report.examples.push({ index, reason });
}

/**
 * Why `raw` is not a usable row, or null when it is. Rules: `prompt`, `chosen`, `rejected`, `subset` must be
 * present, strings and not blank; `chosen_model` / `rejected_model` and `id` may be absent or null (filled in by
 * `toRow`), but when present must be strings (`id`: string, number or bigint). An unknown subset name is fine.
 */
export function malformedReason(raw: unknown): string | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return `row is ${describe(raw)}, not an object`;
  const r = raw as Record<string, unknown>;
  for (const f of REQUIRED_TEXT) {
    const v = r[f];
    if (v === undefined || v === null) return `missing field '${f}'`;
    if (typeof v !== 'string') return `field '${f}' is ${describe(v)}, not a string`;
    if (v.trim() === '') return `empty ${f}`;
  }
  for (const f of OPTIONAL_TEXT) {
    const v = r[f];
    if (v !== undefined && v !== null && typeof v !== 'string') return `field '${f}' is ${describe(v)}, not a string`;
  }
  const id = r.id;
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number' && typeof id !== 'bigint') {
    return `field 'id' is ${describe(id)}, not a string or number`;
  }
  return null;
}

/** A validated raw object as a row; a missing id becomes `fallbackId`, missing model names become 'unknown'. */
export function toRow(raw: Record<string, unknown>, fallbackId: string | number): RewardBenchRow {
  let id = raw.id as string | number | bigint | null | undefined;
  if (typeof id === 'bigint') id = Number.isSafeInteger(Number(id)) ? Number(id) : id.toString();
  return {
    id: id ?? fallbackId,
    prompt: raw.prompt as string,
    chosen: raw.chosen as string,
    rejected: raw.rejected as string,
    chosen_model: (raw.chosen_model as string | null | undefined) ?? 'unknown',
    rejected_model: (raw.rejected_model as string | null | undefined) ?? 'unknown',
    subset: raw.subset as string,
  };
}

/** Validate raw records: good ones become rows (in order), the rest are counted in `malformed`. */
export function normalizeRows(raw: readonly unknown[], malformed: MalformedReport = emptyMalformed(), startIndex = 0): { rows: RewardBenchRow[]; malformed: MalformedReport } {
  const rows: RewardBenchRow[] = [];
  raw.forEach((r, i) => {
    const index = startIndex + i;
    const why = malformedReason(r);
    if (why) noteMalformed(malformed, index, why);
    else rows.push(toRow(r as Record<string, unknown>, index));
  });
  return { rows, malformed };
}

/**
 * At most `limit` rows per subset, chosen by a seeded shuffle per subset (rng seeded with `${seed}:${subset}`, so one
 * subset's pick does not depend on which other subsets are loaded), returned in their original order.
 * Subsets with `limit` rows or fewer are kept whole.
 */
export function sliceStratified<T extends { subset: string }>(rows: readonly T[], limit: number, seed: number | string = 42): T[] {
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`limitPerSubset must be a non-negative integer, got ${limit}`);
  const bySubset = new Map<string, number[]>();
  rows.forEach((r, i) => {
    let list = bySubset.get(r.subset);
    if (!list) bySubset.set(r.subset, (list = []));
    list.push(i);
  });
  const keep = new Set<number>();
  for (const [subset, idx] of bySubset) {
    if (idx.length <= limit) {
      idx.forEach((i) => keep.add(i));
      continue;
    }
    const rng = makeRng(`${seed}:${subset}`);
    const order = idx.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    order.slice(0, limit).forEach((i) => keep.add(i));
  }
  return rows.filter((_, i) => keep.has(i));
}

/** RFC-4180 CSV: quoted fields may hold commas, newlines and doubled quotes. Returns the records as string arrays. */
export function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let row: string[] = [];
  while (i < n) {
    let field: string;
    if (text[i] === '"') {
      // quoted: copy slices up to each quote; a doubled quote is a literal quote
      const parts: string[] = [];
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) {
          parts.push(text.slice(j));
          j = n;
          break;
        }
        parts.push(text.slice(j, q));
        if (text[q + 1] === '"') {
          parts.push('"');
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      field = parts.join('');
      // anything between the closing quote and the separator is kept verbatim (lenient)
      let k = j;
      while (k < n && text[k] !== ',' && text[k] !== '\n' && text[k] !== '\r') k++;
      field += text.slice(j, k);
      i = k;
    } else {
      let k = i;
      while (k < n && text[k] !== ',' && text[k] !== '\n' && text[k] !== '\r') k++;
      field = text.slice(i, k);
      i = k;
    }
    row.push(field);
    if (i >= n) break;
    if (text[i] === ',') {
      i++;
      if (i >= n) row.push('');
      continue;
    }
    // end of record
    i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
    out.push(row);
    row = [];
  }
  if (row.length) out.push(row);
  return out.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** CSV with a header line → one object per record, keyed by the header. */
export function csvObjects(text: string): Record<string, string>[] {
  const [header, ...records] = parseCsv(text);
  if (!header) return [];
  return records.map((rec) => Object.fromEntries(header.map((h, k) => [h, rec[k] ?? ''])));
}
