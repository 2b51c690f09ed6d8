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
    refused(['since=2021-01-01', 'until=2020-01-01'], 'invalid filter "until=2020-01-01": until (2020-01-01T23:59:59.999Z) is before since (2021-01-01T00:00:00.000Z): no item can match');
    refused(['after=2021-01-02', 'before=2021-01-01'], 'invalid filter "before=2021-01-01": before (2021-01-01T00:00:00.000Z) is before after (2021-01-02T00:00:00.000Z): no item can match');
    refused(['minBytes=20', 'maxBytes=10'], 'invalid filter "maxBytes=10": maxBytes (10) is less than minBytes (20): no item can match');
    refused(['cloud=5..1'], 'invalid filter "cloud=5..1": the range is empty: its low end is above its high end');
    const json = catalogFilterSchema.safeParse({ since: '2021-01-01', until: '2020-12-31T23:59:59Z' });
    expect(json.error?.issues).toEqual([expect.objectContaining({ path: ['until'], message: expect.stringMatching(/is before since/) })]);
    // equal ends are one instant or one value: a period, not a mistake
    expect(parseFilterSpecs(['since=2021-01-01', 'until=2021-01-01', 'minBytes=7', 'maxBytes=7', 'cloud=3..3'])).toMatchObject({ minBytes: 7, maxBytes: 7, fields: { cloud: { min: 3, max: 3 } } });
  });
});

