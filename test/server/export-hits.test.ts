/** The web page's download files, written by the page's own module run in Node (it touches no DOM until a download starts). */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a browser module without type declarations
import { hitsFileText } from '../../src/server/public/export-hits.js';

const hit = (id: number, path: string, lon = -12.5) => ({ rank: id, id, score: 0.5, path, window: { x: 0, y: 0, width: 224, height: 224 }, center: [lon, 40], fields: {} });

describe('the web page\'s hit downloads', () => {
  it('a paths list keeps one path a line: line breaks, tabs and backslashes escaped as the CLI prints them', () => {
    const text = hitsFileText([hit(1, 'a\nb.jpg'), hit(2, 'c\\nd.jpg'), hit(3, 'e\tf\u0001.jpg'), hit(4, 'plain.jpg')], 'paths');
    expect(text).toBe('a\\nb.jpg\nc\\\\nd.jpg\ne\\tf\\x01.jpg\nplain.jpg\n');
  });

  it('a CSV cell that a spreadsheet would run as a formula gets a leading quote; numbers stay numbers', () => {
    const text = hitsFileText([hit(1, '=HYPERLINK("http://x","y").jpg'), hit(2, '@a.jpg'), hit(3, 'b=c.jpg')], 'csv');
    const lines = text.trim().split('\n');
    expect(lines[1]).toBe(`1,1,0.5,"'=HYPERLINK(""http://x"",""y"").jpg",0,0,224,224,-12.5,40`);
    expect(lines[2]).toContain(",'@a.jpg,");
    expect(lines[3]).toContain(',b=c.jpg,');
  });
});
