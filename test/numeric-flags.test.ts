/**
 * Issue 11 (docs/robustness.md): every numeric flag of every `ipo` command rejects a non-number with one line naming
 * the flag. The flags are read from each command's `--help` (placeholders <n> <k> <p> <s> <t> <x>, the kit's
 * convention for numbers), so a flag added later without a parser fails here instead of passing NaN into a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ipo, type CliResult } from './helpers/cli.ts';

const NUMERIC = /^\s+(?:-\w, )?(--[a-z0-9-]+) <(n|k|p|s|t|x)>\s+(.*)$/;

/** `ipo <args>` asynchronously (so several run at once), killed after `ms` (a flag that accepted 'abc' may start a job). */
function ipoAsync(args: string[], ms = 30_000): Promise<CliResult & { killed: boolean }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['bin/ipo.mjs', ...args], { env: { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0' } });
    let stdout = '', stderr = '', killed = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, ms);
    child.on('close', (code) => { clearTimeout(timer); done({ code, stdout, stderr, killed }); });
  });
}

test('every numeric flag of every command: a non-number is one line naming the flag, before anything runs', async () => {
  const commands = [...ipo('--help').stdout.matchAll(/^ {2}([a-z][a-z-]+) \[options\]/gm)].map((m) => m[1]);
  assert.ok(commands.length >= 15, `commands found in ipo --help: ${commands.join(', ')}`);
  // one case per (flag, help text): the shared options (api engine, seed, batch size) are checked once, a flag that
  // two commands define differently is checked in both
  const cases = new Map<string, { command: string; flag: string }>();
  const helps = await Promise.all(commands.map((c) => ipoAsync([c, '--help'])));
  commands.forEach((command, i) => {
    assert.equal(helps[i].code, 0, `ipo ${command} --help: ${helps[i].stderr}`);
    // commander wraps long descriptions onto indented lines; the first line of each option is enough to tell them apart
    for (const line of helps[i].stdout.split('\n')) {
      const m = NUMERIC.exec(line);
      if (m && !cases.has(`${m[1]}|${m[3]}`)) cases.set(`${m[1]}|${m[3]}`, { command, flag: m[1] });
    }
  });
  assert.ok(cases.size >= 30, `only ${cases.size} numeric flags found: is the placeholder convention still <n>/<x>/…?`);
  const failures: string[] = [];
  const list = [...cases.values()];
  for (let i = 0; i < list.length; i += 3) {
    const batch = list.slice(i, i + 3);
    const results = await Promise.all(batch.map(({ command, flag }) => ipoAsync([command, flag, 'abc'])));
    batch.forEach(({ command, flag }, j) => {
      const r = results[j];
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      const ok = !r.killed && r.code !== 0 && lines.length === 1 && lines[0].includes(`${flag} must be`) && lines[0].includes("'abc'") && r.stdout === '';
      if (!ok) failures.push(`ipo ${command} ${flag} abc → exit ${r.code}${r.killed ? ' (still running after 30 s: the value was accepted)' : ''}: ${r.stderr.slice(0, 200)}`);
    });
  }
  assert.deepEqual(failures, [], `numeric flags that do not reject 'abc' in one line:\n${failures.join('\n')}`);
});
