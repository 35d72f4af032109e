/**
 * The `ipo` command line: each command parses flags, calls one library function and prints a readable summary or,
 * with --json, one JSON object on stdout. Progress and logs go to stderr. Errors are one line on stderr and a
 * non-zero exit (set IPO_DEBUG=1 for stack traces).
 */
import { Command, Option } from 'commander';
import { addModelOptions, batchSizeOption, prefixReuseOption, type ScoringSpeedOpts, floatArg, intArg, jsonOption, logLine, modelOption, print, readPrices, withModel, type ModelOpts } from './cli-common.ts';
import { registerTrainingCommands } from './train-commands.ts';
import { registerToyCommands } from './toy-commands.ts';
import { sequenceLogProb } from '../lib/models/checks.ts';
import type { CausalLM } from '../lib/models/types.ts';
import { pYes, type IpoPreset, type IpoTruncation } from '../lib/scoring/yes-no.ts';
import { runRewardBench, rewardBenchRunJson, type PairScorer, type RewardBenchMethod, type RewardBenchRun } from '../lib/eval/run-rewardbench.ts';
import { runRmBench, rmBenchRunJson, type RmBenchMethod } from '../lib/eval/run-rmbench.ts';
import { getMethod } from '../lib/scoring/methods.ts';
import { formatTruncation } from '../lib/eval/truncation-summary.ts';
import type { RmBenchFileDomain } from '../lib/data/rmbench.ts';

/** Human-readable RewardBench summary: per subset, sections, score and the paper's categories. */
function rewardBenchSummaryText(run: RewardBenchRun): string {
  const r = run.report;
  const pct = (x: number | null) => (x === null ? '   — ' : (100 * x).toFixed(1).padStart(5));
  const lines = [`RewardBench — ${run.model} (${run.method}, ${JSON.stringify(run.settings)})`, `source: ${run.source}`, 'subset                      n  accuracy'];
  for (const s of Object.values(r.subsets)) lines.push(`${s.subset.padEnd(24)} ${String(s.n).padStart(4)}  ${pct(s.accuracy)}${run.fidelity[s.subset] && run.fidelity[s.subset] !== 'official' ? `  (${run.fidelity[s.subset]})` : ''}`);
  lines.push('', `sections: ${Object.entries(r.leaderboard.sections).map(([k, v]) => `${k} ${pct(v).trim()}`).join(' · ')}   score ${pct(r.leaderboard.score).trim()}`);
  lines.push(`paper categories (plain mean): ${Object.entries(r.paper.plain.categories).map(([k, v]) => `${k} ${pct(v).trim()}`).join(' · ')}   average ${pct(r.paper.plain.average).trim()}`);
  if (run.missingSubsets.length) lines.push(`missing subsets: ${run.missingSubsets.join(', ')} (empty sections count 0 in the official score)`);
  if (run.malformed.count) lines.push(`malformed rows skipped: ${run.malformed.count} (first: ${run.malformed.examples[0]?.reason})`);
  const unknown = Object.entries(run.unknownSubsets);
  if (unknown.length) lines.push(`unknown subsets (scored, in no section or category): ${unknown.map(([k, n]) => `${k} (${n})`).join(', ')}`);
  const trunc = formatTruncation(run.truncation, String(run.settings.truncation ?? 'right'));
  if (trunc) lines.push(trunc);
  lines.push(run.description);
  return lines.join('\n');
}
/** A finished benchmark run leaves a report record (reports/results/<id>.json) that `ipo report` builds the site from. */
const recordOption = () => new Option('--no-record', 'do not write the report record (reports/results/<id>.json, read by ipo report)');
async function saveRecord(record: import('../lib/report/records.ts').ReportRecord): Promise<void> {
  const { saveReportRecord } = await import('../lib/report/records.ts');
  const { displayPath } = await import('../lib/util/paths.ts');
  try {
    logLine(`report record: ${displayPath(saveReportRecord(record))} (ipo report builds the site)`);
  } catch (e) {
    // the run's numbers are printed either way: a record that cannot be written is a warning, not a lost run
    logLine(`report record not written: ${(e as Error).message.split('\n')[0]}`);
  }
}
/** IPO's truncation of long prompts (lib/scoring/yes-no.ts). */
const truncationOption = () => new Option('--truncation <name>', 'ipo: right = official (cuts the marker on long inputs); left; keep-marker').choices(['right', 'left', 'keep-marker']).default('right');

