/**
 * The sampler (lib/generate/sample.ts): seeded, order-independent, cached and resumable N-per-prompt sampling on the
 * real TinyStories-656K model, faithful vs fixed response extraction (quirk 15), the chat-template path, stop
 * strings, finish reasons and long prompts on a character-level fake model, and the samples.jsonl file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';

process.env.IPO_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ipo-sample-cache-'));
process.env.IPO_PROGRESS = '0';

import { loadTfModel } from '../lib/models/load.ts';
import { SMOLLM2_CHAT_TEMPLATE } from '../lib/models/chat-templates.ts';
import type { CausalLM, ChatMessage, GenerateOptions } from '../lib/models/types.ts';
import type { PromptItem } from '../lib/data/prompts.ts';
import { deriveSeed, formatSampleSummary, sampleResponses, type SampleRecord, type SampleResult } from '../lib/generate/sample.ts';
import { cutAtStopStrings, pyStrip, sliceCodePoints } from '../lib/generate/extract.ts';
import { readSamples, writeSamples } from '../lib/generate/samples-file.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ipo-sample-files-'));
const model = await loadTfModel('tinystories-656k');

const PROMPTS: PromptItem[] = [
  { id: 'a', instruction: 'Once upon a time', category: 'chat' },
  // TinyStories has no '+': both map to <unk>, dropped by skip_special_tokens, so the decoded prefix is 2 characters short
  { id: 'b', instruction: 'What is 2+3+4?' },
  { id: 'c', instruction: 'Tell me a story about a dog.' },
];
const OPTS = { n: 3, maxNewTokens: 12, temperature: 0.7, seed: 7 };

/** Records without the model field (a wrapper model has another fingerprint, same weights). */
const strip = (rs: SampleRecord[]) => rs.map(({ model: _m, ...r }) => r);

/** Delegates to `inner`; throws on generate call number `failAt` (1-based) and after. Fingerprinted by its folder. */
class Wrapped implements CausalLM {
  readonly engine = 'tf' as const;
  calls: { ids: number[]; opts: GenerateOptions }[] = [];
  constructor(readonly inner: CausalLM, readonly failAt = Infinity) {}
  get ref() { return this.inner.ref; }
  get vocabSize() { return this.inner.vocabSize; }
  get bosTokenId() { return this.inner.bosTokenId; }
  get eosTokenId() { return this.inner.eosTokenId; }
  get eosTokenIds() { return this.inner.eosTokenIds; }
  get maxLength() { return this.inner.maxLength; }
  encode(t: string, o?: { addSpecialTokens?: boolean }) { return this.inner.encode(t, o); }
  decode(ids: number[], o?: { skipSpecialTokens?: boolean }) { return this.inner.decode(ids, o); }
  applyChatTemplate(m: ChatMessage[], o?: { addGenerationPrompt?: boolean }) { return this.inner.applyChatTemplate(m, o); }
  nextTokenLogProbs(ids: number[]) { return this.inner.nextTokenLogProbs(ids); }
  nextTokenLogProbsBatch(b: number[][]) { return this.inner.nextTokenLogProbsBatch(b); }
  continuationLogProb(p: number[], c: number[]) { return this.inner.continuationLogProb(p, c); }
  async generate(ids: number[], opts: GenerateOptions) {
    this.calls.push({ ids: [...ids], opts: { ...opts } });
    if (this.calls.length >= this.failAt) throw new Error('boom: simulated crash');
    return this.inner.generate(ids, opts);
  }
  dispose() {}
}

let uncached: SampleResult;

