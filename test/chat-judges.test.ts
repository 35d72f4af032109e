/**
 * The chat-API judges of the official `*_gpt.py` scripts (lib/api/chat-judges.ts):
 * (a) RECORDED answers in OpenAI's chat-completion shape, served by a loopback stub, scored in faithful and fixed
 *     mode; the expected numbers are the official formulas worked by hand (the IPO ratios were computed once in
 *     Python with `math.exp`, `yes/(yes+no) if total > 0 else 0`, and are written here as literals);
 * (b) end to end against `ipo serve` on a TinyStories copy with a chat template and one token renamed "Yes " (the
 *     vocabulary has no yes token, so without it every score would be the fallback 0): the chat IPO score equals
 *     e^yes / (e^yes + e^no) of the server's own top_logprobs and of the model's next-token log-probs; and
 *     `ipo rewardbench --api-style chat` runs against it.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import OpenAI from 'openai';
import { ApiClient } from '../lib/api/client.ts';
import {
  ChatBinaryScorer, ChatIpoScorer, ChatSelfRewardScorer, connectChat, createChatScorer, formatChatSummary, gptExtractScore,
  GPT_BINARY_TEMPLATE_RMBENCH, GPT_SELF_REWARD_TEMPLATE_REWARDBENCH, isChatScorer,
} from '../lib/api/chat-judges.ts';
import { BINARY_JUDGE_TEMPLATE } from '../lib/scoring/binary-judge.ts';
import { SELF_REWARD_TEMPLATE } from '../lib/scoring/self-reward.ts';
import { METHODS } from '../lib/scoring/methods.ts';
import { RMBENCH_TEMPLATES, T_ALPACA, T_CODE } from '../lib/scoring/templates.ts';
import { loadTfModel } from '../lib/models/load.ts';
import type { CausalLM } from '../lib/models/types.ts';
import { startOpenAiServer, type RunningServer } from '../lib/serve/openai-server.ts';
import { findAsset } from '../lib/util/paths.ts';

const execFileP = promisify(execFile);
process.env.IPO_PROGRESS = '0'; // no progress lines between the test reports

// ------------------------------------------------------------------------------------------------------------------
// a loopback stub that answers POST /chat/completions with whatever the current test's handler says

type Answer = { status: number; json: unknown };
let handler: (body: Record<string, unknown>) => Answer = () => ({ status: 500, json: { error: { message: 'no handler' } } });
let models: unknown = { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }] };
const seen: Record<string, unknown>[] = [];
let stub: Server;
let stubUrl: string;

const userContent = (b: Record<string, unknown>) => ((b.messages as { content: string }[])[0]).content;

before(async () => {
  stub = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let a: Answer;
      if (req.method === 'GET' && req.url === '/v1/models') a = { status: 200, json: models };
      else if (req.method === 'POST' && req.url === '/v1/chat/completions') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        seen.push(body);
        a = handler(body);
      } else a = { status: 404, json: { error: { message: 'not found' } } };
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.json));
    });
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
  const addr = stub.address() as { port: number };
  stubUrl = `http://127.0.0.1:${addr.port}/v1`;
});

after(async () => {
  await new Promise<void>((r) => stub.close(() => r()));
});

/** A client on the stub: no cache, no retries, no circuit breaker (the stub answers 500 on purpose). */
const stubClient = () => new ApiClient({ baseUrls: [stubUrl], cacheDir: false, maxRetries: 0, health: { failuresInARow: 1_000_000 } });

const bytes = (s: string) => [...Buffer.from(s, 'utf8')];
/** An OpenAI chat.completion with logprobs, as `chatgpt-4o-latest` returns it (max_tokens 2, top_logprobs k). */
function logprobAnswer(top: [string, number][], content = top[0]?.[0] ?? ''): Answer {
  const tops = top.map(([token, logprob]) => ({ token, logprob, bytes: bytes(token) }));
  return {
    status: 200,
    json: {
      id: 'chatcmpl-rec', object: 'chat.completion', created: 1_730_000_000, model: 'gpt-4o-mini-2024-07-18',
      choices: [{
        index: 0, message: { role: 'assistant', content, refusal: null },
        logprobs: { content: [{ token: top[0]?.[0] ?? '', logprob: top[0]?.[1] ?? 0, bytes: bytes(top[0]?.[0] ?? ''), top_logprobs: tops }], refusal: null },
        finish_reason: 'length',
      }],
      usage: { prompt_tokens: 40, completion_tokens: 2, total_tokens: 42 },
      system_fingerprint: 'fp_rec',
    },
  };
}
/** A plain chat.completion (the judges: no logprobs). */
function textAnswer(content: string | null): Answer {
  return {
    status: 200,
    json: {
      id: 'chatcmpl-rec', object: 'chat.completion', created: 1_730_000_000, model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 300, completion_tokens: 40, total_tokens: 340 },
    },
  };
}
const serverError: Answer = { status: 500, json: { error: { message: 'upstream overloaded', type: 'server_error' } } };

