/**
 * A content fingerprint of a model, used as part of cache keys: two models with the same weights, config and
 * tokenizer share cached scores, and a model changed by DPO gets new ones.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TfCausalLM } from './tf-causal-lm';
import type { CausalLM } from './types';

/**
 * The TF engine, recognised by shape rather than `instanceof`: importing the class would load tfjs into every module
 * that keys a cache (and so into every CLI start, ~0.4 s), though only a TF model can reach this branch.
 */
function isTfModel(model: CausalLM): model is TfCausalLM {
  return model.engine === 'tf' && (model as Partial<TfCausalLM>).model?.params instanceof Map;
}

const memo = new WeakMap<object, string>();

/** sha256 of the weights actually in memory (TF engine) or of the model folder's files (other engines). */
export function modelFingerprint(model: CausalLM): string {
  const hit = memo.get(model);
  if (hit) return hit;
  const h = createHash('sha256');
  h.update(`${model.engine}\0`);
  if (isTfModel(model)) {
    h.update(JSON.stringify(model.model.config));
    for (const [name, v] of [...model.model.params].sort(([a], [b]) => a.localeCompare(b))) {
      const data = v.dataSync() as Float32Array;
      h.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    // the tokenizer decides the ids, so it is part of what a score depends on
    h.update(JSON.stringify(model.encode(' Yes No 123 x', { addSpecialTokens: true })));
  } else if (model.engine === 'api') {
    // the api engine has no weights here: its key covers the served name, the server's model card and the tokenizer
    h.update((model as CausalLM & { fingerprintKey?: string }).fingerprintKey ?? model.ref);
  } else {
    const walk = (dir: string): void => {
      for (const f of readdirSync(dir).sort()) {
        const p = join(dir, f);
        const st = statSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.size < 64 * 1024 * 1024) h.update(f).update(readFileSync(p));
        else h.update(`${f}:${st.size}:${st.mtimeMs}`);
      }
    };
    if (existsSync(model.ref) && statSync(model.ref).isDirectory()) walk(model.ref);
    else h.update(model.ref);
  }
  const fp = h.digest('hex').slice(0, 16);
  memo.set(model, fp);
  return fp;
}

/**
 * Recompute and memoise the fingerprint of `model` now, reading TF weights with awaited `data()` first
 * (`readableOnHost`), so it also works on the webgpu backend, where `modelFingerprint`'s synchronous read of a weight
 * that has been used on the GPU is impossible. Called after in-place training and, on webgpu, at load time.
 */
export async function refreshFingerprint(model: CausalLM): Promise<string> {
  memo.delete(model);
  if (isTfModel(model)) {
    const { readableOnHost } = await import('./backend');
    await readableOnHost(model.model.params.values());
  }
  return modelFingerprint(model);
}

/** Drop the memoised fingerprint of `model` (its weights changed in place, e.g. after training). */
export function forgetFingerprint(model: CausalLM): void {
  memo.delete(model);
}
