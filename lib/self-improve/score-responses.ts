/**
 * Step 2 of the paper's self-improvement round: give every sampled response (lib/generate/sample.ts `SampleRecord`)
 * a number from a judge, so `buildPairs` (lib/pairs.ts) can take best vs worst per prompt. Higher = better.
 *
 * Judges (`ResponseJudge`), one factory each:
 * - `ipoJudge(model)`: the model's own P(Yes), as `DPO/ours.py` `generate_yes_no_probability` (doc §5.2 step 3):
 *   category → template from the `'dpo'` table (`General`/`chat`/`Safety`/`Math`, case-sensitive keys, anything else
 *   gets the CODE template: quirk 16), the RewardBench layout `TEMPLATE + "\n    User : " + instruction +
 *   "\n    Response : " + response + "\n    "`, `encode(prompt, max_length=1024, truncation=True)` (right truncation:
 *   `truncation_side="left"` is set only after `--just_sample` has exited), one forward pass, `p_yes / (p_yes + p_no)`
 *   over the encoded " Yes" / " No" ids (`paper` preset). Score = `pYes`; `yes`, `no`, `underflow`, `truncated` are
 *   kept in `detail`. Runs `pYesBatch`, so the engine batches.
 * - `selfRewardJudge(model)`: the Yuan et al. rubric as `DPO/self_reward.py` `generate_reward` runs it
 *   (doc §3.1, §5.3): `max_length=2048` right truncation, `max_new_tokens=128`, `temperature=0.1` without
 *   `do_sample` (so greedy unless the model's generation_config samples: `sampling` option, quirk 12). The official
 *   function returns `(score, generated_text)` with `generated_text = decode(outputs[0], skip_special_tokens=True)`:
 *   judge PROMPT + judgement. That text is `judgeText` here (in both modes), which
 *   `FAITHFUL_SELF_REWARD_PAIR_OPTIONS` (sort `score-then-judge-text`) compares on score ties (quirk 13).
 *   `mode: 'faithful'` parses that whole text, unparsed = 0 (quirk 11); `'fixed'` parses the generation only and
 *   gives NaN when nothing matches, which `buildPairs` drops and counts (`dropped.nanScores`).
 * - `rewardModelJudge(rm)`: a sequence-classifier RM on `"Instruction: {prompt}\nResponse: " + response`
 *   (`Reward_Bench/reward_model.py`, doc §3.3), `rmScore` in `faithful` mode (top label's probability, quirk 21) or
 *   `fixed` mode (the reward logit / P(positive label)).
 * - `customJudge(name, fn)`: any numeric oracle `fn(instruction, response, category)`.
 *
 * `scoreSamples` runs a judge over all responses through `runCachedLoop`, so a killed run resumes. The cache key is
 * the judge fingerprint (model content fingerprint + every option that decides the number) + instruction + category
 * + response. Judges whose expensive output can be read in several ways (the rubric's generation in faithful or fixed
 * mode, an RM's logits in faithful or fixed mode) expose a `raw` stage: only the raw output is cached, under a
 * fingerprint without the reading knobs, so switching `mode` re-reads the cache without running the model (as
 * `rewardModelPairs` and `reparseSelfRewardPair` do). A custom judge is cached only when given a `fingerprint`
 * (its function's closure cannot be fingerprinted).
 *
 * `writeScores` / `readScores`: `scores.jsonl`, one `ScoreRecord` per prompt. JSON has no NaN: non-finite scores are
 * written as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` and read back as numbers.
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM } from '../models/types';
import { formatSkips, kindOf, readRecordFile, SkipCounter, writeJsonl } from '../util/jsonl';
import type { SampleRecord } from '../generate/sample';
import type { ScoredGroup } from '../pairs';
import { contentHash, stableStringify } from '../util/cache';
import { runCachedLoop } from '../util/cached-loop';
import { checkEnum, checkPositiveInt, describe } from '../util/check';
import {
  DPO_CATEGORY_TEMPLATES, isRewardBenchSubset, REWARDBENCH_FALLBACK_SUBSET, RMBENCH_FALLBACK_DATASET, rmBenchDataset,
  resolveTemplate, type TemplateSet,
} from '../scoring/templates';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH, pYesBatch, type IpoOptions, type IpoPreset, type IpoTruncation } from '../scoring/yes-no';
import type { IpoLayout } from '../scoring/prompt';
import {
  judgeSelfReward, parseJudgement, resolveSelfRewardOptions, SELF_REWARD_DPO_MAX_NEW_TOKENS,
  type SelfRewardMode, type SelfRewardOptions, type SelfRewardParser,
} from '../scoring/self-reward';
import {
  positiveLabelIndex, RM_DEFAULT_BATCH_SIZE, RM_DEFAULT_MAX_LENGTH, rewardModelText, rmScore, rmTopLabel,
  type RmLabelInfo, type RmMode, type SequenceClassifier,
} from '../scoring/reward-model';

// ---------------------------------------------------------------------------------------------------------------
// the judge interface

export type JudgeKind = 'ipo' | 'self-reward' | 'rm' | 'custom';

/** One response to score. */
export interface JudgeItem {
  instruction: string;
  category?: string;
  /** May be empty (the official code scores empty responses too). */
  response: string;
}

