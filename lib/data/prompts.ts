/**
 * Prompt sets for sampling (the first step of the paper's self-improvement round, `DPO/ours.py` §5.2 of
 * ../shared/docs/ipo-method-and-official-code.md): N responses are sampled per prompt, scored by the model itself,
 * and the best and worst become a DPO pair.
 *
 * Accepted record shapes (JSONL, or a JSON array):
 * - `{"instruction": str, "category"?: str, "id"?: str | number}`: the paper's `Ayush-Singh/UltraFeedback-1k-Each`
 *   rows (`ours.py` reads `instruction` and `category`; category picks the self-scoring template);
 * - `{"prompt": str}`: TRL's standard prompt-only format;
 * - `{"prompt": [{"role", "content"}, …]}`: TRL's conversational prompt-only format. The instruction is the last
 *   user turn; the whole list is kept in `messages` for chat-template sampling. A list ending with an assistant turn
 *   (TRL would continue that message) is rejected, since `CausalLM.applyChatTemplate` has no continue mode.
 *
 * Bad records are counted by reason and listed by line (first few), never fatal; a missing file, or one without a
 * single usable prompt, is a one-line error naming the path.
 *
 * Also: the two offline prompt sources of the shared assets, `loadUltraFeedbackPrompts` (the `prompt` field of
 * `ultrafeedback-sample/*.jsonl`, a trl-lib/ultrafeedback_binarized sample: not IPO's prompt set, no categories) and
 * `loadAlpacaSeedPrompts` (Alpaca's 175 seed tasks, instruction + first instance input).
 */
import { findAsset } from '../util/paths';
import { formatSkips, kindOf, readRecordFile, SkipCounter, writeJsonl, type RecordFile } from '../util/jsonl';
import { messageListProblem, toMessages, type ChatMessage } from './messages';

/** One prompt to sample responses for. */
export interface PromptItem {
  /** Unique within a set: the record's `id`, else `L<line>` (the line / element number in its file). */
  id: string;
  /** The text fed to the model in raw mode, and what the scorer's template calls the instruction. */
  instruction: string;
  /** UltraFeedback-1k-Each category (`ours.py`: "chat", "Math", "Safety", "General"; case-sensitive, quirk 16). */
  category?: string;
  /** The conversation, when the file gave one (TRL conversational prompt); used by chat-template sampling. */
  messages?: ChatMessage[];
}

export const PROMPT_SKIP_REASONS = ['invalidJson', 'missingInstruction', 'emptyInstruction', 'wrongType', 'badMessages', 'duplicateId'] as const;
export type PromptSkipReason = (typeof PROMPT_SKIP_REASONS)[number];

export interface PromptFileResult {
  prompts: PromptItem[];
  /** The file as printed (repo-relative or `../shared/...`). */
  file: string;
  format: 'jsonl' | 'json-array';
  /** Records read (usable or not, invalid JSON lines included). */
  total: number;
  skipped: Record<PromptSkipReason, number>;
  /** First few skips: `line` is the line (JSONL) or 1-based element (JSON array). */
  examples: { line: number; reason: string }[];
}

export interface PromptReadOptions {
  /** Keep the first `limit` usable prompts (records after that are not read, so their skips are not counted). */
  limit?: number;
  /** Give every prompt this category when its record has none. */
  category?: string;
}

type Parsed = PromptItem | { skip: PromptSkipReason; reason: string };

