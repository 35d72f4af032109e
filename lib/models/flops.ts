/**
 * The model knows its own cost (nanoGPT `estimate_mfu`, design review §1.1): a FLOP model of the Llama-family
 * forward pass, used by the bench (`scripts/bench.ts`, `lib/bench/`) to report speed as a ratio of a measured peak.
 *
 * A forward pass costs 2 FLOPs per matmul weight per token (`2·N_body·T`), plus the LM head `2·d·V` per position
 * whose logits are computed (only the last one for IPO scoring, every position for graphs that materialise all
 * logits), plus the attention matmuls `QKᵀ` and `AV`, `4·L·(H·hd)·T·S` for T queries against S keys. Both engines
 * compute the full masked `T×S` score matrix, so the attention term is counted dense (not halved for causality), as
 * in PaLM's (Appendix B) / nanoGPT's MFU formula. Elementwise work (norms, RoPE, softmax, SiLU) is not counted.
 */
import type { LlamaConfig } from './types';

/** The config fields the FLOP model needs (a `LlamaConfig` has them all). */
export type LlamaShape = Pick<LlamaConfig,
  'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numHiddenLayers' | 'numAttentionHeads' | 'numKeyValueHeads' | 'headDim' | 'tieWordEmbeddings'
> & Partial<Pick<LlamaConfig, 'attentionBias'>>;

export interface LlamaParamCounts {
  /** Matmul weights of the transformer layers (q, k, v, o, gate, up, down): what `2·N·T` counts. */
  bodyMatmul: number;
  /** q/k/v biases (Qwen2), 0 otherwise. */
  biases: number;
  /** RMSNorm weights: 2 per layer + the final norm. */
  norms: number;
  /** Every non-embedding parameter (matmul + biases + norms): the "body params" of docs/peers-and-style.md §3.1. */
  body: number;
  /** Input embedding `V×d`. */
  embedding: number;
  /** Separate LM head `V×d` when untied, else 0 (the tied head is the embedding). */
  lmHead: number;
  /** Parameters stored (tied embedding counted once). */
  total: number;
}

/** Parameter counts of a Llama-family config (Llama, SmolLM2, Qwen2, Mistral). */
export function llamaParamCounts(c: LlamaShape): LlamaParamCounts {
  const D = c.hiddenSize, q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim, L = c.numHiddenLayers;
  const perLayer = D * q + 2 * D * kv + q * D + 3 * D * c.intermediateSize;
  const bodyMatmul = L * perLayer;
  const biases = c.attentionBias ? L * (q + 2 * kv) : 0;
  const norms = (2 * L + 1) * D;
  const embedding = c.vocabSize * D;
  const lmHead = c.tieWordEmbeddings ? 0 : c.vocabSize * D;
  const body = bodyMatmul + biases + norms;
  return { bodyMatmul, biases, norms, body, embedding, lmHead, total: body + embedding + lmHead };
}

/** Where an engine computes LM-head logits: only the last position, every position, or a given number of rows. */
export type HeadRows = 'last' | 'all' | number;

export interface FlopCount {
  /** 2 · bodyMatmul · tokens. */
  body: number;
  /** 2 · d · V · (rows whose logits are computed). */
  head: number;
  /** Dense attention matmuls, 4 · L · H·hd · T · S summed over the pass. */
  attention: number;
  /** body + head: the `2·N_body·T + 2·d·V·rows` model of the brief (the headline number). */
  total: number;
  /** total + attention. */
  withAttention: number;
}

function addFlops(a: FlopCount, b: FlopCount): FlopCount {
  return {
    body: a.body + b.body, head: a.head + b.head, attention: a.attention + b.attention,
    total: a.total + b.total, withAttention: a.withAttention + b.withAttention,
  };
}

const ZERO_FLOPS: FlopCount = Object.freeze({ body: 0, head: 0, attention: 0, total: 0, withAttention: 0 });

/**
 * FLOPs of one forward pass over `tokens` new tokens of one sequence after `past` cached positions.
 * `headRows`: `'last'` (1 row, what the TF engine does for next-token scoring), `'all'` (every new position, what the
 * exported ONNX graph does), or an explicit row count. Elementwise work (norms, RoPE, softmax, SiLU) is not counted.
 */
export function forwardFlops(c: LlamaShape, opts: { tokens: number; past?: number; headRows?: HeadRows }): FlopCount {
  const T = opts.tokens;
  const past = opts.past ?? 0;
  if (!Number.isInteger(T) || T < 0) throw new Error(`forwardFlops: tokens must be a whole number >= 0, got ${T}`);
  if (!Number.isInteger(past) || past < 0) throw new Error(`forwardFlops: past must be a whole number >= 0, got ${past}`);
  const hr = opts.headRows ?? 'last';
  const rows = T === 0 ? 0 : hr === 'last' ? 1 : hr === 'all' ? T : hr;
  const n = llamaParamCounts(c);
  const body = 2 * n.bodyMatmul * T;
  const head = 2 * c.hiddenSize * c.vocabSize * rows;
  const attention = 4 * c.numHiddenLayers * c.numAttentionHeads * c.headDim * T * (past + T);
  return { body, head, attention, total: body + head, withAttention: body + head + attention };
}

/** FLOPs of several sequences' forward passes (e.g. the two prompts of an IPO pair). */
export function batchForwardFlops(c: LlamaShape, lengths: readonly number[], headRows: HeadRows = 'last'): FlopCount {
  return lengths.reduce<FlopCount>((acc, T) => addFlops(acc, forwardFlops(c, { tokens: T, headRows })), { ...ZERO_FLOPS });
}

/**
 * FLOPs of `steps` KV-cached decode steps (one token each, logits for that token only) after `past` positions:
 * step i attends to past + i + 1 keys.
 */
export function decodeFlops(c: LlamaShape, opts: { past: number; steps: number }): FlopCount {
  let acc: FlopCount = { ...ZERO_FLOPS };
  for (let i = 0; i < opts.steps; i++) acc = addFlops(acc, forwardFlops(c, { tokens: 1, past: opts.past + i, headRows: 1 }));
  return acc;
}

/** `[M, K] × [K, N]`: 2·M·K·N FLOPs. */
export function matmulFlops(m: number, k: number, n: number): number {
  return 2 * m * k * n;
}

/** FLOPs done in `ms` milliseconds → GFLOP/s. */
export function gflopsPerSecond(flops: number, ms: number): number {
  return ms > 0 ? flops / ms / 1e6 : NaN;
}

/** MFU-style ratio: achieved ÷ peak (both in the same unit); NaN when the peak is not positive. */
export function ratioToPeak(achieved: number, peak: number): number {
  return peak > 0 && Number.isFinite(achieved) ? achieved / peak : NaN;
}
