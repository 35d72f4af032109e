/**
 * One-line argument checks shared across the kit (design review §3.3: four `describe` helpers and four
 * positive-integer checks became these). Each throws `Error("<fn>: <what> must be …, got …")` on one line, the
 * kit's error convention (`test/cli.test.ts` `assertOneLineError`). Ground floor: imports nothing.
 */

/** What a bad value is, for error messages: `null`, `array`, or its `typeof`. */
export function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Throws a one-line error unless `v` is a non-empty string. */
export function checkInstruction(fn: string, where: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) {
    throw new Error(`${fn}: ${where} must be a non-empty string, got ${typeof v === 'string' ? 'an empty string' : describe(v)}`);
  }
  return v;
}

/** Throws a one-line error unless `v` is a string (empty allowed: the official code judges empty responses too). */
export function checkString(fn: string, where: string, v: unknown): string {
  if (typeof v !== 'string') throw new Error(`${fn}: ${where} must be a string, got ${describe(v)}`);
  return v;
}

/** Throws a one-line error unless `v` is a plain object (not null, not an array). */
export function checkObject(fn: string, where: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${fn}: ${where} must be an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

/** `v` if it is one of `allowed`, `dflt` when undefined; otherwise a one-line error listing the allowed values. */
export function checkEnum<T extends string>(fn: string, name: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    throw new Error(`${fn}: ${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** `v` if it is an integer ≥ 1, `dflt` when undefined; otherwise a one-line error. */
export function checkPositiveInt(fn: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`${fn}: ${name} must be a positive integer, got ${String(v)}`);
  return v;
}
