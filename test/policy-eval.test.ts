/**
 * Tests of post-training evaluation: lib/eval/bootstrap.ts (generic percentile bootstrap), lib/dpo/tokenize.ts
 * (`tokenizePair`, TRL's DPO tokenisation and truncation), lib/eval/policy-reward.ts (implicit-reward preference
 * accuracy) and lib/eval/policy-winrate.ts (win rate with pairwise judges).
 *
 * References: the bootstrap against hand-computable cases (exact bootstrap SE σ̂/√n, discrete quantiles) and a
 * coverage simulation; `tokenizePair` against TRL's own slicing expressions run in CPython (v0.27.0 `tokenize_row` +
 * `concatenated_forward`, v1.9.0 `_prepare_dataset` + `DataCollatorForPreference`, copied as Python expressions) on
 * random lengths; rewards and win rates on FAKE models whose log-probs / verdicts are known; smoke tests on
 * TinyStories-656K (policy = reference gives reward 0 everywhere: every pair ties).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, GenerateOptions } from '../lib/models/types.ts';
import { loadModel } from '../lib/models/load.ts';
import { makeRng } from '../lib/util/rng.ts';
import { bootstrapCi, pairedBootstrapCi } from '../lib/eval/bootstrap.ts';
import { tokenizePair, completionLogProb, summarizeTruncation, TRL_TOKENIZATION, type TokenizePairOptions } from '../lib/dpo/tokenize.ts';
import { implicitRewardAccuracy, pairLogProbs } from '../lib/eval/policy-reward.ts';
import { winRate, generateResponses, pYesPairJudge, binaryPairJudge, preferenceFromScores, type PairJudge } from '../lib/eval/policy-winrate.ts';
import { pYes } from '../lib/scoring/yes-no.ts';

process.env.IPO_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ipo-policy-eval-cache-'));
process.env.IPO_PROGRESS = '0';

const oneLine = (re: RegExp) => (e: unknown) => e instanceof Error && !/[\r\n]/.test(e.message) && re.test(e.message);
const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

// ---------------------------------------------------------------------------------------------------------------
// bootstrap

test('bootstrapCi: hand-computable cases', () => {
  const c = bootstrapCi([0.5, 0.5, 0.5]);
  assert.deepEqual([c.estimate, c.lo, c.hi, c.se, c.n], [0.5, 0.5, 0.5, 0, 3]);
  // {0, 1}: the resampled mean is 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 → 95% interval [0, 1]; SE = σ̂/√n = 0.5/√2
  const b = bootstrapCi([0, 1], { iterations: 20000 });
  assert.equal(b.estimate, 0.5);
  assert.equal(b.lo, 0);
  assert.equal(b.hi, 1);
  close(b.se, 0.5 / Math.SQRT2, 0.01, 'se');
  // {1, 2, 4}: exact bootstrap SE of the mean = sqrt(pop. variance / n) = sqrt((14/9)/3); P(mean = 1) = P(mean = 4) = 1/27 > 2.5%
  const d = bootstrapCi([1, 2, 4], { iterations: 20000, seed: 3 });
  close(d.estimate, 7 / 3, 1e-12);
  close(d.se, Math.sqrt(14 / 27), 0.015, 'se');
  assert.equal(d.lo, 1);
  assert.equal(d.hi, 4);
  assert.equal(d.level, 0.95);
  assert.equal(d.iterations, 20000);
});

test('bootstrapCi: seeded, any statistic, NaN with a reason below 2 values, bad input is one line', () => {
  const x = [3, 1, 4, 1, 5, 9, 2, 6];
  assert.deepEqual(bootstrapCi(x, { seed: 5 }), bootstrapCi(x, { seed: 5 }));
  const s5 = bootstrapCi(x, { seed: 5 });
  const s6 = bootstrapCi(x, { seed: 6 });
  assert.notDeepEqual([s5.lo, s5.hi, s5.se], [s6.lo, s6.hi, s6.se], 'another seed, other replicates');
  const median = (v: Float64Array) => { const s = Float64Array.from(v).sort(); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const med = bootstrapCi(x, { statistic: median });
  assert.equal(med.estimate, 3.5);
  assert.ok(med.lo <= 3.5 && med.hi >= 3.5 && med.lo >= 1 && med.hi <= 9);
  const narrow = bootstrapCi(x, { level: 0.5 });
  const wide = bootstrapCi(x, { level: 0.99 });
  assert.ok(wide.hi - wide.lo > narrow.hi - narrow.lo);
  const one = bootstrapCi([0.4]);
  assert.equal(one.estimate, 0.4);
  assert.ok(Number.isNaN(one.lo) && Number.isNaN(one.hi) && Number.isNaN(one.se));
  assert.match(one.warning!, /fewer than 2 values/);
  assert.ok(Number.isNaN(bootstrapCi([]).estimate));
  assert.throws(() => bootstrapCi([1, NaN]), oneLine(/values\[1\] is NaN/));
  assert.throws(() => bootstrapCi([1, 2], { level: 1 }), oneLine(/level/));
  assert.throws(() => bootstrapCi([1, 2], { iterations: 0 }), oneLine(/iterations/));
});

test('pairedBootstrapCi: the same indices for both; identical runs p = 1; a constant shift has a zero-width interval', () => {
  const a = [1, 0, 1, 1, 0, 1, 0, 1];
  const same = pairedBootstrapCi(a, a, { iterations: 500 });
  assert.deepEqual([same.estimate, same.lo, same.hi, same.p], [0, 0, 0, 1]);
  const shifted = pairedBootstrapCi(a.map((v) => v + 1), a, { iterations: 500 });
  assert.equal(shifted.estimate, 1);
  close(shifted.lo, 1, 1e-12);
  close(shifted.hi, 1, 1e-12);
  assert.equal(shifted.p, 1 / 501);
  // correlated methods: the paired interval is much narrower than the two separate intervals suggest
  const rng = makeRng(9);
  const x = Array.from({ length: 60 }, () => rng());
  const y = x.map((v) => v - 0.05 + (rng() - 0.5) * 0.02);
  const paired = pairedBootstrapCi(x, y);
  const sa = bootstrapCi(x).se;
  const sb = bootstrapCi(y).se;
  assert.ok(paired.hi - paired.lo < 0.2 * 3.92 * Math.sqrt(sa * sa + sb * sb), 'paired width');
  assert.ok(paired.lo > 0, 'the 0.05 shift is detected');
  assert.ok(Number.isNaN(pairedBootstrapCi([1], [0]).p));
  assert.throws(() => pairedBootstrapCi([1, 2], [1]), oneLine(/one value per item/));
});

test('bootstrapCi: coverage of the 95% interval for a Bernoulli mean is near 95%', () => {
  const rng = makeRng('coverage');
  const p = 0.3;
  let covered = 0;
  const trials = 300;
  for (let t = 0; t < trials; t++) {
    const v = Array.from({ length: 40 }, () => (rng() < p ? 1 : 0));
    const ci = bootstrapCi(v, { iterations: 400, seed: t });
    if (ci.lo <= p && p <= ci.hi) covered++;
  }
  const rate = covered / trials;
  assert.ok(rate > 0.88 && rate < 0.99, `coverage ${rate}`);
});

// ---------------------------------------------------------------------------------------------------------------
// tokenizePair

/** Character tokenizer: id = code point (+ BOS 1 in front when asked), EOS 2; "xy" merges into one id 250. */
function charTok(opts: { bos?: boolean; maxLength?: number } = {}): CausalLM {
  const bos = opts.bos ?? true;
  const enc = (t: string) => {
    const out: number[] = [];
    for (let i = 0; i < t.length; i++) {
      if (t[i] === 'x' && t[i + 1] === 'y') { out.push(250); i++; } else out.push(t.codePointAt(i)!);
    }
    return out;
  };
  return {
    ref: 'fake-char-tok', engine: 'tf', vocabSize: 300, bosTokenId: bos ? 1 : null, eosTokenId: 2, eosTokenIds: [2], maxLength: opts.maxLength ?? 100000,
    encode: (t, o) => [...(bos && o?.addSpecialTokens !== false ? [1] : []), ...enc(t)],
    decode: (ids) => ids.filter((i) => i > 2).map((i) => (i === 250 ? 'xy' : String.fromCodePoint(i))).join(''),
    applyChatTemplate: () => { throw new Error('no chat template'); },
    nextTokenLogProbs: async () => new Float32Array(300),
    nextTokenLogProbsBatch: async (b) => b.map(() => new Float32Array(300)),
    continuationLogProb: async (_p, c) => ({ total: -c.length, perToken: c.map(() => -1) }),
    generate: async () => [2],
    dispose: () => {},
  };
}

