/**
 * A reader of an ivf index (its vectors read after the open, ivf-index.ts) whose file is cut
 * under it: the searches that need what it could not read fail as INDEX_CORRUPT, then the reader
 * opens the file again (here: builds the graph from the catalog, the file being damaged) and
 * answers as exact search does; closing the store lets go of the file.
 */
import { readdirSync, readlinkSync, rmSync, statSync, truncateSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { openIndex, type CatalogChange } from '../../src/store/index.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

const DIM = 64;
const ITEMS = 40_000;
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-ivf-reader-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Descriptors of this process open on `file`. */
function openDescriptors(file: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;
}

it.skipIf(process.platform !== 'linux')("opens its file again when it can no longer read it, and lets go of it when closed [reads /proc]", async () => {
  const model = new FakeEncoder({ dim: DIM }).info;
  const index = path.join(work, 'index');
  const writer = await openIndex(index, { model, create: true, engine: { name: 'ivf' } });
  const random = seededRandom(3);
  const centres = Array.from({ length: 50 }, () => Float32Array.from({ length: DIM }, () => random() * 2 - 1));
  for (let start = 0; start < ITEMS; start += 5000) {
    const changes: CatalogChange[] = Array.from({ length: 5000 }, (_, i) => {
      const n = start + i;
      const vector = Float32Array.from(centres[n % centres.length]!, (x) => x + 0.3 * (random() * 2 - 1));
      return { kind: 'put', file: { root: work, path: `f${n}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${n}`, width: 1, height: 1, format: 'png' }, vector };
    });
    await writer.commit(changes);
  }
  await writer.close();
  const file = path.join(index, 'vectors.hnsw');
  const query = Float32Array.from({ length: DIM }, () => random() * 2 - 1);

  const reader = await openIndex(index, { readonly: true });
  const exact = await reader.search(query, 10, { exact: true });
  expect((await reader.search(query, 10)).map((r) => r.id)).toEqual(exact.map((r) => r.id));
  // cut in place while the reader still reads the lists no search needed yet
  truncateSync(file, Math.floor(statSync(file).size / 20));
  await expect(reader.search(query, 10, { ef: 4096 })).rejects.toMatchObject({ code: 'INDEX_CORRUPT' });
  const again = await reader.search(query, 10, { ef: 4096 });
  expect(again.map((r) => r.id)).toEqual(exact.map((r) => r.id));
  expect((await reader.stats()).details).toMatchObject({ graphFileReloads: 1 });
  expect(openDescriptors(file)).toBe(0);
  await reader.close();

  // a reader closed while it still reads its file lets go of it at once
  const writerAgain = await openIndex(index, {});
  await writerAgain.close();
  const closing = await openIndex(index, { readonly: true });
  await closing.search(query, 10);
  expect(openDescriptors(file)).toBe(1);
  await closing.close();
  expect(openDescriptors(file)).toBe(0);
}, 120_000);
