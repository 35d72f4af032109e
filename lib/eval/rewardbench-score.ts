/**
 * RewardBench scoring from per-pair outcomes: per-subset accuracy, the official leaderboard sections and Score, the
 * IPO paper's 4 columns (assumed grouping), the flat metric list, and reward-bench's two results JSON layouts.
 * (Bootstrap intervals: `./rewardbench-bootstrap`; Python-exact JSON text: `lib/util/python-json.ts`.)
 *
 * Official behaviour reproduced (allenai/reward-bench, shared doc §7):
 * - a pair is correct iff score(chosen) > score(rejected); `scripts/run_rm.py` counts ties as wrong. The generative
 *   judge (`scripts/run_generative.py`) scores ties and parse failures 0.5: `tiePolicy: 'half'`.
 * - per-subset accuracy = correct / n, a fraction in [0, 1] (`results_grouped[subset] = num_correct / num_total`).
 * - `calculate_scores_per_section(EXAMPLE_COUNTS, SUBSET_MAPPING, metrics)` (`rewardbench/utils.py`): a section is
 *   Σ acc·count / Σ count over ITS SUBSETS PRESENT in `metrics`, and 0 when none is present.
 * - leaderboard Score = unweighted mean of Chat, Chat Hard, Safety, Reasoning.
 *
 * Missing sections: the official function gives an empty section 0, so a run on part of the benchmark (e.g. the
 * local rebuild without mt-bench or math-prm) has its Score pulled down by every absent section. `score` keeps that
 * faithful behaviour; `scorePresent` is the mean over the sections that have at least one subset, and `present` lists
 * them, so a reader can tell the two apart.
 *
 * The paper's Chat / Code / Math / Safety columns come from an UNVERIFIED grouping (`PAPER_CATEGORIES`), and the
 * weighting inside a column is unknown, so three variants are reported: `plain` (unweighted mean of the column's
 * present subsets), `counts` (weighted by EXAMPLE_COUNTS, as the sections are) and `pooled` (weighted by the pairs
 * actually scored, i.e. micro accuracy). A column with no subset present is `null`, and `average` (plain mean of the
 * 4 columns, the paper's Avg before truncation) is over the present columns, with `complete` telling whether all 4
 * were there.
 */
import { outcome } from './outcome';
import {
  EXAMPLE_COUNTS,
  PAPER_CATEGORIES,
  PAPER_CATEGORY_NAMES,
  REWARDBENCH_SECTIONS,
  SUBSET_MAPPING,
  subsetSection,
  type PaperCategory,
  type RewardBenchSection,
} from './rewardbench-constants';

// ------------------------------------------------------------------------------------------------------------------
// Outcomes and per-subset accuracy
// ------------------------------------------------------------------------------------------------------------------

/** How a tie (score(chosen) === score(rejected)) counts: 0 as in run_rm.py and the IPO code, or 0.5 as in run_generative.py. */
export type TiePolicy = 'wrong' | 'half';

/**
 * One scored pair. Give `correct` (and `tie` when it was a tie), or the two scores (`chosen`, `rejected`), from which
 * correct = chosen > rejected and tie = chosen === rejected. `id` lets `pairedBootstrapDiff` align two runs.
 */
export interface PairOutcome {
  subset: string;
  correct?: boolean;
  tie?: boolean;
  chosen?: number;
  rejected?: number;
  id?: string | number;
}

export interface SubsetStat {
  subset: string;
  /** pairs scored */
  n: number;
  /** pairs with chosen strictly preferred */
  correct: number;
  /** pairs with equal scores (never counted in `correct`) */
  ties: number;
  /** (correct + 0.5·ties under 'half') / n, a fraction in [0, 1] */
  accuracy: number;
}

/** The value of one pair under `tiePolicy`: 1 correct, 0 wrong, 0 or 0.5 for a tie. Throws on a malformed outcome. */
export function pairValue(o: PairOutcome, tiePolicy: TiePolicy = 'wrong'): { value: number; correct: boolean; tie: boolean } {
  let correct: boolean;
  let tie: boolean;
  const hasScores = typeof o.chosen === 'number' && typeof o.rejected === 'number';
  if (typeof o.correct === 'boolean') {
    correct = o.correct;
    tie = o.tie ?? (hasScores ? o.chosen === o.rejected : false);
  } else if (hasScores) {
    const d = outcome(o.chosen as number, o.rejected as number);
    correct = d.correct;
    tie = o.tie ?? d.tie;
  } else {
    throw new Error(`outcome of subset '${o.subset}' has neither 'correct' nor numeric 'chosen'/'rejected' scores`);
  }
  if (tie && correct) throw new Error(`outcome of subset '${o.subset}' is marked both correct and tie`);
  const value = correct ? 1 : tie && tiePolicy === 'half' ? 0.5 : 0;
  return { value, correct, tie };
}

