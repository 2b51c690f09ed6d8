import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClip } from '../../src/model/index.js';
import { runCli } from '../fixtures/cli.js';
import { indexInto } from '../fixtures/index-into.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

let root: string;
let archive: string;
let indexDir: string;
let modelDir: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-cli-search-'));
  archive = path.join(root, 'archive');
  indexDir = path.join(root, 'index');
  for (let i = 0; i < 6; i++) {
    const file = path.join(archive, i < 3 ? 'a' : 'b', `scene-${i}.png`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, makePng(100 + i, 40, 40));
  }
  modelDir = await tinyModelDir();
  // the int8 variant: `rsclip search` must find the variant whose fingerprint the index records
  const encoder = await openClip(modelDir, { variant: 'int8', threads: 1 });
  try {
    await indexInto({ roots: [archive], index: indexDir, model: encoder });
  } finally {
    await encoder.close();
  }
}, 180_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('rsclip search', () => {
  it('prints seven tab-separated columns per hit, the path alone in the third and copies in the notes', async () => {
    const copies = path.join(root, 'copies');
    mkdirSync(copies);
    writeFileSync(path.join(copies, 'one.png'), makePng(7, 40, 40));
    writeFileSync(path.join(copies, 'two.png'), makePng(7, 40, 40));
    writeFileSync(path.join(copies, 'other.png'), makePng(8, 40, 40));
    const copiesIndex = path.join(root, 'copies-index');
    const indexed = await runCli(['index', copies, '--index', copiesIndex, '--model', modelDir, '--threads', '1']);
    expect(indexed.code, indexed.stderr).toBe(0);
    const result = await runCli(['search', path.join(copies, 'one.png'), '--index', copiesIndex, '--threads', '1']);
    expect(result.code, result.stderr).toBe(0);
    const rows = result.stdout.trimEnd().split('\n').map((line) => line.split('\t'));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toHaveLength(7);
    expect(rows.map((row) => existsSync(row[2]!))).toEqual([true, true]);
    expect(rows[0]!.slice(3)).toEqual(['-', '-', '-', '2 copies']);
    expect(rows[1]!.slice(2)).toEqual([path.join(copies, 'other.png'), '-', '-', '-', '-']);
  });


  it('ranks an image first for its own file, and prints paths with scores', async () => {
    const file = path.join(archive, 'b', 'scene-4.png');
    const json = await runCli(['search', file, '--index', indexDir, '--model', modelDir, '-k', '3', '--json', '--threads', '1']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const page = JSON.parse(json.stdout);
    expect(page.hits).toHaveLength(3);
    expect(page.hits[0]).toMatchObject({ path: 'b/scene-4.png', absolutePath: file, score: expect.closeTo(1, 4) });

    const plain = await runCli(['search', 'a river', '+', file, '-', 'parking lot', '--index', indexDir, '--model', modelDir, '--filter', 'folder=a', '--threads', '1']);
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(new RegExp(`^-?\\d\\.\\d{4}\\t#\\d+\\t${archive.replace(/[/\\]/g, '.')}.a.scene-\\d\\.png\\t-\\t-\\t-\\t-$`));
  });

  it('uses the model the index recorded when --model is absent, and fails on one line once it is gone', async () => {
    const recorded = await runCli(['search', path.join(archive, 'a', 'scene-1.png'), '--index', indexDir, '-k', '1', '--json', '--threads', '1'], { env: { RSCLIP_MODEL: '' } });
    expect(recorded.code, recorded.stderr).toBe(0);
    expect(JSON.parse(recorded.stdout).hits[0]).toMatchObject({ path: 'a/scene-1.png' });

    const movedModel = path.join(root, 'model-copy');
    const movedIndex = path.join(root, 'index-moved-model');
    cpSync(modelDir, movedModel, { recursive: true });
    await indexInto({ roots: [path.join(archive, 'a')], index: movedIndex, model: movedModel, threads: 1 });
    rmSync(movedModel, { recursive: true });
    const gone = await runCli(['search', 'river', '--index', movedIndex], { env: { RSCLIP_MODEL: '' } });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^rsclip: no model given: the index was built with .+ which no longer exists \(pass --model .+\)\n$/);
  });

  it('fails on one line when the query is malformed', async () => {
    const dangling = await runCli(['search', 'river', '-', '--index', indexDir, '--model', modelDir]);
    expect(dangling.code).toBe(1);
    expect(dangling.stderr).toMatch(/^rsclip: the query ends with "-"/);
  });
});
