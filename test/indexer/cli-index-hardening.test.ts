/**
 * `rsclip index`, `errors` and `eval labels` as a new user meets them (tiny model, child
 * processes): refusals leave nothing behind, every file seen is indexed or counted with a
 * reason, failed files are listed and retried, and an index's recorded model and variant are
 * the default everywhere.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { makePng, writeBadFiles } from '../fixtures/images.js';
import { writeRandomClipModel } from '../../src/model/export/index.js';
import { tinyModelDir } from '../fixtures/model.js';

let work: string;
let archive: string;
let modelDir: string;

interface Summary {
  scanned: number;
  embedded: number;
  errors: number;
  unchanged: number;
  skipped: { reason: string; count: number; examples: string[] }[];
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-cli-hardening-'));
  archive = path.join(work, 'archive');
  for (let i = 0; i < 6; i++) {
    const file = path.join(archive, `class${i % 2}`, `tile_${i}.png`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, makePng(i + 1, 40, 40));
  }
  writeFileSync(path.join(archive, 'class0', 'large.png'), makePng(99, 120, 120));
  writeFileSync(path.join(archive, 'scan.bmp'), Buffer.from('424d3a000000', 'hex'));
  writeFileSync(path.join(archive, 'README.txt'), 'captions live elsewhere\n');
  writeFileSync(Buffer.concat([Buffer.from(`${archive}/name-`), Buffer.from([0xe9]), Buffer.from('.png')]), makePng(7, 40, 40));
  modelDir = await tinyModelDir();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs rsclip; commands that load the model get one thread. */
const cli = (args: string[]) => runCli(['index', 'eval'].includes(args[0]!) ? [...args, '--threads', '1'] : args);

async function indexJson(index: string, extra: string[] = []): Promise<Summary> {
  const result = await cli(['index', archive, '--index', index, '--json', ...extra]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Summary;
}

describe('rsclip index and errors (tiny model, child processes)', () => {
  it('refuses a missing folder or a file given as the archive, leaving no index behind; warns about an empty folder', async () => {
    const index = path.join(work, 'refused');
    for (const archiveArg of [path.join(work, 'nope'), path.join(archive, 'class0', 'tile_0.png')]) {
      const result = await cli(['index', archiveArg, '--index', index, '--model', modelDir]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^rsclip: (archive folder .* does not exist|expected a folder to index but .* is a file) \(.*nothing was changed in the index\)\n$/);
      expect(existsSync(index)).toBe(false);
    }
    const empty = path.join(work, 'empty');
    mkdirSync(empty);
    const result = await cli(['index', empty, '--index', path.join(work, 'empty-index'), '--model', modelDir, '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`rsclip: warning: no image files found in ${empty}\n`);
  });

  it('counts every file it does not index with a reason, lists failed files by path with their hint, and retries them when asked or when the pixel limit changes', async () => {
    const index = path.join(work, 'errors');
    const first = await indexJson(index, ['--model', modelDir, '--max-input-pixels', '5000']);
    expect(first).toMatchObject({ scanned: 7, errors: 1 });
    expect(first.skipped.map((s) => [s.reason, s.count]).sort()).toEqual(
      [
        ['file name is not valid UTF-8 (rename it to index it)', 1],
        ['image format rsclip cannot read (BMP): convert to PNG, JPEG or TIFF to index it', 1],
        ['not an image file (by its extension)', 1],
      ].sort(),
    );

    const listed = await cli(['errors', '--index', index]);
    expect(listed.code).toBe(0);
    const large = path.join(archive, 'class0', 'large.png');
    expect(listed.stdout).toBe(
      `${large}\timage ${large} has 120x120 = 14400 pixels, more than the limit of 5000 (downscale the image or raise the pixel limit (--max-input-pixels))\n`,
    );
    expect(listed.stderr).toMatch(/^1 file failed; `rsclip index --retry-errors` tries them again/);
    const json = JSON.parse((await cli(['errors', '--index', index, '--json'])).stdout) as { path: string; error: string }[];
    expect(json).toEqual([expect.objectContaining({ path: 'class0/large.png', error: expect.stringContaining('more than the limit of 5000') })]);
    expect((await cli(['doctor', '--index', index])).stdout).toContain('1 files could not be indexed: `rsclip errors` lists them and why');

    // the same settings: nothing to do; asked to retry: tried again (and fails again)
    expect(await indexJson(index, ['--max-input-pixels', '5000'])).toMatchObject({ errors: 0, unchanged: 7 });
    expect(await indexJson(index, ['--max-input-pixels', '5000', '--retry-errors'])).toMatchObject({ errors: 1, unchanged: 6 });
    // another pixel limit: the file that failed is tried again, and now it fits
    expect(await indexJson(index)).toMatchObject({ errors: 0, embedded: 1, unchanged: 6 });
    const none = await cli(['errors', '--index', index]);
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'no file failed\n' });
  });

  it('takes the model and the variant an index records as the default for index and eval labels, and names the variant on a mismatch', async () => {
    const index = path.join(work, 'int8');
    const bad = path.join(work, 'bad-archive');
    writeBadFiles(bad);
    expect((await cli(['index', bad, '--index', index, '--model', modelDir, '--variant', 'int8', '--json'])).code).toBe(0);
    // no --model, no --variant: the recorded ones
    expect(await indexJson(index)).toMatchObject({ scanned: 7, embedded: 7 });
    const labels = await cli(['eval', 'labels', '--index', index, '--labels-from-folders', '--json']);
    expect(labels.stderr).not.toMatch(/error/i);
    expect(labels.code).toBe(0);
    // the report records the command that ran it (report.md said "(library call)")
    expect(JSON.parse(labels.stdout).commandLine).toMatch(/^rsclip eval labels --index .* --labels-from-folders --json\b/);
    const mismatch = await cli(['index', archive, '--index', index, '--variant', 'fp32']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(/^rsclip: the index was built with model .* \(int8, [0-9a-f]{12}\); .* has fp32 \([0-9a-f]{12}\) \(variant fp32 asked for\) \(leave out the variant \(--variant, RSCLIP_VARIANT or the config file's "variant": the index uses int8\), or index into a new --index dir\)\n$/);
    // another model: leaving the variant out would not help, so the hint is the model
    const other = await writeRandomClipModel(path.join(work, 'other-model'), { size: 'tiny', seed: 1, quantize: 'int8' });
    const otherModel = await cli(['search', 'a river', '--index', index, '--model', other, '--variant', 'fp32']);
    expect(otherModel.code).toBe(1);
    expect(otherModel.stderr).toMatch(/\(variant fp32 asked for\) \(pass --model with the model directory the index was built with, or index into a new --index dir\)\n$/);
  });
});
