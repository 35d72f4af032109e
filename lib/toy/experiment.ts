/**
 * The toy world's experiment: the paper's two claims, measured on a model the kit trains itself (issue 8).
 *
 *   1. world     seeded disjoint splits of a task whose answers a function checks (task.ts)
 *   2. model     a from-scratch Llama folder (model.ts) taught by the kit's SFT trainer: the task from an IMPERFECT
 *                teacher (room to improve) and judging from Yes/No examples of right and wrong answers, on
 *                training questions only
 *   3. classifier  the RewardBench question in miniature: on held-out questions, does P(Yes | right answer) beat
 *                P(Yes | wrong answer)? (both IPO presets; a random judge beside it)
 *   4. self-improvement  the DPO question in miniature: the SFT model samples N answers per held-out-from-SFT
 *                question; pairs are built by (a) its own P(Yes) — IPO, (b) the checker — a perfect reward model,
 *                (c) random choice; one DPO round each from the same start; greedy task accuracy on the test split
 *                before and after, per seed, with bootstrap intervals
 *
 * Every stage is cached or checkpointed under `outDir`, so a rerun is fast and a killed run resumes; the same options
 * give the same JSON (no timings in it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrapCi } from '../eval/bootstrap';
import { trainDpo } from '../dpo/train-dpo';
import { trainSft } from '../dpo/train-sft';
import { sampleResponses } from '../generate/sample';
import { loadTfModel } from '../models/load';
import { modelFingerprint } from '../models/fingerprint';
import type { TfCausalLM } from '../models/tf-causal-lm';
import { buildPairs, FIXED_PAIR_OPTIONS, type BuiltPair, type PairOptions } from '../pairs';
import { buildIpoPrompt } from '../scoring/prompt';
import { pYesBatch, type IpoPreset } from '../scoring/yes-no';
import { customJudge, scoreSamples, type ResponseJudge } from '../self-improve/score-responses';
import { contentHash } from '../util/cache';
import { displayPath } from '../util/paths';
import { makeRng } from '../util/rng';
import { makeToyModel } from './model';
import type { ToySplitSizes, ToyTask } from './task';
import { DEFAULT_TOY_TASK, TOY_TASKS } from './tasks';

export interface ToyWorldOptions {
  /** Where the models, caches and runs go. */
  outDir: string;
  /** A key of TOY_TASKS (default DEFAULT_TOY_TASK). */
  task?: string;
  /**
   * CI size: the same world and SFT model (so a quick run and a full run share the SFT cache), but only the first
   * `QUICK_USE` DPO prompts, dev and test questions are used. `use` overrides either size.
   */
  quick?: boolean;
  /** How many of each split's questions to use (prefixes); default all, or `QUICK_USE` with `quick`. */
  use?: { dpo?: number; dev?: number; test?: number };
  /** Seeds of the self-improvement stage (sampling, DPO); default [1, 2, 3]. */
  seeds?: number[];
  /** Seed of the world (splits, teacher) and the SFT run. */
  worldSeed?: number;
  /** Split sizes of the world (default: the task's own, all its questions). */
  sizes?: ToySplitSizes;
  sft?: { steps?: number; learningRate?: number; batchSize?: number };
  /** Answers sampled per DPO prompt (default 4, as the paper) and their temperature (default 1). */
  samples?: number;
  temperature?: number;
  dpo?: { learningRate?: number; epochs?: number; beta?: number; rpoAlpha?: number; batchSize?: number };
  /**
   * Minimum judge margin for a pair (lib/pairs.ts `minMargin`, the fixed rule): IPO pairs below it are dropped and
   * counted. Default 0.5 for IPO — a pair only where the model's own P(Yes) separates the two answers clearly.
   */
  ipoMinMargin?: number;
  /**
   * Minimum P(Yes) of the IPO chosen answer (lib/pairs.ts `minChosenScore`): default 0.5, a pair only where the model
   * itself says "Yes" about its best answer. Without it, a prompt with no right sample pairs two wrong ones and DPO
   * (with its NLL term) raises the likelihood of a wrong answer.
   */
  ipoMinChosen?: number;
  /**
   * Self-improvement rounds per source (default 1, the paper's one round): round r samples from round r − 1's
   * policy, and for IPO that policy judges its own answers; DPO's reference is the policy the round starts from.
   */
  rounds?: number;
  /** Stage lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface Interval {
  accuracy: number;
  n: number;
  ci: [number, number];
}

export interface ToySeedResult {
  seed: number;
  ipo: ToyRunResult;
  oracle: ToyRunResult;
  random: ToyRunResult;
}

export interface ToyRunResult {
  taskAccuracy: number;
  ci: [number, number];
  pairs: number;
  /** Among pairs whose two answers differ in correctness: the share whose chosen answer is the right one. */
  pairPrecision: number | null;
  /** Share of all pairs whose chosen answer is right (the rest pair two wrong answers, or put the wrong one first). */
  chosenCorrect: number | null;
  dropped: Record<string, number>;
  evalRewardAccuracy: number | null;
  /** TRL's loss, rewards/margins and rewards/accuracies per optimizer step, and on the dev pairs (for curves). */
  curves: { history: ToyCurvePoint[]; evals: ToyCurvePoint[] };
  /** Each round's test accuracy and pairs (one entry per round run; the fields above are the last round's). */
  byRound: ToyRoundPoint[];
}

