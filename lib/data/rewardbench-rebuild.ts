/**
 * Offline rebuild of part of RewardBench from the public sources in `shared/assets/rewardbench-sources/`
 * (see `shared/assets/README.md`, "RewardBench (filtered, 2,985 rows) rebuild coverage").
 *
 * | subsets | source | fidelity | rows |
 * |---|---|---|---|
 * | llmbar-natural / -adver-neighbor / -GPTInst / -GPTOut / -manual | LLMBar (prompt = input, chosen = output_{label}) | exact | 100 / 134 / 92 / 47 / 46 |
 * | hep-{cpp,go,java,js,python,rust} | HumanEvalPack (prompt = instruction, chosen/rejected = declaration + canonical/buggy solution) | near-exact | 164 each |
 * | xstest-should-respond | XSTest safe prompts: chosen = a full compliance, rejected = a (full, else partial) refusal | approximate | 161 (official 250) |
 * | xstest-should-refuse | XSTest unsafe prompts: chosen = a full refusal, rejected = a full compliance | approximate | 131 (official 154) |
 * | alpacaeval-easy / -length / -hard | AlpacaEval outputs, assumed pairings, seeded selection | approximate | 100 / 95 / 95 |
 *
 * Missing (no offline source): mt-bench-easy/-med/-hard, refusals-dangerous/-offensive, donotanswer, math-prm.
 *
 * HumanEvalPack join: RewardBench's build code was not found; the default (`hepJoin: 'declaration'`) gives each
 * response as a complete function (declaration + body), the form HumanEvalFix itself uses. `'prompt'` joins the
 * HumanEvalPack `prompt` (signature with docstring) instead, `'solution'` uses the bare bodies.
 * Every row id is `rebuilt:<subset>:<source id>`; the rebuild does not depend on the load seed.
 */
import { readFileSync } from 'node:fs';
import { REWARDBENCH_SUBSETS } from './rewardbench-subsets';
import { findAsset } from '../util/paths';
import { makeRng } from '../util/rng';
import { csvObjects, emptyMalformed, malformedReason, noteMalformed, toRow, type MalformedReport, type RewardBenchFidelity, type RewardBenchRow } from './rows';

export type HepJoin = 'declaration' | 'prompt' | 'solution';

/** Fidelity of every subset the rebuild can produce. */
export const REBUILT_FIDELITY: Readonly<Record<string, RewardBenchFidelity>> = Object.freeze({
  'llmbar-natural': 'exact', 'llmbar-adver-neighbor': 'exact', 'llmbar-adver-GPTInst': 'exact',
  'llmbar-adver-GPTOut': 'exact', 'llmbar-adver-manual': 'exact',
  'hep-cpp': 'near-exact', 'hep-go': 'near-exact', 'hep-java': 'near-exact', 'hep-js': 'near-exact', 'hep-python': 'near-exact', 'hep-rust': 'near-exact',
  'xstest-should-respond': 'approximate', 'xstest-should-refuse': 'approximate',
  'alpacaeval-easy': 'approximate', 'alpacaeval-length': 'approximate', 'alpacaeval-hard': 'approximate',
});

/** Subsets without any offline source. */
export const REBUILD_MISSING_SUBSETS: readonly string[] = Object.freeze(REWARDBENCH_SUBSETS.filter((s) => !(s in REBUILT_FIDELITY)));

/** Fixed seed of the alpacaeval pair selection (independent of the load seed, so rebuilt ids never change). */
export const REBUILD_SELECTION_SEED = 'rewardbench-rebuild-v1';

const LLMBAR_FILES: Record<string, string> = {
  'llmbar-natural': 'Natural', 'llmbar-adver-neighbor': 'Adversarial_Neighbor', 'llmbar-adver-GPTInst': 'Adversarial_GPTInst',
  'llmbar-adver-GPTOut': 'Adversarial_GPTOut', 'llmbar-adver-manual': 'Adversarial_Manual',
};
const HEP_LANGS = ['cpp', 'go', 'java', 'js', 'python', 'rust'];

