/**
 * `ipo web`: the teaching page. A small fastify server that serves `web/` (index.html + app.js, no build step), the
 * transformers.js web bundle and onnxruntime-web's wasm files from node_modules (so it works offline), the model as a
 * transformers.js model folder under `/models/<name>/`, and a JSON API built on the kit's scorer:
 *
 *   GET  /api/config      served models (name, vocab size, context length, files), library versions, the routes
 *   GET  /api/templates   the official template tables (lib/scoring/templates.ts), presets, truncation modes
 *   POST /api/prompt      {instruction, response, category?, templateSet?, preset?, truncation?, maxLength?, model?}
 *                         → the ids the scorer feeds the model (lib/web/prompt-api.ts), their strings, the Yes/No ids
 *   GET  /api/vocab       ?model=NAME → every id's text (for the top-token table)
 *
 * The browser runs the forward pass itself (transformers.js, wasm) and computes P(Yes) from those ids the way
 * lib/scoring/yes-no.ts does for the preset. Errors are `{error: "<one line>"}` with 400 (bad request), 404 (unknown
 * route or model) or 500. Loopback by default: there is no authentication.
 *
 * The model: a folder (or shared name, or hub id) with `onnx/model.onnx` is served as it is; a safetensors-only
 * Llama-family folder (the embedded TinyStories-656K) is exported with the kit's exporter (lib/models/export-onnx.ts)
 * into the kit cache, `<kitCacheDir>/web/<name>-<hash>-onnx`, fresh at every start (the weights or the exporter may
 * have changed; TinyStories takes about a second), as `npm run bench` does under `.cache/bench/`.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, resolve } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { exportOnnxFromRef } from '../models/export-onnx';
import { weightsComplete } from '../models/load';
import { ONNX_MODEL_FILES, onnxHubFiles } from '../models/onnx';
import { resolveModelDir } from '../models/resolve';
import { cachedSnapshot, downloadFromHub, HUB_ID, hubOffline } from '../util/hub';
import { displayPath, kitCacheDir, repoRoot } from '../util/paths';
import { loadPromptModel, promptInfo, templateListing, vocabStrings, WebRequestError, type PromptModel } from './prompt-api';

/** A model the page can load from this server (a transformers.js model folder). */
export interface WebModel {
  /** Its name on the page and under /models/ (a folder name, or `owner/name` for a hub snapshot). */
  name: string;
  /** The folder served: config.json, tokenizer files, onnx/model.onnx. */
  dir: string;
  /** The folder it came from (the same as `dir` unless it was exported). */
  source: string;
  /** True when `dir` was exported from safetensors at this start. */
  exported: boolean;
  /** Files under `dir` that are served, relative, `/`-separated. */
  files: string[];
}

export interface WebServerOptions {
  /** Model reference (folder, shared name such as tinystories-656k, hub id); default tinystories-656k. */
  model?: string;
  /** Default '127.0.0.1' (loopback: there is no authentication). */
  host?: string;
  /** Default 0 = any free port. */
  port?: number;
  /** Where a safetensors model is exported to ONNX; default `<kitCacheDir>/web`. */
  cacheDir?: string;
  /** One line per request (method, path, status, milliseconds) and per export; default none. */
  log?: (line: string) => void;
}

export interface RunningWebServer {
  /** The page, `http://HOST:PORT/`. */
  url: string;
  port: number;
  model: WebModel;
  close(): Promise<void>;
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n').map((l) => l.trim()).find(Boolean) ?? 'unknown error';

/** Files of a model folder that are served: top-level files and `onnx/*` (nothing deeper, no dot files). */
function listModelFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    if (f.startsWith('.')) continue;
    const p = join(dir, f);
    if (statSync(p).isFile()) out.push(f);
    else if (f === 'onnx' && statSync(p).isDirectory()) {
      for (const g of readdirSync(p)) if (!g.startsWith('.') && statSync(join(p, g)).isFile()) out.push(`onnx/${g}`);
    }
  }
  return out.sort();
}

/** The page name of a model folder: `owner/name` for a hub snapshot, else the folder name, made URL-safe. */
function webModelName(ref: string, dir: string): string {
  const hub = /models--([^/\\]+)--([^/\\]+)[/\\]snapshots[/\\]/.exec(dir);
  if (hub) return `${hub[1]}/${hub[2]}`;
  const base = HUB_ID.test(ref) && !existsSync(ref) ? ref.split('/')[1] : basename(dir.replace(/[/\\]+$/, ''));
  return base.replace(/[^\w.-]+/g, '-') || 'model';
}

/**
 * The transformers.js model folder for `ref`: the resolved folder when it has `onnx/model.onnx`, else an ONNX export of
 * its safetensors weights into `cacheDir` (written beside and renamed into place, so a page never sees half a folder).
 */