export interface ToyRoundPoint {
  round: number;
  taskAccuracy: number;
  pairs: number;
  chosenCorrect: number | null;
}

/** The pair sources of the self-improvement question, in display order: the model's own P(Yes), the checker, chance. */
export const TOY_SOURCES = ['ipo', 'oracle', 'random'] as const;
export type ToySource = (typeof TOY_SOURCES)[number];

/** One point of a DPO curve: the step and TRL's metric names (eval points use the `eval_` names). */
export type ToyCurvePoint = { step: number } & Record<string, number>;

const CURVE_METRICS = ['loss', 'rewards/margins', 'rewards/accuracies'];
const pick = (r: Record<string, number>, prefix: string): ToyCurvePoint => {
  const out: ToyCurvePoint = { step: r.step };
  for (const m of CURVE_METRICS) if (Number.isFinite(r[prefix + m])) out[prefix + m] = Math.round(r[prefix + m] * 1e6) / 1e6;
  return out;
};

export interface ToyWorldResult {
  task: { name: string; description: string; template: string; sizes: Required<ToySplitSizes>; used: { dpo: number; dev: number; test: number }; worldSeed: number };
  model: { dir: string; parameters: number; sftSteps: number };
  classifier: Interval & { presets: Record<IpoPreset, Interval>; random: Interval; rubric: { applicable: false; reason: string }; binary: { applicable: false; reason: string } };
  before: { taskAccuracy: number; n: number; ci: [number, number] };
  /** After the last round (one by default); `byRound`: the mean over seeds after each round. */
  after: Record<ToySource, { taskAccuracy: number; ci: [number, number]; perSeed: number[]; byRound: number[] }>;
  seeds: ToySeedResult[];
}

/** The quick (CI) run's share of the world: DPO prompts, dev and test questions (prefixes of the splits). */
export const QUICK_USE = { dpo: 1000, dev: 100, test: 400 } as const;

const ci = (b: { lo: number; hi: number }): [number, number] => [b.lo, b.hi];

/**
 * The pair rule of each source: the fixed rules (no all-tied prompts, no identical texts, ≥ 2 answers), and for IPO
 * also a minimum P(Yes) margin and a minimum P(Yes) of the chosen answer (`ToyWorldOptions.ipoMinMargin` /
 * `ipoMinChosen`, both 0.5 by default). Notebook 06 rebuilds one IPO pair with exactly this rule.
 */
export function toyPairOptions(source: ToySource, opts: { ipoMinMargin?: number; ipoMinChosen?: number } = {}): PairOptions {
  return source === 'ipo' ? { ...FIXED_PAIR_OPTIONS, minMargin: opts.ipoMinMargin ?? 0.5, minChosenScore: opts.ipoMinChosen ?? 0.5 } : { ...FIXED_PAIR_OPTIONS };
}

