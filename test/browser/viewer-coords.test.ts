/**
 * The scene viewer's lon/lat under the cursor against gdaltransform, in a real browser (Debian's
 * chromium driven by playwright-core): a whole-world EPSG:4326 scene (its corners are two poles and
 * ±180 is one meridian, so no interpolation between corners can place it), a polar stereographic
 * scene holding the North Pole and a UTM scene across the antimeridian. Skips (visibly) without
 * chromium or gdal-bin.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { Searcher, type SearchPage } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { gdaltransform, hasGdal } from '../fixtures/gdal.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { chromiumInstalled, closeBrowserTest, launchChromium, listenOnLoopback } from './chromium.js';

const hasChromium = chromiumInstalled('test/browser/viewer-coords.test.ts');
if (!hasGdal) console.warn('test/browser/viewer-coords.test.ts: skipped, gdaltransform is not installed (apt-get install gdal-bin)');

/** The whole Earth in 512 x 256 px of 0.703125 degrees, as GDAL's world.rgb.tif. */
const WORLD = { file: 'world/world.tif', epsg: 4326, geographic: true, origin: [-180, 90] as [number, number], pixel: 0.703125, width: 512, height: 256 };
/** 480 px of 417 m round the North Pole (NSIDC polar stereographic). */
const POLAR = { file: 'polar/pole.tif', epsg: 3413, geographic: false, origin: [-100_000, 100_000] as [number, number], pixel: 200_000 / 480, width: 480, height: 480 };
/** 480 px of 167 m in UTM 60S, across 180 degrees near Fiji. */
const FIJI = { file: 'pacific/fiji.tif', epsg: 32760, geographic: false, origin: [780_000, 8_140_000] as [number, number], pixel: 80_000 / 480, width: 480, height: 480 };

let root: string;
let archive: string;
let encoder: ClipEncoder;
let store: IndexStore;
let server: Server;
let url: string;
let browser: Browser;
let page: Page;

const pattern = (x: number, y: number, b: number) => ((x * (b + 3)) ^ (y * (7 - b))) & 0xff;

/** The id of an item of `file` (any tile: the viewer shows the whole scene). */
async function itemOf(file: string): Promise<number> {
  const res = await fetch(`${url}api/search`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ terms: [{ text: 'a scene' }], k: 1000 }) });
  const hit = ((await res.json()) as SearchPage).hits.find((h) => h.path === file);
  if (!hit) throw new Error(`no item of ${file}`);
  return hit.id;
}

/** What the viewer reads out at fractions of the scene: the pixel and its [lon, lat]. */
async function readouts(id: number, fractions: [number, number][]): Promise<{ pixel: [number, number]; lonLat: [number, number] }[]> {
  await page.goto(`${url}?q=${encodeURIComponent('a scene')}&k=1000&view=${id}`);
  await expect.poll(() => page.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
  // the scene (its grid) has arrived when its metadata has
  await expect.poll(() => page.locator('#viewer-meta').textContent()).toContain('CRS');
  await expect.poll(() => page.locator('#show-scene').getAttribute('aria-pressed')).toBe('true');
  const stage = (await page.locator('#scene-stage').boundingBox())!;
  const out = [];
  for (const [fx, fy] of fractions) {
    await page.mouse.move(stage.x + stage.width * fx, stage.y + stage.height * fy);
    await expect.poll(() => page.locator('#viewer-coords').textContent()).toMatch(/·/);
    const text = (await page.locator('#viewer-coords').textContent())!;
    const m = /^pixel (\d+), (\d+) · (-?[\d.]+), (-?[\d.]+)$/.exec(text);
    expect(m, text).not.toBeNull();
    out.push({ pixel: [Number(m![1]), Number(m![2])] as [number, number], lonLat: [Number(m![4]), Number(m![3])] as [number, number] });
  }
  await page.keyboard.press('Escape');
  return out;
}

/** The largest difference between the readouts and gdaltransform's lon/lat of the same pixels, in degrees of latitude and of longitude along the parallel. */
function worstError(file: string, read: { pixel: [number, number]; lonLat: [number, number] }[]): number {
  const gdal = gdaltransform(
    read.map((r) => r.pixel),
    { file: path.join(archive, file), targetSrs: 'EPSG:4326' },
  );
  let worst = 0;
  read.forEach((r, i) => {
    const [lon, lat] = gdal[i]!;
    const dLon = Math.abs(((r.lonLat[0] - lon + 540) % 360) - 180) * Math.cos((lat * Math.PI) / 180);
    worst = Math.max(worst, dLon, Math.abs(r.lonLat[1] - lat));
  });
  return worst;
}

const FRACTIONS: [number, number][] = [[0.25, 0.25], [0.75, 0.75], [0.5, 0.5], [0.02, 0.03], [0.99, 0.5], [0.1, 0.97], [0.61, 0.37]];

describe.skipIf(!hasChromium || !hasGdal)("the viewer's lon/lat under the cursor, as gdaltransform gives it", () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-coords-'));
    archive = path.join(root, 'archive');
    for (const scene of [WORLD, POLAR, FIJI]) {
      mkdirSync(path.dirname(path.join(archive, scene.file)), { recursive: true });
      writeGeoTiff(path.join(archive, scene.file), {
        width: scene.width,
        height: scene.height,
        bands: 3,
        dataType: 'uint8',
        geo: { epsg: scene.epsg, geographic: scene.geographic, origin: scene.origin, pixelSize: [scene.pixel, scene.pixel] },
        pixel: pattern,
      });
    }
    encoder = await openClip(await tinyModelDir(), { threads: 1 });
    const indexDir = path.join(root, 'index');
    await indexInto({ roots: [archive], index: indexDir, model: encoder });
    store = await openIndex(indexDir, { readonly: true });
    ({ server, url } = await listenOnLoopback(createApp({ searcher: new Searcher(encoder, store), store })));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  }, 300_000);
  afterAll(() => closeBrowserTest({ browser, server, store, encoder, root }));

  it('on a whole-world EPSG:4326 scene (corners on the poles, ±180 one meridian): exact to the readout’s 5 decimals', async () => {
    const read = await readouts(await itemOf(WORLD.file), FRACTIONS);
    // the QA's points: pixel 128, 64 is -90, 45; 384, 192 is 90, -45
    expect(read[0]).toEqual({ pixel: [128, 64], lonLat: [-90, 45] });
    expect(read[1]).toEqual({ pixel: [384, 192], lonLat: [90, -45] });
    expect(worstError(WORLD.file, read)).toBeLessThan(1e-5);
  });

  it('on a polar stereographic scene holding the North Pole: within 1e-5 degrees', async () => {
    const read = await readouts(await itemOf(POLAR.file), FRACTIONS);
    expect(worstError(POLAR.file, read)).toBeLessThan(1e-5);
  });

  it('on a UTM scene across the antimeridian: within 1e-5 degrees', async () => {
    const read = await readouts(await itemOf(FIJI.file), FRACTIONS);
    expect(worstError(FIJI.file, read)).toBeLessThan(1e-5);
  });
});
