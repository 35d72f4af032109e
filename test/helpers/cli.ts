/** Running the `ipo` CLI the way a user does, and checking its one-line errors. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/ipo.mjs …` (what `npx ipo …` executes), offline, no progress bars. */
export function ipo(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, ['bin/ipo.mjs', ...args], { encoding: 'utf8', env: { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Start the CLI in the background (for kill-and-resume tests). */
export function ipoSpawn(...args: string[]) {
  return spawn(process.execPath, ['bin/ipo.mjs', ...args], { env: { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `--json` output: exit 0 and one JSON object on stdout. */
export function ipoJson<T = Record<string, unknown>>(...args: string[]): T {
  const r = ipo(...args, '--json');
  assert.equal(r.code, 0, `ipo ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A bad-input run: non-zero exit, exactly one line on stderr matching `re`, no stack trace. */
export function assertOneLineError(r: CliResult, re: RegExp): void {
  assert.notEqual(r.code, 0, 'expected a non-zero exit');
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stdout, '');
}
