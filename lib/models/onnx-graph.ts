/**
 * Building ONNX graphs in TypeScript with onnx-proto: the node/initializer builder, value-info helpers and byte
 * encoders shared by the Llama exporter (`export-onnx.ts`) and the random BERT reward model (`make-reward-model.ts`).
 */
import * as onnxNs from 'onnx-proto';
import { ModelLoadError } from './errors';

// onnx-proto is CommonJS (`module.exports = $root`): under tsx/ESM the namespace object only has `default`.
export const onnx: typeof onnxNs.onnx = (onnxNs as unknown as { onnx?: typeof onnxNs.onnx }).onnx
  ?? (onnxNs as unknown as { default: { onnx: typeof onnxNs.onnx } }).default.onnx;

/** An export that cannot be done (bad folder, unsupported config, too large). One line: `<path>: <problem>`. */
export class OnnxExportError extends ModelLoadError {
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(file, problem, options);
    this.name = 'OnnxExportError';
  }
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `[rows, cols]` → `[cols, rows]`, cache-blocked. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const B = 64;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const base = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = src[base + j];
      }
    }
  }
  return out;
}

export const T = onnx.TensorProto.DataType;
export type DimSpec = number | string;

export interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  byteLength: number;
  /** Produces the little-endian bytes when the file is written (lazily, so big transposes happen one at a time). */
  bytes: () => Uint8Array;
}

export function f32Bytes(a: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(4 * i, a[i], true);
  return out;
}

export function i64Bytes(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setBigInt64(8 * i, BigInt(v), true));
  return out;
}

export function valueInfo(name: string, elemType: number, dims: DimSpec[]): onnxNs.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

/** INT, INTS, or FLOAT (`{ f }`) attribute. */
export type AttrValue = number | number[] | { f: number };