/** The options every model-running command takes. */
function modelCommand(name: string): Command {
  return addModelOptions(program.command(name));
}

const program = new Command('ipo')
  .description('IPO: your language model is secretly a preference classifier (arXiv 2502.16182) — notebook kit CLI')
  // Usage errors: one line, commander's wording, with where to look for help.
  .configureOutput({ outputError: (str, write) => write(`${str.split('\n').filter(Boolean)[0].replace(/^error: /, 'ipo: ')} (see ipo --help)\n`) });

modelCommand('generate')
  .description('continue a prompt (greedy at temperature 0, else seeded temperature/top-p sampling)')
  .requiredOption('--prompt <text>', 'text to continue (encoded with special tokens, e.g. BOS)')
  .option('--max-new-tokens <n>', 'tokens to generate', intArg('--max-new-tokens', 0), 64)
  .option('--temperature <t>', '0 = greedy', floatArg('--temperature', 0), 0)
  .option('--top-p <p>', 'nucleus sampling mass', floatArg('--top-p', 0, 1, true), 1)
  .option('--seed <s>', 'sampler seed', intArg('--seed', 0), 42)
  .action(async (o: ModelOpts & { prompt: string; maxNewTokens: number; temperature: number; topP: number; seed: number }) => {
    await withModel(o, async (m) => {
      const tokens = await m.generate(m.encode(o.prompt), { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topP: o.topP, seed: o.seed });
      const text = m.decode(tokens, { skipSpecialTokens: true });
      print(o, { text, tokens }, () => text);
    });
  });

modelCommand('logprob')
  .description('sum of log P(token_t | tokens_<t) over every token after the first (encoding with special tokens)')
  .requiredOption('--text <text>', 'text to score')
  .action(async (o: ModelOpts & { text: string }) => {
    await withModel(o, async (m) => {
      const ids = m.encode(o.text);
      const { total } = await sequenceLogProb(m, ids);
      print(o, { logprob: total, tokens: ids.length }, () => `logprob ${total.toFixed(4)} over ${Math.max(0, ids.length - 1)} predicted tokens (${ids.length} tokens)`);
    });
  });

modelCommand('score')
  .description("IPO preference score: P(' Yes') / (P(' Yes') + P(' No')) after the official RewardBench prompt")
  .requiredOption('--instruction <text>', 'the user instruction')
  .requiredOption('--response <text>', 'the response to judge')
  .option('--category <subset>', 'RewardBench subset choosing the template (unknown → alpacaeval-easy, as the official code)')
  .addOption(new Option('--preset <name>', 'paper = official code; exact = whole-continuation probability').choices(['paper', 'exact']).default('paper'))
  .addOption(truncationOption())
  .option('--max-length <n>', 'prompt ids kept (official 1024; capped by the model\'s context)', intArg('--max-length', 1), 1024)
  .action(async (o: ModelOpts & { instruction: string; response: string; category?: string; preset: IpoPreset; truncation: IpoTruncation; maxLength: number }) => {
    await withModel(o, async (m) => {
      const s = await pYes(m, { instruction: o.instruction, response: o.response, category: o.category }, { preset: o.preset, truncation: o.truncation, maxLength: o.maxLength });
      print(o, { pYes: s.pYes, yes: s.yes, no: s.no, preset: s.preset, promptTokens: s.promptTokens, truncated: s.truncated, markerCut: s.markerCut, truncation: o.truncation },
        () => [
          `P(Yes) = ${s.pYes.toFixed(4)}  (raw yes ${s.yes.toExponential(3)}, no ${s.no.toExponential(3)}; preset ${s.preset}, ${s.promptTokens} prompt tokens)`,
          ...(s.truncated ? [`truncated (${o.truncation}) to ${s.promptTokens} tokens: ${s.markerCut ? 'the marker after the response was cut, so the model did not read the question' : 'the marker after the response was kept'}`] : []),
        ].join('\n'));
    });
  });

