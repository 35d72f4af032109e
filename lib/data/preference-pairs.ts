/**
 * Preference-pair files in TRL's preference format (https://huggingface.co/docs/trl/dataset_formats), the format
 * the kit's DPO step reads and the self-improvement round writes:
 *
 * - standard:        `{"prompt": str, "chosen": str, "rejected": str}`
 * - conversational:  `{"prompt": [{"role","content"}…], "chosen": [{"role": "assistant", …}], "rejected": [...]}`
 * - implicit prompt: `{"chosen": …, "rejected": …}` (strings or full conversations); the prompt is extracted as in
 *   TRL's `extract_prompt` (trl/data_utils.py): the longest common prefix, element by element (characters or
 *   messages), moved back by one when the character before the first difference is a space.
 *
 * Every record is normalised to `PreferenceRecord` (`prompt`: string or messages, `chosen`/`rejected`: strings);
 * other keys (`id`, scores, metadata) are kept. A completion given as messages must be exactly one message
 * (multi-message completions are counted as `unsupported`).
 *
 * Validation counts each skipped record by reason and lists the first few by line: invalid JSON, not an object /
 * wrong types, missing fields, malformed messages, empty chosen or rejected (after trim), and identical chosen and
 * rejected (after trim; `DPO/ours.py` itself keeps such pairs, quirk 16 — they carry no preference signal).
 *
 * `readLlamaFactoryPairs` reads LLaMA-Factory's ranking format (`{conversations: [{from, value}], chosen: {from,
 * value}, rejected: {from, value}, system?}`, e.g. ../shared/assets/preference-demo/llamafactory_dpo_en_demo.json)
 * into the same shape.
 */
import { findAsset } from '../util/paths';
import { formatSkips, kindOf, readRecordFile, SkipCounter, writeJsonl, type RecordFile } from '../util/jsonl';
import { looksConversational, messageListProblem, toMessages, type ChatMessage } from './messages';

/** One preference pair, normalised. Extra keys of the source record are kept as they were. */
export interface PreferenceRecord {
  id?: string;
  prompt: string | ChatMessage[];
  chosen: string;
  rejected: string;
  [extra: string]: unknown;
}

export const PAIR_SKIP_REASONS = ['invalidJson', 'wrongType', 'missingFields', 'badMessages', 'unsupported', 'empty', 'identical'] as const;
export type PairSkipReason = (typeof PAIR_SKIP_REASONS)[number];

export interface PairsFileResult {
  pairs: PreferenceRecord[];
  /** The file as printed (repo-relative or `../shared/...`). */
  file: string;
  format: 'jsonl' | 'json-array';
  /** Records read (usable or not, invalid JSON lines included). */
  total: number;
  skipped: Record<PairSkipReason, number>;
  /** First few skips: `line` is the line (JSONL) or 1-based element (JSON array). */
  examples: { line: number; reason: string }[];
}

/** A normalised pair, or why the record is skipped (wrapped, since a pair may carry any extra key). */
export type ParsedPair = { pair: PreferenceRecord } | { skip: PairSkipReason; reason: string };
type Parsed = ParsedPair;
const skip = (k: PairSkipReason, reason: string): Parsed => ({ skip: k, reason });

/**
 * TRL `extract_prompt` on two sequences (strings or message lists): `idx` = first position where they differ,
 * minus one when the element before it is a space; if neither differs before the shorter one ends, Python's loop
 * variable keeps its last value (`min − 1`). Deviation: at `idx = 0` TRL reads `chosen[-1]` (the last element);
 * here no space step is taken there.
 */
export function extractImplicitPrompt<T>(chosen: readonly T[], rejected: readonly T[], same: (a: T, b: T) => boolean): { prompt: T[]; chosen: T[]; rejected: T[] } {
  const n = Math.min(chosen.length, rejected.length);
  let idx = Math.max(0, n - 1);
  for (let i = 0; i < n; i++) {
    if (!same(chosen[i], rejected[i])) {
      idx = i > 0 && (chosen[i - 1] as unknown) === ' ' ? i - 1 : i;
      break;
    }
  }
  return { prompt: chosen.slice(0, idx), chosen: chosen.slice(idx), rejected: rejected.slice(idx) };
}

const sameMessage = (a: ChatMessage, b: ChatMessage) => a.role === b.role && a.content === b.content;

/** A completion as a string: a string as is, or the content of a one-message list. */
function completionText(v: unknown, field: 'chosen' | 'rejected'): string | { skip: PairSkipReason; reason: string } {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) return { skip: 'wrongType', reason: `${field} must be a string or a message list, got ${kindOf(v)}` };
  const problem = messageListProblem(v, field);
  if (problem) return { skip: 'badMessages', reason: problem };
  if (v.length !== 1) return { skip: 'unsupported', reason: `${field} has ${v.length} messages (only one-message completions are supported)` };
  const m = toMessages(v)[0];
  if (m.role !== 'assistant') return { skip: 'badMessages', reason: `${field} message has role '${m.role}', expected 'assistant'` };
  return m.content;
}

