/** What openModelDirectory refuses beyond the transformers.js files: rsclip's own rsclip.json, and a missing default variant. */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { openModelDirectory } from '../../src/model/model-dir.js';
import { tinyModelDir } from '../fixtures/model.js';

function refusal(dir: string): RsclipError {
  try {
    openModelDirectory(dir);
  } catch (error) {
    expect(error).toBeInstanceOf(RsclipError);
    return error as RsclipError;
  }
  throw new Error(`${dir} was not refused`);
}

describe('openModelDirectory', () => {
  let work: string;
  let source: string;
  beforeAll(async () => {
    source = await tinyModelDir();
    work = mkdtempSync(path.join(os.tmpdir(), 'rsclip-model-notes-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function copy(name: string, filter: (file: string) => boolean = () => true): string {
    const dir = path.join(work, name);
    cpSync(source, dir, { recursive: true, filter });
    return dir;
  }

  it('reads logitScale from rsclip.json', () => {
    const dir = copy('scale');
    writeFileSync(path.join(dir, 'rsclip.json'), JSON.stringify({ logitScale: 42.5 }));
    expect(openModelDirectory(dir).logitScale).toBe(42.5);
  });

  it('refuses a malformed rsclip.json, with what to do', () => {
    const dir = copy('bad-json');
    writeFileSync(path.join(dir, 'rsclip.json'), '{"logitScale": ');
    const error = refusal(dir);
    expect(error.code).toBe('MODEL_INVALID');
    expect(error.message).toMatch(/rsclip\.json is not valid JSON/);
    expect(error.hint).toMatch(/fix or delete rsclip\.json/);
  });

  it('refuses a logitScale that is not a number', () => {
    const dir = copy('bad-scale');
    writeFileSync(path.join(dir, 'rsclip.json'), JSON.stringify({ logitScale: '100' }));
    const error = refusal(dir);
    expect(error.message).toMatch(/rsclip\.json is malformed: .*logitScale/);
  });

  it('points an int8-only folder opened as fp32 at --variant int8', () => {
    const dir = copy('int8-only', (file) => !/(vision|text)_model\.onnx$/.test(file));
    const error = refusal(dir);
    expect(error.message).toMatch(/has no onnx\/vision_model\.onnx; variants present: int8/);
    expect(error.hint).toMatch(/^use --variant int8/);
  });
});
