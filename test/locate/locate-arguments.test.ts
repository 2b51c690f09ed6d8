/**
 * locateInImage and locateInIndexedFile with what a JavaScript caller may pass: an aborted signal is
 * INTERRUPTED (or the RsclipError the signal was aborted with, as the server's), never a
 * DOMException; no file (findFileByPath found none) is BAD_INPUT, never a TypeError.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { locateInImage, locateInIndexedFile } from '../../src/locate/index.js';
import type { FileRecord, IndexStore } from '../../src/store/index.js';
import { conceptVector, KnownVectorEncoder } from '../search/fixture.js';

let work: string;
let scene: string;
const query = conceptVector('river');

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-locate-args-'));
  scene = path.join(work, 'scene.png');
  // 40 x 40 pixels: 100 windows of the encoder's 4-pixel input, none of them flat (no data)
  const pixels = Buffer.from(Array.from({ length: 40 * 40 * 3 }, (_, i) => (i * 37) % 251));
  await sharp(pixels, { raw: { width: 40, height: 40, channels: 3 } }).png().toFile(scene);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Aborts `controller` when the first window has been rendered: the abort comes mid-tiling. */
class AbortingEncoder extends KnownVectorEncoder {
  constructor(private readonly controller: AbortController) {
    super();
  }

  override preprocessRgb(): Float32Array {
    this.controller.abort();
    return super.preprocessRgb();
  }
}

describe('locateInImage', () => {
  it('tiles and scores the scene when not aborted', async () => {
    const result = await locateInImage(new KnownVectorEncoder(), scene, 'scene.png', query, { signal: new AbortController().signal });
    expect(result.tiles.length).toBeGreaterThan(1);
  });

  it('is INTERRUPTED by a signal aborted before it starts or while it tiles', async () => {
    const interrupted = { code: 'INTERRUPTED', message: 'locating in scene.png was cancelled; nothing was scored' };
    await expect(locateInImage(new KnownVectorEncoder(), scene, 'scene.png', query, { signal: AbortSignal.abort() })).rejects.toMatchObject(interrupted);
    const controller = new AbortController();
    await expect(locateInImage(new AbortingEncoder(controller), scene, 'scene.png', query, { signal: controller.signal })).rejects.toMatchObject(interrupted);
  });

  it('rejects with the reason the signal was aborted with when that is an RsclipError', async () => {
    const reason = new RsclipError('BAD_QUERY', 'the client went away');
    await expect(locateInImage(new KnownVectorEncoder(), scene, 'scene.png', query, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});

describe('locateInIndexedFile', () => {
  it('refuses no file (one the index does not hold) with BAD_INPUT', async () => {
    const store = {} as IndexStore;
    for (const file of [undefined, null]) {
      await expect(locateInIndexedFile(store, file as unknown as FileRecord, query)).rejects.toMatchObject({
        code: 'BAD_INPUT',
        message: `locateInIndexedFile needs a file of the index; got ${String(file)}: the file is not in the index`,
      });
    }
  });
});