export async function prepareWebModel(ref = 'tinystories-656k', opts: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<WebModel> {
  const source = await resolveModelDir(ref, { hubFiles: onnxHubFiles('fp32') });
  const name = webModelName(ref, source);
  if (existsSync(join(source, 'onnx', 'model.onnx'))) {
    if (!existsSync(join(source, 'tokenizer.json'))) throw new Error(`model ${displayPath(source)} has onnx/model.onnx but no tokenizer.json`);
    return { name, dir: source, source, exported: false, files: listModelFiles(source) };
  }
  if (!weightsComplete(source)) throw new Error(`model ${displayPath(source)} has neither onnx/model.onnx nor safetensors weights to export`);
  const tag = createHash('sha256').update(resolve(source)).digest('hex').slice(0, 8);
  const out = join(opts.cacheDir ?? join(kitCacheDir(), 'web'), `${name.replace(/\//g, '--')}-${tag}-onnx`);
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    const r = await exportOnnxFromRef(source, tmp);
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    opts.log?.(`ipo web: exported ${displayPath(source)} to ONNX (${(r.bytes / 1e6).toFixed(1)} MB) in ${displayPath(out)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { name, dir: out, source, exported: true, files: listModelFiles(out) };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.jinja': 'text/plain; charset=utf-8',
  '.png': 'image/png',
};

function sendFile(reply: FastifyReply, file: string): FastifyReply {
  const size = statSync(file).size;
  return reply
    .type(CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
    .header('content-length', size)
    .header('cache-control', 'no-cache')
    .send(createReadStream(file));
}

/** Where the browser's libraries live in node_modules: the transformers.js bundle and onnxruntime-web's dist. */
export function browserLibraries(): { transformersJs: string; transformersVersion: string; ortDir: string; ortVersion: string } {
  const req = createRequire(join(repoRoot(), 'package.json'));
  const main = req.resolve('@huggingface/transformers'); // …/dist/transformers.node.cjs
  const transformersJs = join(dirname(main), 'transformers.js'); // the self-contained web bundle (onnxruntime-web inside)
  const ortDir = dirname(createRequire(main).resolve('onnxruntime-web')); // …/onnxruntime-web/dist
  const version = (pkg: string) => (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  if (!existsSync(transformersJs)) throw new Error(`the transformers.js web bundle ${displayPath(transformersJs)} is missing (run npm ci)`);
  return { transformersJs, transformersVersion: version(join(dirname(main), '..', 'package.json')), ortDir, ortVersion: version(join(ortDir, '..', 'package.json')) };
}

export interface WebAppOptions {
  /** The models served locally; the first is the default. */
  models: WebModel[];
  log?: (line: string) => void;
}

/** The fastify app of the teaching page (not listening; `startWebServer` listens). */
export function buildWebApp(opts: WebAppOptions): FastifyInstance {
  if (opts.models.length === 0) throw new Error('buildWebApp: no model to serve');
  const webDir = join(repoRoot(), 'web');
  if (!existsSync(join(webDir, 'index.html'))) throw new Error(`the page ${displayPath(join(webDir, 'index.html'))} is missing`);
  const webFiles = new Set(readdirSync(webDir).filter((f) => !f.startsWith('.') && statSync(join(webDir, f)).isFile()));
  const libs = browserLibraries();
  const ortFiles = new Set(readdirSync(libs.ortDir).filter((f) => /\.(wasm|mjs)$/.test(f)));
  const ortRoute = `/ort/${libs.ortVersion}/`;

  const local = new Map<string, { web: WebModel; prompt: PromptModel }>();
  for (const m of opts.models) local.set(m.name, { web: m, prompt: loadPromptModel(m.name, m.dir) });
  const defaultName = opts.models[0].name;
  // hub ids typed on the page: their tokenizer and config (no weights: the browser fetches those from the hub)
  const remote = new Map<string, Promise<PromptModel>>();
  const vocab = new Map<string, string[]>();

  async function promptModel(name: unknown): Promise<PromptModel> {
    if (name === undefined || name === null || name === '') return local.get(defaultName)!.prompt;
    if (typeof name !== 'string') throw new WebRequestError(400, 'model must be a string');
    const l = local.get(name);
    if (l) return l.prompt;
    if (!HUB_ID.test(name) || name.split('/').some((s) => s === '.' || s === '..')) {
      throw new WebRequestError(404, `no model '${name}': this server serves ${[...local.keys()].join(', ')} (a hub id owner/name loads its tokenizer from the hub when online)`);
    }
    let p = remote.get(name);
    if (!p) {
      p = (async () => {
        let dir = cachedSnapshot(name, 'main');
        if (!dir || !existsSync(join(dir, 'tokenizer.json'))) {
          if (hubOffline()) throw new WebRequestError(400, `model '${name}' is not in the hub cache and hub downloads are off (IPO_OFFLINE/HF_HUB_OFFLINE)`);
          try {
            dir = await downloadFromHub(name, ONNX_MODEL_FILES, { required: ['config.json', 'tokenizer.json'] });
          } catch (e) {
            throw new WebRequestError(400, `model '${name}': ${firstLine(e)}`);
          }
        }
        try {
          return loadPromptModel(name, dir);
        } catch (e) {
          throw new WebRequestError(400, `model '${name}': ${firstLine(e)}`);
        }
      })();
      remote.set(name, p);
      p.catch(() => remote.delete(name)); // a failed look-up is retried next time (e.g. once online)
    }
    return p;
  }

  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });
  app.setErrorHandler((e, _req, reply) => {
    const err = e as { statusCode?: unknown; status?: unknown };
    const status = e instanceof WebRequestError ? e.status : typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    const message = status === 500 ? `internal error: ${firstLine(e)}` : firstLine(e);
    if (status === 500) opts.log?.(`ipo web: ${message}`);
    void reply.code(status).header('cache-control', 'no-store').send({ error: message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
  // cross-origin isolation, so onnxruntime-web may use wasm threads (SharedArrayBuffer); everything is same-origin
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cross-origin-opener-policy', 'same-origin').header('cross-origin-embedder-policy', 'require-corp');
    return payload;
  });
  if (opts.log) {
    const log = opts.log;
    app.addHook('onResponse', async (req, reply) => {
      log(`${req.method} ${req.url.split('?')[0]} ${reply.statusCode} ${Math.round(reply.elapsedTime)} ms`);
    });
  }

  app.get('/', async (_req, reply) => sendFile(reply, join(webDir, 'index.html')));
  app.get<{ Params: { file: string } }>('/:file', async (req, reply) => {
    if (!webFiles.has(req.params.file)) throw new WebRequestError(404, `no file /${req.params.file}`);
    return sendFile(reply, join(webDir, req.params.file));
  });
  app.get('/vendor/transformers.js', async (_req, reply) => sendFile(reply, libs.transformersJs));
  app.get<{ Params: { file: string } }>(`${ortRoute}:file`, async (req, reply) => {
    if (!ortFiles.has(req.params.file)) throw new WebRequestError(404, `no onnxruntime-web file ${req.params.file}`);
    return sendFile(reply, join(libs.ortDir, req.params.file));
  });
  app.get('/models/*', async (req, reply) => {
    const rest = (req.params as Record<string, string>)['*'];
    for (const { web } of local.values()) {
      if (!rest.startsWith(`${web.name}/`)) continue;
      const rel = rest.slice(web.name.length + 1);
      if (web.files.includes(rel)) return sendFile(reply, join(web.dir, rel));
    }
    throw new WebRequestError(404, `no model file /models/${rest}`);
  });

  app.get('/api/config', async (_req, reply) => {
    void reply.header('cache-control', 'no-store');
    return {
      defaultModel: defaultName,
      models: [...local.values()].map(({ web, prompt }) => ({
        name: web.name, source: displayPath(web.source), exported: web.exported, files: web.files,
        vocabSize: prompt.vocabSize, maxLength: prompt.maxLength, bosTokenId: prompt.bosTokenId,
      })),
      localModelPath: '/models/',
      transformers: { url: '/vendor/transformers.js', version: libs.transformersVersion },
      ort: { wasmPaths: { mjs: `${ortRoute}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${ortRoute}ort-wasm-simd-threaded.asyncify.wasm` }, version: libs.ortVersion },
    };
  });
  app.get('/api/templates', async (_req, reply) => {
    void reply.header('cache-control', 'no-store');
    return templateListing();
  });
  app.post('/api/prompt', async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    const body = req.body as Record<string, unknown> | undefined;
    const model = await promptModel(body && typeof body === 'object' ? body.model : undefined);
    return promptInfo(model, body);
  });
  app.get<{ Querystring: { model?: string } }>('/api/vocab', async (req, reply) => {
    void reply.header('cache-control', 'no-store');
    const model = await promptModel(req.query.model);
    let tokens = vocab.get(model.name);
    if (!tokens) vocab.set(model.name, (tokens = vocabStrings(model)));
    return { model: model.name, tokens };
  });
  return app;
}

/** Prepare the model, build the app and listen; resolves once it listens. `close()` stops it. */
export async function startWebServer(opts: WebServerOptions = {}): Promise<RunningWebServer> {
  const model = await prepareWebModel(opts.model ?? 'tinystories-656k', { cacheDir: opts.cacheDir, log: opts.log });
  const app = buildWebApp({ models: [model], log: opts.log });
  const host = opts.host ?? '127.0.0.1';
  try {
    await app.listen({ host, port: opts.port ?? 0 });
  } catch (e) {
    await app.close();
    throw new Error(`cannot listen on ${host}:${opts.port ?? 0} (${firstLine(e)})`);
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${urlHost}:${port}/`, port, model, close: () => app.close() };
}
