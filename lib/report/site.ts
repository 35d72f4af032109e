/**
 * The static report site (`ipo report`): one offline `index.html` built from the report records
 * (lib/report/records.ts) and the PNG figures, with every table beside the paper's published numbers.
 *
 * One page with a section per record keeps the site a single file to open, mail or archive. Nothing is loaded
 * from outside (inline CSS, no scripts, a Content-Security-Policy that forbids any other origin), so the page
 * reads the same offline years later. Every string from a record is HTML-escaped: records are files anyone
 * may have edited.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { displayPath } from '../util/paths';
import { escapeHtml } from '../util/notebook';
import { loadPaperResults, paperResultsPath, type PaperResults, type PaperRow } from '../eval/paper-results';
import { formatTruncation } from '../eval/truncation-summary';
import { defaultRecordsDir, gitCommit, kitVersion, readReportRecords, reportsDir, type ReportRecord } from './records';

/** What to do when there is nothing to show; the CLI prints the same sentence. */
export const NO_RECORDS_HINT = 'no report records yet: run `npx ipo rewardbench --source rebuilt --limit-per-subset 2` (or `ipo rmbench`, or a notebook) to write some to reports/results/, then `npx ipo report` again';

export interface BuildSiteOptions {
  /** default reports/results */
  recordsDir?: string;
  /** PNGs to copy into the site; default reports/figures */
  figuresDir?: string;
  /** default reports/site */
  outDir?: string;
  /** default data/paper-results.json */
  paperResults?: string;
}

export interface BuildSiteResult {
  index: string;
  outDir: string;
  records: number;
  figures: number;
  /** record files that could not be read, with why */
  skipped: { file: string; reason: string }[];
}

/** Every record field is escaped (text and attributes alike): records are files anyone may have edited. */
const e = (s: unknown) => escapeHtml(String(s));

const CSS = `
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 1.5rem;color:#1d1d1f}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:0 0 .5rem}
code{font:13px ui-monospace,monospace;background:#f3f3f5;padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}
nav ul{columns:2;padding-left:1.2rem}section.record{border-top:1px solid #ddd;padding:1rem 0}
dl.meta{display:grid;grid-template-columns:9rem 1fr;gap:.15rem .8rem;margin:.4rem 0 .8rem}dl.meta dt{color:#666}dl.meta dd{margin:0}
table{border-collapse:collapse;margin:.4rem 0}th,td{border:1px solid #ccc;padding:.2rem .55rem;text-align:right}
th:first-child,td:first-child,td.src{text-align:left}thead th{background:#f3f3f5}
tr.paper td{background:#fbf7ec;font-style:italic}.warn{color:#8a4b00}.muted{color:#666;font-size:.9em}
figure{margin:.6rem 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#666;font-size:.85em}
`;

const fmt = (v: number | null | undefined, digits: number) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');

/** Paper rows for a record, or the reason there are none (shown on the page instead of failing the build). */
function paperRowsFor(rec: ReportRecord, paper: PaperResults | string): { rows: PaperRow[]; table?: PaperResults['tables'][keyof PaperResults['tables']]; why?: string } {
  if (!rec.paper) return { rows: [], why: 'data/paper-results.json has no published numbers for this run' };
  if (typeof paper === 'string') return { rows: [], why: `paper numbers unavailable: ${paper}` };
  const table = paper.tables[rec.paper.table];
  if (!table) return { rows: [], why: `data/paper-results.json has no table '${rec.paper.table}'` };
  const rows = table.rows.filter((r) => (rec.paper!.method === undefined || r.method === rec.paper!.method) && (rec.paper!.model === undefined || r.model === rec.paper!.model));
  return rows.length ? { rows, table } : { rows, table, why: `table '${rec.paper.table}' has no row for ${rec.paper.method ?? ''} ${rec.paper.model ?? ''}`.trim() };
}

