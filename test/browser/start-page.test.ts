/**
 * The start page of an index where every file failed, and the page when its server has gone, in a
 * real browser (Debian's chromium driven by playwright-core). Skips (visibly) without chromium.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip, type ClipEncoder } from '../../src/model/index.js';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { indexInto } from '../fixtures/index-into.js';
import { tinyModelDir } from '../fixtures/model.js';
import { chromiumInstalled, closeBrowserTest, launchChromium, listenOnLoopback } from './chromium.js';

const hasChromium = chromiumInstalled('test/browser/start-page.test.ts');

let root: string;
let encoder: ClipEncoder;
let store: IndexStore;
let server: Server | undefined;
let url: string;
let browser: Browser;
let page: Page;

describe.skipIf(!hasChromium)('the start page of an index where every file failed; the page without its server', () => {
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rsclip-start-'));
    const archive = path.join(root, 'archive');
    mkdirSync(archive);
    // a JPEG cut short after its first markers, and a text file named .png
    writeFileSync(path.join(archive, 'corrupt.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01]));
    writeFileSync(path.join(archive, 'notimage.png'), 'this is not a picture\n');
    encoder = await openClip(await tinyModelDir(), { threads: 1 });
    const indexDir = path.join(root, 'index');
    await indexInto({ roots: [archive], index: indexDir, model: encoder });
    store = await openIndex(indexDir, { readonly: true });
    ({ server, url } = await listenOnLoopback(createApp({ searcher: new Searcher(encoder, store), store })));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  }, 300_000);
  afterAll(() => closeBrowserTest({ browser, server, store, encoder, root }));

  it('says that no image is searchable because the files failed, and lists them, rather than calling the index empty', async () => {
    await page.goto(url);
    await expect.poll(() => page.locator('#index-summary').textContent()).toMatch(/no searchable image: 2 files could not be read/);
    expect(await page.locator('#index-summary').textContent()).not.toMatch(/empty/);
    await expect.poll(() => page.locator('#failed-list').isVisible()).toBe(true);
    const listed = await page.locator('#failed-list li').allTextContents();
    expect(listed).toHaveLength(2);
    expect(listed[0]).toMatch(/^corrupt\.jpg: /);
    expect(listed[1]).toMatch(/^notimage\.png: /);
  });

  it('says that the server cannot be reached, not the browser\'s "Failed to fetch"', async () => {
    await page.goto(url);
    await expect.poll(() => page.locator('#index-summary').textContent()).not.toBe('');
    const closed = new Promise((resolve) => server!.close(resolve));
    // the browser's kept-alive connections too
    server!.closeAllConnections();
    await closed;
    server = undefined;
    await page.locator('#q').fill('a river');
    await page.locator('#q').press('Enter');
    await expect.poll(() => page.locator('#error').textContent()).toMatch(/server cannot be reached/);
    expect(await page.locator('#error').textContent()).not.toMatch(/Failed to fetch/);
  });
});