// ------------------------------------------------------------------------------------------------------------------
// (a) IPO via chat logprobs (ours_gpt.py)

/** The recorded answers, keyed by the response text at the end of the prompt. */
const IPO_ANSWERS: Record<string, Answer> = {
  // "Yes" then "No": the later " yes" is ignored (first entry wins)
  '[A]': logprobAnswer([['Yes', -0.2], ['No', -1.9], [' yes', -3.0], ['The', -4.1]]),
  // leading space and upper case both read (strip().lower())
  '[B]': logprobAnswer([['NO', -0.5], [' yes', -1.2], ['I', -2.2]]),
  // "YES" only: No outside the top-k (faithful r = 1; fixed NaN)
  '[C]': logprobAnswer([['YES', -0.05], ['Sure', -3.5], ['Certainly', -4.0]]),
  // neither (faithful 0; fixed NaN)
  '[D]': logprobAnswer([['Maybe', -0.7], ['I', -1.1], ['The', -2.0]]),
  // U+FEFF is not Python whitespace (JS trim() would strip it): that "no" is not one; a no-break space is
  '[E]': logprobAnswer([['\ufeffno', -0.2], ['No', -0.3], ['\u00a0yes', -1.5], ['no', -1.6]]),
  '[F]': serverError,
  // 200 without logprobs: `completion.choices[0].logprobs.content` raises → the except branch
  '[G]': textAnswer('Yes'),
};
const ipoHandler = (b: Record<string, unknown>): Answer => {
  const c = userContent(b);
  const key = Object.keys(IPO_ANSWERS).find((k) => c.endsWith(k) || c.includes(`Response : ${k}\n`));
  return key ? IPO_ANSWERS[key] : { status: 400, json: { error: { message: `unknown prompt ${c.slice(-20)}` } } };
};

// Python: math.exp(y)/(math.exp(y)+math.exp(n))
const R_A = 0.8455347349164652; // y -0.2, n -1.9
const R_B = 0.3318122278318339; // y -1.2, n -0.5
const R_E = 0.23147521650098235; // y -1.5, n -0.3

const IPO_PAIRS = [
  { instruction: 'What is 2+3?', chosen: '[A]', rejected: '[B]', category: 'alpacaeval-easy' },
  { instruction: 'What is 2+3?', chosen: '[C]', rejected: '[A]', category: 'alpacaeval-easy' },
  { instruction: 'What is 2+3?', chosen: '[D]', rejected: '[F]', category: 'no-such-subset' },
  { instruction: 'Write hello world', chosen: '[E]', rejected: '[G]', category: 'hep-python' },
];

