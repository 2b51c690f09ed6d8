/**
 * The usearch graph file: usearch's loader crashes the process on a damaged file, so rsclip
 * checks the structure first. Every damaged file must give INDEX_CORRUPT (which the store
 * answers by rebuilding from the catalog), mapped or loaded, and never reach usearch.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createGraph, ENGINE_DEFAULTS, loadGraph, type EngineSpec } from '../../src/store/engines.js';
import { IdBitset } from '../../src/store/id-bitset.js';

const DIM = 16;
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-usearch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const spec: EngineSpec = ENGINE_DEFAULTS.usearch;

function vector(i: number): Float32Array {
  return Float32Array.from({ length: DIM }, (_, j) => Math.sin(i * 13 + j * 7));
}

async function savedIndex(count: number): Promise<{ file: string; bytes: Buffer }> {
  const graph = createGraph(spec, DIM, count);
  graph.addMany(Array.from({ length: count }, (_, i) => [i + 1, vector(i)] as const));
  graph.markDeleted(3);
  const file = path.join(work, `saved-${count}.bin`);
  await graph.save(file);
  return { file, bytes: readFileSync(file) };
}

function expectCorrupt(file: string, pattern: RegExp, engine: EngineSpec = spec, dim = DIM): void {
  for (const mapped of [false, true]) {
    expect(() => loadGraph(engine, file, dim, { mapped }), `mapped: ${mapped}`).toThrow(expect.objectContaining({ code: 'INDEX_CORRUPT', message: expect.stringMatching(pattern) }));
  }
}

describe('usearch graph file', () => {
  it('keeps the live and deleted ids in the file', async () => {
    const { file } = await savedIndex(50);
    for (const mapped of [false, true]) {
      const graph = loadGraph(spec, file, DIM, { mapped });
      expect(graph.ids()).toEqual(Array.from({ length: 50 }, (_, i) => i + 1).filter((id) => id !== 3));
      expect(graph.details()).toMatchObject({ size: 49, deleted: 1 });
      expect(graph.searchBestFirst(vector(9), 1)[0]).toEqual({ id: 10, score: expect.closeTo(1, 3) });
    }
  });

  it('refuses garbage, a cut file and a damaged trailer or head', async () => {
    const { bytes } = await savedIndex(200);
    const damaged = path.join(work, 'damaged.bin');
    writeFileSync(damaged, 'garbage');
    expectCorrupt(damaged, /too short|no rsclip trailer/);
    writeFileSync(damaged, Buffer.alloc(5000, 0x41));
    expectCorrupt(damaged, /no rsclip trailer/);
    for (const keep of [bytes.length - 1, Math.floor(bytes.length / 2), 100]) {
      writeFileSync(damaged, bytes.subarray(0, keep));
      expectCorrupt(damaged, /trailer/);
    }
    // usearch's part cut short, with a trailer that claims the shorter length
    const footer = bytes.subarray(bytes.length - 32);
    const usearchBytes = Number(footer.readBigUInt64LE(8));
    const trailer = bytes.subarray(usearchBytes);
    const cut = Buffer.concat([bytes.subarray(0, usearchBytes - 40), trailer]);
    cut.writeBigUInt64LE(BigInt(usearchBytes - 40), cut.length - 24);
    writeFileSync(damaged, cut);
    expectCorrupt(damaged, /the graph needs \d+ bytes/);
    // a vector count that points past the end (usearch itself would read out of bounds)
    const rows = Buffer.from(bytes);
    rows.writeUInt32LE(0x7fffffff, 0);
    writeFileSync(damaged, rows);
    expectCorrupt(damaged, /do not fit/);
    const head = Buffer.from(bytes);
    head.write('nosearc', 8 + 200 * DIM * 2, 'latin1');
    writeFileSync(damaged, head);
    expectCorrupt(damaged, /no usearch head/);
    const level = Buffer.from(bytes);
    level.writeInt16LE(999, 8 + 200 * DIM * 2 + 64 + 40);
    writeFileSync(damaged, level);
    expectCorrupt(damaged, /level 999/);
  });

  it('refuses a file of another dimension or quantisation than the index records', async () => {
    const { file } = await savedIndex(20);
    expectCorrupt(file, /vectors of 32 bytes, expected 8 x f16/, spec, 8);
    expectCorrupt(file, /expected 16 x i8/, { ...ENGINE_DEFAULTS.usearch, quantization: 'i8' });
  });

  it('is not hashed again when its identity on the disk is the one recorded, and is hashed when it is another', async () => {
    const graph = createGraph(spec, DIM, 30);
    graph.addMany(Array.from({ length: 30 }, (_, i) => [i + 1, vector(i)] as const));
    const file = path.join(work, 'identity.bin');
    const saved = await graph.save(file);
    const asked: string[] = [];
    const recorded = (identity: string) => (asked.push(identity), identity === saved.identity ? 'sha-recorded-at-checkpoint' : undefined);
    let seen: string | undefined;
    loadGraph(spec, file, DIM, { knownSha256: recorded, accept: (digest) => void (seen = digest.sha256) });
    expect(asked).toEqual([saved.identity]);
    expect(seen).toBe('sha-recorded-at-checkpoint');
    // the same bytes written again: another identity, so the file is hashed
    writeFileSync(file, readFileSync(file));
    loadGraph(spec, file, DIM, { knownSha256: recorded, accept: (digest) => void (seen = digest.sha256) });
    expect(asked[1]).not.toBe(saved.identity);
    expect(seen).toBe(saved.sha256);
  });

  it('refuses to save a mapped graph, which is read-only', async () => {
    const { file } = await savedIndex(10);
    const mapped = loadGraph(spec, file, DIM, { mapped: true });
    await expect(mapped.save(path.join(work, 'copy.bin'))).rejects.toMatchObject({ code: 'INDEX_READ_ONLY' });
  });
});

describe('IdBitset', () => {
  it('adds, deletes, counts and lists ids, across word boundaries and growth', () => {
    const set = new IdBitset();
    for (const id of [0, 31, 32, 63, 95, 5000, 100_000, 31]) set.add(id);
    set.delete(63);
    set.delete(64);
    set.delete(10 ** 9 * 4);
    expect(set.size).toBe(6);
    expect(set.ids()).toEqual([0, 31, 32, 95, 5000, 100_000]);
    expect(set.has(95) && !set.has(63) && !set.has(10 ** 10)).toBe(true);
    expect(new IdBitset(set.usedWords().slice()).ids()).toEqual(set.ids());
    expect(() => set.add(2 ** 32)).toThrow(RangeError);
    expect(() => set.add(1.5)).toThrow(RangeError);
  });
});