test('TinyStories: deterministic for a seed, a different sample per index, seeds independent of order', async () => {
  const before = tf.memory().numTensors;
  uncached = await sampleResponses(model, PROMPTS, { ...OPTS, cache: false });
  const again = await sampleResponses(model, PROMPTS, { ...OPTS, cache: false });
  assert.deepEqual(again.records, uncached.records);
  assert.equal(uncached.records.length, 3);
  for (const r of uncached.records) {
    assert.equal(r.responses.length, 3);
    assert.deepEqual(r.responses.map((x) => x.index), [0, 1, 2]);
    const toks = new Set(r.responses.map((x) => JSON.stringify(x.tokens)));
    assert.equal(toks.size, 3, `prompt ${r.id}: the 3 samples must differ`);
    for (const x of r.responses) {
      assert.ok(x.tokens.length >= 1 && x.tokens.length <= 12);
      assert.equal(x.seed, deriveSeed(7, r.prompt, x.index));
      assert.equal(x.finishReason, x.tokens[x.tokens.length - 1] === model.eosTokenId ? 'eos' : 'length');
    }
  }
  // each response is exactly one plain generate call with its own seed: recomputed here outside the sampler
  const r0 = uncached.records[1];
  const ids = model.encode(PROMPTS[1].instruction);
  assert.equal(ids[0], model.bosTokenId, 'raw format adds BOS (ours.py tokenizes the instruction with special tokens)');
  for (const x of r0.responses) {
    assert.deepEqual(await model.generate(ids, { maxNewTokens: 12, temperature: 0.7, topP: 1, seed: x.seed }), x.tokens);
  }
  // order and company do not matter: prompt 'c' alone, and the prompts reversed, sample the same tokens
  const alone = await sampleResponses(model, [PROMPTS[2]], { ...OPTS, cache: false });
  assert.deepEqual(alone.records[0], uncached.records[2]);
  const reversed = await sampleResponses(model, [...PROMPTS].reverse(), { ...OPTS, cache: false });
  assert.deepEqual(reversed.records.map((r) => r.id), ['c', 'b', 'a']);
  assert.deepEqual([...reversed.records].reverse(), uncached.records);
  // another base seed gives other samples
  const other = await sampleResponses(model, PROMPTS, { ...OPTS, seed: 8, cache: false });
  assert.notDeepEqual(other.records.map((r) => r.responses.map((x) => x.tokens)), uncached.records.map((r) => r.responses.map((x) => x.tokens)));
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
});

test('TinyStories: second run fully cached and identical; options are part of the key', async () => {
  const first = await sampleResponses(model, PROMPTS, OPTS);
  assert.equal(first.cached, 0);
  assert.equal(first.computed, 9);
  assert.deepEqual(first.records, uncached.records);
  const second = await sampleResponses(model, PROMPTS, OPTS);
  assert.equal(second.cached, 9);
  assert.equal(second.computed, 0);
  assert.deepEqual(second.records, first.records);
  assert.equal(second.cacheFile, first.cacheFile);
  assert.equal(readFileSync(first.cacheFile, 'utf8').trim().split('\n').length, 9);
  // a changed generation option is a miss; a changed extraction option is not (texts are recomputed from the ids)
  const hotter = await sampleResponses(model, PROMPTS.slice(0, 1), { ...OPTS, temperature: 0.9 });
  assert.equal(hotter.cached, 0);
  const shorter = await sampleResponses(model, PROMPTS.slice(0, 1), { ...OPTS, maxNewTokens: 11 });
  assert.equal(shorter.cached, 0);
  const fixed = await sampleResponses(model, PROMPTS, { ...OPTS, extraction: 'fixed', stopStrings: ['zzz'] });
  assert.equal(fixed.cached, 9);
});

test('TinyStories: a run killed after 4 generations resumes and equals an uninterrupted run', async () => {
  const crashing = new Wrapped(model, 5);
  await assert.rejects(sampleResponses(crashing, PROMPTS, OPTS), /boom/);
  assert.equal(crashing.calls.length, 5);
  const resumed = new Wrapped(model);
  const r = await sampleResponses(resumed, PROMPTS, OPTS);
  assert.equal(r.cached, 4);
  assert.equal(r.computed, 5);
  assert.equal(resumed.calls.length, 5, 'only the missing generations run');
  assert.deepEqual(strip(r.records), strip(uncached.records));
  assert.notEqual(r.records[0].model.fingerprint, uncached.records[0].model.fingerprint);
});

