import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function doctor(env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['bin/ipo.mjs', 'doctor', '--json'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; status: string; detail: string }[] } };
}

test('ipo doctor passes on the machine the suite runs on (the same checks setup.sh makes true)', () => {
  const { code, out } = doctor();
  assert.equal(code, 0, JSON.stringify(out.checks.filter((c) => c.status === 'fail')));
  const by = Object.fromEntries(out.checks.map((c) => [c.name, c]));
  for (const name of ['node', 'npm packages', 'tf engine (TensorFlow.js)', 'onnx engine (onnxruntime-node)', 'jupyter (/usr/bin/python3)', 'tslab kernel (tslab-proj)', 'shared assets', 'default model']) {
    assert.equal(by[name]?.status, 'ok', `${name}: ${by[name]?.detail}`);
  }
  assert.match(by['default model'].detail, /tinystories-656k → .*models\/tinystories-656k$/);
});

test('ipo doctor names what is wrong and how to fix it', () => {
  const noChrome = doctor({ CHROMIUM_PATH: '/no/such/chromium' });
  const chrome = noChrome.out.checks.find((c) => c.name.startsWith('chromium'))!;
  assert.equal(chrome.status, 'warn');
  assert.match(chrome.detail, /\/no\/such\/chromium not found.*apt-get install chromium/);

  const badEnv = doctor({ IPO_ASSETS: '/no/such/assets' });
  assert.match(badEnv.out.checks.find((c) => c.name === 'shared assets')!.detail, /IPO_ASSETS=\/no\/such\/assets does not exist/);

  // IPO_DEVICE=cuda fails with the reinstall command unless the CUDA provider library is really there
  const cudaLib = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so');
  const cuda = doctor({ IPO_DEVICE: 'cuda' });
  const ort = cuda.out.checks.find((c) => c.name.startsWith('onnx engine'))!;
  if (existsSync(cudaLib)) {
    assert.equal(ort.status, 'ok');
    assert.match(ort.detail, /CUDA provider installed/);
  } else {
    assert.equal(cuda.code, 1);
    assert.equal(cuda.out.ok, false);
    assert.match(ort.detail, /libonnxruntime_providers_cuda\.so is missing.*cuda12/);
  }
});

test('ipo doctor reports the WebGPU adapter, or warns with what to install (and IPO_TF_BACKEND=webgpu then fails)', async () => {
  const { probeWebGpu } = await import('../lib/models/webgpu.ts');
  const probe = await probeWebGpu({ timeoutMs: 5000 });
  const here = doctor().out.checks.find((c) => c.name === 'webgpu adapter');
  assert.ok(here, 'no webgpu adapter check');
  if (probe.adapter) {
    assert.equal(here.status, 'ok', here.detail);
    assert.ok(here.detail.startsWith(probe.adapter.summary), here.detail);
    assert.equal(/CPU driver/.test(here.detail), probe.adapter.software);
  } else {
    assert.equal(here.status, 'warn', here.detail);
    assert.match(here.detail, /no WebGPU adapter: .*scripts\/setup\.sh/);
  }

  // no Vulkan driver (the loader is pointed at an ICD file that does not exist): a warning, doctor still passes
  const none = doctor({ VK_DRIVER_FILES: '/no/such/icd.json', VK_ICD_FILENAMES: '/no/such/icd.json' });
  const w = none.out.checks.find((c) => c.name === 'webgpu adapter')!;
  assert.equal(w.status, 'warn');
  assert.match(w.detail, /^no WebGPU adapter: (no Vulkan driver \(VK_DRIVER_FILES names no existing ICD file\)|no Vulkan loader).*bash scripts\/setup\.sh.*Mesa 25.*NVIDIA driver/);
  assert.ok(!w.detail.includes('\n'));
  assert.equal(none.code, 0);
  // ...unless the tf engine is asked to run on it: then its check fails with the same one line
  const asked = doctor({ VK_DRIVER_FILES: '/no/such/icd.json', VK_ICD_FILENAMES: '/no/such/icd.json', IPO_TF_BACKEND: 'webgpu' });
  const tfCheck = asked.out.checks.find((c) => c.name === 'tf engine (TensorFlow.js)')!;
  assert.equal(tfCheck.status, 'fail');
  assert.match(tfCheck.detail, /^no WebGPU adapter: .*bash scripts\/setup\.sh/);
  assert.equal(asked.code, 1);
});
