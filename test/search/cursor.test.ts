import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, queryKey } from '../../src/search/cursor.js';
import type { SearchRequest } from '../../src/search/index.js';
import { DEFAULT_NMS_THRESHOLD } from '../../src/search/nms.js';

const base: SearchRequest = { terms: [{ kind: 'text', text: 'river', weight: 1 }] };

describe('pagination cursors', () => {
  it("round-trip the offset and the previous page's last hit for the query they belong to", () => {
    const key = queryKey(base);
    expect(decodeCursor(encodeCursor(40, key, { score: 0.123456789, id: 7 }), key)).toEqual({ offset: 40, after: { score: 0.123456789, id: 7 } });
    // a cursor of the first shape (offset only) is still read
    expect(decodeCursor(Buffer.from(JSON.stringify({ v: 1, offset: 40, key })).toString('base64url'), key)).toEqual({ offset: 40 });
  });

  it('key a query by what decides the order of results, not by the page', () => {
    const key = queryKey(base);
    expect(queryKey({ ...base, k: 50, offset: 10, cursor: 'x', ef: 99 })).toBe(key);
    for (const other of [
      { terms: [{ kind: 'text' as const, text: 'river', weight: 2 }] },
      { ...base, filter: { folder: 'a' } },
      { ...base, collapse: true },
      { ...base, exact: true },
      { ...base, excludeIds: [3] },
      { ...base, nms: false },
      { ...base, nms: 0.3 },
    ]) {
      expect(queryKey(other), JSON.stringify(other)).not.toBe(key);
    }
    // nms by its effective share: on is the default
    expect(queryKey({ ...base, nms: true })).toBe(key);
    expect(queryKey({ ...base, nms: DEFAULT_NMS_THRESHOLD })).toBe(key);
    const image = (bytes: string): SearchRequest => ({ terms: [{ kind: 'image', image: Buffer.from(bytes), weight: 1 }] });
    expect(queryKey(image('one'))).toBe(queryKey(image('one')));
    expect(queryKey(image('one'))).not.toBe(queryKey(image('two')));
  });

  it('refuses garbage, a malformed body and the cursor of another query', () => {
    const key = queryKey(base);
    for (const cursor of ['garbage', Buffer.from('{"v":1,"offset":-1,"key":"k"}').toString('base64url'), Buffer.from('{"v":2,"offset":5,"key":"k"}').toString('base64url'), Buffer.from('{"v":3,"offset":5,"key":"k","after":[0.5,1]}').toString('base64url')]) {
      expect(() => decodeCursor(cursor, key)).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringContaining('invalid cursor') }));
    }
    expect(() => decodeCursor(encodeCursor(20, queryKey({ ...base, exact: true }), { score: 0.5, id: 1 }), key)).toThrow(expect.objectContaining({ code: 'BAD_QUERY', message: expect.stringContaining('different query') }));
  });
});
