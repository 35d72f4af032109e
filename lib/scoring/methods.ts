/**
 * The scoring methods of the paper (§4: IPO and its three baselines) as one registry, reward-bench's
 * `REWARD_MODEL_CONFIG` in TypeScript (design review §3.3): `METHODS[name] = {needs, settings, scorePairs}`. Both
 * benchmark runners (`lib/eval/run-rewardbench.ts`, `run-rmbench.ts`) call `METHODS[m].scorePairs` instead of
 * each keeping an if-chain, and a new method (e.g. an HTTP judge) is one more entry.
 *
 * - `ipo`: the model's own P(Yes) (`./yes-no`, `scorePairs`), presets `paper` / `exact`, truncation;
 * - `self-reward`: the additive 5-point rubric judge (`./self-reward`), modes faithful / fixed;
 * - `binary`: the pairwise "Response 1 / Response 2" judge (`./binary-judge`), modes faithful / fixed;
 * - `rm`: a sequence-classification reward model (`./reward-model`), modes faithful / fixed.
 *
 * `ipo`, `self-reward` and `binary` also run on a `MethodScorer` instead of a causal LM: a `PairScorer` tagged with
 * the method it runs (`kind`, `method`), such as the chat-API judges of the official `*_gpt.py` scripts
 * (`lib/api/chat-judges.ts`). The method hands it the pairs with their subset and the runner's layout/parser; a
 * scorer tagged with another method is a one-line error.
 *
 * Every method takes `PreferencePair`s (`lib/data/types.ts`) and returns one `PairResult` per pair that keeps the
 * pair's `id` and `subset` next to its scores and decision, so nothing is re-joined by index downstream. The
 * decision (strict `>`, ties wrong) is `outcome()` (`lib/eval/outcome.ts`), applied inside each scorer.
 */
import type { PairResult, PreferencePair } from '../data/types';
import type { CausalLM } from '../models/types';
import { judgePairs, type BinarySummary, type SelfRewardParser, type SelfRewardSummary } from './judges';
import type { IpoLayout } from './prompt';
import { scorePairs } from './score-pairs';
import type { IpoPreset, IpoTruncation } from './yes-no';

export type MethodName = 'ipo' | 'self-reward' | 'binary' | 'rm';
export const METHOD_NAMES: readonly MethodName[] = ['ipo', 'self-reward', 'binary', 'rm'];

/**
 * What the `rm` method needs from a model: a reward model that scores pairs itself (`loadRewardModel` returns one;
 * `RewardModel` extends this interface).
 */
export interface PairScorer {
  readonly ref: string;
  scorePairs(
    pairs: { instruction: string; chosen: string; rejected: string }[],
    opts: { mode: 'faithful' | 'fixed'; label?: string },
  ): Promise<{ correct: boolean; tie: boolean; chosen: number; rejected: number }[]>;
}

/** What a `MethodScorer` is told per call: the mode, and the runner's layout (RM-Bench: `rmbench`) and parser. */
export interface MethodScorerOptions {
  mode: 'faithful' | 'fixed';
  label?: string;
  layout?: IpoLayout;
  parser?: SelfRewardParser;
  unparsedScore?: number;
}

/**
 * A `PairScorer` that runs one of the LM methods itself (e.g. `kind: 'chat'`, `method: 'ipo'`: IPO through a chat
 * API). It receives the pairs with `category` (the subset / RM-Bench domain, which picks the IPO template) and may
 * say per result whether it came from a cache.
 */
export interface MethodScorer extends PairScorer {
  readonly kind: string;
  readonly method: MethodName;
  scorePairs(
    pairs: { instruction: string; chosen: string; rejected: string; category?: string }[],
    opts: MethodScorerOptions,
  ): Promise<{ correct: boolean; tie: boolean; chosen: number; rejected: number; cached?: boolean }[]>;
}

/** A causal LM (ipo and the judges), a reward model (rm) or a method-tagged scorer (ipo and the judges). */
export type ScoringModel = CausalLM | PairScorer;

/** True for a reward model or a method-tagged scorer (`PairScorer`), false for a causal LM. */
export function isPairScorer(model: ScoringModel): model is PairScorer {
  return typeof (model as Partial<PairScorer>).scorePairs === 'function';
}

/** True for a `PairScorer` tagged with the method it runs (`kind` and `method` strings). */
export function isMethodScorer(model: ScoringModel): model is MethodScorer {
  const m = model as Partial<MethodScorer>;
  return isPairScorer(model) && typeof m.kind === 'string' && typeof m.method === 'string';
}

