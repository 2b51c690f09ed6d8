/**
 * usearch graphs of f16 vectors are built under the cosine (usearch-native.ts). An index whose
 * graph file an older rsclip wrote under the inner product still opens: a reader serves it as it
 * is, with a notice that results may be less accurate, and the next writer builds it again from
 * the catalog, saying so.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { CATALOG_FILE } from '../../src/store/embedded/catalog.js';
import { GRAPH_FILE } from '../../src/store/embedded/graph-sync.js';
import { openIndex } from '../../src/store/index.js';
import { MODEL } from './backends.js';

const DIM = 16;
const work = mkdtempSync(path.join(tmpdir(), 'rsclip-usearch-metric-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fileOf = (i: number) => ({ root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${i}`, width: 1, height: 1, format: 'png' });

/** The byte of usearch's head that names the metric ('i' inner product, 'c' cosine): after the vectors. */
function metricByteAt(file: Buffer): number {
  const rows = file.readUInt32LE(0);
  const rowBytes = file.readUInt32LE(4);
  return 8 + rows * rowBytes + 13;
}

describe('an f16 usearch graph written under the inner product', () => {
  it('is served as it is by a reader, and built again under the cosine by the next writer', async () => {
    const random = seededRandom(9);
    const vectors = Array.from({ length: 60 }, () => Float32Array.from({ length: DIM }, () => random() * 2 - 1));
    const location = path.join(work, 'index');
    const model = { ...MODEL, embeddingDim: DIM };
    const created = await openIndex(location, { model, create: true });
    await created.commit(vectors.map((vector, i) => ({ kind: 'put', file: fileOf(i), vector })));
    await created.close();

    // the file as an older rsclip wrote it: the metric byte says inner product, and the catalog recorded its checksum
    const graphFile = path.join(location, GRAPH_FILE);
    const bytes = readFileSync(graphFile);
    const at = metricByteAt(bytes);
    expect(String.fromCharCode(bytes[at]!)).toBe('c');
    bytes[at] = 'i'.charCodeAt(0);
    writeFileSync(graphFile, bytes);
    const db = new Database(path.join(location, CATALOG_FILE));
    db.prepare("UPDATE meta SET value = ? WHERE key = 'hnsw_sha256'").run(createHash('sha256').update(bytes).digest('hex'));
    db.close();

    const reader = await openIndex(location, { readonly: true });
    try {
      expect((await reader.search(vectors[7]!, 1))[0]?.id).toBeDefined();
      // said once, for the operator (a server logs it, search prints it on stderr)
      expect(reader.describe().notices).toEqual([
        `HNSW file of f16 vectors under the inner product (an older rsclip), which leaves near-identical vectors unreachable: this reader serves it as it is, so results may be less accurate until a writer rebuilds it (\`rsclip index\` on the archive, or \`rsclip doctor --index ${location}\`)`,
      ]);
    } finally {
      await reader.close();
    }
    expect(String.fromCharCode(readFileSync(graphFile)[at]!)).toBe('i');

    const writer = await openIndex(location, {});
    try {
      const report = await writer.verify();
      expect(report.repaired).toContainEqual(expect.stringMatching(/under the inner product .*; rebuilt from the catalog/));
      expect(report.ok).toBe(true);
    } finally {
      await writer.close();
    }
    expect(String.fromCharCode(readFileSync(graphFile)[at]!)).toBe('c');

    const again = await openIndex(location, {});
    try {
      expect((await again.verify()).repaired).toEqual([]);
    } finally {
      await again.close();
    }
  });
});
