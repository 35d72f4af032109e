/**
 * RewardBench metrics, one import for the three files they are split into (design review §3.1):
 * - `./rewardbench-score`: outcomes → per-subset accuracy, leaderboard sections and Score, the paper's 4 columns,
 *   the flat metric list, reward-bench's results JSON layouts;
 * - `./rewardbench-bootstrap`: seeded, paired, stratified bootstrap intervals and paired differences;
 * - `lib/util/python-json.ts`: Python-exact `json.dumps` text.
 * This file keeps every old name importable.
 */
export * from './rewardbench-score';
export * from './rewardbench-bootstrap';
export { pythonFloatRepr, pythonJsonDumps } from '../util/python-json';
