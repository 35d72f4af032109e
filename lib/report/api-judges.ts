/**
 * Tables, figure and verdict of notebook 07 (the official `*_gpt.py` judges over an API), as plain functions of
 * RewardBench runs so tests reach them: a notebook cell only calls these and displays what they return.
 */
import type { RewardBenchReport } from '../eval/rewardbench-score';
import type { Figure } from '../util/plot';
import { RUN_COLORS } from './self-improve';

/** One judge run to compare: method, mode, its RewardBench report, and the judge's one-line summary. */
export interface ApiJudgeRun {
  method: string;
  mode: string;
  report: RewardBenchReport;
  summary: string;
  /** Requests that failed for good (after retries) or came back malformed. */
  failedRequests?: number;
  /** Requests made (cache hits included): with `failedRequests`, says when a run measured mostly fallbacks. */
  requests?: number;
}

const COLUMNS = ['Chat', 'Code', 'Math', 'Safety'] as const;
const pct = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(1000 * x) / 10);

/** The paper's four columns (plain weighting, %) and the average, one row per run. */
export function apiJudgeRows(runs: readonly ApiJudgeRun[]): Record<string, unknown>[] {
  return runs.map((r) => {
    const p = r.report.paper.plain;
    return {
      judge: r.method, mode: r.mode,
      ...Object.fromEntries(COLUMNS.map((c) => [c, pct(p.categories[c])])),
      Avg: pct(p.average), pairs: r.report.n, ties: r.report.ties, notes: r.summary,
    };
  });
}

/** Grouped bars of the four columns, one colour per run. */
export function apiJudgeFigure(runs: readonly ApiJudgeRun[], opts: { title?: string } = {}): Figure {
  return {
    data: runs.map((r, i) => ({
      type: 'bar', name: `${r.method} (${r.mode})`, x: [...COLUMNS, 'Avg'], marker: { color: RUN_COLORS[i % RUN_COLORS.length] },
      y: [...COLUMNS.map((c) => pct(r.report.paper.plain.categories[c])), pct(r.report.paper.plain.average)],
    })),
    layout: { title: { text: opts.title ?? 'RewardBench through the chat API (%)' }, barmode: 'group', yaxis: { title: { text: '%' }, range: [0, 100] }, legend: { orientation: 'h', y: -0.2 } },
  };
}

/**
 * What the runs show, computed from them: the best average, and an honest note when the served model is not an
 * instruction model or the slice is tiny.
 */
export function apiJudgesVerdict(runs: readonly ApiJudgeRun[], opts: { model: string; instructionModel: boolean }): string {
  const scored = runs.filter((r) => r.report.paper.plain.average !== null);
  if (scored.length === 0) return `No run produced a score for **${opts.model}**.`;
  const best = scored.reduce((a, b) => (b.report.paper.plain.average! > a.report.paper.plain.average! ? b : a));
  const allTie = scored.every((r) => r.report.paper.plain.average === best.report.paper.plain.average);
  const n = Math.max(...runs.map((r) => r.report.n));
  const parts = [
    `**${opts.model}** through the chat API: ` + scored.map((r) => `${r.method} (${r.mode}) ${pct(r.report.paper.plain.average)}%`).join(', ') +
      ` average over the paper's columns; ${allTie && scored.length > 1 ? 'every run has the same average' : `the best is ${best.method} (${best.mode})`}.`,
  ];
  const failed = runs.filter((r) => (r.failedRequests ?? 0) > 0);
  if (failed.length) parts.push(`Requests that failed or came back malformed: ${failed.map((r) => `${r.method} (${r.mode}) ${r.failedRequests}`).join(', ')}; faithful mode scores them with the scripts' fallbacks (0, a tie, or −1), fixed mode gives NaN (never a win) and counts them.`);
  const mostlyFailed = runs.filter((r) => r.requests && (r.failedRequests ?? 0) * 2 >= r.requests);
  if (mostlyFailed.length) parts.push(`In ${mostlyFailed.map((r) => `${r.method} (${r.mode})`).join(', ')} at least half the requests failed (the notes give the first error, e.g. a prompt longer than the served model's context): those averages measure the fallbacks, not the judge.`);
  if (!opts.instructionModel) parts.push('This model is not an instruction model: its answers to the judge prompts and its Yes/No log-probs carry no judgement, so these numbers check the plumbing of the official scripts, not the paper\'s GPT-4o rows (which the paper does not publish as a table we could find).');
  if (n < 50) parts.push(`With ${n} pairs per run, differences between judges are noise.`);
  return parts.join(' ');
}
