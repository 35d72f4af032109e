/**
 * The IPO preference classifier: ask the model "<template> User : <instruction> Response : <response>" and read
 * P(" Yes") / (P(" Yes") + P(" No")) at the next token. The response with the higher score is preferred.
 *
 * Two presets:
 *
 * - `'paper'`: exactly `Preference_Comparison/Reward_Bench/ours.py` (doc §2.1):
 *   1. `ids = encode(prompt)` WITH special tokens (BOS for Llama/Mistral/TinyStories, nothing for SmolLM2/Qwen),
 *      right-truncated to `maxLength` (default 1024, BOS counted: the first 1024 ids are kept);
 *   2. one forward pass; `logp = nextTokenLogProbs(ids)` (full-vocabulary log-softmax at the last position);
 *   3. `yesIds = encode(" Yes", no special tokens)`, `noIds = encode(" No", …)`, both with the leading space;
 *   4. `p_yes = Σ exp(logp[id])` over EVERY id in `yesIds`, duplicates included; `p_no` likewise;
 *   5. if `p_yes + p_no > 0` both are divided by the sum, otherwise both are returned raw (the fp16-underflow path,
 *      where the official code returns ≈(0, 0) and the pair ties, i.e. counts as wrong). We return
 *      `pYes = p_yes` (raw, 0) and `underflow: true` in that case, never a made-up 0.5.
 *
 * - `'exact'`: the probability of the WHOLE " Yes" / " No" continuation by teacher forcing. We encode
 *   `prompt + " Yes"` and `prompt + " No"` (with special tokens), take their longest common prefix `c` (it must be
 *   non-empty; normally it is the encoded prompt, sometimes plus a shared leading-space piece), and with
 *   `y`, `n` the two remaining suffixes compute `log P(y | c)` and `log P(n | c)` with `continuationLogProb`.
 *   `pYes = P(y|c) / (P(y|c) + P(n|c))`, evaluated as `exp(a − logsumexp(a, b))`, so it never underflows.
 *   Because `P(c·y) = P(c)·P(y|c)`, this is exactly the ratio of the model's probabilities of the two complete
 *   texts `prompt + " Yes"` and `prompt + " No"`.
 *   Why it exists: with SentencePiece-style tokenizers " Yes" is not one token. TinyStories-656K (2,048 vocab) has no
 *   `▁Yes`: `encode(" Yes") = [80 ▁, 80 ▁, 50 Y, 233 es]` and `encode(" No") = [80, 80, 39 N, 67 o]`. The paper preset
 *   then adds `2·P(▁) + P(Y) + P(es)` against `2·P(▁) + P(N) + P(o)`, all read at the SAME position: the shared
 *   `P(▁)` mass (counted twice) sits on both sides and pulls every score toward 0.5, and `P(es)`, `P(o)` are
 *   probabilities of tokens that cannot start the answer. (Mistral-v0.1 has the same problem with one shared `▁`.)
 *   With byte-level BPE (Llama-3, Qwen, SmolLM2: single-token ` Yes`/` No`) the two presets differ only in that
 *   `'exact'` conditions on the same prefix and cannot underflow.
 *
 * Truncation (`truncation`, applied to the encoded prompt in `'paper'` and to the shared prefix `c` in `'exact'`):
 * - `'right'` (official): keep the first `maxLength` ids. Inputs that are too long lose the response tail AND the
 *   final marker, so " Yes" is then read in the middle of the response (quirk #3). (If the tokenizer appended
 *   special tokens such as EOS, they are kept at the end, as Hugging Face's `truncation=True` does; no tokenizer
 *   of the paper does this.)
 * - `'left'`: keep the special prefix (BOS) and the last `maxLength − |prefix|` ids.
 * - `'keep-marker'`: cut tokens out of the response only. The encoded prompt is split at token level into
 *   head (template + instruction + "Response : ", found as the common prefix with `encode(head)`), response
 *   (up to the common prefix with `encode(head + response)`), and tail (the rest: `"\n    "` or, for RM-Bench, the
 *   question); the response is cut from its right end. All ids come from the joint encoding, so the marker's tokens
 *   are exactly the untruncated ones. If head + tail alone do not fit, the response is dropped and the head is cut
 *   from its right end (BOS and the start of the template survive); if even the tail alone does not fit, only
 *   the special prefix and the last ids of the tail are kept.
 * Inputs that fit are never touched, so all three modes agree with the official code on them.
 *
 * `maxLength` is capped at the model's own `maxLength` (max_position_embeddings), minus the longest answer suffix in
 * `'exact'`, so the default 1024 does not overflow a 512-position model such as TinyStories-656K. For every model of
 * the paper (≥ 1024 positions) the cap changes nothing.
 */
