/**
 * (chosen, rejected) pairs from scored responses, one pair per prompt — the step between self-scoring and DPO.
 * Works with any numeric oracle: IPO P(Yes), rubric scores, reward-model scores (higher = better).
 *
 * Faithful rule, official `DPO/ours.py` (`generate`, l.190–210 at commit 44662860):
 *
 *   scored_responses.sort(key=lambda x: x[1], reverse=True)     # x = (response, yes_prob)
 *   best, worst = scored_responses[0][0], scored_responses[-1][0]
 *
 * Python's sort is stable, also with `reverse=True` (equal keys keep their original order), so chosen = the FIRST
 * response with the top score and rejected = the LAST response with the bottom score. No margin, no dedup: all-tied
 * scores still give a pair (chosen = sample 1, rejected = sample N), identical texts too (quirk 16).
 *
 * Faithful rubric rule, official `DPO/self_reward.py` (quirk 13): `generate_reward` returns the tuple
 * `(score, generated_text)`, so the sort key is that tuple and Python compares it element-wise: score first, then, on
 * a score tie, the judge's text by code point (Python `str` order), descending. `generated_text` is
 * `tokenizer.decode(outputs[0])` of the whole output, i.e. the judge PROMPT (which embeds the response) plus the
 * judgement — pass exactly that as `judgeText` to reproduce it. Equal (score, text) keys keep their original order.
 *
 * Fixed rules (options, all off in the faithful presets): drop all-tied prompts, a minimum score margin, a minimum
 * chosen score, drop pairs whose chosen and rejected texts are equal after trim, require at least 2 valid responses. Non-finite scores
 * (NaN, ±Infinity) are always dropped and counted (Python would sort NaN unpredictably); every dropped prompt is
 * listed with its reason. Pure: imports only the ground floor (Python string order).
 */

import { compareCodePoints } from './util/python-str';

export interface ScoredResponse {
  text: string;
  /** Higher is better. NaN/±Infinity: the response is dropped and counted in `dropped.nanScores`. */
  score: number;
  /** The judge's output text (for `sort: 'score-then-judge-text'`; see the file comment for what to pass). */
  judgeText?: string;
}

export interface ScoredGroup {
  /** Defaults to the group's index in the input. */
  id?: string | number;
  prompt: string;
  responses: ScoredResponse[];
}

/** `score`: official `DPO/ours.py`. `score-then-judge-text`: official `DPO/self_reward.py` (quirk 13). */
export type PairSortRule = 'score' | 'score-then-judge-text';

export interface PairOptions {
  sort?: PairSortRule;
  /** Drop prompts whose valid responses all have the same score (default false, as official). */
  dropAllTied?: boolean;
  /** Keep a pair only if chosenScore − rejectedScore ≥ minMargin (default 0: keeps all). */
  minMargin?: number;
  /**
   * Keep a pair only if chosenScore ≥ minChosenScore (default −Infinity: keeps all, as official). Not in the paper: for
   * a calibrated judge it drops prompts where even the best response is judged bad (IPO: P(Yes) < 0.5 means the model
   * itself answers "No" about its best response), so DPO does not raise the likelihood of a wrong answer.
   */
  minChosenScore?: number;
  /** Drop pairs whose chosen and rejected texts are equal after `trim()` (default false, as official). */
  dropIdenticalTexts?: boolean;
  /** Valid (finite-score) responses a prompt needs (default 1: one response is paired with itself, as official). */
  minResponses?: number;
}

/** `DPO/ours.py` exactly. */
export const FAITHFUL_PAIR_OPTIONS: Readonly<Required<PairOptions>> = Object.freeze({
  sort: 'score',
  dropAllTied: false,
  minMargin: 0,
  minChosenScore: -Infinity,
  dropIdenticalTexts: false,
  minResponses: 1,
});

/** `DPO/self_reward.py` exactly (rubric scores, ties broken by the judge text). */
export const FAITHFUL_SELF_REWARD_PAIR_OPTIONS: Readonly<Required<PairOptions>> = Object.freeze({
  ...FAITHFUL_PAIR_OPTIONS,
  sort: 'score-then-judge-text',
});

/** The fixed rule: no all-tie pairs, no identical texts, at least 2 responses. */
export const FIXED_PAIR_OPTIONS: Readonly<Required<PairOptions>> = Object.freeze({
  sort: 'score',
  dropAllTied: true,
  minMargin: 0,
  minChosenScore: -Infinity,
  dropIdenticalTexts: true,
  minResponses: 2,
});

export interface BuiltPair {
  promptId: string | number;
  prompt: string;
  chosen: string;
  rejected: string;
  chosenScore: number;
  rejectedScore: number;
  /** Indices into the group's original `responses` array. */
  chosenIndex: number;
  rejectedIndex: number;
  /** chosenScore − rejectedScore (≥ 0). */
  margin: number;
  /** Valid responses ranked. */
  numResponses: number;
  /** All valid responses had the same score. */
  tied: boolean;
  /** Original indices of the valid responses, best first (the Python sorted order). */
  order: number[];
  chosenJudgeText?: string;
  rejectedJudgeText?: string;
}

export type PairDropReason = 'tooFewResponses' | 'allTied' | 'belowMargin' | 'chosenBelowMin' | 'identicalTexts';

