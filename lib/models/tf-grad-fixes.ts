/**
 * What TensorFlow.js 4.22 needs before the wasm backend can train a Llama: one gradient override, one extra wasm
 * kernel, a checkpointing wrapper and a stable log-sigmoid. Each fix was measured on the 2-core reference machine
 * (../shared/docs/training-on-tfjs.md, "What breaks, and the measured fix"):
 *
 *  - `BatchMatMul` gradient. The stock gradient (tfjs-core gradients/BatchMatMul_grad.ts) calls `matMul` with
 *    `transposeA`/`transposeB`; on wasm those run at 0.4–2 GFLOP/s against ~29 for the plain form. The override
 *    transposes explicitly, then multiplies plainly: the same products, 3–4× faster forward+backward.
 *  - `UnsortedSegmentSum` on wasm. `tf.gather`'s gradient is a segment sum, which tfjs-backend-wasm does not have
 *    (`Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'`). A plain-JS kernel over the wasm heap fills the
 *    gap, so embedding lookups and picked log-probs differentiate on wasm (checked against the `cpu` kernel).
 *  - Gradient checkpointing (`checkpointed`): `tf.customGrad` that keeps only a layer's input and recomputes the layer
 *    in backward with a nested `gradients` call. The engine leaves its active tape null after a nested call at depth
 *    0, so the outer tape is saved and restored around it.
 *  - `logSigmoid(x) = −softplus(−x)`: `tf.logSigmoid`'s gradient crashes on wasm (a saved tensor is disposed).
 *
 * `installGradFixes()` registers the override and the kernel once (idempotent; `llama-tf.ts` calls it on import);
 * `uninstallGradFixes()` restores stock tfjs, for tests whose reference must be unmodified tfjs.
 */
import * as tf from '@tensorflow/tfjs';

// ---------------------------------------------------------------------------------------------------------------
// BatchMatMul gradient with explicit transposes

/** Swap the last two axes (`[..., m, n]` → `[..., n, m]`). */
function swapLast(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(t, perm);
}

/**
 * C = op(a)·op(b) with op ∈ {id, ᵀ} (attrs transposeA/transposeB). With G = dL/dC:
 *   a·b:   da = G·bᵀ,    db = aᵀ·G
 *   a·bᵀ:  da = G·b,     db = Gᵀ·a
 *   aᵀ·b:  da = b·Gᵀ,    db = a·G
 *   aᵀ·bᵀ: da = bᵀ·Gᵀ,   db = Gᵀ·aᵀ
 * the products of tfjs-core's batchMatMulGradConfig, each transpose done by `tf.transpose` before a plain matMul.
 */
const fastBatchMatMulGrad: tf.GradConfig = {
  kernelName: 'BatchMatMul',
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved;
    const g = dy as tf.Tensor;
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y);
    if (!transposeA && !transposeB) return { a: () => mm(g, swapLast(b)), b: () => mm(swapLast(a), g) };
    if (!transposeA && transposeB) return { a: () => mm(g, b), b: () => mm(swapLast(g), a) };
    if (transposeA && !transposeB) return { a: () => mm(b, swapLast(g)), b: () => mm(a, g) };
    return { a: () => mm(swapLast(b), swapLast(g)), b: () => mm(swapLast(g), swapLast(a)) };
  },
};

// ---------------------------------------------------------------------------------------------------------------
// UnsortedSegmentSum for the wasm backend

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * out[s, ...] = Σ_{i: ids[i] = s} x[i, ...] for s in [0, numSegments); ids outside that range are dropped (as in
 * TensorFlow). `segmentIds` covers the leading axes of `x` (tfjs passes 1-D ids); `out` is
 * `[numSegments, ...x.shape.slice(segmentIds.rank)]`. Plain JS over the wasm heap: the embedding gradient of a
 * `[B·T, D]` batch is B·T·D additions, the picked-log-prob gradient R additions into a zero-filled `[R·V]` buffer.
 */
function unsortedSegmentSumWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const x = args.inputs.x!;
  const segmentIds = args.inputs.segmentIds!;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  const backend = args.backend as WasmBackendLike;
  const n = segmentIds.shape.reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(segmentIds.shape.length).reduce((p, d) => p * d, 1);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  // Views are taken after makeOutput: growing the wasm heap detaches views made before.
  const o = backend.typedArrayFromHeap(out);
  const xv = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner, dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xv[src + j];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// install / uninstall

