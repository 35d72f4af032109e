/**
 * `ipo doctor`: checks the things that break a notebook kit before any cell runs — Node version, the two engines'
 * runtimes, the WebGPU adapter (optional GPU path), Jupyter under Debian's /usr/bin/python3 (not a pyenv shim), the
 * repo-root tslab kernelspec, Chromium for figures, the shared assets and the default model, the caches. Each check
 * says what it looked at and, when it fails, what to do (kernel discovery and install problems are the most common
 * tslab / tfjs issues).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBackend } from './models/backend';
import { DEFAULT_MODEL, hubEndpoint, hubOffline, resolveModelDir } from './models/resolve';
import { assetRoots, findAsset, hubCacheDir, kitCacheDir, repoRoot } from './util/paths';
import { chromiumPath } from './util/plot';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  /** what was found, or what is wrong and how to fix it (one line) */
  detail: string;
}

const MIN_NODE = [20, 19];
/** How long `ipo doctor` waits for Dawn's requestAdapter before reporting none. */
const WEBGPU_TIMEOUT_MS = 5000;

function packageVersion(name: string): string | null {
  // read the file directly: some packages (transformers) do not export their package.json
  const file = join(repoRoot(), 'node_modules', name, 'package.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

async function check(name: string, f: () => Promise<Omit<DoctorCheck, 'name'>> | Omit<DoctorCheck, 'name'>): Promise<DoctorCheck> {
  try {
    return { name, ...(await f()) };
  } catch (e) {
    return { name, status: 'fail', detail: String((e as Error).message ?? e).split('\n')[0] };
  }
}

export async function runDoctor(): Promise<DoctorCheck[]> {
  const root = repoRoot();
  const checks: DoctorCheck[] = [];
  checks.push(await check('node', () => {
    const [maj, min] = process.versions.node.split('.').map(Number);
    const ok = maj > MIN_NODE[0] || (maj === MIN_NODE[0] && min >= MIN_NODE[1]);
    return { status: ok ? 'ok' : 'fail', detail: `v${process.versions.node}${ok ? '' : ` — need >= ${MIN_NODE.join('.')} (tslab loads ESM packages through require(esm))`}` };
  }));
  checks.push(await check('npm packages', () => {
    const names = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu', 'webgpu', '@huggingface/transformers', 'onnxruntime-node', 'tslab', 'danfojs-node', 'plotly.js-dist'];
    const missing = names.filter((n) => !packageVersion(n));
    if (missing.length) return { status: 'fail', detail: `missing ${missing.join(', ')} — run: bash scripts/setup.sh (npm ci with ONNXRUNTIME_NODE_INSTALL=skip)` };
    return { status: 'ok', detail: names.map((n) => `${n.replace(/^@[^/]+\//, '')} ${packageVersion(n)}`).join(', ') };
  }));
  checks.push(await check('tf engine (TensorFlow.js)', async () => {
    const backend = await ensureBackend();
    return { status: 'ok', detail: `backend ${backend}${backend === 'cpu' ? ' (about 30x slower than wasm: unset IPO_TF_BACKEND)' : ''}` };
  }));
  checks.push(await check('webgpu adapter', async () => {
    // bounded: a driver that never answers must not stall doctor (a present adapter answers in well under 1 s)
    const { probeWebGpu } = await import('./models/webgpu');
    const r = await probeWebGpu({ timeoutMs: WEBGPU_TIMEOUT_MS });
    if (r.reason) return { status: 'warn', detail: `${r.reason} (optional: --backend webgpu / --device webgpu need it)` };
    const a = r.adapter!;
    return { status: 'ok', detail: `${a.summary}${a.software ? ' — a CPU driver: right for the parity tests, no speed-up (speed needs a real GPU)' : ''}` };
  }));
  checks.push(await check('onnx engine (onnxruntime-node)', async () => {
    const ort = (await import('onnxruntime-node')) as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] };
    const backends = ort.listSupportedBackends?.() ?? [];
    const dir = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
    const cuda = existsSync(join(dir, 'libonnxruntime_providers_cuda.so'));
    const wanted = process.env.IPO_DEVICE;
    if (wanted === 'cuda' && !cuda) return { status: 'fail', detail: `IPO_DEVICE=cuda but ${dir}/libonnxruntime_providers_cuda.so is missing — reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --onnxruntime-node-install=cuda12` };
    return { status: 'ok', detail: `${backends.map((b) => b.name).join(', ') || 'cpu'}; CUDA provider ${cuda ? 'installed' : 'not installed (CPU only; see README §GPU)'}` };
  }));
  checks.push(await check('jupyter (/usr/bin/python3)', () => {
    const py = '/usr/bin/python3';
    if (!existsSync(py)) return { status: 'fail', detail: `${py} not found — apt-get install python3 jupyter-notebook python3-nbclient` };
    const r = spawnSync(py, ['-c', 'import nbclient, nbformat, ipykernel, jupyter_client; print(nbclient.__version__)'], { encoding: 'utf8' });
    if (r.status !== 0) return { status: 'fail', detail: `${py} lacks nbclient/nbformat/ipykernel — run: bash scripts/setup.sh (as root), or apt-get install python3-nbclient python3-nbformat python3-ipykernel jupyter-notebook` };
    return { status: 'ok', detail: `nbclient ${r.stdout.trim()} under ${py} (use this python, not a pyenv shim)` };
  }));
  checks.push(await check('tslab kernel (tslab-proj)', () => {
    const spec = join(root, '.jupyter', 'kernels', 'tslab-proj', 'kernel.json');
    if (!existsSync(spec)) return { status: 'fail', detail: `${spec} missing — run: npm run setup:kernel` };
    const argv = (JSON.parse(readFileSync(spec, 'utf8')) as { argv: string[] }).argv.join(' ');
    if (!argv.includes(root)) return { status: 'fail', detail: `${spec} points to another checkout — run: npm run setup:kernel` };
    const tslab = join(root, 'node_modules', '.bin', 'tslab');
    if (!existsSync(tslab)) return { status: 'fail', detail: `${tslab} missing — run: bash scripts/setup.sh` };
    const r = spawnSync('jupyter', ['kernelspec', 'list'], { encoding: 'utf8', env: { ...process.env, JUPYTER_PATH: join(root, '.jupyter') } });
    if (r.status === 0 && !r.stdout.includes('tslab-proj')) return { status: 'warn', detail: `jupyter kernelspec list does not show tslab-proj with JUPYTER_PATH=${join(root, '.jupyter')} — start Jupyter with npm run nb:ui` };
    return { status: 'ok', detail: `${spec} (kernel cwd = repo root; cells import './lib/index')` };
  }));
  checks.push(await check('chromium (figures → PNG)', () => {
    const p = chromiumPath();
    if (!existsSync(p)) return { status: 'warn', detail: `${p} not found — figures cannot be saved as PNG: apt-get install chromium, or set CHROMIUM_PATH` };
    return { status: 'ok', detail: p };
  }));
  checks.push(await check('shared assets', () => {
    const roots = assetRoots();
    const found = roots.find((r) => existsSync(r.path));
    if (!found) return { status: 'fail', detail: `no asset folder: looked in ${roots.map((r) => `${r.path} (${r.from})`).join(', ')} — set IPO_ASSETS` };
    const need = ['models/tinystories-656k/model.safetensors', 'rewardbench-sources/llmbar', 'rm-bench/chat_filtered.json', 'ipo/candidate_prompts.json'];
    const missing = need.filter((rel) => { try { findAsset(rel); return false; } catch { return true; } });
    const envMissing = process.env.IPO_ASSETS && !existsSync(roots[0].path) ? ` — IPO_ASSETS=${process.env.IPO_ASSETS} does not exist, fell back` : '';
    return missing.length || envMissing
      ? { status: 'warn', detail: `${found.path}${missing.length ? `: missing ${missing.join(', ')}` : ''}${envMissing}` }
      : { status: 'ok', detail: `${found.path} (${found.from})` };
  }));
  checks.push(await check('default model', async () => ({ status: 'ok', detail: `${DEFAULT_MODEL} → ${await resolveModelDir(DEFAULT_MODEL)}` })));
  checks.push(await check('hub', () => ({
    status: 'ok',
    detail: `${hubOffline() ? 'offline (IPO_OFFLINE/HF_HUB_OFFLINE set)' : `downloads from ${hubEndpoint()} when a hub id is not cached`}; cache ${hubCacheDir()}${process.env.HF_TOKEN ? '; HF_TOKEN set' : ''}`,
  })));
  checks.push(await check('kit cache', () => {
    const dir = kitCacheDir();
    if (process.env.IPO_CACHE === '0') return { status: 'warn', detail: `disabled (IPO_CACHE=0): reruns recompute everything` };
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return { status: 'ok', detail: `${dir} (writable)` };
  }));
  return checks;
}

/** Text report: one aligned line per check. */
export function doctorReport(checks: DoctorCheck[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  const lines = checks.map((c) => `${mark[c.status]}  ${c.name.padEnd(w)}  ${c.detail}`);
  const failed = checks.filter((c) => c.status === 'fail').length;
  lines.push(failed ? `${failed} check(s) failed` : 'all required checks passed');
  return lines.join('\n');
}
