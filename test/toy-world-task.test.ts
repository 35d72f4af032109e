import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import {
  allQuestions, check, correctAnswer, forgotCarryAnswer, hasCarry, instructionText, makeSplits, parseInstruction,
  questionKey, slipAnswer, teacherAnswer, teacherWrongAnswer, TOY_NUM_QUESTIONS, TOY_SPLIT_DEFAULTS, TOY_TEMPLATE,
  toyIpoItem, toyIpoPrompt, type ToyQuestion, ADDITION_TASK,
} from '../lib/toy/addition.ts';
import {
  allSortQuestions, makeSortSplits, parseSortInstruction, SORT_NUM_QUESTIONS,
  SORT_SPLIT_DEFAULTS, SORT_TASK, SORT_TEMPLATE, sortCheck, sortCorrectAnswer, sortEndSwapAnswer, sortInstruction,
  sortKey, sortSlipAnswer, sortTeacherAnswer, sortTeacherWrongAnswer, sortTrap, type SortQuestion,
} from '../lib/toy/sort.ts';
import { toyTaskIpoPrompt } from '../lib/toy/task.ts';
import { DEFAULT_TOY_TASK, TOY_TASKS } from '../lib/toy/tasks.ts';
import {
  TOY_SPECIAL_IDS, toyPreTokenize, toyTokenizerCovers, toyVocabSize, toyWords, writeToyTokenizer,
} from '../lib/toy/tokenizer.ts';
import { makeToyModel, TOY_MODEL_DEFAULTS } from '../lib/toy/model.ts';
import { loadTokenizer } from '../lib/models/tokenizer.ts';
import { detectEngine, loadModel, loadTfModel } from '../lib/models/load.ts';
import { loadOnnxModel } from '../lib/models/onnx.ts';
import { pYes, pYesBatch, yesNoIds } from '../lib/scoring/yes-no.ts';
import { makeRng } from '../lib/util/rng.ts';
import { ipoJson } from './helpers/cli.ts';

// Issue 8, parts 1–2: the toy world (two-digit addition), its tokenizer and its untrained model folder.

const Q: ToyQuestion = { a: 47, b: 38 };

// ---------------------------------------------------------------------------------------------------------------
// the task

test('8,100 ordered questions; instruction text round-trips; the checker is exact match after trimming', () => {
  const qs = allQuestions();
  assert.equal(qs.length, TOY_NUM_QUESTIONS);
  assert.equal(new Set(qs.map(questionKey)).size, 8100);
  for (const q of qs) assert.deepEqual(parseInstruction(instructionText(q)), q);
  assert.equal(instructionText(Q), 'What is 47+38?');
  assert.notEqual(questionKey({ a: 38, b: 47 }), questionKey(Q)); // ordered pairs
  assert.equal(correctAnswer(Q), '85');
  assert.equal(check(Q, '85'), true);
  assert.equal(check(Q, ' 85\n'), true);
  for (const wrong of ['84', '085', '85.', '8 5', '', 'eighty-five', '185', '75']) assert.equal(check(Q, wrong), false, wrong);
  assert.equal(check({ a: 99, b: 99 }, '198'), true);
  assert.throws(() => check({ a: 9, b: 50 }, '59'), /a must be an integer in 10\.\.99, got 9/);
  assert.throws(() => parseInstruction('What is 4+5?'), /not a toy question/);
  // carry questions, counted from the digit characters: 45 of the 100 units pairs, 81 tens pairs each
  const carries = qs.filter((q) => Number(String(q.a)[1]) + Number(String(q.b)[1]) > 9).length;
  assert.equal(carries, 45 * 81);
  assert.equal(qs.filter(hasCarry).length, carries);
});