export class GraphBuilder {
  readonly nodes: onnxNs.onnx.INodeProto[] = [];
  readonly inits: Initializer[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  constructor(readonly opset: number) {}

  /** Add a node; returns its output names (`outputs` fixes them, else fresh names from `hint`). */
  add(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { outputs?: string[]; hint?: string; nOut?: number } = {}): string[] {
    const hint = opts.hint ?? op;
    const outputs = opts.outputs ?? Array.from({ length: opts.nOut ?? 1 }, (_, i) => `${hint}_${this.counter}${i ? `_${i}` : ''}`);
    const attribute: onnxNs.onnx.IAttributeProto[] = Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v)
        ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
        : typeof v === 'object'
          ? { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.f }
          : { name, type: onnx.AttributeProto.AttributeType.INT, i: v });
    this.nodes.push({ opType: op, name: `${hint}/${op}_${this.counter++}`, input: inputs, output: outputs, attribute });
    return outputs;
  }

  /** Single-output node. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint?: string, output?: string): string {
    return this.add(op, inputs, attrs, { hint, outputs: output ? [output] : undefined })[0];
  }

  init(name: string, dims: number[], dataType: number, byteLength: number, bytes: () => Uint8Array): string {
    this.inits.push({ name, dims, dataType, byteLength, bytes });
    return name;
  }

  /** Float initializer produced lazily by `data()` (must have `count` values). */
  weight(name: string, dims: number[], data: () => Float32Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    return this.init(name, dims, T.FLOAT, 4 * count, () => {
      const d = data();
      if (d.length !== count) throw new OnnxExportError(name, `weight has ${d.length} values, expected ${count} for [${dims}]`);
      return f32Bytes(d);
    });
  }

  /** Float initializer from data already in memory. */
  tensor(name: string, dims: number[], data: Float32Array): string {
    return this.weight(name, dims, () => data);
  }

  constI64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = `const_i64_${this.constCache.size}`;
      const bytes = i64Bytes(values);
      this.init(name, dims, T.INT64, bytes.length, () => bytes);
      this.constCache.set(key, name);
    }
    return name;
  }

  constF32(value: number): string {
    const key = `f32:${value}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = `const_f32_${this.constCache.size}`;
      const bytes = f32Bytes(Float32Array.of(value));
      this.init(name, [], T.FLOAT, 4, () => bytes);
      this.constCache.set(key, name);
    }
    return name;
  }

  unsqueeze(x: string, axes: number[], hint?: string): string {
    return this.op('Unsqueeze', [x, this.constI64(axes)], {}, hint);
  }

  /** The initializers as TensorProtos with their bytes (for small graphs encoded in one piece). */
  initializerProtos(): onnxNs.onnx.ITensorProto[] {
    return this.inits.map((i) => ({ name: i.name, dims: i.dims, dataType: i.dataType, rawData: i.bytes() }));
  }

  reduceMeanLast(x: string, hint?: string): string {
    return this.opset >= 18
      ? this.op('ReduceMean', [x, this.constI64([-1])], { keepdims: 1 }, hint)
      : this.op('ReduceMean', [x], { axes: [-1], keepdims: 1 }, hint);
  }
}


// ---------------------------------------------------------------------------------------------------------------
// dynamic int8 quantization (onnxruntime `quantize_dynamic` defaults)

/** numpy's `round` (and ONNX QuantizeLinear's rounding): to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Smallest normal float32, numpy's `finfo(float32).tiny`: below it quant_utils falls back to scale 1. */
export const FLOAT32_TINY = 1.1754943508222875e-38;

export interface Q8Weight {
  /** int8 values, same layout as the input. */
  data: Int8Array;
  /** float32 scale: real ≈ scale · q (zero point 0). */
  scale: number;
}

/**
 * Per-tensor SYMMETRIC int8 quantization of a weight, exactly onnxruntime's
 * `quant_utils.quantize_data(data, TensorProto.INT8, symmetric=True, reduce_range=False)` as `quantize_dynamic` calls
 * it for a MatMul B with its defaults (weight_type QInt8 → `is_weight_symmetric` True, per_channel False,
 * reduce_range False; onnxruntime/python/tools/quantization/quant_utils.py `compute_data_quant_params`,
 * `compute_scale_zp`, `quantize_nparray`, `get_qmin_qmax_for_qType` with the symmetric range [-127, 127]):
 *   rmin = min(min(w), 0), rmax = max(max(w), 0) (float32); absmax = max(|rmin|, |rmax|);
 *   scale = float32((float32(absmax − (−absmax)) as float64) / 254), or 1 when that is below float32 tiny (w all 0);
 *   zero point 0 (round((qmin + qmax) / 2));
 *   q = clip(round_half_even(float32(w / scale)) + 0, −128, 127) (quantize_nparray clips to the full int8 range).
 * Non-finite weights are refused (the scale would be Inf/NaN).
 */
export function quantizeSymmetricInt8(w: Float32Array, name = 'weight'): Q8Weight {
  let rmin = 0;
  let rmax = 0;
  for (let i = 0; i < w.length; i++) {
    const v = w[i];
    if (!Number.isFinite(v)) throw new OnnxExportError(name, `cannot quantize: value ${v} at index ${i} is not finite`);
    if (v < rmin) rmin = v;
    else if (v > rmax) rmax = v;
  }
  const absmax = Math.max(-rmin, rmax);
  const range = Math.fround(absmax + absmax); // float32 rmax − rmin of the symmetrized range
  const s64 = range / 254;
  const scale = s64 < FLOAT32_TINY ? 1 : Math.fround(s64);
  if (!Number.isFinite(scale)) throw new OnnxExportError(name, `cannot quantize: |max| ${absmax} overflows the float32 scale`);
  const data = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const q = roundHalfEven(Math.fround(w[i] / scale));
    data[i] = q < -128 ? -128 : q > 127 ? 127 : q;
  }
  return { data, scale };
}

/**
 * Builds onnxruntime `quantize_dynamic`'s IntegerOps pattern for `x · W` with a constant W (operators/matmul.py
 * `MatMulInteger.do_quantization`, onnx_quantizer.py `_get_quantize_input_nodes` with `fuse_dynamic_quant`):
 *
 *   x_quantized, x_scale, x_zero_point = DynamicQuantizeLinear(x)                 uint8, per tensor, once per x
 *   y_int = MatMulInteger(x_quantized, W_quantized, x_zero_point, W_zero_point)   int32 [.., N]
 *   y = Mul(Cast(y_int, to=FLOAT), Mul(x_scale, W_scale))                         float [.., N]
 *
 * with `W_quantized` int8 [K, N], `W_scale` float32 scalar and `W_zero_point` int8 scalar 0 (`quantizeSymmetricInt8`),
 * named `<weight>_quantized|_scale|_zero_point` as quantize_dynamic names them. An activation feeding several
 * projections (q/k/v, gate/up) is quantized once, as quantize_dynamic reuses its `quantized_value_map` entry.
 * Weight bytes are produced lazily when the file is written, one tensor at a time.
 */
export class DynamicQ8 {
  private readonly inputs = new Map<string, { q: string; scale: string; zp: string }>();
  /** Quantized MatMuls added so far. */
  matmuls = 0;

  constructor(private readonly g: GraphBuilder) {}

  /** DynamicQuantizeLinear of `x` (cached per tensor name). */
  quantizeInput(x: string): { q: string; scale: string; zp: string } {
    let r = this.inputs.get(x);
    if (!r) {
      r = { q: `${x}_quantized`, scale: `${x}_scale`, zp: `${x}_zero_point` };
      this.g.add('DynamicQuantizeLinear', [x], {}, { outputs: [r.q, r.scale, r.zp], hint: `${x}_QuantizeLinear` });
      this.inputs.set(x, r);
    }
    return r;
  }

  /** int8 initializers of a weight `[K, N]` whose float32 values `data()` yields on demand. */
  weight(name: string, dims: [number, number], data: () => Float32Array): { q: string; scale: string; zp: string } {
    const count = dims[0] * dims[1];
    let scale: number | null = null;
    const quant = () => {
      const d = data();
      if (d.length !== count) throw new OnnxExportError(name, `weight has ${d.length} values, expected ${count} for [${dims}]`);
      const r = quantizeSymmetricInt8(d, name);
      scale = r.scale;
      return r;
    };
    const q = this.g.init(`${name}_quantized`, dims, T.INT8, count, () => {
      const r = quant();
      return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    });
    const s = this.g.init(`${name}_scale`, [], T.FLOAT, 4, () => f32Bytes(Float32Array.of(scale ?? quant().scale)));
    const zp = this.g.init(`${name}_zero_point`, [], T.INT8, 1, () => Uint8Array.of(0));
    return { q, scale: s, zp };
  }

  /** `x [.., K] · W [K, N]` through MatMulInteger; `output` fixes the result's name. */
  matmul(x: string, weightName: string, dims: [number, number], data: () => Float32Array, opts: { hint?: string; output?: string } = {}): string {
    const hint = opts.hint ?? weightName;
    const a = this.quantizeInput(x);
    const b = this.weight(weightName, dims, data);
    const yInt = this.g.op('MatMulInteger', [a.q, b.q, a.zp, b.zp], {}, hint);
    const yF = this.g.op('Cast', [yInt], { to: T.FLOAT }, hint);
    const scales = this.g.op('Mul', [a.scale, b.scale], {}, hint);
    this.matmuls++;
    return this.g.op('Mul', [yF, scales], {}, hint, opts.output);
  }
}