import { outcome } from '../eval/outcome';
import type { CausalLM } from '../models/types';
import { describe } from '../util/check';
import { displayPath } from '../util/paths';
import { ipoPromptParts, type IpoLayout, type IpoPromptParts } from './prompt';
import { resolveTemplate, type TemplateSet } from './templates';

export type IpoPreset = 'paper' | 'exact';
export type IpoTruncation = 'right' | 'left' | 'keep-marker';

export interface IpoItem {
  instruction: string;
  /** May be empty (the official code scores empty responses too). */
  response: string;
  /** Subset / dataset / category used to pick the template (see `templateSet`). Ignored when `template` is given. */
  category?: string;
  /** Explicit template; overrides `category`. */
  template?: string;
}

export interface IpoOptions {
  /** Default `'paper'`. */
  preset?: IpoPreset;
  /** Default `'rewardbench'`. */
  layout?: IpoLayout;
  /** Default 1024 (the official value), capped at the model's maxLength. Counts BOS. */
  maxLength?: number;
  /** Default `'right'` (the official behaviour). */
  truncation?: IpoTruncation;
  /**
   * Which official table `category` is looked up in. Default: `'rewardbench'` for the rewardbench layout,
   * `'rmbench'` for the rmbench layout. Use `'dpo'` for `DPO/ours.py` self-scoring (General/chat/Safety/Math).
   */
  templateSet?: TemplateSet;
  /**
   * `pYesBatch` / `scorePairBatch`: sequences per `nextTokenLogProbsBatch` call, default 8. `scorePairs`: unset (the
   * default) scores pair by pair with `scorePair`; set, it scores cache misses with `scorePairBatch` (see there for
   * when that is faster). Does not change the scores beyond float noise, and is not part of cache keys.
   */
  batchSize?: number;
  /**
   * Default true: on engines with a KV cache (`CausalLM.forkedLogProbs`: tf, and onnx graphs with past_key_values),
   * `scorePair` runs the prefix its two prompts share (BOS + template + instruction + …) once and continues both
   * responses from its cache, and the exact preset scores " Yes" and " No" from one pass over the prompt. The scores
   * equal the plain path's up to float rounding (≤ 1e-5, test/prefix-reuse.test.ts), so it is not part of cache keys;
   * false forces the plain path (two independent passes per pair, or four in the exact preset).
   */
  prefixReuse?: boolean;
}

export interface IpoScore {
  /** The preference score: p_yes / (p_yes + p_no), or raw p_yes when `underflow`. */
  pYes: number;
  /** Raw, unnormalised P(yes) (paper: the sum over the yes ids; exact: the continuation probability). */
  yes: number;
  /** Raw, unnormalised P(no). */
  no: number;
  preset: IpoPreset;
  /** Number of ids the model was conditioned on (after truncation; in `'exact'` the shared prefix). */
  promptTokens: number;
  /** True when truncation removed ids. */
  truncated: boolean;
  /**
   * True when truncation removed ids of the marker, the prompt's text after the response that " Yes"/" No" follow
   * (`IpoPromptParts.tail`: `"\n    "` in RewardBench's layout, `"\n    " + question` in RM-Bench's), so the answer
   * is read straight after a cut-off response. `'right'` (the official truncation) cuts it whenever it truncates;
   * `'left'` and `'keep-marker'` keep it unless the marker alone is longer than `maxLength`.
   */
  markerCut: boolean;
  /** True when p_yes + p_no was not > 0 (or not finite in log space), so no normalisation happened. */
  underflow: boolean;
  template: string;
  /** The full, untruncated prompt string. */
  prompt: string;
}

export interface IpoPair {
  instruction: string;
  chosen: string;
  rejected: string;
  category?: string;
  template?: string;
}

export interface IpoPairScore {
  chosen: IpoScore;
  rejected: IpoScore;
  /** chosen.pYes > rejected.pYes, strictly. */
  correct: boolean;
  /** chosen.pYes === rejected.pYes (counted as not correct). */
  tie: boolean;
}

export interface YesNoIds {
  /** `encode(" Yes", { addSpecialTokens: false })`, duplicates kept. */
  yes: number[];
  /** `encode(" No", { addSpecialTokens: false })`, duplicates kept. */
  no: number[];
  /** Both are a single id (byte-level BPE); when false the paper preset sums several next-token probabilities. */
  singleToken: boolean;
}

