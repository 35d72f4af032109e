/**
 * Tables and markdown that look right both in a tslab notebook and in a terminal.
 *
 * - `showTable(dfOrRows, { caption })`: in tslab an HTML table (every cell HTML-escaped); in a terminal danfo's
 *   own `print()` for DataFrames, `console.table` for arrays of plain objects. Numbers are shown with at most
 *   4 decimals (`formatNumber`).
 * - `showMarkdown(text)`: tslab markdown output, or the raw text in a terminal.
 *
 * danfojs is only used through the DataFrame you pass (type-only import), so importing this file stays cheap.
 * Imported by notebooks through tslab: no `import.meta`, no top-level `require`, lib imports extensionless.
 */
import { escapeHtml, getTslab } from './notebook';

export { escapeHtml };

/** The parts of a danfojs `DataFrame` used here (a danfo DataFrame satisfies it). */
export interface DataFrameLike {
  columns: string[];
  index: Array<string | number>;
  values: unknown[];
  print(): void;
}

export type Row = Record<string, unknown>;

export interface TableOptions {
  caption?: string;
  /** Maximum decimals for numbers (default 4). */
  digits?: number;
  /** Show at most this many rows (default 200); the rest is summarised in one line. */
  maxRows?: number;
  /** Show the DataFrame index as the first column (default true for DataFrames). */
  showIndex?: boolean;
}

/**
 * A number with at most `digits` decimals and no trailing zeros: `1/3 → "0.3333"`, `2.5 → "2.5"`, `12 → "12"`,
 * `-0.00001 → "-1e-5"` (values that would round to 0 keep 2 significant digits in exponent form),
 * `NaN → "NaN"`, `Infinity → "Infinity"`.
 */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return Object.is(x, -0) ? '0' : String(x);
  const abs = Math.abs(x);
  if (abs < 0.5 * 10 ** -digits) {
    return x.toExponential(1).replace(/\.0e/, 'e').replace(/e\+?/, 'e');
  }
  if (abs >= 1e15) return String(x);
  const s = x.toFixed(digits).replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
}

/** The number rounded the same way as `formatNumber` (for terminal tables, which print numbers unquoted). */
export function roundNumber(x: number, digits = 4): number {
  return Number.isFinite(x) ? Number(formatNumber(x, digits)) : x;
}

