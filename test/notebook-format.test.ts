/**
 * Issue 11 part 6: committed notebooks read well where they are shown without horizontal scrolling (GitHub,
 * nbconvert HTML, the classic Notebook), and nothing committed holds an absolute path of the machine that made it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const notebooks = readdirSync('notebooks').filter((f) => f.endsWith('.ipynb')).map((f) => join('notebooks', f));
interface Cell { cell_type: string; source: string | string[]; outputs?: unknown[] }
const cells = (file: string): Cell[] => (JSON.parse(readFileSync(file, 'utf8')) as { cells: Cell[] }).cells;
const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join('') : c.source);

test('notebook code cells are prettier-formatted at 100 columns; longer lines are only unbreakable strings', () => {
  const r = spawnSync(process.execPath, ['scripts/format-notebooks.mjs', '--check', ...notebooks], { encoding: 'utf8' });
  assert.equal(r.status, 0, `run: node scripts/format-notebooks.mjs notebooks/*.ipynb\n${r.stdout}${r.stderr}`);
  const long: string[] = [];
  for (const f of notebooks) {
    for (const c of cells(f)) {
      if (c.cell_type !== 'code') continue;
      for (const line of text(c).split('\n')) {
        // prettier never breaks a string or template literal, nor a comment after code; anything else must fit
        if (line.length > 100 && !/['"`]|\/\/ /.test(line)) long.push(`${f}: ${line.trim().slice(0, 80)}…`);
      }
    }
  }
  assert.deepEqual(long, []);
});

test('committed notebooks, lib/ and docs/ hold no absolute path of the machine they were made on', () => {
  const ABS = /(?:\/work\/|\/home\/[a-z]|\/root\/|\/tmp\/ipo-|\/private\/var\/|[A-Z]:\\\\Users)/;
  const hits: string[] = [];
  for (const f of notebooks) {
    cells(f).forEach((c, i) => {
      const blob = text(c) + JSON.stringify(c.outputs ?? []);
      const m = ABS.exec(blob);
      if (m) hits.push(`${f} cell ${i}: …${blob.slice(Math.max(0, m.index - 40), m.index + 40)}…`);
    });
  }
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  for (const f of [...walk('lib'), ...walk('docs').filter((p) => !p.startsWith(join('docs', 'api'))), 'README.md']) {
    const s = readFileSync(f, 'utf8');
    const m = ABS.exec(s);
    if (m) hits.push(`${f}: …${s.slice(Math.max(0, m.index - 40), m.index + 40)}…`);
  }
  assert.deepEqual(hits, []);
});
