/**
 * The scoring stage of the self-improvement loop (lib/self-improve/score-responses.ts) on the real TinyStories-656K
 * model and a random-weights BERT reward model: the IPO judge equals `pYes` called directly (template chosen by the
 * case-sensitive DPO category table, quirk 16), the rubric judge's faithful 0 vs fixed NaN (quirk 11) and its
 * judge text, the RM judge's two modes against the logits, custom judges, the cache (resume, mode switches reuse the
 * raw stage), scores.jsonl, and that the output feeds `buildPairs`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';

const tmp = mkdtempSync(join(tmpdir(), 'ipo-score-responses-'));
process.env.IPO_CACHE_DIR = join(tmp, 'cache');
process.env.IPO_PROGRESS = '0';

import { loadModel } from '../lib/models/load.ts';
import type { CausalLM, GenerateOptions } from '../lib/models/types.ts';
import { makeRandomRewardModel } from '../lib/models/make-reward-model.ts';
import { loadRewardModel, rewardModelText, type RewardModel } from '../lib/scoring/reward-model.ts';
import { pYes } from '../lib/scoring/yes-no.ts';
import { DPO_CATEGORY_TEMPLATES, T_CODE, T_MATH } from '../lib/scoring/templates.ts';
import { judgeSelfReward, SELF_REWARD_DPO_MAX_NEW_TOKENS } from '../lib/scoring/self-reward.ts';
import { sampleResponses, type SampleRecord } from '../lib/generate/sample.ts';
import { buildPairs, FAITHFUL_PAIR_OPTIONS, FAITHFUL_SELF_REWARD_PAIR_OPTIONS, FIXED_PAIR_OPTIONS } from '../lib/pairs.ts';
import {
  customJudge, formatScoreSummary, ipoJudge, readScores, rewardModelJudge, scoreGroups, scoreSamples, selfRewardJudge,
  templateKeyFor, writeScores, type ScoreRecord,
} from '../lib/self-improve/score-responses.ts';

let model: CausalLM;
let records: SampleRecord[];
let rm: RewardModel;

before(async () => {
  model = await loadModel('tinystories-656k');
  // 2 prompts × 2 sampled responses; 'Math' is a DPO key, 'math' is not (→ T_CODE fallback)
  const s = await sampleResponses(model, [
    { id: 'p1', instruction: 'Once upon a time', category: 'Math' },
    { id: 'p2', instruction: 'Tom had a red ball.', category: 'math' },
  ], { n: 2, maxNewTokens: 10, seed: 3, cache: false });
  records = s.records;
  const made = makeRandomRewardModel({ outDir: join(tmp, 'rm'), seed: 5, safetensors: false });
  rm = await loadRewardModel(made.outDir);
});
after(() => {
  rm?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** A record by hand (fields the scorer does not read are filled with plausible values). */
function rec(id: string, instruction: string, texts: string[], category?: string): SampleRecord {
  return {
    id, instruction, ...(category !== undefined ? { category } : {}), prompt: instruction, promptTokens: 1,
    responses: texts.map((text, index) => ({ index, text, tokens: [], finishReason: 'length', seed: index, promptEchoed: true })),
    options: records[0].options, model: records[0].model,
  };
}

/** The rubric as the doc prints it (§3.1), written out independently of the lib. */
const RUBRIC_HEAD = [
  "Review the user's question and the corresponding response using the additive 5-point",
  'scoring system described below. Points are accumulated based on the satisfaction of each',
  'criterion:',
  '- Add 1 point if the response is relevant and provides some information related to',
  "the user's inquiry, even if it is incomplete or contains some irrelevant content.",
  "- Add another point if the response addresses a substantial portion of the user's question,",
  'but does not completely resolve the query or provide a direct answer.',
  "- Award a third point if the response answers the basic elements of the user's question in a",
  'useful way, regardless of whether it seems to have been written by an AI Assistant or if it',
  'has elements typically found in blogs or search results.',
  "- Grant a fourth point if the response is clearly written from an AI Assistant's perspective,",
  'addressing the user\'s question directly and comprehensively, and is well-organized and',
  'helpful, even if there is slight room for improvement in clarity, conciseness or focus.',
  "- Bestow a fifth point for a response that is impeccably tailored to the user's question",
  'by an AI Assistant, without extraneous information, reflecting expert knowledge, and',
  'demonstrating a high-quality, engaging, and insightful answer.',
  '',
].join('\n');
const rubric = (instruction: string, response: string) =>
  `${RUBRIC_HEAD}\nUser: ${instruction}\n<response>${response}</response>\n\nAfter examining the user's instruction and the response:\n` +
  '- Briefly justify your total score, up to 100 words.\n- Conclude with the score using the format: "Score: " ';

