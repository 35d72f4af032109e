/**
 * What every `ipo` command shares: argument parsers with one-line errors, the model options, loading a model for
 * the length of a command, and printing either a readable summary or (with --json) one JSON object on stdout.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { DEFAULT_MODEL } from '../lib/models/resolve.ts';
import { ONNX_DEVICES, ONNX_DTYPES, type OnnxDevice, type OnnxDtype } from '../lib/models/onnx-options.ts';
import type { CausalLM, EngineName } from '../lib/models/types.ts';
import type { TfBackendName } from '../lib/models/backend.ts';

import { checkPriceTable, type PriceTable } from '../lib/api/usage.ts';
import { intArg } from '../lib/util/cli-args.ts';

export { floatArg, intArg } from '../lib/util/cli-args.ts';

export interface ModelOpts {
  model: string;
  engine?: EngineName;
  backend?: TfBackendName;
  dtype: OnnxDtype;
  device?: OnnxDevice;
  json?: boolean;
  /** api engine: endpoints (repeated flag or comma lists), served model name, top-K log-probs, client limits. */
  baseUrl?: string[];
  apiModel?: string;
  topLogprobs?: number;
  concurrency?: number;
  requestTimeout?: number;
  prices?: string;
}

export const modelOption = () => new Option('--model <ref>', 'model folder, shared model name, or hub id').default(DEFAULT_MODEL);
export const backendOption = () => new Option('--backend <name>', 'TensorFlow.js backend (tf engine): wasm, cpu, or webgpu (a GPU through Dawn/Vulkan; see ipo doctor); default $IPO_TF_BACKEND, else wasm').choices(['wasm', 'cpu', 'webgpu']);
export const engineOption = () => new Option('--engine <name>', 'tf = TensorFlow.js (trainable); onnx = transformers.js / ONNX Runtime (fast inference); api = an OpenAI-compatible server (--base-url; --model then gives the tokenizer); default: $IPO_ENGINE, else from the model folder/id').choices(['tf', 'onnx', 'api']);
/** `--base-url` may be repeated and each value may be a comma list: every URL is one replica of the served model. */
const collectUrls = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((x) => x.trim()).filter(Boolean)];
export const apiOptions = () => [
  new Option('--base-url <url>', 'api engine: OpenAI base URL with /v1 (vLLM, llama.cpp, TGI, ipo serve); repeat or comma-separate for replicas').argParser(collectUrls),
  new Option('--api-model <name>', 'api engine: served model name (default: the first of GET /v1/models)'),
  new Option('--top-logprobs <k>', 'api engine: log-probs asked per position (vLLM caps at --max-logprobs, default 20)').argParser(intArg('--top-logprobs', 1)),
  new Option('--concurrency <n>', 'api engine: requests in flight over all endpoints').argParser(intArg('--concurrency', 1)),
  new Option('--request-timeout <s>', 'api engine: seconds per attempt before a retry').argParser(intArg('--request-timeout', 1)),
  new Option('--prices <file>', 'api engine: JSON {"<model>": {"prompt": USD per 1M tokens, "completion": USD per 1M}} for the cost line'),
];

/** Read a `--prices` file: one line naming the file on any problem (the table is checked by `checkPriceTable`). */
export function readPrices(file: string): PriceTable {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--prices ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  return checkPriceTable(`--prices ${file}: prices`, raw);
}
export const dtypeOption = () => new Option('--dtype <name>', 'ONNX weight variant (onnx engine)').choices([...ONNX_DTYPES]).default('fp32');
export const deviceOption = () => new Option('--device <name>', 'ONNX Runtime device (onnx engine; cuda needs ONNXRUNTIME_NODE_INSTALL=cuda12 at install)').choices([...ONNX_DEVICES]);
export const jsonOption = () => new Option('--json', 'print one JSON object on stdout');

/** Add the options every model-running command takes (model, engine, backend, dtype, device, json). */
export function addModelOptions(c: Command): Command {
  c.addOption(modelOption()).addOption(engineOption()).addOption(backendOption()).addOption(dtypeOption()).addOption(deviceOption());
  for (const a of apiOptions()) c.addOption(a);
  return c.addOption(jsonOption());
}

/** The engine a command runs: `--engine`, else api when `--base-url` is given, else the loader's choice. */
export function engineOf(o: ModelOpts): EngineName | undefined {
  if (o.engine === 'api' && !o.baseUrl?.length && !process.env.IPO_BASE_URL) throw new Error('--engine api needs --base-url URL (e.g. http://127.0.0.1:8000/v1) or IPO_BASE_URL');
  if (o.baseUrl?.length && o.engine && o.engine !== 'api') throw new Error(`--base-url is for the api engine, not --engine ${o.engine}`);
  return o.baseUrl?.length ? 'api' : o.engine;
}

export async function withModel<T>(o: ModelOpts, f: (m: CausalLM) => Promise<T>): Promise<T> {
  const engine = engineOf(o);
  const api = engine === 'api' && o.baseUrl?.length
    ? { baseUrls: o.baseUrl!, apiModel: o.apiModel, topLogprobs: o.topLogprobs, concurrency: o.concurrency, timeoutMs: o.requestTimeout ? o.requestTimeout * 1000 : undefined, prices: o.prices ? readPrices(o.prices) : undefined, log: logLine }
    : undefined;
  // loaded on use: the engines pull in tfjs and transformers.js (~1 s), which --help and usage errors do not need
  const { loadModel } = await import('../lib/models/load.ts');
  const m = await loadModel(o.model, { engine, backend: o.backend, dtype: o.dtype, device: o.device, api });
  try {
    return await f(m);
  } finally {
    if (m.engine === 'api') {
      const a = m as import('../lib/models/api.ts').ApiCausalLM;
      const s = a.stats();
      logLine(`${a.client.formatUsage()}; ${s.nextTokenCalls} next-token calls, ${s.yesNoMissing} with " Yes"/" No" outside the top-${o.topLogprobs ?? 20}`);
    }
    m.dispose();
  }
}

export function print(o: { json?: boolean }, obj: Record<string, unknown>, human: () => string): void {
  process.stdout.write(o.json ? `${JSON.stringify(obj)}\n` : `${human()}\n`);
}

/** Progress and stage lines go to stderr, so stdout stays one JSON object with --json. */
export function logLine(s: string): void {
  process.stderr.write(`${s}\n`);
}

/** ipo scoring speed options of `rewardbench` / `rmbench` (they change how the numbers are computed, not the numbers). */
export interface ScoringSpeedOpts {
  batchSize?: number;
  prefixReuse: boolean;
}

export const batchSizeOption = () => new Option('--batch-size <n>', 'ipo: sequences per engine call, length-sorted (GPU; on a CPU pair by pair, the default, is faster)').argParser(intArg('--batch-size', 1));
export const prefixReuseOption = () => new Option('--no-prefix-reuse', 'ipo: score chosen and rejected with two independent passes instead of running their common prefix once (same numbers to 1e-5)');
