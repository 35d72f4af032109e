// The IPO teaching page (served by `ipo web`, lib/web/server.ts). No build step: a plain ES module.
//
// The server builds the prompt and its token ids with the kit's scorer (POST /api/prompt runs lib/scoring/yes-no.ts
// pYes on a recording model); this page runs the forward pass with transformers.js (onnxruntime-web, wasm) and turns
// the logits into P(Yes) the way lib/scoring/yes-no.ts does for the preset, feeding the graph what the kit's onnx
// engine feeds it (lib/models/onnx.ts: input_ids, attention_mask, position_ids, num_logits_to_keep).
import { AutoModelForCausalLM, Tensor, env } from '/vendor/transformers.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const state = { config: null, templates: null, vocab: new Map(), models: new Map(), runs: 0 };

async function getJson(url, init) {
  const r = await fetch(url, init);
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) throw new Error(body?.error ?? `${url}: HTTP ${r.status}`);
  return body;
}

function setStatus(name, text) {
  const s = $('status');
  s.dataset.state = name;
  s.textContent = text;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

/** A token's text with its whitespace made visible. */
const visible = (s) => s.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';

// ---------------------------------------------------------------------------------------------------------------
// setup

async function init() {
  const [config, templates] = await Promise.all([getJson('/api/config'), getJson('/api/templates')]);
  state.config = config;
  state.templates = templates;
  // everything from this server: no CDN, no browser caches that could outlive a kit update
  env.useBrowserCache = false;
  env.useWasmCache = false;
  env.localModelPath = config.localModelPath;
  const wasm = env.backends.onnx.wasm;
  wasm.wasmPaths = { ...config.ort.wasmPaths };
  wasm.numThreads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  if (env.backends.onnx.versions?.web && env.backends.onnx.versions.web !== config.ort.version) {
    console.warn(`transformers.js bundles onnxruntime-web ${env.backends.onnx.versions.web}, the server has ${config.ort.version}`);
  }

  const list = document.getElementById('model-list');
  for (const m of config.models) list.append(el('option', { value: m.name }));
  $('model').value = config.defaultModel;

  const cat = $('category');
  for (const set of templates.templateSets) {
    const group = el('optgroup', { label: `${set.name} (${set.source}; layout ${set.layout})` });
    for (const c of set.categories) group.append(el('option', { value: `${set.name}:${c.name}`, text: c.name }));
    cat.append(group);
  }
  cat.value = `${templates.defaults.templateSet}:${templates.defaults.category}`;
  for (const p of templates.presets) $('preset').append(el('option', { value: p.name, text: p.name }));
  $('preset').value = templates.defaults.preset;
  for (const t of templates.truncations) $('truncation').append(el('option', { value: t, text: t }));
  $('truncation').value = templates.defaults.truncation;
  $('max-length').value = String(templates.defaults.maxLength);
  const describeChoice = () => {
    const { set, category } = selectedCategory();
    const s = templates.templateSets.find((x) => x.name === set);
    $('template').textContent = s?.categories.find((c) => c.name === category)?.template ?? '';
    $('preset-description').textContent = `(${$('preset').value}: ${templates.presets.find((p) => p.name === $('preset').value)?.description ?? ''})`;
  };
  cat.addEventListener('change', describeChoice);
  $('preset').addEventListener('change', describeChoice);
  describeChoice();

  $('score').addEventListener('click', () => { void scoreBoth(); });
  $('score').disabled = false;
  const m = config.models[0];
  setStatus('ready', `Ready: ${m.name} (${m.vocabSize} tokens, ${m.maxLength} positions${m.exported ? `, exported to ONNX from ${m.source}` : ''}). Type, then score.`);
}

function selectedCategory() {
  const v = $('category').value;
  const i = v.indexOf(':');
  return { set: v.slice(0, i), category: v.slice(i + 1) };
}

// ---------------------------------------------------------------------------------------------------------------
// the model in the browser

async function loadModel(name, dtype) {
  const key = `${name}|${dtype}`;
  let p = state.models.get(key);
  if (!p) {
    p = (async () => {
      const isLocal = state.config.models.some((m) => m.name === name);
      // local: /models/<name>/… from this server only; a hub id: huggingface.co (needs the internet)
      env.allowLocalModels = isLocal;
      env.allowRemoteModels = !isLocal;
      const model = await AutoModelForCausalLM.from_pretrained(name, { dtype, device: 'wasm', local_files_only: isLocal });
      const sessions = model.sessions;
      const session = sessions.model ?? sessions.decoder_model_merged;
      const inputNames = [...session.inputNames];
      const meta = Array.isArray(session.inputMetadata) ? session.inputMetadata : [];
      const keepShape = meta.find((m) => m.name === 'num_logits_to_keep')?.shape;
      return {
        name, model,
        graph: {
          hasPositionIds: inputNames.includes('position_ids'),
          hasAttentionMask: inputNames.includes('attention_mask'),
          hasLogitsToKeep: inputNames.includes('num_logits_to_keep'),
          logitsToKeepDims: Array.isArray(keepShape) && keepShape.length === 1 ? [1] : [],
          idsType: meta.find((m) => m.name === 'input_ids')?.type === 'int32' ? 'int32' : 'int64',
        },
      };
    })();
    state.models.set(key, p);
    p.catch(() => state.models.delete(key));
  }
  return p;
}

function intTensor(type, values, dims) {
  if (type === 'int32') return new Tensor('int32', Int32Array.from(values), dims);
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

/** One forward pass over `ids` (batch 1), keeping the last `keep` rows of logits where the graph allows it. */
async function run(lm, ids, keep) {
  const g = lm.graph;
  const T = ids.length;
  const feeds = { input_ids: intTensor(g.idsType, ids, [1, T]) };
  if (g.hasAttentionMask) feeds.attention_mask = intTensor('int64', new Array(T).fill(1), [1, T]);
  if (g.hasPositionIds) feeds.position_ids = intTensor('int64', Array.from({ length: T }, (_, t) => t), [1, T]);
  if (g.hasLogitsToKeep) feeds.num_logits_to_keep = intTensor('int64', [keep], g.logitsToKeepDims);
  let outputs;
  try {
    outputs = await lm.model.forward(feeds);
  } finally {
    for (const t of Object.values(feeds)) t.dispose?.();
  }
  const logitsT = outputs.logits;
  if (!logitsT) throw new Error(`the ONNX graph of ${lm.name} has no 'logits' output`);
  const f32 = logitsT.type === 'float32' ? logitsT : logitsT.to('float32');
  const logits = Float32Array.from(f32.data);
  const dims = [...logitsT.dims];
  if (f32 !== logitsT) f32.dispose?.();
  for (const t of Object.values(outputs)) t?.dispose?.();
  return { logits, dims };
}

/** log-softmax of logits[off … off+n) in float64 (lib/models/onnx.ts logSoftmax). */
function logSoftmax(data, off, n) {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (data[off + i] > max) max = data[off + i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(data[off + i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = data[off + i] - lse;
  return out;
}

function finite(v, what) {
  if (Number.isNaN(v) || v === Infinity) throw new Error(`the model returned a non-finite log-probability (${v}) for ${what}: its logits are NaN/Inf`);
  return v;
}

/** Next-token log-probabilities after `ids` (the onnx engine's nextTokenLogProbs: keep = 1, last row). */
async function nextTokenLogProbs(lm, ids) {
  const { logits, dims } = await run(lm, ids, 1);
  const [, Tk, V] = dims;
  return logSoftmax(logits, (Tk - 1) * V, V);
}

/**
 * Σ_t log P(cont[t] | prefix, cont[<t]) (the onnx engine's continuationLogProb: with num_logits_to_keep the graph
 * runs on prefix + cont[0 … C−2] and keeps C rows), plus the next-token distribution after `prefix` (its first row).
 */
async function continuationLogProb(lm, prefix, cont) {
  const C = cont.length;
  const ids = [...prefix, ...cont];
  const input = lm.graph.hasLogitsToKeep ? ids.slice(0, -1) : ids;
  const { logits, dims } = await run(lm, input, C);
  const [, Tk, V] = dims;
  const first = input.length - Tk;
  const rows = cont.map((_, t) => logSoftmax(logits, (prefix.length - 1 + t - first) * V, V));
  const perToken = cont.map((id, t) => rows[t][id]);
  return { total: perToken.reduce((a, b) => a + b, 0), perToken, next: rows[0] };
}

/** P(Yes) for one /api/prompt answer, as lib/scoring/yes-no.ts computes it for `info.preset`. */
async function scoreOne(lm, info) {
  if (info.preset === 'paper') {
    // paperScore: the engine returns a Float32Array of log-probs; sum exp over EVERY id of encode(" Yes"), duplicates included
    const next = await nextTokenLogProbs(lm, info.ids);
    const f32 = (id) => Math.fround(next[id]);
    const terms = (ids, what) => ids.map((id) => Math.exp(finite(f32(id), `${what} (token ${id})`)));
    const yesTerms = terms(info.yes.ids, '" Yes"');
    const noTerms = terms(info.no.ids, '" No"');
    const yes = yesTerms.reduce((a, b) => a + b, 0);
    const no = noTerms.reduce((a, b) => a + b, 0);
    const total = yes + no;
    const underflow = !(total > 0);
    return { pYes: underflow ? yes : yes / total, yes, no, underflow, next, yesTerms, noTerms };
  }
  // exactFromLogps: a = log P(yes suffix | c), b = log P(no suffix | c), pYes = exp(a − logsumexp(a, b))
  const y = await continuationLogProb(lm, info.ids, info.yes.ids);
  const n = await continuationLogProb(lm, info.ids, info.no.ids);
  const a = finite(y.total, '" Yes"');
  const b = finite(n.total, '" No"');
  const m = Math.max(a, b);
  const lse = m + Math.log(Math.exp(a - m) + Math.exp(b - m));
  const underflow = !Number.isFinite(lse);
  return { pYes: underflow ? Math.exp(a) : Math.exp(a - lse), yes: Math.exp(a), no: Math.exp(b), a, b, underflow, next: y.next, yesTerms: y.perToken, noTerms: n.perToken };
}

/** Ids of the k largest entries, largest first, ties by the lower id (lib/serve/logprobs.ts topK). */
function topK(logp, k) {
  const idx = Array.from({ length: logp.length }, (_, i) => i);
  idx.sort((x, y) => (logp[y] - logp[x]) || (x - y));
  return idx.slice(0, k);
}

async function vocabOf(name) {
  let v = state.vocab.get(name);
  if (!v) {
    v = getJson(`/api/vocab?model=${encodeURIComponent(name)}`).then((r) => r.tokens);
    state.vocab.set(name, v);
    v.catch(() => state.vocab.delete(name));
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// scoring and rendering

const fmt = (p) => (p === 0 ? '0' : p < 1e-4 ? p.toExponential(3) : p.toFixed(6));

async function scoreBoth() {
  const button = $('score');
  button.disabled = true;
  const started = performance.now();
  try {
    setStatus('busy', 'Building the prompts (server: lib/scoring/yes-no.ts)…');
    const { set, category } = selectedCategory();
    const maxLength = Number($('max-length').value);
    const model = $('model').value.trim() || state.config.defaultModel;
    const common = {
      instruction: $('instruction').value, category, templateSet: set, preset: $('preset').value,
      truncation: $('truncation').value, maxLength, model,
    };
    const post = (response) => getJson('/api/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...common, response }) });
    const [infoA, infoB] = await Promise.all([post($('response-a').value), post($('response-b').value)]);
    setStatus('busy', `Loading ${model} in the browser (transformers.js, wasm)…`);
    const [lm, vocab] = await Promise.all([loadModel(model, $('dtype').value), vocabOf(model)]);
    setStatus('busy', 'Running the model…');
    const a = await scoreOne(lm, infoA);
    const b = await scoreOne(lm, infoB);
    render('a', 'A', infoA, a, vocab);
    render('b', 'B', infoB, b, vocab);
    const pref = a.pYes > b.pYes ? 'A' : b.pYes > a.pYes ? 'B' : 'tie';
    const p = $('preferred');
    p.dataset.value = pref;
    p.textContent = pref === 'tie'
      ? `neither: a tie (P(Yes) ${fmt(a.pYes)} for both; RewardBench counts a tie as wrong)`
      : `response ${pref} (P(Yes) ${fmt(Math.max(a.pYes, b.pYes))} > ${fmt(Math.min(a.pYes, b.pYes))})`;
    $('result-a').classList.toggle('preferred', pref === 'A');
    $('result-b').classList.toggle('preferred', pref === 'B');
    $('results').hidden = false;
    setStatus('done', `Scored with the ${infoA.preset} preset in ${Math.round(performance.now() - started)} ms (model ${model}, ${state.config.models.some((m) => m.name === model) ? 'served by this kit' : 'from the hub'}).`);
  } catch (e) {
    console.error(e);
    setStatus('error', `Error: ${String(e?.message ?? e).split('\n')[0]}`);
  } finally {
    $('status').dataset.run = String(++state.runs); // the test waits for this count
    button.disabled = false;
  }
}

function tokenChips(ids, tokens, cls = '') {
  const box = el('div', { class: 'tokens' });
  ids.forEach((id, i) => {
    const chip = el('span', { class: `tok ${cls}`, title: `id ${id}` }, visible(tokens[i] ?? ''));
    chip.append(el('sub', { text: String(id) }));
    box.append(chip);
  });
  return box;
}

function render(key, label, info, r, vocab) {
  const box = $(`result-${key}`);
  box.replaceChildren();
  const score = el('span', { class: 'score', 'data-testid': `score-${key}`, 'data-value': String(r.pYes), text: fmt(r.pYes) });
  box.append(el('h2', {}, `Response ${label}: P(Yes) = `, score));
  if (r.underflow) box.append(el('p', { class: 'warn', text: 'P(Yes) + P(No) underflowed to 0: the raw P(Yes) is shown, not normalised (as the official code does).' }));

  box.append(el('h3', { text: 'The prompt the model reads' }));
  box.append(el('pre', { class: 'prompt', 'data-testid': `prompt-${key}`, text: info.prompt }));
  const trunc = info.truncated
    ? `truncated (${info.truncation}) to ${info.ids.length} tokens${info.markerCut ? ' — the marker after the response was cut, so the answer is read in the middle of the response' : ''}`
    : `not truncated (${info.ids.length} tokens ≤ max length ${Math.min(info.maxLength, info.modelMaxLength)})`;
  box.append(el('p', { class: 'muted', 'data-testid': `truncation-${key}`, text: `Template set ${info.templateSet}, category ${info.category ?? '(none)'}${info.fallback ? ' (not in the table: fallback template)' : ''}; ${trunc}.` }));

  box.append(el('h3', { text: `Its ${info.ids.length} tokens${info.read === 'continuation' ? ' (the prefix " Yes" and " No" share)' : ''}` }));
  const chips = tokenChips(info.ids, info.tokens);
  chips.setAttribute('data-testid', `tokens-${key}`);
  chips.setAttribute('data-count', String(info.ids.length));
  box.append(chips);

  box.append(el('h3', { text: 'Top 10 next tokens' }));
  const yesSet = new Set(info.yes.ids);
  const noSet = new Set(info.no.ids);
  const table = el('table', { 'data-testid': `top-tokens-${key}` });
  table.append(el('tr', {}, el('th', { text: '#' }), el('th', { text: 'token' }), el('th', { class: 'num', text: 'id' }), el('th', { class: 'num', text: 'probability' })));
  topK(r.next, 10).forEach((id, i) => {
    const tag = yesSet.has(id) && noSet.has(id) ? ' (in " Yes" and " No")' : yesSet.has(id) ? ' (in " Yes")' : noSet.has(id) ? ' (in " No")' : '';
    const cls = yesSet.has(id) && !noSet.has(id) ? 'yes' : noSet.has(id) && !yesSet.has(id) ? 'no' : '';
    table.append(el('tr', { class: cls, 'data-id': String(id) },
      el('td', { text: String(i + 1) }), el('td', {}, el('span', { class: 'tok', text: visible(vocab[id] ?? `<id ${id}>`) }), tag),
      el('td', { class: 'num', text: String(id) }), el('td', { class: 'num', text: Math.exp(r.next[id]).toFixed(4) })));
  });
  box.append(table);

  box.append(el('h3', { text: 'From the distribution to P(Yes)' }));
  const calc = el('div', { class: 'calc', 'data-testid': `calc-${key}` });
  if (info.read === 'next-token') {
    const sum = (ans, terms) => `P("${ans.text}") = ${ans.ids.map((id, i) => `P(${visible(ans.tokens[i])}) ${fmt(terms[i])}`).join(' + ')} = ${fmt(terms.reduce((x, y) => x + y, 0))}`;
    calc.append(el('div', { text: sum(info.yes, r.yesTerms) }), el('div', { text: sum(info.no, r.noTerms) }),
      el('div', { text: `P(Yes) = ${fmt(r.yes)} / (${fmt(r.yes)} + ${fmt(r.no)}) = ${fmt(r.pYes)}` }));
    if (info.yes.ids.length > 1 || info.no.ids.length > 1) {
      calc.append(el('div', { class: 'warn', text: 'The tokenizer splits " Yes" / " No" into several tokens, and the paper preset adds their next-token probabilities at ONE position; the exact preset scores the whole continuation.' }));
    }
  } else {
    const chain = (ans, terms) => `log P("${ans.text}" | prefix) = ${ans.ids.map((id, i) => `log P(${visible(ans.tokens[i])}) ${terms[i].toFixed(4)}`).join(' + ')} = ${terms.reduce((x, y) => x + y, 0).toFixed(4)}`;
    calc.append(el('div', { text: chain(info.yes, r.yesTerms) }), el('div', { text: chain(info.no, r.noTerms) }),
      el('div', { text: `P(Yes) = exp(a − logsumexp(a, b)) = ${fmt(r.pYes)}` }));
    calc.append(el('div', {}, 'Answer tokens: " Yes" ', tokenChips(info.yes.ids, info.yes.tokens, 'answer'), ' " No" ', tokenChips(info.no.ids, info.no.tokens, 'answer')));
  }
  box.append(calc);
}

init().catch((e) => {
  console.error(e);
  setStatus('error', `Error: ${String(e?.message ?? e).split('\n')[0]}`);
});
