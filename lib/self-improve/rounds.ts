/**
 * The paper's self-improvement loop (Figure 1, right; `DPO/ours.py` and `DPO/self_reward.py`), K rounds of
 *
 *   prompts ─sample N (T 0.7, 256 tokens)→ responses ─judge (own P(Yes) | rubric | RM)→ scores
 *          ─best vs worst→ pairs ─DPO (LoRA, β 0.1, sigmoid)→ policy_k ─→ next round samples from policy_k
 *
 * Every stage is written to `outDir/round-k/` and is resumable: sampling, scoring and the reference log-probs go
 * through the content-hash cache and DPO resumes from its checkpoint, so a rerun after a kill (or of a finished run)
 * redoes only what is missing.
 *
 *   round-k/samples.jsonl   one record per prompt, N responses (lib/generate)
 *   round-k/scores.jsonl    the judge's score of every response (score-responses.ts)
 *   round-k/pairs.jsonl     TRL preference format {prompt, chosen, rejected} + scores (lib/pairs.ts)
 *   round-k/policy/         the merged DPO policy, a model folder (`--model round-k/policy`)
 *   round-k/metrics.jsonl   TRL metrics per step (train) and `eval_` metrics
 *   round-k/eval.json       what the round did: counts, drops, metrics before/after
 *
 * `mode` switches the official quirks together (each can also be set alone):
 *   faithful — raw-instruction sampling with the decode-and-slice extraction; a pair for every prompt (stable sort,
 *              ties and identical texts kept, quirk 16); training prompt `[INST] {instruction} [/INST]` and
 *              completions ending in a literal `<|eot_id|>` (quirk 15); eval pairs = train pairs (quirk 14).
 *   fixed    — chat-template sampling with continuation-id extraction; tied / identical pairs dropped and counted;
 *              training on the prompt exactly as sampled; a held-out 20% of the pairs for the eval metrics.
 */
import { existsSync, readFileSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash } from '../util/cache';
import { writePreferencePairs } from '../data/preference-pairs';
import type { PromptItem } from '../data/prompts';
import { loadTfModel } from '../models/load';
import type { TfCausalLM } from '../models/tf-causal-lm';
import type { TfBackendName } from '../models/backend';
import { sampleResponses, type SampleOptions, type SampleResult } from '../generate/sample';
import { writeSamples } from '../generate/samples-file';
import { buildPairs, FAITHFUL_PAIR_OPTIONS, FAITHFUL_SELF_REWARD_PAIR_OPTIONS, FIXED_PAIR_OPTIONS, type BuiltPair, type PairOptions } from '../pairs';
import { trainDpo, type DpoTrainOptions, type DpoTrainResult } from '../dpo/train-dpo';
import type { PairInput } from '../dpo/prepare';
import { displayPath } from '../dpo/save-model';
import { scoreSamples, writeScores, type ResponseJudge } from './score-responses';

export type SelfImproveMode = 'faithful' | 'fixed';

export interface SelfImproveOptions {
  outDir: string;
  /** Rounds of sample → judge → pairs → DPO (the paper runs one). */
  rounds?: number;
  /** Preset for every quirk below (default faithful). */
  mode?: SelfImproveMode;
  /**
   * The judge of round k, given the policy that sampled (for `ipo` and `self-reward` the model judges itself —
   * the paper's point — so the factory receives the current policy).
   */
  judge: (policy: TfCausalLM, round: number) => ResponseJudge | Promise<ResponseJudge>;
  /** Sampling options (defaults: n 4, T 0.7, 256 new tokens, seed 42; mode from `mode`). */
  sample?: SampleOptions;
  /** Pair rules (default from `mode` and the judge: the official (score, text) sort for a rubric judge). */
  pairs?: PairOptions;
  /** Training prompt/completion format (default from `mode`). */
  trainFormat?: 'official' | 'as-sampled';
  /** Eval pairs: `train` (official: eval = train) or a held-out fraction of the pairs. */
  evalSplit?: 'train' | number;
  /** DPO options (outDir is set per round). */
  dpo?: Omit<Partial<DpoTrainOptions>, 'outDir' | 'evalPairs'>;
  backend?: TfBackendName;
  /** Progress/logs (one line per stage). */
  log?: (line: string) => void;
  cache?: boolean;
}

