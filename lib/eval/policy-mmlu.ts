/**
 * MMLU accuracy of any `CausalLM`, two ways.
 *
 * `mode: 'loglik'` (default; the standard scorer): hendrycks/test `evaluate.py` (commit 0f23bce3) —
 *   prompt = "The following are multiple choice questions (with answers) about" + format_subject(subject) + ".\n\n"
 *            + k dev examples ("{q}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer: {letter}\n\n")
 *            + "{question}\nA. …\nB. …\nC. …\nD. …\nAnswer:"
 *   (`format_subject` puts a space before every word, so the header reads "about  abstract algebra." with two
 *   spaces; kept verbatim). The official script reads the next-token log-probs of " A" … " D" (`top_logprobs[-1]`)
 *   and predicts the argmax (first on ties, `np.argmax`); accuracy is the mean over all questions (its
 *   `weighted_acc`); `shots` (its `--ntrain`, default 5 there, 0 here) is lowered until the prompt fits, as its
 *   `crop` loop does. Here each option's score is log P(prompt + " X") − log P(shared prefix), teacher-forced through
 *   `continuationLogProb` on the joint encodings (like the `'exact'` P(Yes) preset), which equals the next-token
 *   log-prob of " X" for byte-level BPE (one id; then one `nextTokenLogProbs` call is made) and stays correct for
 *   SentencePiece tokenizers where " A" is several ids. A prompt that does not fit even with 0 shots keeps its
 *   special prefix (BOS) and its LAST ids, counted in `truncated`.
 *
 * `mode: 'faithful'`: the IPO authors' `DPO/Evals/sample_mmlu.py` — prompt
 *   "[INST] Answer the following multiple-choice question correctly\n### Question: {q}\nChoices:\n1. {c0}\n2. {c1}\n3. {c2}\n4. {c3}\n### Instruction: Choose the correct answer from the given options. [/INST]",
 *   encoded with special tokens, sampled with T 0.7, 100 new tokens, the sampler reseeded with 42 before EVERY
 *   question (`torch.manual_seed(42)` inside `generate_single_response`), response =
 *   `decode(out)[len(prompt):].strip()`. The official code stops there: it pushes the generations and has NO scorer
 *   (quirk 18). The kit keeps the raw generations and adds a best-effort parse of the chosen option
 *   (`parseMmluChoice`, documented there); unparsed answers count as wrong and are reported. Differences that
 *   cannot be avoided: the kit's sampler is not torch's (same seed, different tokens), and HF's default `top_k=50`
 *   is not applied (the kit's sampler has no top-k; at T 0.7 the mass outside the top 50 is small). A prompt longer
 *   than the model's context minus `maxNewTokens` keeps BOS and its last ids (the official code never truncates),
 *   counted in `truncated`.
 *
 * Both modes report accuracy overall and per subject with seeded bootstrap intervals, and cache per question
 * (`mmlu/<fingerprint>`).
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM } from '../models/types';
import { runCachedLoop } from '../util/cached-loop';
import { loadMmlu, formatMmluSubject, MMLU_LETTERS, type MmluQuestion } from '../data/mmlu';
import { extractResponse, pyStrip } from '../generate/extract';
import { bootstrapCi, type BootstrapCi, type BootstrapOptions } from './bootstrap';

export type MmluMode = 'loglik' | 'faithful';

export interface MmluEvalOptions {
  /** Default 'loglik'. */
  mode?: MmluMode;
  /** loglik: dev examples in the prompt (hendrycks `--ntrain`). Default 0. */
  shots?: number;
  /** loglik: the dev questions for the shots (default: the dev split of the shared zip, per subject, file order). */
  dev?: readonly MmluQuestion[];
  /** faithful: tokens to generate. Default 100 (sample_mmlu.py). */
  maxNewTokens?: number;
  /** faithful: sampling temperature. Default 0.7. */
  temperature?: number;
  /** faithful: nucleus mass. Default 1 (HF default). */
  topP?: number;
  /** faithful: seed set before every question. Default 42. */
  seed?: number;
  bootstrap?: BootstrapOptions;
  cache?: boolean;
}

