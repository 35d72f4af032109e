// Issue 11 part 3: `ipo report` builds one offline HTML site from the report records. A real record comes from a
// tiny RewardBench and RM-Bench run on the embedded model; the site is opened in headless Chromium, which must show
// every record's table (ours beside the paper's), the commit, and load nothing from outside the site folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { chromium } from 'playwright-core';
import { loadTfModel } from '../lib/models/load.ts';
import { runRewardBench } from '../lib/eval/run-rewardbench.ts';
import { runRmBench } from '../lib/eval/run-rmbench.ts';
import { gitCommit, newReportRecord, readReportRecords, recordFromRewardBenchRun, recordFromRmBenchRun, saveReportRecord, type ReportRecord } from '../lib/report/records.ts';
import { buildReportSite } from '../lib/report/site.ts';
import { chromiumPath } from '../lib/util/plot.ts';
import { repoRoot } from '../lib/util/paths.ts';
import { assertOneLineError, ipo, ipoJson } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ipo-report-'));
const recordsDir = join(tmp, 'results');
const figuresDir = join(tmp, 'figures');
mkdirSync(figuresDir);
// a valid 1×1 PNG: enough for the browser to decode, so a blocked or broken image shows up as naturalWidth 0
writeFileSync(join(figuresDir, 'synthetic.png'), Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64'));

const records: ReportRecord[] = [];
test.before(async () => {
  const lm = await loadTfModel('tinystories-656k');
  try {
    const before = tf.memory().numTensors;
    const rb = await runRewardBench(lm, { source: 'rebuilt', limitPerSubset: 1 });
    const rm = await runRmBench(lm, { domains: ['chat'], limitPerDomain: 1 });
    assert.equal(tf.memory().numTensors, before, 'runs leave no tensors behind');
    records.push(recordFromRewardBenchRun(rb), recordFromRmBenchRun(rm));
  } finally {
    lm.dispose();
  }
  // a hand-made record, with markup in its fields that must come out as text
  records.push(newReportRecord({
    id: 'synthetic-dpo', title: 'DPO downstream <script>alert(1)</script>', kind: 'table', model: 'toy & co', source: 'file', slice: '3 prompts',
    fidelity: {}, settings: { beta: 0.1 }, figures: ['reports/figures/synthetic.png', 'reports/figures/absent.png'],
    table: { columns: ['BBH', 'MMLU', 'Avg'], rows: [{ label: 'ours', values: { BBH: 12.5, MMLU: null, Avg: 12.5 }, n: 3 }, { label: 'base', values: { BBH: 10, MMLU: 20, Avg: 15 } }] },
    paper: { table: 'dpoDownstream' },
  }));
  for (const r of records) saveReportRecord(r, recordsDir);
  writeFileSync(join(recordsDir, 'broken.json'), '{"id": "broken", "title": ');
  writeFileSync(join(recordsDir, 'wrong.json'), JSON.stringify({ schema: 1, id: 'wrong', kind: 'rewardbench' }));
});

test('records: the run helpers fill model, source, slice, fidelity, truncation and provenance; writes leave no tmp file', () => {
  const [rb, rm] = records;
  assert.match(rb.id, /^rewardbench-tinystories-656k-ipo-[0-9a-f]{8}$/, 'a stable id from the model name, method and settings');
  assert.equal(rb.kind, 'rewardbench');
  assert.equal(rb.source, 'rebuilt');
  assert.match(rb.slice, /^at most 1 per subset \(seed 42\): \d+ pairs$/);
  assert.ok(Object.values(rb.fidelity).includes('exact'), JSON.stringify(rb.fidelity));
  assert.ok(rb.truncation && rb.truncation.prompts === 2 * rb.table.rows[0].n!, 'truncation counts kept');
  assert.deepEqual(rb.paper, { table: 'rewardbench', method: 'IPO' });
  assert.deepEqual(rm.table.rows.map((r) => r.label), ['chat', 'mean']);
  assert.match(rb.kitVersion, /^\d+\.\d+\.\d+/);
  assert.equal(rb.gitCommit, gitCommit());
  assert.deepEqual(readdirSync(recordsDir).filter((f) => f.endsWith('.tmp')), []);
  assert.throws(() => saveReportRecord({ ...rb, id: '../escape' }, recordsDir), /^Error: report record "\.\.\/escape": id .* not a file-name-safe string$/);
});

test('a corrupt or incomplete record file is skipped with its reason, never fatal', () => {
  const r = readReportRecords(recordsDir);
  assert.equal(r.records.length, records.length);
  assert.deepEqual(r.skipped.map((s) => s.file), ['broken.json', 'wrong.json']);
  assert.match(r.skipped[0].reason, /^not JSON/);
  assert.match(r.skipped[1].reason, /is not a string|table needs/);
  assert.deepEqual(readReportRecords(join(tmp, 'no-such-folder')), { records: [], skipped: [] });
});

test('the site in headless Chromium: every table with its rows, the paper beside ours, the commit, nothing external', async () => {
  const exe = chromiumPath();
  if (!existsSync(exe)) assert.fail(`Chromium not found at ${exe}: run \`bash scripts/setup.sh\` as root (installs Debian chromium) or set CHROMIUM_PATH`);
  const outDir = join(tmp, 'site');
  const built = buildReportSite({ recordsDir, figuresDir, outDir });
  assert.deepEqual({ records: built.records, figures: built.figures, skipped: built.skipped.length }, { records: 3, figures: 1, skipped: 2 });
  assert.ok(existsSync(join(outDir, 'figures', 'synthetic.png')));

  const browser = await chromium.launch({
    executablePath: exe, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const external: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('request', (q) => { if (!q.url().startsWith('file:')) external.push(q.url()); });
    await page.goto(pathToFileURL(built.index).href, { waitUntil: 'load' });

    for (const rec of records) {
      const table = page.getByTestId(`table-${rec.id}`);
      assert.equal(await table.count(), 1, rec.id);
      assert.equal(await table.locator('tbody tr[data-row="ours"]').count(), rec.table.rows.length, rec.id);
      assert.equal((await page.getByTestId(`commit-${rec.id}`).textContent())?.trim(), rec.gitCommit);
    }
    // the paper's rows for IPO (two models) beside the RewardBench run, with source and confidence
    const rbTable = page.getByTestId(`table-${records[0].id}`);
    assert.equal(await rbTable.locator('tr[data-row="paper"]').count(), 2);
    const rbText = (await rbTable.textContent()) ?? '';
    for (const s of ['78.26', '83.13', '96.20', 'papernotes', 'medium']) assert.ok(rbText.includes(s), `RewardBench table shows ${s}`);
    assert.equal(await page.getByTestId(`table-synthetic-dpo`).locator('tr[data-row="paper"]').count(), 3);
    assert.match((await page.getByTestId(`table-${records[1].id}`).locator('..').textContent()) ?? '', /no published numbers/);
    const body = (await page.textContent('body')) ?? '';
    for (const s of ['tinystories-656k', 'rebuilt', 'at most 1 per subset', 'exact:', 'truncated prompts:', 'broken.json', 'absent.png was not found']) assert.ok(body.includes(s), `page shows ${s}`);
    assert.ok(body.includes('DPO downstream <script>alert(1)</script>'), 'markup in a record is shown as text');
    assert.equal(await page.locator('script').count(), 0);
    assert.equal(await page.evaluate(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0)), true, 'figures load');
    mkdirSync(join(repoRoot(), 'reports', 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(repoRoot(), 'reports', 'test-artifacts', 'report-site.png'), fullPage: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(external, []);
  } finally {
    await browser.close();
  }
});

test('ipo report: --json summary, skipped files on stderr, an empty site says how to make records, a bad --out is one line', () => {
  const out = join(tmp, 'cli-site');
  const j = ipoJson<{ index: string; records: number; figures: number; skipped: { file: string }[] }>('report', '--out', out, '--records', recordsDir, '--figures', figuresDir);
  assert.deepEqual({ records: j.records, figures: j.figures, skipped: j.skipped.map((s) => s.file) }, { records: 3, figures: 1, skipped: ['broken.json', 'wrong.json'] });
  assert.equal(j.index, 'index.html', 'a temp path is printed by name only (displayPath)');
  assert.ok(readFileSync(join(out, 'index.html'), 'utf8').includes(`data-testid="table-${records[0].id}"`));
  const text = ipo('report', '--out', out, '--records', recordsDir, '--figures', figuresDir);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^wrote index\.html: 3 records, 1 figure, 2 record files skipped\n$/);
  assert.match(text.stderr, /skipped record broken\.json: not JSON/);

  const empty = ipo('report', '--out', join(tmp, 'empty-site'), '--records', join(tmp, 'none'), '--figures', join(tmp, 'none'));
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout.split('\n').filter(Boolean).length, 1);
  assert.match(empty.stdout, /no report records yet: run `npx ipo rewardbench/);
  assert.match(readFileSync(join(tmp, 'empty-site', 'index.html'), 'utf8'), /data-testid="no-records"/);

  assertOneLineError(ipo('report', '--out', join(tmp, 'cli-site', 'index.html'), '--records', recordsDir), /^ipo: cannot create the site folder index\.html \(E[A-Z]+\)$/);
});
