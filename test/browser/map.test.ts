/**
 * The map, the scene viewer and the page as a place to work, in a real browser (Debian's chromium
 * driven by playwright-core) against a server on the georeferenced mosaic of the scenes issue plus
 * one image without a place, indexed with the tiny model: footprints at the API's coordinates,
 * "search this area" and a drawn rectangle as bbox filters, the viewer with the window outlined and
 * the locate heat map, Back/Forward and shared URLs, a combined query ranked as the CLI ranks it,
 * exports of a selection, an unknown field named, axe-core with no serious violations, and
 * screenshots at desktop and phone widths in test-output/. Skips (visibly) without chromium.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { Searcher, type SearchHit, type SearchPage } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { REPO_ROOT, runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { MOSAIC, writeMosaicArchive } from '../fixtures/mosaic.js';
import { chromiumInstalled, closeBrowserTest, launchChromium, listenOnLoopback, OUT } from './chromium.js';

const hasChromium = chromiumInstalled('test/browser/map.test.ts');

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let root: string;
let indexDir: string;
let modelDir: string;
let patchFile: string;
let encoder: ClipEncoder;
let store: IndexStore;
let server: Server;
let url: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;

type Box = [number, number, number, number];

function intersects(a: Box, b: Box): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/** The page of hits the page shows, by the API: POST /api/search with the page's own request. */
async function apiPage(terms: unknown[], query = ''): Promise<SearchPage> {
  const res = await fetch(`${url}api/search?${query}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ terms, k: 40 }) });
  return (await res.json()) as SearchPage;
}
const apiHits = async (terms: unknown[], query = ''): Promise<SearchHit[]> => (await apiPage(terms, query)).hits;

function footprintBox(hit: SearchHit): Box {
  const ring = (hit.footprint as { coordinates: number[][][] }).coordinates[0]!;
  const lons = ring.map((p) => p[0]!);
  const lats = ring.map((p) => p[1]!);
  return [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
}

const shownIds = () => page.locator('#results .card').evaluateAll((cards) => cards.map((c) => Number((c as HTMLElement).dataset.id)));
const mapBounds = async () => (await page.locator('#map').getAttribute('data-bounds'))!.split(',').map(Number) as Box;

describe.skipIf(!hasChromium)('the map and the scene viewer', () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-map-'));
    let archive: string;
    ({ archive, patchFile } = writeMosaicArchive(root));
    writeFileSync(path.join(archive, 'no-place.png'), makePng(3, 300, 300));
    modelDir = await tinyModelDir();
    indexDir = path.join(root, 'index');
    encoder = await openClip(modelDir, { threads: 1 });
    await indexInto({ roots: [archive], index: indexDir, model: encoder });
    store = await openIndex(indexDir, { readonly: true });
    const app = createApp({ searcher: new Searcher(encoder, store), store });
    ({ server, url } = await listenOnLoopback(app));
    browser = await launchChromium();
    // bypassCSP: axe-core is injected as an inline script, which the page's policy rightly refuses
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true, acceptDownloads: true });
    page = await context.newPage();
    mkdirSync(OUT, { recursive: true });
  }, 300_000);
  afterAll(() => closeBrowserTest({ browser, server, store, encoder, root }));

  it('draws the footprints of a text query where the API places them; the item without a place stays in the grid', async () => {
    const started = performance.now();
    await page.goto(`${url}?q=${encodeURIComponent('a river')}`);
    await page.locator('#results .card').first().waitFor();
    const firstResults = performance.now() - started;
    const hits = await apiHits([{ text: 'a river' }]);
    const placed = hits.filter((h) => h.footprint);
    await expect.poll(() => page.locator('path.footprint').count()).toBe(placed.length);
    const mapRendered = performance.now() - started;
    console.log(`map.test: ${hits.length} hits, first results after ${firstResults.toFixed(0)} ms, map drawn after ${mapRendered.toFixed(0)} ms (reported, not asserted)`);
    expect(await shownIds()).toEqual(hits.map((h) => h.id));
    expect(placed.length).toBeGreaterThan(10);

    const [w, s, e, n] = await mapBounds();
    // Leaflet's bounds are those of the map's content box (inside its border)
    const outer = (await page.locator('#map').boundingBox())!;
    const inner = await page.locator('#map').evaluate((m) => ({ left: m.clientLeft, top: m.clientTop, width: m.clientWidth, height: m.clientHeight }));
    const box = { x: outer.x + inner.left, y: outer.y + inner.top, width: inner.width, height: inner.height };
    const mercator = (lat: number) => Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
    for (const hit of placed.slice(0, 5)) {
      const [west, south, east, north] = footprintBox(hit);
      const drawn = (await page.locator(`path.footprint[data-id="${hit.id}"]`).boundingBox())!;
      const x = (lon: number) => box.x + ((lon - w) / (e - w)) * box.width;
      const y = (lat: number) => box.y + ((mercator(n) - mercator(lat)) / (mercator(n) - mercator(s))) * box.height;
      // Leaflet draws on whole pixels of a pane placed at fractional zoom: each vertex rounded to a whole pixel (latLngToLayerPoint): within 3 px of a 60 px footprint
      expect(Math.abs(drawn.x - x(west!))).toBeLessThan(3);
      expect(Math.abs(drawn.x + drawn.width - x(east!))).toBeLessThan(3);
      expect(Math.abs(drawn.y - y(north!))).toBeLessThan(3);
      expect(Math.abs(drawn.y + drawn.height - y(south!))).toBeLessThan(3);
    }
    if (hits.some((h) => !h.footprint)) expect(await page.locator('#map-note').textContent()).toMatch(/without a place are in the list only/);
    await expect.poll(() => page.locator('img.overview').count()).toBe(1);
    await page.screenshot({ path: path.join(OUT, 'map-desktop.png') });
    // the README's map; refreshed on request only (the page shows timings that change every run)
    if (process.env.RSCLIP_UPDATE_SCREENSHOT) await page.screenshot({ path: path.join(REPO_ROOT, 'docs/map.png') });
  });

  it('"search this area" narrows the results to the visible bbox, and Back/Forward restore each list', async () => {
    const before = await shownIds();
    await page.locator('.leaflet-control-zoom-in').click();
    await page.locator('.leaflet-control-zoom-in').click();
    await page.waitForTimeout(400);
    const bounds = await mapBounds();
    await page.locator('#search-area').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('bbox')).not.toBeNull();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/items? pass(es)? the filters/);
    const bbox = new URL(page.url()).searchParams.get('bbox')!.split(',').map(Number) as Box;
    bbox.forEach((v, i) => expect(v).toBeCloseTo(bounds[i]!, 4));
    const narrowedPage = await apiPage([{ text: 'a river' }], `&bbox=${bbox.join(',')}`);
    const narrowed = narrowedPage.hits;
    await expect.poll(shownIds).toEqual(narrowed.map((h) => h.id));
    expect(await page.locator('#status').textContent()).toContain(`(${narrowedPage.filtered} items pass the filters)`);
    expect(narrowedPage.filtered).toBeLessThan(await store.countItems());
    for (const hit of narrowed) expect(intersects(footprintBox(hit), bbox)).toBe(true);
    const beforeHits = await apiHits([{ text: 'a river' }]);
    expect(beforeHits.map((h) => h.id)).toEqual(before);
    expect(beforeHits.some((h) => h.footprint && !intersects(footprintBox(h), bbox))).toBe(true);

    await page.goBack();
    await expect.poll(shownIds).toEqual(before);
    expect(new URL(page.url()).searchParams.get('bbox')).toBeNull();
    await page.goForward();
    await expect.poll(shownIds).toEqual(narrowed.map((h) => h.id));

    // a shared link reproduces the list in a fresh page
    const shared = await context.newPage();
    await shared.goto(page.url());
    await shared.locator('#results .card').first().waitFor();
    expect(await shared.locator('#results .card').evaluateAll((cards) => cards.map((c) => Number((c as HTMLElement).dataset.id)))).toEqual(narrowed.map((h) => h.id));
    await shared.close();
  });

  it('a rectangle drawn on the map filters by its bbox', async () => {
    await page.goto(`${url}?q=${encodeURIComponent('a river')}`);
    await expect.poll(() => page.locator('path.footprint').count()).toBeGreaterThan(10);
    const box = (await page.locator('#map').boundingBox())!;
    await page.locator('#draw-area').click();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.45, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => new URL(page.url()).searchParams.get('bbox')).not.toBeNull();
    const bbox = new URL(page.url()).searchParams.get('bbox')!.split(',').map(Number) as Box;
    const [w, s, e, n] = await mapBounds();
    expect(bbox[0]).toBeGreaterThan(w);
    expect(bbox[2]).toBeLessThan(e);
    expect(bbox[1]).toBeGreaterThan(s);
    expect(bbox[3]).toBeLessThan(n);
    const filtered = await apiHits([{ text: 'a river' }], `&bbox=${bbox.join(',')}`);
    await expect.poll(shownIds).toEqual(filtered.map((h) => h.id));
    expect(await page.locator('.chip.area').textContent()).toMatch(/area/);
  });

  it('"search this area" on a zoomed-out view panned across the antimeridian searches a box that crosses it, not longitudes past 180', async () => {
    await page.goto(`${url}?q=${encodeURIComponent('a river')}`);
    await page.locator('#results .card').first().waitFor();
    for (let i = 0; i < 10; i++) {
      const zoomOut = page.locator('.leaflet-control-zoom-out');
      if ((await zoomOut.getAttribute('class'))!.includes('leaflet-disabled')) break;
      await zoomOut.click();
      await page.waitForTimeout(300);
    }
    // Leaflet's keyboard panning: each press moves the view east by 80 px, about 40 degrees here
    await page.locator('#map').focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.waitForTimeout(600);
    const [, , east] = await mapBounds();
    expect(east).toBeGreaterThan(180);
    await page.locator('#search-area').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('bbox')).not.toBeNull();
    const bbox = new URL(page.url()).searchParams.get('bbox')!.split(',').map(Number) as Box;
    for (const lon of [bbox[0], bbox[2]]) expect(Math.abs(lon)).toBeLessThanOrEqual(180);
    expect(bbox[0]).toBeGreaterThan(bbox[2]);
    expect(bbox[2]).toBeCloseTo(east - 360, 4);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/items? pass(es)? the filters/);
  });

  it('opens a hit in its scene with the window outlined, shows the tile at full resolution and the heat map', async () => {
    await page.goto(`${url}?q=${encodeURIComponent('a river')}`);
    await page.locator('#results .card').first().waitFor();
    const hit = (await apiHits([{ text: 'a river' }])).find((h) => h.footprint)!;
    await page.locator(`#results .card[data-id="${hit.id}"]`).click();
    await expect.poll(() => page.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    await expect.poll(() => page.locator('#viewer-window').isVisible()).toBe(true);
    // the overview of the 2,048 px scene is rendered on the first request
    await expect.poll(() => page.locator('#viewer-image').evaluate((img: HTMLImageElement) => img.src.includes('/overview') && img.complete && img.naturalWidth > 0), { timeout: 30_000 }).toBe(true);
    const stage = (await page.locator('#scene-stage').boundingBox())!;
    const outline = (await page.locator('#viewer-window').boundingBox())!;
    // the outline's border box is the window's share of the scene
    expect((outline.x - stage.x) / stage.width).toBeCloseTo(hit.window.x / MOSAIC.size, 2);
    expect((outline.y - stage.y) / stage.height).toBeCloseTo(hit.window.y / MOSAIC.size, 2);
    expect(outline.width / stage.width).toBeCloseTo(hit.window.width / MOSAIC.size, 2);
    expect(new URL(page.url()).searchParams.get('view')).toBe(String(hit.id));
    await expect.poll(() => page.locator('#viewer-meta').textContent()).toMatch(/CRS.*EPSG:32633.*GSD10\.\d\d m/s);
    await page.locator('#scene-stage').hover({ position: { x: stage.width / 2, y: stage.height / 2 } });
    await expect.poll(() => page.locator('#viewer-coords').textContent()).toMatch(/^pixel 10\d\d, 10\d\d · 4[12]\.\d{5}, 15\.\d{5}$/);
    await page.screenshot({ path: path.join(OUT, 'viewer-desktop.png') });

    await page.locator('#show-heat').click();
    await expect.poll(() => page.locator('#viewer-heat').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.locator('#viewer-heat').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(await page.locator('#show-heat').getAttribute('aria-pressed')).toBe('true');
    await page.screenshot({ path: path.join(OUT, 'heatmap-desktop.png') });

    await page.locator('#show-tile').click();
    await expect.poll(() => page.locator('#viewer-image').getAttribute('src')).toBe(`api/images/${hit.id}/file`);
    expect(await page.locator('#viewer-window').isVisible()).toBe(false);
    await expect.poll(() => page.locator('#viewer-image').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(224);

    // a reload with the link opens the same item
    await page.reload();
    await expect.poll(() => page.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    expect(await page.locator('#viewer-title').textContent()).toBe(hit.path);
    await page.keyboard.press('Escape');
  });

  it("the viewer's heat map locates the whole weighted query, as the API's locate does with every term", async () => {
    const terms = [{ text: 'a river' }, { text: 'a forest', weight: -0.5 }];
    await page.goto(`${url}?q=${encodeURIComponent('a river - 0.5*"a forest"')}`);
    await page.locator('#results .card').first().waitFor();
    const hit = (await apiHits(terms)).find((h) => h.footprint)!;
    await expect.poll(shownIds).toEqual((await apiHits(terms)).map((h) => h.id));
    await page.locator(`#results .card[data-id="${hit.id}"]`).click();
    await expect.poll(() => page.locator('#viewer-window').isVisible(), { timeout: 30_000 }).toBe(true);
    await page.locator('#show-heat').click();
    await expect.poll(() => page.locator('#viewer-heat').isVisible(), { timeout: 30_000 }).toBe(true);
    const shown = await page.locator('#viewer-heat').getAttribute('src');
    const locate = async (init: RequestInit, query = 'top=5') => ((await (await fetch(`${url}api/images/${hit.id}/locate?${query}`, init)).json()) as { heatMap: { url: string } }).heatMap.url;
    expect(shown).toBe(await locate({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ terms }) }));
    // not the first term's alone
    expect(shown).not.toBe(await locate({}, `top=5&q=${encodeURIComponent('a river')}`));
    expect(await page.locator('#viewer-heat').getAttribute('alt')).toMatch(/^Heat map of “a river” − 0\.5×“a forest”/);
    await page.keyboard.press('Escape');
  });

  it('ranks a combined text + image - text query as `rsclip search` does', async () => {
    await page.goto(url);
    await page.locator('#q').fill('a river - a forest');
    await page.locator('#q').press('Enter');
    await page.locator('#results .card').first().waitFor();
    await page.locator('.chip.add').click();
    await page.locator('#image-input').setInputFiles(patchFile);
    await expect.poll(() => page.locator('.chip').count()).toBe(4);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/“a river” − “a forest” \+ images like patch\.png/);
    const cli = await runCli(['search', 'a river', '-', 'a forest', '+', patchFile, '--index', indexDir, '--model', modelDir, '--threads', '1', '-k', '40', '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const expected = (JSON.parse(cli.stdout) as SearchPage).hits.map((h) => h.id);
    await expect.poll(shownIds).toEqual(expected);

    // removing a chip re-runs without it
    await page.locator('.chip-remove[aria-label="Remove “a forest”"]').click();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/results for “a river” \+ images like patch\.png/);
  }, 60_000);

  it('keeps an uploaded image in the history (Back, Forward, reload), names it in the URL, and a link opened without it says so; "more like this" travels in the URL', async () => {
    const river = (await apiHits([{ text: 'a river' }])).map((h) => h.id);
    const combined = (await apiHits([{ text: 'a river' }, { image: readFileSync(patchFile).toString('base64') }])).map((h) => h.id);
    expect(combined).not.toEqual(river);
    await page.goto(`${url}?q=${encodeURIComponent('a river')}`);
    await expect.poll(shownIds).toEqual(river);
    await page.locator('.chip.add').click();
    await page.locator('#image-input').setInputFiles(patchFile);
    await expect.poll(shownIds).toEqual(combined);
    const link = page.url();
    expect(new URL(link).searchParams.getAll('image')).toEqual(['patch.png']);
    expect(new URL(link).searchParams.get('q')).toBe('"a river"');

    await page.goBack();
    await expect.poll(shownIds).toEqual(river);
    await page.goForward();
    await expect.poll(shownIds).toEqual(combined);
    await page.reload();
    await expect.poll(shownIds).toEqual(combined);
    expect(await page.locator('#missing-images').isVisible()).toBe(false);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/results for “a river” \+ images like patch\.png/);

    // the same link in a fresh page: the image is not there, and the page says so
    const fresh = await context.newPage();
    await fresh.goto(link);
    await fresh.locator('#results .card').first().waitFor();
    expect(await fresh.locator('#missing-images').textContent()).toBe(
      'This link\'s query also had an uploaded image (patch.png), which a link cannot carry: the results are for the rest of the query. Add it again with “+ image…” or “Search by image”.',
    );
    await expect.poll(() => fresh.locator('#results .card').evaluateAll((cards) => cards.map((c) => Number((c as HTMLElement).dataset.id)))).toEqual(river);
    // a new query leaves the notice behind
    await fresh.locator('#q').fill('a forest');
    await fresh.locator('#q').press('Enter');
    await expect.poll(() => fresh.locator('#missing-images').isVisible()).toBe(false);
    await fresh.close();

    // "more like this" an indexed item is a #id term: a link carries it
    await page.locator('#results .card').nth(2).click();
    await page.locator('#more-like-this').click();
    const liked = combined[2]!;
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe(`#${liked}`);
    const likeThis = (await apiHits([{ id: liked }])).map((h) => h.id);
    await expect.poll(shownIds).toEqual(likeThis);
    const shared = await context.newPage();
    await shared.goto(page.url());
    await expect.poll(() => shared.locator('#results .card').evaluateAll((cards) => cards.map((c) => Number((c as HTMLElement).dataset.id)))).toEqual(likeThis);
    expect(await shared.locator('#missing-images').isVisible()).toBe(false);
    await shared.close();
  }, 60_000);

  it('downloads the selected hits as GeoJSON and CSV, and names an unknown field', async () => {
    await page.goto(`${url}?q=${encodeURIComponent('a river')}`);
    await page.locator('#results .card').first().waitFor();
    const ids = await shownIds();
    await page.locator('input.select').nth(1).click();
    await page.locator('input.select').nth(4).click({ modifiers: ['Shift'] });
    await page.locator('input.select').nth(6).click();
    expect(await page.locator('#selected-count').textContent()).toBe('5 selected');
    const chosen = [ids[1], ids[2], ids[3], ids[4], ids[6]];
    for (const [format, parse] of [
      ['geojson', (text: string) => (JSON.parse(text) as { features: { id: number }[] }).features.map((f) => f.id)],
      ['csv', (text: string) => text.trim().split('\n').slice(1).map((line) => Number(line.split(',')[1]))],
    ] as const) {
      await page.locator('#export-format').selectOption(format);
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-selected').click()]);
      expect(download.suggestedFilename()).toBe(`rsclip-selection.${format}`);
      expect(parse(readFileSync((await download.path())!, 'utf8'))).toEqual(chosen);
    }

    await page.locator('#toggle-filters').click();
    await page.locator('#f-fields').fill('lable=airport');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/unknown filter field "lable"/);
    expect(await page.locator('#results .card').count()).toBe(0);
  });

  it('has no serious accessibility violations, fits a phone screen, and says what is indexed', async () => {
    await page.goto(url);
    await expect.poll(() => page.locator('#index-summary').textContent()).toMatch(/searchable items .* in 2 files; model .*; last update \S/);
    // the page says when the index last changed, in the browser's own words for the API's time
    const { index } = (await (await fetch(`${url}api/stats`)).json()) as { index: { lastChange: string } };
    const shown = await page.evaluate((iso) => new Date(iso).toLocaleString(), index.lastChange);
    expect(await page.locator('#index-summary').textContent()).toContain(`last update ${shown}.`);
    await expect.poll(() => page.locator('#sample .sample-card').count()).toBeGreaterThan(1);
    const audit = async () => {
      await page.addScriptTag({ content: AXE_SOURCE });
      const result = await page.evaluate(async () => (window as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> } }).axe.run());
      return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.nodes.length})`);
    };
    expect(await audit()).toEqual([]);
    await page.goto(`${url}?q=${encodeURIComponent('a river')}`);
    await expect.poll(() => page.locator('path.footprint').count()).toBeGreaterThan(10);
    expect(await audit()).toEqual([]);

    await page.setViewportSize({ width: 375, height: 740 });
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(OUT, 'map-phone.png') });
    await page.locator('#results .card').first().click();
    await expect.poll(() => page.locator('#viewer-window').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(OUT, 'viewer-phone.png') });
    await page.locator('#show-heat').click();
    await expect.poll(() => page.locator('#viewer-heat').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(OUT, 'heatmap-phone.png') });
    await page.setViewportSize({ width: 1280, height: 860 });
  });
});
