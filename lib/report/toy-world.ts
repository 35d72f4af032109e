/**
 * Tables, figures and the verdict of the toy world (notebook 06, `ipo toy-world`), as plain functions of a
 * `ToyWorldResult` so tests reach them: a notebook cell only calls these and displays what they return.
 */
import { TOY_SOURCES, type ToySource, type ToyWorldResult } from '../toy/experiment';
import type { Figure } from '../util/plot';
import { RUN_COLORS, type RunSummary } from './self-improve';

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const iv = (ci: [number, number]) => `[${ci[0].toFixed(3)}, ${ci[1].toFixed(3)}]`;


/** Who builds the pairs, in words. */
export const TOY_SOURCE_LABELS: Record<ToySource, string> = {
  ipo: 'IPO (own P(Yes))',
  oracle: 'oracle (checker)',
  random: 'random',
};

/** The classifier question in miniature (the paper's RewardBench table): one row per judge. */
export function toyClassifierRows(r: ToyWorldResult): Record<string, unknown>[] {
  const row = (judge: string, x: { accuracy: number; n: number; ci: [number, number] } | null, note = '') => ({
    judge, 'pairwise accuracy': x ? r3(x.accuracy) : null, '95% CI': x ? iv(x.ci) : '', pairs: x ? x.n : null, note,
  });
  return [
    row('IPO P(Yes), paper preset', r.classifier.presets.paper, 'P(" Yes") / (P(" Yes") + P(" No"))'),
    row('IPO P(Yes), exact preset', r.classifier.presets.exact, 'same tokens here: " Yes" and " No" are single tokens'),
    row('random', r.classifier.random, 'a fair coin per pair'),
    row('rubric (self-reward)', null, `not applicable: ${r.classifier.rubric.reason}`),
    row('binary (Response 1/2)', null, `not applicable: ${r.classifier.binary.reason}`),
  ];
}

/** The self-improvement question in miniature: before, and after one DPO round per pair source. */
export function toyAfterRows(r: ToyWorldResult): Record<string, unknown>[] {
  const mean = (xs: (number | null)[], round = r3) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? round(v.reduce((a, b) => a + b, 0) / v.length) : null;
  };
  return [
    { pairs: 'before (SFT model)', 'task accuracy': r3(r.before.taskAccuracy), '95% CI': iv(r.before.ci), 'per seed': '', 'pairs per seed': null, 'chosen right': null, precision: null },
    ...TOY_SOURCES.map((k) => ({
      pairs: TOY_SOURCE_LABELS[k],
      'task accuracy': r3(r.after[k].taskAccuracy),
      '95% CI': iv(r.after[k].ci),
      'per seed': r.after[k].perSeed.map((x) => x.toFixed(3)).join(' / '),
      'pairs per seed': mean(r.seeds.map((s) => s[k].pairs), Math.round),
      'chosen right': mean(r.seeds.map((s) => s[k].chosenCorrect)),
      precision: mean(r.seeds.map((s) => s[k].pairPrecision)),
    })),
  ];
}

/** Bars of greedy test accuracy (%) with 95% intervals: before, then after DPO on each pair source. */
export function toyAfterFigure(r: ToyWorldResult, opts: { title?: string } = {}): Figure {
  const pct = (x: number) => Math.round(1000 * x) / 10;
  const bars = [
    { name: 'before (SFT)', value: r.before.taskAccuracy, ci: r.before.ci, color: '#7f7f7f' },
    ...TOY_SOURCES.map((k, i) => ({ name: TOY_SOURCE_LABELS[k], value: r.after[k].taskAccuracy, ci: r.after[k].ci, color: RUN_COLORS[i] })),
  ];
  return {
    data: [{
      type: 'bar', x: bars.map((b) => b.name), y: bars.map((b) => pct(b.value)), marker: { color: bars.map((b) => b.color) },
      text: bars.map((b) => pct(b.value).toFixed(1)), textposition: 'outside',
      error_y: { type: 'data', symmetric: false, visible: true, array: bars.map((b) => pct(b.ci[1] - b.value)), arrayminus: bars.map((b) => pct(b.value - b.ci[0])) },
    }],
    layout: {
      title: { text: opts.title ?? `Task accuracy before and after one DPO round (mean of ${r.seeds.length} seeds, 95% intervals)` },
      yaxis: { title: { text: 'greedy test accuracy (%)' }, range: [0, 100] },
      shapes: [{ type: 'line', xref: 'paper', x0: 0, x1: 1, yref: 'y', y0: pct(r.before.taskAccuracy), y1: pct(r.before.taskAccuracy), line: { dash: 'dash', color: '#444', width: 1 } }],
      showlegend: false,
    },
  };
}

