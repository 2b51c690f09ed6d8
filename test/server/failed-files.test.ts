/**
 * GET /api/failed names files as every other answer does: by their archive-relative path. The
 * indexer stores a failure's error text with the absolute path it read; the answer writes it
 * relative to the archive, and the archive folder itself as `<archive folder>`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { makePng } from '../fixtures/images.js';
import { indexInto } from '../fixtures/index-into.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

let root: string;
let archive: string;
let store: IndexStore;
const encoder = new FakeEncoder();

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-failed-files-'));
  archive = path.join(root, 'archive');
  mkdirSync(path.join(archive, 'sub'), { recursive: true });
  writeFileSync(path.join(archive, 'good.png'), makePng(1, 40, 40));
  writeFileSync(path.join(archive, 'notimage.jpg'), 'this is not a JPEG');
  writeFileSync(path.join(archive, 'sub', 'cut.png'), makePng(2, 40, 40).subarray(0, 60));
  await indexInto({ roots: [archive], index: path.join(root, 'index'), model: encoder });
  store = await openIndex(path.join(root, 'index'), { readonly: true });
  // a failure recorded by another indexer, whose text names the file, a file beside it and the root
  await openIndex(path.join(root, 'index-2'), { model: encoder.info, create: true }).then(async (other) => {
    const file = { root: archive, path: 'a/b.tif', bytes: 1, mtimeMs: 1, contentHash: 'x', width: null, height: null, format: null };
    await other.commit([{ kind: 'fail', file, error: `cannot read ${path.join(archive, 'a/b.tif')}: its world file ${path.join(archive, 'a/b.tfw')} is broken (under ${archive})` }]);
    await other.close();
  });
}, 60_000);
afterAll(async () => {
  await store?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

it('lists failed files with errors that name them by their archive-relative path', async () => {
  const res = await request(createApp({ searcher: new Searcher(encoder, store), store })).get('/api/failed');
  expect(res.status, res.text).toBe(200);
  expect(res.body.total).toBe(2);
  expect(res.body.files.map((f: { path: string }) => f.path).sort()).toEqual(['notimage.jpg', 'sub/cut.png']);
  expect(res.text).not.toContain(root);

  const other = await openIndex(path.join(root, 'index-2'), { readonly: true });
  try {
    const answer = await request(createApp({ searcher: new Searcher(encoder, other), store: other })).get('/api/failed');
    expect(answer.body.files).toEqual([{ path: 'a/b.tif', error: 'cannot read a/b.tif: its world file a/b.tfw is broken (under <archive folder>)', indexed: expect.any(String) }]);
  } finally {
    await other.close();
  }
});