describe('IPO through chat logprobs (ours_gpt.py)', () => {
  test('faithful: the exact request, first yes/no entry, e^yes/(e^yes+e^no), 0 when both absent, (0, 0) on errors', async () => {
    const client = stubClient();
    handler = ipoHandler;
    seen.length = 0;
    const s = new ChatIpoScorer({ client, model: 'gpt-4o-mini' });
    const r = await s.scorePairs(IPO_PAIRS, { mode: 'faithful' });
    await client.close();
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} vs ${b}`);
    close(r[0].chosen, R_A);
    close(r[0].rejected, R_B);
    assert.equal(r[0].correct, true);
    assert.deepEqual([r[1].chosen, r[1].correct], [1, true]); // e^-0.05 / (e^-0.05 + 0)
    assert.deepEqual([r[2].chosen, r[2].rejected, r[2].correct, r[2].tie], [0, 0, false, true]); // neither vs HTTP 500
    close(r[3].chosen, R_E);
    assert.deepEqual([r[3].rejected, r[3].correct], [0, true]); // malformed answer → 0
    // the request, exactly as ours_gpt.py sends it
    const a = seen.find((b) => userContent(b).endsWith('[A]'))!;
    assert.deepEqual(a, {
      model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${T_ALPACA}\nUser: What is 2+3?\nResponse: [A]` }],
      max_tokens: 2, logprobs: true, top_logprobs: 10, temperature: 0.7,
    });
    assert.equal(userContent(seen.find((b) => userContent(b).endsWith('[E]'))!), `${T_CODE}\nUser: Write hello world\nResponse: [E]`);
    assert.ok(userContent(seen.find((b) => userContent(b).endsWith('[D]'))!).startsWith(`${T_ALPACA}\n`), 'unknown subset → alpacaeval-easy template');
    const sum = s.summary();
    assert.deepEqual(
      { calls: sum.calls, failed: sum.failed, malformed: sum.malformed, yes: sum.yesMissing, no: sum.noMissing, both: sum.bothMissing, out: sum.outsideTopK, ties: sum.ties, nan: sum.nanScores },
      { calls: 8, failed: 1, malformed: 1, yes: 1, no: 2, both: 1, out: 2, ties: 1, nan: 0 },
    );
    assert.match(formatChatSummary(sum), /2\/8 responses with Yes\/No outside the top-10/);
  });

  test('fixed: temperature 0, NaN (never 0 or a tie) for Yes/No outside the top-k, a failed call, a malformed answer', async () => {
    const client = stubClient();
    handler = ipoHandler;
    seen.length = 0;
    const s = new ChatIpoScorer({ client, model: 'gpt-4o-mini' });
    const r = await s.scorePairs(IPO_PAIRS, { mode: 'fixed' });
    await client.close();
    assert.ok(Math.abs(r[0].chosen - R_A) < 1e-15 && Math.abs(r[0].rejected - R_B) < 1e-15);
    assert.equal(r[0].correct, true);
    assert.ok(Number.isNaN(r[1].chosen));
    assert.deepEqual([r[1].correct, r[1].tie], [false, false]);
    assert.ok(Number.isNaN(r[2].chosen) && Number.isNaN(r[2].rejected));
    assert.deepEqual([r[2].correct, r[2].tie], [false, false]);
    assert.ok(Math.abs(r[3].chosen - R_E) < 1e-15 && Number.isNaN(r[3].rejected));
    assert.ok(seen.every((b) => b.temperature === 0));
    const sum = s.summary();
    assert.deepEqual([sum.nanScores, sum.outsideTopK, sum.failed, sum.malformed, sum.ties], [4, 2, 1, 1, 0]);
  });

  test('the ratio does not underflow in fixed mode; faithful keeps the official 0 when e^yes + e^no underflows', async () => {
    const client = stubClient();
    handler = () => logprobAnswer([['Yes', -800], ['No', -801]]);
    const s = new ChatIpoScorer({ client, model: 'm' });
    const [f] = await s.scorePairs([{ instruction: 'q', chosen: 'x', rejected: 'y' }], { mode: 'faithful' });
    const [x] = await s.scorePairs([{ instruction: 'q', chosen: 'x', rejected: 'y' }], { mode: 'fixed' });
    await client.close();
    assert.equal(f.chosen, 0); // np.exp(-800) == 0.0, total 0 → 0
    assert.equal(f.tie, true);
    assert.ok(Math.abs(x.chosen - 1 / (1 + Math.exp(-1))) < 1e-15); // e^-800 / (e^-800 + e^-801)
  });

  test('RM_Bench/ours_gpt.py layout through METHODS (layout rmbench), results keyed by id and subset', async () => {
    const client = stubClient();
    handler = ipoHandler;
    seen.length = 0;
    const s = createChatScorer('ipo', { client, model: 'gpt-4o-mini' });
    assert.ok(isChatScorer(s));
    const run = await METHODS.ipo.scorePairs(s, [{ id: 7, subset: 'math', prompt: 'What is 2+3?', chosen: '[A]', rejected: '[B]' }], { layout: 'rmbench' });
    await client.close();
    assert.equal(userContent(seen.find((b) => userContent(b).includes('[A]'))!), `Given the following:\n    User : What is 2+3?\n    Response : [A]\n    ${RMBENCH_TEMPLATES['RM-Bench-math']}`);
    assert.deepEqual([run.results[0].id, run.results[0].subset, run.results[0].correct], [7, 'math', true]);
    assert.ok(Math.abs((run.results[0].chosen as number) - R_A) < 1e-15);
    assert.equal(run.cached, 0);
  });

  test('METHODS: a scorer tagged with another method, or a chat scorer for rm, is a one-line error', async () => {
    const client = stubClient();
    const s = createChatScorer('ipo', { client, model: 'gpt-4o-mini' });
    const pairs = [{ id: 1, subset: 'alpacaeval-easy', prompt: 'q', chosen: 'a', rejected: 'b' }];
    await assert.rejects(METHODS.binary.scorePairs(s, pairs), (e: Error) => /^method binary was given a chat ipo scorer \(chat:gpt-4o-mini\): use --method ipo/.test(e.message) && !e.message.includes('\n'));
    await assert.rejects(METHODS.rm.scorePairs(s, pairs), /^Error: method rm needs a reward model \(loadRewardModel\), not a chat ipo scorer/);
    assert.throws(() => new ChatIpoScorer({ client, model: '' }), /^Error: ChatIpoScorer: model must be the served model name/);
    assert.throws(() => new ChatIpoScorer({ client, model: 'm', topLogprobs: 0 }), /topLogprobs must be a positive integer/);
    await assert.rejects(s.scorePairs([{ instruction: '', chosen: 'a', rejected: 'b' }], { mode: 'faithful' }), /pairs\[0\]\.instruction must be a non-empty string/);
    await client.close();
  });
});

