/**
 * What travels through Redis between a coordinator (`rsclip index --queue`) and its workers
 * (`rsclip worker`): a job names files and how to read each window (never pixels) under a
 * model fingerprint; its result gives a vector per window, matched by file and window key.
 */
import type { WindowRead } from '../indexer/prepare-file.js';

/** The BullMQ queue both sides use unless told otherwise. */
export const DEFAULT_QUEUE_NAME = 'rsclip-embed';

export interface EmbedJobData {
  /** The coordinator run that sent it (a run that was killed leaves jobs nobody reads). */
  run: string;
  /** The model the index is bound to; a worker running another one refuses the job. */
  fingerprint: string;
  files: { root: string; path: string; identity?: FileIdentity; reads: { key: string; read: WindowRead }[] }[];
}

/**
 * The file as the coordinator hashed it: a worker that reads other bytes (the file was replaced
 * after it was hashed) returns an error for it instead of vectors of the new content, which the
 * coordinator would store under the old content's hash and hand on to true copies of it. Size and
 * content, not times or inode: a worker may see the file through another mount (--path-map, NFS),
 * where those differ while the bytes are the same. Absent from a job of an older coordinator.
 */
export interface FileIdentity {
  bytes: number;
  sha256: string;
}

/** One window's outcome: a vector as base64 of little-endian float32, nodata, or why its file failed. */
export type WireResult =
  | { vector: string; decoded?: { width: number; height: number; format: string }; fallback?: true }
  | { nodata: true; fallback?: true }
  | { error: string };

export interface EmbedJobResult {
  /** host:pid of the worker that embedded it. */
  worker: string;
  modelSeconds: number;
  windows: ({ root: string; path: string; key: string } & WireResult)[];
}

/** A window's key among a job's results: NUL cannot occur in a path or a window key. */
export function windowId(root: string, path: string, key: string): string {
  return `${root}\0${path}\0${key}`;
}

export function encodeVector(vector: Float32Array): string {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

/** Decoded straight into the vector's own (aligned) memory: no intermediate buffer, no copy. */
export function decodeVector(text: string): Float32Array {
  const vector = new Float32Array(Buffer.byteLength(text, 'base64') >>> 2);
  Buffer.from(vector.buffer).write(text, 'base64');
  return vector;
}
