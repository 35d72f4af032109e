/**
 * Turning generated ids into a response text, in the official way and in a fixed way.
 *
 * - **faithful** (`DPO/ours.py`): `response = tokenizer.decode(out, skip_special_tokens=True)[len(instruction):].strip()`
 *   where `out` is prompt + continuation. It assumes decoding the whole sequence reproduces the instruction text
 *   character for character. That fails whenever the tokenizer does not round-trip the prompt (quirk 15 of
 *   ../shared/docs/ipo-method-and-official-code.md §9), e.g. TinyStories-656K maps characters it lacks ('+', '=', '*',
 *   '/', tabs, …) to `<unk>`, which `skip_special_tokens` drops, so "What is 2+3+4?" decodes as "What is 234?" and
 *   the slice eats the response's first characters; SentencePiece decoders also drop a leading space, and special tokens of a chat
 *   template vanish from the decoded text. `promptEchoed` says whether the decoded sequence starts with the prompt.
 * - **fixed**: decode only the continuation ids.
 *
 * Both strip whitespace as Python's `str.strip()` does, and optionally cut at the first stop string
 * (`DPO/self_reward.py` cuts at `"<|eot_id|>"`: `text.split(stop)[0]`).
 */

export { pyStrip, sliceCodePoints, codePointLength } from '../util/python-str';
import { codePointLength, pyStrip, sliceCodePoints } from '../util/python-str';

export type Extraction = 'faithful' | 'fixed';

/** What `extractResponse` needs from a model (any `CausalLM` has it). */
export interface Decoder {
  decode(ids: number[], opts?: { skipSpecialTokens?: boolean }): string;
}

/**
 * The response text of one generation. `promptText` is the text that was encoded into `promptIds` (the raw
 * instruction in `ours.py`); the faithful slice removes `len(promptText)` code points from the decoded sequence.
 */
export function extractResponse(model: Decoder, promptIds: number[], promptText: string, continuation: number[], extraction: Extraction): { text: string; promptEchoed: boolean } {
  const full = model.decode([...promptIds, ...continuation], { skipSpecialTokens: true });
  const promptEchoed = full.startsWith(promptText);
  const text = extraction === 'faithful' ? pyStrip(sliceCodePoints(full, codePointLength(promptText))) : pyStrip(model.decode(continuation, { skipSpecialTokens: true }));
  return { text, promptEchoed };
}

/** Cut `text` before the earliest of `stops` (Python `text.split(stop)[0]`, then strip); `stoppedAt` names it. */
export function cutAtStopStrings(text: string, stops: readonly string[]): { text: string; stoppedAt?: string } {
  let at = -1;
  let which: string | undefined;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) {
      at = i;
      which = s;
    }
  }
  return which === undefined ? { text } : { text: pyStrip(text.slice(0, at)), stoppedAt: which };
}
