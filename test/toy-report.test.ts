/**
 * The toy world's tables, figure and verdict (lib/report/toy-world.ts) on hand-made results: every number shown comes
 * from the result, the bars' error bars are the intervals, and the verdict's wording follows the numbers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pYesHistogram, toyAfterFigure, toyAfterRows, toyClassifierRows, toyRunSummaries, toyVerdict } from '../lib/report/toy-world.ts';
import type { ToyRunResult, ToyWorldResult } from '../lib/toy/experiment.ts';

const run = (acc: number, extra: Partial<ToyRunResult> = {}): ToyRunResult => ({
  taskAccuracy: acc, ci: [acc - 0.03, acc + 0.03], pairs: 100, pairPrecision: 0.9, chosenCorrect: 0.8, dropped: {}, evalRewardAccuracy: 0.7,
  curves: { history: [{ step: 1, loss: 0.69, 'rewards/margins': 0.01, 'rewards/accuracies': 0.5 }], evals: [{ step: 0, 'eval_loss': 0.69 }] }, byRound: [], ...extra,
});

function result(o: { judge?: number; before?: number; ipo?: number } = {}): ToyWorldResult {
  const judge = o.judge ?? 0.99;
  const before = o.before ?? 0.6;
  const ipo = o.ipo ?? 0.85;
  const iv = (a: number) => ({ accuracy: a, n: 400, ci: [a - 0.02, Math.min(1, a + 0.02)] as [number, number] });
  return {
    task: { name: 'max', description: 'd', template: 't', sizes: { train: 6000, dpo: 2000, dev: 500, test: 1500 }, used: { dpo: 1000, dev: 100, test: 400 }, worldSeed: 3 },
    model: { dir: '.cache/toy-world/sft', parameters: 94080, sftSteps: 600 },
    classifier: { ...iv(judge), presets: { paper: iv(judge), exact: iv(judge) }, random: iv(0.5), rubric: { applicable: false, reason: 'no rubric' }, binary: { applicable: false, reason: 'no binary' } },
    before: { taskAccuracy: before, n: 400, ci: [before - 0.05, before + 0.05] },
    after: {
      ipo: { taskAccuracy: ipo, ci: [ipo - 0.03, ipo + 0.03], perSeed: [ipo - 0.01, ipo + 0.01], byRound: [ipo] },
      oracle: { taskAccuracy: 0.9, ci: [0.87, 0.93], perSeed: [0.9, 0.9], byRound: [0.9] },
      random: { taskAccuracy: 0.61, ci: [0.56, 0.66], perSeed: [0.6, 0.62], byRound: [0.61] },
    },
    seeds: [
      { seed: 1, ipo: run(ipo - 0.01, { pairs: 381 }), oracle: run(0.9, { pairPrecision: 1, chosenCorrect: 1 }), random: run(0.6) },
      { seed: 2, ipo: run(ipo + 0.01, { pairs: 388 }), oracle: run(0.9, { pairPrecision: 1, chosenCorrect: 1 }), random: run(0.62, { pairPrecision: null }) },
    ],
  };
}

test('toy classifier rows: both presets and random from the result; rubric and binary say why they are absent', () => {
  const rows = toyClassifierRows(result({ judge: 0.97 }));
  assert.deepEqual(rows.map((r) => r.judge), ['IPO P(Yes), paper preset', 'IPO P(Yes), exact preset', 'random', 'rubric (self-reward)', 'binary (Response 1/2)']);
  assert.equal(rows[0]['pairwise accuracy'], 0.97);
  assert.equal(rows[0]['95% CI'], '[0.950, 0.990]');
  assert.equal(rows[2]['pairwise accuracy'], 0.5);
  assert.equal(rows[3]['pairwise accuracy'], null);
  assert.match(String(rows[3].note), /not applicable: no rubric/);
  assert.match(String(rows[4].note), /not applicable: no binary/);
});

test('toy after rows: before first, then each source with per-seed values and means over seeds (nulls skipped)', () => {
  const rows = toyAfterRows(result());
  assert.deepEqual(rows.map((r) => r.pairs), ['before (SFT model)', 'IPO (own P(Yes))', 'oracle (checker)', 'random']);
  assert.equal(rows[0]['task accuracy'], 0.6);
  assert.equal(rows[1]['per seed'], '0.840 / 0.860');
  assert.equal(rows[1]['pairs per seed'], 385); // (381 + 388) / 2 = 384.5, rounded
  assert.equal(rows[2].precision, 1);
  assert.equal(rows[3].precision, 0.9); // seed 2 has no differing pair: only seed 1 counts
});

test('toy after figure: one bar per row, heights in %, asymmetric error bars = the intervals, a dashed line at the start', () => {
  const r = result({ before: 0.6, ipo: 0.85 });
  const f = toyAfterFigure(r);
  const bar = f.data[0] as { x: string[]; y: number[]; error_y: { array: number[]; arrayminus: number[] } };
  assert.deepEqual(bar.y, [60, 85, 90, 61]);
  assert.deepEqual(bar.error_y.array.map((x) => Math.round(x * 10) / 10), [5, 3, 3, 5]);
  assert.deepEqual(bar.error_y.arrayminus.map((x) => Math.round(x * 10) / 10), [5, 3, 3, 5]);
  const line = (f.layout!.shapes as { y0: number }[])[0];
  assert.equal(line.y0, 60);
});

test('P(Yes) histogram: two overlaid traces on [0, 1], counts in the legend', () => {
  const f = pYesHistogram([0.9, 0.95, 0.99], [0.1]);
  assert.equal(f.data.length, 2);
  assert.deepEqual((f.data as { name: string }[]).map((d) => d.name), ['right answers (3)', 'wrong answers (1)']);
  assert.equal(f.layout!.barmode, 'overlay');
});

test('toy run summaries: one per source for a seed, with its curves; a missing seed is a one-line error', () => {
  const s = toyRunSummaries(result(), 2);
  assert.deepEqual(s.map((x) => x.label), ['ipo', 'oracle', 'random']);
  assert.equal(s[0].pairs, 388);
  assert.equal(s[0].history[0].loss, 0.69);
  assert.throws(() => toyRunSummaries(result(), 7), /no seed 7 in this result \(seeds: 1, 2\)/);
});

test('toy verdict: follows the numbers — a judge above or at chance, an IPO gain or none', () => {
  const good = toyVerdict(result({ judge: 0.99, before: 0.6, ipo: 0.85 }));
  assert.match(good, /it is a preference classifier here/);
  assert.match(good, /IPO \(own P\(Yes\)\) 0\.850 \(\+0\.250, intervals apart\)/);
  assert.match(good, /random 0\.610 \(\+0\.010, intervals overlap\)/);
  assert.doesNotMatch(good, /not in this run/);
  assert.match(good, /94,080-parameter/);
  const bad = toyVerdict(result({ judge: 0.5, before: 0.6, ipo: 0.58 }));
  assert.match(bad, /no better than chance, so the judge did not emerge/);
  assert.match(bad, /IPO \(own P\(Yes\)\) 0\.580 \(-0\.020, intervals overlap\)/);
  assert.match(bad, /improve it \(not in this run\)/);
  assert.match(bad, /What it does not show/);
});
