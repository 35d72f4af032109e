/**
 * The toy world's tokenizer, written as a REAL Hugging Face `tokenizer.json` (+ `tokenizer_config.json`,
 * `special_tokens_map.json`), so the kit's `loadTokenizer(dir)` (transformers.js `PreTrainedTokenizer`) and Hugging
 * Face's Rust `tokenizers` (the core of Python `tokenizers` / `AutoTokenizer`) read it like any other model's: the test
 * checks both give the same ids and texts (the Rust one through the npm package `tokenizers` when installed).
 *
 * Design: the byte-level BPE family of the paper's single-token models (Llama-3, Qwen, SmolLM2: " Yes" → `ĠYes`),
 * with SmolLM2-135M's exact pre-tokenizer — `Sequence[Digits(individual_digits), ByteLevel(GPT-2 regex)]` — so
 * - every digit is its own token (the Digits split comes first, whatever the merges);
 * - " Yes" and " No" are ONE token each (`ĠYes`, `ĠNo`), so the IPO `paper` and `exact` presets coincide
 *   (`../shared/docs/ipo-method-and-official-code.md` §2.3);
 * - the layout's `"\n    "` is deterministic: inside the prompt the GPT-2 regex `\s+(?!\S)` leaves the last space to
 *   the next word, giving `ĊĠĠĠ` + `ĠUser` / `ĠResponse`; at the end of the prompt the whole run is `ĊĠĠĠĠ`;
 * - every non-digit word of every task's texts (template, layout, instruction, " Yes"/" No"; `TOY_TASKS`) is one
 *   token, so the IPO prompt is short (33 ids with BOS for a 2-digit addition answer).
 *
 * Vocabulary: 4 special tokens (`<unk>` 0, `<s>` 1 = BOS, `</s>` 2 = EOS, `<pad>` 3), then the byte-level characters
 * of tab, newline, carriage return and printable ASCII (98), then one token per merge. Merges are built word by
 * word, shortest word first: a word's pieces under the merges so far are joined left to right by new merges
 * (e.g. `No` first, then `Ġ` + `No` → `ĠNo`). New merges rank after all earlier ones, so they never change how an
 * earlier word is split. Other text encodes character by character; a character outside that alphabet (non-ASCII)
 * becomes `<unk>` — the world never produces one, and `toyTokenizerCovers` tells.
 *
 * Decoding is the ByteLevel decoder with `clean_up_tokenization_spaces: false`, so `decode(encode(x)) === x` for
 * every covered text (tested on thousands of world texts). BOS is added by a `TemplateProcessing` post-processor
 * (`<s> $A`), as for Llama; no EOS is added (the trainers append the EOS id themselves). No chat template.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWritableDir } from '../models/export-onnx';
import { toyTaskIpoPrompt } from './task';
import { TOY_TASKS } from './tasks';

export const TOY_SPECIAL_TOKENS = { unk: '<unk>', bos: '<s>', eos: '</s>', pad: '<pad>' } as const;
export const TOY_SPECIAL_IDS = { unk: 0, bos: 1, eos: 2, pad: 3 } as const;

/** GPT-2 `bytes_to_unicode`: printable bytes map to themselves, the others to U+0100… (space → `Ġ`, `\n` → `Ċ`). */
const BYTE_TO_CHAR: string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => { out[b] = String.fromCharCode(cs[i]); });
  return out;
})();

/** Bytes of the base alphabet: \t, \n, \r and printable ASCII 0x20–0x7E. */
const ALPHABET_BYTES: number[] = [9, 10, 13, ...Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => 0x20 + i)];

/** The GPT-2 pre-tokenizer regex, as in Hugging Face `ByteLevel` (and transformers.js). */
const GPT2_RE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const DIGITS_RE = /[^\d]+|\d/gu;

function toByteLevel(s: string): string {
  return Array.from(new TextEncoder().encode(s), (b) => BYTE_TO_CHAR[b]).join('');
}

/**
 * The pre-tokenization of tokenizer.json, re-implemented to BUILD the merges: Digits (individual) then the GPT-2
 * regex, each piece in byte-level characters. The tests check it against transformers.js on the world's texts.
 */
export function toyPreTokenize(text: string): string[] {
  const out: string[] = [];
  for (const chunk of text.match(DIGITS_RE) ?? []) for (const piece of chunk.match(GPT2_RE) ?? []) out.push(toByteLevel(piece));
  return out;
}

/** True when every character of `text` is in the base alphabet (so it encodes without `<unk>` and round-trips). */
export function toyTokenizerCovers(text: string): boolean {
  const ok = new Set(ALPHABET_BYTES);
  for (const b of new TextEncoder().encode(text)) if (!ok.has(b)) return false;
  return true;
}

/** Lowest-rank adjacent pair first (leftmost on ties), as Hugging Face BPE does for a word without dropout. */
function bpe(word: string, ranks: Map<string, number>): string[] {
  const parts = Array.from(word);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
    }
    if (best < 0) return parts;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
}

/**
 * The texts whose every non-digit pre-token becomes one token, for each task in `TOY_TASKS` order (on its `sample`
 * question): the IPO prompt (template + layout + instruction), the prompt followed by " Yes" / " No", the bare
 * instruction; then "Yes" / "No" without the space.
 */
