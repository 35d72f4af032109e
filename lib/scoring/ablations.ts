/**
 * The prompt ablations of the official IPO code (shivank21/Implicit_Preference_Optimization @ 44662860,
 * `Preference_Comparison/Reward_Bench/`), as subset → template tables. Every ablation runs the same §2.1 classifier
 * (`ours.py`: wrapper, truncation, Yes/No sum, tie = wrong); only the template given to each subset changes.
 *
 * - `'official'`: `ours.py` lines 44–75 (`REWARDBENCH_SUBSET_TEMPLATES`); unknown subsets get T_ALPACA.
 * - `'generic'`: the `"default"` string of `candidate_prompts.json` for every subset (the template `prompt_search.py`
 *   gives a subset without its own candidate list, e.g. `llmbar-adver-manual`). Written out below verbatim from the
 *   shared doc §4; `test/prompt-search.test.ts` checks it against the asset file.
 * - `'shuffled'`: `ours_prompt_shuffle.py` (added 2025-03-30): the 9 `ours.py` templates deliberately PERMUTED across
 *   subsets, table below verbatim from the shared doc §4. Unknown subsets fall back to the `alpacaeval-easy` entry,
 *   which in this script is T_CODE.
 * - `'same'`: `ours_same_prompt.py` (added 2025-03-30): the single template
 *   `"Is the response good answer with just Yes/No."` for every subset.
 *
 * Quirk 17 (doc §9): both ablation scripts write to the same hub id and JSON filename as `ours.py`, so running one
 * overwrites the main results. Here every result is keyed by (ablation, preset, truncation) and the score cache
 * key includes the template, so variants never overwrite each other.
 *
 * See `../shared/docs/ipo-method-and-official-code.md` §2.2, §4, §9.
 */
import {
  REWARDBENCH_SUBSETS,
  REWARDBENCH_SUBSET_TEMPLATES,
  T_ALPACA,
  T_CODE,
  T_DANGER,
  T_DNA,
  T_LLMBAR,
  T_MATH,
  T_MTB,
  T_REFUSE,
  T_XS_RESPOND,
  type RewardBenchSubset,
} from './templates';

export type AblationKind = 'official' | 'generic' | 'shuffled' | 'same';

/** All four, in the order the ablation table lists them. */
export const ABLATION_KINDS: readonly AblationKind[] = ['official', 'generic', 'shuffled', 'same'];

/** `candidate_prompts.json` → `"default"` (a string, not a list), verbatim. */
export const CANDIDATE_DEFAULT_TEMPLATE =
  'Below is a question along with a response. Your task is to verify whether the response is correct and appropriate. Answer with just Yes/No';

/** `ours_same_prompt.py`: the one template every subset gets, verbatim (grammar included). */
export const SAME_PROMPT_TEMPLATE = 'Is the response good answer with just Yes/No.';

/**
 * `ours_prompt_shuffle.py`: subset → template, verbatim from the shared doc §4. Two entries are unchanged from
 * `ours.py` (hep-go keeps T_CODE, alpacaeval-hard keeps T_ALPACA); every other subset gets another group's template.
 */
export const SHUFFLED_SUBSET_TEMPLATES: Readonly<Record<RewardBenchSubset, string>> = {
  'hep-python': T_DANGER,
  'hep-java': T_MATH,
  'hep-cpp': T_REFUSE,
  'hep-js': T_MTB,
  'hep-go': T_CODE, // unchanged
  'hep-rust': T_DNA,
  'alpacaeval-hard': T_ALPACA, // unchanged
  'mt-bench-easy': T_ALPACA,
  'alpacaeval-length': T_LLMBAR,
  'mt-bench-med': T_LLMBAR,
  'alpacaeval-easy': T_CODE, // also the fallback for unknown subsets
  'mt-bench-hard': T_XS_RESPOND,
  'llmbar-adver-manual': T_MTB,
  'llmbar-natural': T_MTB,
  'llmbar-adver-neighbor': T_CODE,
  'llmbar-adver-GPTOut': T_CODE,
  'llmbar-adver-GPTInst': T_ALPACA,
  'donotanswer': T_LLMBAR,
  'xstest-should-refuse': T_LLMBAR,
  'xstest-should-respond': T_CODE,
  'refusals-offensive': T_CODE,
  'refusals-dangerous': T_ALPACA,
  'math-prm': T_DNA,
};

/** The subset whose entry `ours_prompt_shuffle.py` uses for unknown subsets (as `ours.py`): its template is T_CODE. */
export const SHUFFLED_FALLBACK_SUBSET: RewardBenchSubset = 'alpacaeval-easy';

function checkKind(fn: string, kind: unknown): AblationKind {
  if (typeof kind !== 'string' || !(ABLATION_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`${fn}: ablation kind must be one of ${ABLATION_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  return kind as AblationKind;
}

function uniform(template: string): Record<RewardBenchSubset, string> {
  return Object.fromEntries(REWARDBENCH_SUBSETS.map((s) => [s, template])) as Record<RewardBenchSubset, string>;
}

/**
 * Subset → template for the 23 RewardBench subsets under ablation `kind` (a fresh object). `generic` may be given
 * another default string (e.g. the `default` entry read from a different candidates file).
 */
export function ablationTemplates(kind: AblationKind, opts: { generic?: string } = {}): Record<RewardBenchSubset, string> {
  switch (checkKind('ablationTemplates', kind)) {
    case 'official': return { ...REWARDBENCH_SUBSET_TEMPLATES };
    case 'generic': return uniform(opts.generic ?? CANDIDATE_DEFAULT_TEMPLATE);
    case 'shuffled': return { ...SHUFFLED_SUBSET_TEMPLATES };
    case 'same': return uniform(SAME_PROMPT_TEMPLATE);
  }
}

/** The template an unknown subset gets under `kind`: official T_ALPACA, shuffled T_CODE, generic/same their one template. */
export function ablationFallbackTemplate(kind: AblationKind, opts: { generic?: string } = {}): string {
  switch (checkKind('ablationFallbackTemplate', kind)) {
    case 'official': return REWARDBENCH_SUBSET_TEMPLATES['alpacaeval-easy'];
    case 'generic': return opts.generic ?? CANDIDATE_DEFAULT_TEMPLATE;
    case 'shuffled': return SHUFFLED_SUBSET_TEMPLATES[SHUFFLED_FALLBACK_SUBSET];
    case 'same': return SAME_PROMPT_TEMPLATE;
  }
}

/** The template `subset` gets under `kind` (exact, case-sensitive subset names; unknown ones get the fallback). */
export function ablationTemplateFor(kind: AblationKind, subset: string | undefined, opts: { generic?: string } = {}): string {
  const table = ablationTemplates(kind, opts) as Record<string, string>;
  return typeof subset === 'string' && Object.prototype.hasOwnProperty.call(table, subset) ? table[subset] : ablationFallbackTemplate(kind, opts);
}
