/**
 * The self-improvement report helpers (lib/report/self-improve.ts) that notebook 05 displays: response tables, pair
 * counts, post-training figure, the paper's DPO table beside ours, training curves and the verdict. Pure functions,
 * checked on hand-made inputs whose expected rows are written out here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildPairs, FAITHFUL_PAIR_OPTIONS, FIXED_PAIR_OPTIONS } from '../lib/pairs.ts';
import {
  pairCountsTable, paperDpoTable, postTrainingFigure, postValue, responseScoresTable, runsTable, RUN_COLORS, selfImproveVerdict, trainingCurves,
  trainingCurvesGrid, type RunSummary,
} from '../lib/report/self-improve.ts';

test('responseScoresTable: one row per response, scores rounded per judge, chosen/rejected marked, text clipped', () => {
  const rows = responseScoresTable(
    ['  Once upon a\n time  ', '', 'x'.repeat(50)],
    { 'P(Yes)': [0.41234, 0.5, Number.NaN], rubric: [0, 0, 0] },
    { pair: { chosenIndex: 1, rejectedIndex: 0 }, maxChars: 10, digits: 2 },
  );
  assert.deepEqual(rows[0], { '#': 1, response: 'Once upon…', 'P(Yes)': 0.41, rubric: 0, pair: 'rejected' });
  assert.deepEqual(rows[1], { '#': 2, response: '(empty)', 'P(Yes)': 0.5, rubric: 0, pair: 'chosen' });
  assert.equal(rows[2].response, `${'x'.repeat(9)}…`);
  assert.ok(Number.isNaN(rows[2]['P(Yes)'] as number), 'no verdict stays NaN');
  assert.equal(rows[2].pair, '');
  // a one-response prompt paired with itself (the official rule keeps it)
  assert.equal(responseScoresTable(['a'], { s: [1] }, { pair: { chosenIndex: 0, rejectedIndex: 0 } })[0].pair, 'chosen = rejected');
  assert.equal('pair' in responseScoresTable(['a'], { s: [1] })[0], false, 'no pair column without a pair');
  assert.throws(() => responseScoresTable(['a', 'b'], { s: [1] }), /^Error: responseScoresTable: 1 's' scores for 2 responses$/);
});

test('pairCountsTable: faithful keeps tied and identical pairs, fixed drops them, counted per reason', () => {
  const groups = [
    { id: 'a', prompt: 'p1', responses: [{ text: 'x', score: 0.9 }, { text: 'y', score: 0.1 }] },   // a real pair, margin 0.8
    { id: 'b', prompt: 'p2', responses: [{ text: 'x', score: 0.5 }, { text: 'y', score: 0.5 }] },   // all tied
    { id: 'c', prompt: 'p3', responses: [{ text: 'z', score: 0.7 }, { text: ' z ', score: 0.3 }] }, // identical after trim
  ];
  const [row] = pairCountsTable([{ judge: 'ipo', faithful: buildPairs(groups, FAITHFUL_PAIR_OPTIONS), fixed: buildPairs(groups, FIXED_PAIR_OPTIONS) }]);
  assert.deepEqual(row, {
    judge: 'ipo', prompts: 3, 'faithful pairs': 3, 'all scores tied': 1, 'chosen = rejected text': 1,
    'mean margin': 0.4, // (0.8 + 0 + 0.4) / 3
    'fixed pairs': 1, 'fixed drops': 'allTied 1, identicalTexts 1',
  });
  const none = pairCountsTable([{ judge: 'j', faithful: buildPairs([groups[0]]), fixed: buildPairs([groups[0]], FIXED_PAIR_OPTIONS) }])[0];
  assert.equal(none['fixed drops'], 'none');
});

test('postValue: keeps a finite interval, drops NaN bounds (fewer than 2 values)', () => {
  assert.deepEqual(postValue({ estimate: 0.5, lo: 0.2, hi: 0.8 }), { value: 0.5, lo: 0.2, hi: 0.8 });
  assert.deepEqual(postValue({ estimate: 1, lo: Number.NaN, hi: Number.NaN }), { value: 1 });
  assert.deepEqual(postValue({ estimate: 0.25 }), { value: 0.25 });
});

test('postTrainingFigure: one bar trace per run in %, in the run colours, asymmetric error bars, chance as a dashed line per column group', () => {
  const fig = postTrainingFigure([
    { label: 'ipo', post: { MMLU: { value: 0.25, lo: 0.1, hi: 0.5 }, win: { value: 0.5 } } },
    { label: 'random', post: { MMLU: null } },
  ], ['MMLU', 'win'], { chance: { win: 0.5 } });
  assert.equal(fig.data.length, 2);
  const [a, b] = fig.data as Record<string, any>[];
  assert.deepEqual(a.y, [25, 50]);
  assert.deepEqual(a.error_y.array, [25, null]);
  assert.deepEqual(a.error_y.arrayminus, [15, null]);
  assert.deepEqual(b.y, [null, null], 'a missing value is a gap, not 0');
  assert.deepEqual([a.marker.color, b.marker.color], [RUN_COLORS[0], RUN_COLORS[1]]);
  const shapes = fig.layout!.shapes as Record<string, any>[];
  assert.equal(shapes.length, 1, 'only the column with a chance level');
  assert.deepEqual([shapes[0].x0, shapes[0].x1, shapes[0].y0, shapes[0].y1], [0.55, 1.45, 50, 50], 'column 1 of the category axis, at 50%');
  assert.deepEqual(postTrainingFigure([{ label: 'x' }], ['MMLU']).layout!.shapes, []);
});

test('paperDpoTable: the published rows from data/paper-results.json, then ours with nulls for columns we did not run and a note', () => {
  const json = JSON.parse(readFileSync(new URL('../data/paper-results.json', import.meta.url), 'utf8'));
  const t = json.tables.dpoDownstream;
  const rows = paperDpoTable([{ method: 'IPO pairs', model: 'tinystories-656k', values: { MMLU: 24.5, AlpacaEval: 50 }, note: 'local win rate' }]);
  assert.equal(rows.length, t.rows.length + 1);
  const ipoRow = rows.find((r) => r.method === t.rows[0].method)!;
  for (const c of t.columns) assert.equal(ipoRow[c], t.rows[0].values[c] ?? null);
  assert.match(String(ipoRow.note), new RegExp(`^confidence ${t.rows[0].confidence}`));
  assert.equal(ipoRow.model, 'Mistral-7B-Instruct');
  const ours = rows[rows.length - 1];
  assert.deepEqual(ours, { source: 'this run', method: 'IPO pairs', model: 'tinystories-656k', BBH: null, 'ARC-Easy': null, AlpacaEval: 50, MMLU: 24.5, IFEval: null, Avg: null, note: 'local win rate' });
  assert.equal(paperDpoTable([{ method: 'm', model: 'x', values: {} }]).at(-1)!.note, '');
});

const run = (label: string, acc: number, post?: RunSummary['post']): RunSummary => ({
  label,
  pairs: 4,
  dropped: { allTied: 1 },
  history: [{ step: 1, epoch: 0.5, learning_rate: 1e-3, grad_norm: 1, loss: 0.69 }, { step: 2, epoch: 1, learning_rate: 0, grad_norm: 1, loss: 0.6 }],
  evals: [{ step: 0, eval_loss: 0.6931, 'eval_rewards/accuracies': 0 }, { step: 2, eval_loss: 0.65, 'eval_rewards/accuracies': acc, 'eval_rewards/margins': 0.1 }],
  ...(post ? { post } : {}),
});

test('trainingCurves and runsTable: train lines per run with eval markers; before → after per run', () => {
  const fig = trainingCurves([run('ipo', 1), run('random', 0)], 'loss');
  assert.equal(fig.data.length, 4, 'a train line and an eval marker trace per run');
  const [line, marks, line2] = fig.data as Record<string, any>[];
  assert.deepEqual([line.x, line.y], [[1, 2], [0.69, 0.6]]);
  assert.deepEqual([marks.x, marks.y], [[0, 2], [0.6931, 0.65]]);
  assert.equal(line.line.color, marks.marker.color, 'train line and eval points of a run share its colour');
  assert.notEqual(line.line.color, line2.line.color);
  // the grid: the same traces per metric on their own axes, one legend, panels side by side without overlap
  const grid = trainingCurvesGrid([run('ipo', 1), run('random', 0)], ['loss', 'rewards/accuracies']);
  const traces = grid.data as Record<string, any>[];
  assert.equal(traces.length, 8);
  assert.deepEqual(traces.map((t) => t.xaxis), ['x', 'x', 'x', 'x', 'x2', 'x2', 'x2', 'x2']);
  assert.deepEqual(traces.map((t) => t.showlegend), [true, true, true, true, false, false, false, false]);
  assert.deepEqual(traces[5].y, [0, 1], 'eval rewards/accuracies of run 1 on the second panel');
  const [d1, d2] = [(grid.layout as any).xaxis.domain, (grid.layout as any).xaxis2.domain];
  assert.ok(d1[0] === 0 && d1[1] < d2[0] && Math.abs(d2[1] - 1) < 1e-12, `domains ${d1} / ${d2}`);
  assert.deepEqual((grid.layout as any).annotations.map((a: any) => a.text), ['<b>loss</b>', '<b>rewards/accuracies</b>']);
  assert.throws(() => trainingCurvesGrid([], []), /^Error: trainingCurvesGrid: give at least one metric$/);
  const [row] = runsTable([run('ipo', 1, { MMLU: { value: 0.25, lo: 0.1, hi: 0.4 }, win: { value: 0.5 } })]);
  assert.equal(row['eval loss before'], 0.693);
  assert.equal(row['eval reward acc. after'], 1);
  assert.equal(row['dropped prompts'], 1);
  assert.equal(row.MMLU, '25.0 [10.0, 40.0]');
  assert.equal(row.win, '50.0');
});

test('selfImproveVerdict: names the model, each run\'s held-out accuracy, whether intervals separate, and the caveat for a non-instruction model', () => {
  const v = selfImproveVerdict([run('ipo', 1, { win: { value: 0.9, lo: 0.8, hi: 1 } }), run('random', 0.5, { win: { value: 0.3, lo: 0.1, hi: 0.5 } })],
    { model: 'tinystories-656k', instructionModel: false, column: 'win' });
  assert.match(v, /^\*\*tinystories-656k\*\*/);
  assert.match(v, /ipo 1\.00 \(4 pairs\), random 0\.50 \(4 pairs\)/);
  assert.match(v, /the 95% intervals do not overlap/);
  assert.match(v, /not an instruction model/);
  const overlap = selfImproveVerdict([run('a', 1, { win: { value: 0.6, lo: 0.3, hi: 0.9 } }), run('b', 1, { win: { value: 0.5, lo: 0.2, hi: 0.8 } })], { model: 'm', instructionModel: true, column: 'win' });
  assert.match(overlap, /intervals overlap/);
  assert.doesNotMatch(overlap, /not an instruction model/);
  assert.match(v, /ipo fits its pairs best here\./);
  assert.ok(v.indexOf('That accuracy measures') < v.indexOf('On win,'), 'the caveat follows the held-out accuracy it explains');
  const level = selfImproveVerdict([run('a', 1, { win: { value: 0.5 } }), run('b', 1, { win: { value: 0.5 } }), run('c', 1, { win: { value: 0.25 } })], { model: 'm', instructionModel: true, column: 'win' });
  assert.match(level, /On win, a and b tie at the top \(50\.0\)\./);
  assert.doesNotMatch(level, /leads/);
  assert.equal(selfImproveVerdict([], { model: 'm', instructionModel: true }), 'No run to compare.');
  // ties at the top are named together, never as one winner; held-out counts are shown and few pairs flagged
  const tied = selfImproveVerdict([{ ...run('a', 1), evalPairs: 2 }, { ...run('b', 1), evalPairs: 2 }, { ...run('c', 0), evalPairs: 2 }], { model: 'm', instructionModel: true });
  assert.match(tied, /a 1\.00 \(4 train \/ 2 held-out pairs\)/);
  assert.match(tied, /a and b fit their pairs equally well here \(on fewer than 10 held-out pairs/);
  assert.match(selfImproveVerdict([run('a', 1), run('b', 1)], { model: 'm', instructionModel: true }), /all runs fit their pairs equally well here\./);
});
