/**
 * The row every writer takes: an item with its file, window, place, fields and embedding.
 */
import { once } from 'node:events';
import type { WriteStream } from 'node:fs';
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
  /** The file, as the index stores it. */
  path: string;
  window: ExportWindow;
  /** EPSG:4326 footprint (RFC 7946), or null for an item without a place. */
  footprint: AreaGeometry | null;
  center?: LonLat | null;
  /** Ground metres per pixel of the file. */
  gsd?: number | null;
  /** User fields, STAC properties, and result data such as rank and score. */
  fields?: Record<string, unknown>;
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
export async function abortStream(stream: WriteStream): Promise<void> {
  if (stream.closed) return;
  const closed = once(stream, 'close').catch(() => undefined);
  stream.destroy();
  await closed;
}
