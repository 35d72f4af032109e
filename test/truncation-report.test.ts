// Issue 11 (docs/robustness.md): truncation is reported, never silent. The IPO code right-truncates every prompt
// (ours.py: max_length=1024, truncation=True), which cuts the marker " Yes"/" No" are read after; every score says
// whether it truncated and whether the marker went, and every run counts both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadTfModel } from '../lib/models/load.ts';
import type { CausalLM } from '../lib/models/types.ts';
import { pYes, type IpoTruncation } from '../lib/scoring/yes-no.ts';
import { ipoPromptParts } from '../lib/scoring/prompt.ts';
import { templateFor } from '../lib/scoring/templates.ts';
import { formatTruncation, truncationSummary } from '../lib/eval/truncation-summary.ts';
import { ipo, ipoJson } from './helpers/cli.ts';

let lm: CausalLM;
test.before(async () => {
  lm = await loadTfModel('tinystories-656k');
});
test.after(() => lm.dispose());

const LONG = { instruction: 'Tell me a story about a cat.', response: 'Once upon a time there was a cat. '.repeat(12), category: 'alpacaeval-easy' };

/** `lm` recording the ids of every next-token call (the paper preset's one pass per prompt). */
function recording(model: CausalLM) {
  const seen: number[][] = [];
  const spy = new Proxy(model, {
    get(t, k, r) {
      if (k === 'nextTokenLogProbs') return (ids: number[]) => { seen.push(ids); return t.nextTokenLogProbs(ids); };
      const v = Reflect.get(t, k, r);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return { spy, seen };
}

test('markerCut says whether the ids fed to the model still end with the prompt\'s marker, per truncation mode', async () => {
  const template = templateFor(LONG.category);
  const parts = ipoPromptParts({ instruction: LONG.instruction, response: LONG.response, template });
  const whole = lm.encode(parts.head + parts.response + parts.tail);
  const headResponse = lm.encode(parts.head + parts.response);
  // the marker's ids as the joint encoding has them: what follows head+response
  let l = 0;
  while (l < headResponse.length && headResponse[l] === whole[l]) l++;
  const marker = whole.slice(l);
  assert.ok(marker.length > 0 && whole.length > 60, 'the fixture prompt needs a marker and some length');
  const expectCut: Record<IpoTruncation, boolean> = { right: true, left: false, 'keep-marker': false };
  for (const truncation of ['right', 'left', 'keep-marker'] as const) {
    const { spy, seen } = recording(lm);
    const s = await pYes(spy, LONG, { truncation, maxLength: 40, prefixReuse: false });
    assert.equal(seen.length, 1);
    const fed = seen[0];
    assert.equal(fed.length, 40);
    assert.equal(s.truncated, true, truncation);
    const endsWithMarker = marker.every((id, i) => fed[fed.length - marker.length + i] === id);
    assert.equal(s.markerCut, !endsWithMarker, `${truncation}: markerCut must equal "the fed ids lost the marker"`);
    assert.equal(s.markerCut, expectCut[truncation], truncation);
  }
  const untouched = await pYes(lm, LONG, { maxLength: 1024 });
  assert.deepEqual([untouched.truncated, untouched.markerCut], [false, false]);
  // exact preset: the shared prefix c is what gets truncated; same rule
  const ex = await pYes(lm, LONG, { preset: 'exact', maxLength: 40 });
  assert.deepEqual([ex.truncated, ex.markerCut], [true, true]);
  const exKeep = await pYes(lm, LONG, { preset: 'exact', maxLength: 40, truncation: 'keep-marker' });
  assert.deepEqual([exKeep.truncated, exKeep.markerCut], [true, false]);
});

test('truncationSummary counts prompts, pairs and cut markers; null when no outcome has counts', () => {
  const s = truncationSummary([{ truncated: 2, markerCut: 2 }, { truncated: 0, markerCut: 0 }, { truncated: 1, markerCut: 0 }]);
  assert.deepEqual(s, { prompts: 6, truncated: 3, markerCut: 2, pairs: 2 });
  assert.match(formatTruncation(s), /^truncated prompts: 3 of 6 \(2 pairs; the marker after the response cut in 2; --truncation keep-marker keeps it\)$/);
  assert.equal(formatTruncation(truncationSummary([{ truncated: 0, markerCut: 0 }])), 'truncated prompts: none of 2');
  assert.equal(truncationSummary([{}, {}]), null);
  assert.equal(formatTruncation(null), '');
});

test('ipo rewardbench reports truncated prompts in its JSON and text; ipo score --truncation says when it truncated', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipo-trunc-'));
  const long = 'The little dog ran and ran in the big green park with his red ball. '.repeat(40);
  const src = join(dir, 'rows.jsonl');
  writeFileSync(src, [
    { id: 1, prompt: 'Tell me about the dog.', chosen: long, rejected: 'No.', subset: 'alpacaeval-easy' },
    { id: 2, prompt: 'Say hi.', chosen: 'Hi!', rejected: 'Bye.', subset: 'alpacaeval-easy' },
  ].map((r) => JSON.stringify(r)).join('\n'));
  for (const truncation of ['right', 'keep-marker']) {
    const j = ipoJson<{ truncation: { prompts: number; truncated: number; markerCut: number; pairs: number } }>('rewardbench', '--source', src, '--truncation', truncation);
    assert.equal(j.truncation.prompts, 4);
    assert.equal(j.truncation.truncated, 1, 'only the long chosen response exceeds the model\'s 512-id context');
    assert.equal(j.truncation.pairs, 1);
    assert.equal(j.truncation.markerCut, truncation === 'right' ? 1 : 0);
  }
  const text = ipo('rewardbench', '--source', src);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /truncated prompts: 1 of 4 \(1 pair; the marker after the response cut in 1; --truncation keep-marker keeps it\)/);
  const sc = ipo('score', '--instruction', 'Tell me about the dog.', '--response', long, '--truncation', 'keep-marker', '--max-length', '64');
  assert.equal(sc.code, 0, sc.stderr);
  assert.match(sc.stdout, /truncated \(keep-marker\) to 64 tokens: the marker after the response was kept/);
  const scJ = ipoJson<{ truncated: boolean; markerCut: boolean; promptTokens: number }>('score', '--instruction', 'Hi', '--response', long, '--max-length', '64');
  assert.deepEqual([scJ.truncated, scJ.markerCut, scJ.promptTokens], [true, true, 64]);
});
