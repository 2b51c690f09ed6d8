/**
 * The ivf engine past its first training (the shared VectorIndex and IndexStore contracts run it
 * below TRAIN_MIN vectors, where it scans one list): lists trained and trained again as the index
 * grows, searches against exact search on clustered data and on CLIP-like text queries, changes
 * after training, and its file refused when damaged.
 */
import { closeSync, futimesSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ClipLikeVectors, vectorRows } from '../../bench/clip-like-vectors.js';
import { seededRandom } from '../../src/eval/random.js';
import { BruteForceIndex } from '../../src/store/index.js';
import { checkGraphFile, ENGINE_DEFAULTS, loadGraph } from '../../src/store/engines.js';
import { IvfIndex, listCountFor, TRAIN_MIN, vectorsToScan } from '../../src/store/ivf-index.js';
import { cosineInt8, toInt8 } from '../../src/store/int8-vectors.js';
import { scoreRows } from '../../src/store/int8-cosines.js';
import type * as Int8Cosines from '../../src/store/int8-cosines.js';
import { bestFirst, cosine, unitVector } from '../../src/vector-math.js';

// the native kernel's calls, counted (it still scores)
vi.mock('../../src/store/int8-cosines.js', async (importOriginal) => {
  const actual = await importOriginal<typeof Int8Cosines>();
  return { ...actual, scoreRows: vi.fn(actual.scoreRows) };
});

const DIM = 16;
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-ivf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Seeded clustered vectors: 300 centres (the same for every seed), each vector a centre plus noise. */
function clustered(count: number, seed: number, dim = DIM): Float32Array[] {
  const centreRandom = seededRandom(12345);
  const centres = Array.from({ length: 300 }, () => Float32Array.from({ length: dim }, () => centreRandom() * 2 - 1));
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const base = centres[Math.floor(random() * centres.length)]!;
    return Float32Array.from(base, (x) => x + 0.35 * (random() * 2 - 1));
  });
}

function recallAt10(index: { searchBestFirst: IvfIndex['searchBestFirst'] }, oracle: BruteForceIndex, queries: Float32Array[], ef: number): number {
  let hits = 0;
  for (const q of queries) {
    const truth = new Set(oracle.searchBestFirst(q, 10).map((r) => r.id));
    hits += index.searchBestFirst(q, 10, { ef }).filter((r) => truth.has(r.id)).length;
  }
  return hits / (queries.length * 10);
}