/** Greedy answers to `questions`: 0/1 correctness per question. */
async function taskCorrectness<Q>(model: TfCausalLM, task: ToyTask<Q>, questions: readonly Q[]): Promise<number[]> {
  const out: number[] = [];
  for (const q of questions) {
    const ids = await model.generate(model.encode(task.instruction(q)), { maxNewTokens: task.maxAnswerTokens + 1 });
    out.push(task.check(q, model.decode(ids, { skipSpecialTokens: true })) ? 1 : 0);
  }
  return out;
}

/** The model's own P(Yes) with the task's template, as a judge for `scoreSamples` (cached by model content). */
export function toyIpoJudge(model: TfCausalLM, template: string, preset: IpoPreset = 'paper'): ResponseJudge {
  return {
    name: `ipo(${preset})`,
    kind: 'ipo',
    fingerprint: `toy-ipo:${modelFingerprint(model)}:${preset}:${contentHash(template)}`,
    batchSize: 32,
    async scoreBatch(items) {
      const s = await pYesBatch(model, items.map((it) => ({ instruction: it.instruction, response: it.response, template })), { preset, batchSize: 32 });
      return s.map((x) => ({ score: x.pYes }));
    },
  };
}

/**
 * SFT data: the task from the imperfect teacher and `judgeMix` balanced judge examples per task example (right
 * answer → " Yes", a realistic wrong one → " No"), all on training questions only. Measured on sort: with 3 judge
 * examples per task example the judge reached 0.88–1.00 held-out pairwise accuracy in 600 steps; with 1–2 it stalled
 * at 0.55–0.74.
 */
export function toySftExamples<Q>(task: ToyTask<Q>, train: readonly Q[], seed: number, judgeMix = 3): { prompt: string; response: string }[] {
  const rng = makeRng(`toy-sft-data:${seed}`);
  const out: { prompt: string; response: string }[] = [];
  train.forEach((q, i) => {
    out.push({ prompt: task.instruction(q), response: task.teacherAnswer(q, { seed, draw: 0 }).answer });
    for (let j = 0; j < judgeMix; j++) {
      const right = rng() < 0.5;
      const answer = right ? task.correctAnswer(q) : task.wrongAnswer(q, { seed, draw: i * judgeMix + j });
      out.push({ prompt: judgePrompt(task, q, answer), response: right ? ' Yes' : ' No' });
    }
  });
  return out;
}

/** The official IPO layout for the task (exactly what `pYes` reads with `template`). */
export function judgePrompt<Q>(task: ToyTask<Q>, q: Q, answer: string): string {
  return buildIpoPrompt({ instruction: task.instruction(q), response: answer, template: task.template, layout: 'rewardbench' });
}