/** Text of one cell: numbers via `formatNumber`, null/undefined empty, objects as JSON. */
export function formatCell(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return formatNumber(v, digits);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** True for a danfojs DataFrame (duck-typed: `columns`, `index`, `values`, `print`). */
export function isDataFrame(x: unknown): x is DataFrameLike {
  const o = x as Partial<DataFrameLike> | null;
  return !!o && typeof o === 'object' && !Array.isArray(o) && Array.isArray(o.columns) && Array.isArray(o.values)
    && Array.isArray(o.index) && typeof o.print === 'function';
}

interface Grid {
  columns: string[];
  rows: unknown[][];
}

function toGrid(data: DataFrameLike | Row[], showIndex: boolean): Grid {
  if (isDataFrame(data)) {
    const cols = data.columns.map(String);
    const vals = data.values.map((r) => (Array.isArray(r) ? r : [r]));
    return showIndex
      ? { columns: ['', ...cols], rows: vals.map((r, i) => [data.index[i], ...r]) }
      : { columns: cols, rows: vals };
  }
  if (!Array.isArray(data)) throw new TypeError('showTable: expected a danfojs DataFrame or an array of plain objects');
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of data) {
    for (const k of Object.keys(r ?? {})) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  return { columns, rows: data.map((r) => columns.map((c) => (r ?? {})[c])) };
}

/** The HTML `<table>` that `showTable` displays in a notebook (all text escaped). */
export function tableHtml(data: DataFrameLike | Row[], opts: TableOptions = {}): string {
  const digits = opts.digits ?? 4;
  const maxRows = opts.maxRows ?? 200;
  const grid = toGrid(data, opts.showIndex ?? isDataFrame(data));
  const numeric = grid.columns.map((_, j) => grid.rows.length > 0 && grid.rows.every((r) => typeof r[j] === 'number' || r[j] == null));
  const shown = grid.rows.slice(0, maxRows);
  const td = (tag: 'td' | 'th', v: unknown, j: number) =>
    `<${tag}${numeric[j] ? ' style="text-align:right"' : ''}>${escapeHtml(formatCell(v, digits))}</${tag}>`;
  const out: string[] = ['<table class="ipo-table">'];
  if (opts.caption) out.push(`<caption>${escapeHtml(opts.caption)}</caption>`);
  out.push('<thead><tr>' + grid.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('') + '</tr></thead>');
  out.push('<tbody>');
  for (const r of shown) out.push('<tr>' + r.map((v, j) => td(j === 0 && isDataFrame(data) && (opts.showIndex ?? true) ? 'th' : 'td', v, j)).join('') + '</tr>');
  out.push('</tbody>');
  if (grid.rows.length > shown.length) {
    out.push(`<tfoot><tr><td colspan="${grid.columns.length}">… ${grid.rows.length - shown.length} more rows (${grid.rows.length} total)</td></tr></tfoot>`);
  }
  out.push('</table>');
  return out.join('');
}

/** Plain rows with numbers rounded like `formatNumber` (what the terminal path prints with `console.table`). */
export function roundRows(rows: Row[], digits = 4): Row[] {
  return rows.map((r) => {
    const o: Row = {};
    for (const [k, v] of Object.entries(r ?? {})) o[k] = typeof v === 'number' ? roundNumber(v, digits) : v;
    return o;
  });
}

function roundedDataFrame(df: DataFrameLike, digits: number): DataFrameLike {
  // Build a copy with rounded numbers through the same class, so danfo's print() does the layout.
  const Ctor = (df as unknown as { constructor: new (data: unknown[], opts: object) => DataFrameLike }).constructor;
  const values = df.values.map((r) => (Array.isArray(r) ? r : [r]).map((v) => (typeof v === 'number' ? roundNumber(v, digits) : v)));
  try {
    return new Ctor(values, { columns: df.columns, index: df.index });
  } catch {
    return df;
  }
}

/**
 * Show a danfojs DataFrame or an array of plain objects: an HTML table in tslab, an aligned text table in a
 * terminal. Returns nothing, so it can end a notebook cell without echoing; `tableHtml` gives the HTML for reports.
 */
export function showTable(data: DataFrameLike | Row[], opts: TableOptions = {}): void {
  const html = tableHtml(data, opts);
  const digits = opts.digits ?? 4;
  const tslab = getTslab();
  if (tslab) {
    tslab.display.html(html);
    return;
  }
  if (opts.caption) console.log(opts.caption);
  const maxRows = opts.maxRows ?? 200;
  if (isDataFrame(data)) {
    roundedDataFrame(data, digits).print();
  } else {
    const rows = roundRows(data.slice(0, maxRows), digits);
    console.table(rows);
    if (data.length > rows.length) console.log(`… ${data.length - rows.length} more rows (${data.length} total)`);
  }
}

/** Show markdown: rendered in tslab, printed as-is in a terminal. */
export function showMarkdown(text: string): void {
  const tslab = getTslab();
  if (tslab) tslab.display.markdown(text);
  else console.log(text);
}

// ---------------------------------------------------------------------------------------------------------------
// plain-text and markdown tables (the bench's reports, CLI output)

/** A number with `sig` significant digits, no exponent for ordinary magnitudes; "—" for NaN / undefined. */
export function fmtSig(x: number | null | undefined, sig = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const decimals = Math.max(0, sig - 1 - mag);
  return x.toFixed(Math.min(decimals, 6));
}

/** Milliseconds as `812 ms` / `1.23 s`. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`;
}

/** Fixed-width text table; `align` per column ('l' or 'r', default: 'l' for the first column, 'r' after). */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const al = (i: number) => align?.[i] ?? (i === 0 ? 'l' : 'r');
  const line = (cells: readonly string[]) => cells.map((c, i) => (al(i) === 'l' ? (c ?? '').padEnd(widths[i]) : (c ?? '').padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** GitHub-flavoured markdown table (cells have `|` escaped). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const esc = (s: string) => (s ?? '').replace(/\|/g, '\\|');
  const al = (i: number) => align?.[i] ?? (i === 0 ? 'l' : 'r');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (al(i) === 'l' ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