/** A character-level fake judge (id = code point + 3, BOS 1, EOS 2) whose generation is scripted from the prompt. */
let fakeRefs = 0;
class ScriptedJudge implements CausalLM {
  readonly engine = 'tf' as const;
  readonly ref = `scripted-judge-${process.pid}-${fakeRefs++}`;
  readonly vocabSize = 0x110000 + 3;
  readonly bosTokenId = 1;
  readonly eosTokenId = 2;
  readonly eosTokenIds = [2];
  readonly maxLength = 100_000;
  calls = 0;
  constructor(readonly script: (prompt: string) => string) {}
  encode(text: string, o: { addSpecialTokens?: boolean } = {}) {
    const ids = Array.from(text, (c) => c.codePointAt(0)! + 3);
    return o.addSpecialTokens === false ? ids : [1, ...ids];
  }
  decode(ids: number[]) { return ids.filter((i) => i >= 3).map((i) => String.fromCodePoint(i - 3)).join(''); }
  applyChatTemplate(): string { throw new Error('not used'); }
  async nextTokenLogProbs(): Promise<Float32Array> { throw new Error('not used'); }
  async nextTokenLogProbsBatch(): Promise<Float32Array[]> { throw new Error('not used'); }
  async continuationLogProb(): Promise<{ total: number; perToken: number[] }> { throw new Error('not used'); }
  async generate(ids: number[], o: GenerateOptions) {
    this.calls++;
    return [...this.encode(this.script(this.decode(ids)), { addSpecialTokens: false }), 2].slice(0, o.maxNewTokens);
  }
  dispose() {}
}

