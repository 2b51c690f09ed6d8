/**
 * The map and the scene viewer where places are awkward, in a real browser (Debian's chromium driven
 * by playwright-core): a UTM 60S scene across the antimeridian near Fiji (its footprints one patch
 * next to 180, the map fitted to it, the viewer's lon/lat), a UTM scene far from its central meridian
 * (rotated against north: the overview placed by its corners), thirteen small geographic scenes (the
 * overviews of the current results only, at most 12 a list), drawing an area with a finger, the query
 * bar inside a landmark, the viewer's readout and feedback weight. Skips (visibly) without chromium.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crsFromEpsg, lonLatTransform } from '../../src/geo/index.js';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { Searcher, type SearchPage } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { writeGeoTiff } from '../fixtures/geotiff-writer.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { chromiumInstalled, closeBrowserTest, launchChromium, listenOnLoopback, OUT } from './chromium.js';

const hasChromium = chromiumInstalled('test/browser/map-places.test.ts');

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** 480 px (tiled: 9 windows of 224 px) from easting 780,000 to 860,000 m: 180 degrees is at about 820,000. */
const FIJI = { epsg: 32760, origin: [780_000, 8_140_000] as [number, number], pixel: 80_000 / 480, size: 480 };
/** 480 px at 100 m, 200 km east of zone 33's central meridian at 60 N: about 3 degrees off north. */
const NORTH = { epsg: 32633, origin: [700_000, 6_700_000] as [number, number], pixel: 100, size: 480 };
/** 480 px of 417 m round the North Pole (NSIDC polar stereographic): its middle tiles hold the pole, all lie past 85 N. */
const POLAR = { epsg: 3413, origin: [-100_000, 100_000] as [number, number], pixel: 200_000 / 480, size: 480 };
const SMALL_SCENES = 13;

let root: string;
let encoder: ClipEncoder;
let store: IndexStore;
let server: Server;
let url: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;

type Point = [number, number];
interface Scene {
  path: string;
  corners: Point[];
}

const pattern = (x: number, y: number, b: number) => ((x * (b + 3)) ^ (y * (7 - b))) & 0xff;

