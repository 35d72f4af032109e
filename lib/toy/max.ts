/**
 * The toy world's default task: the largest of four digits (`Max 4215` → `5`). A program decides correctness, the
 * answer is one token, and both the task and its judge are learned by the 94,080-parameter toy model within a
 * CI-sized SFT — which is why it is the default (`lib/toy/tasks.ts`).
 *
 * The imperfect teacher has one habit, the analogue of addition's forgotten carry: when the list starts with a digit
 * of 3 or more that is not the largest, it answers that FIRST digit (it "takes the first big-looking digit") with
 * probability 0.8. So the SFT model learns the habit too (greedy answers the first digit on those questions) and
 * has room to improve, while its samples still hold right answers often enough for best-vs-worst pairs to find one.
 *
 * Why this task and not sorting or addition (measured with the kit's `trainSft` and `runToyWorld`, world seed 3,
 * 600 SFT steps, 3 judge examples per task example): sorting's judge reached 0.94 held-out pairwise accuracy, but
 * it only learned to spot the teacher's own mistake (an unsorted last pair); the SFT model's SAMPLED mistakes were
 * mostly miscopied digits ("Sort 7354" → "3466"), to which the judge gave P(Yes) 0.57 on average, so only 35 % of
 * its best-vs-worst pairs had a right chosen answer and IPO-DPO did not beat the start (0.50–0.565 vs 0.570). Here a
 * wrong answer is a single digit, the kind of mistake the sampler makes is the kind the judge was shown: held-out
 * pairwise accuracy 0.99–1.00 on world seeds 1, 2 and 3, and with 1,000 DPO prompts IPO-DPO raised greedy accuracy
 * from 0.62 to 0.86 (oracle pairs 0.90, random 0.62; `ipo toy-world --quick`). With only 400 DPO prompts the gains
 * were small (0.46 → 0.49–0.53): too few pairs for one round.
 *
 * Everything is a pure function of its arguments and seed (Alea, `lib/util/rng.ts`).
 */
import { makeRng, type Rng } from '../util/rng';
import { allDigitsQuestions, checkDigitsQuestion, DIGITS_LENGTH, DIGITS_NUM_QUESTIONS, type DigitsQuestion } from './digits';
import { cutSplits, resolveTeacherOptions, type ToySplits, type ToySplitSizes, type ToyTask } from './task';

/** One question: four decimal digits in the order asked, e.g. `{ digits: '4215' }` (leading zeros allowed). */
export type MaxQuestion = DigitsQuestion;

/** Digits per question. */
export const MAX_LENGTH = DIGITS_LENGTH;
/** Number of distinct questions: 10⁴ ordered digit strings. */
export const MAX_NUM_QUESTIONS = DIGITS_NUM_QUESTIONS;

/** The IPO task template (official layout; ends "Answer just Yes/No" like `ours.py`'s templates). */
export const MAX_TEMPLATE = 'Is this the largest digit? Answer just Yes/No';

/** The teacher's habit starts at this first digit (3..9 lead the lists it may get wrong). */
export const MAX_TRAP_MIN_FIRST = 3;

const checkMaxQuestion = checkDigitsQuestion<MaxQuestion>;

/** `"4215"`: the digits themselves (unique per question). */
export function maxKey(q: MaxQuestion): string {
  return checkMaxQuestion('maxKey', q).digits;
}

/** All 10,000 questions in numeric order: '0000', '0001', …, '9999'. */
export function allMaxQuestions(): MaxQuestion[] {
  return allDigitsQuestions();
}

/** The instruction shown to the model: `"Max 4215"`. */
export function maxInstruction(q: MaxQuestion): string {
  return `Max ${checkMaxQuestion('maxInstruction', q).digits}`;
}

const MAX_INSTRUCTION_RE = /^Max (\d{4})$/;

/** Inverse of `maxInstruction`; throws a one-line error on any other string. */
export function parseMaxInstruction(text: string): MaxQuestion {
  const m = typeof text === 'string' ? MAX_INSTRUCTION_RE.exec(text) : null;
  if (!m) throw new Error(`parseMaxInstruction: not a max question ("Max DDDD"): ${JSON.stringify(text)}`);
  return { digits: m[1] };
}

/** The correct answer: the largest digit (`"5"` for 4215). */
export function maxCorrectAnswer(q: MaxQuestion): string {
  return String(Math.max(...Array.from(checkMaxQuestion('maxCorrectAnswer', q).digits, Number)));
}

/** Exact match after trimming surrounding whitespace: `"5"` and `" 5\n"` pass, `"05"`, `"5."`, `""` fail. */
export function maxCheck(q: MaxQuestion, answerText: string): boolean {
  checkMaxQuestion('maxCheck', q);
  if (typeof answerText !== 'string') throw new Error(`maxCheck: answerText must be a string, got ${typeof answerText}`);
  return answerText.trim() === maxCorrectAnswer(q);
}

/**
 * The teacher's trap: the first digit is at least `MAX_TRAP_MIN_FIRST` and smaller than the largest, so answering
 * the first digit is wrong. 4,011 of the 10,000 questions.
 */
export function maxTrap(q: MaxQuestion): boolean {
  const first = Number(checkMaxQuestion('maxTrap', q).digits[0]);
  return first >= MAX_TRAP_MIN_FIRST && String(first) !== maxCorrectAnswer(q);
}

/**
 * A slip: a digit of the list other than the largest, chosen uniformly among the distinct ones (always wrong).
 * Null when every digit is the largest ('7777': nothing else to pick).
 */