/** "exact: a, b · approximate: c": a dozen subsets read better grouped by label than listed one by one. */
function fidelityText(f: Record<string, string>): string {
  const by = new Map<string, string[]>();
  for (const [subset, label] of Object.entries(f)) by.set(String(label), [...(by.get(String(label)) ?? []), subset]);
  return [...by].map(([label, subsets]) => `${label}: ${subsets.join(', ')}`).join(' · ') || '—';
}

function recordTable(rec: ReportRecord, paper: PaperResults | string): string {
  const p = paperRowsFor(rec, paper);
  const cols = [...rec.table.columns, ...(p.table?.columns ?? []).filter((c) => !rec.table.columns.includes(c))];
  const head = `<tr><th>row</th>${cols.map((c) => `<th>${e(c)}</th>`).join('')}<th>n</th><th>source</th><th>confidence</th></tr>`;
  const ours = rec.table.rows.map((r) => `<tr data-row="ours"><td>${e(r.label)}</td>${cols.map((c) => `<td>${fmt(r.values[c], 1)}</td>`).join('')}<td>${r.n ?? '—'}</td><td class="src">this kit</td><td>—</td></tr>`);
  const sources = typeof paper === 'string' ? {} : paper.sources;
  const theirs = p.rows.map((r) => `<tr data-row="paper" class="paper"><td>paper: ${e(r.method)}${r.model ? ` · ${e(r.model)}` : ''}</td>${cols.map((c) => `<td>${fmt(r.values[c], 2)}</td>`).join('')}<td>—</td>`
    + `<td class="src"><a href="${e(sources[r.source]?.url ?? '#')}">${e(r.source)}</a></td><td>${e(r.confidence)}</td></tr>`);
  const caption = `values in %${p.table ? `; paper rows: data/paper-results.json “${e(rec.paper!.table)}” — ${e(p.table.description)}` : ''}`;
  const why = p.why ? `<p class="muted">${e(p.why)}</p>` : '';
  return `<table data-testid="table-${e(rec.id)}"><caption class="muted">${caption}</caption><thead>${head}</thead><tbody>${[...ours, ...theirs].join('')}</tbody></table>${why}`;
}

function figureTag(name: string, caption: string): string {
  return `<figure><img src="figures/${e(encodeURIComponent(name))}" alt="${e(caption)}"><figcaption>${e(caption)}</figcaption></figure>`;
}

function recordSection(rec: ReportRecord, paper: PaperResults | string, figures: Set<string>): string {
  const settings = Object.entries(rec.settings ?? {}).map(([k, v]) => `<code>${e(k)}=${e(JSON.stringify(v))}</code>`).join(' ') || '—';
  const nonOfficial = Object.values(rec.fidelity).some((f) => f !== 'official');
  const notes = [
    ...(nonOfficial ? ['Rebuilt or non-official data: the paper\'s numbers are shown for orientation, not as a like-for-like comparison.'] : []),
    ...(rec.truncation ? [formatTruncation(rec.truncation, String(rec.settings?.truncation ?? 'right'))] : []),
    ...(rec.notes ?? []),
  ];
  const figs = (rec.figures ?? []).map((f) => {
    const name = basename(f);
    return figures.has(name) ? figureTag(name, name) : `<p class="warn">figure ${e(f)} was not found in the figures folder</p>`;
  });
  const meta: [string, string][] = [
    ['model', `<code>${e(rec.model)}</code>`],
    ['data source', `<code>${e(rec.source)}</code>`],
    ['slice', e(rec.slice)],
    ['fidelity', e(fidelityText(rec.fidelity))],
    ['settings', settings],
    ['kit version', `<code>${e(rec.kitVersion)}</code>`],
    ['git commit', `<code data-testid="commit-${e(rec.id)}">${e(rec.gitCommit)}</code>`],
    ['recorded', e(rec.createdAt)],
  ];
  return `<section class="record" id="r-${e(rec.id)}" data-testid="record-${e(rec.id)}"><h2>${e(rec.title)}</h2>`
    + `<p class="muted">${e(rec.kind)} · <code>${e(rec.id)}</code></p>`
    + `<dl class="meta">${meta.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`
    + recordTable(rec, paper)
    + (notes.length ? `<ul>${notes.map((n) => `<li class="warn">${e(n)}</li>`).join('')}</ul>` : '')
    + figs.join('') + '</section>';
}

