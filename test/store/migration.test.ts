/**
 * An index made before scenes (catalog schema 2, frozen here as that code wrote it, with the HNSW
 * file it checkpointed) is converted by the first writer, which says so, and then opens and
 * updates without a rebuild: every image is now a whole-image item with the same id, so graph
 * labels, #id terms (stored vectors by id) and URLs stay valid; item ids never come back once
 * retired. Readers never convert it (an older rsclip reading it could not afterwards): they refuse it.
 */
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { GRAPH_FILE } from '../../src/store/embedded/graph-sync.js';
import { SCHEMA_VERSION } from '../../src/store/embedded/schema.js';
import { LOCK_FILE } from '../../src/store/embedded/write-lock.js';
import { HnswIndex } from '../../src/store/hnsw-index.js';
import { openIndex, type CommittedChange } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { axis, DIM, MODEL, newFile } from './backends.js';
import { SCHEMA_2 } from './frozen-schemas.js';


let parent: string;
let location: string;

beforeEach(() => {
  parent = mkdtempSync(path.join(tmpdir(), 'rsclip-migrate-'));
  location = path.join(parent, 'index');
});
afterEach(() => rmSync(parent, { recursive: true, force: true }));

/** ok images 1 (a.png) and 7 (c.png), a failed 2 (b.png) and a removed 4 (d.png); vectors of 1 and 7 in catalog and HNSW file. */
async function writeSchema2Index(): Promise<void> {
  mkdirSync(location, { recursive: true });
  const db = new Database(path.join(location, CATALOG_FILE));
  db.exec(SCHEMA_2);
  db.pragma('user_version = 2');
  const meta = { model_id: MODEL.id, model_fingerprint: MODEL.fingerprint, embedding_dim: DIM, metric: 'cosine', engine: 'hnswlib', hnsw_m: 16, hnsw_ef_construction: 200, hnsw_seed: 100, created_at: 'then', commit_seq: 3, hnsw_seq: 3 };
  for (const [key, value] of Object.entries(meta)) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, String(value));
  const insert = db.prepare("INSERT INTO images (id, root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq) VALUES (?, '/archive', ?, ?, 10, 1, ?, 40, 30, 'png', ?, ?, 1, ?)");
  insert.run(1, 'a.png', 'a.png', 'ha', 'ok', null, 1);
  insert.run(2, 'b.png', 'b.png', 'hb', 'error', 'truncated PNG', 2);
  insert.run(4, 'd.png', 'd.png', 'hd', 'removed', null, 3);
  insert.run(7, 'c.png', 'c.png', 'hc', 'ok', null, 3);
  db.prepare('INSERT INTO vectors (image_id, embedding) VALUES (?, ?)').run(1, Buffer.from(axis(1).buffer));
  db.prepare('INSERT INTO vectors (image_id, embedding) VALUES (?, ?)').run(7, Buffer.from(axis(7).buffer));
  db.prepare("INSERT INTO fields (file_name, name, value_text, value_num) VALUES ('a.png', 'label', 'beach', NULL)").run();
  db.close();
  const graph = HnswIndex.create(DIM, { M: 16, efConstruction: 200, seed: 100 }, 16);
  graph.add(1, axis(1));
  graph.add(7, axis(7));
  await graph.save(path.join(location, GRAPH_FILE));
}

/** The Node warnings `body` emitted, as `CODE: message`. */
async function warningsOf(body: () => Promise<void>): Promise<string[]> {
  const emitted: string[] = [];
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: { code?: string }) => {
    emitted.push(`${options?.code}: ${String(warning)}`);
  }) as typeof process.emitWarning);
  try {
    await body();
  } finally {
    spy.mockRestore();
  }
  return emitted;
}

