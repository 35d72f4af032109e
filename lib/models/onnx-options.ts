/**
 * The ONNX engine's weight formats and execution providers, as plain names (no transformers.js import: the `ipo` CLI
 * validates `--dtype` / `--device` with these before any engine is loaded, which keeps `--help` and usage errors fast).
 */
/** Weight formats the engine loads (file `onnx/model<suffix>.onnx`). */
export type OnnxDtype = 'fp32' | 'fp16' | 'q8' | 'q4' | 'q4f16';
/** ONNX Runtime execution providers the engine can ask transformers.js for. */
export type OnnxDevice = 'cpu' | 'cuda' | 'webgpu';

/** dtype → file-name suffix, as in transformers.js 4.x `DEFAULT_DTYPE_SUFFIX_MAPPING`. */
export const ONNX_DTYPE_SUFFIX: Readonly<Record<OnnxDtype, string>> = Object.freeze({
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  q4: '_q4',
  q4f16: '_q4f16',
});
export const ONNX_DTYPES = Object.keys(ONNX_DTYPE_SUFFIX) as OnnxDtype[];
export const ONNX_DEVICES: readonly OnnxDevice[] = ['cpu', 'cuda', 'webgpu'];
