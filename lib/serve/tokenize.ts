/**
 * vLLM's `POST /tokenize` and `POST /detokenize` (served at the root, as vLLM does, and under /v1 too).
 * - /tokenize `{prompt, add_special_tokens [true]}` or `{messages, add_generation_prompt [true], add_special_tokens
 *   [false]}` → `{count, max_model_len, tokens, token_strs}` (`token_strs` with `return_token_strs: true`, else null).
 * - /detokenize `{tokens}` → `{prompt}`, decoded with special tokens kept (vLLM calls `tokenizer.decode(ids)`,
 *   whose `skip_special_tokens` defaults to false).
 */
import { checkModel, type ServerContext } from './context';
import { renderChat, readMessages } from './chat';
import { badRequest } from './errors';
import { decodeText } from './logprobs';
import { asBody, checkIds, optBool, optString } from './validate';

export function tokenize(ctx: ServerContext, raw: unknown): Record<string, unknown> {
  const b = asBody(raw);
  checkModel(ctx, b);
  let tokens: number[];
  if (b.messages !== undefined && b.messages !== null) {
    const text = renderChat(ctx, readMessages(b), optBool(b, 'add_generation_prompt') ?? true);
    tokens = ctx.model.encode(text, { addSpecialTokens: optBool(b, 'add_special_tokens') ?? false });
  } else {
    const prompt = optString(b, 'prompt');
    if (prompt === undefined) throw badRequest("'prompt' (a string) or 'messages' is required", 'prompt');
    tokens = ctx.model.encode(prompt, { addSpecialTokens: optBool(b, 'add_special_tokens') ?? true });
  }
  const strs = optBool(b, 'return_token_strs') ?? false;
  return { count: tokens.length, max_model_len: ctx.model.maxLength, tokens, token_strs: strs ? tokens.map((id) => ctx.strings.piece(id)) : null };
}

export function detokenize(ctx: ServerContext, raw: unknown): Record<string, unknown> {
  const b = asBody(raw);
  checkModel(ctx, b);
  if (b.tokens === undefined || b.tokens === null) throw badRequest("'tokens' is required", 'tokens');
  return { prompt: decodeText(ctx.model, checkIds(b.tokens, 'tokens', ctx.model.vocabSize), false) };
}
