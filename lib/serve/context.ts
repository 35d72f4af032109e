/**
 * What every endpoint of `ipo serve` shares: the model, its served name, the log-prob cap, the engine queue and the
 * token-string renderer; plus the request fields completions and chat read the same way.
 */
import type { CausalLM } from '../models/types';
import { fnv1a } from '../util/rng';
import { SerialQueue } from './engine';
import { ApiError, badRequest } from './errors';
import { TokenStrings } from './logprobs';
import { optBool, optInt, optNumber, optString, readStop, readStopTokenIds, rejectUnsupported, type Body } from './validate';

export interface ServerContext {
  model: CausalLM;
  modelName: string;
  maxLogprobs: number;
  queue: SerialQueue;
  strings: TokenStrings;
}

/** Most choices one request may ask for (prompts × n), so one request cannot hold the engine for hours. */
export const MAX_CHOICES = 256;

/** `model` must be absent or the served name (vLLM: 404 "The model `x` does not exist."). */
export function checkModel(ctx: ServerContext, b: Body): void {
  const name = optString(b, 'model');
  if (name !== undefined && name !== ctx.modelName) {
    throw new ApiError(404, `The model '${name}' does not exist (this server serves '${ctx.modelName}')`, 'model', 'model_not_found');
  }
}

export interface SamplingFields {
  temperature: number;
  topP: number;
  n: number;
  /** One seed per choice index: choice 0 uses the request's seed as is (so it matches `ipo generate --seed`). */
  seeds: number[];
  stop: string[];
  stopTokenIds: number[];
  asIds: boolean;
}

/**
 * The sampling fields both endpoints take: temperature [1] (0 = greedy), top_p [1], n [1], seed [random], stop,
 * vLLM's ignore_eos / stop_token_ids / return_tokens_as_token_ids. Unsupported fields with a non-neutral value are a 400.
 */
export function readSampling(ctx: ServerContext, b: Body): SamplingFields {
  rejectUnsupported(b);
  const temperature = optNumber(b, 'temperature', { min: 0 }) ?? 1;
  const topP = optNumber(b, 'top_p', { min: 0, minExclusive: true, max: 1 }) ?? 1;
  const n = optInt(b, 'n', { min: 1, max: MAX_CHOICES }) ?? 1;
  const seed = optInt(b, 'seed', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }) ?? Math.floor(Math.random() * 2 ** 31);
  const seeds = Array.from({ length: n }, (_, i) => (i === 0 ? seed : fnv1a(`${seed}:${i}`)));
  const stop = readStop(b);
  const ignoreEos = optBool(b, 'ignore_eos') ?? false;
  const stopTokenIds = [...(ignoreEos ? [] : ctx.model.eosTokenIds), ...readStopTokenIds(b, ctx.model.vocabSize)];
  const asIds = optBool(b, 'return_tokens_as_token_ids') ?? false;
  return { temperature, topP, n, seeds, stop, stopTokenIds, asIds };
}

/**
 * Context check. The engine runs every forward pass within `maxLength` positions and never feeds the last generated
 * token back, so `prompt + max_tokens <= maxLength + 1` (one more than vLLM allows: a full-length prompt can still
 * give its next-token distribution, which IPO's P(Yes) needs). Echo of the prompt alone needs `prompt <= maxLength`.
 */
export function checkContext(ctx: ServerContext, promptTokens: number, maxTokens: number, param: string): void {
  const limit = ctx.model.maxLength;
  if (promptTokens > limit || promptTokens + maxTokens > limit + 1) {
    throw badRequest(
      `This model's maximum context length is ${limit} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the prompt, ${maxTokens} for the completion). Please reduce the prompt or the completion length.`,
      param, 'context_length_exceeded',
    );
  }
}

export const requestId = (prefix: string): string => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
export const unixNow = (): number => Math.floor(Date.now() / 1000);
