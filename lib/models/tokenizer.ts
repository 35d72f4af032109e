/**
 * Tokenizers and chat templates come from @huggingface/transformers (the same `tokenizer.json` code path as
 * Python `tokenizers`), built straight from the files of a model folder so no hub access is attempted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { ModelLoadError } from './errors';
import type { ChatMessage } from './types';

export interface TextTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
  readonly hasChatTemplate: boolean;
  /** The underlying transformers.js tokenizer, for anything not wrapped here. */
  readonly raw: PreTrainedTokenizer;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelLoadError(file, `not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Load `<dir>/tokenizer.json` (+ `tokenizer_config.json` when present). The chat template is taken from
 * `tokenizer_config.json`, else `chat_template.jinja` / `chat_template.json`, else `opts.chatTemplate`.
 */
export function loadTokenizer(dir: string, opts: { chatTemplate?: string } = {}): TextTokenizer {
  const tokFile = join(dir, 'tokenizer.json');
  if (!existsSync(tokFile)) throw new ModelLoadError(tokFile, 'not found (a model folder needs tokenizer.json)');
  const cfgFile = join(dir, 'tokenizer_config.json');
  const config = existsSync(cfgFile) ? readJson(cfgFile) : {};
  let template = (config.chat_template as string | undefined) ?? undefined;
  if (!template && existsSync(join(dir, 'chat_template.jinja'))) template = readFileSync(join(dir, 'chat_template.jinja'), 'utf8');
  if (!template && existsSync(join(dir, 'chat_template.json'))) template = readJson(join(dir, 'chat_template.json')).chat_template as string;
  template ??= opts.chatTemplate;
  let raw: PreTrainedTokenizer;
  try {
    raw = new PreTrainedTokenizer(readJson(tokFile), { ...config, chat_template: template ?? null });
  } catch (e) {
    throw new ModelLoadError(tokFile, `cannot build a tokenizer (${(e as Error).message})`);
  }
  return {
    raw,
    hasChatTemplate: Boolean(template),
    encode: (text, o) => raw.encode(text, { add_special_tokens: o?.addSpecialTokens ?? true }),
    // transformers.js refuses an empty list; no ids is the empty text (e.g. generate with --max-new-tokens 0)
    decode: (ids, o) => (ids.length === 0 ? '' : raw.decode(ids, { skip_special_tokens: o?.skipSpecialTokens ?? true })),
    applyChatTemplate(messages, o) {
      if (!template) throw new Error(`the tokenizer in ${dir} has no chat template (tokenizer_config.json chat_template)`);
      return raw.apply_chat_template(messages as { role: string; content: string }[], {
        tokenize: false,
        add_generation_prompt: o?.addGenerationPrompt ?? false,
      }) as string;
    },
  };
}
