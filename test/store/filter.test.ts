import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { catalogFilterSchema, filterJsonSchema, filterSyntax, FILTER_KEYS, MAX_AREA_POSITIONS, parseFilterSpecs, placeOptionSpecs } from '../../src/store/index.js';
import { globToRegex } from '../../src/store/filter.js';
import { GlobMatcher, MAX_GLOB_ALTERNATIVES } from '../../src/store/glob-match.js';

describe('the filter syntax, defined once', () => {
  it('gives every key its key=value form, its help and its JSON schema', () => {
    const schema = filterJsonSchema() as { properties: Record<string, { description?: string }>; additionalProperties: boolean };
    expect(Object.keys(schema.properties).sort()).toEqual([...Object.keys(FILTER_KEYS), 'fields'].sort());
    expect(schema.additionalProperties).toBe(false);
    expect(schema).not.toHaveProperty('$schema');
    for (const [key, spec] of Object.entries(FILTER_KEYS)) {
      expect(filterSyntax(), key).toContain(spec.syntax);
      expect(schema.properties[key]!.description, key).toMatch(/\w/);
    }
    expect(filterSyntax()).toContain('NAME=LO..HI');
  });

  it('reads the key=value form into the same value as the JSON form', () => {
    const fromText = parseFilterSpecs(['path=*.tif', 'folder=a/b', 'format=jpeg', 'format=png', 'maxBytes=99', 'minWidth=10', 'before=2021-06-01T12:00:00Z', 'label=x|y', 'year=..2015']);
    const fromJson = catalogFilterSchema.parse({
      pathGlob: '*.tif',
      folder: 'a/b',
      formats: ['jpeg', 'png'],
      maxBytes: 99,
      minWidth: 10,
      modifiedBefore: '2021-06-01T12:00:00Z',
      fields: { label: ['x', 'y'], year: { max: 2015 } },
    });
    expect(fromText).toEqual(fromJson);
    expect(fromText.modifiedBefore).toEqual(new Date(Date.UTC(2021, 5, 1, 12)));
  });

  it('holds the key=value form to the bounds of the JSON form, naming the spec', () => {
    expect(() => parseFilterSpecs(['minBytes=-5'])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/^invalid filter "minBytes=-5": /) }));
    expect(() => parseFilterSpecs(['path='])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/^invalid filter "path=": /) }));
    expect(() => parseFilterSpecs([`tag=${Array.from({ length: 101 }, (_, i) => i).join('|')}`])).toThrow(expect.objectContaining({ message: expect.stringMatching(/^invalid filter "tag=0\|1/) }));
    expect(() => catalogFilterSchema.parse({ colour: 'red' })).toThrow();
  });

  it('refuses a range that is empty because its ends are swapped, naming the spec, in both forms', () => {
    const refused = (specs: string[], message: string) => expect(() => parseFilterSpecs(specs)).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message }));
    refused(['since=2021-01-01', 'until=2020-01-01'], 'invalid filter "until=2020-01-01": until (2020-01-01T00:00:00.000Z) is before since (2021-01-01T00:00:00.000Z): no item can match');
    refused(['after=2021-01-02', 'before=2021-01-01'], 'invalid filter "before=2021-01-01": before (2021-01-01T00:00:00.000Z) is before after (2021-01-02T00:00:00.000Z): no item can match');
    refused(['minBytes=20', 'maxBytes=10'], 'invalid filter "maxBytes=10": maxBytes (10) is less than minBytes (20): no item can match');
    refused(['cloud=5..1'], 'invalid filter "cloud=5..1": the range is empty: its low end is above its high end');
    const json = catalogFilterSchema.safeParse({ since: '2021-01-01', until: '2020-12-31T23:59:59Z' });
    expect(json.error?.issues).toEqual([expect.objectContaining({ path: ['until'], message: expect.stringMatching(/is before since/) })]);
    // equal ends are one instant or one value: a period, not a mistake
    expect(parseFilterSpecs(['since=2021-01-01', 'until=2021-01-01', 'minBytes=7', 'maxBytes=7', 'cloud=3..3'])).toMatchObject({ minBytes: 7, maxBytes: 7, fields: { cloud: { min: 3, max: 3 } } });
  });
});