async function apiPage(terms: unknown[], query: string): Promise<SearchPage> {
  const res = await fetch(`${url}api/search?${query}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ terms, k: 40 }) });
  return (await res.json()) as SearchPage;
}
const sceneOf = async (id: number) => (await (await fetch(`${url}api/images/${id}/scene`)).json()) as Scene;

/** The map's content box on screen (Leaflet's bounds are those of the box inside its border). */
async function mapBox(p: Page) {
  const outer = (await p.locator('#map').boundingBox())!;
  const inner = await p.locator('#map').evaluate((m) => ({ left: m.clientLeft, top: m.clientTop, width: m.clientWidth, height: m.clientHeight }));
  return { x: outer.x + inner.left, y: outer.y + inner.top, width: inner.width, height: inner.height };
}
const mapBounds = async (p: Page) => (await p.locator('#map').getAttribute('data-bounds'))!.split(',').map(Number) as [number, number, number, number];

/** Where the map draws [lon, lat] on screen (Web Mercator between the map's bounds); a longitude is taken on the world copy the map shows. */
async function screenPoint(p: Page): Promise<(lonLat: Point) => Point> {
  const [w, s, e, n] = await mapBounds(p);
  const box = await mapBox(p);
  const mercator = (lat: number) => Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
  const middle = (w + e) / 2;
  return ([lon, lat]) => {
    const near = lon + 360 * Math.round((middle - lon) / 360);
    return [box.x + ((near - w) / (e - w)) * box.width, box.y + ((mercator(n) - mercator(lat)) / (mercator(n) - mercator(s))) * box.height];
  };
}

/** The screen positions of the corners (top-left, top-right, bottom-right, bottom-left) of an overview image, through its CSS transform (perspective divide included). */
function overviewCorners(p: Page, alt: string): Promise<Point[]> {
  return p.locator(`img.overview[alt="${alt}"]`).evaluate((img: HTMLImageElement) => {
    const style = window.getComputedStyle(img);
    const matrix = new DOMMatrix(style.transform === 'none' ? undefined : style.transform);
    const [ox, oy] = style.transformOrigin.split(' ').map(parseFloat) as [number, number];
    const pane = (img.offsetParent as HTMLElement).getBoundingClientRect();
    const [w, h] = [img.offsetWidth, img.offsetHeight];
    return [[0, 0], [w, 0], [w, h], [0, h]].map(([x, y]) => {
      const q = matrix.transformPoint(new DOMPoint(x! - ox, y! - oy));
      return [pane.left + img.offsetLeft + ox + q.x / q.w, pane.top + img.offsetTop + oy + q.y / q.w] as [number, number];
    });
  });
}

async function expectOverviewOnCorners(p: Page, scene: Scene) {
  const alt = `overview of ${scene.path}`;
  await expect.poll(() => p.locator(`img.overview[alt="${alt}"]`).count()).toBe(1);
  const toScreen = await screenPoint(p);
  const drawn = await overviewCorners(p, alt);
  scene.corners.forEach((corner, i) => {
    const [x, y] = toScreen(corner);
    expect(Math.abs(drawn[i]![0] - x), `corner ${i} x`).toBeLessThan(2);
    expect(Math.abs(drawn[i]![1] - y), `corner ${i} y`).toBeLessThan(2);
  });
}

const shownIds = (p: Page) => p.locator('#results .card').evaluateAll((cards) => cards.map((c) => Number((c as HTMLElement).dataset.id)));

describe.skipIf(!hasChromium)('the map and the viewer at awkward places', () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-places-'));
    const archive = path.join(root, 'archive');
    for (const folder of ['pacific', 'north', 'polar', 'small']) mkdirSync(path.join(archive, folder), { recursive: true });
    for (const [file, scene] of [['pacific/fiji.tif', FIJI], ['north/rotated.tif', NORTH], ['polar/pole.tif', POLAR]] as const) {
      writeGeoTiff(path.join(archive, file), {
        width: scene.size,
        height: scene.size,
        bands: 3,
        dataType: 'uint8',
        geo: { epsg: scene.epsg, origin: scene.origin, pixelSize: [scene.pixel, scene.pixel] },
        pixel: pattern,
      });
    }
    for (let i = 0; i < SMALL_SCENES; i++) {
      writeGeoTiff(path.join(archive, 'small', `s${String(i).padStart(2, '0')}.tif`), {
        width: 80,
        height: 64,
        bands: 3,
        dataType: 'uint8',
        geo: { epsg: 4326, geographic: true, origin: [10 + 2 * i, 11], pixelSize: [0.0125, 0.0125] },
        pixel: (x, y, b) => pattern(x + 17 * i, y, b),
      });
    }
    encoder = await openClip(await tinyModelDir(), { threads: 1 });
    const indexDir = path.join(root, 'index');
    await indexInto({ roots: [archive], index: indexDir, model: encoder });
    store = await openIndex(indexDir, { readonly: true });
    ({ server, url } = await listenOnLoopback(createApp({ searcher: new Searcher(encoder, store), store })));
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as an inline script
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
    page = await context.newPage();
  }, 300_000);
  afterAll(() => closeBrowserTest({ browser, server, store, encoder, root }));

  it('draws a scene across the antimeridian as one patch next to 180, its overview on its corners, and fits the map to it', async () => {
    const { hits } = await apiPage([{ text: 'an island' }], 'filter=folder%3Dpacific');
    expect(hits.length).toBeGreaterThan(2);
    // the API splits the tiles that cross 180 degrees (and the scene's bbox has west > east)
    expect(hits.some((h) => h.footprint?.type === 'MultiPolygon')).toBe(true);
    const scene = await sceneOf(hits[0]!.id);
    expect(scene.corners[0]![0]).toBeGreaterThan(179);
    expect(scene.corners[1]![0]).toBeLessThan(-179);

    await page.goto(`${url}?q=${encodeURIComponent('an island')}&filter=${encodeURIComponent('folder=pacific')}`);
    await expect.poll(() => page.locator('path.footprint').count()).toBe(hits.length);
    const [w, , e] = await mapBounds(page);
    expect(e - w).toBeLessThan(5);
    const box = await mapBox(page);
    const paths = await page.locator('path.footprint').evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON() as DOMRect));
    const left = Math.min(...paths.map((r) => r.left));
    const right = Math.max(...paths.map((r) => r.right));
    expect(right - left).toBeLessThanOrEqual(box.width);
    for (const r of paths) expect(r.width).toBeLessThan(box.width / 2);
    await expectOverviewOnCorners(page, scene);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: path.join(OUT, 'map-antimeridian.png') });

    // "search this area" there: a box across 180 degrees that holds the same tiles
    await page.locator('#search-area').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('bbox')).not.toBeNull();
    const bbox = new URL(page.url()).searchParams.get('bbox')!.split(',').map(Number);
    expect(bbox[0]).toBeGreaterThan(bbox[2]!);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(new RegExp(`^${hits.length} results? for “an island” \\(9 items pass the filters\\)`));
  });

  it('keeps a scene round the pole from stretching the map or moving the other results into another world copy', async () => {
    const { hits } = await apiPage([{ text: 'sea ice' }], 'filter=folder%3Dpolar');
    expect(hits.length).toBeGreaterThan(2);
    await page.goto(`${url}?q=${encodeURIComponent('sea ice')}&filter=${encodeURIComponent('folder=polar')}`);
    await expect.poll(() => page.locator('path.footprint').count()).toBe(hits.length);
    const [w, , e, n] = await mapBounds(page);
    // the world once (and the fit's padding and zoom step: 433 degrees here; 565 before, the tiles spread round two worlds), up to the map's last latitude; no overview to lay on four corners
    expect(e - w).toBeLessThan(480);
    expect(n).toBeGreaterThan(80);
    expect(await page.locator('img.overview').count()).toBe(0);

    // with every scene: the fit is that of the others (from 10 E to 180), none moved a world away
    const all = (await (await fetch(`${url}api/search?q=${encodeURIComponent('sea ice')}&k=100`)).json()) as SearchPage;
    expect(all.hits.some((h) => h.path.startsWith('polar/'))).toBe(true);
    await page.goto(`${url}?q=${encodeURIComponent('sea ice')}&k=100`);
    await expect.poll(() => page.locator('path.footprint').count()).toBe(all.hits.length);
    const [west, , east] = await mapBounds(page);
    expect(east - west).toBeLessThan(300);
    expect(west).toBeGreaterThan(-90);
    expect(east).toBeLessThan(270);
  });

  it("keeps the query's chips in a landmark (axe-core's rule 'region')", async () => {
    await page.goto(`${url}?q=${encodeURIComponent('an island + a reef')}`);
    await expect.poll(() => page.locator('#terms .chip').count()).toBeGreaterThan(1);
    await page.addScriptTag({ content: AXE_SOURCE });
    const region = await page.evaluate(async () => (window as unknown as { axe: { run(c: Document, o: unknown): Promise<{ violations: { nodes: { target: string[] }[] }[] }> } }).axe.run(document, { runOnly: { type: 'rule', values: ['region'] } }));
    expect(region.violations.flatMap((v) => v.nodes.map((n) => n.target.join(' ')))).toEqual([]);
  });

  it("places a rotated UTM scene's overview on its corners, at every zoom", async () => {
    const { hits } = await apiPage([{ text: 'a forest' }], 'filter=folder%3Dnorth');
    const scene = await sceneOf(hits[0]!.id);
    // its top edge runs about 3 degrees off east-west: a north-up box misplaces the corners
    expect(Math.abs(scene.corners[0]![1] - scene.corners[1]![1])).toBeGreaterThan(0.02);
    await page.goto(`${url}?q=${encodeURIComponent('a forest')}&filter=${encodeURIComponent('folder=north')}`);
    await expect.poll(() => page.locator('path.footprint').count()).toBe(hits.length);
    await expectOverviewOnCorners(page, scene);
    await page.locator('.leaflet-control-zoom-out').click();
    await page.waitForTimeout(600);
    await expectOverviewOnCorners(page, scene);
  });

  it('shows the overviews of the current results only, at most 12 a list, however many lists came before', async () => {
    await page.goto(`${url}?q=${encodeURIComponent('a field')}&filter=${encodeURIComponent('folder=small')}`);
    await expect.poll(() => page.locator('path.footprint').count()).toBe(SMALL_SCENES);
    await expect.poll(() => page.locator('img.overview').count()).toBe(12);
    await page.locator('#toggle-filters').click();
    await page.locator('#f-folder').fill('pacific');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('path.footprint').count()).toBe((await apiPage([{ text: 'a field' }], 'filter=folder%3Dpacific')).hits.length);
    await expect.poll(() => page.locator('img.overview').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).alt))).toEqual(['overview of pacific/fiji.tif']);
    await page.locator('#f-folder').fill('north');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('img.overview').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).alt))).toEqual(['overview of north/rotated.tif']);
    // the status line counts what the filters count: items (here a scene's tiles), not files
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/\(9 items pass the filters\)/);
    await page.locator('#f-folder').fill('');
    await page.locator('#toggle-filters').click();
  });

  /** Opens the best tile of a folder's scene in the viewer, in its scene; its id and the stage's box. */
  async function openTile(folder: string, epsg: number) {
    await page.goto(`${url}?q=island&filter=${encodeURIComponent(`folder=${folder}`)}`);
    await page.locator('#results .card').first().waitFor();
    const [id] = await shownIds(page);
    await page.locator('#results .card').first().click();
    await expect.poll(() => page.locator('#viewer-meta').textContent()).toMatch(new RegExp(`EPSG:${epsg}`));
    expect(await page.locator('#show-scene').getAttribute('aria-pressed')).toBe('true');
    return { id: id!, stage: (await page.locator('#scene-stage').boundingBox())! };
  }
  const openFijiTile = () => openTile('pacific', FIJI.epsg);

  /** The viewer's lon/lat under the cursor at fractions of the stage, against proj4's for the pixel it names; the largest differences in degrees. */
  async function readoutErrors(stage: { x: number; y: number; width: number; height: number }, scene: typeof FIJI, points: readonly (readonly [number, number])[]) {
    const toLonLat = lonLatTransform(crsFromEpsg(scene.epsg));
    let [lonError, latError] = [0, 0];
    for (const [fx, fy] of points) {
      await page.mouse.move(stage.x + stage.width * fx, stage.y + stage.height * fy);
      await expect.poll(() => page.locator('#viewer-coords').textContent()).toMatch(/^pixel/);
      const text = (await page.locator('#viewer-coords').textContent())!;
      const m = /^pixel (\d+), (\d+) · (-?\d+\.\d+), (-?\d+\.\d+)$/.exec(text);
      expect(m, text).not.toBeNull();
      const [px, py, lat, lon] = m!.slice(1).map(Number) as [number, number, number, number];
      const [trueLon, trueLat] = toLonLat.toLonLat(scene.origin[0] + px * scene.pixel, scene.origin[1] - py * scene.pixel)!;
      expect(Math.abs(lon)).toBeLessThanOrEqual(180);
      // a longitude counts as far as it moves the point: not at all at the pole
      lonError = Math.max(lonError, (Math.abs(((lon - trueLon + 540) % 360) - 180)) * Math.cos((trueLat * Math.PI) / 180));
      latError = Math.max(latError, Math.abs(lat - trueLat));
    }
    await page.keyboard.press('Escape');
    return { lonError, latError };
  }

  it("the viewer's lon/lat under the cursor on a scene across the antimeridian", async () => {
    const { id, stage } = await openFijiTile();
    // the corners the viewer interpolates between lie on both sides of 180 degrees
    const scene = await sceneOf(id);
    expect(scene.corners[0]![0]).toBeGreaterThan(179);
    expect(scene.corners[1]![0]).toBeLessThan(-179);
    const { lonError, latError } = await readoutErrors(stage, FIJI, [[0.5, 0.5], [0.97, 0.03], [0.1, 0.9]]);
    expect(lonError).toBeLessThan(0.01);
    expect(latError).toBeLessThan(0.01);
  });

  it("the viewer's lon/lat under the cursor on a scene round the North Pole", async () => {
    const { stage } = await openTile('polar', POLAR.epsg);
    // the middle is the pole; between the corners (all at 88.7 N) lie latitudes up to 90
    const { lonError, latError } = await readoutErrors(stage, POLAR, [[0.5, 0.5], [0.25, 0.75], [0.97, 0.03], [0.6, 0.4]]);
    expect(latError).toBeLessThan(0.02);
    expect(lonError).toBeLessThan(0.02);
  });

  it("the viewer's readout clears when the mode changes and when the pointer leaves the image", async () => {
    const { stage } = await openFijiTile();
    await page.mouse.move(stage.x + stage.width / 2, stage.y + stage.height / 2);
    await expect.poll(() => page.locator('#viewer-coords').textContent()).toMatch(/^pixel/);
    await page.locator('#show-tile').click();
    expect(await page.locator('#viewer-coords').textContent()).toBe('');
    const tileStage = (await page.locator('#scene-stage').boundingBox())!;
    await page.mouse.move(tileStage.x + tileStage.width / 2, tileStage.y + tileStage.height / 2);
    await expect.poll(() => page.locator('#viewer-coords').textContent()).toMatch(/^pixel/);
    await page.locator('#show-scene').click();
    expect(await page.locator('#viewer-coords').textContent()).toBe('');
    await page.mouse.move(stage.x + stage.width / 2, stage.y + stage.height / 2);
    await expect.poll(() => page.locator('#viewer-coords').textContent()).toMatch(/^pixel/);
    const title = (await page.locator('#viewer-title').boundingBox())!;
    await page.mouse.move(title.x + 2, title.y + 2);
    await expect.poll(() => page.locator('#viewer-coords').textContent()).toBe('');
    await page.keyboard.press('Escape');
  });

  it('"Add to query" in the viewer weighs the item 0.5, as "+ good" on its card does', async () => {
    const { id } = await openFijiTile();
    await page.locator('#viewer-good').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(`island + 0.5*#${id}`);
    // a card's "+ good" adds its item with the same weight (the query's own items are not among the results)
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/results for/);
    const [other] = await shownIds(page);
    await page.locator(`#results li[data-id="${other}"] .good`).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(`island + 0.5*#${id} + 0.5*#${other}`);
  });

  it('draws an area with a finger: the area becomes the filter and the map pans again', async () => {
    const touch = await browser.newContext({ viewport: { width: 1280, height: 860 }, hasTouch: true });
    try {
      const p = await touch.newPage();
      await p.goto(`${url}?q=${encodeURIComponent('a field')}&filter=${encodeURIComponent('folder=small')}`);
      await expect.poll(() => p.locator('path.footprint').count()).toBe(SMALL_SCENES);
      await p.locator('#draw-area').tap();
      expect(await p.locator('#draw-area').getAttribute('aria-pressed')).toBe('true');
      const box = await mapBox(p);
      const [w, s, e, n] = await mapBounds(p);
      const [x1, y1, x2, y2] = [box.x + box.width * 0.3, box.y + box.height * 0.3, box.x + box.width * 0.6, box.y + box.height * 0.7];
      const cdp = await touch.newCDPSession(p);
      const at = (x: number, y: number) => [{ x, y, id: 1 }];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(x1, y1) });
      for (let i = 1; i <= 6; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(x1 + ((x2 - x1) * i) / 6, y1 + ((y2 - y1) * i) / 6) });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      await expect.poll(() => new URL(p.url()).searchParams.get('bbox')).not.toBeNull();
      const bbox = new URL(p.url()).searchParams.get('bbox')!.split(',').map(Number);
      expect(bbox[0]).toBeGreaterThan(w);
      expect(bbox[2]).toBeLessThan(e);
      expect(bbox[1]).toBeGreaterThan(s);
      expect(bbox[3]).toBeLessThan(n);
      expect(Math.abs((bbox[2]! - bbox[0]!) / (e - w) - 0.3)).toBeLessThan(0.02);
      await expect.poll(() => p.locator('.chip.area').count()).toBe(1);
      expect(await p.locator('#draw-area').getAttribute('aria-pressed')).toBe('false');
      expect(await p.locator('#map').evaluate((m) => m.classList.contains('drawing') || m.style.touchAction === 'none')).toBe(false);
      // Leaflet's drag handler is on again
      expect(await p.locator('#map').evaluate((m) => m.classList.contains('leaflet-grab'))).toBe(true);
    } finally {
      await touch.close();
    }
  });
});
