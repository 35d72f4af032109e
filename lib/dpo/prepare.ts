/**
 * From preference pairs as users write them (TRL's `{prompt, chosen, rejected}`, strings or conversations) to the
 * token rows the DPO trainer batches, with every drop and cut counted — nothing is silently lost:
 *   - missing or non-string fields, empty chosen/rejected, chosen identical to rejected → skipped and counted;
 *   - prompts or completions longer than max_prompt_length / max_length → truncated as TRL does (tokenize.ts)
 *     and counted; a pair with nothing left of a completion is skipped and counted.
 * A conversational prompt is rendered with the model's chat template (assistant turn open), as TRL's
 * `maybe_apply_chat_template` does.
 */
import type { CausalLM, ChatMessage } from '../models/types';
import type { TokenizedPair } from './train-dpo';
import { promptText, tokenizePair, type TruncationMode } from './tokenize';

export { promptText };

/** One preference pair: TRL's standard (`prompt` a string) or conversational (`prompt` a message list) form. */
export interface PairInput {
  id?: string;
  prompt: string | ChatMessage[];
  chosen: string;
  rejected: string;
}

export interface PairSkips {
  /** Pairs given. */
  total: number;
  /** Pairs kept for training/eval. */
  kept: number;
  missingFields: number;
  emptyCompletion: number;
  identical: number;
  /** Kept, with the prompt cut to max_prompt_length (or to fit max_length). */
  truncatedPrompt: number;
  /** Kept, with a completion cut to fit max_length. */
  truncatedCompletion: number;
  /** Dropped: no completion token left after truncation. */
  nothingLeft: number;
  /** The first few reasons, with the pair's index. */
  examples: { index: number; reason: string }[];
}

export interface TokenizeOptions {
  maxLength: number;
  maxPromptLength: number;
  truncationMode: TruncationMode;
}


export function preparePairs(model: CausalLM, pairs: readonly PairInput[], tok: TokenizeOptions): { pairs: TokenizedPair[]; skipped: PairSkips } {
  const skipped: PairSkips = { total: pairs.length, kept: 0, missingFields: 0, emptyCompletion: 0, identical: 0, truncatedPrompt: 0, truncatedCompletion: 0, nothingLeft: 0, examples: [] };
  const note = (index: number, reason: string) => {
    if (skipped.examples.length < 5) skipped.examples.push({ index, reason });
  };
  const out: TokenizedPair[] = [];
  pairs.forEach((p, index) => {
    const promptOk = p && (typeof p.prompt === 'string' || (Array.isArray(p.prompt) && p.prompt.every((m) => m && typeof m.content === 'string' && typeof m.role === 'string')));
    if (!p || !promptOk || typeof p.chosen !== 'string' || typeof p.rejected !== 'string') {
      skipped.missingFields++;
      note(index, 'missing or non-string prompt/chosen/rejected');
      return;
    }
    if (p.chosen.trim() === '' || p.rejected.trim() === '') {
      skipped.emptyCompletion++;
      note(index, 'empty chosen or rejected');
      return;
    }
    if (p.chosen.trim() === p.rejected.trim()) {
      skipped.identical++;
      note(index, 'chosen identical to rejected');
      return;
    }
    const text = promptText(model, p.prompt);
    const c = tokenizePair(model, text, p.chosen, tok);
    const r = tokenizePair(model, text, p.rejected, tok);
    if (c.completionIds.length === 0 || r.completionIds.length === 0) {
      skipped.nothingLeft++;
      note(index, 'no completion token left after truncation (prompt too long for max_length)');
      return;
    }
    if (c.promptTruncated || r.promptTruncated) skipped.truncatedPrompt++;
    if (c.completionTruncated || r.completionTruncated) skipped.truncatedCompletion++;
    out.push({ chosen: { promptIds: c.promptIds, completionIds: c.completionIds }, rejected: { promptIds: r.promptIds, completionIds: r.completionIds } });
  });
  skipped.kept = out.length;
  return { pairs: out, skipped };
}
