import { describe, expect, it } from 'vitest';
import { withLiterals } from '../../src/store/postgres/filter-sql.js';

describe('withLiterals', () => {
  it('writes each value in place of its ?, as SQL literals', () => {
    expect(withLiterals('f.path = ? AND it.id = ANY(?::bigint[]) AND f.bytes >= ?', ["it's", [3, 1, 2], 500])).toBe("f.path = 'it''s' AND it.id = ANY(ARRAY[3,1,2]::bigint[]) AND f.bytes >= 500");
  });

  it('writes nothing past maxLength characters', () => {
    const text = 'it.id = ANY(?::bigint[])';
    const written = withLiterals(text, [[1, 2, 3]])!;
    expect(withLiterals(text, [[1, 2, 3]], written.length)).toBe(written);
    expect(withLiterals(text, [[1, 2, 3]], written.length - 1)).toBeUndefined();
    // an array whose shortest writing (two characters a value) is too long for the limit
    const ids = Array.from({ length: 40_000 }, (_, i) => i);
    expect(withLiterals(text, [ids], 64 * 1024)).toBeUndefined();
    expect(withLiterals(text, [ids])).toHaveLength(text.length - 1 + 'ARRAY[]'.length + ids.join(',').length);
  });
});
