/**
 * Prompt search and prompt ablations for the IPO classifier on RewardBench, reproducing and fixing the official
 * `Preference_Comparison/Reward_Bench/prompt_search.py`, `ours_prompt_shuffle.py` and `ours_same_prompt.py`
 * (shivank21/Implicit_Preference_Optimization @ 44662860; shared doc §4, §9 quirks 9 and 17).
 *
 * What the official search did (`prompt_search.py`): for every subset it scored each template of
 * `candidate_prompts.json[subset]` (or `[default]` when the subset has no list) over the WHOLE subset, with the §2
 * classifier, and wrote every accuracy to `accuracy_reward-bench_yesno_{model}_multi_prompt.json`. It picks no best
 * prompt: the choice was made afterwards, on the same data the accuracies are reported on (quirk 9, test-set prompt
 * tuning). `promptSearch` has two modes:
 *
 * - `'held-out'` (default): split every subset into dev / test (`splitDevTest`, seeded, stratified), score all
 *   candidates on the DEV rows, pick the best, and report its accuracy on the disjoint TEST rows, next to the
 *   `ours.py` template's accuracy on the same test rows. This is the honest estimate of "search, then deploy".
 * - `'official'`: as `prompt_search.py`: every candidate is scored on ALL rows, the best is picked on them and its
 *   "held-out" accuracy is its accuracy on those same rows (so `heldOutAccuracy === bestDevAccuracy`, the
 *   optimistic number quirk 9 produces).
 *
 * Selection rule: the highest dev accuracy (compared as counts of correct pairs, no float noise); ties go to the
 * LOWER candidate index, i.e. the earlier entry of the candidates file (Python's `max(range(k), key=acc.__getitem__)`
 * and `np.argmax` break ties the same way). A subset with no dev rows (a 1-row subset in held-out mode) picks
 * candidate 1.
 *
 * Accuracies in the returned objects are FRACTIONS in [0, 1], like `subsetStats` and the rest of `lib/eval`.
 * `toOfficialMultiPromptJson` converts to PERCENT, because `prompt_search.py` computes
 * `accuracy = (correct / total) * 100` and `average_accuracy = sum(accs) / len(accs)` over those percentages.
 *
 * The candidates file is read by `lib/data/candidate-prompts.ts`, the split is `./split`, the ablations runner is
 * `./ablations`; all three are re-exported here so existing imports keep working.
 *
 * All scoring goes through `scorePairs` with an explicit `template`, so each (template, pair, scorer options) is
 * cached by content hash and a rerun (or a second mode over the same rows) is instant.
 */
import { checkPreferencePairs, subsetsOf } from '../data/types';
import { candidatesFor, loadCandidatePrompts, type CandidatePrompts } from '../data/candidate-prompts';
import type { CausalLM } from '../models/types';
import { templateFor } from '../scoring/templates';
import type { IpoPreset, IpoTruncation } from '../scoring/yes-no';
import type { PairOutcome } from './rewardbench-score';
import { DEFAULT_DEV_FRACTION, DEFAULT_SEED, splitDevTest, type DevTestSplit, type SplitOptions } from './split';
import { accuracyOf, countCorrect, scoreJobs, type PreferenceRow, type ScorerKnobs } from './template-scoring';

export * from '../data/candidate-prompts';
export * from './split';
export * from './ablations';
export type { PreferenceRow, ScorerKnobs } from './template-scoring';

// ------------------------------------------------------------------------------------------------------------------
// Prompt search
// ------------------------------------------------------------------------------------------------------------------

export type PromptSearchMode = 'official' | 'held-out';

export interface PromptSearchOptions extends ScorerKnobs, SplitOptions {
  /** Candidate templates per subset (default `loadCandidatePrompts()`, the official file). */
  candidates?: CandidatePrompts;
  /** Default `'held-out'`; `'official'` selects on and reports the whole subset, as `prompt_search.py` (quirk 9). */
  mode?: PromptSearchMode;
  /** Also score every candidate on the test rows (to see how far the dev choice is from the test-best one). Default false. */
  evaluateAllOnTest?: boolean;
}