/** The PNGs of `dir` (not recursive; a missing folder has none). */
function listPngs(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.png') && statSync(join(dir, f)).isFile()).sort();
}

/** Build the site; returns what it wrote. A missing records folder builds a page saying how to make records. */
export function buildReportSite(opts: BuildSiteOptions = {}): BuildSiteResult {
  const recordsDir = opts.recordsDir ?? defaultRecordsDir();
  const figuresDir = opts.figuresDir ?? join(reportsDir(), 'figures');
  const outDir = opts.outDir ?? join(reportsDir(), 'site');
  const { records, skipped } = readReportRecords(recordsDir);
  let paper: PaperResults | string;
  try {
    paper = loadPaperResults(opts.paperResults ?? paperResultsPath());
  } catch (err) {
    paper = (err as Error).message.split('\n')[0];
  }

  try {
    mkdirSync(join(outDir, 'figures'), { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the site folder ${displayPath(outDir)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  // copy the figures; drop PNGs a previous build copied that are gone now, so the site shows only current ones
  const pngs = listPngs(figuresDir);
  const target = join(outDir, 'figures');
  if (resolve(target) !== resolve(figuresDir)) {
    for (const old of listPngs(target)) if (!pngs.includes(old)) rmSync(join(target, old), { force: true });
    for (const f of pngs) copyFileSync(join(figuresDir, f), join(target, f));
  }
  const figureSet = new Set(pngs);
  const claimed = new Set(records.flatMap((r) => (r.figures ?? []).map((f) => basename(f))));
  const others = pngs.filter((f) => !claimed.has(f));

  const p = typeof paper === 'string' ? null : paper.paper;
  const body = [
    `<header><h1>IPO reproduction report</h1>`,
    p ? `<p>Reproducing <a href="${e(p.url)}">${e(p.title)}</a> (${e(p.authors.join(', '))}, arXiv ${e(p.arxiv)}). Paper numbers come from <code>data/paper-results.json</code>, each row with its source and confidence.</p>` : `<p class="warn">${e(paper)}</p>`,
    `<p class="muted">Built from ${records.length} record${records.length === 1 ? '' : 's'} in <code>${e(displayPath(recordsDir))}</code> by kit <code>${e(kitVersion())}</code> at commit <code data-testid="site-commit">${e(gitCommit())}</code>.</p></header>`,
    records.length
      ? `<nav><ul>${records.map((r) => `<li><a href="#r-${e(r.id)}">${e(r.title)}</a></li>`).join('')}</ul></nav>`
      : `<p data-testid="no-records" class="warn">${e(NO_RECORDS_HINT)}.</p>`,
    `<main>${records.map((r) => recordSection(r, paper, figureSet)).join('')}</main>`,
    others.length ? `<section id="figures"><h2>Other figures</h2>${others.map((f) => figureTag(f, f)).join('')}</section>` : '',
    skipped.length ? `<footer><h2>Skipped record files</h2><ul>${skipped.map((s) => `<li class="warn"><code>${e(s.file)}</code>: ${e(s.reason)}</li>`).join('')}</ul></footer>` : '',
  ].join('\n');
  // CSP: nothing but this file's own images and inline style, so an offline page can never reach out
  const html = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'">`
    + `<title>IPO reproduction report</title><style>${CSS}</style></head><body>\n${body}\n</body></html>\n`;
  const index = join(outDir, 'index.html');
  writeFileSync(index, html);
  return { index, outDir, records: records.length, figures: pngs.length, skipped };
}
