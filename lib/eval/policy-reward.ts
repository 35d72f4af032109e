/**
 * Held-out preference accuracy of a DPO policy's IMPLICIT reward (Rafailov et al. 2023, eq. 5):
 *
 *   r(x, y) = β · (log πθ(y | x) − log πref(y | x))
 *
 * where log π(y | x) = Σ_t log π(y_t | x, y_<t) over the completion ids only, tokenised by `tokenizePair`
 * (`lib/dpo/tokenize.ts`, the trainer's own tokenisation, so the numbers are those the trainer optimises).
 * A pair is correct iff r(x, chosen) > r(x, rejected) STRICTLY; ties count as wrong and are reported
 * (`lib/eval/outcome.ts`, the kit's one tie rule). This is TRL's `rewards/accuracies`
 * (`(chosen_rewards > rejected_rewards).float()`, trl/trainer/dpo_trainer.py v1.9.0) and `rewards/margins`
 * (mean of chosen − rejected reward), computed on pairs the policy was not trained on.
 *
 * The reference is a `CausalLM` (normally the base model the policy started from) or precomputed reference
 * log-probs, one `{chosen, rejected}` per pair. Both models' log-probs go through the content-hash cache
 * (`logprobs/<fingerprint>`), so the reference is computed once for every policy compared with it. A model whose
 * weights change in place must be re-fingerprinted (`forgetFingerprint`) or run with `cache: false`.
 *
 * A pair whose chosen or rejected completion has no id left after truncation (`dropped`) cannot be scored: it is
 * skipped and listed in `skipped`, never silently lost. Accuracy and margin carry seeded percentile bootstrap
 * intervals (`bootstrapCi`; NaN below 2 pairs).
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM, ChatMessage } from '../models/types';
import { runCachedLoop } from '../util/cached-loop';
import { completionLogProb, promptText, resolveTokenizeOptions, summarizeTruncation, tokenizePair, type TokenizedPair, type TokenizePairOptions, type TruncationSummary } from '../dpo/tokenize';
import { bootstrapCi, type BootstrapCi, type BootstrapOptions } from './bootstrap';
import { outcome } from './outcome';

/** A held-out preference pair (TRL's standard or conversational prompt). */
export interface HeldOutPair {
  id?: string | number;
  prompt: string | ChatMessage[];
  chosen: string;
  rejected: string;
}

/** Σ log π(y | x) of a pair's two completions under one model. */
export interface RefLogProbs {
  chosen: number;
  rejected: number;
}

export interface PairLogProbs extends RefLogProbs {
  /** completion ids scored */
  chosenTokens: number;
  rejectedTokens: number;
  /** either completion dropped by truncation (then chosen/rejected are NaN) */
  dropped: boolean;
  chosenTruncation: TruncationFlags;
  rejectedTruncation: TruncationFlags;
}

type TruncationFlags = Pick<TokenizedPair, 'promptRemoved' | 'completionRemoved' | 'truncated' | 'dropped' | 'promptMismatch'>;

export interface ImplicitRewardOptions extends TokenizePairOptions {
  /** β of the implicit reward. Default 0.1 (TRL's default and the official run's effective value, doc §5.3). */
  beta?: number;
  /** Interval options (iterations, seed, level). */
  bootstrap?: BootstrapOptions;
  /** false bypasses the log-prob cache. */
  cache?: boolean;
}

export interface PairReward {
  id: string | number;
  policy: RefLogProbs;
  reference: RefLogProbs;
  /** β·(log πθ − log πref) of chosen / rejected */
  chosenReward: number;
  rejectedReward: number;
  /** chosenReward − rejectedReward */
  margin: number;
  correct: boolean;
  tie: boolean;
}

export interface ImplicitRewardReport {
  beta: number;
  /** pairs scored (after skips) */
  n: number;
  correct: number;
  ties: number;
  /** correct / n (ties wrong), with its interval */
  accuracy: number;
  accuracyCi: BootstrapCi;
  /** mean margin (TRL rewards/margins), with its interval */
  meanMargin: number;
  marginCi: BootstrapCi;
  meanChosenReward: number;
  meanRejectedReward: number;
  pairs: PairReward[];
  /** pairs not scored, with why */
  skipped: { id: string | number; reason: string }[];
  /** over the policy's 2n tokenised sequences (chosen and rejected of every pair given) */
  truncation: TruncationSummary;
  /** log-probs served from the cache (policy, reference) */
  cached: { policy: number; reference: number };
}


function checkPair(fn: string, p: unknown, i: number): HeldOutPair {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new Error(`${fn}: pairs[${i}] must be an object`);
  const o = p as Record<string, unknown>;
  const promptOk = typeof o.prompt === 'string' || (Array.isArray(o.prompt) && o.prompt.every((m) => m && typeof m.role === 'string' && typeof m.content === 'string'));
  if (!promptOk) throw new Error(`${fn}: pairs[${i}].prompt must be a string or a list of {role, content} messages`);
  if (typeof o.chosen !== 'string' || typeof o.rejected !== 'string') throw new Error(`${fn}: pairs[${i}].chosen and .rejected must be strings`);
  return o as unknown as HeldOutPair;
}

function flags(t: TokenizedPair): TruncationFlags {
  return { promptRemoved: t.promptRemoved, completionRemoved: t.completionRemoved, truncated: t.truncated, dropped: t.dropped, promptMismatch: t.promptMismatch };
}

/**
 * Σ log π(chosen | prompt) and Σ log π(rejected | prompt) of every pair under `model`, tokenised by `tokenizePair`
 * with `opts`; cached by (model fingerprint, tokenisation options, pair texts). Dropped completions give NaN.
 */
