/**
 * Folder and path filters on every back end: a folder filter selects the files under a folder
 * (its sub-folders included) and no file whose path only starts alike; a path glob is read as the
 * catalog writes its paths (a leading "/" or "./", a trailing "/" and doubled slashes go). Both
 * read their candidates off an index of the paths when the filter names a folder, instead of
 * testing every path (214 ms at 1M files): SQLite's (root, path) index under each root,
 * PostgreSQL's files_path, made with a new index and added to an older one by its next writer.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterToSql, registerFilterFunctions, selectedIdsSql } from '../../src/store/embedded/catalog-filter.js';
import { migrate } from '../../src/store/embedded/schema.js';
import type { CatalogFilter, IndexStore } from '../../src/store/index.js';
import { numbered, selectionToSql } from '../../src/store/postgres/filter-sql.js';
import { axis, BACKENDS, MODEL, newFile, POSTGRES_BACKENDS, withDatabase } from './backends.js';

/** Paths under two roots; the folder `a/b` holds the first four (its sub-folders included). */
const FILES = [
  ['/archive', 'a/b/1.jpg'],
  ['/archive', 'a/b/c/2.jpg'],
  ['/archive', 'a/b/é/3.jpg'],
  ['/other', 'a/b/4.jpg'],
  ['/archive', 'a/b0/5.jpg'],
  ['/archive', 'a/b-c/6.jpg'],
  ['/archive', 'a/b.jpg'],
  ['/archive', 'a/bc/7.jpg'],
  ['/archive', 'a/8.jpg'],
  ['/archive', 'a'],
  ['/archive', 'a.jpg'],
  ['/archive', 'x/a.jpg'],
  ['/other', 'é/9.jpg'],
  ['/archive', 'é0/10.jpg'],
  ['/archive', 'éa/11.jpg'],
] as const;
const UNDER_A_B = ['/archive:a/b/1.jpg', '/archive:a/b/c/2.jpg', '/archive:a/b/é/3.jpg', '/other:a/b/4.jpg'];

async function filledStore(open: () => Promise<IndexStore>): Promise<IndexStore> {
  const store = await open();
  await store.commit(FILES.map(([root, rel], i) => ({ kind: 'put', file: newFile(rel, { root, contentHash: `${root}/${rel}` }), vector: axis(i) })));
  return store;
}

async function pathsOf(store: IndexStore, filter: CatalogFilter): Promise<string[]> {
  const items = await store.getItems(await store.listItemIds({ filter }));
  return items.map((item) => `${item.file.root}:${item.file.path}`).sort();
}

describe.each(BACKENDS)('folder and path filters: $name', (backend) => {
  beforeAll(() => backend.start?.());
  afterAll(() => backend.stop?.());

  it('take the folder and its sub-folders under every root, and no neighbour that starts alike', async () => {
    const { location, dispose } = backend.newLocation();
    const store = await filledStore(() => backend.open(location, { model: MODEL, create: true }));
    try {
      const under = (folder: string) => pathsOf(store, { folder });
      expect(await under('a/b')).toEqual(UNDER_A_B);
      for (const written of ['/a/b/', './a/b', 'a//b', 'a\\b']) expect(await under(written), written).toEqual(UNDER_A_B);
      expect(await under('.')).toHaveLength(FILES.length);
      expect(await under('a/b/é')).toEqual(['/archive:a/b/é/3.jpg']);
      expect(await under('é')).toEqual(['/other:é/9.jpg']);
      expect(await under('a/b0')).toEqual(['/archive:a/b0/5.jpg']);
      expect(await under('a/b.jpg')).toEqual([]);
      expect((await under('a')).length).toBe(9);
      expect(await store.countItems({ filter: { folder: 'a/b' } })).toBe(4);
    } finally {
      await store.close();
      await dispose();
    }
  });

  it('read a path glob as the paths are written, and match what picomatch matches', async () => {
    const { location, dispose } = backend.newLocation();
    const store = await filledStore(() => backend.open(location, { model: MODEL, create: true }));
    try {
      const glob = (pathGlob: string) => pathsOf(store, { pathGlob });
      for (const written of ['a/b/**', '/a/b/**', './a/b/**', 'a//b/**', 'a/b/**/']) expect(await glob(written), written).toEqual(UNDER_A_B);
      // picomatch's a/** matches the file a too
      expect((await glob('a/**')).length).toBe(10);
      expect(await glob('a/b*/*.jpg')).toEqual(['/archive:a/b-c/6.jpg', '/archive:a/b/1.jpg', '/archive:a/b0/5.jpg', '/archive:a/bc/7.jpg', '/other:a/b/4.jpg']);
      // a slash makes it a path: the a.jpg at the top, not every a.jpg
      expect(await glob('/a.jpg')).toEqual(['/archive:a.jpg']);
      expect(await glob('a.jpg')).toEqual(['/archive:a.jpg', '/archive:x/a.jpg']);
      expect(await glob('é/*')).toEqual(['/other:é/9.jpg']);
    } finally {
      await store.close();
      await dispose();
    }
  });
});

