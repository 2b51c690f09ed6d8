/**
 * A damaged catalog.sqlite: a writer checks it before writing (quick_check), `doctor` checks it
 * fully and refuses to write into it, and `doctor --repair` (catalogCheck: 'repair') rebuilds
 * what can be rebuilt, after which `rsclip index` ends with exactly one ok row per file. A damaged
 * unique index once let the indexer write 602 ok rows for 600 files.
 */
import Database from 'better-sqlite3';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { indexArchive } from '../../src/indexer/index.js';
import { openIndex, readIndexMeta, type OpenIndexOptions } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';
import { seededRandom } from '../../src/eval/random.js';

const FILES = 600;
const TRIALS = 24;
const PAGE = 16384;

let work: string;
let archive: string;
let pristine: string;
const encoder = new FakeEncoder();

async function indexOnce(index: string, options: OpenIndexOptions = {}) {
  const store = await openIndex(index, { model: encoder.info, create: true, ...options });
  try {
    return await indexArchive({ roots: [archive], store, encoder, batchSize: 64 });
  } finally {
    await store.close();
  }
}

async function repairAndVerify(index: string) {
  const store = await openIndex(index, { model: encoder.info, catalogCheck: 'repair' });
  try {
    return await store.verify();
  } finally {
    await store.close();
  }
}

interface CatalogFacts {
  /** Archive files with exactly one row, and that row ok. */
  filesWithOneOkRow: number;
  /** Rows naming no archive file (their root or path text was changed by the damage). */
  foreignRows: number;
  /** Of those, the ones still ok: under a root no run scans (a foreign path under the archive's root is marked removed). */
  foreignOkRows: number;
  duplicatePaths: number;
  /** Ok files with exactly one live item, and that item with a vector (each is a whole image). */
  filesWithOneSearchableItem: number;
  integrity: string;
}