modelCommand('demo')
  .description('the main job on the embedded model: generate a short story, then score a chosen/rejected pair with P(Yes)')
  .action(async (o: ModelOpts) => {
    const { runDemo } = await import('../lib/demo.ts');
    const r = await runDemo(o.model, { engine: o.engine, backend: o.backend, dtype: o.dtype, device: o.device, log: (s) => process.stderr.write(`${s}\n`) });
    print(o, r as unknown as Record<string, unknown>, () => r.report);
  });

type ApiStyle = 'completions' | 'chat';

/**
 * `--api-style chat`: the official `*_gpt.py` path (OpenAI, OpenRouter, any chat-completions server): no local model
 * or tokenizer, the method's chat scorer (lib/api/chat-judges.ts) scores the pairs; after the run one usage line and
 * one summary line (failed requests, malformed / unparsed answers, Yes/No outside the top-k) go to stderr.
 */
async function withChatScorer<T>(o: ModelOpts & { method: string; preset?: string; truncation?: string; maxNewTokens?: number }, variant: 'rewardbench' | 'rmbench', f: (m: PairScorer) => Promise<T>): Promise<T> {
  // knobs of the local scorers that a chat API cannot honour: refused, not silently ignored
  if (o.preset && o.preset !== 'paper') throw new Error(`--api-style chat reads the answer token's top_logprobs (ours_gpt.py); --preset ${o.preset} needs prompt log-probs, which chat APIs do not give`);
  if (o.truncation && o.truncation !== 'right') throw new Error(`--api-style chat sends the whole prompt as text (nothing is truncated); --truncation ${o.truncation} is for local models`);
  if (o.maxNewTokens !== undefined) throw new Error('--api-style chat sends the official max_tokens (200 for the judges, 2 for ipo); drop --max-new-tokens');
  const baseUrls = o.baseUrl?.length ? o.baseUrl : process.env.IPO_BASE_URL ? [process.env.IPO_BASE_URL] : [];
  if (!baseUrls.length) throw new Error('--api-style chat needs --base-url URL (an OpenAI-compatible server, e.g. https://openrouter.ai/api/v1 or http://127.0.0.1:8000/v1)');
  if (o.engine && o.engine !== 'api') throw new Error(`--api-style chat sends everything to --base-url and loads no model (not --engine ${o.engine})`);
  const { CHAT_METHODS, connectChat, createChatScorer, formatChatSummary } = await import('../lib/api/chat-judges.ts');
  if (!(CHAT_METHODS as readonly string[]).includes(o.method)) throw new Error(`--api-style chat runs --method ${CHAT_METHODS.join(', ')} (the official *_gpt.py scripts), not ${o.method}`);
  const { client, model } = await connectChat({
    baseUrls, apiModel: o.apiModel ?? process.env.IPO_API_MODEL, concurrency: o.concurrency, timeoutMs: o.requestTimeout ? o.requestTimeout * 1000 : undefined,
    prices: o.prices ? readPrices(o.prices) : undefined, log: logLine,
  });
  try {
    const scorer = createChatScorer(o.method as 'ipo' | 'self-reward' | 'binary', { client, model, variant, topLogprobs: o.topLogprobs });
    const r = await f(scorer);
    logLine(client.formatUsage());
    logLine(formatChatSummary(scorer.summary()));
    return r;
  } finally {
    await client.close();
  }
}

/** For --json: the chat scorer's request settings and summary, when `m` is one. */
async function chatJson(m: CausalLM | PairScorer, mode: 'faithful' | 'fixed'): Promise<Record<string, unknown>> {
  const { isChatScorer } = await import('../lib/api/chat-judges.ts');
  return isChatScorer(m) ? { chat: { ...m.settings(mode), summary: m.summary() } } : {};
}

/** Load the causal LM, or for `--method rm` the reward model; with `--api-style chat`, the method's chat scorer. */
async function withScorer<T>(o: ModelOpts & { method: string; apiStyle?: ApiStyle }, f: (m: CausalLM | PairScorer) => Promise<T>, bench: 'rewardbench' | 'rmbench' = 'rewardbench'): Promise<T> {
  if (o.apiStyle === 'chat') return withChatScorer(o, bench, f);
  if (getMethod(o.method).needs !== 'rm') return withModel(o, f);
  const { loadRewardModel } = await import('../lib/scoring/reward-model.ts');
  const rm = await loadRewardModel(o.model, { dtype: o.dtype, device: o.device });
  try {
    return await f(rm);
  } finally {
    rm.dispose();
  }
}

