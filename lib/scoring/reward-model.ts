/**
 * The reward-model baseline of the paper (`Preference_Comparison/Reward_Bench/reward_model.py`, doc §3.3, quirk 21):
 *
 *   pipe = pipeline("text-classification", model=rm, truncation=True, max_length=1024)     (fp16)
 *   text = "Instruction: {prompt}\nResponse: " + response                                  (no chat template)
 *   score = pipe(text)[0]['score']            the TOP label's probability
 *   correct iff score(chosen) > score(rejected); accuracy reported as a fraction
 *
 * Here the RM runs on ONNX Runtime through transformers.js (the engine is `lib/models/onnx-classifier.ts`: which
 * architectures load, how texts are encoded, truncated and batched). A real pairwise RM that fits is
 * `OpenAssistant/reward-model-deberta-v3-large-v2` (deberta-v2, 1 logit); its hub repo ships PyTorch weights only and
 * no ONNX export of it (under Xenova/ or onnx-community/ or elsewhere) could be confirmed, so it has to be exported
 * first (e.g. Optimum `optimum-cli export onnx --task text-classification`) into the transformers.js layout
 * `<folder>/config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx`. For tests and plumbing,
 * `makeRandomRewardModel` (lib/models/make-reward-model.ts) writes a tiny RANDOM-weights BERT RM.
 *
 * Two score modes (`rmScore`):
 * - `faithful`: what the official code computes. Python's text-classification pipeline applies, when no
 *   `function_to_apply` is given: nothing for `problem_type == "regression"` (in the versions that have this branch); sigmoid when
 *   `problem_type == "multi_label_classification"` or `num_labels == 1`; softmax otherwise; and `[0]['score']` is the
 *   largest of those values (top_k=1). So a 1-label RM scores sigmoid(reward); a 2-label RM scores max(P(label)),
 *   which is P(negative) whenever the negative label wins: a response the RM rejects confidently outranks one it
 *   accepts narrowly (quirk 21). The values are rounded to float32 step by step as numpy does on the pipeline's
 *   float32 logits, so sigmoid saturates to exactly 1.0 for rewards above ≈16.6 and such pairs tie (counted wrong),
 *   as in the official run. (transformers.js' own text-classification pipeline differs again: it applies softmax
 *   even to a single logit, which gives 1.0 for every text; it is not used here.)
 * - `fixed`: the raw reward logit for 1-label RMs (sigmoid is monotonic, so only saturation ties change), and
 *   P(positive label) (softmax, float64) for multi-label RMs. The positive label is `positiveLabel` when given, else
 *   the one whose id2label name is positive-like (`LABEL_1` for 2 labels, positive, pos, chosen, good, better,
 *   preferred, yes, true, helpful, acceptable, accept, win; case-insensitive), else the complement of a
 *   negative-like name (`LABEL_0` for 2 labels, negative, neg, rejected, bad, worse, no, false, harmful,
 *   unacceptable, reject, lose) for 2 labels, else index 1 for 2 labels; with more labels and no unique positive-like
 *   name an error asks for `positiveLabel`.
 *
 * `rewardModelPairs` is the long loop (`runCachedLoop`, like `scorePairs`): the cache stores the raw
 * logits per pair (keyed by the RM folder's fingerprint, dtype, effective maxLength and the pair), so switching the
 * mode re-scores from the cache without running the model.
 */
import { modelFingerprint } from '../models/fingerprint';
import {
  loadSequenceClassifier, RM_DEFAULT_BATCH_SIZE, RM_DEFAULT_MAX_LENGTH,
  type ClassifierLabelInfo, type LoadSequenceClassifierOptions, type SequenceClassifier, type ScoreTextsOptions,
} from '../models/onnx-classifier';
import type { CausalLM } from '../models/types';
import { outcome } from '../eval/outcome';
import { runCachedLoop } from '../util/cached-loop';
import type { PairScorer } from './methods';

export {
  RM_DEFAULT_BATCH_SIZE, RM_DEFAULT_MAX_LENGTH, supportedRewardModelTypes,
  type ClassifierLabelInfo, type RewardModelOutput, type ScoreTextsOptions, type SequenceClassifier,
} from '../models/onnx-classifier';

export type RmMode = 'faithful' | 'fixed';
export const RM_MODES: readonly RmMode[] = ['faithful', 'fixed'];

/** The official input text: `"Instruction: {prompt}\nResponse: " + response` (no chat template). */
export function rewardModelText(instruction: string, response: string): string {
  return `Instruction: ${instruction}\nResponse: ` + response;
}

// ---------------------------------------------------------------------------------------------------------------
// scores from logits