export const DEFAULT_MAX_LENGTH = 1024;
export const DEFAULT_BATCH_SIZE = 8;

/** The official answer strings, with their leading space. */
export const YES_TEXT = ' Yes';
export const NO_TEXT = ' No';

/** The ids the paper preset sums. Throws if the tokenizer returns nothing for either. */
export function yesNoIds(model: CausalLM): YesNoIds {
  const yes = model.encode(YES_TEXT, { addSpecialTokens: false });
  const no = model.encode(NO_TEXT, { addSpecialTokens: false });
  if (yes.length === 0 || no.length === 0) throw new Error(`yesNoIds: the tokenizer of ${model.ref} encodes " Yes" or " No" to no ids`);
  return { yes, no, singleToken: yes.length === 1 && no.length === 1 };
}

// ---------------------------------------------------------------------------------------------------------------
// options, validation

interface Resolved {
  preset: IpoPreset;
  layout: IpoLayout;
  maxLength: number;
  truncation: IpoTruncation;
  templateSet: TemplateSet;
  batchSize: number;
  prefixReuse: boolean;
}

function resolveOptions(fn: string, opts: IpoOptions | undefined): Resolved {
  const o = opts ?? {};
  if (typeof o !== 'object') throw new Error(`${fn}: options must be an object`);
  const preset = o.preset ?? 'paper';
  if (preset !== 'paper' && preset !== 'exact') throw new Error(`${fn}: preset must be 'paper' or 'exact', got ${JSON.stringify(preset)}`);
  const layout = o.layout ?? 'rewardbench';
  if (layout !== 'rewardbench' && layout !== 'rmbench') throw new Error(`${fn}: layout must be 'rewardbench' or 'rmbench', got ${JSON.stringify(layout)}`);
  const truncation = o.truncation ?? 'right';
  if (truncation !== 'right' && truncation !== 'left' && truncation !== 'keep-marker') {
    throw new Error(`${fn}: truncation must be 'right', 'left' or 'keep-marker', got ${JSON.stringify(truncation)}`);
  }
  const maxLength = o.maxLength ?? DEFAULT_MAX_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`${fn}: maxLength must be a positive integer, got ${String(maxLength)}`);
  const batchSize = o.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${fn}: batchSize must be a positive integer, got ${String(batchSize)}`);
  const templateSet = o.templateSet ?? (layout === 'rmbench' ? 'rmbench' : 'rewardbench');
  if (templateSet !== 'rewardbench' && templateSet !== 'rmbench' && templateSet !== 'dpo') {
    throw new Error(`${fn}: templateSet must be 'rewardbench', 'rmbench' or 'dpo', got ${JSON.stringify(templateSet)}`);
  }
  const prefixReuse = o.prefixReuse ?? true;
  if (typeof prefixReuse !== 'boolean') throw new Error(`${fn}: prefixReuse must be true or false, got ${describe(prefixReuse)}`);
  return { preset, layout, maxLength, truncation, templateSet, batchSize, prefixReuse };
}

interface Prepared {
  template: string;
  prompt: string;
  parts: IpoPromptParts;
}

function prepare(fn: string, where: string, item: IpoItem, o: Resolved): Prepared {
  if (item === null || typeof item !== 'object') throw new Error(`${fn}: ${where} must be an object, got ${describe(item)}`);
  if (typeof item.instruction !== 'string' || item.instruction.length === 0) {
    throw new Error(`${fn}: ${where}.instruction must be a non-empty string, got ${typeof item.instruction === 'string' ? 'an empty string' : describe(item.instruction)}`);
  }
  if (typeof item.response !== 'string') throw new Error(`${fn}: ${where}.response must be a string, got ${describe(item.response)}`);
  if (item.category !== undefined && typeof item.category !== 'string') throw new Error(`${fn}: ${where}.category must be a string, got ${describe(item.category)}`);
  if (item.template !== undefined && typeof item.template !== 'string') throw new Error(`${fn}: ${where}.template must be a string, got ${describe(item.template)}`);
  const template = item.template ?? resolveTemplate(item.category, o.templateSet).template;
  const parts = ipoPromptParts({ instruction: item.instruction, response: item.response, template, layout: o.layout });
  return { template, prompt: parts.head + parts.response + parts.tail, parts };
}

// ---------------------------------------------------------------------------------------------------------------
// token helpers

function lcp(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function startsWith(ids: number[], p: number[]): boolean {
  return p.length <= ids.length && p.every((v, i) => ids[i] === v);
}

function endsWith(ids: number[], s: number[]): boolean {
  return s.length <= ids.length && s.every((v, i) => ids[ids.length - s.length + i] === v);
}

interface SpecialTokens {
  /** Ids the tokenizer puts before the text (e.g. [BOS]). */
  prefix: number[];
  /** Ids it puts after the text (e.g. [EOS]; empty for every tokenizer of the paper). */
  suffix: number[];
}

/** What `encode(text)` adds around `encode(text, {addSpecialTokens: false})`, found on a probe string. */
function specialTokens(model: CausalLM): SpecialTokens {
  const probe = 'a';
  const withSpecial = model.encode(probe);
  const plain = model.encode(probe, { addSpecialTokens: false });
  if (plain.length > 0) {
    for (let k = 0; k + plain.length <= withSpecial.length; k++) {
      if (plain.every((v, i) => withSpecial[k + i] === v)) {
        return { prefix: withSpecial.slice(0, k), suffix: withSpecial.slice(k + plain.length) };
      }
    }
  }
  const bos = model.bosTokenId;
  return { prefix: bos !== null && withSpecial[0] === bos ? [bos] : [], suffix: [] };
}

function stripSuffix(ids: number[], suffix: number[]): number[] {
  return suffix.length > 0 && endsWith(ids, suffix) ? ids.slice(0, ids.length - suffix.length) : ids;
}

/** Cap `maxLength` so that `reserve` more ids still fit in the model's context. */
function effectiveMaxLength(fn: string, model: CausalLM, maxLength: number, reserve: number): number {
  let m = maxLength;
  if (Number.isFinite(model.maxLength) && model.maxLength > 0) m = Math.min(m, model.maxLength - reserve);
  if (m < 1) throw new Error(`${fn}: no room for the prompt (maxLength ${maxLength}, model maxLength ${model.maxLength}, answer needs ${reserve})`);
  return m;
}

interface Truncated {
  ids: number[];
  truncated: boolean;
  /** Ids of the marker (text after the response) were removed. */
  markerCut: boolean;
}

/**
 * Apply `mode` to `ids` (see the file comment). `pre`/`suf` are the numbers of special ids at either end of `ids`;
 * `pieces` lazily gives the encodings of head and head+response (special suffix stripped) for `'keep-marker'`.
 */
function truncateIds(
  fn: string, ids: number[], max: number, mode: IpoTruncation, pre: number, suf: number,
  pieces: () => { head: number[]; headResponse: number[] },
): Truncated {
  if (ids.length <= max) return { ids, truncated: false, markerCut: false };
  if (max < pre + suf + 1) throw new Error(`${fn}: maxLength ${max} leaves no room for text next to ${pre + suf} special ids`);
  const prefix = ids.slice(0, pre);
  const suffix = ids.slice(ids.length - suf);
  const text = ids.slice(pre, ids.length - suf);
  const keep = max - pre - suf;
  // The marker = the ids after head+response in the joint encoding, up to the special suffix (`marker` text ids).
  const markerLength = () => {
    const { head, headResponse } = pieces();
    const l = Math.max(pre, lcp(ids, head), lcp(ids, headResponse));
    return Math.max(0, ids.length - suf - l);
  };
  switch (mode) {
    case 'right':
      // ours.py: tokenizer.encode(prompt, max_length=1024, truncation=True) (truncation_side 'right'): the end of the
      // text goes first, so the marker is cut whenever anything is (unless the template ends with the response).
      return { ids: [...prefix, ...text.slice(0, keep), ...suffix], truncated: true, markerCut: markerLength() > 0 };
    case 'left':
      return { ids: [...prefix, ...text.slice(text.length - keep), ...suffix], truncated: true, markerCut: markerLength() > keep };
    case 'keep-marker': {
      const { head, headResponse } = pieces();
      const h = Math.max(lcp(ids, head), pre);
      const l = Math.max(h, lcp(ids, headResponse));
      const headIds = ids.slice(0, h);
      const responseIds = ids.slice(h, l);
      const tailIds = ids.slice(l); // the marker (and any special suffix), exactly as in the joint encoding
      if (h + tailIds.length <= max) {
        return { ids: [...headIds, ...responseIds.slice(0, max - h - tailIds.length), ...tailIds], truncated: true, markerCut: false };
      }
      if (pre + tailIds.length <= max) return { ids: [...headIds.slice(0, max - tailIds.length), ...tailIds], truncated: true, markerCut: false };
      return { ids: [...prefix, ...tailIds.slice(tailIds.length - (max - pre))], truncated: true, markerCut: true };
    }
  }
}

function keepMarkerPieces(model: CausalLM, parts: IpoPromptParts, special: SpecialTokens) {
  return () => ({
    head: stripSuffix(model.encode(parts.head), special.suffix),
    headResponse: stripSuffix(model.encode(parts.head + parts.response), special.suffix),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// paper preset

interface PaperInput {
  prep: Prepared;
  /** The model's reference (for errors that name it) and engine (NaN means "outside the top-K" on 'api'). */
  model: string;
  engine: string;
  ids: number[];
  truncated: boolean;
  markerCut: boolean;
}

function paperInput(fn: string, model: CausalLM, prep: Prepared, o: Resolved): PaperInput {
  // ours.py: ids = tokenizer.encode(prompt, max_length=1024, truncation=True): special tokens ON.
  const full = model.encode(prep.prompt);
  const max = effectiveMaxLength(fn, model, o.maxLength, 0);
  if (full.length <= max) return { prep, model: model.ref, engine: model.engine, ids: full, truncated: false, markerCut: false };
  const special = specialTokens(model);
  const pre = startsWith(full, special.prefix) ? special.prefix.length : 0;
  const suf = special.suffix.length > 0 && endsWith(full, special.suffix) ? special.suffix.length : 0;
  const t = truncateIds(fn, full, max, o.truncation, pre, suf, keepMarkerPieces(model, prep.parts, special));
  return { prep, model: model.ref, engine: model.engine, ids: t.ids, truncated: t.truncated, markerCut: t.markerCut };
}

function paperScore(fn: string, logp: Float32Array, input: PaperInput, yn: YesNoIds): IpoScore {
  // ours.py: probs = softmax(logits[:, -1, :]); yes_prob = sum of probs at EVERY id of encode(" Yes"),
  // duplicates included (TinyStories: ▁ twice); no_prob likewise.
  let yes = 0;
  for (const id of yn.yes) yes += Math.exp(finiteLogp(fn, input, at(fn, logp, id), `" Yes" (token ${id})`));
  let no = 0;
  for (const id of yn.no) no += Math.exp(finiteLogp(fn, input, at(fn, logp, id), `" No" (token ${id})`));
  const total = yes + no;
  // ours.py: `if total > 0: yes, no = yes/total, no/total` else both are returned raw (fp16 underflow → ≈(0, 0)).
  const underflow = !(total > 0);
  return {
    pYes: underflow ? yes : yes / total,
    yes, no, preset: 'paper',
    promptTokens: input.ids.length, truncated: input.truncated, markerCut: input.markerCut, underflow,
    template: input.prep.template, prompt: input.prep.prompt,
  };
}

/**
 * A log-probability the score may use: NaN or +Inf means the engine produced NaN/Inf logits (broken weights, an fp16
 * overflow, a bad backend), and P(Yes) would come out NaN — a "result" a run would average silently. −Inf is a
 * legitimate underflow (probability 0) and passes; the underflow path above handles it as the official code does.
 * The api engine is the one exception: there NaN is its documented "not among the server's top-K log-probs"
 * (lib/models/api.ts), counted in its `stats().yesNoMissing`, and the score stays NaN (never a made-up 0).
 */
function finiteLogp(fn: string, input: { model: string; engine: string }, v: number, what: string): number {
  if ((Number.isNaN(v) && input.engine !== 'api') || v === Infinity) {
    throw new Error(`${fn}: ${displayPath(input.model)} returned a non-finite log-probability (${v}) for ${what}: its logits are NaN/Inf (broken weights, fp16 overflow or a faulty backend), so P(Yes) would be meaningless`);
  }
  return v;
}

function at(fn: string, logp: Float32Array, id: number): number {
  if (!Number.isInteger(id) || id < 0 || id >= logp.length) throw new Error(`${fn}: token id ${id} is outside the model's ${logp.length}-entry distribution`);
  return logp[id];
}