describe('an index made before scenes (schema 2)', () => {
  it('is converted by a writer, which says so, then opens with every image as a whole-image item of the same id, its graph file kept as it was', async () => {
    await writeSchema2Index();
    const graphBefore = statSync(path.join(location, GRAPH_FILE)).mtimeMs;
    const said = await warningsOf(async () => {
      await (await openIndex(location, { model: MODEL })).close();
    });
    expect(said).toEqual([`RSCLIP_INDEX_CONVERTED: converted the index ${location} from schema 2 to ${SCHEMA_VERSION}; rsclip versions from before this conversion cannot read it any more`]);
    // converted once: the next writer has nothing to say
    expect(await warningsOf(async () => (await openIndex(location, { model: MODEL })).close())).toEqual([]);
    const reader = await openIndex(location, { readonly: true, refreshIntervalMs: 0 });
    expect(reader.meta.schemaVersion).toBe(SCHEMA_VERSION);
    expect((await reader.search(axis(7), 1))[0]).toEqual({ id: 7, score: expect.closeTo(1, 5) });
    expect(await reader.listItemIds()).toEqual([1, 7]);
    const items = await reader.getItems([1, 2, 4, 7]);
    expect(items.map((i) => [i.id, i.key, i.file.id, i.file.path, i.file.status])).toEqual([
      [1, 'whole', 1, 'a.png', 'ok'],
      [2, 'whole', 2, 'b.png', 'error'],
      [4, 'whole', 4, 'd.png', 'removed'],
      [7, 'whole', 7, 'c.png', 'ok'],
    ]);
    expect(items[0]).toMatchObject({ window: { x: 0, y: 0, width: 40, height: 30, scale: 1 }, place: null, file: { plan: 'whole', complete: true, stretch: null } });
    // an #id term reads the stored vector by id
    expect([...(await reader.getVectors([7])).keys()]).toEqual([7]);
    expect(await reader.getFields([1])).toEqual(new Map([[1, { label: 'beach' }]]));
    await reader.close();

    const writer = await openIndex(location, { model: MODEL });
    const report = await writer.verify();
    expect(report).toMatchObject({ ok: true, repaired: [] });
    expect(statSync(path.join(location, GRAPH_FILE)).mtimeMs).toBe(graphBefore);
    // unchanged files stay unchanged under the whole-image plan; new items get ids above every old one
    expect((await writer.knownFiles('/archive')).get('a.png')).toMatchObject({ id: 1, plan: 'whole', needsEmbedding: false });
    const [added] = (await writer.commit([{ kind: 'put', file: newFile('e.png'), vector: axis(3) }])) as [CommittedChange];
    expect(added.itemIds[0]).toBe(8);
    // c.png cut into tiles: its whole-image item 7 is retired and its id never comes back
    const tiles = [0, 1].map((i) => ({ key: `s1:${i * 224},0`, window: { x: i * 224, y: 0, width: 224, height: 224, scale: 1 }, place: null, vector: axis(i + 4) }));
    const [retiled] = (await writer.commit([{ kind: 'put', file: newFile('c.png', { contentHash: 'hc', plan: 'tiles' }), items: tiles, complete: true }])) as [CommittedChange];
    expect(retiled).toEqual({ fileId: 7, itemIds: [9, 10] });
    expect(await writer.getItems([7])).toEqual([]);
    expect((await writer.search(axis(7), 5)).map((r) => r.id)).not.toContain(7);
    // the failed file comes back with the id of its item
    const [fixed] = (await writer.commit([{ kind: 'put', file: newFile('b.png', { contentHash: 'hb2' }), vector: axis(2) }])) as [CommittedChange];
    expect(fixed).toEqual({ fileId: 2, itemIds: [2] });
    await writer.close();
  });

  it('is refused by a reader, which writes nothing into it, with the command that converts it', async () => {
    await writeSchema2Index();
    const catalog = path.join(location, CATALOG_FILE);
    const before = readFileSync(catalog);
    const files = readdirSync(location).sort();
    await expect(openIndex(location, { readonly: true })).rejects.toMatchObject({
      code: 'INDEX_INCOMPATIBLE',
      message: `index ${location} was made by an older rsclip (catalog schema 2) and must be converted to schema ${SCHEMA_VERSION} before it can be read; read-only commands never convert it`,
      hint: `convert it with \`rsclip doctor --index ${location}\` or any \`rsclip index\` run on it; rsclip versions from before the conversion cannot read it afterwards`,
    });
    expect(readFileSync(catalog).equals(before)).toBe(true);
    expect(readdirSync(location).sort()).toEqual(files);
    const db = new Database(catalog, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
  });

  it('is refused by the read-only commands with one line, and converted by doctor, which says so', async () => {
    await writeSchema2Index();
    for (const args of [['errors'], ['export', '--format', 'csv']]) {
      const refused = await runCli([...args, '--index', location]);
      expect(refused.code, args[0]).toBe(1);
      expect(refused.stderr, args[0]).toMatch(new RegExp(`^rsclip: index ${location} was made by an older rsclip \\(catalog schema 2\\) and must be converted .*\\(convert it with \`rsclip doctor --index ${location}\` or any \`rsclip index\` run on it; .*\\)\\n$`));
    }
    const db = new Database(path.join(location, CATALOG_FILE), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
    const doctor = await runCli(['doctor', '--index', location]);
    expect(doctor.code).toBe(0);
    expect(doctor.stderr).toMatch(new RegExp(`^rsclip: warning: converted the index ${location} from schema 2 to ${SCHEMA_VERSION}; rsclip versions from before this conversion cannot read it any more\\n`));
    expect((await runCli(['errors', '--index', location])).stdout).toContain('b.png');
  });

  it('is refused by a reader while another process writes it, never converted under its feet', async () => {
    await writeSchema2Index();
    // a live writer's lock (this process stands in for it)
    writeFileSync(path.join(location, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), since: 'now' }));
    await expect(openIndex(location, { readonly: true })).rejects.toMatchObject({ code: 'INDEX_INCOMPATIBLE', message: expect.stringMatching(/must be converted to schema/) });
    const db = new Database(path.join(location, CATALOG_FILE), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.close();
  });
});