export interface RmLabelInfo extends ClassifierLabelInfo {
  /** Fixed mode: index or name of the positive label (overrides the name rules). */
  positiveLabel?: number | string;
}

const POSITIVE = /^(positive|pos|chosen|good|better|preferred|yes|true|helpful|acceptable|accept|win)$/i;
const NEGATIVE = /^(negative|neg|rejected|bad|worse|no|false|harmful|unacceptable|reject|lose)$/i;

function labelNames(n: number, id2label?: Record<string | number, string>): string[] {
  return Array.from({ length: n }, (_, i) => String(id2label?.[i] ?? id2label?.[String(i)] ?? `LABEL_${i}`));
}

/** Index of the label `fixed` mode reads for a multi-label RM (see the file comment); 0 for a 1-label RM. */
export function positiveLabelIndex(numLabels: number, info: RmLabelInfo = {}): number {
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new Error(`positiveLabelIndex: numLabels must be a positive integer, got ${numLabels}`);
  const names = labelNames(numLabels, info.id2label);
  const p = info.positiveLabel;
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p >= numLabels) throw new Error(`positiveLabel ${p} is outside the labels 0..${numLabels - 1}`);
    return p;
  }
  if (typeof p === 'string') {
    const i = names.indexOf(p);
    if (i < 0) throw new Error(`positiveLabel '${p}' is not one of the labels ${names.join(', ')}`);
    return i;
  }
  if (numLabels === 1) return 0;
  const isPos = (s: string) => POSITIVE.test(s) || (numLabels === 2 && /^label_1$/i.test(s));
  const isNeg = (s: string) => NEGATIVE.test(s) || (numLabels === 2 && /^label_0$/i.test(s));
  const pos = names.map((s, i) => (isPos(s) ? i : -1)).filter((i) => i >= 0);
  if (pos.length === 1) return pos[0];
  if (numLabels === 2) {
    const neg = names.map((s, i) => (isNeg(s) ? i : -1)).filter((i) => i >= 0);
    if (neg.length === 1) return 1 - neg[0];
    return 1;
  }
  throw new Error(`cannot tell which of the ${numLabels} labels (${names.join(', ')}) is the positive one: pass positiveLabel`);
}

const f = Math.fround;

/** numpy float32 sigmoid `1 / (1 + exp(-x))`. */
function sigmoid32(x: number): number {
  return f(1 / f(1 + f(Math.exp(-f(x)))));
}

/** numpy float32 softmax (max-shifted). */
function softmax32(xs: number[]): number[] {
  const m = Math.max(...xs.map(f));
  const e = xs.map((x) => f(Math.exp(f(f(x) - m))));
  const s = e.reduce((a, b) => f(a + b), 0);
  return e.map((v) => f(v / s));
}

function softmax64(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The values the Python pipeline ranks (after its default function), float32 as numpy computes them. */
function pipelineValues(logits: number[], info: RmLabelInfo): number[] {
  if (info.problemType === 'regression') return logits.map(f);
  if (info.problemType === 'multi_label_classification' || logits.length === 1) return logits.map(sigmoid32);
  return softmax32(logits);
}

function checkLogits(logits: ArrayLike<number>): number[] {
  const xs = Array.from(logits);
  if (xs.length === 0) throw new Error('rmScore: empty logits');
  return xs;
}

/**
 * The score of one response from its logits. `faithful`: the top label's value from the Python pipeline's default
 * function (sigmoid for 1 label, softmax for several, none for regression), float32. `fixed`: the raw logit for a
 * 1-label RM, P(positive label) for several labels.
 */
export function rmScore(logits: ArrayLike<number>, mode: RmMode = 'faithful', info: RmLabelInfo = {}): number {
  const xs = checkLogits(logits);
  if (mode === 'faithful') return Math.max(...pipelineValues(xs, info));
  if (mode === 'fixed') {
    if (xs.length === 1) return xs[0];
    return softmax64(xs)[positiveLabelIndex(xs.length, info)];
  }
  throw new Error(`unknown reward-model mode '${String(mode)}': use one of ${RM_MODES.join(', ')}`);
}

/** The label `pipe(text)[0]` reports (the top one) and its score. */
export function rmTopLabel(logits: ArrayLike<number>, info: RmLabelInfo = {}): { index: number; label: string; score: number } {
  const xs = checkLogits(logits);
  const v = pipelineValues(xs, info);
  let index = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[index]) index = i;
  return { index, label: labelNames(xs.length, info.id2label)[index], score: v[index] };
}

// ---------------------------------------------------------------------------------------------------------------
// loading

export type LoadRewardModelOptions = LoadSequenceClassifierOptions;

