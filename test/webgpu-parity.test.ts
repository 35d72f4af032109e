/**
 * Issue 10 part 3: the WebGPU paths against the CPU paths that are already checked against references, on the
 * embedded TinyStories-656K model with tiny tensors (lavapipe, Mesa's CPU Vulkan driver, runs ~1 GFLOP/s):
 *  (a) TensorFlow.js webgpu vs wasm: logits of every position of a right-padded batch and the public
 *      `nextTokenLogProbsBatch`, max abs diff < 1e-4 (the bar test/onnx-parity.test.ts sets between engines);
 *  (b) one DPO step (the trainer's path: `preparePairs` → `collate` → `sequenceLogps` with per-layer checkpointing →
 *      `dpoLoss` against reference log-probs, mean over pairs) on webgpu vs stock tfjs on cpu (gradient fixes
 *      uninstalled, no checkpointing): the loss and the gradient of every trainable tensor, with LoRA (the
 *      trainer's default, adapters-off reference) and full fine-tuning (all 20 base tensors, the tied embedding);
 *  (c) the onnx engine with device 'webgpu' (onnxruntime-node's bundled WebGPU EP) vs device 'cpu' on the model
 *      exported by lib/models/export-onnx.ts, next-token log-probs within 1e-4;
 *  (d) no tensor leak: `tf.memory().numTensors` is unchanged after each backend's run;
 *  (e) `dataSync` of a GPU-resident tensor fails with one line naming `await tensor.data()` (lib/models/webgpu.ts).
 * Each tfjs backend gets its own model instance (weights uploaded from the same host arrays), and every result is read
 * back to Float32Arrays before the next backend is selected, so no tensor crosses backends. Reads are `await
 * t.data()`: tfjs-backend-webgpu's `dataSync` of a GPU-resident tensor needs `OffscreenCanvas`, which Node lacks.
 *
 * Without an adapter: skipped with the one-line reason, except in CI (`CI` set), where setup.sh installs lavapipe,
 * so a missing adapter is a failure.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ensureBackend, tf, type TfBackendName } from '../lib/models/backend.ts';
import { readLlamaConfig } from '../lib/models/config.ts';
import { LlamaTF } from '../lib/models/llama-tf.ts';
import { loadSafetensorsFolder } from '../lib/models/safetensors.ts';
import { TfCausalLM } from '../lib/models/tf-causal-lm.ts';
import { loadTokenizer } from '../lib/models/tokenizer.ts';
import { sequenceLogps } from '../lib/models/token-logps.ts';
import { installGradFixes, uninstallGradFixes } from '../lib/models/tf-grad-fixes.ts';
import { exportOnnxFromRef } from '../lib/models/export-onnx.ts';
import { loadOnnxModel } from '../lib/models/onnx.ts';
import { probeWebGpu, WEBGPU_SYNC_READ_ERROR } from '../lib/models/webgpu.ts';
import { collate } from '../lib/dpo/collate.ts';
import { dpoLoss } from '../lib/dpo/loss.ts';
import { LoraAdapters } from '../lib/dpo/lora.ts';
import { preparePairs } from '../lib/dpo/prepare.ts';
import { findAsset } from '../lib/util/paths.ts';

const probe = await probeWebGpu({ timeoutMs: 20_000 });
const skip = probe.reason && !process.env.CI ? probe.reason : false;
if (probe.reason && process.env.CI) {
  test('a WebGPU adapter is present (CI installs Mesa 25 lavapipe through scripts/setup.sh)', () => assert.fail(probe.reason));
}

const TINY = findAsset('models/tinystories-656k');
const CONFIG = readLlamaConfig(TINY);
const WEIGHTS = loadSafetensorsFolder(TINY);
const TOKENIZER = loadTokenizer(TINY);
const PROMPTS = ['Once upon a time', 'Lily and Tom went to the park. They saw', 'A'];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Select `name`, run `f`, and check it left no tensor behind (d). */
async function onBackend<T>(name: TfBackendName, f: () => Promise<T> | T): Promise<T> {
  assert.equal(await ensureBackend(name), name);
  assert.equal(tf.getBackend(), name);
  const before = tf.memory().numTensors;
  const out = await f();
  assert.equal(tf.memory().numTensors, before, `${name}: numTensors grew by ${tf.memory().numTensors - before}`);
  return out;
}

const report: string[] = [];
after(() => {
  if (probe.adapter) console.log(`webgpu parity on ${probe.adapter.summary}: ${report.join('; ')}`);
});

