/**
 * The names of the DPO losses (kept apart from lib/dpo/loss.ts, which loads tfjs, so the CLI can offer them as
 * `--loss-type` choices without loading an engine).
 */

/** The TRL loss types this kit implements (TRL names). */
export const DPO_LOSS_TYPES = ['sigmoid', 'ipo', 'hinge', 'robust'] as const;
export type DpoLossType = (typeof DPO_LOSS_TYPES)[number];