test('splits: disjoint, the requested sizes, deterministic per seed, test independent of the train size', () => {
  const s = makeSplits({ seed: 3 });
  const sizes = TOY_SPLIT_DEFAULTS;
  assert.deepEqual([s.train.length, s.dpo.length, s.dev.length, s.test.length], [sizes.train, sizes.dpo, sizes.dev, sizes.test]);
  const all = [s.train, s.dpo, s.dev, s.test].flat().map(questionKey);
  assert.equal(new Set(all).size, all.length, 'no question in two splits');
  assert.equal(all.length, 8100);
  for (const split of [s.train, s.dpo, s.dev, s.test]) {
    const c = split.filter(hasCarry).length / split.length;
    assert.ok(Math.abs(c - 0.45) < 0.06, `carry fraction ${c}`); // a random split, not a carry-sorted one
  }
  assert.deepEqual(makeSplits({ seed: 3 }), s);
  const other = makeSplits({ seed: 4 });
  assert.notDeepEqual(other.test, s.test);
  const small = makeSplits({ seed: 3, sizes: { train: 100, dpo: 50, dev: 20, test: sizes.test } });
  assert.deepEqual(small.test, s.test, 'the test split depends only on seed and test size');
  assert.deepEqual([small.train.length, small.dpo.length, small.dev.length], [100, 50, 20]);
  const keys = (qs: ToyQuestion[]) => new Set(qs.map(questionKey));
  const trainKeys = keys(small.train);
  for (const q of [...small.dpo, ...small.dev, ...small.test]) assert.ok(!trainKeys.has(questionKey(q)));
  assert.throws(() => makeSplits({ sizes: { train: 8000, test: 200 } }), /sizes sum to 10225, more than the 8100 questions/);
  assert.throws(() => makeSplits({ sizes: { dev: -1 } }), /sizes\.dev must be a non-negative integer/);
});

test('teacher: error rates match the options on 8,100 draws; answers are labelled by the checker', () => {
  for (const [cf, sl] of [[0.6, 0.1], [0.2, 0.3]] as const) {
    const qs = allQuestions();
    const answers = qs.map((q) => ({ q, t: teacherAnswer(q, { seed: 7, carryForgetRate: cf, slipRate: sl }) }));
    const carry = answers.filter((x) => hasCarry(x.q));
    const plain = answers.filter((x) => !hasCarry(x.q));
    const rate = (xs: typeof answers, e: string) => xs.filter((x) => x.t.error === e).length / xs.length;
    // binomial sd: sqrt(p(1-p)/n) ≤ 0.0083 for n = 3,645; the tolerances are ≥ 3.5 sd
    assert.ok(Math.abs(rate(carry, 'forgot-carry') - cf) < 0.03, `forgot ${rate(carry, 'forgot-carry')} vs ${cf}`);
    assert.ok(Math.abs(rate(carry, 'slip') - (1 - cf) * sl) < 0.03, `carry slip ${rate(carry, 'slip')}`);
    assert.ok(Math.abs(rate(plain, 'slip') - sl) < 0.025, `slip ${rate(plain, 'slip')} vs ${sl}`);
    assert.equal(rate(plain, 'forgot-carry'), 0);
    const acc = answers.filter((x) => x.t.correct).length / answers.length;
    const expected = 0.45 * (1 - cf) * (1 - sl) + 0.55 * (1 - sl);
    assert.ok(Math.abs(acc - expected) < 0.03, `teacher accuracy ${acc} vs ${expected}`);
    for (const { q, t } of answers) {
      assert.equal(t.correct, check(q, t.answer));
      assert.equal(t.correct, t.error === 'none');
      assert.match(t.answer, /^[1-9]\d*$/);
      if (t.error === 'forgot-carry') assert.equal(Number(t.answer), q.a + q.b - 10);
      if (t.error === 'slip') {
        const c = correctAnswer(q);
        assert.equal(t.answer.length, c.length);
        assert.equal([...c].filter((d, i) => d !== t.answer[i]).length, 1, 'a slip changes exactly one digit');
      }
    }
  }
  assert.deepEqual(teacherAnswer(Q, { seed: 1, draw: 5 }), teacherAnswer(Q, { seed: 1, draw: 5 }));
  const draws = Array.from({ length: 200 }, (_, d) => teacherAnswer(Q, { seed: 1, draw: d }).answer);
  assert.ok(new Set(draws).size > 3, 'different draws give different answers');
  assert.deepEqual(teacherAnswer(Q, { carryForgetRate: 0, slipRate: 0 }), { answer: '85', correct: true, error: 'none' });
  assert.equal(teacherAnswer(Q, { carryForgetRate: 1 }).answer, forgotCarryAnswer(Q));
  assert.throws(() => teacherAnswer(Q, { slipRate: 1.5 }), /slipRate must be a number in \[0, 1\], got 1\.5/);
});