describe('ipo judge', () => {
  test('scores equal pYes called directly, template from the case-sensitive DPO table', async () => {
    assert.equal(records.length, 2);
    assert.ok(records.every((r) => r.responses.length === 2));
    const before = tf.memory().numTensors;
    const judge = ipoJudge(model, { batchSize: 1 });
    const r = await scoreSamples(records, judge, { cache: false });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(r.records.length, 2);
    for (const [i, sr] of r.records.entries()) {
      const src = records[i];
      assert.equal(sr.id, src.id);
      assert.equal(sr.category, src.category);
      assert.equal(sr.judge.kind, 'ipo');
      for (const [k, x] of sr.responses.entries()) {
        assert.equal(x.text, src.responses[k].text);
        assert.equal(x.index, src.responses[k].index);
        const direct = await pYes(model, { instruction: src.instruction, response: x.text, category: src.category }, { templateSet: 'dpo' });
        assert.equal(x.score, direct.pYes); // exact: same ids, same single-sequence engine call
        assert.equal(x.detail?.yes, direct.yes);
        assert.equal(x.detail?.no, direct.no);
        assert.equal(x.detail?.underflow, false);
        assert.equal(x.detail?.truncated, false);
        // the template is the one the official dict picks: 'Math' → T_MATH, 'math' → T_CODE ('General', fallback)
        const expected = src.category === 'Math' ? T_MATH : T_CODE;
        assert.equal(direct.template, expected);
        const explicit = await pYes(model, { instruction: src.instruction, response: x.text, template: expected });
        assert.equal(x.score, explicit.pYes);
        assert.ok(x.score > 0 && x.score < 1);
      }
    }
    assert.equal(r.records[0].responses[0].detail?.templateKey, 'Math');
    assert.equal(r.records[0].responses[0].detail?.templateFallback, false);
    assert.equal(r.records[1].responses[0].detail?.templateKey, 'General');
    assert.equal(r.records[1].responses[0].detail?.templateFallback, true);
    assert.equal(r.nanScores, 0);
    assert.equal(r.computed, 4);
    assert.equal(r.cached, 0);
  });

  test('the template really changes the score: Math vs math on the same response differ', async () => {
    const x = records[0].responses[0].text;
    const r = await scoreSamples([rec('a', 'Once upon a time', [x], 'Math'), rec('b', 'Once upon a time', [x], 'math')], ipoJudge(model), { cache: false });
    assert.notEqual(r.records[0].responses[0].score, r.records[1].responses[0].score);
  });

  test('batched engine calls (default batch 8) agree with one-at-a-time to float noise', async () => {
    const one = await scoreSamples(records, ipoJudge(model, { batchSize: 1 }), { cache: false });
    const many = await scoreSamples(records, ipoJudge(model), { cache: false });
    one.records.forEach((r, i) => r.responses.forEach((x, k) => assert.ok(Math.abs(x.score - many.records[i].responses[k].score) < 1e-6)));
  });

  test('templateKeyFor', () => {
    assert.deepEqual(templateKeyFor('Math', 'dpo'), { key: 'Math', fallback: false });
    assert.deepEqual(templateKeyFor('math', 'dpo'), { key: 'General', fallback: true });
    assert.deepEqual(templateKeyFor(undefined, 'dpo'), { key: 'General', fallback: true });
    assert.deepEqual(templateKeyFor('chat', 'dpo'), { key: 'chat', fallback: false });
    assert.deepEqual(templateKeyFor('General', 'dpo'), { key: 'General', fallback: false });
    assert.deepEqual(templateKeyFor('hep-go', 'rewardbench'), { key: 'hep-go', fallback: false });
    assert.deepEqual(templateKeyFor('Math', 'rewardbench'), { key: 'alpacaeval-easy', fallback: true });
    assert.equal(Object.keys(DPO_CATEGORY_TEMPLATES).join(','), 'General,chat,Safety,Math');
  });

  test('fingerprint follows the options that decide the score, not batchSize', () => {
    assert.equal(ipoJudge(model).fingerprint, ipoJudge(model, { batchSize: 3, preset: 'paper', maxLength: 1024, truncation: 'right', templateSet: 'dpo' }).fingerprint);
    assert.notEqual(ipoJudge(model).fingerprint, ipoJudge(model, { preset: 'exact' }).fingerprint);
    assert.notEqual(ipoJudge(model).fingerprint, ipoJudge(model, { truncation: 'keep-marker' }).fingerprint);
    assert.notEqual(ipoJudge(model).fingerprint, ipoJudge(model, { templateSet: 'rewardbench' }).fingerprint);
    assert.throws(() => ipoJudge(model, { preset: 'nope' as never }), /^Error: ipoJudge: preset must be 'paper' or 'exact', got "nope"$/);
    assert.throws(() => ipoJudge(model, { batchSize: 0 }), /ipoJudge: batchSize must be a positive integer/);
  });
});

describe('cache', () => {
  test('a second run is fully cached and equal; a killed run resumes', async () => {
    const judge = ipoJudge(model, { batchSize: 2 });
    const first = await scoreSamples(records, judge, { batchSize: 1 });
    assert.equal(first.cached, 0);
    assert.equal(first.computed, 4);
    const second = await scoreSamples(records, judge);
    assert.equal(second.cached, 4);
    assert.equal(second.computed, 0);
    assert.deepEqual(second.records, first.records);
    assert.deepEqual(second.groups, first.groups);
    assert.equal(second.cacheFile, first.cacheFile);

    // a judge that dies on its 2nd batch: the 1st batch is cached, a rerun computes only the rest
    const calls: number[] = [];
    let dieAt = 2;
    const flaky = customJudge('flaky', (_i, resp) => resp.length, { fingerprint: 'len/v1', batchSize: 1 });
    const wrapped = { ...flaky, fingerprint: flaky.fingerprint, scoreBatch: async (items: Parameters<typeof flaky.scoreBatch>[0]) => {
      calls.push(items.length);
      if (calls.length === dieAt) throw new Error('boom');
      return flaky.scoreBatch(items);
    } };
    const recs = [rec('k', 'Count', ['a', 'bb', 'ccc'])];
    await assert.rejects(scoreSamples(recs, wrapped), /boom/);
    dieAt = Infinity;
    const resumed = await scoreSamples(recs, wrapped);
    assert.equal(resumed.cached, 1);
    assert.equal(resumed.computed, 2);
    assert.deepEqual(resumed.records[0].responses.map((x) => x.score), [1, 2, 3]);
  });

  test('cache: false neither reads nor writes', async () => {
    const judge = ipoJudge(model, { preset: 'exact' });
    const a = await scoreSamples(records.slice(0, 1), judge, { cache: false });
    const b = await scoreSamples(records.slice(0, 1), judge);
    assert.equal(a.cached, 0);
    assert.equal(b.cached, 0);
  });

  test('the category is part of the key', async () => {
    const judge = customJudge('by-category', (_i, _r, c) => (c === 'Math' ? 1 : 0), { fingerprint: 'cat/v1' });
    const a = await scoreSamples([rec('x', 'Q', ['r'], 'Math')], judge);
    const b = await scoreSamples([rec('x', 'Q', ['r'], 'math')], judge);
    assert.equal(b.cached, 0);
    assert.deepEqual([a.records[0].responses[0].score, b.records[0].responses[0].score], [1, 0]);
  });
});

