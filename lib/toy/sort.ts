/**
 * A toy-world task: sorting four digits ascending (`Sort 4215` → `1245`).
 *
 * Why a second task: addition's judge emerges only after 1,000–1,500 SFT steps (the prototype's "trap"), too slow
 * for a CI-sized quick mode. Measured with the kit's `trainSft` (scratch driver; hidden 64, 2 layers; batch 64,
 * lr 5e-3 cosine, 600 steps, 3 judge examples per task example): reversing or copying 5 digits is generated well
 * but its judge stays at chance (~0.5–0.6: it must compare every answer digit with a question digit), while sorting
 * 4 digits gave held-out judge pairwise accuracy 0.96 / 1.00 / 0.88 and greedy accuracy 0.32 / 0.31 / 0.72 on
 * seeds 1 / 2 / 3 (judge emergence is still seed-dependent: one 800-step run stayed at 0.57). The teacher's mistakes
 * leave the answer UNSORTED, which the judge can see by comparing neighbouring answer digits. Digits are one token
 * each whatever the merges (`lib/toy/tokenizer.ts`), so every list position is one id; lowercase words would be
 * split unevenly by the merges of the template's words.
 *
 * Why it is not the default (`runToyWorld --task sort --quick`, world seed 3): the judge reached 0.935 held-out pairwise
 * accuracy, but the SFT model's SAMPLED mistakes are mostly miscopied digits ("Sort 7354" → "3466", 60 % of samples
 * at T = 1, still ~45 % at top-p 0.7), not the teacher's unsorted last pair; the judge never saw those and gives them
 * P(Yes) 0.57 on average, so only 35 % of its best-vs-worst pairs have a right chosen answer and IPO-DPO ended at
 * 0.50–0.565 against 0.570 before (oracle pairs 0.59–0.61). Teaching the judge miscopies too (half its "No"
 * examples) kept it at 0.61 after 600 steps.
 */
import { makeRng, type Rng } from '../util/rng';
import { allDigitsQuestions, checkDigitsQuestion, DIGITS_LENGTH, DIGITS_NUM_QUESTIONS, type DigitsQuestion } from './digits';
import { cutSplits, resolveTeacherOptions, type ToySplits, type ToySplitSizes, type ToyTask } from './task';

/** One sorting question: four decimal digits in the order asked, e.g. `{ digits: '4215' }` (leading zeros allowed). */
export type SortQuestion = DigitsQuestion;

/** Digits per question. */
export const SORT_LENGTH = DIGITS_LENGTH;
/** Number of distinct questions: 10⁴ ordered digit strings. */
export const SORT_NUM_QUESTIONS = DIGITS_NUM_QUESTIONS;

/** The IPO task template for sorting (official layout; ends "Answer just Yes/No" like `ours.py`'s templates). */
export const SORT_TEMPLATE = 'Is this sort correct? Answer just Yes/No';

const checkSortQuestion = checkDigitsQuestion<SortQuestion>;

/** `"4215"`: the digits themselves (unique per question). */
export function sortKey(q: SortQuestion): string {
  return checkSortQuestion('sortKey', q).digits;
}

/** All 10,000 questions in numeric order: '0000', '0001', …, '9999'. */
export function allSortQuestions(): SortQuestion[] {
  return allDigitsQuestions();
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
  return resolveTeacherOptions<keyof typeof SORT_TEACHER_DEFAULTS>(fn, opts, SORT_TEACHER_DEFAULTS);
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

/** Seeded disjoint splits of the 10,000 sorting questions (`cutSplits`: test, dev, dpo, train). */
export function makeSortSplits(opts: { seed?: number | string; sizes?: ToySplitSizes } = {}): ToySplits<SortQuestion> {
  return cutSplits('makeSortSplits', allSortQuestions(), SORT_SPLIT_DEFAULTS, 'toy-sort-splits', opts);
}

/** Sorting four digits ascending (`Sort 4215` → `1245`). */
export const SORT_TASK: ToyTask<SortQuestion> = {
  name: 'sort',
  description: 'Sort four digits ascending ("Sort 4215" -> "1245"); the teacher often leaves the last pair unswapped on lists starting with a digit of 5 or more.',
  template: SORT_TEMPLATE,
  sample: { digits: '4215' },
  makeSplits: (opts) => makeSortSplits(opts),
  key: sortKey,
  instruction: sortInstruction,
  correctAnswer: sortCorrectAnswer,
  check: sortCheck,
  trap: sortTrap,
  teacherAnswer: (q, opts) => sortTeacherAnswer(q, opts),
  wrongAnswer: (q, opts) => sortTeacherWrongAnswer(q, opts).answer,
  maxAnswerTokens: SORT_LENGTH + 1, // four digits + EOS
};
