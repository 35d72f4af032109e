/**
 * `loadModel(ref)`: the one call notebooks and the CLI use to get a `CausalLM`.
 * ref → folder (`resolve.ts`) → config.json (`config.ts`) → safetensors (`safetensors.ts`) → TF Llama
 * (`llama-tf.ts`) + tokenizer (`tokenizer.ts`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ApiEngineOptions } from './api';
import { ensureBackend, tf, type TfBackendName } from './backend';
import { refreshFingerprint } from './fingerprint';
import { readLlamaConfig } from './config';
import { LlamaTF } from './llama-tf';
import { loadOnnxModel, type OnnxDevice, type OnnxDtype } from './onnx';
import { DEFAULT_MODEL, downloadFromHub, hubOffline, isHubId, resolveModelDir, TF_MODEL_FILES } from './resolve';
import { loadSafetensorsFolder } from './safetensors';
import { TfCausalLM } from './tf-causal-lm';
import { loadTokenizer } from './tokenizer';
import type { CausalLM, EngineName } from './types';

export interface LoadModelOptions {
  /** `tf` (trainable) or `onnx` (transformers.js, fast inference); default `detectEngine(ref)`. */
  engine?: EngineName;
  /** TensorFlow.js backend for the tf engine: `wasm` (default) or `cpu`. */
  backend?: TfBackendName;
  /** Make the weights trainable variables (DPO). */
  trainable?: boolean;
  /** Hub revision (branch, tag or commit) for hub ids. */
  revision?: string;
  /** Chat template to use when the tokenizer files carry none. */
  chatTemplate?: string;
  /** ONNX weight format for the onnx engine: fp32 (default), fp16, q8, q4, q4f16. */
  dtype?: OnnxDtype;
  /** Execution provider for the onnx engine: cpu (default, or $IPO_DEVICE), cuda, webgpu. */
  device?: OnnxDevice;
  /** The api engine's endpoints and client settings (`ref` then only supplies the tokenizer and config). */
  api?: ApiEngineOptions;
}

/** Files to fetch for the TF engine: the weights, sharded or not, plus config and tokenizer files. */
async function tfHubFiles(repoId: string, revision: string): Promise<string[]> {
  const dir = await downloadFromHub(repoId, [...TF_MODEL_FILES, 'model.safetensors.index.json'], { revision, required: ['config.json'] });
  const index = join(dir, 'model.safetensors.index.json');
  if (!existsSync(index)) return ['model.safetensors'];
  const shards = new Set(Object.values(JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>));
  return [...shards];
}

/** True when `dir` holds `model.safetensors`, or an index whose every shard is present. */
export function weightsComplete(dir: string): boolean {
  if (existsSync(join(dir, 'model.safetensors'))) return true;
  const index = join(dir, 'model.safetensors.index.json');
  if (!existsSync(index)) return false;
  try {
    const shards = new Set(Object.values(JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>));
    return [...shards].every((f) => existsSync(join(dir, f)));
  } catch {
    return false;
  }
}

/** Load a Llama-family model with the TensorFlow.js engine. */
export async function loadTfModel(ref: string = DEFAULT_MODEL, opts: LoadModelOptions = {}): Promise<TfCausalLM> {
  await ensureBackend(opts.backend);
  let dir = await resolveModelDir(ref, { hubFiles: tfHubFiles, revision: opts.revision });
  if (!weightsComplete(dir) && isHubId(ref) && !hubOffline()) {
    // a cached snapshot left half-downloaded (e.g. config.json fetched, weights interrupted): finish it
    const revision = opts.revision ?? 'main';
    const files = await tfHubFiles(ref, revision);
    dir = await downloadFromHub(ref, files, { revision, required: ['config.json', ...files] });
  }
  const config = readLlamaConfig(dir);
  const tokenizer = loadTokenizer(dir, { chatTemplate: opts.chatTemplate });
  const weights = loadSafetensorsFolder(dir);
  const model = new LlamaTF(config, weights, { trainable: opts.trainable, source: dir });
  const lm = new TfCausalLM(dir, model, tokenizer);
  // webgpu: fingerprint now, while the weights are still on the host side (a synchronous read of a weight the GPU
  // has used is impossible in Node), so the sync `modelFingerprint` of every cached loop finds it memoised
  if (tf.getBackend() === 'webgpu') await refreshFingerprint(lm);
  return lm;
}

/**
 * The engine a reference implies when none is given: `$IPO_ENGINE`, else `api` when `$IPO_BASE_URL` is set (how
 * notebooks run against a server), else `onnx` for a folder that has `onnx/*.onnx`
 * but no safetensors weights or for an `onnx-community/…` / `…-ONNX` hub id, else `tf`.
 */
export function detectEngine(ref: string = DEFAULT_MODEL): EngineName {
  const env = process.env.IPO_ENGINE;
  if (env === 'tf' || env === 'onnx' || env === 'api') return env;
  if (env) throw new Error(`IPO_ENGINE must be tf, onnx or api, got '${env}'`);
  if (process.env.IPO_BASE_URL) return 'api';
  const dir = resolve(ref);
  if (existsSync(join(dir, 'config.json'))) {
    const hasOnnx = existsSync(join(dir, 'onnx')) && readdirSync(join(dir, 'onnx')).some((f) => f.endsWith('.onnx'));
    return hasOnnx && !weightsComplete(dir) ? 'onnx' : 'tf';
  }
  if (isHubId(ref) && (/^onnx-community\//i.test(ref) || /-onnx$/i.test(ref))) return 'onnx';
  return 'tf';
}

/**
 * The api engine's settings from the environment (notebooks, scripts): `IPO_BASE_URL` (comma list of replicas),
 * `IPO_API_MODEL` (served name), `IPO_TOP_LOGPROBS`, `IPO_API_CONCURRENCY`; undefined when `IPO_BASE_URL` is unset.
 */
export function apiOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ApiEngineOptions | undefined {
  const urls = (env.IPO_BASE_URL ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  if (urls.length === 0) return undefined;
  const int = (name: string) => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
  return { baseUrls: urls, apiModel: env.IPO_API_MODEL || undefined, topLogprobs: int('IPO_TOP_LOGPROBS'), concurrency: int('IPO_API_CONCURRENCY') };
}

/** Load any supported model; the engine comes from `opts.engine`, else `detectEngine(ref)`. */
export async function loadModel(ref: string = DEFAULT_MODEL, opts: LoadModelOptions = {}): Promise<CausalLM> {
  const engine = opts.engine ?? detectEngine(ref);
  if (engine === 'tf') return loadTfModel(ref, opts);
  if (engine === 'onnx') return loadOnnxModel(ref, { dtype: opts.dtype, device: opts.device, revision: opts.revision, chatTemplate: opts.chatTemplate });
  if (engine === 'api') {
    opts = { ...opts, api: opts.api ?? apiOptionsFromEnv() };
    if (!opts.api) throw new Error('the api engine needs an endpoint: pass --base-url URL or set IPO_BASE_URL (e.g. http://127.0.0.1:8000/v1)');
    const { loadApiModel } = await import('./api'); // loaded on demand: the HTTP client is not needed by local engines
    return loadApiModel(ref, opts.api);
  }
  throw new Error(`unknown engine '${engine}': use tf, onnx or api`);
}
