/**
 * Content-addressed result cache for long loops (scoring, generation): each result is stored under the sha256 of
 * everything that determines it (model fingerprint, options, item), appended to a JSONL file as soon as it is
 * computed, with a checksum per line. A rerun is instant and a killed run resumes where it stopped; a torn or corrupt
 * line is dropped (one warning) and its key recomputed. Files live in `kitCacheDir()`
 * (`<repo>/.cache`, or `$IPO_CACHE_DIR`); `IPO_CACHE=0` disables reading and writing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { displayPath, kitCacheDir } from './paths';

/** JSON with object keys sorted at every level, so equal values always hash equally. */
export function stableStringify(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (ArrayBuffer.isView(value)) return stableStringify(Array.from(value as unknown as ArrayLike<number>));
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj).filter((k) => obj[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}

/** sha256 (hex) of the stable JSON of `parts`. */
export function contentHash(...parts: unknown[]): string {
  return createHash('sha256').update(stableStringify(parts)).digest('hex');
}

export function cacheEnabled(): boolean {
  return process.env.IPO_CACHE !== '0';
}

/** Short checksum of one cache entry: 16 hex digits of the sha256 of the stable JSON of `[key, value]`. */
export function entryChecksum(key: string, value: unknown): string {
  return createHash('sha256').update(stableStringify([key, value])).digest('hex').slice(0, 16);
}

/** Files whose corrupt entries were already reported by this process (the warning is printed once per file). */
const warned = new Set<string>();

export interface ResultCacheOptions {
  dir?: string;
  enabled?: boolean;
  /** Where the one-line warning about dropped entries goes (default: a line on stderr, as the CLI's `logLine`). */
  log?: (line: string) => void;
}

/**
 * A JSONL-backed map from content hash to result. Each line is `{"k": key, "h": checksum, "v": value}` (format v1;
 * lines without `h`, written before the checksum existed, are still read). On load, a line that does not parse, is
 * not an entry, or whose checksum does not match its value (a torn last line after a SIGKILL, a flipped byte) is
 * dropped: the loop computes that key again. The dropped lines are counted (`dropped`), reported in ONE line
 * (`cache <path>: dropped N corrupt entries; they will be recomputed`), and the file is rewritten without them
 * (temporary file + rename, so the repair itself cannot tear), so the warning is not repeated by the next run.
 * An append always starts on a fresh line, even when the file does not end with a newline.
 */
export class ResultCache<T> {
  readonly file: string;
  /** The file as printed: `<cache folder as displayPath prints it>/<name>.jsonl`. */
  readonly displayFile: string;
  /** Lines dropped at load (bad JSON, bad checksum, torn). */
  readonly dropped: number = 0;
  private map = new Map<string, T>();
  private readonly enabled: boolean;
  /** The file does not end with a newline: the next append must start one. */
  private needsNewline = false;

  /** `name` is a path under the cache folder, e.g. `scores/<model-fingerprint>`. */
  constructor(name: string, opts: ResultCacheOptions = {}) {
    this.enabled = opts.enabled ?? cacheEnabled();
    const dir = opts.dir ?? kitCacheDir();
    this.file = join(dir, `${name}.jsonl`);
    this.displayFile = `${displayPath(dir)}/${name}.jsonl`;
    if (!this.enabled || !existsSync(this.file)) return;
    const text = readFileSync(this.file, 'utf8');
    const kept: string[] = [];
    let dropped = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const entry = parseEntry<T>(line);
      if (!entry) {
        dropped++;
        continue;
      }
      this.map.set(entry.k, entry.v);
      kept.push(line);
    }
    this.dropped = dropped;
    this.needsNewline = text.length > 0 && !text.endsWith('\n');
    if (dropped === 0) return;
    if (!warned.has(this.file)) {
      warned.add(this.file);
      (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`cache ${this.displayFile}: dropped ${dropped} corrupt entr${dropped === 1 ? 'y' : 'ies'}; they will be recomputed`);
    }
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, kept.map((l) => `${l}\n`).join(''));
      renameSync(tmp, this.file);
      this.needsNewline = false;
    } catch {
      rmSync(tmp, { force: true }); // a read-only cache: the bad lines stay, they are dropped again at every load
    }
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): T | undefined {
    return this.enabled ? this.map.get(key) : undefined;
  }

  set(key: string, value: T): void {
    if (!this.enabled) return;
    this.map.set(key, value);
    const json = JSON.stringify(value);
    // the checksum is of the value as it will be read back (JSON turns NaN into null, drops undefined fields, …)
    const h = entryChecksum(key, json === undefined ? undefined : JSON.parse(json));
    mkdirSync(dirname(this.file), { recursive: true });
    const line = json === undefined ? `{"k":${JSON.stringify(key)},"h":"${h}"}` : `{"k":${JSON.stringify(key)},"h":"${h}","v":${json}}`;
    appendFileSync(this.file, `${this.needsNewline ? '\n' : ''}${line}\n`);
    this.needsNewline = false;
  }
}

/** One cache line as an entry, or null when it is not one (bad JSON, no string key, a checksum that does not match). */
function parseEntry<T>(line: string): { k: string; v: T } | null {
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    return null;
  }
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return null;
  const { k, v, h } = e as { k?: unknown; v?: T; h?: unknown };
  if (typeof k !== 'string') return null;
  if (h === undefined) return { k, v: v as T }; // a line written before checksums (format v0)
  if (typeof h !== 'string' || h !== entryChecksum(k, v)) return null;
  return { k, v: v as T };
}
