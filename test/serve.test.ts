/**
 * `ipo serve` (lib/serve/) driven by the official `openai` npm client over real HTTP on the embedded TinyStories
 * model: every number the server returns is compared with the engine called directly (nextTokenLogProbs,
 * continuationLogProb, generate, encode) — the paths the api engine uses for IPO's P(Yes) (token-id prompt,
 * max_tokens 1, logprobs k, token ids as keys) and the exact preset (echo, max_tokens 0) to 1e-5.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import OpenAI from 'openai';
import { loadTfModel } from '../lib/models/load.ts';
import type { CausalLM } from '../lib/models/types.ts';
import { startOpenAiServer, type RunningServer } from '../lib/serve/openai-server.ts';
import { topK } from '../lib/serve/logprobs.ts';
import { findAsset } from '../lib/util/paths.ts';
import { ipoSpawn } from './helpers/cli.ts';

const TINY = findAsset('models/tinystories-656k');
const TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
const TOL = 1e-5;

let model: CausalLM;      // no chat template (the embedded model has none)
let chatModel: CausalLM;  // the same weights with a chat template
let plain: RunningServer;
let chat: RunningServer;
let client: OpenAI;
let chatClient: OpenAI;

const openai = (url: string) => new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
const post = (url: string, body: unknown, contentType = 'application/json') =>
  fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= TOL, `${what}: ${a} vs ${b}`);

before(async () => {
  model = await loadTfModel(TINY);
  chatModel = await loadTfModel(TINY, { chatTemplate: TEMPLATE });
  plain = await startOpenAiServer({ model });
  chat = await startOpenAiServer({ model: chatModel, modelName: 'tiny-chat', maxLogprobs: 50 });
  client = openai(plain.url);
  chatClient = openai(chat.url);
});

after(async () => {
  await plain?.close();
  await chat?.close();
  model?.dispose();
  chatModel?.dispose();
});

/** Requests through the official client; the cast lets tests send vLLM fields, bad values, and no `model` (optional here). */
const complete = (c: OpenAI, b: Record<string, unknown>) => c.completions.create(b as unknown as OpenAI.CompletionCreateParamsNonStreaming);
const chatComplete = (c: OpenAI, b: Record<string, unknown>) => c.chat.completions.create(b as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);

test('GET /v1/models, /health and /v1/models/:id', async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), ['tinystories-656k']);
  assert.equal((await client.models.retrieve('tinystories-656k')).id, 'tinystories-656k');
  await assert.rejects(client.models.retrieve('gpt-4o'), (e: unknown) => e instanceof OpenAI.NotFoundError);
  const health = await fetch(plain.url.replace(/\/v1$/, '/health'));
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
  assert.match(plain.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
});

test('P(Yes) path: token-id prompt, max_tokens 1, logprobs = vocab, token ids as keys = nextTokenLogProbs', async () => {
  const ids = model.encode('Lily asked her mom if she could play outside. Her mom said');
  const r = await complete(client, {
    model: 'tinystories-656k', prompt: ids, max_tokens: 1, temperature: 0, logprobs: model.vocabSize, return_tokens_as_token_ids: true,
  });
  const direct = await model.nextTokenLogProbs(ids);
  const argmax = topK(direct, 1)[0];
  const c = r.choices[0];
  assert.equal(r.object, 'text_completion');
  assert.equal(c.finish_reason, 'length');
  assert.deepEqual(c.logprobs!.tokens, [`token_id:${argmax}`]);
  assert.equal(c.text, model.decode([argmax]));
  const top = c.logprobs!.top_logprobs![0];
  assert.equal(Object.keys(top).length, model.vocabSize, 'every id of the vocabulary (the sampled one is among them)');
  let maxErr = 0;
  for (const [key, lp] of Object.entries(top)) {
    const id = Number(key.replace('token_id:', ''));
    maxErr = Math.max(maxErr, Math.abs(lp - direct[id]));
  }
  assert.ok(maxErr <= TOL, `max |server - nextTokenLogProbs| = ${maxErr}`);
  close(c.logprobs!.token_logprobs![0]!, direct[argmax], 'sampled token');
  assert.deepEqual(r.usage, { prompt_tokens: ids.length, completion_tokens: 1, total_tokens: ids.length + 1 });

  // a small k: the k best ids in rank order, plus the sampled token (here the argmax, so exactly k keys)
  const r5 = await complete(client, { prompt: ids, max_tokens: 1, temperature: 0, logprobs: 5, return_tokens_as_token_ids: true });
  assert.deepEqual(Object.keys(r5.choices[0].logprobs!.top_logprobs![0]), topK(direct, 5).map((i) => `token_id:${i}`));
});

