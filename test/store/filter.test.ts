import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { catalogFilterSchema, filterJsonSchema, filterSyntax, FILTER_KEYS, parseFilterSpecs } from '../../src/store/index.js';
import { globToRegex } from '../../src/store/filter.js';

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