/** What the catalog holds for the archive, read straight from the file. */
function catalogFacts(index: string): CatalogFacts {
  const db = new Database(path.join(index, 'catalog.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('SELECT root, path, status FROM files').all() as { root: string; path: string; status: string }[];
    const byPath = new Map<string, string[]>();
    for (const r of rows) byPath.set(`${r.root}|${r.path}`, [...(byPath.get(`${r.root}|${r.path}`) ?? []), r.status]);
    let filesWithOneOkRow = 0;
    const archivePaths = new Set(Array.from({ length: FILES }, (_, i) => `${archive}|f${i % 6}/tile_${i}.png`));
    const foreignOkRows = rows.filter((r) => r.status === 'ok' && !archivePaths.has(`${r.root}|${r.path}`)).length;
    for (let i = 0; i < FILES; i++) {
      const statuses = byPath.get(`${archive}|f${i % 6}/tile_${i}.png`);
      if (statuses?.length === 1 && statuses[0] === 'ok') filesWithOneOkRow++;
    }
    const searchable = db
      .prepare(
        `SELECT count(*) AS n FROM files f WHERE f.status = 'ok' AND
           (SELECT count(*) FROM items it WHERE it.file_id = f.id AND it.key IS NOT NULL) = 1 AND
           (SELECT count(*) FROM items it JOIN vectors v ON v.item_id = it.id WHERE it.file_id = f.id AND it.key IS NOT NULL) = 1`,
      )
      .get() as { n: number };
    return {
      filesWithOneOkRow,
      foreignRows: rows.length - FILES,
      foreignOkRows,
      duplicatePaths: rows.length - byPath.size,
      filesWithOneSearchableItem: searchable.n,
      integrity: db.pragma('integrity_check', { simple: true }) as string,
    };
  } finally {
    db.close();
  }
}

/**
 * Whether the walk doctor --repair made over `table` before it stepped over rows read out of
 * order (a page of rows at a time, one at a time after a failed read) goes back.
 */
function readsBackwards(file: string, table: string): boolean {
  const db = new Database(file, { readonly: true });
  try {
    const page = db.prepare(`SELECT rowid AS _rowid_, * FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ?`);
    let after = 0;
    let careful = 0;
    for (let reads = 0; reads < 1000; reads++) {
      let rows: { _rowid_: number }[];
      try {
        rows = page.all(after, careful > 0 ? 1 : 64) as { _rowid_: number }[];
      } catch {
        if (careful > 0) after++;
        careful = 64;
        continue;
      }
      if (rows.length === 0) return false;
      const last = rows[rows.length - 1]!._rowid_;
      if (last <= after) return true;
      after = last;
      careful = Math.max(0, careful - rows.length);
    }
    return false;
  } catch {
    return false;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-catalog-damage-'));
  archive = path.join(work, 'archive');
  for (let i = 0; i < FILES; i++) {
    const file = path.join(archive, `f${i % 6}`, `tile_${i}.png`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, makePng(i + 1, 8, 8));
  }
  pristine = path.join(work, 'pristine');
  expect(await indexOnce(pristine)).toMatchObject({ added: FILES, errors: 0 });
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a damaged catalog', () => {
  it('is refused by writers and by doctor, changes nothing, and doctor --repair rebuilds a damaged unique index (REINDEX)', async () => {
    const index = path.join(work, 'unique-index');
    cpSync(pristine, index, { recursive: true });
    const file = path.join(index, 'catalog.sqlite');
    const db = new Database(file, { readonly: true });
    const leaves = (db.prepare("SELECT pageno FROM dbstat WHERE name = 'sqlite_autoindex_files_1' AND pagetype = 'leaf'").all() as { pageno: number }[]).map((r) => r.pageno);
    db.close();
    expect(leaves.length).toBeGreaterThan(0);
    const bytes = readFileSync(file);
    // flip the case of letters in keys of the unique (root, path) index: its entries no longer match the rows
    for (const page of leaves) for (let i = 1; i <= 8; i++) bytes[page * PAGE - 40 * i]! ^= 0x20;
    writeFileSync(file, bytes);

    for (const check of [undefined, 'full'] as const) {
      const error = await indexOnce(index, check ? { catalogCheck: check } : {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RsclipError);
      expect(error).toMatchObject({
        code: 'INDEX_CORRUPT',
        message: expect.stringMatching(/catalog\.sqlite is damaged \(SQLite (quick_check|integrity_check): .*\); nothing was written into it$/),
        hint: expect.stringContaining('rsclip doctor --repair'),
      });
      expect(readFileSync(file).equals(bytes)).toBe(true);
    }
    const report = await repairAndVerify(index);
    expect(report.ok).toBe(true);
    expect(report.repaired.join('\n')).toMatch(/catalog indexes were damaged .*; rebuilt with REINDEX|catalog tables were damaged/);
    expect(await indexOnce(index)).toMatchObject({ errors: 0, scanned: FILES });
    expect(catalogFacts(index)).toEqual({ filesWithOneOkRow: FILES, foreignRows: 0, foreignOkRows: 0, duplicatePaths: 0, filesWithOneSearchableItem: FILES, integrity: 'ok' });
  });

  it('doctor --repair ends on a table page whose damaged cells read back out of rowid order', async () => {
    // garbage over a leaf's cell pointers makes cells read at wrong offsets, some with a rowid at or
    // below the one before (the salvage's walk once went back to it, for ever): found by trying
    // leaves of the vectors and files tables with seeded garbage, as the page contents vary by run
    const bytes = readFileSync(path.join(pristine, 'catalog.sqlite'));
    const db = new Database(path.join(pristine, 'catalog.sqlite'), { readonly: true });
    const leaves = db.prepare("SELECT name, pageno FROM dbstat WHERE name IN ('vectors', 'files') AND pagetype = 'leaf' ORDER BY name, pageno").all() as { name: string; pageno: number }[];
    db.close();
    const index = path.join(work, 'out-of-order');
    let damaged: { name: string; pageno: number } | undefined;
    for (let trial = 0; trial < 16 && !damaged; trial++) {
      for (const leaf of leaves) {
        const copy = Buffer.from(bytes);
        const random = seededRandom(900 + trial);
        for (let i = 0; i < 64; i++) copy[(leaf.pageno - 1) * PAGE + 8 + i] = Math.floor(random() * 256);
        rmSync(index, { recursive: true, force: true });
        cpSync(pristine, index, { recursive: true });
        writeFileSync(path.join(index, 'catalog.sqlite'), copy);
        if (readsBackwards(path.join(index, 'catalog.sqlite'), leaf.name)) {
          damaged = leaf;
          break;
        }
      }
    }
    expect(damaged, 'no damage found that reads rows out of order').toBeDefined();
    // what a killed repair leaves behind
    for (const suffix of ['', '-wal']) writeFileSync(path.join(index, `catalog.sqlite.rebuild-4194999${suffix}`), 'half a catalog');
    const repair = await runCli(['doctor', '--index', index, '--repair'], { timeout: 60_000, killSignal: 'SIGKILL' });
    expect(repair.signal, `${damaged!.name} page ${damaged!.pageno}: ${repair.stderr}`).toBeNull();
    expect(repair.stdout + repair.stderr).toMatch(/catalog tables were damaged/);
    expect(readdirSync(index).filter((name) => name.includes('.rebuild-'))).toEqual([]);
    await indexOnce(index);
    expect(catalogFacts(index)).toMatchObject({ filesWithOneOkRow: FILES, duplicatePaths: 0, integrity: 'ok' });
  }, 120_000);

  it(`never ends with duplicate rows, internal errors or lost files after random damage (${TRIALS} seeded trials)`, async () => {
    const outcomes: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const index = path.join(work, `trial-${trial}`);
      cpSync(pristine, index, { recursive: true });
      const file = path.join(index, 'catalog.sqlite');
      const bytes = readFileSync(file);
      const random = seededRandom(500 + trial);
      for (let w = 0; w < 8; w++) bytes[100 + Math.floor(random() * (bytes.length - 100))] = Math.floor(random() * 256);
      writeFileSync(file, bytes);

      const first = await indexOnce(index).then(
        () => 'indexed',
        (e: unknown) => e,
      );
      if (first !== 'indexed') {
        expect(first, `trial ${trial}`).toBeInstanceOf(RsclipError);
        expect((first as RsclipError).code, `trial ${trial}: ${(first as Error).message}`).toBe('INDEX_CORRUPT');
      }
      const report = await repairAndVerify(index);
      expect(report.ok, `trial ${trial}: ${report.unrepaired.join('; ')}`).toBe(true);
      await indexOnce(index);
      const facts = catalogFacts(index);
      // a byte that changed a row's root or path text leaves a valid row SQLite cannot tell from a real one
      expect(facts, `trial ${trial}`).toEqual({
        filesWithOneOkRow: FILES,
        foreignRows: expect.any(Number),
        foreignOkRows: expect.any(Number),
        duplicatePaths: 0,
        filesWithOneSearchableItem: FILES + facts.foreignOkRows,
        integrity: 'ok',
      });
      expect(facts.foreignRows).toBeLessThanOrEqual(8);
      outcomes.push(first === 'indexed' ? 'indexed' : 'refused');
    }
    // the damage must have been seen in some trials, or the test proves nothing
    expect(outcomes).toContain('refused');
  }, 120_000);
});

describe('a catalog without tables (a first run killed as it created the file)', () => {
  it('is read as an index with no model recorded, without writing into it, and the same run again starts it afresh', async () => {
    const index = path.join(work, 'empty-catalog');
    mkdirSync(index);
    writeFileSync(path.join(index, 'catalog.sqlite'), '');
    expect(await readIndexMeta(index)).toBeUndefined();
    const refused = await openIndex(index, { readonly: true }).then(
      () => undefined,
      (e: unknown) => e as RsclipError,
    );
    expect(refused).toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringMatching(/has no model recorded in catalog\.sqlite: the first `rsclip index` or `index copy` into it stopped before it recorded one$/), hint: 'run that command again, which starts the index afresh, or delete the directory' });
    // a reader neither upgrades nor locks it
    expect(readdirSync(index)).toEqual(['catalog.sqlite']);
    expect(statSync(path.join(index, 'catalog.sqlite')).size).toBe(0);
    const search = await runCli(['search', 'a river', '--index', index]);
    expect(search.code).toBe(1);
    expect(search.stderr).not.toMatch(/internal error|SqliteError|\n\s+at /);
    expect(search.stderr).toMatch(/^rsclip: index .* has no model recorded/);
    const summary = await indexOnce(index);
    expect(summary.errors).toBe(0);
    expect(summary.added).toBe(FILES);
  });
});

