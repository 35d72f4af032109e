/**
 * Win rate of a policy against a baseline (normally the base model it was trained from) on held-out instructions
 * (AlpacaEval's 805, `lib/data/alpaca-eval.ts`), judged by a LOCAL judge. The official AlpacaEval win rate needs an
 * API annotator (GPT-4-Turbo against `gpt4_1106_preview` references); these numbers are the kit's own and are not
 * comparable to the AlpacaEval leaderboard.
 *
 * 1. Both models answer every instruction (`generateResponses`: greedy by default, or seeded sampling), cached per
 *    model fingerprint and options (`generations/<fingerprint>`). The baseline may also be a list of fixed responses
 *    (e.g. the GPT-4-Turbo references).
 * 2. A `PairJudge` gives the preference for response `a` over `b` in [0, 1] (1 = a better, 0 = b better,
 *    0.5 = tie or unparsed). Every pair is judged in BOTH orders and the two are averaged, so position bias cancels:
 *    s = (pref(a = policy, b = base) + 1 − pref(a = base, b = policy)) / 2. A judge that handles both orders itself
 *    (`orders: 'both'`, the binary judge's fixed mode) is called once; one whose verdict cannot depend on the order
 *    (`orders: 'symmetric'`, P(Yes) scores each response on its own) is called once too. Judgements are cached
 *    (`judges/winrate`).
 * 3. Per instruction s > 0.5 is a win, s < 0.5 a loss, s = 0.5 a tie; the win rate is mean(s), so a tie counts 0.5
 *    (AlpacaEval 2's convention for draws), with a seeded bootstrap interval.
 *
 * Judges provided: `pYesPairJudge` (the IPO classifier: the response with the higher P(Yes) wins) and
 * `binaryPairJudge` (`lib/scoring/binary-judge.ts` in its fixed, both-orders mode). Any function of the
 * `PairJudge` shape plugs in.
 */
import { modelFingerprint } from '../models/fingerprint';
import type { CausalLM } from '../models/types';
import { runCachedLoop } from '../util/cached-loop';
import { extractResponse } from '../generate/extract';
import { pYes, type IpoOptions } from '../scoring/yes-no';
import { resolveTemplate, type TemplateSet } from '../scoring/templates';
import { resolveBinaryOptions, scorePairBinaryResolved, type BinaryJudgeOptions } from '../scoring/binary-judge';
import type { AlpacaEvalItem } from '../data/alpaca-eval';
import { bootstrapCi, type BootstrapCi, type BootstrapOptions } from './bootstrap';

// ---------------------------------------------------------------------------------------------------------------
// judges

export interface PairJudgeInput {
  instruction: string;
  a: string;
  b: string;
}

export interface PairJudgeVerdict {
  /** Preference for `a` over `b` in [0, 1]: 1 = a better, 0 = b better, 0.5 = tie (or unparsed). */
  preference: number;
  /** Judgements without a usable verdict inside this call (counted in the report). */
  unparsed?: number;
  /** Anything worth keeping (scores, generated text); must be JSON (it is cached). */
  detail?: unknown;
}

/**
 * A pairwise judge. `orders` says how `winRate` must call it:
 * - `'single'`: judges the order given; called twice (a = policy, then a = baseline) and averaged;
 * - `'both'`: already judges both orders and averages them; called once;
 * - `'symmetric'`: the verdict does not depend on the order; called once.
 * `key` must hold everything that decides verdicts besides the input (model fingerprint, template, options): it is
 * part of the cache key.
 */
export interface PairJudge {
  name: string;
  key: unknown;
  orders: 'single' | 'both' | 'symmetric';
  judge(input: PairJudgeInput): Promise<PairJudgeVerdict>;
}

/** 1 / 0 / 0.5 from two scores (higher wins, equal ties). */
export function preferenceFromScores(a: number, b: number): number {
  return a > b ? 1 : a < b ? 0 : 0.5;
}

export interface PYesJudgeOptions extends IpoOptions {
  /** Explicit IPO template. Default: the `DPO/ours.py` "chat" template (`category: 'chat'`, `templateSet: 'dpo'`). */
  template?: string;
  /** Category looked up in `templateSet` when no template is given. Default 'chat'. */
  category?: string;
}