export interface MmluLoglikResult {
  id: string;
  subject: string;
  answer: number;
  /** argmax of `logProbs` (first on ties) */
  prediction: number;
  /** log P(prompt + " X") − log P(c) for X = A…D, c = the ids the four encodings share (= log P(" X" | prompt) when " X" is one id) */
  logProbs: number[];
  correct: boolean;
  /** dev examples actually in the prompt */
  shots: number;
  promptTokens: number;
  truncated: boolean;
}

export type MmluParseRule = 'leading-number' | 'leading-letter' | 'answer-phrase' | 'choice-text';

export interface MmluFreeFormResult {
  id: string;
  subject: string;
  answer: number;
  /** the official `decoded[len(prompt):].strip()` */
  response: string;
  /** the generated ids decoded on their own (what is parsed) */
  continuation: string;
  /** decoded prompt + generation starts with the prompt text (else the official slice is off) */
  promptEchoed: boolean;
  /** parsed option index, null when unparsed */
  prediction: number | null;
  rule: MmluParseRule | null;
  correct: boolean;
  promptTokens: number;
  generatedTokens: number;
  truncated: boolean;
}

export interface SubjectAccuracy {
  n: number;
  correct: number;
  accuracy: number;
  ci: BootstrapCi;
}

interface ReportBase {
  n: number;
  correct: number;
  /** correct / n over all questions (hendrycks' weighted_acc) */
  accuracy: number;
  ci: BootstrapCi;
  /** unweighted mean of the subject accuracies */
  macroAccuracy: number;
  subjects: Record<string, SubjectAccuracy>;
  /** prompts cut to fit the model */
  truncated: number;
  cached: number;
}

export interface MmluLoglikReport extends ReportBase {
  mode: 'loglik';
  questions: MmluLoglikResult[];
}

export interface MmluFreeFormReport extends ReportBase {
  mode: 'faithful';
  /** answers with a parsed option */
  parsed: number;
  unparsed: number;
  /** correct / parsed */
  accuracyParsed: number;
  rules: Record<MmluParseRule, number>;
  /** what the official code does with these generations: nothing */
  note: string;
  questions: MmluFreeFormResult[];
}

export const MMLU_FAITHFUL_NOTE =
  'DPO/Evals/sample_mmlu.py generates free-form answers and has no scorer (quirk 18); the option is parsed by the kit (parseMmluChoice), unparsed answers count as wrong';

// ---------------------------------------------------------------------------------------------------------------
// prompts

/** hendrycks `format_example`: question, lettered choices, "Answer:" and, for a shot, " {letter}\n\n". */
export function mmluExample(q: MmluQuestion, includeAnswer: boolean): string {
  let s = q.question;
  q.choices.forEach((c, j) => (s += `\n${MMLU_LETTERS[j]}. ${c}`));
  s += '\nAnswer:';
  if (includeAnswer) s += ` ${MMLU_LETTERS[q.answer]}\n\n`;
  return s;
}

/** hendrycks `gen_prompt(dev, subject, k) + format_example(test, i, include_answer=False)`. */
export function mmluPrompt(q: MmluQuestion, shots: readonly MmluQuestion[] = []): string {
  return `The following are multiple choice questions (with answers) about ${formatMmluSubject(q.subject)}.\n\n${shots.map((s) => mmluExample(s, true)).join('')}${mmluExample(q, false)}`;
}

/** `sample_mmlu.py` `format_instruction` (numbered choices 1..4), without the [INST] wrapper. */
export function mmluFreeFormInstruction(q: Pick<MmluQuestion, 'question' | 'choices'>): string {
  const choices = `Choices:\n${q.choices.map((c, i) => `${i + 1}. ${c}`).join('\n')}`;
  return `Answer the following multiple-choice question correctly\n### Question: ${q.question}\n${choices}\n### Instruction: Choose the correct answer from the given options.`;
}

/** The full faithful prompt: `f"[INST] {instruction} [/INST]"`. */
export function mmluFreeFormPrompt(q: Pick<MmluQuestion, 'question' | 'choices'>): string {
  return `[INST] ${mmluFreeFormInstruction(q)} [/INST]`;
}

