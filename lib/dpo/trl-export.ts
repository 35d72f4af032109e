/**
 * Hand-off to Python TRL, for runs the in-kit tfjs trainer cannot do (GPU, 1B–7B models): write the pairs in TRL's
 * preference format plus a short, readable training script with the official hyperparameters, so that
 *
 *   python3 OUT/train_dpo.py && npx ipo score --model OUT/output/merged ...
 *
 * trains DPO + LoRA and leaves a merged safetensors model the kit loads with `--model DIR`.
 *
 * Files written to `outDir`:
 * - `train.jsonl` (and `eval.jsonl` when `evalPairs` is given): one pair per line, TRL's standard preference format
 *   `{"prompt": str, "chosen": str, "rejected": str}` (https://huggingface.co/docs/trl/dataset_formats); a prompt given
 *   as chat messages is written in the conversational form (`chosen`/`rejected` as one assistant message), which
 *   TRL renders with the tokenizer's chat template. No other keys: TRL only needs these three.
 * - `train_dpo.py`: `lib/dpo/trl_train_dpo.py.txt` with `DEFAULTS` filled in from `hyperparameters` (every value can
 *   be overridden on its command line, `--help` lists them). Written for TRL ≥ 0.29 (DPOConfig / DPOTrainer
 *   `processing_class=` / peft `LoraConfig`, names read at TRL v1.9.0); see the script's docstring.
 * - `README.md`: how to install and run it, and where the merged model lands.
 * Without `evalPairs` an `eval.jsonl` left in `outDir` by an earlier export is removed (the script would use it).
 *
 * `OFFICIAL_DPO_HYPERPARAMETERS` are `DPO/ours.py`'s (shared doc §5.3) with two documented exceptions: the base is
 * loaded in bf16, not 4-bit (`loadIn4bit: true` restores the official QLoRA; bitsandbytes needs CUDA), and the
 * optimizer is chosen at run time (`adamw_torch_fused` on CUDA as the official run, `adamw_torch` elsewhere) unless
 * `optim` is set. The max lengths are TRL ≥ 0.29's defaults (1024, keep_start); the official run's depended on its
 * unpinned TRL (quirk 19).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ChatMessage } from '../models/types';
import { repoRoot } from '../util/paths';

export interface TrlLoraHyperparameters {
  r: number;
  alpha: number;
  dropout: number;
  /** "all-linear" or module names */
  targetModules: string | string[];
}

export interface TrlDpoHyperparameters {
  beta: number;
  /** TRL `loss_type`; the paper's DPO is 'sigmoid' */
  lossType: string;
  learningRate: number;
  lrSchedulerType: string;
  warmupRatio: number;
  maxGradNorm: number;
  numTrainEpochs: number;
  perDeviceTrainBatchSize: number;
  perDeviceEvalBatchSize: number;
  gradientAccumulationSteps: number;
  gradientCheckpointing: boolean;
  bf16: boolean;
  seed: number;
  /** null: adamw_torch_fused on CUDA, adamw_torch otherwise */
  optim: string | null;
  /** TRL max_length (prompt + completion) */
  maxLength: number | null;
  truncationMode: 'keep_start' | 'keep_end';
  /** drop pairs whose prompt has more tokens (TRL ≥ 0.29 has no max_prompt_length) */
  maxPromptLength: number | null;
  /** null: train every weight */
  lora: TrlLoraHyperparameters | null;
  loadIn4bit: boolean;
  loggingSteps: number;
  saveSteps: number;
  saveTotalLimit: number;
  evalSteps: number;
}

/** `DPO/ours.py` (shared doc §5.3); see the file comment for the two exceptions. */
export const OFFICIAL_DPO_HYPERPARAMETERS: Readonly<TrlDpoHyperparameters> = Object.freeze({
  beta: 0.1,
  lossType: 'sigmoid',
  learningRate: 5e-5,
  lrSchedulerType: 'cosine',
  warmupRatio: 0.1,
  maxGradNorm: 0.3,
  numTrainEpochs: 1,
  perDeviceTrainBatchSize: 6,
  perDeviceEvalBatchSize: 3,
  gradientAccumulationSteps: 1,
  gradientCheckpointing: true,
  bf16: true,
  seed: 42,
  optim: null,
  maxLength: 1024,
  truncationMode: 'keep_start',
  maxPromptLength: null,
  lora: Object.freeze({ r: 256, alpha: 128, dropout: 0.05, targetModules: 'all-linear' }),
  loadIn4bit: false,
  loggingSteps: 25,
  saveSteps: 500,
  saveTotalLimit: 2,
  evalSteps: 300,
}) as Readonly<TrlDpoHyperparameters>;

