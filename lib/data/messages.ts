/**
 * Chat messages as data files carry them (TRL's conversational format: `[{"role", "content"}, …]`). The type is
 * structurally the same as `ChatMessage` in `lib/models/types.ts`, declared here so `lib/data` does not import the
 * model layer (design review §4 rule 1).
 */
import { kindOf } from '../util/jsonl';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

/**
 * Why `v` is not a message list (non-empty array of `{role: string, content: string}`), or null when it is.
 * Extra keys on a message are allowed and dropped by `toMessages`.
 */
export function messageListProblem(v: unknown, what: string): string | null {
  if (!Array.isArray(v)) return `${what} must be a list of messages, got ${kindOf(v)}`;
  if (v.length === 0) return `${what} is an empty message list`;
  for (let i = 0; i < v.length; i++) {
    const m = v[i] as Record<string, unknown> | null;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return `${what}[${i}] must be an object, got ${kindOf(m)}`;
    if (typeof m.role !== 'string' || m.role === '') return `${what}[${i}].role must be a non-empty string, got ${kindOf(m.role)}`;
    if (typeof m.content !== 'string') return `${what}[${i}].content must be a string, got ${kindOf(m.content)}`;
  }
  return null;
}

/** `{role, content}` copies of a list that passed `messageListProblem`. */
export function toMessages(v: unknown): ChatMessage[] {
  return (v as { role: string; content: string }[]).map((m) => ({ role: m.role, content: m.content }));
}

/** True when `v` looks like a message list (TRL's `is_conversational`: a list whose first item has role and content). */
export function looksConversational(v: unknown): boolean {
  if (!Array.isArray(v) || v.length === 0) return false;
  const m = v[0] as Record<string, unknown> | null;
  return m !== null && typeof m === 'object' && 'role' in m && 'content' in m;
}
