/**
 * WebGPU in Node through Dawn (the `webgpu` package, pinned 0.6.2): the GPU path of the TensorFlow.js engine
 * (`@tensorflow/tfjs-backend-webgpu` 4.22, pinned) and what `ipo doctor` reports. Verified recipe:
 * ../shared/docs/webgpu-recipe.md.
 *
 *   tfjs-backend-webgpu → navigator.gpu (Dawn, `dist/linux-x64/dawn.node`, glibc >= 2.34) → Vulkan loader
 *   (libvulkan.so.1) → a Vulkan driver: the NVIDIA driver on a GPU machine, Mesa lavapipe (CPU) elsewhere.
 *
 * Order matters: `globals` (GPUBufferUsage, GPUShaderStage, …) and `navigator.gpu` must exist BEFORE
 * `@tensorflow/tfjs-backend-webgpu` is imported, because that module registers the 'webgpu' backend at import time
 * only when `navigator.gpu` is truthy. Everything here is loaded lazily (dynamic imports): wasm/cpu users never load
 * the 21 MB Dawn addon.
 *
 * Debian 12's stock Mesa 22.3.6 lavapipe gives NO adapter (Dawn: "Vulkan shaderUniform*ArrayDynamicIndexing
 * required"); Mesa 25 from bookworm-backports does ("llvmpipe …", architecture "software"). `scripts/setup.sh`
 * installs it when run as root. Lavapipe runs matmuls at ~1 GFLOP/s: it is for correctness tests on tiny tensors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What to do when there is no adapter (one line, appended to errors and doctor warnings). */
export const WEBGPU_INSTALL_HINT =
  'as root, bash scripts/setup.sh installs Mesa 25 lavapipe (mesa-vulkan-drivers + libvulkan1 from bookworm-backports) on Debian 12; on a GPU machine install the NVIDIA driver with its Vulkan ICD';

/** The adapter Dawn hands out (GPUAdapterInfo) plus what the kit derives from it. */
export interface WebGpuAdapterInfo {
  /** e.g. 'nvidia', 'mesa' */
  vendor: string;
  /** e.g. 'ada-lovelace', 'software' */
  architecture: string;
  device: string;
  /** e.g. 'llvmpipe (LLVM 19.1.7, 256 bits)' or 'NVIDIA H100 80GB HBM3' */
  description: string;
  /** a CPU rasteriser (lavapipe/llvmpipe, SwiftShader, a fallback adapter): fine for tests, useless for speed */
  software: boolean;
  /** one line for reports: "<description> (vendor …, architecture …[, software])" */
  summary: string;
}

/** No WebGPU adapter (or Dawn cannot load); the message is one line that says what to install. */
export class WebGpuUnavailableError extends Error {
  constructor(reason: string) {
    super(`no WebGPU adapter: ${reason} — ${WEBGPU_INSTALL_HINT}`);
    this.name = 'WebGpuUnavailableError';
  }
}

let gpuPromise: Promise<GPU> | null = null;
let adapterPromise: Promise<WebGpuAdapterInfo> | null = null;

