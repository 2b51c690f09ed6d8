import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { MAX_K, Searcher } from '../../src/search/index.js';
import { createApp, type Thumbnailer } from '../../src/server/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { makePng, makePngBomb } from '../fixtures/images.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
let app: Application;
let secured: Application;
let rendered = 0;

/** Stands in for sharp: a thumbnail is the file's first bytes, so tests need no decoder. */
const fakeThumbnailer: Thumbnailer = async (file, maxSide) => {
  rendered++;
  const bytes = readFileSync(file);
  return { data: Buffer.concat([Buffer.from(`thumb${maxSide}:`), bytes.subarray(0, 16)]), contentType: 'image/webp' };
};

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-api-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
  const searcher = new Searcher(fixture.encoder, store);
  const limits = { maxUploadBytes: 64 * 1024, maxJsonBytes: 128 * 1024 };
  app = createApp({ searcher, store, limits, thumbnailer: fakeThumbnailer });
  secured = createApp({ searcher, store, limits, thumbnailer: fakeThumbnailer, token: 's3cret' });
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

const id = (rel: string) => fixture.ids.get(rel)!;
const expectError = (res: request.Response, status: number, code: string) => {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
};

/** Sends `text` as it is on a connection of its own: the status and body of the answer. */
function rawRequest(port: number, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(answer.slice(9, 12)), body: answer.slice(answer.indexOf('\r\n\r\n') + 4) }));
  });
}

