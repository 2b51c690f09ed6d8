/**
 * The row every writer takes: an item with its file, window, place, fields and embedding.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { descriptorStream, writeThrough, type Output } from '../output-descriptor.js';
import type { LonLat } from './crs.js';
import type { AreaGeometry } from './geojson-types.js';

export interface ExportWindow {
  x: number;
  y: number;
  width: number;
  height: number;
  /** 1 for a whole image or a window of the model's input size. */
  scale: number;
}

export interface ExportRow {
  /** The item id (an integer). */
  id: number;
  /** The file, as the index stores it (relative to its archive folder). */
  path: string;
  /** The archive folder the file was found under (absolute; an index may have several): exports of the CLI, not the HTTP API's pages. */
  root?: string | null;
  window: ExportWindow;
  /** EPSG:4326 footprint (RFC 7946), or null for an item without a place. */
  footprint: AreaGeometry | null;
  center?: LonLat | null;
  /** Ground metres per pixel of the file. */
  gsd?: number | null;
  /** A query's hit: its rank (1 = best) and score. */
  rank?: number;
  score?: number;
  /** The STAC item (and its collection) the file is an asset of. */
  stac?: { item: string; collection?: string | null };
  /** User fields (STAC properties among them). */
  fields?: Record<string, unknown>;
  /** Further properties of a GeoJSON feature, beside rank and score (a located tile's key, item and `top`). */
  properties?: Record<string, unknown>;
  embedding?: Float32Array | null;
}

/** A streaming writer: rows are written in batches, then the file is finished. */
export interface RowWriter {
  write(rows: readonly ExportRow[]): Promise<void>;
  /** Finishes the file; returns the number of rows written. */
  close(): Promise<number>;
  /** Lets go of a file that will not be finished (the caller removes it). */
  abort(): Promise<void>;
}

/** A file stream's abort: destroyed, and closed (its file opened first, should that be under way) when this resolves. */
async function abortStream(stream: WriteStream): Promise<void> {
  if (stream.closed) return;
  const closed = once(stream, 'close').catch(() => undefined);
  stream.destroy();
  await closed;
}

/**
 * A text file written as a stream whose error (its open failing in a missing folder, a full disk)
 * is thrown by the next write or by `end`, never emitted with no one listening: rows that come
 * asynchronously (from PostgreSQL) let an open fail before the first write, which ended the
 * process with node's stack trace. An open descriptor (a number: stdout) is written through and
 * left open.
 */
export class TextFileStream {
  readonly #stream: Writable;
  readonly #descriptor: boolean;
  #failure: Error | undefined;
  readonly #onError = (error: Error): void => {
    this.#failure ??= error;
  };

  constructor(output: Output) {
    this.#descriptor = typeof output === 'number';
    this.#stream = typeof output === 'number' ? descriptorStream(output) : createWriteStream(output);
    this.#stream.on('error', this.#onError);
  }

  async write(text: string): Promise<void> {
    this.#check();
    // `once` rejects should the stream fail while it waits
    if (!this.#stream.write(text)) await once(this.#stream, 'drain');
  }

  async end(text = ''): Promise<void> {
    this.#check();
    if (this.#descriptor) {
      await writeThrough(this.#stream, text);
      this.#stream.off('error', this.#onError);
      return;
    }
    this.#stream.end(text);
    await once(this.#stream, 'finish');
  }

  async abort(): Promise<void> {
    if (!this.#descriptor) return abortStream(this.#stream as WriteStream);
    this.#stream.off('error', this.#onError);
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
  }
}
