/**
 * Output paths that name one of the process's own open descriptors rather than a file:
 * /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N (or /proc/<this pid>/fd/N,
 * /proc/thread-self/fd/N), or a symbolic link leading to one. Stdout and stderr are written
 * through the process's own streams, at their offset and with their flags: under a shell's
 * `>> job.log` it appends; other descriptors are refused. Opened again by its name it would be truncated (the name leads to the file the shell
 * redirected to), and staged beside that file and renamed it would replace it.
 */
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { RsclipError } from './errors.js';

/** A file to write, or (a number) one of the process's open descriptors. */
export type Output = string | number;

const STANDARD: Readonly<Record<string, number>> = { '/dev/stdin': 0, '/dev/stdout': 1, '/dev/stderr': 2 };
const NUMBERED = new RegExp(`^/(?:dev/fd|proc/(?:self|thread-self|${process.pid})(?:/task/\\d+)?/fd)/(\\d+)$`);

/** Symbolic links followed at most, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

function descriptorOfName(file: string): number | undefined {
  const numbered = NUMBERED.exec(file)?.[1];
  return STANDARD[file] ?? (numbered === undefined ? undefined : Number(numbered));
}

/**
 * Refuses a descriptor other than stdout (1) and stderr (2): stdin is for reading, and above 2
 * Node and its libraries hold their own (libuv's signal pipe, epoll, eventfd; later the catalog),
 * which nothing here can tell from one a shell passed (`3> file`): Node marks inherited ones
 * close-on-exec too. Written into, libuv's pipe crashed the process.
 */
function checkStandard(descriptor: number, file: string): void {
  if (descriptor === 1 || descriptor === 2) return;
  throw new RsclipError('BAD_INPUT', `${file} names descriptor ${descriptor}: rsclip writes to a descriptor only as stdout or stderr`, {
    hint: 'pass - (or /dev/stdout) and redirect stdout, or pass a file\'s name',
  });
}

/** The descriptor `file` names (directly or through symbolic links), or undefined for a file's name; refuses a descriptor other than stdout and stderr. */
export async function descriptorNamed(file: string): Promise<number | undefined> {
  let current = path.resolve(file);
  for (let links = 0; links <= MAX_LINKS; links++) {
    const descriptor = descriptorOfName(current);
    if (descriptor !== undefined) {
      checkStandard(descriptor, file);
      return descriptor;
    }
    const target = await readlink(current).catch(() => undefined);
    if (target === undefined) return undefined;
    current = path.resolve(path.dirname(current), target);
  }
  return undefined;
}

/** The process's stream for `descriptor` (1 or 2: see descriptorNamed); a reader that stops early (`| head`) ends the command quietly, as for any output on stdout. */
export function descriptorStream(descriptor: number): Writable {
  return descriptor === 2 ? process.stderr : process.stdout;
}

/** Writes `text` to `stream` and resolves once it is handed to the system; the stream stays open. */
export async function writeThrough(stream: Writable, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}

/** Writes `text` to `descriptor` in full. */
export const writeToDescriptor = (descriptor: number, text: string): Promise<void> => writeThrough(descriptorStream(descriptor), text);
