/**
 * The judges' generation step (`./self-reward`, `./binary-judge`): option resolution shared by both judges
 * (generation knobs, truncation length, chat template switch) and `judgeGenerate`: prompt string → ids (raw text
 * with special tokens, or the model's chat template) → right truncation → `model.generate` → decoded texts.
 */
import type { CausalLM } from '../models/types';
import { checkEnum, checkPositiveInt, describe } from '../util/check';

/**
 * Decoding of the judges' generations.
 * - `'greedy'` (default): argmax. The official local scripts call `generate(…, temperature=0.1)` WITHOUT
 *   `do_sample`, so the model's `generation_config.json` decides (quirk #12): models whose config has no
 *   `do_sample: true` (Mistral-7B-v0.1) decode greedily and ignore the temperature.
 * - `'sampled'`: temperature (default 0.1) + top-p sampling with a seeded generator, i.e. what happens for models whose
 *   generation_config sets `do_sample: true` (Llama-3.x-Instruct and Qwen2.5-Instruct per the doc, [UNVERIFIED];
 *   those configs also set a top_p, e.g. 0.9 / 0.8, which `generate` keeps: pass `topP` to mimic it).
 */
export type JudgeSampling = 'greedy' | 'sampled';

/** Generation and input knobs shared by both judges. */
export interface JudgeGenerationOptions {
  /** Apply the model's chat template (one user turn, generation prompt open). Default false: raw text, as the official code. */
  chatTemplate?: boolean;
  /** Right truncation of the prompt ids (the first `maxLength` ids are kept, BOS counted). Default 2048. */
  maxLength?: number;
  /** Tokens to generate. Default 200. */
  maxNewTokens?: number;
  /** Default `'greedy'` (see `JudgeSampling`). */
  sampling?: JudgeSampling;
  /** Sampling temperature when `sampling: 'sampled'`. Default 0.1 (the official value). Ignored when greedy. */
  temperature?: number;
  /** Nucleus mass when sampled. Default 1 (no top-p; HF's default). Ignored when greedy. */
  topP?: number;
  /** Seed of the sampler (each generation call restarts from it). Default 42. Ignored when greedy. */
  seed?: number;
}

export interface ResolvedGeneration {
  chatTemplate: boolean;
  maxLength: number;
  maxNewTokens: number;
  sampling: JudgeSampling;
  /** 0 when greedy. */
  temperature: number;
  /** 1 when greedy. */
  topP: number;
  /** 0 when greedy (unused, kept out of cache keys' way). */
  seed: number;
}

export const JUDGE_DEFAULT_MAX_LENGTH = 2048;
export const JUDGE_DEFAULT_MAX_NEW_TOKENS = 200;
export const JUDGE_DEFAULT_TEMPERATURE = 0.1;
export const JUDGE_DEFAULT_SEED = 42;

export function resolveGeneration(fn: string, o: JudgeGenerationOptions, defaults: { maxLength?: number; maxNewTokens?: number } = {}): ResolvedGeneration {
  if (o.chatTemplate !== undefined && typeof o.chatTemplate !== 'boolean') throw new Error(`${fn}: chatTemplate must be a boolean, got ${describe(o.chatTemplate)}`);
  const maxLength = checkPositiveInt(fn, 'maxLength', o.maxLength, defaults.maxLength ?? JUDGE_DEFAULT_MAX_LENGTH);
  const maxNewTokens = checkPositiveInt(fn, 'maxNewTokens', o.maxNewTokens, defaults.maxNewTokens ?? JUDGE_DEFAULT_MAX_NEW_TOKENS);
  const sampling = checkEnum(fn, 'sampling', o.sampling, ['greedy', 'sampled'] as const, 'greedy');
  const temperature = o.temperature ?? JUDGE_DEFAULT_TEMPERATURE;
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`${fn}: temperature must be a positive number, got ${String(temperature)} (use sampling: 'greedy' for argmax decoding)`);
  }
  const topP = o.topP ?? 1;
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) throw new Error(`${fn}: topP must be in (0, 1], got ${String(topP)}`);
  const seed = o.seed ?? JUDGE_DEFAULT_SEED;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new Error(`${fn}: seed must be an integer, got ${String(seed)}`);
  const sampled = sampling === 'sampled';
  return {
    chatTemplate: o.chatTemplate ?? false,
    maxLength, maxNewTokens, sampling,
    temperature: sampled ? temperature : 0,
    topP: sampled ? topP : 1,
    seed: sampled ? seed : 0,
  };
}

/** One judge generation: what went in and what came out. */
export interface JudgeGeneration {
  /** The ids the model was conditioned on, after truncation. */
  promptIds: number[];
  /** The generated ids (continuation only). */
  generatedIds: number[];
  /** `decode(generatedIds)` (special tokens skipped). */
  generated: string;
  /** `decode(promptIds + generatedIds)` (special tokens skipped): what the official local scripts parse. */
  decoded: string;
  /** True when truncation removed prompt ids. */
  truncated: boolean;
}

/**
 * The prompt length actually used: `maxLength`, capped so that `maxNewTokens` still fit in the model's context
 * (`model.maxLength − maxNewTokens`, at least 1). For every model of the paper (≥ 4k positions) the cap changes
 * nothing; for TinyStories-656K (512 positions) it keeps room for the judge's answer.
 */
export function effectivePromptLength(model: CausalLM, g: ResolvedGeneration): number {
  const room = Number.isFinite(model.maxLength) && model.maxLength > 0 ? Math.max(1, model.maxLength - g.maxNewTokens) : Infinity;
  return Math.min(g.maxLength, room);
}

/**
 * Encode `prompt` (raw: `encode(prompt)` with special tokens, as `tokenizer(prompt)`; chat template:
 * `encode(applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), no special tokens)`,
 * as HF `apply_chat_template(tokenize=True)`), keep the first ids (right truncation, `tokenizer(…, truncation=True)`),
 * generate, decode.
 */
export async function judgeGenerate(model: CausalLM, prompt: string, g: ResolvedGeneration): Promise<JudgeGeneration> {
  const full = g.chatTemplate
    ? model.encode(model.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false })
    : model.encode(prompt);
  const max = effectivePromptLength(model, g);
  const promptIds = full.length > max ? full.slice(0, max) : full;
  const generatedIds = await model.generate(promptIds, {
    maxNewTokens: g.maxNewTokens,
    temperature: g.temperature,
    topP: g.topP,
    seed: g.seed,
  });
  return {
    promptIds,
    generatedIds,
    generated: model.decode(generatedIds),
    decoded: model.decode([...promptIds, ...generatedIds]),
    truncated: promptIds.length < full.length,
  };
}