test('(a) tfjs webgpu logits and next-token log-probs match wasm to < 1e-4', { skip }, async () => {
  const batch = PROMPTS.map((p) => TOKENIZER.encode(p));
  const B = batch.length, T = Math.max(...batch.map((s) => s.length));
  const flat = new Int32Array(B * T).fill(CONFIG.eosTokenId as number);
  batch.forEach((s, b) => flat.set(s, b * T));
  const run = (name: TfBackendName) => onBackend(name, async () => {
    const lm = new TfCausalLM(TINY, new LlamaTF(CONFIG, WEIGHTS), TOKENIZER);
    try {
      const ids = tf.tensor2d(flat, [B, T], 'int32');
      const logits = lm.model.forward(ids); // [B, T, vocab]
      ids.dispose();
      const all = (await logits.data()) as Float32Array;
      logits.dispose();
      return { all, next: await lm.nextTokenLogProbsBatch(batch) };
    } finally {
      lm.dispose();
    }
  });
  const wasm = await run('wasm');
  const gpu = await run('webgpu');
  const dLogits = maxAbsDiff(gpu.all, wasm.all);
  const dNext = Math.max(...gpu.next.map((row, i) => maxAbsDiff(row, wasm.next[i])));
  report.push(`tfjs logits ${dLogits.toExponential(2)}, next-token log-probs ${dNext.toExponential(2)}`);
  assert.ok(dLogits < 1e-4, `logits [${B}, ${T}, ${CONFIG.vocabSize}]: max |webgpu - wasm| = ${dLogits}`);
  assert.ok(dNext < 1e-4, `next-token log-probs: max |webgpu - wasm| = ${dNext}`);
});

type StepResult = { loss: number; grads: Map<string, Float32Array> };

/**
 * One DPO step as `trainDpo` takes it (lib/dpo/train-dpo.ts `pairLogpsFull` + the loss): rows
 * `[chosen…; rejected…]`, summed completion log-probs, TRL's sigmoid loss with β = 0.1, mean over pairs; the
 * reference is the policy with adapters off (LoRA) or the weights before the step (full fine-tuning).
 * LoRA B starts non-zero (deterministic) so that A gets gradients and the reference differs from the policy.
 */
async function dpoStep(lm: TfCausalLM, withLora: boolean, checkpoint: boolean): Promise<StepResult> {
  const { pairs } = preparePairs(lm, [
    { prompt: 'Once upon a time, there was a little girl named Lily.', chosen: ' She loved to play with her ball.', rejected: ' The the the ball ball.' },
    { prompt: 'Tom saw a big dog.', chosen: ' The dog was happy and ran to him.', rejected: ' Dog.' },
  ], { maxLength: 64, maxPromptLength: 32, truncationMode: 'keep_end' });
  assert.equal(pairs.length, 2);
  const rows = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
  const pad = lm.eosTokenId ?? 0;
  const logps = (opts: { training: boolean; checkpoint: boolean }) => {
    const b = collate(rows, pad);
    return sequenceLogps(lm.model, b.ids, b.mask, opts).sum; // [2k]; ids, mask, count left to the caller's tidy
  };
  let lora: LoraAdapters | null = null;
  if (withLora) {
    lora = new LoraAdapters(lm.model, { rank: 4, alpha: 8, dropout: 0.05, targetModules: 'all-linear', seed: 1 });
    const w = lora.toWeightMap();
    let s = 7;
    for (const [k, t] of w) if (k.endsWith('lora_B.weight')) for (let i = 0; i < t.data.length; i++) t.data[i] = ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2;
    lora.loadWeightMap(w);
    lm.model.setAdapter(lora);
    lora.setStep(1);
    lora.enabled = false;
  }
  try {
    const ref = tf.tidy(() => logps({ training: false, checkpoint: false }));
    const refHost = Array.from(await ref.data());
    ref.dispose();
    const k = pairs.length;
    let variables: tf.Variable[];
    if (lora) {
      lora.enabled = true;
      variables = [...lora.namedVariables().values()];
    } else {
      lm.model.setTrainable(true);
      variables = [...lm.model.params.values()];
    }
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
      const [pc, pr] = tf.split(logps({ training: true, checkpoint }), 2) as [tf.Tensor1D, tf.Tensor1D];
      const out = dpoLoss({
        policyChosenLogps: pc, policyRejectedLogps: pr,
        refChosenLogps: tf.tensor1d(refHost.slice(0, k)), refRejectedLogps: tf.tensor1d(refHost.slice(k)),
      }, { beta: 0.1, lossType: 'sigmoid' });
      return tf.mean(out.losses) as tf.Scalar;
    }), variables);
    const out = new Map<string, Float32Array>();
    for (const [name, g] of Object.entries(grads)) {
      out.set(name.replace(/^(ipo|lora)\d+\//, ''), (await g.data()) as Float32Array);
      g.dispose();
    }
    const loss = (await value.data())[0];
    value.dispose();
    return { loss, grads: out };
  } finally {
    lora?.dispose();
  }
}