// ---------------------------------------------------------------------------------------------------------------
// exact preset

interface ExactInput {
  prep: Prepared;
  /** The model's reference (for errors that name it) and engine (NaN means "outside the top-K" on 'api'). */
  model: string;
  engine: string;
  /** The shared prefix c of prompt+" Yes" and prompt+" No", after truncation. */
  ids: number[];
  truncated: boolean;
  markerCut: boolean;
  yesSuffix: number[];
  noSuffix: number[];
}

function exactInput(fn: string, model: CausalLM, prep: Prepared, o: Resolved): ExactInput {
  const special = specialTokens(model);
  const yesFull = stripSuffix(model.encode(prep.prompt + YES_TEXT), special.suffix);
  const noFull = stripSuffix(model.encode(prep.prompt + NO_TEXT), special.suffix);
  const c = lcp(yesFull, noFull);
  if (c === 0) throw new Error(`${fn}: prompt+" Yes" and prompt+" No" share no leading token, so the exact preset has no prefix to condition on`);
  const yesSuffix = yesFull.slice(c);
  const noSuffix = noFull.slice(c);
  if (yesSuffix.length === 0 || noSuffix.length === 0) throw new Error(`${fn}: " Yes" or " No" adds no token after the shared prefix`);
  const prefix = yesFull.slice(0, c);
  const max = effectiveMaxLength(fn, model, o.maxLength, Math.max(yesSuffix.length, noSuffix.length));
  const pre = startsWith(prefix, special.prefix) ? special.prefix.length : 0;
  const t = truncateIds(fn, prefix, max, o.truncation, pre, 0, keepMarkerPieces(model, prep.parts, special));
  return { prep, model: model.ref, engine: model.engine, ids: t.ids, truncated: t.truncated, markerCut: t.markerCut, yesSuffix, noSuffix };
}

