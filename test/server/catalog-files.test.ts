/**
 * /file and /thumbnail hand out only what was indexed (issue 10, items 11-13): a regular file under
 * the archive root with the catalog's size and mtime. A file swapped for a symbolic link that
 * leads out of the archive, a path that became a directory, a file changed since indexing:
 * each answers 404/409 with a re-index hint and never the bytes, and no answer names an
 * absolute path.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
let app: Application;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-catalog-files-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
  // the real thumbnailer (sharp), whose errors name the file it read
  app = createApp({ searcher: new Searcher(fixture.encoder, store), store });
});
afterAll(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

const id = (rel: string): number => fixture.ids.get(rel)!;
const file = (rel: string): string => path.join(fixture.archive, rel);
/** Rewrites `rel` with `bytes`, keeping the modification time the catalog recorded. */
function rewriteKeepingMtime(rel: string, bytes: Buffer): void {
  const { mtime } = statSync(file(rel));
  writeFileSync(file(rel), bytes);
  utimesSync(file(rel), mtime, mtime);
}

function expectRefusal(res: request.Response, status: number, code: string, message: RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error).toMatchObject({ code, message: expect.stringMatching(message), hint: expect.stringMatching(/rsclip index/) });
  expect(res.text).not.toContain(root);
}

describe('files the server hands out', () => {
  it('sends an unchanged file with its type, length and validators; HEAD and conditional GETs work', async () => {
    const url = `/api/images/${id('city/airport-b.png')}/file`;
    const res = await request(app).get(url).buffer(true);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(res.body as Buffer, readFileSync(file('city/airport-b.png')))).toBe(0);
    expect(Number(res.headers['content-length'])).toBe(statSync(file('city/airport-b.png')).size);
    const head = await request(app).head(url);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(res.headers['content-length']);
    expect((await request(app).get(url).set('If-None-Match', res.headers.etag as string)).status).toBe(304);
  });

  it('does not follow a file swapped for a symbolic link that leads out of the archive (404, re-index hint)', async () => {
    const secret = path.join(root, 'shadow');
    writeFileSync(secret, 'root:SECRET-HASH:19000:0:99999:7:::\n');
    const rel = 'city/parking-b.png';
    unlinkSync(file(rel));
    symlinkSync(secret, file(rel));
    for (const suffix of ['/file', '/thumbnail']) {
      const res = await request(app).get(`/api/images/${id(rel)}${suffix}`).buffer(true);
      expectRefusal(res, 404, 'NOT_FOUND', /the file city\/parking-b\.png now leads outside its archive folder/);
      expect(res.text).not.toContain('SECRET');
    }
  });

  it('sends a file behind a link out of the archive when served with followLinks (an index made with --follow-links), still checking size and time', async () => {
    const far = path.join(root, 'elsewhere.png');
    const rel = 'city/parking-a.png';
    writeFileSync(far, readFileSync(file(rel)));
    const { mtime } = statSync(file(rel));
    utimesSync(far, mtime, mtime);
    unlinkSync(file(rel));
    symlinkSync(far, file(rel));
    const following = createApp({ searcher: new Searcher(fixture.encoder, store), store, followLinks: true });
    const res = await request(following).get(`/api/images/${id(rel)}/file`).buffer(true);
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body as Buffer, readFileSync(far))).toBe(0);
    expectRefusal(await request(app).get(`/api/images/${id(rel)}/file`), 404, 'NOT_FOUND', /now leads outside its archive folder/);
    writeFileSync(far, 'changed');
    expectRefusal(await request(following).get(`/api/images/${id(rel)}/file`), 409, 'FILE_CHANGED', /changed on disk/);
  });

  it('answers 409 for a path that became a directory (it used to be EISDIR, a 500)', async () => {
    const rel = 'green/forest-a.png';
    unlinkSync(file(rel));
    mkdirSync(file(rel));
    for (const suffix of ['/file', '/thumbnail']) {
      expectRefusal(await request(app).get(`/api/images/${id(rel)}${suffix}`), 409, 'FILE_CHANGED', /is no longer a regular file \(it is a directory now\)/);
    }
  });

  it.skipIf(process.platform === 'win32')('answers 409 at once for a path that became a FIFO (opening it waited for a writer, stalling every file route)', async () => {
    const rel = 'green/forest-b.png';
    unlinkSync(file(rel));
    execFileSync('mkfifo', [file(rel)]);
    try {
      for (const suffix of ['/file', '/thumbnail']) {
        expectRefusal(await request(app).get(`/api/images/${id(rel)}${suffix}`).timeout(5_000), 409, 'FILE_CHANGED', /is no longer a regular file \(it is a special file now\)/);
      }
    } finally {
      // a reader still waiting on it (the bug) is let go
      try {
        closeSync(openSync(file(rel), constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader waits: nothing to let go
      }
    }
  });

  it('answers 409 for a file changed since indexing, and 404 for one that is gone', async () => {
    writeFileSync(file('water/beach-a.png'), 'a different file altogether');
    expectRefusal(await request(app).get(`/api/images/${id('water/beach-a.png')}/file`), 409, 'FILE_CHANGED', /the file water\/beach-a\.png changed on disk since it was indexed/);
    unlinkSync(file('water/beach-b.png'));
    expectRefusal(await request(app).get(`/api/images/${id('water/beach-b.png')}/file`), 404, 'NOT_FOUND', /the file water\/beach-b\.png is no longer on disk/);
  });

  it('answers a revalidation (If-None-Match with the old ETag) of a file changed since indexing with 409, not 304, for the thumbnail and the overview as for the file', async () => {
    const rel = 'city/airport-a.png';
    const etags: Record<string, string> = {};
    for (const suffix of ['/thumbnail', '/file', '/overview']) {
      const res = await request(app).get(`/api/images/${id(rel)}${suffix}`);
      expect(res.status).toBe(200);
      etags[suffix] = res.headers.etag as string;
      expect((await request(app).get(`/api/images/${id(rel)}${suffix}`).set('If-None-Match', etags[suffix])).status).toBe(304);
    }
    // a browser that cached the old thumbnail would keep showing it on a 304
    writeFileSync(file(rel), Buffer.concat([readFileSync(file(rel)), Buffer.from('xx')]));
    for (const suffix of ['/thumbnail', '/file', '/overview']) {
      expectRefusal(await request(app).get(`/api/images/${id(rel)}${suffix}`).set('If-None-Match', etags[suffix]!), 409, 'FILE_CHANGED', /the file city\/airport-a\.png changed on disk since it was indexed/);
    }
  });

  it('names the archive-relative path, never an absolute one, when a thumbnail cannot be made', async () => {
    const rel = 'city/stadium-a.png';
    rewriteKeepingMtime(rel, Buffer.alloc(statSync(file(rel)).size, 0x41));
    const res = await request(app).get(`/api/images/${id(rel)}/thumbnail`);
    expect(res.status, JSON.stringify(res.body)).toBe(415);
    expect(res.body.error.message).toContain(rel);
    expect(res.text).not.toContain(root);
  });
});
