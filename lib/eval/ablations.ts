/**
 * Prompt ablations for the IPO classifier on RewardBench (`ours_prompt_shuffle.py`, `ours_same_prompt.py`, shared
 * doc §4, §9 quirk 17): score the same rows under every (ablation kind × preset × truncation), with the templates
 * of `lib/scoring/ablations.ts`, and compare each variant with a baseline by paired bootstrap.
 */
import { checkPreferencePairs, subsetsOf } from '../data/types';
import type { CausalLM } from '../models/types';
import { ABLATION_KINDS, ablationFallbackTemplate, ablationTemplates, type AblationKind } from '../scoring/ablations';
import { scorePairs } from '../scoring/score-pairs';
import type { IpoPreset, IpoTruncation } from '../scoring/yes-no';
import { pairedBootstrapDiff } from './rewardbench-bootstrap';
import { subsetStats, type PairOutcome, type SubsetStat } from './rewardbench-score';
import { DEFAULT_SEED } from './split';
import { accuracyOf, outcomeOf, pairOf, type PreferenceRow } from './template-scoring';

export interface AblationVariantKey {
  ablation: AblationKind;
  preset: IpoPreset;
  truncation: IpoTruncation;
}

export interface RunAblationsOptions {
  /** Default all four: official, generic, shuffled, same. */
  kinds?: AblationKind[];
  /** Default ['paper', 'exact']. */
  presets?: IpoPreset[];
  /** Default ['right', 'left']. */
  truncations?: IpoTruncation[];
  /** Bootstrap seed (default 42). */
  seed?: number | string;
  /** Bootstrap replicates (default 1000). */
  B?: number;
  /** Default 1024. */
  maxLength?: number;
  /** Set false to bypass the score cache. */
  cache?: boolean;
  /** The variant every other is compared with (default official / paper / right; scored even when not in the grid). */
  baseline?: AblationVariantKey;
  /** The `generic` template (default the candidates file's `default`, `CANDIDATE_DEFAULT_TEMPLATE`). */
  generic?: string;
  /**
   * Which `reportMetrics` names go into `diffs` (default: `overall`, `scorePresent` and every `subset:*`). A
   * predicate, or a list of names.
   */
  diffMetrics?: readonly string[] | ((name: string) => boolean);
}

export interface AblationRow extends AblationVariantKey {
  subset: string;
  n: number;
  accuracy: number;
  correct: number;
  ties: number;
}

export interface AblationVariant extends AblationVariantKey {
  /** Per-pair outcomes, input row order (ready for `subsetStats` / `rewardBenchReport`). */
  outcomes: PairOutcome[];
  stats: Record<string, SubsetStat>;
  /** Pooled accuracy over all rows. */
  overall: number;
  cached: number;
}

export interface AblationDiffRow extends AblationVariantKey {
  metric: string;
  /** this variant's value */
  a: number;
  /** the baseline's value */
  b: number;
  diff: number;
  lo: number;
  hi: number;
  p: number;
}

export interface AblationsResult {
  /** One row per (ablation, preset, truncation, subset): kinds × presets × truncations × subsets rows. */
  table: AblationRow[];
  variants: AblationVariant[];
  baseline: AblationVariant;
  /** Paired bootstrap differences (variant − baseline) of every other variant, for the chosen metrics. */
  diffs: AblationDiffRow[];
  B: number;
  seed: number | string;
}

const sameKey = (a: AblationVariantKey, b: AblationVariantKey) => a.ablation === b.ablation && a.preset === b.preset && a.truncation === b.truncation;

function nonEmptyList<T>(fn: string, name: string, v: readonly T[] | undefined, dflt: readonly T[]): T[] {
  const list = v ?? dflt;
  if (!Array.isArray(list) || list.length === 0) throw new Error(`${fn}: ${name} must be a non-empty array`);
  return [...new Set(list)];
}

/**
 * Score `rows` under every (ablation kind × preset × truncation) through `scorePairs` (cached), and return the tidy
 * per-subset table, the per-pair outcomes, and paired bootstrap differences against the baseline variant
 * (`pairedBootstrapDiff`, the same resampled pairs for both runs, stratified by subset).
 */