const ids = (s: string) => [...s].map((c) => c.codePointAt(0)!);

test('tokenizePair: hand-computed TRL cases', () => {
  const m = charTok();
  const base = tokenizePair(m, 'abc', 'de', { maxLength: null });
  assert.deepEqual(base.promptIds, [1, ...ids('abc')]);
  assert.deepEqual(base.completionIds, [...ids('de'), 2]);
  assert.equal(base.truncated, false);
  // max_prompt_length keeps the END of the prompt; the BOS stays in front
  const mp = tokenizePair(m, 'abc', 'de', { maxPromptLength: 2 });
  assert.deepEqual(mp.promptIds, [1, ids('c')[0]]);
  assert.equal(mp.promptRemoved, 2);
  assert.equal(mp.promptTruncated, true);
  assert.deepEqual(tokenizePair(m, 'abc', 'de', { maxPromptLength: 2, promptSpecialTokens: false }).promptIds, ids('bc'));
  // max_completion_length keeps the START (the EOS is cut)
  const mc = tokenizePair(m, 'abc', 'de', { maxCompletionLength: 2 });
  assert.deepEqual(mc.completionIds, ids('de'));
  assert.equal(mc.completionRemoved, 1);
  // max_length 5 on 4 + 3 ids
  const ks = tokenizePair(m, 'abc', 'de', { maxLength: 5, truncationMode: 'keep_start' });
  assert.deepEqual([ks.promptIds, ks.completionIds], [[1, ...ids('abc')], ids('d')]);
  const ke = tokenizePair(m, 'abc', 'de', { maxLength: 5, truncationMode: 'keep_end' });
  assert.deepEqual([ke.promptIds, ke.completionIds], [ids('bc'), [...ids('de'), 2]]);
  // keep_start with a prompt that fills max_length: nothing to score (TRL ≥ 0.29 drops the row)
  const dr = tokenizePair(m, 'abc', 'de', { maxLength: 3 });
  assert.equal(dr.dropped, true);
  assert.deepEqual(dr.completionIds, []);
  // keep_end shorter than the completion: no prompt left; the first completion id becomes context
  const ce = tokenizePair(m, 'abc', 'de', { maxLength: 2, truncationMode: 'keep_end' });
  assert.deepEqual([ce.promptIds, ce.completionIds], [[], [ids('e')[0], 2]]);
  // the model's own context caps max_length
  assert.deepEqual(tokenizePair(charTok({ maxLength: 5 }), 'abc', 'de').completionIds, ids('d'));
  // joint (TRL ≥ 0.29): encode(prompt + completion) split at the prompt length; a merge across the boundary is counted
  const j = tokenizePair(m, 'ax', 'yb', { completionTokenization: 'joint' });
  assert.equal(j.promptMismatch, true);
  assert.deepEqual(j.promptIds, [1, ...ids('ax')]);
  assert.deepEqual(j.completionIds, [ids('b')[0], 2]); // joint ids [1, a, 250, b] sliced after 3
  const s = tokenizePair(m, 'ax', 'yb');
  assert.equal(s.promptMismatch, false);
  assert.deepEqual(s.completionIds, [...ids('yb'), 2]);
  const sum = summarizeTruncation([base, mp, mc, dr, j]);
  assert.deepEqual(sum, { n: 5, truncated: 3, promptCut: 2, completionCut: 2, dropped: 1, promptMismatch: 1 }); // dr cut its prompt to 3 ids
  assert.throws(() => tokenizePair(m, 'a', 'b', { truncationMode: 'left' as 'keep_end' }), oneLine(/truncationMode/));
  assert.throws(() => tokenizePair(m, 'a', 'b', { maxLength: 0 }), oneLine(/maxLength/));
  assert.throws(() => tokenizePair({ ...m, eosTokenId: null }, 'a', 'b'), oneLine(/no EOS/));
});

