/**
 * The Searcher's options from a caller TypeScript does not check (startServer passes its
 * `batching` on): each out of range is BAD_INPUT naming it, at construction. A batch of fewer than
 * one text made every text search spin on empty batches, holding the event loop for good; a NaN
 * lifted the exact-scan limit or turned the text cache off without a word.
 */
import { describe, expect, it } from 'vitest';
import { Searcher, TextEmbeddingBatcher, type SearcherOptions } from '../../src/search/index.js';
import { MAX_TEXT_CACHE_ENTRIES } from '../../src/search/searcher.js';
import type { IndexStore } from '../../src/store/index.js';
import type { TestIndex } from './fixture.js';
import { withSearchFixture } from './search-fixture.js';

let fixture: TestIndex;
let store: IndexStore;

withSearchFixture('rsclip-searcher-options-', (open) => ({ fixture, store } = open));

const refused = (message: string) => ({ code: 'BAD_INPUT', message });

describe('new Searcher', () => {
  it('refuses batching options out of range, naming the field', () => {
    const positive = (v: string) => `Expected a positive integer (texts per encoder call) for batching.maxBatch but received ${v}`;
    const window = (v: string) => `Expected a number of milliseconds from 0 to 60000 for batching.windowMs but received ${v}`;
    const cases: [unknown, string][] = [
      [{ maxBatch: 0 }, positive('0 of type number')],
      [{ maxBatch: -1 }, positive('-1 of type number')],
      [{ maxBatch: NaN }, positive('NaN of type number')],
      [{ maxBatch: 1.5 }, positive('1.5 of type number')],
      [{ maxBatch: '8' }, positive('"8" of type string')],
      [{ windowMs: NaN }, window('NaN of type number')],
      [{ windowMs: -5 }, window('-5 of type number')],
      [{ windowMs: Infinity }, window('Infinity of type number')],
      [null, 'Expected an object of windowMs and maxBatch for batching but received null of type object'],
      [32, 'Expected an object of windowMs and maxBatch for batching but received 32 of type number'],
    ];
    for (const [batching, message] of cases) {
      expect(() => new Searcher(fixture.encoder, store, { batching } as SearcherOptions), JSON.stringify(batching)).toThrow(expect.objectContaining(refused(message)));
      expect(() => new TextEmbeddingBatcher(async (texts) => texts.map(() => new Float32Array(1)), batching as never)).toThrow(expect.objectContaining(refused(message)));
    }
  });

  it('refuses a NaN, negative or oversized exact-scan limit and text cache', () => {
    const cases: [SearcherOptions, string][] = [
      [{ maxExactScan: NaN }, 'Expected a number of vectors, 0 or more (Infinity: no limit) for maxExactScan but received NaN of type number'],
      [{ maxExactScan: -1 }, 'Expected a number of vectors, 0 or more (Infinity: no limit) for maxExactScan but received -1 of type number'],
      [{ textCacheSize: NaN }, `Expected an integer from 0 (no cache) to ${MAX_TEXT_CACHE_ENTRIES} for textCacheSize but received NaN of type number`],
      [{ textCacheSize: -1 }, `Expected an integer from 0 (no cache) to ${MAX_TEXT_CACHE_ENTRIES} for textCacheSize but received -1 of type number`],
      [{ textCacheSize: 1e9 }, `Expected an integer from 0 (no cache) to ${MAX_TEXT_CACHE_ENTRIES} for textCacheSize but received 1000000000 of type number`],
      [{ textCacheBytes: 0 }, 'Expected a positive integer of bytes for textCacheBytes but received 0 of type number'],
      ['fast' as SearcherOptions, 'Expected an object for options but received "fast" of type string'],
    ];
    for (const [options, message] of cases) expect(() => new Searcher(fixture.encoder, store, options), message).toThrow(expect.objectContaining(refused(message)));
  });

  it('searches with the options at their bounds', async () => {
    const searcher = new Searcher(fixture.encoder, store, { batching: { maxBatch: 1, windowMs: 0 }, maxExactScan: Infinity, textCacheSize: 0 });
    const page = await searcher.search({ terms: [{ kind: 'text', text: 'river', weight: 1 }], k: 1, exact: true });
    expect(page.hits[0]?.path).toMatch(/^water\/river/);
    expect(() => new Searcher(fixture.encoder, store, { maxExactScan: 0, textCacheSize: MAX_TEXT_CACHE_ENTRIES })).not.toThrow();
  });
});