test('exact-preset path: echo with max_tokens 0 on a token-id prompt = continuationLogProb', async () => {
  const prefix = model.encode('Tom had a red ball. Is this story happy? Answer:');
  const yes = model.encode(' Yes', { addSpecialTokens: false });
  const ids = [...prefix, ...yes];
  const r = await complete(client, { prompt: [ids], max_tokens: 0, echo: true, logprobs: 0, return_tokens_as_token_ids: true });
  const lp = r.choices[0].logprobs!;
  assert.equal(lp.tokens!.length, ids.length);
  assert.deepEqual(lp.tokens, ids.map((i) => `token_id:${i}`));
  assert.equal(lp.token_logprobs![0], null, 'the first prompt token has no log-prob');
  assert.equal(lp.top_logprobs![0], null);
  const ref = await model.continuationLogProb(ids.slice(0, 1), ids.slice(1));
  ref.perToken.forEach((x, i) => close(lp.token_logprobs![i + 1]!, x, `prompt token ${i + 1}`));
  // what the exact preset sums: the continuation's log-prob after the prefix
  const served = (lp.token_logprobs!.slice(prefix.length) as number[]).reduce((a, b) => a + b, 0);
  close(served, (await model.continuationLogProb(prefix, yes)).total, "log P(' Yes' | prefix)");
  assert.equal(r.choices[0].text, model.decode(ids));
  assert.equal(r.usage!.completion_tokens, 0);
  // logprobs 0: each dict holds the token itself only
  assert.ok(lp.top_logprobs!.slice(1).every((d) => Object.keys(d!).length === 1));
});

test('echo with logprobs 3: every number at a position = nextTokenLogProbs of the sequence before it', async () => {
  const prompt = 'The cat sat on the mat.';
  const ids = model.encode(prompt);
  const r = await complete(client, { model: 'tinystories-656k', prompt, max_tokens: 4, temperature: 0, echo: true, logprobs: 3, return_tokens_as_token_ids: true });
  const c = r.choices[0];
  const gen = await model.generate(ids, { maxNewTokens: 4 });
  assert.equal(c.text, prompt + model.decode(gen));
  const lp = c.logprobs!;
  const all = [...ids, ...gen];
  assert.deepEqual(lp.tokens, all.map((i) => `token_id:${i}`));
  for (let i = 1; i < all.length; i++) {
    const dist = await model.nextTokenLogProbs(all.slice(0, i));
    const dict = lp.top_logprobs![i]!;
    // the token itself first, then the top 3 (deduplicated): 3 or 4 keys
    const expected = [all[i], ...topK(dist, 3).filter((id) => id !== all[i])];
    assert.deepEqual(Object.keys(dict), expected.map((id) => `token_id:${id}`), `position ${i}`);
    for (const id of expected) close(dict[`token_id:${id}`], dist[id], `position ${i}, id ${id}`);
    close(lp.token_logprobs![i]!, dist[all[i]], `position ${i}: token log-prob`);
  }
  // text offsets index the returned text: each token's offset is where its text starts
  assert.equal(lp.text_offset![0], 0);
  for (let i = 1; i < all.length; i++) assert.ok(lp.text_offset![i] >= lp.text_offset![i - 1]);
  for (let i = 1; i < ids.length; i++) assert.equal(lp.text_offset![i], model.decode(ids.slice(0, i)).length, `prompt offset ${i}`);
  for (let j = 0; j < gen.length; j++) {
    assert.equal(lp.text_offset![ids.length + j], prompt.length + (j === 0 ? 0 : model.decode(gen.slice(0, j)).length), `generated offset ${j}`);
  }
});