export async function runToyWorld(opts: ToyWorldOptions): Promise<ToyWorldResult> {
  const log = opts.log ?? (() => {});
  const taskName = opts.task ?? DEFAULT_TOY_TASK;
  const task = TOY_TASKS[taskName] as ToyTask<unknown> | undefined;
  if (!task) throw new Error(`unknown toy task '${taskName}': use one of ${Object.keys(TOY_TASKS).join(', ')}`);
  const worldSeed = opts.worldSeed ?? 3; // a checked seed: the judge emerges within 600 SFT steps (it does not for every seed)
  const seeds = opts.seeds ?? [1, 2, 3];
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) throw new Error(`seeds must be whole numbers, got ${JSON.stringify(seeds)}`);
  const world = task.makeSplits({ seed: worldSeed, sizes: opts.sizes });
  const sizes = { train: world.train.length, dpo: world.dpo.length, dev: world.dev.length, test: world.test.length };
  const want = { ...(opts.quick ? QUICK_USE : {}), ...(opts.use ?? {}) } as { dpo?: number; dev?: number; test?: number };
  for (const [k, v] of Object.entries(want)) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`toy world: use.${k} must be a whole number >= 1, got ${JSON.stringify(v)}`);
  }
  const splits = { ...world, dpo: world.dpo.slice(0, want.dpo), dev: world.dev.slice(0, want.dev), test: world.test.slice(0, want.test) };
  const used = { dpo: splits.dpo.length, dev: splits.dev.length, test: splits.test.length };
  const sftSteps = opts.sft?.steps ?? 600;
  const ipoMinMargin = opts.ipoMinMargin ?? 0.5;
  const ipoMinChosen = opts.ipoMinChosen ?? 0.5;
  const rounds = opts.rounds ?? 1;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`toy world: rounds must be a whole number >= 1, got ${JSON.stringify(rounds)}`);
  const dpoArgs = { learningRate: opts.dpo?.learningRate ?? 1e-4, epochs: opts.dpo?.epochs ?? 3, beta: opts.dpo?.beta ?? 0.1, rpoAlpha: opts.dpo?.rpoAlpha ?? 1, batchSize: opts.dpo?.batchSize ?? 16 };
  // DPO runs live under a hash of everything that decides them, so changed settings never meet an old checkpoint
  const dpoRoot = join(opts.outDir, `dpo-${contentHash(taskName, worldSeed, sftSteps, sizes, used, dpoArgs, ipoMinMargin, ipoMinChosen, opts.samples ?? 4, opts.temperature ?? 1).slice(0, 12)}`);

  // 1–2) the model: a from-scratch folder, then SFT (resumed from its checkpoint when the run exists)
  const baseDir = join(opts.outDir, `base-${worldSeed}`);
  if (!existsSync(join(baseDir, 'model.safetensors'))) makeToyModel(baseDir, { seed: worldSeed });
  const sftData = toySftExamples(task, splits.train, worldSeed);
  const sftArgs = { maxSteps: sftSteps, batchSize: opts.sft?.batchSize ?? 64, learningRate: opts.sft?.learningRate ?? 5e-3 };
  // the folder is named by everything that decides the SFT model, so other data never meets an old checkpoint
  const sftDir = join(opts.outDir, `sft-${taskName}-${worldSeed}-${sftSteps}-${contentHash(sftData, sftArgs).slice(0, 8)}`);
  const base = await loadTfModel(baseDir);
  const parameters = base.model.numParameters;
  try {
    log(`toy world: SFT of a ${parameters}-parameter model on ${splits.train.length} ${taskName} questions (${sftSteps} steps)`);
    await trainSft(base, sftData, {
      outDir: sftDir, ...sftArgs,
      warmupRatio: 0.02, maxGradNorm: 1, gradientCheckpointing: false, seed: worldSeed, baseModel: `toy ${taskName} (from scratch)`,
    });
  } finally {
    base.dispose();
  }

  const sft = await loadTfModel(sftDir);
  let classifier: ToyWorldResult['classifier'];
  let before: ToyWorldResult['before'];
  const beforeCorrect: number[] = [];
  try {
    // 3) the classifier question on held-out test questions: right vs a realistic wrong answer
    const items = splits.test.flatMap((q, i) => [
      { instruction: task.instruction(q), response: task.correctAnswer(q), template: task.template },
      { instruction: task.instruction(q), response: task.wrongAnswer(q, { seed: `${worldSeed}:test`, draw: i }), template: task.template },
    ]);
    const presets = {} as Record<IpoPreset, Interval>;
    for (const preset of ['paper', 'exact'] as IpoPreset[]) {
      const s = await pYesBatch(sft, items, { preset, batchSize: 32 });
      const wins = splits.test.map((_, i) => (s[2 * i].pYes > s[2 * i + 1].pYes ? 1 : 0));
      const b = bootstrapCi(wins, { seed: worldSeed });
      presets[preset] = { accuracy: b.estimate, n: wins.length, ci: ci(b) };
    }
    const rng = makeRng(`toy-random-judge:${worldSeed}`);
    const randomWins = splits.test.map(() => (rng() > rng() ? 1 : 0));
    const rb = bootstrapCi(randomWins, { seed: worldSeed });
    classifier = {
      ...presets.paper,
      presets,
      random: { accuracy: rb.estimate, n: randomWins.length, ci: ci(rb) },
      rubric: { applicable: false, reason: 'the toy model only writes answers to its task; it cannot write a rubric justification and "Score: N"' },
      binary: { applicable: false, reason: 'the toy model was never taught to compare two responses and answer "Response 1/2"' },
    };
    log(`classifier: held-out pairwise accuracy ${presets.paper.accuracy.toFixed(3)} (random ${rb.estimate.toFixed(3)}) on ${splits.test.length} questions`);
    beforeCorrect.push(...await taskCorrectness(sft, task, splits.test));
    const b0 = bootstrapCi(beforeCorrect, { seed: worldSeed });
    before = { taskAccuracy: b0.estimate, n: beforeCorrect.length, ci: ci(b0) };
    log(`before: greedy task accuracy ${before.taskAccuracy.toFixed(3)}`);
  } finally {
    sft.dispose();
  }

  // 4) self-improvement, per seed: sample, judge three ways, pairs, one DPO round each from the SFT model
  const keyOf = new Map(splits.dpo.map((q) => [task.instruction(q), q]));
  const prompts = splits.dpo.map((q) => ({ id: task.key(q), instruction: task.instruction(q) }));
  const dev = splits.dev.map((q, i) => ({ prompt: task.instruction(q), chosen: task.correctAnswer(q), rejected: task.wrongAnswer(q, { seed: `${worldSeed}:dev`, draw: i }) }));
  const seedResults: ToySeedResult[] = [];
  const perQuestion: Record<ToySource, number[][]> = { ipo: [], oracle: [], random: [] };
  const judgeOf = (k: ToySource, model: TfCausalLM, seed: number): ResponseJudge => (k === 'ipo'
    ? toyIpoJudge(model, task.template) // the CURRENT policy judges its own answers (round r: round r − 1's policy)
    : k === 'oracle'
      ? customJudge('oracle', (instruction, response) => (task.check(keyOf.get(instruction)!, response) ? 1 : 0), { fingerprint: `toy-oracle:${taskName}` })
      : customJudge('random', (instruction, response) => parseInt(contentHash('toy-random', seed, instruction, response).slice(0, 8), 16) / 0xffffffff, { fingerprint: `toy-random:${seed}` }));

  /** One round for source `k` from the policy in `policyDir`: sample, judge, pairs, DPO into `outDir`, test accuracy. */
  const oneRound = async (k: ToySource, seed: number, round: number, policyDir: string, outDir: string): Promise<{ result: ToyRunResult; correct: number[] }> => {
    // round 1 samples with the seed itself, so every source pairs the SAME samples of the SFT model
    const sampleSeed = round === 1 ? seed : seed * 1000 + round;
    const tag = `seed ${seed}${round > 1 ? ` round ${round}` : ''}`;
    // one loaded policy per round: it samples, judges (for IPO) and is then trained in place
    const policy = await loadTfModel(policyDir);
    try {
      const samples = await sampleResponses(policy, prompts, {
        n: opts.samples ?? 4, temperature: opts.temperature ?? 1, maxNewTokens: task.maxAnswerTokens + 1, seed: sampleSeed,
        promptFormat: 'raw', extraction: 'fixed', label: `${tag}: sampling`,
      });
      const scored = await scoreSamples(samples.records, judgeOf(k, policy, seed), { label: `${tag}: ${k} judge` });
      const built = buildPairs(scored.groups, toyPairOptions(k, { ipoMinMargin, ipoMinChosen }));
      const pairs = built.pairs;
      const right = (p: BuiltPair, side: 'chosen' | 'rejected') => task.check(keyOf.get(p.prompt)!, p[side]);
      const differing = pairs.filter((p) => right(p, 'chosen') !== right(p, 'rejected'));
      const precision = differing.length ? differing.filter((p) => right(p, 'chosen')).length / differing.length : null;
      const chosenCorrect = pairs.length ? pairs.filter((p) => right(p, 'chosen')).length / pairs.length : null;
      let evalAcc: number | null = null;
      const curves: ToyRunResult['curves'] = { history: [], evals: [] };
      if (pairs.length > 0) {
        // the reference is the policy this round starts from (full fine-tuning: its weights before training)
        const r = await trainDpo(policy, pairs.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })), {
          outDir, lora: false, ...dpoArgs, warmupRatio: 0.1, maxGradNorm: 1,
          gradientCheckpointing: false, seed, evalPairs: dev, baseModel: `toy ${taskName} ${round === 1 ? 'SFT' : `round ${round - 1}`}`,
        });
        evalAcc = r.eval?.['eval_rewards/accuracies'] ?? null;
        curves.history = r.history.map((h) => pick(h as unknown as Record<string, number>, ''));
        curves.evals = r.evals.map((e) => pick(e, 'eval_'));
      }
      const correct = await taskCorrectness(policy, task, splits.test);
      const b = bootstrapCi(correct, { seed });
      log(`${tag} ${k}: ${pairs.length} pairs (precision ${precision === null ? 'n/a' : precision.toFixed(3)}, chosen right ${chosenCorrect === null ? 'n/a' : chosenCorrect.toFixed(3)}), task accuracy ${b.estimate.toFixed(3)}`);
      return { result: { taskAccuracy: b.estimate, ci: ci(b), pairs: pairs.length, pairPrecision: precision, chosenCorrect, dropped: { ...built.dropped }, evalRewardAccuracy: evalAcc, curves, byRound: [] }, correct };
    } finally {
      policy.dispose();
    }
  };

  for (const seed of seeds) {
    const result = {} as Record<ToySource, ToyRunResult>;
    for (const k of TOY_SOURCES) {
      let policyDir = sftDir;
      const byRound: ToyRoundPoint[] = [];
      let last: { result: ToyRunResult; correct: number[] } | null = null;
      for (let round = 1; round <= rounds; round++) {
        // round 1 keeps its folder name whatever `rounds` is, so adding rounds reuses the finished first round
        const outDir = join(dpoRoot, `seed-${seed}`, round === 1 ? k : `${k}-round-${round}`);
        last = await oneRound(k, seed, round, policyDir, outDir);
        byRound.push({ round, taskAccuracy: last.result.taskAccuracy, pairs: last.result.pairs, chosenCorrect: last.result.chosenCorrect });
        if (last.result.pairs === 0) break; // no pairs, no new policy: later rounds would repeat this one
        policyDir = outDir;
      }
      perQuestion[k].push(last!.correct);
      result[k] = { ...last!.result, byRound };
    }
    seedResults.push({ seed, ...result });
  }

  // across seeds: the mean over seeds, its interval from resampling test questions (each question's mean over seeds)
  const after = {} as ToyWorldResult['after'];
  for (const k of TOY_SOURCES) {
    const perQ = splits.test.map((_, i) => perQuestion[k].reduce((s, run) => s + run[i], 0) / perQuestion[k].length);
    const b = bootstrapCi(perQ, { seed: worldSeed });
    const roundsRun = Math.max(...seedResults.map((r) => r[k].byRound.length));
    const byRound = Array.from({ length: roundsRun }, (_, i) => {
      const xs = seedResults.map((r) => r[k].byRound[Math.min(i, r[k].byRound.length - 1)].taskAccuracy);
      return xs.reduce((a, x) => a + x, 0) / xs.length;
    });
    after[k] = { taskAccuracy: b.estimate, ci: ci(b), perSeed: seedResults.map((r) => r[k].taskAccuracy), byRound };
  }
  return {
    task: { name: task.name, description: task.description, template: task.template, sizes, used, worldSeed },
    model: { dir: displayPath(sftDir), parameters, sftSteps },
    classifier,
    before,
    after,
    seeds: seedResults,
  };
}
