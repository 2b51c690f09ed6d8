/**
 * The web page in a real browser: Debian's chromium driven by playwright-core against a
 * server on a small index. Skips (visibly) where /usr/bin/chromium is not installed;
 * .ci/run installs it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { REPO_ROOT } from '../fixtures/cli.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';
import { chromiumInstalled, launchChromium, listenOnLoopback, OUT } from './chromium.js';

const hasChromium = chromiumInstalled('test/browser/web.test.ts');

let root: string;
let fixture: TestIndex;
let store: IndexStore;
let server: Server;
let url: string;
let browser: Browser;
let page: Page;

describe.skipIf(!hasChromium)('web page', () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-web-'));
    fixture = await buildTestIndex(root);
    store = await fixture.open();
    const app = createApp({ searcher: new Searcher(fixture.encoder, store), store });
    ({ server, url } = await listenOnLoopback(app));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await store?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const cardNames = () => page.locator('.card .name').allTextContents();

  it('searches by text, by an uploaded image, and opens "more like this"', async () => {
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(url);
    await page.locator('#q').fill('river');
    await page.locator('#q').press('Enter');
    await page.locator('.card').first().waitFor();
    expect((await cardNames()).slice(0, 3)).toEqual(['river-a.png', 'river-a-copy.png', 'river-b.png']);
    await expect.poll(() => page.locator('.card img').first().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    expect(await page.locator('#status').textContent()).toMatch(/14 results for “river”/);

    await page.locator('#image-input').setInputFiles(path.join(fixture.archive, 'water/beach-b.png'));
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/results for images like beach-b\.png/);
    expect((await cardNames())[0]).toBe('beach-b.png');

    await page.locator('.card').first().click();
    await expect.poll(() => page.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    expect(await page.locator('#viewer-title').textContent()).toBe('water/beach-b.png');
    await expect.poll(() => page.locator('#viewer-meta').textContent()).toContain('label');
    await page.locator('#more-like-this').click();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/results for images like beach-b\.png.*ms/);
    const similar = await cardNames();
    expect(similar).not.toContain('beach-b.png');
    expect(similar[0]).toBe('beach-a.png');
    expect(consoleErrors).toEqual([]);
  });

  it('shows an upload error alone, not next to the results of the previous query', async () => {
    const notes = path.join(root, 'notes.txt');
    writeFileSync(notes, 'not a picture');
    const svg = path.join(root, 'drawing.svg');
    writeFileSync(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="13000" height="13000"/>');
    for (const [file, message] of [[notes, /notes\.txt is not an image/], [svg, /SVG, a vector format/]] as const) {
      await page.goto(`${url}?q=river`);
      await page.locator('.card').first().waitFor();
      await page.locator('#image-input').setInputFiles(file);
      await expect.poll(() => page.locator('#error').textContent()).toMatch(message);
      expect(await page.locator('#error').isVisible()).toBe(true);
      expect(await page.locator('.card').count()).toBe(0);
      expect(await page.locator('#status').textContent()).not.toMatch(/results for/);
    }
  });

  it('counts the items that pass the filters, in the singular when one passes', async () => {
    await page.goto(url);
    await page.locator('#toggle-filters').click();
    await page.locator('#f-path').fill('green/park.png');
    await page.locator('#q').fill('forest');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/1 result for “forest” \(1 item passes the filters\)/);
    await page.locator('#f-path').fill('green/*');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/\(3 items pass the filters\)/);
    await page.locator('#f-path').fill('');
    await page.locator('#toggle-filters').click();
  });

  it('is keyboard friendly: arrows move between results, Enter opens, Esc closes', async () => {
    await page.goto(`${url}?q=forest`);
    await page.locator('.card').first().waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-index'))).toBe('0');
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-index'))).toBe('1');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.locator('#viewer-title').textContent()).toBe(await page.locator('.card').nth(2).locator('.name').getAttribute('title'));
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open)).toBe(false);
  });

  it('reopens an item opened from a later page on reload and from a shared link', async () => {
    await page.goto(`${url}?q=river&k=5`);
    await page.locator('.card').first().waitFor();
    await page.locator('#load-more').click();
    await expect.poll(() => page.locator('.card').count()).toBe(10);
    const card = page.locator('.card').nth(7);
    const title = await card.locator('.name').getAttribute('title');
    const id = await card.getAttribute('data-id');
    await card.click();
    await expect.poll(() => new URL(page.url()).searchParams.get('view')).toBe(id);
    const link = page.url();
    const isOpen = (p: Page) => p.locator('#viewer').evaluate((d: HTMLDialogElement) => d.open);
    await page.reload();
    await expect.poll(() => isOpen(page)).toBe(true);
    expect(await page.locator('#viewer-title').textContent()).toBe(title);
    await expect.poll(() => page.locator('#viewer-meta').textContent()).toMatch(/not among the 5 results shown/);
    expect(new URL(page.url()).searchParams.get('view')).toBe(id);
    // more like this works on it
    await page.locator('#more-like-this').click();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/results for images like/);
    const shared = await browser.newPage();
    await shared.goto(link);
    await expect.poll(() => isOpen(shared)).toBe(true);
    expect(await shared.locator('#viewer-title').textContent()).toBe(title);
    // a tracker's parameter picked up on the way changes nothing but a note
    await shared.goto(`${link}&utm_source=newsletter`);
    await expect.poll(() => isOpen(shared)).toBe(true);
    expect(await shared.locator('#viewer-title').textContent()).toBe(title);
    expect(await shared.locator('#error').textContent()).toMatch(/“utm_source” means nothing to the page/);
    await shared.goto(`${url}?q=river&view=999999&fbclid=x`);
    await expect.poll(() => shared.locator('#error').textContent()).toMatch(/Could not open item #999999 of this link.*“fbclid” means nothing to the page/);
    // an item the index does not hold is named, not silently dropped
    await shared.goto(`${url}?q=river&view=999999`);
    await expect.poll(() => shared.locator('#error').textContent()).toMatch(/Could not open item #999999 of this link/);
    expect(await isOpen(shared)).toBe(false);
    expect(await shared.locator('.card').count()).toBeGreaterThan(0);
    await shared.close();
  });

  it('says what a link holds that it cannot use (a bad bbox, filter, page size, an unknown parameter) rather than showing unfiltered results', async () => {
    const searches: string[] = [];
    const record = (r: { url(): string }) => {
      if (r.url().includes('/api/search')) searches.push(r.url());
    };
    page.on('request', record);
    for (const [query, message, searched] of [
      ['bbox=garbage', /bbox=garbage is not west,south,east,north/, false],
      ['bbox=1,2,3', /bbox=1,2,3 is not west,south,east,north/, false],
      ['filter=garbage', /invalid filter "garbage"/, true],
      ['filter=label=river&filter=garbage', /invalid filter "garbage"/, true],
      ['k=abc', /k=abc is not a number of results per page/, false],
      ['since=notadate', /invalid filter "since=notadate"/, true],
    ] as const) {
      searches.length = 0;
      await page.goto(`${url}?q=river&${query}`);
      await expect.poll(() => page.locator('#error').textContent(), { message: query }).toMatch(message);
      expect(await page.locator('#error').isVisible(), query).toBe(true);
      expect(await page.locator('.card').count(), query).toBe(0);
      expect(await page.locator('#status').textContent(), query).not.toMatch(/results for/);
      // a search that ran carried the filter to the server, which refused it
      expect(searches.length > 0, query).toBe(searched);
    }
    page.off('request', record);
    // a parameter the page does not know (a typo, a tracker's) is searched without, and named beside the results
    await page.goto(`${url}?q=river&colour=red&utm_source=mail`);
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/parameters “colour”, “utm_source” mean nothing to the page: the results are without them/);
    expect(await page.locator('.card').count()).toBeGreaterThan(0);
    // a usable link still searches
    await page.goto(`${url}?q=river&k=7`);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/7 results for “river”/);
    expect(await page.locator('#error').isVisible()).toBe(false);
  });

  it("checks a chip's typed weight: 0 and negatives are refused and the box shows the weight kept; past 0.1..10 the bound is used and shown", async () => {
    await page.goto(`${url}?q=river`);
    await page.locator('.card').first().waitFor();
    const box = () => page.locator('#terms input.chip-weight').first();
    const q = () => new URL(page.url()).searchParams.get('q');
    const type = async (value: string) => {
      await box().fill(value);
      await box().dispatchEvent('change');
    };
    for (const refused of ['0', '-2.5', '']) {
      await type(refused);
      expect(await box().inputValue(), refused).toBe('1');
      expect(await page.locator('#chip-note').textContent(), refused).toMatch(/Weight of “river” kept at 1/);
      expect(q(), refused).toBe('river');
    }
    await type('0.0001');
    await expect.poll(() => q()).toBe('0.1*"river"');
    expect(await box().inputValue()).toBe('0.1');
    expect(await page.locator('#chip-note').textContent()).toMatch(/0\.0001 is below the smallest weight: 0\.1 is used/);
    await type('50');
    await expect.poll(() => q()).toBe('10*"river"');
    expect(await box().inputValue()).toBe('10');
    expect(await page.locator('#chip-note').textContent()).toMatch(/50 is above the largest weight: 10 is used/);
    await type('2.5');
    await expect.poll(() => q()).toBe('2.5*"river"');
    expect(await page.locator('#chip-note').isVisible()).toBe(false);
    // a link's weights are taken as a chip's box takes them
    const bodies: string[] = [];
    const record = (r: { url(): string; postData(): string | null }) => {
      if (r.url().includes('/api/search')) bodies.push(r.postData() ?? '');
    };
    page.on('request', record);
    await page.goto(`${url}?q=${encodeURIComponent('50*"river" + 0.0001*forest + 0*sea')}`);
    await expect.poll(() => bodies.length).toBeGreaterThan(0);
    page.off('request', record);
    expect(JSON.parse(bodies[0]!).terms).toEqual([
      { text: 'river', weight: 10 },
      { text: 'forest', weight: 0.1 },
    ]);
    expect(await page.locator('#terms input.chip-weight').first().inputValue()).toBe('10');
    expect(await page.locator('#chip-note').textContent()).toMatch(/“river”: 50 is above the largest weight: 10 is used.*“forest”: 0\.0001 is below the smallest weight: 0\.1 is used.*“sea” left out: its weight is 0/);
  });

  it('shows errors and empty states, and fits a phone screen; saves screenshots', async () => {
    await page.goto(url);
    await page.locator('#toggle-filters').click();
    await page.locator('#f-format').selectOption('jpeg');
    await page.locator('#q').fill('river');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('#empty').isVisible()).toBe(true);
    await page.locator('#f-format').selectOption('');
    await page.locator('#f-fields').fill('after=yesterday');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/invalid filter/);
    await page.locator('#f-fields').fill('');
    await page.locator('#toggle-filters').click();

    mkdirSync(OUT, { recursive: true });
    await page.goto(`${url}?q=river`);
    await page.locator('.card').first().waitFor();
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('.card img')).every((img) => img.complete));
    await page.screenshot({ path: path.join(OUT, 'web-desktop.png') });
    // the README's screenshot; refreshed on request only, since the page shows timings that change every run
    if (process.env.RSCLIP_UPDATE_SCREENSHOT) await page.screenshot({ path: path.join(REPO_ROOT, 'docs/screenshot.png') });

    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(OUT, 'web-phone.png') });
  });
});
