/**
 * What every toy-world task provides (issue 8): seeded disjoint splits, the prompt, an exact checker, an imperfect SFT
 * teacher, realistic wrong answers and the IPO template. The tasks themselves live one per file (`max.ts` — the
 * default —, `sort.ts`, `addition.ts`) and are listed by name in `tasks.ts`.
 */
import { buildIpoPrompt } from '../scoring/prompt';
import { makeRng } from '../util/rng';

export interface ToySplitSizes {
  /** SFT questions. */
  train?: number;
  /** Prompts the SFT model samples answers for and judges (self-improvement). */
  dpo?: number;
  /** Held-out questions for choices made during development (steps, thresholds) and DPO's eval pairs. */
  dev?: number;
  /** Held-out questions for the reported numbers. */
  test?: number;
}

/** Disjoint question splits of one task (no question in two of them). */
export interface ToySplits<Q = unknown> {
  seed: number | string;
  train: Q[];
  dpo: Q[];
  dev: Q[];
  test: Q[];
}

/**
 * One Fisher–Yates shuffle of `qs` (in place) by `makeRng(stream + ':' + seed)`, cut in the order test, dev, dpo,
 * train: so a seed's test split depends only on its size, and enlarging `train` never moves a question out of
 * `test`. Sizes: non-negative integers summing to at most `qs.length` (else a one-line error naming `fn`).
 */
export function cutSplits<Q>(fn: string, qs: Q[], defaults: Required<ToySplitSizes>, stream: string, opts: { seed?: number | string; sizes?: ToySplitSizes }): ToySplits<Q> {
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


/**
 * The options every imperfect teacher takes: its error rates (probabilities; `defaults` names them, in order, and
 * fills the missing ones), the draw index [0] and the seed [0], each checked with a one-line error naming `fn`.
 */
export function resolveTeacherOptions<K extends string>(
  fn: string,
  opts: Partial<Record<K, number>> & { seed?: number | string; draw?: number },
  defaults: Readonly<Record<K, number>>,
): Record<K, number> & { draw: number; seed: number | string } {
  const rates = {} as Record<K, number>;
  for (const k of Object.keys(defaults) as K[]) {
    const v = opts[k] ?? defaults[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`${fn}: ${k} must be a number in [0, 1], got ${JSON.stringify(v)}`);
    rates[k] = v;
  }
  const draw = opts.draw ?? 0;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(draw) || draw < 0) throw new Error(`${fn}: draw must be a non-negative integer, got ${JSON.stringify(draw)}`);
  if (typeof seed !== 'number' && typeof seed !== 'string') throw new Error(`${fn}: seed must be a number or string, got ${typeof seed}`);
  return { ...rates, draw, seed };
}

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
  /** One question, for examples and for the toy tokenizer's vocabulary (`lib/toy/tokenizer.ts`). */
  sample: Q;
  /** Disjoint question splits. */
  makeSplits(opts: { seed?: number | string; sizes?: ToySplitSizes }): ToySplits<Q>;
  key(q: Q): string;
  /** The prompt the model answers (raw text; BOS is added by the tokenizer). */
  instruction(q: Q): string;
  correctAnswer(q: Q): string;
  /** Exact match after trimming. */
  check(q: Q, answerText: string): boolean;
  /** The questions the teacher's habit gets wrong (carry, unsorted last pair, first digit): for tables and analysis. */
  trap(q: Q): boolean;
  /** The imperfect SFT teacher. */
  teacherAnswer(q: Q, opts: { seed?: number | string; draw?: number }): { answer: string; correct: boolean };
  /** A realistic wrong answer (for judge "No" examples and classifier pairs). */
  wrongAnswer(q: Q, opts: { seed?: number | string; draw?: number }): string;
  /** Generation budget in tokens (the longest correct answer plus EOS). */
  maxAnswerTokens: number;
}


/** The IPO prompt of any toy task (official 'rewardbench' layout with the task's template). */
export function toyTaskIpoPrompt<Q>(task: ToyTask<Q>, q: Q, response: string): string {
  if (typeof response !== 'string') throw new Error(`toyTaskIpoPrompt: response must be a string, got ${typeof response}`);
  return buildIpoPrompt({ instruction: task.instruction(q), response, template: task.template, layout: 'rewardbench' });
}
