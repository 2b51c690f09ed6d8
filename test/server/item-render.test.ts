/**
 * An item's rendered window: with its file's stored stretch, or, when a catalog made before NaN
 * samples were nodata stored a float scene's limits as null, with the stretch computed again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, expect, it } from 'vitest';
import { Scene } from '../../src/raster/index.js';
import { renderItem } from '../../src/server/item-render.js';
import type { ItemRecord } from '../../src/store/types.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';

const dir = mkdtempSync(path.join(tmpdir(), 'rsclip-item-render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('renders a float scene whose stored stretch holds null limits (NaN in JSON) with its stretch computed again', async () => {
  const file = path.join(dir, 'nan.tif');
  writeGeoTiff(file, { width: 448, height: 448, bands: 3, dataType: 'float32', tile: 112, pixel: (x, y, b) => (y === 7 ? NaN : ((x + 3 * y + 50 * b) % 700) / 700) });
  const scene = await Scene.open(file);
  const window = { x: 224, y: 0, width: 224, height: 224, scale: 1 };
  const expected = (await scene.readWindow(window)).rgb;
  // as an old catalog's JSON gives it back
  const stored = JSON.parse(JSON.stringify({ ...scene.stretch, high: [NaN, NaN, NaN] })) as unknown;
  await scene.close();
  const item = { id: 1, key: 's1:224,0', window, place: null, file: { stretch: stored } } as unknown as ItemRecord;
  const png = await renderItem(file, item, 4096, 'png');
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([224, 224, 3]);
  expect(Buffer.from(data).equals(Buffer.from(expected))).toBe(true);
});
