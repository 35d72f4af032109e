/**
 * What every `ipo` command shares: argument parsers with one-line errors, the model options, loading a model for
 * the length of a command, and printing either a readable summary or (with --json) one JSON object on stdout.
 */
import { Option, type Command } from 'commander';
import { loadModel } from '../lib/models/load.ts';
import { DEFAULT_MODEL } from '../lib/models/resolve.ts';
import { ONNX_DEVICES, ONNX_DTYPES, type OnnxDevice, type OnnxDtype } from '../lib/models/onnx.ts';
import type { CausalLM, EngineName } from '../lib/models/types.ts';

export { floatArg, intArg } from '../lib/util/cli-args.ts';

export interface ModelOpts {
  model: string;
  engine?: EngineName;
  backend: 'wasm' | 'cpu';
  dtype: OnnxDtype;
  device?: OnnxDevice;
  json?: boolean;
}

export const modelOption = () => new Option('--model <ref>', 'model folder, shared model name, or hub id').default(DEFAULT_MODEL);
export const backendOption = () => new Option('--backend <name>', 'TensorFlow.js backend (tf engine)').choices(['wasm', 'cpu']).default('wasm');
export const engineOption = () => new Option('--engine <name>', 'tf = TensorFlow.js (trainable); onnx = transformers.js / ONNX Runtime (fast inference); default: $IPO_ENGINE, else from the model folder/id').choices(['tf', 'onnx']);
export const dtypeOption = () => new Option('--dtype <name>', 'ONNX weight variant (onnx engine)').choices([...ONNX_DTYPES]).default('fp32');
export const deviceOption = () => new Option('--device <name>', 'ONNX Runtime device (onnx engine; cuda needs ONNXRUNTIME_NODE_INSTALL=cuda12 at install)').choices([...ONNX_DEVICES]);
export const jsonOption = () => new Option('--json', 'print one JSON object on stdout');

/** Add the options every model-running command takes (model, engine, backend, dtype, device, json). */
export function addModelOptions(c: Command): Command {
  return c.addOption(modelOption()).addOption(engineOption()).addOption(backendOption()).addOption(dtypeOption()).addOption(deviceOption()).addOption(jsonOption());
}

export async function withModel<T>(o: ModelOpts, f: (m: CausalLM) => Promise<T>): Promise<T> {
  const m = await loadModel(o.model, { engine: o.engine, backend: o.backend, dtype: o.dtype, device: o.device });
  try {
    return await f(m);
  } finally {
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
