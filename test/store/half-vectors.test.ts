/**
 * The catalog keeps vectors at half precision (catalog schema 4): the conversion itself, the
 * recall of an index against float32 exact search on CLIP-like vectors (clustered on the
 * sphere), and an index from before (float32 vectors in the catalog, its graph built from them)
 * that answers as it did once migrated.
 */
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { GRAPH_FILE } from '../../src/store/embedded/graph-sync.js';
import { decodeHalf, encodeHalf, toHalfBits } from '../../src/store/embedded/half-precision.js';
import { SCHEMA_VERSION } from '../../src/store/embedded/schema.js';
import { HnswIndex } from '../../src/store/hnsw-index.js';
import { openIndex, type EngineName } from '../../src/store/index.js';
import { cosine } from '../../src/vector-math.js';
import { MODEL } from './backends.js';
import { SCHEMA_2 } from './frozen-schemas.js';

const K = 10;
const QUERIES = 100;

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-half-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Unit vectors around `clusters` random centres (CLIP embeddings of an archive crowd like this), and queries near items. */
function clipLike(count: number, dim: number, clusters: number, seed: number): { items: Float32Array[]; queries: Float32Array[] } {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random())) * Math.cos(2 * Math.PI * random());
  const unit = (v: Float32Array) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, gauss));
  const items = Array.from({ length: count }, (_, i) => unit(centres[i % clusters]!.map((x) => x + 0.5 * gauss())));
  const queries = Array.from({ length: QUERIES }, (_, i) => unit(items[(i * 37) % count]!.map((x) => x + 0.3 * gauss())));
  return { items, queries };
}

