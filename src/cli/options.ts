/** Option parsers shared by the CLI commands: they throw commander's InvalidArgumentError with expected vs actual. */
import { InvalidArgumentError } from 'commander';
import { MODEL_VARIANTS, type ModelVariant } from '../model/index.js';
import { LOG_FORMATS, type LogFormat } from '../server/index.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

export function modelVariant(value: string): ModelVariant {
  if (!(MODEL_VARIANTS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${MODEL_VARIANTS.join(', ')}, got "${value}"`);
  }
  return value as ModelVariant;
}

export function logFormat(value: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${LOG_FORMATS.join(', ')}, got "${value}"`);
  return value as LogFormat;
}

/** Readable lines on a terminal, JSON lines when stderr is piped, unless `--log-format` says otherwise. */
export function chosenLogFormat(requested: LogFormat | undefined): LogFormat {
  return requested ?? (process.stderr.isTTY ? 'pretty' : 'json');
}

export const LOG_FORMAT_HELP = 'server log: pretty (one line per request) or json (default: pretty on a terminal, json when piped)';

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
