/**
 * The two attention kernels of the TF Llama (per-(batch, head) loop vs one batched matmul, picked by
 * `useBatchedAttention`) compute the same logits and the same gradients, grouped-query attention included
 * (TinyStories-656K: 8 query heads share 4 kv heads).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadTfModel } from '../lib/models/load.ts';
import { useBatchedAttention } from '../lib/models/llama-tf.ts';
import { sequenceLogps } from '../lib/models/token-logps.ts';
import { findAsset } from '../lib/util/paths.ts';

function withAttention<T>(kind: 'loop' | 'batched', f: () => T): T {
  const before = process.env.IPO_ATTENTION;
  process.env.IPO_ATTENTION = kind;
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.IPO_ATTENTION;
    else process.env.IPO_ATTENTION = before;
  }
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

test('batched and looped attention agree on logits and gradients (GQA, right-padded batch)', async () => {
  assert.equal(useBatchedAttention(64, 4, 32, 32), true, 'many short sequences → batched');
  assert.equal(useBatchedAttention(1, 9, 512, 512), false, 'long sequences → the loop');
  const lm = await loadTfModel(findAsset('models/tinystories-656k'));
  const m = lm.model;
  try {
    const B = 4, T = 12;
    const ids = tf.tensor2d(Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 37) % 2000)), [B, T], 'int32');
    const mask = tf.tensor2d(Float32Array.from({ length: B * T }, (_, i) => (i % T > 3 && i % T < 10 + (i % 2) ? 1 : 0)), [B, T]);
    const start = tf.memory().numTensors;
    const logits = (kind: 'loop' | 'batched') => withAttention(kind, () => { const t = m.forward(ids); const d = t.dataSync().slice(); t.dispose(); return d; });
    const dl = maxAbs(logits('loop'), logits('batched'));
    assert.ok(dl < 1e-4, `max |Δ logit| ${dl}`);
    m.setTrainable(true);
    const vars = m.trainableVariables();
    const grads = (kind: 'loop' | 'batched') => withAttention(kind, () => {
      const { value, grads: g } = tf.variableGrads(() => tf.sum(sequenceLogps(m, ids, mask).sum) as tf.Scalar, vars);
      const out = vars.map((v) => g[v.name].dataSync().slice());
      value.dispose();
      Object.values(g).forEach((t) => t.dispose());
      return out;
    });
    const gl = grads('loop');
    const gb = grads('batched');
    gl.forEach((g, i) => {
      let scale = 1e-6;
      for (let j = 0; j < g.length; j++) scale = Math.max(scale, Math.abs(g[j]));
      assert.ok(maxAbs(g, gb[i]) / scale < 1e-4, `gradient of ${vars[i].name}`);
    });
    m.setTrainable(false);
    assert.equal(tf.memory().numTensors, start);
    ids.dispose();
    mask.dispose();
  } finally {
    lm.dispose();
  }
});