let installed = false;
let stockBatchMatMulGrad: tf.GradConfig | undefined;
let ownSegmentSumKernel = false;

/** Register the BatchMatMul gradient override and the wasm UnsortedSegmentSum kernel (once; later calls do nothing). */
export function installGradFixes(): void {
  if (installed) return;
  stockBatchMatMulGrad = tf.getGradient('BatchMatMul');
  tf.registerGradient(fastBatchMatMulGrad);
  // Only when the backend lacks it (a later tfjs may ship its own).
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc });
    ownSegmentSumKernel = true;
  }
  installed = true;
}

/** Undo `installGradFixes` (stock tfjs gradients, no extra kernel): for references in tests. */
export function uninstallGradFixes(): void {
  if (!installed) return;
  if (stockBatchMatMulGrad) tf.registerGradient(stockBatchMatMulGrad);
  else tf.unregisterGradient('BatchMatMul');
  if (ownSegmentSumKernel) tf.unregisterKernel('UnsortedSegmentSum', 'wasm');
  ownSegmentSumKernel = false;
  installed = false;
}

export function gradFixesInstalled(): boolean {
  return installed;
}

// ---------------------------------------------------------------------------------------------------------------
// gradient checkpointing

/**
 * Run `fn` with the engine's active tape saved and restored. `engine.gradients` called at gradient depth 0 (as a
 * nested call inside a backward pass is) starts a fresh tape and sets `state.activeTape = null` when done; the outer
 * backward then crashes disposing its own saved tensors. Restoring the outer tape keeps both intact.
 */
function withOuterTape<T>(fn: () => T): T {
  const state = tf.engine().state;
  const outer = state.activeTape;
  try {
    return fn();
  } finally {
    state.activeTape = outer;
  }
}

/**
 * `f(x, consts)` with activation recomputation (gradient checkpointing, Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost"; what HF `gradient_checkpointing_enable` does per decoder layer): the forward keeps only `x`
 * and `consts`, backward runs `f` again under a nested tape and back-propagates through it.
 *
 * - `x`: the activation, e.g. a decoder layer's input `[B·T, D]`; its gradient is returned.
 * - `consts`: tensors `f` reads that the caller disposes after the forward (RoPE tables, the causal mask). `f` must
 *   read them from its argument: in backward it receives clones the engine keeps alive until the backward ends.
 * - `params`: tensors `f` reads from its closure that must receive gradients (trainable variables, LoRA A/B). They
 *   must stay alive until backward (variables do) and `f` must use these very objects: the nested tape connects
 *   them by tensor id.
 * `f` must be deterministic (dropout masks seeded, not drawn) so the recomputation equals the forward.
 */
export function checkpointed<T extends tf.Tensor>(f: (x: T, consts: tf.Tensor[]) => T, x: T, consts: tf.Tensor[], params: tf.Tensor[]): T {
  type Forward = Parameters<typeof tf.customGrad>[0];
  const run = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xIn = args[0] as T;
    save([xIn, ...consts]); // a no-op unless a tape is recording
    const value = f(xIn, consts);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const xs = saved[0] as T;
      const cs = saved.slice(1);
      // customGrad calls gradFunc outside any tidy: tidy here so the recomputation's tensors go at once.
      return withOuterTape(() => tf.tidy(() => {
        const { grads } = tf.engine().gradients(() => f(xs, cs), [xs, ...params], dy, true);
        return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? xs : params[i - 1]));
      }));
    };
    return { value, gradFunc };
  }) as unknown as Forward);
  return run(x, ...params) as T;
}

// ---------------------------------------------------------------------------------------------------------------
// stable log-sigmoid

/**
 * log σ(x) = −softplus(−x) = −log(1 + e^(−x)), elementwise. Stable at both ends (≈ x for x ≪ 0, ≈ −e^(−x) → 0 for
 * x ≫ 0) and, unlike `tf.logSigmoid`, its gradient σ(−x) works on wasm. For DPO-style losses
 * (`−log σ(β·margin)`, TRL `F.logsigmoid`).
 */
export function logSigmoid<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.neg(tf.softplus(tf.neg(x)))) as T;
}