/** Per tensor ‖a − b‖₂ / ‖b‖₂ (the metric of test/llama-tf-train.test.ts), worst over b's tensors. */
function worstRelative(a: StepResult, b: StepResult): { rel: number; name: string } {
  let worst = { rel: 0, name: '' };
  assert.equal(a.grads.size, b.grads.size);
  for (const [name, y] of b.grads) {
    const x = a.grads.get(name);
    assert.ok(x, `gradient of ${name} missing on webgpu`);
    let d = 0, n = 0;
    for (let i = 0; i < y.length; i++) { d += (x[i] - y[i]) ** 2; n += y[i] ** 2; }
    assert.ok(n > 0, `cpu gradient of ${name} is zero: the comparison would not see an error`);
    const rel = Math.sqrt(d / n);
    if (rel > worst.rel) worst = { rel, name };
  }
  return worst;
}

// Tolerance: float32 with another summation order (tiled GPU matmuls, tree reductions over the 2048-way softmax)
// gives relative errors of order √K·ε ≈ 20 · 6e-8 ≈ 1e-6 per product; the backward pass chains ~10 of them through
// 2 checkpointed layers. wasm vs cpu measured up to ~1e-5 on the same model (llama-tf-train, bar 2e-5); 1e-4 leaves
// room for GPU exp/log (WGSL allows a few ULP) while any wrong kernel gives errors of order 1.
test('(b) one DPO step on tfjs webgpu: the loss and every gradient match the cpu backend (relative L2 < 1e-4)', { skip }, async () => {
  for (const withLora of [true, false]) {
    const run = (name: TfBackendName, checkpoint: boolean) => onBackend(name, async () => {
      const lm = new TfCausalLM(TINY, new LlamaTF(CONFIG, WEIGHTS), TOKENIZER);
      try {
        return await dpoStep(lm, withLora, checkpoint);
      } finally {
        lm.dispose();
      }
    });
    // the reference: stock tfjs on cpu (no gradient override, no checkpointing), as in test/llama-tf-train.test.ts
    uninstallGradFixes();
    let cpu: StepResult;
    try {
      cpu = await run('cpu', false);
    } finally {
      installGradFixes();
    }
    const gpu = await run('webgpu', true);
    assert.equal(cpu.grads.size, withLora ? 28 : 20);
    if (!withLora) assert.ok(cpu.grads.has('model.embed_tokens.weight'));
    const { rel, name } = worstRelative(gpu, cpu);
    const dLoss = Math.abs(gpu.loss - cpu.loss);
    report.push(`DPO ${withLora ? 'LoRA' : 'full'} loss ${cpu.loss.toFixed(6)} (|Δ| ${dLoss.toExponential(2)}), worst gradient rel ${rel.toExponential(2)} (${name})`);
    assert.ok(Number.isFinite(cpu.loss) && (withLora ? Math.abs(cpu.loss - Math.LN2) > 1e-4 : Math.abs(cpu.loss - Math.LN2) < 1e-6), `loss ${cpu.loss}`);
    assert.ok(dLoss < 1e-5, `loss webgpu ${gpu.loss} vs cpu ${cpu.loss}`);
    assert.ok(rel < 1e-4, `${withLora ? 'LoRA' : 'full'}: worst relative gradient error ${rel} (${name})`);
  }
});