test('TinyStories: faithful slice vs continuation decode; the prefix mismatch is counted', async () => {
  const faithful = uncached; // extraction defaults to faithful
  const fixed = await sampleResponses(model, PROMPTS, { ...OPTS, extraction: 'fixed', cache: false });
  assert.equal(faithful.records[0].options.extraction, 'faithful');
  assert.equal(faithful.records[0].options.promptFormat, 'raw');
  assert.deepEqual(faithful.prefixMismatch, { responses: 3, prompts: 1 });
  assert.deepEqual(fixed.prefixMismatch, { responses: 3, prompts: 1 }, 'the check does not depend on the extraction');
  for (let p = 0; p < 3; p++) {
    for (let k = 0; k < 3; k++) {
      const a = faithful.records[p].responses[k];
      const b = fixed.records[p].responses[k];
      assert.deepEqual(a.tokens, b.tokens);
      // the continuation as the tokenizer decodes it on its own, Python-stripped
      assert.equal(b.text, model.decode(b.tokens).trim());
      if (p === 1) {
        // "What is 2+3+4?" decodes as "What is 234?": slicing 14 characters eats 2 of the 13 that follow the
        // 12-character prefix, i.e. the separating space and the response's first character
        assert.equal(a.promptEchoed, false);
        assert.equal(model.decode([...model.encode(PROMPTS[1].instruction), ...a.tokens]).slice(0, 12), 'What is 234?');
        assert.ok(b.text.length > a.text.length && b.text.endsWith(a.text), `${JSON.stringify(a.text)} vs ${JSON.stringify(b.text)}`);
      } else {
        assert.equal(a.promptEchoed, true);
        assert.equal(a.text, b.text);
      }
    }
  }
  assert.match(formatSampleSummary(faithful), /decoded prefix ≠ prompt text in 3 of 9 responses \(1 prompts\): the faithful slice may cut/);
});

test('TinyStories with the SmolLM2 chat template: the rendered template is fed without BOS', async () => {
  const chatModel = await loadTfModel('tinystories-656k', { chatTemplate: SMOLLM2_CHAT_TEMPLATE });
  const w = new Wrapped(chatModel);
  const r = await sampleResponses(w, [{ id: 'h', instruction: 'Hello' }], { mode: 'fixed', n: 2, maxNewTokens: 8, cache: false });
  const expected = '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n';
  assert.equal(r.records[0].prompt, expected);
  assert.equal(r.records[0].options.promptFormat, 'chat');
  assert.equal(r.records[0].options.extraction, 'fixed');
  assert.deepEqual(w.calls[0].ids, chatModel.encode(expected, { addSpecialTokens: false }));
  assert.notEqual(w.calls[0].ids[0], chatModel.bosTokenId);
  assert.equal(r.records[0].responses.length, 2);
  chatModel.dispose();
  // a model without a template: one line
  await assert.rejects(sampleResponses(model, PROMPTS, { mode: 'fixed', cache: false }), (e: Error) => /no chat template/.test(e.message) && !e.message.includes('\n'));
});

// ---------------------------------------------------------------------------------------------------------------
// a character-level fake model: exact control over what is generated

const BOS = 1;
const EOS = 2;
const OFFSET = 3;