export interface CandidateResult {
  /** 1-based, as the `{subset}_prompt_{k}` keys of the official JSON. */
  index: number;
  template: string;
  /** Accuracy on the selection rows (dev; ALL rows in official mode), a fraction. NaN with no dev rows. */
  devAccuracy: number;
  devCorrect: number;
  /** Accuracy on the test rows: always for the best candidate, for all with `evaluateAllOnTest` or in official mode. */
  testAccuracy?: number;
  testCorrect?: number;
}

export interface SubsetSearchResult {
  subset: string;
  /** The subset had no list of its own, so its only candidate is the file's `default`. */
  usedDefault: boolean;
  /** Rows the candidates were selected on (official mode: all of them). */
  nDev: number;
  /** Rows the chosen template is reported on (official mode: the same rows). */
  nTest: number;
  candidates: CandidateResult[];
  /** The selected candidate (highest dev accuracy, lowest index on ties). */
  best: CandidateResult;
  bestDevAccuracy: number;
  /** The best candidate's accuracy on the test rows (official mode: on the rows it was selected on). */
  heldOutAccuracy: number;
  /** `ours.py`'s template for this subset (`templateFor`), and its accuracy on the same test rows. */
  officialTemplate: string;
  officialTemplateAccuracy: number;
  /** Per-pair outcomes on the test rows, for `subsetStats` / `pairedBootstrapDiff`. */
  bestOutcomes: PairOutcome[];
  officialOutcomes: PairOutcome[];
}

export interface PromptSearchResult {
  mode: PromptSearchMode;
  preset: IpoPreset;
  truncation: IpoTruncation;
  maxLength?: number;
  seed: number | string;
  /** The split's parameter (held-out mode). */
  devFraction?: number;
  devPerSubset?: number;
  /** Subsets in order of first appearance in the rows. */
  subsets: Record<string, SubsetSearchResult>;
  /** The rows each side used (official mode: `dev` and `test` are both all rows). */
  split: DevTestSplit;
  /** subset → selected template. */
  bestTemplates: Record<string, string>;
  /** Test-row outcomes of the selected templates and of the `ours.py` templates, all subsets, for the metrics. */
  outcomes: { best: PairOutcome[]; official: PairOutcome[] };
  /** Pairs served from the score cache. */
  cached: number;
}

/** Best by dev correct count; ties → the lower index; no dev rows → candidate 1. */
function pickBest(cands: CandidateResult[]): CandidateResult {
  let best = cands[0];
  for (const c of cands) if (c.devCorrect > best.devCorrect) best = c;
  return best;
}

/**
 * Score every candidate template of every subset on the dev rows (official mode: all rows), pick the best per subset,
 * and report it on the test rows next to the `ours.py` template. See the file comment for modes and tie rule.
 */
