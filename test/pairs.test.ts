/**
 * buildPairs on hand-written fixtures. The expected orders of the faithful rules were produced by CPython 3 itself
 * running the official lines (`DPO/ours.py`: `scored.sort(key=lambda x: x[1], reverse=True)` with x = (text, score);
 * `DPO/self_reward.py`: the same with x = (text, (score, judge_text))), and are pasted here as literals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FAITHFUL_PAIR_OPTIONS,
  FAITHFUL_SELF_REWARD_PAIR_OPTIONS,
  FIXED_PAIR_OPTIONS,
  buildPairs,
  compareCodePoints,
  type ScoredGroup,
} from '../lib/pairs.ts';

const g = (id: string, scores: number[], texts?: string[]): ScoredGroup => ({
  id,
  prompt: `prompt ${id}`,
  responses: scores.map((score, i) => ({ text: texts?.[i] ?? `${id}-r${i}`, score })),
});

test('faithful (DPO/ours.py): stable descending sort, chosen = first top, rejected = last bottom', () => {
  // Python: [('a',.5),('b',.9),('c',.9),('d',.1),('e',.1)] sorted → b, c, a, d, e
  const r = buildPairs([g('p', [0.5, 0.9, 0.9, 0.1, 0.1], ['a', 'b', 'c', 'd', 'e'])]);
  assert.equal(r.pairs.length, 1);
  const p = r.pairs[0];
  assert.deepEqual(p.order, [1, 2, 0, 3, 4]);
  assert.equal(p.chosen, 'b');
  assert.equal(p.rejected, 'e');
  assert.equal(p.chosenIndex, 1);
  assert.equal(p.rejectedIndex, 4);
  assert.equal(p.chosenScore, 0.9);
  assert.equal(p.rejectedScore, 0.1);
  assert.equal(p.margin, 0.9 - 0.1);
  assert.equal(p.prompt, 'prompt p');
  assert.equal(p.promptId, 'p');
  assert.equal(p.tied, false);
  assert.deepEqual(r.options, FAITHFUL_PAIR_OPTIONS);
});

test('faithful: all tied still pairs sample 1 with sample N; identical texts still pair', () => {
  // Python: four equal scores → a, b, c, d (original order)
  const r = buildPairs([g('tie', [0.5, 0.5, 0.5, 0.5]), g('same', [0.7, 0.2], ['Hello.', ' Hello. '])]);
  assert.equal(r.pairs.length, 2);
  assert.deepEqual(r.pairs[0].order, [0, 1, 2, 3]);
  assert.equal(r.pairs[0].chosenIndex, 0);
  assert.equal(r.pairs[0].rejectedIndex, 3);
  assert.equal(r.pairs[0].tied, true);
  assert.equal(r.pairs[0].margin, 0);
  assert.equal(r.pairs[1].chosen, 'Hello.');
  assert.equal(r.counts.tiedPairs, 1);
  assert.equal(r.counts.identicalPairs, 1);
  assert.deepEqual(r.dropped, { nanScores: 0, tooFewResponses: 0, allTied: 0, belowMargin: 0, chosenBelowMin: 0, identicalTexts: 0 });
  // one response: the official code pairs it with itself
  const one = buildPairs([g('one', [0.3])]);
  assert.equal(one.pairs[0].chosenIndex, 0);
  assert.equal(one.pairs[0].rejectedIndex, 0);
});

test('faithful rubric rule (DPO/self_reward.py, quirk 13): score ties broken by judge text, Python code-point order', () => {
  const judge = ['Judge: B', 'Judge: a', 'zzz', 'Judge: B', 'aaa', 'Judge: \u{1F600}', 'Judge: \uFF5E'];
  const scores = [4, 4, 2, 4, 2, 4, 4];
  const group: ScoredGroup = {
    id: 'rubric',
    prompt: 'q',
    responses: scores.map((score, i) => ({ text: `r${i}`, score, judgeText: judge[i] })),
  };
  // CPython: ['r5', 'r6', 'r1', 'r0', 'r3', 'r2', 'r4'] — U+1F600 > U+FF5E by code point (JS `<` on UTF-16 says the
  // opposite), 'a' > 'B', and the equal keys of r0 and r3 keep their order
  const r = buildPairs([group], FAITHFUL_SELF_REWARD_PAIR_OPTIONS);
  assert.deepEqual(r.pairs[0].order, [5, 6, 1, 0, 3, 2, 4]);
  assert.equal(r.pairs[0].chosen, 'r5');
  assert.equal(r.pairs[0].rejected, 'r4');
  assert.equal(r.pairs[0].chosenJudgeText, 'Judge: \u{1F600}');
  assert.equal(r.pairs[0].rejectedJudgeText, 'aaa');
  // the plain score rule on the same data: first of the 4s, last of the 2s
  const s = buildPairs([group]);
  assert.deepEqual(s.pairs[0].order, [0, 1, 3, 5, 6, 2, 4]);
  assert.throws(
    () => buildPairs([{ prompt: 'q', responses: [{ text: 'x', score: 1 }] }], FAITHFUL_SELF_REWARD_PAIR_OPTIONS),
    /needs judgeText on group 0 response 0/,
  );
});

test('compareCodePoints orders as Python str comparison', () => {
  assert.equal(compareCodePoints('a', 'b'), -1);
  assert.equal(compareCodePoints('B', 'a'), -1);
  assert.equal(compareCodePoints('ab', 'a'), 1);
  assert.equal(compareCodePoints('', ''), 0);
  assert.equal(compareCodePoints('\u{1F600}', '\uFF5E'), 1);
  assert.ok('\u{1F600}' < '\uFF5E'); // what JS would have done
});

test('non-finite scores are dropped and counted; too few valid responses drops the prompt', () => {
  const r = buildPairs([g('n', [NaN, 0.2, Infinity, 0.8]), g('allnan', [NaN, NaN]), g('empty', [])]);
  assert.equal(r.dropped.nanScores, 4); // NaN and Infinity in n, two NaN in allnan
  assert.equal(r.pairs.length, 1);
  assert.equal(r.pairs[0].chosenIndex, 3);
  assert.equal(r.pairs[0].rejectedIndex, 1);
  assert.equal(r.pairs[0].numResponses, 2);
  assert.equal(r.dropped.tooFewResponses, 2);
  assert.deepEqual(r.droppedPrompts, [
    { promptId: 'allnan', reason: 'tooFewResponses' },
    { promptId: 'empty', reason: 'tooFewResponses' },
  ]);
  assert.deepEqual(r.counts, { prompts: 3, responses: 6, validResponses: 2, pairs: 1, tiedPairs: 0, identicalPairs: 0 });
  // minResponses 2 (fixed): one valid response is not a pair
  const f = buildPairs([g('one', [NaN, 0.4])], { minResponses: 2 });
  assert.equal(f.pairs.length, 0);
  assert.equal(f.dropped.tooFewResponses, 1);
});

test('fixed rules: all-tied, minimum margin and identical texts are dropped, each counted once', () => {
  const groups = [
    g('ok', [0.9, 0.1, 0.5]),
    g('tied', [0.5, 0.5, 0.5]),
    g('close', [0.52, 0.5]),
    g('dup', [0.9, 0.1], ['  Same answer\n', 'Same answer']),
    g('dupmid', [0.9, 0.5, 0.1], ['X', 'Y', 'X']), // identical chosen/rejected though a different text exists
  ];
  const r = buildPairs(groups, { ...FIXED_PAIR_OPTIONS, minMargin: 0.05 });
  assert.deepEqual(r.pairs.map((p) => p.promptId), ['ok']);
  assert.deepEqual(r.dropped, { nanScores: 0, tooFewResponses: 0, allTied: 1, belowMargin: 1, chosenBelowMin: 0, identicalTexts: 2 });
  assert.deepEqual(r.droppedPrompts.map((d) => `${d.promptId}:${d.reason}`), ['tied:allTied', 'close:belowMargin', 'dup:identicalTexts', 'dupmid:identicalTexts']);
  // without dropAllTied, a positive minMargin drops the tied prompt as belowMargin
  const m = buildPairs(groups, { minMargin: 0.05 });
  assert.deepEqual(m.dropped, { nanScores: 0, tooFewResponses: 0, allTied: 0, belowMargin: 2, chosenBelowMin: 0, identicalTexts: 0 });
  assert.equal(m.counts.identicalPairs, 2);
  // margin is inclusive
  const edge = buildPairs([g('edge', [0.75, 0.25])], { minMargin: 0.5 });
  assert.equal(edge.pairs.length, 1);
  // the fixed preset with its default margin 0 keeps 'close'
  assert.deepEqual(buildPairs(groups, FIXED_PAIR_OPTIONS).pairs.map((p) => p.promptId), ['ok', 'close']);
});

test('minChosenScore drops prompts whose best response scores below it (inclusive), after the margin rule', () => {
  const groups = [g('good', [0.9, 0.1]), g('edge', [0.5, 0.2]), g('allBad', [0.4, 0.05]), g('close', [0.3, 0.29])];
  const r = buildPairs(groups, { ...FIXED_PAIR_OPTIONS, minMargin: 0.05, minChosenScore: 0.5 });
  assert.deepEqual(r.pairs.map((p) => p.promptId), ['good', 'edge']);
  assert.deepEqual(r.droppedPrompts.map((d) => `${d.promptId}:${d.reason}`), ['allBad:chosenBelowMin', 'close:belowMargin']);
  assert.equal(r.dropped.chosenBelowMin, 1);
  // the default keeps every prompt (official behaviour), and a NaN threshold is refused
  assert.equal(buildPairs(groups).pairs.length, 4);
  assert.throws(() => buildPairs(groups, { minChosenScore: Number.NaN }), /minChosenScore must be a number/);
});

test('works with any numeric oracle: negative reward-model scores, integer rubric scores', () => {
  const r = buildPairs([g('rm', [-3.2, 1.5, -0.1]), g('rubric', [3, 5, 1, 5])]);
  assert.equal(r.pairs[0].chosenIndex, 1);
  assert.equal(r.pairs[0].rejectedIndex, 0);
  assert.ok(Math.abs(r.pairs[0].margin - 4.7) < 1e-12);
  assert.equal(r.pairs[1].chosenIndex, 1); // first of the two 5s
  assert.equal(r.pairs[1].rejectedIndex, 2);
  assert.equal(r.pairs[1].margin, 4);
});

test('buildPairs rejects malformed input and options with one-line errors', () => {
  const bad: [() => unknown, RegExp][] = [
    [() => buildPairs('x' as never), /groups must be an array/],
    [() => buildPairs([{ prompt: 1, responses: [] } as never]), /group 0 needs a string prompt/],
    [() => buildPairs([{ id: 'k', prompt: 'p' } as never]), /group k needs a responses array/],
    [() => buildPairs([{ prompt: 'p', responses: [{ text: 'a', score: '0.5' }] } as never]), /response 0 has a non-numeric score \(string\)/],
    [() => buildPairs([{ prompt: 'p', responses: [{ score: 1 }] } as never]), /response 0 needs a string text/],
    [() => buildPairs([], { minMargin: -1 }), /minMargin must be a finite number >= 0/],
    [() => buildPairs([], { minResponses: 0 }), /minResponses must be an integer >= 1/],
    [() => buildPairs([], { sort: 'text' as never }), /unknown sort 'text'/],
  ];
  for (const [f, re] of bad) assert.throws(f, (e: Error) => re.test(e.message) && !e.message.includes('\n'), String(re));
});
