/**
 * The self-improvement half of the CLI (the paper's §DPO): `sample`, `sft`, `dpo`, `self-improve`, `export-pairs`.
 * Each command parses flags, calls one library function and prints a summary or, with --json, one JSON object.
 */
import { Option, type Command } from 'commander';
import { addModelOptions, engineOf, floatArg, intArg, jsonOption, logLine, print, withModel, type ModelOpts } from './cli-common.ts';
import type { TfCausalLM } from '../lib/models/tf-causal-lm.ts';
import { DPO_LOSS_TYPES, type DpoLossType } from '../lib/dpo/loss-types.ts';
import type { LoraConfig } from '../lib/dpo/lora.ts';
import type { OptimArgs } from '../lib/dpo/train-loop.ts';

/** Flags shared by `sft` and `dpo`. */
function trainingOptions(c: Command, d: { lr: number; lora?: number }): Command {
  return c
    .option('--lr <x>', `peak learning rate (official ${d.lr})`, floatArg('--lr', 0, Infinity, true), d.lr)
    .option('--epochs <n>', 'passes over the training data', intArg('--epochs', 1), 1)
    .option('--batch-size <n>', 'examples per micro-batch (a DPO example is a pair: 2 sequences)', intArg('--batch-size', 1), 1)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', intArg('--grad-accum', 1), 1)
    .option('--warmup-ratio <x>', 'fraction of steps with linear warmup (official 0.1)', floatArg('--warmup-ratio', 0, 1), 0.1)
    .option('--max-grad-norm <x>', 'clip the gradient norm (official 0.3; 0 = off)', floatArg('--max-grad-norm', 0), 0.3)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', floatArg('--weight-decay', 0), 0)
    .option('--max-steps <n>', 'stop after this many optimizer steps', intArg('--max-steps', 1))
    .option('--eval-steps <n>', 'evaluate every N steps (0 = before and after only)', intArg('--eval-steps', 0), 0)
    .option('--save-steps <n>', 'checkpoint every N steps (0 = at the end only)', intArg('--save-steps', 0), 0)
    .option('--max-length <n>', 'max prompt + completion tokens (TRL max_length)', intArg('--max-length', 2), 1024)
    .option('--max-prompt-length <n>', 'max prompt tokens (TRL max_prompt_length)', intArg('--max-prompt-length', 1), 512)
    .addOption(new Option('--truncation-mode <m>', 'which end of a long prompt to keep (TRL truncation_mode)').choices(['keep_end', 'keep_start']).default('keep_end'))
    .option('--lora-rank <n>', `LoRA rank r (official 256)${d.lora === undefined ? '; without it: full fine-tuning' : ''}`, intArg('--lora-rank', 1), d.lora)
    .option('--full', 'full fine-tuning of every weight instead of LoRA')
    .option('--lora-alpha <x>', 'LoRA alpha (official 128)', floatArg('--lora-alpha', 0, Infinity, true), 128)
    .option('--lora-dropout <x>', 'LoRA dropout (official 0.05)', floatArg('--lora-dropout', 0, 1), 0.05)
    .option('--lora-targets <list>', "'all-linear' (official) or a comma list, e.g. q_proj,v_proj", 'all-linear')
    .option('--no-gradient-checkpointing', 'keep every layer\'s activations (faster on tiny models, more memory)')
    .option('--seed <s>', 'data order, LoRA init and dropout seed', intArg('--seed', 0), 42);
}

interface TrainFlags {
  lr: number; epochs: number; batchSize: number; gradAccum: number; warmupRatio: number; maxGradNorm: number; weightDecay: number;
  maxSteps?: number; evalSteps: number; saveSteps: number; maxLength: number; maxPromptLength: number; truncationMode: 'keep_end' | 'keep_start';
  loraRank?: number; full?: boolean; loraAlpha: number; loraDropout: number; loraTargets: string; gradientCheckpointing: boolean; seed: number;
}

function optimFrom(o: TrainFlags): Partial<OptimArgs> {
  return {
    learningRate: o.lr, epochs: o.epochs, batchSize: o.batchSize, gradAccum: o.gradAccum, warmupRatio: o.warmupRatio,
    maxGradNorm: o.maxGradNorm, weightDecay: o.weightDecay, maxSteps: o.maxSteps, evalSteps: o.evalSteps, saveSteps: o.saveSteps, seed: o.seed,
  };
}