export async function pairLogProbs(
  model: CausalLM,
  pairs: readonly HeldOutPair[],
  opts: TokenizePairOptions & { cache?: boolean; label?: string } = {},
): Promise<{ results: PairLogProbs[]; cached: number }> {
  const fn = 'pairLogProbs';
  if (!Array.isArray(pairs)) throw new Error(`${fn}: pairs must be an array`);
  pairs.forEach((p, i) => checkPair(fn, p, i));
  const tok = resolveTokenizeOptions(opts, fn);
  const fp = modelFingerprint(model);
  const r = await runCachedLoop(pairs, {
    cacheName: `logprobs/${fp}`,
    cache: opts.cache,
    label: opts.label ?? 'log-probs',
    keyParts: (p) => ['dpo-pair-logprob-v1', fp, tok, p.prompt, p.chosen, p.rejected],
    compute: async (p): Promise<PairLogProbs> => {
      const text = promptText(model, p.prompt);
      const c = tokenizePair(model, text, p.chosen, tok);
      const rj = tokenizePair(model, text, p.rejected, tok);
      const dropped = c.dropped || rj.dropped;
      const lc = dropped ? null : await completionLogProb(model, c);
      const lr = dropped ? null : await completionLogProb(model, rj);
      return {
        chosen: lc ? lc.total : NaN, rejected: lr ? lr.total : NaN,
        chosenTokens: lc ? lc.tokens : 0, rejectedTokens: lr ? lr.tokens : 0,
        dropped, chosenTruncation: flags(c), rejectedTruncation: flags(rj),
      };
    },
  });
  // the JSON cache stores NaN as null: restore it
  const results = r.results.map((x) => ({ ...x, chosen: x.chosen ?? NaN, rejected: x.rejected ?? NaN }));
  return { results, cached: r.cached };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/**
 * Implicit-reward preference accuracy of `policy` against `reference` (a model, or precomputed log-probs aligned
 * with `pairs`) on held-out `pairs`. See the file comment for the definitions.
 */
export async function implicitRewardAccuracy(
  policy: CausalLM,
  reference: CausalLM | readonly RefLogProbs[],
  pairs: readonly HeldOutPair[],
  opts: ImplicitRewardOptions = {},
): Promise<ImplicitRewardReport> {
  const fn = 'implicitRewardAccuracy';
  const beta = opts.beta ?? 0.1;
  if (typeof beta !== 'number' || !(beta > 0) || !Number.isFinite(beta)) throw new Error(`${fn}: beta must be a positive number, got ${String(beta)}`);
  if (!Array.isArray(pairs)) throw new Error(`${fn}: pairs must be an array`);
  const checked = pairs.map((p, i) => checkPair(fn, p, i));
  const tokOpts = { ...opts, cache: opts.cache };
  const pol = await pairLogProbs(policy, checked, { ...tokOpts, label: 'policy log-probs' });
  let ref: RefLogProbs[];
  let refCached = 0;
  if (Array.isArray(reference)) {
    if (reference.length !== checked.length) throw new Error(`${fn}: ${reference.length} reference log-probs for ${checked.length} pairs (give one {chosen, rejected} per pair)`);
    reference.forEach((r, i) => {
      if (!r || typeof r.chosen !== 'number' || typeof r.rejected !== 'number') throw new Error(`${fn}: reference[${i}] must be {chosen: number, rejected: number}`);
    });
    ref = reference as RefLogProbs[];
  } else {
    const r = await pairLogProbs(reference as CausalLM, checked, { ...tokOpts, label: 'reference log-probs' });
    ref = r.results;
    refCached = r.cached;
  }

  const rewards: PairReward[] = [];
  const skipped: { id: string | number; reason: string }[] = [];
  const tokenised: TruncationFlags[] = [];
  checked.forEach((p, i) => {
    const id = p.id ?? i;
    const lp = pol.results[i];
    tokenised.push(lp.chosenTruncation, lp.rejectedTruncation);
    if (lp.dropped) {
      skipped.push({ id, reason: 'a completion has no token left after truncation (the prompt fills maxLength)' });
      return;
    }
    const rf = ref[i];
    if (!Number.isFinite(rf.chosen) || !Number.isFinite(rf.rejected)) {
      skipped.push({ id, reason: 'no finite reference log-prob (dropped by the reference tokenisation)' });
      return;
    }
    const chosenReward = beta * (lp.chosen - rf.chosen);
    const rejectedReward = beta * (lp.rejected - rf.rejected);
    const o = outcome(chosenReward, rejectedReward);
    rewards.push({
      id, policy: { chosen: lp.chosen, rejected: lp.rejected }, reference: { chosen: rf.chosen, rejected: rf.rejected },
      chosenReward, rejectedReward, margin: chosenReward - rejectedReward, correct: o.correct, tie: o.tie,
    });
  });
  const correctness = rewards.map((r) => (r.correct ? 1 : 0));
  const margins = rewards.map((r) => r.margin);
  const correct = correctness.reduce((a: number, b) => a + b, 0);
  return {
    beta,
    n: rewards.length,
    correct,
    ties: rewards.filter((r) => r.tie).length,
    accuracy: rewards.length ? correct / rewards.length : NaN,
    accuracyCi: bootstrapCi(correctness, opts.bootstrap),
    meanMargin: mean(margins),
    marginCi: bootstrapCi(margins, opts.bootstrap),
    meanChosenReward: mean(rewards.map((r) => r.chosenReward)),
    meanRejectedReward: mean(rewards.map((r) => r.rejectedReward)),
    pairs: rewards,
    skipped,
    truncation: summarizeTruncation(tokenised),
    cached: { policy: pol.cached, reference: refCached },
  };
}