/** A copy of the pristine index whose catalog page `page` (1-based) is zeroed. */
function withZeroedPage(name: string, page: (db: Database.Database) => number): string {
  const index = path.join(work, name);
  cpSync(pristine, index, { recursive: true });
  const file = path.join(index, 'catalog.sqlite');
  const db = new Database(file, { readonly: true });
  const pageNo = page(db);
  db.close();
  const bytes = readFileSync(file);
  bytes.fill(0, (pageNo - 1) * PAGE, pageNo * PAGE);
  writeFileSync(file, bytes);
  return index;
}

describe('a catalog that lost its model record (the page of its meta table zeroed)', () => {
  const other = { ...encoder.info, id: 'other-model', fingerprint: 'e'.repeat(64) };
  const lostRecord = /holds 600 vectors of length \d+, but its catalog\.sqlite lost the record of the model that made them \(its meta rows were damaged\): no model may use it until that record is restored/;

  it('is rebuilt by doctor --repair, which says the record is lost and how to restore it; no other model takes the vectors over', async () => {
    const index = withZeroedPage('lost-model', (db) => (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").get() as { rootpage: number }).rootpage);
    const repair = await runCli(['doctor', '--repair', '--index', index]);
    expect(repair.code).toBe(1);
    expect(repair.stderr).toMatch(/catalog tables were damaged .*600 vectors .*the record of the vectors' model could not be read and is lost/);
    expect(repair.stderr).toMatch(lostRecord);
    expect(repair.stderr).toContain(`\`rsclip doctor --repair --index ${index} --model <its dir> --variant <its variant>\` records it again`);
    expect(repair.stderr).not.toMatch(/stopped before it recorded|delete the directory/);

    // neither another model nor a reader may use it
    for (const options of [{ model: other }, { model: encoder.info }, { readonly: true }] as OpenIndexOptions[]) {
      const refused = await openIndex(index, options).then(
        () => undefined,
        (e: unknown) => e as RsclipError,
      );
      expect(refused).toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringMatching(lostRecord) });
    }
    const taken = await indexOnce(index).then(
      () => 'indexed',
      (e: unknown) => (e as Error).message,
    );
    expect(taken).toMatch(lostRecord);
    // only a model of the vectors' length is recorded, and only when asked for
    const shorter = await openIndex(index, { model: { ...encoder.info, embeddingDim: encoder.info.embeddingDim + 1 }, catalogCheck: 'repair', recordLostModel: true }).then(
      () => undefined,
      (e: unknown) => e as RsclipError,
    );
    expect(shorter).toMatchObject({ code: 'INDEX_INCOMPATIBLE', message: expect.stringMatching(/so it did not make them$/) });

    const store = await openIndex(index, { model: encoder.info, catalogCheck: 'repair', recordLostModel: true });
    const report = await store.verify();
    await store.close();
    expect(report.ok).toBe(true);
    expect(report.repaired.join('\n')).toMatch(/the catalog had lost the record of its vectors' model; recorded fake-clip .*, given by --model/);
    expect(await readIndexMeta(index)).toMatchObject({ modelFingerprint: encoder.info.fingerprint, embeddingDim: encoder.info.embeddingDim });
    // the vectors are kept: nothing is embedded again
    expect(await indexOnce(index)).toMatchObject({ errors: 0, scanned: FILES, embedded: 0, unchanged: FILES });
    expect(await openIndex(index, { model: other }).then(() => undefined, (e: unknown) => e as RsclipError)).toMatchObject({ code: 'INDEX_INCOMPATIBLE' });
  });

  it('doctor --repair --model records the model given, and says so', async () => {
    const index = withZeroedPage('lost-model-cli', (db) => (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'meta'").get() as { rootpage: number }).rootpage);
    const model = await tinyModelDir();
    const doctor = await runCli(['doctor', '--repair', '--index', index, '--model', model], { env: { RSCLIP_THREADS: '1' } });
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/repaired: catalog tables were damaged .*the record of the vectors' model could not be read and is lost/);
    expect(doctor.stdout).toMatch(/repaired: the catalog had lost the record of its vectors' model; recorded \S+ \(fp32, [0-9a-f]{12}\), given by --model/);
    expect(await readIndexMeta(index)).toMatchObject({ modelDir: model, modelVariant: 'fp32', embeddingDim: 16 });
  });

  it('an empty catalog beside a graph file is said to be lost, not a first run that stopped', async () => {
    const index = path.join(work, 'lost-catalog');
    cpSync(pristine, index, { recursive: true });
    for (const suffix of ['-wal', '-shm']) rmSync(path.join(index, `catalog.sqlite${suffix}`), { force: true });
    writeFileSync(path.join(index, 'catalog.sqlite'), '');
    const refused = await openIndex(index, { readonly: true }).then(
      () => undefined,
      (e: unknown) => e as RsclipError,
    );
    expect(refused).toMatchObject({
      code: 'INDEX_CORRUPT',
      message: expect.stringMatching(/has its graph file \(vectors\.hnsw, \d+ bytes\) but its catalog\.sqlite holds nothing: the catalog was lost/),
      hint: expect.stringMatching(/^put back catalog\.sqlite from a backup/),
    });
  });

  it('a missing catalog beside a graph file is said to be lost to a reader (not "no index"); a writer starts afresh', async () => {
    const index = path.join(work, 'missing-catalog');
    cpSync(pristine, index, { recursive: true });
    for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(index, `catalog.sqlite${suffix}`), { force: true });
    const refused = await openIndex(index, { readonly: true }).then(
      () => undefined,
      (e: unknown) => e as RsclipError,
    );
    expect(refused).toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringMatching(/has its graph file \(vectors\.hnsw, \d+ bytes\) but its catalog\.sqlite is missing: the catalog was lost/) });
    expect(existsSync(path.join(index, 'catalog.sqlite'))).toBe(false);
    expect((await indexOnce(index)).embedded).toBe(FILES);
  });
});

describe('a catalog whose root page of files is zeroed (its leaves whole but no longer reached)', () => {
  it('is rebuilt by doctor --repair with every file, item and vector, read from the leaves', async () => {
    const index = withZeroedPage('files-root', (db) => {
      const root = (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'files'").get() as { rootpage: number }).rootpage;
      // a root with leaves under it, or the test proves nothing
      expect(db.prepare("SELECT pagetype FROM dbstat WHERE pageno = ?").pluck().get(root)).toBe('internal');
      return root;
    });
    const report = await repairAndVerify(index);
    expect(report.ok, report.unrepaired.join('; ')).toBe(true);
    expect(report.repaired.join('\n')).toMatch(new RegExp(`${FILES} file rows, ${FILES} items, ${FILES} vectors and 0 field values copied into a new catalog \\(${FILES} of these rows read from pages their table no longer reached\\)`));
    expect(await indexOnce(index)).toMatchObject({ errors: 0, scanned: FILES, embedded: 0, unchanged: FILES });
    expect(catalogFacts(index)).toMatchObject({ filesWithOneOkRow: FILES, filesWithOneSearchableItem: FILES, duplicatePaths: 0, integrity: 'ok' });
  });
});

describe('a catalog cut short (a copy that stopped)', () => {
  it('is rebuilt by doctor --repair from the pages it still has', async () => {
    const index = path.join(work, 'cut-short');
    cpSync(pristine, index, { recursive: true });
    const file = path.join(index, 'catalog.sqlite');
    const size = statSync(file).size;
    truncateSync(file, Math.floor((size * 9) / 10));
    const report = await repairAndVerify(index);
    expect(report.ok, report.unrepaired.join('; ')).toBe(true);
    expect(report.repaired.join('\n')).toMatch(new RegExp(`the file was cut short \\(${Math.floor((size * 9) / 10)} of the ${size} bytes its header declares\\)`));
    expect(readdirSync(index).filter((name) => name.includes('.rebuild-'))).toEqual([]);
    const store = await openIndex(index, { readonly: true });
    const kept = await store.countItems();
    await store.close();
    expect(kept).toBeGreaterThan(FILES / 2);
    expect(await indexOnce(index)).toMatchObject({ errors: 0, embedded: FILES - kept });
    expect(catalogFacts(index)).toMatchObject({ filesWithOneOkRow: FILES, duplicatePaths: 0, integrity: 'ok' });
  });
});
