/**
 * The toy world's task: two-digit addition `a+b` (a, b in 10..99), answered with the digits of the sum. A program
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

export interface ToySplitSizes {
  /** SFT questions. Default 4,860 (the prototype's). */
  train?: number;
  /** Prompts the SFT model samples answers for and judges (self-improvement). Default 1,620 (the prototype's). */
  dpo?: number;
  /** Held-out questions for choices made during development (steps, thresholds). Default 405. */
  dev?: number;
  /** Held-out questions for the reported numbers. Default 1,215. */
  test?: number;
}

export interface ToySplits {
  seed: number | string;
  train: ToyQuestion[];
  dpo: ToyQuestion[];
  dev: ToyQuestion[];
  test: ToyQuestion[];
}

export const TOY_SPLIT_DEFAULTS: Required<ToySplitSizes> = { train: 4860, dpo: 1620, dev: 405, test: 1215 };

/**
 * Seeded splits with no question in two of them. One Fisher–Yates shuffle of `allQuestions()` by
 * `makeRng('toy-splits:' + seed)`, cut in the order test, dev, dpo, train: so the test split of a seed depends only
 * on its size, and enlarging `train` never moves a question out of `test`. Sizes must be non-negative integers
 * summing to at most 8,100.
 */
export function makeSplits(opts: { seed?: number | string; sizes?: ToySplitSizes } = {}): ToySplits {
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
  const carryForgetRate = opts.carryForgetRate ?? TEACHER_DEFAULTS.carryForgetRate;
  const slipRate = opts.slipRate ?? TEACHER_DEFAULTS.slipRate;
  const draw = opts.draw ?? 0;
  const seed = opts.seed ?? 0;
  for (const [k, v] of [['carryForgetRate', carryForgetRate], ['slipRate', slipRate]] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${fn}: ${k} must be a number in [0, 1], got ${JSON.stringify(v)}`);
  }
  if (!Number.isInteger(draw) || draw < 0) throw new Error(`${fn}: draw must be a non-negative integer, got ${JSON.stringify(draw)}`);
  if (typeof seed !== 'number' && typeof seed !== 'string') throw new Error(`${fn}: seed must be a number or string, got ${typeof seed}`);
  return { carryForgetRate, slipRate, draw, seed };
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

// ===============================================================================================================
// a second task: sorting four digits
//
// Why a second task: addition's judge emerges only after 1,000–1,500 SFT steps (the prototype's "trap"), too slow
// for a CI-sized quick mode. Measured with the kit's `trainSft` (scratch driver; hidden 64, 2 layers; batch 64,
// lr 5e-3 cosine, 600 steps, 3 judge examples per task example): reversing or copying 5 digits is generated well
// but its judge stays at chance (~0.5–0.6: it must compare every answer digit with a question digit), while sorting
// 4 digits gave held-out judge pairwise accuracy 0.96 / 1.00 / 0.88 and greedy accuracy 0.32 / 0.31 / 0.72 on
// seeds 1 / 2 / 3 (judge emergence is still seed-dependent: one 800-step run stayed at 0.57). The teacher's mistakes
// leave the answer UNSORTED, which the judge can see by comparing neighbouring answer digits. Digits are one token
// each whatever the merges (`lib/toy/tokenizer.ts`), so every list position is one id; lowercase words would be
// split unevenly by the merges of the template's words.

/** One sorting question: four decimal digits in the order asked, e.g. `{ digits: '4215' }` (leading zeros allowed). */
export interface SortQuestion {
  digits: string;
}

/** Digits per question. */
export const SORT_LENGTH = 4;
/** Number of distinct questions: 10⁴ ordered digit strings. */
export const SORT_NUM_QUESTIONS = 10 ** SORT_LENGTH;

/** The IPO task template for sorting (official layout; ends "Answer just Yes/No" like `ours.py`'s templates). */
export const SORT_TEMPLATE = 'Is this sort correct? Answer just Yes/No';

const SORT_RE = /^\d{4}$/;

function checkSortQuestion(fn: string, q: SortQuestion): SortQuestion {
  if (q === null || typeof q !== 'object' || typeof q.digits !== 'string' || !SORT_RE.test(q.digits)) {
    throw new Error(`${fn}: question must be {digits: "DDDD"} (four decimal digits), got ${JSON.stringify(q)}`);
  }
  return q;
}

/** `"4215"`: the digits themselves (unique per question). */
export function sortKey(q: SortQuestion): string {
  return checkSortQuestion('sortKey', q).digits;
}

/** All 10,000 questions in numeric order: '0000', '0001', …, '9999'. */
export function allSortQuestions(): SortQuestion[] {
  return Array.from({ length: SORT_NUM_QUESTIONS }, (_, i) => ({ digits: String(i).padStart(SORT_LENGTH, '0') }));
}

/** The instruction shown to the model: `"Sort 4215"`. */
export function sortInstruction(q: SortQuestion): string {
  return `Sort ${checkSortQuestion('sortInstruction', q).digits}`;
}

const SORT_INSTRUCTION_RE = /^Sort (\d{4})$/;

/** Inverse of `sortInstruction`; throws a one-line error on any other string. */
export function parseSortInstruction(text: string): SortQuestion {
  const m = typeof text === 'string' ? SORT_INSTRUCTION_RE.exec(text) : null;
  if (!m) throw new Error(`parseSortInstruction: not a sort question ("Sort DDDD"): ${JSON.stringify(text)}`);
  return { digits: m[1] };
}

/** The correct answer: the same four digits in ascending order (`"1245"`; duplicates kept: '7161' → '1167'). */
export function sortCorrectAnswer(q: SortQuestion): string {
  return [...checkSortQuestion('sortCorrectAnswer', q).digits].sort().join('');
}

/** Exact match after trimming surrounding whitespace: `"1245"` and `" 1245\n"` pass, `"1 2 4 5"`, `"124"` fail. */
export function sortCheck(q: SortQuestion, answerText: string): boolean {
  checkSortQuestion('sortCheck', q);
  if (typeof answerText !== 'string') throw new Error(`sortCheck: answerText must be a string, got ${typeof answerText}`);
  return answerText.trim() === sortCorrectAnswer(q);
}

/**
 * The teacher's trap (the analogue of addition's carry): the list starts with a digit ≥ 5 AND its two largest digits
 * differ, so the teacher's habit of leaving the final pair unswapped (`sortEndSwapAnswer`) gives a wrong answer.
 * 3,875 of the 10,000 questions (half lead with 5..9; 77.5 % of those have two different largest digits).
 */
export function sortTrap(q: SortQuestion): boolean {
  const s = sortCorrectAnswer(q);
  return Number(q.digits[0]) >= 5 && s[SORT_LENGTH - 2] !== s[SORT_LENGTH - 1];
}

/** The sorted digits with the final pair swapped (`"1254"` for 4215): wrong, and unsorted, on a trap question. */
export function sortEndSwapAnswer(q: SortQuestion): string {
  const s = [...sortCorrectAnswer(q)];
  [s[SORT_LENGTH - 2], s[SORT_LENGTH - 1]] = [s[SORT_LENGTH - 1], s[SORT_LENGTH - 2]];
  return s.join('');
}

/**
 * A slip: one adjacent pair of DIFFERENT digits of the sorted answer, chosen uniformly, swapped (always wrong,
 * always unsorted). Null when all four digits are equal ('7777': no pair to swap).
 */
export function sortSlipAnswer(q: SortQuestion, rng: Rng): string | null {
  const s = [...sortCorrectAnswer(q)];
  const pairs: number[] = [];
  for (let i = 0; i + 1 < s.length; i++) if (s[i] !== s[i + 1]) pairs.push(i);
  if (pairs.length === 0) return null;
  const i = pairs[Math.floor(rng() * pairs.length)];
  [s[i], s[i + 1]] = [s[i + 1], s[i]];
  return s.join('');
}

export interface SortTeacherOptions {
  /** Seed of the teacher's draws. Default 0. */
  seed?: number | string;
  /** On a trap question, the probability of the end-swap mistake. Default 0.6 (addition's carryForgetRate). */
  endSwapRate?: number;
  /** Otherwise, the probability of a slip. Default 0.1 (addition's slipRate). */
  slipRate?: number;
  /** Index of the draw, so one question can get several independent answers. Default 0. */
  draw?: number;
}

export type SortTeacherError = 'none' | 'end-swap' | 'slip';

export interface SortTeacherAnswer {
  answer: string;
  /** `sortCheck(q, answer)`. */
  correct: boolean;
  error: SortTeacherError;
}

export const SORT_TEACHER_DEFAULTS = { endSwapRate: 0.6, slipRate: 0.1 } as const;

function resolveSortTeacher(fn: string, opts: SortTeacherOptions) {
  const endSwapRate = opts.endSwapRate ?? SORT_TEACHER_DEFAULTS.endSwapRate;
  const slipRate = opts.slipRate ?? SORT_TEACHER_DEFAULTS.slipRate;
  const draw = opts.draw ?? 0;
  const seed = opts.seed ?? 0;
  for (const [k, v] of [['endSwapRate', endSwapRate], ['slipRate', slipRate]] as const) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${fn}: ${k} must be a number in [0, 1], got ${JSON.stringify(v)}`);
  }
  if (!Number.isInteger(draw) || draw < 0) throw new Error(`${fn}: draw must be a non-negative integer, got ${JSON.stringify(draw)}`);
  if (typeof seed !== 'number' && typeof seed !== 'string') throw new Error(`${fn}: seed must be a number or string, got ${typeof seed}`);
  return { endSwapRate, slipRate, draw, seed };
}