export async function promptSearch(model: CausalLM, rows: readonly PreferenceRow[], opts: PromptSearchOptions = {}): Promise<PromptSearchResult> {
  checkPreferencePairs('promptSearch', rows);
  if (rows.length === 0) throw new Error('promptSearch: no rows');
  const mode = opts.mode ?? 'held-out';
  if (mode !== 'official' && mode !== 'held-out') throw new Error(`promptSearch: mode must be 'official' or 'held-out', got ${JSON.stringify(mode)}`);
  const candidates = opts.candidates ?? loadCandidatePrompts();
  const seed = opts.seed ?? DEFAULT_SEED;
  const knobs: ScorerKnobs = { preset: opts.preset ?? 'paper', truncation: opts.truncation ?? 'right', maxLength: opts.maxLength, cache: opts.cache };
  const subsets = subsetsOf(rows);
  const lists = Object.fromEntries(subsets.map((s) => [s, candidatesFor(candidates, s)]));

  let split: DevTestSplit;
  if (mode === 'official') {
    const bySubset: DevTestSplit['bySubset'] = {};
    for (const s of subsets) {
      const all = rows.filter((r) => r.subset === s);
      bySubset[s] = { dev: all, test: all };
    }
    split = { dev: [...rows], test: [...rows], bySubset };
  } else {
    split = splitDevTest(rows, { seed, devFraction: opts.devFraction, devPerSubset: opts.devPerSubset });
  }

  // Pass 1: every candidate on the selection rows, the ours.py template on the test rows (and, on request, every
  // candidate on the test rows). In official mode selection rows = test rows, so the candidates' test numbers are free.
  type Job = { rows: readonly PreferenceRow[]; template: string; subset: string; what: 'dev' | 'test' | 'official'; k: number };
  const jobs: Job[] = [];
  for (const s of subsets) {
    const { dev, test } = split.bySubset[s];
    lists[s].templates.forEach((t, k) => {
      jobs.push({ rows: dev, template: t, subset: s, what: 'dev', k });
      if (mode === 'held-out' && opts.evaluateAllOnTest) jobs.push({ rows: test, template: t, subset: s, what: 'test', k });
    });
    jobs.push({ rows: test, template: templateFor(s), subset: s, what: 'official', k: -1 });
  }
  const pass1 = await scoreJobs(model, jobs, knobs, mode === 'official' ? 'prompt search (all rows)' : 'prompt search (dev)');
  let cached = pass1.cached;

  const results: Record<string, SubsetSearchResult> = {};
  const devOut: Record<string, PairOutcome[][]> = {};
  const testOut: Record<string, (PairOutcome[] | undefined)[]> = {};
  const offOut: Record<string, PairOutcome[]> = {};
  jobs.forEach((j, i) => {
    const o = pass1.outcomes[i];
    if (j.what === 'dev') (devOut[j.subset] ??= [])[j.k] = o;
    else if (j.what === 'test') (testOut[j.subset] ??= [])[j.k] = o;
    else offOut[j.subset] = o;
  });

  const need: { subset: string; best: CandidateResult }[] = [];
  for (const s of subsets) {
    const { dev, test } = split.bySubset[s];
    const cands: CandidateResult[] = lists[s].templates.map((template, k) => {
      const d = devOut[s][k];
      const c: CandidateResult = { index: k + 1, template, devAccuracy: accuracyOf(d), devCorrect: countCorrect(d) };
      const t = mode === 'official' ? d : testOut[s]?.[k];
      if (t) {
        c.testAccuracy = accuracyOf(t);
        c.testCorrect = countCorrect(t);
      }
      return c;
    });
    const best = pickBest(cands);
    const official = offOut[s];
    results[s] = {
      subset: s,
      usedDefault: lists[s].usedDefault,
      nDev: dev.length,
      nTest: test.length,
      candidates: cands,
      best,
      bestDevAccuracy: best.devAccuracy,
      heldOutAccuracy: NaN,
      officialTemplate: templateFor(s),
      officialTemplateAccuracy: accuracyOf(official),
      bestOutcomes: [],
      officialOutcomes: official,
    };
    const have = mode === 'official' ? devOut[s][best.index - 1] : testOut[s]?.[best.index - 1];
    if (have) results[s].bestOutcomes = have;
    else need.push({ subset: s, best });
  }

  // Pass 2 (held-out mode): the chosen template of each subset on its test rows.
  if (need.length) {
    const pass2 = await scoreJobs(model, need.map((n) => ({ rows: split.bySubset[n.subset].test, template: n.best.template })), knobs, 'prompt search (test)');
    cached += pass2.cached;
    need.forEach((n, i) => {
      results[n.subset].bestOutcomes = pass2.outcomes[i];
      n.best.testAccuracy = accuracyOf(pass2.outcomes[i]);
      n.best.testCorrect = countCorrect(pass2.outcomes[i]);
    });
  }
  for (const s of subsets) results[s].heldOutAccuracy = accuracyOf(results[s].bestOutcomes);

  return {
    mode,
    preset: knobs.preset as IpoPreset,
    truncation: knobs.truncation as IpoTruncation,
    maxLength: opts.maxLength,
    seed,
    ...(mode === 'held-out' ? (opts.devPerSubset !== undefined ? { devPerSubset: opts.devPerSubset } : { devFraction: opts.devFraction ?? DEFAULT_DEV_FRACTION }) : {}),
    subsets: results,
    split,
    bestTemplates: Object.fromEntries(subsets.map((s) => [s, results[s].best.template])),
    outcomes: {
      best: subsets.flatMap((s) => results[s].bestOutcomes),
      official: subsets.flatMap((s) => results[s].officialOutcomes),
    },
    cached,
  };
}