const presetOption = () => new Option('--preset <name>', 'ipo: paper = official code; exact = whole-continuation probability').choices(['paper', 'exact']).default('paper');
const modeOption = () => new Option('--mode <name>', 'judges and rm: faithful = official quirks; fixed = repaired').choices(['faithful', 'fixed']).default('faithful');
const apiStyleOption = () => new Option('--api-style <name>', 'with --base-url: completions = the api engine (token-id prompts; vLLM, llama.cpp, ipo serve); chat = the official *_gpt.py path (chat completions, top_logprobs; OpenAI, OpenRouter), no local model').choices(['completions', 'chat']).default('completions');

modelCommand('rewardbench')
  .description('pairwise accuracy on RewardBench with the official section weighting and the paper\'s four categories')
  .option('--source <name>', 'filtered (leaderboard, hub) | raw (the IPO code\'s split, hub) | rebuilt (offline, partial) | FILE (.parquet/.json/.jsonl)', 'filtered')
  .option('--limit-per-subset <n>', 'seeded stratified slice', intArg('--limit-per-subset', 1))
  .option('--seed <s>', 'slice seed', intArg('--seed', 0), 42)
  .addOption(new Option('--method <name>', 'ipo = P(Yes); self-reward = 5-point rubric judge; binary = pairwise judge; rm = reward model').choices(['ipo', 'self-reward', 'binary', 'rm']).default('ipo'))
  .addOption(presetOption())
  .addOption(truncationOption())
  .addOption(modeOption())
  .option('--max-new-tokens <n>', 'judges: tokens to generate (official 200)', intArg('--max-new-tokens', 1))
  .option('--results <file>', 'also write the reward-bench results JSON (flat subset accuracies) here')
  .addOption(apiStyleOption())
  .addOption(batchSizeOption())
  .addOption(prefixReuseOption())
  .addOption(recordOption())
  .action(async (o: ModelOpts & ScoringSpeedOpts & { source: string; limitPerSubset?: number; seed: number; method: RewardBenchMethod; preset: IpoPreset; truncation: IpoTruncation; mode: 'faithful' | 'fixed'; maxNewTokens?: number; results?: string; apiStyle: ApiStyle; record: boolean }) => {
    if (o.results) {
      const { assertWritableFile } = await import('../lib/util/paths.ts');
      assertWritableFile(o.results, '--results'); // before the run, not after it
    }
    await withScorer(o, async (m) => {
      const run = await runRewardBench(m, { source: o.source, limitPerSubset: o.limitPerSubset, seed: o.seed, method: o.method, preset: o.preset, truncation: o.truncation, mode: o.mode, maxNewTokens: o.maxNewTokens, batchSize: o.batchSize, prefixReuse: o.prefixReuse });
      if (o.results) {
        const { toRewardBenchResultsJson, pythonJsonDumps, subsetAccuracies } = await import('../lib/eval/rewardbench-metrics.ts');
        const { writeFileSync, mkdirSync } = await import('node:fs');
        const { dirname } = await import('node:path');
        mkdirSync(dirname(o.results), { recursive: true });
        writeFileSync(o.results, pythonJsonDumps(toRewardBenchResultsJson(subsetAccuracies(run.report.subsets), { model: run.model, modelType: `ipo-${run.method}` }), { indent: 4, sortKeys: true }));
      }
      const json = { ...rewardBenchRunJson(run), ...(await chatJson(m, o.mode)) };
      if (o.record) await saveRecord(await import('../lib/report/records.ts').then((r) => r.recordFromRewardBenchRun(run)));
      print(o, json, () => rewardBenchSummaryText(run));
    });
  });