describe('user field values', () => {
  const refused = (spec: string, message: string | RegExp) => expect(() => parseFilterSpecs([spec]), spec).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message }));

  it('reads a range when both ends are decimal numbers or left out, and refuses one with a number on one side only', () => {
    expect(parseFilterSpecs(['year=2010..2015']).fields).toEqual({ year: { min: 2010, max: 2015 } });
    expect(parseFilterSpecs(['year=2010..', 'cloud=..0.5', 'size=1e3..+2e3']).fields).toEqual({ year: { min: 2010 }, cloud: { max: 0.5 }, size: { min: 1000, max: 2000 } });
    for (const spec of ['year=abc..3', 'year=2010..x', 'year=1..2..3', 'year=0x10..20', 'year=1..3|5']) {
      refused(spec, `invalid filter "${spec}": expected a range of decimal numbers LO..HI, either end left out or not (year=2010..2015, year=2010..)`);
    }
    // with no number on either side, `..` is part of a value
    expect(parseFilterSpecs(['version=v1..final', 'dots=..']).fields).toEqual({ version: 'v1..final', dots: '..' });
  });

  it('refuses an empty value, which no field holds (a sidecar\'s empty cell is no value)', () => {
    for (const spec of ['label=', 'label= ', 'label=a|', 'label=a||b', 'field.path=']) {
      refused(spec, `invalid filter "${spec}": expected a value after "=" (and between any "|"): an empty one matches nothing`);
    }
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

  it('takes in the whole day of a date alone given to until, in both forms, and starts since and after at the day\'s midnight UTC', () => {
    const endOf2023 = new Date('2023-12-31T23:59:59.999Z');
    expect(parseFilterSpecs(['since=2023-01-01', 'until=2023-12-31'])).toEqual({ since: new Date('2023-01-01T00:00:00Z'), until: endOf2023 });
    expect(catalogFilterSchema.parse({ until: '2023-12-31' }).until).toEqual(endOf2023);
    expect(parseFilterSpecs(['since=2024-02-29', 'until=2024-02-29'])).toEqual({ since: new Date('2024-02-29T00:00:00Z'), until: new Date('2024-02-29T23:59:59.999Z') });
    // a date-time is the instant it names
    expect(parseFilterSpecs(['until=2023-12-31T10:00:00Z']).until).toEqual(new Date('2023-12-31T10:00:00Z'));
    expect(parseFilterSpecs(['after=2023-12-31', 'before=2024-01-01'])).toEqual({ modifiedAfter: new Date('2023-12-31T00:00:00Z'), modifiedBefore: new Date('2024-01-01T00:00:00Z') });
  });

  it('reads a date-time without a zone as UTC, whatever the machine\'s time zone, and refuses dates that are not on the calendar', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(parseFilterSpecs(['since=2023-06-01T10:30', 'until=2023-06-01T10:30:00', 'after=2023-06-01T10:30:00.5', 'before=2023-06-02T00:00'])).toEqual({
        since: new Date('2023-06-01T10:30:00Z'),
        until: new Date('2023-06-01T10:30:00Z'),
        modifiedAfter: new Date('2023-06-01T10:30:00.500Z'),
        modifiedBefore: new Date('2023-06-02T00:00:00Z'),
      });
      expect(parseFilterSpecs(['since=2023-06-01T10:30:00+02:00']).since).toEqual(new Date('2023-06-01T08:30:00Z'));
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
    for (const spec of ['since=2023-02-30', 'until=2023-02-29T10:00:00Z', 'before=2023-13-01']) {
      expect(() => parseFilterSpecs([spec]), spec).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/expected an ISO 8601 date like 2020-01-31/) }));
    }
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
    // decimal numbers only: Number() reads 0x10 as 16
    refused('near=0x10,5', /^invalid filter "near=0x10,5": expected a decimal number, got "0x10"/);
    refused('bbox=0,0,0b1,1', /expected a decimal number, got "0b1"/);
    refused('minBytes=0o17', /expected a decimal number, got "0o17"/);
    expect(parseFilterSpecs(['near=-1.5e1,+5', 'minBytes=1e3']).near).toMatchObject({ lon: -15, lat: 5 });
    const huge = { type: 'Polygon', coordinates: [[...Array.from({ length: MAX_AREA_POSITIONS + 1 }, (_, i) => [i / 1e5, 0]), [0, 0]]] };
    expect(() => catalogFilterSchema.parse({ within: huge })).toThrow(/more than 20000 positions/);
  });

  it('refuses an area whose crs member names a CRS other than lon/lat WGS84, saying rsclip reads RFC 7946 GeoJSON', () => {
    const crs = (name: string) => ({ type: 'name', properties: { name } });
    const metres = { type: 'Polygon', coordinates: [[[1669792, 5160979], [1702000, 5160979], [1702000, 5200000], [1669792, 5160979]]] };
    const message = /^invalid filter "within=.*": the area has a crs member \(urn:ogc:def:crs:EPSG::3857\): rsclip reads GeoJSON in lon\/lat WGS84 \(RFC 7946\) and does not support other CRSs/;
    for (const area of [
      { type: 'FeatureCollection', crs: crs('urn:ogc:def:crs:EPSG::3857'), features: [{ type: 'Feature', properties: {}, geometry: metres }] },
      { type: 'Feature', properties: {}, geometry: { ...metres, crs: crs('urn:ogc:def:crs:EPSG::3857') } },
    ]) {
      expect(() => parseFilterSpecs([`within=${JSON.stringify(area)}`])).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(message) }));
    }
    // what GDAL writes for lon/lat WGS84 names the CRS rsclip reads anyway
    const lonLat = { type: 'FeatureCollection', crs: crs('urn:ogc:def:crs:OGC:1.3:CRS84'), features: [{ type: 'Feature', properties: {}, geometry: polygon }] };
    expect(catalogFilterSchema.parse({ within: lonLat }).within).toEqual({ kind: 'within', geometry: polygon });
  });

  it('names a spec read from a file by its source, not by the file\'s contents', () => {
    const area = JSON.stringify({ type: 'Polygon', coordinates: [[[200, 0], [1, 0], [1, 1], [200, 0]]] });
    expect(() => parseFilterSpecs([{ text: `within=${area}`, source: '--within area.geojson' }])).toThrow(
      expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringMatching(/^invalid --within area\.geojson: the area\.coordinates\[0\]\[0\] has longitude 200 outside/) }),
    );
    expect(() => parseFilterSpecs([{ text: 'within={oops\n', source: '--within area.geojson' }])).toThrow(/^invalid --within area\.geojson: expected GeoJSON text/);
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