// ------------------------------------------------------------------------------------------------------------------
// (a) binary judge (binary_gpt.py)

/** `Response 1:\n    X\n` → X (both prompts put each response on one indented line). */
const shown = (c: string, n: 1 | 2) => c.split(`Response ${n}:\n    `)[1].split('\n')[0];
const BINARY_ANSWERS: Record<string, Answer> = {
  'alpha|beta': textAnswer('Better response: Response 1\nExplanation: It answers the question.'),
  'beta|alpha': textAnswer('Better response: Response 1\nExplanation: More detail.'), // position bias
  'gamma|delta': textAnswer('Better response: [Response 2]\nExplanation: copied the format'), // regex needs "Response" right after
  'delta|gamma': textAnswer('better response: response 2\nexplanation: lower case'), // re.IGNORECASE
  'eps|zeta': serverError,
  'zeta|eps': textAnswer('Better response:Response2'),
  'eta|theta': textAnswer('Better response: Response 2'),
  'theta|eta': textAnswer('Better response: Response 1'),
};
const binaryHandler = (b: Record<string, unknown>): Answer => BINARY_ANSWERS[`${shown(userContent(b), 1)}|${shown(userContent(b), 2)}`] ?? { status: 400, json: {} };
const BINARY_PAIRS = [
  { instruction: 'Q1', chosen: 'alpha', rejected: 'beta' },
  { instruction: 'Q2', chosen: 'gamma', rejected: 'delta' },
  { instruction: 'Q3', chosen: 'eps', rejected: 'zeta' },
  { instruction: 'Q4', chosen: 'eta', rejected: 'theta' },
];