test('tokenizePair equals TRL 0.12–0.28 and ≥ 0.29 slicing run in CPython on 300 random cases', () => {
  const rng = makeRng('trl-slicing');
  const P = 'abcdefghijklmnopqrstuvw';
  const C = 'ABCDEFGHIJKLMNOPQRSTUVW';
  const cases: { mode: string; n: number; k: number; mpl: number | null; mcl: number | null; ml: number | null; tm: string }[] = [];
  for (let i = 0; i < 300; i++) {
    const mode = i % 2 ? 'trl-1' : 'trl-0.14';
    const pick = (p: number, hi: number) => (rng() < p ? null : 1 + Math.floor(rng() * hi));
    cases.push({
      mode, n: 1 + Math.floor(rng() * 20), k: Math.floor(rng() * 15),
      mpl: mode === 'trl-0.14' ? pick(0.3, 20) : null, mcl: mode === 'trl-0.14' ? pick(0.5, 15) : null,
      ml: pick(0.2, 30), tm: rng() < 0.5 ? 'keep_start' : 'keep_end',
    });
  }
  const py = `
import json, sys
out = []
for c in json.loads(sys.stdin.read()):
    P = [ord(ch) for ch in "${P}"[:c["n"]]]
    C = [ord(ch) for ch in "${C}"[:c["k"]]]
    eos = 2
    if c["mode"] == "trl-0.14":
        # v0.27.0 tokenize_row (add_special_tokens=False) + concatenated_forward truncation
        prompt_input_ids = P
        chosen_input_ids = C + [eos]
        if c["mpl"] is not None:
            prompt_input_ids = prompt_input_ids[-c["mpl"]:]
        if c["mcl"] is not None:
            chosen_input_ids = chosen_input_ids[:c["mcl"]]
    else:
        # v1.9.0: prompt_ids = tokenizer(prompt) (BOS 1), prompt_chosen_ids = tokenizer(prompt + chosen + eos)
        prompt_input_ids = [1] + P
        prompt_chosen = [1] + P + C + [eos]
        chosen_input_ids = prompt_chosen[len(prompt_input_ids):]
    input_ids = prompt_input_ids + chosen_input_ids
    loss_mask = [0] * len(prompt_input_ids) + [1] * len(chosen_input_ids)
    dropped = False
    if c["ml"] is not None:
        if c["mode"] == "trl-1" and c["tm"] == "keep_start" and not len(prompt_input_ids) < c["ml"]:
            dropped = True   # _prepare_dataset drops rows whose prompt alone fills max_length
        if c["tm"] == "keep_start":
            input_ids, loss_mask = input_ids[: c["ml"]], loss_mask[: c["ml"]]
        else:
            input_ids, loss_mask = input_ids[-c["ml"]:], loss_mask[-c["ml"]:]
    out.append({"ids": input_ids, "completion": sum(loss_mask), "dropped": dropped or sum(loss_mask) == 0})
print(json.dumps(out))`;
  const ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py], { input: JSON.stringify(cases), encoding: 'utf8' })) as { ids: number[]; completion: number; dropped: boolean }[];
  const m = charTok();
  cases.forEach((c, i) => {
    const o: TokenizePairOptions = { ...TRL_TOKENIZATION[c.mode as 'trl-1' | 'trl-0.14'], maxPromptLength: c.mpl, maxCompletionLength: c.mcl, maxLength: c.ml, truncationMode: c.tm as 'keep_end' };
    const t = tokenizePair(m, P.slice(0, c.n), C.slice(0, c.k), o);
    const what = JSON.stringify(c);
    assert.deepEqual([...t.promptIds, ...t.completionIds], ref[i].ids, what);
    assert.equal(t.completionIds.length, ref[i].completion, what);
    assert.equal(t.dropped, ref[i].dropped, what);
  });
});

