/**
 * The kit's public API: everything a notebook, script or user imports (`import { loadModel, pYes } from './lib'`).
 * Each paper concept lives in one file; this entry only re-exports.
 *
 * ```text
 *   models   lib/models/    CausalLM interface, model loading (folder / shared assets / hub), the TF.js Llama,
 *                           the ONNX engine (transformers.js), the ONNX exporter, random shape-true models
 *   scoring  lib/scoring/   official IPO templates, prompt layout, P(Yes) with `paper` and `exact` presets, judges
 *   data     lib/data/      RewardBench (hub / file / offline rebuild) and RM-Bench loaders
 *   eval     lib/eval/      official RewardBench and RM-Bench scoring, bootstrap CIs, runners, paper numbers
 *   generate lib/generate/  N sampled responses per prompt (seeded, cached, resumable), faithful/fixed extraction
 *   pairs    lib/pairs.ts   best vs worst from scored responses (official and fixed rules)
 *   dpo      lib/dpo/       training on the TF engine: DPO losses (TRL names), AdamW + cosine + clipping, LoRA,
 *                           TRL tokenization, the SFT and DPO trainers, checkpoints, merged export, TRL hand-off
 *   self-improve lib/self-improve/  the paper's loop: sample → judge (own P(Yes) | rubric | RM) → pairs → DPO, K rounds
 *   report   lib/report/    tables, figures and verdict sentences for notebooks and the CLI
 *   util     lib/util/      the ground floor (imports nothing above it): paths, rng, hub, checks, cache + the one
 *                           batched cached loop, progress bars, tables, figures, Python-exact JSON
 * ```
 *
 * @packageDocumentation
 */

// models
export type { CausalLM, ChatMessage, EngineName, ForkBranch, ForkResult, GenerateOptions, HostTensor, LlamaConfig, WeightMap } from './models/types';
export { forkedLogProbsWith, type KvOps } from './models/fork';
export { loadModel, loadTfModel, detectEngine, weightsComplete, type LoadModelOptions } from './models/load';
export { DEFAULT_MODEL, resolveModelDir, cachedSnapshot, hubOffline } from './models/resolve';
export { ensureBackend, TF_BACKENDS, type TfBackendName } from './models/backend';
export { probeWebGpu, webgpuAdapter, WebGpuUnavailableError, WEBGPU_INSTALL_HINT, WEBGPU_SYNC_READ_ERROR, type WebGpuAdapterInfo } from './models/webgpu';
export { LlamaTF, expectedParameters, type KVCache } from './models/llama-tf';
export { TfCausalLM } from './models/tf-causal-lm';
export { OnnxCausalLM, loadOnnxModel, onnxFileName, ONNX_DTYPES, ONNX_DEVICES, type OnnxDtype, type OnnxDevice, type LoadOnnxOptions } from './models/onnx';
export { exportOnnx, exportOnnxFromRef, exportOnnxFromWeights, type ExportOnnxOptions, type OnnxExportResult, type QuantizedExportInfo } from './models/export-onnx';
export { quantizeSymmetricInt8, DynamicQ8 } from './models/onnx-graph';
export { makeRandomModel, randomWeights, RANDOM_WEIGHTS_NOTE, type MakeRandomModelOptions } from './models/make-model';
export { SMOLLM2_CHAT_TEMPLATE } from './models/chat-templates';
export { parseLlamaConfig, readLlamaConfig, SUPPORTED_MODEL_TYPES } from './models/config';
export { loadTokenizer, type TextTokenizer } from './models/tokenizer';
export { readSafetensors, loadSafetensorsFolder, writeSafetensors } from './models/safetensors';
export { readLlama2c, readLlama2cTokenizer } from './models/llama2c';
export { makeRng, pickToken, argmax } from './models/sampling';
export { modelFingerprint, forgetFingerprint } from './models/fingerprint';
export { ModelLoadError } from './models/errors';
export { loadSequenceClassifier, type SequenceClassifier, type ClassifierLabelInfo } from './models/onnx-classifier';
export * from './models/flops';
export { tokenLogps, sequenceLogps } from './models/token-logps';
export type { ForwardOptions, LinearAdapter, LinearContext } from './models/llama-tf';
export { logSigmoid, installGradFixes } from './models/tf-grad-fixes';

// scoring (the paper's classifier)
export * from './scoring/templates';
export { buildIpoPrompt, ipoPromptParts, type IpoLayout } from './scoring/prompt';
export {
  pYes, pYesBatch, scorePair, scorePairBatch, yesNoIds, DEFAULT_MAX_LENGTH, YES_TEXT, NO_TEXT,
  type IpoItem, type IpoOptions, type IpoPair, type IpoPairScore, type IpoPreset, type IpoScore, type IpoTruncation, type YesNoIds,
} from './scoring/yes-no';
export { scorePairs, type ScorePairsOptions, type ScorePairsResult } from './scoring/score-pairs';
// baselines: self-reward rubric judge and binary pairwise judge (faithful and fixed modes)
export * from './scoring/judges';
// the method registry both benchmark runners use (ipo | self-reward | binary | rm)
export { METHODS, METHOD_NAMES, getMethod, isPairScorer, type MethodName, type MethodOptions, type MethodRun, type ScoringMethod, type ScoringModel } from './scoring/methods';

