/**
 * The bench's figure (reports/bench.png): every workload row's ratio to its engine's fp32 matmul peak measured in
 * the same run, one horizontal bar per (workload, model, engine), so the rows the issue targets (IPO scoring ≥ 0.7 of
 * the onnx peak, a DPO step ≥ 0.5 of the tfjs peak) can be read against the 1.0 line.
 */
import type { Figure } from '../util/plot';

export interface RatioRow {
  model: string;
  engine: string;
  workload: string;
  kind: string;
  ratio: number;
}

export function benchRatioFigure(rows: readonly RatioRow[], title = 'Throughput as a ratio of the same-run matmul peak'): Figure {
  const shown = rows.filter((r) => r.kind !== 'kernel' && Number.isFinite(r.ratio) && r.ratio > 0);
  const engines = [...new Set(shown.map((r) => r.engine))];
  const label = (r: RatioRow) => `${r.workload} · ${r.model}`;
  const ys = [...new Set(shown.map(label))];
  return {
    data: engines.map((e) => {
      const mine = shown.filter((r) => r.engine === e);
      return {
        type: 'bar', orientation: 'h', name: e,
        y: mine.map(label), x: mine.map((r) => r.ratio),
        text: mine.map((r) => r.ratio.toFixed(2)), textposition: 'outside',
      };
    }),
    layout: {
      title: { text: title }, barmode: 'group',
      xaxis: { title: { text: 'achieved GFLOP/s ÷ peak of the same engine' }, rangemode: 'tozero' },
      yaxis: { automargin: true, categoryorder: 'array', categoryarray: [...ys].reverse() },
      shapes: [{ type: 'line', x0: 1, x1: 1, yref: 'paper', y0: 0, y1: 1, line: { dash: 'dot', width: 1 } }],
      margin: { l: 260, r: 40, t: 50, b: 50 },
      height: Math.max(320, 28 * ys.length + 120),
    },
  };
}