/** The generic record → prompt rule (see the file comment). `defaultId` is used when the record has no `id`. */
export function parsePromptRecord(raw: unknown, defaultId: string): Parsed {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { skip: 'wrongType', reason: `record is ${kindOf(raw)}, not an object` };
  const r = raw as Record<string, unknown>;
  let id = defaultId;
  if (r.id !== undefined && r.id !== null) {
    if ((typeof r.id !== 'string' && typeof r.id !== 'number') || r.id === '') return { skip: 'wrongType', reason: `id must be a non-empty string or a number, got ${kindOf(r.id)}` };
    id = String(r.id);
  }
  let category: string | undefined;
  if (r.category !== undefined && r.category !== null) {
    if (typeof r.category !== 'string') return { skip: 'wrongType', reason: `category must be a string, got ${kindOf(r.category)}` };
    category = r.category;
  }
  const withCat = (p: PromptItem): PromptItem => (category === undefined ? p : { ...p, category });
  const text = (v: unknown, field: string): Parsed => {
    if (typeof v !== 'string') return { skip: 'wrongType', reason: `${field} must be a string, got ${kindOf(v)}` };
    if (v.trim() === '') return { skip: 'emptyInstruction', reason: `empty ${field}` };
    return withCat({ id, instruction: v });
  };
  if (r.instruction !== undefined && r.instruction !== null) return text(r.instruction, 'instruction');
  if (r.prompt === undefined || r.prompt === null) return { skip: 'missingInstruction', reason: "no 'instruction' or 'prompt' field" };
  if (!Array.isArray(r.prompt)) return text(r.prompt, 'prompt');
  const problem = messageListProblem(r.prompt, 'prompt');
  if (problem) return { skip: 'badMessages', reason: problem };
  const messages = toMessages(r.prompt);
  const last = messages[messages.length - 1];
  if (last.role === 'assistant') return { skip: 'badMessages', reason: 'prompt ends with an assistant turn (continuing a message is not supported)' };
  const user = [...messages].reverse().find((m) => m.role === 'user');
  if (!user) return { skip: 'badMessages', reason: 'prompt has no user turn' };
  if (user.content.trim() === '') return { skip: 'emptyInstruction', reason: 'empty last user turn' };
  return withCat({ id, instruction: user.content, messages });
}

/** Validate every record of `rf` with `parse`, count skips, apply ids uniqueness and `limit`. */
function collect(rf: RecordFile, what: string, opts: PromptReadOptions, parse: (raw: unknown, line: number) => Parsed): PromptFileResult {
  const counter = new SkipCounter<PromptSkipReason>(PROMPT_SKIP_REASONS);
  for (const bad of rf.invalidJson) counter.add('invalidJson', bad.line, bad.reason);
  const prompts: PromptItem[] = [];
  const seen = new Set<string>();
  const limit = opts.limit ?? Infinity;
  if (!(limit >= 0)) throw new Error(`${what}: limit must be >= 0, got ${opts.limit}`);
  for (const { line, value } of rf.records) {
    if (prompts.length >= limit) break;
    const p = parse(value, line);
    if ('skip' in p) counter.add(p.skip, line, p.reason);
    else if (seen.has(p.id)) counter.add('duplicateId', line, `duplicate id '${p.id}'`);
    else {
      seen.add(p.id);
      prompts.push(opts.category !== undefined && p.category === undefined ? { ...p, category: opts.category } : p);
    }
  }
  const total = rf.records.length + rf.invalidJson.length;
  if (prompts.length === 0 && !(opts.limit === 0)) {
    const why = counter.total ? formatSkips(counter.skipped, counter.examples, rf.format === 'jsonl' ? 'line' : 'element') : 'the file has no records';
    throw new Error(`${what} ${rf.file}: no usable prompts in ${total} records (${why})`);
  }
  return { prompts, file: rf.file, format: rf.format, total, skipped: counter.skipped, examples: counter.examples };
}

/** Read a prompt file (JSONL or JSON array; shapes in the file comment). */
export function readPromptFile(path: string, opts: PromptReadOptions = {}): PromptFileResult {
  const rf = readRecordFile(path, 'prompt file');
  return collect(rf, 'prompt file', opts, (raw, line) => parsePromptRecord(raw, `L${line}`));
}

/** Write prompts as JSONL: `{id, instruction, category?}`, or `{id, prompt: messages, category?}` for conversations. */
export function writePromptFile(path: string, prompts: readonly PromptItem[]): void {
  writeJsonl(
    path,
    prompts.map((p) => {
      const base = p.messages ? { id: p.id, prompt: p.messages } : { id: p.id, instruction: p.instruction };
      return p.category === undefined ? base : { ...base, category: p.category };
    }),
  );
}

