/**
 * Write a trained policy as an ordinary model folder — `config.json`, `model.safetensors`, the tokenizer files and a
 * README — so every kit command loads it with `--model DIR` (tf engine) and `ipo export-onnx` turns it into an ONNX
 * folder for the fast engine. This is the kit's `merge_and_unload()` + `save_pretrained()` (official
 * `DPO/merge_peft.py`): LoRA adapters are merged into the base weights before they reach this function.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { displayPath } from '../util/paths';
import { copyTokenizerFiles, ensureWritableDir, toHfConfig } from '../models/export-onnx';
import { writeSafetensors } from '../models/safetensors';
import type { LlamaConfig, WeightMap } from '../models/types';

export interface SavedModelInfo {
  /** What produced the weights, e.g. `dpo` or `sft`. */
  trainer: string;
  /** The model the run started from (as the user named it). */
  baseModel: string;
  steps: number;
  /** Extra facts for config.json `_ipo_training` and the README (hyperparameters, data). */
  details?: Record<string, unknown>;
}

export { displayPath };

/**
 * Save `weights` (PyTorch layout, Hugging Face names) as a model folder in `outDir`, with the config and tokenizer of
 * `baseDir`. Returns the files written.
 */
export function saveModelFolder(outDir: string, baseDir: string, config: LlamaConfig, weights: WeightMap, info: SavedModelInfo): string[] {
  ensureWritableDir(outDir);
  let raw: Record<string, unknown> = {};
  const baseConfig = join(baseDir, 'config.json');
  if (existsSync(baseConfig)) {
    try {
      raw = JSON.parse(readFileSync(baseConfig, 'utf8')) as Record<string, unknown>;
    } catch {
      raw = {};
    }
  }
  // a trained model is no longer the random-weights benchmark model it may have started from
  for (const k of Object.keys(raw)) if (k.startsWith('_ipo_random')) delete raw[k];
  const training = { trainer: info.trainer, base_model: info.baseModel, steps: info.steps, ...(info.details ?? {}) };
  const hf = toHfConfig(config, raw, { _ipo_training: training });
  // toHfConfig points transformers.js at onnx/model.onnx; this folder has safetensors only until export-onnx runs
  writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(hf, null, 2)}\n`);
  writeSafetensors(join(outDir, 'model.safetensors'), weights, {
    metadata: { format: 'pt', trainer: `ipo-notebook-kit ${info.trainer}`, base_model: info.baseModel, steps: String(info.steps) },
  });
  const files = ['config.json', 'model.safetensors', ...copyTokenizerFiles(baseDir, outDir)];
  const readme = [
    `# ${info.trainer.toUpperCase()} policy trained with the IPO notebook kit`,
    '',
    `- base model: \`${info.baseModel}\``,
    `- trainer: ${info.trainer}, ${info.steps} optimizer steps`,
    ...Object.entries(info.details ?? {}).map(([k, v]) => `- ${k}: \`${typeof v === 'string' ? v : JSON.stringify(v)}\``),
    '',
    'Load it with `--model <this folder>` (tf engine), or `ipo export-onnx --model <this folder> --out <dir>` for the onnx engine.',
    'Weights are the merged policy (LoRA adapters, if any, added into the base weights), float32, Hugging Face names.',
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'README.md'), readme);
  files.push('README.md');
  return files;
}
