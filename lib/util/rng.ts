/**
 * The kit's one seeded random generator, on the ground floor so that data slicing (`lib/data`), splits and bootstrap
 * resampling (`lib/eval`), sampling (`lib/models/sampling.ts`) and training draw from the same source without
 * importing `models/`. Alea from seedrandom: uniform [0, 1), the same sequence for the same seed on every platform.
 */
import seedrandom from 'seedrandom';

export type Rng = () => number;

/** A seeded uniform [0, 1) generator (Alea from seedrandom). Seeds are compared as strings (`42` ≡ `'42'`). */
export function makeRng(seed: number | string = 42): Rng {
  return seedrandom.alea(String(seed));
}

/** 32-bit FNV-1a hash of a string: turns a key (seed, step, module, tensor name) into a generator seed. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
