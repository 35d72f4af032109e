/**
 * Log-probabilities in the OpenAI response shapes, from the engine's own numbers.
 *
 * What the numbers are: log P(token | everything before it) from the engine — with alternatives (`logprobs` /
 * `top_logprobs` > 0) every number at a position comes from `nextTokenLogProbs` of the sequence before it, without
 * them from one teacher-forced `continuationLogProb` pass (engine.ts says why). Both are the log-softmax of the
 * model's raw logits at temperature 1, whatever temperature / top_p the tokens were sampled with. That is what OpenAI reports and what
 * vLLM reports by default (`--logprobs-mode raw_logprobs`: "compute logprobs ... before any logit processing"; see
 * the vLLM v1 sampler docs, docs.vllm.ai/en/v0.20.0/api/vllm/v1/sample/sampler/). `-inf` becomes -9999 as in vLLM's
 * `_create_completion_logprobs` (JSON has no infinity).
 *
 * Shapes:
 * - completions: `{tokens: string[], token_logprobs: (number|null)[], top_logprobs: ({[token]: number}|null)[],
 *   text_offset: number[]}`; each `top_logprobs` dict holds the token itself first, then the top `logprobs` ids
 *   (so `logprobs` or `logprobs + 1` entries, as OpenAI documents and vLLM does); the first prompt token of an echo
 *   has `null` for both (nothing to condition on).
 * - chat: `{content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}], refusal: null}` with exactly
 *   `top_logprobs` alternatives in rank order (OpenAI's order; vLLM lists the sampled token first).
 * Token strings: a token's text as it reads inside a sentence (" Yes" for `▁Yes` / `ĠYes`, special tokens by name),
 * or vLLM's `token_id:N` with `return_tokens_as_token_ids`, which is the only lossless form (two ids can share a
 * text; in a completions dict the higher-ranked one is kept, as a JSON object cannot hold both).
 */
import type { CausalLM } from '../models/types';

/** vLLM's floor for log-probs in JSON (`max(logprob, -9999.0)`). */
export const LOGPROB_FLOOR = -9999;

export const clampLogprob = (x: number): number => (x < LOGPROB_FLOOR ? LOGPROB_FLOOR : x);

/** One position of a response: the token, its log-prob (null for the first prompt token) and the top-k alternatives. */
export interface PositionLogprobs {
  id: number;
  logprob: number | null;
  /** Top alternatives in rank order (largest first, ties by lower id); null where not requested or not defined. */
  top: { id: number; logprob: number }[] | null;
}

/** Ids of the `k` largest entries of `logp` (`[vocab]`), largest first, ties broken by the lower id (stable). */
export function topK(logp: ArrayLike<number>, k: number): number[] {
  const n = logp.length;
  k = Math.max(0, Math.min(k, n));
  if (k === 0) return [];
  const better = (a: number, b: number) => logp[a] > logp[b] || (logp[a] === logp[b] && a < b);
  if (k * 8 >= n) {
    return Array.from({ length: n }, (_, i) => i).sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0)).slice(0, k);
  }
  // small k over a large vocabulary: keep a sorted list of the best k seen so far
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    if (best.length === k && !better(i, best[k - 1])) continue;
    let j = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(i);
    while (j > 0 && better(i, best[j - 1])) {
      best[j] = best[j - 1];
      j--;
    }
    best[j] = i;
  }
  return best;
}

/** `decode` that accepts an empty list (the tokenizer throws on one). */
export function decodeText(model: CausalLM, ids: number[], skipSpecialTokens = true): string {
  return ids.length === 0 ? '' : model.decode(ids, { skipSpecialTokens });
}

/**
 * Renders token ids as the strings responses carry. A token's text is decoded after an anchor token and the anchor's
 * text removed, so tokenizers that drop the leading space of the first token of a decode (SentencePiece's
 * Metaspace) still give " Yes"; cached per id.
 */