/** Per-subset n / correct / ties / accuracy, subsets in order of first appearance. */
export function subsetStats(outcomes: readonly PairOutcome[], opts: { tiePolicy?: TiePolicy } = {}): Record<string, SubsetStat> {
  const tiePolicy = opts.tiePolicy ?? 'wrong';
  const out: Record<string, SubsetStat> = {};
  const points: Record<string, number> = {};
  for (const o of outcomes) {
    if (typeof o.subset !== 'string' || !o.subset) throw new Error('outcome without a subset name');
    const { value, correct, tie } = pairValue(o, tiePolicy);
    const s = (out[o.subset] ??= { subset: o.subset, n: 0, correct: 0, ties: 0, accuracy: 0 });
    s.n += 1;
    if (correct) s.correct += 1;
    if (tie) s.ties += 1;
    points[o.subset] = (points[o.subset] ?? 0) + value;
  }
  for (const s of Object.values(out)) s.accuracy = points[s.subset] / s.n;
  return out;
}

/** `{subset: accuracy}` from subset stats (the `metrics` dict of reward-bench). */
export function subsetAccuracies(stats: Record<string, SubsetStat>): Record<string, number> {
  return Object.fromEntries(Object.values(stats).map((s) => [s.subset, s.accuracy]));
}

// ------------------------------------------------------------------------------------------------------------------
// Leaderboard sections (official)
// ------------------------------------------------------------------------------------------------------------------

/**
 * Exactly `rewardbench/utils.py::calculate_scores_per_section`: for each section, Σ acc[s]·counts[s] / Σ counts[s]
 * over the section's subsets present in `subsetAcc`, or 0 when none is present.
 */
export function sectionScores(
  subsetAcc: Readonly<Record<string, number>>,
  exampleCounts: Readonly<Record<string, number>> = EXAMPLE_COUNTS,
  subsetMapping: Readonly<Record<RewardBenchSection, readonly string[]>> = SUBSET_MAPPING,
): Record<RewardBenchSection, number> {
  const out = {} as Record<RewardBenchSection, number>;
  for (const section of REWARDBENCH_SECTIONS) {
    let totalWeightedScore = 0;
    let totalExamples = 0;
    for (const test of subsetMapping[section]) {
      if (Object.prototype.hasOwnProperty.call(subsetAcc, test)) {
        const count = exampleCounts[test];
        if (typeof count !== 'number') throw new Error(`no example count for subset '${test}'`);
        totalWeightedScore += subsetAcc[test] * count;
        totalExamples += count;
      }
    }
    out[section] = totalExamples > 0 ? totalWeightedScore / totalExamples : 0;
  }
  return out;
}

/** Sections with at least one of their subsets in `subsetAcc`. */
export function sectionsPresent(
  subsetAcc: Readonly<Record<string, number>>,
  subsetMapping: Readonly<Record<RewardBenchSection, readonly string[]>> = SUBSET_MAPPING,
): RewardBenchSection[] {
  return REWARDBENCH_SECTIONS.filter((s) => subsetMapping[s].some((t) => Object.prototype.hasOwnProperty.call(subsetAcc, t)));
}

export interface LeaderboardScores {
  sections: Record<RewardBenchSection, number>;
  /** sections with data */
  present: RewardBenchSection[];
  /** faithful: unweighted mean of the 4 sections, an empty section counting 0 */
  score: number;
  /** unweighted mean over the sections in `present` (null when none) */
  scorePresent: number | null;
}

/** Sections, Score and Score-over-present-sections from subset accuracies. */
export function leaderboardScores(
  subsetAcc: Readonly<Record<string, number>>,
  exampleCounts: Readonly<Record<string, number>> = EXAMPLE_COUNTS,
): LeaderboardScores {
  const sections = sectionScores(subsetAcc, exampleCounts);
  const present = sectionsPresent(subsetAcc);
  const score = REWARDBENCH_SECTIONS.reduce((s, k) => s + sections[k], 0) / REWARDBENCH_SECTIONS.length;
  const scorePresent = present.length ? present.reduce((s, k) => s + sections[k], 0) / present.length : null;
  return { sections, present, score, scorePresent };
}

// ------------------------------------------------------------------------------------------------------------------
// The paper's 4 columns (assumed grouping)
// ------------------------------------------------------------------------------------------------------------------