class CharModel implements CausalLM {
  readonly engine = 'onnx' as const;
  readonly vocabSize = 0x110000 + OFFSET;
  readonly bosTokenId = BOS;
  readonly eosTokenId = EOS;
  readonly eosTokenIds = [EOS];
  calls: { ids: number[]; opts: GenerateOptions }[] = [];
  templateCalls: ChatMessage[][] = [];
  static n = 0;
  readonly ref = `fake-char-model-${process.pid}-${CharModel.n++}`;
  /** `reply(promptText, opts)` = the continuation ids. */
  constructor(readonly reply: (prompt: string, opts: GenerateOptions) => number[], readonly maxLength = 10_000) {}
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const ids = Array.from(text, (c) => c.codePointAt(0)! + OFFSET);
    return opts.addSpecialTokens === false ? ids : [BOS, ...ids];
  }
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    return ids.map((id) => (id < OFFSET ? (skip ? '' : ['<unk>', '<s>', '</s>'][id]) : String.fromCodePoint(id - OFFSET))).join('');
  }
  applyChatTemplate(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean } = {}): string {
    this.templateCalls.push(messages);
    return messages.map((m) => `<${m.role}>${m.content}</${m.role}>`).join('') + (opts.addGenerationPrompt ? '<assistant>' : '');
  }
  async nextTokenLogProbs(): Promise<Float32Array> { throw new Error('not used'); }
  async nextTokenLogProbsBatch(): Promise<Float32Array[]> { throw new Error('not used'); }
  async continuationLogProb(): Promise<{ total: number; perToken: number[] }> { throw new Error('not used'); }
  async generate(ids: number[], opts: GenerateOptions): Promise<number[]> {
    this.calls.push({ ids: [...ids], opts: { ...opts } });
    return this.reply(this.decode(ids), opts).slice(0, opts.maxNewTokens);
  }
  dispose(): void {}
}
const txt = (s: string) => Array.from(s, (c) => c.codePointAt(0)! + OFFSET);

test('fake: stop strings cut at the earliest one; finish reasons eos / length / max-length', async () => {
  const m = new CharModel((p) => {
    if (p.startsWith('eos')) return [...txt(' hello<|eot_id|> world###'), EOS];
    if (p.startsWith('len')) return txt('x'.repeat(50));
    return txt('short'); // ended early without EOS: the model ran out of context
  });
  const r = await sampleResponses(m, [{ id: '1', instruction: 'eos?' }, { id: '2', instruction: 'len?' }, { id: '3', instruction: 'max?' }], {
    n: 1, maxNewTokens: 30, stopStrings: ['###', '<|eot_id|>'], cache: false,
  });
  const [a, b, c] = r.records.map((x) => x.responses[0]);
  assert.equal(a.text, 'hello');
  assert.equal(a.stoppedAt, '<|eot_id|>');
  assert.equal(a.finishReason, 'eos');
  assert.equal(a.tokens[a.tokens.length - 1], EOS);
  assert.equal(b.finishReason, 'length');
  assert.equal(b.tokens.length, 30);
  assert.equal(b.stoppedAt, undefined);
  assert.equal(c.finishReason, 'max-length');
  assert.equal(c.text, 'short');
  assert.deepEqual(r.finish, { eos: 1, length: 1, 'max-length': 1 });
  // the options reach generate as given; stop ids default to the model's EOS
  assert.deepEqual(m.calls[0].opts, { maxNewTokens: 30, temperature: 0.7, topP: 1, stopTokenIds: [EOS], seed: a.seed });
  const custom = await sampleResponses(m, [{ id: '1', instruction: 'eos?' }], { n: 1, stopTokenIds: [5, 6], topP: 0.9, maxNewTokens: 3, cache: false });
  assert.deepEqual(m.calls[m.calls.length - 1].opts.stopTokenIds, [5, 6]);
  assert.equal(m.calls[m.calls.length - 1].opts.topP, 0.9);
  assert.equal(custom.records[0].responses[0].finishReason, 'length');
});

