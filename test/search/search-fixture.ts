/**
 * The search fixture index (fixture.ts) built in a temporary folder before a test file's tests,
 * opened with a Searcher over it, and closed and removed after them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { buildTestIndex, type TestIndex } from './fixture.js';

export interface OpenSearchFixture {
  /** The temporary folder: the archive and the index are in it; a test may add its own files. */
  root: string;
  fixture: TestIndex;
  store: IndexStore;
  searcher: Searcher;
}

/** Registers the hooks that build the fixture (in a folder named after `prefix`) and remove it; `use` receives it once built. */
export function withSearchFixture(prefix: string, use: (open: OpenSearchFixture) => void): void {
  let open: OpenSearchFixture | undefined;
  beforeAll(async () => {
    const root = mkdtempSync(path.join(tmpdir(), prefix));
    const fixture = await buildTestIndex(root);
    const store = await fixture.open();
    open = { root, fixture, store, searcher: new Searcher(fixture.encoder, store) };
    use(open);
  });
  afterAll(async () => {
    if (!open) return;
    await open.store.close();
    rmSync(open.root, { recursive: true, force: true });
  });
}
