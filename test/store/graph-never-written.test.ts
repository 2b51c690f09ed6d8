/**
 * An index whose first run was stopped after it committed vectors but before its first
 * checkpoint has no graph file and none recorded: the next writer (`doctor`) builds the graph
 * from the catalog and writes it, and its report lists that, as it lists a graph file deleted.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { MODEL } from './backends.js';

const DIM = 8;
const model = { ...MODEL, embeddingDim: DIM };
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-graph-never-written-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const put = (i: number) => ({
  kind: 'put' as const,
  file: { root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${i}`, width: 1, height: 1, format: 'png' },
  vector: Float32Array.from({ length: DIM }, (_, j) => (j === i % DIM ? 1 : 0)),
});

describe('an index whose graph file was never written', () => {
  it('has it written by doctor, which lists it under repaired', async () => {
    const index = path.join(work, 'index');
    const first = await openIndex(index, { model, create: true });
    await first.commit(Array.from({ length: 50 }, (_, i) => put(i)));
    await first.close();
    // what a first run killed before its first checkpoint leaves: no graph file, none recorded
    rmSync(path.join(index, 'vectors.hnsw'));
    const db = new Database(path.join(index, 'catalog.sqlite'));
    db.prepare("UPDATE meta SET value = '-1' WHERE key IN ('hnsw_seq', 'hnsw_next_seq')").run();
    db.close();

    const doctor = await openIndex(index, { catalogCheck: 'full' });
    const report = await doctor.verify();
    await doctor.close();
    expect(report.ok).toBe(true);
    expect(report.repaired).toContain('HNSW file never written (the run that indexed, or the copy that made the index, stopped before writing it); built from the catalog (50 vectors)');
    expect(existsSync(path.join(index, 'vectors.hnsw'))).toBe(true);
  });
});