/** `a` = log P(yes suffix | c), `b` = log P(no suffix | c). */
function exactFromLogps(input: ExactInput, a: number, b: number): IpoScore {
  finiteLogp('exact', input, a, '" Yes"');
  finiteLogp('exact', input, b, '" No"');
  const m = Math.max(a, b);
  const lse = m + Math.log(Math.exp(a - m) + Math.exp(b - m));
  const yes = Math.exp(a);
  const underflow = !Number.isFinite(lse);
  return {
    pYes: underflow ? yes : Math.exp(a - lse),
    yes, no: Math.exp(b), preset: 'exact',
    promptTokens: input.ids.length, truncated: input.truncated, markerCut: input.markerCut, underflow,
    template: input.prep.template, prompt: input.prep.prompt,
  };
}

/**
 * The exact preset for one response: with prefix reuse, ONE pass over c and one token-step per answer
 * (`forkedLogProbs(c, [{ids: [], continuations: [yes, no]}])`); otherwise two `continuationLogProb` calls.
 */
async function exactScore(fn: string, model: CausalLM, prep: Prepared, o: Resolved): Promise<IpoScore> {
  const input = exactInput(fn, model, prep, o);
  if (o.prefixReuse && model.forkedLogProbs) {
    const [r] = await model.forkedLogProbs(input.ids, [{ ids: [], continuations: [input.yesSuffix, input.noSuffix] }]);
    return exactFromLogps(input, r.continuations[0].total, r.continuations[1].total);
  }
  const a = (await model.continuationLogProb(input.ids, input.yesSuffix)).total;
  const b = (await model.continuationLogProb(input.ids, input.noSuffix)).total;
  return exactFromLogps(input, a, b);
}

