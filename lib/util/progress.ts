/**
 * One progress helper for long loops, in three environments:
 *
 * - **tslab notebook**: one HTML `<progress>` bar that is overwritten in place (`tslab.newDisplay()`), so the
 *   executed notebook keeps only the final state;
 * - **terminal (stderr is a TTY)**: a cli-progress bar on stderr, redrawn at most 10 times a second;
 * - **logs (stderr is not a TTY, e.g. CI)**: plain lines, at most one per 10 % of progress (and at least
 *   `minIntervalMs` apart), plus a heartbeat every `heartbeatMs` when progress is slow; never one per item.
 *
 * `IPO_PROGRESS=0` silences every bar (the counters still work).
 *
 * ```ts
 * const bar = progress({ total: items.length, label: 'scoring' });
 * for (const x of items) { await work(x); bar.tick(1, { info: `loss ${loss.toFixed(3)}` }); }
 * bar.done();
 *
 * for await (const x of withProgress(items, { label: 'scoring' })) await work(x);   // scripts
 * await eachWithProgress(items, async (x) => work(x), { label: 'scoring' });       // tslab cells
 * for (const x of withProgressSync(items, { label: 'scoring' })) work(x);
 * ```
 * (tslab cannot run a top-level `for await`: "SyntaxError: Unexpected reserved word".)
 *
 * Imported by notebooks through tslab, so: no `import.meta`, no top-level `require` binding, lib imports
 * extensionless. The tslab detection lives in `./notebook` (re-exported here).
 */
import { SingleBar } from 'cli-progress';
import { escapeHtml, getTslab, isNotebook, type TslabDisplay } from './notebook';

export { getTslab, isNotebook, type TslabDisplay, type TslabModule } from './notebook';

// ---------------------------------------------------------------------------------------------------------
// formatting
// ---------------------------------------------------------------------------------------------------------

/** `m:ss` or `h:mm:ss`; `--:--` for unknown / infinite. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Items per second as a short string: `123 it/s`, `4.56 it/s`, or `12.3 s/it` when slower than 1 it/s. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '-- it/s';
  if (perSecond >= 100) return `${Math.round(perSecond)} it/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(2)} it/s`;
  return `${(1 / perSecond).toFixed(1)} s/it`;
}

// ---------------------------------------------------------------------------------------------------------
// progress bar
// ---------------------------------------------------------------------------------------------------------

/** Where terminal / log output goes (defaults to `process.stderr`). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressMode = 'auto' | 'notebook' | 'tty' | 'plain' | 'silent';

export interface ProgressOptions {
  /** Number of steps; 0 / undefined = unknown (no percentage or ETA). */
  total?: number;
  /** Short name shown before the bar. */
  label?: string;
  /** Output stream for the terminal and plain modes (default `process.stderr`); injectable for tests. */
  stream?: ProgressStream;
  /** `auto` (default): notebook if inside tslab, else tty if `stream.isTTY`, else plain. */
  mode?: ProgressMode;
  /** Plain mode: minimum time between two lines (default 1000 ms). */
  minIntervalMs?: number;
  /** Plain mode: print a line after this long without one even if progress is < 10 % (default 30 000 ms). */
  heartbeatMs?: number;
  /** Clock in ms (default `Date.now`); injectable for tests. */
  now?: () => number;
}

export interface TickPayload {
  /** Free text shown after the numbers (e.g. the current loss). */
  info?: string;
}

export interface ProgressBar {
  /** Advance by `n` (default 1). */
  tick(n?: number, payload?: TickPayload): void;
  /** Set the absolute value. */
  update(value: number, payload?: TickPayload): void;
  /** Change the total (e.g. once it becomes known). */
  setTotal(total: number): void;
  /** Finish: final render / final line. Idempotent. */
  done(payload?: TickPayload): void;
  readonly value: number;
  readonly total: number;
  /** The mode actually used (after `auto` resolution and `IPO_PROGRESS=0`). */
  readonly mode: Exclude<ProgressMode, 'auto'>;
}

interface Snapshot {
  label: string;
  value: number;
  total: number;
  elapsedS: number;
  rate: number;
  etaS: number;
  info: string;
  finished: boolean;
}