/** "12 prompts from data/prompts.jsonl (jsonl, 14 records; 2 skipped: 1 invalidJson, 1 emptyInstruction (line 3: …))" */
export function formatPromptReport(r: PromptFileResult): string {
  const skips = formatSkips(r.skipped, r.examples, r.format === 'jsonl' ? 'line' : 'element');
  return `${r.prompts.length} prompts from ${r.file} (${r.format}, ${r.total} records${skips ? `; ${skips}` : ''})`;
}

// ---------------------------------------------------------------------------------------------------------------
// offline prompt sources in ../shared/assets

/** `ultrafeedback-sample/train_clean_1000.jsonl` (1,000 rows) or `eval_clean_200.jsonl` (200). */
export const ULTRAFEEDBACK_SAMPLE_FILES = { train: 'ultrafeedback-sample/train_clean_1000.jsonl', eval: 'ultrafeedback-sample/eval_clean_200.jsonl' } as const;

/**
 * Prompts of the local UltraFeedback sample (`{prompt, chosen, rejected, metadata, source_index}`): the `prompt`
 * string becomes the instruction, `source_index` the id (`uf-<index>`). No categories exist in this sample; pass
 * `opts.category` to give all of them one.
 */
export function loadUltraFeedbackPrompts(opts: PromptReadOptions & { split?: 'train' | 'eval' } = {}): PromptFileResult {
  const split = opts.split ?? 'train';
  const rel = ULTRAFEEDBACK_SAMPLE_FILES[split];
  if (!rel) throw new Error(`loadUltraFeedbackPrompts: split must be 'train' or 'eval', got ${JSON.stringify(split)}`);
  const rf = readRecordFile(findAsset(rel), 'UltraFeedback sample');
  return collect(rf, 'UltraFeedback sample', opts, (raw, line) => {
    const r = raw as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return { skip: 'wrongType', reason: `record is ${kindOf(r)}, not an object` };
    const id = typeof r.source_index === 'number' ? `uf-${r.source_index}` : `L${line}`;
    return parsePromptRecord({ prompt: r.prompt, id }, id);
  });
}

export const ALPACA_SEED_TASKS_FILE = 'prompt-sets/alpaca_seed_tasks.jsonl';

/**
 * Alpaca's 175 seed tasks (`{id, name, instruction, instances: [{input, output}], is_classification}`): the prompt
 * is the instruction, followed by `"\n\n"` and the first instance's input when it has one (125 of 175 do; the same
 * instruction-then-input order as Alpaca's `### Instruction:` / `### Input:` template, without the headers).
 */
export function loadAlpacaSeedPrompts(opts: PromptReadOptions = {}): PromptFileResult {
  const rf = readRecordFile(findAsset(ALPACA_SEED_TASKS_FILE), 'Alpaca seed tasks');
  return collect(rf, 'Alpaca seed tasks', opts, (raw, line) => {
    const r = raw as Record<string, unknown> | null;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) return { skip: 'wrongType', reason: `record is ${kindOf(r)}, not an object` };
    if (typeof r.instruction !== 'string') return parsePromptRecord({ instruction: r.instruction, id: r.id }, `L${line}`);
    const instances = r.instances;
    let input = '';
    if (instances !== undefined) {
      if (!Array.isArray(instances)) return { skip: 'wrongType', reason: `instances must be a list, got ${kindOf(instances)}` };
      const first = instances[0] as Record<string, unknown> | undefined;
      if (first !== undefined && first !== null && typeof first === 'object' && first.input !== undefined && first.input !== null) {
        if (typeof first.input !== 'string') return { skip: 'wrongType', reason: `instances[0].input must be a string, got ${kindOf(first.input)}` };
        input = first.input;
      }
    }
    const instruction = input.trim() ? `${r.instruction}\n\n${input}` : r.instruction;
    return parsePromptRecord({ instruction, id: r.id }, `L${line}`);
  });
}