/** A sequence classifier used as a reward model: the engine plus the pair scorer the `rm` method calls. */
export interface RewardModel extends SequenceClassifier, PairScorer {
  /** Label info for `rmScore`. */
  readonly labelInfo: RmLabelInfo;
  /**
   * `rewardModelPairs(rm, pairs, opts)` flattened to numbers (the `PairScorer` contract of lib/scoring/methods.ts):
   * per pair `{chosen, rejected}` scores in `opts.mode`, `correct`, `tie`. Cached like it.
   */
  scorePairs(pairs: RmPair[], opts?: RewardModelPairsOptions): Promise<RmPairOutcome[]>;
}

/** One pair as plain numbers (see `RewardModel.scorePairs`). */
export interface RmPairOutcome {
  chosen: number;
  rejected: number;
  correct: boolean;
  tie: boolean;
}

/**
 * Load a sequence-classification reward model (`loadSequenceClassifier`: a folder in transformers.js layout or a hub
 * id; never lets transformers.js touch the network; one-line errors) and give it `scorePairs`.
 */
export async function loadRewardModel(ref: string, opts: LoadRewardModelOptions = {}): Promise<RewardModel> {
  const clf = await loadSequenceClassifier(ref, opts);
  // Object.assign keeps the engine object (its live numLabels / id2label getters) and adds the method.
  const rm: RewardModel = Object.assign(clf, {
    async scorePairs(pairs: RmPair[], o: RewardModelPairsOptions = {}): Promise<RmPairOutcome[]> {
      const r = await rewardModelPairs(rm, pairs, o);
      return r.scores.map((s) => ({ chosen: s.chosen.score, rejected: s.rejected.score, correct: s.correct, tie: s.tie }));
    },
  });
  return rm;
}

// ---------------------------------------------------------------------------------------------------------------
// pairs

/** A RewardBench-style pair (extra fields such as `category` or `id` are ignored and do not split the cache). */
export interface RmPair {
  instruction: string;
  chosen: string;
  rejected: string;
}

/** What the model said about one response (mode independent; what the cache stores). */
export interface RmRaw {
  logits: number[];
  tokens: number;
  truncated: boolean;
}

export interface RmResponseScore extends RmRaw {
  /** `rmScore(logits, mode)`. */
  score: number;
  /** The label `pipe(text)[0]` reports (the top one). */
  topLabel: string;
}

/** Mirrors `IpoPairScore`: `{chosen, rejected, correct, tie}`. */
export interface RmPairScore {
  mode: RmMode;
  chosen: RmResponseScore;
  rejected: RmResponseScore;
  /** chosen.score > rejected.score, strictly (as the official `>`). */
  correct: boolean;
  /** chosen.score === rejected.score (counted as not correct). */
  tie: boolean;
}

export interface RmPairOptions extends ScoreTextsOptions {
  /** Default `faithful`. */
  mode?: RmMode;
  /** Fixed mode: index or name of the positive label. */
  positiveLabel?: number | string;
}

function checkMode(mode: unknown): RmMode {
  if (!(RM_MODES as readonly unknown[]).includes(mode)) throw new Error(`unknown reward-model mode '${String(mode)}': use one of ${RM_MODES.join(', ')}`);
  return mode as RmMode;
}

function checkPair(fn: string, pair: RmPair, where = 'pair'): RmPair {
  if (pair === null || typeof pair !== 'object') throw new Error(`${fn}: ${where} must be an object {instruction, chosen, rejected}`);
  for (const k of ['instruction', 'chosen', 'rejected'] as const) {
    if (typeof pair[k] !== 'string') throw new Error(`${fn}: ${where}.${k} must be a string, got ${pair[k] === undefined ? 'undefined' : typeof pair[k]}`);
  }
  return pair;
}

/** Score a pair from raw per-response outputs (e.g. cached ones) in `mode`. */
export function rmPairScore(chosen: RmRaw, rejected: RmRaw, mode: RmMode = 'faithful', info: RmLabelInfo = {}): RmPairScore {
  checkMode(mode);
  const one = (r: RmRaw): RmResponseScore => ({ ...r, score: rmScore(r.logits, mode, info), topLabel: rmTopLabel(r.logits, info).label });
  const c = one(chosen);
  const r = one(rejected);
  return { mode, chosen: c, rejected: r, ...outcome(c.score, r.score) };
}

/** Re-score a pair result in another mode (no model run). */
export function rescoreRmPair(s: RmPairScore, mode: RmMode, info: RmLabelInfo = {}): RmPairScore {
  const raw = (x: RmResponseScore): RmRaw => ({ logits: x.logits, tokens: x.tokens, truncated: x.truncated });
  return rmPairScore(raw(s.chosen), raw(s.rejected), mode, info);
}

