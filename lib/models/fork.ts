/**
 * Shared-prefix scoring (`CausalLM.forkedLogProbs`) for engines with a key/value cache: the prefix is run once, every
 * branch continues from its cache, and every continuation from its branch's cache. The tree is at most two levels
 * deep because that is all IPO needs:
 *
 *     prefix = BOS + template + "User : <instruction>" + … (shared by a pair's chosen and rejected prompts)
 *       ├─ branch chosen:   rest of the chosen prompt      → next-token log-probs     (paper preset)
 *       │    ├─ " Yes" continuation → log P(" Yes" | …)                              (exact preset)
 *       │    └─ " No"  continuation → log P(" No"  | …)
 *       └─ branch rejected: …
 *
 * Work saved, for a pair whose prompts share P of their N_c and N_r tokens: the plain paper path runs N_c + N_r
 * positions, this one P + (N_c − P) + (N_r − P); the plain exact path runs each prompt twice more (one
 * `continuationLogProb` per answer), this one only the answers' 1–2 extra tokens.
 *
 * The orchestration (argument checks, the tree walk, reading continuation log-probs off the rows) lives here once;
 * an engine supplies `KvOps`: run ids after a cache state WITHOUT consuming it (so one state feeds several branches)
 * and release a state. Numbers equal the engine's plain calls up to float rounding of the different matmul shapes
 * (test/prefix-reuse.test.ts asserts ≤ 1e-5 on P(Yes) on both engines).
 */
import { checkTokenIds } from './checks';
import type { ForkBranch, ForkResult } from './types';

/** What an engine implements for `forkedLogProbs`. `S` is its cache state (tensors per layer). */
export interface KvOps<S> {
  /**
   * Run `ids` (non-empty) after `state` (null: from position 0) and return the extended state — `state` itself stays
   * valid, the caller releases both — and the full-vocabulary log-softmax of the LAST `rows` positions,
   * row-major `[rows, vocab]` (1 ≤ rows ≤ ids.length).
   */
  extend(state: S | null, ids: number[], rows: number): Promise<{ state: S; logp: Float32Array }>;
  release(state: S): void;
}

export interface ForkModel {
  vocabSize: number;
  maxLength: number;
}

function checkBranches(model: ForkModel, prefix: number[], branches: ForkBranch[]): void {
  const fn = 'forkedLogProbs';
  checkTokenIds(prefix, `${fn}: prefix`, model.vocabSize, model.maxLength);
  if (!Array.isArray(branches)) throw new Error(`${fn}: branches must be an array`);
  branches.forEach((b, i) => {
    if (b === null || typeof b !== 'object' || !Array.isArray(b.ids)) throw new Error(`${fn}: branch ${i} must be an object with an ids array`);
    if (b.ids.length > 0) checkTokenIds([...prefix, ...b.ids], `${fn}: prefix + branch ${i}`, model.vocabSize, model.maxLength);
    (b.continuations ?? []).forEach((c, j) => {
      if (!Array.isArray(c)) throw new Error(`${fn}: branch ${i} continuation ${j} must be an array of ids`);
      if (c.length > 0) checkTokenIds([...prefix, ...b.ids, ...c], `${fn}: prefix + branch ${i} + continuation ${j}`, model.vocabSize, model.maxLength);
    });
  });
}

/** The tree walk behind every engine's `forkedLogProbs` (see the file comment). */
export async function forkedLogProbsWith<S>(ops: KvOps<S>, model: ForkModel, prefix: number[], branches: ForkBranch[]): Promise<ForkResult[]> {
  checkBranches(model, prefix, branches);
  const V = model.vocabSize;
  const root = await ops.extend(null, prefix, 1);
  const out: ForkResult[] = [];
  try {
    for (const b of branches) {
      const conts = b.continuations ?? [];
      // Continuations longer than one token need the branch's cache; otherwise only its last row is read.
      const needState = conts.some((c) => c.length > 1);
      let state: S | null = null;
      let next = root.logp;
      if (b.ids.length > 0) {
        const r = await ops.extend(root.state, b.ids, 1);
        next = r.logp;
        if (needState) state = r.state;
        else ops.release(r.state);
      }
      try {
        const continuations: ForkResult['continuations'] = [];
        for (const c of conts) {
          if (c.length === 0) {
            continuations.push({ total: 0, perToken: [] });
            continue;
          }
          const perToken = [next[c[0]]];
          if (c.length > 1) {
            // rows t = 0 … C−2 of the run on c[0 … C−2] predict c[1 … C−1]
            const r = await ops.extend(state ?? root.state, c.slice(0, -1), c.length - 1);
            ops.release(r.state);
            for (let t = 1; t < c.length; t++) perToken.push(r.logp[(t - 1) * V + c[t]]);
          }
          continuations.push({ total: perToken.reduce((a, x) => a + x, 0), perToken });
        }
        out.push({ next: next === root.logp ? root.logp.slice() : next, continuations });
      } finally {
        if (state !== null) ops.release(state);
      }
    }
  } finally {
    ops.release(root.state);
  }
  return out;
}
