/**
 * "More like this" (#ID, the API's /similar) leaves out the item it starts from, and so its
 * byte-identical copies: with copies folded, identical bytes are one result. Without folding,
 * a copy is a result of its own.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
let store: IndexStore;
let searcher: Searcher;
let itemOf: (name: string) => number;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-more-like-'));
  const archive = path.join(root, 'archive');
  mkdirSync(archive);
  for (const [name, seed] of [['a.png', 1], ['b.png', 2], ['c.png', 3], ['d.png', 4]] as const) writeFileSync(path.join(archive, name), makePng(seed, 64, 48));
  copyFileSync(path.join(archive, 'a.png'), path.join(archive, 'a-copy.png'));
  const encoder = new FakeEncoder();
  await indexInto({ roots: [archive], index: path.join(root, 'index'), model: encoder });
  store = await openIndex(path.join(root, 'index'), { readonly: true });
  searcher = new Searcher(encoder, store);
  const items = await store.getItems(await store.listItemIds());
  itemOf = (name) => items.find((i) => path.basename(i.file.path) === name)!.id;
}, 120_000);
afterAll(async () => {
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

it('leaves out the item #ID names and its byte-identical copy, in the library and over HTTP', async () => {
  const id = itemOf('a.png');
  const page = await searcher.search({ terms: [{ kind: 'id', id, weight: 1 }], k: 10 });
  expect(page.hits.map((h) => path.basename(h.path)).sort()).toEqual(['b.png', 'c.png', 'd.png']);
  const similar = await request(createApp({ searcher, store })).get(`/api/images/${id}/similar`).query({ k: 10 });
  expect(similar.status, JSON.stringify(similar.body)).toBe(200);
  expect((similar.body.hits as { path: string }[]).map((h) => path.basename(h.path)).sort()).toEqual(['b.png', 'c.png', 'd.png']);
  // starting from the copy, the original is left out the same way
  const fromCopy = await searcher.search({ terms: [{ kind: 'id', id: itemOf('a-copy.png'), weight: 1 }], k: 10 });
  expect(fromCopy.hits.map((h) => path.basename(h.path)).sort()).toEqual(['b.png', 'c.png', 'd.png']);
});

it('keeps the copy as a result of its own when copies are not folded', async () => {
  const page = await searcher.search({ terms: [{ kind: 'id', id: itemOf('a.png'), weight: 1 }], k: 10, foldCopies: false });
  expect(page.hits[0]).toMatchObject({ score: expect.closeTo(1, 5) });
  expect(path.basename(page.hits[0]!.path)).toBe('a-copy.png');
  expect(page.hits).toHaveLength(4);
});
