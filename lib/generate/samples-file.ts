/**
 * `samples.jsonl`: one `SampleRecord` (`./sample`) per line, what a self-improvement round writes after sampling and
 * reads back before scoring. Reading checks the shape of every record; a bad line is counted and listed by line
 * number, never fatal; a missing file or one without a usable record is a one-line error naming the path.
 */
import { formatSkips, kindOf, readRecordFile, SkipCounter, writeJsonl } from '../util/jsonl';
import type { FinishReason, SampleRecord } from './sample';

const FINISH: readonly FinishReason[] = ['eos', 'length', 'max-length'];

export const SAMPLE_SKIP_REASONS = ['invalidJson', 'invalidRecord', 'duplicateId'] as const;
export type SampleSkipReason = (typeof SAMPLE_SKIP_REASONS)[number];

export interface SamplesFileResult {
  records: SampleRecord[];
  file: string;
  total: number;
  skipped: Record<SampleSkipReason, number>;
  examples: { line: number; reason: string }[];
}

/** Why `v` is not a `SampleRecord`, or null. */
export function sampleRecordProblem(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return `record is ${kindOf(v)}, not an object`;
  const r = v as Record<string, unknown>;
  for (const f of ['id', 'instruction', 'prompt'] as const) if (typeof r[f] !== 'string') return `${f} must be a string, got ${kindOf(r[f])}`;
  if (r.id === '') return 'id is empty';
  if (r.category !== undefined && typeof r.category !== 'string') return `category must be a string, got ${kindOf(r.category)}`;
  if (!Array.isArray(r.responses)) return `responses must be a list, got ${kindOf(r.responses)}`;
  for (let i = 0; i < r.responses.length; i++) {
    const x = r.responses[i] as Record<string, unknown> | null;
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return `responses[${i}] must be an object, got ${kindOf(x)}`;
    if (typeof x.text !== 'string') return `responses[${i}].text must be a string, got ${kindOf(x.text)}`;
    if (!Array.isArray(x.tokens) || x.tokens.some((t) => !Number.isInteger(t))) return `responses[${i}].tokens must be a list of token ids`;
    if (!FINISH.includes(x.finishReason as FinishReason)) return `responses[${i}].finishReason must be eos, length or max-length, got ${JSON.stringify(x.finishReason)}`;
    if (!Number.isInteger(x.seed)) return `responses[${i}].seed must be a whole number, got ${kindOf(x.seed)}`;
  }
  if (r.options === null || typeof r.options !== 'object') return `options must be an object, got ${kindOf(r.options)}`;
  return null;
}

export function writeSamples(path: string, records: readonly SampleRecord[]): void {
  writeJsonl(path, records);
}

export function readSamples(path: string): SamplesFileResult {
  const rf = readRecordFile(path, 'samples file');
  const counter = new SkipCounter<SampleSkipReason>(SAMPLE_SKIP_REASONS);
  for (const bad of rf.invalidJson) counter.add('invalidJson', bad.line, bad.reason);
  const records: SampleRecord[] = [];
  const seen = new Set<string>();
  for (const { line, value } of rf.records) {
    const problem = sampleRecordProblem(value);
    if (problem) counter.add('invalidRecord', line, problem);
    else if (seen.has((value as SampleRecord).id)) counter.add('duplicateId', line, `duplicate id '${(value as SampleRecord).id}'`);
    else {
      seen.add((value as SampleRecord).id);
      records.push(value as SampleRecord);
    }
  }
  const total = rf.records.length + rf.invalidJson.length;
  if (records.length === 0) {
    throw new Error(`samples file ${rf.file}: no usable records in ${total} lines (${counter.total ? formatSkips(counter.skipped, counter.examples) : 'the file is empty'})`);
  }
  return { records, file: rf.file, total, skipped: counter.skipped, examples: counter.examples };
}
