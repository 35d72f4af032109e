/**
 * Where a TensorFlow.js forward pass spends its time: a `tf.profile()` kernel list grouped into weight matmuls,
 * attention matmuls, the LM head and everything else, each with its FLOPs (`lib/models/flops.ts`) and GFLOP/s.
 */
import { gflopsPerSecond, type LlamaShape } from '../models/flops';

/** The fields of a `tf.profile()` kernel record used here. */
export interface TfKernelRecord {
  name: string;
  inputShapes: (number[] | null | undefined)[];
  outputShapes: (number[] | null | undefined)[];
  kernelTimeMs: number | { error: string };
}

export type TfKernelCategory = 'weight matmul' | 'attention matmul' | 'LM head matmul' | 'other kernels';

export interface TfKernelBucket {
  category: TfKernelCategory;
  calls: number;
  ms: number;
  flops: number;
  /** GFLOP/s inside the bucket's kernels (NaN for non-matmul kernels). */
  gflops: number;
}

/**
 * Group a `tf.profile` kernel list of one Llama forward pass: `BatchMatMul` calls whose right operand is
 * `[hidden, vocab]` are the LM head, those with `head_dim` as their inner or outer size are attention (`QKᵀ`, `AV`),
 * the other matmuls are layer weights; everything else (norms, RoPE, softmax, transposes, gathers) is "other".
 */
export function classifyTfKernels(kernels: readonly TfKernelRecord[], c: LlamaShape): TfKernelBucket[] {
  const order: TfKernelCategory[] = ['weight matmul', 'attention matmul', 'LM head matmul', 'other kernels'];
  const acc = new Map<TfKernelCategory, TfKernelBucket>(order.map((k) => [k, { category: k, calls: 0, ms: 0, flops: 0, gflops: NaN }]));
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    let cat: TfKernelCategory = 'other kernels';
    let flops = 0;
    if (k.name === 'BatchMatMul' || k.name === 'MatMul' || k.name === '_FusedMatMul') {
      const a = k.inputShapes[0] ?? [];
      const b = k.inputShapes[1] ?? [];
      const o = k.outputShapes[0] ?? [];
      const inner = a[a.length - 1] ?? 0;
      const outer = b[b.length - 1] ?? 0;
      flops = 2 * inner * o.reduce((x, y) => x * y, 1);
      if (inner === c.hiddenSize && outer === c.vocabSize) cat = 'LM head matmul';
      else if (inner === c.headDim || outer === c.headDim) cat = 'attention matmul';
      else cat = 'weight matmul';
    }
    const e = acc.get(cat)!;
    e.calls++;
    e.ms += ms;
    e.flops += flops;
  }
  for (const e of acc.values()) e.gflops = e.flops > 0 ? gflopsPerSecond(e.flops, e.ms) : NaN;
  return order.map((k) => acc.get(k)!);
}
