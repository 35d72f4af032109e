/** Running the `ipo` CLI the way a user does, and checking its one-line errors. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/** `ipoSpawn` with extra environment (e.g. the run's own `IPO_CACHE_DIR`). */
export function ipoSpawnEnv(env: NodeJS.ProcessEnv, ...args: string[]) {
  return spawn(process.execPath, ['bin/ipo.mjs', ...args], { env: { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Newline-terminated lines in `file` (0 while it does not exist): the rows a killed writer had finished. */
export function completeLines(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

/**
 * SIGKILL `child` as soon as `ready()` returns a number (polled every 10 ms); resolves with that number once the child
 * is dead. Rejects when the child exits on its own first (the point to kill at was never reached).
 */
export function killWhen(child: ChildProcess, ready: () => number | null): Promise<number> {
  return new Promise((resolve, reject) => {
    let at: number | null = null;
    const poll = setInterval(() => {
      const n = ready();
      if (n === null) return;
      at = n;
      clearInterval(poll);
      child.kill('SIGKILL');
    }, 10);
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      if (at !== null && signal === 'SIGKILL') resolve(at);
      else reject(new Error(`the run ended (code ${code}, signal ${signal}) before the point to kill it at`));
    });
  });
}

/** Pids of the live processes whose environment holds `name=value` (Linux `/proc`; a marker set for one run). */
export function pidsWithEnv(name: string, value: string): number[] {
  const want = `${name}=${value}`;
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'latin1').split('\0').includes(want) && !/\) Z /.test(readFileSync(`/proc/${d}/stat`, 'latin1'))) out.push(Number(d));
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
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