describe('folder and path filters: SQLite', () => {
  it('read the files of a folder, or of the folder a glob starts with, off the (root, path) index under each root', () => {
    const db = new Database(':memory:');
    migrate(db, ':memory:');
    registerFilterFunctions(db);
    const plan = (filter: CatalogFilter) => {
      const { where, params } = filterToSql(filter);
      return (db.prepare(`EXPLAIN QUERY PLAN ${selectedIdsSql(where)}`).all(...params) as { detail: string }[]).map((row) => row.detail);
    };
    for (const filter of [{ folder: 'a/b' }, { pathGlob: 'a/b/**/*.jpg' }, { pathGlob: '/a/*.jpg' }]) {
      expect(plan(filter), JSON.stringify(filter)).toContainEqual(expect.stringMatching(/^SEARCH f USING (COVERING )?INDEX sqlite_autoindex_files_1 \(root=\? AND path>\? AND path<\?\)/));
    }
    // no folder to start from: every path is tested
    expect(plan({ pathGlob: '**/a/*.jpg' })).not.toContainEqual(expect.stringMatching(/sqlite_autoindex_files_1 \(root=/));
    db.close();
  });
});

describe.each(POSTGRES_BACKENDS)('folder and path filters: $name', (backend) => {
  beforeAll(() => backend.start!());
  afterAll(() => backend.stop!());

  it('read the files of a folder, or of the folder a glob starts with, off files_path, which a writer adds to an index made before it', async () => {
    const { location, dispose } = backend.newLocation();
    try {
      const store = await filledStore(() => backend.open(location, { model: MODEL, create: true }));
      // enough other files for the planner to prefer an index to reading the table
      await store.commit(Array.from({ length: 2000 }, (_, i) => ({ kind: 'put', file: newFile(`z/${i}.jpg`), vector: axis(i) })));
      await store.close();
      const planOf = (filter: CatalogFilter) =>
        withDatabase(location, async (client, schema) => {
          const { where, params } = await selectionToSql({ filter }, async () => []);
          await client.query(`SET search_path = "${schema}"; ANALYZE files`);
          const rows = await client.query<{ 'QUERY PLAN': string }>(numbered(`EXPLAIN SELECT it.id FROM items it JOIN files f ON f.id = it.file_id WHERE ${where}`), params);
          return rows.rows.map((row) => row['QUERY PLAN']).join('\n');
        });
      const planOfFolder = () => planOf({ folder: 'a/b' });
      expect(await planOfFolder()).toMatch(/Scan (using|on) files_path/);
      expect(await planOf({ pathGlob: '/a/b/*.jpg' })).toMatch(/Scan (using|on) files_path/);
      await withDatabase(location, (client, schema) => client.query(`DROP INDEX "${schema}".files_path`));
      expect(await planOfFolder()).not.toMatch(/files_path/);
      const reader = await backend.open(location, { readonly: true });
      expect(await pathsOf(reader, { folder: 'a/b' })).toEqual(UNDER_A_B);
      await reader.close();
      await (await backend.open(location, { model: MODEL })).close();
      expect(await planOfFolder()).toMatch(/Scan (using|on) files_path/);
    } finally {
      await dispose();
    }
  });
});
