/** `--queue <url>` of `rsclip index` and `rsclip worker`, checked before anything is loaded. */
import type { Command } from 'commander';
import { RsclipError } from '../errors.js';
import { parseQueueUrl } from '../queue/connection.js';

/**
 * `--queue`, checked as the queue reads it (parseQueueUrl: scheme, database, TLS files) before
 * anything is loaded; in a hook rather than a parser, whose error line would quote a password in the URL.
 */
export function checkQueueUrl(command: Command): void {
  const url = command.opts<{ queue?: string }>().queue;
  if (url === undefined) return;
  try {
    parseQueueUrl(url);
  } catch (error) {
    if (!(error instanceof RsclipError)) throw error;
    command.error(`error: option '--queue <url>' is invalid: ${error.toOneLine()}`, { exitCode: 2, code: 'commander.invalidArgument' });
  }
}
