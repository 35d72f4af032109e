/**
 * A toy-world task: two-digit addition `a+b` (a, b in 10..99), answered with the digits of the sum. A program
 * decides correctness, so every step of the paper (P(Yes) as a preference classifier, self-improvement by IPO-DPO)
 * can be measured exactly. Design from the measured prototype (`../shared/docs/toy-world-notes.md`): 8,100 ordered
 * questions, split without overlap; an imperfect teacher whose SFT answers forget the units carry on a fraction of
 * carry questions and slip on a few others, so the SFT model answers imperfectly and has room to improve.
 *
 * Everything here is a pure function of its arguments and seed (Alea, `lib/util/rng.ts`): same seed, same splits and
 * same teacher answers on every platform.
 */
import { buildIpoPrompt } from '../scoring/prompt';
import { makeRng, type Rng } from '../util/rng';
import { cutSplits, resolveTeacherOptions, type ToySplits, type ToySplitSizes, type ToyTask } from './task';

/** One question: the ORDERED pair (a, b), so 47+38 and 38+47 are different questions. */
export interface ToyQuestion {
  a: number;
  b: number;
}

/** Smallest and largest operand (two digits). */
export const TOY_MIN_OPERAND = 10;
export const TOY_MAX_OPERAND = 99;
/** Number of distinct questions: 90 × 90. */
export const TOY_NUM_QUESTIONS = (TOY_MAX_OPERAND - TOY_MIN_OPERAND + 1) ** 2;

/**
 * The IPO task template (the official templates end "Answer just Yes/No", `ours.py` T_ALPACA / T_LLMBAR). Short on
 * purpose: every word of it is one token of the toy tokenizer (`lib/toy/tokenizer.ts`).
 */
export const TOY_TEMPLATE = 'Is the answer to this sum correct? Answer just Yes/No';