test('fake: faithful slice uses code points of the prompt text; fixed decodes the continuation only', async () => {
  // the fake tokenizer round-trips, so both agree, including astral characters (Python len counts code points)
  const m = new CharModel(() => [...txt('  réponse 😀 ok \u0085'), EOS]);
  const items = [{ id: 'e', instruction: 'Say 😀😀 please' }];
  const f = await sampleResponses(m, items, { n: 1, cache: false });
  const x = await sampleResponses(m, items, { n: 1, extraction: 'fixed', cache: false });
  assert.equal(f.records[0].responses[0].text, 'réponse 😀 ok');
  assert.equal(x.records[0].responses[0].text, 'réponse 😀 ok');
  assert.equal(f.records[0].responses[0].promptEchoed, true);
  // a tokenizer that loses a prompt character: the faithful slice eats into the response, the fixed one does not
  const lossy = new CharModel(() => [...txt('ABCDEF'), EOS]);
  lossy.decode = (ids, o) => CharModel.prototype.decode.call(lossy, ids, o).replace(/\$/g, '');
  const lf = await sampleResponses(lossy, [{ id: 'l', instruction: 'cost $5$' }], { n: 1, cache: false });
  const lx = await sampleResponses(lossy, [{ id: 'l', instruction: 'cost $5$' }], { n: 1, extraction: 'fixed', cache: false });
  assert.equal(lf.records[0].responses[0].text, 'CDEF');
  assert.equal(lx.records[0].responses[0].text, 'ABCDEF');
  assert.equal(lf.prefixMismatch.responses, 1);
});

