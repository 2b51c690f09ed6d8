/**
 * Downloads one file to disk with resume and verification:
 * bytes go to `<dest>.incomplete`; a rerun (or a retry after a dropped connection)
 * asks for `Range: bytes=<have>-` and appends (a server answering 200 instead of 206
 * restarts from zero); the whole file is checked against its size and sha256 (LFS oid)
 * or git blob sha1; only then is it renamed to `<dest>`. A checksum mismatch deletes the
 * partial file, so nothing half-written ever looks complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { RsclipError } from '../../errors.js';
import type { HubClient, HubFile } from './hub-client.js';

export interface DownloadTarget {
  client: HubClient;
  repoId: string;
  commit: string;
  file: HubFile;
  dest: string;
  /** Extra attempts after a transfer breaks off mid-file; each resumes with a Range request. */
  retries: number;
  /** A transfer that receives no byte for this long is broken off (and resumed, as a dropped one is). */
  stallTimeoutMs: number;
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

/** A write to the partial file failed: a full disk is the user's to fix, not a transfer to retry. */
class DiskWriteFailed extends Error {}

/** Bytes received and not yet written, above which reading waits for the disk. */
const MAX_UNWRITTEN_BYTES = 16 << 20;

/**
 * Appends the body to `sink` in order. A read is always pending while the disk writes, so that when
 * the connection breaks off, every chunk received before it is written (a stream errored by the
 * break drops the chunks still queued in it) for the next attempt's Range request.
 */
async function receive(reader: ReadableStreamDefaultReader<Uint8Array>, sink: FileHandle, stallTimeoutMs: number, onWritten: (bytes: number) => void): Promise<void> {
  let written = Promise.resolve();
  let unwritten = 0;
  let failedWrite: DiskWriteFailed | undefined;
  const write = async (chunk: Uint8Array): Promise<void> => {
    if (failedWrite) return;
    try {
      await sink.write(chunk);
      unwritten -= chunk.length;
      onWritten(chunk.length);
    } catch (error) {
      failedWrite = new DiskWriteFailed('write failed', { cause: error });
    }
  };
  let transferError: { error: unknown } | undefined;
  try {
    while (!failedWrite) {
      const { done, value } = await readWithin(reader, stallTimeoutMs);
      if (done) break;
      unwritten += value.length;
      written = written.then(() => write(value));
      if (unwritten > MAX_UNWRITTEN_BYTES) await written;
    }
  } catch (error) {
    transferError = { error };
  }
  await written;
  if (failedWrite || transferError?.error instanceof Stalled) await reader.cancel().catch(() => undefined);
  if (failedWrite) throw failedWrite;
  if (transferError) throw transferError.error;
}

/** No byte arrived for the stall timeout: the connection is open but dead (a proxy that holds it, a server that hangs). */
class Stalled extends Error {}

async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, timeoutMs: number): Promise<ReadableStreamReadResult<Uint8Array>> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Stalled(`no data received for ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

/** The length of the whole file as the answer gives it (Content-Range's total, or a 200's Content-Length), if it does. */
function servedTotal(response: Response): number | undefined {
  const total = response.status === 206 ? response.headers.get('content-range')?.match(/\/(\d+)$/)?.[1] : response.headers.get('content-length');
  return total !== undefined && total !== null && !response.headers.get('content-encoding') ? Number(total) : undefined;
}

type AttemptResult = { kind: 'done'; size: number; linkedSha256?: string } | { kind: 'restart' };

/**
 * One HTTP attempt: appends to `part` from `have` bytes and reports how many bytes `part` holds.
 * The file is open before the request, so reading starts as soon as the answer does: chunks that
 * arrive while nothing reads are dropped when the connection then breaks off.
 */
async function attempt(target: DownloadTarget, part: string, have: number): Promise<AttemptResult> {
  const sink = await open(part, 'a');
  try {
    return await transfer(target, part, sink, have);
  } catch (error) {
    // a request refused before any byte arrived (404, 401, no network) leaves no empty partial file
    if ((await sink.stat()).size === 0) await unlink(part);
    throw error;
  } finally {
    await sink.close();
  }
}

async function transfer(target: DownloadTarget, part: string, sink: FileHandle, have: number): Promise<AttemptResult> {
  const { client, repoId, commit, file } = target;
  const response = await client.request(client.resolveUrl(commit, file.path), have > 0 ? { range: `bytes=${have}-` } : {});
  const restart = async (): Promise<AttemptResult> => {
    // our partial file does not line up with the remote one, or the server ignored the Range
    // header: start again from zero
    await response.body?.cancel();
    await sink.truncate(0);
    return { kind: 'restart' };
  };
  if (response.status === 416) return restart();
  if (!response.ok) {
    await response.body?.cancel();
    throw client.httpFailure(response, { repoId, revision: commit, file: file.path });
  }
  const linked = response.headers.get('x-linked-etag')?.replace(/^W\//, '').replace(/"/g, '');
  const linkedSha256 = linked && /^[0-9a-f]{64}$/.test(linked) ? linked : undefined;
  if (have > 0 && response.headers.get('content-range')?.match(/^bytes (\d+)-/)?.[1] !== String(have)) return restart();
  const total = servedTotal(response);
  if (file.size >= 0 && total !== undefined && total !== file.size) {
    await response.body?.cancel();
    await sink.truncate(0);
    throw new RsclipError('MODEL_FETCH_FAILED', `${file.path} is listed as ${file.size} bytes but served as ${total} bytes by ${client.resolveUrl(commit, file.path)}`, {
      hint: 'the listing and the files of this Hub (or mirror, HF_ENDPOINT) disagree, so running again cannot help; report it to whoever runs the mirror',
    });
  }
  let present = have;
  target.onProgress(present, 0);
  try {
    if (response.body) await receive(response.body.getReader(), sink, target.stallTimeoutMs, (bytes) => target.onProgress((present += bytes), bytes));
  } catch (error) {
    // named, so that the one-line message says where the disk is full
    if (error instanceof DiskWriteFailed) throw Object.assign(error.cause as Error, { path: part });
    if (error instanceof RsclipError) throw error;
    if (client.aborted) throw new RsclipError('INTERRUPTED', `download of ${file.path} cancelled; run the command again to resume`, { cause: error });
    throw new TransferInterrupted((error as Error).message, { cause: error });
  }
  return { kind: 'done', size: (await sink.stat()).size, ...(linkedSha256 ? { linkedSha256 } : {}) };
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
