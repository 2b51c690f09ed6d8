/** `rsclip index --engine`: a new index records the engine asked for; an existing one keeps its own and says so. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openIndex } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

let work: string;
let archive: string;
let modelDir: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-engine-'));
  archive = path.join(work, 'archive');
  mkdirSync(archive);
  for (let i = 0; i < 6; i++) writeFileSync(path.join(archive, `tile_${i}.png`), makePng(i + 1, 40, 40));
  modelDir = await tinyModelDir();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

it('creates a usearch index with int8 vectors, searches it, and keeps its engine when asked for another', async () => {
  const index = path.join(work, 'index');
  const index1 = await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--engine', 'usearch:i8', '--json']);
  expect(index1.stderr).toBe('');
  const store = await openIndex(index, { readonly: true });
  expect(store.meta.engine).toEqual({ name: 'usearch', M: 16, efConstruction: 200, quantization: 'i8' });
  await store.close();
  // "more like #2" (item 2 itself is never among the results): the int8 graph, re-ranked, finds what exact search finds
  const search = await runCli(['search', '#2', '--index', index, '-k', '1', '--json']);
  const exact = await runCli(['search', '#2', '--index', index, '-k', '1', '--exact', '--json']);
  expect(search.code, search.stderr).toBe(0);
  expect(exact.code, exact.stderr).toBe(0);
  const top = (out: string) => (JSON.parse(out) as { hits: { id: number; score: number }[] }).hits[0]!;
  expect(top(search.stdout).id).not.toBe(2);
  expect(top(search.stdout)).toEqual(expect.objectContaining({ id: top(exact.stdout).id, score: expect.closeTo(top(exact.stdout).score, 2) }));
  const again = await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--engine', 'hnswlib', '--json']);
  expect(again.code).toBe(0);
  expect(again.stderr).toBe('rsclip: the index exists and keeps its engine usearch:i8:M16:efc200; --engine applies to new indexes (`rsclip index copy --from DIR --to NEW_DIR --engine LABEL` makes a copy with another one, without embedding again)\n');
});

it('builds a graph with the links per node and build ef asked for', async () => {
  const index = path.join(work, 'index-m32');
  const run = await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--engine', 'hnswlib:M32:efc300', '--json']);
  expect(run.code, run.stderr).toBe(0);
  const store = await openIndex(index, { readonly: true });
  expect(store.meta.engine).toEqual({ name: 'hnswlib', M: 32, efConstruction: 300, seed: 100 });
  await store.close();
  const again = await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--engine', 'hnswlib:M16', '--json']);
  expect(again.stderr).toMatch(/keeps its engine hnswlib:M32:efc300;/);
});

it('creates an ivf index (lists of int8 vectors) whose searches, re-ranked, find what exact search finds', async () => {
  const index = path.join(work, 'index-ivf');
  const run = await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--engine', 'ivf', '--json']);
  expect(run.code, run.stderr).toBe(0);
  const store = await openIndex(index, { readonly: true });
  expect(store.meta.engine).toEqual({ name: 'ivf' });
  expect(await store.countItems({})).toBe(6);
  await store.close();
  const hits = (out: string) => (JSON.parse(out) as { hits: { id: number; score: number }[] }).hits.map(({ id, score }) => ({ id, score: Math.round(score * 1e4) }));
  for (const query of ['#2', 'a square tile']) {
    const search = await runCli(['search', query, '--index', index, '-k', '3', '--json']);
    const exact = await runCli(['search', query, '--index', index, '-k', '3', '--exact', '--json']);
    expect(search.code, search.stderr).toBe(0);
    expect(exact.code, exact.stderr).toBe(0);
    expect(hits(search.stdout)).toEqual(hits(exact.stdout));
  }
  const again = await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--engine', 'usearch', '--json']);
  expect(again.stderr).toMatch(/keeps its engine ivf;/);
});

it('refuses an engine it does not have, before touching anything', async () => {
  for (const [engine, message] of [
    ['faiss', /unknown vector engine "faiss": expected ivf, or name\[:precision\]\[:M<links>\]\[:efc<build ef>\] with name hnswlib or usearch/],
    ['ivf:M16', /vector engine "ivf:M16": the ivf engine sizes its lists from the index and keeps int8 vectors: it takes no M/],
    ['ivf:f16', /vector engine "ivf:f16": the ivf engine .* it takes no quantization/],
    ['usearch:M1000', /vector engine "usearch:M1000": Expected an integer from 2 to 128 for M but received 1000/],
    ['usearch:f16:M8:M9', /cannot read "M9" in the vector engine "usearch:f16:M8:M9"/],
  ] as const) {
    const result = await runCli(['index', archive, '--index', path.join(work, 'other'), '--model', modelDir, '--engine', engine]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
  }
});
