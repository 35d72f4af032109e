/**
 * `ipo web` (lib/web/, web/): the teaching page in headless Chromium. The server runs in-process on 127.0.0.1:0; the
 * page runs TinyStories-656K with transformers.js (wasm) from files this server serves (no network), and its P(Yes)
 * for two responses must equal the Node engines' `pYes` (onnx on the same exported folder, and tf on the safetensors)
 * to 1e-4 in both presets. Plus the prompt API's one-line 400s. Screenshot: reports/test-artifacts/web-page.png.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tf } from '../lib/models/backend.ts';
import { loadTfModel } from '../lib/models/load.ts';
import { loadOnnxModel } from '../lib/models/onnx.ts';
import { pYes, type IpoPreset } from '../lib/scoring/yes-no.ts';
import { repoRoot } from '../lib/util/paths.ts';
import { startWebServer, type RunningWebServer } from '../lib/web/server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const ITEM = {
  instruction: 'What did Tom see in the sky?\nTell me in one sentence.',
  a: 'Tom saw a big, bright rainbow in the sky after the rain.',
  b: 'dog dog dog the the',
  templateSet: 'rewardbench',
  category: 'llmbar-natural',
};

let tmp: string;
let server: RunningWebServer;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ipo-web-'));
  server = await startWebServer({ host: '127.0.0.1', port: 0, cacheDir: tmp });
});

after(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function post(body: unknown, raw?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${server.url}api/prompt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw ?? JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

function oneLineError(r: { status: number; json: Record<string, unknown> }, status: number, words: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  const e = r.json.error;
  assert.equal(typeof e, 'string');
  assert.ok(!(e as string).includes('\n'), `one line: ${e}`);
  assert.match(e as string, words);
}

test('the prompt API: bad input is a 400 (404 for an unknown model) with a one-line message; templates are listed', async () => {
  oneLineError(await post({ response: 'Hello!' }), 400, /^instruction must be a non-empty string/);
  oneLineError(await post({ instruction: '', response: 'Hello!' }), 400, /instruction must be a non-empty string, got an empty string/);
  oneLineError(await post({ instruction: 'Hi' }), 400, /^response must be a string/);
  oneLineError(await post({ instruction: 'Hi', response: 'x', preset: 'fast' }), 400, /^preset must be one of paper, exact, got "fast"/);
  oneLineError(await post({ instruction: 'Hi', response: 'x', maxLength: 0 }), 400, /^maxLength must be a positive integer/);
  oneLineError(await post([1, 2]), 400, /request body must be a JSON object, got array/);
  oneLineError(await post(null, '{"instruction": '), 400, /JSON/);
  oneLineError(await post({ instruction: 'Hi', response: 'x', model: 'no-such-model' }), 404, /no model 'no-such-model'.*tinystories-656k/);
  const offline = process.env.IPO_OFFLINE;
  process.env.IPO_OFFLINE = '1';
  try {
    oneLineError(await post({ instruction: 'Hi', response: 'x', model: 'nobody-here/no-such-model' }), 400, /not in the hub cache and hub downloads are off/);
  } finally {
    if (offline === undefined) delete process.env.IPO_OFFLINE;
    else process.env.IPO_OFFLINE = offline;
  }

  const t = (await (await fetch(`${server.url}api/templates`)).json()) as { templateSets: { name: string; categories: unknown[] }[]; presets: { name: string }[] };
  assert.deepEqual(t.templateSets.map((s) => [s.name, s.categories.length]), [['rewardbench', 23], ['rmbench', 5], ['dpo', 4]]);
  assert.deepEqual(t.presets.map((p) => p.name), ['paper', 'exact']);

  // the ids are the onnx engine's own encoding of the lib's prompt (paper: the whole prompt with BOS)
  const ok = await post({ instruction: 'Hi', response: 'Hello!', category: 'alpacaeval-easy' });
  assert.equal(ok.status, 200);
  const onnx = await loadOnnxModel(server.model.dir);
  try {
    const s = await pYes(onnx, { instruction: 'Hi', response: 'Hello!', category: 'alpacaeval-easy' });
    assert.equal(ok.json.prompt, s.prompt);
    assert.deepEqual(ok.json.ids, onnx.encode(s.prompt));
    assert.deepEqual((ok.json.yes as { ids: number[] }).ids, onnx.encode(' Yes', { addSpecialTokens: false }));
  } finally {
    onnx.dispose();
  }
});

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) assert.fail(`Chromium not found at ${CHROMIUM}: install it with \`bash scripts/setup.sh\` (as root), or set CHROMIUM_PATH`);
  try {
    return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  } catch (e) {
    assert.fail(`cannot launch Chromium at ${CHROMIUM}: ${String((e as Error).message).split('\n')[0]} (reinstall it with \`bash scripts/setup.sh\` as root)`);
  }
}

const byId = (id: string) => `[data-testid="${id}"]`;

/** Click score and wait for the page's run counter to reach `run`; returns what the page shows. */
async function scoreOnPage(page: Page, preset: IpoPreset, run: number) {
  await page.selectOption(byId('preset'), preset);
  await page.click(byId('score'));
  await page.waitForSelector(`${byId('status')}[data-run="${run}"]`, { timeout: 30_000 });
  const status = await page.getAttribute(byId('status'), 'data-state');
  assert.equal(status, 'done', `page status: ${await page.textContent(byId('status'))}`);
  const num = async (id: string) => Number(await page.getAttribute(byId(id), 'data-value'));
  return {
    a: await num('score-a'),
    b: await num('score-b'),
    preferred: await page.getAttribute(byId('preferred'), 'data-value'),
    promptA: await page.textContent(byId('prompt-a')),
    promptB: await page.textContent(byId('prompt-b')),
    tokensA: Number(await page.getAttribute(byId('tokens-a'), 'data-count')),
    topRowsA: await page.locator(`${byId('top-tokens-a')} tr[data-id]`).count(),
  };
}