/** The exact top k of float32 vectors, by index. */
function exactTopK(items: Float32Array[], query: Float32Array, k: number): number[] {
  return items
    .map((v, i) => ({ i, score: cosine(v, query) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((s) => s.i);
}

/** Share of the truth's ids found, over all queries. */
function overlap(found: number[][], truth: number[][]): number {
  let hits = 0;
  found.forEach((ids, q) => (hits += ids.filter((id) => truth[q]!.includes(id)).length));
  return hits / (truth.length * K);
}

const fileOf = (i: number) => ({ root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${i}`, width: 1, height: 1, format: 'png' });

describe('half-precision conversion', () => {
  it('rounds to the nearest half (ties to even), keeps subnormals, signs and infinities', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff);
    expect(toHalfBits(65520)).toBe(0x7c00); // rounds past the largest half
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // the smallest subnormal
    expect(toHalfBits(2 ** -26)).toBe(0x0000);
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // a tie: to the even mantissa
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toHalfBits(-0)).toBe(0x8000);
    expect(toHalfBits(Infinity)).toBe(0x7c00);
    expect(decodeHalf(encodeHalf(Float32Array.of(NaN)))[0]).toBeNaN();
  });

  it('stores unit vectors in half the bytes with every component within 2^-12 of its own size', () => {
    const { items } = clipLike(200, 512, 10, 3);
    for (const v of items) {
      const blob = encodeHalf(v);
      expect(blob.byteLength).toBe(v.byteLength / 2);
      const back = decodeHalf(blob);
      v.forEach((x, i) => expect(Math.abs(back[i]! - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25)));
      expect(encodeHalf(back).equals(blob)).toBe(true);
    }
  });
});

describe.each(['usearch', 'hnswlib'] as EngineName[])('an index with half-precision vectors (%s)', (engine) => {
  it('answers with the top 10 of float32 exact search (>= 0.99 overlap), by graph and exactly', async () => {
    const { items, queries } = clipLike(5000, 512, 100, 11);
    const store = await openIndex(path.join(work, `recall-${engine}`), { model: { ...MODEL, embeddingDim: 512 }, create: true, engine: { name: engine } });
    try {
      const ids = (await store.commit(items.map((vector, i) => ({ kind: 'put', file: fileOf(i), vector })))).map((c) => c.itemIds[0]!);
      const truth = queries.map((q) => exactTopK(items, q, K).map((i) => ids[i]!));
      const exact = await Promise.all(queries.map(async (q) => (await store.search(q, K, { exact: true })).map((h) => h.id)));
      expect(overlap(exact, truth)).toBeGreaterThanOrEqual(0.99);
      // a beam wide enough that the graph's own approximation stays out of the measure (at the default ef 64 both engines find 0.92-0.93 here)
      const graph = await Promise.all(queries.map(async (q) => (await store.search(q, K, { ef: 400 })).map((h) => h.id)));
      expect(overlap(graph, truth)).toBeGreaterThanOrEqual(0.99);
    } finally {
      await store.close();
    }
  }, 120_000);
});

describe('an index from before half precision (float32 vectors in a schema 2 catalog)', () => {
  it('migrates its vectors and answers as before: the same graph results, exact results within half precision', async () => {
    const dim = 64;
    const { items, queries } = clipLike(2000, dim, 40, 5);
    const location = path.join(work, 'old');
    mkdirSync(location, { recursive: true });
    const db = new Database(path.join(location, CATALOG_FILE));
    db.exec(SCHEMA_2);
    db.pragma('user_version = 2');
    const meta = { model_id: MODEL.id, model_fingerprint: MODEL.fingerprint, embedding_dim: dim, metric: 'cosine', engine: 'hnswlib', hnsw_m: 16, hnsw_ef_construction: 200, hnsw_seed: 100, created_at: 'then', commit_seq: 1, hnsw_seq: 1 };
    for (const [key, value] of Object.entries(meta)) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, String(value));
    const insert = db.prepare("INSERT INTO images (id, root, path, file_name, bytes, mtime_ms, content_hash, width, height, format, status, error, indexed_at, seq) VALUES (?, '/archive', ?, ?, 1, 1, ?, 1, 1, 'png', 'ok', NULL, 1, 1)");
    const vector = db.prepare('INSERT INTO vectors (image_id, embedding) VALUES (?, ?)');
    const graph = HnswIndex.create(dim, { M: 16, efConstruction: 200, seed: 100 }, items.length);
    db.transaction(() => {
      items.forEach((v, i) => {
        insert.run(i + 1, `${i}.png`, `${i}.png`, `h${i}`);
        vector.run(i + 1, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
        graph.add(i + 1, v);
      });
    })();
    db.close();
    await graph.save(path.join(location, GRAPH_FILE));
    // what rsclip answered before: the graph's results (hnswlib's scores are exact), and float32 exact search
    const before = queries.map((q) => graph.searchBestFirst(q, K));
    const truth = queries.map((q) => exactTopK(items, q, K).map((i) => i + 1));

    const store = await openIndex(location, { model: { ...MODEL, embeddingDim: dim } });
    try {
      expect(store.meta.schemaVersion).toBe(SCHEMA_VERSION);
      const after = await Promise.all(queries.map((q) => store.search(q, K)));
      after.forEach((hits, q) => {
        expect(hits.map((h) => h.id)).toEqual(before[q]!.map((h) => h.id));
        hits.forEach((h, i) => expect(h.score).toBeCloseTo(before[q]![i]!.score, 5));
      });
      const exact = await Promise.all(queries.map(async (q) => (await store.search(q, K, { exact: true })).map((h) => h.id)));
      expect(overlap(exact, truth)).toBeGreaterThanOrEqual(0.99);
      // the stored vectors are the float32 ones at half precision
      const stored = await store.getVectors([1, 2000]);
      expect(cosine(stored.get(1)!, items[0]!)).toBeGreaterThan(0.9999);
      expect(cosine(stored.get(2000)!, items[1999]!)).toBeGreaterThan(0.9999);
      // the graph built from float32 vectors agrees with the catalog: nothing to repair
      expect(await store.verify()).toMatchObject({ ok: true, repaired: [] });
    } finally {
      await store.close();
    }
    const check = new Database(path.join(location, CATALOG_FILE), { readonly: true });
    expect(check.prepare('SELECT DISTINCT length(embedding) AS n FROM vectors').all()).toEqual([{ n: dim * 2 }]);
    check.close();
  }, 120_000);
});