test('generation: greedy and seeded sampling equal the engine; stop strings; several prompts and n', async () => {
  const prompt = 'Once upon a time';
  const ids = model.encode(prompt);
  const greedy = await complete(client, { model: 'tinystories-656k', prompt, max_tokens: 24, temperature: 0, logprobs: 1 });
  const gen = await model.generate(ids, { maxNewTokens: 24 });
  assert.equal(greedy.choices[0].text, model.decode(gen));
  assert.equal(greedy.choices[0].logprobs!.tokens!.join(''), greedy.choices[0].text, 'token strings read as the text');
  assert.equal(greedy.usage!.completion_tokens, gen.length);
  const ref = await model.continuationLogProb(ids, gen);
  ref.perToken.forEach((x, j) => close(greedy.choices[0].logprobs!.token_logprobs![j]!, x, `generated token ${j}`));

  // seed: the same tokens as model.generate with that seed, and reproducible
  const sampling = { temperature: 0.8, top_p: 0.9, seed: 3, max_tokens: 12 };
  const a = await complete(client, { prompt, ...sampling });
  const b = await complete(client, { prompt, ...sampling });
  const direct = await model.generate(ids, { maxNewTokens: 12, temperature: 0.8, topP: 0.9, seed: 3 });
  assert.equal(a.choices[0].text, model.decode(direct));
  assert.equal(b.choices[0].text, a.choices[0].text);
  const two = await complete(client, { prompt, ...sampling, n: 2 });
  assert.equal(two.choices[0].text, a.choices[0].text, 'choice 0 uses the seed as given');
  assert.notEqual(two.choices[1].text, two.choices[0].text, 'choice 1 draws from its own stream');

  // stop: text ends before the first occurrence; finish_reason stop
  const full = model.decode(gen);
  const word = full.split(' ').filter((w) => w.length > 3)[2];
  assert.ok(word, full);
  const stopped = await complete(client, { prompt, max_tokens: 24, temperature: 0, stop: [word, 'zzzz'], logprobs: 0 });
  assert.equal(stopped.choices[0].text, full.slice(0, full.indexOf(word)));
  assert.equal(stopped.choices[0].finish_reason, 'stop');
  assert.ok(stopped.usage!.completion_tokens < gen.length);
  assert.equal(stopped.choices[0].logprobs!.tokens!.length, stopped.usage!.completion_tokens);

  // several prompts × n: prompt by prompt, n each, indices in order; usage counts each prompt once
  const p2 = 'Tom liked to run';
  const many = await complete(client, { prompt: [prompt, p2], max_tokens: 5, temperature: 0, n: 2 });
  assert.deepEqual(many.choices.map((c) => c.index), [0, 1, 2, 3]);
  const g2 = await model.generate(model.encode(p2), { maxNewTokens: 5 });
  assert.deepEqual(many.choices.map((c) => c.text), [model.decode(gen.slice(0, 5)), model.decode(gen.slice(0, 5)), model.decode(g2), model.decode(g2)]);
  assert.equal(many.usage!.prompt_tokens, ids.length + model.encode(p2).length);
  const byIds = await complete(client, { prompt: [ids, model.encode(p2)], max_tokens: 5, temperature: 0 });
  assert.deepEqual(byIds.choices.map((c) => c.text), [model.decode(gen.slice(0, 5)), model.decode(g2)]);
});

test('EOS ends generation (finish_reason stop, EOS in the log-probs, not in the text); ignore_eos; stop_token_ids', async () => {
  const prompt = 'Once upon a time';
  const ids = model.encode(prompt);
  const gen = await model.generate(ids, { maxNewTokens: 300 });
  assert.equal(gen[gen.length - 1], model.eosTokenId, 'the embedded model ends its story with EOS within 300 tokens');
  const r = await complete(client, { prompt, max_tokens: 300, temperature: 0, logprobs: 0 });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage!.completion_tokens, gen.length);
  assert.equal(r.choices[0].logprobs!.tokens!.at(-1), '<|end_story|>');
  assert.equal(r.choices[0].text, model.decode(gen));
  const past = await complete(client, { prompt, max_tokens: gen.length + 3, temperature: 0, ignore_eos: true });
  assert.equal(past.choices[0].finish_reason, 'length');
  assert.equal(past.usage!.completion_tokens, gen.length + 3);
  const mid = gen[5];
  const early = await complete(client, { prompt, max_tokens: 300, temperature: 0, stop_token_ids: [mid] });
  assert.equal(early.choices[0].finish_reason, 'stop');
  assert.equal(early.usage!.completion_tokens, gen.indexOf(mid) + 1);
});