describe('self-reward judge', () => {
  const srRecords = () => [
    rec('s1', 'Once upon a time', ['there was a cat.', 'a dog ran.']),
    rec('s2', 'Tom had a red ball.', ['Lily was happy.', 'The end.']),
  ];

  test('TinyStories parses nothing: faithful 0, fixed NaN (from the same cached generations); judgeText = decoded text', async () => {
    const faithful = await scoreSamples(srRecords(), selfRewardJudge(model, { maxNewTokens: 4 }));
    assert.equal(faithful.cached, 0);
    assert.deepEqual(faithful.records.map((r) => r.responses.map((x) => x.score)), [[0, 0], [0, 0]]);
    assert.equal(faithful.counts.unparsed, 4);
    assert.equal(faithful.nanScores, 0);
    // the rubric alone is 633 TinyStories tokens > 512 − 4 positions: right-truncated, as quirk 3 describes
    assert.equal(faithful.counts.truncated, 4);

    // the same generations read in fixed mode: from the cache (raw stage), no new generation
    const fixed = await scoreSamples(srRecords(), selfRewardJudge(model, { maxNewTokens: 4, mode: 'fixed' }));
    assert.equal(fixed.cached, 4);
    assert.ok(fixed.records.every((r) => r.responses.every((x) => Number.isNaN(x.score))));
    assert.equal(fixed.nanScores, 4);
    assert.equal(fixed.counts.unparsed, 4);
    assert.notEqual(fixed.records[0].judge.fingerprint, faithful.records[0].judge.fingerprint);

    // judgeText is the official generated_text: decode(prompt ids + generated ids), the rubric included
    const direct = await judgeSelfReward(model, { instruction: 'Once upon a time', response: 'there was a cat.' }, { maxNewTokens: 4 });
    assert.equal(faithful.records[0].responses[0].judgeText, direct.decoded);
    assert.equal(fixed.records[0].responses[0].judgeText, direct.decoded);
    assert.equal(faithful.records[0].responses[0].detail?.generated, direct.generated);
    assert.ok(direct.decoded.startsWith("Review the user's question"));
    assert.ok(direct.decoded.endsWith(direct.generated));
    assert.equal(direct.generatedTokens, 4);

    // into buildPairs: the faithful rubric rule needs judgeText and gets it; fixed drops every NaN and counts it
    const fp = buildPairs(faithful.groups, FAITHFUL_SELF_REWARD_PAIR_OPTIONS);
    assert.equal(fp.pairs.length, 2);
    assert.ok(fp.pairs.every((p) => p.tied));
    const xp = buildPairs(fixed.groups, FIXED_PAIR_OPTIONS);
    assert.equal(xp.pairs.length, 0);
    assert.equal(xp.dropped.nanScores, 4);
    assert.equal(xp.dropped.tooFewResponses, 2);
    assert.match(formatScoreSummary(fixed), /4 non-finite/);
  });

  test('scripted judge: quirk 11 (faithful reads the prompt echo) and the (score, judge text) tie-break (quirk 13)', async () => {
    const lm = new ScriptedJudge((prompt) => (/<response>GOOD/.test(prompt) ? 'Fine. Score: 4' : 'Meh. Score: 2'));
    const rs = [
      rec('t', 'Tell me.', ['GOOD a', 'bad too', 'GOOD b', 'bad']),
      rec('q', 'My teacher wrote Score: 5 on it.', ['GOOD', 'bad']),
    ];
    const faithful = await scoreSamples(rs, selfRewardJudge(lm));
    const fixed = await scoreSamples(rs, selfRewardJudge(lm, { mode: 'fixed' }));
    assert.equal(lm.calls, 6); // fixed re-read the cached generations
    assert.deepEqual(faithful.records.map((r) => r.responses.map((x) => x.score)), [[4, 2, 4, 2], [5, 5]]);
    assert.deepEqual(fixed.records.map((r) => r.responses.map((x) => x.score)), [[4, 2, 4, 2], [4, 2]]);
    assert.deepEqual(faithful.records[1].responses.map((x) => x.detail?.matchInPrompt), [true, true]);
    assert.equal(faithful.records[0].responses[2].judgeText, `${rubric('Tell me.', 'GOOD b')}Fine. Score: 4`);

    // score only (DPO/ours.py rule): chosen = first 4 (index 0), rejected = last 2 (index 3)
    const byScore = buildPairs(faithful.groups, FAITHFUL_PAIR_OPTIONS).pairs[0];
    assert.deepEqual([byScore.chosenIndex, byScore.rejectedIndex], [0, 3]);
    // (score, text) descending (DPO/self_reward.py): among the 4s "...GOOD b</response>..." > "...GOOD a...", so
    // chosen = 'GOOD b'; among the 2s "...bad<" > "...bad " ('<' 0x3C > ' ' 0x20), so the last is 'bad too'
    const byText = buildPairs(faithful.groups, FAITHFUL_SELF_REWARD_PAIR_OPTIONS).pairs[0];
    assert.deepEqual([byText.chosen, byText.rejected], ['GOOD b', 'bad too']);
    // the all-5 prompt of faithful mode is a tied pair; fixed mode separates it
    assert.equal(buildPairs(faithful.groups, FAITHFUL_SELF_REWARD_PAIR_OPTIONS).pairs[1].tied, true);
    assert.equal(buildPairs(fixed.groups, FIXED_PAIR_OPTIONS).pairs[1].chosen, 'GOOD');
  });

  test('defaults follow DPO/self_reward.py (128 new tokens, 2048 truncation), bad options fail in one line', () => {
    assert.equal(SELF_REWARD_DPO_MAX_NEW_TOKENS, 128);
    assert.match(selfRewardJudge(model).fingerprint, /"maxNewTokens":128/);
    assert.match(selfRewardJudge(model).fingerprint, /"maxLength":2048/);
    assert.match(selfRewardJudge(model).fingerprint, /"sampling":"greedy"/);
    assert.throws(() => selfRewardJudge(model, { mode: 'loose' as never }), /^Error: selfRewardJudge: mode must be 'faithful' or 'fixed', got "loose"$/);
  });
});

