/**
 * `POST /v1/chat/completions`: the prompt is the model's chat template over `messages` with the generation prompt
 * (`model.applyChatTemplate(messages, {addGenerationPrompt: true})`), encoded without adding special tokens (the
 * template writes BOS itself; vLLM's chat default `add_special_tokens: false`). A model without a chat template is a
 * 400 pointing at /v1/completions. This is the path of the official *_gpt.py scripts (`logprobs: true,
 * top_logprobs: 10`).
 */
import type { ChatMessage } from '../models/types';
import { checkContext, checkModel, MAX_CHOICES, readSampling, requestId, unixNow, type ServerContext } from './context';
import { generatedLogprobs, sample } from './engine';
import { badRequest, oneLine } from './errors';
import { chatLogprobs } from './logprobs';
import { asBody, optBool, optInt, type Body } from './validate';

/** `messages`: `{role, content}` with content a string or a list of `{type: 'text', text}` parts (joined). */
export function readMessages(b: Body): ChatMessage[] {
  const v = b.messages;
  if (!Array.isArray(v) || v.length === 0) throw badRequest("'messages' must be a non-empty list of {role, content}", 'messages');
  return v.map((m, i) => {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw badRequest(`messages[${i}] must be an object {role, content}`, 'messages');
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !role) throw badRequest(`messages[${i}].role must be a non-empty string`, 'messages');
    if (typeof content === 'string') return { role, content };
    if (Array.isArray(content)) {
      const parts = content.map((part, j) => {
        const p = part as { type?: unknown; text?: unknown } | null;
        if (!p || p.type !== 'text' || typeof p.text !== 'string') throw badRequest(`messages[${i}].content[${j}]: only {type: 'text', text} parts are supported`, 'messages');
        return p.text;
      });
      return { role, content: parts.join('') };
    }
    throw badRequest(`messages[${i}].content must be a string or a list of text parts`, 'messages');
  });
}

/** The chat template's prompt, or a 400 (no template, or the template rejected the conversation). */
export function renderChat(ctx: ServerContext, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  try {
    return ctx.model.applyChatTemplate(messages, { addGenerationPrompt });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (/no chat template/i.test(msg)) {
      throw badRequest(`model '${ctx.modelName}' has no chat template (tokenizer_config.json chat_template): use /v1/completions with a raw prompt`, 'messages', 'no_chat_template');
    }
    // template errors (e.g. raise_exception on role order) are caused by the request; the message names no path
    throw badRequest(`the chat template rejected the messages: ${oneLine(msg)}`, 'messages');
  }
}

export async function createChatCompletion(ctx: ServerContext, raw: unknown): Promise<Record<string, unknown>> {
  const b = asBody(raw);
  checkModel(ctx, b);
  const { model } = ctx;
  if (b.echo === true) throw badRequest('echo is not supported for chat completions: use /v1/completions', 'echo');
  const messages = readMessages(b);
  const prompt = renderChat(ctx, messages, optBool(b, 'add_generation_prompt') ?? true);
  const ids = model.encode(prompt, { addSpecialTokens: optBool(b, 'add_special_tokens') ?? false });
  if (ids.length === 0) throw badRequest('the chat template rendered an empty prompt', 'messages');
  const wantLogprobs = optBool(b, 'logprobs') ?? false;
  const topN = optInt(b, 'top_logprobs', { min: 0, max: ctx.maxLogprobs });
  if (topN !== undefined && !wantLogprobs) throw badRequest("'top_logprobs' needs 'logprobs' true", 'top_logprobs');
  const param = b.max_completion_tokens !== undefined && b.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  // default: the rest of the context, as vLLM
  const maxTokens = optInt(b, param, { min: 1 }) ?? Math.max(1, model.maxLength + 1 - ids.length);
  const s = readSampling(ctx, b);
  if (s.n > MAX_CHOICES) throw badRequest(`at most ${MAX_CHOICES} choices per request`, 'n');
  checkContext(ctx, ids.length, maxTokens, 'messages');

  const choices = await ctx.queue.run(async () => {
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < s.n; i++) {
      const g = await sample(model, ids, { maxTokens, temperature: s.temperature, topP: s.topP, seed: s.seeds[i], stop: s.stop, stopTokenIds: s.stopTokenIds });
      const logprobs = wantLogprobs ? chatLogprobs(await generatedLogprobs(model, ids, g.tokens, topN ?? 0), ctx.strings, s.asIds) : null;
      out.push({ index: i, message: { role: 'assistant', content: g.text }, logprobs, finish_reason: g.finishReason, completionTokens: g.tokens.length });
    }
    return out;
  });
  const completionTokens = choices.reduce((a, c) => a + (c.completionTokens as number), 0);
  return {
    id: requestId('chatcmpl'),
    object: 'chat.completion',
    created: unixNow(),
    model: ctx.modelName,
    choices: choices.map(({ completionTokens: _, ...c }) => c),
    usage: { prompt_tokens: ids.length, completion_tokens: completionTokens, total_tokens: ids.length + completionTokens },
  };
}