test('fake: long prompts are left-truncated keeping BOS, or skipped; counted, never a crash', async () => {
  const m = new CharModel(() => [...txt('ok'), EOS], 40);
  const long = { id: 'long', instruction: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN' }; // 50 chars + BOS = 51 ids
  const items = [long, { id: 'fine', instruction: 'hi' }];
  const t = await sampleResponses(m, items, { n: 2, maxNewTokens: 10, cache: false });
  assert.equal(t.truncated, 1);
  assert.equal(t.records.length, 2);
  const fed = m.calls[0].ids;
  assert.equal(fed.length, 30);
  assert.equal(fed[0], BOS);
  assert.deepEqual(fed.slice(1), txt(long.instruction.slice(-29)));
  assert.equal(t.records[0].truncatedTokens, 21);
  assert.equal(t.records[0].promptTokens, 30);
  assert.equal(t.records[0].responses[0].promptEchoed, false, 'the decoded text no longer starts with the instruction');
  assert.equal(t.records[1].truncatedTokens, undefined);
  const s = await sampleResponses(m, items, { n: 2, maxNewTokens: 10, tooLong: 'skip', cache: false });
  assert.equal(s.records.length, 1);
  assert.equal(s.skipped.tooLong, 1);
  assert.equal(s.skipped.examples[0].id, 'long');
  assert.match(s.skipped.examples[0].reason, /51 prompt tokens \+ 10 new tokens exceed the model's maximum length 40/);
  assert.match(formatSampleSummary(s), /1 prompts skipped \(1 too long/);
  await assert.rejects(sampleResponses(m, items, { maxNewTokens: 40 }), /max new tokens 40 leaves no room for a prompt/);
});

test('fake: chat format renders the conversation; raw format feeds the instruction and counts dropped context', async () => {
  const m = new CharModel(() => [...txt('sure'), EOS]);
  const convo: PromptItem = { id: 'c', instruction: 'and now?', messages: [{ role: 'system', content: 'be nice' }, { role: 'user', content: 'and now?' }] };
  const chat = await sampleResponses(m, [convo, { id: 'p', instruction: 'plain' }], { promptFormat: 'chat', n: 1, cache: false });
  assert.equal(chat.records[0].prompt, '<system>be nice</system><user>and now?</user><assistant>');
  assert.deepEqual(m.templateCalls[1], [{ role: 'user', content: 'plain' }]);
  assert.deepEqual(m.calls[0].ids, txt('<system>be nice</system><user>and now?</user><assistant>'), 'no BOS added to a rendered template');
  assert.equal(chat.records[0].responses[0].text, 'sure');
  assert.equal(chat.contextDropped, 0);
  const raw = await sampleResponses(m, [convo], { n: 1, cache: false });
  assert.equal(raw.records[0].prompt, 'and now?');
  assert.equal(raw.contextDropped, 1);
});

test('fake: invalid and empty prompts are counted; bad options are one-line errors', async () => {
  const m = new CharModel(() => [EOS]);
  const bad = [
    { id: 'ok', instruction: 'fine' },
    { id: 'blank', instruction: '   ' },
    { id: 'num', instruction: 5 as unknown as string },
    { id: 'ok', instruction: 'again' },
  ];
  const r = await sampleResponses(m, bad, { n: 2, cache: false });
  assert.equal(r.records.length, 1);
  assert.deepEqual({ tooLong: r.skipped.tooLong, empty: r.skipped.empty, invalid: r.skipped.invalid }, { tooLong: 0, empty: 1, invalid: 2 });
  assert.deepEqual(r.skipped.examples.map((e) => e.id), ['blank', 'num', 'ok']);
  assert.equal(r.records[0].responses[0].text, '');
  for (const [opts, re] of [
    [{ n: 0 }, /n must be a whole number >= 1, got 0/],
    [{ temperature: -1 }, /temperature must be >= 0/],
    [{ topP: 0 }, /top-p must be in \(0, 1\]/],
    [{ maxNewTokens: 2.5 }, /max new tokens must be a whole number/],
    [{ promptFormat: 'jinja' }, /promptFormat must be 'raw' or 'chat'/],
    [{ stopStrings: [''] }, /stopStrings must be a list of non-empty strings/],
    [{ tooLong: 'cut' }, /tooLong must be 'truncate-left' or 'skip'/],
  ] as const) {
    await assert.rejects(sampleResponses(m, bad, opts as never), (e: Error) => re.test(e.message) && !e.message.includes('\n'));
  }
});

test('extract helpers: Python strip and slicing semantics', () => {
  assert.equal(pyStrip('\u0085\u001c x \u3000'), 'x');
  assert.equal(pyStrip('\ufeffx\ufeff'), '\ufeffx\ufeff', 'U+FEFF is not whitespace in Python');
  assert.equal(sliceCodePoints('😀ab', 1), 'ab');
  assert.equal(sliceCodePoints('ab', 5), '');
  assert.deepEqual(cutAtStopStrings('a STOP b END', ['END', 'STOP']), { text: 'a', stoppedAt: 'STOP' });
  assert.deepEqual(cutAtStopStrings('abc', ['x']), { text: 'abc' });
});

test('samples.jsonl: write and read back; bad lines counted with line numbers', () => {
  const file = join(tmp, 'samples.jsonl');
  writeSamples(file, uncached.records);
  const back = readSamples(file);
  assert.deepEqual(back.records, JSON.parse(JSON.stringify(uncached.records)));
  assert.equal(back.total, 3);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const broken = [lines[0], '{"id": "x"', JSON.stringify({ ...JSON.parse(lines[1]), responses: [{ text: 1 }] }), lines[0], lines[2]];
  writeFileSync(file, `${broken.join('\n')}\n`);
  const r = readSamples(file);
  assert.deepEqual(r.records.map((x) => x.id), ['a', 'c']);
  assert.deepEqual(r.skipped, { invalidJson: 1, invalidRecord: 1, duplicateId: 1 });
  assert.deepEqual(r.examples.map((e) => e.line), [2, 3, 4]);
  assert.match(r.examples[1].reason, /responses\[0\]\.text must be a string/);
  writeFileSync(file, 'nope\n');
  assert.throws(() => readSamples(file), (e: Error) => /samples file samples\.jsonl: no usable records in 1 lines/.test(e.message) && !e.message.includes('\n'));
  assert.throws(() => readSamples(join(tmp, 'missing.jsonl')), /samples file not found: missing\.jsonl/);
});