// reward-model baseline (sequence classifiers through transformers.js)
export { loadRewardModel, rewardModelPairs, scorePairRewardModel, rewardModelText, rmScore, type RewardModel, type RmMode } from './scoring/reward-model';
export { makeRandomRewardModel } from './models/make-reward-model';

// data
export { checkPreferencePairs, subsetsOf, type PreferencePair, type PairResult } from './data/types';
export { loadRewardBench, type RewardBenchRow } from './data/rewardbench';
export { loadRmBench, loadRmBenchLocal, localRmBenchSource, RMBENCH_DOMAINS, RMBENCH_FILE_DOMAINS, RMBENCH_LOCAL_DOMAINS, type RmBenchItem, type RmBenchFileDomain } from './data/rmbench';

// evaluation: official constants and metrics, experiment runners, the paper's published numbers
export { outcome, type Outcome } from './eval/outcome';
export * from './eval/rewardbench-constants';
export * from './eval/rewardbench-metrics';
export * from './eval/rmbench-metrics';
export * from './eval/rmbench-bootstrap';
export { runRewardBench, scoreRewardBenchRows, rewardBenchRunJson, REWARDBENCH_METHODS, type RewardBenchRun, type RewardBenchRunOptions, type RewardBenchMethod, type PairScorer } from './eval/run-rewardbench';
export { runRmBench, scoreRmBenchItems, rmBenchRunJson, RMBENCH_METHODS, type RmBenchRun, type RmBenchRunOptions, type RmBenchMethod } from './eval/run-rmbench';
export { truncationSummary, formatTruncation, type TruncationSummary } from './eval/truncation-summary';
export * from './eval/prompt-search';
export * from './scoring/ablations';
export { PAPER_RESULTS, getPaperResults, paperRow, paperAverageCheck, truncateDecimals, type PaperRow } from './eval/paper-results';

// post-training evaluation: implicit reward, MMLU, win rate vs base; generic bootstrap
export { compareQuantized, rewardBenchSlice, mcnemarExactP, type QuantizationComparison, type PairComparison, type CompareQuantizedOptions, type SlicePair } from './eval/quantization';
export { bootstrapCi, pairedBootstrapCi, type BootstrapCi, type BootstrapOptions } from './eval/bootstrap';
export { implicitRewardAccuracy, pairLogProbs, type ImplicitRewardReport } from './eval/policy-reward';
export { evaluateMmlu, parseMmluChoice, mmluPrompt, mmluFreeFormPrompt, MMLU_FAITHFUL_NOTE } from './eval/policy-mmlu';
export { winRate, generateResponses, pYesPairJudge, binaryPairJudge, type PairJudge, type WinRateReport } from './eval/policy-winrate';

// data files for self-improvement: prompts, preference pairs (TRL format), SFT examples, MMLU, AlpacaEval
export { readPromptFile, writePromptFile, formatPromptReport, loadUltraFeedbackPrompts, loadAlpacaSeedPrompts, ULTRAFEEDBACK_SAMPLE_FILES, type PromptItem } from './data/prompts';
export { readPreferencePairs, writePreferencePairs, formatPairsReport, readLlamaFactoryPairs, loadLlamaFactoryDpoDemo, type PreferenceRecord } from './data/preference-pairs';
export { readSftFile, type SftExample } from './data/sft-examples';
export { loadMmlu, mmluSubjects, sampleMmlu, type MmluQuestion } from './data/mmlu';
export { loadAlpacaEval, type AlpacaEvalItem } from './data/alpaca-eval';

// sampling (N responses per prompt)
export { sampleResponses, formatSampleSummary, deriveSeed, type SampleOptions, type SampleRecord, type SampleResult } from './generate/sample';
export { readSamples, writeSamples } from './generate/samples-file';

// pairs: best vs worst
export { buildPairs, FAITHFUL_PAIR_OPTIONS, FAITHFUL_SELF_REWARD_PAIR_OPTIONS, FIXED_PAIR_OPTIONS, type BuiltPair, type BuildPairsResult, type PairOptions, type ScoredGroup, type ScoredResponse } from './pairs';

// training: DPO losses (TRL's names; TRL's 'ipo' is Azar et al.'s loss, NOT this paper's method), optimizer, LoRA, trainers
export { dpoLoss, DPO_LOSS_TYPES, needsLengthNormalisation, lengthNormalise, type DpoLossType, type DpoLogps, type DpoLossOptions, type DpoLossOutput } from './dpo/loss';
export * from './dpo/metrics';
export { AdamW, cosineWithWarmup, warmupStepsFromRatio, clipGradNorm, type AdamWOptions } from './dpo/optim';
export { LoraAdapters, LORA_TARGETS, type LoraConfig } from './dpo/lora';
export { tokenizePair, completionLogProb, summarizeTruncation, TRL_TOKENIZATION, type TokenizePairOptions, type TokenizedPair, type TruncationMode } from './dpo/tokenize';
export { trainDpo, OFFICIAL_LORA, type DpoTrainOptions, type DpoTrainResult } from './dpo/train-dpo';
export { trainSft, type SftTrainOptions, type SftTrainResult } from './dpo/train-sft';
export { runTrainLoop, DEFAULT_OPTIM_ARGS, type OptimArgs, type StepRecord } from './dpo/train-loop';
export { saveCheckpoint, latestCheckpoint, loadCheckpoint, type Checkpoint, type CheckpointState } from './dpo/checkpoint';
export { saveModelFolder } from './dpo/save-model';
export { exportPairsForTrl, OFFICIAL_DPO_HYPERPARAMETERS } from './dpo/trl-export';

