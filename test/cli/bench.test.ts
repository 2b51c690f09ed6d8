/** `rsclip bench` with the tiny model: every section measured on the user's folder and index, and the index left as it was. */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MachineBench } from '../../src/cli/bench.js';
import { openIndex } from '../../src/store/index.js';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

let work: string;
let archive: string;
let index: string;
let modelDir: string;
const FAST = ['--seconds', '0.05', '--threads', '1', '--queries', '3'];

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-bench-test-'));
  archive = path.join(work, 'archive');
  mkdirSync(path.join(archive, 'sub'), { recursive: true });
  for (let i = 0; i < 8; i++) writeFileSync(path.join(archive, i % 2 ? 'sub' : '', `tile_${i}.png`), makePng(i + 1, 48, 40));
  modelDir = await tinyModelDir();
  index = path.join(work, 'index');
  const built = await runCli(['index', archive, '--index', index, '--model', modelDir, '--threads', '1', '--json']);
  expect(built.code, built.stderr).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const benchTempFolders = () => readdirSync(tmpdir()).filter((name) => name.startsWith('rsclip-bench-') && !name.startsWith('rsclip-bench-test-')).length;

it('measures the encoder per variant, indexing on a sample of the archive, and queries on the index, and leaves the index as it was', async () => {
  const tempBefore = benchTempFolders();
  const result = await runCli(['bench', archive, '--model', modelDir, '--index', index, '--sample', '4', ...FAST, '--json']);
  expect(result.code, result.stderr).toBe(0);
  const report = JSON.parse(result.stdout) as MachineBench;
  expect(report.encoder.map((e) => e.variant)).toEqual(['fp32', 'int8']);
  for (const e of report.encoder) {
    expect(e.imagesPerSecond).toBeGreaterThan(0);
    expect(e.textMsPerQuery).toBeGreaterThan(0);
  }
  expect(report.indexing).toMatchObject({ archive, variant: 'int8', sampled: 4, candidates: 8, embedded: 4, errors: 0 });
  const indexing = report.indexing as Extract<MachineBench['indexing'], { sampled: number }>;
  // the share comes from the unrounded rates; the report rounds the rates to 0.1 and the share to 0.001
  const { shareOfEncoderRate: share, imagesPerSecond: rate, encoderImagesPerSecond: encoderRate } = indexing;
  expect(Math.abs(share - rate / encoderRate)).toBeLessThanOrEqual(0.0005 + share * (0.05 / rate + 0.05 / encoderRate) + 1e-9);
  // a share of the indexing run's time, never more than all of it
  expect(indexing.modelBusyShare).toBeGreaterThan(0);
  expect(indexing.modelBusyShare).toBeLessThanOrEqual(1);
  expect(report.queries).toMatchObject({ index, items: 8, engine: expect.any(String), queries: 3 });
  const queries = report.queries as Extract<MachineBench['queries'], { items: number }>;
  expect(queries.text.p95Ms).toBeGreaterThanOrEqual(queries.text.p50Ms);
  expect(queries.similar.p50Ms).toBeGreaterThan(0);

  const store = await openIndex(index, { readonly: true });
  expect(await store.countFiles()).toBe(8);
  await store.close();
  expect(benchTempFolders()).toBe(tempBefore);
});

it('refuses an --index that does not exist at once, before measuring anything, as a missing archive folder', async () => {
  const result = await runCli(['bench', '--model', modelDir, '--variant', 'int8', '--index', path.join(work, 'none'), ...FAST]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`rsclip: no index at ${path.join(work, 'none')}`);
  expect(result.stderr).toContain('check the path given to --index');
  expect(result.stderr).not.toContain('rsclip bench: encoder');
  expect(result.stdout).toBe('');
});

it('prints a table, and says what it skipped and why', async () => {
  // no --index, and no index at the default place: the queries are skipped
  const result = await runCli(['bench', '--model', modelDir, '--variant', 'int8', ...FAST], { cwd: work });
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.split('\n');
  expect(lines[0]).toMatch(/^machine {3}.+, \d+ cores, [\d.]+ GiB, load [\d.]+/);
  expect(lines).toContainEqual(expect.stringMatching(/^ {10}int8 +[\d.]+ +[\d.]+$/));
  expect(lines).toContain('indexing  skipped: no archive folder given');
  expect(lines).toContain(`queries   skipped: no index at ${path.join(work, 'data', 'index')}`);
  // an index with nothing to search skips the queries, keeping what was measured
  const empty = path.join(work, 'empty-index');
  mkdirSync(path.join(work, 'empty-archive'));
  expect((await runCli(['index', path.join(work, 'empty-archive'), '--index', empty, '--model', modelDir, '--threads', '1'])).code).toBe(0);
  const onEmpty = await runCli(['bench', '--model', modelDir, '--variant', 'int8', '--index', empty, ...FAST, '--json']);
  expect(onEmpty.code, onEmpty.stderr).toBe(0);
  const report = JSON.parse(onEmpty.stdout) as MachineBench;
  expect(report.queries).toEqual({ skipped: `index ${empty} has no searchable items` });
  expect(report.encoder.map((e) => e.variant)).toEqual(['int8']);
});

it('takes the model the index records when none is given, and needs one or the other', async () => {
  const fromIndex = await runCli(['bench', '--index', index, '--variant', 'fp32', ...FAST, '--json']);
  expect(fromIndex.code, fromIndex.stderr).toBe(0);
  expect((JSON.parse(fromIndex.stdout) as MachineBench).model).toBe(modelDir);
  writeFileSync(path.join(work, 'empty-config.json'), '{}');
  // no --model, and no index at the default place (an --index that does not exist is refused first)
  const neither = await runCli(['bench'], { cwd: work, env: { RSCLIP_CONFIG: path.join(work, 'empty-config.json') } });
  expect(neither.code).toBe(1);
  expect(neither.stderr).toMatch(/^rsclip: no model given: expected --model <dir>/);
  const missing = await runCli(['bench', '--index', index, '--model', path.join(work, 'moved-model'), ...FAST]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/^rsclip: no model folder at .*moved-model \(check the path/);
});
