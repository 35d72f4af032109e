/**
 * The toy tasks by name (`ipo toy-world --task NAME`), and the default. Each task is one file; see its header for
 * what was measured with it.
 */
import { ADDITION_TASK } from './addition';
import { MAX_TASK } from './max';
import { SORT_TASK } from './sort';
import type { ToyTask } from './task';

export const TOY_TASKS: Record<string, ToyTask<any>> = { max: MAX_TASK, sort: SORT_TASK, addition: ADDITION_TASK };

/**
 * The task the toy world runs by default: the one where, within a CI-sized SFT, both the judge emerges and the SFT
 * model's own mistakes are the kind the judge learned to see (`max.ts` explains the measurements behind the choice).
 */
export const DEFAULT_TOY_TASK = 'max';