export interface BuildPairsResult {
  pairs: BuiltPair[];
  /** `nanScores` counts responses; the others count prompts, each under the first rule it failed. */
  dropped: { nanScores: number; tooFewResponses: number; allTied: number; belowMargin: number; chosenBelowMin: number; identicalTexts: number };
  droppedPrompts: { promptId: string | number; reason: PairDropReason }[];
  counts: {
    prompts: number;
    responses: number;
    validResponses: number;
    pairs: number;
    /** Kept pairs whose scores were all tied (possible only with dropAllTied false). */
    tiedPairs: number;
    /** Kept pairs whose texts are equal after trim (possible only with dropIdenticalTexts false). */
    identicalPairs: number;
  };
  options: Required<PairOptions>;
}

export { compareCodePoints };

function resolveOptions(opts: PairOptions): Required<PairOptions> {
  const o = { ...FAITHFUL_PAIR_OPTIONS, ...opts };
  if (o.sort !== 'score' && o.sort !== 'score-then-judge-text') {
    throw new Error(`buildPairs: unknown sort '${String(o.sort)}': use score or score-then-judge-text`);
  }
  if (typeof o.minMargin !== 'number' || !Number.isFinite(o.minMargin) || o.minMargin < 0) {
    throw new Error(`buildPairs: minMargin must be a finite number >= 0, got ${String(o.minMargin)}`);
  }
  if (typeof o.minChosenScore !== 'number' || Number.isNaN(o.minChosenScore)) {
    throw new Error(`buildPairs: minChosenScore must be a number (-Infinity keeps all), got ${String(o.minChosenScore)}`);
  }
  if (!Number.isInteger(o.minResponses) || o.minResponses < 1) {
    throw new Error(`buildPairs: minResponses must be an integer >= 1, got ${String(o.minResponses)}`);
  }
  return o;
}

/**
 * Rank one group's valid responses as the official sort does; returns original indices, best first.
 * `valid` holds original indices of finite-score responses, in input order.
 */
function rank(group: ScoredGroup, valid: number[], sort: PairSortRule): number[] {
  const r = group.responses;
  return [...valid].sort((a, b) => {
    if (r[a].score !== r[b].score) return r[b].score - r[a].score;
    if (sort === 'score-then-judge-text') {
      const c = compareCodePoints(r[b].judgeText!, r[a].judgeText!);
      if (c !== 0) return c;
    }
    return a - b; // stable: equal keys keep input order, also under Python's reverse=True
  });
}

/** Build one pair per prompt; see the file comment for the rules. Defaults: `FAITHFUL_PAIR_OPTIONS`. */
export function buildPairs(groups: ScoredGroup[], opts: PairOptions = {}): BuildPairsResult {
  if (!Array.isArray(groups)) throw new Error('buildPairs: groups must be an array of { prompt, responses }');
  const o = resolveOptions(opts);
  const res: BuildPairsResult = {
    pairs: [],
    dropped: { nanScores: 0, tooFewResponses: 0, allTied: 0, belowMargin: 0, chosenBelowMin: 0, identicalTexts: 0 },
    droppedPrompts: [],
    counts: { prompts: groups.length, responses: 0, validResponses: 0, pairs: 0, tiedPairs: 0, identicalPairs: 0 },
    options: o,
  };
  groups.forEach((g, gi) => {
    const promptId = g?.id ?? gi;
    if (!g || typeof g.prompt !== 'string') throw new Error(`buildPairs: group ${String(promptId)} needs a string prompt`);
    if (!Array.isArray(g.responses)) throw new Error(`buildPairs: group ${String(promptId)} needs a responses array`);
    const valid: number[] = [];
    g.responses.forEach((r, ri) => {
      if (!r || typeof r.text !== 'string') throw new Error(`buildPairs: group ${String(promptId)} response ${ri} needs a string text`);
      if (typeof r.score !== 'number') throw new Error(`buildPairs: group ${String(promptId)} response ${ri} has a non-numeric score (${typeof r.score})`);
      if (!Number.isFinite(r.score)) {
        res.dropped.nanScores++;
        return;
      }
      if (o.sort === 'score-then-judge-text' && typeof r.judgeText !== 'string') {
        throw new Error(`buildPairs: sort 'score-then-judge-text' needs judgeText on group ${String(promptId)} response ${ri}`);
      }
      valid.push(ri);
    });
    res.counts.responses += g.responses.length;
    res.counts.validResponses += valid.length;
    const drop = (reason: PairDropReason) => {
      res.dropped[reason]++;
      res.droppedPrompts.push({ promptId, reason });
    };
    if (valid.length === 0 || valid.length < o.minResponses) return drop('tooFewResponses');
    const order = rank(g, valid, o.sort);
    const ci = order[0];
    const ri = order[order.length - 1];
    const chosen = g.responses[ci];
    const rejected = g.responses[ri];
    const margin = chosen.score - rejected.score;
    const tied = margin === 0;
    if (tied && o.dropAllTied) return drop('allTied');
    if (margin < o.minMargin) return drop('belowMargin');
    if (chosen.score < o.minChosenScore) return drop('chosenBelowMin');
    const identical = chosen.text.trim() === rejected.text.trim();
    if (identical && o.dropIdenticalTexts) return drop('identicalTexts');
    if (tied) res.counts.tiedPairs++;
    if (identical) res.counts.identicalPairs++;
    const pair: BuiltPair = {
      promptId,
      prompt: g.prompt,
      chosen: chosen.text,
      rejected: rejected.text,
      chosenScore: chosen.score,
      rejectedScore: rejected.score,
      chosenIndex: ci,
      rejectedIndex: ri,
      margin,
      numResponses: valid.length,
      tied,
      order,
    };
    if (chosen.judgeText !== undefined) pair.chosenJudgeText = chosen.judgeText;
    if (rejected.judgeText !== undefined) pair.rejectedJudgeText = rejected.judgeText;
    res.pairs.push(pair);
  });
  res.counts.pairs = res.pairs.length;
  return res;
}
