/**
 * lib/data/rewardbench.ts (+ rewardbench-rebuild.ts, rows.ts): the offline rebuild (counts, fidelity, ids), seeded
 * slicing, `.jsonl` / `.json` / `.parquet` files with malformed rows, and the hub splits (offline error, cached copy,
 * download from a loopback mock of the hub's dataset endpoints).
 *
 * hyparquet-writer is not installed, so the test writes its parquet files with the small writer below (PLAIN
 * encoding, uncompressed, one row group, thrift compact metadata), which hyparquet then reads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  loadRewardBench, findCachedSplit, readRecordsFile, REWARDBENCH_SUBSETS, REBUILT_FIDELITY, REBUILD_MISSING_SUBSETS,
  type RewardBenchRow,
} from '../lib/data/rewardbench.ts';
import { parseCsv, sliceStratified } from '../lib/data/rows.ts';
import { findAsset } from '../lib/util/paths.ts';

const ENV_KEYS = ['HF_HUB_CACHE', 'HF_HOME', 'HF_ENDPOINT', 'HF_TOKEN', 'IPO_OFFLINE', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'];
const savedEnv = new Map(ENV_KEYS.map((k) => [k, process.env[k]]));
let tmp = '';

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ipo-rb-'));
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.HF_HUB_CACHE = join(tmp, 'hub');
});
after(() => {
  for (const [k, v] of savedEnv) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function counts(rows: readonly RewardBenchRow[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of rows) c[r.subset] = (c[r.subset] ?? 0) + 1;
  return c;
}

// ---------------------------------------------------------------------------------------------------------------
// A minimal parquet writer: required INT64 `id`, optional (nullable) UTF8 byte-array columns.

type TV = { t: 'i32' | 'i64'; v: number } | { t: 'bin'; v: string } | { t: 'struct'; v: [number, TV][] } | { t: 'list'; et: 'i32' | 'bin' | 'struct'; v: TV[] };
const TCODE = { i32: 5, i64: 6, bin: 8, list: 9, struct: 12 } as const;

function varint(out: number[], n: bigint): void {
  while (n >= 0x80n) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
}
const zigzag = (n: number) => (n >= 0 ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n);

function thrift(out: number[], v: TV): void {
  if (v.t === 'i32' || v.t === 'i64') varint(out, zigzag(v.v));
  else if (v.t === 'bin') {
    const b = Buffer.from(v.v, 'utf8');
    varint(out, BigInt(b.length));
    out.push(...b);
  } else if (v.t === 'list') {
    if (v.v.length < 15) out.push((v.v.length << 4) | TCODE[v.et]);
    else {
      out.push(0xf0 | TCODE[v.et]);
      varint(out, BigInt(v.v.length));
    }
    v.v.forEach((x) => thrift(out, x));
  } else {
    let last = 0;
    for (const [id, x] of (v as Extract<TV, { t: 'struct' }>).v) {
      out.push(((id - last) << 4) | TCODE[x.t]);
      last = id;
      thrift(out, x);
    }
    out.push(0);
  }
}
const i32 = (v: number): TV => ({ t: 'i32', v });
const i64 = (v: number): TV => ({ t: 'i64', v });
const str = (v: string): TV => ({ t: 'bin', v });
const struct = (...v: [number, TV][]): TV => ({ t: 'struct', v });
const enc = (v: TV) => {
  const o: number[] = [];
  thrift(o, v);
  return Buffer.from(o);
};

const TEXT_COLS = ['prompt', 'chosen', 'chosen_model', 'rejected', 'rejected_model', 'subset'] as const;

function writeParquet(path: string, rows: { id: number; [k: string]: string | number | null }[]): void {
  const chunks: Buffer[] = [Buffer.from('PAR1')];
  let offset = 4;
  const columns: TV[] = [];
  const add = (name: string, type: number, data: Buffer) => {
    const header = enc(struct([1, i32(0)], [2, i32(data.length)], [3, i32(data.length)],
      [5, struct([1, i32(rows.length)], [2, i32(0)], [3, i32(3)], [4, i32(3)])]));
    const size = header.length + data.length;
    columns.push(struct([2, i64(offset)], [3, struct([1, i32(type)], [2, { t: 'list', et: 'i32', v: [i32(0), i32(3)] }],
      [3, { t: 'list', et: 'bin', v: [str(name)] }], [4, i32(0)], [5, i64(rows.length)], [6, i64(size)], [7, i64(size)], [9, i64(offset)])]));
    chunks.push(header, data);
    offset += size;
  };
  const ids = Buffer.alloc(8 * rows.length);
  rows.forEach((r, k) => ids.writeBigInt64LE(BigInt(r.id), 8 * k));
  add('id', 2, ids);
  for (const col of TEXT_COLS) {
    // definition levels (RLE, bit width 1: one run per value), then the non-null values, PLAIN byte arrays
    const levels: number[] = [];
    const values: Buffer[] = [];
    for (const r of rows) {
      const v = r[col];
      levels.push(2, v === null || v === undefined ? 0 : 1);
      if (v !== null && v !== undefined) {
        const b = Buffer.from(String(v), 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length);
        values.push(len, b);
      }
    }
    const lv = Buffer.from(levels);
    const lvLen = Buffer.alloc(4);
    lvLen.writeUInt32LE(lv.length);
    add(col, 6, Buffer.concat([lvLen, lv, ...values]));
  }
  const schema: TV[] = [struct([4, str('schema')], [5, i32(1 + TEXT_COLS.length)]), struct([1, i32(2)], [3, i32(0)], [4, str('id')])];
  for (const col of TEXT_COLS) schema.push(struct([1, i32(6)], [3, i32(1)], [4, str(col)], [6, i32(0)]));
  const meta = enc(struct([1, i32(1)], [2, { t: 'list', et: 'struct', v: schema }], [3, i64(rows.length)],
    [4, { t: 'list', et: 'struct', v: [struct([1, { t: 'list', et: 'struct', v: columns }], [2, i64(offset - 4)], [3, i64(rows.length)])] }]));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(meta.length);
  chunks.push(meta, len, Buffer.from('PAR1'));
  writeFileSync(path, Buffer.concat(chunks));
}

const OFFICIAL_LIKE = [
  { id: 30, prompt: 'Say hi.', chosen: 'Hi!', chosen_model: 'gpt4', rejected: 'No.', rejected_model: 'alpaca-7b', subset: 'alpacaeval-easy' },
  { id: 31, prompt: null, chosen: 'x', chosen_model: 'a', rejected: 'y', rejected_model: 'b', subset: 'alpacaeval-easy' },
  { id: 2_000_000_001, prompt: 'Write f.', chosen: 'def f(): return 1', chosen_model: 'human', rejected: 'def f(): return 2', rejected_model: 'human', subset: 'hep-python' },
  { id: 33, prompt: 'Ünïcode ✓', chosen: '答え', chosen_model: null, rejected: '', rejected_model: null, subset: 'llmbar-natural' },
  { id: 34, prompt: 'Custom?', chosen: 'yes', chosen_model: 'm1', rejected: 'no', rejected_model: 'm2', subset: 'my-own-subset' },
];

// ---------------------------------------------------------------------------------------------------------------

describe('rebuilt', () => {
  test('per-subset counts, fidelity, missing subsets, description', async () => {
    const d = await loadRewardBench({ source: 'rebuilt' });
    assert.equal(d.source, 'rebuilt');
    assert.deepEqual(d.files, []);
    assert.deepEqual(counts(d.rows), {
      'alpacaeval-easy': 100, 'alpacaeval-length': 95, 'alpacaeval-hard': 95,
      'llmbar-natural': 100, 'llmbar-adver-neighbor': 134, 'llmbar-adver-GPTInst': 92, 'llmbar-adver-GPTOut': 47, 'llmbar-adver-manual': 46,
      'xstest-should-refuse': 131, 'xstest-should-respond': 161,
      'hep-cpp': 164, 'hep-go': 164, 'hep-java': 164, 'hep-js': 164, 'hep-python': 164, 'hep-rust': 164,
    });
    assert.equal(d.rows.length, 1985);
    for (const s of Object.keys(counts(d.rows))) {
      const want = s.startsWith('llmbar-') ? 'exact' : s.startsWith('hep-') ? 'near-exact' : 'approximate';
      assert.equal(d.fidelity[s], want, s);
    }
    assert.deepEqual(d.fidelity, REBUILT_FIDELITY);
    const missing = ['mt-bench-easy', 'mt-bench-med', 'mt-bench-hard', 'refusals-dangerous', 'refusals-offensive', 'donotanswer', 'math-prm'];
    assert.deepEqual([...d.missingSubsets].sort(), [...missing].sort());
    assert.deepEqual([...REBUILD_MISSING_SUBSETS].sort(), [...missing].sort());
    assert.equal(d.malformed.count, 0);
    assert.match(d.description, /not comparable to RewardBench leaderboard or paper numbers/);
    // rows come in the official subset order
    const order = [...new Set(d.rows.map((r) => r.subset))];
    assert.deepEqual(order, REWARDBENCH_SUBSETS.filter((s) => order.includes(s)));
  });

  test('rows are well formed: chosen ≠ rejected, non-empty text, unique stable ids', async () => {
    const a = await loadRewardBench({ source: 'rebuilt' });
    const b = await loadRewardBench({ source: 'rebuilt', seed: 999 });
    assert.deepEqual(a.rows, b.rows, 'the rebuild does not depend on the seed or the run');
    const ids = new Set<string>();
    for (const r of a.rows) {
      assert.notEqual(r.chosen, r.rejected, String(r.id));
      for (const f of ['prompt', 'chosen', 'rejected'] as const) assert.ok(r[f].trim().length > 0, `${r.id} ${f}`);
      assert.equal(typeof r.id, 'string');
      assert.ok((r.id as string).startsWith(`rebuilt:${r.subset}:`), String(r.id));
      assert.ok(!ids.has(r.id as string), `duplicate ${r.id}`);
      ids.add(r.id as string);
    }
    assert.ok(ids.has('rebuilt:hep-python:Python/0') && ids.has('rebuilt:llmbar-natural:0') && ids.has('rebuilt:xstest-should-refuse:26'));
    const hash = createHash('sha256').update(JSON.stringify(a.rows.map((r) => r.id))).digest('hex');
    assert.equal(hash, createHash('sha256').update(JSON.stringify(b.rows.map((r) => r.id))).digest('hex'));
  });

  test('source mappings: LLMBar chosen = output_{label}, HumanEvalPack instruction + declaration joins, XSTest labels', async () => {
    const d = await loadRewardBench({ source: 'rebuilt', subsets: ['llmbar-adver-GPTOut', 'hep-python', 'hep-go', 'xstest-should-respond', 'xstest-should-refuse', 'mt-bench-easy'] });
    assert.deepEqual(d.missingSubsets, ['mt-bench-easy']);
    const llmbar = JSON.parse(readFileSync(findAsset('rewardbench-sources/llmbar/Adversarial_GPTOut.json'), 'utf8')) as { input: string; output_1: string; output_2: string; label: number }[];
    const gptout = d.rows.filter((r) => r.subset === 'llmbar-adver-GPTOut');
    gptout.forEach((r, i) => {
      assert.equal(r.prompt, llmbar[i].input);
      assert.equal(r.chosen, llmbar[i].label === 1 ? llmbar[i].output_1 : llmbar[i].output_2);
      assert.equal(r.rejected, llmbar[i].label === 1 ? llmbar[i].output_2 : llmbar[i].output_1);
    });
    const hep = JSON.parse(readFileSync(findAsset('rewardbench-sources/humanevalpack/humanevalpack_go.jsonl'), 'utf8').split('\n')[0]);
    const go0 = d.rows.find((r) => r.id === 'rebuilt:hep-go:Go/0')!;
    assert.equal(go0.prompt, hep.instruction);
    assert.equal(go0.chosen, hep.declaration + hep.canonical_solution);
    assert.equal(go0.rejected, hep.declaration + hep.buggy_solution);
    const bare = await loadRewardBench({ source: 'rebuilt', subsets: ['hep-go'], hepJoin: 'solution' });
    assert.equal(bare.rows[0].chosen, hep.canonical_solution);
    // XSTest: safe prompts for should-respond, contrast (unsafe) prompts for should-refuse
    const prompts = new Map(parseCsv(readFileSync(findAsset('rewardbench-sources/xstest/xstest_prompts.csv'), 'utf8')).slice(1).map((r) => [r[0], r]));
    for (const r of d.rows.filter((x) => x.subset.startsWith('xstest-'))) {
      const p = prompts.get(String(r.id).split(':')[2])!;
      assert.equal(r.prompt, p[1]);
      assert.equal(p[3], r.subset === 'xstest-should-respond' ? 'safe' : 'unsafe');
      assert.notEqual(r.chosen_model, r.rejected_model);
    }
  });

  test('limitPerSubset: seeded, stratified, order-preserving', async () => {
    const full = await loadRewardBench({ source: 'rebuilt' });
    const pos = new Map(full.rows.map((r, i) => [r.id, i]));
    const a = await loadRewardBench({ source: 'rebuilt', limitPerSubset: 10 });
    const a2 = await loadRewardBench({ source: 'rebuilt', limitPerSubset: 10, seed: 42 });
    const b = await loadRewardBench({ source: 'rebuilt', limitPerSubset: 10, seed: 7 });
    assert.deepEqual(a.rows, a2.rows, 'default seed is 42 and the slice is deterministic');
    assert.notDeepEqual(a.rows.map((r) => r.id), b.rows.map((r) => r.id));
    for (const d of [a, b]) {
      assert.equal(d.rows.length, 16 * 10);
      for (const n of Object.values(counts(d.rows))) assert.equal(n, 10);
      const p = d.rows.map((r) => pos.get(r.id)!);
      assert.deepEqual(p, [...p].sort((x, y) => x - y), 'original order kept');
    }
    assert.deepEqual(a.fidelity, full.fidelity);
    assert.match(a.description, /at most 10 per subset \(seed 42\)/);
    // subsets at or under the limit stay whole; one subset's pick does not depend on the others loaded
    const c = await loadRewardBench({ source: 'rebuilt', limitPerSubset: 50 });
    assert.equal(counts(c.rows)['llmbar-adver-manual'], 46);
    assert.equal(counts(c.rows)['hep-js'], 50);
    const only = await loadRewardBench({ source: 'rebuilt', limitPerSubset: 10, subsets: ['hep-js'] });
    assert.deepEqual(only.rows, a.rows.filter((r) => r.subset === 'hep-js'));
    assert.throws(() => sliceStratified(full.rows, -1), /non-negative integer/);
  });
});

describe('files', () => {
  test('.jsonl: malformed rows are counted with reasons and dropped, unknown subsets kept', async () => {
    const lines = [
      JSON.stringify({ id: 'a', prompt: 'P1', chosen: 'C1', rejected: 'R1', chosen_model: 'm', rejected_model: 'n', subset: 'hep-cpp' }),
      JSON.stringify({ id: 'b', chosen: 'C2', rejected: 'R2', subset: 'hep-cpp' }),
      '{"id": "c", "prompt": "P3", broken',
      '',
      JSON.stringify({ id: 'd', prompt: 'P4', chosen: '', rejected: 'R4', subset: 'hep-cpp' }),
      JSON.stringify({ id: 'e', prompt: 'P5', chosen: 'C5', rejected: 5, subset: 'hep-cpp' }),
      JSON.stringify({ id: 'f', prompt: '  ', chosen: 'C6', rejected: 'R6', subset: 'hep-cpp' }),
      JSON.stringify({ prompt: 'P7', chosen: 'C7', rejected: 'R7', subset: 'a-new-subset' }),
      JSON.stringify(['not', 'an', 'object']),
      JSON.stringify({ id: 'h', prompt: 'P8', chosen: 'C8', rejected: '\n', subset: 'hep-cpp' }),
    ];
    const file = join(tmp, 'rows.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');
    const d = await loadRewardBench({ source: file });
    assert.equal(d.source, 'rows.jsonl', 'a label: the file as the kit prints paths, never absolute');
    assert.deepEqual(d.files, [file]);
    assert.deepEqual(d.rows.map((r) => r.id), ['a', 6]);
    assert.deepEqual(d.rows[1], { id: 6, prompt: 'P7', chosen: 'C7', rejected: 'R7', chosen_model: 'unknown', rejected_model: 'unknown', subset: 'a-new-subset' });
    assert.equal(d.malformed.count, 7);
    const reasons = new Map(d.malformed.examples.map((x) => [x.index, x.reason]));
    // each reason starts with the row's line in the file (the blank line 4 is counted, as an editor shows it)
    assert.equal(reasons.get(1), "line 2: missing field 'prompt'");
    assert.match(reasons.get(2)!, /^line 3: invalid JSON/);
    assert.equal(reasons.get(3), 'line 5: empty chosen');
    assert.equal(reasons.get(4), "line 6: field 'rejected' is number, not a string");
    assert.equal(reasons.get(5), 'line 7: empty prompt');
    assert.equal(reasons.get(7), 'line 9: row is array, not an object');
    assert.equal(reasons.get(8), 'line 10: empty rejected');
    assert.deepEqual(d.fidelity, {}, 'fidelity of a plain file is unknown');
    assert.ok(d.missingSubsets.includes('hep-go') && !d.missingSubsets.includes('hep-cpp'));
    assert.match(d.description, /7 malformed rows dropped/);
    const sub = await loadRewardBench({ source: file, subsets: ['a-new-subset', 'hep-rust'] });
    assert.deepEqual(sub.rows.map((r) => r.id), [6]);
    assert.deepEqual(sub.missingSubsets, ['hep-rust']);
  });

  test('.json array; exported rebuilt rows keep their fidelity; bad files throw', async () => {
    const built = await loadRewardBench({ source: 'rebuilt', subsets: ['llmbar-natural', 'hep-rust'], limitPerSubset: 5 });
    const file = join(tmp, 'rows.json');
    const extra = { id: 9, prompt: 'q', chosen: 'a', rejected: 'b', chosen_model: 'x', rejected_model: 'y', subset: 'donotanswer' };
    writeFileSync(file, JSON.stringify([...built.rows, extra, { id: 10, prompt: 'q', chosen: null, rejected: 'b', subset: 'donotanswer' }]));
    const d = await loadRewardBench({ source: file });
    assert.deepEqual(d.rows, [...built.rows, extra]);
    assert.deepEqual(d.fidelity, { 'llmbar-natural': 'exact', 'hep-rust': 'near-exact' });
    assert.deepEqual(d.malformed, { count: 1, examples: [{ index: 11, reason: "element 12: missing field 'chosen'" }] });
    assert.match(d.description, /not comparable/);

    writeFileSync(join(tmp, 'obj.json'), JSON.stringify({ nope: 1 }));
    await assert.rejects(loadRewardBench({ source: join(tmp, 'obj.json') }), /expected a JSON array/);
    writeFileSync(join(tmp, 'rows.csv'), 'a,b\n');
    await assert.rejects(loadRewardBench({ source: join(tmp, 'rows.csv') }), /unsupported RewardBench file type '\.csv'/);
    await assert.rejects(loadRewardBench({ source: join(tmp, 'absent.jsonl') }), (e: Error) => e.name === 'AssetNotFoundError' && !e.message.includes('\n'));
  });

  test('.parquet (hand-written): nulls are malformed, int64 ids become numbers, unknown subsets kept', async () => {
    const file = join(tmp, 'tiny.parquet');
    writeParquet(file, OFFICIAL_LIKE);
    const { records } = await readRecordsFile(file);
    assert.equal(records.length, 5);
    assert.equal((records[0] as Record<string, unknown>).prompt, 'Say hi.');
    const d = await loadRewardBench({ source: file });
    assert.deepEqual(d.rows, [
      { id: 30, prompt: 'Say hi.', chosen: 'Hi!', chosen_model: 'gpt4', rejected: 'No.', rejected_model: 'alpaca-7b', subset: 'alpacaeval-easy' },
      { id: 2_000_000_001, prompt: 'Write f.', chosen: 'def f(): return 1', chosen_model: 'human', rejected: 'def f(): return 2', rejected_model: 'human', subset: 'hep-python' },
      { id: 34, prompt: 'Custom?', chosen: 'yes', chosen_model: 'm1', rejected: 'no', rejected_model: 'm2', subset: 'my-own-subset' },
    ]);
    assert.deepEqual(d.malformed, { count: 2, examples: [{ index: 1, reason: "row 2: missing field 'prompt'" }, { index: 3, reason: 'row 4: empty rejected' }] });
  });
});

describe('hub splits', () => {
  test('offline with nothing cached: one-line error naming what was looked for and suggesting rebuilt', async () => {
    process.env.IPO_OFFLINE = '1';
    try {
      for (const source of ['filtered', 'raw'] as const) {
        await assert.rejects(loadRewardBench({ source }), (e: Error) => {
          assert.ok(!e.message.includes('\n'), e.message);
          assert.match(e.message, new RegExp(`split '${source}'.*allenai/reward-bench data/${source}-\\*\\.parquet`));
          assert.match(e.message, /datasets--allenai--reward-bench/);
          assert.match(e.message, /--source rebuilt/);
          return true;
        });
      }
    } finally {
      delete process.env.IPO_OFFLINE;
    }
  });

  test('a cached copy (hub cache layout) is used offline, as official data', async () => {
    const cacheRoot = join(tmp, 'cache-offline');
    const snap = join(cacheRoot, 'datasets--allenai--reward-bench', 'snapshots', 'a'.repeat(40), 'data');
    mkdirSync(snap, { recursive: true });
    writeParquet(join(snap, 'filtered-00000-of-00001.parquet'), OFFICIAL_LIKE);
    writeParquet(join(snap, 'train-00000-of-00001.parquet'), OFFICIAL_LIKE.slice(0, 1));   // pre-rename name of raw
    const saved = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = cacheRoot;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const d = await loadRewardBench({ source: 'filtered', limitPerSubset: 1 });
      assert.equal(d.source, 'filtered');
      assert.deepEqual(d.files, [join(snap, 'filtered-00000-of-00001.parquet')]);
      assert.deepEqual(d.rows.map((r) => r.id), [30, 2_000_000_001, 34]);
      assert.deepEqual(d.fidelity, { 'alpacaeval-easy': 'official', 'hep-python': 'official', 'my-own-subset': 'official' });
      assert.equal(d.malformed.count, 2);
      assert.match(d.description, /Official allenai\/reward-bench split 'filtered'/);
      assert.doesNotMatch(d.description, /not comparable/);
      const raw = await loadRewardBench({ source: 'raw' });
      assert.equal(raw.rows.length, 1);
      assert.match(raw.description, /not comparable to the leaderboard/);
      assert.equal(findCachedSplit('filtered', 'b'.repeat(40)), null, 'a commit revision must match its snapshot');
      assert.equal(findCachedSplit('filtered', 'v1.0'), null, 'a tag without refs/ is not guessed');
    } finally {
      process.env.HF_HUB_CACHE = saved;
      delete process.env.HF_HUB_OFFLINE;
    }
  });

  describe('download from HF_ENDPOINT (loopback mock of the dataset endpoints)', () => {
    const SHA = '0123456789abcdef0123456789abcdef01234567';
    const files = new Map<string, Buffer>();
    const requests: { method: string; url: string; auth?: string }[] = [];
    let server: Server;
    let url = '';

    before(async () => {
      const p = join(tmp, 'served.parquet');
      writeParquet(p, OFFICIAL_LIKE);
      files.set('data/filtered-00000-of-00001.parquet', readFileSync(p));
      files.set('data/raw-00000-of-00001.parquet', readFileSync(p));
      files.set('data/train-00000-of-00001.parquet', Buffer.from('stale'));
      const sha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
      server = createServer(async (req, res) => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const path = decodeURIComponent(new URL(req.url ?? '', 'http://x').pathname);
        const json = (status: number, body: unknown) => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        let m: RegExpMatchArray | null;
        const rev = (r: string) => r === 'main' || r === SHA;
        if ((m = path.match(/^\/api\/datasets\/allenai\/reward-bench\/revision\/([^/]+)$/)) && rev(m[1])) return json(200, { _id: 'x', id: 'allenai/reward-bench', sha: SHA, lastModified: '2024-01-01T00:00:00Z' });
        if ((m = path.match(/^\/api\/datasets\/allenai\/reward-bench\/tree\/([^/]+)\/data$/)) && m[1] === SHA) {
          return json(200, [...files].map(([p, b]) => ({ type: 'file', path: p, size: b.length, oid: sha1(b) })));
        }
        if ((m = path.match(/^\/api\/datasets\/allenai\/reward-bench\/paths-info\/([^/]+)$/)) && m[1] === SHA) {
          const want = (JSON.parse(Buffer.concat(chunks).toString()) as { paths: string[] }).paths;
          return json(200, want.filter((p) => files.has(p)).map((p) => ({ type: 'file', path: p, size: files.get(p)!.length, oid: sha1(files.get(p)!), lastCommit: { id: 'f'.repeat(40), title: 't', date: '2024-01-01T00:00:00Z' } })));
        }
        if ((m = path.match(/^\/datasets\/allenai\/reward-bench\/resolve\/([^/]+)\/(.+)$/)) && m[1] === SHA && files.has(m[2])) {
          const data = files.get(m[2])!;
          const range = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
          const head = { 'Content-Type': 'application/octet-stream', ETag: `"${sha1(data)}"`, 'Accept-Ranges': 'bytes' };
          if (range) {
            const start = Number(range[1]);
            const end = Math.min(range[2] ? Number(range[2]) : data.length - 1, data.length - 1);
            res.writeHead(206, { ...head, 'Content-Range': `bytes ${start}-${end}/${data.length}` });
            return void res.end(data.subarray(start, end + 1));
          }
          res.writeHead(200, head);
          return void res.end(data);
        }
        return json(404, { error: `mock: ${req.method} ${path}` });
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
    });

    test('filtered: commit pinned, shard list read, files in snapshots/<commit>/data, refs/main; then served from cache', async () => {
      const saved = process.env.HF_HUB_CACHE;
      const cacheRoot = join(tmp, 'cache-online');
      Object.assign(process.env, { HF_HUB_CACHE: cacheRoot, HF_ENDPOINT: `${url}/`, HF_TOKEN: 'hf_test_token' });
      try {
        const d = await loadRewardBench({ source: 'filtered' });
        const repo = join(cacheRoot, 'datasets--allenai--reward-bench');
        assert.deepEqual(d.files, [join(repo, 'snapshots', SHA, 'data', 'filtered-00000-of-00001.parquet')]);
        assert.equal(readFileSync(join(repo, 'refs', 'main'), 'utf8'), SHA);
        assert.deepEqual(d.rows.map((r) => r.id), [30, 2_000_000_001, 34]);
        assert.ok(requests.length > 0 && requests.every((r) => r.auth === 'Bearer hf_test_token'));
        assert.ok(requests.some((r) => r.url.startsWith('/api/datasets/allenai/reward-bench/tree/')));
        const n = requests.length;
        const again = await loadRewardBench({ source: 'filtered', revision: 'main' });
        assert.deepEqual(again.rows, d.rows);
        assert.equal(requests.length, n, 'the cached copy is reused with no request');
        // raw: the current name is preferred over the stale pre-rename `train` shard
        const raw = await loadRewardBench({ source: 'raw' });
        assert.deepEqual(raw.files, [join(repo, 'snapshots', SHA, 'data', 'raw-00000-of-00001.parquet')]);
        assert.ok(!existsSync(join(repo, 'snapshots', SHA, 'data', 'train-00000-of-00001.parquet')));
        // an unknown revision fails in one line that still points at the rebuild
        await assert.rejects(loadRewardBench({ source: 'filtered', revision: 'no-such-branch' }), (e: Error) => !e.message.includes('\n') && /--source rebuilt/.test(e.message) && /no-such-branch/.test(e.message));
      } finally {
        process.env.HF_HUB_CACHE = saved;
        delete process.env.HF_ENDPOINT;
        delete process.env.HF_TOKEN;
      }
    });
  });
});

test('lib files stay tslab-compatible (no import.meta, no top-level `require` binding) and hyparquet loads via require', async () => {
  for (const f of ['rewardbench.ts', 'rewardbench-rebuild.ts', 'rows.ts']) {
    const src = readFileSync(join('lib', 'data', f), 'utf8');
    assert.doesNotMatch(src, /import\.meta/, f);
    assert.doesNotMatch(src, /^(const|let|var|function)\s+require\b/m, f);
  }
  const { createRequire } = await import('node:module');
  const req = createRequire(join(process.cwd(), 'package.json'));
  assert.equal(typeof req('hyparquet').parquetReadObjects, 'function');
  assert.equal(typeof req('hyparquet-compressors').compressors, 'object');
});