/**
 * The IPO classifier as a pairwise judge: P(Yes) of each response on its own (`pYes`), the higher wins, equal
 * scores tie. Order-free by construction (`orders: 'symmetric'`).
 */
export function pYesPairJudge(model: CausalLM, opts: PYesJudgeOptions = {}): PairJudge {
  const { template: t, category, ...ipo } = opts;
  const templateSet: TemplateSet = ipo.templateSet ?? 'dpo';
  const template = t ?? resolveTemplate(category ?? 'chat', templateSet).template;
  const ipoOpts: IpoOptions = { ...ipo, templateSet };
  const { batchSize: _b, ...keyOpts } = ipoOpts;
  return {
    name: 'ipo-p-yes',
    key: [modelFingerprint(model), template, keyOpts],
    orders: 'symmetric',
    async judge({ instruction, a, b }) {
      const sa = await pYes(model, { instruction, response: a, template }, ipoOpts);
      const sb = await pYes(model, { instruction, response: b, template }, ipoOpts);
      return { preference: preferenceFromScores(sa.pYes, sb.pYes), detail: { pYesA: sa.pYes, pYesB: sb.pYes, truncated: sa.truncated || sb.truncated } };
    },
  };
}

/**
 * The binary pairwise judge (`binary_gpt.py`'s prompt) played by `model`, in its fixed mode: both orders, each
 * 1 / 0.5 (unparsed) / 0 for the response it picks, averaged (`scorePairBinary` with `mode: 'fixed'`).
 */
