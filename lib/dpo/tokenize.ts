/**
 * The kit's ONE tokenisation of a DPO (prompt, completion) pair, used by the trainer, the held-out implicit-reward
 * evaluation (`lib/eval/policy-reward.ts`) and anything else that needs log π(y | x) the way TRL computes it.
 *
 * What TRL does (huggingface/trl, read at the tags named; `DPOTrainer` = trl/trainer/dpo_trainer.py):
 *
 * - TRL 0.12 – 0.28 (`DPOTrainer.tokenize_row`, read at v0.12.0, v0.14.0 and v0.27.0; the era of the official IPO
 *   code, which passes `tokenizer=` and `evaluation_strategy=`):
 *   1. `prompt_ids = tokenizer(prompt, add_special_tokens=False)`, `completion_ids = tokenizer(completion,
 *      add_special_tokens=False) + [eos_token_id]` — separately, and NO BOS for decoder-only models (`_prepare_dataset`
 *      passes `add_special_tokens=False`, `is_encoder_decoder` in 0.12–0.13; BOS/EOS around the prompt are only for
 *      encoder-decoders);
 *   2. `prompt_ids = prompt_ids[-max_prompt_length:]` (keeps the END of the prompt, whatever `truncation_mode`);
 *      `completion_ids = completion_ids[:max_completion_length]` (keeps the start; the EOS can be cut);
 *   3. in `concatenated_forward`, prompt + completion is cut to `max_length`: `truncation_mode='keep_end'` (the default
 *      up to 0.28) keeps the LAST `max_length` ids (the prompt loses its start), `'keep_start'` the first ones.
 *   DPOConfig defaults from v0.14.0 to v0.28: max_prompt_length 512, max_completion_length None, max_length 1024,
 *   keep_end; in v0.12–0.13 all three lengths default to None (no truncation).
 *   TRL ≤ 0.11 (v0.11.4 `_truncate_tokens`) added BOS to the prompt, truncated it by `truncation_mode` only when the
 *   pair (with the LONGER response) exceeded `max_length`, then cut responses to `max_length − max_prompt_length`;
 *   that pair-level rule is not modelled here.
 * - TRL ≥ 0.29 (the DPO refactor, huggingface/trl#3906; v1.9.0 read): `max_prompt_length` and
 *   `max_completion_length` are gone. Non-conversational rows get `eos_token` appended to chosen/rejected as TEXT
 *   (unless already there), then `prompt_ids = tokenizer(prompt)` (WITH special tokens, so Llama gets its BOS) and
 *   `completion_ids = tokenizer(prompt + completion)[len(prompt_ids):]` (a JOINT encoding, split at the prompt
 *   length; TRL warns when the joint ids do not start with the prompt ids). `DataCollatorForPreference` cuts each
 *   prompt+completion to `max_length` (default 1024): `'keep_start'` (the default, the only non-deprecated mode) keeps
 *   the first ids, `'keep_end'` the last; with keep_start, rows whose prompt alone has ≥ max_length ids are DROPPED
 *   from the dataset (`_prepare_dataset`).
 *
 * The kit (`tokenizePair`):
 * - `completionTokenization: 'separate'` (default, the kit's convention and TRL 0.12–0.28's completion side):
 *   `completion = encode(completion, no special tokens) + [EOS]`; `'joint'`: TRL ≥ 0.29,
 *   `encode(prompt + completion)` split at the prompt's length, then `[EOS]` appended (the kit's tokenizers do not map
 *   the EOS *string* to the EOS id, so the id is appended; for Hugging Face tokenizers, where the EOS string is a
 *   special token, this is the same ids). A joint encoding that does not start with the prompt ids is counted
 *   (`promptMismatch`), as TRL warns.
 * - `promptSpecialTokens` (default true): `encode(prompt)` with the tokenizer's special tokens (BOS for
 *   Llama/Mistral/TinyStories, nothing for SmolLM2/Qwen), as TRL ≥ 0.29 does; false gives TRL 0.12–0.28's prompt.
 * - `maxPromptLength` (default null = none): keep the LAST ids of the prompt (TRL 0.12–0.28). The special prefix
 *   (BOS) is kept in front: TRL 0.12–0.28 tokenized prompts without special tokens, so it never had a BOS to lose.
 * - `maxCompletionLength` (default null): keep the FIRST ids of the completion (the EOS may be cut).
 * - `maxLength` (default 1024, TRL's default since 0.14) on prompt + completion, by `truncationMode`
 *   (default `'keep_start'`, TRL ≥ 0.29): keep_start keeps the first ids (completion cut first; a prompt that alone
 *   fills `maxLength` leaves no completion id: `dropped: true`, the row TRL ≥ 0.29 drops); keep_end keeps the last ids
 *   (the prompt loses its start, BOS included, exactly as TRL slices `input_ids[:, -max_length:]`). `maxLength` is
 *   also capped at the model's own `maxLength` (max_position_embeddings), which it cannot exceed anyway.
 * `TRL_TOKENIZATION` holds both TRL generations' settings by name.
 *
 * Shapes: every id list is a plain `number[]`; log π(y | x) = Σ_t log π(completionIds[t] | promptIds,
 * completionIds[<t]) = `model.continuationLogProb(promptIds, completionIds).total` (see `completionLogProb`).
 */
