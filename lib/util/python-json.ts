/**
 * Python's `json.dumps` byte for byte, for files the official scripts write (reward-bench results, the IPO
 * `prompt_search.py` JSON): `repr(float)` digits, separators, `indent`, `sort_keys`, `ensure_ascii`. Serialisation,
 * not metrics, so it lives on the ground floor. Imports nothing.
 */

/** Python's `repr(float)`: shortest round-trip digits, ".0" on integral values, exponent outside [1e-4, 1e16). */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const s = String(x); // positional for these exponents, same shortest digits as Python
  return s.includes('.') ? s : `${s}.0`;
}

function pyString(s: string): string {
  // JSON.stringify escapes quotes, backslashes and control characters the way Python does; ensure_ascii=True then
  // escapes everything outside printable ASCII as \uXXXX (lowercase hex, UTF-16 units).
  return JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `json.dumps(value, indent=..., sort_keys=...)` as Python writes it: separators ", "/": " without indent and ","
 * with it, floats by `pythonFloatRepr`, keys named in `intKeys` written as Python ints, ensure_ascii.
 */
export function pythonJsonDumps(value: unknown, opts: { indent?: number; sortKeys?: boolean; intKeys?: readonly string[] } = {}): string {
  const ints = new Set(opts.intKeys ?? []);
  const nl = (depth: number) => (opts.indent === undefined ? '' : `\n${' '.repeat(opts.indent * depth)}`);
  const itemSep = opts.indent === undefined ? ', ' : ',';
  const enc = (v: unknown, depth: number, key?: string): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return key !== undefined && ints.has(key) && Number.isInteger(v) ? String(v) : pythonFloatRepr(v);
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') return pyString(v);
    if (Array.isArray(v)) {
      if (!v.length) return '[]';
      return `[${v.map((x) => nl(depth + 1) + enc(x, depth + 1)).join(itemSep)}${nl(depth)}]`;
    }
    if (typeof v === 'object') {
      let keys = Object.keys(v as object);
      if (!keys.length) return '{}';
      if (opts.sortKeys) keys = keys.sort();
      const parts = keys.map((k) => `${nl(depth + 1)}${pyString(k)}: ${enc((v as Record<string, unknown>)[k], depth + 1, k)}`);
      return `{${parts.join(itemSep)}${nl(depth)}}`;
    }
    throw new Error(`cannot serialise a ${typeof v}`);
  };
  return enc(value, 0);
}
