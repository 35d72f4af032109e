/**
 * AlpacaEval (tatsu-lab/alpaca_eval@cd543a14) instructions for the post-training win rate, from the shared assets:
 * - `alpaca-eval/eval_set_805_example_outputs.json`: the 805 evaluation instructions
 *   (`[{instruction, output, generator: "example", dataset, datasplit: "eval"}]`; `dataset` is the source set:
 *   helpful_base, koala, oasst, selfinstruct, vicuna);
 * - `alpaca-eval/gpt4_1106_preview_model_outputs.json`: GPT-4-Turbo's outputs for the same 805 instructions, the
 *   AlpacaEval 2.0 reference (`[{dataset, instruction, output, generator: "gpt4_1106_preview"}]`).
 * The reference is joined to an instruction by its exact text (all 805 match, in the same order); instructions
 * without one get `reference: undefined` and are counted (`missingReference`).
 *
 * There is no annotator here: the official AlpacaEval win rate needs an API judge (GPT-4-Turbo). `lib/eval/policy-winrate.ts`
 * uses a local judge instead, so its numbers are not AlpacaEval numbers.
 *
 * Rows that are not objects with a non-empty string `instruction` are counted in `malformed` and dropped.
 * Slices: `datasets` (source sets to keep), `limit` with `seed` (a seeded choice of that many instructions, kept in
 * file order). `id` is the instruction's 0-based position in the 805-row file, stable across slices.
 */
import { readFileSync } from 'node:fs';
import { findAsset } from '../util/paths';
import { makeRng } from '../util/rng';
import { displayPath } from '../util/jsonl';
import { emptyMalformed, noteMalformed, type MalformedReport } from './rows';

export const ALPACA_EVAL_INSTRUCTIONS = 'alpaca-eval/eval_set_805_example_outputs.json';
export const ALPACA_EVAL_REFERENCE = 'alpaca-eval/gpt4_1106_preview_model_outputs.json';
export const ALPACA_EVAL_REFERENCE_GENERATOR = 'gpt4_1106_preview';
export const ALPACA_EVAL_SIZE = 805;

export interface AlpacaEvalItem {
  /** 0-based row of the instruction in the 805-row file */
  id: number;
  instruction: string;
  /** source set (helpful_base, koala, oasst, selfinstruct, vicuna) */
  dataset: string;
  /** GPT-4-Turbo's output for this instruction (AlpacaEval 2.0 reference), when `withReference` */
  reference?: string;
}

export interface AlpacaEvalLoadOptions {
  /** Keep only these source sets. */
  datasets?: readonly string[];
  /** At most this many instructions, chosen by a seeded draw, kept in file order. */
  limit?: number;
  /** Default 42. */
  seed?: number | string;
  /** Join the GPT-4-Turbo reference outputs. Default true. */
  withReference?: boolean;
}

export interface AlpacaEvalData {
  items: AlpacaEvalItem[];
  /** the files as printed */
  sources: string[];
  /** valid instructions before slicing */
  totalRows: number;
  malformed: MalformedReport;
  /** items (after slicing) with no reference output */
  missingReference: number;
}

function readJsonArray(rel: string): { rows: unknown[]; file: string } {
  const path = findAsset(rel);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot parse ${displayPath(path)}: ${String((e as Error).message).split('\n')[0]}`);
  }
  if (!Array.isArray(v)) throw new Error(`${displayPath(path)} is not a JSON array`);
  return { rows: v, file: displayPath(path) };
}

/** Load the AlpacaEval instructions (and references), sliced as asked. */
export function loadAlpacaEval(opts: AlpacaEvalLoadOptions = {}): AlpacaEvalData {
  const withReference = opts.withReference ?? true;
  const malformed = emptyMalformed();
  const inst = readJsonArray(ALPACA_EVAL_INSTRUCTIONS);
  const sources = [inst.file];
  let items: AlpacaEvalItem[] = [];
  inst.rows.forEach((r, i) => {
    const o = r as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return noteMalformed(malformed, i, `row ${i} is not an object`);
    if (typeof o.instruction !== 'string' || o.instruction.trim() === '') return noteMalformed(malformed, i, `row ${i} has no instruction`);
    items.push({ id: i, instruction: o.instruction, dataset: typeof o.dataset === 'string' ? o.dataset : 'unknown' });
  });
  const totalRows = items.length;
  if (opts.datasets !== undefined) {
    if (!Array.isArray(opts.datasets)) throw new Error('loadAlpacaEval: datasets must be an array of source-set names');
    const known = new Set(items.map((x) => x.dataset));
    const unknown = opts.datasets.filter((d) => !known.has(d));
    if (unknown.length) throw new Error(`loadAlpacaEval: unknown dataset(s) ${unknown.map((d) => JSON.stringify(d)).join(', ')} (known: ${[...known].sort().join(', ')})`);
    const keep = new Set(opts.datasets);
    items = items.filter((x) => keep.has(x.dataset));
  }
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 0) throw new Error(`loadAlpacaEval: limit must be a non-negative integer, got ${String(opts.limit)}`);
    items = seededSubset(items, opts.limit, opts.seed ?? 42);
  }
  let missingReference = 0;
  if (withReference) {
    const ref = readJsonArray(ALPACA_EVAL_REFERENCE);
    sources.push(ref.file);
    const byInstruction = new Map<string, string>();
    for (const r of ref.rows) {
      const o = r as Record<string, unknown> | null;
      if (o && typeof o === 'object' && typeof o.instruction === 'string' && typeof o.output === 'string' && !byInstruction.has(o.instruction)) {
        byInstruction.set(o.instruction, o.output);
      }
    }
    items = items.map((x) => {
      const reference = byInstruction.get(x.instruction);
      if (reference === undefined) missingReference++;
      return reference === undefined ? x : { ...x, reference };
    });
  }
  return { items, sources, totalRows, malformed, missingReference };
}

/** `limit` items chosen by a seeded Fisher–Yates shuffle, returned in their original order (all when fewer). */
export function seededSubset<T>(items: readonly T[], limit: number, seed: number | string = 42): T[] {
  if (items.length <= limit) return [...items];
  const rng = makeRng(seed);
  const order = items.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const keep = new Set(order.slice(0, limit));
  return items.filter((_, i) => keep.has(i));
}
