/**
 * A bounded, seeded fuzz test of the HTTP API: thousands of generated requests (valid ones
 * mutated, random JSON, random bytes, odd paths, methods and headers) against startServer with
 * the tiny model. Every answer must be a 2xx, 3xx or 4xx with a JSON error body for 4xx, never a
 * 5xx, and the server must still answer afterwards. The seed is printed with the first failing
 * request, so that a failure can be replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { makePng } from '../fixtures/images.js';
import { buildServedIndex, type ServedIndex } from './served-index.js';
import { seededRandom } from '../../src/eval/random.js';

const SEED = 20_240_610;
const REQUESTS = 3000;
const CONCURRENCY = 8;

let served: ServedIndex;
let running: RunningServer;

beforeAll(async () => {
  served = await buildServedIndex('fuzz', 8);
  running = await served.start();
  await running.ready;
}, 180_000);
afterAll(async () => {
  await running?.close();
  served?.remove();
});

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

class Generator {
  constructor(private readonly random: () => number) {}

  int(max: number): number {
    return Math.floor(this.random() * max);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  string(maxLength = 40): string {
    const alphabets = ['abcdefghijklmnopqrstuvwxyz ', '0123456789.-+e', '%&=?#/\\.:;*[]{}()!@"\'<>|,', 'äéøß漢字🙂\u0000\u0007\u202e\ufeff', ' \t\n'];
    const length = this.chance(0.05) ? 500 + this.int(3000) : this.int(maxLength);
    let out = '';
    for (let i = 0; i < length; i++) out += this.pick([...this.pick(alphabets)]);
    return out;
  }

  number(): number | string {
    return this.pick([0, -1, 1, 2, 20, 499, 500, 501, 999, 1000, 1001, 4096, 5000, 1e9, -1e9, 0.5, 1e-9, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 'NaN', 'Infinity', '1e400', '', '12abc']);
  }

  json(depth = 0): unknown {
    switch (this.int(depth > 2 ? 5 : 7)) {
      case 0:
        return this.string();
      case 1:
        return this.number();
      case 2:
        return this.pick([true, false, null]);
      case 3:
        return Number(this.number());
      case 4:
        return this.pick(['river', 'stadium', '#1', 'label', 'format', 'png', 'a/b', '*.png']);
      case 5:
        return Array.from({ length: this.int(6) }, () => this.json(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: this.int(5) }, () => [this.pick(['terms', 'text', 'id', 'image', 'weight', 'k', 'filter', 'fields', 'pathGlob', 'formats', this.string(8)]), this.json(depth + 1)]));
    }
  }

  filterSpec(): string {
    const key = this.pick(['path', 'folder', 'format', 'minBytes', 'maxBytes', 'minWidth', 'minHeight', 'after', 'before', 'bbox', 'near', 'within', 'since', 'until', 'label', 'field.label', 'labl', '', this.string(10)]);
    const value = this.pick(['*.png', '**/x/*', 'tile-*', 'png,jpeg', '2020-01-01', '2020-13-45', '10..20', '..5', 'a|b', this.string(30), `${'*a'.repeat(this.int(12))}*b`, `${'a/**/'.repeat(this.int(8))}c`, '{a/b,c/d}/{e/f,g}/*', this.bboxText(), this.nearText()]);
    return this.chance(0.1) ? this.string(20) : `${key}=${value}`;
  }

  coordinate(): number | string {
    return this.pick([0, 12.5, -12.5, 41.9, 90, -90, 180, -180, 179.99, -179.99, 181, -91, 1e300, 'NaN', this.number()]) as number | string;
  }

  bboxText(): string {
    return Array.from({ length: this.pick([3, 4, 4, 4, 5]) }, () => this.coordinate()).join(',');
  }

  nearText(): string {
    return `${this.coordinate()},${this.coordinate()}`;
  }

  /** GeoJSON-ish geometries: valid polygons, rings that do not close, huge rings, nonsense. */
  geometry(): unknown {
    const ring = Array.from({ length: this.chance(0.05) ? 5000 + this.int(20000) : 3 + this.int(6) }, () => [this.coordinate(), this.coordinate()]);
    if (this.chance(0.7)) ring.push(ring[0]!);
    return this.pick([
      { type: 'Polygon', coordinates: [ring] },
      { type: 'MultiPolygon', coordinates: [[ring], [ring]] },
      { type: 'Point', coordinates: [this.coordinate(), this.coordinate()] },
      { type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] } },
      { type: 'Polygon', coordinates: ring },
      this.json(2),
    ]);
  }

  filterJson(): unknown {
    if (this.chance(0.3)) return this.json();
    const filter: Record<string, unknown> = {};
    for (let i = 0; i < this.int(4); i++) {
      const key = this.pick(['pathGlob', 'folder', 'formats', 'minBytes', 'maxBytes', 'minWidth', 'minHeight', 'modifiedAfter', 'modifiedBefore', 'fields', 'bbox', 'near', 'within', 'since', 'until', 'bogus']);
      filter[key] =
        key === 'fields'
          ? this.fields()
          : key === 'bbox'
            ? Array.from({ length: this.pick([2, 4, 4, 6]) }, () => this.coordinate())
            : key === 'near'
              ? { lon: this.coordinate(), lat: this.coordinate(), radius: this.pick(['5km', '0m', '-1km', '1e9km', '20000km', 'far', 500, this.string(6)]) }
              : key === 'within'
                ? this.geometry()
                : key === 'since' || key === 'until'
                  ? this.pick(['2020-01-01', '2020-01-01T00:00:00Z', '1970-01-01', '9999-12-31', '2020-02-30', this.string(12)])
                  : this.json(2);
    }
    return filter;
  }

  /** User-field conditions: a few, or (rarely) hundreds of fields with up to 100 values each. */
  fields(): unknown {
    if (this.chance(0.2)) return Object.fromEntries(Array.from({ length: 300 + this.int(800) }, (_, j) => [`f${j}`, Array.from({ length: 1 + this.int(100) }, (_, v) => `v${v}`)]));
    return Object.fromEntries(Array.from({ length: this.int(4) }, () => [this.pick(['label', 'year', 'labl', this.string(6)]), this.pick([this.json(), { min: this.number(), max: this.number() }, Array.from({ length: this.int(120) }, () => this.string(5))])]));
  }

  term(): unknown {
    switch (this.int(5)) {
      case 0:
        return { text: this.chance(0.7) ? this.pick(['river', 'a stadium', 'tiles']) : this.string() };
      case 1:
        return { id: this.pick([1, 2, 3, 8, 9, 0, -1, 1.5, 99999, 'x']) };
      case 2:
        return { image: this.pick([makePng(this.int(1000), 8 + this.int(40), 8 + this.int(40)).toString('base64'), Buffer.from(this.string(30)).toString('base64'), this.string(20), '']) };
      case 3:
        return { text: 'river', weight: this.number() };
      default:
        return this.json(1);
    }
  }

  query(params: Record<string, () => unknown>): string {
    const parts: string[] = [];
    for (const [name, value] of Object.entries(params)) if (this.chance(0.4)) parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value()))}`);
    if (this.chance(0.2)) parts.push(`${encodeURIComponent(this.string(8))}=${encodeURIComponent(this.string(12))}`);
    if (this.chance(0.05)) parts.push('%E0%A4%A=bad-escape');
    return parts.length > 0 ? `?${parts.join('&')}` : '';
  }

  paging(): Record<string, () => unknown> {
    return {
      k: () => this.number(),
      offset: () => this.number(),
      ef: () => this.number(),
      exact: () => this.pick(['true', 'false', '1', '', 'yes']),
      collapse: () => this.pick(['true', '0.9', '1.5', '', 'x']),
      nms: () => this.pick(['off', 'on', 'true', '0', '0.3', '1', '1.5', '-0.2', '', 'x']),
      foldCopies: () => this.pick(['true', 'false', '0', '1', '', 'no']),
      format: () => this.pick(['json', 'geojson', 'csv', '']),
      bbox: () => this.bboxText(),
      near: () => this.nearText(),
      radius: () => this.pick(['5km', '100m', '0', '-3km', '1e12m', 'x', '']),
      within: () => JSON.stringify(this.geometry()),
      since: () => this.pick(['2020-01-01', '2020-13-01', '', this.string(10)]),
      until: () => this.pick(['2030-01-01', 'yesterday', '']),
      cursor: () => this.pick([this.string(20), 'eyJ2IjoxLCJvZmZzZXQiOjIwLCJrZXkiOiJ4In0']),
      filter: () => this.filterSpec(),
    };
  }

  request(): FuzzRequest {
    const json = { 'content-type': 'application/json' };
    switch (this.int(10)) {
      case 0:
      case 1:
        return { method: 'GET', path: `/api/search${this.query({ q: () => this.string(), ...this.paging() })}`, headers: {} };
      case 3:
        // a valid query whose filter alone is fuzzed: the filter reaches SQLite
        return { method: 'POST', path: '/api/search', headers: json, body: JSON.stringify({ terms: [{ text: 'river' }], k: 5, filter: this.chance(0.5) ? { fields: this.fields() } : this.filterJson() }) };
      case 2: {
        const body = this.chance(0.15)
          ? this.json()
          : { terms: Array.from({ length: this.chance(0.05) ? 40 : 1 + this.int(3) }, () => this.term()), ...(this.chance(0.5) ? { filter: this.filterJson() } : {}), ...(this.chance(0.5) ? { k: this.number(), collapse: this.json(3) } : {}), ...(this.chance(0.3) ? { nms: this.pick([true, false, 0.5, 0, 2, 'x']), foldCopies: this.pick([true, false, 'x', 1]) } : {}) };
        const text = this.chance(0.05) ? `${JSON.stringify(body).slice(0, -1)}` : JSON.stringify(body);
        return { method: 'POST', path: '/api/search', headers: this.chance(0.1) ? { 'content-type': this.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) } : json, body: text };
      }
      case 4: {
        const bytes = this.chance(0.3) ? makePng(this.int(1000), 4 + this.int(60), 4 + this.int(60)) : Buffer.from(this.string(200));
        if (this.chance(0.5)) return { method: 'POST', path: `/api/search/image${this.query(this.paging())}`, headers: { 'content-type': this.pick(['image/png', 'image/jpeg', 'image/svg+xml', 'image/*']) }, body: bytes };
        const boundary = this.pick(['XyZ', '', 'a'.repeat(80)]);
        const part = Buffer.concat([Buffer.from(`--XyZ\r\nContent-Disposition: form-data; name="${this.pick(['image', 'file', ''])}"; filename="q.png"\r\nContent-Type: image/png\r\n\r\n`), bytes, Buffer.from(this.chance(0.8) ? '\r\n--XyZ--\r\n' : '')]);
        return { method: 'POST', path: '/api/search/image', headers: { 'content-type': boundary ? `multipart/form-data; boundary=${boundary}` : 'multipart/form-data' }, body: part };
      }
      case 5:
      case 6: {
        const id = this.pick(['1', '2', '8', '0', '-1', '99999', '1.5', 'abc', '..%2F..%2Fetc%2Fpasswd', '%00', '12345678901234567890', encodeURIComponent(this.string(10))]);
        const tail = this.pick(['', '/similar', '/thumbnail', '/file', '/unknown']);
        return { method: 'GET', path: `/api/images/${id}${tail}${this.query({ size: () => this.pick([128, 256, 512, 100, 'x']), ...this.paging() })}`, headers: {} };
      }
      case 7:
        return { method: this.pick(['GET', 'HEAD', 'OPTIONS']), path: this.pick(['/healthz', '/readyz', '/api/stats', '/api/openapi.json', '/', '/index.html', '/app.js', '/nope', `/${encodeURIComponent(this.string(20))}`, '/api/../api/stats']), headers: {} };
      case 8:
        return { method: this.pick(['PUT', 'DELETE', 'PATCH', 'POST']), path: this.pick(['/api/search', '/api/images/1', '/healthz', '/api/stats']), headers: json, body: JSON.stringify(this.json()) };
      default:
        return { method: 'GET', path: `/api/images/1/similar${this.query(this.paging())}`, headers: this.chance(0.2) ? { authorization: this.pick(['Bearer ', 'Basic ', 'bearer', '']) + [...this.string(10)].filter((c) => c > ' ' && c <= '~').join('') } : {} };
    }
  }
}

async function send(base: string, request: FuzzRequest): Promise<{ status: number; body: string }> {
  const body = request.body === undefined ? {} : { body: typeof request.body === 'string' ? request.body : new Uint8Array(request.body) };
  const res = await fetch(new URL(request.path, base), { method: request.method, headers: request.headers, ...body });
  return { status: res.status, body: await res.text() };
}

describe('the HTTP API under fuzzing', () => {
  it(`answers ${REQUESTS} generated requests (seed ${SEED}) without a single 5xx, with JSON errors, and keeps serving`, async () => {
    const generate = new Generator(seededRandom(SEED));
    const requests = Array.from({ length: REQUESTS }, () => generate.request());
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length) {
        const index = next++;
        const request = requests[index]!;
        let answer: { status: number; body: string };
        try {
          answer = await send(running.url, request);
        } catch (error) {
          failures.push(`#${index} ${request.method} ${request.path.slice(0, 200)}: no answer (${(error as Error).message})`);
          continue;
        }
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const jsonError = answer.status < 400 || request.method === 'HEAD' || /^\{"error":\{"code":"[A-Z_]+","message":/.test(answer.body);
        if (answer.status >= 500 || !jsonError) failures.push(`#${index} ${request.method} ${request.path.slice(0, 200)} -> ${answer.status} ${answer.body.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures, `seed ${SEED}; statuses ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}`).toEqual([]);
    // a broad mix was exercised: successes and refusals of several kinds
    expect([...statuses.keys()].filter((s) => s < 300).length).toBeGreaterThan(0);
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(4);
    expect((await send(running.url, { method: 'GET', path: '/api/search?q=river&k=2', headers: {} })).status).toBe(200);
  }, 300_000);
});
