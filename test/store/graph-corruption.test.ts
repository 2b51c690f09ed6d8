/**
 * A damaged graph file (vectors.hnsw) must never crash a reader or a writer, nor give wrong
 * answers: 30 seeded corruptions (8 random byte writes each, some in the header, some files cut
 * short) are each opened read-only as `search` and `serve` do, then repaired as `doctor` does,
 * then read again; every answer is compared with exact search over the catalog's vectors. The
 * trials run in a child process, so that a crash (SIGSEGV in hnswlib or usearch) fails the test
 * instead of killing the test runner. Each engine has its own file format and its own trials.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex, type EngineName } from '../../src/store/index.js';
import { REPO_ROOT } from '../fixtures/cli.js';
import { MODEL } from './backends.js';
import { seededRandom } from '../../src/eval/random.js';

const ITEMS = 400;
const DIM = 8;
const TRIALS = 30;
const QUERIES = 25;
const K = 10;

let work: string;
const ENGINES: readonly EngineName[] = ['hnswlib', 'usearch'];

function randomUnit(random: () => number): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => random() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-graph-corruption-'));
  for (const engine of ENGINES) await buildPristine(engine);
});

async function buildPristine(engine: EngineName): Promise<void> {
  const random = seededRandom(1);
  const store = await openIndex(path.join(work, `pristine-${engine}`), { model: { ...MODEL, embeddingDim: DIM }, create: true, engine: { name: engine } });
  await store.commit(
    Array.from({ length: ITEMS }, (_, i) => ({
      kind: 'put' as const,
      file: { root: '/archive', path: `${i}.png`, bytes: 1, mtimeMs: 1, contentHash: `h${i}`, width: 1, height: 1, format: 'png' },
      vector: randomUnit(random),
    })),
  );
  // some deleted labels too, as in a real index
  await store.commit(Array.from({ length: 20 }, (_, i) => ({ kind: 'remove' as const, fileId: 5 * i + 1 })));
  await store.close();
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the trials in a child; `legacy` drops the recorded checksums first, as in an index of rsclip 0.1. */
function runTrials(engine: EngineName, legacy: boolean): Record<string, unknown>[] {
  const pristine = path.join(work, `pristine-${engine}`);
  const script = path.join(work, 'trials.mts');
  writeFileSync(
    script,
    `
    import { cpSync, readFileSync, truncateSync, writeFileSync, statSync } from 'node:fs';
    import path from 'node:path';
    import Database from ${JSON.stringify(path.join(REPO_ROOT, 'node_modules/better-sqlite3/lib/index.js'))};
    import { seededRandom } from ${JSON.stringify(path.join(REPO_ROOT, 'src/eval/random.ts'))};
    import { openIndex } from ${JSON.stringify(path.join(REPO_ROOT, 'src/store/index.ts'))};
    const [pristine, work, legacy] = process.argv.slice(2);
    const DIM = ${DIM};
    const randomUnit = ${randomUnit.toString().replace(/: \(\) => number|: Float32Array/g, '')};
    const queryRandom = seededRandom(99);
    const queries = Array.from({ length: ${QUERIES} }, () => randomUnit(queryRandom));
    /** The exact top K over the catalog's vectors: the truth the answers are held to. */
    async function exactAnswers(store) {
      return Promise.all(queries.map(async (q) => (await store.search(q, ${K}, { exact: true })).map((h) => h.id)));
    }
    // a beam as wide as the index: usearch builds on several threads, so a rebuilt graph is not the pristine one, and only a full beam makes its answers exact
    async function answers(store) {
      return Promise.all(queries.map(async (q) => (await store.search(q, ${K}, { ef: ${ITEMS} })).map((h) => h.id)));
    }
    // the same ids (equal scores may come in either order)
    const same = (a, b) => JSON.stringify(a.map((ids) => [...ids].sort((x, y) => x - y))) === JSON.stringify(b.map((ids) => [...ids].sort((x, y) => x - y)));
    const reference = await openIndex(pristine, { readonly: true });
    const truth = await exactAnswers(reference);
    const pristineAnswers = await answers(reference);
    await reference.close();
    console.log(JSON.stringify({ pristine: same(pristineAnswers, truth) }));
    for (let trial = 0; trial < ${TRIALS}; trial++) {
      const dir = path.join(work, path.basename(pristine) + '-' + legacy + '-trial-' + trial);
      cpSync(pristine, dir, { recursive: true });
      if (legacy === 'legacy') {
        const db = new Database(path.join(dir, 'catalog.sqlite'));
        db.prepare("DELETE FROM meta WHERE key IN ('hnsw_sha256', 'hnsw_bytes')").run();
        db.close();
      }
      const graph = path.join(dir, 'vectors.hnsw');
      const random = seededRandom(1000 + trial);
      const size = statSync(graph).size;
      if (trial % 10 === 9) {
        truncateSync(graph, Math.floor(random() * size));
      } else {
        const bytes = readFileSync(graph);
        for (let w = 0; w < 8; w++) {
          // every third trial puts one write into the 96-byte header
          const at = w === 0 && trial % 3 === 0 ? Math.floor(random() * 96) : Math.floor(random() * size);
          bytes[at] = Math.floor(random() * 256);
        }
        writeFileSync(graph, bytes);
      }
      const reader = await openIndex(dir, { readonly: true });
      const readerCorrect = same(await answers(reader), truth);
      await reader.close();
      const doctor = await openIndex(dir);
      const report = await doctor.verify();
      const doctorCorrect = same(await answers(doctor), truth);
      await doctor.close();
      const after = await openIndex(dir, { readonly: true });
      const afterCorrect = same(await answers(after), truth);
      await after.close();
      const again = await openIndex(dir);
      const second = await again.verify();
      await again.close();
      console.log(JSON.stringify({ trial, readerCorrect, doctorOk: report.ok, doctorCorrect, afterCorrect, secondRepairs: second.repaired }));
    }
  `,
  );
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, pristine, work, legacy ? 'legacy' : 'current'], { encoding: 'utf8', cwd: REPO_ROOT, maxBuffer: 16 << 20 });
  expect(child.signal, child.stderr).toBeNull();
  expect(child.status, child.stderr).toBe(0);
  const lines = child.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines[0]).toEqual({ pristine: true });
  expect(lines.slice(1)).toHaveLength(TRIALS);
  return lines.slice(1);
}

describe.each(ENGINES)('a damaged %s graph file', (engine) => {
  it(`never crashes a reader or doctor and always gives correct answers (${TRIALS} seeded corruptions)`, () => {
    for (const t of runTrials(engine, false)) {
      expect(t).toEqual({ trial: t.trial, readerCorrect: true, doctorOk: true, doctorCorrect: true, afterCorrect: true, secondRepairs: [] });
    }
  }, 180_000);

  it(`of an index without recorded checksums never crashes anything and is right after doctor (${TRIALS} seeded corruptions)`, () => {
    for (const t of runTrials(engine, true)) {
      // hnswlib (rsclip 0.1): without a checksum a changed vector goes unseen until doctor compares the graph with the catalog;
      // usearch reads no unchecked file: it is rebuilt from the catalog at once
      expect(t).toEqual({ trial: t.trial, readerCorrect: engine === 'usearch' ? true : expect.any(Boolean), doctorOk: true, doctorCorrect: true, afterCorrect: true, secondRepairs: [] });
    }
  }, 180_000);
});
