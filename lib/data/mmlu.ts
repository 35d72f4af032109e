/**
 * MMLU (Hendrycks et al. 2021, "Measuring Massive Multitask Language Understanding") from the shared asset
 * `../shared/assets/mmlu/mmlu.zip`: the hendrycks/test data folder, `data/{dev,val,test}/<subject>_<split>.csv`,
 * 57 subjects, 285 / 1,531 / 14,042 rows. Each CSV has no header and the columns `question,A,B,C,D,answer`
 * (answer a letter A–D); fields are RFC-4180 quoted where they hold commas, quotes or newlines, so they are read with
 * the kit's CSV reader (`parseCsv` of `./rows`), never split on commas.
 *
 * Rows that are not 6 fields or whose answer is not A–D are counted in `malformed` and dropped (none in this copy).
 * A missing zip is one line naming where it was looked for (`findAsset`); an unreadable zip one line too.
 *
 * Slices: `subjects` (names as in the file names, e.g. `abstract_algebra`) and `limitPerSubject` with `seed`
 * (at most that many questions per subject, picked by a seeded shuffle per subject, `sliceStratified`, kept in file
 * order). `sampleMmlu` draws the shape of the IPO paper's MMLU set instead: `DPO/Evals/create_subset.py` takes
 * `np.random.choice(total, 500, replace=False)` over the whole test split (all subjects pooled, not stratified) with
 * NO seed (quirk 18), so the official 500 questions cannot be reproduced; here the draw is seeded.
 */
import { existsSync, readFileSync } from 'node:fs';
import { unzipSync, strFromU8 } from 'fflate';
import { findAsset } from '../util/paths';
import { makeRng } from '../util/rng';
import { displayPath } from '../util/jsonl';
import { emptyMalformed, noteMalformed, parseCsv, sliceStratified, type MalformedReport } from './rows';

export const MMLU_ASSET = 'mmlu/mmlu.zip';
export const MMLU_SPLITS = ['dev', 'val', 'test'] as const;
export type MmluSplit = (typeof MMLU_SPLITS)[number];
/** Rows per split in the shared copy (hendrycks/test data.tar). */
export const MMLU_EXPECTED_ROWS: Readonly<Record<MmluSplit, number>> = Object.freeze({ dev: 285, val: 1531, test: 14042 });
export const MMLU_SUBJECT_COUNT = 57;
export const MMLU_LETTERS = ['A', 'B', 'C', 'D'] as const;
/** Size of the IPO paper's MMLU sample (`create_subset.py`, `num_samples=500`). */
export const MMLU_PAPER_SAMPLE_SIZE = 500;

export interface MmluQuestion {
  /** `<subject>/<split>/<row index in its file>` */
  id: string;
  subject: string;
  split: MmluSplit;
  question: string;
  choices: [string, string, string, string];
  /** index of the correct choice: A = 0 … D = 3 */
  answer: 0 | 1 | 2 | 3;
}

export interface MmluLoadOptions {
  /** Default 'test'. */
  split?: MmluSplit;
  /** Subjects to keep (file-name form). Default all. Unknown names are a one-line error. */
  subjects?: readonly string[];
  /** At most this many questions per subject (seeded). Default all. */
  limitPerSubject?: number;
  /** Seed of the per-subject slice. Default 42. */
  seed?: number | string;
  /** Read this zip instead of the shared asset. */
  path?: string;
}

export interface MmluData {
  questions: MmluQuestion[];
  /** subjects present in `questions`, sorted */
  subjects: string[];
  split: MmluSplit;
  /** the zip as printed (`../shared/assets/mmlu/mmlu.zip`; see `displayPath`) */
  source: string;
  /** rows read before slicing (valid ones) */
  totalRows: number;
  malformed: MalformedReport;
}

const LETTER_INDEX: Readonly<Record<string, 0 | 1 | 2 | 3>> = { A: 0, B: 1, C: 2, D: 3 };

/** hendrycks/test `format_subject`: "abstract_algebra" → " abstract algebra" (note the leading space, kept). */
export function formatMmluSubject(subject: string): string {
  return subject.split('_').map((w) => ` ${w}`).join('');
}

/**
 * Questions of one CSV file (`subject`, `split` name it). Rows that are not `question,A,B,C,D,answer` with an answer
 * letter A–D are counted in `malformed` (index = 0-based row) and dropped.
 */
export function parseMmluCsv(text: string, subject: string, split: MmluSplit, malformed: MalformedReport = emptyMalformed()): MmluQuestion[] {
  const out: MmluQuestion[] = [];
  parseCsv(text).forEach((r, i) => {
    if (r.length !== 6) {
      noteMalformed(malformed, i, `${subject}_${split}.csv row ${i + 1}: ${r.length} fields, expected 6 (question,A,B,C,D,answer)`);
      return;
    }
    const answer = LETTER_INDEX[r[5].trim()];
    if (answer === undefined) {
      noteMalformed(malformed, i, `${subject}_${split}.csv row ${i + 1}: answer ${JSON.stringify(r[5])} is not A-D`);
      return;
    }
    out.push({ id: `${subject}/${split}/${i}`, subject, split, question: r[0], choices: [r[1], r[2], r[3], r[4]], answer });
  });
  return out;
}

