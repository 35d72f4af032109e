/**
 * Reading and writing record files the way every data loader here needs it: JSONL (one JSON value per line), or a
 * JSON array when the file starts with `[` (Hugging Face / LLaMA-Factory exports). A line that is not JSON is
 * reported with its line number and skipped, never fatal; a missing or unreadable file is a one-line error that
 * names the path as the kit prints paths (repo-relative, `../shared/...`, never absolute).
 *
 * Ground for `./prompts`, `./preference-pairs` and the sampler's `samples.jsonl` (`lib/generate/samples-file`).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { displayPath } from './paths';

/** How many skipped records are listed by line in a report (the counts are always complete). */
export const MAX_EXAMPLES = 10;

export { displayPath };

/** One parsed record and where it was: `line` is the 1-based line in a JSONL file, the 1-based element in an array. */
export interface SourceRecord {
  line: number;
  value: unknown;
}

export interface RecordFile {
  /** The path as printed (see `displayPath`). */
  file: string;
  format: 'jsonl' | 'json-array';
  records: SourceRecord[];
  /** JSONL lines that did not parse (blank lines are not records and are not counted). */
  invalidJson: { line: number; reason: string }[];
}

/**
 * The text of a user-supplied file, read as UTF-8: a UTF-8 byte-order mark is dropped (Windows editors write one),
 * and bytes that are not UTF-8 are REPORTED instead of being turned silently into U+FFFD (Node's default), which
 * would change the text a model scores. `invalidUtf8` lists each 1-based line that holds such bytes (those lines are
 * blank in `text`); a JSONL reader counts them as skipped lines, a whole-file format turns them into one error.
 */
export function readUtf8File(path: string): { text: string; invalidUtf8: { line: number; reason: string }[] } {
  let buf = readFileSync(path);
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
  const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return { text: strict.decode(buf), invalidUtf8: [] };
  } catch {
    // slow path, only for a broken file: decode line by line to say which lines are bad
  }
  const lines: string[] = [];
  const invalidUtf8: { line: number; reason: string }[] = [];
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i < buf.length && buf[i] !== 0x0a) continue;
    const bytes = buf.subarray(start, i);
    try {
      lines.push(strict.decode(bytes));
    } catch {
      const bad = firstInvalidUtf8(bytes);
      invalidUtf8.push({ line: lines.length + 1, reason: `invalid UTF-8 (byte 0x${bytes[bad].toString(16).padStart(2, '0')} at byte ${bad + 1} of the line; save the file as UTF-8)` });
      lines.push('');
    }
    start = i + 1;
  }
  return { text: lines.join('\n'), invalidUtf8 };
}

/** Offset of the first byte of `b` that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  const strict = new TextDecoder('utf-8', { fatal: true });
  let lo = 0, hi = b.length; // the longest valid prefix, by bisection (a cut inside a sequence also fails)
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      strict.decode(b.subarray(0, mid));
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return Math.min(lo, b.length - 1);
}

/** The text of a whole-file format (JSON, CSV): one error naming the first line that is not UTF-8. */
export function readUtf8Strict(path: string, what = 'file'): string {
  const { text, invalidUtf8 } = readUtf8File(path);
  if (invalidUtf8.length) throw new Error(`${what} ${displayPath(path)} is not UTF-8 text: line ${invalidUtf8[0].line} has ${invalidUtf8[0].reason}${invalidUtf8.length > 1 ? ` (${invalidUtf8.length} lines in all)` : ''}`);
  return text;
}

/** Read `path` as JSONL or as a JSON array. Throws one line when the file is missing, a folder, or an unparsable array. */
export function readRecordFile(path: string, what = 'file'): RecordFile {
  const file = displayPath(path);
  if (!existsSync(path)) throw new Error(`${what} not found: ${file}`);
  if (statSync(path).isDirectory()) throw new Error(`${what} is a folder, not a file: ${file}`);
  const { text, invalidUtf8 } = readUtf8File(path);
  if (text.trimStart().startsWith('[')) {
    if (invalidUtf8.length) readUtf8Strict(path, what); // throws: a JSON array cannot skip a line
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (e) {
      throw new Error(`${what} ${file} starts with '[' but is not a valid JSON array: ${oneLine((e as Error).message)}`);
    }
    if (!Array.isArray(arr)) throw new Error(`${what} ${file} is not a JSON array`);
    return { file, format: 'json-array', records: arr.map((value, i) => ({ line: i + 1, value })), invalidJson: [] };
  }
  const records: SourceRecord[] = [];
  const invalidJson: { line: number; reason: string }[] = [];
  const notUtf8 = new Map(invalidUtf8.map((u) => [u.line, u.reason]));
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const bad = notUtf8.get(i + 1);
    if (bad) invalidJson.push({ line: i + 1, reason: bad });
    if (line.trim() === '') return;
    try {
      records.push({ line: i + 1, value: JSON.parse(line) });
    } catch (e) {
      invalidJson.push({ line: i + 1, reason: `invalid JSON (${oneLine((e as Error).message)})` });
    }
  });
  return { file, format: 'jsonl', records, invalidJson };
}

/** Write `rows` as JSONL (one `JSON.stringify` per line), creating the folder. */
export function writeJsonl(path: string, rows: readonly unknown[]): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  // atomically: a kill during the write leaves the previous file (or none), never a torn one
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  renameSync(tmp, path);
}

/** First line of a message, shortened: errors and reasons stay one line. */
export function oneLine(s: string, max = 120): string {
  const first = s.split(/\r?\n/)[0];
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}

/** `null`, `array` or the `typeof`, for "must be a string, got array". */
export function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A counted skip report: `skipped[reason]` counts every skip, `examples` lists the first `MAX_EXAMPLES` by line. */
export class SkipCounter<R extends string> {
  readonly skipped: Record<R, number>;
  readonly examples: { line: number; reason: string }[] = [];

  constructor(reasons: readonly R[]) {
    this.skipped = Object.fromEntries(reasons.map((r) => [r, 0])) as Record<R, number>;
  }

  add(kind: R, line: number, reason: string): void {
    this.skipped[kind]++;
    if (this.examples.length < MAX_EXAMPLES) this.examples.push({ line, reason });
  }

  get total(): number {
    return (Object.values(this.skipped) as number[]).reduce((a, b) => a + b, 0);
  }
}

/** "3 skipped: 2 invalidJson, 1 empty (line 4: empty chosen; line 9: …)" or "" when nothing was skipped. */
export function formatSkips(skipped: Record<string, number>, examples: readonly { line: number; reason: string }[], unit = 'line'): string {
  const total = Object.values(skipped).reduce((a, b) => a + b, 0);
  if (!total) return '';
  const counts = Object.entries(skipped).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ');
  const ex = examples.slice(0, 3).map((e) => `${unit} ${e.line}: ${e.reason}`).join('; ');
  return `${total} skipped: ${counts}${ex ? ` (${ex}${total > Math.min(3, examples.length) ? '; …' : ''})` : ''}`;
}
