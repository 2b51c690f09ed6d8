/**
 * What `rsclip export` does to the file system around its output: a filter on a field the index
 * does not have is refused before anything is written (as search refuses it); Ctrl-C and SIGTERM
 * leave no hidden staging file; a replaced file keeps its permission bits.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportItems } from '../../src/search/index.js';
import { openIndex, type IndexStore } from '../../src/store/index.js';
import { runCli, spawnCli } from '../fixtures/cli.js';
import { indexInto } from '../fixtures/index-into.js';
import { writeMosaic } from '../fixtures/mosaic.js';
import { FakeEncoder } from '../indexer/fake-encoder.js';

let root: string;
let indexDir: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-export-files-'));
  const archive = path.join(root, 'archive');
  mkdirSync(archive);
  writeMosaic(path.join(archive, 'mosaic.tif'));
  writeFileSync(path.join(root, 'labels.csv'), 'filename,label\nmosaic.tif,farmland\n');
  indexDir = path.join(root, 'index');
  // about a thousand tiles with long embeddings: an export with them takes a while to write
  await indexInto({ roots: [archive], index: indexDir, model: new FakeEncoder({ dim: 512 }), fields: path.join(root, 'labels.csv'), overlap: 0.75 });
}, 240_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('refuses -k without --query (every item the filters keep is exported), and writes nothing', async () => {
  const file = path.join(root, 'k.csv');
  const result = await runCli(['export', '--index', indexDir, '--format', 'csv', '-k', '5', '-o', file]);
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(/^rsclip: -k counts the hits of --query; without --query every item the filters keep is exported/m);
  expect(existsSync(file)).toBe(false);
});

it('refuses a filter on a field the index does not have without --query, as search does, and writes nothing', async () => {
  const file = path.join(root, 'typo.csv');
  const result = await runCli(['export', '--index', indexDir, '--format', 'csv', '--filter', 'lable=farmland', '-o', file]);
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(/^rsclip: unknown filter field "lable" \(did you mean "label"\?\): .*this index's user fields are label/m);
  expect(existsSync(file)).toBe(false);
  const right = await runCli(['export', '--index', indexDir, '--format', 'csv', '--filter', 'label=farmland', '-o', file, '--json']);
  expect(right.code, right.stderr).toBe(0);
  expect(JSON.parse(right.stdout).items).toBeGreaterThan(0);
});

/** Ends an export to `file` with `signal` while it writes; returns how it ended. */
async function interruptedExport(file: string, signal: 'SIGINT' | 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null; caught: boolean }> {
  const folder = path.dirname(file);
  const child = spawnCli(['export', '--index', indexDir, '--format', 'geojson', '--embeddings', '-o', file]);
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, how) => resolve({ code, signal: how })));
  let caught = false;
  const watcher = watch(folder, (_event, name) => {
    if (caught || !name?.endsWith('.partial')) return;
    // frozen while its staging file is there, the signal waits for it to go on
    child.kill('SIGSTOP');
    caught = readdirSync(folder).some((n) => n.endsWith('.partial'));
    if (caught) child.kill(signal);
    child.kill('SIGCONT');
  });
  try {
    return { ...(await ended), caught };
  } finally {
    watcher.close();
  }
}

it.each(['SIGINT', 'SIGTERM'] as const)('leaves no staging file when %s ends it while it writes, ending by that signal', async (signal) => {
  const folder = path.join(root, `out-${signal}`);
  mkdirSync(folder);
  // the signal comes while the staging file is there, unless the export outran the watch: then again
  for (let attempt = 0; attempt < 5; attempt++) {
    const ended = await interruptedExport(path.join(folder, 'x.geojson'), signal);
    if (!ended.caught) {
      rmSync(path.join(folder, 'x.geojson'), { force: true });
      continue;
    }
    expect([ended.code, ended.signal]).toEqual([null, signal]);
    expect(readdirSync(folder)).toEqual([]);
    return;
  }
  throw new Error('every export finished before its staging file was seen');
}, 120_000);

it.each(['SIGINT', 'SIGTERM'] as const)('lets %s go once the file is in place: the export ends with status 0', async (signal) => {
  const file = path.join(root, `placed-${signal}.csv`);
  const child = spawnCli(['export', '--index', indexDir, '--format', 'csv', '-o', file]);
  child.stdout!.on('data', (d: Buffer) => {
    if (d.toString().includes('wrote ')) child.kill(signal);
  });
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, how) => resolve({ code, signal: how })));
  expect(ended).toEqual({ code: 0, signal: null });
  expect(existsSync(file)).toBe(true);
}, 60_000);

describe('replacing a file', () => {
  let store: IndexStore;
  beforeAll(async () => {
    store = await openIndex(indexDir, { readonly: true });
  });
  afterAll(() => store?.close());

  it.each(['csv', 'geojson', 'geoparquet'] as const)('keeps the permission bits of the %s file it replaces; a new file has the default', async (format) => {
    const folder = path.join(root, `modes-${format}`);
    mkdirSync(folder);
    for (const mode of [0o600, 0o664, 0o640]) {
      const file = path.join(folder, `private-${mode.toString(8)}.${format}`);
      writeFileSync(file, 'old');
      chmodSync(file, mode);
      await exportItems({ store, file, format, selection: { onlyIds: [1] } });
      expect(statSync(file).mode & 0o7777).toBe(mode);
    }
    const fresh = path.join(folder, `new.${format}`);
    await exportItems({ store, file: fresh, format, selection: { onlyIds: [1] } });
    const plain = path.join(folder, 'plain');
    writeFileSync(plain, '');
    expect(statSync(fresh).mode & 0o7777).toBe(statSync(plain).mode & 0o7777);
  });
});
