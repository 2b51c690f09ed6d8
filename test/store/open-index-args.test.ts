/**
 * openIndex's arguments from a caller TypeScript does not check: a location that is not a string,
 * and creation without a model (or with something that is not a ModelInfo), are BAD_INPUT before
 * anything is written, so the directory (or schema) is not left half made for the user to delete.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../src/model/index.js';
import { openIndex, readIndexMeta, type OpenIndexOptions } from '../../src/store/index.js';
import { MODEL, PGLITE_BACKEND, withDatabase } from './backends.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-open-args-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const NO_MODEL = { code: 'BAD_INPUT', message: 'create needs options.model (a ModelInfo, e.g. encoder.info)' };

describe('openIndex', () => {
  it('refuses a location that is not a string', async () => {
    for (const location of [123, undefined, null, '']) {
      await expect(openIndex(location as unknown as string)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/^Expected an index directory or a postgres:\/\/ URL for location but received /) });
      await expect(readIndexMeta(location as unknown as string)).rejects.toMatchObject({ code: 'BAD_INPUT' });
    }
    await expect(openIndex(path.join(work, 'x'), 'readonly' as unknown as OpenIndexOptions)).rejects.toMatchObject({ code: 'BAD_INPUT', message: 'Expected an object for options but received "readonly" of type string' });
  });

  it('refuses to create an index without a model, or with one that is not a ModelInfo, writing nothing', async () => {
    const cases: [unknown, RegExp | string][] = [
      [undefined, NO_MODEL.message],
      [{}, 'options.model must be a ModelInfo (e.g. encoder.info): its id is missing'],
      ['tiny', 'options.model must be a ModelInfo (e.g. encoder.info): got "tiny"'],
      [{ ...MODEL, fingerprint: undefined }, 'options.model must be a ModelInfo (e.g. encoder.info): its fingerprint is missing'],
      [{ ...MODEL, embeddingDim: '8' }, 'options.model must be a ModelInfo (e.g. encoder.info): its embeddingDim is not a positive integer'],
    ];
    for (const [i, [model, message]] of cases.entries()) {
      const dir = path.join(work, `no-model-${i}`);
      const options = { create: true, ...(model === undefined ? {} : { model: model as ModelInfo }) };
      await expect(openIndex(dir, options)).rejects.toMatchObject({ code: 'BAD_INPUT', message });
      expect(existsSync(dir), `${String(i)}: nothing written`).toBe(false);
      // the same directory is then created as usual
      const store = await openIndex(dir, { create: true, model: MODEL });
      expect(store.meta.modelFingerprint).toBe(MODEL.fingerprint);
      await store.close();
    }
    // an index that exists opens without a model, create or not
    const reopened = await openIndex(path.join(work, 'no-model-0'), { create: true });
    expect(reopened.meta.modelId).toBe(MODEL.id);
    await reopened.close();
  });
});

describe('openIndex on PostgreSQL', () => {
  beforeAll(() => PGLITE_BACKEND.start!(), 120_000);
  afterAll(() => PGLITE_BACKEND.stop!());

  it('refuses to create an index without a model before creating its schema', async () => {
    const { location, dispose } = PGLITE_BACKEND.newLocation();
    try {
      await expect(openIndex(location, { create: true })).rejects.toMatchObject(NO_MODEL);
      await expect(openIndex(location, { create: true, model: {} as ModelInfo })).rejects.toMatchObject({ code: 'BAD_INPUT', message: /its id is missing/ });
      const schemas = await withDatabase(location, async (client, schema) => (await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])).rows.length);
      expect(schemas).toBe(0);
      const store = await openIndex(location, { create: true, model: MODEL });
      await store.close();
    } finally {
      await dispose();
    }
  }, 120_000);
});