/** P(Yes) of both responses from the Node engines: onnx on the very folder the page loads, tf on the safetensors. */
async function nodeScores() {
  const tensorsBefore = tf.memory().numTensors;
  const onnx = await loadOnnxModel(server.model.dir);
  const out = {} as Record<IpoPreset, { onnx: [number, number]; tf: [number, number]; prompts: [string, string]; tokens: number }>;
  try {
    const tfm = await loadTfModel('tinystories-656k');
    try {
      for (const preset of ['paper', 'exact'] as const) {
        const opts = { preset, templateSet: 'rewardbench' as const };
        const item = (response: string) => ({ instruction: ITEM.instruction, response, category: ITEM.category });
        const [oa, ob, ta, tb] = [await pYes(onnx, item(ITEM.a), opts), await pYes(onnx, item(ITEM.b), opts), await pYes(tfm, item(ITEM.a), opts), await pYes(tfm, item(ITEM.b), opts)];
        out[preset] = { onnx: [oa.pYes, ob.pYes], tf: [ta.pYes, tb.pYes], prompts: [oa.prompt, ob.prompt], tokens: oa.promptTokens };
      }
    } finally {
      tfm.dispose();
    }
  } finally {
    onnx.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the tf engine left tensors behind');
  return out;
}

test('the page runs the model in the browser and its P(Yes) equals the Node engines\' (paper and exact, 1e-4)', { timeout: 120_000 }, async () => {
  const browser = await launch(); // first, so a machine without Chromium fails at once, in one line
  const problems: string[] = [];
  try {
    const expected = await nodeScores();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console.error: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    // offline by construction: any request that leaves this server is a failure
    await page.route('**/*', (route) => (route.request().url().startsWith(server.url) ? route.continue() : route.abort()));
    await page.goto(server.url);
    await page.waitForSelector(`${byId('status')}[data-state="ready"], ${byId('status')}[data-state="error"]`, { timeout: 30_000 });
    assert.equal(await page.getAttribute(byId('status'), 'data-state'), 'ready', `page status: ${await page.textContent(byId('status'))}`);

    await page.fill(byId('instruction'), ITEM.instruction);
    await page.fill(byId('response-a'), ITEM.a);
    await page.fill(byId('response-b'), ITEM.b);
    await page.selectOption(byId('category'), `${ITEM.templateSet}:${ITEM.category}`);

    let run = 0;
    for (const preset of ['paper', 'exact'] as const) {
      const shown = await scoreOnPage(page, preset, ++run);
      const e = expected[preset];
      for (const [k, i] of [['a', 0], ['b', 1]] as const) {
        for (const engine of ['onnx', 'tf'] as const) {
          const diff = Math.abs(shown[k] - e[engine][i]);
          assert.ok(diff < 1e-4, `${preset}: page P(Yes) of response ${k.toUpperCase()} ${shown[k]} vs the ${engine} engine's ${e[engine][i]} (|diff| ${diff})`);
        }
      }
      assert.ok(e.onnx[0] !== e.onnx[1], `${preset}: the two responses tie, the check of 'preferred' would be vacuous`);
      assert.equal(shown.preferred, e.onnx[0] > e.onnx[1] ? 'A' : 'B', `${preset}: preferred`);
      assert.equal(shown.promptA, e.prompts[0], `${preset}: the prompt shown is the lib's`);
      assert.equal(shown.promptB, e.prompts[1]);
      assert.equal(shown.tokensA, e.tokens, `${preset}: the tokens shown are the ones the model is conditioned on`);
      assert.equal(shown.topRowsA, 10, 'top 10 next tokens');
    }
    mkdirSync(join(repoRoot(), 'reports', 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(repoRoot(), 'reports', 'test-artifacts', 'web-page.png'), fullPage: true });
  } finally {
    await browser.close();
  }
  assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
});
