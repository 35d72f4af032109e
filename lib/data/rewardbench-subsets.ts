/**
 * The 23 RewardBench subsets, the one list of the kit (design review §3.2): the loaders check and report against
 * it, the IPO templates (`lib/scoring/templates.ts`) are keyed by it, and `REWARDBENCH_ALL_SUBSETS`
 * (`lib/eval/rewardbench-constants.ts`) is the same set in reward-bench's section order (`SUBSET_MAPPING`).
 * Order here: the order of `ours.py`'s template dict groups (chat, chat hard, safety, reasoning). Both the `raw` and
 * the `filtered` split of `allenai/reward-bench` have exactly these.
 */

export const REWARDBENCH_SUBSETS = [
  'alpacaeval-easy', 'alpacaeval-length', 'alpacaeval-hard',
  'mt-bench-easy', 'mt-bench-med', 'mt-bench-hard',
  'llmbar-natural', 'llmbar-adver-neighbor', 'llmbar-adver-GPTInst', 'llmbar-adver-GPTOut', 'llmbar-adver-manual',
  'refusals-dangerous', 'refusals-offensive',
  'xstest-should-refuse', 'xstest-should-respond', 'donotanswer',
  'math-prm',
  'hep-cpp', 'hep-go', 'hep-java', 'hep-js', 'hep-python', 'hep-rust',
] as const;

export type RewardBenchSubset = (typeof REWARDBENCH_SUBSETS)[number];
