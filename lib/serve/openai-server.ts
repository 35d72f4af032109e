/**
 * `ipo serve`: an OpenAI-compatible HTTP server over a `CausalLM` (tf or onnx engine), so any OpenAI client — and
 * the kit's own api engine — can use a local model, and the api engine is tested end to end over real HTTP.
 *
 * Routes (OpenAI shapes; vLLM's extensions where noted):
 *   GET  /health, GET /v1/models, GET /v1/models/:id
 *   POST /v1/completions          completions.ts (logprobs, echo, token-id prompts, return_tokens_as_token_ids)
 *   POST /v1/chat/completions     chat.ts (the model's chat template, logprobs / top_logprobs)
 *   POST /tokenize, /detokenize   tokenize.ts (vLLM; also under /v1)
 * Errors are OpenAI's `{error: {message, type, param, code}}` (errors.ts): 400 for bad requests, 404 for unknown
 * routes and models, 500 otherwise; the process never dies on a request. Engine calls run one at a time
 * (engine.ts SerialQueue). Loopback by default: the server has no authentication.
 */
import { basename } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { CausalLM } from '../models/types';
import { createChatCompletion } from './chat';
import { createCompletion } from './completions';
import { unixNow, type ServerContext } from './context';
import { SerialQueue } from './engine';
import { ApiError, toApiError } from './errors';
import { TokenStrings } from './logprobs';
import { detokenize, tokenize } from './tokenize';

export interface ServeOptions {
  model: CausalLM;
  /** Id shown in /v1/models and responses; requests naming another model get a 404. Default: `defaultModelName(model.ref)`. */
  modelName?: string;
  /** Default '127.0.0.1' (loopback: there is no authentication). */
  host?: string;
  /** Default 0 = any free port. */
  port?: number;
  /** Cap of completions `logprobs` and chat `top_logprobs` (vLLM's --max-logprobs). Default model.vocabSize. */
  maxLogprobs?: number;
  /** One line per request (method, path, status, milliseconds); default none. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** The OpenAI base URL, `http://HOST:PORT/v1`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Request bodies up to 64 MiB (a batch of long token-id prompts). */
const BODY_LIMIT = 64 * 1024 * 1024;

/** The id a model is served under by default: `owner/name` for a hub-cache snapshot, else the folder's name. */
export function defaultModelName(ref: string): string {
  const hub = /models--([^/\\]+)--([^/\\]+)[/\\]snapshots[/\\]/.exec(ref);
  return hub ? `${hub[1]}/${hub[2]}` : basename(ref.replace(/[/\\]+$/, ''));
}

export function buildApp(opts: ServeOptions): FastifyInstance {
  const { model } = opts;
  const maxLogprobs = opts.maxLogprobs ?? model.vocabSize;
  if (!Number.isInteger(maxLogprobs) || maxLogprobs < 0) throw new Error(`maxLogprobs must be an integer >= 0, got ${maxLogprobs}`);
  const ctx: ServerContext = {
    model,
    modelName: opts.modelName ?? defaultModelName(model.ref),
    maxLogprobs,
    queue: new SerialQueue(),
    strings: new TokenStrings(model),
  };
  const created = unixNow();
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });

  app.setErrorHandler((e, _req, reply) => {
    const err = toApiError(e);
    void reply.code(err.status).send(err.body());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new ApiError(404, `no route ${req.method} ${req.url.split('?')[0]}`, null, 'not_found').body());
  });
  if (opts.log) {
    const log = opts.log;
    app.addHook('onResponse', async (req, reply) => {
      log(`${req.method} ${req.url.split('?')[0]} ${reply.statusCode} ${Math.round(reply.elapsedTime)} ms`);
    });
  }

  const card = () => ({ id: ctx.modelName, object: 'model', created, owned_by: 'ipo-notebook-kit', max_model_len: model.maxLength, engine: model.engine });
  app.get('/health', async () => ({ status: 'ok', model: ctx.modelName }));
  app.get('/v1/models', async () => ({ object: 'list', data: [card()] }));
  app.get<{ Params: { id: string } }>('/v1/models/*', async (req) => {
    const id = (req.params as Record<string, string>)['*'];
    if (id !== ctx.modelName) throw new ApiError(404, `The model '${id}' does not exist (this server serves '${ctx.modelName}')`, 'model', 'model_not_found');
    return card();
  });
  app.post('/v1/completions', (req) => createCompletion(ctx, req.body));
  app.post('/v1/chat/completions', (req) => createChatCompletion(ctx, req.body));
  for (const prefix of ['', '/v1']) {
    app.post(`${prefix}/tokenize`, async (req) => tokenize(ctx, req.body));
    app.post(`${prefix}/detokenize`, async (req) => detokenize(ctx, req.body));
  }
  return app;
}

/** Start the server; resolves once it listens. `close()` stops it (in-flight requests finish first). */
export async function startOpenAiServer(opts: ServeOptions): Promise<RunningServer> {
  const app = buildApp(opts);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${urlHost}:${port}/v1`, port, close: () => app.close() };
}
