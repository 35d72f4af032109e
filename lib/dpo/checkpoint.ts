/**
 * Training checkpoints: one folder per saved step holding everything a resumed run needs to end with the same weights
 * as an uninterrupted one — nanoGPT's `{'model', 'optimizer', 'model_args', 'iter_num', 'config'}` plus the rng:
 *
 *   DIR/checkpoints/step-000040/
 *     state.json             step, run hash, training arguments, rng state, metrics so far
 *     trainable.safetensors  the trained tensors (LoRA A/B in PEFT names, or the full weights for full fine-tuning)
 *     optimizer.safetensors  AdamW moments (and any other optimizer tensors)
 *
 * A folder is written under a temporary name and renamed when complete, so a run killed while saving leaves the
 * previous checkpoint intact; the newest `keep` (default 2, like the official `save_total_limit=2`) are kept.
 * The rng needs no saved stream: data order and dropout masks are pure functions of (seed, epoch, step).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../models/safetensors';
import type { WeightMap } from '../models/types';

export interface CheckpointState {
  version: 1;
  /** `dpo` or `sft`. */
  kind: string;
  /** Optimizer steps completed. */
  step: number;
  totalSteps: number;
  /** Hash of everything that defines the run (arguments, data, base model): a checkpoint resumes only its own run. */
  runHash: string;
  /** How the rng continues: every random draw is derived from this seed and the step/epoch. */
  rng: { seed: number; derivation: string };
  /** Training arguments as given. */
  args: Record<string, unknown>;
  /** Anything else the trainer wants back (optimizer scalars, best eval, …). */
  extra: Record<string, unknown>;
}

export interface Checkpoint {
  path: string;
  state: CheckpointState;
  tensors: Record<string, WeightMap>;
}

const STEP_DIR = /^step-(\d+)$/;

function checkpointsDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

/** Save a checkpoint atomically; `tensors` maps a file stem (`trainable`, `optimizer`) to its tensors. */
export function saveCheckpoint(outDir: string, state: CheckpointState, tensors: Record<string, WeightMap>, keep = 2): string {
  const root = checkpointsDir(outDir);
  mkdirSync(root, { recursive: true });
  const name = `step-${String(state.step).padStart(6, '0')}`;
  const tmp = join(root, `.${name}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  for (const [stem, w] of Object.entries(tensors)) writeSafetensors(join(tmp, `${stem}.safetensors`), w);
  writeFileSync(join(tmp, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  // prune: the newest `keep` complete checkpoints stay, leftovers of killed saves go
  const steps = listSteps(outDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(join(root, s.name), { recursive: true, force: true });
  for (const f of readdirSync(root)) if (f.startsWith('.') && f.endsWith('.tmp') && f !== `.${name}.${process.pid}.tmp`) rmSync(join(root, f), { recursive: true, force: true });
  return final;
}

function listSteps(outDir: string): { name: string; step: number }[] {
  const root = checkpointsDir(outDir);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ name, m: STEP_DIR.exec(name) }))
    .filter((x) => x.m && existsSync(join(root, x.name, 'state.json')))
    .map((x) => ({ name: x.name, step: Number(x.m![1]) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint under `outDir`, or null. */
export function latestCheckpoint(outDir: string): Checkpoint | null {
  const steps = listSteps(outDir);
  if (steps.length === 0) return null;
  return loadCheckpoint(join(checkpointsDir(outDir), steps[steps.length - 1].name));
}

export function loadCheckpoint(path: string): Checkpoint {
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(join(path, 'state.json'), 'utf8')) as CheckpointState;
  } catch (e) {
    throw new Error(`checkpoint ${path}: unreadable state.json (${(e as Error).message.split('\n')[0]})`);
  }
  if (state.version !== 1) throw new Error(`checkpoint ${path}: unsupported version ${String(state.version)}`);
  const tensors: Record<string, WeightMap> = {};
  for (const f of readdirSync(path)) if (f.endsWith('.safetensors')) tensors[f.slice(0, -'.safetensors'.length)] = readSafetensors(join(path, f));
  return { path, state, tensors };
}

/** Remove every checkpoint of `outDir` (a finished run keeps only its exported model unless asked). */
export function removeCheckpoints(outDir: string): void {
  rmSync(checkpointsDir(outDir), { recursive: true, force: true });
}