/** The knobs of every method (each reads its own; defaults in brackets). */
export interface MethodOptions {
  /** ipo: `paper` | `exact` [`paper`]. */
  preset?: IpoPreset;
  /** ipo: [`right`] (official). */
  truncation?: IpoTruncation;
  /** ipo: `rewardbench` (question before the response) | `rmbench` (after) [`rewardbench`]. */
  layout?: IpoLayout;
  /**
   * ipo: sequences per engine call for cache misses (`scorePairs`); unset [default] scores pair by pair, the fastest
   * on a CPU for mixed lengths. Does not change the numbers (beyond float noise) nor the cache keys.
   */
  batchSize?: number;
  /** ipo: run a pair's common prefix once (KV cache, default true); false = two independent passes. Same numbers. */
  prefixReuse?: boolean;
  /** judges and rm: `faithful` reproduces the official quirks, `fixed` repairs them [`faithful`]. */
  mode?: 'faithful' | 'fixed';
  /** judges: tokens to generate [200, as the official scripts]. */
  maxNewTokens?: number;
  /** self-reward: which official regexes read the score [`rewardbench`]. */
  parser?: SelfRewardParser;
  /**
   * self-reward: the number an unparsed side gets in fixed mode [NaN, which never wins and never ties]. RM-Bench
   * uses -Infinity so its grid comparisons (`>`) stay false against anything.
   */
  unparsedScore?: number;
  /** Progress label. */
  label?: string;
  /** Set false to bypass the cache. */
  cache?: boolean;
}

export interface MethodRun {
  /** One per input pair, in input order, each with the pair's `id` and `subset`. */
  results: PairResult[];
  /** How many pair results came from the cache. */
  cached: number;
  /** judges only: parse failures, prompt-echo matches, score counts / position bias. */
  judgeSummary?: SelfRewardSummary | BinarySummary;
}

export interface ScoringMethod {
  readonly name: MethodName;
  /** The model kind the method runs on. */
  readonly needs: 'lm' | 'rm';
  /** The knobs that shaped this method's numbers (a run's `settings`), with their defaults filled in. */
  settings(opts: MethodOptions): Record<string, unknown>;
  /**
   * Score every pair. `chosen`/`rejected` in the results are the method's scores: P(Yes) for ipo, the rubric score
   * for self-reward (0 when unparsed in faithful mode, `unparsedScore` in fixed mode), the reward for rm, absent for
   * the binary judge (it gives a verdict only).
   */
  scorePairs(model: ScoringModel, pairs: readonly PreferencePair[], opts?: MethodOptions): Promise<MethodRun>;
}

/** The pair as the IPO scorer and the judges read it: the subset picks the IPO template. */
function asScorerPair(p: PreferencePair) {
  return { instruction: p.prompt, chosen: p.chosen, rejected: p.rejected, category: p.subset };
}

function result(p: PreferencePair, s: { correct: boolean; tie: boolean; chosen?: number; rejected?: number }): PairResult {
  return { id: p.id, subset: p.subset, correct: s.correct, tie: s.tie, chosen: s.chosen, rejected: s.rejected };
}

function lm(name: MethodName, model: ScoringModel): CausalLM {
  if (isPairScorer(model)) throw new Error(`method ${name} needs a causal LM, not a reward model`);
  return model;
}

/** The method-tagged scorer's run of method `name` (a one-line error when it is tagged with another method). */
async function viaScorer(name: MethodName, model: MethodScorer, pairs: readonly PreferencePair[], o: MethodOptions, extra: Partial<MethodScorerOptions>): Promise<MethodRun> {
  if (model.method !== name) {
    throw new Error(`method ${name} was given a ${model.kind} ${model.method} scorer (${model.ref}): use --method ${model.method}, or a ${name} scorer`);
  }
  const scores = await model.scorePairs(pairs.map(asScorerPair), { mode: o.mode ?? 'faithful', label: o.label, ...extra });
  if (!Array.isArray(scores) || scores.length !== pairs.length) {
    throw new Error(`the ${model.kind} ${name} scorer returned ${Array.isArray(scores) ? scores.length : 'no'} results for ${pairs.length} pairs`);
  }
  return { results: pairs.map((p, i) => result(p, scores[i])), cached: scores.filter((x) => x.cached === true).length };
}

function judgeGen(o: MethodOptions) {
  return { mode: o.mode ?? 'faithful', ...(o.maxNewTokens ? { maxNewTokens: o.maxNewTokens } : {}) } as const;
}