/** Empty / identical checks and the extras, once prompt, chosen and rejected are known. */
function finish(r: Record<string, unknown>, prompt: string | ChatMessage[], chosen: string, rejected: string): Parsed {
  if (chosen.trim() === '' || rejected.trim() === '') {
    return skip('empty', chosen.trim() === '' && rejected.trim() === '' ? 'empty chosen and rejected' : chosen.trim() === '' ? 'empty chosen' : 'empty rejected');
  }
  if (chosen.trim() === rejected.trim()) return skip('identical', 'chosen and rejected are identical (after trim)');
  const out: PreferenceRecord = { prompt, chosen, rejected };
  for (const [k, v] of Object.entries(r)) if (k !== 'prompt' && k !== 'chosen' && k !== 'rejected' && k !== 'id') out[k] = v;
  if (r.id !== undefined && r.id !== null) out.id = String(r.id);
  return { pair: out };
}

/** Normalise one record of any supported shape (see the file comment), or say why it is skipped. */
export function parsePreferenceRecord(raw: unknown): Parsed {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return skip('wrongType', `record is ${kindOf(raw)}, not an object`);
  const r = raw as Record<string, unknown>;
  const missing = (['chosen', 'rejected'] as const).filter((f) => r[f] === undefined || r[f] === null);
  if (missing.length) return skip('missingFields', `missing ${missing.map((f) => `'${f}'`).join(' and ')}`);
  if (r.id !== undefined && r.id !== null && typeof r.id !== 'string' && typeof r.id !== 'number') return skip('wrongType', `id must be a string or a number, got ${kindOf(r.id)}`);

  if (r.prompt === undefined || r.prompt === null) {
    // implicit prompt
    if (typeof r.chosen === 'string' && typeof r.rejected === 'string') {
      const e = extractImplicitPrompt([...r.chosen], [...r.rejected], (a, b) => a === b);
      return finish(r, e.prompt.join(''), e.chosen.join(''), e.rejected.join(''));
    }
    if (looksConversational(r.chosen) || looksConversational(r.rejected)) {
      for (const f of ['chosen', 'rejected'] as const) {
        const problem = messageListProblem(r[f], f);
        if (problem) return skip(Array.isArray(r[f]) ? 'badMessages' : 'wrongType', problem);
      }
      const e = extractImplicitPrompt(toMessages(r.chosen), toMessages(r.rejected), sameMessage);
      if (e.prompt.length === 0) return skip('unsupported', 'implicit prompt: chosen and rejected share no leading turns');
      const c = completionText(e.chosen, 'chosen');
      if (typeof c !== 'string') return c;
      const j = completionText(e.rejected, 'rejected');
      if (typeof j !== 'string') return j;
      return finish(r, e.prompt, c, j);
    }
    return skip('wrongType', `chosen and rejected must be strings or message lists, got ${kindOf(r.chosen)} and ${kindOf(r.rejected)}`);
  }

  let prompt: string | ChatMessage[];
  if (typeof r.prompt === 'string') prompt = r.prompt;
  else if (Array.isArray(r.prompt)) {
    const problem = messageListProblem(r.prompt, 'prompt');
    if (problem) return skip('badMessages', problem);
    prompt = toMessages(r.prompt);
  } else return skip('wrongType', `prompt must be a string or a message list, got ${kindOf(r.prompt)}`);
  if (typeof prompt === 'string' && (Array.isArray(r.chosen) || Array.isArray(r.rejected))) {
    return skip('wrongType', 'prompt is a string but chosen/rejected are message lists (mixed standard and conversational)');
  }
  const c = completionText(r.chosen, 'chosen');
  if (typeof c !== 'string') return c;
  const j = completionText(r.rejected, 'rejected');
  if (typeof j !== 'string') return j;
  return finish(r, prompt, c, j);
}

function collect(rf: RecordFile, what: string, parse: (raw: unknown) => Parsed): PairsFileResult {
  const counter = new SkipCounter<PairSkipReason>(PAIR_SKIP_REASONS);
  for (const bad of rf.invalidJson) counter.add('invalidJson', bad.line, bad.reason);
  const pairs: PreferenceRecord[] = [];
  for (const { line, value } of rf.records) {
    const p = parse(value);
    if ('pair' in p) pairs.push(p.pair);
    else counter.add(p.skip, line, p.reason);
  }
  const total = rf.records.length + rf.invalidJson.length;
  if (pairs.length === 0) {
    const why = counter.total ? formatSkips(counter.skipped, counter.examples, rf.format === 'jsonl' ? 'line' : 'element') : 'the file has no records';
    throw new Error(`${what} ${rf.file}: no usable preference pairs in ${total} records (${why})`);
  }
  return { pairs, file: rf.file, format: rf.format, total, skipped: counter.skipped, examples: counter.examples };
}