/** Assumed pairings (dataset card of allenai/reward-bench, early revisions): chosen generator vs rejected generator. */
const ALPACA_PAIRS: Record<string, { chosen: string; rejected: string; target: number }> = {
  'alpacaeval-easy': { chosen: 'alpaca-eval/gpt4_1106_preview_model_outputs.json', rejected: 'rewardbench-sources/alpacaeval-outputs/alpaca-7b_model_outputs.json', target: 100 },
  'alpacaeval-length': { chosen: 'rewardbench-sources/alpacaeval-outputs/llama-2-70b-chat-hf_model_outputs.json', rejected: 'rewardbench-sources/alpacaeval-outputs/guanaco-13b_model_outputs.json', target: 95 },
  'alpacaeval-hard': { chosen: 'rewardbench-sources/alpacaeval-outputs/tulu-2-dpo-70b_model_outputs.json', rejected: 'rewardbench-sources/alpacaeval-outputs/text_davinci_003_model_outputs.json', target: 95 },
};

/** XSTest completion files, in the order a completion is picked when several models qualify. */
const XS_COMPLY_ORDER = ['gpt4', 'mistralinstruct', 'llama2new', 'mistralguard', 'llama2orig'];
const XS_REFUSE_ORDER = ['llama2orig', 'llama2new', 'gpt4', 'mistralguard', 'mistralinstruct'];
const XS_TARGET: Record<string, number> = { 'xstest-should-respond': 250, 'xstest-should-refuse': 154 };

type Candidate = { raw: Record<string, unknown>; sourceId: string };

function readJson(rel: string): unknown {
  return JSON.parse(readFileSync(findAsset(rel), 'utf8'));
}

function llmbar(subset: string): Candidate[] {
  const data = readJson(`rewardbench-sources/llmbar/${LLMBAR_FILES[subset]}.json`) as { input: string; output_1: string; output_2: string; label: number }[];
  return data.map((d, i) => ({
    sourceId: String(i),
    raw: {
      prompt: d.input,
      chosen: d.label === 1 ? d.output_1 : d.label === 2 ? d.output_2 : undefined,
      rejected: d.label === 1 ? d.output_2 : d.label === 2 ? d.output_1 : undefined,
      chosen_model: 'unknown', rejected_model: 'unknown', subset,
    },
  }));
}

function hep(subset: string, join: HepJoin): Candidate[] {
  const lang = subset.slice('hep-'.length);
  const text = readFileSync(findAsset(`rewardbench-sources/humanevalpack/humanevalpack_${lang}.jsonl`), 'utf8');
  return text.split('\n').filter((l) => l.trim()).map((line) => {
    const d = JSON.parse(line) as Record<string, string>;
    const head = join === 'declaration' ? d.declaration : join === 'prompt' ? d.prompt : '';
    return {
      sourceId: d.task_id,
      raw: { prompt: d.instruction, chosen: head + d.canonical_solution, rejected: head + d.buggy_solution, chosen_model: 'human', rejected_model: 'human', subset },
    };
  });
}

function xstest(subset: string): Candidate[] {
  const respond = subset === 'xstest-should-respond';
  const prompts = csvObjects(readFileSync(findAsset('rewardbench-sources/xstest/xstest_prompts.csv'), 'utf8'));
  const byModel = new Map<string, Map<string, Record<string, string>>>();
  for (const m of XS_COMPLY_ORDER) {
    const recs = csvObjects(readFileSync(findAsset(`rewardbench-sources/xstest/xstest_v2_completions_${m}_gpteval.csv`), 'utf8'));
    byModel.set(m, new Map(recs.map((r) => [r.id.replace(/^v2-/, ''), r])));
  }
  const pick = (id: string, order: string[], labels: string[]) => {
    for (const label of labels) for (const m of order) {
      const r = byModel.get(m)?.get(id);
      if (r && r.final_label === label && r.completion.trim()) return { model: m, text: r.completion };
    }
    return null;
  };
  const out: Candidate[] = [];
  for (const p of prompts) {
    if ((p.label === 'safe') !== respond) continue;
    const comply = pick(p.id, XS_COMPLY_ORDER, ['1_full_compliance']);
    const refuse = pick(p.id, XS_REFUSE_ORDER, respond ? ['2_full_refusal', '3_partial_refusal'] : ['2_full_refusal']);
    if (!comply || !refuse) continue; // no pair for this prompt among the five models
    const [chosen, rejected] = respond ? [comply, refuse] : [refuse, comply];
    out.push({ sourceId: p.id, raw: { prompt: p.prompt, chosen: chosen.text, rejected: rejected.text, chosen_model: chosen.model, rejected_model: rejected.model, subset } });
  }
  return selectSeeded(out, XS_TARGET[subset], subset);
}

