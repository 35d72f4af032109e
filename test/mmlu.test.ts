/**
 * Tests of lib/data/mmlu.ts (the MMLU zip loader), lib/data/alpaca-eval.ts and lib/eval/policy-mmlu.ts (MMLU
 * scoring by log-likelihood and the official free-form mode).
 *
 * References nobody here wrote: CPython's `zipfile` + `csv` modules read the same zip (every row compared through a
 * sha256 of its JSON), hendrycks/test `evaluate.py` (commit 0f23bce3) for the prompt, which is written out again here
 * by hand, and `DPO/Evals/sample_mmlu.py` (shivank21/Implicit_Preference_Optimization@44662860) for the free-form
 * prompt. Scoring logic is checked on FAKE CausalLMs whose log-probs are known, and smoke-tested on TinyStories-656K.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, GenerateOptions } from '../lib/models/types.ts';
import { loadModel } from '../lib/models/load.ts';
import { findAsset } from '../lib/util/paths.ts';
import { parseCsv } from '../lib/data/rows.ts';
import { loadMmlu, mmluSubjects, parseMmluCsv, sampleMmlu, formatMmluSubject, MMLU_EXPECTED_ROWS, type MmluQuestion } from '../lib/data/mmlu.ts';
import { loadAlpacaEval, ALPACA_EVAL_SIZE } from '../lib/data/alpaca-eval.ts';
import { evaluateMmlu, mmluPrompt, mmluFreeFormPrompt, parseMmluChoice, mmluOptionLogProbs, MMLU_FAITHFUL_NOTE } from '../lib/eval/policy-mmlu.ts';

process.env.IPO_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ipo-mmlu-cache-'));
process.env.IPO_PROGRESS = '0';

const oneLine = (re: RegExp) => (e: unknown) => e instanceof Error && !/[\r\n]/.test(e.message) && re.test(e.message);

// ---------------------------------------------------------------------------------------------------------------
// loader

test('the kit CSV reader handles RFC-4180 quoting as MMLU uses it', () => {
  const text = 'plain q,1,2,3,4,A\r\n"q, with comma","say ""hi""","multi\nline",x,,D\n"last",a,b,c,d,B';
  assert.deepEqual(parseCsv(text), [
    ['plain q', '1', '2', '3', '4', 'A'],
    ['q, with comma', 'say "hi"', 'multi\nline', 'x', '', 'D'],
    ['last', 'a', 'b', 'c', 'd', 'B'],
  ]);
  const malformed = { count: 0, examples: [] as { index: number; reason: string }[] };
  const qs = parseMmluCsv(`${text}\nshort,row\nq,a,b,c,d,E\n`, 'toy', 'dev', malformed);
  assert.equal(qs.length, 3);
  assert.deepEqual(qs[1], { id: 'toy/dev/1', subject: 'toy', split: 'dev', question: 'q, with comma', choices: ['say "hi"', 'multi\nline', 'x', ''], answer: 3 });
  assert.equal(malformed.count, 2);
  assert.match(malformed.examples[0].reason, /2 fields, expected 6/);
  assert.match(malformed.examples[1].reason, /"E" is not A-D/);
});

test('loadMmlu reads every row exactly as CPython zipfile + csv do', () => {
  const zip = findAsset('mmlu/mmlu.zip');
  const py = `
import zipfile, csv, io, json, hashlib, sys
z = zipfile.ZipFile(sys.argv[1]); out = {}
for split in ["dev", "val", "test"]:
    rows = []
    for n in sorted(z.namelist()):
        if n.startswith(f"data/{split}/") and n.endswith(f"_{split}.csv"):
            subject = n[len(f"data/{split}/"):-len(f"_{split}.csv")]
            for r in csv.reader(io.StringIO(z.read(n).decode("utf-8"))):
                rows.append([subject] + r)
    rows.sort(key=lambda r: r[0])
    out[split] = {"n": len(rows), "sha": hashlib.sha256(json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()}
print(json.dumps(out))`;
  const ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, zip], { encoding: 'utf8' })) as Record<string, { n: number; sha: string }>;
  for (const split of ['dev', 'val', 'test'] as const) {
    const d = loadMmlu({ split });
    assert.equal(d.malformed.count, 0);
    assert.equal(d.questions.length, MMLU_EXPECTED_ROWS[split]);
    assert.equal(ref[split].n, MMLU_EXPECTED_ROWS[split]);
    assert.equal(d.subjects.length, 57);
    const rows = d.questions.map((q) => [q.subject, q.question, ...q.choices, 'ABCD'[q.answer]]);
    const sha = createHash('sha256').update(JSON.stringify(rows)).digest('hex');
    assert.equal(sha, ref[split].sha, `${split} rows differ from CPython's csv module`);
  }
  assert.equal(loadMmlu().source, '../shared/assets/mmlu/mmlu.zip');
});

test('subject slices are seeded, per subject, in file order; errors are one line', () => {
  const a = loadMmlu({ subjects: ['virology', 'anatomy'], limitPerSubject: 3, seed: 7 });
  const b = loadMmlu({ subjects: ['anatomy', 'virology'], limitPerSubject: 3, seed: 7 });
  const c = loadMmlu({ subjects: ['anatomy', 'virology'], limitPerSubject: 3, seed: 8 });
  assert.deepEqual(a.questions.map((q) => q.id), b.questions.map((q) => q.id));
  assert.notDeepEqual(a.questions.map((q) => q.id), c.questions.map((q) => q.id));
  assert.deepEqual(a.subjects, ['anatomy', 'virology']);
  for (const s of a.subjects) {
    const idx = a.questions.filter((q) => q.subject === s).map((q) => Number(q.id.split('/')[2]));
    assert.equal(idx.length, 3);
    assert.deepEqual(idx, [...idx].sort((x, y) => x - y));
  }
  assert.equal(a.totalRows, 135 + 166); // anatomy + virology test rows
  assert.equal(mmluSubjects().length, 57);
  assert.equal(formatMmluSubject('high_school_us_history'), ' high school us history');
  assert.throws(() => loadMmlu({ subjects: ['astrology'] }), oneLine(/unknown MMLU subject.*astrology/));
  assert.throws(() => loadMmlu({ path: join(tmpdir(), 'no-such-mmlu.zip') }), oneLine(/MMLU zip no-such-mmlu\.zip not found/));
  assert.throws(() => loadMmlu({ limitPerSubject: -1 }), oneLine(/limitPerSubject/));
});

test('sampleMmlu: the 500-question shape of create_subset.py, seeded', () => {
  const pool = loadMmlu().questions;
  const s = sampleMmlu(pool);
  assert.equal(s.length, 500);
  assert.equal(new Set(s.map((q) => q.id)).size, 500);
  assert.deepEqual(sampleMmlu(pool, 500, 42).map((q) => q.id), s.map((q) => q.id));
  assert.notDeepEqual(sampleMmlu(pool, 500, 43).map((q) => q.id), s.map((q) => q.id));
  assert.ok(new Set(s.map((q) => q.subject)).size > 40, 'pooled over subjects');
  assert.throws(() => sampleMmlu([1, 2, 3], 4), oneLine(/exceeds dataset size \(3\)/));
  // uniform without replacement: each of 10 items appears in a 3-of-10 draw with probability 0.3
  const counts = new Array(10).fill(0);
  for (let seed = 0; seed < 2000; seed++) for (const x of sampleMmlu([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 3, seed)) counts[x]++;
  for (const c of counts) assert.ok(Math.abs(c / 2000 - 0.3) < 0.045, `inclusion rate ${c / 2000}`);
});

test('loadAlpacaEval: 805 instructions joined to the GPT-4-Turbo references, seeded slices', () => {
  const all = loadAlpacaEval();
  assert.equal(all.items.length, ALPACA_EVAL_SIZE);
  assert.equal(all.missingReference, 0);
  assert.equal(all.malformed.count, 0);
  assert.equal(all.items[0].instruction, 'What are the names of some famous actors that started their careers on Broadway?');
  assert.equal(all.items[0].dataset, 'helpful_base');
  assert.ok(all.items.every((x) => typeof x.reference === 'string' && x.reference.length > 0));
  assert.deepEqual(all.sources, ['../shared/assets/alpaca-eval/eval_set_805_example_outputs.json', '../shared/assets/alpaca-eval/gpt4_1106_preview_model_outputs.json']);
  const a = loadAlpacaEval({ limit: 4, seed: 1 });
  assert.deepEqual(a.items.map((x) => x.id), loadAlpacaEval({ limit: 4, seed: 1 }).items.map((x) => x.id));
  assert.notDeepEqual(a.items.map((x) => x.id), loadAlpacaEval({ limit: 4, seed: 2 }).items.map((x) => x.id));
  assert.deepEqual(a.items.map((x) => x.id), [...a.items.map((x) => x.id)].sort((x, y) => x - y));
  const v = loadAlpacaEval({ datasets: ['vicuna'], withReference: false });
  assert.equal(v.items.length, 80);
  assert.ok(v.items.every((x) => x.reference === undefined));
  assert.throws(() => loadAlpacaEval({ datasets: ['nope'] }), oneLine(/unknown dataset/));
});

// ---------------------------------------------------------------------------------------------------------------
// prompts and parsing

const Q: MmluQuestion = { id: 'abstract_algebra/test/0', subject: 'abstract_algebra', split: 'test', question: 'Find 1+1.', choices: ['0', '1', '2', '3'], answer: 2 };
const SHOT: MmluQuestion = { id: 'abstract_algebra/dev/0', subject: 'abstract_algebra', split: 'dev', question: 'Find 2+2.', choices: ['4', '5', '6', '7'], answer: 0 };

test('mmluPrompt is hendrycks gen_prompt + format_example, verbatim', () => {
  // "about" + " abstract algebra" (format_subject's leading space) → two spaces
  assert.equal(mmluPrompt(Q), 'The following are multiple choice questions (with answers) about  abstract algebra.\n\nFind 1+1.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer:');
  assert.equal(
    mmluPrompt(Q, [SHOT]),
    'The following are multiple choice questions (with answers) about  abstract algebra.\n\nFind 2+2.\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer: A\n\nFind 1+1.\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer:',
  );
});

test('mmluFreeFormPrompt is sample_mmlu.py format_instruction wrapped in [INST]', () => {
  assert.equal(
    mmluFreeFormPrompt(Q),
    '[INST] Answer the following multiple-choice question correctly\n### Question: Find 1+1.\nChoices:\n1. 0\n2. 1\n3. 2\n4. 3\n### Instruction: Choose the correct answer from the given options. [/INST]',
  );
});

test('parseMmluChoice: documented rules, first match wins', () => {
  const ch = ['Paris', 'London', 'Berlin', 'Rome'];
  const cases: [string, number | null, string | null][] = [
    ['2', 1, 'leading-number'],
    ['3. Berlin', 2, 'leading-number'],
    ['(4) Rome is the capital', 3, 'leading-number'],
    ['**1)** Paris', 0, 'leading-number'],
    ['2.5 meters is wrong', null, null],
    ['B. London', 1, 'leading-letter'],
    ['D', 3, 'leading-letter'],
    ['The correct answer is 3.', 2, 'answer-phrase'],
    ['I think Answer: (1)', 0, 'answer-phrase'],
    ['It must be option 4', 3, 'answer-phrase'],
    ['The capital is london, of course.', 1, 'choice-text'],
    ['Either Paris or Rome.', null, null],
    ['Once upon a time there was a cat.', null, null],
    ['', null, null],
  ];
  for (const [text, choice, rule] of cases) assert.deepEqual(parseMmluChoice(text, ch), { choice, rule }, text);
  // a choice that is a substring of a word does not count
  assert.deepEqual(parseMmluChoice('Parisian food', ch), { choice: null, rule: null });
});

// ---------------------------------------------------------------------------------------------------------------
// fake models: character tokenizer (id = code point + 3, BOS 1, EOS 2). The next-token logits favour the letter named
// after "favour:" in the context (logit 3, every other id 0), so the log-likelihood scorer's answer is known.

const VOCAB = 200;
function charModel(opts: { multiToken?: boolean; bos?: boolean; onGenerate?: (ids: number[], o: GenerateOptions) => number[] } = {}): CausalLM & { calls: { next: number; cont: number } } {
  const bos = opts.bos ?? true;
  // multiToken: every letter A-D is written as two ids, [code, 199], so " A" is several ids
  const enc = (text: string) => [...text].flatMap((c) => (opts.multiToken && /[A-D]/.test(c) ? [c.codePointAt(0)! + 3, 199] : [c.codePointAt(0)! + 3]));
  const dec = (ids: number[]) => ids.filter((i) => i > 2 && i < 199).map((i) => String.fromCodePoint(i - 3)).join('');
  const logits = (ctx: number[]): Float32Array => {
    const text = dec(ctx);
    const m = /favour:([A-D])/.exec(text);
    const l = new Float32Array(VOCAB);
    if (m) l[m[1].codePointAt(0)! + 3] = 3;
    let mx = -Infinity;
    for (const v of l) mx = Math.max(mx, v);
    let s = 0;
    for (const v of l) s += Math.exp(v - mx);
    const lse = mx + Math.log(s);
    return l.map((v) => v - lse);
  };
  const calls = { next: 0, cont: 0 };
  return {
    ref: `fake-char-${opts.multiToken ? 'multi' : 'single'}`, engine: 'tf', vocabSize: VOCAB, bosTokenId: bos ? 1 : null, eosTokenId: 2, eosTokenIds: [2], maxLength: 100000,
    calls,
    encode: (t, o) => [...(bos && o?.addSpecialTokens !== false ? [1] : []), ...enc(t)],
    decode: (ids) => dec(ids),
    applyChatTemplate: () => { throw new Error('no chat template'); },
    nextTokenLogProbs: async (ids) => { calls.next++; return logits(ids); },
    nextTokenLogProbsBatch: async (b) => b.map(logits),
    continuationLogProb: async (prefix, cont) => {
      calls.cont++;
      const per: number[] = [];
      const ctx = [...prefix];
      for (const id of cont) { per.push(logits(ctx)[id]); ctx.push(id); }
      return { total: per.reduce((a, b) => a + b, 0), perToken: per };
    },
    generate: async (ids, o) => (opts.onGenerate ? opts.onGenerate(ids, o) : [2]),
    dispose: () => {},
  };
}

const mkQ = (subject: string, i: number, favour: string, answer: 0 | 1 | 2 | 3): MmluQuestion => ({
  id: `${subject}/test/${i}`, subject, split: 'test', question: `Q${i} favour:${favour}`, choices: ['w', 'x', 'y', 'z'], answer,
});

test('log-likelihood scorer: argmax of log P(" X" | prompt), accuracy per subject and overall (fake model)', async () => {
  // favoured letter = prediction; answers chosen so that: s1 2/3 correct, s2 1/2 correct → overall 3/5, macro (2/3+1/2)/2
  const qs = [mkQ('s1', 0, 'A', 0), mkQ('s1', 1, 'C', 2), mkQ('s1', 2, 'B', 3), mkQ('s2', 0, 'D', 3), mkQ('s2', 1, 'A', 1)];
  for (const multiToken of [false, true]) {
    const m = charModel({ multiToken });
    const r = await evaluateMmlu(m, qs, { cache: false, bootstrap: { iterations: 200 } });
    assert.equal(r.mode, 'loglik');
    assert.deepEqual(r.questions.map((q) => q.prediction), [0, 2, 1, 3, 0]);
    assert.equal(r.correct, 3);
    assert.equal(r.accuracy, 3 / 5);
    assert.equal(r.subjects.s1.accuracy, 2 / 3);
    assert.equal(r.subjects.s2.accuracy, 1 / 2);
    assert.ok(Math.abs(r.macroAccuracy - (2 / 3 + 1 / 2) / 2) < 1e-12);
    assert.equal(r.ci.n, 5);
    assert.ok(r.ci.lo <= r.accuracy && r.accuracy <= r.ci.hi);
    // the favoured option: log softmax with one logit 3 and VOCAB-1 logits 0
    const lseTop = Math.log(Math.exp(3) + (VOCAB - 1));
    const lp = r.questions[0].logProbs;
    if (!multiToken) {
      assert.ok(Math.abs(lp[0] - (3 - lseTop)) < 1e-5);
      assert.ok(Math.abs(lp[1] - (0 - lseTop)) < 1e-5);
      assert.equal(m.calls.cont, 0, 'single-id options use one nextTokenLogProbs call');
    } else {
      // " A" = [A, 199]: the second id has logit 0 under a context without "favour" change → −lse again
      assert.ok(Math.abs(lp[0] - (3 - lseTop - lseTop)) < 1e-4);
      assert.ok(m.calls.cont >= 4 * qs.length, 'multi-id options are teacher-forced');
    }
  }
});

test('ties go to the first option (np.argmax); shots come from the dev set', async () => {
  const m = charModel();
  const q = { ...mkQ('s', 0, 'none', 1) };
  const r = await evaluateMmlu(m, [q], { cache: false });
  assert.equal(r.questions[0].prediction, 0);
  assert.equal(r.questions[0].correct, false);
  const dev = [{ ...SHOT, subject: 's' }, { ...SHOT, subject: 's', id: 's/dev/1', question: 'favour:D' }];
  const r2 = await evaluateMmlu(m, [q], { cache: false, shots: 2, dev });
  assert.equal(r2.questions[0].shots, 2);
  assert.equal(r2.questions[0].prediction, 3, 'the shot text is in the prompt');
  const o = await mmluOptionLogProbs(m, mmluPrompt(q, dev));
  assert.deepEqual(o.logProbs, r2.questions[0].logProbs);
});

test('faithful mode: official prompt, T 0.7, 100 tokens, reseeded with 42 for every question; raw generations kept', async () => {
  const seen: { text: string; o: GenerateOptions }[] = [];
  const answers = ['3', 'Answer: 1', 'no idea'];
  const m = charModel({
    onGenerate: (ids, o) => {
      seen.push({ text: m.decode(ids), o });
      return [...m.encode(answers[seen.length - 1], { addSpecialTokens: false }), 2];
    },
  });
  const qs = [mkQ('s1', 0, 'x', 2), mkQ('s1', 1, 'x', 1), mkQ('s2', 2, 'x', 0)];
  const r = await evaluateMmlu(m, qs, { mode: 'faithful', cache: false });
  assert.equal(seen.length, 3);
  for (const s of seen) {
    assert.equal(s.o.temperature, 0.7);
    assert.equal(s.o.maxNewTokens, 100);
    assert.equal(s.o.seed, 42);
  }
  assert.equal(seen[0].text, mmluFreeFormPrompt(qs[0]));
  assert.deepEqual(r.questions.map((q) => q.response), answers);
  assert.deepEqual(r.questions.map((q) => q.prediction), [2, 0, null]);
  assert.deepEqual(r.questions.map((q) => q.correct), [true, false, false]);
  assert.equal(r.parsed, 2);
  assert.equal(r.unparsed, 1);
  assert.equal(r.accuracy, 1 / 3);
  assert.equal(r.accuracyParsed, 1 / 2);
  assert.deepEqual(r.rules, { 'leading-number': 1, 'leading-letter': 0, 'answer-phrase': 1, 'choice-text': 0 });
  assert.equal(r.note, MMLU_FAITHFUL_NOTE);
  assert.match(r.note, /no scorer/);
});

test('bad questions are one-line errors', async () => {
  const m = charModel();
  await assert.rejects(evaluateMmlu(m, [{ ...Q, answer: 4 as 0 }]), oneLine(/answer must be 0-3/));
  await assert.rejects(evaluateMmlu(m, [{ ...Q, choices: ['a'] as unknown as MmluQuestion['choices'] }]), oneLine(/choices\[4\]/));
  await assert.rejects(evaluateMmlu(m, [Q], { mode: 'x' as 'loglik' }), oneLine(/mode must be/));
});

// ---------------------------------------------------------------------------------------------------------------
// TinyStories-656K smoke

test('TinyStories-656K: both modes on 3 questions; log-probs match an independent teacher-forced computation; no tensor leak', async () => {
  const model = await loadModel('tinystories-656k');
  try {
    const qs = loadMmlu({ subjects: ['anatomy'], limitPerSubject: 3, seed: 1 }).questions;
    const before = tf.memory().numTensors;
    const r = await evaluateMmlu(model, qs, { bootstrap: { iterations: 100 } });
    assert.equal(r.n, 3);
    for (const q of r.questions) {
      assert.equal(q.logProbs.length, 4);
      assert.ok(q.logProbs.every((x) => Number.isFinite(x) && x < 0));
      assert.equal(q.prediction, q.logProbs.indexOf(Math.max(...q.logProbs)));
    }
    // independent: log P(prompt + " B") − log P(c), c = the ids the four "prompt + ' X'" encodings share, from
    // whole-sequence teacher forcing (the normaliser P(c) is the same for the four options)
    const prompt = mmluPrompt(qs[0]);
    const encs = ['A', 'B', 'C', 'D'].map((l) => model.encode(`${prompt} ${l}`));
    const full = encs[1];
    let c = 0;
    while (encs.every((e) => e[c] === full[c])) c++;
    const lpFull = (await model.continuationLogProb(full.slice(0, 1), full.slice(1))).total;
    const lpPrefix = c > 1 ? (await model.continuationLogProb(full.slice(0, 1), full.slice(1, c))).total : 0;
    assert.ok(Math.abs(lpFull - lpPrefix - r.questions[0].logProbs[1]) < 2e-3, `${lpFull - lpPrefix} vs ${r.questions[0].logProbs[1]}`);
    // cached rerun
    const again = await evaluateMmlu(model, qs);
    assert.equal(again.cached, 3);
    assert.deepEqual(again.questions.map((q) => q.logProbs), r.questions.map((q) => q.logProbs));
    const f = await evaluateMmlu(model, qs.slice(0, 2), { mode: 'faithful', maxNewTokens: 8, cache: false });
    assert.equal(f.n, 2);
    assert.equal(f.parsed + f.unparsed, 2);
    for (const q of f.questions) {
      assert.equal(typeof q.response, 'string');
      assert.ok(q.generatedTokens >= 1 && q.generatedTokens <= 8);
    }
    const f2 = await evaluateMmlu(model, qs.slice(0, 2), { mode: 'faithful', maxNewTokens: 8, cache: false });
    assert.deepEqual(f2.questions.map((q) => q.continuation), f.questions.map((q) => q.continuation), 'seeded: same generations');
    assert.equal(tf.memory().numTensors, before);
  } finally {
    model.dispose();
  }
});