export function maxSlipAnswer(q: MaxQuestion, rng: Rng): string | null {
  const best = maxCorrectAnswer(q);
  const others = [...new Set(q.digits)].filter((d) => d !== best);
  return others.length ? others[Math.floor(rng() * others.length)] : null;
}

export interface MaxTeacherOptions {
  /** Seed of the teacher's draws. Default 0. */
  seed?: number | string;
  /** On a trap question, the probability of answering the first digit. Default 0.8. */
  firstDigitRate?: number;
  /** Otherwise, the probability of a slip. Default 0.1 (addition's and sorting's slipRate). */
  slipRate?: number;
  /** Index of the draw, so one question can get several independent answers. Default 0. */
  draw?: number;
}

export type MaxTeacherError = 'none' | 'first-digit' | 'slip';

export interface MaxTeacherAnswer {
  answer: string;
  /** `maxCheck(q, answer)`. */
  correct: boolean;
  error: MaxTeacherError;
}

export const MAX_TEACHER_DEFAULTS = { firstDigitRate: 0.8, slipRate: 0.1 } as const;

function resolveMaxTeacher(fn: string, opts: MaxTeacherOptions) {
  return resolveTeacherOptions<keyof typeof MAX_TEACHER_DEFAULTS>(fn, opts, MAX_TEACHER_DEFAULTS);
}

/**
 * The imperfect teacher, a pure function of (seed, question, draw): on a trap question (`maxTrap`), with probability
 * `firstDigitRate` the first digit; otherwise (and on every other question) with probability `slipRate` a slip
 * (`maxSlipAnswer`; none possible on the 10 all-equal lists); else correct. So P(correct) = (1 − f)(1 − s) on trap
 * questions and about 1 − s on the others (defaults: 0.18 and 0.90, about 0.61 overall).
 */
export function maxTeacherAnswer(q: MaxQuestion, opts: MaxTeacherOptions = {}): MaxTeacherAnswer {
  checkMaxQuestion('maxTeacherAnswer', q);
  const o = resolveMaxTeacher('maxTeacherAnswer', opts);
  const rng = makeRng(`toy-max-teacher:${o.seed}:${q.digits}:${o.draw}`);
  if (maxTrap(q) && rng() < o.firstDigitRate) return { answer: q.digits[0], correct: false, error: 'first-digit' };
  if (rng() < o.slipRate) {
    const slip = maxSlipAnswer(q, rng);
    if (slip !== null) return { answer: slip, correct: false, error: 'slip' };
  }
  return { answer: maxCorrectAnswer(q), correct: true, error: 'none' };
}

/**
 * A wrong answer from the teacher's error distribution (`maxTeacherAnswer` conditioned on being wrong): on a trap
 * question the first digit with probability f / (f + (1 − f)·s) (1 when both are 0), else a slip. For the 10
 * all-equal lists, where the teacher cannot err, the digit one above (one below for 9): '7777' → '8'. Pure in
 * (seed, question, draw); a different stream from `maxTeacherAnswer`'s.
 */
export function maxTeacherWrongAnswer(q: MaxQuestion, opts: MaxTeacherOptions = {}): MaxTeacherAnswer {
  checkMaxQuestion('maxTeacherWrongAnswer', q);
  const o = resolveMaxTeacher('maxTeacherWrongAnswer', opts);
  const rng = makeRng(`toy-max-teacher-wrong:${o.seed}:${q.digits}:${o.draw}`);
  if (maxTrap(q)) {
    const f = o.firstDigitRate;
    const denom = f + (1 - f) * o.slipRate;
    if (rng() < (denom > 0 ? f / denom : 1)) return { answer: q.digits[0], correct: false, error: 'first-digit' };
  }
  const slip = maxSlipAnswer(q, rng);
  if (slip !== null) return { answer: slip, correct: false, error: 'slip' };
  const d = Number(q.digits[0]);
  return { answer: String(d === 9 ? 8 : d + 1), correct: false, error: 'slip' };
}

/** Split sizes: 6,000 + 2,000 + 500 + 1,500 = all 10,000 questions. */
export const MAX_SPLIT_DEFAULTS: Required<ToySplitSizes> = { train: 6000, dpo: 2000, dev: 500, test: 1500 };

/** Seeded disjoint splits of the 10,000 questions (`cutSplits`: test, dev, dpo, train). */
export function makeMaxSplits(opts: { seed?: number | string; sizes?: ToySplitSizes } = {}): ToySplits<MaxQuestion> {
  return cutSplits('makeMaxSplits', allMaxQuestions(), MAX_SPLIT_DEFAULTS, 'toy-max-splits', opts);
}

/** The largest of four digits, as a `ToyTask`. */
export const MAX_TASK: ToyTask<MaxQuestion> = {
  name: 'max',
  description: 'Name the largest of four digits ("Max 4215" -> "5"); the teacher often answers the first digit when it is 3 or more.',
  template: MAX_TEMPLATE,
  sample: { digits: '4215' },
  makeSplits: (opts) => makeMaxSplits(opts),
  key: maxKey,
  instruction: maxInstruction,
  correctAnswer: maxCorrectAnswer,
  check: maxCheck,
  trap: maxTrap,
  teacherAnswer: (q, opts) => maxTeacherAnswer(q, opts),
  wrongAnswer: (q, opts) => maxTeacherWrongAnswer(q, opts).answer,
  maxAnswerTokens: 2, // one digit + EOS
};
