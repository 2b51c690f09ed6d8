/**
 * An index whose recorded model folder now holds other files: the hint says how to get them back,
 * by fetching the revision again where the folder is one of the model cache's.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RsclipError } from '../../src/errors.js';
import { openEncoderForIndex } from '../../src/search/open-encoder.js';
import type { IndexMeta } from '../../src/store/types.js';
import { tinyModelDir } from '../fixtures/model.js';

const COMMIT = 'a'.repeat(40);
let root: string;
let model: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-changed-model-'));
  model = await tinyModelDir();
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The refusal of the index's model, recorded in `dir` with another fingerprint than its files give. */
async function refusal(dir: string, variant: string): Promise<RsclipError> {
  cpSync(model, dir, { recursive: true });
  const meta = { modelId: 'tiny', modelFingerprint: '0'.repeat(64), modelDir: dir, modelVariant: variant, embeddingDim: 32 } as unknown as IndexMeta;
  const error = await openEncoderForIndex(undefined, meta).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(RsclipError);
  expect((error as RsclipError).message).toMatch(/the model files in .* have changed since the index was built/);
  return error as RsclipError;
}

describe('the hint for a model folder whose files changed', () => {
  it('names the fetch that repairs a folder of the model cache, with the index variant', async () => {
    const cached = path.join(root, 'cache', 'models', 'qa--tiny-clip', COMMIT);
    expect((await refusal(cached, 'int8')).hint).toBe(
      `restore them with \`rsclip model fetch qa/tiny-clip --revision ${COMMIT} --variant int8 --refresh\` (it checks every file of the cache entry, repairs what differs and keeps its other variants), or index into a new --index dir`,
    );
  });

  it('says to put back the files of any other folder', async () => {
    expect((await refusal(path.join(root, 'mine'), 'fp32')).hint).toBe('put back the model files the index was built with, or index into a new --index dir');
  });
});
