/**
 * The model layer's contracts. Everything above `lib/models/` (scorers, judges, DPO, notebooks, CLI) talks to a
 * language model only through `CausalLM`, so the TensorFlow.js engine (`llama-tf.ts`, trainable) and the
 * ONNX engine (transformers.js, fast inference) are interchangeable.
 */

/** One chat turn, as in Hugging Face chat templates. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

/** Options for `CausalLM.generate`. `temperature: 0` (the default) is greedy decoding. */
export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 = greedy (argmax). */
  temperature?: number;
  /** Nucleus sampling mass in (0, 1]; 1 disables it. */
  topP?: number;
  /** Seed of the sampler; the same seed, prompt and options give the same tokens. */
  seed?: number;
  /** Stop when one of these ids is produced (it is kept in the output). Defaults to the model's EOS. */
  stopTokenIds?: number[];
}

/** Normalised subset of a Hugging Face `config.json` for the Llama family (Llama, SmolLM2, Qwen2, Mistral). */
export interface LlamaConfig {
  modelType: string;            // "llama" | "qwen2" | "mistral" (HF model_type)
  vocabSize: number;
  hiddenSize: number;           // d_model
  intermediateSize: number;     // SwiGLU inner width
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;     // grouped-query attention: heads share K/V in groups of heads/kvHeads
  headDim: number;              // usually hiddenSize / numAttentionHeads
  rmsNormEps: number;
  ropeTheta: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  attentionBias: boolean;       // Qwen2: q/k/v projections carry a bias
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
}

/** A float tensor read from disk, before it becomes a tf.Tensor. Row-major, PyTorch layout ([out, in] for linears). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Weights named as in Hugging Face `LlamaForCausalLM` state dicts, e.g. `model.layers.0.self_attn.q_proj.weight`. */
export type WeightMap = Map<string, HostTensor>;

/** Which engine runs a model: TensorFlow.js (trainable), ONNX Runtime (fast), or an OpenAI-compatible server (`api.ts`). */
export type EngineName = 'tf' | 'onnx' | 'api';

/** One branch of `CausalLM.forkedLogProbs`: tokens after the shared prefix, and continuations scored after them. */
export interface ForkBranch {
  /** Tokens that follow the shared prefix in this branch (may be empty: the branch is the prefix itself). */
  ids: number[];
  /** Continuations scored by teacher forcing after `prefix ++ ids` (e.g. [" Yes" ids, " No" ids]). Default none. */
  continuations?: number[][];
}

/** What `forkedLogProbs` returns for one branch. */
export interface ForkResult {
  /** log P(next token | prefix ++ ids) over the whole vocabulary. `[vocab]` */
  next: Float32Array;
  /** For each continuation c: Σ_t log P(c[t] | prefix, ids, c[<t]) and its terms, as `continuationLogProb`. */
  continuations: { total: number; perToken: number[] }[];
}

/**
 * A causal language model plus its tokenizer. Token ids are plain `number[]`; every method that runs the network is
 * async so the ONNX engine fits the same shape. Implementations must not leak tensors between calls.
 */
export interface CausalLM {
  /** The reference the model was loaded from (folder path or hub id). */
  readonly ref: string;
  readonly engine: EngineName;
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  /** First EOS id (models may declare several; `eosTokenIds` has all). */
  readonly eosTokenId: number | null;
  readonly eosTokenIds: number[];
  /** Longest sequence the model accepts (max_position_embeddings). */
  readonly maxLength: number;

  /** Token ids of `text`; `addSpecialTokens` (default true) adds BOS etc. as the tokenizer's post-processor says. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`; `skipSpecialTokens` defaults to true. */
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Render a conversation with the tokenizer's chat template (throws a one-line error when the model has none). */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;

  /** log P(next token | ids) over the whole vocabulary, at the last position. `[vocab]` */
  nextTokenLogProbs(ids: number[]): Promise<Float32Array>;
  /** Same for several sequences of any lengths (padded internally). `batch × [vocab]` */
  nextTokenLogProbsBatch(batch: number[][]): Promise<Float32Array[]>;
  /**
   * Teacher-forced log-probability of `continuation` after `prefix`:
   * Σ_t log P(continuation[t] | prefix, continuation[<t]); `perToken` holds each term. `prefix` must be non-empty.
   */
  continuationLogProb(prefix: number[], continuation: number[]): Promise<{ total: number; perToken: number[] }>;
  /**
   * Optional (engines with a KV cache): the same numbers as `nextTokenLogProbs(prefix ++ b.ids)` and
   * `continuationLogProb(prefix ++ b.ids, c)` for every branch b and continuation c, with the prefix run ONCE and its
   * key/value cache reused by every branch, and each branch's cache reused by its continuations. IPO scoring uses it
   * for the template + instruction shared by a pair's two responses, and for the exact preset's " Yes" / " No"
   * (lib/scoring/yes-no.ts). `prefix` must be non-empty; each `prefix ++ b.ids ++ c` must fit the model.
   */
  forkedLogProbs?(prefix: number[], branches: ForkBranch[]): Promise<ForkResult[]>;
  /** Generate after `ids`; returns the continuation ids only (not the prompt). */
  generate(ids: number[], opts: GenerateOptions): Promise<number[]>;
  /** Free weights and sessions. */
  dispose(): void;
}
