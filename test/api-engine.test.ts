/**
 * The api engine (lib/models/api.ts) against the kit's own OpenAI-compatible server (`ipo serve`, lib/serve/) on the
 * embedded model, over real HTTP on 127.0.0.1: the same P(Yes) as the direct engine under both presets (to 1e-4),
 * the same greedy generations, NaN (never 0) and a count when " Yes"/" No" fall outside the top-K, and the CLI's
 * `score`, `rewardbench` and `rmbench` with `--engine api` giving the direct engine's numbers.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { loadApiModel, type ApiCausalLM } from '../lib/models/api.ts';
import { apiOptionsFromEnv, loadModel, loadTfModel } from '../lib/models/load.ts';
import type { TfCausalLM } from '../lib/models/tf-causal-lm.ts';
import { pYes } from '../lib/scoring/yes-no.ts';
import { sampleResponses } from '../lib/generate/sample.ts';
import { startOpenAiServer } from '../lib/serve/openai-server.ts';

const run = promisify(execFile);
let direct: TfCausalLM;
let server: { url: string; close(): Promise<void> };
let api: ApiCausalLM;
const cacheDir = mkdtempSync(join(tmpdir(), 'ipo-api-engine-'));

before(async () => {
  direct = await loadTfModel('tinystories-656k');
  server = await startOpenAiServer({ model: direct, port: 0 });
  api = await loadApiModel('tinystories-656k', { baseUrls: [server.url], topLogprobs: direct.vocabSize, cacheDir: join(cacheDir, 'api') });
});

after(async () => {
  api?.dispose();
  await server?.close();
  direct?.dispose();
});

const ITEMS = [
  { instruction: 'What is 2+3?', response: '5', category: 'math-prm' },
  { instruction: 'Tell me a story about a dog.', response: 'Once upon a time, there was a big dog named Max. He liked to play in the park.' },
  { instruction: 'Write a function that adds two numbers.', response: 'def add(a, b):\n    return a + b', category: 'hep-python' },
];

test('api engine: P(Yes) equals the direct engine to 1e-4 under the paper and exact presets', async () => {
  assert.equal(api.engine, 'api');
  assert.equal(api.ref, `api:${api.servedModel}`);
  assert.doesNotMatch(api.ref, /127\.0\.0\.1|http/, 'the ref names the model, not the endpoint');
  for (const preset of ['paper', 'exact'] as const) {
    for (const item of ITEMS) {
      const a = await pYes(api, item, { preset });
      const d = await pYes(direct, item, { preset });
      assert.ok(Math.abs(a.pYes - d.pYes) < 1e-4, `${preset}: ${a.pYes} vs ${d.pYes}`);
      assert.ok(Math.abs(Math.log(a.yes) - Math.log(d.yes)) < 1e-3, `${preset}: yes ${a.yes} vs ${d.yes}`);
      assert.equal(a.promptTokens, d.promptTokens);
    }
  }
});

test('api engine: greedy generation and teacher-forced log-probs match the direct engine', async () => {
  const ids = direct.encode('Once upon a time, there was a');
  const g = await api.generate(ids, { maxNewTokens: 12 });
  assert.deepEqual(g, await direct.generate(ids, { maxNewTokens: 12 }));
  const cont = direct.encode(' little girl named Lily.', { addSpecialTokens: false });
  const a = await api.continuationLogProb(ids, cont);
  const d = await direct.continuationLogProb(ids, cont);
  assert.equal(a.perToken.length, cont.length);
  assert.ok(Math.abs(a.total - d.total) < 1e-3, `${a.total} vs ${d.total}`);
  // seeded sampling through the server is reproducible
  const s1 = await api.generate(ids, { maxNewTokens: 8, temperature: 1, seed: 7 });
  const s2 = await api.generate(ids, { maxNewTokens: 8, temperature: 1, seed: 7 });
  assert.deepEqual(s1, s2);
});

test('api engine: the self-improvement sampler gives the direct engine\'s samples (seeded, per response)', async () => {
  const prompts = [{ id: 'a', instruction: 'Once upon a time' }, { id: 'b', instruction: 'Tom had a red ball.' }];
  const o = { n: 2, temperature: 1, maxNewTokens: 10, seed: 3, promptFormat: 'raw' as const, extraction: 'fixed' as const, cache: false };
  const a = await sampleResponses(api, prompts, o);
  const d = await sampleResponses(direct, prompts, o);
  assert.deepEqual(a.records.map((r) => r.responses.map((x) => x.text)), d.records.map((r) => r.responses.map((x) => x.text)));
  assert.deepEqual(a.records.map((r) => r.responses.map((x) => x.tokens)), d.records.map((r) => r.responses.map((x) => x.tokens)));
});

test('api engine: ids outside the top-K are NaN, never 0, and " Yes"/" No" misses are counted', async () => {
  const small = await loadApiModel('tinystories-656k', { baseUrls: [server.url], topLogprobs: 3, cacheDir: join(cacheDir, 'small') });
  try {
    const ids = direct.encode('Once upon a time');
    const lp = await small.nextTokenLogProbs(ids);
    const full = await direct.nextTokenLogProbs(ids);
    const finite = [...lp.keys()].filter((i) => Number.isFinite(lp[i]));
    assert.equal(finite.length, 3);
    for (const i of finite) assert.ok(Math.abs(lp[i] - full[i]) < 1e-4);
    assert.equal(lp.filter((x) => Number.isNaN(x)).length, direct.vocabSize - 3);
    const s = await pYes(small, ITEMS[1], { preset: 'paper' });
    assert.ok(Number.isNaN(s.pYes) || s.pYes > 0, 'a missing Yes/No never reads as P = 0');
    assert.ok(small.stats().yesNoMissing >= 1);
    assert.equal(small.stats().nextTokenCalls, 2);
  } finally {
    small.dispose();
  }
});

test('api engine from the environment (how notebooks use it): IPO_BASE_URL makes loadModel pick the api engine', async () => {
  const saved = { ...process.env };
  try {
    process.env.IPO_BASE_URL = server.url;
    process.env.IPO_TOP_LOGPROBS = String(direct.vocabSize);
    delete process.env.IPO_ENGINE;
    const m = await loadModel('tinystories-656k');
    try {
      assert.equal(m.engine, 'api');
      const a = await pYes(m, ITEMS[0]);
      const d = await pYes(direct, ITEMS[0]);
      assert.ok(Math.abs(a.pYes - d.pYes) < 1e-4);
    } finally {
      m.dispose();
    }
    assert.deepEqual(apiOptionsFromEnv({ IPO_BASE_URL: 'http://a/v1, http://b/v1', IPO_API_CONCURRENCY: '4' }), { baseUrls: ['http://a/v1', 'http://b/v1'], apiModel: undefined, topLogprobs: undefined, concurrency: 4 });
    assert.equal(apiOptionsFromEnv({}), undefined);
    assert.throws(() => apiOptionsFromEnv({ IPO_BASE_URL: 'http://a/v1', IPO_TOP_LOGPROBS: 'many' }), /IPO_TOP_LOGPROBS must be a positive integer/);
  } finally {
    for (const k of ['IPO_BASE_URL', 'IPO_TOP_LOGPROBS', 'IPO_ENGINE']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('api engine: a model the server does not serve, or a server that is down, is a one-line error', async () => {
  await assert.rejects(loadApiModel('tinystories-656k', { baseUrls: [], cacheDir: false }), /at least one --base-url/);
  const wrong = await loadApiModel('tinystories-656k', { baseUrls: [server.url], apiModel: 'no-such-model', cacheDir: false, maxRetries: 0 });
  try {
    await assert.rejects(wrong.nextTokenLogProbs([1, 2, 3]), /api engine: next-token log-probs failed .*HTTP 404/);
    assert.equal(wrong.stats().failed, 1);
  } finally {
    wrong.dispose();
  }
});

const ipo = async (...args: string[]) => {
  const env = { ...process.env, IPO_OFFLINE: '1', IPO_CACHE_DIR: join(cacheDir, 'cli'), IPO_PROGRESS: '0' };
  const r = await run(process.execPath, ['bin/ipo.mjs', ...args], { env, maxBuffer: 32 << 20 });
  return { stdout: r.stdout, stderr: r.stderr };
};

test('CLI: ipo score --engine api equals ipo score on the direct engine (both presets)', async () => {
  for (const preset of ['paper', 'exact']) {
    const args = ['score', '--instruction', 'What is 2+3?', '--response', '5', '--preset', preset, '--json'];
    const d = JSON.parse((await ipo(...args)).stdout);
    const a = await ipo(...args, '--engine', 'api', '--base-url', server.url, '--top-logprobs', String(direct.vocabSize));
    const out = JSON.parse(a.stdout);
    assert.ok(Math.abs(out.pYes - d.pYes) < 1e-4, `${preset}: ${out.pYes} vs ${d.pYes}`);
    assert.match(a.stderr, /api: .*requests/);
  }
  // a price table turns the end-of-run token counts into a cost line (a fresh item: cached answers cost nothing)
  const prices = join(cacheDir, 'prices.json');
  writeFileSync(prices, JSON.stringify({ [api.servedModel]: { prompt: 1000, completion: 2000 } }));
  const priced = await ipo('score', '--instruction', 'What is 3+4?', '--response', '7', '--json', '--base-url', server.url, '--prices', prices);
  assert.match(priced.stderr, /\d+ prompt \+ \d+ completion tokens, \$0\.\d{4}/);
  writeFileSync(prices, '{"m": {"prompt": "cheap"}}');
  await assert.rejects(ipo('score', '--instruction', 'x', '--response', 'y', '--base-url', server.url, '--prices', prices), /--prices .*needs non-negative numbers/);
  await assert.rejects(ipo('score', '--instruction', 'x', '--response', 'y', '--engine', 'api'), /--engine api needs --base-url/);
  await assert.rejects(ipo('score', '--instruction', 'x', '--response', 'y', '--engine', 'onnx', '--base-url', server.url), /--base-url is for the api engine/);
});

test('CLI: ipo rewardbench and ipo rmbench run through the api engine with the direct engine\'s numbers', async () => {
  const rbArgs = ['rewardbench', '--source', 'rebuilt', '--limit-per-subset', '1', '--json'];
  const rb = JSON.parse((await ipo(...rbArgs, '--base-url', server.url, '--top-logprobs', String(direct.vocabSize))).stdout);
  const rbDirect = JSON.parse((await ipo(...rbArgs)).stdout);
  assert.deepEqual(Object.keys(rb.subsets).sort(), Object.keys(rbDirect.subsets).sort());
  for (const k of Object.keys(rb.subsets)) assert.equal(rb.subsets[k].correct, rbDirect.subsets[k].correct, k);
  const rmArgs = ['rmbench', '--limit-per-domain', '1', '--domains', 'chat,safety-refuse', '--json'];
  const rm = JSON.parse((await ipo(...rmArgs, '--base-url', server.url, '--top-logprobs', String(direct.vocabSize))).stdout);
  const rmDirect = JSON.parse((await ipo(...rmArgs)).stdout);
  assert.equal(rm.model, 'api:tinystories-656k');
  assert.deepEqual({ ...rm, model: '' }, { ...rmDirect, model: '' });
});