describe('search routes', () => {
  it('GET /api/search answers a text query with ranked hits', async () => {
    const res = await request(app).get('/api/search').query({ q: 'stadium', k: 2 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ k: 2, offset: 0, exact: false, hits: [{ rank: 1, path: 'city/stadium-a.png', fields: { label: 'stadium' } }, { rank: 2, path: 'city/stadium-b.png' }] });
    expect(res.body.nextCursor).toEqual(expect.any(String));
    const next = await request(app).get('/api/search').query({ q: 'stadium', k: 2, cursor: res.body.nextCursor });
    expect(next.body.hits[0].rank).toBe(3);
  });

  it('refuses a cursor with an offset beside it (the cursor used to win silently), by GET and by POST; offset 0 goes with a cursor', async () => {
    const { nextCursor } = (await request(app).get('/api/search').query({ q: 'stadium', k: 2 })).body as { nextCursor: string };
    const get = await request(app).get('/api/search').query({ q: 'stadium', k: 2, cursor: nextCursor, offset: 4 });
    expectError(get, 400, 'BAD_QUERY');
    expect(get.body.error.message).toMatch(/cursor and offset were both given/);
    const post = await request(app).post('/api/search').send({ terms: [{ text: 'stadium' }], k: 2, cursor: nextCursor, offset: 4 });
    expectError(post, 400, 'BAD_QUERY');
    expect(post.body.error.message).toMatch(/cursor and offset were both given/);
    const zero = await request(app).get('/api/search').query({ q: 'stadium', k: 2, cursor: nextCursor, offset: 0 });
    expect(zero.status).toBe(200);
    expect(zero.body.hits[0].rank).toBe(3);
  });

  it('takes a page of up to MAX_K (1,000) hits, by GET and by POST', async () => {
    expect(MAX_K).toBe(1000);
    const get = await request(app).get('/api/search').query({ q: 'stadium', k: MAX_K });
    expect(get.status).toBe(200);
    expect(get.body.k).toBe(MAX_K);
    const post = await request(app).post('/api/search').send({ terms: [{ text: 'stadium' }], k: MAX_K });
    expect(post.status).toBe(200);
    expect(post.body.hits.map((h: { id: number }) => h.id)).toEqual(get.body.hits.map((h: { id: number }) => h.id));
  });

  it('GET /api/search takes repeatable key=value filters, exact and collapse', async () => {
    const res = await request(app).get('/api/search?q=river&k=50&filter=folder%3Dwater&filter=label%3Driver%7Cbeach&exact=true&collapse');
    expect(res.status).toBe(200);
    expect(res.body.exact).toBe(true);
    expect(res.body.filtered).toBe(5);
    expect(res.body.hits.map((h: { path: string }) => h.path)).toEqual(['water/river-a.png', 'water/river-b.png', 'water/beach-b.png', 'water/beach-a.png']);
    expect(res.body.hits[0].duplicates[0].path).toBe('water/river-a-copy.png');
  });

  it('POST /api/search takes the structured form with weights, ids and base64 images', async () => {
    const res = await request(app)
      .post('/api/search')
      .send({ terms: [{ text: 'stadium' }, { text: 'parking lot', weight: 0.5 }], k: 1 });
    expect(res.status).toBe(200);
    expect(res.body.hits[0].path).toBe('city/stadium-b.png');
    const bytes = readFileSync(path.join(fixture.archive, 'green/forest-b.png'));
    const byImage = await request(app).post('/api/search').send({ terms: [{ image: bytes.toString('base64') }], k: 1 });
    expect(byImage.body.hits[0].path).toBe('green/forest-b.png');
    // the item a query names is left out of its results, as in the CLI
    const byId = await request(app).post('/api/search').send({ terms: [{ id: id('city/airport-a.png') }], k: 1, filter: { folder: 'city' } });
    expect(byId.body.hits[0].path).toBe('city/airport-b.png');
    // the library's terms (with their kind) are taken as they are; a kind that does not match is refused
    const libraryShaped = await request(app).post('/api/search').send({ terms: [{ kind: 'text', text: 'stadium', weight: 1 }], k: 1 });
    expect(libraryShaped.status, libraryShaped.text).toBe(200);
    const plain = await request(app).post('/api/search').send({ terms: [{ text: 'stadium' }], k: 1 });
    expect(libraryShaped.body.hits).toEqual(plain.body.hits);
    expect((await request(app).post('/api/search').send({ terms: [{ kind: 'id', text: 'stadium' }], k: 1 })).status).toBe(400);
  });

  it('POST /api/search/image takes a multipart upload or a raw image body', async () => {
    const bytes = readFileSync(path.join(fixture.archive, 'water/beach-b.png'));
    const multipart = await request(app).post('/api/search/image?k=3').attach('image', bytes, { filename: 'x.png', contentType: 'image/png' });
    expect(multipart.status, JSON.stringify(multipart.body)).toBe(200);
    expect(multipart.body.hits[0].path).toBe('water/beach-b.png');
    const raw = await request(app).post('/api/search/image').set('Content-Type', 'image/png').send(bytes);
    expect(raw.status).toBe(200);
    expect(raw.body.hits[0].path).toBe('water/beach-b.png');
  });

  it('GET /api/images/:id/similar leaves the image itself out', async () => {
    const res = await request(app).get(`/api/images/${id('water/river-a.png')}/similar`).query({ k: 2 });
    expect(res.status).toBe(200);
    expect(res.body.hits.map((h: { path: string }) => h.path)).toEqual(['water/river-a-copy.png', 'water/river-b.png']);
  });
});