/** Overlaid histograms of P(Yes) on right and on wrong answers (the classifier's two score distributions). */
export function pYesHistogram(right: readonly number[], wrong: readonly number[], opts: { title?: string } = {}): Figure {
  const trace = (name: string, x: readonly number[], color: string) => ({
    type: 'histogram', name: `${name} (${x.length})`, x: [...x], opacity: 0.65, marker: { color },
    xbins: { start: 0, end: 1.0001, size: 0.05 }, histnorm: 'percent',
  });
  return {
    data: [trace('right answers', right, '#2ca02c'), trace('wrong answers', wrong, '#d62728')],
    layout: {
      title: { text: opts.title ?? 'P(Yes) of right and wrong answers to held-out questions' }, barmode: 'overlay',
      xaxis: { title: { text: 'P(Yes) = P(" Yes") / (P(" Yes") + P(" No"))' }, range: [0, 1] },
      yaxis: { title: { text: '% of answers' } }, legend: { orientation: 'h', y: -0.25 },
    },
  };
}

/** One seed's three DPO runs as `RunSummary`s for `trainingCurvesGrid` (loss, margins, accuracies per step). */
export function toyRunSummaries(r: ToyWorldResult, seed: number): RunSummary[] {
  const s = r.seeds.find((x) => x.seed === seed);
  if (!s) throw new Error(`toyRunSummaries: no seed ${seed} in this result (seeds: ${r.seeds.map((x) => x.seed).join(', ')})`);
  return TOY_SOURCES.map((k) => ({
    label: k, history: s[k].curves.history as unknown as RunSummary['history'], evals: s[k].curves.evals, pairs: s[k].pairs, dropped: s[k].dropped,
  }));
}

/**
 * What the run shows, in one honest paragraph computed from the numbers: is the judge above chance (its interval
 * clear of 0.5), does each pair source beat the start (interval of the difference not computed: the intervals of
 * the two accuracies are compared, which is conservative), and what the world is.
 */
export function toyVerdict(r: ToyWorldResult): string {
  const c = r.classifier;
  const judge = c.ci[0] > 0.5
    ? `its own P(Yes) ranks a right answer above a wrong one for **${(100 * c.accuracy).toFixed(1)}%** of ${c.n} held-out questions (95% CI ${iv(c.ci)}; random ${c.random.accuracy.toFixed(3)}): it is a preference classifier here`
    : `its own P(Yes) ranks a right answer above a wrong one for only ${(100 * c.accuracy).toFixed(1)}% of ${c.n} held-out questions (95% CI ${iv(c.ci)}): no better than chance, so the judge did not emerge in this run`;
  const delta = (k: ToySource) => r.after[k].taskAccuracy - r.before.taskAccuracy;
  const word = (k: ToySource) => {
    const d = delta(k);
    const apart = r.after[k].ci[0] > r.before.ci[1] || r.after[k].ci[1] < r.before.ci[0];
    const sep = apart ? 'intervals apart' : 'intervals overlap';
    return `${TOY_SOURCE_LABELS[k]} ${r.after[k].taskAccuracy.toFixed(3)} (${d >= 0 ? '+' : ''}${d.toFixed(3)}, ${sep})`;
  };
  return [
    `**${r.task.name}**, a ${r.model.parameters.toLocaleString('en-US')}-parameter Llama trained from scratch by the kit's SFT trainer (${r.model.sftSteps} steps, world seed ${r.task.worldSeed}): ${judge}.`,
    `Greedy test accuracy starts at ${r.before.taskAccuracy.toFixed(3)} (95% CI ${iv(r.before.ci)}); after one DPO round, mean of ${r.seeds.length} seed(s): ${TOY_SOURCES.map(word).join(', ')}.`,
    `What this shows: the paper's two claims hold in a world where a program can check them — the model's P(Yes) separates right from wrong answers, and pairs it picks itself improve it${delta('ipo') > 0 ? '' : ' (not in this run)'}, with a perfect reward model (the checker) as the ceiling and random pairs as the floor.`,
    'What it does not show: this model was *taught* to judge (Yes/No examples of right and wrong answers on its training questions), on a one-digit toy task; nothing here says an instruction-tuned 7B model judges open-ended answers — that is the RewardBench / RM-Bench question of notebooks 01–03.',
  ].join(' ');
}
