/**
 * `ipo serve`: the kit's engines behind an OpenAI-compatible HTTP server (lib/serve/), for any OpenAI client and for
 * the kit's own api engine. Loopback by default (no authentication); stops on SIGINT / SIGTERM.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { addModelOptions, intArg, logLine, print, type ModelOpts } from './cli-common.ts';

interface ServeOpts extends ModelOpts {
  host: string;
  port: number;
  maxLogprobs?: number;
  servedModelName?: string;
  quiet?: boolean;
}

export function registerServeCommands(program: Command): void {
  addModelOptions(program.command('serve'))
    .description('serve the model over an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions, vLLM /tokenize) until Ctrl-C')
    .option('--host <addr>', 'address to listen on (loopback by default: the server has no authentication)', '127.0.0.1')
    .option('--port <p>', 'port (0 = any free port)', intArg('--port', 0), 8000)
    .option('--max-logprobs <k>', 'cap of completions logprobs / chat top_logprobs (vLLM --max-logprobs; default: the vocabulary size)', intArg('--max-logprobs', 0))
    .option('--served-model-name <name>', 'model id in /v1/models and responses (default: the --model reference, or the folder name for a path)')
    .option('--quiet', 'no per-request log lines on stderr')
    .action(async (o: ServeOpts) => {
      if (o.port > 65535) throw new Error(`--port must be <= 65535, got ${o.port}`);
      const engine = o.engine as string | undefined;
      if (engine === 'api' || (o as { baseUrl?: string[] }).baseUrl?.length) throw new Error('ipo serve serves a local engine (--engine tf or onnx), not --engine api / --base-url');
      const { loadModel } = await import('../lib/models/load.ts');
      const { startOpenAiServer } = await import('../lib/serve/openai-server.ts');
      const model = await loadModel(o.model, { engine: o.engine, backend: o.backend, dtype: o.dtype, device: o.device });
      // a path is shown by its folder name only (no absolute paths in output); a shared name or hub id as given
      const name = o.servedModelName ?? (existsSync(o.model) ? basename(o.model.replace(/[/\\]+$/, '')) : o.model);
      let server;
      try {
        server = await startOpenAiServer({ model, modelName: name, host: o.host, port: o.port, maxLogprobs: o.maxLogprobs, log: o.quiet ? undefined : logLine });
      } catch (e) {
        model.dispose();
        throw e;
      }
      print(o, { url: server.url, port: server.port, model: name, engine: model.engine, maxLength: model.maxLength },
        () => `ipo serve: ${name} (${model.engine} engine) at ${server.url} — Ctrl-C stops`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logLine(`ipo serve: ${signal}, stopping`);
          server.close().finally(() => {
            model.dispose();
            resolve();
          });
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