import type { CausalLM, ChatMessage } from '../models/types';

export type TrlTruncationMode = 'keep_start' | 'keep_end';
/** Alias of `TrlTruncationMode`. */
export type TruncationMode = TrlTruncationMode;
export type CompletionTokenization = 'separate' | 'joint';

export interface TokenizePairOptions {
  /** Cap on prompt + completion ids (TRL `max_length`). Default 1024; null = no cap (the model's maxLength still applies). */
  maxLength?: number | null;
  /** Keep the last `maxPromptLength` prompt ids (TRL 0.12–0.28 `max_prompt_length`). Default null (none). */
  maxPromptLength?: number | null;
  /** Keep the first `maxCompletionLength` completion ids (TRL 0.12–0.28 `max_completion_length`). Default null. */
  maxCompletionLength?: number | null;
  /** How `maxLength` cuts (TRL `truncation_mode`). Default 'keep_start'. */
  truncationMode?: TrlTruncationMode;
  /** Default 'separate' (see the file comment). */
  completionTokenization?: CompletionTokenization;
  /** encode(prompt) with special tokens (BOS). Default true (TRL ≥ 0.29); TRL 0.12–0.28: false. */
  promptSpecialTokens?: boolean;
}

export interface ResolvedTokenizeOptions {
  maxLength: number | null;
  maxPromptLength: number | null;
  maxCompletionLength: number | null;
  truncationMode: TrlTruncationMode;
  completionTokenization: CompletionTokenization;
  promptSpecialTokens: boolean;
}

/** The settings of the two TRL generations (see the file comment), to spread into `TokenizePairOptions`. */
export const TRL_TOKENIZATION = {
  /** TRL 0.12 – 0.28 `tokenize_row` + `concatenated_forward`, DPOConfig defaults of v0.14 – v0.28 (read at v0.27.0). */
  'trl-0.14': {
    maxLength: 1024, maxPromptLength: 512, maxCompletionLength: null, truncationMode: 'keep_end',
    completionTokenization: 'separate', promptSpecialTokens: false,
  },
  /** TRL ≥ 0.29 (`_prepare_dataset` + `DataCollatorForPreference`), DPOConfig defaults (v1.9.0). */
  'trl-1': {
    maxLength: 1024, maxPromptLength: null, maxCompletionLength: null, truncationMode: 'keep_start',
    completionTokenization: 'joint', promptSpecialTokens: true,
  },
} as const satisfies Record<string, ResolvedTokenizeOptions>;

export interface TokenizedPair {
  /** Prompt ids after truncation (may be empty with keep_end when the completion alone fills maxLength). */
  promptIds: number[];
  /** Completion ids after truncation, EOS last unless cut (empty when `dropped`). */
  completionIds: number[];
  /** Prompt / completion ids before any truncation (completion with its EOS). */
  fullPromptLength: number;
  fullCompletionLength: number;
  /** Ids removed from the prompt / from the completion by all the caps together. */
  promptRemoved: number;
  completionRemoved: number;
  /** promptRemoved > 0 */
  promptTruncated: boolean;
  /** completionRemoved > 0 */
  completionTruncated: boolean;
  /** True when any id was removed. */
  truncated: boolean;
  /** keep_start left no completion id (TRL ≥ 0.29 drops such rows); nothing to score. */
  dropped: boolean;
  /** 'joint' only: encode(prompt + completion) did not start with encode(prompt) (TRL warns). */
  promptMismatch: boolean;
}