/** The zip's CSV texts, memoised per path: `split → subject → text`. */
const memo = new Map<string, Map<MmluSplit, Map<string, string>>>();

function readZip(path: string): Map<MmluSplit, Map<string, string>> {
  const hit = memo.get(path);
  if (hit) return hit;
  if (!existsSync(path)) throw new Error(`MMLU zip ${displayPath(path)} not found`);
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(readFileSync(path), { filter: (f) => /^data\/(dev|val|test)\/[^/]+\.csv$/.test(f.name) });
  } catch (e) {
    throw new Error(`cannot read the MMLU zip ${displayPath(path)}: ${String((e as Error).message ?? e).split('\n')[0]}`);
  }
  const bySplit = new Map<MmluSplit, Map<string, string>>(MMLU_SPLITS.map((s) => [s, new Map<string, string>()]));
  for (const [name, bytes] of Object.entries(files)) {
    const m = /^data\/(dev|val|test)\/(.+)_(dev|val|test)\.csv$/.exec(name);
    if (!m || m[1] !== m[3]) continue;
    bySplit.get(m[1] as MmluSplit)!.set(m[2], strFromU8(bytes));
  }
  if ([...bySplit.values()].every((s) => s.size === 0)) throw new Error(`the MMLU zip ${displayPath(path)} holds no data/{dev,val,test}/<subject>_<split>.csv files`);
  memo.set(path, bySplit);
  return bySplit;
}

/** The 57 subject names (file-name form), sorted. */
export function mmluSubjects(opts: { split?: MmluSplit; path?: string } = {}): string[] {
  const split = opts.split ?? 'test';
  return [...readZip(opts.path ?? findAsset(MMLU_ASSET)).get(split)!.keys()].sort();
}

/** Load one split, optionally restricted to `subjects` and sliced to `limitPerSubject` (seeded). */
export function loadMmlu(opts: MmluLoadOptions = {}): MmluData {
  const split = opts.split ?? 'test';
  if (!(MMLU_SPLITS as readonly string[]).includes(split)) throw new Error(`loadMmlu: split must be 'dev', 'val' or 'test', got ${JSON.stringify(split)}`);
  const path = opts.path ?? findAsset(MMLU_ASSET);
  const texts = readZip(path).get(split)!;
  let names = [...texts.keys()].sort();
  if (opts.subjects !== undefined) {
    if (!Array.isArray(opts.subjects)) throw new Error('loadMmlu: subjects must be an array of subject names');
    const unknown = opts.subjects.filter((s) => !texts.has(s));
    if (unknown.length) throw new Error(`loadMmlu: unknown MMLU subject(s) ${unknown.map((s) => JSON.stringify(s)).join(', ')} (names as in the files, e.g. "abstract_algebra")`);
    const keep = new Set(opts.subjects);
    names = names.filter((s) => keep.has(s));
  }
  const malformed = emptyMalformed();
  let questions = names.flatMap((s) => parseMmluCsv(texts.get(s)!, s, split, malformed));
  const totalRows = questions.length;
  if (opts.limitPerSubject !== undefined) {
    const limit = opts.limitPerSubject;
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`loadMmlu: limitPerSubject must be a non-negative integer, got ${String(limit)}`);
    questions = sliceStratified(questions.map((q) => ({ subset: q.subject, q })), limit, opts.seed ?? 42).map((x) => x.q);
  }
  return {
    questions,
    subjects: [...new Set(questions.map((q) => q.subject))].sort(),
    split,
    source: displayPath(path),
    totalRows,
    malformed,
  };
}

/**
 * `n` questions drawn uniformly without replacement from `questions` (all subjects pooled), in draw order: the shape
 * of `create_subset.py`'s `np.random.choice(total, 500, replace=False)` + `select(indices)`, but seeded (the official
 * draw has no seed, quirk 18, and numpy's generator is not reproduced). Throws when `n` exceeds the pool, as the
 * official script does.
 */
export function sampleMmlu<T>(questions: readonly T[], n: number = MMLU_PAPER_SAMPLE_SIZE, seed: number | string = 42): T[] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`sampleMmlu: n must be a non-negative integer, got ${String(n)}`);
  if (n > questions.length) throw new Error(`sampleMmlu: requested samples (${n}) exceeds dataset size (${questions.length})`);
  const idx = Array.from({ length: questions.length }, (_, i) => i);
  const rng = makeRng(seed);
  // partial Fisher–Yates: position k receives a uniform pick among the remaining indices
  for (let k = 0; k < n; k++) {
    const j = k + Math.floor(rng() * (idx.length - k));
    [idx[k], idx[j]] = [idx[j], idx[k]];
  }
  return idx.slice(0, n).map((i) => questions[i]);
}