/**
 * Both responses of a pair with the engine's `forkedLogProbs`: the longest common prefix of the two inputs (after
 * truncation, so each response is conditioned on exactly what the plain path feeds) is run once; the paper preset
 * reads each branch's next-token distribution, the exact preset scores " Yes" / " No" after each branch. Returns
 * null when the inputs share no token (no BOS and different first tokens): the caller takes the plain path.
 */
async function sharedPairScores(fn: string, model: CausalLM, chosen: Prepared, rejected: Prepared, o: Resolved): Promise<[IpoScore, IpoScore] | null> {
  const fork = model.forkedLogProbs!.bind(model);
  if (o.preset === 'exact') {
    const [c, r] = [exactInput(fn, model, chosen, o), exactInput(fn, model, rejected, o)];
    const k = lcp(c.ids, r.ids);
    if (k === 0) return null;
    const res = await fork(c.ids.slice(0, k), [
      { ids: c.ids.slice(k), continuations: [c.yesSuffix, c.noSuffix] },
      { ids: r.ids.slice(k), continuations: [r.yesSuffix, r.noSuffix] },
    ]);
    return [exactFromLogps(c, res[0].continuations[0].total, res[0].continuations[1].total),
      exactFromLogps(r, res[1].continuations[0].total, res[1].continuations[1].total)];
  }
  const yn = yesNoIds(model);
  const [c, r] = [paperInput(fn, model, chosen, o), paperInput(fn, model, rejected, o)];
  const k = lcp(c.ids, r.ids);
  if (k === 0) return null;
  const res = await fork(c.ids.slice(0, k), [{ ids: c.ids.slice(k) }, { ids: r.ids.slice(k) }]);
  return [paperScore(fn, res[0].next, c, yn), paperScore(fn, res[1].next, r, yn)];
}