test('teacherWrongAnswer is always wrong, with the teacher\'s conditional error mix; slips never lead with 0', () => {
  const qs = allQuestions();
  const carry = qs.filter(hasCarry).map((q) => teacherWrongAnswer(q, { seed: 2 }));
  for (const q of qs.slice(0, 2000)) assert.equal(check(q, teacherWrongAnswer(q, { seed: 2 }).answer), false);
  const forgot = carry.filter((t) => t.error === 'forgot-carry').length / carry.length;
  assert.ok(Math.abs(forgot - 0.6 / (0.6 + 0.4 * 0.1)) < 0.02, `forgot share ${forgot}`);
  assert.ok(qs.filter((q) => !hasCarry(q)).every((q) => teacherWrongAnswer(q).error === 'slip'));
  const rng = makeRng('slips');
  for (let i = 0; i < 3000; i++) {
    const q = qs[i % qs.length];
    const s = slipAnswer(q, rng);
    assert.match(s, /^[1-9]\d*$/);
    assert.notEqual(s, correctAnswer(q));
  }
});

test('the IPO prompt is the official rewardbench layout with the toy template ending "Answer just Yes/No"', () => {
  assert.match(TOY_TEMPLATE, /Answer just Yes\/No$/);
  assert.equal(toyIpoPrompt(Q, '85'),
    'Is the answer to this sum correct? Answer just Yes/No\n    User : What is 47+38?\n    Response : 85\n    ');
  assert.deepEqual(toyIpoItem(Q, '85'), { instruction: 'What is 47+38?', response: '85', template: TOY_TEMPLATE });
});

// ---------------------------------------------------------------------------------------------------------------
// the tokenizer, through the kit's loader (transformers.js PreTrainedTokenizer)

const tokDir = mkdtempSync(join(tmpdir(), 'ipo-toy-tok-'));
writeToyTokenizer(tokDir);
const tok = loadTokenizer(tokDir);

/** The texts the world produces for one question: instruction, answers, judge prompts and their Yes/No ends. */
function worldTexts(q: ToyQuestion, i: number): string[] {
  const t = teacherAnswer(q, { seed: 9, draw: i });
  const w = teacherWrongAnswer(q, { seed: 9, draw: i });
  return [instructionText(q), t.answer, `${toyIpoPrompt(q, correctAnswer(q))} Yes`, `${toyIpoPrompt(q, w.answer)} No`, toyIpoPrompt(q, '')];
}

test('tokenizer: decode(encode(x)) === x for every world text of all 8,100 questions, BOS first', () => {
  let n = 0;
  allQuestions().forEach((q, i) => {
    for (const text of worldTexts(q, i)) {
      const ids = tok.encode(text);
      assert.equal(ids[0], TOY_SPECIAL_IDS.bos);
      assert.ok(!ids.includes(TOY_SPECIAL_IDS.unk), `unk in ${JSON.stringify(text)}`);
      assert.equal(tok.decode(ids), text);
      n++;
    }
  });
  assert.equal(n, 5 * 8100);
  for (const text of worldTexts(Q, 0)) assert.deepEqual(tok.encode(text, { addSpecialTokens: false }), tok.encode(text).slice(1));
});

test('tokenizer: digits one token each, " Yes"/" No" one token, layout and template words whole, specials', () => {
  const noSp = { addSpecialTokens: false };
  const digitIds = [...'0123456789'].map((d) => tok.encode(d, noSp));
  for (const ids of digitIds) assert.equal(ids.length, 1);
  assert.equal(new Set(digitIds.map((x) => x[0])).size, 10);
  // inside any text a digit is that same single id
  assert.deepEqual(tok.encode('198', noSp), [digitIds[1][0], digitIds[9][0], digitIds[8][0]]);
  const yes = tok.encode(' Yes', noSp);
  const no = tok.encode(' No', noSp);
  assert.equal(yes.length, 1);
  assert.equal(no.length, 1);
  assert.notEqual(yes[0], no[0]);
  for (const w of toyWords()) assert.equal(tok.encode(w, noSp).length, 1, `word ${JSON.stringify(w)}`);
  for (const w of [' Yes', ' No', '\n   ', '\n    ', ' User', ' Response', ' :', 'What', ' correct']) assert.ok(toyWords().includes(w), w);
  // the IPO prompt: 33 ids with BOS for a two-digit answer (one per word, digit, ? + /), 34 for three digits
  const prompt = toyIpoPrompt(Q, '85');
  const ids = tok.encode(prompt);
  assert.equal(ids.length, 33);
  assert.equal(tok.encode(toyIpoPrompt({ a: 99, b: 99 }, '198')).length, 34);
  // "\n    " is deterministic: `\n   ` before User/Response (the last space joins the word), `\n    ` at the end
  const nl3 = tok.encode('\n   ', noSp)[0];
  const nl4 = tok.encode('\n    ', noSp)[0];
  assert.equal(ids.filter((x) => x === nl3).length, 2);
  assert.equal(ids[ids.length - 1], nl4);
  // the exact preset's premise: prompt + " Yes" = ids(prompt) + [ Yes] (so paper and exact read the same number)
  assert.deepEqual(tok.encode(`${prompt} Yes`), [...ids, yes[0]]);
  assert.deepEqual(tok.encode(`${prompt} No`), [...ids, no[0]]);
  // special tokens
  assert.deepEqual(tok.encode('<s></s><pad><unk>', noSp), [1, 2, 3, 0]);
  assert.equal(tok.decode([1, ...tok.encode('85', noSp), 2], { skipSpecialTokens: false }), '<s>85</s>');
  assert.equal(tok.decode([1, ...tok.encode('85', noSp), 2]), '85');
  // the vocabulary size the config must declare
  const vocab = tok.raw.get_vocab() as unknown as Map<string, number> | Record<string, number>;
  assert.equal(vocab instanceof Map ? vocab.size : Object.keys(vocab).length, toyVocabSize());
});

