#!/usr/bin/env node
// Format the TypeScript code cells of notebooks with prettier (printWidth 100), so no line is cut off where a
// notebook is shown without horizontal scrolling (GitHub, nbconvert HTML, the classic Notebook). Only `source`
// fields change: outputs stay as they are. Usage: node scripts/format-notebooks.mjs [--check] notebooks/*.ipynb
import { readFileSync, writeFileSync } from 'node:fs';
import * as prettier from 'prettier';

export const NOTEBOOK_PRETTIER = { parser: 'typescript', printWidth: 100, singleQuote: true, trailingComma: 'all', arrowParens: 'always' };

/** Standalone `//` comment lines longer than the print width are re-wrapped at word boundaries (prettier keeps them). */
function wrapComments(code, width = NOTEBOOK_PRETTIER.printWidth) {
  return code.split('\n').flatMap((line) => {
    const m = /^(\s*)\/\/ (.*)$/.exec(line);
    if (!m || line.length <= width) return [line];
    const [, indent, text] = m;
    const out = [];
    let cur = '';
    for (const word of text.split(' ')) {
      if (cur && indent.length + 3 + cur.length + 1 + word.length > width) {
        out.push(`${indent}// ${cur}`);
        cur = word;
      } else cur = cur ? `${cur} ${word}` : word;
    }
    if (cur) out.push(`${indent}// ${cur}`);
    return out;
  }).join('\n');
}

const args = process.argv.slice(2);
const check = args.includes('--check');
let changed = 0;
for (const file of args.filter((a) => a !== '--check')) {
  const nb = JSON.parse(readFileSync(file, 'utf8'));
  let dirty = false;
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    const src = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    let out;
    try {
      out = src;
      // prettier, then comment wrapping, until nothing changes (a wrapped comment can move prettier's layout once)
      for (let i = 0; i < 4; i++) {
        const next = wrapComments((await prettier.format(out, NOTEBOOK_PRETTIER)).replace(/\n+$/, ''));
        if (next === out) break;
        out = next;
      }
    } catch (e) {
      console.error(`${file}: a code cell does not parse as TypeScript: ${String(e.message).split('\n')[0]}`);
      process.exit(1);
    }
    if (out === src) continue;
    dirty = true;
    const lines = out.split('\n');
    cell.source = lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l));
  }
  if (!dirty) continue;
  changed++;
  if (check) console.log(`would reformat ${file}`);
  else writeFileSync(file, `${JSON.stringify(nb, null, 1)}\n`);
}
if (check && changed) process.exit(1);
console.log(`${changed} notebook(s) ${check ? 'need formatting' : 'formatted'}`);