function checkOperand(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < TOY_MIN_OPERAND || v > TOY_MAX_OPERAND) {
    throw new Error(`${fn}: ${name} must be an integer in ${TOY_MIN_OPERAND}..${TOY_MAX_OPERAND}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkQuestion(fn: string, q: ToyQuestion): ToyQuestion {
  if (q === null || typeof q !== 'object') throw new Error(`${fn}: question must be an object {a, b}, got ${JSON.stringify(q)}`);
  checkOperand(fn, 'a', q.a);
  checkOperand(fn, 'b', q.b);
  return q;
}

/** `"47+38"`: a unique key for the ordered pair (used for disjointness checks and seeding). */
export function questionKey(q: ToyQuestion): string {
  checkQuestion('questionKey', q);
  return `${q.a}+${q.b}`;
}

/** All 8,100 questions, a-major: (10,10), (10,11), …, (99,99). */
export function allQuestions(): ToyQuestion[] {
  const out: ToyQuestion[] = [];
  for (let a = TOY_MIN_OPERAND; a <= TOY_MAX_OPERAND; a++) for (let b = TOY_MIN_OPERAND; b <= TOY_MAX_OPERAND; b++) out.push({ a, b });
  return out;
}

/** The instruction shown to the model: `"What is 47+38?"`. */
export function instructionText(q: ToyQuestion): string {
  checkQuestion('instructionText', q);
  return `What is ${q.a}+${q.b}?`;
}

const INSTRUCTION_RE = /^What is (\d{2})\+(\d{2})\?$/;

/** Inverse of `instructionText`; throws a one-line error on any other string. */
export function parseInstruction(text: string): ToyQuestion {
  const m = typeof text === 'string' ? INSTRUCTION_RE.exec(text) : null;
  if (!m) throw new Error(`parseInstruction: not a toy question ("What is AB+CD?"): ${JSON.stringify(text)}`);
  return checkQuestion('parseInstruction', { a: Number(m[1]), b: Number(m[2]) });
}

/** The correct answer text: the decimal digits of a + b, nothing else (`"85"`). */
export function correctAnswer(q: ToyQuestion): string {
  checkQuestion('correctAnswer', q);
  return String(q.a + q.b);
}

/** True when the units digits carry (a mod 10 + b mod 10 ≥ 10): the questions the teacher may get wrong by forgetting it. */
export function hasCarry(q: ToyQuestion): boolean {
  checkQuestion('hasCarry', q);
  return (q.a % 10) + (q.b % 10) >= 10;
}

/**
 * The exact-match checker: `answerText` with surrounding whitespace trimmed equals the decimal digits of a + b.
 * Anything else (`"085"`, `"85."`, `"eighty-five"`, `""`) is wrong.
 */
export function check(q: ToyQuestion, answerText: string): boolean {
  checkQuestion('check', q);
  if (typeof answerText !== 'string') throw new Error(`check: answerText must be a string, got ${typeof answerText}`);
  return answerText.trim() === String(q.a + q.b);
}

// ---------------------------------------------------------------------------------------------------------------
// splits

/** Split sizes of the addition task (the prototype's): 4,860 SFT, 1,620 DPO prompts, 405 dev, 1,215 test. */
export const TOY_SPLIT_DEFAULTS: Required<ToySplitSizes> = { train: 4860, dpo: 1620, dev: 405, test: 1215 };

/**
 * Seeded splits with no question in two of them. One Fisher–Yates shuffle of `allQuestions()` by
 * `makeRng('toy-splits:' + seed)`, cut in the order test, dev, dpo, train: so the test split of a seed depends only
 * on its size, and enlarging `train` never moves a question out of `test`. Sizes must be non-negative integers
 * summing to at most 8,100.
 */
export function makeSplits(opts: { seed?: number | string; sizes?: ToySplitSizes } = {}): ToySplits<ToyQuestion> {
  return cutSplits('makeSplits', allQuestions(), TOY_SPLIT_DEFAULTS, 'toy-splits', opts);
}

// ---------------------------------------------------------------------------------------------------------------
// the imperfect teacher

export interface TeacherOptions {
  /** Seed of the teacher's draws. Default 0. */
  seed?: number | string;
  /** On a carry question, the probability that the answer forgets the carry (a + b − 10). Default 0.6 (prototype). */
  carryForgetRate?: number;
  /** When the carry was not forgotten (or there is none), the probability of a random slip. Default 0.1 (prototype). */
  slipRate?: number;
  /** Index of the draw, so one question can get several independent answers. Default 0. */
  draw?: number;
}

export type TeacherError = 'none' | 'forgot-carry' | 'slip';

export interface TeacherAnswer {
  /** The answer text (digits only). */
  answer: string;
  /** `check(q, answer)`. */
  correct: boolean;
  error: TeacherError;
}

export const TEACHER_DEFAULTS = { carryForgetRate: 0.6, slipRate: 0.1 } as const;

function resolveTeacher(fn: string, opts: TeacherOptions) {
  return resolveTeacherOptions<keyof typeof TEACHER_DEFAULTS>(fn, opts, TEACHER_DEFAULTS);
}

/** a + b − 10 as text: the sum with the units carry forgotten (only wrong on a carry question). */
export function forgotCarryAnswer(q: ToyQuestion): string {
  checkQuestion('forgotCarryAnswer', q);
  return String(q.a + q.b - 10);
}

/**
 * A slip: one digit of the correct sum, chosen uniformly, replaced by a different digit chosen uniformly (never a
 * leading 0). Always wrong, always digits only, same length as the correct answer.
 */
export function slipAnswer(q: ToyQuestion, rng: Rng): string {
  const digits = correctAnswer(q).split('');
  const pos = Math.floor(rng() * digits.length);
  const old = Number(digits[pos]);
  const choices: number[] = [];
  for (let d = pos === 0 ? 1 : 0; d <= 9; d++) if (d !== old) choices.push(d);
  digits[pos] = String(choices[Math.floor(rng() * choices.length)]);
  return digits.join('');
}

function teacherRng(kind: string, q: ToyQuestion, seed: number | string, draw: number): Rng {
  return makeRng(`toy-${kind}:${seed}:${q.a}+${q.b}:${draw}`);
}

/**
 * The imperfect teacher of the prototype, a pure function of (seed, question, draw):
 * on a carry question, with probability `carryForgetRate` the answer forgets the carry; otherwise (and on every
 * question without a carry) with probability `slipRate` it is a slip (`slipAnswer`); else it is correct. So
 * P(correct) = (1 − carryForgetRate)(1 − slipRate) on carry questions and 1 − slipRate on the others
 * (defaults: 0.36 and 0.90, about 0.657 over all 8,100 questions, 45 % of which carry).
 */
export function teacherAnswer(q: ToyQuestion, opts: TeacherOptions = {}): TeacherAnswer {
  checkQuestion('teacherAnswer', q);
  const o = resolveTeacher('teacherAnswer', opts);
  const rng = teacherRng('teacher', q, o.seed, o.draw);
  if (hasCarry(q) && rng() < o.carryForgetRate) return { answer: forgotCarryAnswer(q), correct: false, error: 'forgot-carry' };
  if (rng() < o.slipRate) return { answer: slipAnswer(q, rng), correct: false, error: 'slip' };
  return { answer: correctAnswer(q), correct: true, error: 'none' };
}

/**
 * A wrong answer drawn from the teacher's error distribution, i.e. `teacherAnswer` conditioned on being wrong: on a
 * carry question forgot-carry with probability c / (c + (1 − c)·s) (c = carryForgetRate, s = slipRate; 1 when both
 * are 0), else a slip; on a question without carry always a slip. For judge (Yes/No) training data whose "No"
 * examples look like the mistakes the SFT model will make. Pure in (seed, question, draw); a different stream from
 * `teacherAnswer`'s.
 */
export function teacherWrongAnswer(q: ToyQuestion, opts: TeacherOptions = {}): TeacherAnswer {
  checkQuestion('teacherWrongAnswer', q);
  const o = resolveTeacher('teacherWrongAnswer', opts);
  const rng = teacherRng('teacher-wrong', q, o.seed, o.draw);
  if (hasCarry(q)) {
    const c = o.carryForgetRate;
    const s = o.slipRate;
    const denom = c + (1 - c) * s;
    const pForgot = denom > 0 ? c / denom : 1;
    if (rng() < pForgot) return { answer: forgotCarryAnswer(q), correct: false, error: 'forgot-carry' };
  }
  return { answer: slipAnswer(q, rng), correct: false, error: 'slip' };
}

// ---------------------------------------------------------------------------------------------------------------
// the IPO prompt

/** The `IpoItem` for `pYes` / `pYesBatch` (lib/scoring/yes-no.ts): instruction, response and the toy template. */
export function toyIpoItem(q: ToyQuestion, response: string): { instruction: string; response: string; template: string } {
  if (typeof response !== 'string') throw new Error(`toyIpoItem: response must be a string, got ${typeof response}`);
  return { instruction: instructionText(q), response, template: TOY_TEMPLATE };
}

/**
 * The judge prompt exactly as the official code builds it (`buildIpoPrompt`, 'rewardbench' layout):
 * `TOY_TEMPLATE + "\n    User : " + "What is a+b?" + "\n    Response : " + response + "\n    "`; the model's next
 * token is read as " Yes" / " No".
 */
export function toyIpoPrompt(q: ToyQuestion, response: string): string {
  return buildIpoPrompt({ ...toyIpoItem(q, response), layout: 'rewardbench' });
}

/** Two-digit addition (the prototype's task) as a `ToyTask`. */
export const ADDITION_TASK: ToyTask<ToyQuestion> = {
  name: 'addition',
  description: 'Two-digit addition a+b (a, b in 10..99) answered with the digits of the sum; the teacher often forgets the units carry.',
  template: TOY_TEMPLATE,
  sample: { a: 47, b: 38 },
  makeSplits: (opts) => makeSplits(opts),
  key: questionKey,
  instruction: instructionText,
  correctAnswer,
  check,
  trap: hasCarry,
  teacherAnswer: (q, opts) => teacherAnswer(q, opts),
  wrongAnswer: (q, opts) => teacherWrongAnswer(q, opts).answer,
  maxAnswerTokens: 4, // at most 3 digits (198) + EOS
};