modelCommand('rmbench')
  .description('RM-Bench: the full 3x3 style grid (easy / normal / hard) and the IPO code\'s diagonal')
  .option('--domains <list>', 'comma-separated: chat,code,safety-refuse,safety-response (math needs the hub)', 'chat,code,safety-refuse,safety-response')
  .option('--limit-per-domain <n>', 'seeded stratified slice', intArg('--limit-per-domain', 1))
  .option('--seed <s>', 'slice seed', intArg('--seed', 0), 42)
  .addOption(new Option('--method <name>', 'ipo | self-reward | rm').choices(['ipo', 'self-reward', 'rm']).default('ipo'))
  .addOption(presetOption())
  .addOption(truncationOption())
  .addOption(modeOption())
  .option('--max-new-tokens <n>', 'self-reward: tokens to generate', intArg('--max-new-tokens', 1))
  .addOption(apiStyleOption())
  .addOption(batchSizeOption())
  .addOption(prefixReuseOption())
  .addOption(recordOption())
  .action(async (o: ModelOpts & ScoringSpeedOpts & { domains: string; limitPerDomain?: number; seed: number; method: RmBenchMethod; preset: IpoPreset; truncation: IpoTruncation; mode: 'faithful' | 'fixed'; maxNewTokens?: number; apiStyle: ApiStyle; record: boolean }) => {
    const domains = o.domains.split(',').map((d) => d.trim()).filter(Boolean);
    const known = ['chat', 'code', 'math', 'safety-refuse', 'safety-response'];
    const bad = domains.find((d) => !known.includes(d));
    if (bad) throw new Error(`unknown RM-Bench domain '${bad}': use ${known.join(', ')}`);
    await withScorer(o, async (m) => {
      const run = await runRmBench(m, { domains: domains as RmBenchFileDomain[], limitPerDomain: o.limitPerDomain, seed: o.seed, method: o.method, preset: o.preset, truncation: o.truncation, mode: o.mode, maxNewTokens: o.maxNewTokens, batchSize: o.batchSize, prefixReuse: o.prefixReuse });
      const json = { ...rmBenchRunJson(run), ...(await chatJson(m, o.mode)) };
      if (o.record) await saveRecord(await import('../lib/report/records.ts').then((r) => r.recordFromRmBenchRun(run)));
      print(o, json, () => {
        const pct = (x: number) => (100 * x).toFixed(1).padStart(5);
        const lines = [`RM-Bench — ${run.model} (${run.method})`, 'domain            n   easy  normal   hard    avg'];
        for (const d of run.pooled.present) { const g = run.pooled.groups[d]; lines.push(`${d.padEnd(14)} ${String(g.n).padStart(4)}  ${pct(g.easy)}  ${pct(g.normal)}  ${pct(g.hard)}  ${pct(g.avg)}`); }
        lines.push(`mean                ${pct(run.pooled.easy)}  ${pct(run.pooled.normal)}  ${pct(run.pooled.hard)}  ${pct(run.pooled.overall)}`);
        const iv = run.intervals;
        lines.push(iv.warning ? `95% CI: n/a (${iv.warning})` : `overall 95% CI [${pct(iv.overall.lo).trim()}, ${pct(iv.overall.hi).trim()}] (items resampled within domains, ${iv.iterations} replicates)`);
        if (run.pooled.missing.length) lines.push(`missing domains: ${run.pooled.missing.join(', ')} (means are over the domains present)`);
        const dropped = run.load.dropped;
        if (dropped.length) lines.push(`malformed rows dropped: ${dropped.length} (first: ${dropped[0].domain} row ${dropped[0].index + 1}: ${dropped[0].reason})`);
        lines.push(`IPO-code diagonal (level_1..3, %): ${JSON.stringify(run.diagonal)}`);
        const trunc = formatTruncation(run.truncation, o.truncation);
        if (trunc) lines.push(trunc);
        return lines.join('\n');
      });
    }, 'rmbench');
  });