test('topK: the k largest, ties by lower id, on both code paths (small k and sort)', () => {
  const n = 1000;
  const v = Float32Array.from({ length: n }, (_, i) => Math.round(Math.sin(i * 12.9898) * 50) / 10); // many ties
  const ref = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[b] - v[a] || a - b);
  for (const k of [0, 1, 7, 124, 125, 600, n, n + 5]) assert.deepEqual(topK(v, k), ref.slice(0, Math.min(k, n)), `k ${k}`);
});

test('chat completions with the chat template; logprobs and top_logprobs', async () => {
  const messages = [{ role: 'user' as const, content: 'Tell me about a dog.' }];
  const r = await chatComplete(chatClient, { model: 'tiny-chat', messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 5 });
  const text = chatModel.applyChatTemplate(messages, { addGenerationPrompt: true });
  assert.equal(text, '<|start_story|>user: Tell me about a dog.\nassistant:');
  const ids = chatModel.encode(text, { addSpecialTokens: false });
  const gen = await chatModel.generate(ids, { maxNewTokens: 10 });
  const c = r.choices[0];
  assert.equal(r.object, 'chat.completion');
  assert.equal(c.message.role, 'assistant');
  assert.equal(c.message.content, chatModel.decode(gen));
  assert.deepEqual(r.usage, { prompt_tokens: ids.length, completion_tokens: gen.length, total_tokens: ids.length + gen.length });
  const content = c.logprobs!.content!;
  assert.equal(content.length, gen.length);
  for (let j = 0; j < gen.length; j++) {
    const dist = await chatModel.nextTokenLogProbs([...ids, ...gen.slice(0, j)]);
    close(content[j].logprob, dist[gen[j]], `chat token ${j}`);
    assert.deepEqual(content[j].bytes, Array.from(Buffer.from(content[j].token, 'utf8')));
    assert.equal(content[j].top_logprobs.length, 5);
    const best = topK(dist, 5);
    content[j].top_logprobs.forEach((t, rank) => close(t.logprob, dist[best[rank]], `chat token ${j} rank ${rank}`));
    assert.equal(content[j].top_logprobs[0].token, content[j].token, 'greedy: the token is the top alternative');
  }
  // top_logprobs above this server's cap (50) and without logprobs are 400s
  await assert.rejects(chatComplete(chatClient, { messages, max_tokens: 2, logprobs: true, top_logprobs: 51 }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'top_logprobs');
  await assert.rejects(chatComplete(chatClient, { messages, max_tokens: 2, top_logprobs: 2 }), (e: unknown) => e instanceof OpenAI.BadRequestError);
  // a model without a chat template: 400 that says so (and names no path)
  await assert.rejects(chatComplete(client, { messages, max_tokens: 2 }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.code, 'no_chat_template');
    assert.ok(!e.message.includes(TINY) && !e.message.includes(process.cwd()), `no absolute path: ${e.message}`);
    return true;
  });
});

test('/tokenize and /detokenize equal the tokenizer (root and /v1)', async () => {
  const root = plain.url.replace(/\/v1$/, '');
  const text = 'Lily and Ben went to the park.';
  for (const base of [root, plain.url]) {
    const t = (await (await post(`${base}/tokenize`, { prompt: text })).json()) as { tokens: number[]; count: number; max_model_len: number };
    assert.deepEqual(t.tokens, model.encode(text));
    assert.equal(t.count, t.tokens.length);
    assert.equal(t.max_model_len, model.maxLength);
  }
  const noSpecial = (await (await post(`${root}/tokenize`, { prompt: text, add_special_tokens: false })).json()) as { tokens: number[] };
  assert.deepEqual(noSpecial.tokens, model.encode(text, { addSpecialTokens: false }));
  const d = (await (await post(`${root}/detokenize`, { tokens: model.encode(text) })).json()) as { prompt: string };
  assert.equal(d.prompt, model.decode(model.encode(text), { skipSpecialTokens: false }));
  const chatTok = (await (await post(`${chat.url.replace(/\/v1$/, '')}/tokenize`, { messages: [{ role: 'user', content: 'Hi' }] })).json()) as { tokens: number[] };
  assert.deepEqual(chatTok.tokens, chatModel.encode(chatModel.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }), { addSpecialTokens: false }));
});

