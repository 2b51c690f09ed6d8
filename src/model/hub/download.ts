/**
 * Downloads one file to disk with resume and verification:
 * bytes go to `<dest>.incomplete`; a rerun (or a retry after a dropped connection)
 * asks for `Range: bytes=<have>-` and appends (a server answering 200 instead of 206
 * restarts from zero); the whole file is checked against its size and sha256 (LFS oid)
 * or git blob sha1; only then is it renamed to `<dest>`. A checksum mismatch deletes the
 * partial file, so nothing half-written ever looks complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { RsclipError } from '../../errors.js';
import { httpFailure, type HubClient, type HubFile } from './hub-client.js';

export interface DownloadTarget {
  client: HubClient;
  repoId: string;
  commit: string;
  file: HubFile;
  dest: string;
  /** Extra attempts after a transfer breaks off mid-file; each resumes with a Range request. */
  retries: number;
  /** Called as bytes arrive: how many bytes of the file are on disk now, and how many just came over the network. */
  onProgress: (fileBytesPresent: number, networkBytes: number) => void;
}

/** Thrown internally when the body stream broke off; the caller may retry with a Range request. */
class TransferInterrupted extends Error {}

const sizeOf = async (file: string): Promise<number> => (existsSync(file) ? (await stat(file)).size : 0);

async function digest(file: string, kind: 'sha256' | 'git-sha1', size: number): Promise<string> {
  const hash = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') hash.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

type AttemptResult = { kind: 'done'; size: number; linkedSha256?: string } | { kind: 'restart' };

/** One HTTP attempt: appends to `part` from `have` bytes and reports how many bytes `part` holds. */
async function attempt(target: DownloadTarget, part: string, have: number): Promise<AttemptResult> {
  const { client, repoId, commit, file } = target;
  const response = await client.request(client.resolveUrl(commit, file.path), have > 0 ? { range: `bytes=${have}-` } : {});
  const restart = async (): Promise<AttemptResult> => {
    // our partial file does not line up with the remote one: start again from zero
    await response.body?.cancel();
    await rm(part, { force: true });
    return { kind: 'restart' };
  };
  if (response.status === 416) return restart();
  if (!response.ok) {
    await response.body?.cancel();
    throw httpFailure(response, { repoId, revision: commit, file: file.path });
  }
  const linked = response.headers.get('x-linked-etag')?.replace(/^W\//, '').replace(/"/g, '');
  const linkedSha256 = linked && /^[0-9a-f]{64}$/.test(linked) ? linked : undefined;
  let start = 0;
  if (response.status === 206) {
    const range = response.headers.get('content-range')?.match(/^bytes (\d+)-/);
    start = range ? Number(range[1]) : -1;
    if (start !== have) return restart();
  }
  let present = start;
  target.onProgress(present, 0);
  const sink = createWriteStream(part, { flags: start > 0 ? 'a' : 'w' });
  const counter = async function* (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      present += chunk.length;
      target.onProgress(present, chunk.length);
      yield chunk;
    }
  };
  try {
    const body = response.body ? Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>) : Readable.from([]);
    await pipeline(body, counter, sink);
  } catch (error) {
    if (error instanceof RsclipError) throw error;
    if (client.aborted) throw new RsclipError('INTERRUPTED', `download of ${file.path} cancelled; run the command again to resume`, { cause: error });
    throw new TransferInterrupted((error as Error).message, { cause: error });
  }
  return { kind: 'done', size: await sizeOf(part), ...(linkedSha256 ? { linkedSha256 } : {}) };
}

/** Downloads `target.file` to `target.dest` unless a verified copy is already there. */
export async function downloadVerified(target: DownloadTarget): Promise<void> {
  const { file, dest } = target;
  if (existsSync(dest)) return;
  await mkdir(path.dirname(dest), { recursive: true });
  const part = `${dest}.incomplete`;
  let have = await sizeOf(part);
  if (file.size >= 0 && have > file.size) {
    await unlink(part);
    have = 0;
  }
  let linkedSha256: string | undefined;
  const complete = (): boolean => existsSync(part) && file.size >= 0 && have === file.size;
  if (complete()) target.onProgress(have, 0);
  for (let failures = 0, restarts = 0; !complete(); ) {
    try {
      const result = await attempt(target, part, have);
      if (result.kind === 'restart') {
        if (++restarts > 2) throw new TransferInterrupted('the server does not honour range requests consistently');
        have = 0;
        continue;
      }
      have = result.size;
      linkedSha256 = result.linkedSha256 ?? linkedSha256;
      if (file.size < 0 || have >= file.size) break;
      throw new TransferInterrupted(`the server closed the transfer after ${have} of ${file.size} bytes`);
    } catch (error) {
      if (!(error instanceof TransferInterrupted)) throw error;
      have = await sizeOf(part);
      if (++failures > target.retries) {
        throw new RsclipError(
          'MODEL_FETCH_FAILED',
          `download of ${file.path} broke off after ${have} of ${file.size >= 0 ? file.size : '?'} bytes: ${error.message}`,
          { cause: error, hint: 'run the same command again: it resumes where it stopped' },
        );
      }
    }
  }
  if (file.size >= 0 && have !== file.size) {
    await unlink(part);
    throw new RsclipError('MODEL_FETCH_FAILED', `${file.path}: expected ${file.size} bytes, received ${have}; the partial file was deleted`, {
      hint: 'run the same command again',
    });
  }
  const sha256 = file.sha256 ?? linkedSha256;
  const expected = sha256 ? { kind: 'sha256' as const, value: sha256 } : file.gitOid ? { kind: 'git-sha1' as const, value: file.gitOid } : undefined;
  if (expected) {
    const actual = await digest(part, expected.kind, have);
    if (actual !== expected.value.toLowerCase()) {
      await unlink(part);
      throw new RsclipError(
        'MODEL_FETCH_FAILED',
        `${file.path} failed verification: expected ${expected.kind} ${expected.value}, got ${actual}; the download was deleted`,
        { hint: 'run the same command again; if it fails again the mirror (HF_ENDPOINT) serves damaged files' },
      );
    }
  }
  await rename(part, dest);
}
