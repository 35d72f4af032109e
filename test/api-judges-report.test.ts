/** Notebook 07's tables, figure and verdict (lib/report/api-judges.ts) on hand-made RewardBench reports. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiJudgeFigure, apiJudgeRows, apiJudgesVerdict, type ApiJudgeRun } from '../lib/report/api-judges.ts';
import type { RewardBenchReport } from '../lib/eval/rewardbench-score.ts';

const report = (cats: Record<string, number | null>, avg: number | null, n = 16): RewardBenchReport => ({
  tiePolicy: 'wrong', n, ties: 2, overall: 0.5, subsets: {}, unknownSubsets: [],
  leaderboard: { sections: { Chat: 0, 'Chat Hard': 0, Safety: 0, Reasoning: 0 }, present: [], score: 0, scorePresent: null },
  paper: { plain: { weighting: 'plain', categories: cats, present: [], average: avg, complete: false } } as unknown as RewardBenchReport['paper'],
} as unknown as RewardBenchReport);

const runs: ApiJudgeRun[] = [
  { method: 'ipo', mode: 'faithful', report: report({ Chat: 0.5, Code: 0.25, Math: null, Safety: 0.75 }, 0.5), summary: 's1' },
  { method: 'binary', mode: 'fixed', report: report({ Chat: 0.6, Code: 0.7, Math: null, Safety: 0.8 }, 0.7), summary: 's2', failedRequests: 3 },
];

test('api judge rows: the paper columns in %, null when absent, with the summary', () => {
  const rows = apiJudgeRows(runs);
  assert.deepEqual(rows[0], { judge: 'ipo', mode: 'faithful', Chat: 50, Code: 25, Math: null, Safety: 75, Avg: 50, pairs: 16, ties: 2, notes: 's1' });
  assert.equal(rows[1].Avg, 70);
});

test('api judge figure: one bar trace per run over the four columns and Avg', () => {
  const f = apiJudgeFigure(runs);
  assert.equal(f.data.length, 2);
  const t = f.data[1] as { x: string[]; y: (number | null)[]; name: string };
  assert.deepEqual(t.x, ['Chat', 'Code', 'Math', 'Safety', 'Avg']);
  assert.deepEqual(t.y, [60, 70, null, 80, 70]);
  assert.equal(t.name, 'binary (fixed)');
});

test('api judges verdict: names the best run, the failures, and says when the model cannot judge or the slice is tiny', () => {
  const v = apiJudgesVerdict(runs, { model: 'tinystories-656k', instructionModel: false });
  assert.match(v, /the best is binary \(fixed\)/);
  assert.match(v, /binary \(fixed\) 3/);
  assert.match(v, /not an instruction model/);
  assert.match(v, /With 16 pairs per run/);
  const big = apiJudgesVerdict([{ ...runs[0], report: report({ Chat: 0.9, Code: 0.9, Math: 0.9, Safety: 0.9 }, 0.9, 500) }], { model: 'gpt', instructionModel: true });
  assert.doesNotMatch(big, /not an instruction model|noise|failed request/);
  const tie = apiJudgesVerdict([runs[0], { ...runs[1], report: runs[0].report }], { model: 'm', instructionModel: false });
  assert.match(tie, /every run has the same average/);
  assert.doesNotMatch(v, /at least half the requests failed/, 'no request counts given: no claim');
  const failing = apiJudgesVerdict([{ ...runs[0], requests: 10, failedRequests: 5 }, { ...runs[1], requests: 10, failedRequests: 4 }], { model: 'm', instructionModel: true });
  assert.match(failing, new RegExp(`In ${runs[0].method} \\(${runs[0].mode}\\) at least half the requests failed`));
  assert.match(apiJudgesVerdict([{ ...runs[0], report: report({ Chat: null, Code: null, Math: null, Safety: null }, null) }], { model: 'm', instructionModel: true }), /No run produced a score/);
});
