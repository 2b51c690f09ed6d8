/** The SQLite compiler of filters and selections, run against an in-memory catalog. */
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { filterToSql, selectionToSql, sqlGlobMatch } from '../../src/store/embedded/catalog-filter.js';
import { migrate } from '../../src/store/embedded/schema.js';
import type { CatalogFilter, ItemSelection } from '../../src/store/index.js';

let db: Database.Database;

beforeAll(() => {
  db = new Database(':memory:');
  migrate(db, ':memory:');
  db.function('glob_match', { deterministic: true }, sqlGlobMatch);
  const insert = db.prepare(
    'INSERT INTO files (id, root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, indexed_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)',
  );
  const item = db.prepare("INSERT INTO items (id, file_id, key, x, y, width, height, scale, seq) VALUES (?, ?, 'whole', 0, 0, 1, 1, 1, 0)");
  const rows: [number, string, number, number, number, string, string][] = [
    // id, path, bytes, mtime, width, format, status
    [1, 'coast/a.jpg', 10, Date.UTC(2020, 0, 1), 100, 'jpeg', 'ok'],
    [2, 'coast/deep/b.png', 5000, Date.UTC(2020, 5, 1), 1000, 'png', 'ok'],
    [3, 'inland/c.tif', 700, Date.UTC(2021, 0, 1), 500, 'tiff', 'ok'],
    [4, "it's/d.jpg", 700, Date.UTC(2021, 0, 1), 500, 'jpeg', 'ok'],
    [5, 'coast/e.jpg', 700, Date.UTC(2021, 0, 1), 500, 'jpeg', 'removed'],
  ];
  for (const [id, p, bytes, mtime, width, format, status] of rows) {
    insert.run(id, '/r', p, p.split('/').pop(), bytes, mtime, `h${id}`, width, width, format, status);
    item.run(id, id);
  }
  // a STAC scene acquired over January 2021, with a property of its own
  db.prepare('UPDATE files SET time_start = ?, time_end = ? WHERE id = 3').run(Date.UTC(2021, 0, 1), Date.UTC(2021, 0, 31));
  db.prepare("INSERT INTO file_fields (file_id, name, value_text, value_num) VALUES (3, 'cloud', '0.4', 0.4)").run();
  const field = db.prepare('INSERT INTO fields (file_name, name, value_text, value_num) VALUES (?, ?, ?, ?)');
  field.run('a.jpg', 'label', 'beach', null);
  field.run('b.png', 'label', 'port', null);
  field.run('a.jpg', 'cloud', '0.2', 0.2);
  field.run('b.png', 'cloud', '0.9', 0.9);
});

const matching = (filter: CatalogFilter): number[] => {
  const { where, params } = filterToSql(filter);
  return (db.prepare(`SELECT it.id AS id FROM items it JOIN files f ON f.id = it.file_id WHERE ${where} ORDER BY it.id`).all(...params) as { id: number }[]).map((r) => r.id);
};
const selected = (selection: ItemSelection): number[] => {
  const { where, params } = selectionToSql(selection);
  return (db.prepare(`SELECT it.id AS id FROM items it JOIN files f ON f.id = it.file_id WHERE ${where} ORDER BY it.id`).all(...params) as { id: number }[]).map((r) => r.id);
};