test('tokenizer: its pre-tokenization equals transformers.js\'s; ASCII text round-trips, other text becomes <unk>', () => {
  const pre = (tok.raw as unknown as { _tokenizer: { pre_tokenizer: (t: string) => string[] } })._tokenizer.pre_tokenizer;
  for (const t of [...worldTexts(Q, 0), ...worldTexts({ a: 99, b: 10 }, 1), 'Once upon a time, Lily said: "Hi!"\n\tok ', '  a  b '].filter((x) => x)) {
    assert.deepEqual(toyPreTokenize(t), pre(t), JSON.stringify(t));
  }
  const ascii = 'Once upon a time, Lily saw 3 dogs. She said: "Hello!" ~{}[]|\\`^_@#$%&*()<>\n\tend';
  assert.equal(toyTokenizerCovers(ascii), true);
  assert.equal(tok.decode(tok.encode(ascii)), ascii);
  assert.equal(toyTokenizerCovers('café'), false);
  assert.ok(tok.encode('café', { addSpecialTokens: false }).includes(TOY_SPECIAL_IDS.unk));
});

/** Hugging Face's Rust `tokenizers` (npm `tokenizers`, the core of Python `tokenizers`), when installed: an independent reader. */
const rustTokenizers = await (async () => {
  const name = 'tokenizers'; // not a dependency of the kit: a variable keeps tsc from resolving it
  try {
    return (await import(name)) as { Tokenizer: { fromFile(f: string): { encode(t: string, p: null, o: { addSpecialTokens: boolean }): Promise<{ getIds(): number[] }>; decode(ids: number[], skip: boolean): Promise<string> } } };
  } catch {
    return null;
  }
})();

