/**
 * `ipo self-improve` end to end on the embedded model (a few prompts, short samples): every round writes its
 * samples, scores, pairs, metrics, eval report and policy; the pairs are best vs worst of the written scores; round 2
 * samples from round 1's policy; bad input is refused with one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { findAsset } from '../lib/util/paths.ts';
import { readScores } from '../lib/self-improve/score-responses.ts';
import { readSamples } from '../lib/generate/samples-file.ts';
import { officialTrainPair, splitPairs } from '../lib/self-improve/rounds.ts';
import { assertOneLineError, ipo, ipoJson } from './helpers/cli.ts';

const TINY = findAsset('models/tinystories-656k');
const PROMPTS = [
  { instruction: 'Tell me a story about a dog.', category: 'chat' },
  { instruction: 'What is two plus two?', category: 'Math' },
  { instruction: 'Write a poem about the sun.', category: 'chat' },
  { instruction: 'How do I stay safe near a river?', category: 'Safety' },
];

function promptsFile(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ipo-si-'));
  const file = join(dir, 'prompts.jsonl');
  writeFileSync(file, PROMPTS.map((p) => `${JSON.stringify(p)}\n`).join(''));
  return { dir, file };
}

const readJsonl = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('ipo self-improve --rounds 2 (IPO judge): every stage written, pairs = best vs worst of the scores, round 2 samples round 1\'s policy', () => {
  const { dir, file } = promptsFile();
  const out = join(dir, 'run');
  const r = ipoJson<{ rounds: { round: number; policyIn: string; judge: string; pairs: { built: number; train: number; eval: number }; dpo: { steps: number; eval: Record<string, number> } }[] }>(
    'self-improve', '--model', TINY, '--prompts', file, '--out', out, '--rounds', '2', '--n', '3', '--max-new-tokens', '10', '--lora-rank', '4', '--lora-alpha', '8', '--lr', '1e-3',
  );
  assert.equal(r.rounds.length, 2);
  assert.equal(r.rounds[0].judge, 'ipo(paper)');
  assert.match(r.rounds[1].policyIn, /policy$/, 'round 2 starts from round 1\'s policy');
  for (const k of [1, 2]) {
    const rd = join(out, `round-${k}`);
    for (const f of ['samples.jsonl', 'scores.jsonl', 'pairs.jsonl', 'metrics.jsonl', 'eval.json', 'policy/model.safetensors', 'policy/config.json']) assert.ok(existsSync(join(rd, f)), `round-${k}/${f}`);
    const samples = readSamples(join(rd, 'samples.jsonl'));
    assert.equal(samples.records.length, 4);
    assert.ok(samples.records.every((s) => s.responses.length === 3));
    const scores = readScores(join(rd, 'scores.jsonl')).records;
    const pairs = readJsonl(join(rd, 'pairs.jsonl'));
    assert.equal(pairs.length, 4, 'faithful: one pair per prompt');
    for (const p of pairs) {
      const s = scores.find((x) => x.id === p.id)!;
      const byScore = s.responses.map((x) => x.score);
      assert.equal(p.chosen_score, Math.max(...byScore));
      assert.equal(p.rejected_score, Math.min(...byScore));
      // the official training format: [INST] prompt, completions ending in the literal <|eot_id|> (quirk 15)
      assert.equal(p.prompt, `[INST] ${s.instruction} [/INST]`);
      assert.ok(p.chosen.endsWith('<|eot_id|>') && p.rejected.endsWith('<|eot_id|>'));
    }
    const ev = JSON.parse(readFileSync(join(rd, 'eval.json'), 'utf8'));
    assert.equal(ev.round, k);
    assert.equal(ev.pairs.train, 4);
    assert.equal(ev.pairs.eval, 4, 'faithful: eval = train (quirk 14)');
    assert.ok(Number.isFinite(ev.dpo.eval['eval_loss']));
    assert.doesNotMatch(JSON.stringify(ev), /\/tmp\/|\/work\//, 'no absolute paths in the report');
  }
  // the policy of the last round is a model
  const lp = ipoJson<{ logprob: number }>('logprob', '--model', join(out, 'round-2', 'policy'), '--text', 'The dog ran.');
  assert.ok(Number.isFinite(lp.logprob));
});

test('ipo self-improve --judge self-reward --mode fixed: unparsed rubric scores are dropped and counted, and no pair is left', () => {
  const { dir, file } = promptsFile();
  // TinyStories cannot write "Score: N": in fixed mode every score is NaN, every prompt is dropped → one-line error
  const r = ipo('self-improve', '--model', TINY, '--prompts', file, '--out', join(dir, 'sr'), '--judge', 'self-reward', '--mode', 'fixed', '--prompt-format', 'raw', '--n', '2', '--max-new-tokens', '6', '--judge-max-new-tokens', '4', '--lora-rank', '2');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr.trim().split('\n').pop()!, /round 1: no pairs left .*"nanScores":8/);
  const scores = readScores(join(dir, 'sr', 'round-1', 'scores.jsonl')).records;
  assert.ok(scores.flatMap((s) => s.responses).every((x) => Number.isNaN(x.score)));
});

test('self-improve helpers: the official training format and a deterministic held-out split', () => {
  assert.deepEqual(officialTrainPair('Hi?', '  Hello <|eot_id|> junk', 'Bye'), { prompt: '[INST] Hi? [/INST]', chosen: 'Hello <|eot_id|>', rejected: 'Bye<|eot_id|>' });
  const pairs = Array.from({ length: 10 }, (_, i) => ({ promptId: `p${i}`, prompt: `q${i}` }));
  const a = splitPairs(pairs, 0.2, 1);
  assert.equal(a.eval.length, 2);
  assert.equal(a.train.length, 8);
  assert.deepEqual(splitPairs([...pairs].reverse(), 0.2, 1).eval.map((p) => p.promptId).sort(), a.eval.map((p) => p.promptId).sort(), 'order does not matter');
  assert.throws(() => splitPairs(pairs, 1, 1), /eval fraction/);
});

test('ipo self-improve: bad input is one line', () => {
  const { dir, file } = promptsFile();
  assertOneLineError(ipo('self-improve', '--model', TINY, '--prompts', join(dir, 'missing.jsonl'), '--out', join(dir, 'x')), /prompt file not found/);
  assertOneLineError(ipo('self-improve', '--model', TINY, '--prompts', file, '--out', join(dir, 'x'), '--rounds', '0'), /--rounds must be a whole number >= 1/);
  assertOneLineError(ipo('self-improve', '--model', TINY, '--prompts', file, '--out', join(dir, 'x'), '--judge', 'rm'), /--judge rm needs --reward-model/);
  assertOneLineError(ipo('self-improve', '--model', TINY, '--prompts', file, '--out', join(dir, 'x'), '--engine', 'onnx'), /needs the tf engine/);
  assert.ok(findAsset('models/tinystories-656k'));
});