/** A judge's verdict on one response. */
export interface JudgeOutput {
  /** Higher is better. NaN = no verdict (dropped and counted by `buildPairs`). */
  score: number;
  /** The judge's text for `sort: 'score-then-judge-text'` (the rubric judge: prompt + judgement). */
  judgeText?: string;
  /** What else the judge knows (JSON-serialisable): P(yes)/P(no), parse result, logits, … */
  detail?: Record<string, unknown>;
}

/**
 * The expensive part of a judge, cached on its own (see the file comment): `computeBatch` gives JSON-serialisable
 * raw outputs, `interpret` turns one into a verdict (cheap, deterministic, not cached).
 */
export interface RawJudgeStage {
  /** Everything that decides the raw output (not the reading knobs). */
  readonly fingerprint: string;
  computeBatch(items: JudgeItem[]): Promise<unknown[]>;
  /** Depends on `raw` and the judge's reading knobs only (the cache holds `raw`). */
  interpret(raw: unknown): JudgeOutput;
}

export interface ResponseJudge {
  /** For labels and records, e.g. `ipo(paper)`. */
  readonly name: string;
  readonly kind: JudgeKind;
  /** Everything that decides the verdicts (model content fingerprint + options); part of cache keys. */
  readonly fingerprint: string;
  /** Verdicts for `items`, in order. */
  scoreBatch(items: JudgeItem[]): Promise<JudgeOutput[]>;
  /** Cache misses per `scoreBatch` call in `scoreSamples` (default 8): the cache is written after each call. */
  readonly batchSize?: number;
  /** false: `scoreSamples` never caches this judge (a custom function without a fingerprint). */
  readonly cacheable?: boolean;
  /** When present, `scoreSamples` caches the raw stage and interprets it (mode switches reuse the cache). */
  readonly raw?: RawJudgeStage;
}

/** `raw.computeBatch` + `raw.interpret`: the `scoreBatch` of a judge with a raw stage. */
function scoreViaRaw(stage: RawJudgeStage): (items: JudgeItem[]) => Promise<JudgeOutput[]> {
  return async (items) => {
    const raws = await stage.computeBatch(items);
    return raws.map((r) => stage.interpret(r));
  };
}

const short = (fp: string) => contentHash(fp).slice(0, 16);

// ---------------------------------------------------------------------------------------------------------------
// ipo

/** `IpoOptions` with the `DPO/ours.py` defaults: paper preset, RewardBench layout, 1024 right truncation, dpo templates. */
export type IpoJudgeOptions = IpoOptions;

export interface ResolvedIpoJudgeOptions {
  preset: IpoPreset;
  layout: IpoLayout;
  maxLength: number;
  truncation: IpoTruncation;
  templateSet: TemplateSet;
}

export function resolveIpoJudgeOptions(opts: IpoJudgeOptions = {}): ResolvedIpoJudgeOptions & { batchSize: number } {
  const fn = 'ipoJudge';
  if (opts === null || typeof opts !== 'object') throw new Error(`${fn}: options must be an object, got ${describe(opts)}`);
  return {
    preset: checkEnum(fn, 'preset', opts.preset, ['paper', 'exact'] as const, 'paper'),
    layout: checkEnum(fn, 'layout', opts.layout, ['rewardbench', 'rmbench'] as const, 'rewardbench'),
    maxLength: checkPositiveInt(fn, 'maxLength', opts.maxLength, DEFAULT_MAX_LENGTH),
    truncation: checkEnum(fn, 'truncation', opts.truncation, ['right', 'left', 'keep-marker'] as const, 'right'),
    templateSet: checkEnum(fn, 'templateSet', opts.templateSet, ['dpo', 'rewardbench', 'rmbench'] as const, 'dpo'),
    batchSize: checkPositiveInt(fn, 'batchSize', opts.batchSize, DEFAULT_BATCH_SIZE),
  };
}