describe('image routes', () => {
  it('GET /api/images/:id gives metadata and user fields, no absolute path', async () => {
    const res = await request(app).get(`/api/images/${id('green/park.png')}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: id('green/park.png'), path: 'green/park.png', fileName: 'park.png', format: 'png', fields: { label: 'forest', year: 2023 } });
    expect(JSON.stringify(res.body)).not.toContain(root);
  });

  it('GET /api/images/:id/thumbnail caches, sets ETag and Cache-Control, answers 304', async () => {
    const url = `/api/images/${id('city/parking-a.png')}/thumbnail`;
    const before = rendered;
    const first = await request(app).get(url).query({ size: 128 });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('image/webp');
    expect(first.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(first.body.subarray(0, 9).toString()).toBe('thumb128:');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"t128-/);
    const second = await request(app).get(url).query({ size: 128 });
    expect(second.status).toBe(200);
    expect(rendered).toBe(before + 1);
    const notModified = await request(app).get(url).query({ size: 128 }).set('If-None-Match', etag);
    expect(notModified.status).toBe(304);
    expectError(await request(app).get(url).query({ size: 100 }), 400, 'BAD_QUERY');
  });

  it('GET /api/images/:id/file sends the original file of the catalog', async () => {
    const res = await request(app).get(`/api/images/${id('city/airport-b.png')}/file`).buffer(true);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(res.body as Buffer, readFileSync(path.join(fixture.archive, 'city/airport-b.png')))).toBe(0);
  });

  it('answers 400 for ids that are not positive integers, including path traversal attempts, and 404 for unknown ids', async () => {
    for (const bad of ['abc', '0', '-1', '1.5', '%2e%2e', '..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '99999999999999']) {
      for (const suffix of ['', '/thumbnail', '/file', '/similar']) {
        const res = await request(app).get(`/api/images/${bad}${suffix}`);
        expectError(res, 400, 'BAD_QUERY');
      }
    }
    for (const traversal of ['/api/images/../../etc/passwd', '/api/images/1/../../../etc/passwd', '/api/images/1/file/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd']) {
      const res = await request(app).get(traversal);
      expect([400, 404], traversal).toContain(res.status);
      expect(res.text).not.toMatch(/root:/);
    }
    for (const suffix of ['', '/thumbnail', '/file', '/similar']) expectError(await request(app).get(`/api/images/4242${suffix}`), 404, 'NOT_FOUND');
  });
});

describe('service routes', () => {
  it('answers /healthz, /readyz, /api/stats and serves the web page', async () => {
    expect((await request(app).get('/healthz')).body).toMatchObject({ status: 'ok' });
    expect((await request(app).get('/readyz')).body).toMatchObject({ status: 'ready', images: 14 });
    const stats = await request(app).get('/api/stats');
    expect(stats.body).toMatchObject({ index: { images: { ok: 14 } }, meta: { embeddingDim: 8 }, model: { id: 'test/known-vectors' } });
    // "last update" on the start page: the last commit's time, after the index's creation
    expect(stats.body.index.lastChange).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(stats.body.index.lastChange)).toBeGreaterThanOrEqual(Date.parse(stats.body.meta.createdAt));
    expect(Date.parse(stats.body.index.lastChange)).toBeLessThanOrEqual(Date.now());
    const page = await request(app).get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
  });

  it('shows no absolute index or model directory in /api/stats', async () => {
    const stats = await request(app).get('/api/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.index).not.toHaveProperty('dir');
    expect(stats.body.meta).not.toHaveProperty('modelDir');
    expect(stats.body.meta).toMatchObject({ modelId: 'test/known-vectors', embeddingDim: 8 });
    expect(stats.text).not.toContain(root);
    expect(stats.text).not.toContain(fixture.encoder.info.dir);
  });

  it('keeps the index and model folders out of error answers, whatever the error says', async () => {
    const searcher = new Searcher(fixture.encoder, store);
    const failing = Object.assign(Object.create(searcher) as Searcher, {
      search: async () => {
        throw new RsclipError('INDEX_CORRUPT', `cannot read HNSW file ${path.join(store.describe().location, 'vectors.hnsw')}: bad magic`, { hint: `run rsclip doctor --index ${store.describe().location}` });
      },
    });
    const res = await request(createApp({ searcher: failing, store })).get('/api/search').query({ q: 'river' });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.body.error.message).toBe('cannot read HNSW file <index folder>/vectors.hnsw: bad magic');
    expect(res.body.error.hint).toBe('run rsclip doctor --index <index folder>');
    expect(res.text).not.toContain(root);
  });

  it('allows fonts from this server only (no https: source) in its content security policy', async () => {
    const csp = (await request(app).get('/')).headers['content-security-policy'] as string;
    expect(csp).toMatch(/(^|;)font-src 'self'(;|$)/);
    expect(csp).not.toMatch(/https:/);
  });

  it('answers /readyz 503 while the model loads', async () => {
    const loading = createApp({ searcher: new Searcher(fixture.encoder, store), store, isReady: () => false });
    expectError(await request(loading).get('/readyz'), 503, 'NOT_READY');
  });
});

describe('errors', () => {
  it('answers malformed queries with 400', async () => {
    const cases: [string, Record<string, string | number>][] = [
      ['/api/search', {}],
      ['/api/search', { q: '' }],
      ['/api/search', { q: '   ' }],
      ['/api/search', { q: 'river', k: -1 }],
      ['/api/search', { q: 'river', k: 0 }],
      ['/api/search', { q: 'river', k: 1e9 }],
      ['/api/search', { q: 'river', k: MAX_K + 1 }],
      ['/api/search', { q: 'river', k: 'ten' }],
      ['/api/search', { q: 'river', offset: -3 }],
      ['/api/search', { q: 'river', offset: 4999, k: 500 }],
      ['/api/search', { q: 'river', ef: 0 }],
      ['/api/search', { q: 'river', exact: 'maybe' }],
      ['/api/search', { q: 'river', cursor: 'nonsense' }],
      ['/api/search', { q: 'river', filter: 'nokey' }],
      ['/api/search', { q: 'river', filter: 'after=yesterday' }],
      ['/api/search', { q: 'river', unknown: 1 }],
      ['/api/search', { q: 'x'.repeat(5000) }],
    ];
    for (const [url, query] of cases) expectError(await request(app).get(url).query(query), 400, 'BAD_QUERY');
    // a parameter given twice is refused, not settled by keeping one of its values; so is an empty period
    for (const [query, message] of [
      ['q=river&q=lake', 'q: given 2 times: give it once'],
      ['q=river&k=1&k=1000', 'k: given 2 times: give it once'],
      ['q=river&exact=true&exact=false', 'exact: given 2 times: give it once'],
      ['q=river&collapse=1&collapse=0.5', 'collapse: given 2 times: give it once'],
      ['q=river&since=2021-01-01&until=2020-01-01', 'invalid filter "until=2020-01-01": until (2020-01-01T23:59:59.999Z) is before since (2021-01-01T00:00:00.000Z): no item can match'],
      // collapsing compares each hit with the groups before it: collapsed pages go less deep
      ['q=river&collapse=true&offset=990&k=20', 'with collapse, offset + k must be at most 1000, got 1010'],
    ] as const) {
      const res = await request(app).get(`/api/search?${query}`);
      expectError(res, 400, 'BAD_QUERY');
      expect(res.body.error.message, query).toContain(message);
    }
    // an integer is plain decimal digits, as on the command line: no exponent, fraction, hex or spaces
    const thumbnail = `/api/images/${id('water/river-a.png')}/thumbnail`;
    const locate = `/api/images/${id('water/river-a.png')}/locate`;
    for (const url of ['/api/search?q=river&k=1e3', '/api/search?q=river&k=2.0e0', '/api/search?q=river&k=%2010', '/api/search?q=river&k=10%20', '/api/search?q=river&k=0x10', '/api/search?q=river&k=2.0', '/api/search?q=river&k=%2B2', '/api/search?q=river&offset=1e1', '/api/search?q=river&ef=1e2', `${thumbnail}?size=2.56e2`, `${locate}?q=river&top=1e1`, `/api/images/${id('water/river-a.png')}/similar?k=1E1`]) {
      const res = await request(app).get(url);
      expectError(res, 400, 'BAD_QUERY');
      expect(res.body.error.message, url).toMatch(/: expected an integer in plain decimal digits \(not 1e3, 0x10, 2\.0 or with spaces\), got "/);
    }
    expect((await request(app).get('/api/search?q=river&k=010')).body.k).toBe(10);
    // a path parameter's problem is told as it is, not as a body's
    const badId = await request(app).get('/api/images/abc');
    expectError(badId, 400, 'BAD_QUERY');
    expect(badId.body.error.message).toBe('invalid image id: expected a positive integer id');
  });

  it('answers bad JSON bodies with 400, wrong content types with 415, unknown ids in terms with 404', async () => {
    expectError(await request(app).post('/api/search').set('Content-Type', 'application/json').send('{"terms": [{"text": "river"'), 400, 'BAD_REQUEST');
    for (const body of ['null', '"river"']) {
      const res = await request(app).post('/api/search').set('Content-Type', 'application/json').send(body);
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.message).toBe('the request body is not a JSON object or array (or not valid JSON)');
    }
    expectError(await request(app).post('/api/search').set('Content-Type', 'application/json; charset=latin1').send('{"terms": [{"text": "river"}]}'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    for (const body of [{}, { terms: [] }, { terms: [{ text: '' }] }, { terms: [{ path: '/etc/passwd' }] }, { terms: [{ image: '/etc/passwd' }] }, { terms: [{ text: 'a' }], k: -5 }, { terms: [{ text: 'river' }, { text: 'river', weight: -1 }] }, [1, 2]]) {
      expectError(await request(app).post('/api/search').send(body as object), 400, 'BAD_QUERY');
    }
    expectError(await request(app).post('/api/search').set('Content-Type', 'text/plain').send('river'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await request(app).post('/api/search').send({ terms: [{ id: 4242 }] }), 404, 'NOT_FOUND');
    expectError(await request(app).post('/api/search').send({ terms: [{ image: Buffer.from('not an image at all').toString('base64') }] }), 415, 'IMAGE_UNREADABLE');
  });

  it('answers uploads: 415 for non-images, 413 when too large, 400 when missing', async () => {
    expectError(await request(app).post('/api/search/image').attach('image', Buffer.from('%PDF-1.4 hello'), { filename: 'a.png', contentType: 'image/png' }), 415, 'IMAGE_UNREADABLE');
    expectError(await request(app).post('/api/search/image').set('Content-Type', 'image/jpeg').send(Buffer.from('plain text')), 415, 'IMAGE_UNREADABLE');
    expectError(await request(app).post('/api/search/image').set('Content-Type', 'text/plain').send('hello'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const big = makePng(7, 400, 400);
    expect(big.length).toBeGreaterThan(64 * 1024);
    expectError(await request(app).post('/api/search/image').attach('image', big, { filename: 'big.png', contentType: 'image/png' }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await request(app).post('/api/search/image').set('Content-Type', 'image/png').send(big), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await request(app).post('/api/search').send({ terms: [{ image: big.toString('base64') }] }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await request(app).post('/api/search/image').field('note', 'no file'), 400, 'BAD_QUERY');
    expectError(await request(app).post('/api/search/image').attach('other', Buffer.from('x'), 'x.png'), 400, 'BAD_REQUEST');
  });

  it('answers a POST that names its content type but sends no body (no Content-Length) with 400, as one with Content-Length: 0, not with a 415 that names the type it asked for', async () => {
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const cases: [string, string, RegExp][] = [
        ['/api/search/image?k=1', 'image/png', /no image in the request/],
        // an empty body is not a multipart form: with Content-Length: 0 busboy says so (BAD_REQUEST)
        ['/api/search/image?k=1', 'multipart/form-data; boundary=x', /no image in the request|malformed multipart body: Unexpected end of form/],
        ['/api/search', 'application/json', /invalid search request/],
        [`/api/images/${id('water/river-a.png')}/locate`, 'image/png', /no query image in the request/],
      ];
      for (const [url, contentType, message] of cases) {
        for (const length of ['', 'Content-Length: 0\r\n']) {
          const answer = await rawRequest(port, `POST ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\n${length}Connection: close\r\n\r\n`);
          const what = `${url} ${contentType} ${length || 'no Content-Length'}`;
          expect(answer.status, `${what}: ${answer.body}`).toBe(400);
          expect(JSON.parse(answer.body).error, what).toMatchObject({ code: expect.stringMatching(/^BAD_(QUERY|REQUEST)$/), message: expect.stringMatching(message) });
        }
      }
    } finally {
      server.close();
    }
  });

  it('answers a multipart body without a boundary, or with one the body does not follow, with 400', async () => {
    for (const contentType of ['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="open', 'multipart/form-data; boundary=xyz']) {
      const res = await request(app).post('/api/search/image').set('Content-Type', contentType).send('--abc\r\nContent-Disposition: form-data; name="image"\r\n\r\nxx');
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.message, contentType).toMatch(/multipart/i);
    }
  });

  it('refuses SVG queries (415) and query images over the query pixel limit (413) before decoding them, in uploads and JSON', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="13000" height="13000"/>');
    const bomb = makePngBomb(13_000, 13_000);
    const svgUpload = await request(app).post('/api/search/image').attach('image', svg, { filename: 'q.svg', contentType: 'image/svg+xml' });
    expectError(svgUpload, 415, 'IMAGE_UNREADABLE');
    expect(svgUpload.body.error.message).toMatch(/SVG, a vector format, which is not accepted as a query image/);
    expectError(await request(app).post('/api/search/image').set('Content-Type', 'image/svg+xml').send(Buffer.concat([Buffer.from('\ufeff  \n'), svg])), 415, 'IMAGE_UNREADABLE');
    const bombUpload = await request(app).post('/api/search/image').set('Content-Type', 'image/png').send(bomb);
    expectError(bombUpload, 413, 'IMAGE_TOO_LARGE');
    expect(bombUpload.body.error.message).toMatch(/13000x13000 = 169000000 pixels, more than the limit of 16777216 for a query image/);
    expectError(await request(app).post('/api/search').send({ terms: [{ image: bomb.toString('base64') }] }), 413, 'IMAGE_TOO_LARGE');
    expectError(await request(app).post('/api/search').send({ terms: [{ text: 'river' }, { image: svg.toString('base64') }] }), 415, 'IMAGE_UNREADABLE');
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    expectError(await request(app).get('/api/nope'), 404, 'NOT_FOUND');
    expectError(await request(app).get('/nope.html'), 404, 'NOT_FOUND');
    const wrong = await request(app).delete('/api/search');
    expectError(wrong, 405, 'METHOD_NOT_ALLOWED');
    expect(wrong.headers.allow).toBe('GET, POST, HEAD');
    expectError(await request(app).put(`/api/images/${id('green/park.png')}`), 405, 'METHOD_NOT_ALLOWED');
    expectError(await request(app).get('/api/search/image'), 405, 'METHOD_NOT_ALLOWED');
  });

  it('needs the token when one is set: Bearer header or ?token=, 401 otherwise', async () => {
    expectError(await request(secured).get('/api/search').query({ q: 'river' }), 401, 'UNAUTHORIZED');
    expectError(await request(secured).get('/api/search').query({ q: 'river' }).set('Authorization', 'Bearer wrong'), 401, 'UNAUTHORIZED');
    expectError(await request(secured).get(`/api/images/${id('green/park.png')}/thumbnail?token=nope`), 401, 'UNAUTHORIZED');
    expect((await request(secured).get('/api/search').query({ q: 'river' }).set('Authorization', 'Bearer s3cret')).status).toBe(200);
    expect((await request(secured).get(`/api/images/${id('green/park.png')}/thumbnail?token=s3cret`)).status).toBe(200);
    expect((await request(secured).get('/api/openapi.json').set('Authorization', 'Bearer s3cret')).status).toBe(200);
  });

  it('with a token set, leaves only /healthz and the web page files open: /readyz, stats and the API description need it', async () => {
    for (const url of ['/readyz', '/api/stats', '/api/openapi.json', `/api/images/${id('green/park.png')}`, `/api/images/${id('green/park.png')}/file`]) {
      expectError(await request(secured).get(url), 401, 'UNAUTHORIZED');
    }
    expect((await request(secured).get('/readyz').set('Authorization', 'Bearer s3cret')).body).toMatchObject({ status: 'ready', images: 14 });
    expect((await request(secured).get('/healthz')).status).toBe(200);
    for (const asset of ['/', '/app.js', '/app.css']) expect((await request(secured).get(asset)).status, asset).toBe(200);
  });

  it('keeps serving after all of the above', async () => {
    const res = await request(app).get('/api/search').query({ q: 'forest', k: 1 });
    expect(res.status).toBe(200);
    expect(res.body.hits[0].fields.label).toBe('forest');
  });
});