/**
 * The imperfect sorting teacher, a pure function of (seed, question, draw): on a trap question (`sortTrap`), with
 * probability `endSwapRate` the end-swap mistake; otherwise (and on every other question) with probability
 * `slipRate` a slip (`sortSlipAnswer`; none possible on the 10 all-equal lists); else correct. So P(correct) =
 * (1 − e)(1 − s) on trap questions and 1 − s on the others (defaults: 0.36 and 0.90, about 0.70 overall).
 */
export function sortTeacherAnswer(q: SortQuestion, opts: SortTeacherOptions = {}): SortTeacherAnswer {
  checkSortQuestion('sortTeacherAnswer', q);
  const o = resolveSortTeacher('sortTeacherAnswer', opts);
  const rng = makeRng(`toy-sort-teacher:${o.seed}:${q.digits}:${o.draw}`);
  if (sortTrap(q) && rng() < o.endSwapRate) return { answer: sortEndSwapAnswer(q), correct: false, error: 'end-swap' };
  if (rng() < o.slipRate) {
    const slip = sortSlipAnswer(q, rng);
    if (slip !== null) return { answer: slip, correct: false, error: 'slip' };
  }
  return { answer: sortCorrectAnswer(q), correct: true, error: 'none' };
}

/**
 * A wrong answer from the teacher's error distribution (`sortTeacherAnswer` conditioned on being wrong): on a trap
 * question end-swap with probability e / (e + (1 − e)·s) (1 when both are 0), else a slip. For the 10 all-equal
 * lists, where the teacher cannot err, the last digit is raised by one (or lowered, for 9): '7777' → '7778'. Pure in
 * (seed, question, draw); a different stream from `sortTeacherAnswer`'s.
 */
