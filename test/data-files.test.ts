/**
 * Prompt files (lib/data/prompts.ts) and TRL preference-pair files (lib/data/preference-pairs.ts): every accepted
 * shape, every skip reason counted with its line, one-line errors for missing / unusable files, round trips, and
 * the shared-asset loaders (UltraFeedback sample, Alpaca seed tasks, LLaMA-Factory dpo_en_demo) checked against
 * numbers read from the files independently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { displayPath } from '../lib/util/jsonl.ts';
import { formatPromptReport, loadAlpacaSeedPrompts, loadUltraFeedbackPrompts, readPromptFile, writePromptFile } from '../lib/data/prompts.ts';
import {
  extractImplicitPrompt, formatPairsReport, loadLlamaFactoryDpoDemo, readLlamaFactoryPairs, readPreferencePairs, writePreferencePairs,
} from '../lib/data/preference-pairs.ts';
import { findAsset, repoRoot } from '../lib/util/paths.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipo-data-files-'));
const write = (name: string, lines: (string | object)[], eol = '\n') => {
  const p = join(dir, name);
  writeFileSync(p, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join(eol) + eol);
  return p;
};
const oneLine = (re: RegExp) => (e: Error) => re.test(e.message) && !/[\r\n]/.test(e.message);
const jsonl = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

// ---------------------------------------------------------------------------------------------------------------
// prompts

test('prompt file: instruction/category, TRL prompt and conversational prompt; every bad line counted by reason', () => {
  const p = write('prompts.jsonl', [
    { instruction: 'Write a haiku.', category: 'chat', id: 'h1' },        // 1
    { prompt: 'The sky is' },                                              // 2
    '',                                                                     // 3 blank: not a record
    { prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why is the sky blue?' }], id: 7 }, // 4
    '{"instruction": "unterminated',                                       // 5 invalid JSON
    { category: 'Math' },                                                  // 6 missing
    { instruction: '   ' },                                                // 7 empty
    { instruction: 42 },                                                   // 8 wrong type
    { instruction: 'ok', category: 3 },                                    // 9 wrong type
    { prompt: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hel' }] }, // 10 ends with assistant
    { prompt: [{ role: 'user', content: 5 }] },                            // 11 bad message
    { instruction: 'again', id: 'h1' },                                    // 12 duplicate id
    '[1, 2]',                                                              // 13 not an object
    { instruction: 'Last one.' },                                          // 14
  ], '\r\n');
  const r = readPromptFile(p);
  assert.deepEqual(r.prompts, [
    { id: 'h1', instruction: 'Write a haiku.', category: 'chat' },
    { id: 'L2', instruction: 'The sky is' },
    { id: '7', instruction: 'Why is the sky blue?', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Why is the sky blue?' }] },
    { id: 'L14', instruction: 'Last one.' },
  ]);
  assert.equal(r.format, 'jsonl');
  assert.equal(r.total, 13);
  assert.deepEqual(r.skipped, { invalidJson: 1, missingInstruction: 1, emptyInstruction: 1, wrongType: 3, badMessages: 2, duplicateId: 1 });
  assert.deepEqual(r.examples.map((e) => e.line), [5, 6, 7, 8, 9, 10, 11, 12, 13]);
  assert.match(r.examples.find((e) => e.line === 10)!.reason, /ends with an assistant turn/);
  assert.match(r.examples.find((e) => e.line === 11)!.reason, /prompt\[0\]\.content must be a string, got number/);
  assert.match(formatPromptReport(r), /^4 prompts from prompts\.jsonl \(jsonl, 13 records; 9 skipped: 1 invalidJson, 1 missingInstruction, 1 emptyInstruction, 3 wrongType, 2 badMessages, 1 duplicateId \(line 5: invalid JSON/);
  assert.deepEqual(readPromptFile(p, { limit: 2, category: 'General' }).prompts.map((x) => [x.id, x.category]), [['h1', 'chat'], ['L2', 'General']]);
});

test('prompt file: a JSON array works; round trip; missing or unusable files are one-line errors naming the path', () => {
  const arr = join(dir, 'prompts.json');
  writeFileSync(arr, JSON.stringify([{ instruction: 'A' }, { instruction: '' }, { prompt: 'B', id: 'b' }], null, 2));
  const r = readPromptFile(arr);
  assert.equal(r.format, 'json-array');
  assert.deepEqual(r.prompts.map((x) => x.id), ['L1', 'b']);
  assert.deepEqual(r.examples, [{ line: 2, reason: 'empty instruction' }]);

  const out = join(dir, 'written.jsonl');
  const items = readPromptFile(write('rt.jsonl', [{ instruction: 'x', category: 'Safety', id: 'q' }, { prompt: [{ role: 'user', content: 'y' }], id: 'r' }])).prompts;
  writePromptFile(out, items);
  assert.deepEqual(jsonl(out), [{ id: 'q', instruction: 'x', category: 'Safety' }, { id: 'r', prompt: [{ role: 'user', content: 'y' }] }]);
  assert.deepEqual(readPromptFile(out).prompts, items);

  assert.throws(() => readPromptFile(join(repoRoot(), 'no-such-folder', 'p.jsonl')), oneLine(/^prompt file not found: no-such-folder\/p\.jsonl$/));
  assert.throws(() => readPromptFile(join(dir, 'absent.jsonl')), oneLine(/^prompt file not found: absent\.jsonl$/));
  assert.throws(() => readPromptFile(write('bad.jsonl', ['{oops', { foo: 1 }])), oneLine(/^prompt file bad\.jsonl: no usable prompts in 2 records \(2 skipped: 1 invalidJson, 1 missingInstruction \(line 1: invalid JSON .*line 2: no 'instruction' or 'prompt' field\)\)$/));
  assert.throws(() => readPromptFile(write('empty.jsonl', [''])), oneLine(/no usable prompts in 0 records \(the file has no records\)/));
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '[{"instruction": "a"},');
  assert.throws(() => readPromptFile(broken), oneLine(/^prompt file broken\.json starts with '\[' but is not a valid JSON array/));
});

test('displayPath: repo-relative, ../shared for the assets, never absolute', () => {
  assert.equal(displayPath(join(repoRoot(), 'lib', 'index.ts')), 'lib/index.ts');
  assert.match(displayPath(findAsset('prompt-sets/alpaca_seed_tasks.jsonl')), /^\.\.\/shared\/assets\/prompt-sets\/alpaca_seed_tasks\.jsonl$/);
  assert.equal(displayPath(join(dir, 'x.jsonl')), 'x.jsonl');
});

test('asset prompts: UltraFeedback sample (prompt field, source_index ids) and Alpaca seed tasks (instruction + input)', () => {
  const ufRows = jsonl(findAsset('ultrafeedback-sample/train_clean_1000.jsonl'));
  const uf = loadUltraFeedbackPrompts();
  assert.equal(uf.prompts.length, 1000);
  assert.equal(uf.total, 1000);
  assert.equal(uf.file, '../shared/assets/ultrafeedback-sample/train_clean_1000.jsonl');
  assert.deepEqual(uf.prompts[0], { id: 'uf-27808', instruction: 'how to cook t-bone in the oven' });
  assert.deepEqual(uf.prompts.map((p) => p.instruction), ufRows.map((r) => r.prompt));
  const ev = loadUltraFeedbackPrompts({ split: 'eval', limit: 5, category: 'chat' });
  assert.equal(ev.prompts.length, 5);
  assert.equal(ev.prompts[0].id, 'uf-36641');
  assert.ok(ev.prompts.every((p) => p.category === 'chat'));
  assert.throws(() => loadUltraFeedbackPrompts({ split: 'test' as never }), oneLine(/split must be 'train' or 'eval'/));

  const al = loadAlpacaSeedPrompts();
  assert.equal(al.prompts.length, 175);
  assert.deepEqual(al.prompts[0], {
    id: 'seed_task_0',
    instruction: "Is there anything I can eat for a breakfast that doesn't include eggs, yet includes protein, and has roughly 700-1000 calories?",
  });
  assert.deepEqual(al.prompts[1], { id: 'seed_task_1', instruction: 'What is the relation between the given pairs?\n\nNight : Day :: Right : Left' });
  const raw = jsonl(findAsset('prompt-sets/alpaca_seed_tasks.jsonl'));
  const withInput = raw.filter((r) => r.instances[0].input.trim() !== '').length;
  assert.equal(withInput, 125);
  assert.equal(al.prompts.filter((p, i) => p.instruction !== raw[i].instruction).length, withInput);
});

// ---------------------------------------------------------------------------------------------------------------
// preference pairs

test('TRL extract_prompt: the docs examples (standard and conversational implicit prompts)', () => {
  const s = extractImplicitPrompt([...'The sky is blue.'], [...'The sky is green.'], (a, b) => a === b);
  assert.deepEqual([s.prompt.join(''), s.chosen.join(''), s.rejected.join('')], ['The sky is', ' blue.', ' green.']);
  const r = readPreferencePairs(write('implicit.jsonl', [
    { chosen: 'The sky is blue.', rejected: 'The sky is green.' },
    {
      chosen: [{ role: 'user', content: 'What color is the sky?' }, { role: 'assistant', content: 'It is blue.' }],
      rejected: [{ role: 'user', content: 'What color is the sky?' }, { role: 'assistant', content: 'It is green.' }],
    },
  ]));
  assert.deepEqual(r.pairs, [
    { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' },
    { prompt: [{ role: 'user', content: 'What color is the sky?' }], chosen: 'It is blue.', rejected: 'It is green.' },
  ]);
});

test('preference file: standard and conversational pairs normalised, extras kept; every bad record counted', () => {
  const conv = { prompt: [{ role: 'user', content: 'What color is the sky?' }], chosen: [{ role: 'assistant', content: 'It is blue.' }], rejected: [{ role: 'assistant', content: 'It is green.' }] };
  const p = write('pairs.jsonl', [
    { prompt: 'The sky is', chosen: ' blue.', rejected: ' green.', id: 3, score_chosen: 0.9, meta: { src: 'x' } }, // 1
    conv,                                                                              // 2
    'not json',                                                                        // 3
    { prompt: 'p', chosen: 'a' },                                                      // 4 missing rejected
    { prompt: 'p' },                                                                   // 5 missing both
    { prompt: 'p', chosen: 'a', rejected: '  ' },                                      // 6 empty
    { prompt: 'p', chosen: ' same ', rejected: 'same' },                               // 7 identical after trim
    { prompt: 'p', chosen: 1, rejected: 'b' },                                         // 8 wrong type
    { ...conv, chosen: [{ role: 'assistant', content: 'a' }, { role: 'assistant', content: 'b' }] }, // 9 unsupported
    { ...conv, rejected: [{ role: 'user', content: 'no' }] },                          // 10 bad message role
    { prompt: 'p', chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] }, // 11 mixed
    { prompt: 5, chosen: 'a', rejected: 'b' },                                         // 12 wrong type
    { prompt: 'p', chosen: 'fine', rejected: 'also fine' },                            // 13
  ]);
  const r = readPreferencePairs(p);
  assert.deepEqual(r.pairs, [
    { id: '3', prompt: 'The sky is', chosen: ' blue.', rejected: ' green.', score_chosen: 0.9, meta: { src: 'x' } },
    { prompt: [{ role: 'user', content: 'What color is the sky?' }], chosen: 'It is blue.', rejected: 'It is green.' },
    { prompt: 'p', chosen: 'fine', rejected: 'also fine' },
  ]);
  assert.equal(r.total, 13);
  assert.deepEqual(r.skipped, { invalidJson: 1, wrongType: 3, missingFields: 2, badMessages: 1, unsupported: 1, empty: 1, identical: 1 });
  const reason = (line: number) => r.examples.find((e) => e.line === line)?.reason;
  assert.equal(r.examples.length, 10);
  assert.equal(reason(4), "missing 'rejected'");
  assert.equal(reason(5), "missing 'chosen' and 'rejected'");
  assert.equal(reason(6), 'empty rejected');
  assert.equal(reason(7), 'chosen and rejected are identical (after trim)');
  assert.match(reason(9)!, /chosen has 2 messages/);
  assert.match(reason(10)!, /rejected message has role 'user'/);
  assert.match(reason(11)!, /mixed standard and conversational/);
  assert.match(reason(12)!, /prompt must be a string or a message list, got number/);
  assert.match(formatPairsReport(r), /^3 pairs from pairs\.jsonl \(jsonl, 13 records; 10 skipped: 1 invalidJson, 3 wrongType, 2 missingFields/);

  // round trip: standard stays standard, conversational stays conversational, extras survive
  const out = join(dir, 'pairs-out.jsonl');
  writePreferencePairs(out, r.pairs);
  assert.deepEqual(jsonl(out)[0], { id: '3', prompt: 'The sky is', chosen: ' blue.', rejected: ' green.', score_chosen: 0.9, meta: { src: 'x' } });
  assert.deepEqual(jsonl(out)[1], conv);
  assert.deepEqual(readPreferencePairs(out).pairs, r.pairs);

  assert.throws(() => readPreferencePairs(write('nopairs.jsonl', [{ chosen: 'x', rejected: 'x' }])), oneLine(/^preference file nopairs\.jsonl: no usable preference pairs in 1 records \(1 skipped: 1 identical/));
  assert.throws(() => readPreferencePairs(join(dir, 'gone.jsonl')), oneLine(/^preference file not found: gone\.jsonl$/));
});

test('LLaMA-Factory dpo_en_demo: 300 conversational pairs, roles mapped, turn counts as in the file', () => {
  const raw = JSON.parse(readFileSync(findAsset('preference-demo/llamafactory_dpo_en_demo.json'), 'utf8')) as {
    conversations: { from: string; value: string }[]; chosen: { value: string }; rejected: { value: string };
  }[];
  const r = loadLlamaFactoryDpoDemo();
  assert.equal(r.file, '../shared/assets/preference-demo/llamafactory_dpo_en_demo.json');
  assert.equal(r.format, 'json-array');
  assert.equal(r.pairs.length, 300);
  assert.equal(Object.values(r.skipped).reduce((a, b) => a + b, 0), 0);
  const first = r.pairs[0];
  assert.deepEqual(first.prompt, [{ role: 'user', content: raw[0].conversations[0].value }]);
  assert.equal(first.chosen, raw[0].chosen.value);
  assert.equal(first.rejected, raw[0].rejected.value);
  const turns: Record<number, number> = {};
  for (const p of r.pairs) turns[(p.prompt as unknown[]).length] = (turns[(p.prompt as unknown[]).length] ?? 0) + 1;
  assert.deepEqual(turns, { 1: 114, 2: 80, 3: 1, 5: 57, 7: 46, 9: 1, 13: 1 }); // counted from the file with Python
  const roles = new Set(r.pairs.flatMap((p) => (p.prompt as { role: string }[]).map((m) => m.role)));
  assert.deepEqual([...roles].sort(), ['assistant', 'system', 'user']);

  const lf = join(dir, 'lf.json');
  writeFileSync(lf, JSON.stringify([
    { conversations: [{ from: 'human', value: 'Q' }], chosen: { from: 'gpt', value: 'good' }, rejected: { from: 'gpt', value: 'bad' }, system: 'S' },
    { conversations: [{ from: 'alien', value: 'Q' }], chosen: { from: 'gpt', value: 'a' }, rejected: { from: 'gpt', value: 'b' } },
    { conversations: [{ from: 'human', value: 'Q' }], chosen: { from: 'gpt', value: 'a' } },
    { conversations: [{ from: 'human', value: 'Q' }], chosen: { from: 'gpt', value: 'same' }, rejected: { from: 'gpt', value: 'same ' } },
  ]));
  const l = readLlamaFactoryPairs(lf);
  assert.deepEqual(l.pairs, [{ prompt: [{ role: 'system', content: 'S' }, { role: 'user', content: 'Q' }], chosen: 'good', rejected: 'bad' }]);
  assert.deepEqual(l.examples, [
    { line: 2, reason: 'conversations[0].from must be one of human/gpt/system/observation/function_call, got "alien"' },
    { line: 3, reason: "missing 'rejected'" },
    { line: 4, reason: 'chosen and rejected are identical (after trim)' },
  ]);
  assert.equal(l.skipped.badMessages, 1);
});
