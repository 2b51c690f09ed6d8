/** The engine a new index gets: defaults, overrides, refusals, and the meta that records it. */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { engineChoice, engineKeptNote } from '../../src/cli/options.js';
import { DEFAULT_ENGINE, ENGINE_DEFAULTS, engineFromMeta, engineToMeta, resolveEngine } from '../../src/store/engines.js';

describe('resolveEngine', () => {
  it('fills in the named engine defaults, or the default engine', () => {
    expect(resolveEngine()).toEqual(DEFAULT_ENGINE);
    expect(resolveEngine({ name: 'hnswlib', M: 8 })).toEqual({ ...ENGINE_DEFAULTS.hnswlib, M: 8 });
    expect(resolveEngine({ name: 'usearch', quantization: 'i8', efConstruction: 64 })).toEqual({ name: 'usearch', M: 16, efConstruction: 64, quantization: 'i8' });
  });

  it("refuses parameters the engine does not have, and bad values, saying what to do", () => {
    expect(() => resolveEngine({ name: 'hnswlib', quantization: 'i8' })).toThrow(expect.objectContaining({ code: 'BAD_INPUT', hint: 'add --engine usearch' }));
    expect(() => resolveEngine({ name: 'usearch', seed: 1 })).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/no seed/) }));
    expect(() => resolveEngine({ name: 'usearch', M: 1 })).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: 'Expected an integer >= 2 for M but received 1 of type number' }));
    expect(() => resolveEngine({ name: 'faiss' as never })).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/one of hnswlib, usearch/) }));
  });

  it('records every parameter in meta and reads it back', () => {
    for (const spec of [ENGINE_DEFAULTS.hnswlib, { ...ENGINE_DEFAULTS.usearch, quantization: 'i8' as const }]) {
      const meta = new Map(Object.entries(engineToMeta(spec)).map(([k, v]) => [k, String(v)]));
      expect(engineFromMeta(meta, '/index')).toEqual(spec);
    }
    expect(engineFromMeta(new Map([['hnsw_m', '16'], ['hnsw_ef_construction', '200'], ['hnsw_seed', '100']]), '/index')).toEqual(ENGINE_DEFAULTS.hnswlib);
    expect(() => engineFromMeta(new Map([['engine', 'usearch'], ['vector_quantization', 'b1']]), '/index')).toThrow(expect.objectContaining({ code: 'INDEX_INCOMPATIBLE', hint: 'update rsclip' }));
  });
});

describe('--engine', () => {
  it('takes an engine name, with a precision for usearch', () => {
    expect(engineChoice('hnswlib')).toEqual({ name: 'hnswlib' });
    expect(engineChoice('usearch')).toEqual({ name: 'usearch' });
    expect(engineChoice('usearch:i8')).toEqual({ name: 'usearch', quantization: 'i8' });
    expect(engineChoice('usearch:f16:M32')).toEqual({ name: 'usearch', quantization: 'f16', M: 32 });
    expect(engineChoice('hnswlib:efc300:M24')).toEqual({ name: 'hnswlib', M: 24, efConstruction: 300 });
    for (const bad of ['faiss', 'hnswlib:f16', 'usearch:f8', 'usearch:f16:x', '', 'usearch:M1', 'usearch:M129', 'usearch:efc0', 'usearch:efc4097', 'hnswlib:efc99999999999', 'hnswlib:M16:M32', 'usearch:i8:f16']) expect(() => engineChoice(bad), bad).toThrow(InvalidArgumentError);
  });

  it('says when an existing index keeps another engine than the one asked for', () => {
    const usearchI8 = { ...ENGINE_DEFAULTS.usearch, quantization: 'i8' as const };
    expect(engineKeptNote(usearchI8, undefined)).toBeUndefined();
    expect(engineKeptNote(usearchI8, { name: 'usearch' })).toBeUndefined();
    expect(engineKeptNote(usearchI8, { name: 'usearch', quantization: 'f16' })).toMatch(/keeps its engine usearch:i8:M16:efc200; --engine applies to new indexes/);
    expect(engineKeptNote(usearchI8, { name: 'usearch', quantization: 'i8', M: 16 })).toBeUndefined();
    expect(engineKeptNote(usearchI8, { name: 'usearch', M: 32 })).toMatch(/keeps its engine usearch:i8:M16:efc200;/);
    expect(engineKeptNote(ENGINE_DEFAULTS.hnswlib, { name: 'usearch' })).toMatch(/keeps its engine hnswlib/);
  });
});