function checkCap(fn: string, name: string, v: unknown, dflt: number | null): number | null {
  if (v === undefined) return dflt;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${fn}: ${name} must be a positive integer or null, got ${String(v)}`);
  return v;
}

/** Options with defaults applied and checked (one-line errors). */
export function resolveTokenizeOptions(opts?: TokenizePairOptions, fn = 'tokenizePair'): ResolvedTokenizeOptions {
  const o = opts ?? {};
  if (typeof o !== 'object') throw new Error(`${fn}: options must be an object`);
  const truncationMode = o.truncationMode ?? 'keep_start';
  if (truncationMode !== 'keep_start' && truncationMode !== 'keep_end') {
    throw new Error(`${fn}: truncationMode must be 'keep_start' or 'keep_end', got ${JSON.stringify(truncationMode)}`);
  }
  const completionTokenization = o.completionTokenization ?? 'separate';
  if (completionTokenization !== 'separate' && completionTokenization !== 'joint') {
    throw new Error(`${fn}: completionTokenization must be 'separate' or 'joint', got ${JSON.stringify(completionTokenization)}`);
  }
  const promptSpecialTokens = o.promptSpecialTokens ?? true;
  if (typeof promptSpecialTokens !== 'boolean') throw new Error(`${fn}: promptSpecialTokens must be a boolean`);
  return {
    maxLength: checkCap(fn, 'maxLength', o.maxLength, 1024),
    maxPromptLength: checkCap(fn, 'maxPromptLength', o.maxPromptLength, null),
    maxCompletionLength: checkCap(fn, 'maxCompletionLength', o.maxCompletionLength, null),
    truncationMode, completionTokenization, promptSpecialTokens,
  };
}

/**
 * The prompt as the model reads it: a string as given, a conversation through the chat template with the assistant
 * turn open (TRL `maybe_apply_chat_template`). The trainers and the held-out evaluation use this one rendering.
 */
export function promptText(model: CausalLM, prompt: string | ChatMessage[]): string {
  return typeof prompt === 'string' ? prompt : model.applyChatTemplate(prompt, { addGenerationPrompt: true });
}

/** How many ids `encode(text)` puts in front of `encode(text, no special tokens)` (1 for a BOS tokenizer), at most `cap`. */
function specialPrefixLength(model: CausalLM, cap: number): number {
  const a = model.encode('a');
  const b = model.encode('a', { addSpecialTokens: false });
  if (b.length > 0) {
    for (let k = 0; k + b.length <= a.length; k++) {
      if (b.every((v, i) => a[k + i] === v)) return Math.min(k, cap);
    }
  }
  return model.bosTokenId !== null && a[0] === model.bosTokenId ? Math.min(1, cap) : 0;
}

function startsWith(ids: number[], p: number[]): boolean {
  return p.length <= ids.length && p.every((v, i) => ids[i] === v);
}

/**
 * Prompt and completion ids of one (prompt, completion) pair, truncated as TRL does (see the file comment).
 * Throws a one-line error for non-string input or a model without an EOS id.
 */
export function tokenizePair(model: CausalLM, prompt: string, completion: string, opts?: TokenizePairOptions | ResolvedTokenizeOptions): TokenizedPair {
  const fn = 'tokenizePair';
  if (typeof prompt !== 'string') throw new Error(`${fn}: prompt must be a string, got ${prompt === null ? 'null' : typeof prompt}`);
  if (typeof completion !== 'string') throw new Error(`${fn}: completion must be a string, got ${completion === null ? 'null' : typeof completion}`);
  const o = resolveTokenizeOptions(opts, fn);
  const eos = model.eosTokenId;
  if (eos === null) throw new Error(`${fn}: ${model.ref} has no EOS token id, which DPO appends to every completion`);

  let p = model.encode(prompt, { addSpecialTokens: o.promptSpecialTokens });
  let c: number[];
  let promptMismatch = false;
  if (o.completionTokenization === 'separate') {
    c = [...model.encode(completion, { addSpecialTokens: false }), eos];
  } else {
    const joint = model.encode(prompt + completion, { addSpecialTokens: o.promptSpecialTokens });
    promptMismatch = !startsWith(joint, p);
    c = [...joint.slice(p.length), eos];
  }
  const fullPromptLength = p.length;
  const fullCompletionLength = c.length;

  if (o.maxPromptLength !== null && p.length > o.maxPromptLength) {
    const pre = o.promptSpecialTokens ? specialPrefixLength(model, o.maxPromptLength - 1) : 0;
    p = [...p.slice(0, pre), ...p.slice(p.length - (o.maxPromptLength - pre))];
  }
  if (o.maxCompletionLength !== null && c.length > o.maxCompletionLength) c = c.slice(0, o.maxCompletionLength);

  let max = o.maxLength ?? Infinity;
  if (Number.isFinite(model.maxLength) && model.maxLength > 0) max = Math.min(max, model.maxLength);
  if (p.length + c.length > max) {
    if (o.truncationMode === 'keep_start') {
      if (p.length >= max) {
        p = p.slice(0, max);
        c = [];
      } else {
        c = c.slice(0, max - p.length);
      }
    } else {
      const total = p.length + c.length;
      const cutFront = total - max;
      if (cutFront >= p.length) {
        c = c.slice(cutFront - p.length);
        p = [];
      } else {
        p = p.slice(cutFront);
      }
    }
  }
  const promptRemoved = fullPromptLength - p.length;
  const completionRemoved = fullCompletionLength - c.length;
  return {
    promptIds: p,
    completionIds: c,
    fullPromptLength,
    fullCompletionLength,
    promptRemoved,
    completionRemoved,
    promptTruncated: promptRemoved > 0,
    completionTruncated: completionRemoved > 0,
    truncated: promptRemoved > 0 || completionRemoved > 0,
    dropped: c.length === 0,
    promptMismatch,
  };
}

/**
 * log π(completion | prompt) = Σ_t log π(completionIds[t] | promptIds, completionIds[<t]) of a tokenized pair, as
 * TRL's `concatenated_forward` sums the per-token log-probs under the completion mask. When keep_end left no prompt
 * id, the first completion id becomes the context and is not scored (TRL's shifted labels give position 0 no
 * log-prob either). Throws for a dropped pair (nothing to score).
 */
export async function completionLogProb(model: CausalLM, t: TokenizedPair): Promise<{ total: number; tokens: number }> {
  if (t.dropped || t.completionIds.length === 0) throw new Error('completionLogProb: the pair was dropped by truncation (no completion ids to score)');
  if (t.promptIds.length > 0) {
    const r = await model.continuationLogProb(t.promptIds, t.completionIds);
    return { total: r.total, tokens: t.completionIds.length };
  }
  if (t.completionIds.length < 2) return { total: 0, tokens: 0 };
  const r = await model.continuationLogProb(t.completionIds.slice(0, 1), t.completionIds.slice(1));
  return { total: r.total, tokens: t.completionIds.length - 1 };
}

export interface TruncationSummary {
  /** sequences tokenized */
  n: number;
  /** with any id removed */
  truncated: number;
  /** with prompt ids removed */
  promptCut: number;
  /** with completion ids removed */
  completionCut: number;
  /** with no completion id left */
  dropped: number;
  /** joint encodings that did not start with the prompt ids */
  promptMismatch: number;
}

/** Counts over many tokenized sequences (for reports: "12 of 400 truncated, 1 dropped"). */
export function summarizeTruncation(ts: readonly Pick<TokenizedPair, 'truncated' | 'promptRemoved' | 'completionRemoved' | 'dropped' | 'promptMismatch'>[]): TruncationSummary {
  const s: TruncationSummary = { n: ts.length, truncated: 0, promptCut: 0, completionCut: 0, dropped: 0, promptMismatch: 0 };
  for (const t of ts) {
    if (t.truncated) s.truncated++;
    if (t.promptRemoved > 0) s.promptCut++;
    if (t.completionRemoved > 0) s.completionCut++;
    if (t.dropped) s.dropped++;
    if (t.promptMismatch) s.promptMismatch++;
  }
  return s;
}