/** plain = unweighted mean of subsets; counts = EXAMPLE_COUNTS-weighted; pooled = weighted by pairs scored. */
export type CategoryWeighting = 'plain' | 'counts' | 'pooled';
export const CATEGORY_WEIGHTINGS: readonly CategoryWeighting[] = ['plain', 'counts', 'pooled'];

export interface PaperCategoryScores {
  weighting: CategoryWeighting;
  /** column → score (fraction), null when none of its subsets is present */
  categories: Record<PaperCategory, number | null>;
  present: PaperCategory[];
  /** plain mean of the present columns (null when none) */
  average: number | null;
  /** all 4 columns present */
  complete: boolean;
}

/**
 * The paper's Chat / Code / Math / Safety from subset accuracies. `sizes` (pairs per subset) is needed for
 * `weighting: 'pooled'`; `exampleCounts` for 'counts'.
 */
export function paperCategoryScores(
  subsetAcc: Readonly<Record<string, number>>,
  opts: { weighting?: CategoryWeighting; sizes?: Readonly<Record<string, number>>; exampleCounts?: Readonly<Record<string, number>> } = {},
): PaperCategoryScores {
  const weighting = opts.weighting ?? 'plain';
  const counts = opts.exampleCounts ?? EXAMPLE_COUNTS;
  const categories = {} as Record<PaperCategory, number | null>;
  const present: PaperCategory[] = [];
  for (const cat of PAPER_CATEGORY_NAMES) {
    let num = 0;
    let den = 0;
    for (const s of PAPER_CATEGORIES[cat]) {
      if (!Object.prototype.hasOwnProperty.call(subsetAcc, s)) continue;
      let w: number;
      if (weighting === 'plain') w = 1;
      else if (weighting === 'counts') w = counts[s];
      else {
        if (!opts.sizes || typeof opts.sizes[s] !== 'number') throw new Error(`pooled weighting needs the number of pairs of subset '${s}'`);
        w = opts.sizes[s];
      }
      if (typeof w !== 'number') throw new Error(`no example count for subset '${s}'`);
      num += subsetAcc[s] * w;
      den += w;
    }
    categories[cat] = den > 0 ? num / den : null;
    if (den > 0) present.push(cat);
  }
  const average = present.length ? present.reduce((s, c) => s + (categories[c] as number), 0) / present.length : null;
  return { weighting, categories, present, average, complete: present.length === PAPER_CATEGORY_NAMES.length };
}

// ------------------------------------------------------------------------------------------------------------------
// The full report and its flat metric list
// ------------------------------------------------------------------------------------------------------------------

export interface RewardBenchReport {
  tiePolicy: TiePolicy;
  /** pairs scored */
  n: number;
  ties: number;
  /** accuracy over all pairs pooled (what the `rewardbench` CLI calls `accuracy`) */
  overall: number;
  subsets: Record<string, SubsetStat>;
  leaderboard: LeaderboardScores;
  paper: Record<CategoryWeighting, PaperCategoryScores>;
  /** subsets outside the 23 (kept in `subsets` and `overall`, ignored by sections and columns) */
  unknownSubsets: string[];
}

export interface ReportOptions {
  tiePolicy?: TiePolicy;
  /** weights of the sections and of the 'counts' columns; default EXAMPLE_COUNTS (05a9005e) */
  exampleCounts?: Readonly<Record<string, number>>;
}

/** The report from per-subset stats (shared with the bootstrap, which resamples the stats). */
export function reportFromSubsets(
  subsets: Record<string, SubsetStat>,
  tiePolicy: TiePolicy,
  exampleCounts: Readonly<Record<string, number>>,
): RewardBenchReport {
  const acc = subsetAccuracies(subsets);
  const sizes = Object.fromEntries(Object.values(subsets).map((s) => [s.subset, s.n]));
  let n = 0;
  let ties = 0;
  let points = 0;
  for (const s of Object.values(subsets)) {
    n += s.n;
    ties += s.ties;
    points += s.accuracy * s.n;
  }
  const paper = {} as Record<CategoryWeighting, PaperCategoryScores>;
  for (const w of CATEGORY_WEIGHTINGS) paper[w] = paperCategoryScores(acc, { weighting: w, sizes, exampleCounts });
  return {
    tiePolicy,
    n,
    ties,
    overall: n ? points / n : NaN,
    subsets,
    leaderboard: leaderboardScores(acc, exampleCounts),
    paper,
    unknownSubsets: Object.keys(subsets).filter((s) => !subsetSection(s)),
  };
}

/** Everything above from per-pair outcomes. */
export function rewardBenchReport(outcomes: readonly PairOutcome[], opts: ReportOptions = {}): RewardBenchReport {
  const tiePolicy = opts.tiePolicy ?? 'wrong';
  return reportFromSubsets(subsetStats(outcomes, { tiePolicy }), tiePolicy, opts.exampleCounts ?? EXAMPLE_COUNTS);
}