describe('ivf engine', () => {
  it('scans one list until it holds TRAIN_MIN vectors, then trains lists, and trains them again once it has doubled', () => {
    const index = IvfIndex.create(DIM);
    const vectors = clustered(2 * TRAIN_MIN, 1);
    index.addMany(vectors.slice(0, TRAIN_MIN - 1).map((v, i) => [i + 1, v] as const));
    expect(index.details()).toMatchObject({ lists: 0, trainedSize: 0 });
    index.add(TRAIN_MIN, vectors[TRAIN_MIN - 1]!);
    expect(index.details()).toMatchObject({ size: TRAIN_MIN, lists: listCountFor(TRAIN_MIN), trainedSize: TRAIN_MIN });
    index.addMany(vectors.slice(TRAIN_MIN, 2 * TRAIN_MIN - 1).map((v, i) => [TRAIN_MIN + i + 1, v] as const));
    expect(index.details()).toMatchObject({ lists: listCountFor(TRAIN_MIN), trainedSize: TRAIN_MIN });
    index.add(2 * TRAIN_MIN, vectors[2 * TRAIN_MIN - 1]!);
    expect(index.details()).toMatchObject({ size: 2 * TRAIN_MIN, lists: listCountFor(2 * TRAIN_MIN), trainedSize: 2 * TRAIN_MIN });
    // no list takes most of the vectors, and every vector is still its own best match
    expect(index.details().largestList).toBeLessThan(TRAIN_MIN / 10);
    expect(index.ids()).toEqual(Array.from({ length: 2 * TRAIN_MIN }, (_, i) => i + 1));
    for (let i = 0; i < vectors.length; i += 997) expect(index.searchBestFirst(vectors[i]!, 1)[0]).toMatchObject({ id: i + 1 });
  });

  it("leaves training to writers: a reader's index (opened mapped) puts new vectors in the nearest lists", async () => {
    const vectors = clustered(2 * TRAIN_MIN, 8);
    const writer = IvfIndex.create(DIM);
    writer.addMany(vectors.slice(0, TRAIN_MIN).map((v, i) => [i + 1, v] as const));
    const file = path.join(work, 'reader.ivf');
    await writer.save(file);
    const reader = IvfIndex.load(file, DIM, { mapped: true });
    reader.addMany(vectors.slice(TRAIN_MIN).map((v, i) => [TRAIN_MIN + i + 1, v] as const));
    expect(reader.details()).toMatchObject({ size: 2 * TRAIN_MIN, lists: listCountFor(TRAIN_MIN), trainedSize: TRAIN_MIN });
    expect(reader.searchBestFirst(vectors[TRAIN_MIN + 5]!, 1)[0]).toMatchObject({ id: TRAIN_MIN + 6 });
    const loaded = IvfIndex.load(file, DIM);
    loaded.addMany(vectors.slice(TRAIN_MIN).map((v, i) => [TRAIN_MIN + i + 1, v] as const));
    expect(loaded.details()).toMatchObject({ size: 2 * TRAIN_MIN, lists: listCountFor(2 * TRAIN_MIN), trainedSize: 2 * TRAIN_MIN });
  });

  it('agrees with exact search once trained, for queries near the data and queries apart from it', () => {
    const index = IvfIndex.create(DIM);
    const oracle = new BruteForceIndex(DIM);
    clustered(3 * TRAIN_MIN, 2).forEach((v, i) => {
      index.add(i + 1, v);
      oracle.add(i + 1, v);
    });
    expect(index.details().lists).toBeGreaterThan(1);
    const near = clustered(50, 3);
    // a shared shift moves queries off the data, as the modality gap moves text embeddings
    const shift = Float32Array.from({ length: DIM }, (_, j) => (j % 2 === 0 ? 1.5 : -1.5));
    const apart = near.map((q) => Float32Array.from(q, (x, j) => x + shift[j]!));
    expect(recallAt10(index, oracle, near, 64)).toBeGreaterThanOrEqual(0.95);
    expect(recallAt10(index, oracle, apart, 64)).toBeGreaterThanOrEqual(0.95);
  });

  it('finds the best images of CLIP-like text queries, which sit apart from the images', () => {
    const items = 20_000;
    const dim = 512;
    const gen = new ClipLikeVectors({ items, dim, seed: 7 });
    const vectors = vectorRows(gen.images(0, items), dim);
    const index = IvfIndex.create(dim);
    const oracle = new BruteForceIndex(dim);
    index.addMany(vectors.map((v, i) => [i + 1, v] as const));
    vectors.forEach((v, i) => oracle.add(i + 1, v));
    let hits = 0;
    const texts = vectorRows(gen.texts(0, 100), dim);
    for (const q of texts) {
      const truth = new Set(oracle.searchBestFirst(q, 10).map((r) => r.id));
      // as the store asks for int8 scores: 20 candidates (ef 64 scans about 1,000 of the 20,000), re-ranked exactly
      const candidates = index.searchBestFirst(q, 20, { ef: 64 }).map(({ id }) => ({ id, score: cosine(q, vectors[id - 1]!) }));
      hits += bestFirst(candidates, 10).filter((r) => truth.has(r.id)).length;
    }
    expect(hits / (texts.length * 10)).toBeGreaterThanOrEqual(0.98);
  });

  it('takes changes after training and keeps them through a save: replaced, deleted, filtered', async () => {
    const index = IvfIndex.create(DIM);
    const vectors = clustered(TRAIN_MIN + 500, 4);
    index.addMany(vectors.map((v, i) => [i + 1, v] as const));
    const moved = clustered(3, 99);
    index.add(5, moved[0]!);
    index.markDeleted(6);
    index.markDeleted(6);
    expect(index.size).toBe(TRAIN_MIN + 499);
    expect(index.stores(5, moved[0]!)).toBe(true);
    expect(index.stores(5, vectors[4]!)).toBe(false);
    expect(index.stores(6, vectors[5]!)).toBe(false);
    expect(index.searchBestFirst(moved[0]!, 1)[0]).toMatchObject({ id: 5 });
    expect(index.searchBestFirst(vectors[5]!, 20).map((r) => r.id)).not.toContain(6);
    // a filter that only far-away items pass: the search scans further lists until it has k
    const far = new Set(Array.from({ length: 40 }, (_, i) => 200 * i + 11));
    const filtered = index.searchBestFirst(vectors[0]!, 10, { ef: 1, filter: (id) => far.has(id) });
    expect(filtered).toHaveLength(10);
    expect(filtered.every((r) => far.has(r.id))).toBe(true);
    const file = path.join(work, 'trained.ivf');
    const digest = await index.save(file);
    const loaded = IvfIndex.load(file, DIM);
    expect(loaded.details()).toEqual(index.details());
    expect(loaded.ids()).toEqual(index.ids());
    for (const q of clustered(5, 5)) expect(loaded.searchBestFirst(q, 10)).toEqual(index.searchBestFirst(q, 10));
    expect(checkGraphFile(ENGINE_DEFAULTS.ivf, file, DIM)).toEqual(digest);
    const refused = () => loadGraph(ENGINE_DEFAULTS.ivf, file, DIM, { accept: () => 'not the file recorded' });
    expect(refused).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringMatching(/not the file recorded/) }));
  });

  it('scans in several calls when a filter makes it scan more rows than one call scores, and ranks as its int8 cosines do', () => {
    // 80,000 items: a filter passing 12, fewer than k, makes the search scan every list, past the 65,536 rows one call scores
    const count = 80_000;
    const index = IvfIndex.create(8);
    const vectors = clustered(count, 6, 8);
    index.addMany(vectors.map((v, i) => [i + 1, v] as const));
    const rare = (id: number) => id % 7000 === 7;
    const rowsPerCall = () => vi.mocked(scoreRows).mock.calls.map(([, rows]) => rows.reduce((sum, n) => sum + n, 0));
    for (const q of clustered(3, 7, 8)) {
      const query8 = toInt8(unitVector(q));
      const expected = bestFirst(
        vectors.flatMap((v, i) => (rare(i + 1) ? [{ id: i + 1, score: cosineInt8(toInt8(unitVector(v)), 0, query8) }] : [])),
      );
      expect(expected).toHaveLength(12);
      // ef 1: the budget grows fourfold until every list is scanned; ef 10,000: past every row from the start
      for (const ef of [1, 10_000]) {
        vi.mocked(scoreRows).mockClear();
        expect(index.searchBestFirst(q, 20, { ef, filter: rare })).toEqual(expected);
        const [centroids, ...lists] = rowsPerCall();
        expect(centroids).toBe(listCountFor(count));
        expect(lists.reduce((sum, n) => sum + n, 0)).toBe(count);
        expect(Math.max(...lists)).toBeLessThanOrEqual(65_536);
        if (ef === 10_000) expect(lists).toHaveLength(2);
      }
    }
  });

  it('scores right when a filter searches the same index from inside a search (each search scores into buffers of its own)', () => {
    const index = IvfIndex.create(DIM);
    const vectors = clustered(TRAIN_MIN + 500, 11);
    index.addMany(vectors.map((v, i) => [i + 1, v] as const));
    const [q, other] = clustered(2, 12);
    const query8 = toInt8(unitVector(q!));
    let nested = 0;
    const hits = index.searchBestFirst(q!, 50, {
      ef: 4096,
      filter: () => {
        if (nested++ < 3) index.searchBestFirst(other!, 5);
        return true;
      },
    });
    expect(nested).toBeGreaterThan(3);
    expect(hits).toHaveLength(50);
    for (const hit of hits) expect(hit.score).toBe(cosineInt8(toInt8(unitVector(vectors[hit.id - 1]!)), 0, query8));
    expect(hits).toEqual(index.searchBestFirst(q!, 50, { ef: 4096 }));
  });

  it("trusts the sha256 recorded for a file's identity instead of hashing it again, as for usearch files (doctor's check still hashes)", async () => {
    const index = IvfIndex.create(DIM);
    index.addMany(clustered(TRAIN_MIN, 9).map((v, i) => [i + 1, v] as const));
    const file = path.join(work, 'recorded.ivf');
    await index.save(file);
    // bit rot in the last vector: the structure holds, the content hash does not
    const rotted = readFileSync(file);
    rotted[rotted.length - 41]! ^= 0x01;
    writeFileSync(file, rotted);
    const seen: string[] = [];
    const loaded = loadGraph(ENGINE_DEFAULTS.ivf, file, DIM, { knownSha256: () => 'recorded', accept: ({ sha256 }) => void seen.push(sha256) });
    expect(seen).toEqual(['recorded']);
    expect(loaded.size).toBe(TRAIN_MIN);
    expect(() => loadGraph(ENGINE_DEFAULTS.ivf, file, DIM, { knownSha256: () => undefined })).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringMatching(/checksum does not match/) }));
    expect(() => checkGraphFile(ENGINE_DEFAULTS.ivf, file, DIM)).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringMatching(/checksum does not match/) }));
  });

  it("opens a reader's file whose sha256 is known without its vectors: searches and changes read the lists they need, the rest follow off the event loop", async () => {
    const index = IvfIndex.create(DIM);
    const vectors = clustered(2 * TRAIN_MIN, 10);
    index.addMany(vectors.map((v, i) => [i + 1, v] as const));
    const file = path.join(work, 'deferred.ivf');
    const digest = await index.save(file);
    const known = { knownSha256: (identity: string) => (identity === digest.identity ? digest.sha256 : undefined) };
    const queries = clustered(30, 11);
    const opened = IvfIndex.load(file, DIM, { ...known, mapped: true });
    // another index's file renamed over the path: what was opened is still what is read
    const other = IvfIndex.create(DIM);
    other.addMany(clustered(TRAIN_MIN, 12).map((v, i) => [i + 1, v] as const));
    await other.save(`${file}.other`);
    renameSync(`${file}.other`, file);
    // changes first, to lists not read yet
    const moved = clustered(2, 13);
    for (const target of [index, opened]) {
      target.add(7, moved[0]!);
      target.add(2 * TRAIN_MIN + 1, moved[1]!);
      target.markDeleted(8);
    }
    expect(opened.stores(7, moved[0]!)).toBe(true);
    expect(opened.stores(9, vectors[8]!)).toBe(true);
    expect(opened.stores(8, vectors[7]!)).toBe(false);
    for (const q of queries) expect(opened.searchBestFirst(q, 10)).toEqual(index.searchBestFirst(q, 10));
    await opened.whenRead();
    expect(opened.ids()).toEqual(index.ids());
    for (const q of queries) expect(opened.searchBestFirst(q, 10, { ef: 8 })).toEqual(index.searchBestFirst(q, 10, { ef: 8 }));
    const [saved, resaved] = [await index.save(path.join(work, 'deferred-a.ivf')), await opened.save(path.join(work, 'deferred-b.ivf'))];
    expect(resaved.sha256).toBe(saved.sha256);
  });

  it('fails the searches that need vectors it can no longer read (a file cut while they were unread), as INDEX_CORRUPT', async () => {
    const index = IvfIndex.create(DIM);
    index.addMany(clustered(2 * TRAIN_MIN, 14).map((v, i) => [i + 1, v] as const));
    const file = path.join(work, 'cut.ivf');
    const digest = await index.save(file);
    const known = { knownSha256: () => digest.sha256 };
    // the structure is still checked at the open: a file too short for its counts is refused
    truncateSync(file, digest.bytes - 100);
    expect(() => IvfIndex.load(file, DIM, { ...known, mapped: true })).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringMatching(/do not hold/) }));
    await index.save(file);
    const opened = IvfIndex.load(file, DIM, { ...known, mapped: true });
    // a writer (not mapped) reads every vector at the open: a file cut later changes nothing for it
    const writer = IvfIndex.load(file, DIM, known);
    // the same file cut in half after the open, while the background read is at its first list
    truncateSync(file, Math.floor(statSync(file).size / 2));
    // (a read past the cut ends early; one before it finds the file written since the open)
    const cut = /ends early|written in place/;
    await expect(opened.whenRead()).rejects.toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringMatching(cut) });
    expect(() => opened.searchBestFirst(clustered(1, 15)[0]!, 10, { filter: () => false })).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringMatching(cut) }));
    await writer.whenRead();
    expect(writer.searchBestFirst(clustered(1, 15)[0]!, 10, { filter: () => false })).toEqual([]);
    expect(writer.searchBestFirst(clustered(1, 15)[0]!, 10)).toEqual(index.searchBestFirst(clustered(1, 15)[0]!, 10));
  });

  it('notices a file written in place under it (not renamed over it), and lets go of its file when released', async () => {
    const index = IvfIndex.create(DIM);
    index.addMany(clustered(2 * TRAIN_MIN, 16).map((v, i) => [i + 1, v] as const));
    const file = path.join(work, 'in-place.ivf');
    const digest = await index.save(file);
    const bytes = readFileSync(file);
    const known = { knownSha256: () => digest.sha256 };
    const opened = IvfIndex.load(file, DIM, { ...known, mapped: true });
    expect(opened.damage).toBeUndefined();
    // its first bytes written again, the same, into the same file: what is read next cannot be trusted to be the opened file's
    const fd = openSync(file, 'r+');
    writeSync(fd, bytes, 0, 16, 0);
    // (a write sets the mtime to the clock's coarse tick, which the save may have had: a later one, surely)
    futimesSync(fd, new Date(), new Date(Date.now() + 5000));
    closeSync(fd);
    await expect(opened.whenRead()).rejects.toMatchObject({ code: 'INDEX_CORRUPT', message: expect.stringMatching(/written in place while its vectors were still being read/) });
    expect(opened.damage).toMatch(/written in place/);
    const openFiles = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false;
      }
    }).length;
    const released = IvfIndex.load(file, DIM, { knownSha256: (identity) => (identity ? digest.sha256 : undefined), mapped: true });
    if (process.platform === 'linux') expect(openFiles()).toBe(1);
    released.release();
    if (process.platform === 'linux') expect(openFiles()).toBe(0);
    expect(released.damage).toBeUndefined();
    await expect(released.whenRead()).rejects.toMatchObject({ code: 'INDEX_CLOSED' });
  });

  it('scans the same share of an index of a million items or more at the same ef (a text query needs a share of the lists, not a number)', () => {
    expect(vectorsToScan(512, 20_000)).toBe(8_192);
    expect(vectorsToScan(512, 1_000_000)).toBe(8_192);
    expect(vectorsToScan(512, 10_000_000)).toBe(81_920);
    expect(vectorsToScan(256, 3_000_000)).toBe(12_288);
  });

  it('refuses a damaged, truncated or foreign file as INDEX_CORRUPT', async () => {
    const index = IvfIndex.create(DIM);
    clustered(TRAIN_MIN, 6).forEach((v, i) => index.add(i + 1, v));
    const file = path.join(work, 'whole.ivf');
    await index.save(file);
    const bytes = readFileSync(file);
    const expectCorrupt = (damaged: Buffer, pattern: RegExp, dim = DIM) => {
      const target = path.join(work, 'damaged.ivf');
      writeFileSync(target, damaged);
      expect(() => loadGraph(ENGINE_DEFAULTS.ivf, target, dim)).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringMatching(pattern) }));
    };
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 0x40;
    expectCorrupt(flipped, /checksum does not match/);
    expectCorrupt(bytes.subarray(0, bytes.length - 100), /do not hold/);
    expectCorrupt(bytes.subarray(0, 20), /too short/);
    expectCorrupt(Buffer.concat([Buffer.from('usearch'), bytes.subarray(7)]), /does not start as an rsclip ivf file/);
    expectCorrupt(bytes, /16 dimensions, the index 32/, 32);
    expect(() => loadGraph(ENGINE_DEFAULTS.ivf, path.join(work, 'missing.ivf'), DIM)).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT' }));
  });
});
