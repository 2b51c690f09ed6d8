/**
 * Option parsers shared by the CLI commands: they throw commander's InvalidArgumentError with
 * expected vs actual, so that every bad option value is one line and exit status 2, as commander's
 * own usage errors (an unknown option, a missing value) are.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { decimalInteger } from '../decimal-integer.js';
import { DEFAULT_INDEX_DIR, loadConfig, type RsclipConfig } from '../config.js';
import { RsclipError } from '../errors.js';
import { descriptorNamed } from '../output-descriptor.js';
import { MODEL_VARIANTS, type ModelVariant } from '../model/model-dir.js';
import { localModelDirectory } from '../model/resolve-model.js';
import { MAX_EF, MAX_K, MAX_WINDOW } from '../search/limits.js';
import { pagingShape, thresholdFromText } from '../search/request-schema.js';
import { LOG_FORMATS, type LogFormat } from '../server/log-format.js';
import { ENGINE_NAMES, engineLabel, parseEngineLabel, VECTOR_QUANTIZATIONS, type EngineChoice, type EngineSpec } from '../store/engines.js';

// an option value is an integer as the HTTP API reads one (src/decimal-integer.ts)
export { decimalInteger };

/** A parser of integers from `min` to `max`, with commander's one-line error saying them. */
export function integerFrom(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = decimalInteger(value);
    if (Number.isNaN(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got "${value}"`);
    return n;
  };
}

export function positiveInt(value: string): number {
  const n = decimalInteger(value);
  if (Number.isNaN(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/** A number of results (-k): what the library and the HTTP API take, from 1 to MAX_K. */
export const resultCount = integerFrom(1, MAX_K);

/** A TCP port to listen on (--port): 1 to 65535, or 0 for a free one the system picks. */
export function listenPort(value: string): number {
  const n = decimalInteger(value);
  if (Number.isNaN(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535 (0: a free one), got "${value}"`);
  return n;
}

/** A library parser's one-line error as commander's, so it is reported like any bad option. */
export function optionParser<T, R extends unknown[] = []>(parse: (text: string, ...rest: R) => T): (text: string, ...rest: R) => T {
  return (text, ...rest) => {
    try {
      return parse(text, ...rest);
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw error;
      throw new InvalidArgumentError(error instanceof RsclipError ? error.toOneLine() : String(error));
    }
  };
}

/** A search breadth (--ef): what the library and the HTTP API take, from 1 to MAX_EF. */
export const searchBreadth = integerFrom(1, MAX_EF);

/** Results to skip (--offset): the library and the HTTP API take 0 to MAX_WINDOW (and offset + k at most MAX_WINDOW). */
export const resultOffset = integerFrom(0, MAX_WINDOW);

export function nonNegativeInt(value: string): number {
  const n = decimalInteger(value);
  if (Number.isNaN(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export function modelVariant(value: string): ModelVariant {
  if (!(MODEL_VARIANTS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${MODEL_VARIANTS.join(', ')}, got "${value}"`);
  }
  return value as ModelVariant;
}

/** The model options of the commands that embed archive images (`index`, `worker`). */
export interface ModelOptions {
  model?: string;
  variant?: ModelVariant;
  threads?: number;
}

/** Adds the ModelOptions with one name, parser and meaning everywhere; `defaults` says where each comes from when left out. */
export function addModelOptions(command: Command, defaults: { model: string; variant: string; threads: string }): Command {
  return command
    .option('-m, --model <dir>', `model directory (default: ${defaults.model})`)
    .option('--variant <variant>', `ONNX variant: fp32, int8 or fp16 (default: ${defaults.variant})`, modelVariant)
    .option('--threads <n>', `onnxruntime threads (default: ${defaults.threads})`, positiveInt);
}

export function logFormat(value: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_FORMATS.join(', ')}, got "${value}"`);
  return value as LogFormat;
}

export const ENGINE_HELP = `vector engine of a NEW index: ${ENGINE_NAMES.join(', ')}; the graphs (hnswlib, usearch) with usearch's vector precision (${VECTOR_QUANTIZATIONS.join(', ')}), links per node (M, default 16) and build ef (efc, default 200), e.g. usearch:f16:M32 or hnswlib:M32:efc300; ivf (k-means lists of int8 vectors, best for text queries) takes no parameters; an existing index keeps its engine`;

/** `--engine hnswlib`, `--engine usearch:i8`, `--engine usearch:f16:M32`, `--engine ivf`, ... */
export function engineChoice(value: string): EngineChoice {
  try {
    return parseEngineLabel(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** A line for stderr when `--engine` asks for another engine than the existing index has (undefined when it matches). */
export function engineKeptNote(recorded: EngineSpec, asked: EngineChoice | undefined): string | undefined {
  if (!asked) return undefined;
  const differs = (Object.keys(asked) as (keyof EngineChoice)[]).some((key) => asked[key] !== (recorded as EngineChoice)[key]);
  return differs ? `rsclip: the index exists and keeps its engine ${engineLabel(recorded)}; --engine applies to new indexes (\`rsclip index copy --from DIR --to NEW_DIR --engine LABEL\` makes a copy with another one, without embedding again)\n` : undefined;
}

/** Readable lines on a terminal, JSON lines when stderr is piped, unless `--log-format` says otherwise. */
export function chosenLogFormat(requested: LogFormat | undefined): LogFormat {
  return requested ?? (process.stderr.isTTY ? 'pretty' : 'json');
}

/** How often progress is printed as plain lines when stderr is not a terminal. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5000;

export const LOG_FORMAT_HELP = 'server log: pretty (one line per request) or json (default: pretty on a terminal, json when piped)';

/**
 * `--collapse` and `--nms` read as the API reads `collapse=` and `nms=` (thresholdFromText): a word
 * is a boolean, a decimal number a threshold in (0, 1], with the JSON form's bounds and message.
 */
function thresholdOption(name: 'collapse' | 'nms'): (value: string) => boolean | number {
  return (value) => {
    const parsed = pagingShape[name].unwrap().safeParse(thresholdFromText(name, value));
    if (!parsed.success) throw new InvalidArgumentError(`${parsed.error.issues[0]!.message}, got "${value}"`);
    return parsed.data;
  };
}

/** `--collapse [threshold]`: true, false or a cosine threshold in (0, 1] (bare: true). */
export const collapseOption = thresholdOption('collapse');

/** `--nms`: off (false), on (true: the default share) or a share of the smaller window in (0, 1]. */
export const nmsOption = thresholdOption('nms');

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function printJson(value: unknown, stream: NodeJS.WritableStream = process.stdout): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An output file option: `-` is stdout, as for Unix tools. */
export function outputFile(value: string): string {
  return value === '-' ? '/dev/stdout' : value;
}

/** Where a command prints its own lines (a summary, "wrote ..."): stderr when `output`, the file it writes, is stdout, so that they never mix with the data. */
export async function messagesBeside(output: string | undefined): Promise<NodeJS.WriteStream> {
  return output !== undefined && (await descriptorNamed(output)) === 1 ? process.stderr : process.stdout;
}

/**
 * The model directory given to a command: `--model`, else the config's (`model`, RSCLIP_MODEL), a
 * Hub repo id taken from the model cache (the settings' `cacheDir`) as `rsclip up` takes it, but
 * never downloaded; undefined when neither is given.
 */
export function givenModel(flag: string | undefined, config: RsclipConfig = loadConfig().config): string | undefined {
  const model = flag ?? config.model;
  return model ? localModelDirectory(model, cacheDirOption(config)) : undefined;
}

/** The model a command runs (see givenModel); one of `--model` and the config's is needed. */
export function chosenModel(flag: string | undefined, config: RsclipConfig = loadConfig().config): string {
  const model = givenModel(flag, config);
  if (!model) throw new RsclipError('BAD_INPUT', 'no model given: expected --model <dir> or "model" in rsclip.config.json');
  return model;
}

/** Where model file hashes and int8 checks are remembered: the settings' `cacheDir` (config file or RSCLIP_CACHE_DIR), else openClip's default. */
export function cacheDirOption(config: RsclipConfig = loadConfig().config): { cacheDir?: string } {
  return config.cacheDir ? { cacheDir: config.cacheDir } : {};
}

/** The index a command reads: `--index`, else the config's, else data/index. */
export function chosenIndex(flag: string | undefined, config: RsclipConfig = loadConfig().config): string {
  return flag ?? config.index ?? DEFAULT_INDEX_DIR;
}