export async function runAblations(model: CausalLM, rows: readonly PreferenceRow[], opts: RunAblationsOptions = {}): Promise<AblationsResult> {
  const fn = 'runAblations';
  checkPreferencePairs(fn, rows);
  if (rows.length === 0) throw new Error(`${fn}: no rows`);
  const kinds = nonEmptyList(fn, 'kinds', opts.kinds, ABLATION_KINDS);
  for (const k of kinds) if (!(ABLATION_KINDS as readonly string[]).includes(k)) throw new Error(`${fn}: unknown ablation kind ${JSON.stringify(k)} (expected ${ABLATION_KINDS.join(', ')})`);
  const presets = nonEmptyList<IpoPreset>(fn, 'presets', opts.presets, ['paper', 'exact']);
  const truncations = nonEmptyList<IpoTruncation>(fn, 'truncations', opts.truncations, ['right', 'left']);
  const baselineKey: AblationVariantKey = opts.baseline ?? { ablation: 'official', preset: 'paper', truncation: 'right' };
  const seed = opts.seed ?? DEFAULT_SEED;
  const B = opts.B ?? 1000;
  const subsets = subsetsOf(rows);

  const score = async (key: AblationVariantKey): Promise<AblationVariant> => {
    const table = ablationTemplates(key.ablation, { generic: opts.generic }) as Record<string, string>;
    const fallback = ablationFallbackTemplate(key.ablation, { generic: opts.generic });
    const pairs = rows.map((r) => pairOf(r, Object.prototype.hasOwnProperty.call(table, r.subset) ? table[r.subset] : fallback));
    const res = await scorePairs(model, pairs, {
      preset: key.preset,
      truncation: key.truncation,
      maxLength: opts.maxLength,
      cache: opts.cache,
      label: `ablation ${key.ablation}/${key.preset}/${key.truncation}`,
    });
    const outcomes = rows.map((r, i) => outcomeOf(r, res.scores[i]));
    return { ...key, outcomes, stats: subsetStats(outcomes), overall: accuracyOf(outcomes), cached: res.cached };
  };

  const variants: AblationVariant[] = [];
  for (const ablation of kinds) {
    for (const preset of presets) {
      for (const truncation of truncations) variants.push(await score({ ablation, preset, truncation }));
    }
  }
  const baseline = variants.find((v) => sameKey(v, baselineKey)) ?? (await score(baselineKey));

  const table: AblationRow[] = [];
  for (const v of variants) {
    for (const s of subsets) {
      const st = v.stats[s];
      table.push({ ablation: v.ablation, preset: v.preset, truncation: v.truncation, subset: s, n: st.n, accuracy: st.accuracy, correct: st.correct, ties: st.ties });
    }
  }

  const keep = typeof opts.diffMetrics === 'function'
    ? opts.diffMetrics
    : Array.isArray(opts.diffMetrics)
      ? (name: string) => (opts.diffMetrics as readonly string[]).includes(name)
      : (name: string) => name === 'overall' || name === 'scorePresent' || name.startsWith('subset:');
  // Rows are the same objects in the same order for every variant: align by position (ids may repeat in a subset).
  const strip = (os: readonly PairOutcome[]) => os.map(({ id: _id, ...o }) => o);
  const baseOutcomes = strip(baseline.outcomes);
  const diffs: AblationDiffRow[] = [];
  for (const v of variants) {
    if (sameKey(v, baselineKey)) continue;
    const d = pairedBootstrapDiff(strip(v.outcomes), baseOutcomes, { B, seed });
    for (const [metric, x] of Object.entries(d.diffs)) {
      if (!keep(metric)) continue;
      diffs.push({ ablation: v.ablation, preset: v.preset, truncation: v.truncation, metric, a: x.a, b: x.b, diff: x.diff, lo: x.lo, hi: x.hi, p: x.p });
    }
  }
  return { table, variants, baseline, diffs, B, seed };
}
