/**
 * openIndex with what a JavaScript caller may get wrong: an engine given as its label (a string,
 * as --engine takes it) or an unknown one is refused before anything is written, not replaced by
 * the default engine; a location that is a file is "not an index directory", not an ENOTDIR; a
 * NaN duration is refused, not a reader that never looks for commits again.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIndex, parseEngineLabel, readIndexMeta, type EngineChoice, type OpenIndexOptions } from '../../src/store/index.js';
import { MODEL } from './backends.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'rsclip-open-mistakes-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('openIndex engine', () => {
  it('refuses an engine that is not an EngineChoice object, or an unknown one, writing nothing', async () => {
    const notAnObject = (shown: string, type: string) => `Expected an EngineChoice object ({ name: "hnswlib" or "usearch" or "ivf", ...its parameters }) for engine but received ${shown} of type ${type}`;
    const cases: [unknown, object][] = [
      ['hnswlib', { message: notAnObject('"hnswlib"', 'string'), hint: 'parseEngineLabel("hnswlib") makes one of an engine label, as --engine takes it' }],
      ['no-such-engine', { message: notAnObject('"no-such-engine"', 'string') }],
      [42, { message: notAnObject('42', 'number') }],
      [null, { message: notAnObject('null', 'object') }],
      [{ name: 'no-such-engine' }, { message: 'Expected one of hnswlib, usearch, ivf for engine but received "no-such-engine" of type string' }],
      [{ name: 'ivf', M: 8 }, { message: 'the ivf engine sizes its lists from the index and keeps int8 vectors: it takes no M' }],
      // a misspelt parameter would leave its default without a word
      [{ name: 'hnswlib', m: 48, efConstuction: 400 }, { message: 'Expected an EngineChoice with only name, M, efConstruction, seed, quantization for engine but received "m, efConstuction" of type string' }],
    ];
    for (const [i, [engine, error]] of cases.entries()) {
      const dir = path.join(work, `engine-${i}`);
      await expect(openIndex(dir, { create: true, model: MODEL, engine: engine as EngineChoice }), JSON.stringify(engine)).rejects.toMatchObject({ code: 'BAD_INPUT', ...error });
      expect(existsSync(dir), `${String(engine)}: nothing written`).toBe(false);
    }
  });

  it('has parseEngineLabel, which its hint names, in the library entry', async () => {
    const entry = await import('../../src/index.js');
    expect(entry.parseEngineLabel('usearch:i8')).toEqual(parseEngineLabel('usearch:i8'));
  });

  it('creates the engine of a label parsed with parseEngineLabel, and refuses an unknown engine for an index that exists', async () => {
    const dir = path.join(work, 'hnswlib');
    const store = await openIndex(dir, { create: true, model: MODEL, engine: parseEngineLabel('hnswlib:M8') });
    await store.close();
    expect((await readIndexMeta(dir))?.engine).toMatchObject({ name: 'hnswlib', M: 8 });
    await expect(openIndex(dir, { readonly: true, engine: 'usearch' as EngineChoice })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});

describe('openIndex location', () => {
  it('says a file, or a path under one, is not an index directory', async () => {
    const file = path.join(work, 'plain-file');
    writeFileSync(file, 'not an index');
    for (const options of [{ readonly: true }, {}, { create: true, model: MODEL }] satisfies OpenIndexOptions[]) {
      await expect(openIndex(file, options), JSON.stringify(options)).rejects.toMatchObject({ code: 'INDEX_NOT_FOUND', message: `${file} is not an index directory: it is a file` });
      await expect(openIndex(path.join(file, 'index'), options)).rejects.toMatchObject({ code: 'INDEX_NOT_FOUND', message: `${path.join(file, 'index')} is not an index directory: a folder on its path is a file` });
    }
  });
});

describe('openIndex durations', () => {
  it('refuses a duration that is not a number of milliseconds, naming it', async () => {
    for (const name of ['refreshIntervalMs', 'replaySliceMs', 'checkpointIntervalMs'] as const) {
      for (const value of [NaN, -1, Infinity, '1000']) {
        await expect(openIndex(path.join(work, 'durations'), { create: true, model: MODEL, [name]: value }), `${name} ${String(value)}`).rejects.toMatchObject({
          code: 'BAD_INPUT',
          message: `Expected a number of milliseconds, 0 or more for ${name} but received ${typeof value === 'string' ? JSON.stringify(value) : String(value)} of type ${typeof value}`,
        });
      }
    }
    expect(existsSync(path.join(work, 'durations'))).toBe(false);
  });
});