export interface PromptSearchSummaryRow {
  subset: string;
  nDev: number;
  nTest: number;
  candidates: number;
  usedDefault: boolean;
  bestIndex: number;
  bestDevAccuracy: number;
  heldOutAccuracy: number;
  officialTemplateAccuracy: number;
  /** bestDevAccuracy − heldOutAccuracy: how much selecting on the reported data inflates the number. */
  optimism: number;
}

/** One row per subset, for `showTable`. */
export function promptSearchSummary(result: PromptSearchResult): PromptSearchSummaryRow[] {
  return Object.values(result.subsets).map((r) => ({
    subset: r.subset,
    nDev: r.nDev,
    nTest: r.nTest,
    candidates: r.candidates.length,
    usedDefault: r.usedDefault,
    bestIndex: r.best.index,
    bestDevAccuracy: r.bestDevAccuracy,
    heldOutAccuracy: r.heldOutAccuracy,
    officialTemplateAccuracy: r.officialTemplateAccuracy,
    optimism: r.bestDevAccuracy - r.heldOutAccuracy,
  }));
}

// ------------------------------------------------------------------------------------------------------------------
// The official multi-prompt JSON
// ------------------------------------------------------------------------------------------------------------------

export interface OfficialMultiPromptJson {
  subset_accuracies: Record<string, { average_accuracy: number; individual_accuracies: number[] }>;
  prompt_accuracies: Record<string, { accuracy: number; prompt_template: string }>;
}

/**
 * `accuracy_reward-bench_yesno_{model}_multi_prompt.json` of `prompt_search.py`, in PERCENT as that script writes it:
 * `accuracy = (correct / total) * 100`, `average_accuracy = sum(individual) / len(individual)`, keys
 * `"{subset}_prompt_{k}"` with k 1-based, subsets in the result's order (Python iterates a `set`, so its order is
 * arbitrary anyway), prompts in candidate order. Serialise with `pythonJsonDumps(obj, { indent: 4 })` (the script
 * uses `json.dump(results, f, indent=4)`, no sort_keys).
 *
 * `rows`: `'selection'` (default) reports the rows the candidates were scored on (ALL rows in official mode, which is
 * exactly the official file; dev rows in held-out mode); `'test'` reports the test rows and needs every candidate's
 * test accuracy (official mode, or held-out with `evaluateAllOnTest`).
 */
export function toOfficialMultiPromptJson(result: PromptSearchResult, opts: { rows?: 'selection' | 'test' } = {}): OfficialMultiPromptJson {
  const which = opts.rows ?? 'selection';
  if (which !== 'selection' && which !== 'test') throw new Error(`toOfficialMultiPromptJson: rows must be 'selection' or 'test', got ${JSON.stringify(which)}`);
  const out: OfficialMultiPromptJson = { subset_accuracies: {}, prompt_accuracies: {} };
  for (const r of Object.values(result.subsets)) {
    const total = which === 'selection' ? r.nDev : r.nTest;
    const accs = r.candidates.map((c) => {
      let correct: number;
      if (which === 'selection') correct = c.devCorrect;
      else {
        if (c.testCorrect === undefined) throw new Error(`toOfficialMultiPromptJson: candidate ${c.index} of '${r.subset}' has no test accuracy (run with evaluateAllOnTest, or use rows: 'selection')`);
        correct = c.testCorrect;
      }
      // prompt_search.py: accuracy = (correct / total) * 100 if total > 0 else 0
      const accuracy = total > 0 ? (correct / total) * 100 : 0;
      out.prompt_accuracies[`${r.subset}_prompt_${c.index}`] = { accuracy, prompt_template: c.template };
      return accuracy;
    });
    let sum = 0;
    for (const a of accs) sum += a;
    out.subset_accuracies[r.subset] = { average_accuracy: sum / accs.length, individual_accuracies: accs };
  }
  return out;
}

/** The official file name: `accuracy_reward-bench_yesno_{model.split('/')[-1]}_multi_prompt.json`. */
export function officialMultiPromptFileName(modelName: string): string {
  return `accuracy_reward-bench_yesno_${modelName.split('/').pop()}_multi_prompt.json`;
}