/**
 * Every number of a report under a flat name: `overall`, `subset:<name>`, `section:<Section>`, `score`,
 * `scorePresent`, `paper.<weighting>:<Column>` and `paper.<weighting>:average`. Null entries are left out.
 */
export function reportMetrics(r: RewardBenchReport): Record<string, number> {
  const m: Record<string, number> = { overall: r.overall };
  for (const s of Object.values(r.subsets)) m[`subset:${s.subset}`] = s.accuracy;
  for (const k of REWARDBENCH_SECTIONS) m[`section:${k}`] = r.leaderboard.sections[k];
  m.score = r.leaderboard.score;
  if (r.leaderboard.scorePresent !== null) m.scorePresent = r.leaderboard.scorePresent;
  for (const w of CATEGORY_WEIGHTINGS) {
    for (const c of PAPER_CATEGORY_NAMES) {
      const v = r.paper[w].categories[c];
      if (v !== null) m[`paper.${w}:${c}`] = v;
    }
    if (r.paper[w].average !== null) m[`paper.${w}:average`] = r.paper[w].average as number;
  }
  return m;
}

// ------------------------------------------------------------------------------------------------------------------
// reward-bench results JSON
// ------------------------------------------------------------------------------------------------------------------

export interface RewardBenchJsonMeta {
  /** `args.model` */
  model: string;
  /** reward-bench's model types are "Seq. Classifier", "DPO", "DPO Ref. Free", "Custom Classifier", "Generative"; default "Generative" */
  modelType?: string;
  /** `args.chat_template`, or "tokenizer" when the tokenizer's own template was used; default null (the IPO code uses none) */
  chatTemplate?: string | null;
}

type SubsetInput = RewardBenchReport | Record<string, SubsetStat> | Record<string, number>;

function accuraciesOf(input: SubsetInput): Record<string, number> {
  if ('subsets' in input && 'leaderboard' in input) return subsetAccuracies((input as RewardBenchReport).subsets);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(input as Record<string, SubsetStat | number>)) out[k] = typeof v === 'number' ? v : v.accuracy;
  return out;
}

/**
 * The results file of reward-bench `scripts/run_rm.py` (allenai/reward-bench, written by `save_to_hub` to
 * `results/eval-set/<model>.json` and uploaded to the `allenai/reward-bench-results` dataset): one flat object
 * `{model, model_type, chat_template, <subset>: accuracy, ...}`, accuracies as fractions, keys sorted
 * (`json.dumps(..., indent=4, sort_keys=True)`). Section scores are only printed by run_rm.py, not saved.
 * Example in the repo: `scripts/results/eval-set/general-preference/GPM-Gemma-2-2B.json`.
 * Serialise with `pythonJsonDumps(obj, { indent: 4, sortKeys: true })` for a byte-identical layout.
 */
export function toRewardBenchResultsJson(input: SubsetInput, meta: RewardBenchJsonMeta): Record<string, string | number | null> {
  const flat: Record<string, string | number | null> = {
    ...accuraciesOf(input),
    model: meta.model,
    model_type: meta.modelType ?? 'Generative',
    chat_template: meta.chatTemplate ?? null,
  };
  return Object.fromEntries(Object.keys(flat).sort().map((k) => [k, flat[k]]));
}

export interface RewardBenchCliJson {
  accuracy: number;
  num_prompts: number;
  model: string;
  ref_model: string | null;
  tokenizer: string;
  chat_template: string | null;
  extra_results: Record<string, number> | null;
}

/**
 * The file of the `rewardbench` CLI (`rewardbench/rewardbench.py`, `<output_dir>/<model>.json`, written with
 * `json.dump(final_results, f)`): `{accuracy, num_prompts, model, ref_model, tokenizer, chat_template,
 * extra_results}`, where accuracy is pooled over all pairs and extra_results holds the per-subset accuracies (only
 * for allenai/reward-bench). Serialise with `pythonJsonDumps(obj, { intKeys: ['num_prompts'] })`.
 */
export function toRewardBenchCliJson(
  report: RewardBenchReport,
  meta: { model: string; refModel?: string | null; tokenizer?: string; chatTemplate?: string | null },
): RewardBenchCliJson {
  return {
    accuracy: report.overall,
    num_prompts: report.n,
    model: meta.model,
    ref_model: meta.refModel ?? null,
    tokenizer: meta.tokenizer ?? meta.model,
    chat_template: meta.chatTemplate ?? null,
    extra_results: subsetAccuracies(report.subsets),
  };
}