export interface RoundReport {
  round: number;
  policyIn: string;
  policyOut: string;
  judge: string;
  sampling: { prompts: number; responses: number; cached: number; truncated: number; skipped: SampleResult['skipped']; prefixMismatch: SampleResult['prefixMismatch']; finish: SampleResult['finish'] };
  scoring: { responses: number; nanScores: number; cached: number };
  pairs: { built: number; train: number; eval: number; dropped: Record<string, number>; tied: number; identical: number; meanMargin: number };
  dpo: { train: DpoTrainResult['train']; evalBefore: Record<string, number> | null; eval: Record<string, number> | null; steps: number; skipped: DpoTrainResult['skipped'] };
  runHash: string;
}

export interface SelfImproveResult {
  outDir: string;
  rounds: RoundReport[];
  /** The last round's policy folder. */
  finalPolicy: string;
}

/** `DPO/ours.py` `transform_entry`: `[INST] … [/INST]` prompt, completion cut at and ended by `<|eot_id|>` (quirk 15). */
export function officialTrainPair(instruction: string, chosen: string, rejected: string): PairInput {
  const end = (s: string) => `${s.trim().split('<|eot_id|>')[0]}<|eot_id|>`;
  return { prompt: `[INST] ${instruction} [/INST]`, chosen: end(chosen), rejected: end(rejected) };
}

/** Deterministic split of pairs into train and held-out eval by a hash of the prompt id (independent of order). */
export function splitPairs<T extends { promptId?: string; prompt: unknown }>(pairs: readonly T[], evalFraction: number, seed: number): { train: T[]; eval: T[] } {
  if (!(evalFraction > 0 && evalFraction < 1)) throw new Error(`eval fraction must be in (0, 1), got ${evalFraction}`);
  const scored = pairs.map((p, i) => ({ p, h: parseInt(contentHash('split', seed, p.promptId ?? i, p.prompt).slice(0, 8), 16) / 0xffffffff }));
  const nEval = Math.max(1, Math.min(pairs.length - 1, Math.round(pairs.length * evalFraction)));
  const order = [...scored].sort((a, b) => a.h - b.h);
  const evalSet = new Set(order.slice(0, nEval).map((x) => x.p));
  return { train: pairs.filter((p) => !evalSet.has(p)), eval: pairs.filter((p) => evalSet.has(p)) };
}

function countResponses(records: readonly { responses: readonly unknown[] }[]): number {
  return records.reduce((s, r) => s + r.responses.length, 0);
}