function loraFrom(o: TrainFlags): Partial<LoraConfig> | false {
  if (o.full || o.loraRank === undefined) return false;
  const targets = o.loraTargets === 'all-linear' ? 'all-linear' as const : o.loraTargets.split(',').map((s) => s.trim()).filter(Boolean);
  return { rank: o.loraRank, alpha: o.loraAlpha, dropout: o.loraDropout, targetModules: targets, seed: o.seed };
}

async function withTrainable<T>(o: ModelOpts, f: (m: TfCausalLM) => Promise<T>): Promise<T> {
  const engine = engineOf(o);
  if (engine && engine !== 'tf') throw new Error(`training needs the tf engine (TensorFlow.js); the ${engine} engine is inference-only`);
  const { loadTfModel } = await import('../lib/models/load.ts'); // on use: tfjs is ~0.4 s of every CLI start
  const m = await loadTfModel(o.model, { backend: o.backend });
  try {
    return await f(m);
  } finally {
    m.dispose();
  }
}

const pct = (x: number | undefined | null) => (x === undefined || x === null || !Number.isFinite(x) ? '—' : x.toFixed(3));

export function registerTrainingCommands(program: Command): void {
  const modelCommand = (name: string) => addModelOptions(program.command(name));

  modelCommand('sample')
    .description('sample N responses per prompt (the paper: 4 at temperature 0.7, 256 new tokens), cached and resumable')
    .requiredOption('--prompts <file>', 'JSONL of {"instruction", "category"} or {"prompt"} (string or messages)')
    .requiredOption('--out <file>', 'samples.jsonl to write')
    .option('--n <n>', 'responses per prompt', intArg('--n', 1), 4)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', floatArg('--temperature', 0), 0.7)
    .option('--top-p <p>', 'nucleus mass', floatArg('--top-p', 0, 1, true), 1)
    .option('--max-new-tokens <n>', 'tokens per response', intArg('--max-new-tokens', 1), 256)
    .option('--seed <s>', 'base seed (each prompt/sample derives its own)', intArg('--seed', 0), 42)
    .option('--limit <n>', 'first N usable prompts', intArg('--limit', 1))
    .addOption(new Option('--mode <m>', 'faithful = raw instruction + decode-and-slice (official); fixed = chat template + continuation ids').choices(['faithful', 'fixed']).default('faithful'))
    .action(async (o: ModelOpts & { prompts: string; out: string; n: number; temperature: number; topP: number; maxNewTokens: number; seed: number; limit?: number; mode: 'faithful' | 'fixed' }) => {
      (await import('../lib/util/paths.ts')).assertWritableFile(o.out, '--out'); // before the run, not after it
      const { readPromptFile, formatPromptReport } = await import('../lib/data/prompts.ts');
      const { sampleResponses, formatSampleSummary } = await import('../lib/generate/sample.ts');
      const { writeSamples } = await import('../lib/generate/samples-file.ts');
      const pf = readPromptFile(o.prompts, { limit: o.limit });
      logLine(formatPromptReport(pf));
      await withModel(o, async (m) => {
        const r = await sampleResponses(m, pf.prompts, { n: o.n, temperature: o.temperature, topP: o.topP, maxNewTokens: o.maxNewTokens, seed: o.seed, mode: o.mode });
        writeSamples(o.out, r.records);
        print(o, {
          out: o.out, prompts: r.records.length, responses: r.records.reduce((s, x) => s + x.responses.length, 0), cached: r.cached, computed: r.computed,
          truncated: r.truncated, skipped: r.skipped, prefixMismatch: r.prefixMismatch, finish: r.finish, promptFile: { file: pf.file, total: pf.total, skipped: pf.skipped },
        }, () => `${formatSampleSummary(r)}\nwrote ${o.out}`);
      });
    });

  trainingOptions(modelCommand('sft'), { lr: 2e-5 })
    .description('supervised fine-tuning with a response-only loss (the paper\'s SFT stage for base models)')
    .requiredOption('--train <file>', 'JSONL: {"prompt","completion"}, {"instruction","response"/"output"} (Dolly/Alpaca) or {"messages"}')
    .option('--eval <file>', 'held-out examples in the same format (eval_loss)')
    .option('--limit <n>', 'first N usable training examples', intArg('--limit', 1))
    .requiredOption('--out <dir>', 'output: the trained model folder (+ metrics.jsonl, checkpoints/)')
    .action(async (o: ModelOpts & TrainFlags & { train: string; eval?: string; limit?: number; out: string }) => {
      (await import('../lib/util/paths.ts')).assertWritableDir(o.out, '--out'); // before training, not after it
      const { readSftFile } = await import('../lib/data/sft-examples.ts');
      const { trainSft } = await import('../lib/dpo/train-sft.ts');
      const train = readSftFile(o.train, { limit: o.limit });
      logLine(train.report);
      const evalF = o.eval ? readSftFile(o.eval) : null;
      if (evalF) logLine(evalF.report);
      await withTrainable(o, async (m) => {
        const r = await trainSft(m, train.examples, {
          ...optimFrom(o), outDir: o.out, lora: loraFrom(o), maxLength: o.maxLength, maxPromptLength: o.maxPromptLength,
          truncationMode: o.truncationMode, gradientCheckpointing: o.gradientCheckpointing, evalExamples: evalF?.examples, baseModel: o.model,
        });
        print(o, { out: o.out, train: r.train, eval_before: r.evalBefore, eval: r.eval, steps: r.steps, resumedFrom: r.resumedFrom, skipped: r.skipped, file: { train: train.skipped, eval: evalF?.skipped ?? null } },
          () => `SFT: ${r.steps} steps, mean train loss ${pct(r.train.loss)}; eval_loss ${pct(r.evalBefore?.eval_loss)} → ${pct(r.eval?.eval_loss)}\nwrote the model to ${o.out} (--model ${o.out})`);
      });
    });

  trainingOptions(modelCommand('dpo'), { lr: 5e-5, lora: 256 })
    .description('DPO on preference pairs (TRL format), LoRA by default with the official hyperparameters; writes the merged policy')
    .requiredOption('--train <file>', 'TRL preference JSONL: {"prompt","chosen","rejected"} (strings or conversations)')
    .option('--eval <file>', 'held-out pairs for the eval_ metrics (before and after)')
    .requiredOption('--out <dir>', 'output: the merged policy folder (+ metrics.jsonl, adapter, checkpoints/)')
    .option('--beta <x>', 'DPO beta (official effective 0.1)', floatArg('--beta', 0, Infinity, true), 0.1)
    .addOption(new Option('--loss <type>', "TRL loss_type; 'ipo' is Azar et al.'s loss (length-normalised), NOT this paper's IPO method").choices([...DPO_LOSS_TYPES]).default('sigmoid'))
    .option('--label-smoothing <x>', 'sigmoid: cDPO; robust: rDPO', floatArg('--label-smoothing', 0, 0.5), 0)
    .option('--rpo-alpha <x>', 'TRL rpo_alpha: add alpha x the chosen NLL to the loss (0 = off)', floatArg('--rpo-alpha', 0), 0)
    .action(async (o: ModelOpts & TrainFlags & { train: string; eval?: string; out: string; beta: number; loss: DpoLossType; labelSmoothing: number; rpoAlpha: number }) => {
      (await import('../lib/util/paths.ts')).assertWritableDir(o.out, '--out'); // before training, not after it
      const { readPreferencePairs, formatPairsReport } = await import('../lib/data/preference-pairs.ts');
      const { trainDpo } = await import('../lib/dpo/train-dpo.ts');
      const train = readPreferencePairs(o.train);
      logLine(formatPairsReport(train));
      if (train.pairs.length === 0) throw new Error(`no usable pairs in ${train.file}`);
      const evalF = o.eval ? readPreferencePairs(o.eval) : null;
      if (evalF) logLine(formatPairsReport(evalF));
      await withTrainable(o, async (m) => {
        const r = await trainDpo(m, train.pairs, {
          ...optimFrom(o), outDir: o.out, beta: o.beta, lossType: o.loss, labelSmoothing: o.labelSmoothing, rpoAlpha: o.rpoAlpha, lora: loraFrom(o),
          maxLength: o.maxLength, maxPromptLength: o.maxPromptLength, truncationMode: o.truncationMode, gradientCheckpointing: o.gradientCheckpointing,
          evalPairs: evalF?.pairs, baseModel: o.model,
        });
        const strip = (e: Record<string, number> | null) => (e ? Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'step')) : null);
        print(o, {
          out: o.out, train: r.train, eval_before: strip(r.evalBefore), eval: strip(r.eval), steps: r.steps, resumedFrom: r.resumedFrom,
          skipped: r.skipped, file: { train: { file: train.file, skipped: train.skipped }, eval: evalF ? { file: evalF.file, skipped: evalF.skipped } : null },
        }, () => [
          `DPO (${o.loss}, beta ${o.beta}${loraFrom(o) ? `, LoRA r=${o.loraRank}` : ', full fine-tuning'}): ${r.steps} steps on ${r.skipped.train.kept} pairs`,
          `train: loss ${pct(r.train.loss)}, rewards/accuracies ${pct(r.train['rewards/accuracies'])}, rewards/margins ${pct(r.train['rewards/margins'])}`,
          r.eval ? `eval: rewards/accuracies ${pct(r.evalBefore?.['eval_rewards/accuracies'])} → ${pct(r.eval['eval_rewards/accuracies'])}, loss ${pct(r.evalBefore?.eval_loss)} → ${pct(r.eval.eval_loss)}` : 'eval: no --eval pairs',
          `wrote the merged policy to ${o.out} (--model ${o.out}); metrics in ${o.out}/metrics.jsonl`,
        ].join('\n'));
      });
    });

  trainingOptions(modelCommand('self-improve'), { lr: 5e-5, lora: 256 })
    .description('the paper\'s loop, K rounds: sample N responses, let a judge (the model\'s own P(Yes) by default) pick best vs worst, DPO')
    .requiredOption('--prompts <file>', 'JSONL of {"instruction", "category"} (UltraFeedback-1k-Each style) or {"prompt"}')
    .requiredOption('--out <dir>', 'output: round-K/{samples,scores,pairs,metrics}.jsonl, round-K/policy/, round-K/eval.json')
    .option('--rounds <k>', 'rounds of sample → judge → DPO', intArg('--rounds', 1), 1)
    .addOption(new Option('--judge <name>', 'ipo = own P(Yes) (the paper); self-reward = own 5-point rubric; rm = a reward model (--reward-model)').choices(['ipo', 'self-reward', 'rm']).default('ipo'))
    .option('--reward-model <ref>', 'reward model for --judge rm (transformers.js sequence classifier folder or hub id)')
    .addOption(new Option('--mode <m>', 'faithful = every official quirk; fixed = repaired (chat template, drop tied/identical pairs, held-out eval)').choices(['faithful', 'fixed']).default('faithful'))
    .addOption(new Option('--preset <name>', 'ipo judge: paper = official; exact').choices(['paper', 'exact']).default('paper'))
    .addOption(new Option('--prompt-format <f>', 'sampling input: raw instruction (faithful default) or the chat template (fixed default)').choices(['raw', 'chat']))
    .option('--n <n>', 'responses per prompt', intArg('--n', 2), 4)
    .option('--temperature <t>', 'sampling temperature', floatArg('--temperature', 0), 0.7)
    .option('--top-p <p>', 'nucleus mass', floatArg('--top-p', 0, 1, true), 1)
    .option('--max-new-tokens <n>', 'tokens per response', intArg('--max-new-tokens', 1), 256)
    .option('--judge-max-new-tokens <n>', 'self-reward judge tokens (official 128)', intArg('--judge-max-new-tokens', 1))
    .option('--limit <n>', 'first N usable prompts', intArg('--limit', 1))
    .option('--beta <x>', 'DPO beta', floatArg('--beta', 0, Infinity, true), 0.1)
    .addOption(new Option('--loss <type>', "TRL loss_type ('ipo' = Azar et al., not this paper)").choices([...DPO_LOSS_TYPES]).default('sigmoid'))
    .action(async (o: ModelOpts & TrainFlags & { prompts: string; out: string; rounds: number; judge: 'ipo' | 'self-reward' | 'rm'; rewardModel?: string; mode: 'faithful' | 'fixed'; preset: 'paper' | 'exact'; n: number; temperature: number; topP: number; maxNewTokens: number; judgeMaxNewTokens?: number; limit?: number; beta: number; loss: DpoLossType; promptFormat?: 'raw' | 'chat' }) => {
      const engine = engineOf(o);
      if (engine && engine !== 'tf') throw new Error(`self-improve trains the policy, which needs the tf engine (not ${engine})`);
      (await import('../lib/util/paths.ts')).assertWritableDir(o.out, '--out'); // before round 1, not after it
      const { readPromptFile, formatPromptReport } = await import('../lib/data/prompts.ts');
      const { selfImprove } = await import('../lib/self-improve/rounds.ts');
      const judges = await import('../lib/self-improve/score-responses.ts');
      if (o.judge === 'rm' && !o.rewardModel) throw new Error('--judge rm needs --reward-model <ref>');
      const pf = readPromptFile(o.prompts, { limit: o.limit });
      logLine(formatPromptReport(pf));
      let rm: Awaited<ReturnType<typeof import('../lib/scoring/reward-model.ts').loadRewardModel>> | null = null;
      if (o.judge === 'rm') {
        const { loadRewardModel } = await import('../lib/scoring/reward-model.ts');
        rm = await loadRewardModel(o.rewardModel!, { dtype: o.dtype, device: o.device });
      }
      try {
        const r = await selfImprove(o.model, pf.prompts, {
          outDir: o.out, rounds: o.rounds, mode: o.mode, backend: o.backend, log: logLine,
          judge: (policy) => o.judge === 'ipo' ? judges.ipoJudge(policy, { preset: o.preset })
            : o.judge === 'self-reward' ? judges.selfRewardJudge(policy, { mode: o.mode, maxNewTokens: o.judgeMaxNewTokens })
              : judges.rewardModelJudge(rm!, { mode: o.mode }),
          sample: { n: o.n, temperature: o.temperature, topP: o.topP, maxNewTokens: o.maxNewTokens, seed: o.seed, ...(o.promptFormat ? { promptFormat: o.promptFormat } : {}) },
          dpo: {
            ...optimFrom(o), beta: o.beta, lossType: o.loss, lora: loraFrom(o), maxLength: o.maxLength, maxPromptLength: o.maxPromptLength,
            truncationMode: o.truncationMode, gradientCheckpointing: o.gradientCheckpointing,
          },
        });
        print(o, { out: o.out, finalPolicy: r.finalPolicy, rounds: r.rounds }, () => r.rounds.map((x) => [
          `round ${x.round} (${x.judge}): ${x.sampling.responses} responses for ${x.sampling.prompts} prompts; ${x.pairs.built} pairs (${x.pairs.tied} tied, dropped ${JSON.stringify(x.pairs.dropped)})`,
          `  DPO ${x.dpo.steps} steps: train loss ${pct(x.dpo.train.loss)}; eval rewards/accuracies ${pct(x.dpo.evalBefore?.['eval_rewards/accuracies'])} → ${pct(x.dpo.eval?.['eval_rewards/accuracies'])}`,
          `  policy: ${x.policyOut}`,
        ].join('\n')).join('\n'));
      } finally {
        rm?.dispose();
      }
    });

  program
    .command('export-pairs')
    .description('write preference pairs for TRL (train.jsonl + a DPO training script with the official hyperparameters)')
    .requiredOption('--pairs <file>', 'pairs JSONL (e.g. round-1/pairs.jsonl or any TRL preference file)')
    .option('--eval <file>', 'eval pairs JSONL')
    .addOption(new Option('--format <name>', 'output format').choices(['trl']).default('trl'))
    .option('--model <ref>', 'model the script trains (hub id for TRL)', 'mistralai/Mistral-7B-Instruct-v0.1')
    .requiredOption('--out <dir>', 'output folder')
    .addOption(jsonOption())
    .action(async (o: { pairs: string; eval?: string; format: 'trl'; model: string; out: string; json?: boolean }) => {
      (await import('../lib/util/paths.ts')).assertWritableDir(o.out, '--out');
      const { readPreferencePairs, formatPairsReport } = await import('../lib/data/preference-pairs.ts');
      const { exportPairsForTrl } = await import('../lib/dpo/trl-export.ts');
      const train = readPreferencePairs(o.pairs);
      logLine(formatPairsReport(train));
      const evalF = o.eval ? readPreferencePairs(o.eval) : null;
      const r = exportPairsForTrl(train.pairs, o.out, { model: o.model, evalPairs: evalF?.pairs });
      print(o, { out: o.out, ...r, skipped: train.skipped } as unknown as Record<string, unknown>, () => `wrote ${JSON.stringify(r)} to ${o.out}; run: python ${o.out}/train_dpo.py`);
    });
}
