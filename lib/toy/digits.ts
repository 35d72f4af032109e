/**
 * The question of the two digit-list tasks (`max.ts`, `sort.ts`): four decimal digits in the order asked, leading
 * zeros allowed, 10,000 of them. One definition, so both tasks validate, key and enumerate questions alike.
 */

/** One question, e.g. `{ digits: '4215' }`. */
export interface DigitsQuestion {
  digits: string;
}

/** Digits per question. */
export const DIGITS_LENGTH = 4;
/** Number of distinct questions: 10⁴ ordered digit strings. */
export const DIGITS_NUM_QUESTIONS = 10 ** DIGITS_LENGTH;

const DIGITS_RE = /^\d{4}$/;

/** `q` itself when it is a four-digit question, else a one-line error naming `fn`. */
export function checkDigitsQuestion<Q extends DigitsQuestion>(fn: string, q: Q): Q {
  if (q === null || typeof q !== 'object' || typeof q.digits !== 'string' || !DIGITS_RE.test(q.digits)) {
    throw new Error(`${fn}: question must be {digits: "DDDD"} (four decimal digits), got ${JSON.stringify(q)}`);
  }
  return q;
}

/** All 10,000 questions in numeric order: '0000', '0001', …, '9999'. */
export function allDigitsQuestions(): DigitsQuestion[] {
  return Array.from({ length: DIGITS_NUM_QUESTIONS }, (_, i) => ({ digits: String(i).padStart(DIGITS_LENGTH, '0') }));
}
