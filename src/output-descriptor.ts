/**
 * Output paths that name one of the process's own open descriptors rather than a file:
 * /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N (or /proc/<this pid>/fd/N,
 * /proc/thread-self/fd/N), or a symbolic link leading to one. Such an output is written through
 * the descriptor itself, at its offset and with its flags: under a shell's `>> job.log` it
 * appends. Opened again by its name it would be truncated (the name leads to the file the shell
 * redirected to), and staged beside that file and renamed it would replace it.
 */
import { createWriteStream } from 'node:fs';
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';

/** A file to write, or (a number) one of the process's open descriptors. */
export type Output = string | number;

const STANDARD: Readonly<Record<string, number>> = { '/dev/stdout': 1, '/dev/stderr': 2 };
const NUMBERED = new RegExp(`^/(?:dev/fd|proc/(?:self|thread-self|${process.pid})(?:/task/\\d+)?/fd)/(\\d+)$`);

/** Symbolic links followed at most, as the kernel does (ELOOP). */
const MAX_LINKS = 40;

function descriptorOfName(file: string): number | undefined {
  const numbered = NUMBERED.exec(file)?.[1];
  return STANDARD[file] ?? (numbered === undefined ? undefined : Number(numbered));
}

/** The descriptor `file` names (directly or through symbolic links), or undefined for a file's name. */
export async function descriptorNamed(file: string): Promise<number | undefined> {
  let current = path.resolve(file);
  for (let links = 0; links <= MAX_LINKS; links++) {
    const descriptor = descriptorOfName(current);
    if (descriptor !== undefined) return descriptor;
    const target = await readlink(current).catch(() => undefined);
    if (target === undefined) return undefined;
    current = path.resolve(path.dirname(current), target);
  }
  return undefined;
}

/**
 * A stream onto `descriptor`, which stays open: stdout and stderr are the process's own streams
 * (a reader that stops early, `| head`, ends the command quietly as for any output on stdout).
 */
export function descriptorStream(descriptor: number): Writable {
  if (descriptor === 1) return process.stdout;
  if (descriptor === 2) return process.stderr;
  return createWriteStream('', { fd: descriptor, autoClose: false });
}

/** Writes `text` to `stream` and resolves once it is handed to the system; the stream stays open. */
export async function writeThrough(stream: Writable, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}

/** Writes `text` to `descriptor` in full. */
export const writeToDescriptor = (descriptor: number, text: string): Promise<void> => writeThrough(descriptorStream(descriptor), text);