/** A pair to export: TRL's standard (string prompt) or conversational (message prompt) form. */
export interface TrlExportPair {
  prompt: string | ChatMessage[];
  chosen: string;
  rejected: string;
}

export interface TrlExportOptions {
  /** Base model the script trains: a hub id or a local folder (written as given). */
  model: string;
  /** Overrides of `OFFICIAL_DPO_HYPERPARAMETERS` (`lora: null` trains every weight). */
  hyperparameters?: Partial<TrlDpoHyperparameters>;
  /** Held-out pairs, written to eval.jsonl. */
  evalPairs?: readonly TrlExportPair[];
}

export interface TrlExportResult {
  /** `outDir` as given; `files` are joined to it (relative when it was) */
  dir: string;
  files: { train: string; eval?: string; script: string; readme: string };
  rows: { train: number; eval: number };
  hyperparameters: TrlDpoHyperparameters;
}

/** Where the script template lives (read at run time; tslab's CJS transpile has no import.meta). */
export function trlScriptTemplatePath(): string {
  return join(repoRoot(), 'lib', 'dpo', 'trl_train_dpo.py.txt');
}

const DEFAULTS_MARKER = 'DEFAULTS = {}  # @@KIT_DEFAULTS@@';

/** A JSON-like value as a Python literal (None/True/False, floats as JS prints them, strings JSON-escaped). */
export function pythonLiteral(v: unknown, indent = 0): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`pythonLiteral: ${v} has no Python literal here`);
    return String(v);
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => pythonLiteral(x, indent)).join(', ')}]`;
  if (typeof v === 'object') {
    const pad = ' '.repeat(indent + 4);
    const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pad}${JSON.stringify(k)}: ${pythonLiteral(x, indent + 4)},`);
    return entries.length ? `{\n${entries.join('\n')}\n${' '.repeat(indent)}}` : '{}';
  }
  throw new Error(`pythonLiteral: cannot write a ${typeof v}`);
}

function checkHyperparameters(h: TrlDpoHyperparameters): void {
  const fn = 'exportPairsForTrl';
  const pos = (name: keyof TrlDpoHyperparameters, int: boolean) => {
    const v = h[name] as unknown;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v) || (int && !Number.isInteger(v))) throw new Error(`${fn}: hyperparameters.${name} must be a positive ${int ? 'integer' : 'number'}, got ${String(v)}`);
  };
  pos('beta', false); pos('learningRate', false); pos('maxGradNorm', false); pos('numTrainEpochs', false);
  pos('perDeviceTrainBatchSize', true); pos('perDeviceEvalBatchSize', true); pos('gradientAccumulationSteps', true);
  pos('loggingSteps', true); pos('saveSteps', true); pos('saveTotalLimit', true); pos('evalSteps', true);
  if (typeof h.warmupRatio !== 'number' || !(h.warmupRatio >= 0 && h.warmupRatio < 1)) throw new Error(`${fn}: hyperparameters.warmupRatio must be in [0, 1), got ${String(h.warmupRatio)}`);
  if (!Number.isInteger(h.seed)) throw new Error(`${fn}: hyperparameters.seed must be an integer, got ${String(h.seed)}`);
  if (h.truncationMode !== 'keep_start' && h.truncationMode !== 'keep_end') throw new Error(`${fn}: hyperparameters.truncationMode must be 'keep_start' or 'keep_end'`);
  for (const k of ['maxLength', 'maxPromptLength'] as const) {
    const v = h[k];
    if (v !== null && (!Number.isInteger(v) || v < 1)) throw new Error(`${fn}: hyperparameters.${k} must be a positive integer or null, got ${String(v)}`);
  }
  if (h.lora !== null) {
    const l = h.lora;
    if (!l || !Number.isInteger(l.r) || l.r < 1 || typeof l.alpha !== 'number' || !(l.alpha > 0) || typeof l.dropout !== 'number' || !(l.dropout >= 0 && l.dropout < 1)) {
      throw new Error(`${fn}: hyperparameters.lora must be {r: positive integer, alpha > 0, dropout in [0, 1), targetModules} or null`);
    }
    if (!(typeof l.targetModules === 'string' || (Array.isArray(l.targetModules) && l.targetModules.every((m) => typeof m === 'string')))) {
      throw new Error(`${fn}: hyperparameters.lora.targetModules must be "all-linear" or a list of module names`);
    }
  }
  for (const k of ['lossType', 'lrSchedulerType'] as const) if (typeof h[k] !== 'string' || !h[k]) throw new Error(`${fn}: hyperparameters.${k} must be a non-empty string`);
  if (h.optim !== null && typeof h.optim !== 'string') throw new Error(`${fn}: hyperparameters.optim must be a string or null`);
}

