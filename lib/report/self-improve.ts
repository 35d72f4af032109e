/**
 * Tables, figures and the verdict sentence of the self-improvement notebook (05) and the CLI, as plain functions so
 * tests reach them: a notebook cell only calls these and displays what they return.
 */
import type { Figure } from '../util/plot';
import type { StepRecord } from '../dpo/train-loop';
import { getPaperResults } from '../eval/paper-results';

/** One trained run to compare (e.g. pairs chosen by IPO, by the rubric, by a reward model). */
export interface RunSummary {
  /** Who built the pairs: `ipo`, `self-reward`, `rm`, `random`, … */
  label: string;
  history: readonly StepRecord[];
  evals: readonly ({ step: number } & Record<string, number>)[];
  /** Pairs trained on, and what the pair builder dropped. */
  pairs: number;
  dropped?: Record<string, number>;
  /** Post-training numbers (fractions in [0, 1]) with optional intervals, by column name. */
  post?: Record<string, { value: number; lo?: number; hi?: number } | null>;
}

const round = (x: number | undefined | null, d = 3) => (x === undefined || x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Line charts of a TRL metric over steps (train) with the eval points as markers, one colour per run. */
export function trainingCurves(runs: readonly RunSummary[], metric: 'loss' | 'rewards/margins' | 'rewards/accuracies' | string): Figure {
  const data: Record<string, unknown>[] = [];
  for (const r of runs) {
    data.push({ type: 'scatter', mode: 'lines', name: `${r.label} (train)`, x: r.history.map((h) => h.step), y: r.history.map((h) => h[metric] ?? null), legendgroup: r.label });
    const ev = r.evals.filter((e) => Number.isFinite(e[`eval_${metric}`]));
    if (ev.length) data.push({ type: 'scatter', mode: 'markers', marker: { size: 9, symbol: 'diamond' }, name: `${r.label} (eval)`, x: ev.map((e) => e.step), y: ev.map((e) => e[`eval_${metric}`]), legendgroup: r.label });
  }
  return {
    data,
    layout: { title: { text: `DPO ${metric} per step` }, xaxis: { title: { text: 'optimizer step' } }, yaxis: { title: { text: metric } }, legend: { orientation: 'h', y: -0.25 } },
  };
}

/** One row per run: pairs, the eval metrics before → after, and any post-training columns. */
export function runsTable(runs: readonly RunSummary[]): Record<string, unknown>[] {
  return runs.map((r) => {
    const before = r.evals.find((e) => e.step === 0);
    const after = r.evals.length ? r.evals[r.evals.length - 1] : undefined;
    const row: Record<string, unknown> = {
      pairs: r.label,
      'n pairs': r.pairs,
      'dropped prompts': r.dropped ? Object.values(r.dropped).reduce((a, b) => a + b, 0) : 0,
      'eval loss before': round(before?.eval_loss),
      'eval loss after': round(after?.eval_loss),
      'eval reward acc. after': round(after?.['eval_rewards/accuracies']),
      'eval margin after': round(after?.['eval_rewards/margins']),
    };
    for (const [k, v] of Object.entries(r.post ?? {})) {
      row[k] = v === null ? null : v.lo !== undefined && v.hi !== undefined ? `${(100 * v.value).toFixed(1)} [${(100 * v.lo).toFixed(1)}, ${(100 * v.hi).toFixed(1)}]` : (100 * v.value).toFixed(1);
    }
    return row;
  });
}

/**
 * The paper's DPO downstream table (Mistral-7B-Instruct, one round) with our rows under it, each row saying which
 * model produced it — so nobody reads a TinyStories number as a reproduction of a 7B result.
 */
export function paperDpoTable(ours: readonly { method: string; model: string; values: Record<string, number | null> }[] = []): Record<string, unknown>[] {
  const t = getPaperResults().tables.dpoDownstream;
  const rows: Record<string, unknown>[] = t.rows.map((r) => ({ source: `paper (${r.source})`, method: r.method, model: r.model, ...Object.fromEntries(t.columns.map((c) => [c, r.values[c] ?? null])) }));
  for (const o of ours) rows.push({ source: 'this run', method: o.method, model: o.model, ...Object.fromEntries(t.columns.map((c) => [c, o.values[c] === undefined ? null : o.values[c]])) });
  return rows;
}

/**
 * What the comparison shows, in one honest paragraph: which pair source trained the best held-out implicit reward,
 * whether intervals separate them, and what the model is.
 */
export function selfImproveVerdict(runs: readonly RunSummary[], opts: { model: string; instructionModel: boolean; column?: string }): string {
  if (runs.length === 0) return 'No run to compare.';
  const acc = (r: RunSummary) => {
    const last = r.evals.length ? r.evals[r.evals.length - 1] : undefined;
    return last?.['eval_rewards/accuracies'] ?? NaN;
  };
  const best = [...runs].sort((a, b) => (acc(b) || -1) - (acc(a) || -1))[0];
  const parts = [
    `**${opts.model}**: after one DPO round, the held-out implicit-reward accuracy (does β·log πθ/πref rank the pair's chosen response first?) is ` +
      runs.map((r) => `${r.label} ${Number.isFinite(acc(r)) ? acc(r).toFixed(2) : 'n/a'} (${r.pairs} pairs)`).join(', ') + '.',
  ];
  if (opts.column) {
    const withCol = runs.filter((r) => r.post?.[opts.column!]);
    if (withCol.length >= 2) {
      const sorted = [...withCol].sort((a, b) => b.post![opts.column!]!.value - a.post![opts.column!]!.value);
      const [a, b] = sorted;
      const pa = a.post![opts.column]!;
      const pb = b.post![opts.column]!;
      const separated = pa.lo !== undefined && pb.hi !== undefined && pa.lo > pb.hi;
      parts.push(`On ${opts.column}, ${a.label} leads ${b.label} (${(100 * pa.value).toFixed(1)} vs ${(100 * pb.value).toFixed(1)}); ${separated ? 'the 95% intervals do not overlap.' : 'the 95% intervals overlap, so this slice cannot tell them apart.'}`);
    }
  }
  parts.push(`That accuracy measures how well each run learned its OWN pairs' preference on held-out pairs of the same kind, not whether the pairs were right: ${best.label} fits its pairs best here.`);
  if (!opts.instructionModel) {
    parts.push('This model is not an instruction model: its P(Yes) is near chance, so IPO pairs here are close to random pairs, and no downstream gain should be read into these numbers. The paper\'s claim is measured in the toy world (notebook 06) and on real 1B–7B models (set IPO_MODEL).');
  }
  return parts.join(' ');
}
