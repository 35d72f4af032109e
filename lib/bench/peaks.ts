/**
 * fp32 matmul peaks of both engines (TensorFlow.js wasm and onnxruntime-node), measured in the same run as the
 * workloads, so a workload's achieved GFLOP/s can be reported as a fraction of what the engine's own matmul kernel
 * does on this machine (MFU-style). TensorFlow.js and onnxruntime-node are imported lazily, inside the peak
 * functions, so the shape and ONNX-model helpers load instantly.
 */
import { gflopsPerSecond, matmulFlops } from '../models/flops';
import { f32Bytes, onnx, T, valueInfo } from '../models/onnx-graph';
import { median } from './measure';

/** One matmul shape `[m, k] × [k, n]`. */
export interface MatmulShape {
  m: number;
  k: number;
  n: number;
}

export const shapeLabel = (s: MatmulShape): string => `${s.m}x${s.k}x${s.n}`;

/** Peak shapes: the 512³ reference of docs/stack-recipe.md §7–8 and a SmolLM2-135M MLP matmul over 1024 tokens. */
export const PEAK_SHAPES: readonly MatmulShape[] = Object.freeze([
  { m: 512, k: 512, n: 512 },
  { m: 1024, k: 576, n: 1536 },
]);

export interface KernelResult {
  engine: 'tf' | 'onnx';
  shape: MatmulShape;
  flops: number;
  /** Best (minimum) time of the timed runs: the peak uses it. */
  bestMs: number;
  medianMs: number;
  reps: number;
  /** GFLOP/s at the best time. */
  bestGflops: number;
  /** GFLOP/s at the median time. */
  medianGflops: number;
}

export interface PeakOptions {
  shapes?: readonly MatmulShape[];
  /** Untimed runs per shape (default 2). */
  warmup?: number;
  /** Timed runs per shape (default 10). */
  reps?: number;
}

/** Deterministic pseudo-random values in [-0.5, 0.5) (no tfjs, no seeding library). */
export function filledMatrix(count: number, salt = 1): Float32Array {
  const out = new Float32Array(count);
  let s = (0x9e3779b9 ^ salt) >>> 0;
  for (let i = 0; i < count; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/**
 * A one-node ONNX model `Y = MatMul(A, B)`: A `[m, k]` float input, B `[k, n]` a float initializer (weights are
 * initializers in the exported decoder too, so ONNX Runtime may pre-pack them the same way). Serialised bytes,
 * ready for `InferenceSession.create`.
 */
export function matmulOnnxModel(shape: MatmulShape, opts: { b?: Float32Array; opset?: number } = {}): Uint8Array {
  const { m, k, n } = shape;
  const b = opts.b ?? filledMatrix(k * n, 2);
  if (b.length !== k * n) throw new Error(`matmulOnnxModel: B has ${b.length} values, expected ${k * n}`);
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opts.opset ?? 17 }],
    producerName: 'ipo-notebook-kit lib/bench/peaks.ts',
    graph: {
      name: 'matmul_peak',
      node: [{ opType: 'MatMul', name: 'matmul', input: ['A', 'B'], output: ['Y'] }],
      input: [valueInfo('A', T.FLOAT, [m, k])],
      output: [valueInfo('Y', T.FLOAT, [m, n])],
      initializer: [{ name: 'B', dims: [k, n], dataType: T.FLOAT, rawData: f32Bytes(b) }],
    },
  }).finish();
}

function kernelResult(engine: 'tf' | 'onnx', shape: MatmulShape, samples: number[]): KernelResult {
  const flops = matmulFlops(shape.m, shape.k, shape.n);
  const bestMs = Math.min(...samples);
  const medianMs = median(samples);
  return { engine, shape, flops, bestMs, medianMs, reps: samples.length, bestGflops: gflopsPerSecond(flops, bestMs), medianGflops: gflopsPerSecond(flops, medianMs) };
}

async function timeSamples(fn: () => unknown, warmup: number, reps: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/**
 * fp32 `tf.matMul` on the kit's TensorFlow.js backend (`ensureBackend`, wasm by default), result read back with
 * an awaited `data()` inside the timed region. Best of `reps` after `warmup` per shape.
 */
export async function tfMatmulPeak(opts: PeakOptions = {}): Promise<KernelResult[]> {
  const { ensureBackend, tf } = await import('../models/backend');
  await ensureBackend();
  const out: KernelResult[] = [];
  for (const shape of opts.shapes ?? PEAK_SHAPES) {
    const a = tf.tensor2d(filledMatrix(shape.m * shape.k, 1), [shape.m, shape.k]);
    const b = tf.tensor2d(filledMatrix(shape.k * shape.n, 2), [shape.k, shape.n]);
    try {
      const samples = await timeSamples(async () => {
        const y = tf.matMul(a, b);
        await y.data(); // awaited: webgpu has no synchronous read in Node (dataSync on wasm/cpu costs the same)
        y.dispose();
      }, opts.warmup ?? 2, opts.reps ?? 10);
      out.push(kernelResult('tf', shape, samples));
    } finally {
      a.dispose();
      b.dispose();
    }
  }
  return out;
}

/**
 * fp32 MatMul in onnxruntime-node on the CPU execution provider with default session options (what transformers.js
 * uses for the onnx engine: default intra-op threads). Best of `reps` after `warmup` per shape.
 */
export async function ortMatmulPeak(opts: PeakOptions = {}): Promise<KernelResult[]> {
  const ort = await import('onnxruntime-node');
  const out: KernelResult[] = [];
  for (const shape of opts.shapes ?? PEAK_SHAPES) {
    const session = await ort.InferenceSession.create(matmulOnnxModel(shape), { executionProviders: ['cpu'] });
    try {
      const feeds = { A: new ort.Tensor('float32', filledMatrix(shape.m * shape.k, 1), [shape.m, shape.k]) };
      const samples = await timeSamples(async () => {
        const r = await session.run(feeds);
        for (const v of Object.values(r)) (v as { dispose?: () => void }).dispose?.();
      }, opts.warmup ?? 2, opts.reps ?? 10);
      out.push(kernelResult('onnx', shape, samples));
    } finally {
      await session.release();
    }
  }
  return out;
}

/** The best GFLOP/s over a list of kernel results (the engine's peak), with the shape that reached it. */
export function peakOf(results: readonly KernelResult[]): { gflops: number; shape: MatmulShape | null } {
  let best: KernelResult | null = null;
  for (const r of results) if (!best || r.bestGflops > best.bestGflops) best = r;
  return { gflops: best ? best.bestGflops : NaN, shape: best ? best.shape : null };
}