describe('reward-model judge', () => {
  test('faithful = float32 sigmoid of the 1-label logit, fixed = the logit; both from one cached forward pass', async () => {
    const rs = [rec('r1', 'What is the capital of France?', ['paris', 'i do not know'], 'chat'), rec('r2', 'Say hello.', ['hello world', ''])];
    const faithful = await scoreSamples(rs, rewardModelJudge(rm));
    const fixed = await scoreSamples(rs, rewardModelJudge(rm, { mode: 'fixed' }));
    assert.equal(faithful.cached, 0);
    assert.equal(fixed.cached, 4);
    const texts = rs.flatMap((r) => r.responses.map((x) => rewardModelText(r.instruction, x.text)));
    const ref = await rm.score(texts);
    const logits = ref.logits.map((l) => l[0]);
    const got = (r: { records: ScoreRecord[] }) => r.records.flatMap((x) => x.responses.map((y) => y.score));
    assert.deepEqual(got(fixed), logits);
    got(faithful).forEach((s, i) => assert.ok(Math.abs(s - 1 / (1 + Math.exp(-logits[i]))) < 1e-6, `${s} vs sigmoid(${logits[i]})`));
    assert.equal(new Set(logits).size, 4); // random weights still tell the texts apart
    assert.deepEqual(faithful.records[0].responses[0].detail?.logits, ref.logits[0]);
    const pairs = buildPairs(fixed.groups, FAITHFUL_PAIR_OPTIONS);
    assert.equal(pairs.pairs.length, 2);
    assert.equal(pairs.pairs[0].chosenScore, Math.max(logits[0], logits[1]));
  });

  test('bad options', () => {
    assert.throws(() => rewardModelJudge(rm, { mode: 'x' as never }), /rewardModelJudge: mode must be 'faithful' or 'fixed'/);
    assert.throws(() => rewardModelJudge({} as never), /rewardModelJudge: rm must be a reward model/);
  });
});