export function binaryPairJudge(model: CausalLM, opts: Omit<BinaryJudgeOptions, 'mode'> = {}): PairJudge {
  const o = resolveBinaryOptions('binaryPairJudge', { ...opts, mode: 'fixed' });
  return {
    name: 'binary-fixed',
    key: [modelFingerprint(model), o],
    orders: 'both',
    async judge({ instruction, a, b }) {
      const s = await scorePairBinaryResolved(model, { instruction, chosen: a, rejected: b }, o);
      return { preference: s.score, unparsed: s.unparsed, detail: { verdicts: s.judgements.map((j) => j.verdict), generated: s.judgements.map((j) => j.generated) } };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// generation

/**
 * How an instruction becomes the model's input:
 * - `'raw'`: the instruction itself, encoded with special tokens (BOS) — what `DPO/ours.py` samples from;
 * - `'inst'`: `"[INST] {instruction} [/INST]"` with special tokens — the prompt `DPO/ours.py` trains on (Mistral);
 * - `'chat'`: the model's chat template, one user turn, assistant turn open, encoded without special tokens.
 */
export type ResponsePrompt = 'raw' | 'inst' | 'chat';

export interface ResponseGenOptions {
  /** Default 256 (`DPO/ours.py` samples 256 new tokens). */
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Default 1. */
  topP?: number;
  /** Sampler seed, restarted for every instruction. Default 42. */
  seed?: number;
  /** Default 'raw'. */
  prompt?: ResponsePrompt;
  cache?: boolean;
  label?: string;
}

export interface GeneratedResponse {
  /** decoded continuation (EOS dropped), Python-stripped */
  text: string;
  promptTokens: number;
  generatedTokens: number;
  /** the prompt was cut (BOS + last ids kept) to leave room for `maxNewTokens` */
  truncated: boolean;
}

function promptIds(model: CausalLM, instruction: string, style: ResponsePrompt): { text: string; ids: number[] } {
  if (style === 'chat') {
    const text = model.applyChatTemplate([{ role: 'user', content: instruction }], { addGenerationPrompt: true });
    return { text, ids: model.encode(text, { addSpecialTokens: false }) };
  }
  const text = style === 'inst' ? `[INST] ${instruction} [/INST]` : instruction;
  return { text, ids: model.encode(text) };
}

/** Each instruction answered by `model` (cached by model fingerprint, options and instruction). */
export async function generateResponses(model: CausalLM, instructions: readonly string[], opts: ResponseGenOptions = {}): Promise<{ responses: GeneratedResponse[]; cached: number }> {
  const fn = 'generateResponses';
  if (!Array.isArray(instructions) || !instructions.every((s) => typeof s === 'string' && s.length > 0)) throw new Error(`${fn}: instructions must be non-empty strings`);
  const maxNewTokens = opts.maxNewTokens ?? 256;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new Error(`${fn}: maxNewTokens must be a positive integer, got ${String(maxNewTokens)}`);
  const temperature = opts.temperature ?? 0;
  if (typeof temperature !== 'number' || !(temperature >= 0)) throw new Error(`${fn}: temperature must be >= 0, got ${String(temperature)}`);
  const style = opts.prompt ?? 'raw';
  if (style !== 'raw' && style !== 'inst' && style !== 'chat') throw new Error(`${fn}: prompt must be 'raw', 'inst' or 'chat', got ${JSON.stringify(style)}`);
  const sampled = temperature > 0;
  const gen = { maxNewTokens, temperature, topP: sampled ? opts.topP ?? 1 : 1, seed: sampled ? opts.seed ?? 42 : 0, style };
  const fp = modelFingerprint(model);
  const eos = new Set(model.eosTokenIds);
  const r = await runCachedLoop(instructions, {
    cacheName: `generations/${fp}`,
    cache: opts.cache,
    label: opts.label ?? `responses (${model.ref.split(/[\\/]/).pop()})`,
    keyParts: (ins) => ['winrate-response-v1', fp, gen, ins],
    compute: async (ins): Promise<GeneratedResponse> => {
      const p = promptIds(model, ins, style);
      let ids = p.ids;
      let truncated = false;
      const room = Number.isFinite(model.maxLength) && model.maxLength > 0 ? Math.max(1, model.maxLength - maxNewTokens) : Infinity;
      if (ids.length > room) {
        const pre = model.bosTokenId !== null && ids[0] === model.bosTokenId && room > 1 ? 1 : 0;
        ids = [...ids.slice(0, pre), ...ids.slice(ids.length - (room - pre))];
        truncated = true;
      }
      const out = await model.generate(ids, { maxNewTokens, temperature: gen.temperature, topP: gen.topP, seed: gen.seed });
      let end = out.length;
      while (end > 0 && eos.has(out[end - 1])) end--;
      const { text } = extractResponse(model, ids, p.text, out.slice(0, end), 'fixed');
      return { text, promptTokens: ids.length, generatedTokens: out.length, truncated };
    },
  });
  return { responses: r.results, cached: r.cached };
}

// ---------------------------------------------------------------------------------------------------------------
// the win-rate loop

export interface WinRateOptions {
  /** Generation of both models (the same options for both). */
  generation?: Omit<ResponseGenOptions, 'cache' | 'label'>;
  bootstrap?: BootstrapOptions;
  /** false bypasses every cache (generations and judgements). */
  cache?: boolean;
}

export interface WinRateItem {
  id: string | number;
  instruction: string;
  policy: string;
  baseline: string;
  /** order-averaged preference for the policy's response, in [0, 1] */
  score: number;
  outcome: 'win' | 'loss' | 'tie';
  /** the judge's verdict(s): [policy first, baseline first] for a 'single' judge, one otherwise */
  verdicts: PairJudgeVerdict[];
}

export interface WinRateReport {
  judge: string;
  orders: PairJudge['orders'];
  n: number;
  wins: number;
  losses: number;
  ties: number;
  /** mean score: wins + 0.5·ties over n, and its interval */
  winRate: number;
  ci: BootstrapCi;
  /** judgements without a usable verdict (summed over both orders) */
  unparsed: number;
  /** mean characters of the responses (judges prefer longer answers; worth a look) */
  meanLength: { policy: number; baseline: number };
  items: WinRateItem[];
  cached: { policy: number; baseline: number; judgements: number };
}

type Instruction = string | Pick<AlpacaEvalItem, 'instruction'> & { id?: string | number };

function checkPreference(judge: PairJudge, v: PairJudgeVerdict): PairJudgeVerdict {
  if (!v || typeof v.preference !== 'number' || !(v.preference >= 0 && v.preference <= 1)) {
    throw new Error(`winRate: judge '${judge.name}' returned preference ${String(v?.preference)}, expected a number in [0, 1]`);
  }
  return v;
}

/**
 * Win rate of `policy` against `baseline` (a model, or one fixed response per instruction) on `instructions`
 * (strings or AlpacaEval items), judged by `judge` in both orders (see the file comment).
 */
export async function winRate(
  policy: CausalLM,
  baseline: CausalLM | readonly string[],
  instructions: readonly Instruction[],
  judge: PairJudge,
  opts: WinRateOptions = {},
): Promise<WinRateReport> {
  const fn = 'winRate';
  if (!Array.isArray(instructions)) throw new Error(`${fn}: instructions must be an array`);
  if (!judge || typeof judge.judge !== 'function' || typeof judge.name !== 'string') throw new Error(`${fn}: judge must be a PairJudge {name, key, orders, judge()}`);
  if (judge.orders !== 'single' && judge.orders !== 'both' && judge.orders !== 'symmetric') throw new Error(`${fn}: judge.orders must be 'single', 'both' or 'symmetric'`);
  const items = instructions.map((x, i) => (typeof x === 'string' ? { id: i as string | number, instruction: x } : { id: x.id ?? i, instruction: x.instruction }));
  const texts = items.map((x) => x.instruction);
  const gen = { ...opts.generation, cache: opts.cache };
  const pol = await generateResponses(policy, texts, { ...gen, label: 'policy responses' });
  let base: string[];
  let baseCached = 0;
  if (Array.isArray(baseline)) {
    if (baseline.length !== items.length || !baseline.every((s) => typeof s === 'string')) throw new Error(`${fn}: ${baseline.length} baseline responses for ${items.length} instructions (give one string per instruction)`);
    base = [...(baseline as string[])];
  } else {
    const b = await generateResponses(baseline as CausalLM, texts, { ...gen, label: 'baseline responses' });
    base = b.responses.map((r) => r.text);
    baseCached = b.cached;
  }

  // every judge call as one job: (item, order); 'single' judges get both orders, the others one call
  type Job = { item: number; order: 'policy-first' | 'baseline-first' };
  const jobs: Job[] = [];
  items.forEach((_, i) => {
    jobs.push({ item: i, order: 'policy-first' });
    if (judge.orders === 'single') jobs.push({ item: i, order: 'baseline-first' });
  });
  const input = (j: Job): PairJudgeInput => {
    const p = pol.responses[j.item].text;
    const b = base[j.item];
    return j.order === 'policy-first' ? { instruction: texts[j.item], a: p, b } : { instruction: texts[j.item], a: b, b: p };
  };
  const judged = await runCachedLoop(jobs, {
    cacheName: 'judges/winrate',
    cache: opts.cache,
    label: `win rate (${judge.name})`,
    keyParts: (j) => ['winrate-judge-v1', judge.name, judge.key, judge.orders, input(j)],
    compute: async (j) => checkPreference(judge, await judge.judge(input(j))),
  });

  const out: WinRateItem[] = [];
  let k = 0;
  let unparsed = 0;
  items.forEach((it, i) => {
    const verdicts: PairJudgeVerdict[] = [judged.results[k++]];
    if (judge.orders === 'single') verdicts.push(judged.results[k++]);
    const score = verdicts.length === 2 ? (verdicts[0].preference + (1 - verdicts[1].preference)) / 2 : verdicts[0].preference;
    for (const v of verdicts) unparsed += v.unparsed ?? 0;
    out.push({
      id: it.id, instruction: it.instruction, policy: pol.responses[i].text, baseline: base[i], score,
      outcome: score > 0.5 ? 'win' : score < 0.5 ? 'loss' : 'tie', verdicts,
    });
  });
  const scores = out.map((x) => x.score);
  const meanOf = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return {
    judge: judge.name,
    orders: judge.orders,
    n: out.length,
    wins: out.filter((x) => x.outcome === 'win').length,
    losses: out.filter((x) => x.outcome === 'loss').length,
    ties: out.filter((x) => x.outcome === 'tie').length,
    winRate: meanOf(scores),
    ci: bootstrapCi(scores, opts.bootstrap),
    unparsed,
    meanLength: { policy: meanOf(out.map((x) => x.policy.length)), baseline: meanOf(out.map((x) => x.baseline.length)) },
    items: out,
    cached: { policy: pol.cached, baseline: baseCached, judgements: judged.cached },
  };
}