// ---------------------------------------------------------------------------------------------------------------
// parsing free-form answers (the kit's, documented; the official code has none)

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Best-effort option index from a free-form answer to the numbered (1–4) prompt. Rules, first match wins:
 * 1. `leading-number`: the answer starts with the option number, e.g. "2", "2.", "(2)", "**2)", "2 - Paris";
 * 2. `leading-letter`: it starts with a letter A–D in the same forms (models trained on lettered MMLU do this);
 * 3. `answer-phrase`: "answer is 3", "Answer: (3)", "option 3", "choice 3", "correct answer: 3", first occurrence;
 * 4. `choice-text`: exactly ONE choice's text occurs in the answer (case-insensitive, as a whole word/phrase);
 *    none or several → unparsed.
 * Returns `{ choice: null, rule: null }` when nothing applies.
 */
export function parseMmluChoice(text: string, choices: readonly string[]): { choice: number | null; rule: MmluParseRule | null } {
  const t = pyStrip(text);
  let m = /^[\s*_#>"'`(\[]*([1-4])(?![0-9]|[.,][0-9])(?:[\s.):\]*_,-]|$)/.exec(t);
  if (m) return { choice: Number(m[1]) - 1, rule: 'leading-number' };
  m = /^[\s*_#>"'`(\[]*([A-D])(?:[.):\]]|\s*$)/.exec(t);
  if (m) return { choice: m[1].charCodeAt(0) - 65, rule: 'leading-letter' };
  m = /\b(?:answer|option|choice)(?:\s+is)?\s*[:\-]?\s*(?:option\s*|choice\s*|number\s*)?[*(\["']*([1-4])(?![0-9])/i.exec(t);
  if (m) return { choice: Number(m[1]) - 1, rule: 'answer-phrase' };
  const hits: number[] = [];
  choices.forEach((c, i) => {
    const s = pyStrip(c);
    if (!s) return;
    const re = new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRe(s)}($|[^\\p{L}\\p{N}])`, 'iu');
    if (re.test(t)) hits.push(i);
  });
  if (hits.length === 1) return { choice: hits[0], rule: 'choice-text' };
  return { choice: null, rule: null };
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

function lcp(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function specialPrefix(model: CausalLM, ids: number[]): number {
  return model.bosTokenId !== null && ids[0] === model.bosTokenId ? 1 : 0;
}

/** Keep the special prefix (BOS) and the last ids so that `ids` fits `max`. */
function keepEnd(model: CausalLM, ids: number[], max: number): { ids: number[]; truncated: boolean } {
  if (ids.length <= max) return { ids, truncated: false };
  const pre = Math.min(specialPrefix(model, ids), Math.max(0, max - 1));
  return { ids: [...ids.slice(0, pre), ...ids.slice(ids.length - (max - pre))], truncated: true };
}

function argmaxFirst(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

function checkQuestions(fn: string, qs: unknown): readonly MmluQuestion[] {
  if (!Array.isArray(qs)) throw new Error(`${fn}: questions must be an array`);
  qs.forEach((q, i) => {
    const o = q as MmluQuestion;
    if (!o || typeof o.question !== 'string' || !Array.isArray(o.choices) || o.choices.length !== 4 || !o.choices.every((c) => typeof c === 'string')) {
      throw new Error(`${fn}: questions[${i}] must be {subject, question, choices[4], answer 0-3}`);
    }
    if (!Number.isInteger(o.answer) || o.answer < 0 || o.answer > 3) throw new Error(`${fn}: questions[${i}].answer must be 0-3, got ${String(o.answer)}`);
    if (typeof o.subject !== 'string') throw new Error(`${fn}: questions[${i}].subject must be a string`);
  });
  return qs as MmluQuestion[];
}

function aggregate(results: readonly { subject: string; correct: boolean; truncated: boolean }[], boot: BootstrapOptions | undefined, cached: number): ReportBase {
  const values = results.map((r) => (r.correct ? 1 : 0));
  const bySubject = new Map<string, number[]>();
  for (const r of results) {
    const list = bySubject.get(r.subject) ?? [];
    list.push(r.correct ? 1 : 0);
    bySubject.set(r.subject, list);
  }
  const subjects: Record<string, SubjectAccuracy> = {};
  for (const s of [...bySubject.keys()].sort()) {
    const v = bySubject.get(s)!;
    const correct = v.reduce((a, b) => a + b, 0);
    subjects[s] = { n: v.length, correct, accuracy: correct / v.length, ci: bootstrapCi(v, boot) };
  }
  const correct = values.reduce((a: number, b) => a + b, 0);
  const accs = Object.values(subjects).map((s) => s.accuracy);
  return {
    n: results.length,
    correct,
    accuracy: results.length ? correct / results.length : NaN,
    ci: bootstrapCi(values, boot),
    macroAccuracy: accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : NaN,
    subjects,
    truncated: results.filter((r) => r.truncated).length,
    cached,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// log-likelihood scorer

/** log P(" A"…" D" | prompt) of one prompt, and the ids it was conditioned on. */
export async function mmluOptionLogProbs(model: CausalLM, prompt: string, maxLength?: number): Promise<{ logProbs: number[]; promptTokens: number; truncated: boolean }> {
  const encs = MMLU_LETTERS.map((l) => model.encode(`${prompt} ${l}`));
  let c = encs[0].length;
  for (let k = 1; k < encs.length; k++) c = Math.min(c, lcp(encs[0], encs[k]));
  if (c === 0) throw new Error('mmluOptionLogProbs: the four prompt+option encodings share no leading token');
  const suffixes = encs.map((e) => e.slice(c));
  if (suffixes.some((s) => s.length === 0)) throw new Error('mmluOptionLogProbs: an option adds no token after the shared prefix');
  const longest = Math.max(...suffixes.map((s) => s.length));
  const room = Math.min(maxLength ?? Infinity, Number.isFinite(model.maxLength) && model.maxLength > 0 ? model.maxLength - longest : Infinity);
  if (room < 1) throw new Error(`mmluOptionLogProbs: no room for the prompt (model maxLength ${model.maxLength})`);
  const { ids, truncated } = keepEnd(model, encs[0].slice(0, c), room);
  let logProbs: number[];
  if (suffixes.every((s) => s.length === 1)) {
    const lp = await model.nextTokenLogProbs(ids);
    logProbs = suffixes.map((s) => lp[s[0]]);
  } else {
    logProbs = [];
    for (const s of suffixes) logProbs.push((await model.continuationLogProb(ids, s)).total);
  }
  return { logProbs, promptTokens: ids.length, truncated };
}

function devBySubject(dev: readonly MmluQuestion[]): Map<string, MmluQuestion[]> {
  const m = new Map<string, MmluQuestion[]>();
  for (const q of dev) {
    const l = m.get(q.subject) ?? [];
    l.push(q);
    m.set(q.subject, l);
  }
  return m;
}

async function evaluateLoglik(model: CausalLM, qs: readonly MmluQuestion[], opts: MmluEvalOptions): Promise<MmluLoglikReport> {
  const shots = opts.shots ?? 0;
  if (!Number.isInteger(shots) || shots < 0) throw new Error(`evaluateMmlu: shots must be a non-negative integer, got ${String(shots)}`);
  const dev = shots > 0 ? devBySubject(opts.dev ?? loadMmlu({ split: 'dev' }).questions) : new Map<string, MmluQuestion[]>();
  const fp = modelFingerprint(model);
  const r = await runCachedLoop<MmluQuestion, MmluLoglikResult>(qs, {
    cacheName: `mmlu/${fp}`,
    cache: opts.cache,
    label: 'MMLU (log-likelihood)',
    keyParts: (q) => ['mmlu-loglik-v1', fp, shots, q.subject, q.question, q.choices, shots > 0 ? (dev.get(q.subject) ?? []).slice(0, shots).map((d) => [d.question, d.choices, d.answer]) : []],
    progressInfo: (res, cached) => `accuracy ${res.length ? (res.filter((x) => x.correct).length / res.length).toFixed(3) : '-'}${cached ? `, ${cached} cached` : ''}`,
    compute: async (q): Promise<MmluLoglikResult> => {
      const pool = (dev.get(q.subject) ?? []).slice(0, shots);
      let k = pool.length;
      let prompt = mmluPrompt(q, pool.slice(0, k));
      // hendrycks' crop loop: fewer shots until the prompt (plus the longest option) fits the model
      const limit = Number.isFinite(model.maxLength) && model.maxLength > 0 ? model.maxLength : Infinity;
      while (k > 0 && model.encode(`${prompt} A`).length + 1 > limit) prompt = mmluPrompt(q, pool.slice(0, --k));
      const s = await mmluOptionLogProbs(model, prompt);
      const prediction = argmaxFirst(s.logProbs);
      return { id: q.id, subject: q.subject, answer: q.answer, prediction, logProbs: s.logProbs, correct: prediction === q.answer, shots: k, promptTokens: s.promptTokens, truncated: s.truncated };
    },
  });
  return { mode: 'loglik', ...aggregate(r.results, opts.bootstrap, r.cached), questions: r.results };
}

// ---------------------------------------------------------------------------------------------------------------
// faithful free-form generation

async function evaluateFreeForm(model: CausalLM, qs: readonly MmluQuestion[], opts: MmluEvalOptions): Promise<MmluFreeFormReport> {
  const maxNewTokens = opts.maxNewTokens ?? 100;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error(`evaluateMmlu: maxNewTokens must be a positive integer, got ${String(maxNewTokens)}`);
  const temperature = opts.temperature ?? 0.7;
  if (typeof temperature !== 'number' || !(temperature >= 0)) throw new Error(`evaluateMmlu: temperature must be >= 0, got ${String(temperature)}`);
  const topP = opts.topP ?? 1;
  const seed = opts.seed ?? 42;
  const gen = { maxNewTokens, temperature, topP, seed };
  const fp = modelFingerprint(model);
  const r = await runCachedLoop(qs, {
    cacheName: `mmlu/${fp}`,
    cache: opts.cache,
    label: 'MMLU (faithful, generated)',
    keyParts: (q) => ['mmlu-freeform-v1', fp, gen, q.question, q.choices],
    compute: async (q) => {
      const prompt = mmluFreeFormPrompt(q);
      const full = model.encode(prompt);
      const room = Number.isFinite(model.maxLength) && model.maxLength > 0 ? Math.max(1, model.maxLength - maxNewTokens) : Infinity;
      const { ids, truncated } = keepEnd(model, full, room);
      // torch.manual_seed(42) before every question: every generate call restarts the sampler from `seed`
      const out = await model.generate(ids, { maxNewTokens, temperature, topP, seed });
      const { text, promptEchoed } = extractResponse(model, ids, prompt, out, 'faithful');
      const continuation = extractResponse(model, ids, prompt, out, 'fixed').text;
      return { response: text, continuation, promptEchoed, promptTokens: ids.length, generatedTokens: out.length, truncated };
    },
  });
  const rules: Record<MmluParseRule, number> = { 'leading-number': 0, 'leading-letter': 0, 'answer-phrase': 0, 'choice-text': 0 };
  const results: MmluFreeFormResult[] = qs.map((q, i) => {
    const g = r.results[i];
    const p = parseMmluChoice(g.continuation, q.choices);
    if (p.rule) rules[p.rule]++;
    return { id: q.id, subject: q.subject, answer: q.answer, ...g, prediction: p.choice, rule: p.rule, correct: p.choice === q.answer };
  });
  const parsed = results.filter((x) => x.prediction !== null).length;
  const correct = results.filter((x) => x.correct).length;
  return {
    mode: 'faithful',
    ...aggregate(results, opts.bootstrap, r.cached),
    parsed,
    unparsed: results.length - parsed,
    accuracyParsed: parsed ? correct / parsed : NaN,
    rules,
    note: MMLU_FAITHFUL_NOTE,
    questions: results,
  };
}

/** MMLU accuracy of `model` on `questions` (see the file comment for both modes). */
export async function evaluateMmlu(model: CausalLM, questions: readonly MmluQuestion[], opts: MmluEvalOptions & { mode: 'faithful' }): Promise<MmluFreeFormReport>;
export async function evaluateMmlu(model: CausalLM, questions: readonly MmluQuestion[], opts?: MmluEvalOptions & { mode?: 'loglik' }): Promise<MmluLoglikReport>;
export async function evaluateMmlu(model: CausalLM, questions: readonly MmluQuestion[], opts?: MmluEvalOptions): Promise<MmluLoglikReport | MmluFreeFormReport>;
export async function evaluateMmlu(model: CausalLM, questions: readonly MmluQuestion[], opts: MmluEvalOptions = {}): Promise<MmluLoglikReport | MmluFreeFormReport> {
  const qs = checkQuestions('evaluateMmlu', questions);
  const mode = opts.mode ?? 'loglik';
  if (mode === 'loglik') return evaluateLoglik(model, qs, opts);
  if (mode === 'faithful') return evaluateFreeForm(model, qs, opts);
  throw new Error(`evaluateMmlu: mode must be 'loglik' or 'faithful', got ${JSON.stringify(mode)}`);
}