/** The script's DEFAULTS dict (snake_case, as the script reads it). */
export function scriptDefaults(model: string, h: TrlDpoHyperparameters): Record<string, unknown> {
  const lora = h.lora ?? OFFICIAL_DPO_HYPERPARAMETERS.lora!;
  return {
    model,
    beta: h.beta,
    loss_type: h.lossType,
    learning_rate: h.learningRate,
    lr_scheduler_type: h.lrSchedulerType,
    warmup_ratio: h.warmupRatio,
    max_grad_norm: h.maxGradNorm,
    num_train_epochs: h.numTrainEpochs,
    per_device_train_batch_size: h.perDeviceTrainBatchSize,
    per_device_eval_batch_size: h.perDeviceEvalBatchSize,
    gradient_accumulation_steps: h.gradientAccumulationSteps,
    gradient_checkpointing: h.gradientCheckpointing,
    bf16: h.bf16,
    seed: h.seed,
    optim: h.optim,
    max_length: h.maxLength,
    truncation_mode: h.truncationMode,
    max_prompt_length: h.maxPromptLength,
    lora: h.lora !== null,
    lora_r: lora.r,
    lora_alpha: lora.alpha,
    lora_dropout: lora.dropout,
    lora_target_modules: Array.isArray(lora.targetModules) ? lora.targetModules.join(',') : lora.targetModules,
    load_in_4bit: h.loadIn4bit,
    logging_steps: h.loggingSteps,
    save_steps: h.saveSteps,
    save_total_limit: h.saveTotalLimit,
    eval_steps: h.evalSteps,
  };
}

/** The training script with `DEFAULTS` filled in. */
export function renderTrlScript(model: string, h: TrlDpoHyperparameters): string {
  const template = readFileSync(trlScriptTemplatePath(), 'utf8');
  if (!template.includes(DEFAULTS_MARKER)) throw new Error(`the TRL script template ${trlScriptTemplatePath()} lost its defaults marker '${DEFAULTS_MARKER}'`);
  return template.replace(DEFAULTS_MARKER, `DEFAULTS = ${pythonLiteral(scriptDefaults(model, h))}`);
}

function rows(fn: string, where: string, pairs: readonly TrlExportPair[]): unknown[] {
  if (!Array.isArray(pairs)) throw new Error(`${fn}: ${where} must be an array of {prompt, chosen, rejected}`);
  return pairs.map((p, i) => {
    if (!p || typeof p !== 'object') throw new Error(`${fn}: ${where}[${i}] must be an object`);
    if (typeof p.chosen !== 'string' || typeof p.rejected !== 'string') throw new Error(`${fn}: ${where}[${i}].chosen and .rejected must be strings`);
    const prompt: unknown = p.prompt;
    if (typeof prompt === 'string') return { prompt, chosen: p.chosen, rejected: p.rejected };
    if (Array.isArray(prompt) && prompt.every((m: ChatMessage) => m && typeof m.role === 'string' && typeof m.content === 'string')) {
      return {
        prompt: (prompt as ChatMessage[]).map((m) => ({ role: m.role, content: m.content })),
        chosen: [{ role: 'assistant', content: p.chosen }],
        rejected: [{ role: 'assistant', content: p.rejected }],
      };
    }
    throw new Error(`${fn}: ${where}[${i}].prompt must be a string or a list of {role, content} messages`);
  });
}