/** Read a TRL preference file (JSONL or JSON array; standard, conversational or implicit-prompt records). */
export function readPreferencePairs(path: string): PairsFileResult {
  return collect(readRecordFile(path, 'preference file'), 'preference file', parsePreferenceRecord);
}

/**
 * Write pairs as TRL preference JSONL: a string prompt gives the standard form, a message prompt the
 * conversational form (chosen/rejected as one assistant message each). Extra keys are written after the three.
 */
export function writePreferencePairs(path: string, pairs: readonly PreferenceRecord[]): void {
  writeJsonl(
    path,
    pairs.map((p) => {
      const { id, prompt, chosen, rejected, ...extra } = p;
      const head = id === undefined ? {} : { id };
      if (typeof prompt === 'string') return { ...head, prompt, chosen, rejected, ...extra };
      return { ...head, prompt, chosen: [{ role: 'assistant', content: chosen }], rejected: [{ role: 'assistant', content: rejected }], ...extra };
    }),
  );
}

/** "300 pairs from ../shared/… (json-array, 300 records)" plus the skips. */
export function formatPairsReport(r: PairsFileResult): string {
  const skips = formatSkips(r.skipped, r.examples, r.format === 'jsonl' ? 'line' : 'element');
  return `${r.pairs.length} pairs from ${r.file} (${r.format}, ${r.total} records${skips ? `; ${skips}` : ''})`;
}

// ---------------------------------------------------------------------------------------------------------------
// LLaMA-Factory ranking format

/** LLaMA-Factory's sharegpt role tags (`data/dataset_info.json` defaults) → chat roles. */
const LF_ROLES: Record<string, string> = { human: 'user', gpt: 'assistant', system: 'system', observation: 'tool', function_call: 'assistant' };

function lfMessage(v: unknown, where: string): ChatMessage | string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${where} must be an object, got ${kindOf(v)}`;
  const m = v as Record<string, unknown>;
  if (typeof m.from !== 'string' || !(m.from in LF_ROLES)) return `${where}.from must be one of ${Object.keys(LF_ROLES).join('/')}, got ${JSON.stringify(m.from)}`;
  if (typeof m.value !== 'string') return `${where}.value must be a string, got ${kindOf(m.value)}`;
  return { role: LF_ROLES[m.from], content: m.value };
}

/** One LLaMA-Factory ranking record → a conversational pair (the top-level `system` becomes a leading system turn). */
export function parseLlamaFactoryRecord(raw: unknown): Parsed {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return skip('wrongType', `record is ${kindOf(raw)}, not an object`);
  const r = raw as Record<string, unknown>;
  const missing = (['conversations', 'chosen', 'rejected'] as const).filter((f) => r[f] === undefined || r[f] === null);
  if (missing.length) return skip('missingFields', `missing ${missing.map((f) => `'${f}'`).join(' and ')}`);
  if (!Array.isArray(r.conversations) || r.conversations.length === 0) return skip('badMessages', `conversations must be a non-empty list, got ${kindOf(r.conversations)}`);
  const prompt: ChatMessage[] = [];
  if (r.system !== undefined && r.system !== null) {
    if (typeof r.system !== 'string') return skip('wrongType', `system must be a string, got ${kindOf(r.system)}`);
    if (r.system) prompt.push({ role: 'system', content: r.system });
  }
  for (let i = 0; i < r.conversations.length; i++) {
    const m = lfMessage(r.conversations[i], `conversations[${i}]`);
    if (typeof m === 'string') return skip('badMessages', m);
    prompt.push(m);
  }
  const chosen = lfMessage(r.chosen, 'chosen');
  if (typeof chosen === 'string') return skip(typeof r.chosen === 'object' ? 'badMessages' : 'wrongType', chosen);
  const rejected = lfMessage(r.rejected, 'rejected');
  if (typeof rejected === 'string') return skip(typeof r.rejected === 'object' ? 'badMessages' : 'wrongType', rejected);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) if (!['conversations', 'chosen', 'rejected', 'system'].includes(k)) rest[k] = v;
  return finish(rest, prompt, chosen.content, rejected.content);
}

/** Read a LLaMA-Factory ranking file (JSON array or JSONL) into `PreferenceRecord`s. */
export function readLlamaFactoryPairs(path: string): PairsFileResult {
  return collect(readRecordFile(path, 'LLaMA-Factory preference file'), 'LLaMA-Factory preference file', parseLlamaFactoryRecord);
}

export const LLAMAFACTORY_DPO_DEMO = 'preference-demo/llamafactory_dpo_en_demo.json';

/** The 300-pair LLaMA-Factory `dpo_en_demo` from the shared assets. */
export function loadLlamaFactoryDpoDemo(): PairsFileResult {
  return readLlamaFactoryPairs(findAsset(LLAMAFACTORY_DPO_DEMO));
}