test('bad requests are OpenAI-style 400/404 errors with a message, and the server keeps serving', async () => {
  const isBad = (param: string | null, re?: RegExp) => (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.type, 'invalid_request_error');
    if (param) assert.equal(e.param, param);
    if (re) assert.match(e.message, re);
    return true;
  };
  const ids = model.encode('Hi');
  await assert.rejects(complete(client, { prompt: ids, max_tokens: 1, logprobs: model.vocabSize + 1 }), isBad('logprobs', /<= 2048/));
  await assert.rejects(complete(client, { prompt: 'Hi', max_tokens: '16' }), isBad('max_tokens', /integer/));
  await assert.rejects(complete(client, { prompt: '', max_tokens: 1 }), isBad('prompt', /empty/));
  await assert.rejects(complete(client, { prompt: [], max_tokens: 1 }), isBad('prompt', /empty/));
  await assert.rejects(complete(client, { prompt: [1, 5000], max_tokens: 1 }), isBad('prompt', /outside the vocabulary/));
  await assert.rejects(complete(client, { prompt: [1, 2.5], max_tokens: 1 }), isBad('prompt'));
  await assert.rejects(complete(client, { prompt: ['a', 1], max_tokens: 1 }), isBad('prompt', /mixes/));
  await assert.rejects(complete(client, { prompt: new Array(600).fill(5), max_tokens: 1 }), isBad('prompt', /maximum context length is 512/));
  await assert.rejects(complete(client, { prompt: new Array(511).fill(5), max_tokens: 3 }), isBad('prompt', /maximum context length/));
  await assert.rejects(complete(client, { prompt: 'Hi', max_tokens: 0 }), isBad('max_tokens', /echo/));
  await assert.rejects(complete(client, { prompt: 'Hi', temperature: -1 }), isBad('temperature'));
  await assert.rejects(complete(client, { prompt: 'Hi', top_p: 0 }), isBad('top_p'));
  await assert.rejects(complete(client, { prompt: 'Hi', frequency_penalty: 0.5 }), isBad('frequency_penalty'));
  await assert.rejects(complete(client, { prompt: 'Hi', stream: true }), isBad('stream', /streaming/));
  await assert.rejects(complete(client, { prompt: 'Hi', stop: [''] }), isBad('stop'));
  await assert.rejects(chatComplete(client, { messages: [] }), isBad('messages'));
  await assert.rejects(complete(client, { model: 'gpt-4o', prompt: 'Hi' }), (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  // a full-length prompt still gives its next-token distribution (what P(Yes) needs), as the engine does
  const longIds = Array.from({ length: model.maxLength }, (_, i) => 3 + (i % 200));
  const longDist = await model.nextTokenLogProbs(longIds);
  for (const k of [0, 4]) {
    const full = await complete(client, { prompt: longIds, max_tokens: 1, temperature: 0, logprobs: k, return_tokens_as_token_ids: true });
    assert.equal(full.usage!.completion_tokens, 1);
    const top = full.choices[0].logprobs!.top_logprobs![0]!;
    assert.equal(Object.keys(top).length, Math.max(1, k));
    for (const [key, v] of Object.entries(top)) close(v, longDist[Number(key.slice('token_id:'.length))], `full-length prompt, logprobs ${k}`);
  }

  // raw HTTP: invalid JSON, a JSON array, unknown route — all OpenAI error bodies
  type ErrBody = { error: { message: string; type: string } };
  const broken = await post(`${plain.url}/completions`, '{"prompt": ');
  assert.equal(broken.status, 400);
  assert.equal(((await broken.json()) as ErrBody).error.type, 'invalid_request_error');
  const arr = await post(`${plain.url}/completions`, [1, 2]);
  assert.equal(arr.status, 400);
  assert.match(((await arr.json()) as ErrBody).error.message, /JSON object/);
  const missing = await fetch(`${plain.url}/embeddings`, { method: 'POST' });
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as ErrBody).error.message, /no route POST \/v1\/embeddings/);
  assert.equal((await client.models.list()).data.length, 1, 'still serving');
});

