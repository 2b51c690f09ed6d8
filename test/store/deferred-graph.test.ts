/**
 * A reader that defers its graph (`rsclip errors`) reads the catalog without opening the graph
 * file, and opens it once, as of that moment's commit, when a search or a count first needs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type * as Engines from '../../src/store/engines.js';
import { openIndex, type CatalogChange } from '../../src/store/index.js';
import { axis, MODEL, newFile } from './backends.js';

const opened = vi.hoisted(() => ({ graphs: 0 }));
vi.mock('../../src/store/engines.js', async (importOriginal) => {
  const engines = await importOriginal<typeof Engines>();
  return {
    ...engines,
    loadGraph: (...args: Parameters<typeof engines.loadGraph>) => {
      opened.graphs++;
      return engines.loadGraph(...args);
    },
  };
});

let parent: string;
let location: string;

beforeEach(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-deferred-'));
  location = path.join(parent, 'index');
  opened.graphs = 0;
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

const puts = (from: number, count: number): CatalogChange[] => Array.from({ length: count }, (_, i) => ({ kind: 'put', file: newFile(`${from + i}.jpg`), vector: axis(from + i) }));

it('lists failed files without opening the graph, and opens it once when a search needs it', async () => {
  const writer = await openIndex(location, { model: MODEL, create: true });
  await writer.commit([...puts(0, 5), { kind: 'fail', file: newFile('broken.jpg'), error: 'not an image' }]);
  await writer.flush();
  opened.graphs = 0;

  const reader = await openIndex(location, { readonly: true, deferGraph: true, refreshIntervalMs: 0 });
  try {
    expect((await reader.listFiles('error')).map((f) => [f.path, f.error])).toEqual([['broken.jpg', 'not an image']]);
    expect(await reader.countFiles('ok')).toBe(5);
    expect(opened.graphs).toBe(0);

    // committed after the reader opened: the graph, opened now, holds it
    const [late] = await writer.commit(puts(5, 1));
    expect((await reader.search(axis(5), 1))[0]!.id).toBe(late!.itemIds[0]);
    expect(await reader.countItems()).toBe(6);
    expect(opened.graphs).toBe(1);
  } finally {
    await reader.close();
    await writer.close();
  }

  // the default opens it with the index
  const eager = await openIndex(location, { readonly: true });
  await eager.close();
  expect(opened.graphs).toBe(2);
});
