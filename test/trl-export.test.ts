/**
 * Tests of lib/dpo/trl-export.ts: the TRL hand-off (pairs JSONL + train_dpo.py + README).
 *
 * The script is checked with the real CPython (/usr/bin/python3): it compiles, `--help` runs without torch, its
 * DEFAULTS dict (read by Python itself) equals the hyperparameters, and `main()` runs end to end against STUB
 * modules torch / transformers / trl / peft / datasets written here, which record every call. The stubs assert the
 * API names the script uses (DPOConfig / DPOTrainer(processing_class=...) / LoraConfig / merge_and_unload /
 * save_pretrained) and the values passed; the names themselves were read from huggingface/trl v1.9.0
 * (trl/trainer/dpo_config.py, dpo_trainer.py), which the stubs mirror. Official values: shared doc §5.3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { exportPairsForTrl, OFFICIAL_DPO_HYPERPARAMETERS, pythonLiteral, renderTrlScript, scriptDefaults, trlScriptTemplatePath } from '../lib/dpo/trl-export.ts';
import { readPreferencePairs } from '../lib/data/preference-pairs.ts';

const PY = '/usr/bin/python3';
const tmp = () => mkdtempSync(join(tmpdir(), 'ipo-trl-export-'));

const PAIRS = [
  { prompt: '[INST] What is 2+3? [/INST]', chosen: '5<|eot_id|>', rejected: '7, "maybe"\nor 8<|eot_id|>' },
  { prompt: 'Say "hï" ✓', chosen: 'hi — ünïcödé', rejected: 'no' },
];
const EVAL = [{ prompt: 'Name a colour.', chosen: 'Blue.', rejected: 'Seven.' }];

test('official hyperparameters are those of DPO/ours.py (shared doc §5.3)', () => {
  const h = OFFICIAL_DPO_HYPERPARAMETERS;
  assert.equal(h.beta, 0.1);
  assert.equal(h.lossType, 'sigmoid');
  assert.deepEqual(h.lora, { r: 256, alpha: 128, dropout: 0.05, targetModules: 'all-linear' });
  assert.equal(h.learningRate, 5e-5);
  assert.equal(h.lrSchedulerType, 'cosine');
  assert.equal(h.warmupRatio, 0.1);
  assert.equal(h.maxGradNorm, 0.3);
  assert.equal(h.numTrainEpochs, 1);
  assert.equal(h.perDeviceTrainBatchSize, 6);
  assert.equal(h.perDeviceEvalBatchSize, 3);
  assert.equal(h.gradientAccumulationSteps, 1);
  assert.equal(h.gradientCheckpointing, true);
  assert.equal(h.bf16, true);
  assert.equal(h.seed, 42);
  assert.equal(h.loggingSteps, 25);
  assert.equal(h.saveSteps, 500);
  assert.equal(h.saveTotalLimit, 2);
  assert.equal(h.evalSteps, 300);
});

test('exportPairsForTrl writes TRL preference JSONL that round-trips, plus script and README', () => {
  const dir = tmp();
  const r = exportPairsForTrl(PAIRS, dir, { model: 'mistralai/Mistral-7B-Instruct-v0.1', evalPairs: EVAL });
  assert.deepEqual(r.rows, { train: 2, eval: 1 });
  for (const f of [r.files.train, r.files.eval!, r.files.script, r.files.readme]) assert.ok(existsSync(f), f);
  const lines = readFileSync(r.files.train, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.deepEqual(lines.map((l) => JSON.parse(l)), PAIRS);
  for (const l of lines) assert.deepEqual(Object.keys(JSON.parse(l)), ['prompt', 'chosen', 'rejected']);
  // the kit's own TRL-format reader reads them back (the same file the kit's trainer would take)
  const back = readPreferencePairs(r.files.train);
  assert.equal(back.pairs.length, 2);
  assert.deepEqual(back.pairs.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })), PAIRS);
  assert.deepEqual(readFileSync(r.files.eval!, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l)), EVAL);
  // Python's json module reads every line to the same strings (escaping of quotes, newlines, non-ASCII)
  const py = execFileSync(PY, ['-c', 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]))', r.files.train], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(py), PAIRS);
  const readme = readFileSync(r.files.readme, 'utf8');
  assert.match(readme, /python3 train_dpo\.py/);
  assert.match(readme, /output\/merged/);
  assert.match(readme, /--model/);
});

test('conversational prompts are written in TRL conversational form', () => {
  const dir = tmp();
  const prompt = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi?' }];
  const r = exportPairsForTrl([{ prompt, chosen: 'Hello.', rejected: 'Go away.' }], dir, { model: 'm' });
  assert.deepEqual(JSON.parse(readFileSync(r.files.train, 'utf8')), {
    prompt, chosen: [{ role: 'assistant', content: 'Hello.' }], rejected: [{ role: 'assistant', content: 'Go away.' }],
  });
  assert.equal(r.files.eval, undefined);
  assert.ok(!existsSync(join(dir, 'eval.jsonl')));
});

test('a stale eval.jsonl is removed when no eval pairs are given', () => {
  const dir = tmp();
  exportPairsForTrl(PAIRS, dir, { model: 'm', evalPairs: EVAL });
  assert.ok(existsSync(join(dir, 'eval.jsonl')));
  exportPairsForTrl(PAIRS, dir, { model: 'm' });
  assert.ok(!existsSync(join(dir, 'eval.jsonl')));
});

test('the template and the rendered script compile with CPython; --help runs without torch', () => {
  const dir = tmp();
  const r = exportPairsForTrl(PAIRS, dir, { model: 'HuggingFaceTB/SmolLM2-135M-Instruct' });
  const compiled = spawnSync(PY, ['-m', 'py_compile', r.files.script], { encoding: 'utf8' });
  assert.equal(compiled.status, 0, compiled.stderr);
  const tpl = join(dir, 'template_copy.py');
  writeFileSync(tpl, readFileSync(trlScriptTemplatePath(), 'utf8'));
  const compiledTpl = spawnSync(PY, ['-m', 'py_compile', tpl], { encoding: 'utf8' });
  assert.equal(compiledTpl.status, 0, compiledTpl.stderr);
  const help = spawnSync(PY, [r.files.script, '--help'], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: '' } });
  assert.equal(help.status, 0, help.stderr);
  for (const flag of ['--beta', '--learning-rate', '--max-length', '--truncation-mode', '--max-prompt-length', '--lora-r', '--no-merge', '--load-in-4bit']) assert.ok(help.stdout.includes(flag), flag);
});

test('hyperparameters appear in the script, and Python reads DEFAULTS back exactly', () => {
  const dir = tmp();
  const r = exportPairsForTrl(PAIRS, dir, { model: 'my/base', hyperparameters: { maxLength: 768, maxPromptLength: 256, truncationMode: 'keep_end', learningRate: 1e-7 } });
  const script = readFileSync(r.files.script, 'utf8');
  for (const s of ['"beta": 0.1', '"loss_type": "sigmoid"', '"learning_rate": 1e-7', '"lr_scheduler_type": "cosine"', '"warmup_ratio": 0.1', '"max_grad_norm": 0.3',
    '"num_train_epochs": 1', '"per_device_train_batch_size": 6', '"gradient_checkpointing": True', '"bf16": True', '"seed": 42',
    '"lora_r": 256', '"lora_alpha": 128', '"lora_dropout": 0.05', '"lora_target_modules": "all-linear"', '"max_length": 768', '"max_prompt_length": 256',
    '"truncation_mode": "keep_end"', '"model": "my/base"', 'DPOConfig(', 'DPOTrainer(', 'processing_class=tokenizer', 'LoraConfig(', 'merge_and_unload()', 'save_pretrained(']) {
    assert.ok(script.includes(s), `script lacks ${s}`);
  }
  const loader = 'import importlib.util,json,sys; s=importlib.util.spec_from_file_location("t", sys.argv[1]); m=importlib.util.module_from_spec(s); s.loader.exec_module(m); print(json.dumps(m.DEFAULTS))';
  const got = JSON.parse(execFileSync(PY, ['-c', loader, r.files.script], { encoding: 'utf8' }));
  assert.deepEqual(got, scriptDefaults('my/base', r.hyperparameters));
});

test('pythonLiteral writes Python values', () => {
  assert.equal(pythonLiteral(null), 'None');
  assert.equal(pythonLiteral(true), 'True');
  assert.equal(pythonLiteral([1, 'a"b', false]), '[1, "a\\"b", False]');
  assert.equal(pythonLiteral({}), '{}');
  assert.throws(() => pythonLiteral(NaN), /no Python literal/);
  const lit = pythonLiteral({ a: 5e-5, b: { c: null }, d: 'ü\n' });
  const back = JSON.parse(execFileSync(PY, ['-c', `import json; print(json.dumps(${lit}))`], { encoding: 'utf8' }));
  assert.deepEqual(back, { a: 5e-5, b: { c: null }, d: 'ü\n' });
});

test('bad input is a one-line error', () => {
  const dir = tmp();
  const oneLine = (re: RegExp) => (e: unknown) => e instanceof Error && !/\n/.test(e.message) && re.test(e.message);
  assert.throws(() => exportPairsForTrl(PAIRS, dir, { model: '' }), oneLine(/options\.model/));
  assert.throws(() => exportPairsForTrl([], dir, { model: 'm' }), oneLine(/no pairs/));
  assert.throws(() => exportPairsForTrl([{ prompt: 'p', chosen: 1 as unknown as string, rejected: 'r' }], dir, { model: 'm' }), oneLine(/pairs\[0\]\.chosen/));
  assert.throws(() => exportPairsForTrl(PAIRS, dir, { model: 'm', hyperparameters: { beta: 0 } }), oneLine(/beta must be a positive number/));
  assert.throws(() => exportPairsForTrl(PAIRS, dir, { model: 'm', hyperparameters: { warmupRatio: 1 } }), oneLine(/warmupRatio/));
  assert.throws(() => exportPairsForTrl(PAIRS, dir, { model: 'm', hyperparameters: { maxLength: 0 } }), oneLine(/maxLength/));
  assert.throws(() => exportPairsForTrl(PAIRS, dir, { model: 'm', hyperparameters: { truncationMode: 'left' as 'keep_end' } }), oneLine(/truncationMode/));
});

// ---------------------------------------------------------------------------------------------------------------
// End to end against stub libraries (no torch here): what the script passes to TRL / PEFT / transformers.

const STUBS: Record<string, string> = {
  'torch/__init__.py': `
bfloat16 = "torch.bfloat16"
float32 = "torch.float32"
class cuda:
    @staticmethod
    def is_available(): return False
    @staticmethod
    def empty_cache(): pass
`,
  '_record.py': `
import json, os
LOG = []
def rec(_call, **kw):
    LOG.append({"call": _call, **{k: (v if isinstance(v, (str, int, float, bool, list, dict, type(None))) else repr(v)) for k, v in kw.items()}})
    with open(os.environ["STUB_LOG"], "w") as f: json.dump(LOG, f)
`,
  'transformers/__init__.py': `
import os
from _record import rec
__version__ = os.environ.get("STUB_TRANSFORMERS", "4.57.0")
class _Cfg: use_cache = True
class _Model:
    config = None
    def __init__(self, name, kw): self.name = name; self.config = _Cfg(); self.kw = kw
    def save_pretrained(self, path, **kw):
        os.makedirs(path, exist_ok=True); rec("model.save_pretrained", path=path, who=self.name, **kw)
class AutoModelForCausalLM:
    @staticmethod
    def from_pretrained(name, **kw):
        rec("AutoModelForCausalLM.from_pretrained", name=name, **kw); return _Model(name, kw)
class _Tok:
    pad_token = None
    eos_token = "</s>"
    def __call__(self, text): return {"input_ids": list(range(len(text.split())))}
    def save_pretrained(self, path): os.makedirs(path, exist_ok=True); rec("tokenizer.save_pretrained", path=path)
class AutoTokenizer:
    @staticmethod
    def from_pretrained(name):
        rec("AutoTokenizer.from_pretrained", name=name); return _Tok()
class BitsAndBytesConfig:
    def __init__(self, **kw): rec("BitsAndBytesConfig", **kw)
`,
  'trl/__init__.py': `
import os
from _record import rec
__version__ = "1.9.0"
# DPOConfig fields used by the script that DPOConfig / TrainingArguments define (trl v1.9.0 dpo_config.py + transformers)
ALLOWED = {"output_dir", "beta", "loss_type", "learning_rate", "lr_scheduler_type", "max_grad_norm", "num_train_epochs",
    "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps", "gradient_checkpointing",
    "gradient_checkpointing_kwargs", "optim", "bf16", "seed", "max_length", "truncation_mode", "logging_steps", "save_steps",
    "save_total_limit", "eval_strategy", "eval_steps", "report_to", "warmup_ratio", "warmup_steps"}
class DPOConfig:
    def __init__(self, **kw):
        bad = set(kw) - ALLOWED
        if bad: raise TypeError(f"unexpected DPOConfig arguments {sorted(bad)}")
        rec("DPOConfig", **kw); self.kw = kw
class _Adapter:
    def save_pretrained(self, path): pass
class DPOTrainer:
    def __init__(self, model, ref_model=None, args=None, data_collator=None, train_dataset=None, eval_dataset=None,
                 processing_class=None, compute_metrics=None, callbacks=None, optimizers=(None, None),
                 quantization_config=None, peft_config=None):
        rec("DPOTrainer", ref_model=ref_model, train_rows=len(train_dataset), eval_rows=None if eval_dataset is None else len(eval_dataset),
            processing_class=type(processing_class).__name__, peft=peft_config is not None)
        self.model = model
    def train(self): rec("train")
    def save_model(self, path): os.makedirs(path, exist_ok=True); rec("save_model", path=path)
`,
  'peft/__init__.py': `
from _record import rec
class LoraConfig:
    def __init__(self, **kw): rec("LoraConfig", **kw)
class _Peft:
    def __init__(self, base): self.base = base
    def merge_and_unload(self): rec("merge_and_unload"); return self.base
class PeftModel:
    @staticmethod
    def from_pretrained(base, path): rec("PeftModel.from_pretrained", path=path); return _Peft(base)
`,
  'datasets/__init__.py': `
import json
from _record import rec
class _Split(list):
    def filter(self, fn): return _Split([r for r in self if fn(r)])
def load_dataset(kind, data_files):
    rec("load_dataset", kind=kind, splits=sorted(data_files))
    return {k: _Split(json.loads(l) for l in open(v, encoding="utf-8")) for k, v in data_files.items()}
`,
};

function writeStubs(): string {
  const root = tmp();
  for (const [rel, src] of Object.entries(STUBS)) {
    const p = join(root, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, src.trimStart());
  }
  return root;
}

type Call = Record<string, unknown> & { call: string };

function runScript(script: string, args: string[], transformersVersion: string): Call[] {
  const stubs = writeStubs();
  const log = join(stubs, 'log.json');
  const r = spawnSync(PY, [script, ...args], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: stubs, STUB_LOG: log, STUB_TRANSFORMERS: transformersVersion } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(readFileSync(log, 'utf8')) as Call[];
}

const one = (calls: Call[], name: string): Call => {
  const hits = calls.filter((c) => c.call === name);
  assert.equal(hits.length, 1, `${name} called ${hits.length} times`);
  return hits[0];
};

test('main() passes the official hyperparameters to DPOConfig / LoraConfig / DPOTrainer and merges (transformers 4.x)', () => {
  const dir = tmp();
  const r = exportPairsForTrl(PAIRS, dir, { model: 'base/model', evalPairs: EVAL });
  const out = join(dir, 'out');
  const calls = runScript(r.files.script, ['--output-dir', out], '4.57.0');
  const cfg = one(calls, 'DPOConfig');
  assert.equal(cfg.beta, 0.1);
  assert.equal(cfg.loss_type, 'sigmoid');
  assert.equal(cfg.learning_rate, 5e-5);
  assert.equal(cfg.lr_scheduler_type, 'cosine');
  assert.equal(cfg.warmup_ratio, 0.1);
  assert.equal(cfg.warmup_steps, undefined);
  assert.equal(cfg.max_grad_norm, 0.3);
  assert.equal(cfg.num_train_epochs, 1);
  assert.equal(cfg.per_device_train_batch_size, 6);
  assert.equal(cfg.per_device_eval_batch_size, 3);
  assert.equal(cfg.gradient_accumulation_steps, 1);
  assert.equal(cfg.gradient_checkpointing, true);
  assert.equal(cfg.bf16, true);
  assert.equal(cfg.seed, 42);
  assert.equal(cfg.max_length, 1024);
  assert.equal(cfg.truncation_mode, 'keep_start');
  assert.equal(cfg.optim, 'adamw_torch'); // stub torch has no CUDA
  assert.equal(cfg.eval_strategy, 'steps');
  assert.equal(cfg.eval_steps, 300);
  assert.equal(cfg.output_dir, out);
  assert.deepEqual(one(calls, 'LoraConfig'), { call: 'LoraConfig', r: 256, lora_alpha: 128, lora_dropout: 0.05, bias: 'none', target_modules: 'all-linear', task_type: 'CAUSAL_LM' });
  const tr = one(calls, 'DPOTrainer');
  assert.equal(tr.ref_model, null);
  assert.equal(tr.train_rows, 2);
  assert.equal(tr.eval_rows, 1);
  assert.equal(tr.processing_class, '_Tok');
  assert.equal(tr.peft, true);
  one(calls, 'train');
  assert.equal(one(calls, 'save_model').path, join(out, 'adapter'));
  // the base is loaded twice (train, then a fresh copy to merge into), in bf16
  const loads = calls.filter((c) => c.call === 'AutoModelForCausalLM.from_pretrained');
  assert.equal(loads.length, 2);
  for (const l of loads) assert.equal(l.dtype, 'torch.bfloat16');
  one(calls, 'merge_and_unload');
  const save = one(calls, 'model.save_pretrained');
  assert.equal(save.path, join(out, 'merged'));
  assert.equal(save.safe_serialization, true);
  assert.ok(calls.some((c) => c.call === 'tokenizer.save_pretrained' && c.path === join(out, 'merged')));
  // order: train before merge before save
  const at = (n: string) => calls.findIndex((c) => c.call === n);
  assert.ok(at('train') < at('merge_and_unload') && at('merge_and_unload') < at('model.save_pretrained'));
});

test('main() under transformers 5: warmup_steps (ratio) and save_pretrained without safe_serialization; flags override', () => {
  const dir = tmp();
  const r = exportPairsForTrl(PAIRS, dir, { model: 'base/model' });
  const calls = runScript(r.files.script, ['--output-dir', join(dir, 'o'), '--beta', '0.25', '--max-length', '64', '--no-bf16', '--max-prompt-length', '3'], '5.3.0');
  const cfg = one(calls, 'DPOConfig');
  assert.equal(cfg.warmup_steps, 0.1);
  assert.equal(cfg.warmup_ratio, undefined);
  assert.equal(cfg.beta, 0.25);
  assert.equal(cfg.max_length, 64);
  assert.equal(cfg.bf16, false);
  assert.equal(cfg.eval_strategy, 'no');
  const save = one(calls, 'model.save_pretrained');
  assert.equal(save.safe_serialization, undefined);
  for (const l of calls.filter((c) => c.call === 'AutoModelForCausalLM.from_pretrained')) assert.equal(l.dtype, 'torch.float32');
  // --max-prompt-length 3 drops prompts of more than 3 (stub: whitespace) tokens: "[INST] What is 2+3? [/INST]" has 5, 'Say "hï" ✓' 3
  assert.equal(one(calls, 'DPOTrainer').train_rows, 1);
});

test('renderTrlScript fills the marker exactly once', () => {
  const s = renderTrlScript('m', { ...OFFICIAL_DPO_HYPERPARAMETERS });
  assert.ok(!s.includes('@@KIT_DEFAULTS@@'));
  assert.equal(s.split('DEFAULTS = {').length - 1, 1);
});