// self-improvement: the paper's loop
export { selfImprove, readRoundReports, officialTrainPair, splitPairs, type SelfImproveOptions, type SelfImproveResult, type RoundReport } from './self-improve/rounds';
export { ipoJudge, selfRewardJudge, rewardModelJudge, customJudge, scoreSamples, writeScores, readScores, formatScoreSummary, type ResponseJudge, type ScoreSamplesResult } from './self-improve/score-responses';
export * from './report/self-improve';

// the toy world: checkable tasks (one file each), their tokenizer and from-scratch models, the experiment
export * from './toy/task';
export * from './toy/max';
export * from './toy/sort';
export * from './toy/digits';
export * from './toy/addition';
export * from './toy/tasks';
export * from './toy/tokenizer';
export * from './toy/model';
export { runToyWorld, toySftExamples, toyIpoJudge, toyPairOptions, judgePrompt, QUICK_USE, TOY_SOURCES, type ToySource, type ToyWorldOptions, type ToyWorldResult, type ToyRunResult, type ToyCurvePoint } from './toy/experiment';
export * from './report/toy-world';
// report records (reports/results/<id>.json) and the static site built from them (`ipo report`)
export { saveReportRecord, readReportRecords, newReportRecord, recordFromRewardBenchRun, recordFromRmBenchRun, recordProblem, defaultRecordsDir, REPORT_KINDS, REPORT_RECORD_SCHEMA, type ReportRecord, type ReportRecordInput, type ReportKind, type ReportRow, type PaperRef, type RunRecordOptions, type ReadRecordsResult } from './report/records';
export { buildReportSite, NO_RECORDS_HINT, type BuildSiteOptions, type BuildSiteResult } from './report/site';

// OpenAI-compatible endpoints: the api engine (a CausalLM over /v1/completions), its robust client, and `ipo serve`
export { ApiCausalLM, loadApiModel, parseTokenId, type ApiEngineOptions, type ApiEngineStats } from './models/api';
export { ApiClient, type ApiClientOptions, type ApiResult, type ApiUsage } from './api/client';
export { fullJitterDelay, parseRetryAfter } from './api/backoff';
export { startOpenAiServer, buildApp, defaultModelName, type ServeOptions, type RunningServer } from './serve/openai-server';
// the official *_gpt.py scripts' chat-API judges (OpenAI, OpenRouter): IPO via top_logprobs, binary, rubric
export { ChatIpoScorer, ChatBinaryScorer, ChatSelfRewardScorer, createChatScorer, connectChat, isChatScorer, formatChatSummary, CHAT_METHODS, OFFICIAL_CHAT_MODELS, OPENROUTER_BASE_URL, gptIpoPrompt, gptBinaryPrompt, gptSelfRewardPrompt, gptExtractScore, gptYesNo, gptIpoRatioFaithful, gptIpoRatioFixed, GPT_IPO_REQUEST, GPT_BINARY_REQUEST, GPT_SELF_REWARD_REQUEST, GPT_SELF_REWARD_TEMPLATE_REWARDBENCH, GPT_SELF_REWARD_PATTERNS, GPT_BINARY_TEMPLATE_RMBENCH, type ChatScorer, type ChatSummary, type ChatMethod, type ChatVariant, type ChatPair, type GptIpoSummary, type GptBinarySummary, type GptSelfRewardSummary } from './api/chat-judges';
export { isMethodScorer, type MethodScorer, type MethodScorerOptions } from './scoring/methods';

// installation check (`ipo doctor`)
export { runDoctor, doctorReport, type DoctorCheck } from './doctor';

// the main job
export { runDemo, DEMO_PAIR, type DemoResult } from './demo';

// utilities
export { repoRoot, findAsset, assetRoots, hubCacheDir, kitCacheDir, displayPath, AssetNotFoundError } from './util/paths';
export { compareCodePoints, pyStrip } from './util/python-str';
export { contentHash, stableStringify, ResultCache } from './util/cache';
export { runCachedLoop, accuracyInfo, type CachedLoopSpec, type CachedLoopResult } from './util/cached-loop';
export { progress, withProgress, withProgressSync, eachWithProgress, isNotebook, type ProgressBar } from './util/progress';
export { showTable, showMarkdown, tableHtml, formatNumber } from './util/display';
export { renderFigure, renderFigures, savePng, showFigure, type Figure } from './util/plot';