test('completionLogProb sums the completion ids; keep_end without prompt scores from the second id', async () => {
  const m = charTok();
  assert.deepEqual(await completionLogProb(m, tokenizePair(m, 'abc', 'de')), { total: -3, tokens: 3 });
  assert.deepEqual(await completionLogProb(m, tokenizePair(m, 'abc', 'de', { maxLength: 2, truncationMode: 'keep_end' })), { total: -1, tokens: 1 });
  await assert.rejects(completionLogProb(m, tokenizePair(m, 'abc', 'de', { maxLength: 3 })), oneLine(/dropped/));
});

// ---------------------------------------------------------------------------------------------------------------
// implicit reward accuracy

/** A model whose Σ log π(completion | prompt) is read from `table[completion text]`. */
function tableModel(ref: string, table: Record<string, number>): CausalLM {
  const m = charTok();
  return {
    ...m, ref,
    continuationLogProb: async (_p, c) => {
      const text = m.decode(c.filter((i) => i !== 2));
      if (!(text in table)) throw new Error(`no entry for ${text}`);
      return { total: table[text], perToken: [] };
    },
  };
}

const PAIRS = [
  { id: 'win', prompt: 'p1', chosen: 'good', rejected: 'bad' },
  { id: 'tie', prompt: 'p2', chosen: 'same1', rejected: 'same2' },
  { id: 'loss', prompt: 'p3', chosen: 'meh', rejected: 'ok' },
];