/**
 * The key of the template table entry `category` selects (`'dpo'`: `General` for anything not spelled exactly
 * `General`/`chat`/`Safety`/`Math`), and whether that was the table's fallback.
 */
export function templateKeyFor(category: string | undefined, set: TemplateSet): { key: string; fallback: boolean } {
  const { fallback } = resolveTemplate(category, set);
  switch (set) {
    case 'dpo': return { key: !fallback ? (category as keyof typeof DPO_CATEGORY_TEMPLATES) : 'General', fallback };
    case 'rewardbench': return { key: isRewardBenchSubset(category) ? category : REWARDBENCH_FALLBACK_SUBSET, fallback };
    case 'rmbench': return { key: rmBenchDataset(category) ?? RMBENCH_FALLBACK_DATASET, fallback };
    default: throw new Error(`templateKeyFor: unknown template set ${JSON.stringify(set)}`);
  }
}

/** Bump when the verdicts for the same inputs change. */
const IPO_VERSION = 'ipo-judge/v1';

/** The model judges its own responses by P(Yes) (see the file comment). `batchSize`: sequences per engine call. */
export function ipoJudge(model: CausalLM, opts: IpoJudgeOptions = {}): ResponseJudge {
  const { batchSize, ...o } = resolveIpoJudgeOptions(opts);
  return {
    name: `ipo(${o.preset})`,
    kind: 'ipo',
    // a getter: the memoised content fingerprint follows `forgetFingerprint` after in-place training
    get fingerprint() {
      return `${IPO_VERSION}:${modelFingerprint(model)}:${stableStringify(o)}`;
    },
    batchSize,
    async scoreBatch(items) {
      const scores = await pYesBatch(
        model,
        items.map((it) => ({ instruction: it.instruction, response: it.response, category: it.category })),
        { ...o, batchSize },
      );
      return scores.map((s, i) => {
        const t = templateKeyFor(items[i].category, o.templateSet);
        return {
          score: s.pYes,
          detail: {
            yes: s.yes, no: s.no, underflow: s.underflow, truncated: s.truncated, promptTokens: s.promptTokens,
            preset: s.preset, templateKey: t.key, templateFallback: t.fallback,
          },
        };
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// self-reward

/** `SelfRewardOptions` with the `DPO/self_reward.py` defaults: 128 new tokens, 2048 truncation, faithful parsing. */
export type SelfRewardJudgeOptions = SelfRewardOptions;

/** What the rubric judge's raw stage caches (mode independent). */
export interface SelfRewardRaw {
  generated: string;
  decoded: string;
  promptTokens: number;
  generatedTokens: number;
  truncated: boolean;
}

const SELF_REWARD_VERSION = 'self-reward-judge/v1';

/**
 * The model judges its own responses with the additive 5-point rubric (one generation per response). Score: 1–5;
 * unparsed = 0 (`faithful`) or NaN (`fixed`). `judgeText` = decode(prompt + generation), the official
 * `generated_text`.
 */
export function selfRewardJudge(model: CausalLM, opts: SelfRewardJudgeOptions = {}): ResponseJudge {
  if (opts === null || typeof opts !== 'object') throw new Error(`selfRewardJudge: options must be an object, got ${describe(opts)}`);
  const input: SelfRewardOptions = { ...opts, maxNewTokens: opts.maxNewTokens ?? SELF_REWARD_DPO_MAX_NEW_TOKENS };
  const { mode, parser, ...gen } = resolveSelfRewardOptions('selfRewardJudge', input);
  const rawFingerprint = () => `${SELF_REWARD_VERSION}:${modelFingerprint(model)}:${stableStringify(gen)}`;
  const raw: RawJudgeStage = {
    get fingerprint() {
      return rawFingerprint();
    },
    async computeBatch(items) {
      const out: SelfRewardRaw[] = [];
      for (const it of items) {
        const j = await judgeSelfReward(model, { instruction: it.instruction, response: it.response }, input);
        out.push({ generated: j.generated, decoded: j.decoded, promptTokens: j.promptTokens, generatedTokens: j.generatedTokens, truncated: j.truncated });
      }
      return out;
    },
    interpret(r) {
      return interpretSelfReward(r as SelfRewardRaw, mode, parser);
    },
  };
  return {
    name: `self-reward(${mode})`,
    kind: 'self-reward',
    get fingerprint() {
      return `${rawFingerprint()}:${stableStringify({ mode, parser })}`;
    },
    batchSize: 1,
    raw,
    scoreBatch: scoreViaRaw(raw),
  };
}

/** Read one cached rubric generation in `mode` (exported so stored raw outputs can be re-read). */
export function interpretSelfReward(r: SelfRewardRaw, mode: SelfRewardMode, parser: SelfRewardParser = 'rewardbench'): JudgeOutput {
  const j = parseJudgement(r, mode, parser);
  return {
    score: j.score ?? NaN,
    judgeText: j.decoded,
    detail: {
      mode, parsed: j.parsed, rawScore: j.rawScore, match: j.match, matchInPrompt: j.matchInPrompt,
      generated: j.generated, promptTokens: j.promptTokens, generatedTokens: j.generatedTokens, truncated: j.truncated,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// reward model

export interface RewardModelJudgeOptions {
  /** `faithful` (default): top label's probability (quirk 21); `fixed`: reward logit / P(positive label). */
  mode?: RmMode;
  /** Fixed mode: index or name of the positive label. */
  positiveLabel?: number | string;
  /** Right truncation keeping the special tokens (default 1024, capped by the model's positions). */
  maxLength?: number;
  /** Texts per forward pass (default 8). */
  batchSize?: number;
}

/** What the RM judge's raw stage caches (mode independent). */
export interface RewardModelRaw {
  logits: number[];
  tokens: number;
  truncated: boolean;
}

const RM_VERSION = 'rm-judge/v1';

/** A reward model judges the responses (`rm`: `loadRewardModel(folder)`, or any `SequenceClassifier`). */
export function rewardModelJudge(rm: SequenceClassifier, opts: RewardModelJudgeOptions = {}): ResponseJudge {
  const fn = 'rewardModelJudge';
  if (opts === null || typeof opts !== 'object') throw new Error(`${fn}: options must be an object, got ${describe(opts)}`);
  if (!rm || typeof rm.score !== 'function') throw new Error(`${fn}: rm must be a reward model from loadRewardModel, got ${describe(rm)}`);
  const mode = checkEnum(fn, 'mode', opts.mode, ['faithful', 'fixed'] as const, 'faithful');
  const batchSize = checkPositiveInt(fn, 'batchSize', opts.batchSize, RM_DEFAULT_BATCH_SIZE);
  const maxLength = Math.min(checkPositiveInt(fn, 'maxLength', opts.maxLength, RM_DEFAULT_MAX_LENGTH), rm.maxPositions);
  const positiveLabel = opts.positiveLabel;
  // the label info is read live: an RM whose config lacks id2label learns numLabels at its first forward pass
  const info = (): RmLabelInfo => ({ ...rm.labelInfo, positiveLabel });
  if (mode === 'fixed') positiveLabelIndex(rm.numLabels, info()); // fail before any work
  // the fingerprint reads only `engine` and the folder `ref` (as rewardModelPairs)
  const rawFingerprint = () => `${RM_VERSION}:${modelFingerprint(rm as unknown as CausalLM)}:${stableStringify({ dtype: rm.dtype, maxLength })}`;
  const raw: RawJudgeStage = {
    get fingerprint() {
      return rawFingerprint();
    },
    async computeBatch(items) {
      const out = await rm.score(items.map((it) => rewardModelText(it.instruction, it.response)), { maxLength, batchSize });
      return items.map((_, i): RewardModelRaw => ({ logits: out.logits[i], tokens: out.tokens[i], truncated: out.truncated[i] }));
    },
    interpret(r) {
      const x = r as RewardModelRaw;
      const li = info();
      return { score: rmScore(x.logits, mode, li), detail: { mode, logits: x.logits, topLabel: rmTopLabel(x.logits, li).label, tokens: x.tokens, truncated: x.truncated } };
    },
  };
  return {
    name: `rm(${mode})`,
    kind: 'rm',
    get fingerprint() {
      return `${rawFingerprint()}:${stableStringify({ mode, positiveLabel: positiveLabel ?? null })}`;
    },
    batchSize,
    raw,
    scoreBatch: scoreViaRaw(raw),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// custom

export type CustomJudgeFn = (instruction: string, response: string, category: string | undefined) => number | Promise<number>;

export interface CustomJudgeOptions {
  /**
   * Promise that this string decides `fn`'s outputs (e.g. `oracle-v2:seed=3`): only then are the verdicts cached.
   * Without it the judge is never cached (a function's closure cannot be fingerprinted).
   */
  fingerprint?: string;
  /** Items per `scoreBatch` call (default 32). */
  batchSize?: number;
}

/** Any numeric oracle as a judge, e.g. the toy world's true reward. `fn` is called item by item, in order. */
export function customJudge(name: string, fn: CustomJudgeFn, opts: CustomJudgeOptions = {}): ResponseJudge {
  if (typeof name !== 'string' || name === '') throw new Error(`customJudge: name must be a non-empty string, got ${describe(name)}`);
  if (typeof fn !== 'function') throw new Error(`customJudge(${name}): fn must be a function (instruction, response, category) => number, got ${describe(fn)}`);
  if (opts.fingerprint !== undefined && (typeof opts.fingerprint !== 'string' || opts.fingerprint === '')) {
    throw new Error(`customJudge(${name}): fingerprint must be a non-empty string, got ${describe(opts.fingerprint)}`);
  }
  const batchSize = checkPositiveInt(`customJudge(${name})`, 'batchSize', opts.batchSize, 32);
  return {
    name,
    kind: 'custom',
    fingerprint: `custom:${name}:${opts.fingerprint ?? '(uncached)'}`,
    cacheable: opts.fingerprint !== undefined,
    batchSize,
    async scoreBatch(items) {
      const out: JudgeOutput[] = [];
      for (const it of items) {
        const v = await fn(it.instruction, it.response, it.category);
        if (typeof v !== 'number') throw new Error(`customJudge(${name}): fn returned ${describe(v)}, expected a number (NaN for no verdict)`);
        out.push({ score: v });
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// scoring the samples

export interface ScoredResponseRecord {
  /** The sample index k (`SampleResponse.index`). */
  index: number;
  text: string;
  /** Higher is better; NaN = no verdict. */
  score: number;
  judgeText?: string;
  detail?: Record<string, unknown>;
}

/** One line of `scores.jsonl`. */
export interface ScoreRecord {
  id: string;
  instruction: string;
  category?: string;
  judge: { name: string; kind: JudgeKind; fingerprint: string };
  responses: ScoredResponseRecord[];
}

export interface ScoreSamplesOptions {
  /** false bypasses the cache (neither read nor written). */
  cache?: boolean;
  /** Cache misses per judge call (default: the judge's `batchSize`, else 8). */
  batchSize?: number;
  /** Progress bar label (default `scoring (<judge name>)`). */
  label?: string;
}

export interface ScoreCounts {
  responses: number;
  /** Scores that are NaN or ±Infinity (`buildPairs` drops them). */
  nonFinite: number;
  /** `detail.parsed === false` (rubric judge: nothing matched; faithful mode scored those 0). */
  unparsed: number;
  /** `detail.underflow === true` (IPO: p_yes + p_no was 0). */
  underflow: number;
  /** `detail.truncated === true` (the judge's input was cut). */
  truncated: number;
}

export interface ScoreSamplesResult {
  /** For `buildPairs`: id, prompt = the instruction, responses {text, score, judgeText}. */
  groups: ScoredGroup[];
  /** For `writeScores` (scores.jsonl). */
  records: ScoreRecord[];
  /** Responses whose verdict came from the cache / was computed now (equal items are computed once). */
  cached: number;
  computed: number;
  /** Non-finite scores (= `counts.nonFinite`). */
  nanScores: number;
  counts: ScoreCounts;
  cacheFile: string;
}

/** Bump when the meaning of a cached verdict changes. */
const CACHE_VERSION = 'score-responses/v1';

interface Job {
  record: number;
  response: number;
  item: JudgeItem;
}

/** JSON has no NaN/Infinity: non-finite scores travel as their `String()`. */
function encodeScore(s: number): number | string {
  return Number.isFinite(s) ? s : String(s);
}

function decodeScore(s: unknown): number | null {
  if (typeof s === 'number') return s;
  if (s === 'NaN' || s === 'Infinity' || s === '-Infinity') return Number(s);
  return null;
}

function checkRecords(records: unknown): SampleRecord[] {
  if (!Array.isArray(records)) throw new Error(`scoreSamples: records must be an array of sample records, got ${describe(records)}`);
  records.forEach((r, i) => {
    const at = `scoreSamples: records[${i}]`;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new Error(`${at} must be an object, got ${describe(r)}`);
    const x = r as Record<string, unknown>;
    if (typeof x.id !== 'string') throw new Error(`${at}.id must be a string, got ${describe(x.id)}`);
    if (typeof x.instruction !== 'string' || x.instruction === '') throw new Error(`${at} (${x.id}): instruction must be a non-empty string`);
    if (x.category !== undefined && typeof x.category !== 'string') throw new Error(`${at} (${x.id}): category must be a string, got ${describe(x.category)}`);
    if (!Array.isArray(x.responses)) throw new Error(`${at} (${x.id}): responses must be an array, got ${describe(x.responses)}`);
    x.responses.forEach((y, k) => {
      if (y === null || typeof y !== 'object' || typeof (y as { text?: unknown }).text !== 'string') {
        throw new Error(`${at} (${x.id}): responses[${k}] must be an object with a string text`);
      }
    });
  });
  return records as SampleRecord[];
}

function checkJudge(judge: unknown): ResponseJudge {
  const j = judge as ResponseJudge;
  if (!j || typeof j !== 'object' || typeof j.name !== 'string' || typeof j.scoreBatch !== 'function' || typeof j.fingerprint !== 'string') {
    throw new Error('scoreSamples: judge must be a ResponseJudge {name, kind, fingerprint, scoreBatch} (ipoJudge, selfRewardJudge, rewardModelJudge, customJudge)');
  }
  return j;
}

function checkOutput(judge: ResponseJudge, o: unknown, job: Job, id: string): JudgeOutput {
  const where = `scoreSamples: judge ${judge.name} on ${id} response ${job.response}`;
  if (o === null || typeof o !== 'object') throw new Error(`${where} returned ${describe(o)}, expected {score}`);
  const x = o as JudgeOutput;
  if (typeof x.score !== 'number') throw new Error(`${where}: score is ${describe(x.score)}, expected a number`);
  if (x.judgeText !== undefined && typeof x.judgeText !== 'string') throw new Error(`${where}: judgeText is ${describe(x.judgeText)}, expected a string`);
  if (x.detail !== undefined && (x.detail === null || typeof x.detail !== 'object')) throw new Error(`${where}: detail is ${describe(x.detail)}, expected an object`);
  return x;
}

/**
 * Score every response of every record with `judge` (cached, resumable; see the file comment). Records keep their
 * order, responses their order within a record.
 */
export async function scoreSamples(records: readonly SampleRecord[], judge: ResponseJudge, opts: ScoreSamplesOptions = {}): Promise<ScoreSamplesResult> {
  const recs = checkRecords(records);
  const j = checkJudge(judge);
  if (opts === null || typeof opts !== 'object') throw new Error(`scoreSamples: options must be an object, got ${describe(opts)}`);
  const batchSize = checkPositiveInt('scoreSamples', 'batchSize', opts.batchSize, j.batchSize ?? 8);

  // What is cached: the raw stage's output, or the verdict with its score encoded for JSON.
  const stage: RawJudgeStage = j.raw ?? {
    fingerprint: j.fingerprint,
    computeBatch: async (items) => (await j.scoreBatch(items)).map((o) => (o && typeof o === 'object' ? { ...o, score: encodeScore(o.score) } : o)),
    interpret: (r) => {
      const o = r as JudgeOutput & { score: unknown };
      return o && typeof o === 'object' ? { ...o, score: decodeScore(o.score) ?? (o.score as number) } : (o as JudgeOutput);
    },
  };
  const stageFingerprint = stage.fingerprint;
  const jobs: Job[] = [];
  recs.forEach((r, ri) => r.responses.forEach((x, k) => {
    jobs.push({ record: ri, response: k, item: { instruction: r.instruction, ...(r.category !== undefined ? { category: r.category } : {}), response: x.text } });
  }));

  let seen = 0, finite = 0, sum = 0;
  const loop = await runCachedLoop<Job, unknown>(jobs, {
    cacheName: `response-scores/${j.kind ?? 'judge'}-${short(stageFingerprint)}`,
    cache: opts.cache !== false && j.cacheable !== false,
    label: opts.label ?? `scoring (${j.name})`,
    keyParts: (x) => [CACHE_VERSION, stageFingerprint, x.item.instruction, x.item.category ?? null, x.item.response],
    computeBatch: (xs) => stage.computeBatch(xs.map((x) => x.item)),
    batchSize,
    progressInfo: (raws, cached) => {
      // running mean of the finite scores, counted incrementally (the results only grow)
      for (; seen < raws.length; seen++) {
        const s = stage.interpret(raws[seen])?.score;
        if (typeof s === 'number' && Number.isFinite(s)) { finite++; sum += s; }
      }
      return `mean ${finite ? (sum / finite).toFixed(3) : '-'}${finite < raws.length ? `, ${raws.length - finite} non-finite` : ''}${cached ? `, ${cached} cached` : ''}`;
    },
  });

  const judgeInfo = { name: j.name, kind: j.kind, fingerprint: j.fingerprint };
  const out: ScoreRecord[] = recs.map((r) => ({
    id: r.id,
    instruction: r.instruction,
    ...(r.category !== undefined ? { category: r.category } : {}),
    judge: judgeInfo,
    responses: [],
  }));
  const counts: ScoreCounts = { responses: jobs.length, nonFinite: 0, unparsed: 0, underflow: 0, truncated: 0 };
  jobs.forEach((job, i) => {
    const rec = recs[job.record];
    const o = checkOutput(j, stage.interpret(loop.results[i]), job, rec.id);
    const sample = rec.responses[job.response];
    if (!Number.isFinite(o.score)) counts.nonFinite++;
    if (o.detail?.parsed === false) counts.unparsed++;
    if (o.detail?.underflow === true) counts.underflow++;
    if (o.detail?.truncated === true) counts.truncated++;
    out[job.record].responses.push({
      index: typeof sample.index === 'number' ? sample.index : job.response,
      text: sample.text,
      score: o.score,
      ...(o.judgeText !== undefined ? { judgeText: o.judgeText } : {}),
      ...(o.detail !== undefined ? { detail: o.detail } : {}),
    });
  });
  return {
    groups: scoreGroups(out),
    records: out,
    cached: loop.cached,
    computed: jobs.length - loop.cached,
    nanScores: counts.nonFinite,
    counts,
    cacheFile: loop.cacheFile,
  };
}

/** `buildPairs` input from score records (e.g. read back from scores.jsonl): prompt = the instruction. */
export function scoreGroups(records: readonly ScoreRecord[]): ScoredGroup[] {
  return records.map((r) => ({
    id: r.id,
    prompt: r.instruction,
    responses: r.responses.map((x) => ({ text: x.text, score: x.score, ...(x.judgeText !== undefined ? { judgeText: x.judgeText } : {}) })),
  }));
}

/** "8 responses scored by ipo(paper) (4 cached, 4 computed); mean 0.512; 2 non-finite; 1 unparsed; 3 truncated". */
export function formatScoreSummary(r: ScoreSamplesResult): string {
  const name = r.records[0]?.judge.name ?? 'judge';
  const scores = r.records.flatMap((x) => x.responses.map((y) => y.score)).filter(Number.isFinite);
  const parts = [`${r.counts.responses} responses scored by ${name} (${r.cached} cached, ${r.computed} computed)`];
  parts.push(`mean ${scores.length ? (scores.reduce((a, b) => a + b, 0) / scores.length).toFixed(3) : '-'}`);
  if (r.counts.nonFinite) parts.push(`${r.counts.nonFinite} non-finite (dropped by buildPairs)`);
  if (r.counts.unparsed) parts.push(`${r.counts.unparsed} unparsed`);
  if (r.counts.underflow) parts.push(`${r.counts.underflow} underflow`);
  if (r.counts.truncated) parts.push(`${r.counts.truncated} truncated`);
  return parts.join('; ');
}

// ---------------------------------------------------------------------------------------------------------------
// scores.jsonl

export const SCORE_SKIP_REASONS = ['invalidJson', 'invalidRecord', 'duplicateId'] as const;
export type ScoreSkipReason = (typeof SCORE_SKIP_REASONS)[number];

export interface ScoresFileResult {
  records: ScoreRecord[];
  file: string;
  total: number;
  skipped: Record<ScoreSkipReason, number>;
  examples: { line: number; reason: string }[];
}

/** Write `records` as JSONL; non-finite scores become `"NaN"` / `"Infinity"` / `"-Infinity"`. */
export function writeScores(path: string, records: readonly ScoreRecord[]): void {
  writeJsonl(path, records.map((r) => ({ ...r, responses: r.responses.map((x) => ({ ...x, score: encodeScore(x.score) })) })));
}

/** Why `v` is not a stored `ScoreRecord`, or null; decodes the scores in place when it is one. */
function scoreRecordProblem(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return `record is ${kindOf(v)}, not an object`;
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') return `id must be a non-empty string, got ${kindOf(r.id)}`;
  if (typeof r.instruction !== 'string') return `instruction must be a string, got ${kindOf(r.instruction)}`;
  if (r.category !== undefined && typeof r.category !== 'string') return `category must be a string, got ${kindOf(r.category)}`;
  const jd = r.judge as Record<string, unknown> | null;
  if (jd === null || typeof jd !== 'object' || typeof jd.name !== 'string' || typeof jd.fingerprint !== 'string') return 'judge must be an object {name, kind, fingerprint}';
  if (!Array.isArray(r.responses)) return `responses must be a list, got ${kindOf(r.responses)}`;
  const decoded: number[] = [];
  for (let i = 0; i < r.responses.length; i++) {
    const x = r.responses[i] as Record<string, unknown> | null;
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return `responses[${i}] must be an object, got ${kindOf(x)}`;
    if (!Number.isInteger(x.index)) return `responses[${i}].index must be a whole number, got ${kindOf(x.index)}`;
    if (typeof x.text !== 'string') return `responses[${i}].text must be a string, got ${kindOf(x.text)}`;
    const s = decodeScore(x.score);
    if (s === null) return `responses[${i}].score must be a number or "NaN"/"Infinity"/"-Infinity", got ${JSON.stringify(x.score)}`;
    if (x.judgeText !== undefined && typeof x.judgeText !== 'string') return `responses[${i}].judgeText must be a string, got ${kindOf(x.judgeText)}`;
    if (x.detail !== undefined && (x.detail === null || typeof x.detail !== 'object' || Array.isArray(x.detail))) return `responses[${i}].detail must be an object, got ${kindOf(x.detail)}`;
    decoded.push(s);
  }
  r.responses.forEach((x, i) => ((x as { score: number }).score = decoded[i]));
  return null;
}

/** Read scores.jsonl; bad lines are counted and listed by line, never fatal; no usable record is a one-line error. */
export function readScores(path: string): ScoresFileResult {
  const rf = readRecordFile(path, 'scores file');
  const counter = new SkipCounter<ScoreSkipReason>(SCORE_SKIP_REASONS);
  for (const bad of rf.invalidJson) counter.add('invalidJson', bad.line, bad.reason);
  const records: ScoreRecord[] = [];
  const seen = new Set<string>();
  for (const { line, value } of rf.records) {
    const problem = scoreRecordProblem(value);
    if (problem) counter.add('invalidRecord', line, problem);
    else if (seen.has((value as ScoreRecord).id)) counter.add('duplicateId', line, `duplicate id '${(value as ScoreRecord).id}'`);
    else {
      seen.add((value as ScoreRecord).id);
      records.push(value as ScoreRecord);
    }
  }
  const total = rf.records.length + rf.invalidJson.length;
  if (records.length === 0) {
    throw new Error(`scores file ${rf.file}: no usable records in ${total} lines (${counter.total ? formatSkips(counter.skipped, counter.examples) : 'the file is empty'})`);
  }
  return { records, file: rf.file, total, skipped: counter.skipped, examples: counter.examples };
}
