// `npm run docs:api`: typedoc builds the API reference from the doc comments of lib/index.ts (typedoc.json). This runs the
// same generator into a temporary folder (never docs/api) and checks that it is clean (exit 0, no warning: a broken
// {@link} is a warning) and that key exports have a page carrying their doc comment, read from the source so the test
// follows edits to the comments. typedoc needs TypeScript's classic compiler API, which TypeScript 7 does not ship, so
// it lives with its own TypeScript 6 in tools/typedoc (a `file:` devDependency that npm ci installs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TYPEDOC = join('tools', 'typedoc', 'node_modules', 'typedoc', 'bin', 'typedoc');

/** Key exports: the page folder typedoc gives their kind, and the file their doc comment is written in. */
const KEY_EXPORTS = [
  { name: 'pYes', dir: 'functions', file: 'lib/scoring/yes-no.ts' },
  { name: 'runRewardBench', dir: 'functions', file: 'lib/eval/run-rewardbench.ts' },
  { name: 'loadRewardBench', dir: 'functions', file: 'lib/data/rewardbench.ts' },
  { name: 'dpoLoss', dir: 'functions', file: 'lib/dpo/loss.ts' },
  { name: 'AdamW', dir: 'classes', file: 'lib/dpo/optim.ts' },
  { name: 'PreferencePair', dir: 'interfaces', file: 'lib/data/types.ts' },
] as const;

/** Visible text of an HTML page: no scripts, no tags, entities decoded, whitespace collapsed. */
function pageText(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;|&#x27;/g, "'").replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** First paragraph of the doc comment right above `export … name`, {@link X} written as X. */
function summaryParagraph(file: string, name: string): string {
  const src = readFileSync(file, 'utf8');
  const decl = new RegExp(`/\\*\\*((?:(?!\\*/)[\\s\\S])*)\\*/\\s*export\\s+(?:declare\\s+)?(?:async\\s+)?(?:function|class|interface|type|const)\\s+${name}\\b`);
  const m = decl.exec(src);
  assert.ok(m, `${file} has no doc comment right above the declaration of ${name}`);
  const body = m[1].split('\n').map((l) => l.replace(/^\s*\*\s?/, '')).join('\n').trim();
  return body.split(/\n\s*\n/)[0].replace(/\{@link(?:code|plain)?\s+([^}|\s]+)[^}]*\}/g, '$1').replace(/\s+/g, ' ');
}

test('npm run docs:api: typedoc builds a clean API reference with pages and doc comments for the key exports', () => {
  assert.ok(existsSync(TYPEDOC), `typedoc is not installed (${TYPEDOC} missing): run bash scripts/setup.sh (npm ci with ONNXRUNTIME_NODE_INSTALL=skip)`);
  // names lib/index.ts re-exports in `export { … }` / `export type { … }` lists
  const named = new Set([...readFileSync('lib/index.ts', 'utf8').matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)]
    .flatMap(([, list]) => list.split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!)));
  const out = mkdtempSync(join(tmpdir(), 'ipo-api-docs-'));
  try {
    const r = spawnSync(process.execPath, [TYPEDOC, '--out', out, '--treatWarningsAsErrors'], {
      encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const log = `${r.stdout}${r.stderr}`.trim();
    assert.equal(r.status, 0, `typedoc failed:\n${log}`);
    assert.doesNotMatch(log, /\[(warning|error)\]/, log);

    // the landing page carries lib/index.ts's own comment (@packageDocumentation), its layout table kept preformatted
    const home = readFileSync(join(out, 'index.html'), 'utf8');
    assert.match(pageText(home), /The kit's public API: everything a notebook, script or user imports/);
    assert.match(home, /<pre><code[^>]*>\s*models\s+lib\/models\//);

    for (const { name, dir, file } of KEY_EXPORTS) {
      assert.ok(named.has(name), `lib/index.ts no longer exports ${name} by name; update KEY_EXPORTS`);
      const page = join(out, dir, `${name}.html`);
      assert.ok(existsSync(page), `no API page for ${name} (${dir}/${name}.html)`);
      const html = readFileSync(page, 'utf8');
      const text = pageText(html);
      const summary = summaryParagraph(file, name);
      // compared without whitespace and markdown marks, which rendering moves or turns into tags
      const bare = (s: string) => s.replace(/[\s`*_]+/g, '');
      assert.ok(bare(text).includes(bare(summary)), `${dir}/${name}.html lacks ${name}'s doc comment '${summary}'`);
      if (dir !== 'classes') continue;
      // excludePrivate: a class's public members have an anchor (id="step" for AdamW.step), its private ones none
      assert.match(html, /id="step"/, `${dir}/${name}.html has no anchor for its public method step`);
      for (const [, member] of readFileSync(file, 'utf8').matchAll(/^\s+private\s+(?:readonly\s+)?(\w+)/gm)) {
        assert.ok(!html.includes(`id="${member.toLowerCase()}"`), `${dir}/${name}.html shows private member ${member}`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
