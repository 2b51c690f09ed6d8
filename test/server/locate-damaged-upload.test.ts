/**
 * A damaged TIFF uploaded to POST /api/locate (cut short, or with a header whose sizes lie) is
 * refused with 415 and a message in the user's terms, not the JavaScript error the TIFF reader
 * met on the way (`Cannot read properties of undefined (reading '0')`, `The value of "length" is
 * out of range`), and without the server's temporary path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Searcher } from '../../src/search/index.js';
import { createApp } from '../../src/server/index.js';
import type { IndexStore } from '../../src/store/index.js';
import { buildTestIndex, type TestIndex } from '../search/fixture.js';

let root: string;
let fixture: TestIndex;
let store: IndexStore;
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'rsclip-locate-damaged-'));
  fixture = await buildTestIndex(root);
  store = await fixture.open();
});
afterAll(async () => {
  await store?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A striped, uncompressed 8-bit grey TIFF header (no pixel data) declaring `width` x `height` pixels in one strip of `stripBytes`. */
function tiffHeader(width: number, height: number, stripBytes: number): Buffer {
  const entries: [tag: number, type: number, value: number][] = [
    [256, 4, width],
    [257, 4, height],
    [258, 3, 8],
    [259, 3, 1],
    [262, 3, 1],
    [273, 4, 8],
    [277, 3, 1],
    [278, 4, height],
    [279, 4, stripBytes],
  ];
  const ifd = 24;
  const out = Buffer.alloc(ifd + 2 + entries.length * 12 + 4);
  out.write('II*\0', 0, 'latin1');
  out.writeUInt32LE(ifd, 4);
  out.writeUInt16LE(entries.length, ifd);
  entries.forEach(([tag, type, value], i) => {
    const at = ifd + 2 + i * 12;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(1, at + 4);
    if (type === 3) out.writeUInt16LE(value, at + 8);
    else out.writeUInt32LE(value, at + 8);
  });
  return out;
}

it('answers a truncated or lying TIFF with 415 "the TIFF is truncated", naming the upload', async () => {
  const app = createApp({ searcher: new Searcher(fixture.encoder, store), store });
  const noise = Buffer.alloc(600 * 600 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
  const whole = await sharp(noise, { raw: { width: 600, height: 600, channels: 3 } }).tiff({ compression: 'none' }).toBuffer();
  const uploads: [name: string, bytes: Buffer][] = [
    // cut short: the directory (written after the pixels) is gone
    ['cut.tif', whole.subarray(0, Math.floor(whole.length / 3))],
    // a header that declares 100000 x 100000 pixels in a strip of 4 GiB, and nothing after it
    ['lying.tif', tiffHeader(100_000, 100_000, 0xffffffff)],
  ];
  for (const [name, bytes] of uploads) {
    for (const [how, req] of [
      ['multipart', request(app).post('/api/locate').query({ q: 'river' }).attach('image', bytes, name)],
      ['raw body', request(app).post('/api/locate').query({ q: 'river' }).set('Content-Type', 'image/tiff').send(bytes)],
    ] as const) {
      const res = await req;
      const shown = how === 'multipart' ? name : 'uploaded scene';
      expect(res.status, `${name} (${how}): ${res.text}`).toBe(415);
      expect(res.body.error).toEqual({ code: 'IMAGE_UNREADABLE', message: expect.stringMatching(new RegExp(`^cannot read image ${shown.replace('.', '\\.')}: the TIFF is truncated`)), hint: expect.stringMatching(/whole file/) });
      expect(res.text).not.toMatch(/Cannot read properties|out of range|undefined/);
      expect(res.text).not.toContain(tmpdir());
    }
  }
}, 60_000);