/** Dawn logs "error: XDG_RUNTIME_DIR is invalid or not set" when it is unset; a private tmp folder silences it. */
function ensureXdgRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  const dir = join(tmpdir(), `ipo-xdg-runtime-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

/**
 * Load Dawn once per process: assign its `globals` onto globalThis and define `navigator.gpu` (a property on Node's
 * own `navigator` where Node ≥ 21 has one, else a plain `{ gpu }` object). Idempotent. Throws one line when the
 * addon cannot load (e.g. glibc < 2.34).
 */
export function installDawn(): Promise<GPU> {
  gpuPromise ??= (async () => {
    ensureXdgRuntimeDir();
    let mod: { create: (opts: string[]) => GPU; globals: object };
    try {
      mod = (await import('webgpu')) as unknown as typeof mod;
    } catch (e) {
      gpuPromise = null;
      throw new WebGpuUnavailableError(`cannot load Dawn (npm package webgpu: ${firstLine(e)}; it needs linux-x64 with glibc >= 2.34)`);
    }
    Object.assign(globalThis, mod.globals);
    const gpu = mod.create([]);
    const nav = (globalThis as { navigator?: object }).navigator;
    if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, enumerable: true, writable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, enumerable: true, writable: true });
    return gpu;
  })();
  return gpuPromise;
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0].trim();

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/usr/local/lib'];
const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

function jsonFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
}

/** Why Dawn found no adapter, from what is on disk: no loader, no driver (ICD), or a driver Dawn rejects. */
function noAdapterReason(): string {
  const libDirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  if (!libDirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) return 'no Vulkan loader (libvulkan.so.1 not found)';
  const icdVar = process.env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : process.env.VK_ICD_FILENAMES ? 'VK_ICD_FILENAMES' : null;
  if (icdVar) {
    if (!process.env[icdVar]!.split(':').some((f) => f && existsSync(f))) return `no Vulkan driver (${icdVar} names no existing ICD file)`;
  } else if (!ICD_DIRS.some((d) => jsonFiles(d).length > 0)) {
    return `no Vulkan driver (no ICD file in ${ICD_DIRS.slice(0, 2).join(' or ')})`;
  }
  const q = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'mesa-vulkan-drivers'], { encoding: 'utf8' });
  const mesa = q.status === 0 ? q.stdout.trim() : '';
  if (mesa && Number.parseInt(mesa, 10) < 25) return `Dawn rejects every Vulkan driver here (mesa-vulkan-drivers ${mesa}: lavapipe before Mesa 25 lacks shaderUniform*ArrayDynamicIndexing)`;
  return 'Dawn rejects every Vulkan driver here (see its Warning lines on stderr)';
}

/** Software adapters by Dawn's info: architecture 'software', a fallback adapter, or a known CPU driver's name. */
function isSoftware(info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true;
  if (/software|cpu/i.test(info.architecture ?? '')) return true;
  return /llvmpipe|lavapipe|swiftshader|softpipe/i.test(`${info.description ?? ''} ${info.device ?? ''}`);
}

function describe(info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }): WebGpuAdapterInfo {
  const out = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software: isSoftware(info),
  };
  const name = out.description || out.device || out.vendor || 'unnamed adapter';
  const tags = [out.vendor && `vendor ${out.vendor}`, out.architecture && `architecture ${out.architecture}`, out.software && out.architecture !== 'software' && 'software'].filter(Boolean);
  return { ...out, summary: `${name}${tags.length ? ` (${tags.join(', ')})` : ''}` };
}

/**
 * The adapter tfjs-backend-webgpu will get (it asks for `powerPreference: 'high-performance'`, so does this), or a
 * `WebGpuUnavailableError` with the reason and what to install. `timeoutMs` bounds the request (doctor uses a few
 * seconds); the successful answer is cached for the process.
 */
export function webgpuAdapter(opts: { timeoutMs?: number } = {}): Promise<WebGpuAdapterInfo> {
  adapterPromise ??= (async () => {
    const gpu = await installDawn();
    const timeoutMs = opts.timeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WebGpuUnavailableError(`requestAdapter did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      timer.unref();
    });
    try {
      const adapter = await Promise.race([gpu.requestAdapter({ powerPreference: 'high-performance' }), timeout]);
      if (!adapter) throw new WebGpuUnavailableError(noAdapterReason());
      return describe(adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean });
    } finally {
      clearTimeout(timer);
    }
  })();
  adapterPromise.catch(() => { adapterPromise = null; });
  return adapterPromise;
}

/** `webgpuAdapter` as a value: `{ adapter }` or `{ reason }` (one line), never a rejection. */
export async function probeWebGpu(opts: { timeoutMs?: number } = {}): Promise<{ adapter: WebGpuAdapterInfo; reason?: undefined } | { adapter?: undefined; reason: string }> {
  try {
    return { adapter: await webgpuAdapter(opts) };
  } catch (e) {
    return { reason: firstLine(e) };
  }
}

/**
 * Make the tfjs 'webgpu' backend available: Dawn globals first, then an adapter check (so a missing driver is one
 * line naming what to install, not tfjs's "Cannot read properties of null (reading 'features')"), then the import
 * that registers the backend. Call before `tf.setBackend('webgpu')`; `ensureBackend('webgpu')` does.
 */
export async function registerTfWebGpu(): Promise<WebGpuAdapterInfo> {
  const info = await webgpuAdapter();
  const mod = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as { WebGPUBackend?: { prototype: SyncReader } };
  if (mod.WebGPUBackend) guardReadSync(mod.WebGPUBackend.prototype);
  return info;
}

/** The message of `dataSync()` / `arraySync()` on a GPU-resident tensor under Node. */
export const WEBGPU_SYNC_READ_ERROR =
  "dataSync()/arraySync() cannot read a GPU tensor on the TensorFlow.js webgpu backend in Node (it needs the browser's OffscreenCanvas): use await tensor.data() / array(), or the wasm backend";

interface SyncReader {
  readSync(dataId: object): unknown;
  tensorMap: { get(dataId: object): { values: unknown; dtype: string } | undefined };
  [GUARDED]?: true;
}
const GUARDED = Symbol.for('ipo.webgpuReadSyncGuard');

/**
 * tfjs-backend-webgpu 4.22 reads GPU buffers synchronously by copying them into `OffscreenCanvas` textures, which
 * Node does not have ("ReferenceError: OffscreenCanvas is not defined"), and Dawn offers no blocking map in
 * JavaScript. Tensors whose values are still on the host (never used by a kernel) read fine; for the others the
 * guard throws `WEBGPU_SYNC_READ_ERROR`, one line that says what to use instead.
 */
function guardReadSync(proto: SyncReader): void {
  if (proto[GUARDED]) return;
  const original = proto.readSync;
  proto.readSync = function (this: SyncReader, dataId: object) {
    const d = this.tensorMap.get(dataId);
    if (d && d.values == null && d.dtype !== 'string' && d.dtype !== 'complex64' && typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined') {
      throw new Error(WEBGPU_SYNC_READ_ERROR);
    }
    return original.call(this, dataId);
  };
  proto[GUARDED] = true;
}