const modeSettings = (o: MethodOptions) => ({ mode: o.mode ?? 'faithful' });

export const METHODS: Readonly<Record<MethodName, ScoringMethod>> = Object.freeze({
  ipo: {
    name: 'ipo',
    needs: 'lm',
    settings: (o) => ({ preset: o.preset ?? 'paper', truncation: o.truncation ?? 'right', ...(o.layout ? { layout: o.layout } : {}) }),
    async scorePairs(model, pairs, o = {}) {
      if (isMethodScorer(model)) return viaScorer('ipo', model, pairs, o, o.layout ? { layout: o.layout } : {});
      const r = await scorePairs(lm('ipo', model), pairs.map(asScorerPair), {
        preset: o.preset ?? 'paper', truncation: o.truncation ?? 'right', ...(o.layout ? { layout: o.layout } : {}),
        ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}), ...(o.prefixReuse !== undefined ? { prefixReuse: o.prefixReuse } : {}),
        label: o.label, cache: o.cache,
      });
      return {
        results: pairs.map((p, i) => {
          const s = r.scores[i];
          return {
            ...result(p, { ...s, chosen: s.chosen.pYes, rejected: s.rejected.pYes }),
            truncated: Number(s.chosen.truncated) + Number(s.rejected.truncated),
            markerCut: Number(s.chosen.markerCut) + Number(s.rejected.markerCut),
          };
        }),
        cached: r.cached,
      };
    },
  },
  'self-reward': {
    name: 'self-reward',
    needs: 'lm',
    settings: modeSettings,
    async scorePairs(model, pairs, o = {}) {
      if (isMethodScorer(model)) {
        return viaScorer('self-reward', model, pairs, o, { ...(o.parser ? { parser: o.parser } : {}), ...(o.unparsedScore !== undefined ? { unparsedScore: o.unparsedScore } : {}) });
      }
      const r = await judgePairs(lm('self-reward', model), pairs.map(asScorerPair), {
        method: 'self-reward', ...judgeGen(o), ...(o.parser ? { parser: o.parser } : {}), label: o.label, cache: o.cache,
      });
      const un = o.unparsedScore ?? NaN;
      return {
        results: pairs.map((p, i) => { const s = r.scores[i]; return result(p, { ...s, chosen: s.chosen.score ?? un, rejected: s.rejected.score ?? un }); }),
        cached: r.cached,
        judgeSummary: r.summary,
      };
    },
  },
  binary: {
    name: 'binary',
    needs: 'lm',
    settings: modeSettings,
    async scorePairs(model, pairs, o = {}) {
      if (isMethodScorer(model)) {
        // verdicts only, as the local judge: the scorer's pair scores (1/0, or the two-order mean) are dropped
        const r = await viaScorer('binary', model, pairs, o, o.layout ? { layout: o.layout } : {});
        return { ...r, results: r.results.map(({ chosen: _c, rejected: _r, ...rest }) => rest) };
      }
      const r = await judgePairs(lm('binary', model), pairs.map(asScorerPair), { method: 'binary', ...judgeGen(o), label: o.label, cache: o.cache });
      return { results: pairs.map((p, i) => result(p, { correct: r.scores[i].correct, tie: r.scores[i].tie })), cached: r.cached, judgeSummary: r.summary };
    },
  },
  rm: {
    name: 'rm',
    needs: 'rm',
    settings: modeSettings,
    async scorePairs(model, pairs, o = {}) {
      if (!isPairScorer(model)) throw new Error('method rm needs a reward model (loadRewardModel), not a causal LM');
      if (isMethodScorer(model)) throw new Error(`method rm needs a reward model (loadRewardModel), not a ${model.kind} ${model.method} scorer (${model.ref})`);
      const scores = await model.scorePairs(pairs.map(asScorerPair), { mode: o.mode ?? 'faithful', label: o.label });
      // the reward model's own loop caches (rm-scores/), but does not report hits through this contract
      return { results: pairs.map((p, i) => result(p, scores[i])), cached: 0 };
    },
  },
});

/** The method called `name`, if it is one of `allowed` (default all); else a one-line error listing them. */
export function getMethod(name: unknown, allowed: readonly MethodName[] = METHOD_NAMES): ScoringMethod {
  if (typeof name !== 'string' || !(allowed as readonly string[]).includes(name)) {
    throw new Error(`unknown method '${String(name)}': use ${allowed.join(', ')}`);
  }
  return METHODS[name as MethodName];
}