export function sortTeacherWrongAnswer(q: SortQuestion, opts: SortTeacherOptions = {}): SortTeacherAnswer {
  checkSortQuestion('sortTeacherWrongAnswer', q);
  const o = resolveSortTeacher('sortTeacherWrongAnswer', opts);
  const rng = makeRng(`toy-sort-teacher-wrong:${o.seed}:${q.digits}:${o.draw}`);
  if (sortTrap(q)) {
    const e = o.endSwapRate;
    const denom = e + (1 - e) * o.slipRate;
    if (rng() < (denom > 0 ? e / denom : 1)) return { answer: sortEndSwapAnswer(q), correct: false, error: 'end-swap' };
  }
  const slip = sortSlipAnswer(q, rng);
  if (slip !== null) return { answer: slip, correct: false, error: 'slip' };
  const d = Number(q.digits[0]);
  return { answer: q.digits.slice(0, SORT_LENGTH - 1) + String(d === 9 ? 8 : d + 1), correct: false, error: 'slip' };
}

/** Split sizes of the sorting task: 6,000 + 2,000 + 500 + 1,500 = all 10,000 questions. */
export const SORT_SPLIT_DEFAULTS: Required<ToySplitSizes> = { train: 6000, dpo: 2000, dev: 500, test: 1500 };

export interface SortSplits {
  seed: number | string;
  train: SortQuestion[];
  dpo: SortQuestion[];
  dev: SortQuestion[];
  test: SortQuestion[];
}

/** Seeded disjoint splits of the 10,000 sorting questions, cut like `makeSplits` (test, dev, dpo, train). */
export function makeSortSplits(opts: { seed?: number | string; sizes?: ToySplitSizes } = {}): SortSplits {
  return cutSplits('makeSortSplits', allSortQuestions(), SORT_SPLIT_DEFAULTS, 'toy-sort-splits', opts);
}

/**
 * One Fisher–Yates shuffle of `qs` by `makeRng(stream + ':' + seed)`, cut in the order test, dev, dpo, train (so a
 * seed's test split depends only on its size). Sizes: non-negative integers summing to at most `qs.length`.
 */
