/**
 * Python `str` semantics the official scripts rely on and JavaScript does not share: `\s` / `str.isspace()`,
 * `strip()`, code-point `len` and slicing, and code-point ordering (tuple sorts in `DPO/self_reward.py`).
 * On the ground floor so the sampler, the pair builder and the judges use one copy.
 */

/**
 * CPython's `\s` for `str` patterns: exactly the characters for which `str.isspace()` is true. JavaScript's `\s`
 * differs (it has U+FEFF, lacks U+001C–U+001F and U+0085).
 */
export const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';

const LEADING = new RegExp(`^${PY_SPACE}+`);
const TRAILING = new RegExp(`${PY_SPACE}+$`);

/** Python's `s.strip()` (JavaScript's `trim` differs: it strips U+FEFF and keeps U+001C–U+001F and U+0085). */
export function pyStrip(s: string): string {
  return s.replace(LEADING, '').replace(TRAILING, '');
}

/** Python's `s[n:]`: `len` and slicing count code points, not UTF-16 units. */
export function sliceCodePoints(s: string, n: number): string {
  let i = 0;
  let seen = 0;
  while (i < s.length && seen < n) {
    const cp = s.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    seen++;
  }
  return s.slice(i);
}

/** Python's `len(s)`. */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Python's `str` ordering, -1 / 0 / 1: by code point (JS `<` compares UTF-16 units, which differs for astral characters). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
}
