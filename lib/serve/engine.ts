/**
 * What `ipo serve` asks of the engine, on top of `CausalLM`: one queue so engine calls never overlap (a request's
 * generate and log-prob passes run as one job; the tf engine computes on one wasm thread anyway, so overlapping
 * requests would only interleave their KV caches and add memory), generation with stop strings, and per-position
 * log-probs (see logprobs.ts for what the numbers are).
 *
 * Generation runs the engine's own `generate` (its KV cache and seeded sampler, so a seed gives exactly the tokens
 * `ipo generate --seed` gives), then stop strings are applied to the decoded text: generation is causal and the
 * sampler consumes its random stream in order, so cutting afterwards gives the same tokens as stopping early.
 */
import type { CausalLM } from '../models/types';
import { decodeText, topK, type PositionLogprobs } from './logprobs';

/** Runs jobs one at a time in arrival order; a failed job does not block the next. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.tail.then(job);
    this.tail = p.then(() => undefined, () => undefined);
    return p;
  }
}

/**
 * Per-position log-probs of `tokens` after `context` (context non-empty); `k` null or 0 = the tokens' own values only.
 * - `k > 0`: one `nextTokenLogProbs(context + tokens[:j])` call per position, and every number at that position
 *   (the token's own value and its alternatives) is read from it, so the P(Yes) path (max_tokens 1) returns exactly
 *   `nextTokenLogProbs(prompt)`. One call per prefix, not a padded batch: batching changes float32 rounding
 *   (~1e-5 at |log p| ~ 8 on the tf engine), and the CausalLM interface has no all-positions call, so echo with
 *   `logprobs > 0` on an n-token prompt costs ~n²/2 token positions.
 * - `k` 0 / null: one teacher-forced `continuationLogProb(context, tokens)` pass, so the exact-preset path (echo,
 *   max_tokens 0, logprobs 0) returns exactly `continuationLogProb`. A last generated token past the context (a
 *   full-length prompt, see checkContext) is read from `nextTokenLogProbs` of the sequence before it.
 */
async function positionsAfter(model: CausalLM, context: number[], tokens: number[], k: number | null): Promise<PositionLogprobs[]> {
  if (tokens.length === 0) return [];
  if (k !== null && k > 0) {
    const out: PositionLogprobs[] = [];
    for (let j = 0; j < tokens.length; j++) {
      const logp = await model.nextTokenLogProbs([...context, ...tokens.slice(0, j)]);
      out.push({ id: tokens[j], logprob: logp[tokens[j]], top: topK(logp, k).map((id) => ({ id, logprob: logp[id] })) });
    }
    return out;
  }
  const fit = Math.max(0, Math.min(tokens.length, model.maxLength - context.length));
  const perToken = fit > 0 ? [...(await model.continuationLogProb(context, tokens.slice(0, fit))).perToken] : [];
  for (let j = fit; j < tokens.length; j++) perToken.push((await model.nextTokenLogProbs([...context, ...tokens.slice(0, j)]))[tokens[j]]);
  return tokens.map((id, j) => ({ id, logprob: perToken[j], top: k === null ? null : [] }));
}

/** Log-probs of an echoed prompt: the first token has none (nothing before it), the rest teacher-forced. */
export async function promptLogprobs(model: CausalLM, ids: number[], k: number | null): Promise<PositionLogprobs[]> {
  if (ids.length === 0) return [];
  return [{ id: ids[0], logprob: null, top: null }, ...(await positionsAfter(model, ids.slice(0, 1), ids.slice(1), k))];
}

/** Log-probs of generated `tokens` after `promptIds`. */
export function generatedLogprobs(model: CausalLM, promptIds: number[], tokens: number[], k: number | null): Promise<PositionLogprobs[]> {
  return positionsAfter(model, promptIds, tokens, k);
}

export interface SampleOptions {
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  /** Stop strings: the text ends before the first occurrence, finish_reason 'stop'. */
  stop: string[];
  /** Ids that end generation (kept in the tokens, removed from the text as special tokens are). */
  stopTokenIds: number[];
}

export interface Sampled {
  /** Generated ids kept (through the token that completed a stop string or the stop id). */
  tokens: number[];
  text: string;
  finishReason: 'stop' | 'length';
}

/** Generate after `promptIds` and apply stop strings. */
export async function sample(model: CausalLM, promptIds: number[], o: SampleOptions): Promise<Sampled> {
  if (o.maxTokens === 0) return { tokens: [], text: '', finishReason: 'length' };
  const gen = await model.generate(promptIds, {
    maxNewTokens: o.maxTokens, temperature: o.temperature, topP: o.topP, seed: o.seed, stopTokenIds: o.stopTokenIds,
  });
  const full = decodeText(model, gen);
  if (o.stop.length && o.stop.some((s) => full.includes(s))) {
    for (let j = 1; j <= gen.length; j++) {
      const text = decodeText(model, gen.slice(0, j));
      const cut = Math.min(...o.stop.map((s) => text.indexOf(s)).filter((x) => x >= 0));
      if (Number.isFinite(cut)) return { tokens: gen.slice(0, j), text: text.slice(0, cut), finishReason: 'stop' };
    }
  }
  const stopped = gen.length > 0 && o.stopTokenIds.includes(gen[gen.length - 1]);
  return { tokens: gen, text: full, finishReason: stopped ? 'stop' : 'length' };
}
