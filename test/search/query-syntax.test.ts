import { describe, expect, it } from 'vitest';
import { parseQueryTerms, parseSearchRequestJson } from '../../src/search/index.js';
import { parseFilterSpecs } from '../../src/store/index.js';

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
