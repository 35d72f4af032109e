/**
 * Command-line number parsers for commander options (the `ipo` CLI and `npm run bench`): a bad value is one line,
 * in commander's wording, naming the flag and the accepted range.
 */
import { InvalidArgumentError } from 'commander';

/** A whole number ≥ `min`. */
export function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || n < min) throw new InvalidArgumentError(`${name} must be a whole number >= ${min}, got '${v}'`);
    return n;
  };
}

/** A finite number in [min, max] (or (min, max] with `minExclusive`). */
export function floatArg(name: string, min: number, max = Infinity, minExclusive = false) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max || (minExclusive && n === min)) {
      throw new InvalidArgumentError(`${name} must be a number in ${minExclusive ? '(' : '['}${min}, ${max === Infinity ? '∞)' : `${max}]`}, got '${v}'`);
    }
    return n;
  };
}
