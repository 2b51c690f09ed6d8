import { describe, expect, it } from 'vitest';
import { parseQueryTerms, parseSearchRequestJson } from '../../src/search/index.js';
import { parseFilterSpecs } from '../../src/store/index.js';
import { collapseOption, nmsOption } from '../../src/cli/options.js';
import { checkLibrarySearchRequest } from '../../src/search/request-schema.js';
import { pagingFromQuery, parseWith, textSearchQuerySchema } from '../../src/server/query-params.js';

const files = new Set(['./ref.jpg', 'scenes/a.png']);
const isFile = (p: string) => (files.has(p) ? 'file' : p === 'scenes' ? 'folder' : 'missing');

describe('parseQueryTerms (rclip-like CLI syntax)', () => {
  it('reads texts, existing files as images, #id/id: as indexed images, + and -', () => {
    expect(parseQueryTerms(['stadium', '+', './ref.jpg', '-', 'parking lot'], isFile)).toEqual([
      { kind: 'text', text: 'stadium', weight: 1 },
      { kind: 'image', image: './ref.jpg', weight: 1 },
      { kind: 'text', text: 'parking lot', weight: -1 },
    ]);
    expect(parseQueryTerms(['#12', 'id:7', '-', '2*river', '0.5*scenes/a.png'], isFile)).toEqual([
      { kind: 'id', id: 12, weight: 1 },
      { kind: 'id', id: 7, weight: 1 },
      { kind: 'text', text: 'river', weight: -2 },
      { kind: 'image', image: 'scenes/a.png', weight: 0.5 },
    ]);
    expect(parseQueryTerms(['-', 'clouds'], isFile)).toEqual([{ kind: 'text', text: 'clouds', weight: -1 }]);
    expect(parseQueryTerms(['text:./ref.jpg'], isFile)).toEqual([{ kind: 'text', text: './ref.jpg', weight: 1 }]);
  });

  it('refuses empty queries, dangling or doubled operators and missing image files', () => {
    expect(() => parseQueryTerms([], isFile)).toThrow(expect.objectContaining({ code: 'BAD_QUERY' }));
    expect(() => parseQueryTerms(['river', '-'], isFile)).toThrow(/ends with "-"/);
    expect(() => parseQueryTerms(['river', '+', '-', 'x'], isFile)).toThrow(/two operators/);
    expect(() => parseQueryTerms([''], isFile)).toThrow(/^empty query term$/);
    expect(() => parseQueryTerms(['  '], isFile)).toThrow(expect.objectContaining({ message: 'blank query term "  "', hint: 'remove the "  " argument' }));
    expect(() => parseQueryTerms(['image:missing.png'], isFile)).toThrow(/no such file/);
  });
});

describe('parseFilterSpecs', () => {
  it('maps keys to a CatalogFilter and anything else to user fields', () => {
    expect(parseFilterSpecs(['path=*.tif', 'folder=a/b', 'format=jpeg,png', 'minBytes=10', 'after=2020-01-31', 'label=airport', 'year=2010..2015', 'tag=a|b', 'field.folder=x', 'score=..3'])).toEqual({
      pathGlob: '*.tif',
      folder: 'a/b',
      formats: ['jpeg', 'png'],
      minBytes: 10,
      modifiedAfter: new Date('2020-01-31'),
      fields: { label: 'airport', year: { min: 2010, max: 2015 }, tag: ['a', 'b'], folder: 'x', score: { max: 3 } },
    });
  });

  it('refuses malformed specs', () => {
    for (const spec of ['nokey', '=x', 'minBytes=lots', 'after=yesterday']) {
      expect(() => parseFilterSpecs([spec])).toThrow(expect.objectContaining({ code: 'BAD_QUERY' }));
    }
  });
});