function snapshotLine(s: Snapshot): string {
  const parts: string[] = [];
  if (s.total > 0) {
    const pct = Math.floor((100 * Math.min(s.value, s.total)) / s.total);
    parts.push(`${String(pct).padStart(3)}% ${s.value}/${s.total}`);
  } else {
    parts.push(`${s.value}`);
  }
  parts.push(formatRate(s.rate));
  if (s.finished) parts.push(`done in ${formatDuration(s.elapsedS)}`);
  else {
    parts.push(`elapsed ${formatDuration(s.elapsedS)}`);
    if (s.total > 0) parts.push(`ETA ${formatDuration(s.etaS)}`);
  }
  if (s.info) parts.push(s.info);
  return `${s.label ? s.label + ': ' : ''}${parts.join(' | ')}`;
}

function snapshotHtml(s: Snapshot): string {
  const pct = s.total > 0 ? Math.floor((100 * Math.min(s.value, s.total)) / s.total) : null;
  const bar =
    s.total > 0
      ? `<progress value="${Math.min(s.value, s.total)}" max="${s.total}" style="width:16em;vertical-align:middle"></progress>`
      : '';
  const counts = s.total > 0 ? `${pct}% ${s.value}/${s.total}` : `${s.value}`;
  const times = s.finished
    ? `done in ${formatDuration(s.elapsedS)}`
    : `elapsed ${formatDuration(s.elapsedS)}${s.total > 0 ? `, ETA ${formatDuration(s.etaS)}` : ''}`;
  const label = s.label ? `<b>${escapeHtml(s.label)}</b> ` : '';
  const info = s.info ? ` &middot; ${escapeHtml(s.info)}` : '';
  return (
    `<div style="font-family:monospace;white-space:nowrap">${label}${bar} ${escapeHtml(counts)} ` +
    `[${escapeHtml(times)}, ${escapeHtml(formatRate(s.rate))}]${info}</div>`
  );
}

/** Create a progress bar. Always call `done()` (the loop wrappers do it for you). */
export function progress(opts: ProgressOptions = {}): ProgressBar {
  const now = opts.now ?? Date.now;
  const stream: ProgressStream = opts.stream ?? process.stderr;
  const label = opts.label ?? '';
  const minIntervalMs = opts.minIntervalMs ?? 1000;
  const heartbeatMs = opts.heartbeatMs ?? 30_000;

  let mode: Exclude<ProgressMode, 'auto'>;
  const requested = opts.mode ?? 'auto';
  if (process.env.IPO_PROGRESS === '0') mode = 'silent';
  else if (requested !== 'auto') mode = requested;
  else if (!opts.stream && getTslab()) mode = 'notebook';
  else mode = stream.isTTY ? 'tty' : 'plain';

  let total = Math.max(0, opts.total ?? 0);
  let value = 0;
  let info = '';
  let finished = false;
  const start = now();

  const snap = (): Snapshot => {
    const elapsedS = Math.max(0, (now() - start) / 1000);
    const rate = elapsedS > 0 ? value / elapsedS : 0;
    const etaS = total > 0 && rate > 0 ? Math.max(0, total - value) / rate : NaN;
    return { label, value, total, elapsedS, rate, etaS, info, finished };
  };

  // ---- renderers ----
  let render: (force: boolean) => void = () => {};
  let finish: () => void = () => {};
  let onTotal: () => void = () => {};

  if (mode === 'notebook') {
    const tslab = getTslab();
    let disp: TslabDisplay | null = null;
    try {
      disp = tslab ? tslab.newDisplay() : null;
    } catch {
      disp = null;
    }
    let last = -Infinity;
    render = (force) => {
      if (!disp) return;
      const t = now();
      if (!force && t - last < 250) return;
      last = t;
      try {
        disp.html(snapshotHtml(snap()));
      } catch {
        disp = null; // display not ready (e.g. called outside a cell): give up quietly
      }
    };
    finish = () => render(true);
  } else if (mode === 'tty') {
    const fmt = `${label ? label.replace(/[{}]/g, '') + ' ' : ''}${total > 0 ? '[{bar}] {pct} ' : ''}{counts} | {rate} | {times}{info}`;
    const bar = new SingleBar({
      stream: stream as unknown as NodeJS.WritableStream,
      format: fmt,
      fps: 10,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      barCompleteChar: '█',
      barIncompleteChar: '░',
    });
    // cli-progress keeps a redraw timer; unref it so a forgotten done() cannot keep the process alive.
    const internal = bar as unknown as { render: () => void; timer: { unref?: () => void } | null };
    const origRender = internal.render.bind(bar);
    internal.render = () => {
      origRender();
      internal.timer?.unref?.();
    };
    const payload = () => {
      const s = snap();
      return {
        pct: s.total > 0 ? `${String(Math.floor((100 * Math.min(s.value, s.total)) / s.total)).padStart(3)}%` : '',
        counts: s.total > 0 ? `${s.value}/${s.total}` : `${s.value}`,
        rate: formatRate(s.rate),
        times: s.finished
          ? `done in ${formatDuration(s.elapsedS)}`
          : `${formatDuration(s.elapsedS)}${s.total > 0 ? ` < ETA ${formatDuration(s.etaS)}` : ''}`,
        info: s.info ? ` | ${s.info}` : '',
      };
    };
    bar.start(total > 0 ? total : 1, 0, payload());
    render = () => bar.update(total > 0 ? Math.min(value, total) : 0, payload());
    finish = () => {
      bar.update(total > 0 ? Math.min(value, total) : 0, payload());
      bar.stop();
    };
    onTotal = () => bar.setTotal(total > 0 ? total : 1);
  } else if (mode === 'plain') {
    let lastT = start;
    let lastValue = 0;
    const emit = () => {
      stream.write(snapshotLine(snap()) + '\n');
      lastT = now();
      lastValue = value;
    };
    render = () => {
      const t = now();
      if (value === lastValue) return;
      if (total > 0 && value >= total) return; // the final line comes from done()
      const step = total > 0 ? (value - lastValue) / total : 0;
      if ((step >= 0.1 && t - lastT >= minIntervalMs) || t - lastT >= heartbeatMs) emit();
    };
    finish = () => emit(); // always one final line with the count and "done in"
  }

  function makeApi(): ProgressBar {
    return {
      tick(n = 1, payload?: TickPayload) {
        if (finished) return;
        value += n;
        if (payload?.info !== undefined) info = payload.info;
        render(false);
      },
      update(v: number, payload?: TickPayload) {
        if (finished) return;
        value = v;
        if (payload?.info !== undefined) info = payload.info;
        render(false);
      },
      setTotal(t: number) {
        if (finished) return;
        total = Math.max(0, t);
        onTotal();
        render(false);
      },
      done(payload?: TickPayload) {
        if (finished) return;
        if (payload?.info !== undefined) info = payload.info;
        finished = true;
        finish();
      },
      get value() {
        return value;
      },
      get total() {
        return total;
      },
      get mode() {
        return mode;
      },
    };
  }

  const api = makeApi();
  render(true);
  return api;
}

