/**
 * Where the kit finds things. Data and model files are never copied into the repo: they are read from
 * `$IPO_ASSETS` first, then `../shared/assets` beside the repo, and (models, datasets) the Hugging Face hub cache.
 * Paths are resolved from the repo root found by walking up from `process.cwd()` (notebooks run there; no
 * `import.meta`, which tslab's CJS transpile cannot take).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { homedir } from 'node:os';

export const PACKAGE_NAME = 'ipo-notebook-kit';

let cachedRoot: string | null = null;

/**
 * The kit's root folder: `$IPO_KIT_ROOT` (set by the `ipo` launcher), else the folder whose package.json is named
 * `ipo-notebook-kit` at or above the cwd, else the cwd.
 */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  if (process.env.IPO_KIT_ROOT) return (cachedRoot = resolve(process.env.IPO_KIT_ROOT));
  let dir = resolve(process.cwd());
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === PACKAGE_NAME) return (cachedRoot = dir);
      } catch {
        /* unreadable package.json: keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return (cachedRoot = resolve(process.cwd()));
    dir = up;
  }
}

/** Candidate asset roots in priority order, with where each came from (for error messages). */
export function assetRoots(): { path: string; from: string }[] {
  const roots: { path: string; from: string }[] = [];
  if (process.env.IPO_ASSETS) roots.push({ path: resolve(process.env.IPO_ASSETS), from: '$IPO_ASSETS' });
  roots.push({ path: resolve(repoRoot(), '..', 'shared', 'assets'), from: '../shared/assets' });
  return roots;
}

/** A missing data/model file: one line saying what was looked for and where. */
export class AssetNotFoundError extends Error {
  constructor(what: string, looked: string[], hint = 'set IPO_ASSETS to the folder holding the shared assets') {
    super(`${what} not found: looked in ${looked.join(', ')}${hint ? ` (${hint})` : ''}`);
    this.name = 'AssetNotFoundError';
  }
}

/** Absolute path of `rel` (e.g. `rm-bench/chat_filtered.json`) under the first asset root that has it. */
export function findAsset(rel: string): string {
  const looked: string[] = [];
  for (const root of assetRoots()) {
    const p = join(root.path, rel);
    if (existsSync(p)) return p;
    looked.push(p);
  }
  throw new AssetNotFoundError(`asset '${rel}'`, looked);
}

/** Hugging Face hub cache folder, as huggingface_hub computes it. */
export function hubCacheDir(): string {
  if (process.env.HF_HUB_CACHE) return resolve(process.env.HF_HUB_CACHE);
  if (process.env.HF_HOME) return resolve(process.env.HF_HOME, 'hub');
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface', 'hub');
}

/** The kit's own cache (scores, generations); `IPO_CACHE_DIR` overrides `<repo>/.cache`. */
export function kitCacheDir(): string {
  return resolve(process.env.IPO_CACHE_DIR ?? join(repoRoot(), '.cache'));
}

/**
 * A path as the kit prints it: relative to the repo root when inside it or beside it (`../shared/...`), else the
 * file name only (a temp folder's absolute path says nothing useful and must not end up in committed output).
 * A relative path or a reference that is not a path (a hub id, a shared model name) is returned as given.
 */
export function displayPath(p: string): string {
  if (!isAbsolute(p)) return p;
  const abs = resolve(p);
  const rel = relative(repoRoot(), abs);
  if (!rel.startsWith('../..') && !isAbsolute(rel)) return rel || '.';
  return basename(abs);
}

/**
 * Fail BEFORE a long run when its output file cannot be written (issue 11: `--results` on an unwritable path used to
 * fail after the whole run): creates the parent folders, opens the file for appending (which creates nothing new when
 * it exists) and removes it again if this call created it. Throws one line naming the path and the OS error code.
 */
export function assertWritableFile(file: string, what = 'output file'): void {
  const existed = existsSync(file);
  try {
    mkdirSync(dirname(file), { recursive: true });
    closeSync(openSync(file, 'a'));
    if (!existed) rmSync(file, { force: true });
  } catch (e) {
    throw new Error(`${what} ${displayPath(file)} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * The folder counterpart of `assertWritableFile`, for commands whose output is a folder (`ipo sft/dpo/self-improve
 * --out`, `export-pairs`, `toy-world`): creates it (it would be created anyway) and writes and removes a probe file, so
 * an unwritable place fails in one line before a training run, not after it.
 */
export function assertWritableDir(dir: string, what = 'output folder'): void {
  const probe = join(dir, `.ipo-write-probe-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    closeSync(openSync(probe, 'w'));
    rmSync(probe, { force: true });
  } catch (e) {
    throw new Error(`${what} ${displayPath(dir)} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