describe('filterToSql', () => {
  it('compiles each key to a condition over the catalog', () => {
    expect(matching({})).toEqual([1, 2, 3, 4, 5]);
    expect(matching({ folder: '/coast/' })).toEqual([1, 2, 5]);
    expect(matching({ folder: '' })).toEqual([1, 2, 3, 4, 5]);
    expect(matching({ pathGlob: 'coast/*' })).toEqual([1, 5]);
    expect(matching({ pathGlob: '*.{png,tif}' })).toEqual([2, 3]);
    expect(matching({ formats: ['GIF'] })).toEqual([]);
    for (const jpeg of ['jpg', 'JPG', 'Jpg', 'jpeg', 'JPEG']) expect(matching({ formats: [jpeg] })).toEqual([1, 4, 5]);
    expect(matching({ formats: ['jpg', 'tiff'] })).toEqual([1, 3, 4, 5]);
    expect(matching({ formats: [] })).toEqual([1, 2, 3, 4, 5]);
    expect(matching({ minBytes: 700, maxBytes: 700 })).toEqual([3, 4, 5]);
    expect(matching({ minWidth: 600, minHeight: 600 })).toEqual([2]);
    expect(matching({ modifiedAfter: new Date(Date.UTC(2020, 3, 1)), modifiedBefore: new Date(Date.UTC(2020, 11, 1)) })).toEqual([2]);
    expect(matching({ fields: { label: 'beach' } })).toEqual([1]);
    expect(matching({ fields: { label: ['beach', 'port'], cloud: { min: 0.5 } } })).toEqual([2]);
    expect(matching({ fields: { label: [] } })).toEqual([]);
    expect(matching({ fields: { cloud: {} } })).toEqual([1, 2, 3]);
    expect(matching({ fields: { cloud: { min: 0.3, max: 0.5 } } })).toEqual([3]);
    expect(matching({ since: new Date(Date.UTC(2021, 0, 15)) })).toEqual([3]);
    expect(matching({ since: new Date(Date.UTC(2021, 1, 1)) })).toEqual([]);
    expect(matching({ until: new Date(Date.UTC(2021, 0, 1)), since: new Date(Date.UTC(2020, 0, 1)) })).toEqual([3]);
    expect(matching({ until: new Date(Date.UTC(2020, 11, 31)) })).toEqual([]);
  });

  it('binds every user value and splices none into the SQL', () => {
    const hostile = "x' OR '1'='1";
    const { where, params } = filterToSql({ folder: hostile, pathGlob: hostile, formats: [hostile], fields: { [hostile]: hostile } });
    expect(where).not.toContain(hostile);
    expect(params).toContain(hostile);
    expect(matching({ folder: "it's" })).toEqual([4]);
    expect(matching({ pathGlob: "it's/*.jpg" })).toEqual([4]);
  });

  it('refuses a key it has no compiler for, and numbers that are not finite', () => {
    expect(() => filterToSql({ colour: 'red' } as unknown as CatalogFilter)).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringContaining('colour') }));
    expect(() => filterToSql({ minBytes: Number.NaN })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    expect(() => filterToSql({ fields: { cloud: { max: Infinity } } })).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});

describe('selectionToSql', () => {
  it('keeps live items of ok files only, and takes kept and left-out ids of any number', () => {
    expect(selected({})).toEqual([1, 2, 3, 4]);
    db.prepare('UPDATE items SET key = NULL WHERE id = 4').run();
    expect(selected({})).toEqual([1, 2, 3]);
    db.prepare("UPDATE items SET key = 'whole' WHERE id = 4").run();
    expect(selected({ filter: { folder: 'coast' } })).toEqual([1, 2]);
    expect(selected({ onlyIds: [2, 3, 5, 99] })).toEqual([2, 3]);
    expect(selected({ onlyIds: [] })).toEqual([]);
    expect(selected({ excludeIds: [1, 4] })).toEqual([2, 3]);
    const many = Array.from({ length: 50_000 }, (_, i) => i + 10);
    expect(selected({ excludeIds: [...many, 2], onlyIds: [...many, 2, 3] })).toEqual([3]);
  });
});

describe('sqlGlobMatch', () => {
  it('stays right after its bounded cache of compiled globs has turned over', () => {
    expect(sqlGlobMatch('a*.jpg', 'ab.jpg')).toBe(1);
    for (let i = 0; i < 500; i++) expect(sqlGlobMatch(`f${i}`, `f${i}`)).toBe(1);
    expect(sqlGlobMatch('a*.jpg', 'ab.jpg')).toBe(1);
    expect(sqlGlobMatch('a*.jpg', 'b.jpg')).toBe(0);
    expect(sqlGlobMatch('a*', null)).toBe(0);
  });
});