test('implicitRewardAccuracy: r = β(log πθ − log πref), ties wrong and counted (fake models)', async () => {
  const policy = tableModel('policy', { good: -5, bad: -9, same1: -4, same2: -6, meh: -10, ok: -3 });
  const reference = tableModel('ref', { good: -6, bad: -8, same1: -5, same2: -7, meh: -9, ok: -4 });
  const r = await implicitRewardAccuracy(policy, reference, PAIRS, { cache: false, bootstrap: { iterations: 300 } });
  // win: 0.1·(−5+6) = 0.1 vs 0.1·(−9+8) = −0.1; tie: 0.1 vs 0.1; loss: −0.1 vs 0.1
  close(r.pairs[0].chosenReward, 0.1, 1e-12);
  close(r.pairs[0].rejectedReward, -0.1, 1e-12);
  close(r.pairs[0].margin, 0.2, 1e-12);
  assert.deepEqual(r.pairs.map((p) => [p.id, p.correct, p.tie]), [['win', true, false], ['tie', false, true], ['loss', false, false]]);
  assert.equal(r.n, 3);
  assert.equal(r.correct, 1);
  assert.equal(r.ties, 1);
  assert.equal(r.accuracy, 1 / 3);
  close(r.meanMargin, (0.2 + 0 - 0.2) / 3, 1e-12);
  close(r.meanChosenReward, (0.1 + 0.1 - 0.1) / 3, 1e-12);
  assert.equal(r.accuracyCi.n, 3);
  assert.deepEqual(r.skipped, []);
  // β scales rewards, not the decisions
  const r2 = await implicitRewardAccuracy(policy, reference, PAIRS, { cache: false, beta: 0.5 });
  close(r2.pairs[0].margin, 1, 1e-12);
  assert.equal(r2.accuracy, r.accuracy);
  // precomputed reference log-probs give the same
  const pre = await implicitRewardAccuracy(policy, [{ chosen: -6, rejected: -8 }, { chosen: -5, rejected: -7 }, { chosen: -9, rejected: -4 }], PAIRS, { cache: false });
  assert.deepEqual(pre.pairs.map((p) => p.margin), r.pairs.map((p) => p.margin));
  await assert.rejects(implicitRewardAccuracy(policy, [{ chosen: 1, rejected: 2 }], PAIRS, { cache: false }), oneLine(/1 reference log-probs for 3 pairs/));
  await assert.rejects(implicitRewardAccuracy(policy, reference, PAIRS, { cache: false, beta: 0 }), oneLine(/beta/));
  await assert.rejects(implicitRewardAccuracy(policy, reference, [{ prompt: 'x', chosen: 3 }] as never, { cache: false }), oneLine(/pairs\[0\]\.chosen/));
});

