/**
 * `ipo toy-world`: the paper's two claims measured end to end on a model the kit trains itself (lib/toy/).
 */
import { Option, type Command } from 'commander';
import { intArg, jsonOption, logLine, print } from './cli-common.ts';

export function registerToyCommands(program: Command): void {
  program
    .command('toy-world')
    .description('a toy world where the claim is measurable: train a tiny model on a checkable task and on judging, then ask the RewardBench question (P(Yes) as a classifier) and the DPO question (IPO pairs vs oracle vs random)')
    .option('--quick', 'the CI size (a few minutes on 2 cores)')
    .option('--seeds <k>', 'seeds of the self-improvement stage', intArg('--seeds', 1), 3)
    .option('--world-seed <s>', 'seed of the splits, the teacher and the SFT run', intArg('--world-seed', 0), 3)
    .option('--task <name>', 'toy task: max (default), sort or addition (lib/toy/tasks.ts)')
    .option('--sft-steps <n>', 'SFT optimizer steps', intArg('--sft-steps', 1))
    .option('--rounds <k>', 'self-improvement rounds per pair source (round r samples from, and for IPO is judged by, round r-1\'s policy)', intArg('--rounds', 1), 1)
    .option('--out <dir>', 'models, caches and runs (default .cache/toy-world)')
    .addOption(jsonOption())
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend; default $IPO_TF_BACKEND, else wasm').choices(['wasm', 'cpu']))
    .action(async (o: { quick?: boolean; seeds: number; worldSeed: number; task?: string; sftSteps?: number; rounds: number; out?: string; json?: boolean; backend?: 'wasm' | 'cpu' }) => {
      const { runToyWorld } = await import('../lib/toy/experiment.ts');
      const { ensureBackend } = await import('../lib/models/backend.ts');
      const { kitCacheDir, assertWritableDir } = await import('../lib/util/paths.ts');
      if (o.out) assertWritableDir(o.out, '--out'); // before the world is trained, not after it
      const { join } = await import('node:path');
      await ensureBackend(o.backend);
      const r = await runToyWorld({
        outDir: o.out ?? join(kitCacheDir(), 'toy-world'), quick: o.quick, seeds: Array.from({ length: o.seeds }, (_, i) => i + 1),
        worldSeed: o.worldSeed, task: o.task, rounds: o.rounds, sft: o.sftSteps ? { steps: o.sftSteps } : undefined, log: logLine,
      });
      const f = (x: number) => x.toFixed(3);
      const iv = (x: { taskAccuracy: number; ci: [number, number] }) => `${f(x.taskAccuracy)} [${f(x.ci[0])}, ${f(x.ci[1])}]`;
      print(o, r as unknown as Record<string, unknown>, () => [
        `toy world: ${r.task.description}`,
        `classifier (held-out right vs wrong answer, ${r.classifier.n} pairs): P(Yes) ${f(r.classifier.accuracy)} [${f(r.classifier.ci[0])}, ${f(r.classifier.ci[1])}]; random ${f(r.classifier.random.accuracy)}`,
        `task accuracy before DPO: ${iv(r.before)}`,
        `after ${o.rounds === 1 ? 'one DPO round' : `${o.rounds} DPO rounds`} (mean of ${r.seeds.length} seeds): IPO ${iv(r.after.ipo)} · oracle ${iv(r.after.oracle)} · random ${iv(r.after.random)}`,
        ...(o.rounds > 1 ? [`by round: ${(['ipo', 'oracle', 'random'] as const).map((k) => `${k} ${r.after[k].byRound.map(f).join(' → ')}`).join(' · ')}`] : []),
      ].join('\n'));
    });
}