test('tokenizer: Hugging Face\'s Rust tokenizers reads tokenizer.json and gives the same ids and texts', { skip: rustTokenizers ? false : 'npm package `tokenizers` not installed' }, async () => {
  const rust = rustTokenizers!.Tokenizer.fromFile(join(tokDir, 'tokenizer.json'));
  const texts = allQuestions().filter((_, i) => i % 7 === 0).flatMap((q, i) => worldTexts(q, i));
  texts.push('Once upon a time, Lily said: "Hi!"\n\tok ', '  a  b ', 'café');
  for (const t of texts) {
    for (const addSpecialTokens of [true, false]) {
      const ids = Array.from((await rust.encode(t, null, { addSpecialTokens })).getIds());
      assert.deepEqual(ids, tok.encode(t, { addSpecialTokens }), JSON.stringify(t));
      if (toyTokenizerCovers(t)) assert.equal(await rust.decode(ids, true), t);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// the second task: sorting four digits, and the ToyTask interface

/** Sorted ascending, recomputed here from character codes (not with the lib's sort). */
function isAscending(s: string): boolean {
  for (let i = 1; i < s.length; i++) if (s.charCodeAt(i - 1) > s.charCodeAt(i)) return false;
  return true;
}
/** Digit counts 0..9 of a string, to compare multisets. */
const counts = (s: string) => Array.from({ length: 10 }, (_, d) => [...s].filter((c) => c === String(d)).length);

test('sort: 10,000 questions; instruction round-trips; the checker is exact match after trimming', () => {
  const qs = allSortQuestions();
  assert.equal(qs.length, SORT_NUM_QUESTIONS);
  assert.equal(new Set(qs.map(sortKey)).size, 10000);
  for (const q of qs) {
    assert.deepEqual(parseSortInstruction(sortInstruction(q)), q);
    const c = sortCorrectAnswer(q);
    assert.ok(isAscending(c), c);
    assert.deepEqual(counts(c), counts(q.digits), 'same digits, duplicates kept');
  }
  const q: SortQuestion = { digits: '4215' };
  assert.equal(sortInstruction(q), 'Sort 4215');
  assert.equal(sortCorrectAnswer({ digits: '7161' }), '1167');
  assert.equal(sortCheck(q, '1245'), true);
  assert.equal(sortCheck(q, ' 1245\n'), true);
  for (const wrong of ['1254', '124', '12455', '1 2 4 5', '5421', '', '1245.', '2145']) assert.equal(sortCheck(q, wrong), false, wrong);
  assert.throws(() => sortCheck({ digits: '123' }, '123'), /four decimal digits/);
  assert.throws(() => parseSortInstruction('Sort 12a4'), /not a sort question/);
  // the trap: first digit >= 5 and two different largest digits; counted independently
  const traps = qs.filter((x) => x.digits.charCodeAt(0) >= 53 && Math.max(...counts(x.digits).map((n, d) => (n > 0 ? d : -1))) !== [...x.digits].map(Number).sort((a, b) => a - b)[2]).length;
  assert.equal(qs.filter(sortTrap).length, traps);
  assert.equal(traps, 3875); // 5,000 lists lead with 5..9; of those, 77.5 % have two different largest digits
  assert.equal(sortEndSwapAnswer(q), '1254');
});

test('sort splits: disjoint, requested sizes, deterministic per seed, test independent of the train size', () => {
  const s = makeSortSplits({ seed: 3 });
  const z = SORT_SPLIT_DEFAULTS;
  assert.deepEqual([s.train.length, s.dpo.length, s.dev.length, s.test.length], [z.train, z.dpo, z.dev, z.test]);
  const all = [s.train, s.dpo, s.dev, s.test].flat().map(sortKey);
  assert.equal(new Set(all).size, all.length, 'no question in two splits');
  assert.equal(all.length, 10000);
  for (const split of [s.train, s.dpo, s.dev, s.test]) {
    const t = split.filter(sortTrap).length / split.length;
    assert.ok(Math.abs(t - 0.3875) < 0.06, `trap fraction ${t}`);
  }
  assert.deepEqual(makeSortSplits({ seed: 3 }), s);
  assert.notDeepEqual(makeSortSplits({ seed: 4 }).test, s.test);
  const small = makeSortSplits({ seed: 3, sizes: { train: 100, dpo: 50, dev: 20, test: z.test } });
  assert.deepEqual(small.test, s.test);
  assert.deepEqual(SORT_TASK.makeSplits({ seed: 3 }), s);
  assert.throws(() => makeSortSplits({ sizes: { train: 9000 } }), /sizes sum to 13000, more than the 10000 questions/);
  assert.throws(() => makeSortSplits({ sizes: { test: 1.5 } }), /sizes\.test must be a non-negative integer/);
});

test('sort teacher: error rates match the options on 10,000 draws; every mistake is unsorted; wrong answers are wrong', () => {
  const qs = allSortQuestions();
  for (const [e, sl] of [[0.6, 0.1], [0.2, 0.3]] as const) {
    const answers = qs.map((q) => ({ q, t: sortTeacherAnswer(q, { seed: 7, endSwapRate: e, slipRate: sl }) }));
    const trap = answers.filter((x) => sortTrap(x.q));
    const plain = answers.filter((x) => !sortTrap(x.q) && new Set(x.q.digits).size > 1);
    const rate = (xs: typeof answers, k: string) => xs.filter((x) => x.t.error === k).length / xs.length;
    // binomial sd <= 0.0083 for n >= 3,600; tolerances >= 3.5 sd
    assert.ok(Math.abs(rate(trap, 'end-swap') - e) < 0.03, `end-swap ${rate(trap, 'end-swap')} vs ${e}`);
    assert.ok(Math.abs(rate(trap, 'slip') - (1 - e) * sl) < 0.03, `trap slip ${rate(trap, 'slip')}`);
    assert.ok(Math.abs(rate(plain, 'slip') - sl) < 0.025, `slip ${rate(plain, 'slip')} vs ${sl}`);
    assert.equal(rate(plain, 'end-swap'), 0);
    for (const { q, t } of answers) {
      assert.equal(t.correct, sortCheck(q, t.answer));
      assert.equal(t.correct, t.error === 'none');
      assert.match(t.answer, /^\d{4}$/);
      assert.deepEqual(counts(t.answer), counts(q.digits), 'a mistake reorders, never changes, the digits');
      assert.equal(isAscending(t.answer), t.correct, 'wrong <=> unsorted');
    }
  }
  const acc = qs.filter((q) => sortTeacherAnswer(q, { seed: 1 }).correct).length / qs.length;
  const expected = 0.3875 * 0.4 * 0.9 + (0.6125 - 0.001) * 0.9 + 0.001; // traps, others, the 10 all-equal lists
  assert.ok(Math.abs(acc - expected) < 0.02, `default teacher accuracy ${acc} vs ${expected}`);
  assert.deepEqual(sortTeacherAnswer({ digits: '4215' }, { endSwapRate: 0, slipRate: 0 }), { answer: '1245', correct: true, error: 'none' });
  assert.deepEqual(sortTeacherAnswer({ digits: '7777' }, { slipRate: 1 }), { answer: '7777', correct: true, error: 'none' });
  assert.equal(sortSlipAnswer({ digits: '7777' }, makeRng('x')), null);
  assert.throws(() => sortTeacherAnswer({ digits: '4215' }, { endSwapRate: -0.1 }), /endSwapRate must be a number in \[0, 1\], got -0\.1/);
  // wrong answers: never correct, the conditional mix on traps, and a defined fallback for the 10 all-equal lists
  const wrongs = qs.map((q) => ({ q, w: sortTeacherWrongAnswer(q, { seed: 2 }) }));
  for (const { q, w } of wrongs) assert.equal(sortCheck(q, w.answer), false, `${q.digits} -> ${w.answer}`);
  const trapW = wrongs.filter((x) => sortTrap(x.q));
  const share = trapW.filter((x) => x.w.error === 'end-swap').length / trapW.length;
  assert.ok(Math.abs(share - 0.6 / (0.6 + 0.4 * 0.1)) < 0.02, `end-swap share ${share}`);
  assert.equal(sortTeacherWrongAnswer({ digits: '7777' }).answer, '7778');
  assert.equal(sortTeacherWrongAnswer({ digits: '9999' }).answer, '9998');
  const draws = Array.from({ length: 100 }, (_, d) => sortTeacherAnswer({ digits: '8305' }, { seed: 1, draw: d }).answer);
  assert.ok(new Set(draws).size >= 3, 'different draws give different answers');
});

test('ToyTask interface: every task wraps its functions; templates end "Answer just Yes/No"; default is max', () => {
  assert.deepEqual(Object.keys(TOY_TASKS).sort(), ['addition', 'max', 'sort']);
  assert.equal(DEFAULT_TOY_TASK, 'max');
  assert.ok(DEFAULT_TOY_TASK in TOY_TASKS);
  for (const [name, task] of Object.entries(TOY_TASKS)) {
    assert.equal(task.name, name);
    assert.match(task.template, /Answer just Yes\/No$/);
    assert.ok(task.description.length > 10);
    assert.equal(task.check(task.sample, task.correctAnswer(task.sample)), true);
    // every pre-token of the task's IPO prompt is ONE token of the toy vocabulary (no word spelt letter by letter)
    const prompt = toyTaskIpoPrompt(task, task.sample, task.correctAnswer(task.sample));
    assert.equal(tok.encode(prompt, { addSpecialTokens: false }).length, toyPreTokenize(prompt).length, `${name}: one token per pre-token`);
    const sp = task.makeSplits({ seed: 5, sizes: { train: 300, dpo: 100, dev: 50, test: 50 } });
    const keys = [sp.train, sp.dpo, sp.dev, sp.test].flat().map((q) => task.key(q));
    assert.equal(new Set(keys).size, 500, `${name}: disjoint splits`);
    for (const [i, q] of sp.dev.entries()) {
      const c = task.correctAnswer(q);
      assert.equal(task.check(q, c), true);
      assert.equal(task.check(q, ` ${c}\n`), true);
      const w = task.wrongAnswer(q, { seed: 1, draw: i });
      assert.equal(task.check(q, w), false, `${name}: wrong answer ${w} to ${task.instruction(q)}`);
      const t = task.teacherAnswer(q, { seed: 1, draw: i });
      assert.equal(t.correct, task.check(q, t.answer));
      assert.deepEqual(task.teacherAnswer(q, { seed: 1, draw: i }), t);
      assert.ok(tok.encode(c, { addSpecialTokens: false }).length + 1 <= task.maxAnswerTokens, `${name}: budget`);
    }
  }
  const a: ToyQuestion = { a: 47, b: 38 };
  assert.equal(ADDITION_TASK.instruction(a), instructionText(a));
  assert.equal(ADDITION_TASK.key(a), questionKey(a));
  assert.deepEqual(ADDITION_TASK.makeSplits({ seed: 3 }), makeSplits({ seed: 3 }));
  assert.equal(ADDITION_TASK.wrongAnswer(a, { seed: 2 }), teacherWrongAnswer(a, { seed: 2 }).answer);
  assert.equal(toyTaskIpoPrompt(ADDITION_TASK, a, '85'), toyIpoPrompt(a, '85'));
  assert.equal(ADDITION_TASK.maxAnswerTokens, 4);
  assert.equal(SORT_TASK.maxAnswerTokens, 5);
  assert.equal(SORT_TASK.template, SORT_TEMPLATE);
  assert.equal(toyTaskIpoPrompt(SORT_TASK, { digits: '4215' }, '1245'),
    'Is this sort correct? Answer just Yes/No\n    User : Sort 4215\n    Response : 1245\n    ');
});

test('sort texts: covered by the toy tokenizer, round-trip, digits one id each, " Yes"/" No" one token after the prompt', () => {
  const noSp = { addSpecialTokens: false };
  const yes = tok.encode(' Yes', noSp);
  const no = tok.encode(' No', noSp);
  assert.equal(yes.length, 1);
  assert.equal(no.length, 1);
  allSortQuestions().forEach((q, i) => {
    const w = sortTeacherWrongAnswer(q, { seed: 9, draw: i }).answer;
    const texts = [sortInstruction(q), sortTeacherAnswer(q, { seed: 9, draw: i }).answer, toyTaskIpoPrompt(SORT_TASK, q, sortCorrectAnswer(q)), toyTaskIpoPrompt(SORT_TASK, q, w), toyTaskIpoPrompt(SORT_TASK, q, '')];
    for (const t of texts) assert.equal(toyTokenizerCovers(t), true, t);
    if (i % 10 !== 0) return; // encoding every text of all 10,000 is slow; every tenth question
    for (const t of texts) {
      const ids = tok.encode(t);
      assert.equal(ids[0], TOY_SPECIAL_IDS.bos);
      assert.ok(!ids.includes(TOY_SPECIAL_IDS.unk));
      assert.equal(tok.decode(ids), t);
    }
    const p = texts[2];
    assert.deepEqual(tok.encode(`${p} Yes`), [...tok.encode(p), yes[0]]);
    assert.deepEqual(tok.encode(`${p} No`), [...tok.encode(p), no[0]]);
    assert.equal(tok.encode(q.digits, noSp).length, 4, 'one id per digit');
  });
  // the prompt fits the model's positions with " Yes" and EOS
  assert.ok(tok.encode(toyTaskIpoPrompt(SORT_TASK, { digits: '4215' }, '1245')).length + 2 < TOY_MODEL_DEFAULTS.maxPosition);
});

// ---------------------------------------------------------------------------------------------------------------
// the model folder

const modelDir = mkdtempSync(join(tmpdir(), 'ipo-toy-model-'));
const made = makeToyModel(modelDir, { seed: 1 });

test('makeToyModel writes a labelled Llama folder whose sizes match the formula', () => {
  const { hidden: h, layers: L, intermediate: f } = TOY_MODEL_DEFAULTS;
  const V = toyVocabSize();
  assert.equal(made.vocabSize, V);
  // tied embeddings: V·h + L·(q,k,v,o 4h² + gate,up,down 3hf + two norms 2h) + final norm h
  assert.equal(made.numParameters, V * h + L * (4 * h * h + 3 * h * f + 2 * h) + h);
  for (const f2 of ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'README.md']) {
    assert.ok(existsSync(join(modelDir, f2)), f2);
  }
  const cfg = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.architectures, ['LlamaForCausalLM']);
  assert.equal(cfg.tie_word_embeddings, true);
  assert.equal(cfg.vocab_size, V);
  assert.equal(cfg.bos_token_id, TOY_SPECIAL_IDS.bos);
  assert.equal(cfg.eos_token_id, TOY_SPECIAL_IDS.eos);
  assert.equal(cfg._ipo_random_weights, true);
  assert.match(readFileSync(join(modelDir, 'README.md'), 'utf8'), /^# RANDOM WEIGHTS/);
  // same options, same bytes
  const again = mkdtempSync(join(tmpdir(), 'ipo-toy-model-'));
  makeToyModel(again, { seed: 1 });
  assert.ok(readFileSync(join(again, 'model.safetensors')).equals(readFileSync(join(modelDir, 'model.safetensors'))));
  assert.ok(readFileSync(join(again, 'tokenizer.json')).equals(readFileSync(join(modelDir, 'tokenizer.json'))));
  assert.throws(() => makeToyModel(again, { hidden: 60, heads: 8 }), /hidden 60 is not a multiple of heads 8/);
});

test('both engines load it; pYes runs under both presets, near chance and equal; no tensor left behind', async () => {
  const tfm = await loadTfModel(modelDir);
  const onnxDir = mkdtempSync(join(tmpdir(), 'ipo-toy-onnx-'));
  // the CLI path a user takes: `ipo export-onnx --model DIR --out D`
  const exp = ipoJson<{ onnx: string }>('export-onnx', '--model', modelDir, '--out', onnxDir);
  assert.ok(existsSync(exp.onnx));
  const ox = await loadOnnxModel(onnxDir);
  try {
    assert.equal(detectEngine(modelDir), 'tf');
    assert.equal(detectEngine(onnxDir), 'onnx');
    const yn = yesNoIds(tfm);
    assert.equal(yn.singleToken, true);
    assert.equal(yesNoIds(ox).singleToken, true);
    const prompt = toyIpoPrompt(Q, '85');
    assert.ok(tfm.encode(prompt).length + 2 < tfm.maxLength, 'prompt + " Yes" + EOS fit the positions');
    assert.equal(tfm.maxLength, TOY_MODEL_DEFAULTS.maxPosition);
    for (const text of [prompt, instructionText(Q), `${instructionText(Q)}85`]) {
      const a = await tfm.nextTokenLogProbs(tfm.encode(text));
      const b = await ox.nextTokenLogProbs(ox.encode(text));
      assert.equal(a.length, toyVocabSize());
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
      assert.ok(d < 1e-4, `${JSON.stringify(text)}: max |tf - onnx| = ${d}`);
    }
    const item = toyIpoItem(Q, '85');
    const paper = await pYes(tfm, item, { preset: 'paper' });
    const exact = await pYes(tfm, item, { preset: 'exact' });
    assert.equal(paper.promptTokens, 33);
    assert.equal(paper.truncated, false);
    assert.ok(Math.abs(paper.pYes - exact.pYes) < 1e-9, `paper ${paper.pYes} vs exact ${exact.pYes}`);
    assert.ok(Math.abs(paper.pYes - 0.5) < 0.15, `untrained P(Yes) ${paper.pYes} should be near chance`);
    const viaOnnx = await pYes(ox, item);
    assert.ok(Math.abs(viaOnnx.pYes - paper.pYes) < 1e-5);
    // tf.memory is constant over repeated scoring (single and batched)
    const items = allQuestions().slice(0, 12).map((q, i) => toyIpoItem(q, i % 2 ? correctAnswer(q) : forgotCarryAnswer(q)));
    await pYesBatch(tfm, items.slice(0, 2)); // warm-up
    const before = tf.memory().numTensors;
    const batched = await pYesBatch(tfm, items, { batchSize: 5 });
    for (const it of items.slice(0, 4)) await pYes(tfm, it, { preset: 'exact' });
    assert.equal(tf.memory().numTensors, before);
    for (const s of batched) assert.ok(s.pYes > 0.3 && s.pYes < 0.7, `${s.pYes}`);
    const viaLoadModel = await loadModel(modelDir);
    assert.equal(viaLoadModel.engine, 'tf');
    viaLoadModel.dispose();
  } finally {
    tfm.dispose();
    ox.dispose();
  }
});