async function rawPairs(rm: RewardModel, pairs: RmPair[], o: ScoreTextsOptions): Promise<{ chosen: RmRaw; rejected: RmRaw }[]> {
  const texts = pairs.flatMap((p) => [rewardModelText(p.instruction, p.chosen), rewardModelText(p.instruction, p.rejected)]);
  const out = await rm.score(texts, o);
  return pairs.map((_, i) => ({
    chosen: { logits: out.logits[2 * i], tokens: out.tokens[2 * i], truncated: out.truncated[2 * i] },
    rejected: { logits: out.logits[2 * i + 1], tokens: out.tokens[2 * i + 1], truncated: out.truncated[2 * i + 1] },
  }));
}

/** Score one pair: both texts in one batch, `correct` iff chosen > rejected strictly (ties are wrong). */
export async function scorePairRewardModel(rm: RewardModel, pair: RmPair, opts: RmPairOptions = {}): Promise<RmPairScore> {
  const mode = checkMode(opts.mode ?? 'faithful');
  checkPair('scorePairRewardModel', pair);
  const [raw] = await rawPairs(rm, [pair], opts);
  return rmPairScore(raw.chosen, raw.rejected, mode, { ...rm.labelInfo, positiveLabel: opts.positiveLabel });
}

export interface RewardModelPairsOptions extends RmPairOptions {
  /** Progress label (default "RM scoring"). */
  label?: string;
  /** Set false to bypass the cache. */
  cache?: boolean;
}

export interface RewardModelPairsResult {
  scores: RmPairScore[];
  /** Fraction correct (the official metric is a fraction, 0–1). */
  accuracy: number;
  ties: number;
  /** How many pairs came from the cache. */
  cached: number;
  cacheFile: string;
}

/** Bump when what is cached for the same inputs changes. */
const CACHE_VERSION = 'rewardModelPair/v1';

function positiveInt(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Score many pairs with progress and the content-hash cache (`.cache/rm-scores/<fingerprint>.jsonl`, `runCachedLoop`).
 * Uncached pairs are run `batchSize / 2` pairs per forward pass (both texts of a pair in the same batch).
 */
export async function rewardModelPairs(rm: RewardModel, pairs: RmPair[], opts: RewardModelPairsOptions = {}): Promise<RewardModelPairsResult> {
  const { label, cache: useCache, mode: m, positiveLabel, ...textOpts } = opts;
  const mode = checkMode(m ?? 'faithful');
  if (!Array.isArray(pairs)) throw new Error('rewardModelPairs: pairs must be an array');
  pairs.forEach((p, i) => checkPair('rewardModelPairs', p, `pairs[${i}]`));
  const info: RmLabelInfo = { ...rm.labelInfo, positiveLabel };
  if (mode === 'fixed') positiveLabelIndex(rm.numLabels, info); // fail before any work
  const batchSize = positiveInt('batchSize', textOpts.batchSize ?? RM_DEFAULT_BATCH_SIZE);
  const maxLength = Math.min(positiveInt('maxLength', textOpts.maxLength ?? RM_DEFAULT_MAX_LENGTH), rm.maxPositions);
  // the fingerprint reads only `engine` and the folder `ref`
  const fp = modelFingerprint(rm as unknown as CausalLM);
  // running accuracy, counted incrementally (the loop's results only grow)
  let seen = 0;
  let correct = 0;
  const r = await runCachedLoop(pairs, {
    cacheName: `rm-scores/${fp}`,
    cache: useCache,
    label: label ?? 'RM scoring',
    keyParts: (p) => [CACHE_VERSION, fp, { dtype: rm.dtype, maxLength }, { instruction: p.instruction, chosen: p.chosen, rejected: p.rejected }],
    computeBatch: (ps) => rawPairs(rm, ps, { maxLength, batchSize }),
    batchSize: Math.max(1, Math.floor(batchSize / 2)),
    progressInfo: (raws, cached) => {
      for (; seen < raws.length; seen++) if (rmPairScore(raws[seen].chosen, raws[seen].rejected, mode, info).correct) correct++;
      return `accuracy ${(correct / Math.max(1, raws.length)).toFixed(3)}${cached ? `, ${cached} cached` : ''}`;
    },
  });
  const scores = r.results.map((raw) => rmPairScore(raw.chosen, raw.rejected, mode, info));
  const nCorrect = scores.filter((s) => s.correct).length;
  const ties = scores.filter((s) => s.tie).length;
  return { scores, accuracy: scores.length ? nCorrect / scores.length : NaN, ties, cached: r.cached, cacheFile: r.cacheFile };
}