// ---------------------------------------------------------------------------------------------------------------
// public API

/**
 * Score one response. `'paper'`: one `nextTokenLogProbs` call; `'exact'`: one `forkedLogProbs` call on engines with a
 * KV cache, else two `continuationLogProb` calls.
 */
export async function pYes(model: CausalLM, item: IpoItem, opts?: IpoOptions): Promise<IpoScore> {
  const o = resolveOptions('pYes', opts);
  const prep = prepare('pYes', 'item', item, o);
  if (o.preset === 'exact') return exactScore('pYes', model, prep, o);
  const yn = yesNoIds(model);
  const input = paperInput('pYes', model, prep, o);
  const logp = await model.nextTokenLogProbs(input.ids);
  return paperScore('pYes', logp, input, yn);
}

/**
 * Score many responses, results in input order. `'paper'` runs `nextTokenLogProbsBatch` on chunks of `batchSize`
 * (default 8); `'exact'` scores the items one by one. All items are validated before the model runs.
 */
export async function pYesBatch(model: CausalLM, items: IpoItem[], opts?: IpoOptions): Promise<IpoScore[]> {
  if (!Array.isArray(items)) throw new Error(`pYesBatch: items must be an array, got ${describe(items)}`);
  const o = resolveOptions('pYesBatch', opts);
  const preps = items.map((it, i) => prepare('pYesBatch', `items[${i}]`, it, o));
  const out: IpoScore[] = [];
  if (o.preset === 'exact') {
    for (const p of preps) out.push(await exactScore('pYesBatch', model, p, o));
    return out;
  }
  const yn = yesNoIds(model);
  const inputs = preps.map((p) => paperInput('pYesBatch', model, p, o));
  for (let s = 0; s < inputs.length; s += o.batchSize) {
    const chunk = inputs.slice(s, s + o.batchSize);
    const logps = await model.nextTokenLogProbsBatch(chunk.map((c) => c.ids));
    if (logps.length !== chunk.length) throw new Error(`pYesBatch: the model returned ${logps.length} distributions for ${chunk.length} sequences`);
    chunk.forEach((c, j) => out.push(paperScore('pYesBatch', logps[j], c, yn)));
  }
  return out;
}

function checkIpoPair(fn: string, where: string, pair: IpoPair): void {
  if (pair === null || typeof pair !== 'object') throw new Error(`${fn}: ${where} must be an object, got ${describe(pair)}`);
  for (const f of ['chosen', 'rejected'] as const) {
    if (typeof pair[f] !== 'string') throw new Error(`${fn}: ${where}.${f} must be a string, got ${describe(pair[f])}`);
  }
  if (typeof pair.instruction !== 'string' || pair.instruction.length === 0) {
    throw new Error(`${fn}: ${where}.instruction must be a non-empty string, got ${typeof pair.instruction === 'string' ? 'an empty string' : describe(pair.instruction)}`);
  }
}

function pairScore(chosen: IpoScore, rejected: IpoScore): IpoPairScore {
  return { chosen, rejected, ...outcome(chosen.pYes, rejected.pYes) };
}

/**
 * Score a preference pair. `correct` iff chosen.pYes > rejected.pYes STRICTLY: ties (including the (0, 0) of the
 * underflow path) count as wrong, as in `Reward_Bench/ours.py` (a pair is correct iff chosen_yes_prob >
 * rejected_yes_prob) and RewardBench `scripts/run_rm.py` (doc §2.1 step 7, §9 quirk #7; `outcome` in
 * lib/eval/outcome.ts). `tie` reports them separately. On engines with a KV cache (and unless `prefixReuse: false`)
 * the two prompts' common prefix is run once (`sharedPairScores`); otherwise two `pYes` calls, chosen then rejected.
 */
