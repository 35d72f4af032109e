/**
 * Issue 11 (docs/robustness.md): what users feed the kit as files. A UTF-8 byte-order mark is accepted; bytes that are
 * not UTF-8 are reported as such with their line (never turned silently into U+FFFD, which would change the scored
 * text); malformed rows are reported by line; training inputs that hold nothing usable, or an --out that cannot be
 * written, fail in one line BEFORE any model is loaded or trained.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readRecordFile } from '../lib/util/jsonl.ts';
import { readPreferencePairs } from '../lib/data/preference-pairs.ts';
import { assertOneLineError, ipo, ipoJson } from './helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'ipo-inputs-'));
const file = (name: string, data: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NOT_UTF8 = Buffer.from([0xff, 0xfe]); // never valid in UTF-8
const rbRow = (i: number) => JSON.stringify({ id: i, prompt: `Q${i}?`, chosen: 'A good answer.', rejected: 'No.', subset: 'alpacaeval-easy' });
const lines = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

test('readRecordFile: BOM accepted, a line with invalid UTF-8 reported by number as such, the rest kept', () => {
  const p = file('mixed.jsonl', lines(BOM, '{"a":1}\n', '{"a":"x', NOT_UTF8, '"}\n', 'not json\n', '{"a":4}\n'));
  const rf = readRecordFile(p, 'test file');
  assert.deepEqual(rf.records.map((r) => [r.line, r.value]), [[1, { a: 1 }], [4, { a: 4 }]]);
  assert.equal(rf.invalidJson.length, 2);
  assert.equal(rf.invalidJson[0].line, 2);
  assert.match(rf.invalidJson[0].reason, /^invalid UTF-8 \(byte 0xff at byte 8 of the line; save the file as UTF-8\)$/);
  assert.equal(rf.invalidJson[1].line, 3);
  assert.match(rf.invalidJson[1].reason, /^invalid JSON/);
  // a JSON array cannot skip one line: one error naming the line
  const arr = file('array.json', lines(BOM, '[\n{"a":1},\n{"a":"', NOT_UTF8, '"}\n]\n'));
  assert.throws(() => readRecordFile(arr, 'test file'), /^Error: test file .*array\.json is not UTF-8 text: line 3 has invalid UTF-8 \(byte 0xff/);
});

test('ipo rewardbench --source FILE: BOM row scored, invalid UTF-8 and bad JSON rows counted with their lines; a .json that is not UTF-8 is one line', () => {
  const p = file('rb.jsonl', lines(BOM, rbRow(1), '\n', '{"id":2,"prompt":"Q', NOT_UTF8, '","chosen":"a","rejected":"b","subset":"alpacaeval-easy"}\n', '{oops\n', rbRow(4), '\n'));
  const j = ipoJson<{ subsets: Record<string, { n: number }>; malformed: { count: number; examples: { index: number; reason: string }[] } }>('rewardbench', '--source', p);
  assert.equal(j.subsets['alpacaeval-easy'].n, 2, 'rows 1 (after the BOM) and 4 are scored');
  assert.equal(j.malformed.count, 2);
  assert.match(j.malformed.examples[0].reason, /^line 2: invalid UTF-8/);
  assert.match(j.malformed.examples[1].reason, /^line 3: invalid JSON/);
  const text = ipo('rewardbench', '--source', p);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /malformed rows skipped: 2 \(first: line 2: invalid UTF-8/);
  const bad = file('rb.json', lines('[', rbRow(1), ',{"id":2,"prompt":"', NOT_UTF8, '","chosen":"a","rejected":"b","subset":"alpacaeval-easy"}]'));
  assertOneLineError(ipo('rewardbench', '--source', bad, '--json'), /RewardBench file .*rb\.json is not UTF-8 text: line 1 has invalid UTF-8/);
  const bomJson = file('bom.json', lines(BOM, '[', rbRow(1), ']'));
  assert.equal(ipoJson<{ subsets: Record<string, { n: number }> }>('rewardbench', '--source', bomJson).subsets['alpacaeval-easy'].n, 1);
});

test('training inputs: invalid UTF-8 counted by line; empty, unusable or missing files and an unwritable --out fail in one line before training', () => {
  const good = '{"prompt":"Hi","chosen":"Hello","rejected":"Go away"}\n';
  const pairs = readPreferencePairs(file('pairs.jsonl', lines(good, NOT_UTF8, '\n')));
  assert.equal(pairs.pairs.length, 1);
  assert.equal(pairs.skipped.invalidJson, 1);
  assert.match(pairs.examples[0].reason, /^invalid UTF-8/);
  assert.equal(pairs.examples[0].line, 2);

  const empty = file('empty.jsonl', '');
  const unusable = file('unusable.jsonl', 'nope\n{"prompt":"a"}\n');
  const ok = file('ok.jsonl', good);
  const notADir = file('plain-file', 'x');
  assertOneLineError(ipo('dpo', '--train', empty, '--out', join(dir, 'o1')), /preference file .*empty\.jsonl: no usable preference pairs in 0 records \(the file has no records\)/);
  assertOneLineError(ipo('dpo', '--train', unusable, '--out', join(dir, 'o2')),
    /no usable preference pairs in 2 records \(2 skipped: 1 invalidJson, 1 missingFields \(line 1: invalid JSON .*; line 2: missing 'chosen' and 'rejected'\)\)/);
  assertOneLineError(ipo('sft', '--train', empty, '--out', join(dir, 'o3')), /SFT file .*empty\.jsonl has no usable example/);
  assertOneLineError(ipo('sample', '--prompts', empty, '--out', join(dir, 's.jsonl')), /prompt file .*empty\.jsonl: no usable prompts in 0 records/);
  assertOneLineError(ipo('self-improve', '--prompts', join(dir, 'absent.jsonl'), '--out', join(dir, 'o4')), /prompt file not found: .*absent\.jsonl/);
  const missingEval = ipo('dpo', '--train', ok, '--eval', join(dir, 'absent.jsonl'), '--out', join(dir, 'o5'));
  assert.notEqual(missingEval.code, 0);
  assert.match(missingEval.stderr, /ipo: preference file not found: .*absent\.jsonl\n$/);
  assert.doesNotMatch(missingEval.stderr, /step|loss/i, 'nothing was trained');
  // an --out that cannot be written: one line before the data is even read (here: a path under a plain file)
  for (const args of [['sft', '--train', ok], ['dpo', '--train', ok], ['self-improve', '--prompts', ok], ['export-pairs', '--pairs', ok], ['sample', '--prompts', ok], ['toy-world']]) {
    assertOneLineError(ipo(...args, '--out', join(notADir, 'out')), /--out out is not writable \((ENOTDIR|EEXIST)\)/);
  }
});