describe('parseSearchRequestJson', () => {
  it('accepts the structured form and decodes base64 images', () => {
    const request = parseSearchRequestJson({ terms: [{ text: 'river' }, { id: 3, weight: -0.5 }, { image: Buffer.from('png').toString('base64') }], k: 5, collapse: 0.9, filter: { modifiedAfter: '2020-01-01' } });
    expect(request).toMatchObject({ k: 5, collapse: { threshold: 0.9 }, filter: { modifiedAfter: new Date('2020-01-01') } });
    expect(request.terms).toEqual([
      { kind: 'text', text: 'river', weight: 1 },
      { kind: 'id', id: 3, weight: -0.5 },
      { kind: 'image', image: Buffer.from('png'), weight: 1 },
    ]);
  });

  it('refuses unknown keys, paths as images, zero weights, bad k', () => {
    for (const body of [{}, { terms: [] }, { terms: [{ path: '/etc/passwd' }] }, { terms: [{ text: 'a', weight: 0 }] }, { terms: [{ text: 'a' }], k: -1 }, { terms: [{ text: 'a' }], k: 1e9 }, { terms: [{ text: '' }] }, 'river', null]) {
      expect(() => parseSearchRequestJson(body)).toThrow(expect.objectContaining({ code: 'BAD_QUERY' }));
    }
  });
});

describe('collapse and nms', () => {
  const viaGet = (name: 'collapse' | 'nms', text: string) => {
    const request = pagingFromQuery(parseWith(textSearchQuerySchema, { q: 'river', [name]: text }, 'query string'));
    return name === 'collapse' ? request.collapse : request.nms;
  };
  const viaPost = (name: 'collapse' | 'nms', value: unknown) => {
    const request = parseSearchRequestJson({ terms: [{ text: 'river' }], [name]: value });
    return name === 'collapse' ? request.collapse : request.nms;
  };
  const viaCli = (name: 'collapse' | 'nms', text: string) => (name === 'collapse' ? collapseOption(text) : nmsOption(text));
  const asRequest = (name: 'collapse' | 'nms', value: boolean | number) => (name === 'collapse' && typeof value === 'number' ? { threshold: value } : value);

  it('mean one thing in the CLI, GET, POST and the library: words are booleans, numbers thresholds in (0, 1]', () => {
    const readings: ['collapse' | 'nms', string, boolean | number][] = [
      ['collapse', 'true', true],
      ['collapse', 'false', false],
      ['collapse', '1', 1],
      ['collapse', '1.0', 1],
      ['collapse', '0.9', 0.9],
      ['collapse', '.9', 0.9],
      ['nms', 'on', true],
      ['nms', 'off', false],
      ['nms', 'true', true],
      ['nms', '1', 1],
      ['nms', '0.3', 0.3],
    ];
    for (const [name, text, value] of readings) {
      expect(viaGet(name, text), `${name}=${text}`).toEqual(asRequest(name, value));
      expect(viaPost(name, value), `"${name}": ${String(value)}`).toEqual(asRequest(name, value));
      expect(checkLibrarySearchRequest({ terms: [{ kind: 'text', text: 'river', weight: 1 }], [name]: asRequest(name, value) })[name]).toEqual(asRequest(name, value));
      expect(viaCli(name, text), `--${name} ${text}`).toEqual(value);
    }
    expect(viaGet('collapse', '')).toBe(true);
  });

  it('refuses 0 (a threshold that folds every hit into one), numbers past 1 and other text, in all four', () => {
    for (const name of ['collapse', 'nms'] as const) {
      for (const text of ['0', '0.0', '1.5', '-0.5', '0x1', 'yes']) {
        expect(() => viaGet(name, text), `${name}=${text}`).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(new RegExp(`^invalid query string: ${name}: expected .* in \\(0, 1\\]`)) }));
        expect(() => viaCli(name, text), `--${name} ${text}`).toThrow(/^expected .* in \(0, 1\]/);
      }
      for (const value of [0, 1.5, 'yes']) {
        expect(() => viaPost(name, value), `"${name}": ${String(value)}`).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(new RegExp(`^invalid search request: ${name}: expected .* in \\(0, 1\\]`)) }));
      }
    }
    expect(() => viaCli('collapse', '0')).toThrow('0 would fold every hit into one');
    expect(() => checkLibrarySearchRequest({ terms: [], collapse: { threshold: 0 } })).toThrow(/^invalid search request: collapse\.threshold: expected .* in \(0, 1\]/);
    expect(() => checkLibrarySearchRequest({ terms: [], nms: 0 })).toThrow(/^invalid search request: nms: expected .* in \(0, 1\]/);
  });
});
