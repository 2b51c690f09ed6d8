/**
 * Settings users repeat, from `rsclip.config.json` (or `--config FILE` / RSCLIP_CONFIG),
 * overridden by environment variables, overridden in turn by command-line flags.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RsclipError } from './errors.js';
import { isPostgresLocation } from './store/postgres/location.js';

export const CONFIG_FILE_NAME = 'rsclip.config.json';
export const DEFAULT_MODEL_ID = 'flax-community/clip-rsicd-v2';
export const DEFAULT_INDEX_DIR = path.join('data', 'index');

const configSchema = z.strictObject({
  /** Index directory. */
  index: z.string().min(1).optional(),
  /** Model directory or Hugging Face repo id. */
  model: z.string().min(1).optional(),
  variant: z.enum(['fp32', 'int8', 'fp16']).optional(),
  threads: z.number().int().positive().optional(),
  batch: z.number().int().positive().optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65535).optional(),
  token: z.string().min(1).optional(),
  /** Without a token, host names `serve` answers for besides IP addresses, localhost and this machine's name ("*": any). */
  allowedHosts: z.array(z.string().min(1)).optional(),
  /** Password of the Redis queue when its --queue URL names none. */
  queuePassword: z.string().min(1).optional(),
  /** XYZ tile URL template for the web page's map (https://host/{z}/{x}/{y}.png). */
  basemap: z.string().regex(/^https?:\/\/[^/{}\s]+\/\S*\{z\}\S*$/, 'expected an http(s) XYZ tile URL with {z}, {x} and {y}').optional(),
  include: z.array(z.string()).optional(),
  exclude: z.array(z.string()).optional(),
  /** Index and serve files behind symbolic links that lead outside the archive folders. */
  followLinks: z.boolean().optional(),
  /** Index hidden files and what hidden and system folders hold. */
  includeHidden: z.boolean().optional(),
  /** Where fetched models are cached. */
  cacheDir: z.string().min(1).optional(),
});
export type RsclipConfig = z.infer<typeof configSchema>;

/** Environment variable -> config key; numbers are parsed and validated like the file. */
export const ENV_OVERRIDES: Record<string, keyof RsclipConfig> = {
  RSCLIP_INDEX: 'index',
  RSCLIP_MODEL: 'model',
  RSCLIP_VARIANT: 'variant',
  RSCLIP_THREADS: 'threads',
  RSCLIP_BATCH: 'batch',
  RSCLIP_HOST: 'host',
  RSCLIP_PORT: 'port',
  RSCLIP_TOKEN: 'token',
  RSCLIP_QUEUE_PASSWORD: 'queuePassword',
  RSCLIP_CACHE_DIR: 'cacheDir',
};
const NUMERIC_KEYS = new Set<keyof RsclipConfig>(['threads', 'batch', 'port']);

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

export interface LoadConfigOptions {
  /** Explicit config file (from --config); it must exist. */
  file?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  config: RsclipConfig;
  /** The file read, if any. */
  file: string | undefined;
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.RSCLIP_CONFIG;
  const file = explicit ? path.resolve(cwd, explicit) : path.join(cwd, CONFIG_FILE_NAME);
  let fromFile: RsclipConfig = {};
  let used: string | undefined;
  if (existsSync(file)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new RsclipError('CONFIG_INVALID', `${file} is not valid JSON: ${(cause as Error).message}`, { cause });
    }
    const parsed = configSchema.safeParse(raw);
    if (!parsed.success) {
      throw new RsclipError('CONFIG_INVALID', `${file}: ${describeIssues(parsed.error)}`, {
        hint: `allowed keys: ${Object.keys(configSchema.shape).join(', ')}`,
      });
    }
    fromFile = parsed.data;
    // relative paths in the file are relative to the file, not to where rsclip runs
    for (const key of ['index', 'cacheDir'] as const) {
      const value = fromFile[key];
      // (an index at a postgres:// URL is no path)
      if (value !== undefined && !(key === 'index' && isPostgresLocation(value))) fromFile[key] = path.resolve(path.dirname(file), value);
    }
    // `model` may also be a Hub repository id (owner/name): a folder where one is beside the file,
    // or where the value starts with ./ or ../, as no repository id does (a missing folder is then said by its full path)
    const model = fromFile.model;
    const besideFile = model === undefined ? undefined : path.resolve(path.dirname(file), model);
    if (model !== undefined && !path.isAbsolute(model) && (/^\.\.?[\\/]/.test(model) || existsSync(besideFile!))) fromFile.model = besideFile;
    used = file;
  } else if (explicit) {
    throw new RsclipError('CONFIG_INVALID', `config file not found: ${file}`);
  }

  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    fromEnv[key] = NUMERIC_KEYS.has(key) ? Number(value) : value;
  }
  const envParsed = configSchema.safeParse(fromEnv);
  if (!envParsed.success) {
    const variableOf = (key: PropertyKey | undefined) => Object.entries(ENV_OVERRIDES).find(([, k]) => k === key)?.[0] ?? String(key);
    const issues = envParsed.error.issues.map((i) => `${variableOf(i.path[0])}=${JSON.stringify(env[variableOf(i.path[0])])}: ${i.message}`);
    throw new RsclipError('CONFIG_INVALID', `environment: ${issues.join('; ')}`, {
      hint: `variables: ${Object.keys(ENV_OVERRIDES).join(', ')}`,
    });
  }
  return { config: { ...fromFile, ...envParsed.data }, file: used };
}