program
  .command('export-onnx')
  .description('write a Llama-family model (folder, shared name, hub id, or a DPO-trained policy folder) as ONNX for transformers.js')
  .addOption(modelOption())
  .requiredOption('--out <dir>', 'output folder (config.json, tokenizer files, onnx/model.onnx)')
  .option('--no-past', 'export without past_key_values inputs/outputs (no KV cache)')
  .option('--opset <n>', 'ONNX opset', intArg('--opset', 13), 17)
  .addOption(new Option('--quantize <dtype>', 'also write onnx/model_quantized.onnx: int8 weight MatMuls as onnxruntime quantize_dynamic (load it with --engine onnx --dtype q8)').choices(['q8']))
  .addOption(jsonOption())
  .action(async (o: { model: string; out: string; past: boolean; opset: number; quantize?: 'q8'; json?: boolean }) => {
    const { exportOnnxFromRef } = await import('../lib/models/export-onnx.ts');
    const { displayPath } = await import('../lib/util/paths.ts');
    const r = await exportOnnxFromRef(o.model, o.out, { withPast: o.past, opset: o.opset, quantize: o.quantize });
    const q = r.quantized;
    print(o, {
      outDir: r.outDir, onnx: r.onnxPath, bytes: r.bytes, nodes: r.nodes, opset: r.opset, inputs: r.inputs, outputs: r.outputs,
      ...(q ? { quantized: { onnx: q.onnxPath, bytes: q.bytes, nodes: q.nodes, quantizedMatMuls: q.quantizedMatMuls, lmHeadQuantized: q.lmHeadQuantized } } : {}),
    }, () => [
      `wrote ${displayPath(r.onnxPath)} (${(r.bytes / 1e6).toFixed(1)} MB, ${r.nodes} nodes, opset ${r.opset}); load it with --engine onnx --model ${displayPath(r.outDir)}`,
      ...(q ? [`wrote ${displayPath(q.onnxPath)} (${(q.bytes / 1e6).toFixed(1)} MB, ${q.quantizedMatMuls} int8 MatMuls); load it with --engine onnx --dtype q8 --model ${displayPath(r.outDir)}`] : []),
    ].join('\n'));
  });

program
  .command('make-model')
  .description('write a RANDOM-WEIGHT model with the exact shapes of a real config (safetensors + ONNX), for benchmarks')
  .requiredOption('--like <config>', 'config.json (or a model folder) whose shapes to copy; tokenizer files are taken from its folder')
  .requiredOption('--out <dir>', 'output folder')
  .option('--seed <s>', 'weight seed', intArg('--seed', 0), 0)
  .option('--no-onnx', 'write safetensors only')
  .addOption(jsonOption())
  .action(async (o: { like: string; out: string; seed: number; onnx: boolean; json?: boolean }) => {
    const { makeRandomModel } = await import('../lib/models/make-model.ts');
    const r = makeRandomModel({ like: o.like, outDir: o.out, seed: o.seed, onnx: o.onnx });
    print(o, { outDir: r.outDir, parameters: r.numParameters, seed: r.seed, files: r.files, randomWeights: true },
      () => `wrote RANDOM-WEIGHT model (${(r.numParameters / 1e6).toFixed(1)}M parameters, seed ${r.seed}) to ${r.outDir} in ${(r.seconds.weights + r.seconds.safetensors + r.seconds.onnx).toFixed(1)} s`);
  });

program
  .command('doctor')
  .description('check the installation: Node, both engines, Jupyter under /usr/bin/python3, the tslab kernel, Chromium, assets, caches')
  .addOption(jsonOption())
  .action(async (o: { json?: boolean }) => {
    const { runDoctor, doctorReport } = await import('../lib/doctor.ts');
    const checks = await runDoctor();
    print(o, { checks, ok: checks.every((c) => c.status !== 'fail') }, () => doctorReport(checks));
    if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
  });

registerTrainingCommands(program);
registerToyCommands(program);
(await import('./web-commands.ts')).registerWebCommands(program);
(await import('./serve-commands.ts')).registerServeCommands(program);
(await import('./report-commands.ts')).registerReportCommands(program);

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = e as Error & { code?: string; exitCode?: number };
  if (err.code?.startsWith('commander.')) {
    // help/version exit 0; usage errors were already printed as one line by outputError
    process.exit(err.exitCode ?? 1);
  }
  if (process.env.IPO_DEBUG === '1') console.error(err);
  else process.stderr.write(`ipo: ${String(err.message ?? err).split('\n')[0]}\n`);
  process.exit(1);
}