export async function selfImprove(baseModel: string, prompts: readonly PromptItem[], opts: SelfImproveOptions): Promise<SelfImproveResult> {
  const rounds = opts.rounds ?? 1;
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`rounds must be a whole number >= 1, got ${rounds}`);
  if (prompts.length === 0) throw new Error('self-improve: no prompts');
  const mode = opts.mode ?? 'faithful';
  if (mode !== 'faithful' && mode !== 'fixed') throw new Error(`self-improve mode must be faithful or fixed, got '${String(mode)}'`);
  const log = opts.log ?? (() => {});
  const trainFormat = opts.trainFormat ?? (mode === 'faithful' ? 'official' : 'as-sampled');
  const evalSplit = opts.evalSplit ?? (mode === 'faithful' ? 'train' : 0.2);
  const sampleOpts: SampleOptions = { mode, cache: opts.cache, ...(opts.sample ?? {}) };
  const seed = opts.dpo?.seed ?? 42;
  mkdirSync(opts.outDir, { recursive: true });

  const reports: RoundReport[] = [];
  let policyRef = baseModel;
  for (let k = 1; k <= rounds; k++) {
    const dir = join(opts.outDir, `round-${k}`);
    mkdirSync(dir, { recursive: true });
    const policyOut = join(dir, 'policy');
    const model = await loadTfModel(policyRef, { backend: opts.backend });
    try {
      // 1) sample N responses per prompt from the current policy
      log(`round ${k}: sampling ${sampleOpts.n ?? 4} responses for ${prompts.length} prompts from ${displayPath(policyRef)}`);
      const samples = await sampleResponses(model, prompts, { label: `round ${k} sampling`, ...sampleOpts });
      writeSamples(join(dir, 'samples.jsonl'), samples.records);

      // 2) the judge scores every response (the model itself for ipo / self-reward)
      const judge = await opts.judge(model, k);
      log(`round ${k}: scoring ${countResponses(samples.records)} responses with ${judge.name}`);
      const scored = await scoreSamples(samples.records, judge, { cache: opts.cache, label: `round ${k} ${judge.name}` });
      writeScores(join(dir, 'scores.jsonl'), scored.records);

      // 3) best vs worst per prompt
      const pairOpts: PairOptions = opts.pairs ?? (mode === 'fixed' ? FIXED_PAIR_OPTIONS : judge.kind === 'self-reward' ? FAITHFUL_SELF_REWARD_PAIR_OPTIONS : FAITHFUL_PAIR_OPTIONS);
      const built = buildPairs(scored.groups, pairOpts);
      const byId = new Map(samples.records.map((r) => [r.id, r]));
      const toInput = (p: BuiltPair): PairInput & { promptId: string } => {
        const rec = byId.get(String(p.promptId));
        const instruction = rec?.instruction ?? String(p.prompt);
        const base = trainFormat === 'official' ? officialTrainPair(instruction, p.chosen, p.rejected) : { prompt: rec?.prompt ?? instruction, chosen: p.chosen, rejected: p.rejected };
        return { ...base, id: String(p.promptId), promptId: String(p.promptId) };
      };
      const inputs = built.pairs.map(toInput);
      // TRL's preference format (what `ipo dpo --train` and `ipo export-pairs` read), plus the judge's scores
      writePreferencePairs(join(dir, 'pairs.jsonl'), built.pairs.map((p, i) => ({
        id: String(p.promptId), prompt: inputs[i].prompt, chosen: inputs[i].chosen, rejected: inputs[i].rejected,
        chosen_score: p.chosenScore, rejected_score: p.rejectedScore, margin: p.margin, tied: p.tied,
      })));
      if (inputs.length === 0) throw new Error(`round ${k}: no pairs left (${JSON.stringify(built.dropped)}); use more prompts or the faithful pair rule`);
      const split = evalSplit === 'train' || inputs.length < 2 ? { train: inputs, eval: inputs } : splitPairs(inputs, evalSplit, seed);
      log(`round ${k}: ${built.pairs.length} pairs (${split.train.length} train, ${split.eval.length} eval${evalSplit === 'train' ? ' = train, as the official code' : ''}); DPO`);

      // 4) DPO from the current policy
      const dpo = await trainDpo(model, split.train, { ...(opts.dpo ?? {}), outDir: policyOut, evalPairs: split.eval, baseModel: displayPath(policyRef), cache: opts.cache });
      copyFileSync(dpo.metricsFile, join(dir, 'metrics.jsonl'));
      const margins = built.pairs.map((p) => p.margin).filter(Number.isFinite);
      const report: RoundReport = {
        round: k,
        policyIn: displayPath(policyRef),
        policyOut: displayPath(policyOut),
        judge: judge.name,
        sampling: { prompts: samples.records.length, responses: countResponses(samples.records), cached: samples.cached, truncated: samples.truncated, skipped: samples.skipped, prefixMismatch: samples.prefixMismatch, finish: samples.finish },
        scoring: { responses: countResponses(scored.records), nanScores: scored.nanScores, cached: scored.cached },
        pairs: {
          built: built.pairs.length, train: split.train.length, eval: split.eval.length, dropped: { ...built.dropped },
          tied: built.counts.tiedPairs, identical: built.counts.identicalPairs,
          meanMargin: margins.length ? margins.reduce((a, b) => a + b, 0) / margins.length : NaN,
        },
        dpo: { train: dpo.train, evalBefore: dpo.evalBefore, eval: dpo.eval, steps: dpo.steps, skipped: dpo.skipped },
        runHash: contentHash(policyRef, prompts, sampleOpts, pairOpts, trainFormat, evalSplit, opts.dpo ?? {}),
      };
      writeFileSync(join(dir, 'eval.json'), `${JSON.stringify(report, null, 2)}\n`);
      reports.push(report);
    } finally {
      model.dispose();
    }
    policyRef = policyOut;
  }
  return { outDir: opts.outDir, rounds: reports, finalPolicy: displayPath(policyRef) };
}

/** The round reports already on disk (for notebooks that read a finished run). */
export function readRoundReports(outDir: string): RoundReport[] {
  const out: RoundReport[] = [];
  for (let k = 1; existsSync(join(outDir, `round-${k}`, 'eval.json')); k++) out.push(JSON.parse(readFileSync(join(outDir, `round-${k}`, 'eval.json'), 'utf8')) as RoundReport);
  return out;
}
