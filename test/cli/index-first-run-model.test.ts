/**
 * The model an index records on its first run binds it only once a vector is stored: a first
 * `rsclip index` that fails before committing anything (a broken preprocessor_config.json) leaves
 * an index that takes the mended model, saying so; one with vectors still refuses another model.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { makePng } from '../fixtures/images.js';
import { tinyModelDir } from '../fixtures/model.js';

describe('an index whose first run stored nothing', () => {
  let work: string;
  const model = (): string => path.join(work, 'model');
  const images = (): string => path.join(work, 'images');
  const env = { RSCLIP_THREADS: '1', RSCLIP_CONFIG: undefined, RSCLIP_MODEL: undefined, RSCLIP_VARIANT: undefined };
  const preprocessor = (): string => path.join(model(), 'preprocessor_config.json');

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-first-run-'));
    cpSync(await tinyModelDir(), model(), { recursive: true, filter: (file) => !file.endsWith('_quantized.onnx') });
    mkdirSync(images());
    for (let i = 0; i < 3; i++) writeFileSync(path.join(images(), `s${i}.png`), makePng(i, 40, 40));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function breakPreprocessor(): string {
    const good = readFileSync(preprocessor(), 'utf8');
    writeFileSync(preprocessor(), JSON.stringify({ ...(JSON.parse(good) as object), crop_size: { height: 336, width: 336 } }));
    return good;
  }

  it('takes the mended model and says so in one line', async () => {
    const index = path.join(work, 'ix');
    const good = breakPreprocessor();
    const failed = await runCli(['index', images(), '--index', index, '--model', model()], { env });
    expect(failed.code, failed.stderr).not.toBe(0);
    expect(failed.stderr).toMatch(/336x336/);

    writeFileSync(preprocessor(), good);
    const mended = await runCli(['index', images(), '--index', index, '--model', model()], { env });
    expect(mended.code, mended.stderr).toBe(0);
    expect(mended.stderr).toMatch(/^rsclip: warning: index .* holds no vectors yet: it now uses model .* instead of .*, which its first run recorded\n/m);
    expect(mended.stderr).not.toMatch(/\(node:\d+\)|--trace-warnings/);
    expect(mended.stdout).toMatch(/added 3/);
  });

  it('an index with vectors still refuses a changed model', async () => {
    const index = path.join(work, 'ix-full');
    const built = await runCli(['index', images(), '--index', index, '--model', model()], { env });
    expect(built.code, built.stderr).toBe(0);
    const good = breakPreprocessor();
    try {
      const refused = await runCli(['index', images(), '--index', index, '--model', model()], { env });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/the index was built with model .*: the model files in .* have changed since the index was built/);
      expect(refused.stderr).toMatch(/put back the model files the index was built with/);
      expect(refused.stderr).not.toMatch(/holds no vectors/);
    } finally {
      writeFileSync(preprocessor(), good);
    }
  });
});