test('implicitRewardAccuracy: pairs dropped by truncation are skipped and listed, never silently lost', async () => {
  const policy = tableModel('policy2', { good: -5, bad: -9 });
  const long = { id: 'long', prompt: 'a'.repeat(40), chosen: 'good', rejected: 'bad' };
  const r = await implicitRewardAccuracy(policy, policy, [PAIRS[0], long], { cache: false, maxLength: 20 });
  assert.equal(r.n, 1);
  assert.deepEqual(r.skipped.map((s) => s.id), ['long']);
  assert.match(r.skipped[0].reason, /no token left/);
  assert.equal(r.truncation.dropped, 2);
  assert.ok(Number.isNaN(r.accuracyCi.lo), 'one pair: no interval');
});

test('TinyStories-656K: policy = reference → every reward 0, every pair a tie; log-probs = direct teacher forcing; cached', async () => {
  const model = await loadModel('tinystories-656k');
  try {
    const pairs = [
      { prompt: 'Once upon a time, Lily', chosen: ' found a red ball.', rejected: ' ate the moon.' },
      { prompt: 'Tom was sad because', chosen: ' his dog was lost.', rejected: ' blue blue blue.' },
    ];
    const before = tf.memory().numTensors;
    const r = await implicitRewardAccuracy(model, model, pairs, { bootstrap: { iterations: 100 } });
    assert.equal(r.n, 2);
    assert.equal(r.ties, 2);
    assert.equal(r.accuracy, 0);
    assert.deepEqual(r.pairs.map((p) => p.margin), [0, 0]);
    // the reference pass came from the cache the policy pass had just written (same model, same pairs)
    assert.equal(r.cached.reference, 2);
    const lp = await pairLogProbs(model, pairs, { cache: false });
    const direct = (await model.continuationLogProb(model.encode(pairs[0].prompt), [...model.encode(pairs[0].chosen, { addSpecialTokens: false }), 2])).total;
    close(lp.results[0].chosen, direct, 1e-6, 'chosen log-prob');
    assert.ok(lp.results[0].chosen < 0 && lp.results[0].rejected < 0);
    assert.equal(model.encode(pairs[0].prompt)[0], 1, 'prompt ids start with BOS');
    assert.equal(tf.memory().numTensors, before);
  } finally {
    model.dispose();
  }
});

// ---------------------------------------------------------------------------------------------------------------
// win rate

/** A generator answering each instruction with `answer(instruction)` (char ids, then EOS). */
function answerModel(ref: string, answer: (instruction: string) => string): CausalLM & { gens: GenerateOptions[] } {
  const m = charTok();
  const gens: GenerateOptions[] = [];
  return {
    ...m, ref, gens,
    generate: async (idsIn, o) => {
      gens.push(o);
      return [...m.encode(answer(m.decode(idsIn)), { addSpecialTokens: false }), 2];
    },
  };
}