export class TokenStrings {
  private cache = new Map<number, string>();
  private anchor: { ids: number[]; text: string } | null;

  constructor(private model: CausalLM) {
    let anchor: { ids: number[]; text: string } | null = null;
    try {
      const ids = model.encode('a', { addSpecialTokens: false });
      if (ids.length === 1) anchor = { ids, text: model.decode(ids, { skipSpecialTokens: false }) };
    } catch {
      anchor = null;
    }
    this.anchor = anchor;
  }

  /** The token's text inside a sentence; special tokens by name. */
  piece(id: number): string {
    let s = this.cache.get(id);
    if (s !== undefined) return s;
    s = this.model.decode([id], { skipSpecialTokens: false });
    if (this.anchor) {
      const t = this.model.decode([...this.anchor.ids, id], { skipSpecialTokens: false });
      if (t.startsWith(this.anchor.text)) s = t.slice(this.anchor.text.length);
    }
    this.cache.set(id, s);
    return s;
  }

  /** The string a response shows for `id`: `token_id:N` (vLLM's `return_tokens_as_token_ids`) or its text. */
  render(id: number, asIds: boolean): string {
    return asIds ? `token_id:${id}` : this.piece(id);
  }
}

/**
 * Character offset of each token in `decode(ids)` plus `base`: offset[i] = |decode(ids[:i])|, computed from the
 * growth of a decode over the last `window` tokens (exact for tokenizers whose decoding is local, i.e. all the kit
 * loads, except where a multi-byte character is split across tokens), kept monotone and within `[base, base+limit]`.
 */
export function textOffsets(model: CausalLM, ids: number[], base: number, limit: number, window = 8): number[] {
  const out: number[] = [];
  let pos = 0;
  for (let i = 0; i < ids.length; i++) {
    out.push(base + Math.min(pos, limit));
    const from = Math.max(0, i - window);
    const grow = decodeText(model, ids.slice(from, i + 1)).length - decodeText(model, ids.slice(from, i)).length;
    pos += Math.max(0, grow);
  }
  return out;
}

/** The completions `logprobs` object for `positions`, with their text offsets. */
export function completionLogprobs(positions: PositionLogprobs[], offsets: number[], strings: TokenStrings, asIds: boolean): {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
} {
  const tokens: string[] = [];
  const tokenLogprobs: (number | null)[] = [];
  const top: (Record<string, number> | null)[] = [];
  for (const p of positions) {
    const token = strings.render(p.id, asIds);
    tokens.push(token);
    tokenLogprobs.push(p.logprob === null ? null : clampLogprob(p.logprob));
    if (p.logprob === null || p.top === null) {
      top.push(null);
      continue;
    }
    // null prototype: a token such as "__proto__" is an ordinary key
    const dict: Record<string, number> = Object.create(null);
    dict[token] = clampLogprob(p.logprob);
    for (const t of p.top) {
      const key = strings.render(t.id, asIds);
      if (!(key in dict)) dict[key] = clampLogprob(t.logprob);
    }
    top.push(dict);
  }
  return { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets };
}

const utf8Bytes = (s: string): number[] => Array.from(Buffer.from(s, 'utf8'));

/** The chat `logprobs` object for generated `positions` (every one has a log-prob). */
export function chatLogprobs(positions: PositionLogprobs[], strings: TokenStrings, asIds: boolean): {
  content: { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number; bytes: number[] }[] }[];
  refusal: null;
} {
  return {
    content: positions.map((p) => {
      const token = strings.render(p.id, asIds);
      return {
        token,
        logprob: clampLogprob(p.logprob ?? 0),
        bytes: utf8Bytes(token),
        top_logprobs: (p.top ?? []).map((t) => {
          const tt = strings.render(t.id, asIds);
          return { token: tt, logprob: clampLogprob(t.logprob), bytes: utf8Bytes(tt) };
        }),
      };
    }),
    refusal: null,
  };
}