describe('binary judge (binary_gpt.py)', () => {
  test('faithful: chosen always Response 1, the official regex, an error is a wrong answer', async () => {
    const client = stubClient();
    handler = binaryHandler;
    seen.length = 0;
    const s = new ChatBinaryScorer({ client, model: 'openai/chatgpt-4o-latest' });
    const r = await s.scorePairs(BINARY_PAIRS, { mode: 'faithful' });
    await client.close();
    assert.deepEqual(r.map((x) => [x.correct, x.tie, x.chosen]), [[true, false, 1], [false, false, 0], [false, false, 0], [false, false, 0]]);
    assert.equal(seen.length, 4);
    assert.deepEqual(seen[0].max_tokens, 200);
    assert.deepEqual(seen.map((b) => b.temperature), [0.1, 0.1, 0.1, 0.1]);
    const q1 = seen.find((b) => shown(userContent(b), 1) === 'alpha')!;
    assert.equal(userContent(q1), BINARY_JUDGE_TEMPLATE.replace('{instruction}', 'Q1').replace('{response1}', 'alpha').replace('{response2}', 'beta'));
    const sum = s.summary();
    assert.deepEqual([sum.verdicts.response1, sum.verdicts.response2, sum.verdicts.unparsed, sum.failed, sum.failedPairs, sum.excluded], [1, 1, 1, 1, 1, 0]);
  });

  test('fixed: both orders, unparsed = 0.5, a failed call makes the pair NaN (counted, neither correct nor a tie)', async () => {
    const client = stubClient();
    handler = binaryHandler;
    seen.length = 0;
    const s = new ChatBinaryScorer({ client, model: 'openai/chatgpt-4o-latest' });
    const r = await s.scorePairs(BINARY_PAIRS, { mode: 'fixed' });
    await client.close();
    // alpha: (1 + 0)/2 = 0.5 tie; gamma: (0.5 + 1)/2 = 0.75; eps: failed → NaN; eta: (0 + 0)/2 = 0
    assert.deepEqual(r.slice(0, 2).map((x) => [x.chosen, x.correct, x.tie]), [[0.5, false, true], [0.75, true, false]]);
    assert.ok(Number.isNaN(r[2].chosen));
    assert.deepEqual([r[2].correct, r[2].tie, r[3].chosen, r[3].correct], [false, false, 0, false]);
    assert.equal(seen.length, 8);
    assert.ok(seen.every((b) => b.temperature === 0));
    const sum = s.summary();
    assert.deepEqual(
      [sum.verdicts.response1, sum.verdicts.response2, sum.verdicts.unparsed, sum.failedPairs, sum.consistentPairs, sum.samePositionPairs, sum.ties],
      [3, 3, 1, 1, 1, 1, 1],
    );
    assert.equal(sum.response1Rate, 0.5);
  });

  test('RM_Bench/binary_gpt.py prompt (variant rmbench): a failure is counted as one the official script leaves out', async () => {
    const client = stubClient();
    handler = binaryHandler;
    seen.length = 0;
    const s = new ChatBinaryScorer({ client, model: 'gpt-4o-mini', variant: 'rmbench' });
    const r = await s.scorePairs(BINARY_PAIRS.slice(0, 3), { mode: 'faithful' });
    await client.close();
    assert.deepEqual(r.map((x) => x.correct), [true, false, false]);
    const q1 = seen.find((b) => shown(userContent(b), 1) === 'alpha')!;
    assert.equal(userContent(q1), GPT_BINARY_TEMPLATE_RMBENCH.replace('{instruction}', 'Q1').replace('{response1}', 'alpha').replace('{response2}', 'beta'));
    assert.ok(userContent(q1).startsWith("Compare the following two responses to the user's question and determine which one is better.\n    Consider factors such as relevance,"));
    assert.ok(userContent(q1).endsWith('    Format:\n    Better response: [Response 1/Response 2]\n    Explanation: [Your explanation]\n    '));
    assert.equal(s.summary().excluded, 1);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// (a) self-reward rubric (self_reward_gpt.py)

const SR_ANSWERS: Record<string, Answer> = {
  r4: textAnswer('The response is relevant and complete. Score: 4'),
  r4tight: textAnswer('Relevant, direct and well organised.\nScore:4'), // faithful GPT regex needs one whitespace → 0
  rjson: textAnswer('{"Justification": "ok", "Score": 3}'), // '"Score": 3' → 0 in both faithful parsers
  r2: textAnswer('Partly answers. Score: 2'),
  r7: textAnswer('Score: 7'), // clamped to 5
  rnbsp: textAnswer('Score:\u00855'), // CPython \s matches U+0085 (JavaScript's \s does not)
  r2sp: textAnswer('Score:  4'), // two spaces: the GPT regex needs exactly one → 0
  rslash: textAnswer('I would rate this 3/5.'),
  rfail: serverError,
  rnull: textAnswer(null), // content None: re.search raises
};
const srHandler = (b: Record<string, unknown>): Answer => {
  const m = /<response>(.*?)<\/response>/s.exec(userContent(b));
  return (m && SR_ANSWERS[m[1]]) || { status: 400, json: {} };
};
const SR_PAIRS = [
  { instruction: 'Q', chosen: 'r4', rejected: 'r4tight' },
  { instruction: 'Q', chosen: 'rjson', rejected: 'r2' },
  { instruction: 'Q', chosen: 'rfail', rejected: 'r2sp' },
  { instruction: 'Q', chosen: 'r7', rejected: 'rnbsp' },
  { instruction: 'Q', chosen: 'rslash', rejected: 'rnull' },
];

describe('self-reward rubric (self_reward_gpt.py)', () => {
  test('the Reward_Bench GPT rubric: U+2022 U+2060 bullets (two spaces on the 5 criteria, one on the last 2)', () => {
    const t = GPT_SELF_REWARD_TEMPLATE_REWARDBENCH;
    assert.equal([...t.matchAll(/\u2022\u2060/g)].length, 7);
    assert.ok(t.includes('\n\u2022\u2060  Add 1 point if the response is relevant'));
    assert.ok(t.includes('\n\u2022\u2060  Bestow a fifth point'));
    assert.ok(t.endsWith('\n\u2022\u2060 Conclude with the score using the format: "Score: " '));
    assert.ok(!/^- /m.test(t));
    assert.equal(t.replace(/\u2022\u2060 {1,2}/g, '- '), SELF_REWARD_TEMPLATE);
  });

  test('the official GPT regexes: exactly one whitespace after ":" / \'"\'', () => {
    assert.deepEqual(['Score: 4', 'Score:4', '"Score": 3', 'score " 2', 'score "2', 'Score:  4', 'Score:\u00a05', 'Score:\u00855', 'Score:\ufeff5', 'SCORE: 9', '"Score" 1'].map((x) => gptExtractScore(x)), [4, 0, 0, 2, 0, 0, 5, 5, 0, 5, 1]);
    assert.deepEqual(['Score: 4', 'Score:4', '"Score": 3', 'score 2', 'rated 1/5', 'nothing'].map((x) => gptExtractScore(x, 'rmbench')), [4, 4, 0, 2, 1, 0]);
  });

  test('faithful Reward_Bench: strict regexes, 0 for unparsed, failed and content None; ties wrong', async () => {
    const client = stubClient();
    handler = srHandler;
    seen.length = 0;
    const s = new ChatSelfRewardScorer({ client, model: 'openai/chatgpt-4o-latest' });
    const r = await s.scorePairs(SR_PAIRS, { mode: 'faithful' });
    await client.close();
    assert.deepEqual(r.map((x) => [x.chosen, x.rejected, x.correct, x.tie]), [
      [4, 0, true, false], // "Score:4" reads 0
      [0, 2, false, false], // '"Score": 3' reads 0
      [0, 0, false, true], // HTTP 500 → 0; "Score:  4" → 0
      [5, 5, false, true], // 7 clamped; U+0085 is \s
      [0, 0, false, true], // no "Score"; content None → 0
    ]);
    const first = seen.find((b) => userContent(b).includes('<response>r4</response>'))!;
    assert.deepEqual(first, { model: 'openai/chatgpt-4o-latest', messages: [{ role: 'user', content: GPT_SELF_REWARD_TEMPLATE_REWARDBENCH.replace('{instruction}', 'Q').replace('{response}', 'r4') }], max_tokens: 200, temperature: 0.1 });
    const sum = s.summary();
    assert.deepEqual([sum.calls, sum.failed, sum.malformed, sum.unparsed, sum.strictMisses, sum.ties], [10, 1, 1, 4, 3, 3]);
  });

  test('fixed Reward_Bench: the kit\'s lenient parser, NaN for unparsed / failed / None, never a tie', async () => {
    const client = stubClient();
    handler = srHandler;
    seen.length = 0;
    const s = new ChatSelfRewardScorer({ client, model: 'openai/chatgpt-4o-latest' });
    const r = await s.scorePairs(SR_PAIRS, { mode: 'fixed' });
    await client.close();
    const view = r.map((x) => [x.chosen, x.rejected, x.correct, x.tie]);
    assert.deepEqual(view.slice(0, 2), [[4, 4, false, true], [3, 2, true, false]]);
    assert.ok(Number.isNaN(r[2].chosen) && r[2].rejected === 4 && !r[2].correct && !r[2].tie);
    assert.deepEqual(view[3], [5, 5, false, true]);
    assert.ok(Number.isNaN(r[4].chosen) && Number.isNaN(r[4].rejected) && !r[4].correct && !r[4].tie);
    assert.ok(seen.every((b) => b.temperature === 0));
    assert.deepEqual(s.summary().scoreCounts, { 4: 3, 3: 1, 2: 1, 5: 2, null: 3 });
  });

  test('RM_Bench GPT through METHODS (parser rmbench): "- " bullets, its regexes, -1 on an API error', async () => {
    const client = stubClient();
    handler = srHandler;
    seen.length = 0;
    const s = createChatScorer('self-reward', { client, model: 'gpt-4o-mini' });
    const pairs = SR_PAIRS.map((p, i) => ({ id: i, subset: 'chat', prompt: p.instruction, chosen: p.chosen, rejected: p.rejected }));
    const run = await METHODS['self-reward'].scorePairs(s, pairs, { parser: 'rmbench' });
    const fixed = await METHODS['self-reward'].scorePairs(s, pairs, { parser: 'rmbench', mode: 'fixed', unparsedScore: -Infinity });
    await client.close();
    assert.deepEqual(run.results.map((x) => [x.chosen, x.rejected, x.correct]), [
      [4, 4, false], [0, 2, false], [-1, 4, false], [5, 5, false], [3, -1, true], // "3/5" beats an error's -1
    ]);
    assert.equal(userContent(seen[0]), SELF_REWARD_TEMPLATE.replace('{instruction}', 'Q').replace('{response}', userContent(seen[0]).match(/<response>(.*?)<\/response>/)![1]));
    assert.deepEqual(fixed.results.map((x) => [x.chosen, x.rejected]), [[4, 4], [-Infinity, 2], [-Infinity, 4], [5, 5], [3, -Infinity]]);
  });
});

test('connectChat: the only model of GET /models, or a one-line error when the server lists several', async () => {
  models = { object: 'list', data: [{ id: 'gpt-4o-mini' }] };
  const a = await connectChat({ baseUrls: [stubUrl], cacheDir: false });
  assert.equal(a.model, 'gpt-4o-mini');
  await a.client.close();
  models = { object: 'list', data: [{ id: 'gpt-4o' }, { id: 'gpt-4o-mini' }, { id: 'o1' }, { id: 'o3' }] };
  await assert.rejects(connectChat({ baseUrls: [stubUrl], cacheDir: false }), /^Error: chat api: the server lists 4 models \(gpt-4o, gpt-4o-mini, o1, …\); choose one with --api-model$/);
  const b = await connectChat({ baseUrls: [stubUrl], cacheDir: false, apiModel: 'o1' });
  assert.equal(b.model, 'o1');
  await b.client.close();
  models = { object: 'list', data: [{ id: 'gpt-4o-mini' }] };
});

// ------------------------------------------------------------------------------------------------------------------
// (b) end to end against `ipo serve`

const TINY = findAsset('models/tinystories-656k');
const TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
/** Renamed in the copy: `saw▁` (id 497, produced only by the merge `sa w▁`, which is dropped) now reads "Yes ". */
const YES_ID = 497;
/** The two tokens reading "no" after strip().lower(): `no` and `no▁`. */
const NO_IDS = [142, 1047];

describe('end to end against ipo serve (TinyStories copy with a chat template and a "Yes " token)', () => {
  let dir: string;
  let model: CausalLM;
  let server: RunningServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ipo-chat-judges-'));
    for (const f of ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer_config.json']) copyFileSync(join(TINY, f), join(dir, f));
    const tok = JSON.parse(readFileSync(join(TINY, 'tokenizer.json'), 'utf8'));
    assert.equal(tok.model.vocab['saw▁'], YES_ID);
    assert.equal(tok.model.vocab.no, NO_IDS[0]);
    assert.equal(tok.model.vocab['no▁'], NO_IDS[1]);
    delete tok.model.vocab['saw▁'];
    tok.model.vocab['Yes▁'] = YES_ID;
    tok.model.merges = tok.model.merges.filter((m: string) => m !== 'sa w▁');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
    model = await loadTfModel(dir, { chatTemplate: TEMPLATE });
    server = await startOpenAiServer({ model, modelName: 'tiny-chat' });
  });

  after(async () => {
    await server?.close();
    model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('chat IPO = e^yes/(e^yes+e^no) of the server\'s own top_logprobs and of the model\'s next-token log-probs', async () => {
    const pair = { instruction: 'Did Lily go to the park?', chosen: 'Yes, she went to the park with her mom.', rejected: 'The cat sat.', category: 'alpacaeval-easy' };
    const { client, model: served } = await connectChat({ baseUrls: [server.url], cacheDir: false });
    assert.equal(served, 'tiny-chat');
    const tensors = tf.memory().numTensors;
    const s = new ChatIpoScorer({ client, model: served, topLogprobs: model.vocabSize });
    const [faithful] = await s.scorePairs([pair], { mode: 'faithful' });
    const [fixed] = await s.scorePairs([pair], { mode: 'fixed' });
    await client.close();
    assert.deepEqual([s.summary().failed, s.summary().outsideTopK], [0, 0]);

    const openai = new OpenAI({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
    for (const [resp, got] of [[pair.chosen, [faithful.chosen, fixed.chosen]], [pair.rejected, [faithful.rejected, fixed.rejected]]] as const) {
      const prompt = `${T_ALPACA}\nUser: ${pair.instruction}\nResponse: ${resp}`;
      // the server's own numbers, through the official client
      const c = await openai.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: prompt }], max_tokens: 2, logprobs: true, top_logprobs: model.vocabSize, temperature: 0.7 });
      const top = c.choices[0].logprobs!.content![0].top_logprobs;
      const y = top.find((e) => e.token.trim().toLowerCase() === 'yes')!;
      const n = top.find((e) => e.token.trim().toLowerCase() === 'no')!;
      assert.equal(y.token, 'Yes ');
      const fromServer = Math.exp(y.logprob) / (Math.exp(y.logprob) + Math.exp(n.logprob));
      assert.ok(Math.abs(got[0] - fromServer) < 1e-12 && Math.abs(got[1] - fromServer) < 1e-12, `${got} vs ${fromServer}`);
      // and the model itself: the first-ranked "no" token is the likelier of the two
      const ids = model.encode(model.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false });
      const lp = await model.nextTokenLogProbs(ids);
      const lpNo = Math.max(lp[NO_IDS[0]], lp[NO_IDS[1]]);
      const fromModel = Math.exp(lp[YES_ID]) / (Math.exp(lp[YES_ID]) + Math.exp(lpNo));
      assert.ok(Math.abs(got[0] - fromModel) < 1e-5, `${got[0]} vs ${fromModel}`);
      assert.ok(got[0] > 0 && got[0] < 1);
    }
    assert.equal(faithful.correct, faithful.chosen > faithful.rejected);
    assert.equal(tf.memory().numTensors, tensors, 'no tensors leaked by the served requests');
  });

  test('ipo rewardbench --source rebuilt --limit-per-subset 1 --api-style chat --base-url URL --json', async () => {
    const env = { ...process.env, IPO_OFFLINE: '1', IPO_PROGRESS: '0', IPO_CACHE: '0' };
    const { stdout, stderr } = await execFileP(process.execPath, ['bin/ipo.mjs', 'rewardbench', '--source', 'rebuilt', '--limit-per-subset', '1', '--api-style', 'chat', '--base-url', server.url, '--json'], { env, maxBuffer: 1 << 24 });
    const j = JSON.parse(stdout) as { n: number; method: string; model: string; subsets: Record<string, { n: number; accuracy: number }>; chat: { model: string; top_logprobs: number; temperature: number; summary: { calls: number; failed: number; malformed: number; responses: number } } };
    assert.equal(j.method, 'ipo');
    assert.equal(j.model, 'chat:tiny-chat');
    assert.ok(j.n >= 10, `n = ${j.n}`);
    assert.equal(Object.values(j.subsets).reduce((a, s) => a + s.n, 0), j.n);
    assert.deepEqual([j.chat.model, j.chat.top_logprobs, j.chat.temperature], ['tiny-chat', 10, 0.7]);
    assert.equal(j.chat.summary.calls, 2 * j.n);
    assert.equal(j.chat.summary.responses, 2 * j.n);
    assert.equal(j.chat.summary.malformed, 0);
    // prompts longer than the 512-token context are a 400 from the server: counted, scored 0 as ours_gpt.py's except
    assert.ok(j.chat.summary.failed < j.chat.summary.calls, 'most prompts fit the context');
    assert.match(stderr, /chat ipo: \d+ calls/);
    assert.match(stderr, /responses with Yes\/No outside the top-10/);

    // the one-line errors
    await assert.rejects(
      execFileP(process.execPath, ['bin/ipo.mjs', 'rewardbench', '--api-style', 'chat', '--method', 'rm', '--base-url', server.url], { env }),
      (e: { stderr: string }) => /^ipo: --api-style chat runs --method ipo, self-reward, binary \(the official \*_gpt\.py scripts\), not rm\n$/.test(e.stderr),
    );
    const noUrl: NodeJS.ProcessEnv = { ...env };
    delete noUrl.IPO_BASE_URL;
    await assert.rejects(
      execFileP(process.execPath, ['bin/ipo.mjs', 'rmbench', '--api-style', 'chat'], { env: noUrl }),
      (e: { stderr: string }) => /^ipo: --api-style chat needs --base-url URL/.test(e.stderr) && e.stderr.split('\n').filter(Boolean).length === 1,
    );
  });
});