function sourceTexts(): string[] {
  const out: string[] = [];
  for (const task of Object.values(TOY_TASKS)) {
    const prompt = toyTaskIpoPrompt(task, task.sample, task.correctAnswer(task.sample));
    out.push(prompt, `${prompt} Yes`, `${prompt} No`, task.instruction(task.sample));
  }
  return [...out, 'Yes', 'No'];
}

interface Built {
  words: string[];
  merges: string[];
  vocab: Record<string, number>;
}

let built: Built | null = null;

function build(): Built {
  if (built) return built;
  const seen = new Set<string>();
  const words: string[] = [];
  for (const t of sourceTexts()) {
    for (const p of toyPreTokenize(t)) {
      if (Array.from(p).length >= 2 && !seen.has(p)) {
        seen.add(p);
        words.push(p);
      }
    }
  }
  // shortest first (stable), so "No" exists before "ĠNo" and "ĊĠĠĠ" before "ĊĠĠĠĠ"
  const order = words.map((w, i) => ({ w, i })).sort((x, y) => Array.from(x.w).length - Array.from(y.w).length || x.i - y.i).map((x) => x.w);
  const vocab: Record<string, number> = {};
  vocab[TOY_SPECIAL_TOKENS.unk] = TOY_SPECIAL_IDS.unk;
  vocab[TOY_SPECIAL_TOKENS.bos] = TOY_SPECIAL_IDS.bos;
  vocab[TOY_SPECIAL_TOKENS.eos] = TOY_SPECIAL_IDS.eos;
  vocab[TOY_SPECIAL_TOKENS.pad] = TOY_SPECIAL_IDS.pad;
  let next = 4;
  for (const b of ALPHABET_BYTES) vocab[BYTE_TO_CHAR[b]] = next++;
  const merges: string[] = [];
  const ranks = new Map<string, number>();
  for (const w of order) {
    for (const ch of Array.from(w)) if (!(ch in vocab)) throw new Error(`toy tokenizer: character ${JSON.stringify(ch)} of word ${JSON.stringify(w)} is outside the alphabet`);
    const pieces = bpe(w, ranks);
    let left = pieces[0];
    for (let i = 1; i < pieces.length; i++) {
      const key = `${left} ${pieces[i]}`;
      ranks.set(key, merges.length);
      merges.push(key);
      left += pieces[i];
      if (!(left in vocab)) vocab[left] = next++;
    }
  }
  built = { words: order, merges, vocab };
  return built;
}

/** The whole-word tokens of the world (as text, e.g. `" Yes"`, `"\n    "`), in vocabulary order. */
export function toyWords(): string[] {
  const charToByte = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));
  return build().words.map((w) => new TextDecoder().decode(Uint8Array.from(Array.from(w), (c) => charToByte.get(c)!)));
}

/** Number of ids: special tokens + alphabet + merges. */
export function toyVocabSize(): number {
  return Object.keys(build().vocab).length;
}

export interface ToyTokenizerFiles {
  'tokenizer.json': Record<string, unknown>;
  'tokenizer_config.json': Record<string, unknown>;
  'special_tokens_map.json': Record<string, unknown>;
}

/** The three tokenizer files as JSON objects (deterministic: no randomness, no dates). */
export function toyTokenizerFiles(): ToyTokenizerFiles {
  const { vocab, merges } = build();
  const specials = (['unk', 'bos', 'eos', 'pad'] as const).map((k) => ({ id: TOY_SPECIAL_IDS[k], content: TOY_SPECIAL_TOKENS[k] }));
  const bos = TOY_SPECIAL_TOKENS.bos;
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => ({ ...s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [TOY_SPECIAL_IDS.bos], tokens: [bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: TOY_SPECIAL_TOKENS.unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const s of specials) addedTokensDecoder[String(s.id)] = { content: s.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: TOY_SPECIAL_TOKENS.bos,
    eos_token: TOY_SPECIAL_TOKENS.eos,
    pad_token: TOY_SPECIAL_TOKENS.pad,
    unk_token: TOY_SPECIAL_TOKENS.unk,
    clean_up_tokenization_spaces: false,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  const tok = (content: string) => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });
  const specialTokensMap = {
    bos_token: tok(TOY_SPECIAL_TOKENS.bos),
    eos_token: tok(TOY_SPECIAL_TOKENS.eos),
    pad_token: tok(TOY_SPECIAL_TOKENS.pad),
    unk_token: tok(TOY_SPECIAL_TOKENS.unk),
  };
  return { 'tokenizer.json': tokenizerJson, 'tokenizer_config.json': tokenizerConfig, 'special_tokens_map.json': specialTokensMap };
}

/** Write the tokenizer files into `dir` (created if needed); returns the file names written. */
export function writeToyTokenizer(dir: string): string[] {
  ensureWritableDir(dir);
  const files = toyTokenizerFiles();
  const names = Object.keys(files) as (keyof ToyTokenizerFiles)[];
  for (const name of names) writeFileSync(join(dir, name), `${JSON.stringify(files[name], null, 2)}\n`);
  return names;
}
