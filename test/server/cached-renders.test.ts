/**
 * Thumbnails and overviews come from a cache, but the file is checked on every request: once it
 * is deleted, or turned into a symbolic link that leads out of the archive, a thumbnail or an
 * overview rendered before is refused like the file itself (404, re-index hint), and the cache
 * still spares the decode of an unchanged file.
 */
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp, type Thumbnailer } from '../../src/server/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
/** A file outside the archive that links lead to. */
let secret: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-cached-renders-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
  secret = path.join(root, 'secret.png');
  writeFileSync(secret, 'SECRET');
});
afterAll(async () => {
  await store?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const id = (rel: string): number => fixture.ids.get(rel)!;
const file = (rel: string): string => path.join(fixture.archive, rel);

function expectRefused(res: request.Response, message: RegExp): void {
  expect(res.status, res.text).toBe(404);
  expect(res.body.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(message), hint: expect.stringMatching(/rsclip index/) });
  expect(res.text).not.toContain(root);
  expect(res.text).not.toContain('SECRET');
}

describe('cached renders of archive files', () => {
  it('refuse a thumbnail whose file was deleted or turned into a link out of the archive, and render an unchanged one once', async () => {
    let renders = 0;
    const thumbnailer: Thumbnailer = async () => {
      renders++;
      return { data: Buffer.from('webp'), contentType: 'image/webp' };
    };
    const app = createApp({ searcher: new Searcher(fixture.encoder, store), store, thumbnailer });
    const thumbnail = (rel: string) => request(app).get(`/api/images/${id(rel)}/thumbnail`);
    for (const rel of ['city/stadium-a.png', 'city/stadium-b.png', 'green/forest-a.png']) expect((await thumbnail(rel)).status).toBe(200);
    expect(renders).toBe(3);
    expect((await thumbnail('green/forest-a.png')).status).toBe(200);
    expect(renders).toBe(3);

    unlinkSync(file('city/stadium-a.png'));
    expectRefused(await thumbnail('city/stadium-a.png'), /the file city\/stadium-a\.png is no longer on disk/);
    unlinkSync(file('city/stadium-b.png'));
    symlinkSync(secret, file('city/stadium-b.png'));
    expectRefused(await thumbnail('city/stadium-b.png'), /the file city\/stadium-b\.png now leads outside its archive folder/);
    expect(renders).toBe(3);
  });

  it('refuse an overview whose file was deleted or turned into a link out of the archive', async () => {
    const app = createApp({ searcher: new Searcher(fixture.encoder, store), store });
    const overview = (rel: string) => request(app).get(`/api/images/${id(rel)}/overview?size=256`);
    const cached = async () => (await request(app).get('/api/stats')).body.thumbnailCache.entries as number;
    for (const rel of ['water/beach-a.png', 'water/beach-b.png']) expect((await overview(rel)).status).toBe(200);
    expect(await cached()).toBe(2);

    unlinkSync(file('water/beach-a.png'));
    expectRefused(await overview('water/beach-a.png'), /the file water\/beach-a\.png is no longer on disk/);
    unlinkSync(file('water/beach-b.png'));
    symlinkSync(secret, file('water/beach-b.png'));
    expectRefused(await overview('water/beach-b.png'), /the file water\/beach-b\.png now leads outside its archive folder/);
  });
});