describe('places and acquisition time in the filter', () => {
  const polygon = { type: 'Polygon', coordinates: [[[12, 41], [13, 41], [13, 42], [12, 41]]] };

  it('reads bbox, near (with a radius in metres or km) and within in both forms into places', () => {
    const fromText = parseFilterSpecs(['bbox=170,-10,-170,10', 'near=12.49,41.89,5km', `within=${JSON.stringify(polygon)}`, 'since=2023-01-01', 'until=2023-12-31']);
    const fromJson = catalogFilterSchema.parse({ bbox: [170, -10, -170, 10], near: { lon: 12.49, lat: 41.89, radius: '5km' }, within: polygon, since: '2023-01-01', until: '2023-12-31' });
    expect(fromText).toEqual(fromJson);
    expect(fromText.bbox).toEqual({ kind: 'bbox', west: 170, south: -10, east: -170, north: 10 });
    expect(fromText.near).toEqual({ kind: 'near', lon: 12.49, lat: 41.89, radius: 5000 });
    expect(fromText.within).toEqual({ kind: 'within', geometry: polygon });
    expect(parseFilterSpecs(['near=1,2']).near).toEqual({ kind: 'near', lon: 1, lat: 2, radius: 0 });
    expect(catalogFilterSchema.parse({ near: { lon: 1, lat: 2, radius: 250 } }).near).toMatchObject({ radius: 250 });
  });

  it('gives the options of their own (--bbox, --near + --radius, --within, --since, --until) the same meaning', () => {
    expect(placeOptionSpecs({ bbox: '1,2,3,4', near: '5,6', radius: '2km', within: '{}', since: '2020-01-01', until: '2021-01-01' })).toEqual([
      'bbox=1,2,3,4',
      'near=5,6,2km',
      'within={}',
      'since=2020-01-01',
      'until=2021-01-01',
    ]);
    expect(() => placeOptionSpecs({ radius: '5km' })).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/radius needs a point/) }));
  });

  it('refuses bad places with one line that names the filter', () => {
    const refused = (spec: string, pattern: RegExp) => expect(() => parseFilterSpecs([spec])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(pattern) }));
    refused('bbox=1,2,3', /^invalid filter "bbox=1,2,3": expected 4 numbers/);
    refused('bbox=0,50,10,40', /^invalid filter "bbox=0,50,10,40": bbox south 50 is north of its north 40/);
    refused('bbox=0,-95,10,40', /latitude -95 is outside -90..90/);
    refused('near=200,10', /longitude 200 is outside/);
    refused('near=1,2,far', /cannot read the distance "far"/);
    refused('within={"type":"Point","coordinates":[1,2]}', /^invalid filter "within=/);
    refused('within={"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1]]]}', /closed ring of at least 4 positions/);
    refused('within=[oops', /GeoJSON text/);
    refused('since=yesterday', /ISO 8601 date/);
    const huge = { type: 'Polygon', coordinates: [[...Array.from({ length: MAX_AREA_POSITIONS + 1 }, (_, i) => [i / 1e5, 0]), [0, 0]]] };
    expect(() => catalogFilterSchema.parse({ within: huge })).toThrow(/more than 20000 positions/);
  });
});

describe('globToRegex', () => {
  const patterns = ['*.jpg', '*-b.png', '2020/**/*.png', '**/2020/**', 'a/{b,c}/*.tif', '*.{jpg,png}', 'scene_?.tif', '[ab]*.png', '**', 'a/*', '.hidden*', '!(x)*.png', 'photo(1).jpg'];
  const paths = ['a.jpg', 'x/y/a.jpg', 'a.jpeg', 'b-b.png', '2020/x/c.png', '2020/c.png', 'z/2020/q/r.tif', 'a/b/s.tif', 'a/c/s.tif', 'a/d/s.tif', 'a/b/c/s.tif', 'scene_1.tif', 'scene_12.tif', 'a1.png', 'c1.png', 'a/x', '.hidden.jpg', 'd/.hidden.png', 'x1.png', 'y1.png', 'photo(1).jpg', 'photo1.jpg'];

  it('matches exactly what picomatch matches, with the file name for globs without "/"', () => {
    for (const pattern of patterns) {
      const match = globToRegex(pattern);
      const regex = new RegExp(match.regex);
      const reference = picomatch(pattern, { dot: true, basename: !pattern.includes('/') });
      for (const p of paths) {
        const tested = match.target === 'path' ? p : p.split('/').pop()!;
        expect(tested === match.literal || regex.test(tested), `${pattern} ~ ${p}`).toBe(reference(p));
      }
    }
  });
});

describe('GlobMatcher (segment by segment, the catalog\'s glob filter)', () => {
  it('agrees with picomatch on 20,000 seeded random globs and paths', () => {
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    // '' makes empty segments (a//b, /a, a/), of globs and of paths
    const globParts = ['a', 'b', '*', '**', '?', '[ab]', '{a,b}', '{a/b,c}', '.x', 'a*b', '*.png', 'a{b,/c}', '', '{a/,b}'];
    const pathParts = ['a', 'b', 'c', 'ab', 'ba', '.x', 'a.png', 'x.png', 'aab', ''];
    const disagreements: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const glob = Array.from({ length: 1 + next(4) }, () => globParts[next(globParts.length)]).join('/');
      // picomatch refuses an empty glob (and the filter a glob of slashes only)
      if (glob === '') continue;
      const p = Array.from({ length: 1 + next(5) }, () => pathParts[next(pathParts.length)]).join('/');
      if (picomatch(glob, { dot: true })(p) !== new GlobMatcher(glob).test(p)) disagreements.push(`${glob} ~ ${p}`);
    }
    expect(disagreements).toEqual([]);
  });

  it('answers at once where picomatch\'s regular expression backtracks for hours (six ** over 240 folders)', () => {
    const deep = `${'a/'.repeat(240)}b.png`;
    const glob = 'a/**/a/**/a/**/a/**/a/**/a/**/c';
    expect(new GlobMatcher(glob).test(deep)).toBe(false);
    expect(new GlobMatcher(glob.replace(/c$/, '*.png')).test(deep)).toBe(true);
  });

  it('expands braces that hold a "/", and the filter refuses a glob standing for too many alternatives', () => {
    expect(new GlobMatcher('{2020/a,2021/b}/*.tif').test('2021/b/x.tif')).toBe(true);
    expect(new GlobMatcher('{2020/a,2021/b}/*.tif').test('2021/a/x.tif')).toBe(false);
    const tooMany = '{a/b,c/d}/{a/b,c/d}/{a/b,c/d}/{a/b,c/d}/{a/b,c/d}/{a/b,c/d}/{a/b,c/d}/*.png';
    expect(() => new GlobMatcher(tooMany)).toThrow(RangeError);
    const refused = catalogFilterSchema.safeParse({ pathGlob: tooMany });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toBe(`at most ${MAX_GLOB_ALTERNATIVES} alternatives of {…} groups that hold a "/"`);
  });

  it('refuses a path filter that is only slashes', () => {
    for (const glob of ['/', '//', './', '././']) {
      expect(() => parseFilterSpecs([`path=${glob}`])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: `invalid filter "path=${glob}": a glob needs a pattern besides its slashes` }));
    }
  });
});
