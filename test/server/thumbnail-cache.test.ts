import { describe, expect, it } from 'vitest';
import { ThumbnailCache } from '../../src/server/thumbnail-cache.js';

const thumbnail = (bytes: number) => ({ data: Buffer.alloc(bytes), contentType: 'image/webp' });

describe('ThumbnailCache', () => {
  it('keeps at most maxEntries thumbnails, however small, evicting the least recently used', async () => {
    const cache = new ThumbnailCache({ maxBytes: 1 << 20, maxEntries: 3 });
    for (let i = 0; i < 10; i++) await cache.get(`t${i}`, async () => thumbnail(10));
    expect(cache.size).toBe(3);
    expect(cache.bytes).toBe(30);
    let rendered = 0;
    await cache.get('t9', async () => (rendered++, thumbnail(10)));
    await cache.get('t0', async () => (rendered++, thumbnail(10)));
    expect(rendered).toBe(1);
  });

  it('keeps at most maxBytes of thumbnail data, and never one larger than the budget', async () => {
    const cache = new ThumbnailCache({ maxBytes: 100, maxEntries: 1000 });
    for (let i = 0; i < 10; i++) await cache.get(`t${i}`, async () => thumbnail(30));
    expect(cache.bytes).toBeLessThanOrEqual(100);
    expect(cache.size).toBe(3);
    await cache.get('huge', async () => thumbnail(101));
    expect(cache.size).toBe(3);
  });

  it('renders a thumbnail once for concurrent requests', async () => {
    const cache = new ThumbnailCache({ maxBytes: 1000, maxEntries: 10 });
    let rendered = 0;
    const render = async () => {
      rendered++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return thumbnail(10);
    };
    await Promise.all([cache.get('a', render), cache.get('a', render), cache.get('a', render)]);
    expect(rendered).toBe(1);
  });
});
