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
  /** Held-out pairs behind the `eval_` metrics (shown in the verdict: 1 pair makes an accuracy of 0 or 1). */
  evalPairs?: number;
  dropped?: Record<string, number>;
  /** Post-training numbers (fractions in [0, 1]) with optional intervals, by column name. */
  post?: Record<string, { value: number; lo?: number; hi?: number } | null>;
}

const round = (x: number | undefined | null, d = 3) => (x === undefined || x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Plotly's default colour cycle: run i gets `RUN_COLORS[i % 10]` in every figure, so one run keeps one colour. */
export const RUN_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'] as const;
const colorOf = (i: number) => RUN_COLORS[i % RUN_COLORS.length];

/** The traces of one metric: per run a train line and its eval points (diamonds), in the run's colour. */
function curveTraces(runs: readonly RunSummary[], metric: string, axes: { xaxis?: string; yaxis?: string; showlegend?: boolean } = {}): Record<string, unknown>[] {
  const data: Record<string, unknown>[] = [];
  runs.forEach((r, i) => {
    const color = colorOf(i);
    data.push({ type: 'scatter', mode: 'lines', name: `${r.label} (train)`, x: r.history.map((h) => h.step), y: r.history.map((h) => h[metric] ?? null), legendgroup: r.label, line: { color }, ...axes });
    const ev = r.evals.filter((e) => Number.isFinite(e[`eval_${metric}`]));
    if (ev.length) {
      data.push({ type: 'scatter', mode: 'markers', marker: { size: 9, symbol: 'diamond', color }, name: `${r.label} (eval)`, x: ev.map((e) => e.step), y: ev.map((e) => e[`eval_${metric}`]), legendgroup: r.label, ...axes });
    }
  });
  return data;
}

/** Line charts of a TRL metric over steps (train) with the eval points as markers, one colour per run. */
export function trainingCurves(runs: readonly RunSummary[], metric: 'loss' | 'rewards/margins' | 'rewards/accuracies' | string): Figure {
  return {
    data: curveTraces(runs, metric),
    layout: { title: { text: `DPO ${metric} per step` }, xaxis: { title: { text: 'optimizer step' } }, yaxis: { title: { text: metric } }, legend: { orientation: 'h', y: -0.25 } },
  };
}

/**
 * Several TRL metrics side by side (one panel each, e.g. loss, rewards/margins, rewards/accuracies) under one legend:
 * the traces of `trainingCurves` on axes x/y, x2/y2, …, so a notebook renders one PNG instead of three.
 */
export function trainingCurvesGrid(runs: readonly RunSummary[], metrics: readonly string[], opts: { title?: string } = {}): Figure {
  if (metrics.length === 0) throw new Error('trainingCurvesGrid: give at least one metric');
  const gap = 0.07;
  const w = (1 - gap * (metrics.length - 1)) / metrics.length;
  const data: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    title: { text: opts.title ?? 'DPO training curves (lines: train steps; diamonds: held-out pairs)' },
    legend: { orientation: 'h', y: -0.22 },
    annotations,
  };
  metrics.forEach((m, k) => {
    const sx = k === 0 ? '' : String(k + 1);
    data.push(...curveTraces(runs, m, { xaxis: `x${sx}`, yaxis: `y${sx}`, showlegend: k === 0 }));
    const x0 = k * (w + gap);
    layout[`xaxis${sx}`] = { domain: [x0, x0 + w], anchor: `y${sx}`, title: { text: 'optimizer step' } };
    layout[`yaxis${sx}`] = { anchor: `x${sx}` };
    annotations.push({ text: `<b>${m}</b>`, xref: 'paper', yref: 'paper', x: x0 + w / 2, y: 1.0, xanchor: 'center', yanchor: 'bottom', showarrow: false });
  });
  return { data, layout };
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
 * model produced it — so nobody reads a TinyStories number as a reproduction of a 7B result. The `note` column
 * carries the published row's confidence and note (`data/paper-results.json`) and, for our rows, what a value
 * actually measured (e.g. that our AlpacaEval column is a local win rate, not the AlpacaEval leaderboard's).
 */
export function paperDpoTable(ours: readonly { method: string; model: string; values: Record<string, number | null>; note?: string }[] = []): Record<string, unknown>[] {
  const t = getPaperResults().tables.dpoDownstream;
  const rows: Record<string, unknown>[] = t.rows.map((r) => ({
    source: `paper (${r.source})`, method: r.method, model: r.model, ...Object.fromEntries(t.columns.map((c) => [c, r.values[c] ?? null])),
    note: [`confidence ${r.confidence}`, r.note].filter(Boolean).join('; '),
  }));
  for (const o of ours) {
    rows.push({ source: 'this run', method: o.method, model: o.model, ...Object.fromEntries(t.columns.map((c) => [c, o.values[c] === undefined ? null : o.values[c]])), note: o.note ?? '' });
  }
  return rows;
}

/** A point estimate with its interval (e.g. a `BootstrapCi`) as a `RunSummary.post` entry; NaN bounds are left out. */
export function postValue(ci: { estimate: number; lo?: number; hi?: number }): { value: number; lo?: number; hi?: number } {
  const ok = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x);
  return ok(ci.lo) && ok(ci.hi) ? { value: ci.estimate, lo: ci.lo, hi: ci.hi } : { value: ci.estimate };
}

const clip = (s: string, n: number) => {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
};

/**
 * One prompt's sampled responses as table rows (step 1–2 of Figure 1, right): `#` (1-based sample index), the text
 * (whitespace collapsed, clipped to `maxChars`), one column per judge with its score, and `pair`: `chosen` /
 * `rejected` / `chosen = rejected` where the pair builder put them (`pair.chosenIndex` / `rejectedIndex`, indices
 * into `texts`). Scores are rounded to `digits` decimals (NaN stays NaN: no verdict).
 */
export function responseScoresTable(
  texts: readonly string[],
  scores: Readonly<Record<string, readonly number[]>>,
  opts: { pair?: { chosenIndex: number; rejectedIndex: number } | null; maxChars?: number; digits?: number } = {},
): Record<string, unknown>[] {
  for (const [k, v] of Object.entries(scores)) {
    if (v.length !== texts.length) throw new Error(`responseScoresTable: ${v.length} '${k}' scores for ${texts.length} responses`);
  }
  const maxChars = opts.maxChars ?? 140;
  const digits = opts.digits ?? 3;
  const p = opts.pair ?? null;
  return texts.map((t, i) => {
    const row: Record<string, unknown> = { '#': i + 1, response: t.trim() === '' ? '(empty)' : clip(t, maxChars) };
    for (const [k, v] of Object.entries(scores)) row[k] = Number.isFinite(v[i]) ? Math.round(v[i] * 10 ** digits) / 10 ** digits : v[i];
    if (p) row.pair = p.chosenIndex === i && p.rejectedIndex === i ? 'chosen = rejected' : p.chosenIndex === i ? 'chosen' : p.rejectedIndex === i ? 'rejected' : '';
    return row;
  });
}

/** What `buildPairs` reports that `pairCountsTable` reads (a structural subset of `BuildPairsResult`). */
export interface PairCounts {
  pairs: readonly { margin: number }[];
  dropped: Record<string, number>;
  counts: { prompts: number; responses: number; pairs: number; tiedPairs: number; identicalPairs: number };
}

/**
 * Per judge, what the faithful pair rule (`DPO/ours.py`: a pair for every prompt, ties and identical texts kept)
 * and the fixed rule (tied / identical pairs dropped) make of the same scores: how many pairs carry no preference
 * (all scores tied, or chosen text = rejected text) and how many survive the fixed rule, with the reasons.
 */
export function pairCountsTable(rows: readonly { judge: string; faithful: PairCounts; fixed: PairCounts }[]): Record<string, unknown>[] {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return rows.map(({ judge, faithful, fixed }) => ({
    judge,
    prompts: faithful.counts.prompts,
    'faithful pairs': faithful.counts.pairs,
    'all scores tied': faithful.counts.tiedPairs,
    'chosen = rejected text': faithful.counts.identicalPairs,
    'mean margin': round(mean(faithful.pairs.map((p) => p.margin).filter(Number.isFinite))),
    'fixed pairs': fixed.counts.pairs,
    'fixed drops': Object.entries(fixed.dropped).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ') || 'none',
  }));
}

/**
 * Post-training numbers side by side: one bar group per column (values in %), one bar per run (in its `RUN_COLORS`
 * colour) with its 95% interval, and each column's chance level (`chance`, a fraction) as a dashed line across its
 * bar group.
 */
export function postTrainingFigure(runs: readonly Pick<RunSummary, 'label' | 'post'>[], columns: readonly string[], opts: { title?: string; chance?: Record<string, number> } = {}): Figure {
  const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : Math.round(1000 * x) / 10);
  const data: Record<string, unknown>[] = runs.map((r, i) => {
    const vs = columns.map((c) => r.post?.[c] ?? null);
    return {
      type: 'bar', name: r.label, x: [...columns], marker: { color: colorOf(i) },
      y: vs.map((v) => (v ? pct(v.value) : null)),
      error_y: {
        type: 'data', symmetric: false, visible: true,
        array: vs.map((v) => (v && v.hi !== undefined ? pct(v.hi - v.value) : null)),
        arrayminus: vs.map((v) => (v && v.lo !== undefined ? pct(v.value - v.lo) : null)),
      },
    };
  });
  const chance = opts.chance ?? {};
  // a category axis puts column k at x = k, so the segment k − 0.45 … k + 0.45 spans its bar group
  const shapes = columns.flatMap((c, k) => (Number.isFinite(chance[c])
    ? [{ type: 'line', xref: 'x', yref: 'y', x0: k - 0.45, x1: k + 0.45, y0: pct(chance[c]), y1: pct(chance[c]), line: { dash: 'dash', color: '#444', width: 2 } }]
    : []));
  return {
    data,
    layout: {
      title: { text: opts.title ?? 'After one DPO round (95% intervals; dashed: chance)' }, barmode: 'group',
      yaxis: { title: { text: '%' }, range: [0, 100] }, legend: { orientation: 'h', y: -0.2 }, shapes,
    },
  };
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
  const finite = runs.filter((r) => Number.isFinite(acc(r)));
  const top = finite.length ? Math.max(...finite.map(acc)) : NaN;
  const best = finite.filter((r) => acc(r) === top);
  const pairsOf = (r: RunSummary) => (r.evalPairs !== undefined ? `${r.pairs} train / ${r.evalPairs} held-out pairs` : `${r.pairs} pairs`);
  const parts = [
    `**${opts.model}**: after one DPO round, the held-out implicit-reward accuracy (does β·log πθ/πref rank the pair's chosen response first?) is ` +
      runs.map((r) => `${r.label} ${Number.isFinite(acc(r)) ? acc(r).toFixed(2) : 'n/a'} (${pairsOf(r)})`).join(', ') + '.',
  ];
  const bestText = best.length === 0 ? 'no run has a held-out accuracy'
    : best.length === 1 ? `${best[0].label} fits its pairs best here`
      : best.length === runs.length ? 'all runs fit their pairs equally well here'
        : `${best.slice(0, -1).map((r) => r.label).join(', ')} and ${best[best.length - 1].label} fit their pairs equally well here`;
  const fewEval = runs.some((r) => r.evalPairs !== undefined && r.evalPairs < 10);
  parts.push(`That accuracy measures how well each run learned its OWN pairs' preference on held-out pairs of the same kind, not whether the pairs were right: ${bestText}` +
    (fewEval ? ' (on fewer than 10 held-out pairs, so each accuracy moves in big steps).' : '.'));
  if (opts.column) {
    const withCol = runs.filter((r) => r.post?.[opts.column!]);
    if (withCol.length >= 2) {
      const sorted = [...withCol].sort((a, b) => b.post![opts.column!]!.value - a.post![opts.column!]!.value);
      const [a, b] = sorted;
      const pa = a.post![opts.column]!;
      const pb = b.post![opts.column]!;
      const separated = pa.lo !== undefined && pb.hi !== undefined && pa.lo > pb.hi;
      if (pa.value === pb.value) {
        const level = sorted.filter((r) => r.post![opts.column!]!.value === pa.value).map((r) => r.label);
        parts.push(`On ${opts.column}, ${level.slice(0, -1).join(', ')} and ${level[level.length - 1]} tie at the top (${(100 * pa.value).toFixed(1)}).`);
      } else {
        parts.push(`On ${opts.column}, ${a.label} leads ${b.label} (${(100 * pa.value).toFixed(1)} vs ${(100 * pb.value).toFixed(1)}); ${separated ? 'the 95% intervals do not overlap.' : 'the 95% intervals overlap, so this slice cannot tell them apart.'}`);
      }
    }
  }
  if (!opts.instructionModel) {
    parts.push('This model is not an instruction model: its P(Yes) is near chance, so IPO pairs here are close to random pairs, and no downstream gain should be read into these numbers. The paper\'s claim is measured in the toy world (notebook 06) and on real 1B–7B models (set IPO_MODEL).');
  }
  return parts.join(' ');
}
