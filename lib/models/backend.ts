/**
 * TensorFlow.js backend selection. The kit defaults to `wasm` (XNNPACK + SIMD): on the 2-core reference machine it
 * runs 512³ matmuls at ~23 GFLOP/s against ~0.8 for the pure-JS `cpu` backend (see docs/stack-recipe.md §8).
 * `IPO_TF_BACKEND=cpu|webgpu` (or the `backend` option) switches.
 *
 * `webgpu` is the GPU path of the trainable engine: `@tensorflow/tfjs-backend-webgpu` on Dawn (the `webgpu` npm
 * package) over Vulkan — the NVIDIA driver on a GPU machine, Mesa 25 lavapipe (CPU, ~1 GFLOP/s, correctness only)
 * elsewhere (lib/models/webgpu.ts, ../shared/docs/webgpu-recipe.md). tfjs-node-gpu is not an option: it cannot be
 * installed offline (it downloads libtensorflow / CUDA 11.2 at install time). The webgpu backend and Dawn are
 * imported only when asked for, so wasm/cpu users never load the 21 MB addon.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export type TfBackendName = 'wasm' | 'cpu' | 'webgpu';
export const TF_BACKENDS: readonly TfBackendName[] = ['wasm', 'cpu', 'webgpu'];

let ready: Promise<TfBackendName> | null = null;
let readyName: TfBackendName | null = null;

/** Select and initialise the backend once per process; later calls with another name switch backends. */
export function ensureBackend(name?: TfBackendName): Promise<TfBackendName> {
  const wanted = (name ?? (process.env.IPO_TF_BACKEND as TfBackendName | undefined) ?? 'wasm') as TfBackendName;
  if (!TF_BACKENDS.includes(wanted)) {
    return Promise.reject(new Error(`unknown TensorFlow.js backend '${wanted}': use ${TF_BACKENDS.slice(0, -1).join(', ')} or ${TF_BACKENDS.at(-1)}`));
  }
  if (ready && readyName === wanted) return ready;
  readyName = wanted;
  const attempt = (async () => {
    if (wanted === 'webgpu') {
      // Dawn globals + an adapter check (one line naming what to install), then the import that registers 'webgpu'
      const { registerTfWebGpu } = await import('./webgpu');
      await registerTfWebGpu();
    }
    const ok = await tf.setBackend(wanted);
    if (!ok) throw new Error(`TensorFlow.js backend '${wanted}' failed to initialise`);
    await tf.ready();
    return wanted;
  })();
  ready = attempt;
  // a failed attempt is not cached: a later call (e.g. after installing a driver, or with another name) retries
  attempt.catch(() => {
    if (ready === attempt) { ready = null; readyName = null; }
  });
  return attempt;
}

export { tf };

/**
 * Make `tensors` readable with `dataSync()` on every backend. On webgpu in Node a synchronous read of a GPU-resident
 * tensor is impossible (tfjs-backend-webgpu needs the browser's OffscreenCanvas; Dawn has no blocking map), but an
 * awaited `data()` caches the values on the CPU side of the tensor (`convertAndCacheOnCPU`), after which `dataSync()`
 * returns them. On wasm / cpu the data is already on the host: nothing is done. Call it before code that reads
 * weights synchronously (checkpoints, merges, fingerprints, exports).
 */
export async function readableOnHost(tensors: Iterable<tf.Tensor>): Promise<void> {
  if (tf.getBackend() !== 'webgpu') return;
  await Promise.all([...tensors].map((t) => t.data()));
}
