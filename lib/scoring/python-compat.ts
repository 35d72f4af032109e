/**
 * Python compatibility for the judges' official regexes and prompts (`Reward_Bench/self_reward.py`,
 * `binary_gpt.py`): CPython's `re` character classes, so the patterns match exactly what they match in CPython
 * (`\s` = `str.isspace()`, `\d` = any Unicode decimal digit, read with `int()` semantics), and `str.format`.
 */

export { PY_SPACE } from '../util/python-str';
import { PY_SPACE } from '../util/python-str';
/** CPython's `\d` for `str` patterns: any Unicode decimal digit (category Nd). Needs the `u` flag. */
export const PY_DIGIT = '\\p{Nd}';

/**
 * `int()` of a run of Unicode decimal digits, as Python reads `int(match.group(1))`. Every Nd block is a run of
 * 0–9 sequences starting at a digit zero, so a digit's value is its distance from the start of its run, mod 10.
 * Very long numbers lose precision (they are clamped by the callers anyway).
 */
export function pyInt(digits: string): number {
  let v = 0;
  for (const ch of digits) {
    const cp = ch.codePointAt(0)!;
    let d: number;
    if (cp >= 0x30 && cp <= 0x39) d = cp - 0x30;
    else {
      let start = cp;
      while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
      d = (cp - start) % 10;
    }
    v = v * 10 + d;
  }
  return v;
}

/**
 * Python `template.format(**values)` for templates whose only fields are `{name}` (no `{{`, no format specs): a single
 * pass over the TEMPLATE, so braces or `$` patterns inside the values are inserted literally (unlike chained
 * `String.replace`).
 */
export function formatOnce(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, name: string) => (Object.prototype.hasOwnProperty.call(values, name) ? values[name] : m));
}
