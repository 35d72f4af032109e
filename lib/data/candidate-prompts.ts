/**
 * The official IPO prompt-search candidates, `candidate_prompts.json` of shivank21/Implicit_Preference_Optimization
 * @ 44662860 (`Preference_Comparison/Reward_Bench/prompt_search.py`; shared doc §4): reading, validating, and the
 * per-subset lookup `prompts_dict.get(subset, [prompts_dict['default']])`.
 *
 * The file on disk has CRLF line endings (like every file of the official repo), but the `\r` only sit in the
 * whitespace between JSON tokens: a raw CR cannot occur inside a JSON string, so `JSON.parse` (like Python's
 * `json.load`) yields the same templates as an LF copy, none of which contains `\r` or `\n`. The file is read where
 * `findAsset` finds it, never copied into the repo.
 */
import { readFileSync } from 'node:fs';
import { describe } from '../util/check';
import { findAsset } from '../util/paths';
import { REWARDBENCH_SUBSETS } from './rewardbench-subsets';

/** The key of the fallback entry in `CandidatePrompts` (and in the official file). */
export const DEFAULT_CANDIDATES_KEY = 'default';

/**
 * Subset → candidate templates. Holds every subset of the file, every one of the 23 RewardBench subsets (those
 * missing from the file, i.e. `llmbar-adver-manual`, get `[default]`) and `default: [default]` for any other subset.
 */
export type CandidatePrompts = Record<string, string[]>;

/** The file as written: `default` is a single string, the subset entries are lists. */
export interface CandidatePromptsFile {
  default: string;
  subsets: Record<string, string[]>;
}

/** Where the official candidates live: `findAsset('ipo/candidate_prompts.json')`. */
export function candidatePromptsPath(): string {
  return findAsset('ipo/candidate_prompts.json');
}

/** Read and validate a candidates file without filling anything in. */
export function readCandidatePromptsFile(path: string = candidatePromptsPath()): CandidatePromptsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`readCandidatePromptsFile: cannot read ${path}: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`readCandidatePromptsFile: ${path} must hold a JSON object, got ${describe(raw)}`);
  const obj = raw as Record<string, unknown>;
  const def = obj[DEFAULT_CANDIDATES_KEY];
  // prompt_search.py wraps it: `[prompts_dict['default']]`, so it must be one string, not a list.
  if (typeof def !== 'string' || !def) throw new Error(`readCandidatePromptsFile: "${DEFAULT_CANDIDATES_KEY}" in ${path} must be a non-empty string, got ${describe(def)}`);
  const subsets: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === DEFAULT_CANDIDATES_KEY) continue;
    if (!Array.isArray(v) || v.length === 0) throw new Error(`readCandidatePromptsFile: "${k}" in ${path} must be a non-empty list of templates, got ${Array.isArray(v) ? 'an empty list' : describe(v)}`);
    v.forEach((t, i) => {
      if (typeof t !== 'string' || !t) throw new Error(`readCandidatePromptsFile: "${k}"[${i}] in ${path} must be a non-empty string, got ${describe(t)}`);
    });
    subsets[k] = [...(v as string[])];
  }
  return { default: def, subsets };
}

/**
 * The candidate templates per subset, as `prompt_search.py` uses them (`prompts_dict.get(subset, [prompts_dict['default']])`):
 * every list of the file, `[default]` for each of the 23 RewardBench subsets the file lacks (`llmbar-adver-manual`),
 * and `default: [default]` for subsets outside both (see `candidatesFor`).
 */
export function loadCandidatePrompts(path?: string): CandidatePrompts {
  const file = readCandidatePromptsFile(path ?? candidatePromptsPath());
  const out: CandidatePrompts = {};
  for (const s of REWARDBENCH_SUBSETS) out[s] = file.subsets[s] ? [...file.subsets[s]] : [file.default];
  for (const [k, v] of Object.entries(file.subsets)) if (!out[k]) out[k] = [...v];
  out[DEFAULT_CANDIDATES_KEY] = [file.default];
  return out;
}

/** The candidates of `subset`: its own list, else the `default` entry; throws when there is neither. */
export function candidatesFor(candidates: CandidatePrompts, subset: string): { templates: string[]; usedDefault: boolean } {
  const own = Object.prototype.hasOwnProperty.call(candidates, subset) && subset !== DEFAULT_CANDIDATES_KEY ? candidates[subset] : undefined;
  const list = own ?? candidates[DEFAULT_CANDIDATES_KEY];
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error(`candidatesFor: no candidates for subset '${subset}' and no "${DEFAULT_CANDIDATES_KEY}" entry`);
  }
  list.forEach((t, i) => {
    if (typeof t !== 'string' || !t) throw new Error(`candidatesFor: candidate ${i + 1} of subset '${subset}' must be a non-empty string`);
  });
  return { templates: list, usedDefault: own === undefined };
}
