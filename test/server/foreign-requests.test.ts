/**
 * Requests another web site makes a visitor's browser send: a tokenless server answers only
 * requests addressed to an IP address, localhost, this machine's name or an allowed name (DNS
 * rebinding), and no server takes a write that a browser marks as coming from another origin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { makePng } from '../fixtures/images.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
let searcher: Searcher;
let open: Application;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-foreign-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
  searcher = new Searcher(fixture.encoder, store);
  open = createApp({ searcher, store });
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

const statsAt = (app: Application, host: string) => request(app).get('/api/stats').set('Host', host);

describe('a server without a token, addressed by a name (DNS rebinding)', () => {
  it('answers requests addressed to an IP address, localhost or this machine', async () => {
    for (const host of ['127.0.0.1:8080', '[::1]:8080', '10.1.2.3', 'localhost:8080', 'LOCALHOST', 'app.localhost:5000', hostname(), `${hostname()}.:8080`]) {
      expect((await statsAt(open, host)).status, host).toBe(200);
    }
  });

  it('refuses any other name with 403, naming it and the option that allows it', async () => {
    const res = await statsAt(open, 'rebind.evil.example:8080');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('"rebind.evil.example"'), hint: expect.stringContaining('--allowed-host rebind.evil.example') });
    // the page and its files too: a rebound page could read the archive's names off them
    expect((await request(open).get('/').set('Host', 'rebind.evil.example')).status).toBe(403);
    expect((await request(open).get('/readyz').set('Host', '127.0.0.1.evil.example')).status).toBe(403);
  });

  it('answers the names given with allowedHosts (any case, port or trailing dot), and any name for "*"', async () => {
    const named = createApp({ searcher, store, allowedHosts: ['search.lab.example'] });
    expect((await statsAt(named, 'SEARCH.lab.example.:8080')).status).toBe(200);
    expect((await statsAt(named, 'other.lab.example')).status).toBe(403);
    const any = createApp({ searcher, store, allowedHosts: ['*'] });
    expect((await statsAt(any, 'other.lab.example')).status).toBe(200);
  });

  it('leaves the name alone when the server has a token: a page elsewhere cannot send it', async () => {
    const secured = createApp({ searcher, store, token: 's3cret' });
    expect((await statsAt(secured, 'rebind.evil.example').set('Authorization', 'Bearer s3cret')).status).toBe(200);
    expect((await statsAt(secured, 'rebind.evil.example')).status).toBe(401);
  });
});

describe('writes from a page of another origin', () => {
  const search = (app: Application) => request(app).post('/api/search').send({ terms: [{ text: 'river' }], k: 1 });

  it('are refused when the browser marks them cross-site or same-site (another port of the same host)', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const res = await search(open).set('Sec-Fetch-Site', site);
      expect(res.status, site).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
  });

  it("are refused by their Origin when the browser sends no Sec-Fetch-Site, a sandboxed page's null origin too", async () => {
    expect((await search(open).set('Origin', 'http://evil.example')).status).toBe(403);
    expect((await search(open).set('Origin', 'http://127.0.0.1:9999')).status).toBe(403);
    expect((await search(open).set('Origin', 'null')).status).toBe(403);
  });

  it('refuse an upload before reading it, with or without a token', async () => {
    const secured = createApp({ searcher, store, token: 's3cret' });
    for (const app of [open, secured]) {
      const res = await request(app).post('/api/locate?q=river&token=s3cret').set('Sec-Fetch-Site', 'cross-site').attach('image', makePng(3, 8, 8), 'scene.png');
      expect(res.status).toBe(403);
    }
  });

  it("pass from the server's own page, from clients that are not browsers, and as reads", async () => {
    expect((await search(open).set('Sec-Fetch-Site', 'same-origin')).status).toBe(200);
    // a browser's address bar or bookmark
    expect((await search(open).set('Sec-Fetch-Site', 'none')).status).toBe(200);
    expect((await search(open).set('Host', '127.0.0.1:8080').set('Origin', 'http://127.0.0.1:8080')).status).toBe(200);
    expect((await search(open).set('Host', 'localhost').set('Origin', 'http://localhost:80')).status).toBe(200);
    expect((await search(open)).status).toBe(200);
    // images and links of another site may still load thumbnails and pages (reads do no work for it)
    expect((await request(open).get('/api/search?q=river').set('Sec-Fetch-Site', 'cross-site')).status).toBe(200);
  });
});
