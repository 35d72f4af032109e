/**
 * `ipo web`: the teaching page (lib/web/server.ts, web/). The server builds the exact IPO prompt and token ids with the
 * kit's scorer; the browser runs the model with transformers.js and shows the prompt, its tokens, the top next tokens,
 * P(Yes) for two responses and which one IPO prefers. Loopback by default (no authentication); stops on SIGINT / SIGTERM.
 */
import type { Command } from 'commander';
import { intArg, jsonOption, logLine, modelOption, print } from './cli-common.ts';

interface WebOpts {
  model: string;
  host: string;
  port: number;
  quiet?: boolean;
  json?: boolean;
}

export function registerWebCommands(program: Command): void {
  program
    .command('web')
    .description('the teaching page: type an instruction and two responses, see the exact prompt, its tokens, the top next tokens and P(Yes), with the model running in your browser (transformers.js), until Ctrl-C')
    .addOption(modelOption())
    .option('--host <addr>', 'address to listen on (loopback by default: the server has no authentication)', '127.0.0.1')
    .option('--port <p>', 'port (0 = any free port)', intArg('--port', 0), 8010)
    .option('--quiet', 'no per-request log lines on stderr')
    .addOption(jsonOption())
    .action(async (o: WebOpts) => {
      if (o.port > 65535) throw new Error(`--port must be <= 65535, got ${o.port}`);
      const { startWebServer } = await import('../lib/web/server.ts');
      const { displayPath } = await import('../lib/util/paths.ts');
      const server = await startWebServer({ model: o.model, host: o.host, port: o.port, log: o.quiet ? undefined : logLine });
      const m = server.model;
      print(o, { url: server.url, port: server.port, model: m.name, folder: displayPath(m.dir), exported: m.exported },
        () => `ipo web: ${m.name} (${m.exported ? `exported to ONNX in ${displayPath(m.dir)}` : displayPath(m.dir)}) at ${server.url} — open it in a browser; Ctrl-C stops`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logLine(`ipo web: ${signal}, stopping`);
          server.close().finally(() => resolve());
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
