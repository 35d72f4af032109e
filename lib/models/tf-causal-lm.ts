/**
 * `CausalLM` on the TensorFlow.js Llama (`llama-tf.ts`): what scorers, judges and notebooks call.
 * Every method runs inside `tf.tidy` or disposes what it made, so `tf.memory().numTensors` is unchanged after a
 * call (asserted in test/llama-tf.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { LlamaTF, type KVCache } from './llama-tf';
import { forkedLogProbsWith, type KvOps } from './fork';
import { tokenLogps } from './token-logps';
import { pickToken } from './sampling';
import { checkTokenIds, resolveGenerateOptions, sequenceLogProb } from './checks';
import type { TextTokenizer } from './tokenizer';
import type { CausalLM, ChatMessage, ForkBranch, ForkResult, GenerateOptions, LlamaConfig } from './types';

export class TfCausalLM implements CausalLM {
  readonly engine = 'tf' as const;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  readonly maxLength: number;

  constructor(readonly ref: string, readonly model: LlamaTF, readonly tokenizer: TextTokenizer) {
    const c: LlamaConfig = model.config;
    this.vocabSize = c.vocabSize;
    this.bosTokenId = c.bosTokenId;
    this.eosTokenIds = c.eosTokenId === null ? [] : Array.isArray(c.eosTokenId) ? c.eosTokenId : [c.eosTokenId];
    this.maxLength = c.maxPositionEmbeddings;
  }

  get eosTokenId(): number | null {
    return this.eosTokenIds[0] ?? null;
  }

  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[] {
    return this.tokenizer.encode(text, opts);
  }

  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string {
    return this.tokenizer.decode(ids, opts);
  }

  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string {
    return this.tokenizer.applyChatTemplate(messages, opts);
  }

  private checkIds(ids: number[], what: string): void {
    checkTokenIds(ids, what, this.vocabSize, this.maxLength);
  }


  async nextTokenLogProbs(ids: number[]): Promise<Float32Array> {
    return (await this.nextTokenLogProbsBatch([ids]))[0];
  }

  /** Right-pads the batch (causal attention keeps padding invisible to real positions) and reads each last position. */
  async nextTokenLogProbsBatch(batch: number[][]): Promise<Float32Array[]> {
    if (batch.length === 0) return [];
    batch.forEach((ids, i) => this.checkIds(ids, `sequence ${i}`));
    const T = Math.max(...batch.map((s) => s.length));
    const B = batch.length;
    const flat = new Int32Array(B * T);
    batch.forEach((s, b) => flat.set(s, b * T));
    const last = batch.map((s, b) => b * T + s.length - 1);
    const logp = tf.tidy(() => {
      const h = this.model.hiddenStates(tf.tensor2d(flat, [B, T], 'int32'));
      const picked = tf.gather(tf.reshape(h, [B * T, this.model.config.hiddenSize]), tf.tensor1d(last, 'int32')) as tf.Tensor2D; // [B, hidden]
      return tf.logSoftmax(this.model.logits(picked)); // [B, vocab]
    });
    const data = (await logp.data()) as Float32Array;
    logp.dispose();
    const V = this.vocabSize;
    return batch.map((_, b) => data.slice(b * V, (b + 1) * V));
  }

  /** Teacher-forced log-probs of `continuation` after `prefix`: a thin wrapper over `tokenLogps` (token-logps.ts). */
  async continuationLogProb(prefix: number[], continuation: number[]): Promise<{ total: number; perToken: number[] }> {
    this.checkIds(prefix, 'prefix');
    if (continuation.length === 0) return { total: 0, perToken: [] };
    const ids = [...prefix, ...continuation];
    this.checkIds(ids, 'prefix + continuation');
    const T = ids.length;
    const mask = new Float32Array(T).fill(1, prefix.length); // the continuation's tokens count
    const lp = tf.tidy(() => tokenLogps(this.model, tf.tensor2d(ids, [1, T], 'int32'), tf.tensor2d(mask, [1, T])));
    const perToken = Array.from(((await lp.data()) as Float32Array).subarray(prefix.length));
    lp.dispose();
    return { total: perToken.reduce((a, b) => a + b, 0), perToken };
  }

  /** Sum of log P(token_t | tokens_<t) over every token after the first of `ids`. */
  sequenceLogProb(ids: number[]): Promise<{ total: number; perToken: number[] }> {
    return sequenceLogProb(this, ids);
  }

  /**
   * Shared-prefix scoring (lib/models/fork.ts) on the Llama's KV cache. A state is a `KVCache` (per layer
   * `[1, kvHeads, cached, headDim]`); extending one clones its tensors first (`tf.clone` shares the data, no copy)
   * because `hiddenStates` replaces the cache it is given.
   */
  forkedLogProbs(prefix: number[], branches: ForkBranch[]): Promise<ForkResult[]> {
    return forkedLogProbsWith(this.kvOps, this, prefix, branches);
  }

  private readonly kvOps: KvOps<KVCache> = {
    extend: async (state, ids, rows) => {
      const n = ids.length;
      const cache: KVCache = state
        ? { keys: state.keys.map((t) => tf.clone(t)), values: state.values.map((t) => tf.clone(t)), length: state.length }
        : this.model.newCache();
      let logp: tf.Tensor2D;
      try {
        logp = tf.tidy(() => {
          const h = this.model.hiddenStates(tf.tensor2d(ids, [1, n], 'int32'), cache); // [1, n, D]
          const last = tf.slice(tf.reshape(h, [n, this.model.config.hiddenSize]), [n - rows, 0], [rows, -1]) as tf.Tensor2D;
          return tf.logSoftmax(this.model.logits(last)); // [rows, vocab]
        });
      } catch (e) {
        LlamaTF.disposeCache(cache);
        throw e;
      }
      const data = (await logp.data()) as Float32Array;
      logp.dispose();
      return { state: cache, logp: data };
    },
    release: (state) => LlamaTF.disposeCache(state),
  };

  async generate(ids: number[], opts: GenerateOptions): Promise<number[]> {
    this.checkIds(ids, 'prompt');
    const { stop, pick } = resolveGenerateOptions(opts, this.eosTokenIds);
    const out: number[] = [];
    const cache = this.model.newCache();
    try {
      let input = ids;
      while (out.length < opts.maxNewTokens && cache.length + input.length <= this.maxLength) {
        const logits = tf.tidy(() => {
          const h = this.model.hiddenStates(tf.tensor2d(input, [1, input.length], 'int32'), cache);
          const lastRow = tf.slice(tf.reshape(h, [input.length, this.model.config.hiddenSize]), [input.length - 1, 0], [1, -1]) as tf.Tensor2D;
          return this.model.logits(lastRow); // [1, vocab]
        });
        const row = (await logits.data()) as Float32Array;
        logits.dispose();
        const next = pickToken(row, pick);
        out.push(next);
        if (stop.has(next)) break;
        input = [next];
      }
    } finally {
      LlamaTF.disposeCache(cache);
    }
    return out;
  }

  dispose(): void {
    this.model.dispose();
  }
}