function alpaca(subset: string): Candidate[] {
  const spec = ALPACA_PAIRS[subset];
  type Out = { instruction: string; output: string; generator: string };
  const chosen = readJson(spec.chosen) as Out[];
  const rejected = new Map((readJson(spec.rejected) as Out[]).map((r) => [r.instruction, r]));
  const out: Candidate[] = [];
  chosen.forEach((c, i) => {
    const r = rejected.get(c.instruction);
    // only complete, distinct pairs are candidates (text_davinci_003 has 2 empty outputs; llama-2-70b-chat lacks 1 prompt)
    if (!r || !c.output.trim() || !r.output.trim() || c.output === r.output) return;
    out.push({ sourceId: String(i), raw: { prompt: c.instruction, chosen: c.output, rejected: r.output, chosen_model: c.generator, rejected_model: r.generator, subset } });
  });
  return selectSeeded(out, spec.target, subset);
}

/** `target` candidates by a seeded shuffle (fixed seed), kept in source order; all of them when there are fewer. */
function selectSeeded(cands: Candidate[], target: number, subset: string): Candidate[] {
  if (cands.length <= target) return cands;
  const rng = makeRng(`${REBUILD_SELECTION_SEED}:${subset}`);
  const idx = cands.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const keep = new Set(idx.slice(0, target));
  return cands.filter((_, i) => keep.has(i));
}

export interface RebuildResult {
  rows: RewardBenchRow[];
  fidelity: Record<string, RewardBenchFidelity>;
  missingSubsets: string[];
  malformed: MalformedReport;
}

/**
 * Build the rebuildable subsets (all of them, or those of `subsets`) from the shared sources, in the official
 * subset order. Candidate rows go through the same validation as any loaded row, plus chosen ≠ rejected.
 */
export function rebuildRewardBench(opts: { subsets?: readonly string[]; hepJoin?: HepJoin } = {}): RebuildResult {
  const wanted = opts.subsets ? new Set(opts.subsets) : null;
  const join = opts.hepJoin ?? 'declaration';
  const rows: RewardBenchRow[] = [];
  const fidelity: Record<string, RewardBenchFidelity> = {};
  const malformed = emptyMalformed();
  let index = 0;
  for (const subset of REWARDBENCH_SUBSETS) {
    if ((wanted && !wanted.has(subset)) || !(subset in REBUILT_FIDELITY)) continue;
    const cands = subset.startsWith('llmbar-') ? llmbar(subset)
      : subset.startsWith('hep-') && HEP_LANGS.includes(subset.slice(4)) ? hep(subset, join)
      : subset.startsWith('xstest-') ? xstest(subset)
      : alpaca(subset);
    for (const c of cands) {
      const why = malformedReason(c.raw) ?? (c.raw.chosen === c.raw.rejected ? 'chosen equals rejected' : null);
      if (why) noteMalformed(malformed, index, `${subset}:${c.sourceId}: ${why}`);
      else rows.push(toRow({ ...c.raw, id: `rebuilt:${subset}:${c.sourceId}` }, index));
      index++;
    }
    fidelity[subset] = REBUILT_FIDELITY[subset];
  }
  const missingSubsets = REBUILD_MISSING_SUBSETS.filter((s) => !wanted || wanted.has(s));
  return { rows, fidelity, missingSubsets, malformed };
}
