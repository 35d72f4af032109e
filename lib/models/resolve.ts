/**
 * Model references → a local folder. A reference is a folder path, a short name of a model in the shared assets
 * (`tinystories-656k`, the default), or a Hugging Face hub id (`HuggingFaceTB/SmolLM2-135M-Instruct`), which is
 * looked up in the hub cache and downloaded there when online (only the files the engine needs).
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cachedSnapshot, downloadFromHub, HUB_ID, hubOffline } from '../util/hub';
import { AssetNotFoundError, assetRoots, hubCacheDir } from '../util/paths';

/** The embedded default: raincandy-u/TinyStories-656K (a real pretrained Llama, 656K parameters, not instruction-tuned). */
export const DEFAULT_MODEL = 'tinystories-656k';

/** Files a TF-engine model folder needs; safetensors shards are added from the index. */
export const TF_MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];

/** The hub helpers live in `lib/util/hub.ts` (ground floor); re-exported here for existing imports. */
export { cachedSnapshot, downloadFromHub, hubEndpoint, hubOffline, isHubId } from '../util/hub';

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Resolve `ref` to a local folder holding config.json. `hubFiles` lists what to fetch when `ref` is a hub id not in
 * the cache (defaults to the TF engine's files + model.safetensors). Throws one line naming every place looked in.
 */
export async function resolveModelDir(
  ref: string = DEFAULT_MODEL,
  opts: { hubFiles?: (repoId: string, revision: string) => Promise<string[]>; revision?: string } = {},
): Promise<string> {
  const looked: string[] = [];
  // 1. a folder
  const asPath = resolve(ref);
  if (isDir(asPath)) {
    if (!existsSync(join(asPath, 'config.json'))) throw new AssetNotFoundError(`model folder ${asPath} has no config.json;`, [asPath], '');
    return asPath;
  }
  looked.push(asPath);
  // 2. a short name in the shared assets
  if (!ref.includes('/') || ref.startsWith('models/')) {
    for (const root of assetRoots()) {
      const p = join(root.path, 'models', ref.replace(/^models\//, ''));
      if (isDir(p)) return p;
      looked.push(p);
    }
  }
  // 3. a hub id: cache, then download
  if (HUB_ID.test(ref)) {
    const revision = opts.revision ?? 'main';
    const cached = cachedSnapshot(ref, revision);
    if (cached) return cached;
    looked.push(`${hubCacheDir()}/models--${ref.replace(/\//g, '--')}`);
    if (hubOffline()) throw new AssetNotFoundError(`model '${ref}'`, looked, 'hub downloads are off: IPO_OFFLINE/HF_HUB_OFFLINE is set');
    try {
      // hubFiles may itself download (config, index), so its errors are reported with the places looked in too.
      const files = opts.hubFiles ? await opts.hubFiles(ref, revision) : [...TF_MODEL_FILES, 'model.safetensors'];
      const weights = files.filter((f) => f.endsWith('.safetensors'));   // a model without its weights is no model
      return await downloadFromHub(ref, files, { revision, required: ['config.json', ...weights] });
    } catch (e) {
      throw new AssetNotFoundError(`model '${ref}'`, looked, (e as Error).message.split('\n')[0]);
    }
  }
  throw new AssetNotFoundError(`model '${ref}'`, looked, 'pass a folder, a shared model name such as tinystories-656k, or a hub id org/name');
}
