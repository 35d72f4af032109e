import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const cacheDir = mkdtempSync(join(tmpdir(), 'ipo-bench-cli-'));
function ipo(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/ipo.mjs', ...args], { encoding: 'utf8', env: { ...process.env, IPO_OFFLINE: '1', IPO_CACHE_DIR: cacheDir, IPO_PROGRESS: '0' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// allenai/reward-bench rewardbench/constants.py (05a9005e), written out here independently of lib/eval.
const COUNTS: Record<string, number> = {
  'alpacaeval-easy': 100, 'alpacaeval-length': 95, 'alpacaeval-hard': 95, 'mt-bench-easy': 28, 'mt-bench-med': 40, 'mt-bench-hard': 37,
  'math-prm': 984, 'refusals-dangerous': 100, 'refusals-offensive': 100, 'llmbar-natural': 100, 'llmbar-adver-neighbor': 134,
  'llmbar-adver-GPTInst': 92, 'llmbar-adver-GPTOut': 47, 'llmbar-adver-manual': 46, 'xstest-should-refuse': 154,
  'xstest-should-respond': 250, 'donotanswer': 136, 'hep-cpp': 164, 'hep-go': 164, 'hep-java': 164, 'hep-js': 164, 'hep-python': 164, 'hep-rust': 164,
};
const SECTIONS: Record<string, string[]> = {
  Chat: ['alpacaeval-easy', 'alpacaeval-length', 'alpacaeval-hard', 'mt-bench-easy', 'mt-bench-med'],
  'Chat Hard': ['mt-bench-hard', 'llmbar-natural', 'llmbar-adver-neighbor', 'llmbar-adver-GPTInst', 'llmbar-adver-GPTOut', 'llmbar-adver-manual'],
  Safety: ['refusals-dangerous', 'refusals-offensive', 'xstest-should-refuse', 'xstest-should-respond', 'donotanswer'],
  Reasoning: ['math-prm', 'hep-cpp', 'hep-go', 'hep-java', 'hep-js', 'hep-python', 'hep-rust'],
};

test('ipo rewardbench --source rebuilt --limit-per-subset 3 --json: sections are the EXAMPLE_COUNTS weighting of its own subset accuracies', () => {
  const resultsFile = join(cacheDir, 'results', 'tiny.json');
  const r = ipo('rewardbench', '--source', 'rebuilt', '--limit-per-subset', '3', '--json', '--results', resultsFile);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.source, 'rebuilt');
  assert.match(out.model, /tinystories-656k$/);
  assert.equal(Object.keys(out.subsets).length, 16);
  for (const [name, s] of Object.entries<{ accuracy: number; n: number; correct: number }>(out.subsets)) {
    assert.equal(s.n, 3, name);
    assert.equal(s.accuracy, s.correct / s.n);
    assert.ok(s.accuracy >= 0 && s.accuracy <= 1);
  }
  for (const [section, subsets] of Object.entries(SECTIONS)) {
    const present = subsets.filter((s) => s in out.subsets);
    const expected = present.length ? present.reduce((a, s) => a + out.subsets[s].accuracy * COUNTS[s], 0) / present.reduce((a, s) => a + COUNTS[s], 0) : 0;
    assert.ok(Math.abs(out.sections[section] - expected) < 1e-12, `${section}: ${out.sections[section]} vs ${expected}`);
  }
  const meanSections = Object.values<number>(out.sections).reduce((a, b) => a + b, 0) / 4;
  assert.ok(Math.abs(out.score - meanSections) < 1e-12);
  assert.deepEqual(out.missingSubsets.sort(), ['donotanswer', 'math-prm', 'mt-bench-easy', 'mt-bench-hard', 'mt-bench-med', 'refusals-dangerous', 'refusals-offensive']);
  assert.equal(out.categories.Math, null);
  // the reward-bench results file: flat subset accuracies
  const file = JSON.parse(readFileSync(resultsFile, 'utf8'));
  assert.equal(file['llmbar-natural'], out.subsets['llmbar-natural'].accuracy);
  // a rerun is served from the cache and prints the same numbers
  const again = ipo('rewardbench', '--source', 'rebuilt', '--limit-per-subset', '3', '--json');
  assert.deepEqual(JSON.parse(again.stdout).subsets, out.subsets);
});

