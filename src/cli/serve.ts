/** `rsclip serve`: the HTTP API and the web page over one index. */
import type { Command } from 'commander';
import { DEFAULT_INDEX_DIR, loadConfig } from '../config.js';
import { cacheDirOption, chosenLogFormat, givenModel, collect, listenPort, LOG_FORMAT_HELP, logFormat, modelVariant, positiveInt } from './options.js';

interface ServeCommandOptions {
  index?: string;
  model?: string;
  variant?: ReturnType<typeof modelVariant>;
  threads?: number;
  host?: string;
  port?: number;
  token?: string;
  allowedHost?: string[];
  basemap?: string;
  maxUploadMb?: number;
  logFormat?: ReturnType<typeof logFormat>;
  verbose?: boolean;
  followLinks?: boolean;
  /** false with --no-image-warm-up */
  imageWarmUp?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the search API and web page for an index (binds to 127.0.0.1 unless --host says otherwise)')
    .option('--index <dir>', `index directory (default: config "index" or ${DEFAULT_INDEX_DIR})`)
    .option('-m, --model <dir>', 'model directory (default: config "model", else the one the index was last built with)')
    .option('--variant <variant>', 'ONNX variant: fp32, int8 or fp16 (default: the one matching the index)', modelVariant)
    .option('--threads <n>', 'onnxruntime threads (default: number of cores)', positiveInt)
    .option('--host <host>', 'address to listen on; 0.0.0.0 for the whole LAN (default 127.0.0.1)')
    .option('--port <n>', 'port, 0 to 65535 (default 8080; 0 picks a free one)', listenPort)
    .option('--token <token>', 'require this token (Authorization: Bearer, or ?token=) everywhere but /healthz and the page files; also RSCLIP_TOKEN')
    .option('--allowed-host <name>', 'a name this server answers for when it has no token (repeatable; IP addresses, localhost and this machine\'s name always; "*" for any): a page elsewhere cannot reach it through a name of its own (DNS rebinding)', collect)
    .option('--basemap <url>', 'XYZ tile URL template shown under the map, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png (default: config "basemap"; none: overviews and a graticule, offline)')
    .option('--max-upload-mb <n>', 'largest image upload in MiB (default 20)', positiveInt)
    .option('--log-format <format>', LOG_FORMAT_HELP, logFormat)
    .option('--verbose', 'also log thumbnail requests')
    .option('--no-image-warm-up', 'open the image tower at the first image query instead of right after start (saves its memory where only text is searched)')
    .option('--follow-links', 'serve files whose real path lies outside their archive folder (an index made with `index --follow-links`)')
    .action(async (opts: ServeCommandOptions) => {
      const { config } = loadConfig();
      const index = opts.index ?? config.index ?? DEFAULT_INDEX_DIR;
      const model = givenModel(opts.model, config);
      const host = opts.host ?? config.host ?? '127.0.0.1';
      const token = opts.token ?? config.token;
      const variant = opts.variant ?? config.variant;
      const threads = opts.threads ?? config.threads;
      const basemap = opts.basemap ?? config.basemap;
      if (!LOOPBACK.has(host) && !token) process.stderr.write(`rsclip: serving on ${host} without --token: anyone who can reach this port can search and download the archive\n`);
      const { startServer } = await import('../server/start-server.js');
      await startServer({
        index,
        ...(model ? { model } : {}),
        host,
        port: opts.port ?? config.port ?? 8080,
        ...(token ? { token } : {}),
        ...((opts.allowedHost ?? config.allowedHosts) ? { allowedHosts: opts.allowedHost ?? config.allowedHosts } : {}),
        ...(basemap ? { basemap } : {}),
        ...(variant ? { variant } : {}),
        ...(threads ? { threads } : {}),
        ...cacheDirOption(config),
        ...(opts.maxUploadMb ? { limits: { maxUploadBytes: opts.maxUploadMb * 1024 * 1024, maxJsonBytes: Math.ceil(opts.maxUploadMb * 1024 * 1024 * 1.4) } } : {}),
        logFormat: chosenLogFormat(opts.logFormat),
        verbose: opts.verbose === true,
        followLinks: opts.followLinks ?? config.followLinks ?? false,
        warmUpImages: opts.imageWarmUp !== false,
      });
    });
}