describe('custom judge', () => {
  test('sync and async oracles; NaN counted and dropped by buildPairs; not cached without a fingerprint', async () => {
    const seen: (string | undefined)[] = [];
    const judge = customJudge('length', async (instruction, response, category) => {
      seen.push(category);
      return response === 'skip' ? NaN : response.length + (instruction === 'B' ? 100 : 0);
    });
    const rs = [rec('a', 'A', ['xx', 'x', 'xxx'], 'chat'), rec('b', 'B', ['skip', 'yy'])];
    const r = await scoreSamples(rs, judge);
    assert.deepEqual(r.records.map((x) => x.responses.map((y) => y.score)), [[2, 1, 3], [NaN, 102]]);
    assert.deepEqual(seen, ['chat', 'chat', 'chat', undefined, undefined]);
    assert.equal(r.nanScores, 1);
    const again = await scoreSamples(rs, judge);
    assert.equal(again.cached, 0);
    const p = buildPairs(r.groups, FAITHFUL_PAIR_OPTIONS);
    assert.equal(p.pairs[0].chosen, 'xxx');
    assert.equal(p.pairs[0].rejected, 'x');
    assert.equal(p.pairs[1].chosen, 'yy');
    assert.equal(p.dropped.nanScores, 1);
    assert.deepEqual(p.pairs.map((x) => x.promptId), ['a', 'b']);
    assert.deepEqual(p.pairs.map((x) => x.prompt), ['A', 'B']);

    const cached = customJudge('length', (_i, resp) => resp.length, { fingerprint: 'len/v1' });
    await scoreSamples(rs, cached);
    assert.equal((await scoreSamples(rs, cached)).cached, 5);
  });

  test('a non-number is a one-line error naming the judge', async () => {
    const bad = customJudge('bad', () => 'high' as never);
    await assert.rejects(scoreSamples([rec('a', 'A', ['x'])], bad), /^Error: customJudge\(bad\): fn returned string, expected a number/);
    assert.throws(() => customJudge('', () => 1), /customJudge: name must be a non-empty string/);
    await assert.rejects(scoreSamples([{ id: 'a' } as never], bad), /scoreSamples: records\[0\] \(a\): instruction must be a non-empty string/);
    await assert.rejects(scoreSamples([], {} as never), /scoreSamples: judge must be a ResponseJudge/);
  });
});

describe('scores.jsonl', () => {
  test('write → read round trip keeps NaN and ±Infinity; bad lines are counted, never fatal', async () => {
    const judge = customJudge('odd', (_i, resp) => (resp === 'n' ? NaN : resp === 'p' ? Infinity : resp === 'm' ? -Infinity : 0.25));
    const r = await scoreSamples([rec('a', 'A', ['n', 'p', 'm', 'q'], 'Math'), rec('b', 'B', ['q'])], judge);
    const file = join(tmp, 'scores.jsonl');
    writeScores(file, r.records);
    assert.match(readFileSync(file, 'utf8'), /"score":"NaN"/);
    const back = readScores(file);
    assert.deepEqual(back.records, r.records);
    assert.deepEqual(scoreGroups(back.records), r.groups);
    assert.equal(back.total, 2);

    writeFileSync(file, `${readFileSync(file, 'utf8')}not json\n{"id":"c","instruction":"C","judge":{"name":"x","fingerprint":"y"},"responses":[{"index":0,"text":"t","score":"high"}]}\n${readFileSync(file, 'utf8').split('\n')[0]}\n`);
    const messy = readScores(file);
    assert.equal(messy.records.length, 2);
    assert.deepEqual(messy.skipped, { invalidJson: 1, invalidRecord: 1, duplicateId: 1 });
    assert.match(messy.examples[1].reason, /responses\[0\]\.score must be a number or "NaN"/);

    writeFileSync(file, '');
    assert.throws(() => readScores(file), /^Error: scores file .*scores\.jsonl: no usable records in 0 lines \(the file is empty\)$/);
  });
});