/** A CausalLM that records how many engine calls overlap, and can be told to fail. */
function instrumented(m: CausalLM) {
  const stats = { active: 0, maxActive: 0, calls: 0, fail: false };
  const engine = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    stats.active++;
    stats.calls++;
    stats.maxActive = Math.max(stats.maxActive, stats.active);
    try {
      await new Promise((r) => setTimeout(r, 5)); // give other requests the chance to overlap
      if (stats.fail) throw new Error('simulated engine failure\nsecond line');
      return await f(...a);
    } finally {
      stats.active--;
    }
  };
  const lm: CausalLM = {
    ref: m.ref, engine: m.engine, vocabSize: m.vocabSize, bosTokenId: m.bosTokenId, eosTokenId: m.eosTokenId, eosTokenIds: m.eosTokenIds, maxLength: m.maxLength,
    encode: (t, o) => m.encode(t, o), decode: (i, o) => m.decode(i, o), applyChatTemplate: (x, o) => m.applyChatTemplate(x, o),
    nextTokenLogProbs: engine((ids: number[]) => m.nextTokenLogProbs(ids)),
    nextTokenLogProbsBatch: engine((b: number[][]) => m.nextTokenLogProbsBatch(b)),
    continuationLogProb: engine((p: number[], c: number[]) => m.continuationLogProb(p, c)),
    generate: engine((ids: number[], o: Parameters<CausalLM['generate']>[1]) => m.generate(ids, o)),
    dispose: () => undefined,
  };
  return { lm, stats };
}

test('engine calls are serialized; an engine failure is a 500 and the server keeps serving; no tensors leak', async () => {
  const { lm, stats } = instrumented(model);
  const server = await startOpenAiServer({ model: lm, modelName: 'wrapped' });
  try {
    const c = openai(server.url);
    const prompts = ['Once upon a time', 'The dog', 'Lily was', 'A big tree'];
    const served = await Promise.all(prompts.map((p) => complete(c, { prompt: p, max_tokens: 6, temperature: 0, logprobs: 2 })));
    assert.ok(stats.calls >= 8, `${stats.calls} engine calls`);
    assert.equal(stats.maxActive, 1, 'never two engine calls at once');
    for (let i = 0; i < prompts.length; i++) {
      assert.equal(served[i].choices[0].text, model.decode(await model.generate(model.encode(prompts[i]), { maxNewTokens: 6 })));
    }

    stats.fail = true;
    await assert.rejects(complete(c, { prompt: 'Hi', max_tokens: 2 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.InternalServerError);
      assert.equal(e.type, 'server_error');
      assert.match(e.message, /simulated engine failure$/, 'one line');
      return true;
    });
    stats.fail = false;
    assert.equal((await complete(c, { prompt: 'Hi', max_tokens: 2, temperature: 0 })).choices.length, 1, 'serving again');

    const start = tf.memory().numTensors;
    await complete(c, { prompt: 'The sun', max_tokens: 4, echo: true, logprobs: 2 });
    await complete(c, { prompt: [5, 6, 7], max_tokens: 0, echo: true, logprobs: 0 });
    assert.equal(tf.memory().numTensors, start, 'no tensors leak across requests');
  } finally {
    await server.close();
  }
});

test('ipo serve CLI: prints the URL, serves, stops on SIGTERM', async () => {
  const child = ipoSpawn('serve', '--model', TINY, '--port', '0', '--json', '--quiet');
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const info = await new Promise<{ url: string; model: string }>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    child.on('exit', () => reject(new Error(`ipo serve exited early: ${err}`)));
  });
  try {
    assert.equal(info.model, 'tinystories-656k', 'a folder is named by its basename, not its absolute path');
    const r = await complete(openai(info.url), { prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
    assert.equal(r.choices[0].text, model.decode(await model.generate(model.encode('Once upon a time'), { maxNewTokens: 5 })));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, err);
  assert.match(err, /SIGTERM, stopping/);
});
