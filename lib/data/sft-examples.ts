/**
 * SFT data files: JSONL (or a JSON array) of instruction–response records in the shapes users bring:
 *   - TRL prompt–completion   `{"prompt": "...", "completion": "..."}` (prompt may be a message list)
 *   - Dolly-15k / Alpaca      `{"instruction", "context" | "input", "response" | "output"}` — the paper's SFT stage
 *                             uses `databricks/databricks-dolly-15k`; a non-empty context/input is appended to the
 *                             instruction after a blank line (Alpaca's convention)
 *   - TRL conversational      `{"messages": [..., {"role": "assistant", "content": "..."}]}` (last turn = response)
 * Bad records are counted by reason and reported with their line numbers; nothing is dropped silently.
 */
import type { ChatMessage } from './messages';
import { formatSkips, kindOf, readRecordFile, SkipCounter } from '../util/jsonl';
import { messageListProblem, toMessages } from './messages';

/** One SFT example: an instruction (string or conversation) and the response to learn. */
export interface SftExample {
  id?: string;
  prompt: string | ChatMessage[];
  response: string;
}

export const SFT_SKIP_REASONS = ['invalidJson', 'missingFields', 'wrongType', 'emptyResponse', 'emptyPrompt', 'badMessages'] as const;
export type SftSkipReason = (typeof SFT_SKIP_REASONS)[number];

export interface SftFileResult {
  examples: SftExample[];
  file: string;
  total: number;
  skipped: Record<SftSkipReason, number>;
  examplesSkipped: { line: number; reason: string }[];
  /** One line for logs: "N examples from F (k skipped: …)". */
  report: string;
}

type Parsed = SftExample | { skip: SftSkipReason; reason: string };

/** One record → an example or the reason it cannot be one. */
export function parseSftRecord(raw: unknown, id: string): Parsed {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { skip: 'wrongType', reason: `record is ${kindOf(raw)}, not an object` };
  const r = raw as Record<string, unknown>;
  if ('messages' in r) {
    const problem = messageListProblem(r.messages, 'messages');
    if (problem) return { skip: 'badMessages', reason: problem };
    const msgs = toMessages(r.messages);
    const last = msgs[msgs.length - 1];
    if (!last || last.role !== 'assistant') return { skip: 'badMessages', reason: 'messages must end with an assistant turn (the response)' };
    if (msgs.length < 2) return { skip: 'badMessages', reason: 'messages need a user turn before the assistant turn' };
    if (last.content.trim() === '') return { skip: 'emptyResponse', reason: 'empty assistant response' };
    return { id, prompt: msgs.slice(0, -1), response: last.content };
  }
  const promptField = 'prompt' in r ? r.prompt : r.instruction;
  const responseField = 'completion' in r ? r.completion : 'response' in r ? r.response : r.output;
  if (promptField === undefined || responseField === undefined) {
    return { skip: 'missingFields', reason: 'needs prompt+completion, instruction+response/output, or messages' };
  }
  if (typeof responseField !== 'string') return { skip: 'wrongType', reason: `response must be a string, got ${kindOf(responseField)}` };
  if (responseField.trim() === '') return { skip: 'emptyResponse', reason: 'empty response' };
  if (Array.isArray(promptField)) {
    const problem = messageListProblem(promptField, 'prompt');
    if (problem) return { skip: 'badMessages', reason: problem };
    return { id, prompt: toMessages(promptField), response: responseField };
  }
  if (typeof promptField !== 'string') return { skip: 'wrongType', reason: `prompt must be a string or a message list, got ${kindOf(promptField)}` };
  const context = typeof r.context === 'string' ? r.context : typeof r.input === 'string' ? r.input : '';
  const prompt = context.trim() ? `${promptField}\n\n${context}` : promptField;
  if (prompt.trim() === '') return { skip: 'emptyPrompt', reason: 'empty prompt' };
  return { id: typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : id, prompt, response: responseField };
}

/** Read an SFT file; `limit` keeps the first usable examples. */
export function readSftFile(path: string, opts: { limit?: number } = {}): SftFileResult {
  const rf = readRecordFile(path, 'SFT file');
  const skips = new SkipCounter<SftSkipReason>(SFT_SKIP_REASONS);
  for (const bad of rf.invalidJson) skips.add('invalidJson', bad.line, bad.reason);
  const examples: SftExample[] = [];
  for (const rec of rf.records) {
    if (opts.limit !== undefined && examples.length >= opts.limit) break;
    const p = parseSftRecord(rec.value, `L${rec.line}`);
    if ('skip' in p) skips.add(p.skip, rec.line, p.reason);
    else examples.push(p);
  }
  if (examples.length === 0) throw new Error(`SFT file ${rf.file} has no usable example${skips.total ? ` (${formatSkips(skips.skipped, skips.examples)})` : ''}`);
  const s = formatSkips(skips.skipped, skips.examples);
  return {
    examples,
    file: rf.file,
    total: rf.records.length + rf.invalidJson.length,
    skipped: skips.skipped,
    examplesSkipped: skips.examples,
    report: `${examples.length} SFT examples from ${rf.file}${s ? ` (${s})` : ''}`,
  };
}