function countingJudge(name: string, orders: PairJudge['orders'], pref: (a: string, b: string) => number): PairJudge & { calls: number } {
  const j = {
    name, key: name, orders, calls: 0,
    async judge({ a, b }: { instruction: string; a: string; b: string }) {
      j.calls++;
      return { preference: pref(a, b) };
    },
  };
  return j;
}

test('winRate: both orders averaged, ties 0.5, position bias cancels (fake models and judges)', async () => {
  const policy = answerModel('pol', (i) => (i === 'q1' ? 'long long answer' : i === 'q2' ? 'same' : 'x'));
  const base = answerModel('base', (i) => (i === 'q3' ? 'much longer answer' : i === 'q2' ? 'same' : 'short'));
  const instructions = ['q1', 'q2', 'q3'];
  // a judge that always prefers the response shown first: every item scores (1 + 1 − 1)/2 = 0.5
  const biased = countingJudge('first', 'single', () => 1);
  const rb = await winRate(policy, base, instructions, biased, { cache: false });
  assert.deepEqual(rb.items.map((x) => x.score), [0.5, 0.5, 0.5]);
  assert.equal(rb.ties, 3);
  assert.equal(rb.winRate, 0.5);
  // both orders for every item; q2's two orders are the same input ('same' vs 'same'), judged once (equal cache keys)
  assert.equal(biased.calls, 5, 'single-order judge called in both orders');
  // a length judge: q1 policy longer (1), q2 equal (0.5), q3 base longer (0)
  const len = countingJudge('length', 'single', (a, b) => preferenceFromScores(a.length, b.length));
  const rl = await winRate(policy, base, instructions, len, { cache: false, bootstrap: { iterations: 200 } });
  assert.deepEqual(rl.items.map((x) => [x.score, x.outcome]), [[1, 'win'], [0.5, 'tie'], [0, 'loss']]);
  assert.deepEqual([rl.wins, rl.ties, rl.losses, rl.winRate], [1, 1, 1, 0.5]);
  assert.deepEqual(rl.items[0].verdicts.map((v) => v.preference), [1, 0]);
  assert.equal(rl.items[0].policy, 'long long answer');
  assert.equal(rl.items[0].baseline, 'short');
  assert.ok(rl.ci.lo <= 0.5 && rl.ci.hi >= 0.5);
  // symmetric and both-orders judges are called once per item
  const sym = countingJudge('sym', 'symmetric', (a, b) => preferenceFromScores(a.length, b.length));
  const rs = await winRate(policy, base, instructions, sym, { cache: false });
  assert.equal(sym.calls, 3);
  assert.deepEqual(rs.items.map((x) => x.score), [1, 0.5, 0]);
  const both = countingJudge('both', 'both', () => 0.75);
  const rbo = await winRate(policy, base, instructions, both, { cache: false });
  assert.equal(both.calls, 3);
  assert.equal(rbo.winRate, 0.75);
  // a fixed baseline (e.g. reference outputs) instead of a model
  const rf = await winRate(policy, ['', 'same', 'zz'], ['q1', 'q2', 'q3'], len, { cache: false });
  assert.deepEqual(rf.items.map((x) => x.score), [1, 0.5, 0]);
  // greedy generation by default
  assert.ok(policy.gens.every((g) => g.temperature === 0 && g.maxNewTokens === 256));
  await assert.rejects(winRate(policy, ['a'], instructions, len, { cache: false }), oneLine(/1 baseline responses for 3 instructions/));
  await assert.rejects(winRate(policy, base, ['q1'], countingJudge('bad', 'single', () => 2), { cache: false }), oneLine(/preference 2/));
});

