/**
 * The notebook environment, shared by `./progress`, `./display` and `./plot`: tslab detection (is this a tslab
 * Jupyter kernel, and its `display` module) and HTML escaping for what they render there.
 *
 * Imported by notebooks through tslab, so: no `import.meta`, no top-level `require` binding (`createRequire` is
 * called inside `getTslab`), lib imports extensionless.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The subset of tslab's `Display` used by this kit. */
export interface TslabDisplay {
  html(s: string): void;
  markdown(s: string): void;
  png(b: Uint8Array): void;
  svg(s: string): void;
  text(s: string): void;
}

/** The subset of the `tslab` module used by this kit. */
export interface TslabModule {
  display: TslabDisplay;
  newDisplay(): TslabDisplay;
}

let tslabCache: TslabModule | null | undefined;

/**
 * True when running inside a tslab Jupyter kernel. tslab's executor sets `globalThis.__tslab__`
 * (`{ exports, require }`) before it runs any cell, and the kernel process is started as `tslab kernel ...`;
 * both must hold (so importing the `tslab` package from a script or a test does not count).
 * `IPO_NOTEBOOK=0` / `=1` overrides the detection.
 */
export function isNotebook(): boolean {
  const force = process.env.IPO_NOTEBOOK;
  if (force === '0') return false;
  if (force === '1') return true;
  const g = (globalThis as { __tslab__?: { require?: unknown } }).__tslab__;
  if (!g || typeof g !== 'object') return false;
  return process.argv.slice(1).some((a) => a === 'kernel');
}

/**
 * tslab's public module (`display`, `newDisplay`) when running inside a tslab kernel, else `null`.
 * Loaded through tslab's own hooked `require` (`__tslab__.require('tslab')`, which returns the kernel's module
 * instance, the one wired to the Jupyter connection); falls back to resolving `tslab` from the repo root.
 */
export function getTslab(): TslabModule | null {
  if (!isNotebook()) return null;
  if (tslabCache !== undefined) return tslabCache;
  tslabCache = null;
  const g = (globalThis as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__;
  const loaders: Array<() => unknown> = [];
  if (g && typeof g.require === 'function') loaders.push(() => g.require!('tslab'));
  loaders.push(() => createRequire(join(process.cwd(), 'package.json'))('tslab'));
  for (const load of loaders) {
    try {
      const mod = load() as Partial<TslabModule> | null;
      if (mod && mod.display && typeof mod.newDisplay === 'function') {
        tslabCache = mod as TslabModule;
        break;
      }
    } catch {
      // try the next loader
    }
  }
  return tslabCache;
}

/** HTML-escape text for element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
