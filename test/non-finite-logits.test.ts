/**
 * Issue 11 (docs/robustness.md): NaN or infinite logits are a one-line error naming the model, never P(Yes) = NaN
 * averaged into a run with exit 0. −Inf (probability 0, an underflow) stays legitimate, and the api engine's NaN
 * ("outside the server's top-K", lib/models/api.ts) stays a visible NaN score.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel } from '../lib/models/load.ts';
import type { CausalLM } from '../lib/models/types.ts';
import { pYes, pYesBatch, scorePair, scorePairBatch } from '../lib/scoring/yes-no.ts';
import { findAsset } from '../lib/util/paths.ts';
import { assertOneLineError, ipo } from './helpers/cli.ts';

const ITEM = { instruction: 'What is 2+3?', response: '5', category: 'math-prm' };
const PAIR = { instruction: 'What is 2+3?', chosen: '5', rejected: '6', category: 'math-prm' };

/** The embedded model with every log-probability replaced by `v` (what an engine with NaN/Inf logits returns). */
function poisoned(m: CausalLM, v: number): CausalLM {
  const fill = (a: Float32Array) => new Float32Array(a.length).fill(v);
  return new Proxy(m, {
    get(target, key, recv) {
      if (key === 'nextTokenLogProbs') return async (ids: number[]) => fill(await target.nextTokenLogProbs(ids));
      if (key === 'nextTokenLogProbsBatch') return async (b: number[][]) => (await target.nextTokenLogProbsBatch(b)).map(fill);
      if (key === 'continuationLogProb') return async (p: number[], c: number[]) => ({ total: v, perToken: c.map(() => v) });
      if (key === 'forkedLogProbs') {
        return async (p: number[], bs: { ids: number[]; continuations?: number[][] }[]) => (await target.forkedLogProbs!(p, bs))
          .map((r) => ({ next: fill(r.next), continuations: r.continuations.map((c) => ({ total: v, perToken: c.perToken.map(() => v) })) }));
      }
      return Reflect.get(target, key, recv);
    },
  });
}

test('NaN or +Inf log-probabilities: every IPO entry point throws one line naming the model (both presets, both paths)', async () => {
  const m = await loadModel('tinystories-656k', { engine: 'tf' });
  try {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const bad = poisoned(m, v);
      const re = new RegExp(`tinystories-656k returned a non-finite log-probability \\(${v}\\) for " (Yes|No)".*P\\(Yes\\) would be meaningless`);
      for (const preset of ['paper', 'exact'] as const) {
        for (const prefixReuse of [true, false]) {
          const o = { preset, prefixReuse };
          await assert.rejects(pYes(bad, ITEM, o), re, `pYes ${preset} reuse=${prefixReuse} v=${v}`);
          await assert.rejects(scorePair(bad, PAIR, o), re, `scorePair ${preset} reuse=${prefixReuse} v=${v}`);
          await assert.rejects(scorePairBatch(bad, [PAIR, PAIR], o), re, `scorePairBatch ${preset} reuse=${prefixReuse} v=${v}`);
        }
      }
      await assert.rejects(pYesBatch(bad, [ITEM, ITEM], { preset: 'paper' }), re);
    }
    // −Inf everywhere is probability 0 on both sides: the official underflow path (raw 0, underflow flagged), no throw
    const zero = await pYes(poisoned(m, Number.NEGATIVE_INFINITY), ITEM, { preset: 'paper' });
    assert.equal(zero.underflow, true);
    assert.equal(zero.pYes, 0);
    // and the real model is untouched by the check
    const ok = await pYes(m, ITEM, { preset: 'paper' });
    assert.ok(ok.pYes > 0 && ok.pYes < 1 && !ok.underflow);
  } finally {
    m.dispose();
  }
});

test('ipo score on a model whose weights hold NaN: one line naming the model folder, non-zero exit', () => {
  // a copy of the embedded model with its final RMSNorm weight set to NaN: every logit becomes NaN
  const src = findAsset('models/tinystories-656k');
  const dir = join(mkdtempSync(join(tmpdir(), 'ipo-nan-')), 'nan-model');
  mkdirSync(dir);
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
  const file = join(dir, 'model.safetensors');
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const [a, b] = header['model.norm.weight'].data_offsets;
  for (let off = 8 + n + a; off < 8 + n + b; off += 4) buf.writeFloatLE(Number.NaN, off);
  writeFileSync(file, buf);
  for (const preset of ['paper', 'exact']) {
    const r = ipo('score', '--model', dir, '--instruction', ITEM.instruction, '--response', ITEM.response, '--category', ITEM.category, '--preset', preset, '--json');
    assertOneLineError(r, /nan-model returned a non-finite log-probability \(NaN\)/);
  }
  // a whole run stops at the first pair instead of averaging NaN scores into a "result"
  // (nothing is cached: the first batch throws, and the cache key holds the model's weight fingerprint anyway)
  const run = ipo('rewardbench', '--model', dir, '--source', 'rebuilt', '--limit-per-subset', '1', '--json');
  assertOneLineError(run, /nan-model returned a non-finite log-probability \(NaN\)/);
});
