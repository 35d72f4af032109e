/**
 * Static Plotly rendering (PNG / SVG) through headless Debian `chromium` + playwright-core (stack-recipe §9).
 *
 * - PNG bytes are identical across runs; SVG is made byte-stable by fixed trace uids (`t0`, `t1`, …) and a
 *   pinned defs id (`000000`).
 * - `renderFigures` reuses one browser (and one page with Plotly loaded once) for many figures.
 * - `showFigure` is the notebook entry point: renders a PNG, optionally saves it, and displays it in tslab.
 *
 * Imported by notebooks through tslab, so: no `import.meta`, no top-level `require` binding, paths from
 * `process.cwd()` (the kernel cwd is the repo root), lib imports extensionless.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { getTslab } from './notebook';

/** A Plotly figure: `data` is the trace list, `layout` the Plotly layout. */
export interface Figure {
  data: unknown[];
  layout?: Record<string, unknown>;
}

export type ImageFormat = 'png' | 'svg';

export interface RenderOptions<F extends ImageFormat = ImageFormat> {
  format: F;
  /** Pixels (default 640). */
  width?: number;
  /** Pixels (default 400). */
  height?: number;
  /** Chromium binary; default `$CHROMIUM_PATH`, then `/usr/bin/chromium`. */
  executablePath?: string;
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium binary that would be used for `executablePath`. */
export function chromiumPath(executablePath?: string): string {
  return executablePath || process.env.CHROMIUM_PATH || '/usr/bin/chromium';
}

function plotlyScriptPath(): string {
  const bases = [join(process.cwd(), 'package.json')];
  // CJS (tslab) has __filename; under tsx/ESM it is undefined and the cwd base must do.
  if (typeof __filename === 'string') bases.push(__filename);
  for (const base of bases) {
    try {
      return createRequire(base).resolve('plotly.js-dist');
    } catch {
      // next base
    }
  }
  throw new Error(`plot: cannot resolve 'plotly.js-dist' from ${process.cwd()} (run from the repo root after npm ci)`);
}

async function launch(executablePath?: string): Promise<Browser> {
  const exe = chromiumPath(executablePath);
  if (!existsSync(exe)) {
    throw new Error(`plot: Chromium not found at "${exe}": install it (apt-get install chromium) or pass executablePath / set CHROMIUM_PATH`);
  }
  try {
    return await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS });
  } catch (e) {
    const first = String((e as Error)?.message ?? e).split('\n').find((l) => l.trim()) ?? 'unknown error';
    throw new Error(`plot: cannot launch Chromium at "${exe}": ${first.trim()} (is it a working Chromium? pass executablePath / set CHROMIUM_PATH)`);
  }
}

async function newPlotPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0"><div id="plot"></div></body></html>');
  await page.addScriptTag({ path: plotlyScriptPath() });
  return page;
}

async function renderOnPage(page: Page, fig: Figure, format: ImageFormat, width: number, height: number): Promise<Buffer | string> {
  if (!fig || !Array.isArray(fig.data)) throw new Error('plot: figure must be { data: [...], layout?: {...} }');
  const url = await page.evaluate(
    async ({ data, layout, format, width, height }) => {
      // No DOM globals by name: tslab compiles lib files without the DOM lib.
      const w = globalThis as any;
      const P = w.Plotly;
      const gd = w.document.getElementById('plot');
      const traces = (data as Record<string, unknown>[]).map((t, i) => ({ ...t, uid: `t${i}` }));
      await P.newPlot(gd, traces, layout ?? {}, { staticPlot: true });
      try {
        return (await P.toImage(gd, { format, width, height })) as string;
      } finally {
        P.purge(gd);
      }
    },
    { data: fig.data, layout: fig.layout ?? {}, format, width, height },
  );
  const comma = url.indexOf(',');
  const payload = url.slice(comma + 1);
  if (format === 'png') return Buffer.from(payload, 'base64');
  const svg = url.slice(0, comma).includes(';base64') ? Buffer.from(payload, 'base64').toString('utf8') : decodeURIComponent(payload);
  return pinSvgIds(svg);
}

/** Replace Plotly's random 6-hex figure id (seen as `defs-XXXXXX`, also used in clip ids) with `000000`. */
export function pinSvgIds(svg: string): string {
  const m = /defs-([0-9a-f]{6})/.exec(svg);
  return m ? svg.split(m[1]).join('000000') : svg;
}

/** Render one figure to a PNG `Buffer` or an SVG string. Starts and closes its own browser. */
export async function renderFigure(fig: Figure, opts: RenderOptions<'png'>): Promise<Buffer>;
export async function renderFigure(fig: Figure, opts: RenderOptions<'svg'>): Promise<string>;
export async function renderFigure(fig: Figure, opts: RenderOptions): Promise<Buffer | string>;
export async function renderFigure(fig: Figure, opts: RenderOptions): Promise<Buffer | string> {
  const [out] = await renderFigures([fig], opts);
  return out;
}

/** Render many figures with one browser (and one page); same options for all. */
export async function renderFigures(figs: Figure[], opts: RenderOptions<'png'>): Promise<Buffer[]>;
export async function renderFigures(figs: Figure[], opts: RenderOptions<'svg'>): Promise<string[]>;
export async function renderFigures(figs: Figure[], opts: RenderOptions): Promise<Array<Buffer | string>>;
export async function renderFigures(figs: Figure[], opts: RenderOptions): Promise<Array<Buffer | string>> {
  const { format, width = 640, height = 400, executablePath } = opts;
  if (format !== 'png' && format !== 'svg') throw new Error(`plot: format must be 'png' or 'svg', got ${String(format)}`);
  if (figs.length === 0) return [];
  const browser = await launch(executablePath);
  try {
    const page = await newPlotPage(browser);
    const out: Array<Buffer | string> = [];
    for (const fig of figs) out.push(await renderOnPage(page, fig, format, width, height));
    return out;
  } finally {
    await browser.close().catch(() => {});
  }
}

export interface SaveOptions {
  width?: number;
  height?: number;
  executablePath?: string;
}

/** Render a PNG and write it to `path` (relative paths from the cwd = repo root), creating the folder. */
export async function savePng(fig: Figure, path: string, opts: SaveOptions = {}): Promise<Buffer> {
  const png = await renderFigure(fig, { ...opts, format: 'png' });
  writePng(path, png);
  return png;
}

function writePng(path: string, png: Buffer): void {
  const abs = resolve(process.cwd(), path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, png);
}

export interface ShowOptions extends SaveOptions {
  /** Also write the PNG here (relative to the repo root). */
  pngPath?: string;
}

/**
 * Notebook helper: render a PNG, optionally save it (`pngPath`), and display it inline when running in
 * tslab (`display.png`). Outside a notebook it only renders (and saves). Returns nothing, so it can end a
 * notebook cell without echoing the bytes; use `renderFigure` / `savePng` for the PNG itself.
 */
export async function showFigure(fig: Figure, opts: ShowOptions = {}): Promise<void> {
  const { pngPath, ...render } = opts;
  const png = await renderFigure(fig, { ...render, format: 'png' });
  if (pngPath) writePng(pngPath, png);
  const tslab = getTslab();
  if (tslab) tslab.display.png(png);
}
