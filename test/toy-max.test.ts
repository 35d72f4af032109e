/**
 * The toy world's default task (lib/toy/max.ts): questions, checker, trap, teacher rates, wrong answers and splits,
 * checked against brute force over all 10,000 questions (an independent formulation, not the file's own code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allMaxQuestions, makeMaxSplits, MAX_NUM_QUESTIONS, MAX_SPLIT_DEFAULTS, MAX_TASK, MAX_TEACHER_DEFAULTS, maxCheck,
  maxCorrectAnswer, maxInstruction, maxKey, maxSlipAnswer, maxTeacherAnswer, maxTeacherWrongAnswer, maxTrap,
  parseMaxInstruction,
} from '../lib/toy/max.ts';
import { makeRng } from '../lib/util/rng.ts';

const ALL = allMaxQuestions();
/** Brute force: the largest digit by sorting the characters (not Math.max). */
const largest = (digits: string) => [...digits].sort().at(-1)!;

test('max: 10,000 distinct questions, instruction round trip, one-line errors on bad input', () => {
  assert.equal(ALL.length, MAX_NUM_QUESTIONS);
  assert.equal(new Set(ALL.map(maxKey)).size, 10000);
  assert.deepEqual(ALL[0], { digits: '0000' });
  assert.deepEqual(ALL[4215], { digits: '4215' });
  assert.equal(maxInstruction({ digits: '4215' }), 'Max 4215');
  for (const q of ALL.filter((_, i) => i % 97 === 0)) assert.deepEqual(parseMaxInstruction(maxInstruction(q)), q);
  assert.throws(() => parseMaxInstruction('Max 421'), /not a max question/);
  assert.throws(() => parseMaxInstruction('Sort 4215'), /not a max question/);
  assert.throws(() => maxCorrectAnswer({ digits: '42a5' }), /four decimal digits/);
  assert.throws(() => maxInstruction(null as never), /four decimal digits/);
  assert.throws(() => maxCheck({ digits: '4215' }, 5 as never), /answerText must be a string/);
});

test('max: the checker is exact match of the largest digit after trimming', () => {
  for (const q of ALL) assert.equal(maxCorrectAnswer(q), largest(q.digits));
  const q = { digits: '4215' };
  assert.equal(maxCheck(q, '5'), true);
  assert.equal(maxCheck(q, ' 5\n'), true);
  for (const bad of ['05', '5.', '', '4', '55', 'five']) assert.equal(maxCheck(q, bad), false, bad);
  assert.equal(maxCheck({ digits: '0000' }, '0'), true);
});

test('max: the trap is "first digit >= 3 and not the largest" — 4,011 questions by brute force', () => {
  let n = 0;
  for (const q of ALL) {
    const first = q.digits[0];
    const expected = first >= '3' && [...q.digits.slice(1)].some((d) => d > first);
    assert.equal(maxTrap(q), expected, q.digits);
    if (expected) n++;
  }
  assert.equal(n, 4011);
});