test('winRate caches generations and judgements', async () => {
  const policy = answerModel('pol-cache', () => 'aaa');
  const base = answerModel('base-cache', () => 'b');
  const len = countingJudge('length-cache', 'single', (a, b) => preferenceFromScores(a.length, b.length));
  const first = await winRate(policy, base, ['i1', 'i2'], len);
  const again = await winRate(policy, base, ['i1', 'i2'], len);
  assert.deepEqual(again.cached, { policy: 2, baseline: 2, judgements: 4 });
  assert.equal(len.calls, 4);
  assert.equal(again.winRate, first.winRate);
  assert.equal(first.winRate, 1);
});

test('binaryPairJudge: the binary judge in its fixed both-orders mode (scripted judge model)', async () => {
  // a judge model that always answers "Response 1": pure position bias → 0.5 per pair
  const m = charTok();
  const always1: CausalLM = { ...m, ref: 'judge-always-1', generate: async () => [...m.encode('Better response: Response 1', { addSpecialTokens: false }), 2] };
  const j = binaryPairJudge(always1, { maxNewTokens: 30 });
  assert.equal(j.orders, 'both');
  const v = await j.judge({ instruction: 'q', a: 'one', b: 'two' });
  assert.equal(v.preference, 0.5);
  // a judge model that picks the response containing "good"
  const picky: CausalLM = {
    ...m, ref: 'judge-picky',
    generate: async (ids) => {
      const t = m.decode(ids);
      const r1 = t.indexOf('Response 1:');
      const r2 = t.indexOf('Response 2:');
      const first = t.slice(r1, r2);
      return [...m.encode(`Better response: Response ${first.includes('good') ? 1 : 2}`, { addSpecialTokens: false }), 2];
    },
  };
  const policy = answerModel('pol-b', () => 'good answer');
  const base = answerModel('base-b', () => 'meh');
  const r = await winRate(policy, base, ['q1', 'q2'], binaryPairJudge(picky, { maxNewTokens: 30 }), { cache: false });
  assert.deepEqual(r.items.map((x) => x.score), [1, 1]);
  assert.equal(r.winRate, 1);
  assert.equal(r.unparsed, 0);
});

test('TinyStories-656K: greedy responses (EOS dropped, cached) and the P(Yes) judge agrees with pYes', async () => {
  const model = await loadModel('tinystories-656k');
  try {
    const before = tf.memory().numTensors;
    const ins = ['Once upon a time', 'Lily had a cat'];
    const g = await generateResponses(model, ins, { maxNewTokens: 12 });
    assert.equal(g.responses.length, 2);
    for (const r of g.responses) {
      assert.equal(typeof r.text, 'string');
      assert.ok(!r.text.includes('<|end_story|>'));
      assert.ok(r.generatedTokens >= 1 && r.generatedTokens <= 12);
    }
    const g2 = await generateResponses(model, ins, { maxNewTokens: 12 });
    assert.equal(g2.cached, 2);
    assert.deepEqual(g2.responses, g.responses);
    const judge = pYesPairJudge(model, { preset: 'exact' });
    assert.equal(judge.orders, 'symmetric');
    const a = 'She played with her red ball.';
    const b = 'moon moon moon';
    const v = await judge.judge({ instruction: 'What did Lily do?', a, b });
    const template = (judge.key as unknown[])[1] as string;
    const sa = await pYes(model, { instruction: 'What did Lily do?', response: a, template }, { preset: 'exact', templateSet: 'dpo' });
    const sb = await pYes(model, { instruction: 'What did Lily do?', response: b, template }, { preset: 'exact', templateSet: 'dpo' });
    assert.equal(v.preference, preferenceFromScores(sa.pYes, sb.pYes));
    const wr = await winRate(model, model, ins, judge, { generation: { maxNewTokens: 12 }, cache: false });
    assert.deepEqual(wr.items.map((x) => x.score), [0.5, 0.5], 'a model against itself ties');
    assert.equal(tf.memory().numTensors, before);
  } finally {
    model.dispose();
  }
});