test('(c) the onnx engine on device webgpu matches device cpu: next-token log-probs within 1e-4', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ipo-webgpu-onnx-'));
  try {
    await ensureBackend('wasm'); // the exporter reads the weights through the tf engine
    await exportOnnxFromRef(TINY, dir);
    const run = async (device: 'cpu' | 'webgpu') => {
      const m = await loadOnnxModel(dir, { device });
      try {
        assert.equal(m.device, device);
        const batch = PROMPTS.map((p) => m.encode(p));
        return { one: await m.nextTokenLogProbs(batch[1]), batch: await m.nextTokenLogProbsBatch(batch) };
      } finally {
        m.dispose();
      }
    };
    const cpu = await run('cpu');
    const gpu = await run('webgpu');
    const d = Math.max(maxAbsDiff(gpu.one, cpu.one), ...gpu.batch.map((row, i) => maxAbsDiff(row, cpu.batch[i])));
    report.push(`onnx webgpu vs cpu ${d.toExponential(2)}`);
    assert.ok(d < 1e-4, `max |webgpu - cpu| = ${d}`);
    // the WebGPU EP really ran: a silent fallback to the CPU EP would give bit-identical numbers
    assert.ok(d > 0, 'device webgpu gave bit-identical log-probs to cpu: the WebGPU execution provider did not run');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('(e) dataSync of a GPU tensor on webgpu is one line saying what to use (Node has no OffscreenCanvas); host values still read', { skip }, async () => {
  await onBackend('webgpu', async () => {
    // 4096 values: above WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD (1000), so the product runs on the GPU, not the cpu backend
    const host = Float32Array.from({ length: 4096 }, (_, i) => i % 7);
    const x = tf.tensor1d(host);
    assert.deepEqual(x.dataSync(), host); // never uploaded: the host copy answers
    const y = tf.mul(x, 2);
    try {
      assert.throws(() => y.dataSync(), (e: Error) => e.message === WEBGPU_SYNC_READ_ERROR);
      assert.throws(() => y.arraySync(), /use await tensor\.data\(\)/);
      assert.deepEqual(await y.data(), host.map((v) => 2 * v));
    } finally {
      tf.dispose([x, y]);
    }
  });
});

test('(f) training end to end on webgpu (ipo dpo / ipo sft --backend webgpu): the same weights as wasm, checkpoints and merge work', { skip }, async () => {
  const { spawnSync } = await import('node:child_process');
  const { readSafetensors } = await import('../lib/models/safetensors.ts');
  const { writeFileSync, existsSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'ipo-webgpu-train-'));
  try {
    const pairs = [
      { prompt: 'Tell me a story about a cat.', chosen: 'Once upon a time, a cat found a ball and played all day.', rejected: 'cat cat no.' },
      { prompt: 'What did Lily see?', chosen: 'Lily saw a big red ball in the park.', rejected: 'Nothing at all ever.' },
      { prompt: 'Who is Tom?', chosen: 'Tom is a little boy who likes to run.', rejected: 'Tom Tom Tom.' },
    ];
    writeFileSync(join(dir, 'pairs.jsonl'), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
    writeFileSync(join(dir, 'sft.jsonl'), pairs.map((p) => JSON.stringify({ prompt: p.prompt, completion: p.chosen })).join('\n') + '\n');
    const run = (backend: TfBackendName, args: string[]) => {
      const r = spawnSync(process.execPath, ['bin/ipo.mjs', ...args, '--backend', backend, '--max-steps', '2', '--json'], {
        encoding: 'utf8', env: { ...process.env, IPO_CACHE_DIR: join(dir, `cache-${backend}`), IPO_PROGRESS: '0', IPO_OFFLINE: '1' },
      });
      assert.equal(r.status, 0, `${backend} ${args[0]}: ${r.stderr.split('\n').filter((l) => l && !l.includes('maxDynamic')).slice(-3).join(' | ')}`);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { train: Record<string, number>; steps: number };
    };
    const compare = (a: string, b: string, tol: number) => {
      const [x, y] = [readSafetensors(a), readSafetensors(b)];
      assert.equal(x.size, y.size);
      for (const [k, t] of x) assert.ok(maxAbsDiff(t.data, y.get(k)!.data) < tol, `${k}: max |webgpu − wasm| ${maxAbsDiff(t.data, y.get(k)!.data)}`);
    };
    for (const backend of ['wasm', 'webgpu'] as const) {
      const d = run(backend, ['dpo', '--train', join(dir, 'pairs.jsonl'), '--out', join(dir, `dpo-${backend}`)]);
      assert.equal(d.steps, 2);
      assert.ok(existsSync(join(dir, `dpo-${backend}`, 'checkpoints')), 'checkpoint written (optimizer moments read back)');
      run(backend, ['sft', '--train', join(dir, 'sft.jsonl'), '--out', join(dir, `sft-${backend}`), '--lr', '1e-3']);
    }
    // LoRA adapters after two AdamW steps, and the full fine-tuned SFT weights (merge + safetensors on webgpu)
    compare(join(dir, 'dpo-wasm', 'adapter_model.safetensors'), join(dir, 'dpo-webgpu', 'adapter_model.safetensors'), 1e-6);
    compare(join(dir, 'sft-wasm', 'model.safetensors'), join(dir, 'sft-webgpu', 'model.safetensors'), 1e-4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