test('ipo rmbench --json: grid, difficulty means and the IPO diagonal', () => {
  const r = ipo('rmbench', '--limit-per-domain', '2', '--domains', 'chat,safety-refuse,safety-response', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(out.domains).sort(), ['chat', 'safety']);
  assert.equal(out.domains.safety.n, 4); // safety-refuse + safety-response pooled, 2 each
  for (const d of Object.values<{ easy: number; normal: number; hard: number; avg: number }>(out.domains)) {
    for (const v of [d.easy, d.normal, d.hard]) assert.ok(v >= 0 && v <= 1);
    assert.ok(Math.abs(d.avg - (d.easy + d.normal + d.hard) / 3) < 1e-12);
  }
  assert.ok(Math.abs(out.normal - (out.domains.chat.normal + out.domains.safety.normal) / 2) < 1e-12);
  assert.deepEqual(out.missingDomains.sort(), ['code', 'math']);
  // diagonal in %, per data file: level_i is M[i][i] of that file's grid, so its mean is 100 × normal
  for (const f of ['chat', 'safety-refuse', 'safety-response']) {
    const lv = out.diagonal[`RM-Bench-${f}`];
    const mean = (lv.level_1 + lv.level_2 + lv.level_3) / 3;
    assert.ok(Math.abs(mean - 100 * out.perFile[f].normal) < 1e-9, f);
  }
  // 95% intervals from the stratified bootstrap: they bracket the point estimates
  const iv = out.intervals;
  assert.deepEqual([iv.level, iv.iterations, iv.seed], [0.95, 1000, 42]);
  for (const [k, est] of [['overall', out.overall], ['easy', out.easy], ['normal', out.normal], ['hard', out.hard]] as const) {
    assert.ok(iv[k][0] <= est + 1e-12 && est <= iv[k][1] + 1e-12, `${k}: ${est} outside ${iv[k]}`);
  }
  assert.ok(iv.domains.chat[0] <= out.domains.chat.avg && out.domains.chat.avg <= iv.domains.chat[1]);
  const text = ipo('rmbench', '--limit-per-domain', '2', '--domains', 'chat', '--no-record');
  assert.match(text.stdout, /^overall 95% CI \[\d+\.\d, \d+\.\d\] \(items resampled within domains, 1000 replicates\)$/m);
  const one = ipo('rmbench', '--limit-per-domain', '1', '--domains', 'chat', '--no-record');
  assert.match(one.stdout, /^95% CI: n\/a \(a domain has 1 item\(s\)/m);
});

test('benchmark commands reject bad input with one line', () => {
  const cases: [string[], RegExp][] = [
    [['rewardbench', '--source', 'filtered', '--limit-per-subset', '1'], /allenai\/reward-bench.*rebuilt/],
    [['rewardbench', '--source', '/no/such/file.jsonl'], /\/no\/such\/file\.jsonl/],
    [['rewardbench', '--method', 'vibes'], /'vibes' is invalid/],
    [['rmbench', '--domains', 'chat,poetry'], /unknown RM-Bench domain 'poetry'/],
    [['rmbench', '--domains', 'math'], /math/],
  ];
  for (const [args, re] of cases) {
    const r = ipo(...args);
    assert.notEqual(r.code, 0, args.join(' '));
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    assert.equal(lines.length, 1, `${args.join(' ')}:\n${r.stderr}`);
    assert.match(lines[0], re);
  }
});

test('ipo rewardbench runs every baseline method: rm (random-weight BERT), self-reward, binary', async () => {
  const { makeRandomRewardModel } = await import('../lib/models/make-reward-model.ts');
  const rmDir = join(cacheDir, 'rm');
  makeRandomRewardModel({ outDir: rmDir, seed: 3 });
  const subsets = (out: { subsets: Record<string, { n: number }> }) => Object.values(out.subsets).reduce((a, s) => a + s.n, 0);
  for (const mode of ['faithful', 'fixed']) {
    const r = ipo('rewardbench', '--method', 'rm', '--model', rmDir, '--mode', mode, '--source', 'rebuilt', '--limit-per-subset', '1', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.method, 'rm');
    assert.equal(out.settings.mode, mode);
    assert.equal(subsets(out), 16);
  }
  for (const method of ['self-reward', 'binary']) {
    const r = ipo('rewardbench', '--method', method, '--source', 'rebuilt', '--limit-per-subset', '1', '--max-new-tokens', '4', '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.method, method);
    assert.equal(subsets(out), 16);
    assert.ok(out.score >= 0 && out.score <= 1);
  }
  // a reward model is not a causal LM and vice versa
  const wrong = ipo('rewardbench', '--method', 'ipo', '--model', rmDir, '--source', 'rebuilt', '--limit-per-subset', '1');
  assert.notEqual(wrong.code, 0);
  assert.equal(wrong.stderr.split('\n').filter((l) => l.trim()).length, 1);
});
