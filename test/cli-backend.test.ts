/**
 * The CLI honours IPO_TF_BACKEND (issue 10: the `--backend` default used to override it): the variable picks the
 * TensorFlow.js backend when the flag is absent, the flag wins when given, and both backends give the same numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

function ipo(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/ipo.mjs', ...args], { encoding: 'utf8', env: { ...process.env, IPO_OFFLINE: '1', IPO_CACHE: '0', IPO_PROGRESS: '0', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('IPO_TF_BACKEND is honoured without --backend, --backend wins over it, cpu and wasm agree', () => {
  const bad = ipo({ IPO_TF_BACKEND: 'gpu' }, 'logprob', '--text', 'Lily saw a big dog.', '--json');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown TensorFlow\.js backend 'gpu': use wasm or cpu/);
  const flag = ipo({ IPO_TF_BACKEND: 'gpu' }, 'logprob', '--text', 'Lily saw a big dog.', '--json', '--backend', 'wasm');
  assert.equal(flag.code, 0, flag.stderr);
  const cpu = ipo({ IPO_TF_BACKEND: 'cpu' }, 'logprob', '--text', 'Lily saw a big dog.', '--json');
  assert.equal(cpu.code, 0, cpu.stderr);
  const a = JSON.parse(flag.stdout);
  const b = JSON.parse(cpu.stdout);
  assert.equal(a.tokens, 6);
  assert.ok(Math.abs(a.logprob - b.logprob) < 1e-3, `wasm ${a.logprob} vs cpu ${b.logprob}`);
});
