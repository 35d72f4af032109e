/**
 * `POST /v1/completions` (OpenAI's legacy completions, as vLLM serves it): the path the kit's api engine uses for
 * IPO's P(Yes) (token-id prompt, `max_tokens: 1`, `logprobs: k`, `return_tokens_as_token_ids`) and for the `exact`
 * preset (`echo: true, max_tokens: 0`: the prompt's teacher-forced log-probs).
 *
 * Prompts: a string (encoded with the model's special tokens, i.e. BOS, as vLLM does with add_special_tokens true),
 * a list of strings, a list of token ids (used exactly as given, no BOS added) or a list of such lists. Choices are
 * ordered prompt by prompt, n per prompt (OpenAI's order); usage counts each prompt once.
 */
import type { CausalLM } from '../models/types';
import { checkContext, checkModel, MAX_CHOICES, readSampling, requestId, unixNow, type ServerContext } from './context';
import { generatedLogprobs, promptLogprobs, sample } from './engine';
import { badRequest } from './errors';
import { completionLogprobs, decodeText, textOffsets } from './logprobs';
import { asBody, checkIds, optBool, optInt, type Body } from './validate';

interface Prompt {
  ids: number[];
  /** The prompt as the client sent it (string prompts); echo shows this text. */
  text: string | null;
}

function readPrompts(model: CausalLM, b: Body): Prompt[] {
  const v = b.prompt;
  if (v === undefined || v === null) throw badRequest("'prompt' is required", 'prompt');
  const addSpecial = optBool(b, 'add_special_tokens') ?? true;
  const fromString = (s: string): Prompt => {
    if (s.length === 0) throw badRequest("'prompt' must not be empty", 'prompt');
    const ids = model.encode(s, { addSpecialTokens: addSpecial });
    if (ids.length === 0) throw badRequest("'prompt' encodes to no tokens", 'prompt');
    return { ids, text: s };
  };
  const fromIds = (a: unknown[]): Prompt => {
    if (a.length === 0) throw badRequest("'prompt' must not be an empty token list", 'prompt');
    return { ids: checkIds(a, 'prompt', model.vocabSize), text: null };
  };
  if (typeof v === 'string') return [fromString(v)];
  if (!Array.isArray(v)) throw badRequest(`'prompt' must be a string, a list of strings, a list of token ids or a list of such lists, got ${typeof v}`, 'prompt');
  if (v.length === 0) throw badRequest("'prompt' must not be an empty list", 'prompt');
  if (v.every((x) => typeof x === 'string')) return (v as string[]).map(fromString);
  if (v.every((x) => typeof x === 'number')) return [fromIds(v)];
  if (v.every((x) => Array.isArray(x))) return (v as unknown[][]).map(fromIds);
  throw badRequest("'prompt' mixes strings, numbers and lists: send one kind", 'prompt');
}

export async function createCompletion(ctx: ServerContext, raw: unknown): Promise<Record<string, unknown>> {
  const b = asBody(raw);
  checkModel(ctx, b);
  const { model } = ctx;
  const prompts = readPrompts(model, b);
  const echo = optBool(b, 'echo') ?? false;
  const maxTokens = optInt(b, 'max_tokens', { min: 0 }) ?? 16;
  if (maxTokens === 0 && !echo) throw badRequest("'max_tokens' 0 is allowed only with echo true (the prompt's log-probs)", 'max_tokens');
  const k = optInt(b, 'logprobs', { min: 0, max: ctx.maxLogprobs }) ?? null;
  const s = readSampling(ctx, b);
  const bestOf = optInt(b, 'best_of', { min: 1 });
  if (bestOf !== undefined && bestOf !== s.n) throw badRequest(`'best_of' other than n is not supported (best_of ${bestOf}, n ${s.n})`, 'best_of');
  if (prompts.length * s.n > MAX_CHOICES) throw badRequest(`at most ${MAX_CHOICES} choices per request (prompts × n = ${prompts.length * s.n})`, 'n');
  prompts.forEach((p) => checkContext(ctx, p.ids.length, maxTokens, 'prompt'));

  const choices = await ctx.queue.run(async () => {
    const out: Record<string, unknown>[] = [];
    for (const p of prompts) {
      // prompt log-probs do not depend on the sample: computed once per prompt
      const echoed = echo && k !== null ? await promptLogprobs(model, p.ids, k) : null;
      for (let i = 0; i < s.n; i++) {
        const g = await sample(model, p.ids, { maxTokens, temperature: s.temperature, topP: s.topP, seed: s.seeds[i], stop: s.stop, stopTokenIds: s.stopTokenIds });
        const promptText = echo ? (p.text ?? decodeText(model, p.ids)) : '';
        const text = promptText + g.text;
        let logprobs: unknown = null;
        if (k !== null) {
          const gen = await generatedLogprobs(model, p.ids, g.tokens, k);
          const offsets = [
            ...(echo ? textOffsets(model, p.ids, 0, promptText.length) : []),
            ...textOffsets(model, g.tokens, promptText.length, g.text.length),
          ];
          logprobs = completionLogprobs([...(echoed ?? []), ...gen], offsets, ctx.strings, s.asIds);
        }
        out.push({ index: out.length, text, logprobs, finish_reason: g.finishReason, completionTokens: g.tokens.length });
      }
    }
    return out;
  });
  const completionTokens = choices.reduce((a, c) => a + (c.completionTokens as number), 0);
  const promptTokens = prompts.reduce((a, p) => a + p.ids.length, 0);
  return {
    id: requestId('cmpl'),
    object: 'text_completion',
    created: unixNow(),
    model: ctx.modelName,
    choices: choices.map(({ completionTokens: _, ...c }) => c),
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  };
}
