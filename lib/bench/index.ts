/**
 * The bench's building blocks, one import (`scripts/bench.ts`, `test/bench.test.ts`): the FLOP model
 * (`lib/models/flops.ts`), timing (`./measure`), matmul peaks (`./peaks`), the TF kernel profile (`./profile`) and
 * the text / markdown tables (`lib/util/display.ts`). Formerly `lib/util/bench.ts`, which imported `models/` from
 * the ground floor.
 */
export * from '../models/flops';
export * from './measure';
export * from './peaks';
export * from './profile';
export * from './figure';
export * from './projection';
export * from './workload-tokens';
export { fmtMs, fmtSig, markdownTable, textTable } from '../util/display';