function readme(model: string, h: TrlDpoHyperparameters, n: { train: number; eval: number }): string {
  const lora = h.lora ? `LoRA r=${h.lora.r}, alpha=${h.lora.alpha}, dropout=${h.lora.dropout}, target_modules=${JSON.stringify(h.lora.targetModules)}` : 'full fine-tuning (no LoRA)';
  return `# DPO with TRL on pairs exported by the IPO kit

- \`train.jsonl\`: ${n.train} pairs${n.eval ? `; \`eval.jsonl\`: ${n.eval} held-out pairs` : ''} (TRL preference format: prompt / chosen / rejected)
- \`train_dpo.py\`: DPO (beta ${h.beta}, loss ${h.lossType}) with ${lora}, lr ${h.learningRate} ${h.lrSchedulerType},
  warmup ${h.warmupRatio}, max_grad_norm ${h.maxGradNorm}, ${h.numTrainEpochs} epoch(s), batch ${h.perDeviceTrainBatchSize},
  seed ${h.seed}, max_length ${h.maxLength ?? 'none'} (${h.truncationMode}); defaults of the official IPO run
  (DPO/ours.py). \`python3 train_dpo.py --help\` lists every option.
- base model: \`${model}\`

## Run

\`\`\`sh
pip install "trl>=0.29" peft datasets torch      # + bitsandbytes for --load-in-4bit (the official QLoRA)
python3 train_dpo.py                             # CPU or small GPU: add --no-bf16 where bf16 is unsupported
\`\`\`

The adapter is saved to \`output/adapter\`, merged into the base weights and saved with the tokenizer to
\`output/merged\` (safetensors). Load it in the kit with \`--model <this folder>/output/merged\`, e.g.

\`\`\`sh
npx ipo score --model <this folder>/output/merged --instruction "What is 2+3?" --response "5" --json
\`\`\`
`;
}

/**
 * Write `pairs` (and `evalPairs`) for TRL plus `train_dpo.py` and `README.md` into `outDir` (created).
 * Returns the files written and the hyperparameters used.
 */
export function exportPairsForTrl(pairs: readonly TrlExportPair[], outDir: string, opts: TrlExportOptions): TrlExportResult {
  const fn = 'exportPairsForTrl';
  if (!opts || typeof opts.model !== 'string' || !opts.model) throw new Error(`${fn}: options.model (the base model's hub id or folder) is required`);
  const train = rows(fn, 'pairs', pairs);
  if (!train.length) throw new Error(`${fn}: no pairs to export`);
  const evalRows = opts.evalPairs === undefined ? null : rows(fn, 'evalPairs', opts.evalPairs);
  const h: TrlDpoHyperparameters = { ...OFFICIAL_DPO_HYPERPARAMETERS, ...(opts.hyperparameters ?? {}) } as TrlDpoHyperparameters;
  checkHyperparameters(h);
  if (typeof outDir !== 'string' || !outDir) throw new Error(`${fn}: outDir must be a folder path`);
  const dir = outDir; // returned paths stay as the caller wrote them (relative in, relative out)
  mkdirSync(resolve(dir), { recursive: true });
  const jsonl = (rs: unknown[]) => rs.map((r) => `${JSON.stringify(r)}\n`).join('');
  const files: TrlExportResult['files'] = { train: join(dir, 'train.jsonl'), script: join(dir, 'train_dpo.py'), readme: join(dir, 'README.md') };
  writeFileSync(files.train, jsonl(train));
  if (evalRows) {
    files.eval = join(dir, 'eval.jsonl');
    writeFileSync(files.eval, jsonl(evalRows));
  } else {
    rmSync(join(dir, 'eval.jsonl'), { force: true }); // a stale one would be picked up by the script's --eval default
  }
  writeFileSync(files.script, renderTrlScript(opts.model, h), { mode: 0o755 });
  const n = { train: train.length, eval: evalRows ? evalRows.length : 0 };
  writeFileSync(files.readme, readme(opts.model, h, n));
  return { dir, files, rows: n, hyperparameters: h };
}