export async function scorePair(model: CausalLM, pair: IpoPair, opts?: IpoOptions): Promise<IpoPairScore> {
  checkIpoPair('scorePair', 'pair', pair);
  const o = resolveOptions('scorePair', opts);
  const base = { instruction: pair.instruction, category: pair.category, template: pair.template };
  if (o.prefixReuse && model.forkedLogProbs) {
    const chosen = prepare('scorePair', 'pair', { ...base, response: pair.chosen }, o);
    const rejected = prepare('scorePair', 'pair', { ...base, response: pair.rejected }, o);
    const shared = await sharedPairScores('scorePair', model, chosen, rejected, o);
    if (shared) return pairScore(shared[0], shared[1]);
  }
  const chosen = await pYes(model, { ...base, response: pair.chosen }, opts);
  const rejected = await pYes(model, { ...base, response: pair.rejected }, opts);
  return pairScore(chosen, rejected);
}

/**
 * Score many pairs, results in input order. All 2n responses `[chosen_1 … chosen_n; rejected_1 … rejected_n]` go to
 * the engine together, as TRL's DPOTrainer runs a preference batch in one forward ("We do this to avoid doing two
 * forward passes", `concatenated_forward`), so the ONNX engine's left-padded batching is used. They are ordered by
 * the length of their ids (after truncation) and cut into calls of `batchSize` sequences (default 8; Hugging Face's
 * `group_by_length`), because a batch is padded to its longest sequence. Results are put back in input order.
 *
 * When it pays: on a GPU, and on a CPU only for sequences of similar length. Measured on the 2-core reference CPU
 * (onnx engine, SmolLM2-135M-shaped model, machine shared so ±30 %): 8 sequences of 300 tokens in one call took
 * ~0.8× the time of 8 single calls, but RewardBench pairs (responses of 6 to 750 tokens) scored 0.56-0.80 pairs/s
 * in length-sorted groups of 32 pairs vs 0.54-1.3 for `scorePair`; TinyStories-656K 0.65-0.97× (tf and onnx). No
 * gain on a CPU, so the long loop `scorePairs` uses this only when asked (`batchSize`).
 * `'exact'` scores pair by pair, as `scorePair`. The numbers equal `scorePair`'s up to the engine's float noise from
 * padding (< 1e-6 measured on both engines). All pairs are validated before the model runs.
 */
export async function scorePairBatch(model: CausalLM, pairs: IpoPair[], opts?: IpoOptions): Promise<IpoPairScore[]> {
  const fn = 'scorePairBatch';
  if (!Array.isArray(pairs)) throw new Error(`${fn}: pairs must be an array, got ${describe(pairs)}`);
  const o = resolveOptions(fn, opts);
  pairs.forEach((p, i) => checkIpoPair(fn, `pairs[${i}]`, p));
  const n = pairs.length;
  const item = (p: IpoPair, response: string): IpoItem => ({ instruction: p.instruction, response, category: p.category, template: p.template });
  const preps = [...pairs.map((p) => item(p, p.chosen)), ...pairs.map((p) => item(p, p.rejected))] // [chosen; rejected]
    .map((it, i) => prepare(fn, `pairs[${i % Math.max(1, n)}]`, it, o));
  const scores: IpoScore[] = new Array(preps.length);
  if (o.preset === 'exact') {
    for (let j = 0; j < n; j++) {
      const shared = o.prefixReuse && model.forkedLogProbs ? await sharedPairScores(fn, model, preps[j], preps[n + j], o) : null;
      scores[j] = shared ? shared[0] : await exactScore(fn, model, preps[j], o);
      scores[n + j] = shared ? shared[1] : await exactScore(fn, model, preps[n + j], o);
    }
  } else {
    const yn = yesNoIds(model);
    const inputs = preps.map((p) => paperInput(fn, model, p, o));
    // group by length: sort by the ids actually fed (after truncation), shortest first
    const order = inputs.map((_, i) => i).sort((a, b) => inputs[a].ids.length - inputs[b].ids.length || a - b);
    for (let s = 0; s < order.length; s += o.batchSize) {
      const chunk = order.slice(s, s + o.batchSize);
      const logps = await model.nextTokenLogProbsBatch(chunk.map((i) => inputs[i].ids));
      if (logps.length !== chunk.length) throw new Error(`${fn}: the model returned ${logps.length} distributions for ${chunk.length} sequences`);
      chunk.forEach((i, j) => { scores[i] = paperScore(fn, logps[j], inputs[i], yn); });
    }
  }
  const out: IpoPairScore[] = [];
  for (let j = 0; j < n; j++) out.push(pairScore(scores[j], scores[n + j]));
  return out;
}