function cutSplits<Q>(fn: string, qs: Q[], defaults: Required<ToySplitSizes>, stream: string, opts: { seed?: number | string; sizes?: ToySplitSizes }) {
  const seed = opts.seed ?? 0;
  if (typeof seed !== 'number' && typeof seed !== 'string') throw new Error(`${fn}: seed must be a number or string, got ${typeof seed}`);
  const sizes = { ...defaults, ...(opts.sizes ?? {}) };
  for (const k of ['train', 'dpo', 'dev', 'test'] as const) {
    const v = sizes[k];
    if (!Number.isInteger(v) || v < 0) throw new Error(`${fn}: sizes.${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  const total = sizes.train + sizes.dpo + sizes.dev + sizes.test;
  if (total > qs.length) throw new Error(`${fn}: sizes sum to ${total}, more than the ${qs.length} questions`);
  const rng = makeRng(`${stream}:${seed}`);
  for (let i = qs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [qs[i], qs[j]] = [qs[j], qs[i]];
  }
  let at = 0;
  const take = (n: number) => qs.slice(at, (at += n));
  const test = take(sizes.test);
  const dev = take(sizes.dev);
  const dpo = take(sizes.dpo);
  const train = take(sizes.train);
  return { seed, train, dpo, dev, test };
}

// ===============================================================================================================
// the task interface the experiment runner uses

/**
 * One toy task, everything the toy-world runner needs: splits, the prompt, the checker, the imperfect SFT teacher and
 * realistic wrong answers (for judge "No" examples and classifier pairs), and the IPO template. Every function is
 * pure in its arguments and seed.
 */
export interface ToyTask<Q = unknown> {
  /** e.g. 'sort'. */
  name: string;
  /** One sentence for reports. */
  description: string;
  /** The IPO task template, ending "Answer just Yes/No". */
  template: string;
  /** Disjoint question splits. */
  makeSplits(opts: { seed?: number | string; sizes?: ToySplitSizes }): { seed: number | string; train: Q[]; dpo: Q[]; dev: Q[]; test: Q[] };
  key(q: Q): string;
  /** The prompt the model answers (raw text; BOS is added by the tokenizer). */
  instruction(q: Q): string;
  correctAnswer(q: Q): string;
  /** Exact match after trimming. */
  check(q: Q, answerText: string): boolean;
  /** The imperfect SFT teacher. */
  teacherAnswer(q: Q, opts: { seed?: number | string; draw?: number }): { answer: string; correct: boolean };
  /** A realistic wrong answer (for judge "No" examples and classifier pairs). */
  wrongAnswer(q: Q, opts: { seed?: number | string; draw?: number }): string;
  /** Generation budget in tokens (the longest correct answer plus EOS). */
  maxAnswerTokens: number;
}

/** Two-digit addition (the prototype's task), wrapping the functions above. */
export const ADDITION_TASK: ToyTask<ToyQuestion> = {
  name: 'addition',
  description: 'Two-digit addition a+b (a, b in 10..99) answered with the digits of the sum; the teacher often forgets the units carry.',
  template: TOY_TEMPLATE,
  makeSplits: (opts) => makeSplits(opts),
  key: questionKey,
  instruction: instructionText,
  correctAnswer,
  check,
  teacherAnswer: (q, opts) => teacherAnswer(q, opts),
  wrongAnswer: (q, opts) => teacherWrongAnswer(q, opts).answer,
  maxAnswerTokens: 4, // at most 3 digits (198) + EOS
};

/** Sorting four digits ascending (`Sort 4215` → `1245`). */
export const SORT_TASK: ToyTask<SortQuestion> = {
  name: 'sort',
  description: 'Sort four digits ascending ("Sort 4215" -> "1245"); the teacher often leaves the last pair unswapped on lists starting with a digit of 5 or more.',
  template: SORT_TEMPLATE,
  makeSplits: (opts) => makeSortSplits(opts),
  key: sortKey,
  instruction: sortInstruction,
  correctAnswer: sortCorrectAnswer,
  check: sortCheck,
  teacherAnswer: (q, opts) => sortTeacherAnswer(q, opts),
  wrongAnswer: (q, opts) => sortTeacherWrongAnswer(q, opts).answer,
  maxAnswerTokens: SORT_LENGTH + 1, // four digits + EOS
};

/** The toy tasks by name. */
export const TOY_TASKS: Record<string, ToyTask<any>> = { addition: ADDITION_TASK, sort: SORT_TASK };

/** The task the toy world runs by default: the one whose judge emerges within a quick SFT (see the sort section). */
export const DEFAULT_TOY_TASK = 'sort';

/** The IPO prompt of any toy task (official 'rewardbench' layout with the task's template). */
export function toyTaskIpoPrompt<Q>(task: ToyTask<Q>, q: Q, response: string): string {
  if (typeof response !== 'string') throw new Error(`toyTaskIpoPrompt: response must be a string, got ${typeof response}`);
  return buildIpoPrompt({ instruction: task.instruction(q), response, template: task.template, layout: 'rewardbench' });
}