test('max teacher: right 18% of the time on trap questions, ~90% elsewhere, its errors are wrong and reproducible', () => {
  const f = MAX_TEACHER_DEFAULTS.firstDigitRate;
  const s = MAX_TEACHER_DEFAULTS.slipRate;
  const stats = { trap: [0, 0], other: [0, 0], firstDigit: 0 };
  for (const q of ALL) {
    const t = maxTeacherAnswer(q, { seed: 7 });
    assert.equal(t.correct, maxCheck(q, t.answer));
    assert.equal(t.correct, t.error === 'none');
    assert.match(t.answer, /^\d$/);
    if (t.error === 'first-digit') {
      assert.ok(maxTrap(q));
      assert.equal(t.answer, q.digits[0]);
      stats.firstDigit++;
    }
    if (t.error === 'slip') assert.ok(q.digits.includes(t.answer), 'a slip names a digit of the list');
    const b = maxTrap(q) ? stats.trap : stats.other;
    b[0] += t.correct ? 1 : 0;
    b[1]++;
  }
  // binomial tolerances: 4 standard deviations
  const near = (got: number, p: number, n: number, what: string) => assert.ok(Math.abs(got - p) < 4 * Math.sqrt((p * (1 - p)) / n), `${what}: ${got} vs ${p}`);
  near(stats.trap[0] / stats.trap[1], (1 - f) * (1 - s), stats.trap[1], 'trap accuracy');
  // off the trap a slip needs a digit other than the largest: the 10 all-equal lists are always right
  near(stats.other[0] / stats.other[1], 1 - s, stats.other[1], 'other accuracy');
  near(stats.firstDigit / stats.trap[1], f, stats.trap[1], 'first-digit rate');
  // a pure function of (seed, question, draw)
  const q = { digits: '6190' };
  assert.deepEqual(maxTeacherAnswer(q, { seed: 7, draw: 3 }), maxTeacherAnswer(q, { seed: 7, draw: 3 }));
  const draws = new Set(Array.from({ length: 200 }, (_, d) => maxTeacherAnswer(q, { seed: 7, draw: d }).answer));
  assert.ok(draws.has('9') && draws.has('6'), 'draws differ: right and first-digit answers both appear');
  // rates 0 make a perfect teacher, rate 1 on the trap always answers the first digit
  for (const x of ALL.slice(0, 500)) assert.equal(maxTeacherAnswer(x, { firstDigitRate: 0, slipRate: 0 }).correct, true);
  assert.equal(maxTeacherAnswer(q, { firstDigitRate: 1 }).answer, '6');
  assert.throws(() => maxTeacherAnswer(q, { slipRate: 1.5 }), /slipRate must be a number in \[0, 1\]/);
  assert.throws(() => maxTeacherAnswer(q, { draw: -1 }), /draw must be a non-negative integer/);
});

test('max wrong answers: always wrong, one digit; on trap questions mostly the first digit, f / (f + (1 - f) s)', () => {
  const f = MAX_TEACHER_DEFAULTS.firstDigitRate;
  const s = MAX_TEACHER_DEFAULTS.slipRate;
  let trap = 0;
  let first = 0;
  for (const q of ALL) {
    const w = maxTeacherWrongAnswer(q, { seed: 2, draw: 1 });
    assert.equal(w.correct, false);
    assert.equal(maxCheck(q, w.answer), false, `${q.digits} -> ${w.answer}`);
    assert.match(w.answer, /^\d$/);
    if (maxTrap(q)) {
      trap++;
      if (w.error === 'first-digit') first++;
    }
  }
  const p = f / (f + (1 - f) * s);
  assert.ok(Math.abs(first / trap - p) < 4 * Math.sqrt((p * (1 - p)) / trap), `${first / trap} vs ${p}`);
  // all-equal lists have no other digit to slip to: the digit one above (below for 9)
  assert.equal(maxTeacherWrongAnswer({ digits: '7777' }).answer, '8');
  assert.equal(maxTeacherWrongAnswer({ digits: '9999' }).answer, '8');
  assert.equal(maxSlipAnswer({ digits: '3333' }, makeRng('x')), null);
  assert.equal(maxSlipAnswer({ digits: '3933' }, makeRng('x')), '3');
});

test('max splits: disjoint, covering all questions by default, reproducible, and sized on request', () => {
  const sp = makeMaxSplits({ seed: 3 });
  const sizes = { train: sp.train.length, dpo: sp.dpo.length, dev: sp.dev.length, test: sp.test.length };
  assert.deepEqual(sizes, MAX_SPLIT_DEFAULTS);
  const keys = [sp.train, sp.dpo, sp.dev, sp.test].flat().map(maxKey);
  assert.equal(new Set(keys).size, 10000);
  assert.deepEqual(makeMaxSplits({ seed: 3 }), sp);
  assert.notDeepEqual(makeMaxSplits({ seed: 4 }).test, sp.test);
  // the test split depends only on its own size (cut first)
  assert.deepEqual(makeMaxSplits({ seed: 3, sizes: { train: 10, dpo: 10, dev: 10 } }).test, sp.test);
  assert.throws(() => makeMaxSplits({ sizes: { train: 9000 } }), /sizes sum to 13000, more than the 10000 questions/);
  assert.equal(MAX_TASK.makeSplits({ seed: 3 }).dpo.length, 2000);
});