/** Options of the loop wrappers; `total` defaults to the length / size of `items` when it has one. */
export type WithProgressOptions = ProgressOptions;

function guessTotal(items: unknown): number | undefined {
  if (Array.isArray(items)) return items.length;
  const o = items as { length?: unknown; size?: unknown } | null;
  if (o && typeof o.length === 'number') return o.length;
  if (o && typeof o.size === 'number') return o.size;
  return undefined;
}

/**
 * `for await (const x of withProgress(items, { label }))`: ticks once per item after the loop body ran,
 * and finishes the bar when the loop ends, breaks or throws.
 */
export async function* withProgress<T>(
  items: AsyncIterable<T> | Iterable<T>,
  opts: WithProgressOptions = {},
): AsyncGenerator<T, void, undefined> {
  const bar = progress({ ...opts, total: opts.total ?? guessTotal(items) });
  try {
    for await (const x of items as AsyncIterable<T>) {
      yield x;
      bar.tick();
    }
  } finally {
    bar.done();
  }
}

/**
 * Callback form, handy in tslab cells (tslab supports top-level `await` but **not** a top-level `for await`):
 * `await eachWithProgress(items, async (x, i) => { ... }, { label })`. Items are processed one at a time.
 */
export async function eachWithProgress<T>(
  items: AsyncIterable<T> | Iterable<T>,
  fn: (item: T, index: number) => unknown,
  opts: WithProgressOptions = {},
): Promise<void> {
  let i = 0;
  for await (const x of withProgress(items, opts)) await fn(x, i++);
}

/** Synchronous variant: `for (const x of withProgressSync(items, { label }))`. */
export function* withProgressSync<T>(items: Iterable<T>, opts: WithProgressOptions = {}): Generator<T, void, undefined> {
  const bar = progress({ ...opts, total: opts.total ?? guessTotal(items) });
  try {
    for (const x of items) {
      yield x;
      bar.tick();
    }
  } finally {
    bar.done();
  }
}
